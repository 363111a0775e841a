"""The statutory intake outcomes (行政许可法 §32): accept, the one-time notice (补正) within its working days,
after which the application counts as accepted (`tick --now`, labelled as the system's), and the decline
(不予受理) with its reason, where else to go, and a printable decision. Each outcome is a voucher."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest

from conftest import Api, add_staff, running_app, signed_in
from counterflow.core.calendar import WorkCalendar
from forms import COMPLETE, publish, upload
from processes import command
from test_pages import sign_in

CONTACT = "服务大厅 3 号窗口 · 010-12345678"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def world(config: dict[str, Any]) -> Iterator[tuple[Any, Api, dict[str, Any]]]:
    config = {**config, "COUNTERFLOW_COUNTER_CONTACT": CONTACT, "COUNTERFLOW_TICK_EVERY_SECONDS": 0}
    with running_app(config) as app:
        api = add_staff(signed_in(app.test_client()))
        publish(api)
        yield app, api, config


def _new(api: Api, data: dict[str, Any] | None = None) -> dict[str, Any]:
    r = api.post("/api/v1/records", "clerk", json={"form": "parking-permit", "data": data or {}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _fire(api: Api, record: dict[str, Any], trigger: str, who: str = "clerk", **extra: Any) -> Any:
    return api.post(f"/api/v1/records/{record['id']}/transitions/{trigger}", who,
                    json={"revision": record["revision"], **extra})


def _submitted(api: Api) -> dict[str, Any]:
    record = _new(api, dict(COMPLETE, licence_copy=upload(api)))
    r = _fire(api, record, "submit")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def tick(config: dict[str, Any], now: str) -> subprocess.CompletedProcess[str]:
    """`counterflow tick --now NOW` in its own process, on the test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNTERFLOW_")}
    env.update(COUNTERFLOW_MONGODB_URI=config["COUNTERFLOW_MONGODB_URI"],
               COUNTERFLOW_DB_NAME=config["COUNTERFLOW_DB_NAME"], COUNTERFLOW_SECRET_KEY=config["SECRET_KEY"],
               COUNTERFLOW_DATA_DIR=config["COUNTERFLOW_DATA_DIR"], COUNTERFLOW_PASSWORD_PROFILE="cheapest",
               COUNTERFLOW_ADMIN_PASSWORD=config["COUNTERFLOW_ADMIN_PASSWORD"])
    if config.get("COUNTERFLOW_WORKFLOWS_DIR"):
        env["COUNTERFLOW_WORKFLOWS_DIR"] = config["COUNTERFLOW_WORKFLOWS_DIR"]
    return subprocess.run([command(), "tick", "--now", now], env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_a_submitted_application_carries_the_notice_limit_in_working_days(world: Any) -> None:
    _, api, _ = world
    record = _submitted(api)
    today = dt.datetime.now(SHANGHAI).date()
    assert record["due_at"] == WorkCalendar().add_working_days(today, 5).isoformat()     # the default: 5
    assert record["overdue"] is False and record["days_used"] == 0 and record["days_paused"] == 0


def test_a_notice_answered_in_time_pauses_then_accepts(world: Any) -> None:
    app, api, _ = world
    record = _submitted(api)
    r = _fire(api, record, "return", items=["营业执照复印件不清晰，请重新提供"], opinion="请补正")
    assert r.status_code == 200, r.get_json()
    record = r.get_json()
    assert record["state"] == "returned"
    assert record["due_at"] is None and record["overdue"] is False        # waiting for the applicant: paused
    voucher = record["vouchers"]["notice"]
    year = dt.datetime.now(SHANGHAI).year
    assert voucher["number"] == f"BZ{year}-000001" and voucher["contact"] == CONTACT
    assert voucher["by"]["username"] == "clerk"
    assert voucher["at"] == dt.datetime.now(SHANGHAI).date().isoformat()
    page = app.test_client()
    assert sign_in(page, "clerk").status_code == 302
    body = page.get(f"/records/{record['id']}/notice").get_data(as_text=True)
    assert f"BZ{year}-000001" in body and CONTACT in body
    # the applicant supplies the item; submitted again, then accepted by the clerk
    r = _fire(api, record, "submit")
    assert r.status_code == 200, r.get_json()
    r = _fire(api, r.get_json(), "accept")
    assert r.status_code == 200, r.get_json()
    accepted = r.get_json()
    assert accepted["process"] == "review" and accepted["acceptance_number"]
    assert accepted["vouchers"]["receipt"]["number"] == accepted["acceptance_number"]
    assert accepted["vouchers"]["receipt"]["contact"] == CONTACT


def test_an_overdue_notice_is_deemed_accepted_by_tick_now_as_the_system(world: Any) -> None:
    _, api, config = world
    record = _submitted(api)
    later = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=30)).isoformat()
    done = tick(config, later)
    assert done.returncode == 0, done.stderr
    assert "timeout_approve 1" in done.stdout and "tick:" in done.stderr          # progress on stderr
    r = api.get(f"/api/v1/records/{record['id']}", "clerk")
    deemed = r.get_json()
    assert deemed["process"] == "review" and deemed["acceptance_number"]
    history = api.get(f"/api/v1/records/{record['id']}/history", "clerk").get_json()["items"]
    accept = [e for e in history if e["trigger"] == "accept"]
    assert len(accept) == 1
    assert accept[0]["actor"]["kind"] == "system" and accept[0]["actor"]["id"] == "system"
    assert accept[0]["automatic"] == {"by": "tick", "reason": "timeout", "action": "approve"}
    # the acceptance clock starts on the day tick deemed it accepted
    assert deemed["due_at"] == WorkCalendar().add_working_days(
        dt.datetime.fromisoformat(later).date(), 5).isoformat()
    # idempotent: the same tick again does nothing
    again = tick(config, later)
    assert again.returncode == 0 and "timeout_approve" not in again.stdout
    assert len([e for e in api.get(f"/api/v1/records/{record['id']}/history", "clerk").get_json()["items"]
                if e["trigger"] == "accept"]) == 1


