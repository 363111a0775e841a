"""Clocks on working days: the form's time limit and a state's deadline, paused in `clock: paused` states,
due-soon reminders, overdue marks and one escalation (also with two `tick` processes at once), extensions
asked before the limit and approved by a superior, and the admins' yearly calendar overrides."""
from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest

from conftest import Api, add_staff, running_app, signed_in
from counterflow.core.calendar import WorkCalendar
from counterflow.service.clocks import Clock
from forms import COMPLETE, permit, publish, upload
from test_intake_outcomes import tick

SHANGHAI = ZoneInfo("Asia/Shanghai")
# a process of the admin's own: no name below is one the product ships; the pause comes from the flag
SITE_CHECK = """\
key: site_check
title: {zh-CN: 现场核查, en: Site check}
initial: working
states:
  - {name: working, title: {zh-CN: 办理中, en: Working}}
  - {name: waiting, title: {zh-CN: 等待专家意见, en: Waiting for experts}, clock: paused}
  - {name: done, title: {zh-CN: 办结, en: Done}, final: true}
transitions:
  - {trigger: wait, title: {zh-CN: 送专家, en: To experts}, source: working, dest: waiting, roles: [reviewer]}
  - {trigger: resume, title: {zh-CN: 恢复办理, en: Resume}, source: waiting, dest: working, roles: [reviewer]}
  - {trigger: finish, title: {zh-CN: 办结, en: Finish}, source: working, dest: done, roles: [reviewer]}
"""


@pytest.fixture
def world(tmp_path: Path, config: dict[str, Any]) -> Iterator[tuple[Any, Api, dict[str, Any]]]:
    folder = tmp_path / "my-workflows"
    folder.mkdir()
    (folder / "site_check.yaml").write_text(SITE_CHECK, "utf-8")
    config = {**config, "COUNTERFLOW_WORKFLOWS_DIR": str(folder), "COUNTERFLOW_TICK_EVERY_SECONDS": 0}
    with running_app(config) as app:
        api = add_staff(signed_in(app.test_client()))
        settings = dict(permit()["settings"], processes=["intake", "site_check"],
                        time_limit={"working_days": 3}, numbering="SC-{yyyy}{mm}{dd}-{seq:04d}")
        publish(api, permit(key="site-permit", settings=settings))
        yield app, api, config


def _accepted(api: Api) -> dict[str, Any]:
    data = dict(COMPLETE, licence_copy=upload(api))
    r = api.post("/api/v1/records", "clerk", json={"form": "site-permit", "data": data})
    assert r.status_code == 201, r.get_json()
    record = r.get_json()
    r = api.post(f"/api/v1/records/{record['id']}/transitions/accept", "clerk", json={"revision": 0})
    assert r.status_code == 200, r.get_json()
    record = r.get_json()
    assert (record["process"], record["state"]) == ("site_check", "working")
    return record


def _history(api: Api, record: dict[str, Any]) -> list[dict[str, Any]]:
    return api.get(f"/api/v1/records/{record['id']}/history", "clerk").get_json()["items"]


def _user_id(api: Api, username: str) -> str:
    users = api.get("/api/v1/users", "admin").get_json()
    items = users["items"] if isinstance(users, dict) else users
    return next(u["id"] for u in items if u["username"] == username)


def test_the_time_limit_runs_from_acceptance_in_working_days(world: Any) -> None:
    _, api, _ = world
    record = _accepted(api)
    today = dt.datetime.now(SHANGHAI).date()
    assert record["due_at"] == WorkCalendar().add_working_days(today, 3).isoformat()
    got = api.get(f"/api/v1/records/{record['id']}", "clerk").get_json()
    assert {k: got[k] for k in ("due_at", "due_soon", "overdue", "days_used", "days_paused")} == {
        "due_at": record["due_at"], "due_soon": False, "overdue": False, "days_used": 0, "days_paused": 0}


def test_a_deadline_passed_while_running_is_overdue_and_escalated_once_by_two_ticks(world: Any) -> None:
    _, api, config = world
    record = _accepted(api)
    later = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=30)).isoformat()
    args, env = tick_command(config, later)
    runs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL) for _ in range(2)]           # two hosts at once
    outputs = [p.communicate(timeout=120) for p in runs]
    assert all(p.returncode == 0 for p in runs), outputs
    history = _history(api, record)
    escalations = [e for e in history if (e.get("notify") or {}).get("kind") == "escalated"]
    overdue = [e for e in history if (e.get("notify") or {}).get("kind") == "overdue"]
    assert len(escalations) == 1 and len(overdue) == 1, [o for o, _ in outputs]
    head = _user_id(api, "head")
    assert escalations[0]["notify"]["to"] == [head] and escalations[0]["actor"]["kind"] == "system"
    assert overdue[0]["notify"]["to"] == [_user_id(api, "clerk")]      # the first responder holds it
    got = api.get(f"/api/v1/records/{record['id']}", "clerk").get_json()
    assert got["overdue"] is True and got["due_soon"] is False and got["days_used"] > 3
    # once more: nothing new (idempotent)
    again = tick(config, later)
    assert again.returncode == 0, again.stderr
    assert len(_history(api, record)) == len(history)


