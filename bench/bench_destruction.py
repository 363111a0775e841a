"""Destruction of N records by an approved destruction list against the raw delete rate of the same documents.

    python bench/bench_destruction.py            # 100,000 records
    python bench/bench_destruction.py --quick    # 10,000 records

One embedded nx-27017 server on a temporary folder, two databases on it holding the same N records (each
copied from a record the app stored for a complete account-change draft: sealed fields, list key, retention
ended) and their history (2 events each). The raw side deletes each record and its history with pymongo:
`delete_one` by `_id` plus `delete_many` by `object_id` (the same documents, nothing else). The product side
is `Service.run_destruction` on a list of all N records, approved by two people and executed by a
supervisor (cooling-off 0): per record one atomic tombstone update that checks hold and retention, its
history deleted, the item marked, the audit entry when the audit log is there, then the signed certificate.
The list's items are inserted in bulk (drawing up a 100,000-record list through the API is not what is
measured). Rates are records per second; the target is product/raw >= 0.3.
"""
from __future__ import annotations

import argparse
import copy
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_accept import DATA
from counterflow.core.engine import Actor
from counterflow.host import create_app
from counterflow.store.disposal import item_id
from counterflow.store.embedded import EmbeddedServer

BATCH = 1000


def actor(service: Any, username: str, roles: list[str]) -> Actor:
    user = service.store.user_by_name(username)
    if user is None:
        service.create_user(Actor("bench", "bench", roles=frozenset({"admin"})),
                            {"username": username, "password": "Bench-Pass-2026", "name": username,
                             "roles": roles, "department": "records"}, "en")
        user = service.store.user_by_name(username)
    return Actor(user["_id"], username, username, frozenset(roles), "records")


def load(store: Any, template: dict[str, Any], n: int, prefix: str) -> list[str]:
    """N copies of the stored record, archived with retention ended, and two history events each."""
    ids = []
    for start in range(0, n, BATCH):
        docs, events = [], []
        for i in range(start, min(n, start + BATCH)):
            doc = copy.deepcopy(template)
            doc.update(_id=f"{prefix}{i:09d}", process="archive", state="archived",
                       retention_until="2020-01-01", acceptance_number=f"{prefix}-{i:09d}")
            doc.pop("outbox", None)
            docs.append(doc)
            ids.append(doc["_id"])
            for r in range(2):
                events.append({"_id": f"{doc['_id']}:{r}", "kind": "record", "object_id": doc["_id"],
                               "revision": r, "at": "2014-01-02T00:00:00.000Z", "trigger": "edit",
                               "changes": [{"path": "/phone", "old": "x", "new": "y"}], "details": {}})
        store.insert_records(docs, events)
    return ids


def raw_delete(store: Any, ids: list[str]) -> float:
    start = time.perf_counter()
    for record_id in ids:
        store.records.delete_one({"_id": record_id})
        store.events.delete_many({"object_id": record_id})
    return len(ids) / (time.perf_counter() - start)


def product_destroy(service: Any, ids: list[str]) -> tuple[float, dict[str, Any]]:
    keeper, boss = actor(service, "b-keeper", ["archivist"]), actor(service, "b-boss", ["manager"])
    head, witness = actor(service, "b-head", ["dept_head"]), actor(service, "b-witness", ["supervisor"])
    listed = service.create_destruction_list(keeper, {"title": "bench"}, "en")
    items = [{"_id": item_id(listed["id"], rid), "list": listed["id"], "record": rid, "status": "listed",
              "list_status": f"{listed['id']}:listed", "record_status": f"{rid}:listed", "early": None}
             for rid in ids]
    for start in range(0, len(items), BATCH):
        service.disposal.insert_items(items[start:start + BATCH])
    view = listed
    for trigger, who in (("submit", keeper), ("approve", boss), ("approve", head), ("execute", witness)):
        payload = {"revision": view["revision"], "opinion": "ok"}
        view = service.fire_destruction(who, listed["id"], trigger, payload, "en", run=False)

    def progress(done: int, total: int) -> None:
        if done % 10_000 < 200:
            print(f"  destroyed {done}/{total}", file=sys.stderr)

    began = time.perf_counter()
    certificate = service.run_destruction(listed["id"], progress)
    return len(ids) / (time.perf_counter() - began), certificate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 records instead of 100,000")
    parser.add_argument("-n", type=int, default=None)
    args = parser.parse_args()
    n = args.n or (10_000 if args.quick else 100_000)
    folder = Path(tempfile.mkdtemp(prefix="cf-bench-destruction-"))
    server = EmbeddedServer(folder / "store")
    uri = server.start()
    try:
        app = create_app({"SECRET_KEY": "bench", "COUNTERFLOW_MONGODB_URI": uri,
                          "COUNTERFLOW_DB_NAME": "bench", "COUNTERFLOW_DATA_DIR": str(folder / "data"),
                          "COUNTERFLOW_ADMIN_PASSWORD": "Adm1n-Bench-26",
                          "COUNTERFLOW_PASSWORD_PROFILE": "cheapest",
                          "COUNTERFLOW_DESTRUCTION_COOLING_OFF_DAYS": 0})
        state = app.extensions["counterflow"]
        service, store = state.service, state.store
        clerk = actor(service, "b-clerk", ["clerk"])
        draft, _ = service.create_record(clerk, {"form": "account-change", "data": DATA}, "en")
        template = store.records.find_one({"_id": draft["_id"]})
        raw_app = create_app({"SECRET_KEY": "bench", "COUNTERFLOW_MONGODB_URI": uri,
                              "COUNTERFLOW_DB_NAME": "bench_raw", "COUNTERFLOW_DATA_DIR": str(folder / "raw"),
                              "COUNTERFLOW_ADMIN_PASSWORD": "Adm1n-Bench-26",
                              "COUNTERFLOW_PASSWORD_PROFILE": "cheapest"})
        raw_store = raw_app.extensions["counterflow"].store
        print(f"loading {n} records (2 history events each) into each database ...", file=sys.stderr)
        raw_ids = load(raw_store, template, n, "R")
        ids = load(store, template, n, "P")
        raw = raw_delete(raw_store, raw_ids)
        product, certificate = product_destroy(service, ids)
        count = certificate["envelope"]["certificate"]["count"]
        assert count == n, f"the certificate counts {count}, not {n}"
        left = store.events.count_documents({"object_id": ids[-1]})
        assert left == 0 and "data" not in store.records.find_one({"_id": ids[-1]})
        print(f"records: {n}")
        print(f"raw delete (record + history):   {raw:8.0f} records/s")
        print(f"destruction list (run):          {product:8.0f} records/s")
        print(f"ratio product/raw:               {product / raw:8.2f}   (target >= 0.3)")
        raw_app.extensions["counterflow"].close()
        state.close()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
