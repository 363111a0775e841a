"""The react-jsonschema-form playground samples, run through the form definition checks and validators."""
from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from counterflow.forms.check import check_form_definition
from counterflow.forms.validate import FormValidator, compile_schema

DRAFT7 = "http://json-schema.org/draft-07/schema#"
SHARED = Path(os.environ.get("COUNTERFLOW_SHARED") or Path(__file__).resolve().parents[2] / "shared")
CORPUS = SHARED / "corpus" / "rjsf"
SAMPLES = sorted(CORPUS.glob("*.json"))
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")

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

pytestmark = pytest.mark.skipif(not SAMPLES, reason=f"no corpus at {CORPUS}")


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def as_definition(name: str, schema: dict[str, Any], ui_schema: Any) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    schema.setdefault("$schema", DRAFT7)
    return {"key": name.lower(), "title": {"zh-CN": f"样例 {name}", "en": f"Sample {name}"}, "schema": schema,
            "ui_schema": ui_schema or {},
            "settings": {"processes": ["intake"], "numbering": "RJSF-{seq:04d}", "time_limit": {"working_days": 5}}}


def bad_field_names(schema: Any) -> list[str]:
    """An independent look for property names our rule refuses, at any depth."""
    found: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                found += [n for n in value if not FIELD_NAME.match(n)]
            found += bad_field_names(value)
    elif isinstance(schema, list):
        for value in schema:
            found += bad_field_names(value)
    return found


def codes(problems: list[Any]) -> set[tuple[str, str]]:
    return {(p.path, p.code) for p in problems}


def test_corpus_is_complete() -> None:
    assert len(SAMPLES) == 30
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
    bad = bad_field_names(sample["schema"])
    if bad:
        for field in bad:
            assert any(f"field name {field!r} is not allowed" in p and p.startswith(f"corpus/{path.name}: /schema/")
                       and "fix: use letters, digits and _ only" in p for p in problems), (field, problems)
        return
    assert problems == []
    validator = compile_schema(definition["schema"])
    if "formData" not in sample:
        return
    check_own_data(name, validator, sample["formData"], sample["schema"])


def check_single(name: str, sample: dict[str, Any], problems: list[str]) -> None:
    """A root schema that is not an object is refused; wrapped as one field, it works."""
    assert problems == [f"corpus/{name}.json: /schema/type: \"object\" was expected; fix: make the form's root "
                        "schema {\"type\": \"object\", \"properties\": {...}}; wrap a single field as a property"]
    wrapped = as_definition(name, {"type": "object", "properties": {"value": sample["schema"]}}, {})
    assert check_form_definition(wrapped, f"corpus/{name}.json") == []
    validator = compile_schema(wrapped["schema"])
    assert validator.check_complete({"value": sample["formData"]}, "en") == []
    assert codes(validator.check_complete({"value": 5}, "en")) == {("/value", "type")}


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
