"""Behaviour of form validators and of the form definition checks."""
from __future__ import annotations

import copy
from typing import Any

import jsonschema_rs
import pytest

from counterflow.core.errors import DefinitionError
from counterflow.forms.check import check_form_definition
from counterflow.forms.render import schema_type
from counterflow.forms.validate import (MESSAGES, FormValidator, Problem, compile_schema, json_type, type_ok,
                                        valid_field_name)

ATT = "att_01HZX3K5V7Q8R9S0T1V2W3X4Y5"
DRAFT7 = "http://json-schema.org/draft-07/schema#"

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "姓名", "x-title": {"zh-CN": "姓名", "en": "Name"}, "minLength": 2,
                 "x-sensitive": "name"},
        "id_number": {"type": "string", "x-title": {"zh-CN": "身份证号", "en": "ID number"},
                      "pattern": "^[0-9]{17}[0-9X]$", "x-sensitive": "id_number"},
        "email": {"type": "string", "format": "email", "title": "Email"},
        "birth_date": {"type": "string", "format": "date", "title": "Birth date"},
        "amount": {"type": "integer", "minimum": 1, "title": "Amount"},
        "kind": {"type": "string", "enum": ["open", "close"], "title": "Kind"},
        "applicant": {"type": "object", "title": "Applicant", "required": ["phone"],
                      "properties": {"phone": {"type": "string", "title": "Phone",
                                               "pattern": "^1[3-9][0-9]{9}$", "x-sensitive": "phone"}}},
        "rows": {"type": "array", "title": "Rows", "maxItems": 5,
                 "items": {"type": "object", "required": ["qty"],
                           "properties": {"qty": {"type": "integer", "title": "Qty"},
                                          "card": {"type": "string", "x-sensitive": "bank_card"}}}},
        "id_copy": {"type": "string", "format": "attachment", "title": "ID copy",
                    "x-material": {"title": {"zh-CN": "身份证复印件", "en": "Copy of ID card"}}},
        "licence": {"type": "string", "format": "attachment", "title": "Licence", "x-material": True},
        "note": {"type": "string", "title": "Note"},
    },
    "required": ["name", "id_number", "licence"],
}

GOOD = {"name": "张三", "id_number": "11010519900101123X", "email": "a@example.com", "birth_date": "1990-01-01",
        "amount": 10, "kind": "open", "applicant": {"phone": "13812345678"},
        "rows": [{"qty": 1, "card": "6222"}], "id_copy": ATT, "licence": ATT}


@pytest.fixture(scope="module")
def validator() -> FormValidator:
    return compile_schema(SCHEMA)


def codes(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.path, p.code) for p in problems]


def test_valid_data_has_no_problems(validator: FormValidator) -> None:
    assert validator.check_complete(GOOD, "en") == []
    assert validator.check_draft(GOOD, "en") == ([], [])


def test_every_error_is_reported_at_once(validator: FormValidator) -> None:
    data = dict(GOOD, name="x", email="not-an-email", amount=0, kind="other", rows=[{"qty": 1}, {}])
    problems = validator.check_complete(data, "en")
    assert codes(problems) == [("/name", "minLength"), ("/email", "format"), ("/amount", "minimum"),
                               ("/kind", "enum"), ("/rows/1/qty", "required")]


def test_problems_come_in_the_schema_order(validator: FormValidator) -> None:
    data = {"note": 5, "amount": "x", "name": 1, "id_number": "1", "licence": ATT, "id_copy": ATT}
    paths = [p.path for p in validator.check_complete(data, "en")]
    assert paths == ["/name", "/id_number", "/amount", "/note"]


def test_required_points_at_the_missing_field(validator: FormValidator) -> None:
    problems = validator.check_complete(dict(GOOD, applicant={}, name=None) | {"name": "张三"}, "en")
    assert codes(problems) == [("/applicant/phone", "required")]
    data = {k: v for k, v in GOOD.items() if k != "id_number"}
    assert codes(validator.check_complete(data, "en")) == [("/id_number", "required")]


def test_messages_name_the_field_in_both_languages(validator: FormValidator) -> None:
    data = {k: v for k, v in GOOD.items() if k != "id_number"}
    [zh] = validator.check_complete(data, "zh-CN")
    [en] = validator.check_complete(data, "en")
    assert zh.message == "「身份证号」为必填项"
    assert en.message == '"ID number" is required'
    assert en.to_dict() == {"path": "/id_number", "code": "required", "message": '"ID number" is required'}


