"""`tick` over many open records: time and peak memory, which must stay flat as the count grows.

    python bench/bench_tick.py             # 100,000 open records, 1% of them overdue
    python bench/bench_tick.py --quick     # 10,000
    python bench/bench_tick.py --n 50000 --due 0.05

An embedded nx-27017 server is started on a temporary folder and an in-process app on it. Setup goes
through the real API: a clerk and a department head in `counter-1`; the clerk creates and accepts one record
(the shipped account-change form: its 5-working-day limit starts). That stored record is the template: N
records shaped exactly like it (fresh ULID `_id`, acceptance number varied, no outbox) are loaded through
`Store.insert_records` in batches; a share `--due` of them carry the template's `tick_at` (their clock
needs a look), the rest a `tick_at` years ahead (open, clock running, nothing owed yet).

Measured: `Service.tick(now)` at 30 days after acceptance (every due record is overdue: one lease, the
overdue mark, one escalation, the lease given back; the history copied), then the same tick again (nothing
owed: the indexed range is read and every record is found done). Peak memory is the process's VmHWM
growth during the tick (Linux; the high-water mark is reset just before through /proc/self/clear_refs),
and Python's own peak (tracemalloc) in a separate tick over a tenth as many due records (at least 100).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any, Iterator

from ulid import ULID

try:
    from counterflow.host import create_app
    from counterflow.store.embedded import EmbeddedServer
except ImportError:                      # a fresh clone: the package maps plugin/ -> counterflow
    sys.exit("counterflow is not importable; run `pip install -e .` in the repository first")

ADMIN_PASSWORD = "Adm1n-Bench-Pass-2026"
PASSWORD = "Counter-Pass-2026"
DB_NAME = "cf_tick"
DATA = {
    "applicant_name": "王小明", "id_type": "resident_id", "id_number": "11010519491231002X",
    "bank_card": "6222020200112233445", "phone": "13800138000", "changed_items": ["phone"],
    "new_details": {"new_phone": "13912345678"}, "reason": "更换手机号", "application_date": "2026-11-20",
}
FAR = "2099-12-31"
PARKED = "2098-01-01"         # due records wait here until the warm-up tick is done
TRACED = "2098-01-02"         # ... and these until the tick under tracemalloc
Doc = dict[str, Any]


def vm(field: str) -> float:
    """A VmHWM / VmRSS figure of this process in MB (0 where /proc is not there)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


class Client:
    def __init__(self, app: Any) -> None:
        self.client = app.test_client()
        self.headers: dict[str, str] = {}

    def login(self, username: str, password: str) -> None:
        r = self.client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert r.status_code == 200, r.get_json()
        self.headers = {"Authorization": "Bearer " + r.get_json()["token"]}

    def post(self, path: str, expect: int, body: Doc) -> Doc:
        r = self.client.post(path, json=body, headers=self.headers)
        if r.status_code != expect:
            raise SystemExit(f"POST {path}: {r.status_code} {r.get_data(as_text=True)[:400]}")
        return dict(r.get_json())


def add_staff(api: Client, username: str, roles: list[str]) -> None:
    api.login("admin", ADMIN_PASSWORD)
    api.post("/api/v1/users", 201, {"username": username, "password": "Initial-Pass-2026",
                                    "name": username.title(), "roles": roles, "department": "counter-1"})
    api.login(username, "Initial-Pass-2026")
    api.post("/api/v1/me/password", 200, {"current_password": "Initial-Pass-2026", "new_password": PASSWORD})
    api.login(username, PASSWORD)                     # the change ended the earlier token


def clones(template: Doc, n: int, due: int, start: int, traced: int = 0) -> Iterator[Doc]:
    for i in range(start, start + n):
        doc = {k: v for k, v in template.items() if k not in ("_id", "outbox", "listed")}
        doc.update(_id=str(ULID()), acceptance_number=f"BENCH-{i:08d}", revision=1,
                   tick_at=(PARKED if i - start < due else TRACED if i - start < due + traced else FAR))
        yield doc


