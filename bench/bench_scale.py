"""Reads at scale: the product's lists, worklist, status and history against raw indexed queries.

    python bench/bench_scale.py             # 1,000,000 records
    python bench/bench_scale.py --quick     # 200,000 records
    python bench/bench_scale.py --n 20000   # any N

An embedded nx-27017 server is started on a temporary folder. Setup goes through the real API (an
in-process app): an admin, a clerk in department `counter-1`, a manager, and one record created and
accepted by the clerk; that stored record and its history events are the template. N records shaped
exactly like it (fresh ULID `_id`, department, created_by, assignee, process/state, acceptance number,
query code and dates varied; drafts carry no number) with their events `<id>:0..revision` are loaded
through `Store.insert_records`, the product's bulk path, in batches (progress on stderr): 10% first,
then measured, then the rest, then measured again.

Measured against `counterflow serve` in its own process (one keep-alive client, one request at a
time) and, interleaved request by request, the raw pymongo queries on the same indexes returning the
same rows: the clerk's first page and a deep page (`GET /api/v1/records`, cursor paging), the
manager's first page, `/worklist` (a signed-in page session, 50 rows), the status lookup and a
record's history. Ratio = raw time / product time at p50. Peak RSS (VmHWM) of the host and the store.
"""
from __future__ import annotations

import argparse
import copy
import http.client
import os
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

import requests
from pymongo import MongoClient
from ulid import ULID

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_accept import DATA, Api, free_port, serve  # noqa: E402

try:
    from counterflow.host import create_app
    from counterflow.store.client import Store
    from counterflow.store.embedded import EmbeddedServer
except ImportError:                      # a fresh clone: the package maps plugin/ -> counterflow
    sys.exit("counterflow is not importable; run `pip install -e .` in the repository first")

ADMIN_PASSWORD = "Adm1n-Bench-Pass-2026"
PASSWORD = "Counter-Pass-2026"
DB_NAME = "cf_scale"
DEPARTMENTS = [f"counter-{i}" for i in range(1, 21)]          # the clerk's is counter-1: 5% of records
PAIRS = [("intake", "draft"), ("intake", "submitted"), ("intake", "returned"), ("intake", "accepted"),
         ("review", "pending"), ("review", "assigned"), ("review", "in_progress"), ("review", "approved")]
UNNUMBERED = {"draft", "submitted"}
Doc = dict[str, Any]