def test_the_notice_is_refused_once_its_limit_has_passed(world: Any) -> None:
    app, api, _ = world
    record = _submitted(api)
    store = app.extensions["counterflow"].store
    # ten working days ago: the clock's segment began then (as if submitted then)
    store.records.update_one({"_id": record["id"]}, {"$set": {"clock.state_due": "2020-01-02"}})
    r = _fire(api, record, "return", items=["x"])
    assert r.status_code == 422
    assert [d["code"] for d in r.get_json()["error"]["details"]] == ["deadline_passed"]


def test_a_decline_needs_reason_and_where_to_go_and_prints_a_decision(world: Any) -> None:
    app, api, _ = world
    record = _new(api, {"applicant": "李四"})
    r = _fire(api, record, "decline")
    assert r.status_code == 422
    assert {d["path"] for d in r.get_json()["error"]["details"]} == {"/reason", "/refer_to"}
    r = _fire(api, record, "decline", reason="本事项不属于本窗口受理范围", refer_to="市交通管理局停车服务窗口")
    assert r.status_code == 200, r.get_json()
    declined = r.get_json()
    assert declined["state"] == "declined" and declined["process"] == "intake"
    voucher = declined["vouchers"]["decision"]
    year = dt.datetime.now(SHANGHAI).year
    assert voucher["number"] == f"BY{year}-000001" and voucher["kind"] == "decision"
    assert voucher["reason"] == "本事项不属于本窗口受理范围" and voucher["refer_to"] == "市交通管理局停车服务窗口"
    assert voucher["contact"] == CONTACT and voucher["by"]["username"] == "clerk"
    assert declined["due_at"] is None                       # a final state: no clock
    page = app.test_client()
    assert sign_in(page, "clerk").status_code == 302
    printed = page.get(f"/records/{record['id']}/decision")
    body = printed.get_data(as_text=True)
    assert printed.status_code == 200
    for shown in (f"BY{year}-000001", "本事项不属于本窗口受理范围", "市交通管理局停车服务窗口", CONTACT, "不予受理决定书"):
        assert shown in body
    # the record ended: nothing more can be done to it
    assert _fire(api, declined, "accept").status_code == 409