def load(store: Any, template: Doc, n: int, due: int, start: int, traced: int = 0, batch: int = 5000) -> None:
    made = clones(template, n, due, start, traced)
    loaded = 0
    while loaded < n:
        docs = [d for _, d in zip(range(min(batch, n - loaded)), made)]
        store.insert_records(docs, [])
        loaded += len(docs)
        print(f"  loaded {loaded}/{n}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 records")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--due", type=float, default=0.01, help="share of records whose clock needs a look")
    args = parser.parse_args()
    n = args.n or (10_000 if args.quick else 100_000)
    due = int(n * args.due)

    folder = Path(tempfile.mkdtemp(prefix="cf-bench-tick-"))
    embedded = EmbeddedServer(folder / "store")
    uri = embedded.start()
    try:
        os.environ.pop("COUNTERFLOW_MONGODB_URI", None)
        app = create_app({"SECRET_KEY": secrets.token_urlsafe(32), "COUNTERFLOW_MONGODB_URI": uri,
                          "COUNTERFLOW_DB_NAME": DB_NAME, "COUNTERFLOW_DATA_DIR": str(folder / "data"),
                          "COUNTERFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD, "COUNTERFLOW_LOGIN_RATE_LIMIT": 1000,
                          "COUNTERFLOW_TICK_EVERY_SECONDS": 0, "COUNTERFLOW_TICK_BATCH": 500})
        state = app.extensions["counterflow"]
        api = Client(app)
        add_staff(api, "head", ["dept_head"])
        add_staff(api, "clerk", ["clerk"])
        import io
        up = api.client.post("/api/v1/attachments", headers=api.headers, content_type="multipart/form-data",
                             data={"file": (io.BytesIO(b"%PDF-1.4 bench"), "id.pdf")})
        assert up.status_code == 201, up.get_json()
        data = dict(DATA, id_copy=up.get_json()["id"])
        record = api.post("/api/v1/records", 201, {"form": "account-change", "data": data})
        accepted = api.post(f"/api/v1/records/{record['id']}/transitions/accept", 200,
                            {"revision": record["revision"]})
        template = state.store.record(accepted["id"])
        assert template.get("tick_at"), "the accepted record has no clock"
        now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)

        t0 = time.perf_counter()
        spare = max(due // 10, 100)     # a share for the tick under tracemalloc, one for warming up
        load(state.store, template, n, due, 0, spare)
        load(state.store, template, spare, 0, n)
        state.store.records.update_many({"acceptance_number": {"$gte": f"BENCH-{n:08d}"}},
                                        {"$set": {"tick_at": "2000-01-01"}})
        print(f"loaded {n + spare} records in {time.perf_counter() - t0:.1f}s (not timed)", file=sys.stderr)

        service = state.service
        service.tick(now, progress=None)                    # nothing measured: caches, the first lease
        state.store.records.update_many({"tick_at": PARKED}, {"$set": {"tick_at": template["tick_at"]}})
        reset_peak()
        rss_before = vm("VmRSS")
        t0 = time.perf_counter()
        report = service.tick(now, progress=lambda line: print(f"  tick: {line}", file=sys.stderr))
        first = time.perf_counter() - t0
        hwm = vm("VmHWM") - rss_before
        print(f"first tick: {report.summary()}", file=sys.stderr)
        t0 = time.perf_counter()
        again = service.tick(now)
        second = time.perf_counter() - t0
        print(f"second tick: {again.summary()}", file=sys.stderr)

        # Python's own peak over a tick of `spare` due records (tracemalloc slows it: not timed)
        state.store.records.update_many({"tick_at": TRACED}, {"$set": {"tick_at": template["tick_at"]}})
        tracemalloc.start()
        service.tick(now + dt.timedelta(days=1))
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()

        handled = report.claimed
        print(f"records {n}  due {due}  first tick {first:.2f}s ({handled / first:.0f} records/s, "
              f"{sum(report.events.values())} events)  second tick {second:.2f}s "
              f"(looked at {again.looked}, took {again.claimed})  "
              f"peak RSS growth {hwm:.1f} MB  Python peak {traced:.1f} MB")
    finally:
        embedded.stop()


if __name__ == "__main__":
    main()
