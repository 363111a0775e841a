"""The form builder's page and JSON endpoints (no browser): who may use them, CSRF, hostile bodies, the
preview with the clerk's renderer and the clerk's completeness check, saving through the service, and the
approval steps the service offers."""
from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from conftest import ADMIN_PASSWORD, stored_documents
from forms import COMPLETE, permit, publish
from test_pages import sign_in

PREVIEW = "/admin/forms/builder/preview"
SAVE = "/admin/forms/builder/save"


def _token(client: Any, path: str = "/admin/forms/builder") -> str:
    html = client.get(path).get_data(as_text=True)
    found = re.search(r'<meta name="cf-csrf" content="([^"]+)"', html)
    assert found
    return found.group(1)


def _post(client: Any, path: str, body: Any, token: str | None) -> Any:
    headers = {"X-CSRF-Token": token} if token else {}
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, data=raw, headers=headers, content_type="application/json")


@pytest.fixture
def admin(app: Any, staff: Any) -> Any:
    client = app.test_client()
    assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 302
    return client


@pytest.fixture(scope="module")
def module_admin(module_app: Any, module_staff: Any) -> Any:
    """One signed-in admin for the module's refusals (signing in for each case would meet the rate limit)."""
    client = module_app.test_client()
    assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 302
    return client


def _data(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="cf-builder-data">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))


def test_the_page_is_for_admins_and_carries_its_data(app: Any, admin: Any, staff: Any) -> None:
    r = admin.get("/admin/forms/builder")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    data = _data(html)
    assert data["definition"] is None and data["lang"] == "zh-CN"
    assert {"intake", "review"} <= {p["key"] for p in data["processes"]}
    roles = [r["value"] for r in data["roles"]]
    assert "dept_head" in roles and "admin" not in roles
    assert True in [k["value"] for k in data["sensitive_kinds"]] and "id_number" in [
        k["value"] for k in data["sensitive_kinds"]]
    assert data["t"]["kind_group"] == "可重复分组"
    assert 'type="module"' in html and "builder/main.js" in html and "<script>" not in html
    en = _data(admin.get("/admin/forms/builder?lang=en").get_data(as_text=True))
    assert en["lang"] == "en" and en["t"]["kind_group"] == "Repeatable group"
    forms = admin.get("/admin/forms").get_data(as_text=True)
    assert 'href="/admin/forms/builder"' in forms

    clerk = app.test_client()
    sign_in(clerk, "clerk")
    assert clerk.get("/admin/forms/builder").status_code == 403
    head = app.test_client()
    sign_in(head, "head")
    assert head.get("/admin/forms/builder").status_code == 403
    assert app.test_client().get("/admin/forms/builder").status_code in (302, 401)
    assert admin.get("/admin/forms/no-such-form/builder").status_code == 404


def test_an_existing_form_opens_with_its_latest_version(app: Any, admin: Any, staff: Any) -> None:
    publish(staff)
    data = _data(admin.get("/admin/forms/parking-permit/builder").get_data(as_text=True))
    assert data["key"] == "parking-permit" and data["version"] == 1
    assert data["definition"]["schema"] == permit()["schema"]
    assert data["status"]["state"] == "published" and data["status"]["open"] is False
    assert "/admin/forms/parking-permit/builder" in admin.get("/admin/forms").get_data(as_text=True)


def test_preview_renders_with_the_clerks_renderer_and_lists_definition_problems(admin: Any) -> None:
    token = _token(admin)
    r = _post(admin, PREVIEW, {"definition": permit(), "data": {}}, token)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["problems"] == [] and body["rendered"] and body["gaps"] == []
    assert 'id="cf-f-plate"' in body["html"] and 'class="cf-fields"' in body["html"]

    broken = permit(key="Bad Key")
    broken["schema"]["properties"]["phone"]["pattern"] = "([unclosed"
    broken["schema"]["required"].append("nowhere")
    broken["title"] = {"zh-CN": "停车证"}
    broken["surprise"] = 1
    body = _post(admin, PREVIEW, {"definition": broken}, token).get_json()
    paths = {p["path"] for p in body["problems"]}
    assert "/schema/properties/phone/pattern" in paths, paths
    assert any(p.startswith("/schema/required") for p in paths), paths
    assert "/key" in paths and "/title" in paths or any("title" in p for p in paths), paths
    assert all(set(p) >= {"path", "message"} for p in body["problems"])
    assert len(body["problems"]) >= 5        # every problem at once, the unknown top-level key too