class Client:
    """A lean keep-alive GET client (http.client), as a counter terminal's browser would hold."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port))
        self.headers = headers

    def get(self, path: str) -> bytes:
        try:
            self.conn.request("GET", path, headers=self.headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):    # idle past the server's timeout
            self.conn.close()
            self.conn.request("GET", path, headers=self.headers)
            response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
        return body


def serve_host(uri: str, folder: Path, secret: str) -> tuple[str, Any]:
    import subprocess

    port = free_port()
    env = dict(os.environ, COUNTERFLOW_MONGODB_URI=uri, COUNTERFLOW_DB_NAME=DB_NAME,
               COUNTERFLOW_SECRET_KEY=secret, COUNTERFLOW_LOGIN_RATE_LIMIT="1000",
               COUNTERFLOW_STATUS_RATE_LIMIT="100000000")
    cli = Path(sys.executable).parent / "counterflow"
    proc = subprocess.Popen([str(cli), "serve", "--port", str(port), "--data-dir", str(folder / "data")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return base, proc
        except requests.RequestException:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("counterflow serve did not start")


def peak_rss_mb(pid: int) -> float:
    """VmHWM of the process and its children (the store may run under a wrapper), in MB."""
    total, seen, todo = 0, set(), [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return total / 1024


def setup(api: Api, base: str) -> tuple[str, str]:
    """Users through the API; returns the clerk's and the manager's ids."""
    api.login("admin", ADMIN_PASSWORD)
    ids = []
    for name, roles in (("clerk", ["clerk"]), ("manager", ["manager"])):
        user = api.post("/api/v1/users", 201, json={"username": name, "password": "Initial-Pass-2026",
                                                    "name": name.title(), "roles": roles,
                                                    "department": "counter-1"})
        ids.append(user["id"])
        api.login(name, "Initial-Pass-2026")
        api.post("/api/v1/me/password", 200, json={"current_password": "Initial-Pass-2026",
                                                   "new_password": PASSWORD})
        api.login("admin", ADMIN_PASSWORD)
    return ids[0], ids[1]


def template(api: Api, store: Store) -> tuple[Doc, list[Doc]]:
    """One record created and accepted through the API, as stored, with its history events."""
    api.login("clerk", PASSWORD)
    attachment = api.post("/api/v1/attachments", 201,
                          files={"file": ("id.pdf", b"%PDF-1.4 bench", "application/pdf")})
    record = api.post("/api/v1/records", 201,
                      json={"form": "account-change", "data": dict(DATA, id_copy=attachment["id"])})
    api.post(f"/api/v1/records/{record['id']}/transitions/accept", 200, json={"revision": 0})
    store.copier.flush()
    doc = store.records.find_one({"_id": record["id"]})
    assert doc is not None
    deadline = time.monotonic() + 30
    while True:
        events = list(store.events.find({"object_id": doc["_id"]}).sort("revision", 1))
        if len(events) > doc["revision"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if len(events) <= doc["revision"]:
        raise SystemExit(f"template history incomplete: {len(events)} events for revision {doc['revision']}")
    return doc, events


def make(tpl: Doc, tpl_events: list[Doc], count: int, start: int, clerk: str, rng: Any) -> tuple[list[Doc],
                                                                                                 list[Doc]]:
    creators = [clerk] + [str(ULID()) for _ in range(49)]
    docs, events = [], []
    base_ms = int(time.time() * 1000) - 3 * 365 * 86400 * 1000
    processes = set(tpl.get("workflows") or {})
    pairs = [p for p in PAIRS if p[0] in processes] or [(tpl["process"], tpl["state"])]
    for i in range(start, start + count):
        at_ms = base_ms + i * 60_000 + rng.randrange(1000)        # time-ordered, like a real office
        rid = str(ULID.from_timestamp(at_ms / 1000))
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at_ms / 1000)) + f".{at_ms % 1000:03d}Z"
        day = at[:10]
        process, state = pairs[rng.randrange(len(pairs))]
        doc = copy.copy(tpl)
        doc.update(_id=rid, department=DEPARTMENTS[rng.randrange(len(DEPARTMENTS))],
                   created_by=creators[rng.randrange(len(creators))], first_responder=clerk,
                   assignee=creators[rng.randrange(len(creators))] if process == "review" else None,
                   process=process, state=state, state_since=at, created_at=at, updated_at=at, outbox={})
        doc.pop("listed", None)
        if state in UNNUMBERED:
            for key in ("acceptance_number", "query_code", "accepted_at", "due_date"):
                doc.pop(key, None)
        else:
            doc.update(acceptance_number=f"SC-{day.replace('-', '')}-{i:07d}",
                       query_code=secrets.token_hex(4).upper(), accepted_at=at, due_date=day)
        docs.append(doc)
        for e in tpl_events:
            events.append(dict(e, _id=f"{rid}:{e['revision']}", object_id=rid, at=at))
    return docs, events


def load(store: Store, tpl: Doc, tpl_events: list[Doc], count: int, start: int, clerk: str,
         rng: Any) -> float:
    chunk, t0 = 10_000, time.perf_counter()
    for s in range(start, start + count, chunk):
        n = min(chunk, start + count - s)
        docs, events = make(tpl, tpl_events, n, s, clerk, rng)
        store.insert_records(docs, events)
        done = s + n - start
        rate = done / (time.perf_counter() - t0)
        print(f"\rloading {s + n:>9,} records ({done / count:5.1%} of this step, {rate:,.0f} records/s, "
              f"{len(tpl_events)} events each)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return count / (time.perf_counter() - t0)


def raw_list(db: Any, clauses: list[Doc], limit: int, after: str | None) -> list[str]:
    page = {"listed": {"$lt": after}} if after else {"listed": {"$gt": ""}}
    found: dict[str, Doc] = {}
    for clause in clauses:
        for doc in db.records.find(dict(clause, **page), {"outbox": 0}).sort([("listed", -1)]).limit(limit):
            found.setdefault(doc["_id"], doc)
    return [d["_id"] for d in sorted(found.values(), key=lambda d: d["listed"], reverse=True)[:limit]]


def raw_history(db: Any, record_id: str) -> list[Doc]:
    return list(db.events.find({"object_id": record_id}).sort([("at", 1), ("_id", 1)]))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(cases: dict[str, tuple[Callable[[int], Any], Callable[[int], Any]]],
            rounds: int) -> dict[str, tuple[list[float], list[float]]]:
    times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in cases}
    for i in range(rounds):
        for name, (product, raw) in cases.items():
            first, second = (product, raw) if i % 2 == 0 else (raw, product)
            for fn in (first, second):
                t0 = time.perf_counter()
                fn(i)
                took = (time.perf_counter() - t0) * 1000
                times[name][0 if fn is product else 1].append(took)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 records")
    parser.add_argument("--n", type=int, default=None, help="records to load (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=60, help="timed requests per measure, each side")
    args = parser.parse_args()
    total = args.n or (200_000 if args.quick else 1_000_000)
    rng = random.Random(7)
    folder = Path(tempfile.mkdtemp(prefix="cf-scale-"))
    embedded = EmbeddedServer(folder / "store")
    uri = embedded.start()
    server = host = None
    results: dict[int, dict[str, tuple[list[float], list[float]]]] = {}
    rates = []
    try:
        os.environ.pop("COUNTERFLOW_MONGODB_URI", None)
        secret = secrets.token_urlsafe(32)
        app = create_app({"SECRET_KEY": secret, "COUNTERFLOW_MONGODB_URI": uri,
                          "COUNTERFLOW_DB_NAME": DB_NAME, "COUNTERFLOW_DATA_DIR": str(folder / "data"),
                          "COUNTERFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD, "COUNTERFLOW_LOGIN_RATE_LIMIT": 1000})
        base, server = serve(app)
        api = Api(base)
        clerk_id, _ = setup(api, base)
        store: Store = app.extensions["counterflow"].store
        tpl, tpl_events = template(api, store)
        print(f"template: {tpl['process']}/{tpl['state']}, revision {tpl['revision']}, "
              f"{len(tpl_events)} events", file=sys.stderr)
        db: Any = MongoClient(uri, tz_aware=True)[DB_NAME]
        base2, host = serve_host(uri, folder, secret)
        clients = {}
        for name in ("clerk", "manager"):
            api.login(name, PASSWORD)
            clients[name] = Client(base2, {"Authorization": api.http.headers["Authorization"]})
        pages = requests.Session()                       # the clerk's signed-in page session
        login_page = pages.get(base2 + "/login").text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page)
        pages.post(base2 + "/login", data={"username": "clerk", "password": PASSWORD,
                                           "csrf_token": token.group(1) if token else ""}).raise_for_status()
        cookie = "; ".join(f"{k}={v}" for k, v in pages.cookies.items())
        page_client = Client(base2, {"Cookie": cookie})
        page_client.get("/worklist")
        clerk_clauses = [{"department": "counter-1"}, {"created_by": clerk_id}, {"assignee": clerk_id}]

        loaded = 0
        for step in (total // 10, total):
            rates.append(load(store, tpl, tpl_events, step - loaded, loaded, clerk_id, rng))
            loaded = step
            # a deep page: 90% of the way down the clerk's department, newest first
            dept = [d["_id"] for d in db.records.find({"department": "counter-1"}, {"_id": 1})]
            dept.sort(reverse=True)
            deep = dept[int(len(dept) * 0.9)]
            numbered = list(db.records.find({"acceptance_number": {"$gt": "SC-"}},
                                            {"acceptance_number": 1, "query_code": 1}).limit(200))
            sample = [d["_id"] for d in db.records.find({"department": "counter-2"}, {"_id": 1}).limit(200)]
            clerk, manager = clients["clerk"], clients["manager"]
            status_qs = [urlencode({"number": d["acceptance_number"], "code": d["query_code"]})
                         for d in numbered]

            def check(path: str, ids: list[str], client: Client = clerk) -> None:
                import json

                got = [r["id"] for r in json.loads(client.get(path))["items"]]
                if got != ids:
                    raise SystemExit(f"{path}: the product's rows differ from the raw query's")

            check("/api/v1/records", raw_list(db, clerk_clauses, 20, None))
            check(f"/api/v1/records?cursor={deep}", raw_list(db, clerk_clauses, 20, deep))
            check("/api/v1/records", raw_list(db, [{}], 20, None), manager)
            cases: dict[str, tuple[Callable[[int], Any], Callable[[int], Any]]] = {
                "clerk worklist": (lambda i: clerk.get("/api/v1/records"),
                                   lambda i: raw_list(db, clerk_clauses, 21, None)),
                "deep page": (lambda i: clerk.get(f"/api/v1/records?cursor={deep}"),
                              lambda i: raw_list(db, clerk_clauses, 21, deep)),
                "manager worklist": (lambda i: manager.get("/api/v1/records"),
                                     lambda i: raw_list(db, [{}], 21, None)),
                "/worklist HTML": (lambda i: page_client.get("/worklist"),
                                   lambda i: raw_list(db, clerk_clauses, 50, None)),
                "status": (lambda i: clerk.get("/api/v1/status?" + status_qs[i % len(status_qs)]),
                           lambda i: (db.records.find_one({"acceptance_number": numbered[i % len(numbered)]
                                                           ["acceptance_number"]}),
                                      raw_history(db, numbered[i % len(numbered)]["_id"]))),
                "history": (lambda i: manager.get(f"/api/v1/records/{sample[i % len(sample)]}/history"),
                            lambda i: raw_history(db, sample[i % len(sample)])),
            }
            measure(cases, 3)                            # warm-up
            results[step] = measure(cases, args.rounds)
            print(f"measured at {step:,} records", file=sys.stderr)
        store_pid = embedded.process.pid if embedded.process else 0
        host_rss, store_rss = peak_rss_mb(host.pid), peak_rss_mb(store_pid)
    finally:
        if host is not None:
            host.terminate()
            host.wait(30)
        if server is not None:
            server.close()
        embedded.stop()

    small, big = sorted(results)
    print()
    print(f"scale: {total:,} records ({len(tpl_events)} events each), {args.rounds} interleaved requests per "
          f"measure and side, embedded nx-27017, {os.cpu_count()} cores; load {rates[0]:,.0f} then "
          f"{rates[1]:,.0f} records/s")
    head = (f"{'measure':18}{'N':>10}{'product p50':>13}{'p99':>9}{'raw p50':>10}{'p99':>9}"
            f"{'ratio':>8}{'growth':>9}")
    print(head)
    print("-" * len(head))
    for name in results[big]:
        for n in (small, big):
            prod, raw = results[n][name]
            before = statistics.median(results[small][name][0])
            growth = statistics.median(prod) / before if n == big else None
            print(f"{name:18}{n:>10,}{statistics.median(prod):11.2f}ms{pct(prod, .99):7.2f}ms"
                  f"{statistics.median(raw):8.2f}ms{pct(raw, .99):7.2f}ms"
                  f"{statistics.median(raw) / statistics.median(prod):7.2f}×"
                  f"{'' if growth is None else f'{growth:8.2f}×'}")
    print("ratio = raw p50 / product p50 (target >= 0.5×); "
          "growth = product p50 at 100% / at 10% (target flat)")
    print(f"peak RSS: host {host_rss:,.0f} MB, store {store_rss:,.0f} MB")


if __name__ == "__main__":
    main()
