"""Worklists through the API: my tasks, my department's queue, awaiting my acknowledgement, due soon, overdue,
and the lists of what I was told (copied to me, urged, delegated by me); paged by cursor, refused politely."""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from counterflow.core.calendar import WorkCalendar
from counterflow.core.clock import stamp, utcnow
from forms import COMPLETE, publish, upload


def user_id(api: Any, name: str) -> str:
    users = api.get("/api/v1/users", "admin").get_json()["items"]
    return next(u["id"] for u in users if u["username"] == name)


def fire(api: Any, record: dict[str, Any], trigger: str, who: str, **extra: Any) -> dict[str, Any]:
    r = api.post(f"/api/v1/records/{record['id']}/transitions/{trigger}", who,
                 json={"revision": record["revision"], **extra})
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def accepted(api: Any) -> dict[str, Any]:
    data = dict(COMPLETE, licence_copy=upload(api))
    r = api.post("/api/v1/records", "clerk", json={"form": "parking-permit", "data": data})
    assert r.status_code == 201, r.get_json()
    return fire(api, r.get_json(), "accept", "clerk")


def ids(api: Any, name: str, who: str, **params: Any) -> list[str]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    r = api.get(f"/api/v1/worklists/{name}?{query}", who)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    return [item.get("record_id") or item["id"] for item in body["items"]]


def test_record_worklists_follow_the_record(staff: Any) -> None:
    publish(staff)
    first, second = accepted(staff), accepted(staff)
    assert ids(staff, "department", "head") == [second["id"], first["id"]]        # newest first
    assert ids(staff, "department", "outsider") == []                             # another department
    page = staff.get("/api/v1/worklists/department?limit=1", "head").get_json()
    assert [r["id"] for r in page["items"]] == [second["id"]] and page["kind"] == "records"
    more = staff.get(f"/api/v1/worklists/department?limit=1&cursor={page['next_cursor']}", "head").get_json()
    assert [r["id"] for r in more["items"]] == [first["id"]] and more["next_cursor"] is None

    record = fire(staff, first, "assign", "head", assignee=user_id(staff, "reviewer"))
    assert ids(staff, "acknowledge", "reviewer") == [record["id"]]
    assert ids(staff, "mine", "reviewer") == [record["id"]]
    record = fire(staff, record, "acknowledge", "reviewer")
    assert ids(staff, "acknowledge", "reviewer") == []
    assert ids(staff, "mine", "reviewer") == [record["id"]]

    # the clock: due within a working day (settings.due_soon_days), or past due (states whose clock runs)
    store = staff.client.application.extensions["counterflow"].store
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    soon = WorkCalendar().add_working_days(today, 1).isoformat()
    store.records.update_one({"_id": record["id"]}, {"$set": {"due_at": soon}})
    assert ids(staff, "due_soon", "reviewer") == [record["id"]] and ids(staff, "overdue", "reviewer") == []
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    store.records.update_one({"_id": record["id"]}, {"$set": {"due_at": yesterday}})
    assert ids(staff, "overdue", "reviewer") == [record["id"]] and ids(staff, "due_soon", "reviewer") == []
    assert record["id"] in ids(staff, "overdue", "boss")          # a records-wide role sees every one
    assert ids(staff, "overdue", "outsider") == []

    record = fire(staff, record, "approve", "reviewer", opinion="同意")
    assert ids(staff, "mine", "reviewer") == []                   # decided: no longer a task


def test_told_worklists_copied_urged_delegated(staff: Any) -> None:
    service = staff.client.application.extensions["counterflow"].service
    reviewer, head = user_id(staff, "reviewer"), user_id(staff, "head")
    at = stamp(utcnow())

    def event(n: int, kind: str, actor: str, to: list[str]) -> dict[str, Any]:
        return {"_id": f"rec-{n}:1", "kind": "record", "object_id": f"rec-{n}", "revision": 1, "at": at,
                "actor": {"id": actor, "username": actor, "name": ""}, "trigger": kind, "outcome": "done",
                "notify": {"kind": kind, "to": to, "applicant": False}}

    service.store.copy_events([event(1, "copied", head, [reviewer]), event(2, "urged", head, [reviewer]),
                               event(3, "delegated", head, [reviewer]), event(4, "copied", head, [head])])
    service.pump_notifications()
    assert ids(staff, "copied", "reviewer") == ["rec-1"]
    assert ids(staff, "urged", "reviewer") == ["rec-2"]
    assert ids(staff, "delegated", "head") == ["rec-3"]            # delegated BY me
    assert ids(staff, "delegated", "reviewer") == []
    assert ids(staff, "copied", "head") == ["rec-4"]
    listed = staff.get("/api/v1/worklists/copied", "reviewer").get_json()
    assert listed["kind"] == "entries" and listed["items"][0]["kind"] == "copied"


