"""`x-visible-to` (issue 9, "who may see it" per field; contract item 4): a field that names the roles which
see it is left out of the record for everyone else (records staff see every field), in the API, the pages,
the history, printouts and lists; their saves keep its stored value, and a value they send for it is refused
naming the field."""
from __future__ import annotations

import copy
from typing import Any

from counterflow.forms.check import check_form_definition

SECRET_FORM: dict[str, Any] = {
    "key": "salary-note",
    "title": {"zh-CN": "薪资登记", "en": "Salary note"},
    "schema": {"type": "object", "required": ["person"], "properties": {
        "person": {"type": "string", "maxLength": 50, "title": "姓名", "x-title-en": "Name"},
        "salary": {"type": "integer", "title": "月薪", "x-title-en": "Monthly salary",
                   "x-visible-to": ["manager", "reviewer"]},
        "note": {"type": "object", "title": "备注", "properties": {
            "public": {"type": "string", "title": "公开", "x-title-en": "Public"},
            "internal": {"type": "string", "title": "内部", "x-title-en": "Internal",
                         "x-visible-to": ["manager"]}}},
    }},
    "settings": {"processes": ["intake", "review", "archive", "destroy"],
                 "numbering": "SAL-{yyyy}{mm}{dd}-{seq:04d}", "time_limit": {"working_days": 3}},
}


def test_roles_are_checked_at_upload_with_a_clear_problem() -> None:
    assert check_form_definition(SECRET_FORM, "f") == []
    bad = copy.deepcopy(SECRET_FORM)
    bad["schema"]["properties"]["salary"]["x-visible-to"] = ["manager", "boss", "admin"]
    bad["schema"]["properties"]["person"]["x-visible-to"] = []
    bad["schema"]["properties"]["note"]["properties"]["internal"]["x-visible-to"] = "manager"
    problems = check_form_definition(bad, "f")
    assert len(problems) == 4, problems
    assert any("/schema/properties/salary/x-visible-to/1: x-visible-to names an unknown role 'boss'" in p
               for p in problems)
    assert any("/salary/x-visible-to/2:" in p for p in problems)            # admin reads no record
    assert any("/person/x-visible-to: x-visible-to must be a non-empty list" in p for p in problems)
    assert any("/internal/x-visible-to:" in p and "fix: list the roles" in p for p in problems)
