"""`x-required-if`: a field is required while a JSON Logic rule holds on the form's data.

The completeness check reports it missing exactly as `required` would (same code, same message, every
problem at once); a field hidden by its own or a parent's show-if condition is never required; the rule
is checked when the form is defined, with the operators x-show-if allows; the clerk's page carries the
rule and shows the "required" marker as the server decides it.
"""
from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

import pytest

from counterflow.forms.check import check_form_definition
from counterflow.forms.render import render_fields
from counterflow.forms.validate import FormValidator
from forms import COMPLETE, permit, publish, upload

AGENT = {"==": [{"var": "by_agent"}, True]}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "by_agent": {"type": "boolean", "title": "是否代办", "x-title-en": "By an agent"},
        "agent_name": {"type": "string", "title": "代办人姓名", "x-title-en": "Agent's name",
                       "x-required-if": AGENT},
        "delivery": {"type": "string", "enum": ["branch", "mail"], "title": "领取方式"},
        "address": {"type": "object", "title": "邮寄地址", "x-show-if": {"==": [{"var": "delivery"}, "mail"]},
                    "properties": {
                        "city": {"type": "string", "title": "城市",
                                 "x-required-if": {"!!": {"var": "delivery"}}},
                        "street": {"type": "string", "title": "街道"}}},
        "note": {"type": "string", "title": "说明", "x-show-if": {">": [{"var": "amount"}, 100]},
                 "x-required-if": {">": [{"var": "amount"}, 10]}},
        "amount": {"type": "integer", "title": "金额"},
        "children": {"type": "array", "title": "子女", "items": {
            "type": "object", "properties": {
                "name": {"type": "string", "title": "姓名"},
                "school": {"type": "string", "title": "学校",
                           "x-required-if": {">": [{"var": "amount"}, 0]}}}}},
        "always": {"type": "string", "title": "必填项"},
    },
    "required": ["always"],
}


