"""Draft records created per second through the HTTP API against raw pymongo inserting the same documents.

    python bench/bench_draft.py            # 5 rounds of 200 drafts each way (under a minute on 2 cores)
    python bench/bench_draft.py --quick    # 3 rounds of 50

One embedded nx-27017 server on a temporary folder. The API side is the real standalone host,
`counterflow serve` in its own process, with one keep-alive client here sending one request at
a time (a counter terminal): POST /api/v1/records of the shipped account-change form with
complete data that names no attachment. The raw side, from this process, `insert_one`s a copy of
the document the app stored for such a draft (protected fields sealed, outbox event included)
under a new id (and list key). Each side's history copy is paid for: the API round ends when every draft's
creation event is in `events` (the app's copier), the raw side inserts the same events with
insert_many in batches of 20 the way the copier batches them; `raw insert_one` alone (no events) is
shown too. Rounds alternate API and raw; medians are reported. A pymongo CommandListener, registered
before the app's client exists, counts the store commands of single draft creations (target: one,
the insert; the copier's background inserts are counted apart).
"""
from __future__ import annotations

import argparse
import copy
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pymongo import MongoClient, monitoring

from bench_accept import (ADMIN_PASSWORD, DATA, DB_NAME, PASSWORD, Api, Commands, Terminal, add_staff, serve,
                          serve_process)
from counterflow.host import create_app
from counterflow.store.client import LIST_KEY
from counterflow.store.embedded import EmbeddedServer

FORM = "account-change"


def api_round(terminal: Terminal, n: int, events: Any) -> tuple[float, list[str]]:
    start = time.perf_counter()
    ids = [terminal.post("/api/v1/records", 201, json={"form": FORM, "data": DATA})["id"] for _ in range(n)]
    deadline = time.monotonic() + 60
    while events.count_documents({"_id": {"$in": [f"{i}:0" for i in ids]}}) < n:
        if time.monotonic() > deadline:
            raise SystemExit("creation events were not copied into the history within 60 s")
        time.sleep(0.005)
    return n / (time.perf_counter() - start), ids


def raw_docs(template: dict[str, Any], n: int) -> list[dict[str, Any]]:
    docs = []
    for i in range(n):
        doc = copy.deepcopy(template)
        doc["_id"] = f"raw{i:06d}{secrets.token_hex(6)}"
        doc[LIST_KEY] = doc["_id"]                # indexed (the list's keyset), one value per record
        doc["outbox"] = {"r0": dict(doc["outbox"]["r0"], _id=f"{doc['_id']}:0", object_id=doc["_id"])}
        docs.append(doc)
    return docs


def raw_round(db: Any, docs: list[dict[str, Any]], with_events: bool) -> float:
    pending: list[dict[str, Any]] = []
    start = time.perf_counter()
    for doc in docs:
        db.records.insert_one(doc)
        if with_events:
            pending.append(doc["outbox"]["r0"])
            if len(pending) >= 20:
                db.events.insert_many(pending, ordered=False)
                pending.clear()
    if pending:
        db.events.insert_many(pending, ordered=False)
    return len(docs) / (time.perf_counter() - start)


def count_round_trips(api: Api, listener: Commands, copier: Any, probes: int) -> list[list[str]]:
    samples = []
    for _ in range(probes):
        listener.seen = []
        listener.recording = True
        api.post("/api/v1/records", 201, json={"form": FORM, "data": DATA})
        samples.append(list(listener.seen))
        copier.flush()
        listener.recording = False
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 50")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("-n", type=int, default=None, help="drafts per round and side")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 5)
    n = args.n or (50 if args.quick else 200)
    probes = 5

    listener = Commands()
    monitoring.register(listener)                      # before the app's MongoClient exists
    folder = Path(tempfile.mkdtemp(prefix="cf-bench-draft-"))
    embedded = EmbeddedServer(folder / "store")
    uri = embedded.start()
    server = host = None
    try:
        os.environ.pop("COUNTERFLOW_MONGODB_URI", None)
        secret = secrets.token_urlsafe(32)
        app = create_app({"SECRET_KEY": secret, "COUNTERFLOW_MONGODB_URI": uri,
                          "COUNTERFLOW_DB_NAME": DB_NAME, "COUNTERFLOW_DATA_DIR": str(folder / "data"),
                          "COUNTERFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD, "COUNTERFLOW_LOGIN_RATE_LIMIT": 1000})
        base, server = serve(app)
        api = Api(base)
        add_staff(api, "clerk", ["clerk"])
        api.login("clerk", PASSWORD)
        raw_client: MongoClient[Any] = MongoClient(uri, tz_aware=True)
        db = raw_client[DB_NAME]

        first = api.post("/api/v1/records", 201, json={"form": FORM, "data": DATA})   # warms the caches
        copier = app.extensions["counterflow"].store.copier
        listener.background = []
        samples = count_round_trips(api, listener, copier, probes)
        background = list(listener.background)
        template = db.records.find_one({"_id": first["id"]})
        assert template is not None
        docs = raw_docs(template, 2 * rounds * n + 20)

        base2, host = serve_process(uri, folder, secret)
        timed = Terminal(base2, api.http.headers["Authorization"])
        api_round(timed, 10, db.events)                 # warm-up: the host's caches and validators
        raw_round(db, docs[:10], True)

        api_rates, raw_rates, insert_rates = [], [], []
        at = 20
        for r in range(rounds):
            api_rates.append(api_round(timed, n, db.events)[0])
            raw_rates.append(raw_round(db, docs[at:at + n], True))
            insert_rates.append(raw_round(db, docs[at + n:at + 2 * n], False))
            at += 2 * n
            print(f"round {r + 1}/{rounds}: API {api_rates[-1]:7.1f}/s   raw {raw_rates[-1]:7.1f}/s   "
                  f"raw insert_one only {insert_rates[-1]:7.1f}/s", file=sys.stderr)
        raw_client.close()
    finally:
        if host is not None:
            host.terminate()
            host.wait(30)
        if server is not None:
            server.close()
        embedded.stop()

    api_median, raw_median = statistics.median(api_rates), statistics.median(raw_rates)
    insert_median = statistics.median(insert_rates)
    trips = [len(s) for s in samples]
    print()
    print(f"draft records, {rounds} rounds x {n} each way, embedded nx-27017, {os.cpu_count()} cores")
    print(f"{'':34}{'median':>10}{'min':>10}{'max':>10}")
    print(f"{'API drafts/s (HTTP)':34}{api_median:10.1f}{min(api_rates):10.1f}{max(api_rates):10.1f}")
    print(f"{'raw insert_one + events/s':34}{raw_median:10.1f}{min(raw_rates):10.1f}{max(raw_rates):10.1f}")
    print(f"{'raw insert_one only/s':34}{insert_median:10.1f}{min(insert_rates):10.1f}"
          f"{max(insert_rates):10.1f}")
    print(f"{'ratio API/raw (same work)':34}{api_median / raw_median:10.2f}     (target >= 0.5)")
    print(f"{'ratio API/raw insert_one only':34}{api_median / insert_median:10.2f}")
    print(f"{'ms per draft: API, raw, insert':34}{1000 / api_median:10.2f}{1000 / raw_median:10.2f}"
          f"{1000 / insert_median:10.2f}")
    print(f"{'store round trips/draft':34}{statistics.median(trips):10.0f}     (target 1; samples {trips})")
    print("commands in one draft:     " + ", ".join(samples[-1]))
    print(f"background copier commands for those {probes} drafts: " + ", ".join(background))


if __name__ == "__main__":
    main()
