"""The differences between two versions of a definition, and checks without saving, through the API and on
the admin version pages (issue 9: "differences between two versions shown field by field"; contract items 5
and 6)."""
from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml

from conftest import PASSWORD, Api, stored_documents

FORM: dict[str, Any] = {
    "key": "diff-note",
    "title": {"zh-CN": "差异登记", "en": "Difference note"},
    "schema": {"type": "object", "required": ["visitor"], "properties": {
        "visitor": {"type": "string", "maxLength": 50, "title": "来访人", "x-title-en": "Visitor"},
        "purpose": {"type": "string", "title": "事由", "x-title-en": "Purpose",
                    "enum": ["open", "close"],
                    "x-enum-titles": {"zh-CN": ["开户", "销户"], "en": ["Open", "Close"]}},
    }},
    "ui_schema": {"ui:order": ["visitor", "purpose"]},
    "settings": {"processes": ["intake", "review", "archive", "destroy"],
                 "numbering": "DIF-{yyyy}{mm}{dd}-{seq:04d}", "time_limit": {"working_days": 3}},
}
WORKFLOW: dict[str, Any] = {
    "key": "diff_check", "title": {"zh-CN": "差异核查", "en": "Difference check"}, "initial": "lodged",
    "states": [{"name": "lodged", "title": {"zh-CN": "待提交", "en": "Lodged"}, "editable": True},
               {"name": "settled", "title": {"zh-CN": "已办结", "en": "Settled"}, "final": True,
                "ends_record": True}],
    "transitions": [{"trigger": "hand_in", "title": {"zh-CN": "提交核查", "en": "Hand in"},
                     "source": "lodged", "dest": "settled", "roles": ["clerk"]}],
}
SCRIPT = "<script>alert(1)</script>"


def _approve(api: Api, kind: str, key: str, version: int) -> None:
    base = f"/api/v1/{kind}/{key}/versions/{version}"
    for who, trigger in (("admin", "submit"), ("head", "review"), ("boss", "approve")):
        rev = api.get(base, "admin").get_json()["revision"]
        r = api.post(f"{base}/transitions/{trigger}", who, json={"revision": rev, "opinion": "同意"})
        assert r.status_code == 200, r.get_json()


@pytest.fixture(scope="module")
def world(module_staff: Api, module_app: Any) -> dict[str, Any]:
    """A form with three versions (v2: a field added, a rule and options changed; v3: a setting) and a
    workflow with two (v2: a state and a transition changed), the last version of each still a draft."""
    api = module_staff
    assert api.post("/api/v1/forms", "admin", json=FORM).status_code == 201
    _approve(api, "forms", FORM["key"], 1)
    schema = copy.deepcopy(FORM["schema"])
    schema["properties"]["visitor"]["maxLength"] = 20
    schema["properties"]["purpose"]["enum"] = ["open", "close", "change"]
    schema["properties"]["purpose"]["x-enum-titles"] = {"zh-CN": ["开户", "销户", "变更"],
                                                        "en": ["Open", "Close", "Change"]}
    schema["properties"]["note"] = {"type": "string", "title": SCRIPT, "x-title-en": "Note"}
    r = api.post(f"/api/v1/forms/{FORM['key']}/versions", "admin", json={"schema": schema})
    assert r.status_code == 201, r.get_json()
    _approve(api, "forms", FORM["key"], 2)
    settings = dict(FORM["settings"], time_limit={"working_days": 5})
    r = api.post(f"/api/v1/forms/{FORM['key']}/versions", "admin", json={"settings": settings})
    assert r.status_code == 201, r.get_json()
    assert api.post("/api/v1/workflows", "admin", json=WORKFLOW).status_code == 201
    _approve(api, "workflows", WORKFLOW["key"], 1)
    changed = copy.deepcopy(WORKFLOW)
    changed["states"][0]["deadline"] = {"working_days": 4}
    changed["transitions"][0]["roles"] = ["clerk", "reviewer"]
    r = api.post(f"/api/v1/workflows/{WORKFLOW['key']}/versions", "admin", json=changed)
    assert r.status_code == 201, r.get_json()
    return {"api": api, "app": module_app}


def test_form_version_against_the_one_before_by_default(world: dict[str, Any]) -> None:
    api = world["api"]
    r = api.get("/api/v1/forms/diff-note/versions/2/diff", "head")
    assert r.status_code == 200, r.get_json()
    found = r.get_json()
    assert found["version"] == 2 and found["against"] == 1 and found["note"] is None
    by_path = {c["path"]: c for c in found["changes"]}
    assert set(by_path) == {"/visitor", "/purpose", "/note"}
    assert by_path["/note"]["kind"] == "added" and by_path["/visitor"]["kind"] == "changed"
    assert [a["aspect"] for a in by_path["/visitor"]["aspects"]] == ["maxLength"]
    assert "50 → 20" in by_path["/visitor"]["text"] and "最长长度" in by_path["/visitor"]["text"]
    assert {a["aspect"] for a in by_path["/purpose"]["aspects"]} == {"enum", "x-enum-titles"}
    assert "新增选项 change" in by_path["/purpose"]["text"]
    assert found["counts"] == {"added": 1, "removed": 0, "changed": 2}
    english = api.get("/api/v1/forms/diff-note/versions/2/diff?lang=en", "head").get_json()
    assert "options added: change" in {c["path"]: c for c in english["changes"]}["/purpose"]["text"]


