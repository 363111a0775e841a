"""`x-visible-to` (issue 9, "who may see it" per field; contract item 4): a field that names the roles which
see it is left out of the record for everyone else (records staff see every field), in the API, the pages,
the history, printouts and lists; their saves keep its stored value, and a value they send for it is refused
naming the field."""
from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from conftest import PASSWORD, Api, stored_record
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


# -- the record through the API and the pages --------------------------------------------------------------


@pytest.fixture
def world(staff: Api, app: Any) -> dict[str, Any]:
    """SECRET_FORM published; `chief` (clerk and manager) writes every field; a record holding all of them,
    created by chief in the counter's draft."""
    api = staff
    assert api.post("/api/v1/forms", "admin", json=SECRET_FORM).status_code == 201
    for who, trigger in (("admin", "submit"), ("head", "review"), ("boss", "approve")):
        rev = api.get("/api/v1/forms/salary-note/versions/1", "admin").get_json()["revision"]
        r = api.post(f"/api/v1/forms/salary-note/versions/1/transitions/{trigger}", who,
                     json={"revision": rev})
        assert r.status_code == 200, r.get_json()
    api.add_user("chief", ["clerk", "manager"])
    full = {"person": "张三", "salary": 8000, "note": {"public": "可公开", "internal": "仅限经理"}}
    r = api.post("/api/v1/records", "chief", json={"form": "salary-note", "data": full})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["data"] == full
    return {"api": api, "app": app, "rid": r.get_json()["id"], "full": full}


def test_people_without_the_role_read_the_record_without_the_field(world: dict[str, Any]) -> None:
    api, rid = world["api"], world["rid"]
    seen = {who: api.get(f"/api/v1/records/{rid}", who).get_json() for who in
            ("clerk", "reviewer", "boss", "keeper", "chief")}
    assert seen["clerk"]["data"] == {"person": "张三", "note": {"public": "可公开"}}
    assert seen["reviewer"]["data"] == {"person": "张三", "salary": 8000, "note": {"public": "可公开"}}
    for who in ("boss", "keeper", "chief"):           # a named role; records staff see every field
        assert seen[who]["data"] == world["full"], who
    # an opinion stays bound to the whole data, whoever reads it
    assert len({s["data_digest"] for s in seen.values()}) == 1
    listed = api.get("/api/v1/records?form=salary-note", "clerk").get_json()["items"]
    assert [x["data"] for x in listed] == [seen["clerk"]["data"]]
    assert "salary" in api.get("/api/v1/records?form=salary-note", "boss").get_json()["items"][0]["data"]


def test_their_save_keeps_the_stored_value_and_a_sent_value_is_refused(world: dict[str, Any]) -> None:
    api, rid, app = world["api"], world["rid"], world["app"]
    rev = api.get(f"/api/v1/records/{rid}", "clerk").get_json()["revision"]
    r = api.patch(f"/api/v1/records/{rid}", "clerk",
                  json={"revision": rev, "data": {"person": "李四", "note": {"public": "改了"}}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"] == {"person": "李四", "note": {"public": "改了"}}
    kept = stored_record(app, rid)["data"]
    assert kept == {"person": "李四", "salary": 8000, "note": {"public": "改了", "internal": "仅限经理"}}
    rev = r.get_json()["revision"]
    # blanks (what a page posts for a field it never showed) keep the value too
    r = api.patch(f"/api/v1/records/{rid}", "clerk",
                  json={"revision": rev, "data": {"person": "李四", "salary": None, "note": {"public": "改了",
                                                                                           "internal": ""}}})
    assert r.status_code == 200, r.get_json()
    assert stored_record(app, rid)["data"] == kept
    for sent, where in (({"salary": 1}, ["/salary"]), ({"note": {"internal": "x"}}, ["/note/internal"]),
                        ({"salary": 0, "note": {"internal": "y"}}, ["/salary", "/note/internal"])):
        body = {"revision": rev, "data": dict({"person": "李四"}, **sent)}
        r = api.patch(f"/api/v1/records/{rid}", "clerk", json=body)
        assert r.status_code == 403, r.get_json()
        err = r.get_json()["error"]
        assert err["code"] == "field_not_visible"
        assert sorted(d["path"] for d in err["details"]) == sorted(where)
        assert re.search(r"[\u4e00-\u9fff]", err["message"]) and where[0] in err["message"]
        english = api.patch(f"/api/v1/records/{rid}?lang=en", "clerk", json=body).get_json()["error"]
        assert "may not see or change" in english["message"]
        assert stored_record(app, rid)["data"] == kept
    # creating with a value one may not see is refused the same way; nothing is created
    before = len(api.get("/api/v1/records?form=salary-note", "boss").get_json()["items"])
    r = api.post("/api/v1/records", "clerk",
                 json={"form": "salary-note", "data": {"person": "王", "salary": 1}})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "field_not_visible"
    assert len(api.get("/api/v1/records?form=salary-note", "boss").get_json()["items"]) == before


def test_history_shows_them_no_change_of_the_field(world: dict[str, Any]) -> None:
    api, rid = world["api"], world["rid"]
    rev = api.get(f"/api/v1/records/{rid}", "chief").get_json()["revision"]
    r = api.patch(f"/api/v1/records/{rid}", "chief",
                  json={"revision": rev, "data": dict(world["full"], salary=9000, person="张三丰")})
    assert r.status_code == 200, r.get_json()

    def changed(who: str) -> set[str]:
        items = api.get(f"/api/v1/records/{rid}/history", who).get_json()["items"]
        return {c["path"] for e in items for c in e.get("changes") or []}

    assert changed("chief") == {"/person", "/salary"}
    assert changed("reviewer") == {"/person", "/salary"}
    assert changed("clerk") == {"/person"}


def test_the_record_page_neither_shows_nor_erases_the_field(world: dict[str, Any]) -> None:
    app, rid = world["app"], world["rid"]

    def signed_in(who: str) -> Any:
        client = app.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
        assert token
        r = client.post("/login", data={"username": who, "password": PASSWORD, "csrf_token": token.group(1)})
        assert r.status_code in (302, 303)
        return client

    clerk = signed_in("clerk")
    page = clerk.get(f"/records/{rid}").get_data(as_text=True)
    assert "月薪" not in page and "8000" not in page and "仅限经理" not in page and "内部" not in page
    assert "可公开" in page
    chief_page = signed_in("chief").get(f"/records/{rid}").get_data(as_text=True)
    assert "月薪" in chief_page and "仅限经理" in chief_page
    # the clerk saves the form as the page posts it: the hidden values stay
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    revision = re.search(r'name="revision" value="(\d+)"', page)
    assert token and revision
    r = clerk.post(f"/records/{rid}", data={"csrf_token": token.group(1), "revision": revision.group(1),
                                            "_action": "save", "person": "赵六", "note.public": "页面改"})
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:800]
    assert stored_record(app, rid)["data"] == {"person": "赵六", "salary": 8000,
                                               "note": {"public": "页面改", "internal": "仅限经理"}}


def test_the_new_record_page_leaves_the_field_out(world: dict[str, Any]) -> None:
    app = world["app"]
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token
    client.post("/login", data={"username": "clerk", "password": PASSWORD, "csrf_token": token.group(1)})
    page = client.get("/forms/salary-note/new").get_data(as_text=True)
    assert "月薪" not in page and "内部" not in page and "姓名" in page
    chief = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', chief.get("/login").get_data(as_text=True))
    assert token
    chief.post("/login", data={"username": "chief", "password": PASSWORD, "csrf_token": token.group(1)})
    assert "月薪" in chief.get("/forms/salary-note/new").get_data(as_text=True)
