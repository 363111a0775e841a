"""Complaints (issue 8, item 7): the shipped form `complaint` and its process, walked through the API: the
first receiver owns it, the deadline follows its level, the delay notice needs a reason and tells the
superior,
escalation, the answer with its reconsideration route, reconsideration decided by the level above within 10
working days, and the callbacks (every one by the handling unit; the level above's reproducible sample)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest

from conftest import Api, add_staff, running_app, signed_in, stored_record
from counterflow.core.calendar import WorkCalendar
from counterflow.core.complaints import CALLBACK_SAMPLE_PERCENT, in_callback_sample

SHANGHAI = ZoneInfo("Asia/Shanghai")
IDENTITY = {"complainant_name": "张三丰", "complainant_phone": "13800138000",
            "complainant_id_number": "11010519491231002X"}


@pytest.fixture
def world(config: dict[str, Any]) -> Iterator[tuple[Any, Api]]:
    with running_app({**config, "COUNTERFLOW_TICK_EVERY_SECONDS": 0}) as app:
        yield app, add_staff(signed_in(app.test_client()))


def _new(api: Api, level: str = "counter", who: str = "clerk", **data: Any) -> dict[str, Any]:
    body = {"channel": "hotline", "level": level, "subject": "柜台收取了不应收取的手续费", "received_date":
            dt.datetime.now(SHANGHAI).date().isoformat(), **IDENTITY, **data}
    r = api.post("/api/v1/records", who, json={"form": "complaint", "data": body})
    assert r.status_code == 201, r.get_json()
    record = r.get_json()
    assert record["process"] == "complaint" and record["state"] == "received"
    return _ok(_fire(api, record, "register", who))


def _fire(api: Api, record: dict[str, Any], trigger: str, who: str = "clerk", **extra: Any) -> Any:
    return api.post(f"/api/v1/records/{record['id']}/transitions/{trigger}", who,
                    json={"revision": record["revision"], **extra})


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def _due(days: int) -> str:
    return WorkCalendar().add_working_days(dt.datetime.now(SHANGHAI).date(), days).isoformat()


def _classify(api: Api, record: dict[str, Any], fault: str = "counter_fee") -> dict[str, Any]:
    data = {k: v for k, v in record["data"].items()}
    data.update(IDENTITY, fault=fault)
    r = api.patch(f"/api/v1/records/{record['id']}", "clerk",
                  json={"revision": record["revision"], "data": data})
    return _ok(r)


@pytest.mark.parametrize(("level", "days"), [("counter", 1), ("regional", 2), ("head_office", 3)])
def test_the_deadline_follows_the_level(world: Any, level: str, days: int) -> None:
    app, api = world
    record = _new(api, level)
    assert record["state"] == "handling"
    assert record["due_at"] == _due(days)
    stored = stored_record(app, record["id"])
    assert stored["first_responder"] == stored["created_by"]


def test_a_complaint_through_escalation_answer_reconsideration_and_callbacks(world: Any) -> None:
    app, api = world
    record = _new(api)
    # first receiver owns it: another clerk may not escalate or explain the delay
    r = _fire(api, record, "escalate", "clerk2", reason="需分行协调")
    assert r.status_code in (403, 422), r.get_json()
    # the limit cannot be met: a reason is required, the complainant is told and the superior informed
    r = _fire(api, record, "explain_delay")
    assert r.status_code == 422 and "reason" in str(r.get_json())
    record = _ok(_fire(api, record, "explain_delay", reason="需调取监控录像核实，今日无法办结"))
    assert record["state"] == "raised"
    assert record["delay_notices"][0]["reason"] == "需调取监控录像核实，今日无法办结"
    history = api.get(f"/api/v1/records/{record['id']}/history", "clerk").get_json()["items"]
    assert history[-1]["trigger"] == "explain_delay"
    assert history[-1]["notify"]["kind"] == "escalated" and history[-1]["to"] == "raised"
    # the level above takes it: the level changes, so does the deadline
    data = dict(record["data"], **IDENTITY, level="regional")
    record = _ok(api.patch(f"/api/v1/records/{record['id']}", "clerk",
                           json={"revision": record["revision"], "data": data}))
    # the answer needs the fault classification first, and an opinion (the answer's text)
    r = _fire(api, record, "reply", "head", opinion="经核实，手续费系误收，已退还")
    assert r.status_code == 422 and "/fault" in str(r.get_json())
    record = _classify(api, record)
    assert record["data"]["fault"] == "counter_fee"
    record = _ok(_fire(api, record, "reply", "head", opinion="经核实，手续费系误收，已退还"))
    assert record["state"] == "answered"
    answer = record["answer"]
    assert answer["reconsider_by"] == (dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=15)).isoformat()
    assert "15" in answer["route"]["zh-CN"] and "10" in answer["route"]["en"]
    # reconsideration: asked within 15 days, decided by the level above within 10 working days
    record = _ok(_fire(api, record, "reconsider", reason="投诉人认为退还金额不足"))
    assert record["state"] == "reconsideration" and record["due_at"] == _due(10)
    r = _fire(api, record, "decide_reconsideration", "clerk", opinion="维持")
    assert r.status_code == 403
    record = _ok(_fire(api, record, "decide_reconsideration", "boss", opinion="复议决定：补足差额"))
    assert record["state"] == "answered" and len(record["answers"]) == 2
    # callbacks: the handling unit always; the level above when the recorded, reproducible draw picks it
    r = _fire(api, record, "callback")
    assert r.status_code == 422
    record = _ok(_fire(api, record, "callback", opinion="投诉人表示满意"))
    picked, draw = in_callback_sample(record["id"])
    assert record["callback_sample"]["selected"] is picked and record["callback_sample"]["draw"] == draw
    assert record["callback_sample"]["percent"] == CALLBACK_SAMPLE_PERCENT
    if picked:
        assert record["state"] == "superior_callback"
        assert _fire(api, record, "close").status_code in (403, 409, 422)
        record = _ok(_fire(api, record, "superior_callback", "head", opinion="抽样回访：满意"))
        assert [c["level"] for c in record["callbacks"]] == ["unit", "above"]
    assert record["state"] == "called_back"
    record = _ok(_fire(api, record, "close"))
    assert record["state"] == "closed"


def test_the_sample_is_drawn_both_ways_and_covers_at_least_its_share() -> None:
    ids = [f"01J{n:023d}" for n in range(2000)]
    picked = [i for i in ids if in_callback_sample(i)[0]]
    assert in_callback_sample(ids[0]) == in_callback_sample(ids[0])            # reproducible
    assert 0.27 < len(picked) / len(ids) < 0.33


def test_a_sampled_complaint_waits_for_the_level_above(world: Any) -> None:
    _, api = world
    for _ in range(60):           # ids are random: make complaints until one falls in the sample
        record = _classify(api, _new(api))
        if in_callback_sample(record["id"])[0]:
            break
    else:                         # 0.7**60: about one run in 2 * 10**9; never a silent skip
        raise AssertionError("no complaint drawn into the 30% sample in 60 tries")
    record = _ok(_fire(api, record, "reply", opinion="已退还误收手续费"))
    record = _ok(_fire(api, record, "callback", opinion="满意"))
    assert record["state"] == "superior_callback" and record["callback_sample"]["selected"] is True
    r = _fire(api, record, "superior_callback", "clerk", opinion="满意")
    assert r.status_code == 403
    record = _ok(_fire(api, record, "superior_callback", "head", opinion="抽样回访：满意"))
    assert record["state"] == "called_back"


def test_reconsideration_is_refused_after_fifteen_days(world: Any) -> None:
    app, api = world
    record = _ok(_fire(api, _classify(api, _new(api)), "reply", opinion="已处理"))
    late = (dt.datetime.now(SHANGHAI).date() - dt.timedelta(days=1)).isoformat()
    app.extensions["counterflow"].service.store.db.records.update_one(
        {"_id": record["id"]}, {"$set": {"answer.reconsider_by": late}})
    r = _fire(api, record, "reconsider", reason="不服")
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["code"] == "reconsideration_too_late"
    assert stored_record(app, record["id"])["state"] == "answered"


def test_the_complainants_identity_is_masked(world: Any) -> None:
    _, api = world
    record = _new(api)
    for who in ("clerk", "head"):
        got = api.get(f"/api/v1/records/{record['id']}", who).get_json()
        assert got["data"]["complainant_name"] != IDENTITY["complainant_name"]
        assert got["data"]["complainant_id_number"] != IDENTITY["complainant_id_number"]
    assert api.get(f"/api/v1/records/{record['id']}", "outsider").status_code in (403, 404)


def test_the_first_receiver_hands_it_on_with_a_handover_entry(world: Any) -> None:
    app, api = world
    record = _new(api)
    reviewer = api.get("/api/v1/me", "reviewer").get_json()["id"]
    assert _fire(api, record, "hand_over", "clerk2", assignee=reviewer, reason="x").status_code in (403, 422)
    r = _fire(api, record, "hand_over", assignee=reviewer)
    assert r.status_code == 422                                           # the reason is required
    record = _ok(_fire(api, record, "hand_over", assignee=reviewer, reason="需业务主管核实"))
    assert record["state"] == "handling" and record["assignee"] == reviewer
    entry = stored_record(app, record["id"])["handovers"][0]
    assert entry["to"] == reviewer and entry["from"] == entry["by"] and entry["state"] == "handling"
    # the new owner explains a delay; the first receiver no longer may
    assert _fire(api, record, "explain_delay", reason="x").status_code in (403, 422)
    record = _ok(_fire(api, record, "explain_delay", "reviewer", reason="需调取录像"))
    assert record["state"] == "raised"