def problems(data: dict[str, Any], lang: str = "zh-CN", schema: dict[str, Any] | None = None,
             ui: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    validator = FormValidator(schema or SCHEMA, ui)
    return [(p.path, p.code) for p in validator.check_complete(data, lang)]


def test_required_while_the_rule_holds_and_not_otherwise() -> None:
    assert problems({"always": "x"}) == []
    assert problems({"always": "x", "by_agent": False}) == []
    assert problems({"always": "x", "by_agent": True}) == [("/agent_name", "required")]
    assert problems({"always": "x", "by_agent": True, "agent_name": ""}) == [("/agent_name", "required")]
    assert problems({"always": "x", "by_agent": True, "agent_name": "李四"}) == []


def test_the_same_problem_as_required_and_all_problems_at_once() -> None:
    validator = FormValidator(SCHEMA)
    found = validator.check_complete({"by_agent": True}, "zh-CN")
    assert [(p.path, p.code) for p in found] == [("/agent_name", "required"), ("/always", "required")]
    assert found[0].message == "「代办人姓名」为必填项"
    assert found[1].message == "「必填项」为必填项"         # word for word what `required` says
    english = validator.check_complete({"by_agent": True}, "en")
    assert english[0].message == "\"Agent's name\" is required"
    # the draft check lists them as warnings: a draft keeps what was typed
    refused, warnings = validator.check_draft({"by_agent": True}, "zh-CN")
    assert refused == [] and [(p.path, p.code) for p in warnings] == [("/agent_name", "required"),
                                                                      ("/always", "required")]


def test_a_field_hidden_by_a_show_if_is_never_required() -> None:
    # its own x-show-if: amount 50 requires the note (rule > 10) but hides it (shown > 100)
    assert problems({"always": "x", "amount": 50}) == []
    assert problems({"always": "x", "amount": 500}) == [("/note", "required")]
    # a parent's x-show-if: the city is required once a delivery is chosen, but only shown with the address
    assert problems({"always": "x", "delivery": "branch"}) == []
    assert problems({"always": "x", "delivery": "mail"}) == [("/address/city", "required")]
    assert problems({"always": "x", "delivery": "mail", "address": {"street": "长安街"}}) == \
        [("/address/city", "required")]
    assert problems({"always": "x", "delivery": "mail", "address": {"city": "北京"}}) == []
    # the layout's show_if hides it just as well
    ui = {"agent_name": {"ui:options": {"show_if": {"==": [{"var": "delivery"}, "mail"]}}}}
    assert problems({"always": "x", "by_agent": True}, ui=ui) == []
    mail = {"always": "x", "by_agent": True, "delivery": "mail", "address": {"city": "北京"}}
    assert problems(mail, ui=ui) == [("/agent_name", "required")]


def test_inside_a_repeatable_group_each_row_is_checked() -> None:
    rows = [{"name": "甲", "school": "一中"}, {"name": "乙"}, {"name": "丙", "school": ""}]
    assert problems({"always": "x", "amount": 0, "children": rows}) == []
    assert problems({"always": "x", "amount": 5, "children": rows}) == \
        [("/children/1/school", "required"), ("/children/2/school", "required")]
    assert problems({"always": "x", "amount": 5, "children": []}) == []      # no rows, nothing missing
    assert problems({"always": "x", "amount": 5}) == []


def test_a_false_or_a_zero_is_an_answer() -> None:
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["count"] = {"type": "integer", "title": "份数", "x-required-if": {"!!": [True]}}
    schema["properties"]["agree"] = {"type": "boolean", "title": "同意", "x-required-if": {"!!": [True]}}
    assert problems({"always": "x", "count": 0, "agree": False}, schema=schema) == []
    assert problems({"always": "x"}, schema=schema) == [("/count", "required"), ("/agree", "required")]


def test_a_rule_that_cannot_be_evaluated_requires_nothing() -> None:
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["agent_name"]["x-required-if"] = {"some": [{"var": "by_agent"}, {"var": ""}]}
    assert problems({"always": "x", "by_agent": True}, schema=schema) == []


# ---- the definition check --------------------------------------------------------------------------------

def definition_with(rule: Any) -> dict[str, Any]:
    definition = permit()
    definition["schema"]["properties"]["email"]["x-required-if"] = rule
    return definition


def test_the_rule_is_checked_when_the_form_is_defined() -> None:
    assert check_form_definition(definition_with({">": [{"var": "amount"}, 1000]}), "f.json") == []
    both = {"and": [{"!!": {"var": "plate"}}, {"in": [{"var": "months"}, [6, 12]]}]}
    assert check_form_definition(definition_with(both), "f.json") == []
    cases = {
        "cat": ({"cat": [{"var": "plate"}, "x"]}, "/schema/properties/email/x-required-if/cat",
                "operator 'cat' is not allowed"),
        "list": ([{"var": "plate"}], "/schema/properties/email/x-required-if",
                 "one JSON Logic operator object"),
        "two": ({"==": [1, 1], "!=": [1, 2]}, "/schema/properties/email/x-required-if",
                "one JSON Logic operator object"),
        "arity": ({"==": [{"var": "plate"}]}, "/schema/properties/email/x-required-if/==",
                  "== takes 2 arguments, not 1"),
        "nested": ({"and": [{"!!": {"var": "plate"}}, {"log": ["x"]}]},
                   "/schema/properties/email/x-required-if/and/1/log", "operator 'log' is not allowed"),
        "var": ({"var": {"x": 1}}, "/schema/properties/email/x-required-if/var", "var takes a field name"),
    }
    for name, (rule, place, what) in cases.items():
        found = check_form_definition(definition_with(rule), "f.json")
        assert len(found) == 1, (name, found)
        assert found[0].startswith(f"f.json: {place}: x-required-if: "), (name, found)
        assert what in found[0] and "; fix: " in found[0], (name, found)


def test_the_api_refuses_a_broken_rule_with_every_problem(api: Any) -> None:
    definition = definition_with({"cat": ["a"]})
    definition["schema"]["properties"]["plate"]["x-required-if"] = {"==": [1]}
    r = api.post("/api/v1/forms", "admin", json=definition)
    assert r.status_code == 422, r.get_json()
    paths = {d["path"] for d in r.get_json()["error"]["details"]}
    assert paths == {"/schema/properties/email/x-required-if/cat",
                     "/schema/properties/plate/x-required-if/=="}
    r = api.post("/api/v1/forms", "admin", json=definition_with({"!!": {"var": "plate"}}))
    assert r.status_code == 201, r.get_json()


# ---- on a record, through the API ------------------------------------------------------------------------

def test_accepting_a_record_reports_the_conditional_field_missing(staff: Any) -> None:
    definition = definition_with({">": [{"var": "amount"}, 1000]})
    publish(staff, definition)
    data = dict(COMPLETE, amount=5000, licence_copy=upload(staff))
    r = staff.post("/api/v1/records", "clerk", json={"form": "parking-permit", "data": data})
    assert r.status_code == 201, r.get_json()
    record = r.get_json()
    assert [(w["path"], w["code"]) for w in record["warnings"]] == [("/email", "required")]
    r = staff.post(f"/api/v1/records/{record['id']}/transitions/accept", "clerk",
                   json={"revision": record["revision"]})
    assert r.status_code == 422
    details = r.get_json()["error"]["details"]
    assert [(d["path"], d["code"]) for d in details] == [("/email", "required")]
    assert details[0]["message"] == "「邮箱」为必填项"
    # below the limit the e-mail is not needed: accepted
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"data": dict(data, amount=300), "revision": record["revision"]})
    assert r.status_code == 200 and r.get_json()["warnings"] == [], r.get_json()
    r = staff.post(f"/api/v1/records/{record['id']}/transitions/accept", "clerk",
                   json={"revision": r.get_json()["revision"]})
    assert r.status_code == 200, r.get_json()


