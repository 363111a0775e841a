"""The form-definition lifecycle through the REST API: draft, edit, approval, publication, new versions.

Tests whose requests are all refused take `shared_staff` (one app for the module, checked after each test
to be exactly as before); the others build an app of their own.
"""
from __future__ import annotations

import copy
from typing import Any

import pytest

from conftest import Api

KEY = "visit-note"


def definition(key: str = KEY, **overrides: Any) -> dict[str, Any]:
    base = {
        "key": key,
        "title": {"zh-CN": "来访登记", "en": "Visit note"},
        "description": {"zh-CN": "登记来访人和事由", "en": "Who visited and why"},
        "schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["visitor"],
            "properties": {
                "visitor": {"type": "string", "minLength": 1, "maxLength": 50, "title": "来访人"},
                "purpose": {"type": "string", "maxLength": 200, "title": "事由"},
            },
        },
        "ui_schema": {"ui:order": ["visitor", "purpose"], "purpose": {"ui:widget": "textarea"}},
        "settings": {"processes": ["intake", "review", "archive", "destroy"],
                     "numbering": "VIS-{yyyy}{mm}{dd}-{seq:04d}", "time_limit": {"working_days": 3}},
    }
    base.update(overrides)
    return base


def error_of(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    text = r.get_data(as_text=True)
    assert r.status_code == status, (r.status_code, text)
    assert r.mimetype == "application/json"
    assert "Traceback" not in text and 'File "' not in text
    body = r.get_json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def version_path(key: str = KEY, v: int = 1) -> str:
    return f"/api/v1/forms/{key}/versions/{v}"


def fire(api: Api, who: str, trigger: str, key: str = KEY, v: int = 1, **payload: Any) -> Any:
    if "revision" not in payload:
        payload["revision"] = api.get(version_path(key, v), "admin").get_json()["revision"]
    return api.post(f"{version_path(key, v)}/transitions/{trigger}", who, json=payload)


def transition_options(api: Api, who: str) -> dict[str, Any]:
    """The triggers of version 1 as `who` sees them, by name."""
    return {o["trigger"]: o for o in api.get(f"{version_path()}/transitions", who).get_json()["items"]}


def publish(api: Api, key: str = KEY, v: int = 1) -> dict[str, Any]:
    for who, trigger in (("admin", "submit"), ("head", "review"), ("boss", "approve")):
        r = fire(api, who, trigger, key, v, opinion=f"{trigger} ok")
        assert r.status_code == 200, r.get_json()
    return r.get_json()


def create(api: Api, who: str = "admin", **overrides: Any) -> Any:
    return api.post("/api/v1/forms", who, json=definition(**overrides))


# -- drafts ------------------------------------------------------------------------------------------------

def test_admin_creates_a_draft(staff: Api) -> None:
    r = create(staff)
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    assert doc["key"] == KEY and doc["state"] == "draft" and doc["version"] == 1 and doc["revision"] == 0
    assert doc["title"] == definition()["title"] and doc["schema"] == definition()["schema"]
    assert doc["ui_schema"] == definition()["ui_schema"] and doc["settings"] == definition()["settings"]
    admin_id = staff.get("/api/v1/me", "admin").get_json()["id"]
    assert doc["author"] == admin_id
    again = staff.get(version_path(), "admin")
    assert again.status_code == 200 and again.get_json()["state"] == "draft"


def test_second_create_of_the_same_key_is_409(staff: Api) -> None:
    assert create(staff).status_code == 201
    error_of(create(staff), 409, "form_exists")


def test_drafts_are_not_listed_nor_usable(staff: Api, app: Any) -> None:
    assert create(staff).status_code == 201
    keys = [f["key"] for f in staff.get("/api/v1/forms", "clerk").get_json()["items"]]
    assert KEY not in keys and "account-change" in keys
    error_of(staff.get(f"/api/v1/forms/{KEY}", "clerk"), 404, "form_not_found")
    before = app.extensions["counterflow"].store.records.count_documents({})
    r = staff.post("/api/v1/records", "clerk", json={"form": KEY, "data": {"visitor": "王五"}})
    err = error_of(r, 404, "form_not_found")
    assert KEY in err["message"]
    assert app.extensions["counterflow"].store.records.count_documents({}) == before


def test_staff_cannot_read_draft_versions(staff: Api) -> None:
    assert create(staff).status_code == 201
    error_of(staff.get(version_path(), "clerk"), 403, "role")
    assert staff.get(version_path(), "head").status_code == 200
    assert staff.get(version_path(), "boss").status_code == 200


def test_edit_a_draft_with_the_right_revision(staff: Api) -> None:
    assert create(staff).status_code == 201
    new_title = {"zh-CN": "来访登记表", "en": "Visit register"}
    r = staff.put(version_path(), "admin", json={"revision": 0, "title": new_title, "reason": "rename"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["revision"] == 1 and r.get_json()["title"] == new_title
    assert r.get_json()["schema"] == definition()["schema"]          # untouched parts stay
    schema = copy.deepcopy(definition()["schema"])
    schema["properties"]["phone"] = {"type": "string", "maxLength": 20}
    r = staff.put(version_path(), "admin", json={"revision": 1, "schema": schema})
    assert r.status_code == 200 and r.get_json()["revision"] == 2
    assert "phone" in r.get_json()["schema"]["properties"] and r.get_json()["title"] == new_title
    stored = staff.get(version_path(), "admin").get_json()
    assert stored["revision"] == 2 and stored["state"] == "draft" and stored["title"] == new_title


def test_edit_with_a_stale_revision_is_409(staff: Api) -> None:
    assert create(staff).status_code == 201
    assert staff.put(version_path(), "admin",
                     json={"revision": 0, "title": {"zh-CN": "甲", "en": "A"}}).status_code == 200
    err = error_of(staff.put(version_path(), "admin",
                             json={"revision": 0, "title": {"zh-CN": "乙", "en": "B"}}),
                   409, "stale")
    assert err["message"]
    assert staff.get(version_path(), "admin").get_json()["title"] == {"zh-CN": "甲", "en": "A"}
    error_of(staff.put(version_path(), "admin", json={"title": {"zh-CN": "乙", "en": "B"}}), 422)
    error_of(staff.put(version_path(), "admin", json={"revision": "1", "title": {"zh-CN": "乙", "en": "B"}}),
             422)


def test_only_admin_edits_drafts(staff: Api) -> None:
    assert create(staff).status_code == 201
    for who in ("clerk", "head", "boss"):
        error_of(staff.put(version_path(), who, json={"revision": 0, "title": {"zh-CN": "甲", "en": "A"}}),
                 403, "role")
    assert staff.get(version_path(), "admin").get_json()["revision"] == 0


def test_unknown_form_or_version_is_404(shared_staff: Api) -> None:
    staff = shared_staff
    error_of(staff.get(version_path("no-such-form"), "admin"), 404)
    error_of(staff.get(version_path("account-change", 99), "admin"), 404)
    error_of(staff.put(version_path("no-such-form"), "admin", json={"revision": 0}), 404)
    error_of(staff.post("/api/v1/forms/no-such-form/versions", "admin"), 404, "form_not_found")
    error_of(staff.post(f"{version_path('no-such-form')}/transitions/submit", "admin", json={"revision": 0}),
             404)


# -- invalid definitions ------------------------------------------------------------------------------------

def _bad_field_name() -> dict[str, Any]:
    d = definition()
    d["schema"]["properties"]["bad.name"] = {"type": "string"}
    d["schema"]["properties"]["$where"] = {"type": "string"}
    return d


def _paths(err: dict[str, Any]) -> str:
    return "\n".join(f"{d['path']} {d['message']}" for d in err["details"])


@pytest.mark.parametrize("make, expect", [
    (_bad_field_name, ["bad.name", "$where"]),
    (lambda: definition(settings={**definition()["settings"], "numbering": "VIS-{yyyy}"}),
     ["/settings/numbering"]),
    (lambda: definition(settings={**definition()["settings"], "processes": ["review", "intake"]}),
     ["/settings/processes"]),
    (lambda: definition(settings={**definition()["settings"], "processes": ["intake", "teleport"]}),
     ["teleport"]),
    (lambda: definition(settings={**definition()["settings"], "processes": ["intake", "form_approval"]}),
     ["form_approval"]),
    (lambda: definition(key="Bad Key"), ["/key"]),
    (lambda: definition(schema={"type": "array"}), ["/schema"]),
])
def test_invalid_definition_is_422(shared_staff: Api, make: Any, expect: list[str]) -> None:
    staff = shared_staff
    app = staff.client.application
    r = staff.post("/api/v1/forms", "admin", json=make())
    err = error_of(r, 422)
    text = _paths(err)
    for needle in expect:
        assert needle in text, text
    assert all({"path", "code", "message"} <= set(d) for d in err["details"])
    assert app.extensions["counterflow"].store.forms.count_documents({"key": KEY}) == 0


def test_invalid_definition_lists_every_problem_at_once(shared_staff: Api) -> None:
    staff = shared_staff
    d = _bad_field_name()
    d["settings"] = {**d["settings"], "numbering": "VIS-{yyyy}", "processes": ["review", "archive"]}
    err = error_of(staff.post("/api/v1/forms", "admin", json=d), 422, "invalid_definition")
    text = _paths(err)
    for needle in ("bad.name", "$where", "/settings/numbering", "/settings/processes"):
        assert needle in text, text
    assert len(err["details"]) >= 4


def test_unknown_process_is_listed_with_other_problems(shared_staff: Api) -> None:
    staff = shared_staff
    d = _bad_field_name()
    d["settings"] = {**d["settings"], "processes": ["intake", "teleport"]}
    err = error_of(staff.post("/api/v1/forms", "admin", json=d), 422, "invalid_definition")
    text = _paths(err)
    assert "bad.name" in text and "teleport" in text, text


def test_invalid_edit_is_422_and_changes_nothing(staff: Api) -> None:
    assert create(staff).status_code == 201
    bad = _bad_field_name()["schema"]
    err = error_of(staff.put(version_path(), "admin", json={"revision": 0, "schema": bad,
                                                            "settings": {"processes": ["archive"]}}), 422)
    text = _paths(err)
    assert "bad.name" in text and "/settings" in text
    doc = staff.get(version_path(), "admin").get_json()
    assert doc["revision"] == 0 and doc["schema"] == definition()["schema"]


# -- approval ------------------------------------------------------------------------------------------------

def test_approval_path_to_published(staff: Api) -> None:
    assert create(staff).status_code == 201
    r = fire(staff, "admin", "submit", opinion="请审核")
    assert r.status_code == 200
    assert r.get_json()["state"] == "pending_review" and r.get_json()["revision"] == 1
    error_of(fire(staff, "clerk", "review"), 403, "role")
    error_of(fire(staff, "boss", "approve"), 409, "wrong_state")
    r = fire(staff, "head", "review", opinion="字段齐全")
    assert r.status_code == 200 and r.get_json()["state"] == "pending_approval"
    error_of(fire(staff, "head", "approve"), 403, "role")
    error_of(fire(staff, "admin", "approve"), 403, "role")
    r = fire(staff, "boss", "approve", opinion="同意发布")
    assert r.status_code == 200, r.get_json()
    doc = r.get_json()
    assert doc["state"] == "published" and doc["published_at"] and doc["revision"] == 3
    keys = [f["key"] for f in staff.get("/api/v1/forms", "clerk").get_json()["items"]]
    assert KEY in keys
    got = staff.get(f"/api/v1/forms/{KEY}", "clerk")
    assert got.status_code == 200
    assert got.get_json()["version"] == 1 and got.get_json()["state"] == "published"
    rec = staff.post("/api/v1/records", "clerk", json={"form": KEY, "data": {"visitor": "王五"}})
    assert rec.status_code == 201, rec.get_json()
    assert rec.get_json()["form_version"] == 1


def test_history_names_actors_and_opinions(staff: Api) -> None:
    assert create(staff).status_code == 201
    publish(staff)
    r = staff.get(f"{version_path()}/history", "admin")
    assert r.status_code == 200
    events = [e for e in r.get_json()["items"] if e["trigger"] != "edit"]
    assert [e["trigger"] for e in events] == ["submit", "review", "approve"]
    assert [e["actor"]["username"] for e in events] == ["admin", "head", "boss"]
    assert [e["opinion"] for e in events] == ["submit ok", "review ok", "approve ok"]
    assert [(e["from"], e["to"]) for e in events] == [("draft", "pending_review"),
                                                      ("pending_review", "pending_approval"),
                                                      ("pending_approval", "published")]
    assert all(e["at"] and e["id"] for e in events)
    assert "password" not in r.get_data(as_text=True)


def test_the_author_may_not_review_or_approve(staff: Api) -> None:
    staff.add_user("author", ["admin", "dept_head", "manager"])
    assert create(staff, "author").status_code == 201
    author_id = staff.get("/api/v1/me", "author").get_json()["id"]
    assert staff.get(version_path(), "admin").get_json()["author"] == author_id
    assert fire(staff, "author", "submit").status_code == 200
    options = transition_options(staff, "author")
    assert options["review"]["allowed"] is False
    # the author is one of the parts the workflow separates (separate_from: [author, ...])
    assert [x["code"] for x in options["review"]["reasons"]] == ["separation_of_duties"]
    err = error_of(fire(staff, "author", "review", opinion="自审"), 422, "guard_failed")
    assert [d["code"] for d in err["details"]] == ["separation_of_duties"]
    assert staff.get(version_path(), "admin").get_json()["state"] == "pending_review"
    assert fire(staff, "head", "review").status_code == 200
    err = error_of(fire(staff, "author", "approve", opinion="自批"), 422, "guard_failed")
    assert "separation_of_duties" in [d["code"] for d in err["details"]]
    err = error_of(fire(staff, "author", "reject"), 422, "guard_failed")
    assert {d["code"] for d in err["details"]} == {"required", "separation_of_duties"}
    assert staff.get(version_path(), "admin").get_json()["state"] == "pending_approval"
    assert fire(staff, "boss", "approve").get_json()["state"] == "published"


@pytest.mark.parametrize("stage", ["pending_review", "pending_approval"])
def test_reject_needs_an_opinion_and_returns_to_draft(staff: Api, stage: str) -> None:
    assert create(staff).status_code == 201
    assert fire(staff, "admin", "submit").status_code == 200
    who = "head"
    if stage == "pending_approval":
        assert fire(staff, "head", "review").status_code == 200
        who = "boss"
    payloads: list[dict[str, Any]] = [{}, {"opinion": ""}, {"opinion": "   "}]
    for payload in payloads:
        err = error_of(fire(staff, who, "reject", **payload), 422, "guard_failed")
        assert [d["path"] for d in err["details"]] == ["/opinion"]
    assert staff.get(version_path(), "admin").get_json()["state"] == stage
    r = fire(staff, who, "reject", opinion="标题不清楚")
    assert r.status_code == 200 and r.get_json()["state"] == "draft"
    # back in draft it can be edited and submitted again
    doc = staff.get(version_path(), "admin").get_json()
    r = staff.put(version_path(), "admin",
                  json={"revision": doc["revision"], "title": {"zh-CN": "来访", "en": "Visit"}})
    assert r.status_code == 200
    assert fire(staff, "admin", "submit").get_json()["state"] == "pending_review"
    history = staff.get(f"{version_path()}/history", "admin").get_json()["items"]
    assert any(e["trigger"] == "reject" and e["opinion"] == "标题不清楚" for e in history)


def test_transitions_list_allowed_and_blocked_triggers(staff: Api) -> None:
    assert create(staff).status_code == 201
    items = staff.get(f"{version_path()}/transitions", "admin").get_json()["items"]
    assert [(o["trigger"], o["allowed"]) for o in items] == [("submit", True)]
    items = staff.get(f"{version_path()}/transitions", "head").get_json()["items"]
    assert items[0]["allowed"] is False and items[0]["reasons"][0]["code"] == "role"
    assert fire(staff, "admin", "submit").status_code == 200
    options = transition_options(staff, "head")
    assert set(options) == {"review", "reject"}
    assert options["review"]["allowed"] is True and options["reject"]["allowed"] is True
    assert options["reject"]["requires"] == ["opinion"]
    options = transition_options(staff, "admin")
    assert options["review"]["allowed"] is False
    assert options["review"]["reasons"] and all(x["message"] for x in options["review"]["reasons"])


def test_transition_errors(staff: Api) -> None:
    assert create(staff).status_code == 201
    error_of(fire(staff, "admin", "teleport"), 404, "unknown_trigger")
    error_of(fire(staff, "admin", "approve"), 409, "wrong_state")
    error_of(fire(staff, "admin", "submit", revision=5), 409, "stale")
    error_of(staff.post(f"{version_path()}/transitions/submit", "admin", json={}), 422)
    assert staff.get(version_path(), "admin").get_json()["state"] == "draft"


# -- published versions and new versions ---------------------------------------------------------------------

def test_published_version_never_changes(staff: Api) -> None:
    assert create(staff).status_code == 201
    doc = publish(staff)
    err = error_of(staff.put(version_path(), "admin", json={"revision": doc["revision"],
                                                            "title": {"zh-CN": "改", "en": "Changed"}}),
                   409, "not_draft")
    assert err["message"]
    err = error_of(staff.put(version_path("account-change"), "admin", json={"revision": 0}), 409, "not_draft")
    assert staff.get(version_path(), "admin").get_json()["title"] == definition()["title"]


def test_new_version_copies_the_latest_and_replaces_it_when_published(staff: Api) -> None:
    assert create(staff).status_code == 201
    publish(staff)
    rec = staff.post("/api/v1/records", "clerk", json={"form": KEY, "data": {"visitor": "王五"}})
    assert rec.status_code == 201
    rec_id = rec.get_json()["id"]

    r = staff.post(f"/api/v1/forms/{KEY}/versions", "admin")
    assert r.status_code == 201, r.get_json()
    v2 = r.get_json()
    assert v2["version"] == 2 and v2["state"] == "draft" and v2["revision"] == 0
    v1 = staff.get(version_path(), "admin").get_json()
    for part in ("title", "schema", "ui_schema", "settings"):
        assert v2[part] == v1[part]
    assert staff.get(f"/api/v1/forms/{KEY}", "clerk").get_json()["version"] == 1

    schema = copy.deepcopy(v1["schema"])
    schema["properties"]["company"] = {"type": "string", "maxLength": 100}
    r = staff.put(version_path(KEY, 2), "admin",
                  json={"revision": 0, "schema": schema, "reason": "add company"})
    assert r.status_code == 200
    assert "company" not in staff.get(version_path(), "admin").get_json()["schema"]["properties"]
    publish(staff, KEY, 2)

    current = staff.get(f"/api/v1/forms/{KEY}", "clerk").get_json()
    assert current["version"] == 2 and "company" in current["schema"]["properties"]
    listed = [f for f in staff.get("/api/v1/forms", "clerk").get_json()["items"] if f["key"] == KEY]
    assert [f["version"] for f in listed] == [2]
    old = staff.get(f"/api/v1/records/{rec_id}", "clerk").get_json()
    assert old["form_version"] == 1
    new = staff.post("/api/v1/records", "clerk",
                     json={"form": KEY, "data": {"visitor": "赵六", "company": "甲公司"}})
    assert new.status_code == 201 and new.get_json()["form_version"] == 2
    # the old record still follows its own version: v2's field is unknown to it
    r = staff.patch(f"/api/v1/records/{rec_id}", "clerk",
                    json={"revision": old["revision"], "data": {"visitor": "王五", "company": "甲公司"}})
    err = error_of(r, 422, "invalid_data")
    assert any("company" in d["path"] for d in err["details"])


def test_new_version_with_changes_in_the_body(staff: Api) -> None:
    assert create(staff).status_code == 201
    publish(staff)
    title = {"zh-CN": "来访登记（新）", "en": "Visit note (new)"}
    r = staff.post(f"/api/v1/forms/{KEY}/versions", "admin", json={"title": title})
    assert r.status_code == 201 and r.get_json()["title"] == title and r.get_json()["version"] == 2
    error_of(staff.post(f"/api/v1/forms/{KEY}/versions", "admin", json={"key": "other"}), 422,
             "invalid_request")
    error_of(staff.post(f"/api/v1/forms/{KEY}/versions", "clerk"), 403, "role")


def test_form_without_description_can_be_edited_and_versioned(staff: Api) -> None:
    d = definition()
    del d["description"]
    assert staff.post("/api/v1/forms", "admin", json=d).status_code == 201
    r = staff.put(version_path(), "admin", json={"revision": 0, "title": {"zh-CN": "来访", "en": "Visit"}})
    assert r.status_code == 200, r.get_json()
    publish(staff)
    r = staff.post(f"/api/v1/forms/{KEY}/versions", "admin")
    assert r.status_code == 201, r.get_json()


def test_retire_needs_an_opinion(staff: Api) -> None:
    assert create(staff).status_code == 201
    publish(staff)
    error_of(fire(staff, "admin", "retire"), 422, "guard_failed")
    error_of(fire(staff, "boss", "retire", opinion="停用"), 403, "role")
    r = fire(staff, "admin", "retire", opinion="业务取消")
    assert r.status_code == 200 and r.get_json()["state"] == "retired"
