"""walker.py: one walk of a form's schema finds its fields through $ref, allOf, if/then/else, nested
arrays and dependentSchemas, and validation compiles it once per form version."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from counterflow.forms import validate, walker
from counterflow.forms.render import render_fields
from counterflow.forms.validate import FormValidator
from counterflow.forms.walker import Field, Structure, fields, object_fields, properties, resolve

SHIPPED = Path(__file__).resolve().parents[1] / "schemas"


def by_pointer(schema: dict[str, Any]) -> dict[str, Field]:
    return {f.pointer: f for f in fields(schema)}


def draft_refused(schema: dict[str, Any], data: Any) -> list[tuple[str, str]]:
    refused, _ = FormValidator(schema).check_draft(data, "en")
    return [(p.path, p.code) for p in refused]


REF: dict[str, Any] = {
    "type": "object",
    "$defs": {"person": {"type": "object", "title": "人", "x-title-en": "Person",
                         "properties": {"name": {"type": "string", "title": "姓名", "x-sensitive": "name"}},
                         "required": ["name"], "additionalProperties": False}},
    "properties": {"holder": {"$ref": "#/$defs/person", "title": "持有人", "x-title-en": "Holder"}},
}


def test_ref_is_followed_to_the_fields_it_declares() -> None:
    found = by_pointer(REF)
    assert list(found) == ["", "/holder", "/holder/name"]
    assert found["/holder"].title == {"zh-CN": "持有人", "en": "Holder"}  # the referring node comes first
    assert found["/holder/name"].sensitive == "name"
    assert found["/holder/name"].required is True  # `required` sits in the referenced schema


def test_ref_siblings_win_in_the_display_view() -> None:
    schema, _ = resolve(REF["properties"]["holder"], {}, REF)
    assert schema["title"] == "持有人" and "name" in schema["properties"]


def test_ref_closes_the_object_it_points_to() -> None:
    assert draft_refused(REF, {"holder": {"name": "王", "age": 3}}) == [("/holder/age", "unknown_field")]


ALL_OF = {
    "type": "object",
    "$defs": {"contact": {"properties": {"phone": {"type": "string", "x-sensitive": "phone"}},
                          "required": ["phone"]}},
    "properties": {"name": {"type": "string"}},
    "allOf": [{"$ref": "#/$defs/contact"},
              {"properties": {"email": {"type": "string", "format": "email"}}, "required": ["email"]}],
    "unevaluatedProperties": False,
}


def test_all_of_members_declare_fields_and_requirements() -> None:
    found = by_pointer(ALL_OF)
    assert list(found) == ["", "/name", "/email", "/phone"]  # breadth first: allOf before what it refers to
    assert {p: f.required for p, f in found.items()} == \
        {"": True, "/name": False, "/email": True, "/phone": True}
    assert found["/phone"].sensitive == "phone"
    assert FormValidator(ALL_OF).sensitive == {"/phone": "phone"}


def test_all_of_fields_are_laid_out_and_marked_required_even_through_a_ref() -> None:
    assert [(name, required) for name, _, required in object_fields(ALL_OF, ALL_OF)] == \
        [("name", False), ("phone", True), ("email", True)]
    html = str(render_fields(ALL_OF, {}, {}, [], "en", tz=dt.timezone.utc))
    assert 'id="cf-f-phone"' in html and html.count('aria-required="true"') == 2


def test_all_of_fields_are_known_to_the_draft_check() -> None:
    assert draft_refused(ALL_OF, {"name": "a", "phone": "1", "email": "x@example.com", "zip": "1"}) == \
        [("/zip", "unknown_field")]


IF_THEN = {
    "type": "object",
    "properties": {"kind": {"enum": ["person", "company"]}},
    "required": ["kind"],
    "if": {"properties": {"kind": {"const": "company"}}},
    "then": {"properties": {"licence": {"type": "string", "title": "执照号"}}, "required": ["licence"]},
    "else": {"properties": {"id_number": {"type": "string", "x-sensitive": "id_number"}}},
    "additionalProperties": False,
}


def test_if_then_else_branches_declare_fields_that_are_never_always_required() -> None:
    found = by_pointer(IF_THEN)
    assert list(found) == ["", "/kind", "/licence", "/id_number"]
    assert found["/kind"].required and not found["/licence"].required
    assert found["/licence"].title == {"zh-CN": "执照号", "en": "执照号"}
    assert found["/id_number"].sensitive == "id_number"
    assert list(properties(IF_THEN, IF_THEN)) == ["kind", "licence", "id_number"]


def test_if_then_else_fields_pass_the_draft_check_and_wrong_types_do_not() -> None:
    assert draft_refused(IF_THEN, {"kind": "company", "licence": "91-x"}) == []
    assert draft_refused(IF_THEN, {"kind": "company", "licence": ["91-x"]}) == [("/licence", "type")]


NESTED = {
    "type": "object",
    "properties": {"rows": {"type": "array", "items": {
        "type": "object", "additionalProperties": False,
        "properties": {"label": {"type": "string", "title": "名称"},
                       "cells": {"type": "array", "items": {
                           "type": "object", "additionalProperties": False,
                           "properties": {"a/b~c": {"type": "number"},
                                          "scan": {"type": "string", "format": "attachment",
                                                   "x-material": True}}}}}}}},
}


def test_nested_arrays_of_objects_are_walked_with_a_wildcard_and_escaped_pointers() -> None:
    assert list(by_pointer(NESTED)) == ["", "/rows", "/rows/*", "/rows/*/label", "/rows/*/cells",
                                        "/rows/*/cells/*", "/rows/*/cells/*/a~1b~0c", "/rows/*/cells/*/scan"]
    assert FormValidator(NESTED).materials == [("/rows/*/cells/*/scan", {})]


def test_nested_arrays_of_objects_are_checked_element_by_element() -> None:
    data = {"rows": [{"label": "x", "cells": [{"a/b~c": 1}, {"a/b~c": "one", "extra": 1}]}]}
    assert sorted(draft_refused(NESTED, data)) == [("/rows/0/cells/1/a~1b~0c", "type"),
                                                   ("/rows/0/cells/1/extra", "unknown_field")]


DEPENDENT = {
    "type": "object",
    "properties": {"card": {"type": "string"}},
    "dependentSchemas": {"card": {
        "properties": {"card_expiry": {"type": "string", "format": "date",
                                       "x-title": {"zh-CN": "有效期", "en": "Expiry"}}},
        "required": ["card_expiry"]}},
    "additionalProperties": False,
}


def test_dependent_schemas_declare_conditional_fields() -> None:
    found = by_pointer(DEPENDENT)
    assert list(found) == ["", "/card", "/card_expiry"]
    assert found["/card_expiry"].title == {"zh-CN": "有效期", "en": "Expiry"}
    assert not found["/card_expiry"].required
    assert draft_refused(DEPENDENT, {"card": "1", "card_expiry": "2030-01-01"}) == []
    problems = FormValidator(DEPENDENT).check_complete({"card": "1"}, "en")
    assert [(p.path, p.code, p.message) for p in problems] == \
        [("/card_expiry", "required", '"Expiry" is required')]


TREE = {
    "type": "object",
    "$defs": {"node": {"type": "object", "additionalProperties": False,
                       "properties": {"name": {"type": "string"},
                                      "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
    "properties": {"root": {"$ref": "#/$defs/node"}},
}


def test_a_recursive_ref_ends_the_walk_and_still_checks_deep_data() -> None:
    assert list(by_pointer(TREE)) == ["", "/root", "/root/name", "/root/children", "/root/children/*"]
    deep: dict[str, Any] = {"name": "leaf", "colour": "red"}
    for level in range(20):
        deep = {"name": str(level), "children": [deep]}
    structure = Structure(TREE)
    refused = draft_refused(TREE, {"root": deep})
    assert refused == [("/root" + "/children/0" * 20 + "/colour", "unknown_field")]
    structure.top.key("root")[0].key("children")[0].item(0).key("children")[0].item(5)
    assert len(structure._shapes) <= 6  # the same node shape at every level, not one per level


@pytest.fixture
def account_change() -> dict[str, Any]:
    return json.loads((SHIPPED / "account-change.json").read_text("utf-8"))


COMPLETE = {
    "applicant_name": "王小明", "id_type": "resident_id", "id_number": "11010519491231002X",
    "bank_card": "6222020200112233445", "phone": "13800138000", "changed_items": ["phone"],
    "new_details": {"new_phone": "13912345678"}, "reason": "更换手机号", "application_date": "2026-11-20",
    "id_copy": "att_01J9Z3K4M5N6P7Q8R9S0T1V2W3",
}


def test_validation_builds_its_structure_once_per_validator(monkeypatch: pytest.MonkeyPatch,
                                                            account_change: dict[str, Any]) -> None:
    walks: list[int] = []
    expands: list[int] = []
    real_fields, real_expand = walker.fields, walker.expand

    def counted_fields(schema: Any) -> Any:
        walks.append(1)
        return real_fields(schema)

    def counted_expand(*args: Any) -> Any:
        expands.append(1)
        return real_expand(*args)

    monkeypatch.setattr(validate, "fields", counted_fields)
    monkeypatch.setattr(walker, "expand", counted_expand)
    validator = FormValidator(account_change["schema"], account_change["ui_schema"])
    assert len(walks) == 1
    assert validator.check_complete(COMPLETE, "zh-CN") == []  # the first data meets each shape once
    expands.clear()
    for _ in range(3):
        assert validator.check_complete(COMPLETE, "zh-CN") == []
        assert validator.check_draft(COMPLETE, "en") == ([], [])
        assert validator.check_draft({**COMPLETE, "phone": 138}, "zh-CN")[0][0].path == "/phone"
    assert len(walks) == 1 and expands == []


def test_check_draft_walks_the_data_once(monkeypatch: pytest.MonkeyPatch,
                                         account_change: dict[str, Any]) -> None:
    validator = FormValidator(account_change["schema"])
    calls: list[int] = []
    real = validator._draft_problems

    def counted(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(validator, "_draft_problems", counted)
    refused, warnings = validator.check_draft({**COMPLETE, "bogus": 1, "reason": ""}, "en")
    assert [p.path for p in refused] == ["/bogus"] and [p.path for p in warnings] == ["/reason"]
    assert len(calls) == 1


# -- the summary: data it passes is never walked, and the answers stay the walk's ---------------------

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "rjsf"
TRICKY: list[dict[str, Any]] = [
    TREE, REF, ALL_OF, IF_THEN, NESTED, DEPENDENT,
    {"type": "object", "anyOf": [{"properties": {"a": {"type": "string"}}},
                                 {"properties": {"b": {"type": "integer"}}}]},
    {"type": "object", "properties": {"a": {"type": "string"}},
     "patternProperties": {"^x_": {"type": "integer"}, "^x_y": {"type": "object"}}},
    {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "number"}},
    {"type": "object", "properties": {"t": {"type": "array", "prefixItems": [{"type": "string"}],
                                            "items": {"type": "integer"}},
                                      "free": {"type": "array"}, "any": {}, "no": False,
                                      "n": {"type": ["number", "null"]}, "i": {"type": "integer"},
                                      "e": {"enum": [1, "a", None]}}},
    {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
     "properties": {"t": {"type": "array", "items": [{"type": "string"}],
                          "additionalItems": {"type": "null"}},
                    "o": {"type": "object"}}},
]
ODD_VALUES: list[Any] = [None, True, 0, 1, 2.5, 3.0, -1, "x", "", [], {}, [1, "a"], {"a": 1}, {"name": "n"},
                         [{"name": "n", "x": 1}], "y" * 10_001, list(range(1_001)), {"$bad": 1}, {"a.b": 1},
                         {"": 1}, float("nan"), float("inf"), (1, 2), "att_01J9Z3K4M5N6P7Q8R9S0T1V2W3"]


def _deep(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"name": value}
    return value


def _variants(schema: dict[str, Any], data: Any) -> list[Any]:
    """The data, and copies with each declared or present field (and one level below) made odd."""
    base = data if isinstance(data, dict) else {}
    names = list(dict.fromkeys([*base, *walker.declared_names(walker.expand(schema, schema)), "zz_unknown"]))
    found: list[Any] = [data, {}, [], _deep(70), {**base, "$x": 1, "a.b": 2}]
    for name in names:
        for value in ODD_VALUES:
            found.append({**base, name: value})
        inner = base.get(name)
        if isinstance(inner, dict):
            for key in [*inner, "zz_unknown"]:
                for value in ODD_VALUES:
                    found.append({**base, name: {**inner, key: value}})
        if isinstance(inner, list) and inner:
            for value in ODD_VALUES:
                found.append({**base, name: [value, *inner[1:]]})
    return found


def _forms() -> list[tuple[str, dict[str, Any], Any, Any]]:
    """(name, schema, ui_schema, sample data) for every form the differential test tries."""
    forms: list[tuple[str, dict[str, Any], Any, Any]] = []
    for path in sorted(SHIPPED.glob("*.json")):
        definition = json.loads(path.read_text("utf-8"))
        forms.append((path.stem, definition["schema"], definition.get("ui_schema"), COMPLETE))
    for path in sorted(CORPUS.glob("*.json")):
        sample = json.loads(path.read_text("utf-8"))
        if isinstance(sample["schema"], dict) and sample["schema"].get("type") == "object":
            schema = {"$schema": "http://json-schema.org/draft-07/schema#", **sample["schema"]}  # RJSF's
            forms.append((path.stem, schema, None, sample.get("formData")))
    forms += [(f"tricky{i}", schema, None, {}) for i, schema in enumerate(TRICKY)]
    return forms


def test_the_summary_answers_as_the_walk_does_on_every_form_and_odd_data() -> None:
    """Behaviour does not change: with the compiled summary (skipping the walk where it passes) and
    without it (always walking), check_complete and check_draft give the same problems."""
    used = 0
    for name, schema, ui, data in _forms():
        fast = FormValidator(schema, ui)
        slow = FormValidator(schema, ui)
        slow._clean = None
        used += fast._clean is not None
        for i, variant in enumerate(_variants(schema, data)):
            for lang in ("zh-CN", "en")[i % 2:][:1]:
                try:
                    expected: Any = (slow.check_complete(variant, lang), slow.check_draft(variant, lang))
                except ValueError as error:   # what jsonschema-rs cannot read, before and after
                    expected = repr(error)
                try:
                    got: Any = (fast.check_complete(variant, lang), fast.check_draft(variant, lang))
                except ValueError as error:
                    got = repr(error)
                assert got == expected, (name, variant)
    assert used >= 30   # the summary is compiled for nearly every form (not for recursive ones)


def test_a_recursive_form_has_no_summary_and_is_always_walked() -> None:
    assert FormValidator(TREE)._clean is None
    assert Structure(TREE).summary("^.*$", 10, 10, 64) is None
    assert FormValidator(REF)._clean is not None


def test_valid_data_is_not_walked_when_the_summary_passes(monkeypatch: pytest.MonkeyPatch,
                                                          account_change: dict[str, Any]) -> None:
    validator = FormValidator(account_change["schema"], account_change["ui_schema"])
    walked: list[Any] = []
    real = validator._structure

    def counted(*args: Any) -> None:
        walked.append(args)
        real(*args)

    monkeypatch.setattr(validator, "_structure", counted)
    assert validator.check_complete(COMPLETE, "en") == []
    assert validator.check_draft(COMPLETE, "en") == ([], [])
    assert validator.check_complete({**COMPLETE, "reason": ""}, "en")[0].path == "/reason"
    assert walked == []
    refused, _ = validator.check_draft({**COMPLETE, "phone": 138}, "en")   # a wrong type: walked
    assert [p.path for p in refused] == ["/phone"] and walked
    walked.clear()
    validator.check_complete({**COMPLETE, "amount": float("nan")}, "en")   # not plain JSON: walked
    assert walked


def test_material_conditions_are_evaluated_only_for_missing_materials(
        monkeypatch: pytest.MonkeyPatch, account_change: dict[str, Any]) -> None:
    evaluated: list[Any] = []
    real = validate.compile_condition

    def counting(rule: Any) -> Any:
        compiled = real(rule)

        def counted(data: Any) -> bool:
            evaluated.append(rule)
            return compiled(data)
        return counted

    monkeypatch.setattr(validate, "compile_condition", counting)
    validator = FormValidator(account_change["schema"], account_change["ui_schema"])
    supplied = {**COMPLETE, "changed_items": ["name"], "new_details": {"new_name": "王晓明"},
                "name_change_proof": "att_01J9Z3K4M5N6P7Q8R9S0T1V2W4"}
    assert validator.check_complete(supplied, "en") == []
    assert evaluated == []
    missing = {k: v for k, v in supplied.items() if k != "name_change_proof"}
    assert [(p.path, p.code) for p in validator.check_complete(missing, "en")] == \
        [("/name_change_proof", "material_missing")]
    assert len(evaluated) == 1
    assert validator.check_complete(COMPLETE, "en") == []   # not needed: no name change


def test_the_problem_cache_is_bounded(account_change: dict[str, Any]) -> None:
    validator = FormValidator(account_change["schema"])
    for i in range(validate.CACHE_SIZE + 10):
        problems = validator.check_complete({**COMPLETE, f"extra{i}": 1}, "en")
        assert ("/" + f"extra{i}", "unknown_field") in [(p.path, p.code) for p in problems]
    assert len(validator._problems) <= validate.CACHE_SIZE
    assert len(validator._sort_keys) <= validate.CACHE_SIZE
