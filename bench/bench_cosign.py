"""A 会签 (all must approve) of five through the HTTP API against raw pymongo doing the same store operations.

    python bench/bench_cosign.py            # 3 rounds of 40 records x 5 votes each way
    python bench/bench_cosign.py --quick    # 3 rounds of 10

One embedded nx-27017 server on a temporary folder; the app runs in this process behind waitress on
127.0.0.1 with an admin's process file (`cosign`: its first state is an approval step, mode all, of five
named reviewers). Records are created and accepted beforehand (not timed): accepting moves each into the
step with its five tasks. Timed: every record's five votes, each a keep-alive POST
/api/v1/records/{id}/approval/approve by its voter with the revision and data digest of the previous answer;
the fifth vote fires the step's transition. The round ends when every vote's event is in `events`.
Raw pymongo, from this process, does the store work of each vote: read the record, one compare-and-set
update_one on (id, revision, state) setting approval.joint.votes.<user>, the step's acted flag, the whole
duties map, the revision and the outbox slot with the event (the fifth also the state), and the events
copied with insert_many in batches of 20 the way the app's copier batches them.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from bench_accept import ADMIN_PASSWORD, DATA, DB_NAME, PASSWORD, Api, Terminal, add_staff, serve
from counterflow.core.clock import stamp
from counterflow.host import create_app
from counterflow.store.embedded import EmbeddedServer

VOTERS = ("v1", "v2", "v3", "v4", "v5")
COSIGN = """\
key: cosign
title: {zh-CN: 会签, en: Joint review}
initial: joint
states:
  - name: joint
    title: {zh-CN: 会签, en: Joint review}
    approval: {mode: all, approvers: [{users: [v1, v2, v3, v4, v5]}], approve: agree, reject: disagree}
  - {name: done, title: {zh-CN: 通过, en: Approved}, final: true}
  - {name: refused, title: {zh-CN: 不通过, en: Refused}, final: true}
transitions:
  - {trigger: agree, source: joint, dest: done, roles: [reviewer], duty: reviewer,
     separate_from: [creator, acceptor], requires: [opinion]}
  - {trigger: disagree, source: joint, dest: refused, roles: [reviewer], duty: reviewer,
     separate_from: [creator, acceptor], requires: [opinion]}
"""


def publish_form(api: Api) -> None:
    """The shipped account-change form, as `cosign-change` running intake then the joint review."""
    shipped = Path(__file__).resolve().parents[1] / "schemas" / "account-change.json"
    form = json.loads(shipped.read_text("utf-8"))
    form["key"] = "cosign-change"
    form["settings"]["processes"] = ["intake", "cosign"]
    api.login("admin", ADMIN_PASSWORD)
    doc = api.post("/api/v1/forms", 201, json=form)
    for trigger, who, password in (("submit", "admin", ADMIN_PASSWORD), ("review", "head", PASSWORD),
                                   ("approve", "boss", PASSWORD)):
        api.login(who, password)
        doc = api.post(f"/api/v1/forms/cosign-change/versions/1/transitions/{trigger}", 200,
                       json={"revision": doc["revision"]})


def prepare(api: Api, db: Any, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Records in the step for the API (created and accepted through it) and copies for raw pymongo."""
    api.login("clerk", PASSWORD)
    attachment = api.post("/api/v1/attachments", 201,
                          files={"file": ("id.pdf", b"%PDF-1.4 bench", "application/pdf")})
    data = dict(DATA, id_copy=attachment["id"])
    records = []
    for _ in range(count):
        draft = api.post("/api/v1/records", 201, json={"form": "cosign-change", "data": data})
        records.append(api.post(f"/api/v1/records/{draft['id']}/transitions/accept", 200,
                                json={"revision": draft["revision"]}))
    template = db.records.find_one({"_id": records[0]["id"]})
    raw = []
    for i in range(count):
        doc = copy.deepcopy(template)
        doc["_id"] = f"raw{i:06d}{secrets.token_hex(4)}"
        doc["outbox"] = {}
        doc.update(acceptance_number=f"RAW-{i:06d}", query_code=f"RAW{i:05d}", listed=doc["_id"])
        raw.append(doc)
    db.records.insert_many(raw)
    return records, raw


def api_round(terminals: dict[str, Terminal], records: list[dict[str, Any]], events: Any) -> float:
    ids = [r["id"] for r in records]
    start = time.perf_counter()
    for record in records:
        current = record
        for who in VOTERS:
            current = terminals[who].post(f"/api/v1/records/{current['id']}/approval/approve", 200, json={
                "revision": current["revision"], "digest": current["data_digest"], "opinion": "同意"})
        if current["state"] != "done":
            raise SystemExit(f"record {current['id']} is {current['state']} after five approvals")
    deadline = time.monotonic() + 60
    while events.count_documents({"object_id": {"$in": ids}, "trigger": "agree"}) < len(ids) * len(VOTERS):
        if time.monotonic() > deadline:
            raise SystemExit("vote events were not copied into the history within 60 s")
        time.sleep(0.005)
    return len(ids) * len(VOTERS) / (time.perf_counter() - start)


