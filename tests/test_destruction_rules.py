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

from counterflow.core.engine import Actor, Context, Workflow
from counterflow.core.errors import Invalid
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


def test_the_per_record_destroy_process_refuses_and_sends_people_to_a_list(world: Any) -> None:
    """Records are destroyed only through an approved list (docs/definitions.md): the shipped forms still
    name `destroy`, where a record waits once its retention ended, but its transition into the tombstone
    state is refused for everyone with the way to a list; the list then erases the record there."""
    app, api = world
    record = archived_record(api, app)
    current = api.get(f"/api/v1/records/{record['id']}", "keeper").get_json()
    r = api.post(f"/api/v1/records/{record['id']}/transitions/close_retention", "keeper",
                 json={"revision": current["revision"]})
    assert r.status_code == 200, r.get_json()
    waiting = r.get_json()
    assert (waiting["process"], waiting["state"]) == ("destroy", "pending")
    options = api.get(f"/api/v1/records/{record['id']}/transitions", "witness").get_json()["items"]
    assert [(o["trigger"], o["allowed"], [x["code"] for x in o["reasons"]]) for o in options] == \
        [("execute", False, ["destroyed_by_list"])]
    for who, lang, words in (("witness", "zh-CN", "销毁清单"), ("boss", "en", "destruction list")):
        r = api.post(f"/api/v1/records/{record['id']}/transitions/execute?lang={lang}", who,
                     json={"revision": waiting["revision"], "opinion": "监销"})
        assert r.status_code == 422
        details = r.get_json()["error"]["details"]
        assert [d["code"] for d in details] == ["destroyed_by_list"]
        assert words in details[0]["message"] and "/api/v1/destructions" in details[0]["message"]
    kept = _stored(app, record["id"])
    assert kept["data"] and kept["data_key"] and kept["state"] == "pending" and not kept.get("destroyed_at")
    # the way it is destroyed: a list, which leaves it in destroy's tombstone state, erased
    listed = new_list(api, [record])
    steps = (("submit", "keeper"), ("approve", "boss"), ("approve", "head"), ("execute", "witness"))
    for trigger, who in steps:
        assert fire(api, listed, trigger, who).status_code == 200
    certificate = _certificate(app, listed["id"])
    assert [r["id"] for r in certificate["records"]] == [record["id"]]
    gone = _stored(app, record["id"])
    assert (gone["process"], gone["state"]) == ("destroy", "destroyed") and gone["destroyed_at"]
    assert "data" not in gone and "data_key" not in gone
    assert app.extensions["counterflow"].store.events.count_documents({"object_id": record["id"]}) == 0


def test_a_record_pinned_to_the_older_destroy_version_is_refused_too() -> None:
    """The older shipped `destroy` (a manager approves, a supervisor executes into `destroyed`) still runs for
    records pinned to it: the engine refuses any transition into a `tombstone` state, in every version."""
    older = {"key": "destroy", "title": {"zh-CN": "销毁", "en": "Destruction"}, "initial": "pending",
             "states": [{"name": "pending", "read_only": True}, {"name": "approved", "read_only": True},
                        {"name": "destroyed", "final": True, "ends_record": True, "tombstone": True}],
             "transitions": [{"trigger": "approve", "source": "pending", "dest": "approved",
                              "roles": ["manager"]},
                             {"trigger": "execute", "source": "approved", "dest": "destroyed",
                              "roles": ["supervisor"], "requires": ["opinion"]}]}
    flow = Workflow(older, 1)
    witness = Actor("w", "witness", roles=frozenset({"supervisor"}))
    with pytest.raises(Invalid) as refused:
        flow.plan("approved", "execute", Context({"_id": "r1"}, witness, {"opinion": "监销"}, "en"))
    details = refused.value.details
    assert isinstance(details, list) and [d["code"] for d in details] == ["destroyed_by_list"]
    assert "POST /api/v1/destructions" in details[0]["message"]
    boss = Actor("b", "boss", roles=frozenset({"manager"}))
    assert flow.plan("pending", "approve", Context({"_id": "r1"}, boss, {}, "en")).dest == "approved"


def test_a_record_pinned_to_an_archive_version_from_before_the_flag_can_still_be_listed(world: Any) -> None:
    """An upgraded store: the record keeps the archive version it was filed under, which predates the
    `archival` flag; the process's latest version flags the same state, and that is read."""
    app, api = world
    store, service = app.extensions["counterflow"].store, app.extensions["counterflow"].service
    first = store.workflows.find_one({"_id": "archive@1"})
    older = dict(first["definition"], states=[{k: v for k, v in s.items() if k != "archival"}
                                              for s in first["definition"]["states"]])
    store.workflows.update_one({"_id": "archive@1"}, {"$set": {"definition": older}})
    store.workflows.insert_one(dict(first, _id="archive@2", version=2))
    service._workflows.pop(("archive", 1), None)
    service.load_workflows()
    assert not service.workflow("archive", 1).states_where("archival")
    record = archived_record(api, app)
    assert _stored(app, record["id"])["workflows"]["archive"] == 1
    listed = new_list(api, [record])
    assert listed["added"] == 1
