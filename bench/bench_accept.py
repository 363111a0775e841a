"""Accepts per second through the HTTP API against raw pymongo doing the same store work, side by side.

    python bench/bench_accept.py            # 5 rounds of 200 accepts each way (under a minute on 2 cores)
    python bench/bench_accept.py --quick    # 3 rounds of 50

Both run against one embedded nx-27017 server that this script starts on a temporary
folder: the API through the real standalone host, `counterflow serve` in its own process on
127.0.0.1 (one keep-alive client here, one request at a time, as a counter terminal would
send them), raw pymongo from this process by performing the
store operations an accept needs (read the record, `$inc` the counter with
find_one_and_update, compare-and-set update_one carrying the outbox event, and the copy of
the event into `events`, batched with insert_many the way the app's copier batches it).
Rounds alternate API and raw; medians are reported; the app's copier is flushed inside
the timed window, so its inserts are paid for. Draft records are prepared
beforehand and are not timed. A pymongo CommandListener, registered before the app's client
exists, counts the store commands issued during single accept requests.
"""
from __future__ import annotations

import argparse
import http.client
import json as jsonlib
import copy
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
from pymongo import MongoClient, ReturnDocument, monitoring

try:
    from counterflow.store.embedded import EmbeddedServer
    from counterflow.host import create_app
    from counterflow.core.clock import stamp
except ImportError:                      # a fresh clone: the package maps plugin/ -> counterflow
    sys.exit("counterflow is not importable; run `pip install -e .` in the repository first")

ADMIN_PASSWORD = "Adm1n-Bench-Pass-2026"
PASSWORD = "Counter-Pass-2026"
DB_NAME = "cf_bench"
DATA = {
    "applicant_name": "王小明", "id_type": "resident_id", "id_number": "11010519491231002X",
    "bank_card": "6222020200112233445", "phone": "13800138000", "changed_items": ["phone"],
    "new_details": {"new_phone": "13912345678"}, "reason": "更换手机号", "application_date": "2026-11-20",
}