def tick_command(config: dict[str, Any], now: str) -> tuple[list[str], dict[str, str]]:
    import os

    from processes import command
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNTERFLOW_")}
    env.update(COUNTERFLOW_MONGODB_URI=config["COUNTERFLOW_MONGODB_URI"],
               COUNTERFLOW_DB_NAME=config["COUNTERFLOW_DB_NAME"], COUNTERFLOW_SECRET_KEY=config["SECRET_KEY"],
               COUNTERFLOW_DATA_DIR=config["COUNTERFLOW_DATA_DIR"], COUNTERFLOW_PASSWORD_PROFILE="cheapest",
               COUNTERFLOW_ADMIN_PASSWORD=config["COUNTERFLOW_ADMIN_PASSWORD"],
               COUNTERFLOW_WORKFLOWS_DIR=config["COUNTERFLOW_WORKFLOWS_DIR"])
    return [command(), "tick", "--now", now], env


def test_a_deadline_passed_while_the_clock_is_paused_is_not_overdue(world: Any) -> None:
    app, api, _ = world
    record = _accepted(api)
    r = api.post(f"/api/v1/records/{record['id']}/transitions/wait", "reviewer",
                 json={"revision": record["revision"]})
    assert r.status_code == 200, r.get_json()
    waiting = r.get_json()
    assert waiting["due_at"] is None and waiting["overdue"] is False
    service = app.extensions["counterflow"].service
    report = service.tick(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30))
    assert not report.events
    got = api.get(f"/api/v1/records/{record['id']}", "clerk").get_json()
    assert got["overdue"] is False and got["due_at"] is None
    assert not [e for e in _history(api, record) if e["actor"].get("kind") == "system"]


def test_the_clock_pauses_and_resumes_counting_working_days() -> None:
    calendar = WorkCalendar()
    monday = dt.date(2026, 3, 2)                                     # an ordinary working week in March 2026

    def at(day: dt.date, old: Any, mode: str, entered: bool = False) -> dict[str, Any]:
        return Clock(calendar, day, 1).fields(old, mode=mode, limit=3, state_days=None, entered=entered,
                                              timeout=None)

    start = at(monday, None, "running", True)
    assert start["due_at"] == "2026-03-05" and start["days_used"] == 0          # Thursday
    paused = at(monday + dt.timedelta(days=1), start["clock"], "paused", True)   # Tuesday: one day used
    assert paused["due_at"] is None and paused["days_used"] == 1
    resumed = at(dt.date(2026, 3, 16), paused["clock"], "running", True)        # two weeks later
    assert resumed["days_paused"] == 9 and resumed["days_used"] == 1             # Wed 4 .. Mon 16: 9 days
    assert resumed["due_at"] == "2026-03-18" and not resumed["overdue"]          # two working days left
    late = at(dt.date(2026, 3, 20), resumed["clock"], "running")
    assert late["overdue"] is True and late["due_at"] == "2026-03-18" and late["days_used"] == 5
    soon = at(dt.date(2026, 3, 17), resumed["clock"], "running")
    assert soon["due_soon"] is True and soon["tick_at"] == "2026-03-17"


def test_due_soon_is_reminded_once_before_the_deadline(world: Any) -> None:
    app, api, _ = world
    record = _accepted(api)
    service = app.extensions["counterflow"].service
    due = dt.date.fromisoformat(record["due_at"])
    on_due_day = dt.datetime.combine(due, dt.time(9), SHANGHAI)
    first = service.tick(on_due_day)
    assert first.events == {"due_soon": 1}
    assert service.tick(on_due_day).events == {}
    reminders = [e for e in _history(api, record) if (e.get("notify") or {}).get("kind") == "due_soon"]
    assert len(reminders) == 1 and reminders[0]["notify"]["to"] == [_user_id(api, "clerk")]
    got = api.get(f"/api/v1/records/{record['id']}", "clerk").get_json()
    assert got["due_soon"] is True


