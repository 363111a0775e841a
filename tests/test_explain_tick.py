"""Every query of clocks and `tick` (store/tick.py) is served by an index on the configured server: the
records whose `tick_at` has come (a range on a single-field index, no `$or`), the per-record lease
(compare-and-set on `_id`), the calendar (one meta document by `_id`), a department's users (equality on
`users.department`). Each command is captured as sent (pymongo monitoring) and explained by the server.
A query on an unindexed field fails the check (the last test), so a passing case means something."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

import pytest
from pymongo import monitoring

from conftest import make_config, new_db_name, running_app
from counterflow.store import tick as tick_store
from test_store_explain import Captured, plan_problem

N = 3000


@pytest.fixture(scope="module")
def loaded(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Captured]]:
    name = new_db_name()
    captured = Captured(name)
    monitoring.register(captured)            # before the app's client: pymongo takes listeners at creation
    with running_app(make_config(mongo_uri, name, tmp_path_factory.mktemp("explain-tick"))) as app:
        store = app.extensions["counterflow"].store
        first = dt.date(2026, 1, 1)
        store.records.insert_many([
            {"_id": f"rec{i:06d}", "form": "f", "process": "p", "state": "s", "revision": 0,
             "tick_at": (first + dt.timedelta(days=i % 365)).isoformat(), "tick_lease": None,
             "due_at": (first + dt.timedelta(days=i % 300)).isoformat()} for i in range(N)])
        store.users.insert_many([{"_id": f"usr{i:05d}", "username": f"user{i}", "password_hash": "x",
                                  "roles": ["clerk"], "department": f"dept-{i % 40}"} for i in range(N // 3)])
        yield app, captured
        captured.on = False


def _explained(store: Any, captured: Captured, work: Any) -> list[tuple[str, dict[str, Any], Any]]:
    captured.queries.clear()
    captured.on = True
    try:
        work()
    finally:
        captured.on = False
    assert captured.queries, "the work sent no query"
    return list(captured.queries)


CASES = {
    "due_for_tick": lambda store: list(tick_store.due_for_tick(store, "2026-03-01", 100)),
    "claim": lambda store: tick_store.claim(store, "rec000007", None, "2026-03-01T00:05:00.000Z|h"),
    "release": lambda store: tick_store.release(store, "rec000007", "2026-03-01T00:05:00.000Z|h", {"x": 1}),
    "set_clock": lambda store: tick_store.set_clock(store, "rec000008", 0, {"due_soon": False}),
    "calendar_years": lambda store: tick_store.calendar_years(store),
    "set_calendar_year": lambda store: tick_store.set_calendar_year(store, 2027, {"days_off": []}),
    "department_users": lambda store: tick_store.department_users(store, "dept-3"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_tick_query_uses_an_index(loaded: Any, case: str) -> None:
    app, captured = loaded
    store = app.extensions["counterflow"].store
    for collection, filter_, sort in _explained(store, captured, lambda: CASES[case](store)):
        assert "$or" not in filter_
        problem = plan_problem(store, collection, filter_, sort)
        assert problem is None, f"{case}: {collection} {filter_} is not served by an index: {problem}"


def test_every_public_function_of_the_tick_store_has_a_case() -> None:
    public = {n for n, v in vars(tick_store).items()
              if callable(v) and not n.startswith("_")
              and getattr(v, "__module__", "") == tick_store.__name__}
    assert public == set(CASES)


def test_the_due_query_reads_a_range_of_tick_at_in_batches_with_only_id_and_lease(loaded: Any) -> None:
    app, _ = loaded
    store = app.extensions["counterflow"].store
    found = list(tick_store.due_for_tick(store, "2026-01-10", 3))
    assert len(found) == sum(1 for i in range(N) if i % 365 < 10)
    assert all(set(doc) <= {"_id", "tick_lease"} for doc in found)
    dates = [store.records.find_one({"_id": d["_id"]})["tick_at"] for d in found]
    assert dates == sorted(dates) and max(dates) <= "2026-01-10"


def test_the_check_catches_a_query_no_index_serves(loaded: Any) -> None:
    app, _ = loaded
    store = app.extensions["counterflow"].store
    assert plan_problem(store, "records", {"clock.state_due": {"$lte": "2026-03-01"}}, None) is not None