def test_against_another_version_and_itself(world: dict[str, Any]) -> None:
    api = world["api"]
    found = api.get("/api/v1/forms/diff-note/versions/3/diff?against=1", "admin").get_json()
    assert {c["path"] for c in found["changes"]} == {"/visitor", "/purpose", "/note", "/settings/time_limit"}
    default = api.get("/api/v1/forms/diff-note/versions/3/diff", "admin").get_json()
    assert [(c["path"], c["area"]) for c in default["changes"]] == [("/settings/time_limit", "settings")]
    assert "3 → 5" in default["changes"][0]["text"]
    same = api.get("/api/v1/forms/diff-note/versions/2/diff?against=2", "admin")
    assert same.status_code == 200 and same.get_json()["changes"] == [] and same.get_json()["note"]
    backwards = api.get("/api/v1/forms/diff-note/versions/1/diff?against=2", "admin").get_json()
    assert {c["path"]: c["kind"] for c in backwards["changes"]}["/note"] == "removed"


def test_version_one_without_against_has_no_changes_and_says_why(world: dict[str, Any]) -> None:
    for lang, word in (("zh-CN", "第一个版本"), ("en", "first version")):
        r = world["api"].get(f"/api/v1/forms/diff-note/versions/1/diff?lang={lang}", "admin")
        assert r.status_code == 200
        assert r.get_json()["changes"] == [] and r.get_json()["against"] is None
        assert word in r.get_json()["note"]


@pytest.mark.parametrize("path", ["/api/v1/forms/diff-note/versions/9/diff",
                                  "/api/v1/forms/diff-note/versions/2/diff?against=9",
                                  "/api/v1/forms/nope/versions/1/diff",
                                  "/api/v1/workflows/diff_check/versions/9/diff",
                                  "/api/v1/workflows/diff_check/versions/2/diff?against=7"])
def test_unknown_versions_are_404(world: dict[str, Any], path: str) -> None:
    r = world["api"].get(path, "admin")
    codes = ("version_not_found", "form_not_found", "workflow_not_found", "not_found")
    assert r.status_code == 404 and r.get_json()["error"]["code"] in codes
    if "against" in path:
        assert re.search(r"[\u4e00-\u9fff]", r.get_json()["error"]["message"])
        english = world["api"].get(path + "&lang=en", "admin").get_json()["error"]["message"]
        assert "has no version" in english


@pytest.mark.parametrize("query", ["against=0", "against=-1", "against=x", "against=1.5", "bogus=1",
                                   "against[$ne]=1", "against=99999999999999999999"])
def test_bad_against_is_refused_cleanly(world: dict[str, Any], query: str) -> None:
    for kind, key in (("forms", "diff-note"), ("workflows", "diff_check")):
        r = world["api"].get(f"/api/v1/{kind}/{key}/versions/2/diff?{query}", "admin")
        assert r.status_code in (400, 422), (query, r.get_json())
        assert set(r.get_json()) == {"error"}


def test_the_same_readers_as_the_version(world: dict[str, Any]) -> None:
    api = world["api"]
    for who in ("admin", "head", "boss"):
        assert api.get("/api/v1/forms/diff-note/versions/2/diff", who).status_code == 200
    assert api.get("/api/v1/forms/diff-note/versions/2", "clerk").status_code == 403
    assert api.get("/api/v1/forms/diff-note/versions/2/diff", "clerk").status_code == 403
    assert api.get("/api/v1/forms/diff-note/versions/2/diff").status_code == 401
    for who in ("admin", "clerk"):                      # workflow versions are read by staff too
        assert api.get("/api/v1/workflows/diff_check/versions/2", who).status_code == 200
        assert api.get("/api/v1/workflows/diff_check/versions/2/diff", who).status_code == 200


def test_workflow_version_differences(world: dict[str, Any]) -> None:
    found = world["api"].get("/api/v1/workflows/diff_check/versions/2/diff?lang=en", "admin").get_json()
    assert found["against"] == 1
    assert [(c["kind"], c["path"], c["area"]) for c in found["changes"]] == [
        ("changed", "/states/lodged", "state"), ("changed", "/transitions/hand_in/lodged", "transition")]
    assert "deadline set" in found["changes"][0]["text"]
    assert "reviewer" in found["changes"][1]["text"]


# -- checks without saving --------------------------------------------------------------------------------

