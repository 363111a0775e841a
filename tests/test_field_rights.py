"""Per-step field rights (issue 8, item 2): while a record sits in an approval step whose `fields.editable`
names fields, the one holding the step may change exactly those fields (an approver correcting an amount),
through PATCH /api/v1/records/{id} and the record page, and nothing else (a bilingual 403 naming the field,
nothing written); the change is in the history as theirs, and the digest an opinion is bound to is then the
corrected data's. Whoever is not the step's keeps the rights they had. The process is an admin's YAML file."""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import Api, add_staff, running_app, signed_in, stored_record
from counterflow.core.approval import data_digest
from forms import COMPLETE, permit, publish
from test_pages import csrf, sign_in

CHECK = """\
key: amount_check
title: {zh-CN: 金额核定, en: Amount check}
initial: pending
states:
  - {name: pending, title: {zh-CN: 待核定, en: Pending}}
  - name: check
    title: {zh-CN: 核定, en: Check}
    approval:
      mode: sequence
      approvers: [{users: [a1, a2]}]
      approve: pass
      reject: fail
      opinion: optional
      fields: {editable: [/amount], hidden: [/id_number]}
  - {name: done, title: {zh-CN: 通过, en: Done}, final: true}
  - {name: refused, title: {zh-CN: 不通过, en: Refused}, final: true}
transitions:
  - {trigger: to_check, source: pending, dest: check, roles: [dept_head]}
  - {trigger: pass, source: check, dest: done, roles: [reviewer, manager]}
  - {trigger: fail, source: check, dest: refused, roles: [reviewer, manager]}
"""
PEOPLE = (("a1", ["manager"], "board"), ("a2", ["reviewer"], "counter-1"))


@contextmanager
def step_world(tmp_path: Path, config: dict[str, Any], definition: str = CHECK) -> Iterator[tuple[Any, Api]]:
    """An app running `definition` (the admin's YAML) after intake for the `amount-permit` form, with its
    approvers: shared by every test of a record in an approval step."""
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "amount_check.yaml").write_text(definition, "utf-8")
    with running_app({**config, "COUNTERFLOW_WORKFLOWS_DIR": str(folder)}) as app:
        api = add_staff(signed_in(app.test_client()))
        for name, roles, department in PEOPLE:
            api.add_user(name, roles, department)
        settings = {**permit()["settings"], "processes": ["intake", "amount_check"]}
        form = permit(key="amount-permit", settings=settings)
        del form["schema"]["properties"]["licence_copy"]
        publish(api, form)
        yield app, api


@pytest.fixture
def world(tmp_path: Path, config: dict[str, Any]) -> Iterator[tuple[Any, Api]]:
    with step_world(tmp_path, config) as found:
        yield found


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def _in_step(api: Api) -> dict[str, Any]:
    r = api.post("/api/v1/records", "clerk", json={"form": "amount-permit", "data": dict(COMPLETE)})
    assert r.status_code == 201, r.get_json()
    record = r.get_json()
    for trigger, who in (("accept", "clerk"), ("to_check", "head")):
        record = _ok(api.post(f"/api/v1/records/{record['id']}/transitions/{trigger}", who,
                              json={"revision": record["revision"]}))
    assert record["state"] == "check"
    return record


def _patch(api: Api, record: dict[str, Any], who: str, query: str = "", **changed: Any) -> Any:
    return api.patch(f"/api/v1/records/{record['id']}{query}", who,
                     json={"revision": record["revision"], "data": dict(record["data"], **changed),
                           "reason": "核对发票后更正"})


def test_the_holder_corrects_the_amount_and_the_opinion_binds_to_it(world: Any) -> None:
    app, api = world
    record = _in_step(api)
    seen = _ok(api.get(f"/api/v1/records/{record['id']}", "a1"))        # the step hides the ID number
    assert "id_number" not in seen["data"] and seen["data"]["amount"] == 300
    old_digest = seen["data_digest"]
    corrected = _ok(_patch(api, seen, "a1", amount=280))
    assert corrected["data"]["amount"] == 280 and corrected["revision"] == seen["revision"] + 1
    stored = stored_record(app, record["id"])
    full = app.extensions["counterflow"].service.opened(stored)["data"]
    assert full["id_number"] == COMPLETE["id_number"]          # not shown, not sent: kept as it was
    event = api.get(f"/api/v1/records/{record['id']}/history", "head").get_json()["items"][-1]
    assert event["trigger"] == "correct" and event["actor"]["username"] == "a1"
    assert event["opinion"] == "核对发票后更正" and event["details"]["step"] == "check"
    assert [(c["path"], c["old"], c["new"]) for c in event["changes"]] == [("/amount", 300, 280)]
    # the opinion binds to the corrected data: the old digest is stale, the new one is the full data's
    now = _ok(api.get(f"/api/v1/records/{record['id']}", "a1"))
    assert now["data_digest"] != old_digest and now["data_digest"] == data_digest(full)
    r = api.post(f"/api/v1/records/{record['id']}/approval/approve", "a1",
                 json={"revision": now["revision"], "digest": old_digest})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "stale_data"
    voted = _ok(api.post(f"/api/v1/records/{record['id']}/approval/approve", "a1",
                         json={"revision": now["revision"], "digest": now["data_digest"]}))
    votes = stored_record(app, voted["id"])["approval"]["check"]["votes"]
    assert [v["digest"] for v in votes.values()] == [data_digest(full)]


