"""Processes added and changed through the API: checked at upload, approved by others, pinned by forms."""
from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import yaml

from conftest import Api
from forms import COMPLETE, permit, publish

# three states, none of them a name the product ships: the behaviour comes from the flags alone
PERMIT_CHECK = """\
key: permit_check
title: {zh-CN: 许可核查, en: Permit check}
initial: lodged
states:
  - {name: lodged, title: {zh-CN: 待提交, en: Lodged}, editable: true}
  - {name: vetting, title: {zh-CN: 核查中, en: Vetting}, deadline: {working_days: 3}}
  - {name: settled, title: {zh-CN: 已办结, en: Settled}, final: true, ends_record: true}
transitions:
  - trigger: hand_in
    title: {zh-CN: 提交核查, en: Hand in}
    source: lodged
    dest: vetting
    roles: [clerk]
  - trigger: settle
    title: {zh-CN: 核查办结, en: Settle}
    source: vetting
    dest: settled
    roles: [reviewer]
    requires: [opinion]
"""
YAML = {"Content-Type": "application/yaml"}
BASE = "/api/v1/workflows"


def _upload(api: Api, text: str = PERMIT_CHECK, who: str = "admin") -> Any:
    return api.post(BASE, who, data=text.encode("utf-8"), headers=dict(YAML))


def _approve(api: Api, key: str, version: int, author: str = "admin") -> dict[str, Any]:
    doc = api.get(f"{BASE}/{key}/versions/{version}", author).get_json()
    for trigger, who in (("submit", author), ("review", "head"), ("approve", "boss")):
        r = api.post(f"{BASE}/{key}/versions/{version}/transitions/{trigger}", who,
                     json={"revision": doc["revision"], "opinion": "同意"})
        assert r.status_code == 200, (trigger, r.get_json())
        doc = r.get_json()
    return doc


def _form(key: str) -> dict[str, Any]:
    form = permit(key=key, settings={**permit()["settings"], "processes": ["permit_check"]})
    del form["schema"]["properties"]["licence_copy"]
    return form