def test_nested_and_array_fields_are_named_with_their_place(validator: FormValidator) -> None:
    problems = validator.check_complete(dict(GOOD, rows=[{"qty": "many"}], applicant={"phone": "12"}),
                                        "zh-CN")
    assert codes(problems) == [("/applicant/phone", "pattern"), ("/rows/0/qty", "type")]
    assert problems[0].message == "「Applicant › Phone」格式不正确"
    assert problems[1].message == "「Rows › 第 1 项 › Qty」应填写整数"
    assert validator.field_title("/rows/2/qty", "en") == "Rows › item 3 › Qty"
    assert validator.field_title("/nope", "en") == "nope"


def test_unknown_language_falls_back_to_chinese(validator: FormValidator) -> None:
    data = {k: v for k, v in GOOD.items() if k != "id_number"}
    assert validator.check_complete(data, "fr")[0].message == "「身份证号」为必填项"


def test_every_code_has_both_languages() -> None:
    assert all(set(table) == {"zh-CN", "en"} for table in MESSAGES.values())


def test_formats_are_checked(validator: FormValidator) -> None:
    data = dict(GOOD, email="nobody", birth_date="2024-02-30", licence="C:/scan.pdf")
    assert codes(validator.check_complete(data, "en")) == [
        ("/email", "format"), ("/birth_date", "format"), ("/licence", "format")]
    assert "e-mail" in validator.check_complete(data, "en")[0].message


def test_missing_material_is_reported_even_when_not_required(validator: FormValidator) -> None:
    data = {k: v for k, v in GOOD.items() if k not in ("id_copy", "licence")}
    problems = validator.check_complete(data, "en")
    assert codes(problems) == [("/id_copy", "material_missing"), ("/licence", "material_missing")]
    assert problems[0].message == 'The material "Copy of ID card" is missing; please upload it'
    assert validator.check_complete(dict(data, id_copy="", licence=ATT), "zh-CN")[0].message == \
        "缺少材料「身份证复印件」，请上传"


def test_draft_keeps_rule_breaking_values_as_warnings(validator: FormValidator) -> None:
    refused, warnings = validator.check_draft({"name": "x", "email": "nobody", "id_number": "123"}, "en")
    assert refused == []
    assert ("/name", "minLength") in codes(warnings)
    assert ("/email", "format") in codes(warnings)
    assert ("/id_number", "pattern") in codes(warnings)
    assert ("/licence", "material_missing") in codes(warnings)


@pytest.mark.parametrize("field, value", [
    ("name", {"$ne": None}), ("name", ["a", "b"]), ("amount", "12"), ("amount", 1.5), ("kind", {"$gt": ""}),
])
def test_draft_refuses_wrong_json_types(validator: FormValidator, field: str, value: Any) -> None:
    refused, _ = validator.check_draft({field: value}, "en")
    assert codes(refused) == [(f"/{field}", "type")]


def test_draft_refuses_unknown_and_unsafe_fields(validator: FormValidator) -> None:
    refused, warnings = validator.check_draft({"name": "张三", "nmae": "typo", "applicant": {"$where": "1"}},
                                              "en")
    assert codes(refused) == [("/applicant/$where", "field_name"), ("/nmae", "unknown_field")]
    assert all(p.path not in ("/nmae",) for p in warnings)


def test_draft_refuses_oversize_values(validator: FormValidator) -> None:
    refused, _ = validator.check_draft({"note": "x" * 10_001}, "en")
    assert codes(refused) == [("/note", "too_large")]
    refused, _ = validator.check_draft({"rows": [{"qty": 1}] * 1_001}, "en")
    assert codes(refused) == [("/rows", "too_large")]
    refused, warnings = validator.check_draft({"note": "x" * 9_000, "name": "y" * 9_000,
                                               "rows": [{"card": "z" * 9_000}] * 60}, "en")
    assert codes(refused) == [("", "too_large")] and warnings == []


def test_messages_never_echo_huge_input(validator: FormValidator) -> None:
    refused, _ = validator.check_draft({"<script>" + "x" * 5000: 1}, "en")
    assert len(refused[0].message) < 120


