"""Helpers the archive, reading and hold tests share: forms with and without sensitive fields, a record walked
through intake and review into the archive, query requests. (No tests here.)"""
from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from counterflow.core import clock
from forms import COMPLETE, PERMIT, publish, upload

ZONE = dt.timezone(dt.timedelta(hours=8))        # Asia/Shanghai, the counter's calendar


def plain_form() -> dict[str, Any]:
    """The permit form without sensitive fields (a record of it needs the department head's approval only)."""
    definition = copy.deepcopy(PERMIT)
    definition["key"] = "visit-permit"
    for spec in definition["schema"]["properties"].values():
        spec.pop("x-sensitive", None)
    return definition


def today(days: int = 0) -> str:
    return (clock.utcnow().astimezone(ZONE).date() + dt.timedelta(days=days)).isoformat()


def fire(api: Any, record: dict[str, Any], trigger: str, who: str, **extra: Any) -> Any:
    return api.post(f"/api/v1/records/{record['id']}/transitions/{trigger}", who,
                    json={"revision": record["revision"], **extra})


def user_id(api: Any, username: str) -> str:
    users = api.get("/api/v1/users", "admin").get_json()["items"]
    return next(u["id"] for u in users if u["username"] == username)


def archived_record(api: Any, form: str = "visit-permit", before_archive: Any = None,
                    **data: Any) -> dict[str, Any]:
    """A record of `form` taken in by clerk, reviewed, approved and archived by keeper (the archivist)."""
    data = dict(COMPLETE, licence_copy=upload(api), **data)
    r = api.post("/api/v1/records", "clerk", json={"form": form, "data": data})
    assert r.status_code == 201, r.get_json()
    record = r.get_json()
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("accept", "clerk", {}), ("assign", "head", {"assignee": user_id(api, "reviewer")}),
        ("acknowledge", "reviewer", {}), ("approve", "reviewer", {"opinion": "同意"}),
        ("archive", "keeper", {})]
    for trigger, who, extra in steps:
        if trigger == "archive" and before_archive is not None:
            before_archive(record)
        r = fire(api, record, trigger, who, **extra)
        assert r.status_code == 200, (trigger, r.get_json())
        record = r.get_json()
    assert (record["process"], record["state"]) == ("archive", "archived")
    return record


def setup_forms(api: Any) -> None:
    publish(api)                       # parking-permit: sensitive fields (name, id number, phone)
    publish(api, plain_form())         # visit-permit: none


def query_request(api: Any, who: str, records: list[str], **extra: Any) -> dict[str, Any]:
    payload = {"purpose": "核对历史办理情况", "records": records, "period_from": today(),
               "period_until": today(30), **extra}
    r = api.post("/api/v1/query-requests", who, json=payload)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def move(api: Any, request: dict[str, Any], trigger: str, who: str, **extra: Any) -> Any:
    return api.post(f"/api/v1/query-requests/{request['id']}/transitions/{trigger}", who,
                    json={"revision": request["revision"], **extra})


def submitted(api: Any, request: dict[str, Any], requester: str) -> dict[str, Any]:
    r = move(api, request, "submit", requester)
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def approved(api: Any, request: dict[str, Any], *approvers: str) -> dict[str, Any]:
    """`request` approved by each of `approvers` in turn."""
    for who in approvers:
        r = move(api, request, "approve", who, opinion="同意")
        assert r.status_code == 200, (who, r.get_json())
        request = r.get_json()
    return request
