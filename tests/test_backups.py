"""A/B posts (issue 8, item 3): a backup acts on the holder's records within the holder's roles while the post
runs, the history says on whose behalf, separation of duties counts both people, hostile input is a 4xx."""
from __future__ import annotations

import datetime as dt
from typing import Any

from conftest import Api, stored_record
from forms import COMPLETE, publish, upload


def _user_id(staff: Api, username: str) -> str:
    return str(next(u["id"] for u in staff.get("/api/v1/users", "admin").get_json()["items"]
                    if u["username"] == username))


def _today(staff: Api) -> dt.date:
    tz = staff.client.application.extensions["counterflow"].service.tz
    return dt.datetime.now(dt.timezone.utc).astimezone(tz).date()


def _new(staff: Api, who: str = "clerk") -> dict[str, Any]:
    data = dict(COMPLETE, licence_copy=upload(staff, who))
    r = staff.post("/api/v1/records", who, json={"form": "parking-permit", "data": data})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def _fire(staff: Api, record: dict[str, Any], trigger: str, who: str, **extra: Any) -> Any:
    return staff.post(f"/api/v1/records/{record['id']}/transitions/{trigger}", who,
                      json={"revision": record["revision"], **extra})


def _name(staff: Api, who: str, backup: str, start: dt.date, until: dt.date) -> Any:
    return staff.post("/api/v1/me/backups", who,
                      json={"backup": backup, "from": start.isoformat(), "until": until.isoformat()})


def _error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.get_json()
    return dict(r.get_json()["error"])


def test_a_backup_accepts_for_an_absent_clerk_only_while_the_post_runs(staff: Api) -> None:
    publish(staff)
    today = _today(staff)
    clerk = _user_id(staff, "clerk")
    record = _new(staff, "clerk")
    # the outsider (another department) neither sees the record nor backs the clerk yet
    assert _error(_fire(staff, record, "accept", "outsider"), 403)["code"] == "record_access"
    refused = _error(_fire(staff, record, "accept", "outsider", on_behalf_of="clerk"), 403)
    assert refused["code"] == "not_a_backup" and "替岗" in refused["message"]
    r = staff.post(f"/api/v1/records/{record['id']}/transitions/accept?lang=en", "outsider",
                   json={"revision": record["revision"], "on_behalf_of": "clerk"})
    assert "/api/v1/me/backups" in _error(r, 403)["message"] and "backup" in _error(r, 403)["message"]

    # a post that starts tomorrow does not run yet
    later = _name(staff, "clerk", "outsider", today + dt.timedelta(days=1), today + dt.timedelta(days=3))
    assert later.status_code == 201 and later.get_json()["active"] is False
    assert _error(_fire(staff, record, "accept", "outsider", on_behalf_of="clerk"), 403)["code"] == \
        "not_a_backup"

    # one that runs today: the backup accepts as the clerk would, and the history says on whose behalf
    post = _name(staff, "clerk", "outsider", today - dt.timedelta(days=1), today + dt.timedelta(days=6))
    assert post.status_code == 201, post.get_json()
    post = post.get_json()
    assert post["active"] is True and post["holder"]["username"] == "clerk"
    assert post["backup"]["username"] == "outsider"
    assert post["from"] == (today - dt.timedelta(days=1)).isoformat()
    r = _fire(staff, record, "accept", "outsider", on_behalf_of="clerk")
    assert r.status_code == 200, r.get_json()
    record = r.get_json()
    assert record["acceptance_number"] and record["process"] == "review"
    history = staff.get(f"/api/v1/records/{record['id']}/history", "clerk").get_json()["items"]
    accept = next(e for e in history if e["trigger"] == "accept" and e["outcome"] == "done")
    assert accept["actor"]["username"] == "outsider"
    assert accept["on_behalf_of"] == {"id": clerk, "username": "clerk", "name": "Clerk"}
    assert clerk in accept["notify"]["to"]                           # the holder sees what was done
    assert stored_record(staff.client.application, record["id"])["duties"]["acceptor"] == \
        [_user_id(staff, "outsider")]

    # both see the post; ending it stops the backup at once
    mine = staff.get("/api/v1/me/backups", "clerk").get_json()
    assert {p["id"] for p in mine["holding"]} == {post["id"], later.get_json()["id"]}
    assert mine["backing"] == []
    assert [p["id"] for p in staff.get("/api/v1/me/backups", "outsider").get_json()["backing"]] != []
    stranger = staff.call("DELETE", f"/api/v1/me/backups/{post['id']}", "clerk2")
    assert _error(stranger, 403)["code"] == "not_yours"
    ended = staff.call("DELETE", f"/api/v1/me/backups/{post['id']}", "clerk")
    assert ended.status_code == 200 and ended.get_json()["active"] is False and ended.get_json()["ended_at"]
    other = _new(staff, "clerk")
    assert _error(_fire(staff, other, "accept", "outsider", on_behalf_of="clerk"), 403)["code"] == \
        "not_a_backup"
    assert stored_record(staff.client.application, other["id"])["state"] == "draft"


