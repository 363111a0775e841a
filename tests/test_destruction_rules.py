"""What a destruction may touch: only records whose processes brought them to rest in the archive (a state
flagged `archival`) or closed them (a final state that ends the record). Early destruction (made in error,
duplicated) is no way around it: a record still in intake is refused when the list is drawn up, and a
record that left the archive after it was listed is refused again at execution; both say which record and
why, in both languages."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import add_staff, make_config, running_app, signed_in
from forms import COMPLETE
from test_destruction_helpers import FUTURE, archived_record, fire, new_list, prepare

EARLY = {"cause": "error", "reason": "误建的业务单"}


@pytest.fixture
def world(mongo_uri: str, db_name: str, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    config = dict(make_config(mongo_uri, db_name, tmp_path), COUNTERFLOW_DESTRUCTION_COOLING_OFF_DAYS=0)
    with running_app(config) as app:
        api = add_staff(signed_in(app.test_client()))
        prepare(api)
        yield app, api


def _stored(app: Any, record_id: str) -> dict[str, Any]:
    return app.extensions["counterflow"].store.records.find_one({"_id": record_id})


def _certificate(app: Any, list_id: str) -> dict[str, Any]:
    for _ in range(400):
        found = app.extensions["counterflow"].service.disposal.certificate(f"cert_{list_id}")
        if found is not None:
            return dict(found["envelope"]["certificate"])
        time.sleep(0.025)
    raise AssertionError("the execution did not finish within 10 s")


def _draft(api: Any) -> dict[str, Any]:
    r = api.post("/api/v1/records", "clerk", json={"form": "parking-permit", "data": dict(COMPLETE)})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def test_a_record_still_in_intake_is_refused_early_destruction_when_listed(world: Any) -> None:
    app, api = world
    draft = _draft(api)
    listed = new_list(api, [])
    base = f"/api/v1/destructions/{listed['id']}/items"
    r = api.post(base, "keeper", json={"records": [{"id": draft["id"]}], "early": EARLY})
    assert r.status_code == 422
    details = r.get_json()["error"]["details"]
    assert [(d["path"], d["code"]) for d in details] == [("/records/0", "not_closed")]
    assert draft["id"] in details[0]["message"] and "尚未归档或办结" in details[0]["message"]
    r = api.post(base + "?lang=en", "keeper", json={"records": [{"id": draft["id"]}], "early": EARLY})
    message = r.get_json()["error"]["details"][0]["message"]
    assert draft["id"] in message and "neither archived nor closed" in message
    assert api.get(f"/api/v1/destructions/{listed['id']}", "keeper").get_json()["total"] == 0
    # a record that reached the end of its handling (withdrawn: closed) may go early, with its cause
    withdrawn = _draft(api)
    r = api.post(f"/api/v1/records/{withdrawn['id']}/transitions/withdraw", "clerk",
                 json={"revision": withdrawn["revision"], "opinion": "重复录入，撤回"})
    assert r.status_code == 200, r.get_json()
    r = api.post(base, "keeper", json={"records": [{"id": withdrawn["id"]}], "early": EARLY})
    assert r.status_code == 200 and r.get_json()["added"] == 1, r.get_json()


def test_a_record_that_left_the_archive_after_listing_is_refused_at_execution(world: Any) -> None:
    app, api = world
    moved, kept = archived_record(api, app, retention=FUTURE), archived_record(api, app, retention=FUTURE)
    listed = new_list(api, [moved, kept], cause="duplicate", reason="重复录入")
    for trigger, who in (("submit", "keeper"), ("approve", "boss"), ("approve", "head")):
        assert fire(api, listed, trigger, who).status_code == 200
    # meanwhile the record is back in intake (reopened): it is no longer at rest in the archive
    app.extensions["counterflow"].store.records.update_one(
        {"_id": moved["id"]}, {"$set": {"process": "intake", "state": "submitted"}})
    assert fire(api, listed, "execute", "witness").status_code == 200
    certificate = _certificate(app, listed["id"])
    assert [r["id"] for r in certificate["records"]] == [kept["id"]]
    assert certificate["not_destroyed"] == [{"id": moved["id"], "number": moved["number"],
                                             "status": "blocked", "reason": "not_closed"}]
    assert _stored(app, moved["id"])["data"] and not _stored(app, moved["id"]).get("destroyed_at")
    items = api.get(f"/api/v1/destructions/{listed['id']}/items?status=blocked", "keeper").get_json()
    item = items["items"][0]
    assert moved["number"] in item["outcome"]["message"]["zh-CN"]
    assert moved["number"] in item["outcome"]["message"]["en"] and "neither archived nor closed" in \
        item["outcome"]["message"]["en"]


def test_the_disposition_list_leaves_out_records_not_at_rest(world: Any) -> None:
    app, api = world
    due, moved = archived_record(api, app), archived_record(api, app)
    app.extensions["counterflow"].store.records.update_one(
        {"_id": moved["id"]}, {"$set": {"process": "review", "state": "in_review"}})
    ids = [x["id"] for x in api.get("/api/v1/destructions/disposition", "keeper").get_json()["items"]]
    assert due["id"] in ids and moved["id"] not in ids
