"""The lifecycle walk of issue 8's "Done when", through the API on a real store, one test per story.

The process is data: an admin uploads it through `POST /api/v1/workflows`, a department head and a manager
approve it, and a form published through the API runs it after the shipped intake. None of its state or
trigger names is one the product ships, so every behaviour below comes from the flags in `GRANT_REVIEW`.

Stories:
- a record from intake through a 会签 of three (one sends back to an earlier state; it returns, fired by the
  head's backup on their behalf, and all three approve), a 依次 step with a transfer, a delegation and an
  added approver, a large amount's second level, the decision, and the mail to a real local SMTP server;
- a 补正 notice that is answered, and one that goes overdue and is deemed accepted by `counterflow tick --now`
  (the real command, as a process), labelled automatic in the history;
- a deadline passed while the clock is paused (not overdue) and one passed while it runs (overdue, escalated
  once even with two `tick` processes at once);
- a complaint through escalation, the answer, reconsideration and the callbacks (and tick's escalation of one
  left past its level's limit).
Beside them, defects the walk found, each pinned: an application deemed accepted into an approval step gets
its tasks; reminders in a step go to its holders; a process approved on one host reaches another host's
worklists.
And the format's documentation (an example per approval mode, every action and registry name) and the OpenAPI
document (every path a route) are checked.
"""
from __future__ import annotations

import copy
import datetime as dt
import email
import email.policy
import os
import subprocess
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest

from conftest import Api, add_staff, running_app, signed_in, stored_record
from counterflow.core.calendar import WorkCalendar
from counterflow.core.complaints import in_callback_sample
from forms import COMPLETE, permit, publish, upload
from processes import command
from test_notify import SmtpServer, free_port

SHANGHAI = ZoneInfo("Asia/Shanghai")
APPLICANT_MAIL = "zhang.san@example.cn"
LARGE = 80000                 # above the form's second_level_if (amount > 50000)

GRANT_REVIEW = """\
key: grant_review
title: {zh-CN: 补助审批, en: Grant review}
initial: triage
states:
  - {name: triage, title: {zh-CN: 分办, en: Triage}, deadline: {working_days: 2}}
  - {name: experts, title: {zh-CN: 专家论证, en: With the experts}, clock: paused}
  - name: panel
    title: {zh-CN: 会签, en: Panel}
    approval: {mode: all, approvers: [{users: [r1, r2, r3]}], approve: panel_agree, reject: panel_refuse}
  - name: sign_off
    title: {zh-CN: 依次审批, en: Sign-off in turn}
    approval:
      mode: sequence
      approvers: [{users: [s1, s2]}]
      approve: signed
      reject: refused_in_turn
      actions: [send_back, transfer, delegate, add_approver, urge]
  - name: second_level
    title: {zh-CN: 大额二级审批, en: Second level for large amounts}
    approval: {mode: any, approvers: [{role: manager, department: top}], approve: grant, reject: deny}
  - {name: granted, title: {zh-CN: 准予补助, en: Granted}, final: true}
  - {name: denied, title: {zh-CN: 不予补助, en: Denied}, final: true}
transitions:
  - {trigger: consult, title: {zh-CN: 送专家论证, en: Consult experts}, source: triage, dest: experts,
     roles: [dept_head]}
  - {trigger: resume, title: {zh-CN: 恢复办理, en: Resume}, source: experts, dest: triage, roles: [dept_head]}
  - {trigger: to_panel, title: {zh-CN: 提交会签, en: To the panel}, source: triage, dest: panel,
     roles: [dept_head]}
  - {trigger: panel_agree, title: {zh-CN: 会签同意, en: Agree}, source: panel, dest: sign_off, roles: [reviewer],
     duty: reviewer, separate_from: [creator, acceptor, approver]}
  - {trigger: panel_refuse, title: {zh-CN: 会签不同意, en: Refuse}, source: panel, dest: denied,
     roles: [reviewer], duty: reviewer, separate_from: [creator, acceptor, approver],
     notifies: {kind: decided, failed: true}}
  - {trigger: signed, title: {zh-CN: 审批同意, en: Sign}, source: sign_off, dest: granted, roles: [manager],
     duty: approver, separate_from: [creator, acceptor, reviewer], notifies: decided,
     branch: {if: second_level_required, dest: second_level}}
  - {trigger: refused_in_turn, title: {zh-CN: 审批不同意, en: Refuse}, source: sign_off, dest: denied,
     roles: [manager], duty: approver, separate_from: [creator, acceptor, reviewer],
     notifies: {kind: decided, failed: true}}
  - {trigger: grant, title: {zh-CN: 准予, en: Grant}, source: second_level, dest: granted, roles: [manager],
     duty: co_approver, separate_from: [creator, acceptor, reviewer, approver], notifies: decided}
  - {trigger: deny, title: {zh-CN: 不予准予, en: Deny}, source: second_level, dest: denied, roles: [manager],
     duty: co_approver, separate_from: [creator, acceptor, reviewer, approver],
     notifies: {kind: decided, failed: true}}
"""
PEOPLE = (("r1", ["reviewer"], "counter-1"), ("r2", ["reviewer"], "counter-1"),
          ("r3", ["reviewer"], "review"),
          ("s1", ["manager"], "board"), ("s2", ["manager"], "board"), ("s3", ["manager"], "board"),
          ("s4", ["manager"], "office"), ("s5", ["manager"], "office"), ("chief", ["manager"], "top"),
          ("deputy", ["clerk"], "counter-1"))