# ---- the clerk's page ------------------------------------------------------------------------------------

def _field_html(html: str, field_id: str) -> str:
    """The wrapper element of one field (the generated markup puts each on its own lines)."""
    start = html.rfind("<div", 0, html.index(f'id="{field_id}"'))
    return html[start:html.index("</div>", html.index(f'id="{field_id}"'))]


@pytest.mark.parametrize("data,shown", [({}, False), ({"by_agent": True}, True)])
def test_the_page_carries_the_rule_and_marks_the_field_as_the_server_decides(data: Any, shown: bool) -> None:
    html = str(render_fields(SCHEMA, {}, data, [], "zh-CN", tz=dt.timezone.utc))
    wrapper = _field_html(html, "cf-f-agent_name")
    assert 'data-required-if="{&#34;==&#34;:[{&#34;var&#34;:&#34;by_agent&#34;},true]}"' in wrapper
    mark = re.search(r'<span class="cf-required" data-cf-required-if( hidden)?>\(必填\)</span>', wrapper)
    assert mark is not None and (mark.group(1) is None) is shown
    assert ('aria-required="true"' in wrapper) is shown
    # an always-required field carries no rule; a field without one neither
    assert "data-required-if" not in _field_html(html, "cf-f-always")
    assert "data-required-if" not in html.split('id="cf-f-delivery', 1)[0].split('id="cf-f-agent_name"')[1]


def test_nothing_in_a_blank_row_is_marked_required() -> None:
    data = {"amount": 5, "children": [{"name": "甲"}, {}]}
    html = str(render_fields(SCHEMA, {}, data, [], "zh-CN", tz=dt.timezone.utc))
    marked = re.findall(r'id="(cf-f-children-[^"]*-school)"[^>]*aria-required="true"', html)
    assert marked == ["cf-f-children-0-school"]       # not the blank row, nor the new row's template
    assert problems({"always": "x", **data}) == [("/children/0/school", "required")]   # the server agrees
