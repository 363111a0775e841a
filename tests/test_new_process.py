"""An admin's own process, added as a YAML file: no code change, no template edit, and it works end to end."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import Api
from forms import permit, publish
from test_pages import csrf, sign_in

# four states, none of them a name the product ships: every behaviour comes from the flags
SITE_VISIT = """\
key: site_visit
title: {zh-CN: 现场核查, en: Site visit}
initial: requested
states:
  - {name: requested, title: {zh-CN: 待提交, en: Requested}, editable: true}
  - {name: scheduled, title: {zh-CN: 待核查, en: Scheduled}, deadline: {working_days: 2}}
  - {name: inspected, title: {zh-CN: 已核查, en: Inspected}}
  - {name: closed, title: {zh-CN: 已办结, en: Closed}, final: true}
transitions:
  - trigger: lodge
    title: {zh-CN: 提交核查, en: Lodge}
    source: requested
    dest: scheduled
    roles: [clerk]
    guards: [materials_complete]
    with_data: true
  - trigger: inspect
    title: {zh-CN: 核查完毕, en: Inspected}
    source: scheduled
    dest: inspected
    roles: [reviewer]
    asks: [opinion]
  - trigger: sign_off
    title: {zh-CN: 办结, en: Sign off}
    source: inspected
    dest: closed
    roles: [dept_head]
    requires: [opinion]
  - trigger: revisit
    title: {zh-CN: 重新核查, en: Visit again}
    source: inspected
    dest: scheduled
    roles: [dept_head]
    requires: [opinion]
