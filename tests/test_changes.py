"""Changes between versions of a record's data: old and new per field, sensitive values masked."""
from __future__ import annotations

from counterflow.core.changes import attachment_ids, diff, keep_masked, pointer_values

SENSITIVE = {"/id_number": "id_number", "/rows/*/card": "bank_card"}


def test_pointer_values_flatten_objects_and_rows_but_keep_scalar_lists_whole() -> None:
    data = {"a": 1, "tags": ["x", "y"], "rows": [{"card": "1"}, {"card": "2"}], "o": {"b": None}}
    assert pointer_values(data) == {"/a": 1, "/tags": ["x", "y"], "/rows/0/card": "1", "/rows/1/card": "2",
                                    "/o/b": None}


def test_diff_lists_old_and_new_and_masks_sensitive_values() -> None:
    old = {"id_number": "110105199001011234", "plate": "京A12345", "rows": [{"card": "6222020200112233445"}]}
    new = {"id_number": "110105199001019999", "plate": "京A12345", "rows": [{"card": "6222020200112230000"}],
           "x": 1}
    changes = diff(old, new, SENSITIVE)
    assert changes == [
        {"path": "/id_number", "old": "110***********1234", "new": "110***********9999"},
        {"path": "/rows/0/card", "old": "622202*********3445", "new": "622202*********0000"},
        {"path": "/x", "old": None, "new": 1},
    ]


def test_a_masked_value_sent_back_keeps_the_stored_one_and_a_new_value_replaces_it() -> None:
    old = {"id_number": "110105199001011234", "rows": [{"card": "6222020200112233445"}]}
    kept, problems = keep_masked(old, {"id_number": "110***********1234",
                                       "rows": [{"card": "6222020200112233445"}]}, SENSITIVE)
    assert kept["id_number"] == "110105199001011234" and problems == []
    changed, problems = keep_masked(old, {"id_number": "110105199001019999",
                                          "rows": [{"card": "622202*********3445"}]}, SENSITIVE)
    assert changed == {"id_number": "110105199001019999", "rows": [{"card": "6222020200112233445"}]}
    assert problems == []


ROWS = {"/rows/*/name": "name", "/rows/*/id": "id_number"}
STORED = {"rows": [{"name": "张三", "id": "110101199003070054", "n": 1},
                   {"name": "张四", "id": "11010119900307007X", "n": 2}]}
SHOWN = {"rows": [{"name": "张*", "id": "110***********0054", "n": 1},
                  {"name": "张*", "id": "110***********007X", "n": 2}]}


def test_masked_rows_are_matched_by_what_they_hold_not_by_position() -> None:
    kept, problems = keep_masked(STORED, {"rows": [SHOWN["rows"][1]]}, ROWS)
    assert kept == {"rows": [STORED["rows"][1]]} and problems == []
    swapped, problems = keep_masked(STORED, {"rows": SHOWN["rows"][::-1]}, ROWS)
    assert swapped == {"rows": STORED["rows"][::-1]} and problems == []
    edited = dict(SHOWN["rows"][1], n=5)                      # other fields of the row may change
    kept, problems = keep_masked(STORED, {"rows": [edited]}, ROWS)
    assert kept == {"rows": [dict(STORED["rows"][1], n=5)]} and problems == []


def test_rows_whose_masks_collide_keep_their_own_values_in_stored_order() -> None:
    stored = {"rows": [{"name": "张三"}, {"name": "张四"}, {"name": "李五"}]}
    names = {"/rows/*/name": "name"}
    kept, problems = keep_masked(stored, {"rows": [{"name": "张*"}, {"name": "张*"}, {"name": "李*"}]}, names)
    assert kept == stored and problems == []
    kept, problems = keep_masked(stored, {"rows": [{"name": "张*"}, {"name": "张*"}]}, names)   # 李五 removed
    assert kept == {"rows": stored["rows"][:2]} and problems == []
    kept, problems = keep_masked(stored, {"rows": [{"name": "张*"}, {"name": "王六"}]}, names)
    assert [p["path"] for p in problems] == ["/rows/0"]     # 张三 or 张四? a new 王六 does not tell
    assert problems[0]["code"] == "masked_ambiguous"


def test_a_mask_that_stands_for_nothing_stored_is_refused_naming_the_field() -> None:
    rows = [dict(SHOWN["rows"][0], id="110***********9999"), SHOWN["rows"][1]]
    kept, problems = keep_masked(STORED, {"rows": rows}, ROWS, "en")
    assert [(p["path"], p["code"]) for p in problems] == [("/rows/0/id", "masked_unknown")]
    assert "type the value in full" in problems[0]["message"]
    sent = {"id_number": "110***********1234", "rows": [{"card": "622202*********3445"}]}
    _, problems = keep_masked({}, sent, SENSITIVE)
    assert [p["path"] for p in problems] == ["/id_number", "/rows/0/card"]
    assert all("\u4e00" <= c <= "\u9fff" for c in problems[0]["message"][:2])
    mixed = {"name": "张*", "id": "110***********007X"}       # 张三's name mask, 张四's ID mask: fits
    kept, problems = keep_masked({"rows": [{"name": "张三", "id": "110101199003070054"},
                                           {"name": "王五", "id": "11010119900307007X"}]},
                                 {"rows": [mixed]}, ROWS)
    assert [(p["path"], p["code"]) for p in problems] == [("/rows/0", "masked_mixed")]


def test_attachment_ids_are_found_in_fields_and_lists() -> None:
    a, b = "att_01JABCDEFGHJKMNPQRSTVWXYZ0", "att_01JABCDEFGHJKMNPQRSTVWXYZ1"
    assert attachment_ids({"copy": a, "pages": [b, "not-an-id"], "note": "att_x"}) == [
        ("/copy", a), ("/pages/0", b)]
