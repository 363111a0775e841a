"""`audit verify` over a large log: time and peak memory, which must stay flat as the log grows.

    python bench/bench_audit.py                 # 100,000 then 1,000,000 entries
    python bench/bench_audit.py --sizes 100000 200000
    python bench/bench_audit.py --quick         # 10,000 then 50,000 (a smoke run, about a minute)

One embedded nx-27017 server on a temporary folder. The log is written straight into the store the way
`AuditLog.append_many` writes it (chained entries, 10,000 a day over as many days as needed, a signed
checkpoint every 1,000 entries), without the HTTP host: writing is not what is measured. Each size is
then verified by `AuditActions.verify_audit` in a fresh process (the same code `counterflow audit verify`
runs), which reports its wall time and its peak RSS (ru_maxrss) before and after verifying; the log
grows from one size to the next, so memory growth between sizes is what the walk itself holds.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    from counterflow.core import audit as chain
    from counterflow.store.embedded import EmbeddedServer
    from counterflow.host import create_app
except ImportError:                      # a fresh clone: the package maps plugin/ -> counterflow
    sys.exit("counterflow is not importable; run `pip install -e .` in the repository first")

DB_NAME = "cf_bench_audit"
PER_DAY = 10_000
SEAL_EVERY = 1_000
BATCH = 5_000


def config(uri: str, folder: Path) -> dict[str, Any]:
    return {"SECRET_KEY": "bench-audit-secret", "COUNTERFLOW_MONGODB_URI": uri,
            "COUNTERFLOW_DB_NAME": DB_NAME, "COUNTERFLOW_DATA_DIR": str(folder / "data"),
            "COUNTERFLOW_ADMIN_PASSWORD": "Adm1n-Bench-Pass-2026",
            "COUNTERFLOW_PASSWORD_PROFILE": "cheapest", "COUNTERFLOW_LOAD_SHIPPED": False}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024      # Linux: kilobytes


def fill(app: Any, start: int, until: int) -> float:
    """Entries `start`..`until-1` (global numbering: day = n // PER_DAY), chained and sealed as the product
    does. Returns the seconds it took."""
    log = app.extensions["counterflow"].store.audit_log
    began = time.perf_counter()
    n = start
    while n < until:
        day = f"2025-{1 + (n // PER_DAY) // 28:02d}-{1 + (n // PER_DAY) % 28:02d}"
        seq, prev = log._head(day)
        docs = []
        stop = min(until, (n // PER_DAY + 1) * PER_DAY, n + BATCH)
        while n < stop:
            seq += 1
            fields = {"at": f"{day}T09:00:00.000Z", "action": "record.approve",
                      "actor": {"id": f"u-{n % 50}", "username": f"clerk{n % 50}"}, "actor_id": f"u-{n % 50}",
                      "object": f"rec-{n % 20_000:06d}", "source": "reviewing", "dest": "approved",
                      "reason": "材料齐全，同意", "event": f"rec-{n:08d}:3",
                      "details": {"process": "permit", "revision": 3, "changed": ["/phone", "/address"]}}
            doc = chain.make_entry(day, seq, prev, fields)
            prev = doc["hash"]
            docs.append(doc)
            n += 1
        log.entries.insert_many(docs, ordered=False)
        log._heads[day] = (seq, prev)
        log._mark_day(day)
        for doc in docs:
            if doc["seq"] % SEAL_EVERY == 0:
                log._checkpoint(day, doc["seq"], doc["hash"])
    log.seal(force=True)
    return time.perf_counter() - began


def verify_child(uri: str, folder: str) -> None:
    """Runs in its own process: verify the whole log, print one JSON line."""
    app = create_app(config(uri, Path(folder)))
    before = rss_mb()
    began = time.perf_counter()
    lines = 0

    def progress(day: str, count: int) -> None:
        nonlocal lines
        lines += 1

    result = app.extensions["counterflow"].service.verify_audit(progress=progress)
    seconds = time.perf_counter() - began
    print(json.dumps({"entries": result.entries, "days": result.days, "checkpoints": result.checkpoints,
                      "problems": result.problem_count, "seconds": seconds, "rss_before_mb": before,
                      "rss_peak_mb": rss_mb()}))
    app.extensions["counterflow"].close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--quick", action="store_true", help="10,000 then 50,000 entries")
    parser.add_argument("--verify-child", nargs=2, metavar=("URI", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.verify_child:
        verify_child(*args.verify_child)
        return
    sizes = sorted([10_000, 50_000] if args.quick else args.sizes)
    folder = Path(tempfile.mkdtemp(prefix="cf-bench-audit-"))
    server = EmbeddedServer(folder / "store")
    uri = server.start()
    app = create_app(config(uri, folder))
    rows = []
    try:
        written = 0
        for size in sizes:
            fill_seconds = fill(app, written, size)
            written = size
            child = subprocess.run([sys.executable, __file__, "--verify-child", uri, str(folder)],
                                   capture_output=True, text=True, env=dict(os.environ), check=True)
            row = json.loads(child.stdout.strip().splitlines()[-1])
            row["fill_seconds"] = fill_seconds
            rows.append(row)
            print(f"{size:>9,} entries: verified in {row['seconds']:.1f} s "
                  f"({row['entries'] / row['seconds']:,.0f} entries/s), {row['checkpoints']:,} checkpoints, "
                  f"{row['problems']} problems; peak RSS {row['rss_peak_mb']:.0f} MB "
                  f"({row['rss_before_mb']:.0f} MB before the walk); written in {fill_seconds:.0f} s",
                  flush=True)
    finally:
        app.extensions["counterflow"].close()
        server.stop()
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        grew = (last["rss_peak_mb"] - last["rss_before_mb"]) - (first["rss_peak_mb"] - first["rss_before_mb"])
        print(f"memory held by the walk: {first['rss_peak_mb'] - first['rss_before_mb']:.1f} MB at "
              f"{first['entries']:,} entries, {last['rss_peak_mb'] - last['rss_before_mb']:.1f} MB at "
              f"{last['entries']:,} ({grew:+.1f} MB for {last['entries'] / first['entries']:.0f}x the "
              "entries)")
        if any(r["problems"] for r in rows):
            sys.exit("the benchmark's own log did not verify")


if __name__ == "__main__":
    main()
