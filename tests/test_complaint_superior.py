"""When a complaint's limit cannot be met (issue 8, item 7), the complainant is told why within the limit and
the superior is informed: the transition's `notifies: {kind: escalated, superior: true}` tells the department
head of the unit handling it (in the inbox, and by mail to a real local SMTP server where they have an
address), or the level above (the managers) where that unit has no head."""
from __future__ import annotations

from typing import Any

import pytest

import test_notify
from conftest import Api, add_staff, signed_in
from test_complaints import _fire, _new, _ok
from test_notify import SmtpServer

notify_app, ports = test_notify.notify_app, test_notify.ports          # the fixtures, used by name


@pytest.fixture
def api(notify_app: Any) -> Api:
    return add_staff(signed_in(notify_app.test_client()))


def _ids(api: Api) -> dict[str, str]:
    return {u["username"]: u["id"] for u in api.get("/api/v1/users", "admin").get_json()["items"]}


def _inbox(api: Api, user_id: str, record_id: str) -> list[str]:
    service = api.client.application.extensions["counterflow"].service
    found = service.store.db["inbox"].find({"user": user_id, "record_id": record_id})
    return sorted(e["kind"] for e in found)


def test_the_unit_s_head_is_told_when_the_limit_cannot_be_met(api: Api, ports: dict[str, int]) -> None:
    service = api.client.application.extensions["counterflow"].service
    service.store.users.update_one({"username": "head"}, {"$set": {"email": "head@example.gov.cn"}})
    ids = _ids(api)
    record = _new(api)                                            # counter-1, where `head` heads the unit
    record = _ok(_fire(api, record, "explain_delay", reason="需调取监控录像核实，今日无法办结"))
    assert record["delay_notices"][0]["reason"] == "需调取监控录像核实，今日无法办结"     # why, kept
    event = api.get(f"/api/v1/records/{record['id']}/history", "clerk").get_json()["items"][-1]
    assert event["trigger"] == "explain_delay" and event["notify"]["kind"] == "escalated"
    assert event["notify"]["superior"] == [ids["head"]] and ids["head"] in event["notify"]["to"]
    with SmtpServer(ports["smtp"]) as smtp:
        service.pump_notifications()
        service.pump_notifications()                               # once: nothing is sent twice
    assert _inbox(api, ids["head"], record["id"]) == ["escalated"]
    assert [m["to"] for m in smtp.box.messages] == [["head@example.gov.cn"]]
    assert _inbox(api, ids["boss"], record["id"]) == []        # the unit has a head: not the level above
    assert _inbox(api, ids["clerk"], record["id"]) == []             # whoever explained it is not told again


def test_the_level_above_is_told_where_the_unit_has_no_head(api: Api) -> None:
    service = api.client.application.extensions["counterflow"].service
    ids = _ids(api)
    record = _new(api, who="outsider")                              # counter-2: no department head there
    record = _ok(_fire(api, record, "explain_delay", "outsider", reason="需总行协调"))
    event = api.get(f"/api/v1/records/{record['id']}/history", "boss").get_json()["items"][-1]
    assert event["notify"]["superior"] == [ids["boss"]]
    service.pump_notifications()
    assert _inbox(api, ids["boss"], record["id"]) == ["escalated"]
    assert _inbox(api, ids["head"], record["id"]) == []


def test_escalating_to_the_level_above_tells_the_superior_too(api: Api) -> None:
    service = api.client.application.extensions["counterflow"].service
    ids = _ids(api)
    record = _new(api)
    record = _ok(_fire(api, record, "escalate", reason="需分行协调"))
    service.pump_notifications()
    assert _inbox(api, ids["head"], record["id"]) == ["escalated"]
