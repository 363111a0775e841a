"""The react-jsonschema-form playground samples: every object-rooted one defines, renders, validates
and round-trips its own data through the rendered HTML form, field names as RJSF writes them."""
from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from werkzeug.datastructures import MultiDict

from counterflow.forms.check import check_form_definition
from counterflow.forms.parse import parse_form
from counterflow.forms.render import render_fields
from counterflow.forms.validate import FormValidator, compile_schema
from test_render import Page

DRAFT7 = "http://json-schema.org/draft-07/schema#"
SHARED = Path(os.environ.get("COUNTERFLOW_SHARED") or Path(__file__).resolve().parents[2] / "shared")
CORPUS = SHARED / "corpus" / "rjsf"
SAMPLES = sorted(CORPUS.glob("*.json"))
OBJECT_ROOTED = 29
TZ = ZoneInfo("Asia/Shanghai")

# What INDEX.md lists for each deliberately invalid sample ("required at /" mapped to the child).
INVALID = {
    "errors": {("/active", "type"), ("/firstName", "minLength"), ("/firstName", "pattern"),
               ("/multipleChoicesList", "maxItems"), ("/skills/1", "minLength")},
    "ifThenElse": {("/food", "required"), ("/water", "required"), ("/animal", "required")},
    "null": {("/firstName", "required")},
    "nullable": {("/firstName", "required")},
    "oneOf": {("", "oneOf")},
    "options": {("/firstName", "required")},
    "references": {("/contact", "oneOf")},
    "simple": {("/firstName", "required")},
    "validation": {("/firstName", "required")},
}
VALID_WITH_DEFAULTS = ("null", "nullable", "options", "simple")
# A draft refuses what cannot be stored: a wrong JSON type, and (stricter than JSON Schema) fields
# an object with declared properties does not declare.
DRAFT_REFUSED = {
    "errors": [("/active", "type")],
    "options": [("/age", "unknown_field"), ("/bio", "unknown_field"), ("/password", "unknown_field")],
}

# What an HTML form cannot carry back: an unticked checkbox posts `false`, a `const` is filled in,
# blank rows and nulls are dropped. Everything else comes back exactly as it went out.
ROUND_TRIP = {
    "allOf": lambda data: {"lorem": False},
    "constField": lambda data: {
        "name": "John", "address": {"city": "New York", "detail": {"street": "First Street", "zip": 12345}},
        "tags": ["red", "green", "blue"], "isVerified": True, "age": 30},
    "defaults": lambda data: {k: v for k, v in data.items() if k != "noValuesInFormData"},
    "nullable": lambda data: {k: v for k, v in data.items() if v is not None},
}
# Field names RJSF samples use that the old letters-digits-underscore rule refused.
RJSF_NAMES = {"date": {"alt-datetime", "alt-date"}, "schemaDependencies": {"Do you have any pets?"}}

pytestmark = pytest.mark.skipif(not SAMPLES, reason=f"no corpus at {CORPUS}")


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def as_definition(name: str, schema: dict[str, Any], ui_schema: Any) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    schema.setdefault("$schema", DRAFT7)
    return {"key": name.lower(), "title": {"zh-CN": f"样例 {name}", "en": f"Sample {name}"}, "schema": schema,
            "ui_schema": ui_schema or {},
            "settings": {"processes": ["intake"], "numbering": "RJSF-{seq:04d}",
                         "time_limit": {"working_days": 5}}}


def field_names(schema: Any) -> set[str]:
    """Every property name declared at any depth."""
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                found |= set(value)
            found |= field_names(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= field_names(value)
    return found


def codes(problems: list[Any]) -> set[tuple[str, str]]:
    return {(p.path, p.code) for p in problems}


def test_corpus_is_complete() -> None:
    assert len(SAMPLES) == 30
    rooted = [p.stem for p in SAMPLES if load(p)["schema"].get("type") == "object"]
    assert len(rooted) == OBJECT_ROOTED and set(p.stem for p in SAMPLES) - set(rooted) == {"single"}
    index = (CORPUS / "INDEX.md").read_text("utf-8")
    listed = set(re.findall(r"^\| \[(\w+)\].*\*\*INVALID\*\*", index, re.MULTILINE))
    assert listed == set(INVALID)


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample(path: Path) -> None:
    sample = load(path)
    name = path.stem
    definition = as_definition(name, sample["schema"], sample.get("uiSchema"))
    problems = check_form_definition(definition, f"corpus/{path.name}")
    if sample["schema"].get("type") != "object":
        return check_single(name, sample, problems)
    assert problems == []
    assert RJSF_NAMES.get(name, set()) <= field_names(sample["schema"])
    validator = compile_schema(definition["schema"])
    if "formData" in sample:
        check_own_data(name, validator, sample["formData"], sample["schema"])
    check_round_trip(name, validator, definition, sample.get("formData", {}))


def check_single(name: str, sample: dict[str, Any], problems: list[str]) -> None:
    """A root schema that is not an object is refused; wrapped as one field, it works."""
    assert problems == [f"corpus/{name}.json: /schema/type: \"object\" was expected; "
                        "fix: make the form's root schema {\"type\": \"object\", \"properties\": {...}}; "
                        "wrap a single field as a property"]
    wrapped = as_definition(name, {"type": "object", "properties": {"value": sample["schema"]}}, {})
    assert check_form_definition(wrapped, f"corpus/{name}.json") == []
    validator = compile_schema(wrapped["schema"])
    assert validator.check_complete({"value": sample["formData"]}, "en") == []
    assert codes(validator.check_complete({"value": 5}, "en")) == {("/value", "type")}


def check_round_trip(name: str, validator: FormValidator, definition: dict[str, Any], data: Any) -> None:
    """Rendered as HTML with the validator's problems beside the fields, posted back as a browser
    would post it, parsed: the same data, the same problems; every problem on a field sits beside it."""
    schema, ui = definition["schema"], definition["ui_schema"]
    problems = [p.to_dict() for p in validator.check_complete(data, "en")]
    fields = render_fields(schema, ui, data, problems, "en", tz=TZ)
    page = Page(str(fields))
    assert {p["path"] for p in fields.unplaced_problems()} <= {""}  # a whole-form problem: the summary
    assert len(page.ids) == len(set(page.ids)), page.ids
    back, parse_problems = parse_form(schema, MultiDict(page.posted()), MultiDict(), tz=TZ)
    assert parse_problems == []
    expected = ROUND_TRIP[name](data) if name in ROUND_TRIP else data
    assert back == expected
    if name not in ROUND_TRIP:
        assert codes(validator.check_complete(back, "en")) == codes(validator.check_complete(data, "en"))
    again = Page(str(render_fields(schema, ui, back, [], "en", tz=TZ)))
    assert parse_form(schema, MultiDict(again.posted()), MultiDict(), tz=TZ) == (back, [])


def check_own_data(name: str, validator: FormValidator, data: Any, schema: dict[str, Any]) -> None:
    for lang in ("zh-CN", "en"):
        problems = validator.check_complete(data, lang)
        if name in INVALID:
            assert INVALID[name] <= codes(problems), problems
            assert all(p.message for p in problems)
        else:
            assert problems == []
    refused, _ = validator.check_draft(data, "en")
    assert sorted((p.path, p.code) for p in refused) == DRAFT_REFUSED.get(name, [])
    if name in VALID_WITH_DEFAULTS:
        filled = dict(data)
        for field, sub in schema["properties"].items():
            if field not in filled and isinstance(sub, dict) and "default" in sub:
                filled[field] = sub["default"]
        assert validator.check_complete(filled, "en") == []
