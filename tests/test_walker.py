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