def test_root_level_combinator_errors_are_whole_form_errors() -> None:
    form = compile_schema({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                           "oneOf": [{"required": ["a"]}, {"required": ["b"]}]})
    assert codes(form.check_complete({}, "en")) == [("", "oneOf")]
    assert (form.check_complete({}, "en")[0].message
            == '"the form" must match exactly one of the allowed forms')


def test_draft07_schema_is_validated_as_draft07() -> None:
    schema: dict[str, Any] = {"definitions": {"text": {"type": "string"}}, "type": "object", "properties": {
        "code": {"$ref": "#/definitions/text", "maxLength": 2},  # draft-07 ignores keywords beside $ref
        "pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}],
                 "additionalItems": False}}}
    draft7 = compile_schema(dict(schema, **{"$schema": DRAFT7}))
    assert codes(draft7.check_complete({"code": "long", "pair": ["a", "b", 3]}, "en")) == [
        ("/pair", "maxItems"), ("/pair/1", "type")]
    with pytest.raises(DefinitionError):  # a tuple "items" is not 2020-12
        compile_schema(schema)
    schema["properties"].pop("pair")
    assert codes(compile_schema(schema).check_complete({"code": "long"}, "en")) == [("/code", "maxLength")]


def test_unsupported_schema_dialect_is_refused() -> None:
    with pytest.raises(DefinitionError):
        compile_schema({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"})


def test_sensitive_fields_and_materials_are_listed(validator: FormValidator) -> None:
    assert validator.sensitive == {"/name": "name", "/id_number": "id_number", "/applicant/phone": "phone",
                                   "/rows/*/card": "bank_card"}
    assert validator.materials == [("/id_copy", {"zh-CN": "身份证复印件", "en": "Copy of ID card"}),
                                   ("/licence", {})]
    secret = compile_schema({"type": "object",
                             "properties": {"pin": {"type": "string", "x-sensitive": True}}})
    assert secret.sensitive == {"/pin": "secret"}


def test_validator_is_compiled_once(validator: FormValidator) -> None:
    compiled = validator._validator
    for _ in range(1000):
        validator.check_complete(GOOD, "en")
        validator.check_draft(GOOD, "zh-CN")
    assert validator._validator is compiled


def test_recursive_references_compile() -> None:
    form = compile_schema({"$defs": {"node": {"type": "object", "properties": {
        "name": {"type": "string", "title": "Name"},
        "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
        "type": "object", "properties": {"tree": {"$ref": "#/$defs/node"}}})
    data = {"tree": {"name": "a", "children": [{"name": 1}]}}
    assert codes(form.check_complete(data, "en")) == [("/tree/children/0/name", "type")]


# -- form definitions ----------------------------------------------------------------------

DEFINITION: dict[str, Any] = {
    "key": "account-change",
    "title": {"zh-CN": "账户信息变更", "en": "Account change"},
    "schema": SCHEMA,
    "ui_schema": {"ui:order": ["name", "*"],
                  "note": {"ui:widget": "textarea", "ui:help": {"zh-CN": "说明", "en": "Note"}},
                  "applicant": {"ui:order": ["phone"]}},
    "settings": {"processes": ["intake", "review", "archive", "destroy"],
                 "numbering": "ACC-{yyyy}{mm}{dd}-{seq:05d}", "time_limit": {"working_days": 5},
                 "retention": {"years": 5, "from": "archived"},
                 "review": {"second_level_if": {">": [{"var": "amount"}, 50000]}},
                 "purpose": {"zh-CN": "办理账户变更", "en": "To change the account"}},
}
SOURCE = "schemas/account-change.json"


def changed(path: str, value: Any) -> dict[str, Any]:
    definition = copy.deepcopy(DEFINITION)
    *parents, last = path.split(".")
    node = definition
    for part in parents:
        node = node[part]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return definition


def test_a_good_definition_passes() -> None:
    assert check_form_definition(DEFINITION, SOURCE) == []


@pytest.mark.parametrize("path, value, place, words", [
    ("schema.properties.$id_no", {"type": "string"}, "/schema/properties/$id_no",
     "field name '$id_no' is not allowed"),
    ("schema.properties.a\tb", {"type": "string"}, "/schema/properties/a\tb",
     "field name 'a\\tb' is not allowed"),
    ("schema.properties." + "x" * 65, {"type": "string"}, "/schema/properties/" + "x" * 65, "is not allowed"),
    ("schema.properties.$where", {"type": "string"}, "/schema/properties/$where", "is not allowed"),
    ("schema.properties.remote", {"$ref": "https://example.com/s.json"}, "/schema/properties/remote/$ref",
     "remote reference"),
    ("schema.properties.name.x-sensitive", "passport", "/schema/properties/name/x-sensitive",
     "unknown x-sensitive kind 'passport'"),
    ("schema.properties.amount.x-sensitive", "id_number", "/schema/properties/amount/x-sensitive",
     "not text"),
    ("schema.properties.note.x-material", True, "/schema/properties/note/x-material", "takes no file"),
    ("schema.required", ["name", "ghost"], "/schema/required/1", "'ghost' is not declared"),
    ("title", {"zh-CN": "账户信息变更"}, "/title/en", "is missing"),
    ("key", "Account Change", "/key", "does not match"),
    ("settings.processes", ["intake", "intake"], "/settings/processes", "has non-unique elements"),
    ("settings.processes", [], "/settings/processes", "has less than 1 item"),
    ("settings.numbering", "ACC-{yyyy}-{n}", "/settings/numbering", "does not match"),
    ("settings.retention", {"years": 3}, "/settings/retention/years", "less than the minimum of 5"),
    ("settings.time_limit", {"working_days": 0}, "/settings/time_limit/working_days",
     "less than the minimum"),
    ("settings.time_limit", KeyError, "/settings/time_limit", "is missing"),
    ("ui_schema.ui:order", ["name", "nmae"], "/ui_schema/ui:order/1", "'nmae', which is not a field"),
    ("ui_schema.applicant", {"ui:order": ["mobile"]}, "/ui_schema/applicant/ui:order/0", "'mobile'"),
    ("schema.type", "array", "/schema/type", '"object" was expected'),
    ("schema.properties.amount.minimum", "one", "/schema/properties/amount/minimum",
     "not a valid JSON Schema"),
    ("schema.$schema", "http://json-schema.org/draft-04/schema#", "/schema/$schema", "not supported"),
])
def test_definition_problems_name_source_place_and_fix(path: str, value: Any, place: str, words: str) -> None:
    problems = check_form_definition(changed(path, value), SOURCE)
    matching = [p for p in problems if p.startswith(f"{SOURCE}: {place}: ")]
    assert matching, problems
    assert words in matching[0]
    assert "; fix: " in matching[0] and not matching[0].endswith("fix: ")


def test_field_name_message_says_how_to_fix() -> None:
    [problem] = check_form_definition(changed("schema.properties.$id", {"type": "string"}), SOURCE)
    assert problem == (f"{SOURCE}: /schema/properties/$id: field name '$id' is not allowed; "
                       "fix: use 1 to 64 characters, not starting with $, without . or control characters")


@pytest.mark.parametrize("name", ["alt-date", "Do you want to get rid of any?", "a/b~c", "id no", "姓名", "_x",
                                  "x" * 64, "a$b", "ui:like"])
def test_field_names_as_other_tools_write_them_are_accepted(name: str) -> None:
    definition = changed("schema.properties." + name.replace(".", ""), {"type": "string"})
    definition["schema"]["required"] = [*definition["schema"].get("required", []), name]
    definition["ui_schema"] = {"ui:order": ["*", name], name: {"ui:help": "?"}}
    assert check_form_definition(definition, SOURCE) == []
    assert valid_field_name(name)


@pytest.mark.parametrize("name", ["", "$where", "a.b", "a\x00b", "tab\there", "del\x7f", "c1\x85", "x" * 65,
                                  7])
def test_field_names_mongodb_would_misread_are_refused(name: Any) -> None:
    assert not valid_field_name(name)


def test_retention_fix_mentions_the_five_year_minimum() -> None:
    [problem] = check_form_definition(changed("settings.retention", {"years": 3}), SOURCE)
    assert "at least 5 years" in problem


def test_every_problem_is_reported_at_once() -> None:
    definition = changed("settings.numbering", "ACC")
    definition["settings"]["processes"] = ["review", "review"]
    definition["schema"] = copy.deepcopy(SCHEMA)
    definition["schema"]["properties"]["bad.name"] = {"type": "string"}
    definition["schema"]["properties"]["ref"] = {"$ref": "other.json#/x"}
    assert len(check_form_definition(definition, SOURCE)) == 4


def test_field_names_are_checked_at_every_depth() -> None:
    definition = copy.deepcopy(DEFINITION)
    definition["schema"]["$defs"] = {"addr": {"type": "object", "properties": {"$zip": {"type": "string"}},
                                              "required": ["$zip"]}}
    definition["schema"]["properties"]["rows"]["items"]["properties"]["unit.price"] = {"type": "number"}
    places = [p.split(": ")[1] for p in check_form_definition(definition, SOURCE)]
    assert places == ["/schema/properties/rows/items/properties/unit.price",
                      "/schema/$defs/addr/properties/$zip", "/schema/$defs/addr/required/0"]


def test_schema_limits_are_enforced() -> None:
    many = changed("schema.properties", {f"f{i}": {"type": "string"} for i in range(501)})
    assert "over the limit of 500" in check_form_definition(many, SOURCE)[0]
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(20):
        deep = {"type": "object", "properties": {"a": deep}}
    assert "nests deeper than 32" in check_form_definition(changed("schema", deep), SOURCE)[0]
    big = changed("schema.properties", {"a": {"type": "string", "description": "x" * 300_000}})
    assert "over the 256 KiB limit" in check_form_definition(big, SOURCE)[0]


def test_a_definition_must_be_an_object() -> None:
    assert check_form_definition([], SOURCE)[0].startswith(f"{SOURCE}: /: ")


def test_required_in_a_conditional_branch_sees_fields_declared_elsewhere() -> None:
    definition = copy.deepcopy(DEFINITION)
    definition["schema"]["properties"]["details"] = {"type": "object",
                                                     "properties": {"new_name": {"type": "string"}}}
    definition["schema"]["allOf"] = [{"if": {"properties": {"kind": {"const": "open"}}},
                                      "then": {"properties": {"details": {"required": ["new_name"]}}}},
                                     {"then": {"properties": {"details": {"required": ["ghost"]}}}}]
    problems = check_form_definition(definition, SOURCE)
    assert [p.split(": ")[1] for p in problems] == ["/schema/allOf/1/then/properties/details/required/0"]


def test_a_material_hidden_by_the_layouts_show_if_is_not_demanded() -> None:
    schema = {"type": "object", "properties": {
        "by_agent": {"type": "boolean", "title": "代办"},
        "letter": {"type": "string", "format": "attachment", "title": "授权书", "x-material": True}}}
    ui = {"letter": {"ui:options": {"show_if": {"==": [{"var": "by_agent"}, True]}}}}
    validator = FormValidator(schema, ui)
    assert [p.code for p in validator.check_complete({"by_agent": False}, "en")] == []
    assert [p.path for p in validator.check_complete({"by_agent": True}, "en")] == ["/letter"]


@pytest.mark.parametrize("value, expected", [
    (3, "integer"), (3.0, "integer"), (-0.0, "integer"), (3.5, "number"), (1e300, "integer"),
    (True, "boolean"), (None, "null"), ("3", "string"), ([], "array"), ({}, "object"),
])
def test_one_answer_to_what_json_type_a_value_has(value: Any, expected: str) -> None:
    """JSON Schema: a number with a zero fraction is an integer. Validation and rendering ask one helper."""
    assert json_type(value) == expected
    assert jsonschema_rs.is_valid({"type": expected}, value)
    assert schema_type({"const": value}) == expected
    assert type_ok(value, {"type": expected}, {})


def test_a_compiled_condition_answers_as_holds_on_every_case() -> None:
    """Conditions are compiled once per form version; on every case the browser test uses (every
    operator, edge values) and on rules nesting the lazy operators, the answer stays `holds`'s."""
    from test_jsonlogic_browser import CASES, DATA

    from counterflow.forms.conditions import compile_condition, holds
    nested = [{"in": ["x", {"if": [{"var": "a"}, ["x"], []]}]}, {"!": {"or": [{"var": "a"}, {"var": "b"}]}},
              {"==": [{"some": [{"var": "a"}, {"==": [{"var": ""}, "x"]}]}, True]}, [{"var": "a"}],
              {"log": "x"}, {"unknown": [1]}, {"var": "a", "other": 1}, "text", 0, None,
              {"==": [{"var": "a"}, {"missing": ["a"]}]}, {"in": [{"var": "a"}]}, {"<": []}]
    cases = [case for listed in CASES.values() for case in listed]
    cases += [(rule, data) for rule in nested for data in [*DATA, None, [1], "a"]]
    assert len(cases) > 5000
    for rule, data in cases:
        assert compile_condition(rule)(data) is holds(rule, data), (rule, data)
