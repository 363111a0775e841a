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
    kept = keep_masked(old, {"id_number": "110***********1234", "rows": [{"card": "6222020200112233445"}]},
                       SENSITIVE)
    assert kept["id_number"] == "110105199001011234"
    changed = keep_masked(old, {"id_number": "110105199001019999", "rows": [{"card": "622202*********3445"}]},
                          SENSITIVE)
    assert changed == {"id_number": "110105199001019999", "rows": [{"card": "6222020200112233445"}]}


def test_attachment_ids_are_found_in_fields_and_lists() -> None:
    a, b = "att_01JABCDEFGHJKMNPQRSTVWXYZ0", "att_01JABCDEFGHJKMNPQRSTVWXYZ1"
    assert attachment_ids({"copy": a, "pages": [b, "not-an-id"], "note": "att_x"}) == [
        ("/copy", a), ("/pages/0", b)]
