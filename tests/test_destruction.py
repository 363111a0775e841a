"""Destruction lists: only records past retention and not held, two distinct approvers who are not the
author, a cooling-off period, a supervisor who is neither, a hold that wins a race with the execution, and an
execution that leaves tombstones and resumes after a crash without destroying anything twice."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from counterflow.core import clock
from conftest import add_staff, make_config, running_app, signed_in
from test_destruction_helpers import FUTURE, PAST, approved, archived_record, fire, new_list, prepare


def world(mongo_uri: str, db_name: str, tmp_path: Path, **config: Any) -> Iterator[tuple[Any, Any]]:
    with running_app(dict(make_config(mongo_uri, db_name, tmp_path), **config)) as app:
        api = add_staff(signed_in(app.test_client()))
        prepare(api)
        yield app, api


@pytest.fixture
def now_world(mongo_uri: str, db_name: str, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """No cooling-off period: an approved list may be executed at once."""
    yield from world(mongo_uri, db_name, tmp_path, COUNTERFLOW_DESTRUCTION_COOLING_OFF_DAYS=0)


@pytest.fixture
def week_world(mongo_uri: str, db_name: str, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """The default cooling-off period (7 days)."""
    yield from world(mongo_uri, db_name, tmp_path)


def service(app: Any) -> Any:
    return app.extensions["counterflow"].service


def stored(app: Any, record_id: str) -> dict[str, Any]:
    return app.extensions["counterflow"].store.records.find_one({"_id": record_id})


def hold(app: Any, record_id: str, reason: str) -> None:
    """A legal hold as the hold action writes it (the field the destruction's atomic write filters on)."""
    app.extensions["counterflow"].store.records.update_one(
        {"_id": record_id}, {"$set": {"legal_hold": {"reason": reason, "authority": "court"}}})


def run(app: Any, list_id: str) -> dict[str, Any]:
    """The certificate of a list whose execution the API started in the background, once it is issued."""
    for _ in range(400):
        found = service(app).disposal.certificate(f"cert_{list_id}")
        if found is not None:
            return dict(found)
        time.sleep(0.025)
    raise AssertionError("the execution did not finish within 10 s")


def test_the_disposition_list_shows_records_past_retention_and_not_held(now_world: Any) -> None:
    app, api = now_world
    due, later, held = (archived_record(api, app), archived_record(api, app, retention=FUTURE),
                        archived_record(api, app))
    hold(app, held["id"], "court order")
    r = api.get("/api/v1/destructions/disposition", "keeper")
    assert r.status_code == 200
    ids = [x["id"] for x in r.get_json()["items"]]
    assert due["id"] in ids and later["id"] not in ids and held["id"] not in ids
    assert api.get("/api/v1/destructions/disposition", "clerk").status_code == 403


def test_a_record_before_its_retention_or_under_a_hold_cannot_be_listed(now_world: Any) -> None:
    app, api = now_world
    later, held = archived_record(api, app, retention=FUTURE), archived_record(api, app)
    hold(app, held["id"], "audit")
    listed = new_list(api, [])
    r = api.post(f"/api/v1/destructions/{listed['id']}/items", "keeper",
                 json={"records": [{"id": later["id"]}, {"id": held["id"]}, {"id": "nope"}]})
    assert r.status_code == 422
    assert [d["code"] for d in r.get_json()["error"]["details"]] == ["retention", "held", "gone"]
    assert api.get(f"/api/v1/destructions/{listed['id']}", "keeper").get_json()["total"] == 0
    # only its author draws a list up: another archivist would add records as nobody's part
    api.add_user("keeper2", ["archivist"])
    r = api.post(f"/api/v1/destructions/{listed['id']}/items", "keeper2", json={"records": []})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_list_author"
    # an empty list cannot be submitted
    r = fire(api, listed, "submit", "keeper")
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["code"] == "no_items"


def test_destruction_is_blocked_before_retention_even_when_the_item_got_on_the_list(now_world: Any) -> None:
    """The atomic write itself checks the retention date: a record whose retention was moved into the
    future after it was listed is not destroyed."""
    app, api = now_world
    record = archived_record(api, app)
    listed = approved(api, [record])
    app.extensions["counterflow"].store.records.update_one({"_id": record["id"]},
                                                           {"$set": {"retention_until": FUTURE}})
    assert fire(api, listed, "execute", "witness").status_code == 200
    certificate = run(app, listed["id"])["envelope"]["certificate"]
    assert certificate["count"] == 0
    assert certificate["not_destroyed"] == [{"id": record["id"], "number": record["number"],
                                             "status": "blocked", "reason": "retention"}]
    assert stored(app, record["id"])["data"] and not stored(app, record["id"]).get("destroyed_at")


def test_one_approval_is_not_enough(now_world: Any) -> None:
    app, api = now_world
    listed = new_list(api, [archived_record(api, app)])
    assert fire(api, listed, "submit", "keeper").status_code == 200
    assert fire(api, listed, "approve", "boss").status_code == 200
    r = fire(api, listed, "execute", "witness")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "wrong_state"


def test_the_same_approver_cannot_approve_twice(now_world: Any) -> None:
    app, api = now_world
    listed = new_list(api, [archived_record(api, app)])
    fire(api, listed, "submit", "keeper")
    assert fire(api, listed, "approve", "boss").status_code == 200
    r = fire(api, listed, "approve", "boss")
    assert r.status_code == 422
    assert api.get(f"/api/v1/destructions/{listed['id']}", "boss").get_json()["state"] == "approved_once"


def test_the_author_cannot_approve(now_world: Any) -> None:
    app, api = now_world
    listed = new_list(api, [archived_record(api, app)], who="keeperboss")
    assert fire(api, listed, "submit", "keeperboss").status_code == 200
    r = fire(api, listed, "approve", "keeperboss")
    assert r.status_code == 422
    assert {d["code"] for d in r.get_json()["error"]["details"]} == {"separation_of_duties"}


def test_an_approver_cannot_be_the_supervisor(now_world: Any) -> None:
    app, api = now_world
    record = archived_record(api, app)
    listed = approved(api, [record], approvers=("bosswitness", "head"))
    r = fire(api, listed, "execute", "bosswitness")
    assert r.status_code == 422
    assert {d["code"] for d in r.get_json()["error"]["details"]} == {"separation_of_duties"}
    assert stored(app, record["id"])["data"]


def test_a_list_is_cancelled_during_its_cooling_off_period(week_world: Any) -> None:
    app, api = week_world
    record = archived_record(api, app)
    listed = approved(api, [record])
    assert listed["state"] == "cooling" and listed["cooling_off_until"]
    r = fire(api, listed, "execute", "witness")
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["code"] == "cooling_off"
    r = fire(api, listed, "cancel", "keeper", "发现需继续保存")
    assert r.status_code == 200 and r.get_json()["state"] == "cancelled"
    assert fire(api, listed, "execute", "witness").status_code == 409
    assert stored(app, record["id"])["data"] and not stored(app, record["id"]).get("destroyed_at")


def test_the_execution_waits_for_the_end_of_the_cooling_off_period(week_world: Any) -> None:
    app, api = week_world
    listed = approved(api, [archived_record(api, app)])
    try:
        clock.set_offset("+6d")
        assert fire(api, listed, "execute", "witness").status_code == 422
        clock.set_offset("+8d")
        r = fire(api, listed, "execute", "witness")
        assert r.status_code == 200, r.get_json()
    finally:
        clock.set_offset(None)


def test_a_hold_set_between_listing_and_executing_wins(now_world: Any) -> None:
    app, api = now_world
    records = [archived_record(api, app) for _ in range(3)]
    listed = approved(api, records)
    # the hold arrives after the approvals, while the list waits for its execution
    hold(app, records[1]["id"], "court order (2026)京01")
    assert fire(api, listed, "execute", "witness").status_code == 200
    certificate = run(app, listed["id"])["envelope"]["certificate"]
    assert sorted(r["id"] for r in certificate["records"]) == sorted([records[0]["id"], records[2]["id"]])
    assert certificate["not_destroyed"][0]["reason"] == "held"
    kept = stored(app, records[1]["id"])
    assert kept["data"] and not kept.get("destroyed_at")


def test_a_hold_racing_the_atomic_write_wins(now_world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hold lands after the runner has read the record and decided to destroy it, just before its write:
    the write's own filter (`legal_hold: None`) refuses it."""
    app, api = now_world
    record = archived_record(api, app)
    listed = approved(api, [record])
    disposal = service(app).disposal
    shred = disposal.shred

    def hold_first(record_id: str, *args: Any, **kwargs: Any) -> bool:
        hold(app, record_id, "race")
        return shred(record_id, *args, **kwargs)

    monkeypatch.setattr(disposal, "shred", hold_first)
    assert fire(api, listed, "execute", "witness").status_code == 200
    certificate = run(app, listed["id"])["envelope"]["certificate"]
    assert certificate["count"] == 0 and certificate["not_destroyed"][0]["reason"] == "held"
    assert stored(app, record["id"])["data"]


def test_an_approver_removes_an_item_and_keeps_another_longer(now_world: Any) -> None:
    app, api = now_world
    a, b, c = (archived_record(api, app) for _ in range(3))
    listed = new_list(api, [a, b, c])
    fire(api, listed, "submit", "keeper")
    base = f"/api/v1/destructions/{listed['id']}/items"
    assert api.post(f"{base}/{a['id']}", "boss", json={"action": "remove"}).status_code == 422    # no reason
    r = api.post(f"{base}/{a['id']}", "witness", json={"action": "remove", "reason": "x"})
    assert r.status_code == 409
    r = api.post(f"{base}/{a['id']}", "boss", json={"action": "remove", "reason": "仍在诉讼中"})
    assert r.status_code == 200 and r.get_json()["counts"]["removed"] == 1
    r = api.post(f"{base}/{b['id']}", "head",
                 json={"action": "retain", "reason": "审计需要", "retention_until": "2031-06-30"})
    assert r.status_code == 200 and r.get_json()["counts"]["listed"] == 1
    assert stored(app, b["id"])["retention_until"] == "2031-06-30"


def test_early_destruction_needs_a_cause_and_a_reason(now_world: Any) -> None:
    app, api = now_world
    duplicate = archived_record(api, app, retention=FUTURE)
    listed = new_list(api, [])
    base = f"/api/v1/destructions/{listed['id']}/items"
    r = api.post(base, "keeper", json={"records": [{"id": duplicate["id"]}], "early": {"cause": "error"}})
    assert r.status_code == 422
    r = api.post(base, "keeper", json={"records": [{"id": duplicate["id"]}],
                                       "early": {"cause": "duplicate", "reason": "与 PK-1 重复录入"}})
    assert r.status_code == 200 and r.get_json()["added"] == 1
    steps = (("submit", "keeper"), ("approve", "boss"), ("approve", "head"), ("execute", "witness"))
    for trigger, who in steps:
        assert fire(api, listed, trigger, who).status_code == 200
    certificate = run(app, listed["id"])["envelope"]["certificate"]
    assert certificate["count"] == 1
    assert certificate["records"][0]["early"] == {"cause": "duplicate", "reason": "与 PK-1 重复录入"}


def test_a_completed_destruction_leaves_only_tombstones(now_world: Any) -> None:
    app, api = now_world
    record = archived_record(api, app, file_content=b"%PDF-1.4 licence of record one")
    keep = archived_record(api, app)
    store = app.extensions["counterflow"].store
    uploads = [a["_id"] for a in store.attachments.find({})]
    assert len(uploads) == 1
    listed = approved(api, [record])
    r = fire(api, listed, "execute", "witness", "已监督销毁")
    assert r.status_code == 200 and r.get_json()["executing"]
    for _ in range(100):                                 # the API runs it in the background
        view = api.get(f"/api/v1/destructions/{listed['id']}", "keeper").get_json()
        if view["certificate"]:
            break
        time.sleep(0.05)
    assert view["counts"]["shredded"] == 1 and view["counts"]["listed"] == 0
    tomb = stored(app, record["id"])
    for gone in ("data", "data_key", "outbox", "retention_until", "query_code", "attachment_keys"):
        assert gone not in tomb, gone
    assert (tomb["process"], tomb["state"]) == ("destroy", "destroyed")
    assert tomb["acceptance_number"] == record["number"] and tomb["destruction_list"] == listed["id"]
    assert tomb["retained_until"] == PAST and tomb["destroyed_at"]
    assert store.events.count_documents({"object_id": record["id"]}) == 0
    assert store.events.count_documents({"object_id": keep["id"]}) > 0
    # the record's file: its content, its metadata (and the data key wrapped there) are gone
    assert store.attachments.count_documents({"_id": uploads[0]}) == 0
    assert store.db["attachment_files.files"].find_one({"_id": uploads[0]}) is None
    assert store.db["attachment_files.chunks"].find_one({"files_id": uploads[0]}) is None
    r = api.get(f"/api/v1/records/{record['id']}", "boss")
    assert r.status_code == 200 and r.get_json()["state"] == "destroyed"
    # a tombstone moves no more
    assert api.get(f"/api/v1/records/{record['id']}/transitions", "boss").get_json()["items"] == []


def test_an_interrupted_execution_resumes_and_destroys_each_record_once(now_world: Any) -> None:
    app, api = now_world
    records = [archived_record(api, app) for _ in range(5)]
    before = {r["id"]: stored(app, r["id"])["revision"] for r in records}
    listed = approved(api, records)
    current = api.get(f"/api/v1/destructions/{listed['id']}", "witness").get_json()
    service(app).fire_destruction(_actor(app, "witness"), listed["id"], "execute",
                                  {"revision": current["revision"], "opinion": "监销"}, "zh-CN", run=False)
    with pytest.raises(RuntimeError):
        service(app).run_destruction(listed["id"], stop_after=2)            # a crash mid-batch
    shredded = [r for r in records if stored(app, r["id"]).get("destroyed_at")]
    assert len(shredded) == 2
    assert api.get(f"/api/v1/destructions/{listed['id']}", "keeper").get_json()["counts"]["shredded"] == 0
    seen: list[tuple[int, int]] = []
    certificate = service(app).run_destruction(listed["id"], lambda d, t: seen.append((d, t)))
    assert certificate["envelope"]["certificate"]["count"] == 5 and seen[-1] == (5, 5)
    for r in records:                    # one atomic destruction each: the revision rose by exactly one
        assert stored(app, r["id"])["revision"] == before[r["id"]] + 1
    # a third run finds nothing to do and gives the same certificate
    assert service(app).run_destruction(listed["id"])["_id"] == certificate["_id"]


def _actor(app: Any, username: str) -> Any:
    from counterflow.core.engine import Actor

    user = app.extensions["counterflow"].store.user_by_name(username)
    return Actor(user["_id"], user["username"], user["name"], frozenset(user["roles"]), user["department"])


def test_the_cli_runs_an_executed_list_with_progress_on_stderr(now_world: Any) -> None:
    """`counterflow destructions run LIST_ID` (another process's host: here another app on the same store)
    runs a list whose execution was not started, progress on stderr, and refuses a list not executed."""
    from click.testing import CliRunner

    from counterflow.cli import group
    from counterflow.host import create_app

    app, api = now_world
    records = [archived_record(api, app) for _ in range(2)]
    listed = approved(api, records)
    current = api.get(f"/api/v1/destructions/{listed['id']}", "witness").get_json()
    service(app).fire_destruction(_actor(app, "witness"), listed["id"], "execute",
                                  {"revision": current["revision"], "opinion": "监销"}, "zh-CN", run=False)
    pending = new_list(api, [archived_record(api, app)])
    config = {k: v for k, v in app.config.items() if k.startswith("COUNTERFLOW_") or k == "SECRET_KEY"}
    for list_id, code in ((pending["id"], 1), (listed["id"], 0)):
        other = create_app(config)
        with other.app_context():
            result = CliRunner().invoke(group, ["destructions", "run", list_id])
        assert result.exit_code == code, result.output
    assert "destroyed 2/2" in result.stderr and "2 record(s) destroyed" in result.stdout
    assert all(stored(app, r["id"]).get("destroyed_at") for r in records)