def raw_vote(db: Any, record_id: str, voter: dict[str, Any], last: bool,
             pending: list[dict[str, Any]]) -> None:
    """The store work of one vote, as plain pymongo calls."""
    record = db.records.find_one({"_id": record_id})
    now = stamp()
    revision = record["revision"] + 1
    duties = {k: list(v) for k, v in (record.get("duties") or {}).items()}
    duties.setdefault("reviewer", []).append(voter["id"])
    event = {"_id": f"{record_id}:{revision}", "object_id": record_id, "revision": revision, "kind": "record",
             "at": now, "actor": voter, "trigger": "agree", "process": "cosign", "source": "joint",
             "dest": "done" if last else "joint", "opinion": "同意", "outcome": "done",
             "details": {"step": "joint", "decision": "approve", "digest": "0" * 64}}
    vote = {"decision": "approve", "opinion": "同意", "at": now, "revision": record["revision"],
            "digest": "0" * 64}
    changes = {f"approval.joint.votes.{voter['id']}": vote,
               "approval.joint.acted": True, "duties": duties, "revision": revision, "updated_at": now,
               f"outbox.r{revision}": event}
    if last:
        changes.update(state="done", state_since=now)
    cas = {"_id": record_id, "revision": record["revision"], "state": record["state"]}
    result = db.records.update_one(cas, {"$set": changes})
    if result.matched_count != 1:
        raise SystemExit(f"raw compare-and-set missed {record_id}")
    pending.append(event)
    if len(pending) >= 20:
        db.events.insert_many(pending, ordered=False)
        pending.clear()


def raw_round(db: Any, docs: list[dict[str, Any]]) -> float:
    voters = [{"id": f"raw-{who}", "username": who, "name": who.title()} for who in VOTERS]
    pending: list[dict[str, Any]] = []
    start = time.perf_counter()
    for doc in docs:
        for i, voter in enumerate(voters):
            raw_vote(db, doc["_id"], voter, i == len(voters) - 1, pending)
    if pending:
        db.events.insert_many(pending, ordered=False)
    return len(docs) * len(voters) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 10 records")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-n", type=int, default=None, help="records per round and side (five votes each)")
    args = parser.parse_args()
    rounds, n = args.rounds, args.n or (10 if args.quick else 40)
    folder = Path(tempfile.mkdtemp(prefix="cf-bench-cosign-"))
    flows = folder / "flows"
    flows.mkdir()
    (flows / "cosign.yaml").write_text(COSIGN, "utf-8")
    embedded = EmbeddedServer(folder / "store")
    uri = embedded.start()
    server = None
    try:
        os.environ.pop("COUNTERFLOW_MONGODB_URI", None)
        app = create_app({"SECRET_KEY": secrets.token_urlsafe(32), "COUNTERFLOW_MONGODB_URI": uri,
                          "COUNTERFLOW_DB_NAME": DB_NAME, "COUNTERFLOW_DATA_DIR": str(folder / "data"),
                          "COUNTERFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD, "COUNTERFLOW_LOGIN_RATE_LIMIT": 1000,
                          "COUNTERFLOW_WORKFLOWS_DIR": str(flows)})
        base, server = serve(app)
        api = Api(base)
        for name, roles in (("clerk", ["clerk"]), ("head", ["dept_head"]), ("boss", ["manager"])):
            add_staff(api, name, roles)
        for who in VOTERS:
            add_staff(api, who, ["reviewer"])
        publish_form(api)
        raw_client: MongoClient[Any] = MongoClient(uri, tz_aware=True)
        db = raw_client[DB_NAME]
        t0 = time.perf_counter()
        records, raw = prepare(api, db, rounds * n + 5)
        print(f"prepared {len(records)} + {len(raw)} records in the step in {time.perf_counter() - t0:.1f}s "
              f"(not timed)", file=sys.stderr)
        terminals = {}
        for who in VOTERS:
            api.login(who, PASSWORD)
            terminals[who] = Terminal(base, api.http.headers["Authorization"])
        api_round(terminals, records[-5:], db.events)                 # warm-up
        raw_round(db, raw[-5:])
        api_rates, raw_rates = [], []
        for r in range(rounds):
            chunk = slice(r * n, (r + 1) * n)
            api_rates.append(api_round(terminals, records[chunk], db.events))
            raw_rates.append(raw_round(db, raw[chunk]))
            print(f"round {r + 1}/{rounds}: API {api_rates[-1]:7.1f} votes/s   "
                  f"raw {raw_rates[-1]:7.1f} votes/s", file=sys.stderr)
        raw_client.close()
    finally:
        if server is not None:
            server.close()
        embedded.stop()
    api_median, raw_median = statistics.median(api_rates), statistics.median(raw_rates)
    print()
    print(f"会签 of five: {rounds} rounds x {n} records x 5 votes each way, embedded nx-27017, "
          f"{os.cpu_count()} cores")
    print(f"{'':30}{'median':>10}{'min':>10}{'max':>10}")
    print(f"{'API votes/s (HTTP)':30}{api_median:10.1f}{min(api_rates):10.1f}{max(api_rates):10.1f}")
    print(f"{'raw pymongo votes/s':30}{raw_median:10.1f}{min(raw_rates):10.1f}{max(raw_rates):10.1f}")
    print(f"{'ratio API/raw':30}{api_median / raw_median:10.2f}")
    print(f"{'ms per vote: API, raw':30}{1000 / api_median:10.2f}{1000 / raw_median:10.2f}")
    print(f"{'ms per 会签 of five: API, raw':30}{5000 / api_median:10.2f}{5000 / raw_median:10.2f}")


if __name__ == "__main__":
    main()
