"""A/B posts (issue 8, item 3), the lists: while the post runs, the backup reads the holder's worklists
(`?on_behalf_of=<holder>`: the holder's tasks and queue as the holder sees them), and the holder sees what was
done on their behalf (an inbox entry and the worklist `on_my_behalf`), whatever else the transition notifies.
Before the post starts, after it ends, or for anyone else's list, the backup is refused (403 not_a_backup)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from conftest import Api
from forms import publish
from test_backups import _error, _fire, _name, _new, _today, _user_id


def _list(staff: Api, name: str, who: str, holder: str | None = None) -> Any:
    query = f"?on_behalf_of={holder}" if holder else ""
    return staff.get(f"/api/v1/worklists/{name}{query}", who)


def _ids(r: Any) -> list[str]:
    assert r.status_code == 200, r.get_json()
    return [i["id"] if r.get_json()["kind"] == "records" else i["record_id"] for i in r.get_json()["items"]]


def test_the_backup_reads_the_holder_s_worklists_only_while_the_post_runs(staff: Api) -> None:
    publish(staff)
    record = _new(staff)
    r = _fire(staff, record, "accept", "clerk")
    assert r.status_code == 200, r.get_json()
    record = r.get_json()
    r = _fire(staff, record, "assign", "head", assignee=_user_id(staff, "reviewer"))
    assert r.status_code == 200, r.get_json()
    assigned = r.get_json()
    today = _today(staff)
    # no post yet: the reviewer's lists are the reviewer's own
    assert _error(_list(staff, "mine", "outsider", "reviewer"), 403)["code"] == "not_a_backup"
    assert assigned["id"] in _ids(_list(staff, "mine", "reviewer"))
    post = _name(staff, "reviewer", "outsider", today, today + dt.timedelta(days=3))
    assert post.status_code == 201, post.get_json()
    # the post runs: the reviewer's tasks, as the reviewer sees them; the backup's own lists stay theirs
    for name in ("mine", "acknowledge", "department"):
        assert assigned["id"] in _ids(_list(staff, name, "outsider", "reviewer")), name
    assert assigned["id"] not in _ids(_list(staff, "mine", "outsider"))
    assert assigned["id"] not in _ids(_list(staff, "department", "outsider"))     # counter-2's queue
    # only the holder's: not anybody else's lists
    assert _error(_list(staff, "mine", "outsider", "clerk"), 403)["code"] == "not_a_backup"
    assert _error(_list(staff, "mine", "clerk2", "reviewer"), 403)["code"] == "not_a_backup"
    ended = staff.call("DELETE", f"/api/v1/me/backups/{post.get_json()['id']}", "reviewer")
    assert ended.status_code == 200
    assert _error(_list(staff, "mine", "outsider", "reviewer"), 403)["code"] == "not_a_backup"


def test_a_post_that_has_not_started_shows_nothing(staff: Api) -> None:
    today = _today(staff)
    assert _name(staff, "clerk", "outsider", today + dt.timedelta(days=2),
                 today + dt.timedelta(days=5)).status_code == 201
    r = _list(staff, "department", "outsider", "clerk")
    assert _error(r, 403)["code"] == "not_a_backup"
    assert "替岗" in r.get_json()["error"]["message"]
    en = staff.get("/api/v1/worklists/department?on_behalf_of=clerk&lang=en", "outsider")
    assert "backup" in _error(en, 403)["message"]


def test_the_holder_sees_what_was_done_on_their_behalf(staff: Api) -> None:
    service = staff.client.application.extensions["counterflow"].service
    publish(staff)
    record = _new(staff)
    other = _new(staff)
    today = _today(staff)
    assert _name(staff, "clerk", "outsider", today, today + dt.timedelta(days=3)).status_code == 201
    assert _ids(_list(staff, "department", "outsider", "clerk"))[:2] == [other["id"], record["id"]]
    r = _fire(staff, record, "accept", "outsider", on_behalf_of="clerk")
    assert r.status_code == 200, r.get_json()
    service.pump_notifications()
    service.pump_notifications()                                      # told once
    assert _ids(_list(staff, "on_my_behalf", "clerk")) == [record["id"]]
    assert _ids(_list(staff, "on_my_behalf", "outsider")) == []
    entry = _list(staff, "on_my_behalf", "clerk").get_json()["items"][0]
    assert entry["kind"] == "on_behalf" and "Outsider" in entry["body"] and "替岗" in entry["subject"]
    inbox = staff.get("/api/v1/inbox", "clerk").get_json()["items"]
    assert sorted(e["kind"] for e in inbox if e["record_id"] == record["id"]) == ["accepted", "on_behalf"]


def test_hostile_holder_names_are_refused_cleanly(staff: Api) -> None:
    for value, status in (('{"$ne":null}', 403), ("%24where", 403), ("x" * 65, 422), ("", 422),
                          ("clerk&on_behalf_of=reviewer", 403)):
        r = staff.get(f"/api/v1/worklists/mine?on_behalf_of={value}", "outsider")
        assert r.status_code == status, (value, r.get_json())
        assert r.mimetype == "application/json" and r.get_json()["error"]["message"]


def test_the_backup_acts_on_a_task_assigned_to_the_holder(staff: Api) -> None:
    publish(staff)
    record = _new(staff)
    record = _fire(staff, record, "accept", "clerk").get_json()
    r = _fire(staff, record, "assign", "head", assignee=_user_id(staff, "reviewer"))
    assert r.status_code == 200, r.get_json()
    assigned = r.get_json()
    assert _fire(staff, assigned, "acknowledge", "outsider").status_code in (403, 422)     # not theirs
    today = _today(staff)
    assert _name(staff, "reviewer", "outsider", today, today + dt.timedelta(days=1)).status_code == 201
    r = _fire(staff, assigned, "acknowledge", "outsider", on_behalf_of="reviewer")
    assert r.status_code == 200, r.get_json()
    done = r.get_json()
    assert done["assignee"] == _user_id(staff, "reviewer")                  # still the reviewer's task
    event = staff.get(f"/api/v1/records/{done['id']}/history", "head").get_json()["items"][-1]
    assert event["trigger"] == "acknowledge" and event["actor"]["username"] == "outsider"
    assert event["on_behalf_of"]["username"] == "reviewer"
    # on the holder's behalf only: not on anyone else's task
    assert _error(_fire(staff, done, "approve", "outsider", on_behalf_of="head", opinion="同意"),
                  403)["code"] == "not_a_backup"