def test_messages_follow_the_language(admin: Any) -> None:
    token = _token(admin)
    zh = _post(admin, PREVIEW, {"definition": {**permit(), "schema": "x"}}, token).get_json()
    r = _post(admin, PREVIEW + "?lang=en", {"definition": permit(), "data": {}, "try": True}, token)
    gaps = r.get_json()["gaps"]
    chinese = re.compile(r"[\u4e00-\u9fff]{2}")
    assert gaps and all(not chinese.search(g["message"]) for g in gaps
                        if g["code"] != "material_missing"), gaps
    assert zh["problems"] and not zh["rendered"]
    bad = _post(admin, PREVIEW + "?lang=en", {"definition": 5}, token)
    assert bad.status_code == 400 and bad.get_json()["error"]["message"] == "definition must be a JSON object"
    bad = _post(admin, PREVIEW + "?lang=zh-CN", {"definition": 5}, token)
    assert bad.get_json()["error"]["message"] == "definition 应为 JSON 对象"


def test_try_it_gives_every_message_a_clerk_gets_at_once(admin: Any) -> None:
    token = _token(admin)
    r = _post(admin, PREVIEW, {"definition": permit(), "data": {"applicant": "张三", "phone": "12345"},
                               "try": True}, token)
    body = r.get_json()
    assert r.status_code == 200 and body["tried"]
    gaps = {(g["path"], g["code"]) for g in body["gaps"]}
    assert {"/id_number", "/phone", "/plate", "/months", "/licence_copy"} <= {p for p, _ in gaps}, gaps
    assert ("/licence_copy", "material_missing") in gaps
    assert 'cf-field--error' in body["html"] and 'value="12345"' in body["html"]
    done = _post(admin, PREVIEW, {"definition": permit(), "try": True,
                                  "data": {**COMPLETE, "licence_copy": "att_" + "A" * 26}}, token).get_json()
    assert [g for g in done["gaps"] if g["path"] != "/licence_copy"] == []


@pytest.mark.parametrize("body", [
    b"[1, 2]", b"\"text\"", b"null", b"{not json", b"{}",
    {"definition": [1]}, {"definition": "x"}, {"definition": None},
    {"definition": {}, "data": [1]}, {"definition": {}, "data": "x"},
    {"definition": {}, "extra": 1},
    {"definition": {"schema": {"$ref": "#"}, "ui_schema": {}}},
    {"definition": {"schema": {"type": "object", "properties": {"a": {"$ref": "#/properties/a"}}}}},
    {"definition": {"schema": {"type": "object", "properties": "x"}, "ui_schema": []}},
    {"definition": {"schema": {"type": "object", "properties": {"a": {"type": "array", "items": 5}}},
                    "ui_schema": {"a": 5}}, "data": {"a": {"$ne": 1}}, "try": True},
    b"[" * 5000 + b"]" * 5000,
])
def test_hostile_previews_are_4xx_or_plain_answers_never_500(module_app: Any, module_admin: Any,
                                                             body: Any) -> None:
    client = module_admin
    before = stored_documents(module_app)
    r = _post(client, PREVIEW, body, _token(client))
    assert r.status_code in (200, 400, 413, 422), (r.status_code, r.get_data(as_text=True)[:300])
    if r.status_code != 200:
        assert set(r.get_json()["error"]) >= {"code", "message"}
    else:
        assert isinstance(r.get_json()["problems"], list)
    assert stored_documents(module_app) == before


def test_json_posts_without_the_csrf_header_are_refused_and_write_nothing(app: Any, admin: Any,
                                                                          staff: Any) -> None:
    clerk = app.test_client()
    sign_in(clerk, "clerk")
    clerk_token = _token(clerk, "/worklist")
    before = stored_documents(app)
    for path, body in ((PREVIEW, {"definition": permit()}), (SAVE, {"definition": permit()})):
        for token in (None, "forged"):
            r = _post(admin, path, body, token)
            assert r.status_code == 400, (path, token, r.status_code)
            assert r.get_json()["error"]["code"] == "csrf"
    assert stored_documents(app) == before
    r = _post(clerk, SAVE, {"definition": permit()}, clerk_token)
    assert r.status_code == 403
    assert stored_documents(app) == before