def test_a_process_uploaded_and_approved_through_the_api_drives_a_new_form_end_to_end(staff: Api) -> None:
    api = staff
    r = _upload(api)
    assert r.status_code == 201, r.get_json()
    draft = r.get_json()
    assert (draft["key"], draft["version"], draft["in_use"]) == ("permit_check", 1, False)
    assert draft["state_title"]["en"] and draft["definition"]["initial"] == "lodged"

    # a draft never runs: a form naming it is refused
    r = api.post("/api/v1/forms", "admin", json=_form("check-form"))
    assert r.status_code == 422 and "permit_check" in json.dumps(r.get_json(), ensure_ascii=False)

    approved = _approve(api, "permit_check", 1)
    assert approved["in_use"] and approved["published_at"]
    listed = {w["key"]: w for w in api.get(BASE, "admin").get_json()["items"]}
    assert listed["permit_check"]["in_use_version"] == 1
    assert listed["form_approval"]["subject"] == ["form_version", "workflow_version"]

    # a form naming it is published, and pins the approved version
    form = publish(api, _form("check-form"))
    assert form["workflows"] == {"permit_check": 1}

    r = api.post("/api/v1/records", "clerk", json={"form": "check-form", "data": COMPLETE})
    assert r.status_code == 201, r.get_json()
    record = r.get_json()
    assert (record["process"], record["state"], record["workflows"]) == ("permit_check", "lodged",
                                                                         {"permit_check": 1})
    r = api.post(f"/api/v1/records/{record['id']}/transitions/hand_in", "clerk",
                 json={"revision": record["revision"]})
    assert r.status_code == 200, r.get_json()
    record = r.get_json()
    r = api.post(f"/api/v1/records/{record['id']}/transitions/settle", "reviewer",
                 json={"revision": record["revision"]})
    assert r.status_code == 422                                   # the definition requires an opinion
    r = api.post(f"/api/v1/records/{record['id']}/transitions/settle", "reviewer",
                 json={"revision": record["revision"], "opinion": "核查属实"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "settled" and r.get_json()["state_title"] == "已办结"

    # version 2: a draft beside the running version 1; records keep theirs until a form pins the new one
    second = PERMIT_CHECK.replace("en: Vetting}", "en: Vetting}, clock: paused")
    r = api.post(f"{BASE}/permit_check/versions", "admin", data=second.encode(), headers=dict(YAML))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["version"] == 2
    r = api.post(f"{BASE}/permit_check/versions", "admin")        # one open version at a time
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "open_version"
    _approve(api, "permit_check", 2)
    r = api.post("/api/v1/records", "clerk", json={"form": "check-form", "data": COMPLETE})
    assert r.get_json()["workflows"] == {"permit_check": 1}       # the published form version pinned 1
    r = api.post("/api/v1/forms/check-form/versions", "admin", json={})
    assert r.status_code == 201, r.get_json()
    version = r.get_json()["version"]
    base = f"/api/v1/forms/check-form/versions/{version}/transitions"
    doc = r.get_json()
    for trigger, who in (("submit", "admin"), ("review", "head"), ("approve", "boss")):
        doc = api.post(f"{base}/{trigger}", who, json={"revision": doc["revision"]}).get_json()
    assert doc["workflows"] == {"permit_check": 2}
    r = api.post("/api/v1/records", "clerk", json={"form": "check-form", "data": COMPLETE})
    assert r.get_json()["workflows"] == {"permit_check": 2}

    history = api.get(f"{BASE}/permit_check/versions/1/history", "admin").get_json()["items"]
    done = [e["trigger"] for e in history if e.get("outcome", "done") == "done"]
    assert done == ["submit", "review", "approve"]


def test_the_author_of_a_process_may_not_review_or_approve_it(staff: Api) -> None:
    api = staff
    api.add_user("author", ["admin", "dept_head", "manager"])
    r = _upload(api, who="author")
    assert r.status_code == 201, r.get_json()
    doc = api.post(f"{BASE}/permit_check/versions/1/transitions/submit", "author",
                   json={"revision": 0}).get_json()
    r = api.post(f"{BASE}/permit_check/versions/1/transitions/review", "author",
                 json={"revision": doc["revision"]})
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["code"] == "guard_failed"
    # the head reviews; the head may not also approve, the author may not either; the manager may
    doc = api.post(f"{BASE}/permit_check/versions/1/transitions/review", "head",
                   json={"revision": doc["revision"]}).get_json()
    assert doc["state"] == "pending_approval"
    r = api.post(f"{BASE}/permit_check/versions/1/transitions/approve", "author",
                 json={"revision": doc["revision"]})
    assert r.status_code == 422
    options = api.get(f"{BASE}/permit_check/versions/1/transitions", "author").get_json()["items"]
    assert not next(o for o in options if o["trigger"] == "approve")["allowed"]
    r = api.post(f"{BASE}/permit_check/versions/1/transitions/approve", "boss",
                 json={"revision": doc["revision"]})
    assert r.status_code == 200 and r.get_json()["in_use"]


def test_every_problem_of_an_uploaded_definition_comes_back_at_once_with_its_place_and_fix(api: Api) -> None:
    broken = yaml.safe_load(PERMIT_CHECK)
    broken["transitions"][0]["dest"] = "nowhere"
    broken["transitions"][0]["guards"] = ["no_such_guard"]
    broken["transitions"][1]["actions"] = ["no_such_action"]
    broken["states"].append({"name": "lodged"})
    r = api.post(BASE, "admin", json=broken)
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error["code"] == "invalid_definition"
    messages = [d["message"] for d in error["details"]]
    assert len(messages) == 4, messages
    assert all(re.match(r"^/[a-z0-9/_]+: .+; fix: .+", m) for m in messages), messages
    assert {d["path"] for d in error["details"]} == {"/states/3", "/transitions/0", "/transitions/1"}
    assert any("no_such_guard" in m for m in messages) and any("nowhere" in m for m in messages)

    # the meta-schema: an unknown role and a missing field, both at once
    bad = yaml.safe_load(PERMIT_CHECK)
    bad["transitions"][0]["roles"] = ["janitor"]
    del bad["initial"]
    r = api.post(BASE, "admin", json=bad)
    assert r.status_code == 422 and len(r.get_json()["error"]["details"]) >= 2
    # a new process through the API moves records; approving definitions is the shipped process's work
    r = _upload(api, PERMIT_CHECK.replace("initial: lodged", "subject: form_version\ninitial: lodged"))
    assert r.status_code == 422 and "/subject" in {d["path"] for d in r.get_json()["error"]["details"]}


def test_hostile_or_malformed_uploads_are_refused_with_4xx(api: Api) -> None:
    r = api.post(BASE, "admin", data=b"key: a\nx: &a [1]\ny: *a\n", headers=dict(YAML))
    assert r.status_code == 400 and "anchors" in r.get_json()["error"]["message"]
    deep = "a:\n" + "".join("  " * i + "- \n" for i in range(1, 80))
    r = api.post(BASE, "admin", data=("[" * 200 + "]" * 200).encode(), headers={"Content-Type": "text/yaml"})
    assert r.status_code == 400, r.get_json()
    r = api.post(BASE, "admin", data=deep.encode(), headers=dict(YAML))
    assert r.status_code in (400, 422)
    r = api.post(BASE, "admin", data=b"{{{", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "malformed"
    r = api.post(BASE, "admin", data=PERMIT_CHECK.encode(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "content_type"
    r = api.post(BASE, "admin", data=b"\xff\xfe", headers=dict(YAML))
    assert r.status_code == 400
    r = api.post(BASE, "admin", json={"$ne": None})
    assert r.status_code == 422
    r = api.post(BASE, "admin", json=[1, 2])          # not an object: malformed, as every API body
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "malformed"
    # only an admin uploads
    api.add_user("clerk", ["clerk"])
    r = _upload(api, who="clerk")
    assert r.status_code == 403
    # an existing key: a new version, not a second process
    assert _upload(api).status_code == 201
    r = _upload(api)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "workflow_exists"


def test_only_a_draft_is_edited_and_only_with_the_revision_seen(staff: Api) -> None:
    api = staff
    doc = _upload(api).get_json()
    path = f"{BASE}/permit_check/versions/1"
    changed = PERMIT_CHECK.replace("en: Vetting}", "en: Checking}")
    assert api.put(path, "admin", data=changed.encode(), headers=dict(YAML)).status_code == 400  # no revision
    r = api.put(f"{path}?revision=7", "admin", data=changed.encode(), headers=dict(YAML))
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "stale"
    r = api.put(f"{path}?revision={doc['revision']}", "admin", data=changed.encode(), headers=dict(YAML))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["definition"]["states"][1]["title"]["en"] == "Checking"
    other = changed.replace("key: permit_check", "key: other_key")
    revision = r.get_json()["revision"]
    r = api.put(f"{path}?revision={revision}", "admin", data=other.encode(), headers=dict(YAML))
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["path"] == "/key"
    _approve(api, "permit_check", 1)
    doc = api.get(path, "admin").get_json()
    r = api.put(f"{path}?revision={doc['revision']}", "admin", data=changed.encode(), headers=dict(YAML))
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_draft"
    shipped = api.get(f"{BASE}/intake/versions/1", "admin").get_json()
    assert shipped["in_use"] and shipped["author"] == "counterflow"


def test_the_diagram_of_a_version_is_svg_with_every_admin_text_escaped(staff: Api) -> None:
    api = staff
    hostile = copy.deepcopy(yaml.safe_load(PERMIT_CHECK))
    hostile["states"][1]["title"] = {"zh-CN": "<script>alert(1)</script>", "en": "<script>alert(1)</script>"}
    hostile["transitions"][0]["title"] = {"zh-CN": "a & \"b\" <i>", "en": "a & \"b\" <i>"}
    assert api.post(BASE, "admin", json=hostile).status_code == 201
    r = api.get(f"{BASE}/permit_check/versions/1/diagram.svg", "admin")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    svg = r.get_data(as_text=True)
    assert "<script>" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    root = ET.fromstring(svg)
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "<script>alert(1)</script>" in texts
    assert any(t.startswith('a & "b" <i>') for t in texts)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = api.get(f"{BASE}/intake/versions/1/diagram.svg?lang=en", "clerk")
    assert r.status_code == 200
    states = {g.get("data-state") for g in ET.fromstring(r.get_data(as_text=True)).iter()
              if g.get("data-state")}
    intake = yaml.safe_load(api.get(f"{BASE}/intake/versions/1", "admin").get_data(as_text=True))
    assert states == {s["name"] for s in intake["definition"]["states"]}
    assert api.get(f"{BASE}/nothing/versions/1/diagram.svg", "admin").status_code == 404


def test_start_up_keeps_versions_approved_through_the_api_and_loads_a_changed_file_as_approved(
        tmp_path: Any, config: dict[str, Any]) -> None:
    from conftest import ADMIN_PASSWORD
    from counterflow.host import create_app

    folder = tmp_path / "my-workflows"
    folder.mkdir()
    (folder / "permit_check.yaml").write_text(PERMIT_CHECK, "utf-8")
    settings = {**config, "COUNTERFLOW_WORKFLOWS_DIR": str(folder)}
    first = create_app(settings)
    try:
        api = Api(first.test_client())
        api.login("admin", ADMIN_PASSWORD)
        api.add_user("head", ["dept_head"])
        api.add_user("boss", ["manager"])
        shipped = api.get(f"{BASE}/permit_check", "admin").get_json()
        assert shipped["in_use_version"] == 1 and shipped["versions"][0]["author"] == "counterflow"
        # an admin's version 2 through the API, approved
        second = PERMIT_CHECK.replace("en: Vetting}", "en: Vetting by the API}")
        r = api.post(f"{BASE}/permit_check/versions", "admin", data=second.encode(), headers=dict(YAML))
        assert r.status_code == 201, r.get_json()
        _approve(api, "permit_check", 2)
    finally:
        first.extensions["counterflow"].close()
    # the host starts again with the same file: the admin's approved version 2 stays the one in use
    again = create_app(settings)
    try:
        api = Api(again.test_client())
        api.login("admin", ADMIN_PASSWORD)
        found = api.get(f"{BASE}/permit_check", "admin").get_json()
        assert (found["in_use_version"], found["latest_version"]) == (2, 2)
    finally:
        again.extensions["counterflow"].close()
    # the file changes: it becomes version 3, in use at once (approved where it is written)
    (folder / "permit_check.yaml").write_text(PERMIT_CHECK.replace("en: Settled}", "en: Done}"), "utf-8")
    third = create_app(settings)
    try:
        api = Api(third.test_client())
        api.login("admin", ADMIN_PASSWORD)
        found = api.get(f"{BASE}/permit_check", "admin").get_json()
        assert (found["in_use_version"], found["latest_version"]) == (3, 3)
        assert found["versions"][2]["author"] == "counterflow" and found["versions"][2]["in_use"]
    finally:
        state = third.extensions["counterflow"]
        state.store.db.client.drop_database(state.store.db.name)
        state.close()