"""


@pytest.fixture
def world(tmp_path: Path, config: dict[str, Any]) -> Iterator[tuple[Any, Api]]:
    from counterflow.host import create_app

    folder = tmp_path / "my-workflows"
    folder.mkdir()
    (folder / "site_visit.yaml").write_text(SITE_VISIT, "utf-8")
    app = create_app({**config, "COUNTERFLOW_WORKFLOWS_DIR": str(folder)})
    api = Api(app.test_client())
    from conftest import ADMIN_PASSWORD

    api.login("admin", ADMIN_PASSWORD)
    for name, roles in (("clerk", ["clerk"]), ("reviewer", ["reviewer"]), ("head", ["dept_head"]),
                        ("boss", ["manager"])):
        api.add_user(name, roles)
    form = permit(key="site-check", settings={**permit()["settings"], "processes": ["site_visit"]})
    del form["schema"]["properties"]["licence_copy"]              # no material to upload in this walk
    publish(api, form)
    yield app, api
    state = app.extensions["counterflow"]
    state.store.db.client.drop_database(state.store.db.name)
    state.close()


def _page(client: Any, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.get_data(as_text=True)


def test_a_process_added_as_a_yaml_file_walks_through_the_api_and_the_record_page(
        world: tuple[Any, Api]) -> None:
    app, api = world
    # the API: a draft in the new process's first state
    r = api.post("/api/v1/records", "clerk", json={"form": "site-check", "data": {"applicant": "张三"}})
    assert r.status_code == 201, r.get_json()
    record = r.get_json()
    assert (record["process"], record["state"]) == ("site_visit", "requested")

    # the record page: 'requested' is editable, so the clerk gets the form and its with_data trigger
    clerk = app.test_client()
    sign_in(clerk, "clerk")
    page = _page(clerk, f"/records/{record['id']}")
    assert 'name="_action" value="lodge"' in page and "提交核查" in page
    fields = {"csrf_token": csrf(clerk.get(f"/records/{record['id']}")), "revision": "0", "_action": "lodge",
              "applicant": "张三", "id_number": "110105199001011234", "phone": "13812345678",
              "plate": "京A12345", "months": "6"}
    refused = clerk.post(f"/records/{record['id']}", data=dict(fields, plate=""))
    # saved, then refused
    assert refused.status_code == 303 and "refused=lodge" in refused.headers["Location"]
    fields["revision"] = str(api.get(f"/api/v1/records/{record['id']}", "clerk").get_json()["revision"])
    r = clerk.post(f"/records/{record['id']}", data=fields)
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:500]
    record = api.get(f"/api/v1/records/{record['id']}", "clerk").get_json()
    assert record["state"] == "scheduled"

    # the API: the reviewer's trigger asks for an optional opinion and fires without one
    options = api.get(f"/api/v1/records/{record['id']}/transitions", "reviewer").get_json()["items"]
    inspect = next(o for o in options if o["trigger"] == "inspect")
    assert inspect["allowed"] and inspect["asks"] == ["opinion"] and inspect["requires"] == []
    r = api.post(f"/api/v1/records/{record['id']}/transitions/inspect", "reviewer",
                 json={"revision": record["revision"]})
    assert r.status_code == 200, r.get_json()
    record = r.get_json()

    # the record page again: the department head's triggers, the required opinion, then the final state
    head = app.test_client()
    sign_in(head, "head")
    page = _page(head, f"/records/{record['id']}")
    assert 'value="sign_off"' in page and 'value="revisit"' in page and 'name="opinion"' in page
    token = csrf(head.get(f"/records/{record['id']}"))
    missing = head.post(f"/records/{record['id']}",
                        data={"csrf_token": token, "revision": str(record["revision"]),
                              "_action": "sign_off"})
    assert missing.status_code == 422 and "意见" in missing.get_data(as_text=True)
    done = head.post(f"/records/{record['id']}",
                     data={"csrf_token": token, "revision": str(record["revision"]),
                           "_action": "sign_off", "opinion": "核查属实"})
    assert done.status_code in (302, 303)
    record = api.get(f"/api/v1/records/{record['id']}", "clerk").get_json()
    assert (record["process"], record["state"]) == ("site_visit", "closed")
    page = _page(head, f"/records/{record['id']}")
    assert "已办结" in page and 'name="_action"' not in page            # final: nothing left to fire

    # the history names every step, with the opinion given
    history = api.get(f"/api/v1/records/{record['id']}/history", "clerk").get_json()["items"]
    done_steps = [e["trigger"] for e in history if e.get("outcome", "done") == "done"]
    assert done_steps[-3:] == ["lodge", "inspect", "sign_off"]
    assert any(e.get("opinion") == "核查属实" for e in history)

    # a final state is read only unless the definition says otherwise
    r = api.patch(f"/api/v1/records/{record['id']}", "clerk",
                  json={"revision": record["revision"], "data": {"plate": "京B12345"}, "reason": "x"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "read_only"


def test_a_workflow_file_with_a_mistake_stops_start_up_naming_file_place_and_fix(
        tmp_path: Path, config: dict[str, Any]) -> None:
    from counterflow.core.errors import DefinitionError
    from counterflow.host import create_app

    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "site_visit.yaml").write_text(SITE_VISIT.replace("dest: closed", "dest: gone"), "utf-8")
    with pytest.raises(DefinitionError) as caught:
        create_app({**config, "COUNTERFLOW_WORKFLOWS_DIR": str(folder)})
    assert re.search(r"site_visit\.yaml: /transitions/2: "
                     r"transition 'sign_off' goes to unknown state 'gone'; fix:",
                     str(caught.value))


def test_a_form_must_start_with_a_process_whose_first_state_is_an_editable_draft() -> None:
    import yaml

    from counterflow.core.definitions import check_processes

    site_visit = yaml.safe_load(SITE_VISIT)
    not_a_draft = yaml.safe_load(SITE_VISIT.replace(", editable: true}", "}"))
    form = permit(settings={**permit()["settings"], "processes": ["site_visit"]})
    assert check_processes(form, {"site_visit": site_visit}, "f.json") == []
    problems = check_processes(form, {"site_visit": not_a_draft}, "f.json")
    assert len(problems) == 1
    assert problems[0].startswith("f.json: /settings/processes/0: a record starts as a draft")
    assert "fix: begin with a process whose initial state says 'editable: true'" in problems[0]