class Commands(monitoring.CommandListener):
    """Records store commands (name and collection) while `recording` is on."""

    def __init__(self) -> None:
        self.recording = False
        self.seen: list[str] = []
        self.background: list[str] = []
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        # listeners run on the thread that sends the command: the app's background copier is
        # counted apart from the request's own round trips
        if self.recording:
            target = event.command.get(event.command_name)
            name = f"{event.command_name} {target}" if isinstance(target, str) else event.command_name
            with self._lock:
                if threading.current_thread().name == "counterflow-event-copier":
                    self.background.append(name)
                else:
                    self.seen.append(name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.token = ""

    def login(self, username: str, password: str) -> None:
        r = self.http.post(self.base + "/api/v1/auth/token",
                           json={"username": username, "password": password})
        r.raise_for_status()
        self.http.headers["Authorization"] = "Bearer " + r.json()["token"]

    def post(self, path: str, expect: int, **kwargs: Any) -> dict[str, Any]:
        r = self.http.post(self.base + path, **kwargs)
        if r.status_code != expect:
            raise SystemExit(f"POST {path}: {r.status_code} {r.text[:500]}")
        return dict(r.json())


class Terminal:
    """A lean keep-alive HTTP client (http.client) for the timed accepts, like a counter terminal's."""

    def __init__(self, base: str, authorization: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port))
        self.headers = {"Authorization": authorization, "Content-Type": "application/json"}

    def post(self, path: str, expect: int, json: Any) -> dict[str, Any]:
        self.conn.request("POST", path, body=jsonlib.dumps(json), headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        if response.status != expect:
            raise SystemExit(f"POST {path}: {response.status} {body[:500]!r}")
        return dict(jsonlib.loads(body))


def serve(app: Any) -> tuple[str, Any]:
    import waitress.server

    server = waitress.server.create_server(app, host="127.0.0.1", port=0, threads=4,
                                           ident="counterflow-bench")
    threading.Thread(target=server.run, daemon=True).start()
    port = server.effective_port      # type: ignore[union-attr]  # missing from waitress's stubs
    return f"http://127.0.0.1:{port}", server


def prepare(api: Api, raw_records: Any, count: int) -> tuple[list[str], list[dict[str, Any]]]:
    """Drafts for the API (created through it) and copies of one for raw pymongo (inserted directly)."""
    attachment = api.post("/api/v1/attachments", 201,
                          files={"file": ("id.pdf", b"%PDF-1.4 bench", "application/pdf")})
    data = dict(DATA, id_copy=attachment["id"])
    api_ids = [api.post("/api/v1/records", 201, json={"form": "account-change", "data": data})["id"]
               for _ in range(count)]
    template = raw_records.find_one({"_id": api_ids[0]})
    raw_docs = []
    for i in range(count):
        doc = copy.deepcopy(template)
        doc["_id"] = f"raw{i:06d}{secrets.token_hex(4)}"
        doc["outbox"] = dict(doc["outbox"], _id=f"{doc['_id']}:0", object_id=doc["_id"])
        raw_docs.append(doc)
    raw_records.insert_many(raw_docs)
    raw_records.database.counters.insert_one({"_id": "raw|20261120", "seq": 0, "returned": 0})
    return api_ids, raw_docs


def api_round(api: Any, ids: list[str], events: Any) -> float:
    start = time.perf_counter()
    for record_id in ids:
        api.post(f"/api/v1/records/{record_id}/transitions/accept", 200, json={"revision": 0})
    # the history copies are part of the cost: the round ends when every accept event is in `events`
    deadline = time.monotonic() + 60
    while events.count_documents({"object_id": {"$in": ids}, "trigger": "accept"}) < len(ids):
        if time.monotonic() > deadline:
            raise SystemExit("accept events were not copied into the history within 60 s")
        time.sleep(0.005)
    return len(ids) / (time.perf_counter() - start)


def serve_process(uri: str, folder: Path, secret: str, *, wait_seconds: float = 30,
                  **settings: str) -> tuple[str, subprocess.Popen[bytes]]:
    """`counterflow serve` in its own process, on the same store, database and keys (plus `settings`)."""
    port = free_port()
    env = dict(os.environ, COUNTERFLOW_MONGODB_URI=uri, COUNTERFLOW_DB_NAME=DB_NAME,
               COUNTERFLOW_SECRET_KEY=secret, COUNTERFLOW_LOGIN_RATE_LIMIT="1000", **settings)
    cli = Path(sys.executable).parent / "counterflow"
    proc = subprocess.Popen([str(cli), "serve", "--port", str(port), "--data-dir", str(folder / "data")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(int(wait_seconds * 10)):
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return base, proc
        except requests.RequestException:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("counterflow serve did not start")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def add_staff(api: Api, username: str, roles: list[str], department: str = "counter-1") -> dict[str, Any]:
    """A user made by the admin, initial password changed before any work; the admin stays signed in."""
    api.login("admin", ADMIN_PASSWORD)
    user: dict[str, Any] = api.post("/api/v1/users", 201, json={
        "username": username, "password": "Initial-Pass-2026", "name": username.title(), "roles": roles,
        "department": department})
    api.login(username, "Initial-Pass-2026")
    api.post("/api/v1/me/password", 200,
             json={"current_password": "Initial-Pass-2026", "new_password": PASSWORD})
    api.login("admin", ADMIN_PASSWORD)
    return user


def raw_accept(db: Any, record_id: str, actor: dict[str, Any], pending: list[dict[str, Any]]) -> None:
    """The store work of one accept, as plain pymongo calls."""
    record = db.records.find_one({"_id": record_id})
    counter = db.counters.find_one_and_update({"_id": "raw|20261120", "returned": {"$lte": 0}},
                                              {"$inc": {"seq": 1}},
                                              return_document=ReturnDocument.AFTER)
    now = stamp()
    revision = record["revision"] + 1
    event = {"_id": f"{record_id}:{revision}", "object_id": record_id, "revision": revision, "kind": "record",
             "at": now, "actor": actor, "trigger": "accept", "process": "intake", "source": record["state"],
             "dest": "accepted", "opinion": None, "outcome": "done",
             "details": {"acceptance_number": f"RAW-20261120-{counter['seq']:05d}"}}
    changes = {"state": "accepted", "state_since": now,
               "acceptance_number": f"RAW-20261120-{counter['seq']:05d}",
               "accepted_at": now, "due_date": "2026-11-27", "query_code": secrets.token_hex(4).upper(),
               "revision": revision, "updated_at": now, "outbox": event}
    result = db.records.update_one({"_id": record_id, "revision": record["revision"],
                                    "state": record["state"]},
                                   {"$set": changes})
    if result.matched_count != 1:
        raise SystemExit(f"raw compare-and-set missed {record_id}")
    pending.append(event)
    if len(pending) >= 20:                             # batched like the copier under this load
        db.events.insert_many(pending, ordered=False)
        pending.clear()


def raw_round(db: Any, docs: list[dict[str, Any]]) -> float:
    actor = {"id": "bench", "username": "clerk", "name": "Clerk"}
    pending: list[dict[str, Any]] = []
    start = time.perf_counter()
    for doc in docs:
        raw_accept(db, doc["_id"], actor, pending)
    if pending:
        db.events.insert_many(pending, ordered=False)
    return len(docs) / (time.perf_counter() - start)


def count_round_trips(api: Api, listener: Commands, ids: list[str], copier: Any) -> list[list[str]]:
    samples = []
    for record_id in ids:
        listener.seen = []
        listener.recording = True
        api.post(f"/api/v1/records/{record_id}/transitions/accept", 200, json={"revision": 0})
        samples.append(list(listener.seen))
        copier.flush()
        listener.recording = False
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 50")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("-n", type=int, default=None, help="accepts per round and side")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 5)
    n = args.n or (50 if args.quick else 200)
    probes = 5

    listener = Commands()
    monitoring.register(listener)                      # before the app's MongoClient exists
    folder = Path(tempfile.mkdtemp(prefix="cf-bench-"))
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

        t0 = time.perf_counter()
        api_ids, raw_docs = prepare(api, db.records, rounds * n + probes + 10)
        print(f"prepared {len(api_ids)} + {len(raw_docs)} draft records in {time.perf_counter() - t0:.1f}s "
              f"(not timed)", file=sys.stderr)
        copier = app.extensions["counterflow"].store.copier
        listener.background = []
        samples = count_round_trips(api, listener, api_ids[-10 - probes:-10], copier)
        background = list(listener.background)
        base2, host = serve_process(uri, folder, secret)
        timed = Terminal(base2, api.http.headers["Authorization"])
        api_round(timed, api_ids[-10:], db.events)     # warm-up: caches, validators, the day's counter
        raw_round(db, raw_docs[-10:])

        api_rates, raw_rates = [], []
        for r in range(rounds):
            chunk = slice(r * n, (r + 1) * n)
            api_rates.append(api_round(timed, api_ids[chunk], db.events))
            raw_rates.append(raw_round(db, raw_docs[chunk]))
            print(f"round {r + 1}/{rounds}: API {api_rates[-1]:7.1f}/s   raw {raw_rates[-1]:7.1f}/s",
                  file=sys.stderr)
        raw_client.close()
    finally:
        if host is not None:
            host.terminate()
            host.wait(30)
        if server is not None:
            server.close()
        embedded.stop()

    api_median, raw_median = statistics.median(api_rates), statistics.median(raw_rates)
    trips = [len(s) for s in samples]
    print()
    print(f"accepts, {rounds} rounds x {n} each way, embedded nx-27017, {os.cpu_count()} cores")
    print(f"{'':28}{'median':>10}{'min':>10}{'max':>10}")
    print(f"{'API accepts/s (HTTP)':28}{api_median:10.1f}{min(api_rates):10.1f}{max(api_rates):10.1f}")
    print(f"{'raw pymongo accepts/s':28}{raw_median:10.1f}{min(raw_rates):10.1f}{max(raw_rates):10.1f}")
    print(f"{'ratio API/raw':28}{api_median / raw_median:10.2f}     (target >= 0.6)")
    print(f"{'ms per accept: API, raw':28}{1000 / api_median:10.2f}{1000 / raw_median:10.2f}")
    print(f"{'store round trips/accept':28}{statistics.median(trips):10.0f}"
          f"     (target <= 3; samples {trips})")
    print("commands in one accept:     " + ", ".join(samples[-1]))
    print(f"background copier commands for those {probes} accepts (one at a time, so unbatched): "
          + ", ".join(background))


if __name__ == "__main__":
    main()