def test_worklists_refuse_unknown_names_strangers_and_bad_paging(staff: Any) -> None:
    r = staff.get("/api/v1/worklists/everything", "clerk")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_worklist"
    assert "工作清单" in r.get_json()["error"]["message"]
    en = staff.get("/api/v1/worklists/everything", "clerk", headers={"Accept-Language": "en"})
    assert "There is no worklist" in en.get_json()["error"]["message"]
    assert staff.get("/api/v1/worklists/mine").status_code == 401
    assert staff.get("/api/v1/worklists/mine", "admin").status_code == 403       # no staff role
    assert staff.get("/api/v1/worklists/mine?limit=0", "clerk").status_code == 422
    assert staff.get("/api/v1/worklists/mine?bogus=1", "clerk").status_code == 422
    assert staff.get("/api/v1/worklists/mine?cursor=" + "x" * 400, "clerk").status_code == 422
    assert staff.get("/api/v1/worklists/mine?cursor[$ne]=1", "clerk").status_code == 422


def test_an_approval_steps_copy_urge_and_delegation_reach_the_worklists(tmp_path: Any, config: Any) -> None:
    """The approval steps' own events (抄送, 催办, 委派) fill "copied to me", "urged" and "delegated by me"."""
    from conftest import add_staff, running_app, signed_in
    from forms import permit
    from test_approval_api import COUNCIL, PEOPLE, _act, _fire, _new, _ok

    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "council.yaml").write_text(COUNCIL, "utf-8")
    with running_app({**config, "COUNTERFLOW_WORKFLOWS_DIR": str(folder)}) as app:
        api = add_staff(signed_in(app.test_client()))
        for name, roles, department in PEOPLE:
            api.add_user(name, roles, department)
        settings = {**permit()["settings"], "processes": ["intake", "council"]}
        form = permit(key="council-permit", settings=settings)
        del form["schema"]["properties"]["licence_copy"]
        publish(api, form)
        record = _fire(api, _new(api), "to_joint", "head")
        record = _ok(_act(api, record, "copy", "r2", users=[user_id(api, "outsider")]))
        record = _ok(_act(api, record, "urge", "clerk"))
        for who in ("r1", "r3", "r2"):
            record = _ok(_act(api, record, "approve", who, opinion=f"{who} 同意"))
        assert record["state"] == "chain"
        record = _ok(_act(api, record, "delegate", "s1", to=user_id(api, "s3")))
        app.extensions["counterflow"].service.pump_notifications()
        assert ids(api, "copied", "outsider") == [record["id"]]
        assert ids(api, "urged", "r2") == ids(api, "urged", "r3") == [record["id"]]
        assert ids(api, "delegated", "s1") == [record["id"]]
        assert [e["kind"] for e in api.get("/api/v1/inbox", "s3").get_json()["items"]] == ["delegated"]
        # "my tasks" holds the approval steps whose task I hold now: the delegate's, not the delegator's
        assert ids(api, "mine", "s3") == [record["id"]]
        assert ids(api, "mine", "s1") == ids(api, "mine", "s2") == []
        record = _ok(_act(api, record, "approve", "s3", opinion="经核实无误"))
        record = _ok(_act(api, record, "approve", "s1", opinion="同意"))
        app.extensions["counterflow"].service.pump_notifications()
        assert ids(api, "mine", "s1") == ids(api, "mine", "s3") == []
        assert ids(api, "mine", "s2") == [record["id"]]                 # 依次: s2's turn now
