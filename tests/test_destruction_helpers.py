"""Shared by the destruction and certificate tests (no tests here): records archived past (or before) their
retention, and a destruction list walked through its process over the API."""
from __future__ import annotations

import itertools
from typing import Any

from forms import COMPLETE, publish, upload

PAST = "2020-01-01"             # a retention that ended long ago
FUTURE = "2099-12-31"           # one that has not
_serial = itertools.count(1)


def prepare(api: Any) -> None:
    """The test form, published; two more approvers and a person holding two roles for the duty tests."""
    publish(api)
    api.add_user("boss2", ["manager"])
    api.add_user("keeperboss", ["archivist", "manager"])
    api.add_user("bosswitness", ["manager", "supervisor"])


def archived_record(api: Any, app: Any, *, retention: str = PAST, plate: str | None = None,
                    file_content: bytes | None = None) -> dict[str, Any]:
    """A record created and edited through the API (its history holds the old and the new plate), then, in
    the store, archived with `retention` as its retention date (what archiving and the years between do)."""
    n = next(_serial)
    first = f"京F{n:05d}"
    data = dict(COMPLETE, plate=first, email=f"marker{n:05d}@example.org")
    if file_content is not None:
        data["licence_copy"] = upload(api, content=file_content)
    r = api.post("/api/v1/records", "clerk", json={"form": "parking-permit", "data": data})
    assert r.status_code == 201, r.get_json()
    record = r.get_json()
    data["plate"] = plate or f"京G{n:05d}"
    r = api.patch(f"/api/v1/records/{record['id']}", "clerk",
                  json={"data": data, "revision": record["revision"]})
    assert r.status_code == 200, r.get_json()
    store = app.extensions["counterflow"].store
    store.records.update_one({"_id": record["id"]}, {"$set": {
        "process": "archive", "state": "archived", "retention_until": retention,
        "acceptance_number": f"PK-T-{n:06d}", "accepted_at": "2014-01-02T00:00:00.000Z"}})
    return dict(r.get_json(), first_plate=first, plate=data["plate"], email=data["email"],
                number=f"PK-T-{n:06d}")


def new_list(api: Any, records: list[dict[str, Any]], who: str = "keeper", **early: Any) -> dict[str, Any]:
    r = api.post("/api/v1/destructions", who, json={"title": "2026 年第一批", "note": "到期档案"})
    assert r.status_code == 201, r.get_json()
    listed = r.get_json()
    body: dict[str, Any] = {"records": [{"id": x["id"], "note": f"note {x['id'][-4:]}"} for x in records]}
    if early:
        body["early"] = early
    r = api.post(f"/api/v1/destructions/{listed['id']}/items", who, json=body)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def fire(api: Any, listed: dict[str, Any], trigger: str, who: str, opinion: str = "同意") -> Any:
    current = api.get(f"/api/v1/destructions/{listed['id']}", who).get_json()
    return api.post(f"/api/v1/destructions/{listed['id']}/transitions/{trigger}", who,
                    json={"revision": current["revision"], "opinion": opinion})


def approved(api: Any, records: list[dict[str, Any]], approvers: tuple[str, str] = ("boss", "head"),
             author: str = "keeper") -> dict[str, Any]:
    """A list of `records`, submitted and approved twice: in its cooling-off period."""
    listed = new_list(api, records, author)
    for trigger, who in (("submit", author), ("approve", approvers[0]), ("approve", approvers[1])):
        r = fire(api, listed, trigger, who)
        assert r.status_code == 200, (trigger, who, r.get_json())
    return r.get_json()