def test_save_creates_edits_the_draft_and_refuses_what_the_api_refuses(app: Any, admin: Any,
                                                                       staff: Any) -> None:
    token = _token(admin)
    store = app.extensions["counterflow"].store
    broken = permit()
    broken["schema"]["required"].append("nowhere")
    before = stored_documents(app)
    r = _post(admin, SAVE, {"definition": broken}, token)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_definition"
    assert any(d["path"].startswith("/schema") for d in r.get_json()["error"]["details"])
    extra = {**permit(), "surprise": 1}
    assert _post(admin, SAVE, {"definition": extra}, token).status_code == 422   # not silently dropped
    assert stored_documents(app) == before

    r = _post(admin, SAVE, {"definition": permit()}, token)
    assert r.status_code == 201, r.get_json()
    status = r.get_json()
    assert (status["key"], status["version"], status["state"], status["editable"]) == \
        ("parking-permit", 1, "draft", True)
    assert status["builder_url"] == "/admin/forms/parking-permit/builder"
    offered = [o for o in status["options"] if o["allowed"]]
    assert len(offered) == 1 and offered[0]["title"] == "提交审批"
    assert _post(admin, SAVE, {"definition": permit()}, token).status_code == 409     # exists already

    changed = permit()
    changed["schema"]["properties"]["plate"]["title"] = "车牌号码"
    r = _post(admin, SAVE, {"definition": changed, "key": "parking-permit", "version": 1, "revision": 0},
              token)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["revision"] == 1 and r.get_json()["version"] == 1
    assert store.form_version("parking-permit", 1)["schema"]["properties"]["plate"]["title"] == "车牌号码"
    stale = _post(admin, SAVE, {"definition": permit(), "key": "parking-permit", "version": 1, "revision": 0},
                  token)
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "stale"
    assert store.form_version("parking-permit", 1)["revision"] == 1

    # the step the options offered, fired from the builder; then the version is in approval: no saving over it
    fire = "/admin/forms/parking-permit/versions/1/builder-action"
    assert _post(admin, fire, {"trigger": "no-such-step", "revision": 1}, token).status_code == 400
    r = _post(admin, fire, {"trigger": offered[0]["trigger"], "revision": 1}, token)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "pending_review" and r.get_json()["open"] is True
    r = _post(admin, SAVE, {"definition": changed, "key": "parking-permit", "version": 1, "revision": 2},
              token)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "open_version"


def test_saving_after_a_published_version_makes_the_next_version(app: Any, admin: Any, staff: Any) -> None:
    publish(staff)
    token = _token(admin)
    second = copy.deepcopy(permit())
    second["schema"]["properties"]["note"] = {"type": "string", "title": "备注", "x-title-en": "Note"}
    stale = _post(admin, SAVE, {"definition": second, "key": "parking-permit", "version": 2, "revision": 3},
                  token)
    assert stale.status_code == 409                              # a page showing another version
    r = _post(admin, SAVE, {"definition": second, "key": "parking-permit", "version": 1, "revision": 3},
              token)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["version"] == 2 and r.get_json()["state"] == "draft"
    stored = app.extensions["counterflow"].store.form_version("parking-permit", 2)
    assert "note" in stored["schema"]["properties"]
    assert app.extensions["counterflow"].store.form_version("parking-permit", 1)["state"] == "published"


@pytest.mark.parametrize("path,body", [
    (SAVE, {"definition": {"key": "x"}, "key": 5}),
    (SAVE, {"definition": permit(), "key": "../etc"}),
    (SAVE, {"definition": permit(), "key": "no-such-form", "revision": 0}),
    (SAVE, {"definition": permit(), "key": {"$ne": None}}),
    (SAVE, {"definition": {**permit(), "key": {"$gt": ""}}}),
    (SAVE, {"definition": permit(key="parking-permit"), "key": "parking-permit", "revision": "abc"}),
    (SAVE, {"definition": permit(), "revision": 0, "surprise": 1}),
    (SAVE, {"definition": {**permit(), "schema": {"type": "object",
                                                  "properties": {"$where": {"type": "string"}}}}}),
    (SAVE, {"definition": permit(), "key": "parking-permit", "version": True, "revision": 3}),
    (SAVE, {"definition": permit(), "key": "parking-permit", "version": 1, "revision": True}),
    (SAVE, {"definition": permit(), "key": "parking-permit", "version": 1}),
    (SAVE, b"[]"),
    ("/admin/forms/parking-permit/versions/1/builder-action", {"trigger": {"$ne": ""}, "revision": 0}),
    ("/admin/forms/parking-permit/versions/1/builder-action", {"trigger": "", "revision": 0}),
    ("/admin/forms/parking-permit/versions/1/builder-action", {"trigger": "x", "opinion": ["a"]}),
    ("/admin/forms/parking-permit/versions/99/builder-action", {"trigger": "x", "revision": 0}),
    ("/admin/forms/no-such/versions/1/builder-action", {"trigger": "x", "revision": 0}),
])
def test_hostile_saves_and_steps_are_refused_and_write_nothing(module_app: Any, module_staff: Any,
                                                               module_admin: Any, path: str,
                                                               body: Any) -> None:
    client = module_admin
    token = _token(client)
    if module_app.extensions["counterflow"].store.latest_form_version("parking-permit") is None:
        publish(module_staff)
        token = _token(client)
    before = stored_documents(module_app)
    r = _post(client, path, body, token)
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    assert set(r.get_json()["error"]) >= {"code", "message"}
    assert stored_documents(module_app) == before
