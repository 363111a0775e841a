"""Every query the destruction lists send (store/disposal.py) is served by an index, proven by the server's
own explain, over a few thousand records past, and before, their retention (the helpers of
tests/test_store_explain.py); a new public method of DisposalStore without a case fails."""
from __future__ import annotations

import inspect
from typing import Any, Callable, Iterator

import gridfs
import pytest
from pymongo import monitoring

from counterflow.store.disposal import DisposalStore, item_id
from conftest import make_config, new_db_name, running_app
from test_store_explain import Captured, plan_problem

N_RECORDS = 2000
LIST = "01JLISTEXPLAIN000000000000"
RID = "01JXDISPOSE000000000000004"
NO_QUERY = {"insert_items"}
GRIDFS = {"attachment_files.files", "attachment_files.chunks"}


class World:
    def __init__(self, app: Any, captured: Captured) -> None:
        self.store = app.extensions["counterflow"].store
        self.disposal = DisposalStore(self.store)
        self.captured = captured
        records, items = [], []
        for i in range(N_RECORDS):
            rid = f"01JXDISPOSE{i:015d}"
            doc: dict[str, Any] = {"_id": rid, "form": "parking-permit", "form_version": 1,
                                   "process": "archive", "state": "archived", "revision": 1,
                                   "data": {"plate": f"P{i}"},
                                   "processes": ["intake", "review", "archive", "destroy"], "workflows": {},
                                   "retention_until": f"{2015 + i % 20}-01-01", "updated_at": "2026-01-01"}
            if i % 9 == 0:
                doc["legal_hold"] = {"reason": "court"}
            records.append(doc)
            if i % 4 == 0:
                items.append({"_id": item_id(LIST, rid), "list": LIST, "record": rid, "status": "listed",
                              "list_status": f"{LIST}:listed", "record_status": f"{rid}:listed"})
        self.store.insert_records(records, [])
        self.disposal.insert_items(items)
        self.store.records.insert_one({"_id": LIST, "form": "destruction-list", "listed": LIST})
        self.disposal.insert_certificate({"_id": f"cert_{LIST}", "list": LIST, "envelope": {}})
        gridfs.GridFS(self.store.db, collection="attachment_files").put(b"x" * 300_000, _id="att_EXPLAIN")
        self.store.attachments.insert_one({"_id": "att_EXPLAIN", "records": {RID: "2026-01-01"}})

    def run(self, case: Callable[["World"], Any]) -> list[tuple[str, dict[str, Any], Any]]:
        return self.captured.during(lambda: case(self))


@pytest.fixture(scope="module")
def world(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db_name = new_db_name()
    captured = Captured(db_name)
    monitoring.register(captured)
    with running_app(make_config(mongo_uri, db_name, tmp_path_factory.mktemp("explain-destruction"))) as app:
        yield World(app, captured)
    captured.db_name = ""


CASES: dict[str, Callable[[World], Any]] = {
    "disposable": lambda w: w.disposal.disposable("2026-06-01", 100),
    "records": lambda w: w.disposal.records([RID, "01JXDISPOSE000000000000008"]),
    "item": lambda w: w.disposal.item(LIST, RID),
    "items_of": lambda w: w.disposal.items_of(LIST, "listed", 50),
    "next_items": lambda w: w.disposal.next_items(LIST, "listed", 50),
    "listed_elsewhere": lambda w: w.disposal.listed_elsewhere(RID),
    "count": lambda w: w.disposal.count(LIST, "listed"),
    "set_item": lambda w: w.disposal.set_item(LIST, RID, "listed", note="n"),
    "mark_destroyed": lambda w: w.disposal.mark_destroyed("01JOTHERLIST", [RID], "2026-01-01"),
    "shred": lambda w: w.disposal.shred("01JXDISPOSE000000000001999", LIST, today="2000-01-01", early=False,
                                        tombstone={"destroyed_at": "x"}, retained_until=None),
    "record": lambda w: w.disposal.record(RID),
    "retain": lambda w: w.disposal.retain("01JXDISPOSE000000000001998", "2099-01-01", "2026-01-01"),
    "history_of": lambda w: w.disposal.history_of(RID),
    "delete_history": lambda w: w.disposal.delete_history("01JXNOSUCHRECORD"),
    "delete_attachments": lambda w: w.disposal.delete_attachments(["att_EXPLAIN", "att_NOSUCHFILE"], RID),
    "claim_run": lambda w: (w.disposal.claim_run(LIST, "h", "2026-01-01", "2026-01-02"),
                            w.disposal.claim_run(LIST, "other", "2026-01-01", "2026-01-02")),
    "release_run": lambda w: w.disposal.release_run(LIST, "h"),
    "set_list": lambda w: w.disposal.set_list(LIST, note="n"),
    "insert_certificate": lambda w: w.disposal.insert_certificate({"_id": f"cert_{LIST}", "list": LIST}),
    "certificate": lambda w: w.disposal.certificate(f"cert_{LIST}"),
}


def test_every_disposal_store_method_has_a_case() -> None:
    methods = {n for n, _ in inspect.getmembers(DisposalStore, inspect.isfunction) if not n.startswith("_")}
    assert methods - set(CASES) - NO_QUERY == set(), "a DisposalStore method without an explain case"


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_destruction_query_is_served_by_an_index(world: World, name: str) -> None:
    sent = world.run(CASES[name])
    assert sent, f"{name} sent no query: name it in NO_QUERY"
    # the embedded server keeps GridFS collections apart and its explain of them is a fixed stub
    # ({'stage': 'COLLSCAN'} even for `_id`): their indexes are checked below instead
    problems = [(c, f, plan_problem(world.store, c, f, s)) for c, f, s in sent if c not in GRIDFS]
    assert [p for p in problems if p[2]] == [], name


def test_file_contents_are_deleted_through_indexed_gridfs_collections(world: World) -> None:
    chunks = world.store.db["attachment_files.chunks"].index_information()
    assert any(spec["key"][0][0] == "files_id" for spec in chunks.values())
    gridfs.GridFS(world.store.db, collection="attachment_files").put(b"y" * 1000, _id="att_EXPLAIN2")
    sent = world.run(lambda w: w.disposal.delete_attachments(["att_EXPLAIN2"], RID))
    assert {c for c, _, _ in sent if c in GRIDFS} == GRIDFS
    assert all(set(f) == {"_id"} for c, f, _ in sent if c == "attachment_files.files")
    assert all(set(f) == {"files_id"} for c, f, _ in sent if c == "attachment_files.chunks")


def test_the_disposition_list_answers_the_plain_query(world: World) -> None:
    """Past retention by 2026-06-01, not held: what a full scan in Python finds, oldest first."""
    found = [r["_id"] for r in world.disposal.disposable("2026-06-01", 5000)]
    plain = [r for r in world.store.records.find({"form": "parking-permit"})
             if r.get("retention_until", "9") <= "2026-06-01" and not r.get("legal_hold")]
    assert sorted(found) == sorted(r["_id"] for r in plain) and found
    dates = [world.store.records.find_one({"_id": i})["retention_until"] for i in found]
    assert dates == sorted(dates)