# -- the world: staff, the process uploaded and approved, the form published -------------------------------

@pytest.fixture
def world(config: dict[str, Any]) -> Iterator[tuple[Any, Api, dict[str, Any]]]:
    smtp_port = free_port()
    config = {**config, "COUNTERFLOW_TICK_EVERY_SECONDS": 0, "COUNTERFLOW_NOTIFY": {
        "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_from": "counter@example.gov",
        "smtp_timeout": 5}}
    with running_app(config) as app:
        api = add_staff(signed_in(app.test_client()))
        for name, roles, department in PEOPLE:
            api.add_user(name, roles, department)
        upload_process(api)
        form = publish(api, grant_form())
        assert form["workflows"] == {"intake": form["workflows"]["intake"], "grant_review": 1}
        yield app, api, dict(config, smtp_port=smtp_port)


def upload_process(api: Api) -> None:
    """The process as data: uploaded as YAML, submitted by its author, reviewed and approved by others."""
    r = api.post("/api/v1/workflows", "admin", data=GRANT_REVIEW.encode("utf-8"),
                 headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    assert (doc["version"], doc["state"], doc["in_use"]) == (1, "draft", False)
    for trigger, who in (("submit", "admin"), ("review", "head"), ("approve", "boss")):
        r = api.post(f"/api/v1/workflows/grant_review/versions/1/transitions/{trigger}", who,
                     json={"revision": doc["revision"], "opinion": "同意"})
        assert r.status_code == 200, (trigger, r.get_json())
        doc = r.get_json()
    assert doc["in_use"] is True


def grant_form() -> dict[str, Any]:
    settings = {**permit()["settings"], "processes": ["intake", "grant_review"],
                "numbering": "GR-{yyyy}{mm}{dd}-{seq:04d}"}
    form = permit(key="grant-permit", settings=settings)
    schema = copy.deepcopy(form["schema"])
    schema["properties"]["email"]["x-notify"] = "email"
    form["schema"] = schema
    return form


# -- helpers for the steps ---------------------------------------------------------------------------------

def ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def fire(api: Api, record: dict[str, Any], trigger: str, who: str, **extra: Any) -> Any:
    return api.post(f"/api/v1/records/{record['id']}/transitions/{trigger}", who,
                    json={"revision": record["revision"], **extra})


def act(api: Api, record: dict[str, Any], action: str, who: str, **extra: Any) -> Any:
    """One approval-step action; a decision is bound to the data reviewed (its digest)."""
    body = {"revision": record["revision"], **extra}
    if action in ("approve", "reject"):
        body.setdefault("digest", record["data_digest"])
    return api.post(f"/api/v1/records/{record['id']}/approval/{action}", who, json=body)


def submitted(api: Api, **data: Any) -> dict[str, Any]:
    """An application entered by the clerk with every material and submitted (intake's `submitted`)."""
    body = dict(COMPLETE, licence_copy=upload(api), email=APPLICANT_MAIL, **data)
    r = api.post("/api/v1/records", "clerk", json={"form": "grant-permit", "data": body})
    assert r.status_code == 201, r.get_json()
    return ok(fire(api, r.get_json(), "submit", "clerk"))


def accepted(api: Api, **data: Any) -> dict[str, Any]:
    record = ok(fire(api, submitted(api, **data), "accept", "clerk"))
    assert (record["process"], record["state"]) == ("grant_review", "triage")
    return record


def history(api: Api, record: dict[str, Any]) -> list[dict[str, Any]]:
    return list(api.get(f"/api/v1/records/{record['id']}/history", "head").get_json()["items"])


def done(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps that changed the record (no refusals, no readings)."""
    return [e for e in events if e.get("outcome", "done") == "done"]


def who_did(events: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(trigger, actor, from, to) per step, in order; the system's steps say `system`."""
    return [(e["trigger"], e["actor"].get("username") or e["actor"].get("kind", "?"), e["from"], e["to"])
            for e in done(events)]


def tasks(record: dict[str, Any], ids: dict[str, str]) -> list[tuple[str, str]]:
    names = {v: k for k, v in ids.items()}
    return [(names[t["user"]], t["state"]) for t in record["tasks"]]


def listed(api: Api, name: str, who: str) -> list[str]:
    """The record ids of a worklist (or of the inbox entries it lists)."""
    r = api.get(f"/api/v1/worklists/{name}?limit=100", who)
    assert r.status_code == 200, r.get_json()
    return [item.get("record_id") or item.get("id") for item in r.get_json()["items"]]


def user_ids(api: Api) -> dict[str, str]:
    return {u["username"]: u["id"] for u in api.get("/api/v1/users", "admin").get_json()["items"]}


def tick_command(config: dict[str, Any], now: dt.datetime) -> tuple[list[str], dict[str, str]]:
    """`counterflow tick --now NOW` on the test's store, as another host would run it: no workflow folder
    (the process is in the store), no mail set up (the inbox only)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNTERFLOW_")}
    env.update(COUNTERFLOW_MONGODB_URI=config["COUNTERFLOW_MONGODB_URI"],
               COUNTERFLOW_DB_NAME=config["COUNTERFLOW_DB_NAME"], COUNTERFLOW_SECRET_KEY=config["SECRET_KEY"],
               COUNTERFLOW_DATA_DIR=config["COUNTERFLOW_DATA_DIR"], COUNTERFLOW_PASSWORD_PROFILE="cheapest",
               COUNTERFLOW_ADMIN_PASSWORD=config["COUNTERFLOW_ADMIN_PASSWORD"])
    return [command(), "tick", "--now", now.isoformat()], env


def run_ticks(config: dict[str, Any], now: dt.datetime, hosts: int = 1) -> list[tuple[str, str]]:
    """`hosts` tick processes started at once; each must succeed. Their (stdout, stderr)."""
    args, env = tick_command(config, now)
    runs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL) for _ in range(hosts)]
    outputs = [p.communicate(timeout=180) for p in runs]
    assert all(p.returncode == 0 for p in runs), outputs
    return outputs


def later(days: int) -> dt.datetime:
    today = dt.datetime.now(SHANGHAI).replace(hour=10, minute=0, second=0, microsecond=0)
    return today + dt.timedelta(days=days)


# -- story 1: intake, 会签, 依次, the second level, the decision, the mail ---------------------------------------

@pytest.fixture
def smtp(world: Any) -> Iterator[SmtpServer]:
    """The local SMTP server (aiosmtpd) the world's mail goes to, up for the whole test."""
    with SmtpServer(world[2]["smtp_port"]) as server:
        yield server


def test_a_record_walks_from_intake_through_every_approval_step_to_a_mailed_decision(
        world: Any, smtp: SmtpServer) -> None:
    app, api, _ = world
    ids = user_ids(api)
    service = app.extensions["counterflow"].service
    record = accepted(api, amount=LARGE)
    number = record["acceptance_number"]
    assert number.startswith("GR-")

    # 会签 of three
    record = ok(fire(api, record, "to_panel", "head"))
    assert record["state"] == "panel"
    assert tasks(record, ids) == [("r1", "pending"), ("r2", "pending"), ("r3", "pending")]
    record = ok(act(api, record, "approve", "r1", opinion="同意"))
    again = act(api, record, "approve", "r1", opinion="再投一次")              # a vote counts once
    assert again.status_code == 403 and again.get_json()["error"]["code"] == "not_holder"
    step = api.get(f"/api/v1/records/{record['id']}/approval", "r2").get_json()
    assert step["mode"] == "all" and step["holders"] == sorted([ids["r2"], ids["r3"]])
    assert "triage" in step["send_back_to"] and "panel" not in step["send_back_to"]
    # one sends it back to an earlier state, with the reason
    record = ok(act(api, record, "send_back", "r2", to="triage", opinion="请补充实地核查记录"))
    assert (record["state"], record["tasks"]) == ("triage", [])

    # it returns: the head is away, their backup sends it on in their name
    today = dt.datetime.now(SHANGHAI).date()
    r = api.post("/api/v1/me/backups", "head", json={"backup": "deputy", "from": today.isoformat(),
                                                     "until": (today + dt.timedelta(days=7)).isoformat()})
    assert r.status_code == 201, r.get_json()
    record = ok(fire(api, record, "to_panel", "deputy", on_behalf_of="head"))
    assert record["state"] == "panel"
    assert tasks(record, ids) == [("r1", "pending"), ("r2", "pending"), ("r3", "pending")]   # afresh
    # the step was sent in the head's name: it is theirs (to withdraw while nobody has acted, to be told)
    step = api.get(f"/api/v1/records/{record['id']}/approval", "head").get_json()
    assert step["submitted_by"] == ids["head"]
    assert next(a for a in step["actions"] if a["trigger"] == "approval/withdraw")["allowed"]
    # two votes on the same revision: the compare-and-set lets one land, the other reloads and votes again
    seen = record
    record = ok(act(api, seen, "approve", "r3", opinion="r3 同意"))
    late = act(api, seen, "approve", "r1", opinion="r1 同意")
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "stale"
    record = ok(act(api, record, "approve", "r1", opinion="r1 同意"))
    assert record["state"] == "panel"
    record = ok(act(api, record, "approve", "r2", opinion="r2 同意，已补充核查记录"))
    assert record["state"] == "sign_off"

    # 依次: s1 then s2, never s2 first
    assert tasks(record, ids) == [("s1", "pending"), ("s2", "pending")]
    assert act(api, record, "approve", "s2", opinion="同意").status_code == 403
    # 转办 to someone who already reviewed it is refused (separation of duties counts people) ...
    refused = act(api, record, "transfer", "s1", to=ids["r1"])
    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"][0]["code"] == "separation_of_duties"
    # ... to s3 it goes, in s1's place
    record = ok(act(api, record, "transfer", "s1", to=ids["s3"]))
    assert tasks(record, ids) == [("s3", "pending"), ("s2", "pending")]
    # 催办: the clerk urges whoever holds it now, once per interval
    record = ok(act(api, record, "urge", "clerk"))
    assert act(api, record, "urge", "clerk").status_code == 429
    # 委派: s4 works on it and the decision comes back to s3
    record = ok(act(api, record, "delegate", "s3", to=ids["s4"]))
    assert tasks(record, ids)[0] == ("s3", "delegated")
    service.pump_notifications()                                       # what tick does: worklists and inbox
    assert record["id"] in listed(api, "mine", "s4")                    # the delegate's task
    assert record["id"] not in listed(api, "mine", "s3")
    assert record["id"] in listed(api, "delegated", "s3")               # delegated by me
    assert record["id"] in listed(api, "urged", "s3")                   # urged on me
    told = api.get("/api/v1/inbox?limit=100", "head").get_json()["items"]
    assert record["id"] in [e["record_id"] for e in told]                # the holder sees what the backup did
    record = ok(act(api, record, "approve", "s4", opinion="经核实，金额无误"))
    assert record["state"] == "sign_off" and tasks(record, ids)[0] == ("s3", "pending")
    service.pump_notifications()
    assert record["id"] in listed(api, "mine", "s3")                    # back to the delegator to decide
    assert record["id"] not in listed(api, "mine", "s4")
    assert record["id"] not in listed(api, "mine", "s1")                # transferred away
    record = ok(act(api, record, "approve", "s3", opinion="同意"))
    # 加签: s2 adds s5 before themself and waits for them
    record = ok(act(api, record, "add_approver", "s2", to=ids["s5"], position="before"))
    assert tasks(record, ids) == [("s3", "done"), ("s5", "pending"), ("s2", "pending")]
    assert act(api, record, "approve", "s2", opinion="同意").status_code == 403
    record = ok(act(api, record, "approve", "s5", opinion="同意"))
    record = ok(act(api, record, "approve", "s2", opinion="同意，金额较大报二级审批"))
    # a large amount: the second level, not the decision
    assert record["state"] == "second_level"
    assert tasks(record, ids) == [("chief", "pending")]
    # nobody who played a part so far decides the second level, whatever their role
    assert act(api, record, "approve", "s2", opinion="同意").status_code in (403, 422)
    record = ok(act(api, record, "approve", "chief", opinion="准予补助"))
    assert (record["process"], record["state"]) == ("grant_review", "granted")

    # the history: each person's step, in order, with who decided and on whose behalf
    events = history(api, record)
    assert who_did(events) == [
        ("create", "clerk", "", "draft"), ("submit", "clerk", "draft", "submitted"),
        ("accept", "clerk", "submitted", "accepted"),
        ("to_panel", "head", "triage", "panel"),
        ("panel_agree", "r1", "panel", "panel"), ("send_back", "r2", "panel", "triage"),
        ("to_panel", "deputy", "triage", "panel"),
        ("panel_agree", "r3", "panel", "panel"), ("panel_agree", "r1", "panel", "panel"),
        ("panel_agree", "r2", "panel", "sign_off"),
        ("transfer", "s1", "sign_off", "sign_off"), ("urge", "clerk", "sign_off", "sign_off"),
        ("delegate", "s3", "sign_off", "sign_off"),
        ("signed", "s4", "sign_off", "sign_off"), ("signed", "s3", "sign_off", "sign_off"),
        ("add_approver", "s2", "sign_off", "sign_off"), ("signed", "s5", "sign_off", "sign_off"),
        ("signed", "s2", "sign_off", "second_level"), ("grant", "chief", "second_level", "granted")]
    steps = done(events)
    behalf = [e for e in steps if e.get("on_behalf_of")]
    assert [(e["actor"]["username"], e["on_behalf_of"]["username"]) for e in behalf] == [("deputy", "head")]
    assert steps[5]["opinion"] == "请补充实地核查记录"
    assert steps[13]["details"]["advice_for"] == ids["s3"]                 # s4's vote is advice to s3
    assert steps[-1]["details"]["outcome"] == "approve"
    # votes counted once per person, kept per person
    stored = stored_record(app, record["id"])
    assert sorted(stored["approval"]["panel"]["votes"]) == sorted(ids[n] for n in ("r1", "r2", "r3"))
    assert sorted(stored["approval"]["sign_off"]["votes"]) == sorted(ids[n] for n in ("s3", "s5", "s2"))
    assert stored["approval"]["sign_off"]["tasks"][ids["s3"]]["advice"]["by"] == ids["s4"]
    assert list(stored["approval"]["second_level"]["votes"]) == [ids["chief"]]
    assert sorted(stored["duties"]["reviewer"]) == sorted(ids[n] for n in ("r1", "r2", "r3"))
    assert ids["s1"] not in stored["duties"]["approver"]                  # transferred before deciding
    assert stored["duties"]["co_approver"] == [ids["chief"]]

    # the decision is told once the process ends, not when the sign-off branched to the second level
    told = [(e["trigger"], (e.get("notify") or {}).get("kind")) for e in steps if e.get("notify")]
    assert [trigger for trigger, kind in told if kind == "decided"] == ["grant"]
    # the decision is mailed to the applicant through a real local SMTP server
    counts = service.pump_notifications()
    assert counts["failed"] == counts["retry"] == 0 and counts["sent"] > 0, counts
    assert service.pump_notifications()["sent"] == 0                    # never twice
    to_applicant = [m for m in smtp.box.messages if m["to"] == [APPLICANT_MAIL]]
    assert len(to_applicant) == 2                                       # accepted, then decided
    decided = email.message_from_bytes(to_applicant[-1]["data"].encode("utf-8"), policy=email.policy.default)
    assert decided["From"] == "counter@example.gov" and decided["To"] == APPLICANT_MAIL
    assert number in decided["Subject"] and "已办结" in decided["Subject"]
    body = decided.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "已办结" in text and "原因：准予补助" in text and "Now: Grant review · Granted" in text
    for secret in (COMPLETE["id_number"], COMPLETE["phone"]):             # never the record's data
        assert all(secret not in m["data"] for m in smtp.box.messages)
    # the applicant sees the same result on the status look-up
    receipt = api.get(f"/api/v1/records/{record['id']}/receipt", "clerk").get_json()
    status = api.get(f"/api/v1/status?number={number}&code={receipt['query_code']}").get_json()
    assert status["result"]["kind"] == "decided" and not status["result"]["failed"]
    assert status["result"]["title"] == "已办结" and status["result"]["reason"] == ""    # no failure: no why


# -- story 2: 补正, answered and deemed accepted -------------------------------------------------------------

def test_a_notice_answered_in_time_and_one_deemed_accepted_by_tick_now(world: Any) -> None:
    _, api, config = world
    answered = submitted(api)
    overdue = submitted(api)

    # the one-time notice, answered: paused while the applicant supplies, then accepted by the clerk
    record = ok(fire(api, answered, "return", "clerk", items=["行驶证复印件不清晰，请重新提供"], opinion="请补正"))
    assert (record["state"], record["due_at"], record["overdue"]) == ("returned", None, False)
    assert record["vouchers"]["notice"]["number"].startswith("BZ")
    record = ok(fire(api, record, "submit", "clerk"))
    record = ok(fire(api, record, "accept", "clerk"))
    assert (record["process"], record["state"]) == ("grant_review", "triage")
    assert who_did(history(api, record)) == [
        ("create", "clerk", "", "draft"), ("submit", "clerk", "draft", "submitted"),
        ("return", "clerk", "submitted", "returned"),
        ("submit", "clerk", "returned", "submitted"), ("accept", "clerk", "submitted", "accepted")]

    # the other waits past the notice limit (5 working days): the real `tick --now` deems it accepted
    when = later(30)
    (out, err), = run_ticks(config, when)
    assert "timeout_approve 1" in out and "tick:" in err
    record = api.get(f"/api/v1/records/{overdue['id']}", "clerk").get_json()
    assert (record["process"], record["state"]) == ("grant_review", "triage") and record["acceptance_number"]
    events = history(api, record)
    assert who_did(events) == [("create", "clerk", "", "draft"), ("submit", "clerk", "draft", "submitted"),
                               ("accept", "system", "submitted", "accepted")]
    deemed = done(events)[-1]
    assert (deemed["actor"]["kind"], deemed["actor"]["id"]) == ("system", "system")
    assert deemed["automatic"] == {"by": "tick", "reason": "timeout", "action": "approve"}
    assert deemed["opinion"] is None                                    # nobody's approval
    receipt = api.get(f"/api/v1/records/{record['id']}/receipt", "clerk").get_json()
    status = api.get(f"/api/v1/status?number={receipt['acceptance_number']}&code={receipt['query_code']}")
    assert status.get_json()["result"]["kind"] == "accepted"
    # the time limit counts from the day it was deemed accepted
    assert record["due_at"] == WorkCalendar().add_working_days(when.date(), 2).isoformat()
    # the answered one was never touched by tick (it was accepted by a person); a second run does nothing
    (out, _), = run_ticks(config, when)
    assert "timeout_approve" not in out
    assert len(done(history(api, record))) == 3


QUICK_VOTE = """\
key: quick_vote
title: {zh-CN: 表决, en: Vote}
initial: vote
states:
  - name: vote
    title: {zh-CN: 表决, en: Vote}
    approval: {mode: all, approvers: [{users: [r1, r2]}], approve: carry, reject: lose}
  - {name: carried, title: {zh-CN: 通过, en: Carried}, final: true}
  - {name: lost, title: {zh-CN: 否决, en: Lost}, final: true}
transitions:
  - {trigger: carry, title: {zh-CN: 通过, en: Carry}, source: vote, dest: carried, roles: [reviewer]}
  - {trigger: lose, title: {zh-CN: 否决, en: Lose}, source: vote, dest: lost, roles: [reviewer]}
"""


def test_an_application_deemed_accepted_into_an_approval_step_gets_its_tasks(world: Any) -> None:
    """tick's move into a step resolves its approvers as a person's move does: they hold it, it is on their
    worklist, nobody may withdraw it (nobody submitted it)."""
    app, api, _ = world
    ids = user_ids(api)
    r = api.post("/api/v1/workflows", "admin", data=QUICK_VOTE.encode("utf-8"),
                 headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    for trigger, who in (("submit", "admin"), ("review", "head"), ("approve", "boss")):
        doc = ok(api.post(f"/api/v1/workflows/quick_vote/versions/1/transitions/{trigger}", who,
                          json={"revision": doc["revision"], "opinion": "同意"}))
    form = grant_form()
    form["key"], form["settings"]["processes"] = "vote-permit", ["intake", "quick_vote"]
    publish(api, form)
    body = dict(COMPLETE, licence_copy=upload(api))
    created = api.post("/api/v1/records", "clerk", json={"form": "vote-permit", "data": body}).get_json()
    record = ok(fire(api, created, "submit", "clerk"))
    service = app.extensions["counterflow"].service
    assert service.tick(later(30)).events == {"timeout_approve": 1}
    record = got_record(api, record)
    assert (record["process"], record["state"]) == ("quick_vote", "vote")
    assert tasks(record, ids) == [("r1", "pending"), ("r2", "pending")]
    step = api.get(f"/api/v1/records/{record['id']}/approval", "r1").get_json()
    assert step["holders"] == sorted([ids["r1"], ids["r2"]]) and step["submitted_by"] is None
    service.pump_notifications()
    assert record["id"] in listed(api, "mine", "r1")
    for who in ("r1", "r2"):
        record = ok(act(api, record, "approve", who, opinion="同意"))
    assert record["state"] == "carried"


# -- story 3: a deadline passed while paused and one while running ------------------------------------------

def test_a_deadline_passed_while_paused_is_not_overdue_one_passed_running_is_escalated_once(
        world: Any) -> None:
    app, api, config = world
    ids = user_ids(api)
    paused = accepted(api)
    running = accepted(api)
    assert running["due_at"] == WorkCalendar().add_working_days(
        dt.datetime.now(SHANGHAI).date(), 2).isoformat()                # triage's 2 days, within the form's 5
    paused = ok(fire(api, paused, "consult", "head"))
    assert (paused["state"], paused["due_at"], paused["overdue"]) == ("experts", None, False)

    when = later(30)
    outputs = run_ticks(config, when, hosts=2)                          # two hosts at once
    got = api.get(f"/api/v1/records/{paused['id']}", "clerk").get_json()
    assert (got["state"], got["due_at"], got["overdue"]) == ("experts", None, False)
    assert not [e for e in history(api, paused) if e["actor"].get("kind") == "system"]

    got = api.get(f"/api/v1/records/{running['id']}", "clerk").get_json()
    assert got["overdue"] is True and got["days_used"] > 2
    system = [e for e in history(api, running) if e["actor"].get("kind") == "system"]
    kinds = [(e["trigger"], e["notify"]["kind"]) for e in system]
    assert sorted(kinds) == [("escalation", "escalated"), ("overdue", "overdue")], [o for o, _ in outputs]
    escalation = next(e for e in system if e["trigger"] == "escalation")
    assert escalation["notify"]["to"] == [ids["head"]]
    assert all((e["from"], e["to"]) == ("triage", "triage") for e in system)
    inbox = api.get("/api/v1/inbox?limit=100", "head").get_json()["items"]
    assert [e["kind"] for e in inbox if e["record_id"] == running["id"]] == ["escalated"]
    assert stored_record(app, running["id"])["escalated_to"] == [ids["head"]]
    # a third run the same day adds nothing
    before = history(api, running)
    run_ticks(config, when)
    assert history(api, running) == before

    # the paused record resumes: the weeks away count as paused, not used
    resumed = ok(fire(api, got_record(api, paused), "resume", "head"))
    assert resumed["state"] == "triage" and resumed["overdue"] is False
    assert resumed["due_at"] == running["due_at"]                      # no day was used while paused


def test_reminders_and_overdue_notices_in_an_approval_step_go_to_whoever_holds_it(world: Any) -> None:
    """In a step the work is the approvers': tick reminds the ones who have not decided, not the clerk."""
    app, api, _ = world
    ids = user_ids(api)
    record = ok(fire(api, accepted(api), "to_panel", "head"))
    record = ok(act(api, record, "approve", "r1", opinion="同意"))
    due = dt.date.fromisoformat(record["due_at"])
    service = app.extensions["counterflow"].service
    assert service.tick(dt.datetime.combine(due, dt.time(9), SHANGHAI)).events == {"due_soon": 1}
    assert service.tick(dt.datetime.combine(due, dt.time(9), SHANGHAI) + dt.timedelta(days=20)).events == {
        "overdue": 1, "escalation": 1}
    system = [e for e in history(api, record) if e["actor"].get("kind") == "system"]
    told = [(e["notify"]["kind"], e["notify"]["to"]) for e in system]
    undecided = sorted([ids["r2"], ids["r3"]])
    assert told == [("due_soon", undecided), ("overdue", undecided), ("escalated", [ids["head"]])]


def got_record(api: Api, record: dict[str, Any]) -> dict[str, Any]:
    return dict(api.get(f"/api/v1/records/{record['id']}", "clerk").get_json())


# -- story 4: a complaint ---------------------------------------------------------------------------------

IDENTITY = {"complainant_name": "张三丰", "complainant_phone": "13800138000",
            "complainant_id_number": "11010519491231002X"}


def complaint(api: Api, level: str = "counter") -> dict[str, Any]:
    body = {"channel": "visit", "level": level, "subject": "柜台多收了手续费",
            "received_date": dt.datetime.now(SHANGHAI).date().isoformat(), **IDENTITY}
    r = api.post("/api/v1/records", "clerk", json={"form": "complaint", "data": body})
    assert r.status_code == 201, r.get_json()
    return ok(fire(api, r.get_json(), "register", "clerk"))


def corrected(api: Api, record: dict[str, Any], **data: Any) -> dict[str, Any]:
    """The handler corrects the complaint's data (its level, its fault classification)."""
    body = dict(record["data"], **IDENTITY, **data)
    return ok(api.patch(f"/api/v1/records/{record['id']}", "clerk",
                        json={"revision": record["revision"], "data": body}))


def test_a_complaint_through_escalation_answer_reconsideration_and_callbacks(world: Any) -> None:
    _, api, _ = world
    ids = user_ids(api)
    record = complaint(api)
    assert record["state"] == "handling"
    # only the first receiver escalates it; they must say why
    assert fire(api, record, "escalate", "clerk2", reason="需分行协调").status_code in (403, 422)
    assert fire(api, record, "escalate", "clerk").status_code == 422
    record = ok(fire(api, record, "escalate", "clerk", reason="涉及收费标准，需上级协调"))
    assert record["state"] == "raised"
    escalated = done(history(api, record))[-1]
    assert escalated["notify"]["kind"] == "escalated"
    assert ids["head"] in escalated["notify"].get("superior", escalated["notify"]["to"])    # the superior
    record = corrected(api, record, level="regional")
    # the answer needs the fault classified
    assert fire(api, record, "reply", "head", opinion="已退还").status_code == 422
    record = corrected(api, record, fault="counter_fee")
    record = ok(fire(api, record, "reply", "head", opinion="经核实，手续费系误收，已全额退还"))
    assert record["state"] == "answered" and record["answer"]["reconsider_by"]
    # reconsideration, decided by the level above, never by the complaint's creator
    record = ok(fire(api, record, "reconsider", "clerk", reason="投诉人认为应当赔偿误工"))
    assert record["state"] == "reconsideration"
    assert fire(api, record, "decide_reconsideration", "clerk", opinion="维持").status_code == 403
    record = ok(fire(api, record, "decide_reconsideration", "boss", opinion="复议决定：维持原答复并致歉"))
    assert record["state"] == "answered" and len(record["answers"]) == 2
    # callbacks: the handling unit always; the level above when the recorded draw picks it
    record = ok(fire(api, record, "callback", "clerk", opinion="投诉人表示满意"))
    picked, draw = in_callback_sample(record["id"])
    assert (record["callback_sample"]["selected"], record["callback_sample"]["draw"]) == (picked, draw)
    if picked:
        assert record["state"] == "superior_callback"
        record = ok(fire(api, record, "superior_callback", "head", opinion="抽样回访：满意"))
    assert record["state"] == "called_back"
    record = ok(fire(api, record, "close", "clerk"))
    assert record["state"] == "closed"

    expected = [("create", "clerk", "", "received"), ("register", "clerk", "received", "handling"),
                ("escalate", "clerk", "handling", "raised"),
                ("edit", "clerk", "raised", "raised"), ("edit", "clerk", "raised", "raised"),   # level, fault
                ("reply", "head", "raised", "answered"),
                ("reconsider", "clerk", "answered", "reconsideration"),
                ("decide_reconsideration", "boss", "reconsideration", "answered"),
                ("callback", "clerk", "answered", "superior_callback" if picked else "called_back")]
    if picked:
        expected.append(("superior_callback", "head", "superior_callback", "called_back"))
    expected.append(("close", "clerk", "called_back", "closed"))
    assert who_did(history(api, record)) == expected
    assert [c["level"] for c in record["callbacks"]] == (["unit", "above"] if picked else ["unit"])

    # a complaint left past its level's limit (a counter's: one working day) is escalated by tick, once
    late = complaint(api)
    service = api.client.application.extensions["counterflow"].service
    for _ in range(2):
        service.tick(later(10))
    system = [e for e in history(api, late) if e["actor"].get("kind") == "system"]
    kinds = [(e["trigger"], e["notify"]["kind"]) for e in system]
    assert kinds == [("overdue", "overdue"), ("escalation", "escalated")]
    assert system[1]["notify"]["to"] == [ids["head"]]
    assert got_record(api, late)["overdue"] is True


# -- processes are data on every host ---------------------------------------------------------------------

def test_a_process_approved_on_one_host_reaches_the_worklists_of_another(config: dict[str, Any]) -> None:
    """Host B was running before host A approved the process: within the cache's few seconds B's worklists
    (asked by process and state) list the new process's records too."""
    import time

    config = {**config, "COUNTERFLOW_TICK_EVERY_SECONDS": 0}
    with running_app(config) as here, running_app(config) as there:
        api = add_staff(signed_in(here.test_client()))
        for name, roles, department in PEOPLE:
            api.add_user(name, roles, department)
        other = Api(there.test_client())
        other.tokens = api.tokens
        assert other.get("/api/v1/worklists/department", "head").get_json()["items"] == []   # B has read
        upload_process(api)
        publish(api, grant_form())
        record = accepted(api)
        time.sleep(there.extensions["counterflow"].service.published_ttl + 0.1)
        assert record["id"] in [r["id"] for r in other.get("/api/v1/worklists/department", "head")
                                .get_json()["items"]]


# -- the format's documentation and the API's description --------------------------------------------------

def test_definitions_doc_has_an_example_per_approval_mode_and_every_action_and_registry_name() -> None:
    from pathlib import Path

    from counterflow.core import approval, complaints, keeping, registry, rules   # each fills the registry

    assert complaints and keeping

    doc = (Path(__file__).resolve().parents[1] / "docs" / "definitions.md").read_text("utf-8")
    for mode in approval.MODES:
        assert f"mode: {mode}" in doc, f"no example of the approval mode {mode}"
    for action in (*approval.DECISIONS, *approval.ACTIONS):
        assert f"| `{action}`" in doc, f"the approval action {action} is not documented"
    for table in (registry.GUARDS, registry.CONDITIONS, registry.ACTIONS):
        for name in set(table) - {rules.FILL_DUTY}:           # fill_duty: added by `duty`, never named
            assert f"| `{name}` |" in doc, f"the registry's {name} is not documented"


def test_every_openapi_path_is_a_route_of_the_app(app: Any, client: Any) -> None:
    """The other half of tests/test_openapi.py (every route is documented): nothing is documented that the
    app does not serve."""
    import re

    spec = client.get("/api/v1/openapi.json").get_json()
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            shape = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "{}", rule.rule)
            served |= {(shape, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method in operations:
            assert (re.sub(r"\{[a-z_]+\}", "{}", path), method.upper()) in served, f"{method} {path}"
