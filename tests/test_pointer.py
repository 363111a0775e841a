"""One JSON-pointer rule (core/pointer.py), and field names with `/`, `~`, dashes and spaces going
through validation, rendering, masking, the change log and parsing as the same field."""
from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from werkzeug.datastructures import MultiDict

from counterflow.core import pointer as jp
from counterflow.core.changes import diff, keep_masked, pointer_values
from counterflow.core.definitions import _pointer as definition_place
from counterflow.forms.check import check_form_definition
from counterflow.forms.parse import parse_form
from counterflow.forms.render import error_summary, field_id, input_name, render_fields
from counterflow.forms.validate import compile_schema
from counterflow.core.masking import mask_data
from test_render import Page

TZ = ZoneInfo("Asia/Shanghai")
SLASH = "a/b~c"
DATE = "alt-date"
QUESTION = "Do you want to get rid of any?"


@pytest.mark.parametrize("parts, ptr", [
    ([], ""), ([""], "/"), (["a"], "/a"), (["a/b"], "/a~1b"), (["m~n"], "/m~0n"), (["~1"], "/~01"),
    (["~0"], "/~00"), (["/~"], "/~1~0"), (["rows", 0, SLASH], "/rows/0/a~1b~0c"),
    ([QUESTION], "/" + QUESTION),
])
def test_pointers_encode_and_decode_as_rfc_6901_says(parts: list[Any], ptr: str) -> None:
    assert jp.join(parts) == ptr
    assert jp.split(ptr) == [str(p) for p in parts]
    assert jp.append("/x", *parts) == "/x" + ptr


def test_a_pattern_pointer_matches_any_array_element_and_nothing_else() -> None:
    assert jp.matches("/rows/3/a~1b~0c", "/rows/*/a~1b~0c")
    assert not jp.matches("/rows/3/a", "/rows/*/a~1b~0c")
    assert not jp.matches("/a/b", "/a~1b")            # a name with a slash is one part, not two
    with pytest.raises(ValueError):
        jp.split("a/b")


def test_definition_problems_place_names_with_slashes_as_pointers() -> None:
    assert definition_place(["states", 0, "a/b"]) == "/states/0/a~1b"
    assert definition_place([]) == "/"


SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [SLASH, DATE],
    "properties": {
        SLASH: {"type": "string", "title": "Slash", "minLength": 11, "x-sensitive": "phone"},
        DATE: {"type": "string", "format": "date"},
        QUESTION: {"type": "boolean"},
        "~tilde": {"type": "string"},
        "_present": {"type": "string"},
        "*": {"type": "string"},
        "id no": {"type": "integer"},
        "rows": {"type": "array", "items": {"type": "object", "properties": {
            SLASH: {"type": "string", "x-sensitive": "bank_card"}, "qty ?": {"type": "integer"}}}},
    },
}
DATA: dict[str, Any] = {SLASH: "13812345678", DATE: "2026-05-01", QUESTION: True, "~tilde": "t",
                        "_present": "p", "*": "star", "id no": 7,
                        "rows": [{SLASH: "6222020200112233445", "qty ?": 2}]}


def definition() -> dict[str, Any]:
    return {"key": "odd-names", "title": {"zh-CN": "名称", "en": "Names"}, "schema": SCHEMA,
            "ui_schema": {"ui:order": [QUESTION, "*"], DATE: {"ui:help": "YYYY-MM-DD"}},
            "settings": {"processes": ["intake"], "numbering": "ODD-{seq:04d}",
                         "time_limit": {"working_days": 5}}}


def test_such_names_define_a_form() -> None:
    assert check_form_definition(definition(), "odd.json") == []


def test_validation_problems_name_the_field_by_its_pointer() -> None:
    validator = compile_schema(SCHEMA)
    problems = validator.check_complete({SLASH: "138", "rows": [{SLASH: 5}]}, "en")
    assert {(p.path, p.code) for p in problems} == {
        ("/a~1b~0c", "minLength"), ("/alt-date", "required"), ("/rows/0/a~1b~0c", "type")}
    assert validator.field_title("/a~1b~0c", "en") == "Slash"
    assert validator.sensitive == {"/a~1b~0c": "phone", "/rows/*/a~1b~0c": "bank_card"}


def test_masking_and_the_change_log_use_the_same_pointers() -> None:
    sensitive = compile_schema(SCHEMA).sensitive
    masked = mask_data(DATA, sensitive)
    assert masked[SLASH] == "138****5678" and masked["rows"][0][SLASH] == "622202*********3445"
    assert masked[QUESTION] is True
    assert "/a~1b~0c" in pointer_values(DATA) and "/rows/0/a~1b~0c" in pointer_values(DATA)
    new = {**DATA, SLASH: "13900000000", "rows": [{SLASH: "6222020200112230000", "qty ?": 2}]}
    assert diff(DATA, new, sensitive) == [
        {"path": "/a~1b~0c", "old": "138****5678", "new": "139****0000"},
        {"path": "/rows/0/a~1b~0c", "old": "622202*********3445", "new": "622202*********0000"},
    ]
    assert keep_masked(DATA, masked, sensitive) == (DATA, [])   # masked values sent back keep the stored ones


HTML_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]*$")


def test_rendered_names_and_ids_are_valid_unique_and_parse_back() -> None:
    validator = compile_schema(SCHEMA)
    problems = [p.to_dict() for p in validator.check_complete({**DATA, SLASH: "138"}, "en")]
    fields = render_fields(SCHEMA, definition()["ui_schema"], {**DATA, SLASH: "138"}, problems, "en", tz=TZ)
    page = Page(str(fields))
    assert len(page.ids) == len(set(page.ids)) and all(HTML_ID.match(i) for i in page.ids), page.ids
    names = {c["name"] for c in page.controls if "name" in c and not c["_template"]}
    assert {SLASH, DATE, QUESTION, "~~tilde", "~_present", "~*", "id no", f"rows.0.{SLASH}",
            "rows.0.qty ?"} <= names
    slash = next(c for c in page.controls if c.get("name") == SLASH)
    assert slash["id"] == field_id("/a~1b~0c") == "cf-f-a.2fb.7ec"
    assert page.labels[slash["id"]].startswith("Slash")
    assert slash["aria-invalid"] == "true" and fields.unplaced_problems() == []
    assert 'href="#cf-f-a.2fb.7ec"' in str(error_summary(problems, SCHEMA, "en"))
    assert field_id("/" + QUESTION) == "cf-f-Do.20you.20want.20to.20get.20rid.20of.20any.3f"
    back, parse_problems = parse_form(SCHEMA, MultiDict(page.posted()), MultiDict(), tz=TZ)
    assert parse_problems == [] and back == {**DATA, SLASH: "138"}


def test_a_field_named_like_a_form_control_does_not_take_its_place() -> None:
    posted = MultiDict([("_present", "/" + QUESTION), ("~_present", "kept"), ("*", '{"extra": 1}'),
                        ("~*", "star")])
    schema = {"type": "object", "additionalProperties": True, "properties": {
        QUESTION: {"type": "boolean"}, "_present": {"type": "string"}, "*": {"type": "string"}}}
    expected = {QUESTION: False, "_present": "kept", "*": "star", "extra": 1}
    assert parse_form(schema, posted, tz=TZ) == (expected, [])
    assert input_name(["_present"]) == "~_present" and input_name(["g", "_present"]) == "g._present"
    assert input_name(["revision"]) == "~revision" and input_name(["g"], extras=True) == "g.*"