def test_form_check_accepts_a_good_definition_and_writes_nothing(world: dict[str, Any]) -> None:
    before = stored_documents(world["app"])
    r = world["api"].post("/api/v1/forms/check", "admin", json=dict(FORM, key="not-saved"))
    assert r.status_code == 200 and r.get_json() == {"problems": []}
    assert stored_documents(world["app"]) == before
    assert world["api"].get("/api/v1/forms/not-saved/versions/1", "admin").status_code == 404


def test_form_check_lists_every_problem(world: dict[str, Any]) -> None:
    bad = copy.deepcopy(FORM)
    bad["schema"]["required"] = ["visitor", "new_adress"]
    bad["schema"]["properties"]["visitor"]["x-sensitive"] = "passport"
    bad["settings"]["retention"] = {"years": 3}
    before = stored_documents(world["app"])
    r = world["api"].post("/api/v1/forms/check?lang=en", "admin", json=bad)
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "invalid_definition"
    paths = {d["path"] for d in err["details"]}
    assert {"/schema/required/1", "/schema/properties/visitor/x-sensitive",
            "/settings/retention/years"} <= paths
    assert all({"path", "code", "message"} <= set(d) for d in err["details"])
    assert stored_documents(world["app"]) == before


def test_workflow_check_json_and_yaml(world: dict[str, Any]) -> None:
    api = world["api"]
    before = stored_documents(world["app"])
    r = api.post("/api/v1/workflows/check", "admin", json=dict(WORKFLOW, key="never_saved"))
    assert r.status_code == 200 and r.get_json() == {"problems": []}
    broken = copy.deepcopy(WORKFLOW)
    broken["transitions"][0]["dest"] = "finished"
    broken["transitions"][0]["guards"] = ["is_owner"]
    r = api.post("/api/v1/workflows/check", "admin", data=yaml.safe_dump(broken, allow_unicode=True),
                 content_type="application/yaml")
    assert r.status_code == 422, r.get_json()
    messages = " ".join(d["message"] for d in r.get_json()["error"]["details"])
    assert "finished" in messages and "is_owner" in messages
    assert stored_documents(world["app"]) == before
    assert api.get("/api/v1/workflows/never_saved", "admin").status_code == 404


def test_checks_are_for_admins(world: dict[str, Any]) -> None:
    api = world["api"]
    assert api.post("/api/v1/forms/check", "clerk", json=FORM).status_code == 403
    assert api.post("/api/v1/workflows/check", "head", json=WORKFLOW).status_code == 403
    assert api.post("/api/v1/forms/check", json=FORM).status_code == 401


# -- the admin version pages ------------------------------------------------------------------------------

def _signed_in(world: dict[str, Any], who: str) -> Any:
    client = world["app"].test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token
    r = client.post("/login", data={"username": who, "password": PASSWORD, "csrf_token": token.group(1)})
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:300]
    return client


def _page(world: dict[str, Any], who: str, path: str) -> str:
    r = _signed_in(world, who).get(path)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return str(r.get_data(as_text=True))


def _section(html: str) -> str:
    found = re.search(r'<section[^>]*id="cf-differences".*?</section>', html, re.S)
    assert found, html[:2000]
    return found.group(0)


def test_form_version_page_shows_the_differences_from_the_version_before(world: dict[str, Any]) -> None:
    html = _section(_page(world, "head", "/admin/forms/diff-note/versions/2"))
    items = re.findall(r'<li[^>]*data-kind="(\w+)"[^>]*data-path="([^"]*)"', html)
    assert sorted(items) == [("added", "/note"), ("changed", "/purpose"), ("changed", "/visitor")]
    assert SCRIPT not in html and "&lt;script&gt;" in html          # a label is text, escaped
    assert "最长长度" in html
    english = _section(_page(world, "head", "/admin/forms/diff-note/versions/2?lang=en"))
    assert "maximum length" in english
    chosen = _section(_page(world, "head", "/admin/forms/diff-note/versions/3?against=1"))
    assert 'data-path="/settings/time_limit"' in chosen and 'data-path="/note"' in chosen
    assert re.search(r'<option[^>]*value="1"[^>]*selected', chosen)
    first = _section(_page(world, "head", "/admin/forms/diff-note/versions/1"))
    assert "<li" not in first and "第一个版本" in first


def test_workflow_version_page_shows_the_differences(world: dict[str, Any]) -> None:
    html = _section(_page(world, "head", "/admin/workflows/diff_check/versions/2"))
    items = re.findall(r'<li[^>]*data-kind="(\w+)"[^>]*data-path="([^"]*)"', html)
    assert items == [("changed", "/states/lodged"), ("changed", "/transitions/hand_in/lodged")]
    assert "时限" in html


def test_a_bad_against_on_a_page_is_a_clean_answer(world: dict[str, Any]) -> None:
    client = _signed_in(world, "head")
    for query in ("against=9", "against=x", "against=-1"):
        r = client.get(f"/admin/forms/diff-note/versions/2?{query}")
        assert r.status_code in (200, 400, 404), (query, r.status_code)
        assert "Traceback" not in r.get_data(as_text=True)