def test_no_backup_takes_a_step_that_separation_forbids_the_holder(staff: Api) -> None:
    publish(staff)
    staff.add_user("both", ["clerk", "reviewer"])
    both = _user_id(staff, "both")
    app = staff.client.application
    record = _new(staff, "clerk")
    r = _fire(staff, record, "accept", "both")
    assert r.status_code == 200, r.get_json()
    # the acceptor is (wrongly) the reviewer of record; their backup may not approve in their stead
    store = app.extensions["counterflow"].store
    store.records.update_one({"_id": record["id"]}, {"$set": {"state": "in_progress", "assignee": both}})
    record = staff.get(f"/api/v1/records/{record['id']}", "both").get_json()
    today = _today(staff)
    assert _name(staff, "both", "clerk2", today, today).status_code == 201
    r = _fire(staff, record, "approve", "clerk2", on_behalf_of="both", opinion="同意")
    error = _error(r, 422)
    assert [(d["path"], d["code"]) for d in error["details"]] == [("", "separation_of_duties")]
    assert "受理人" in error["details"][0]["message"]
    assert stored_record(app, record["id"])["state"] == "in_progress"


def test_an_admin_names_a_backup_for_anyone_and_only_an_admin(staff: Api) -> None:
    today = _today(staff)
    body = {"backup": "clerk2", "from": today.isoformat(), "until": today.isoformat()}
    r = staff.post("/api/v1/users/clerk/backups", "admin", json=body)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["holder"]["username"] == "clerk"
    assert r.get_json()["created_by"] == _user_id(staff, "admin")
    assert _error(staff.post("/api/v1/users/clerk/backups", "clerk2", json=body), 403)["code"] == "role"
    nobody = staff.post("/api/v1/users/nobody/backups", "admin", json=body)
    assert _error(nobody, 422)["code"] == "unknown_user"


def test_hostile_or_wrong_posts_are_refused_with_a_reason(staff: Api) -> None:
    today = _today(staff)
    iso = today.isoformat()
    cases = [
        ({"backup": "clerk", "from": iso, "until": iso}, "same_person"),
        ({"backup": "ghost", "from": iso, "until": iso}, "unknown_user"),
        ({"backup": "clerk2", "from": iso, "until": (today - dt.timedelta(days=1)).isoformat()}, "reversed"),
        ({"backup": "clerk2", "from": iso, "until": (today + dt.timedelta(days=366)).isoformat()},
         "too_long"),
    ]
    for payload, code in cases:
        error = _error(staff.post("/api/v1/me/backups", "clerk", json=payload), 422)
        assert error["code"] == code and any("\u4e00" <= c <= "\u9fff" for c in error["message"])
    assert _name(staff, "clerk", "clerk2", today, today + dt.timedelta(days=365)).status_code == 201
    hostile: list[dict[str, Any]] = [{"backup": {"$ne": None}, "from": iso, "until": iso},
                                     {"backup": "clerk2", "from": {"$ne": None}, "until": iso},
                                     {"backup": "clerk2", "from": "not a date", "until": iso},
                                     {"backup": "clerk2", "from": iso}]
    for payload in hostile:
        r = staff.post("/api/v1/me/backups", "clerk", json=payload)
        assert r.status_code == 422, (payload, r.get_json())
    publish(staff)
    record = _new(staff, "clerk")
    assert _fire(staff, record, "accept", "clerk2", on_behalf_of={"$ne": None}).status_code == 422
    ghost = _fire(staff, record, "accept", "clerk2", on_behalf_of="ghost")
    assert _error(ghost, 403)["code"] == "not_a_backup"
    assert _error(staff.call("DELETE", "/api/v1/me/backups/nope", "clerk"), 404)["code"] == "not_found"
    too_long = staff.call("DELETE", "/api/v1/me/backups/" + "x" * 200, "clerk")
    assert _error(too_long, 404)["code"] == "not_found"
    assert stored_record(staff.client.application, record["id"])["state"] == "draft"