def test_anything_else_is_a_bilingual_403_naming_the_field(world: Any) -> None:
    app, api = world
    record = _ok(api.get(f"/api/v1/records/{_in_step(api)['id']}", "a1"))
    before = stored_record(app, record["id"])
    r = _patch(api, record, "a1", plate="京B54321", amount=280)
    assert r.status_code == 403, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "field_not_editable" and [d["path"] for d in error["details"]] == ["/plate"]
    assert "/plate" in error["message"] and "/amount" in error["message"] and "不能修改" in error["message"]
    en = _patch(api, record, "a1", "?lang=en", plate="京B54321")
    assert en.status_code == 403 and "may not" in en.get_json()["error"]["message"]
    sent_hidden = _patch(api, record, "a1", id_number="110105199001019999")          # hidden: not theirs
    assert sent_hidden.status_code == 403
    assert "/id_number" in [d["path"] for d in sent_hidden.get_json()["error"]["details"]]
    after = stored_record(app, record["id"])
    assert after["revision"] == before["revision"] and after["data"] == before["data"]


def test_an_approver_who_does_not_hold_the_step_changes_nothing(world: Any) -> None:
    app, api = world
    record = _in_step(api)
    mine = _ok(api.get(f"/api/v1/records/{record['id']}", "a2"))          # as a2 reads it: no /id_number
    r = _patch(api, mine, "a2", amount=1)                  # a2 comes after a1 (in turn): not holding it now
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_holder"
    assert [d["path"] for d in r.get_json()["error"]["details"]] == ["/amount"]
    assert stored_record(app, record["id"])["revision"] == record["revision"]


def test_others_keep_the_rights_they_had(world: Any) -> None:
    _, api = world
    record = _in_step(api)
    corrected = _ok(_patch(api, record, "reviewer", plate="京B54321"))      # not the step's: a correction
    assert corrected["data"]["plate"] == "京B54321"
    assert _patch(api, corrected, "clerk", plate="京C00001").status_code == 200
    r = _patch(api, corrected, "boss", plate="京C00002")      # a manager who is not the step's: as before
    assert r.status_code == 403


def test_the_record_page_offers_the_holder_the_step_s_fields(world: Any) -> None:
    app, api = world
    record = _in_step(api)
    page_client = app.test_client()
    sign_in(page_client, "a1")
    page = page_client.get(f"/records/{record['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    form = re.search(r'<form[^>]*id="cf-step-fields".*?</form>', html, re.S)
    assert form, "the holder gets a form with the step's fields"
    assert 'name="amount"' in form.group(0) and 'name="plate"' not in form.group(0)
    assert 'name="reason"' in form.group(0)
    body = {"csrf_token": csrf(page), "_action": "_step_fields", "revision": str(record["revision"]),
            "amount": "260", "reason": ""}
    refused = page_client.post(f"/records/{record['id']}", data=body)           # the reason is required
    assert refused.status_code == 422 and 'id="cf-step-fields"' in refused.get_data(as_text=True)
    assert stored_record(app, record["id"])["revision"] == record["revision"]
    body["reason"] = "按发票更正"
    done = page_client.post(f"/records/{record['id']}", data=body)
    assert done.status_code in (302, 303), done.get_data(as_text=True)[:500]
    assert _ok(api.get(f"/api/v1/records/{record['id']}", "head"))["data"]["amount"] == 260
    # whoever does not hold the step gets no such form
    other = app.test_client()
    sign_in(other, "a2")
    assert 'id="cf-step-fields"' not in other.get(f"/records/{record['id']}").get_data(as_text=True)


def test_a_step_person_correcting_a_record_keeps_the_fields_the_step_hides_from_them(
        tmp_path: Path, config: dict[str, Any]) -> None:
    """A step that hides a field but names nothing editable: a reviewer of the step corrects the record (the
    rights they had before the step) from the record they were shown, which lacks the hidden field. The stored
    value stays; it was erased (or the correction refused as incomplete) before, because the edit path put
    back only `x-visible-to` fields. A value sent for the hidden field is refused as for `x-visible-to`."""
    hiding_only = CHECK.replace("fields: {editable: [/amount], hidden: [/id_number]}",
                                "fields: {hidden: [/id_number]}")
    with step_world(tmp_path, config, hiding_only) as (app, api):
        record = _in_step(api)
        shown = _ok(api.get(f"/api/v1/records/{record['id']}", "a2"))
        assert "id_number" not in shown["data"]
        refused = _patch(api, shown, "a2", id_number="110105199001019999")
        assert refused.status_code == 403, refused.get_json()
        assert refused.get_json()["error"]["code"] == "field_not_visible"
        corrected = _ok(_patch(api, shown, "a2", amount=280))
        assert corrected["data"]["amount"] == 280 and "id_number" not in corrected["data"]
        kept = _ok(api.get(f"/api/v1/records/{record['id']}", "clerk"))       # the clerk is not the step's
        assert kept["revision"] == corrected["revision"] and kept["data"]["amount"] == 280
        assert kept["data"]["id_number"].startswith("110") and kept["data"]["id_number"].endswith("1234")