def test_an_extension_is_asked_before_the_limit_and_approved_by_a_superior(world: Any) -> None:
    _, api, _ = world
    record = _accepted(api)
    path = f"/api/v1/records/{record['id']}/extension"
    assert api.post(path, "clerk", json={"revision": record["revision"], "days": 2}).status_code in (400, 422)
    r = api.post(path, "clerk", json={"revision": record["revision"], "days": 2, "reason": "需现场复核"})
    assert r.status_code == 200, r.get_json()
    asked = r.get_json()
    assert asked["extension"]["state"] == "requested" and asked["due_at"] == record["due_at"]
    decide = f"{path}/decision"
    by_clerk = api.post(decide, "clerk2", json={"revision": asked["revision"], "grant": True})
    assert by_clerk.status_code == 403                                  # not a superior
    r = api.post(decide, "head", json={"revision": asked["revision"], "grant": True, "opinion": "同意"})
    assert r.status_code == 200, r.get_json()
    extended = r.get_json()
    assert extended["extension"]["state"] == "granted"
    due = dt.date.fromisoformat(record["due_at"])
    assert extended["due_at"] == WorkCalendar().add_working_days(due, 2).isoformat()
    triggers = [e["trigger"] for e in _history(api, record)]
    assert triggers[-2:] == ["extension_request", "extension_granted"]


def test_an_extension_asked_after_the_limit_is_refused(world: Any) -> None:
    app, api, _ = world
    record = _accepted(api)
    store = app.extensions["counterflow"].store
    long_ago = (dt.datetime.now(SHANGHAI).date() - dt.timedelta(days=30)).isoformat()
    # as if accepted a month ago: the running segment began then
    store.records.update_one({"_id": record["id"]}, {"$set": {"clock.since": long_ago}})
    r = api.post(f"/api/v1/records/{record['id']}/extension", "clerk",
                 json={"revision": record["revision"], "days": 2, "reason": "来不及"})
    assert r.status_code == 422
    assert r.get_json()["error"]["code"] == "extension_too_late"


def test_a_superior_cannot_approve_their_own_extension(world: Any) -> None:
    _, api, _ = world
    record = _accepted(api)
    path = f"/api/v1/records/{record['id']}/extension"
    asked = api.post(path, "head", json={"revision": record["revision"], "days": 1, "reason": "x"}).get_json()
    r = api.post(f"{path}/decision", "head", json={"revision": asked["revision"], "grant": True})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "separation_of_duties"


def test_admins_keep_a_year_of_the_calendar_that_every_host_uses(world: Any) -> None:
    app, api, config = world
    path = "/api/v1/calendar/2027"
    assert api.get(path, "clerk").status_code == 403
    first = api.get(path, "admin").get_json()
    assert first["source"] == "package" and first["days_off"] == []
    body = {"days_off": ["2027-02-08", "2027-02-09"], "workdays": ["2027-02-06"]}
    assert api.put(path, "clerk", json=body).status_code == 403
    r = api.put(path, "admin", json=body)
    assert r.status_code == 200, r.get_json()
    saved = r.get_json()
    assert saved["source"] == "store" and saved["days_off"] == body["days_off"] and saved["official"] is True
    assert saved["updated_by"]
    # refused: a day of another year, a day listed both ways, not a date, an unknown key
    cases: list[dict[str, Any]] = [
        {"days_off": ["2026-02-08"]}, {"days_off": ["2027-02-08"], "workdays": ["2027-02-08"]},
        {"days_off": ["2027-13-01"]}, {"holidays": []}, {"days_off": [{"$ne": None}]}]
    for wrong in cases:
        refused = api.put(path, "admin", json=wrong)
        assert refused.status_code in (400, 422), (wrong, refused.get_json())
    assert api.get("/api/v1/calendar/1999", "admin").status_code == 422
    # another host on the same store counts with it
    with running_app(dict(config, COUNTERFLOW_DB_NAME=config["COUNTERFLOW_DB_NAME"])) as other:
        calendar = other.extensions["counterflow"].service.work_calendar()
        assert calendar.is_working_day(dt.date(2027, 2, 6))
        assert not calendar.is_working_day(dt.date(2027, 2, 8))


def test_serve_s_background_tick_marks_an_overdue_record(world: Any) -> None:
    import time

    from counterflow.service.tick import Ticker

    app, api, _ = world
    record = _accepted(api)
    state = app.extensions["counterflow"]
    today = dt.datetime.now(SHANGHAI).date()
    # as if accepted a month ago: the running segment began then, and tick should look today
    state.store.records.update_one({"_id": record["id"]}, {"$set": {
        "clock.since": (today - dt.timedelta(days=30)).isoformat(), "tick_at": today.isoformat()}})
    ticker = Ticker(state.service, 0.2).start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = api.get(f"/api/v1/records/{record['id']}", "clerk").get_json()
            if got["overdue"]:
                break
            time.sleep(0.2)
    finally:
        ticker.stop()
    assert got["overdue"] is True
    kinds = [(e.get("notify") or {}).get("kind") for e in _history(api, record)]
    assert kinds.count("overdue") == 1 and kinds.count("escalated") == 1
