"""Every query the audit log sends is served by an index (the server's own explain, as in
tests/test_store_explain.py): appending (the head), feeding (the inbox), sealing (checkpoints), the
partition walk of `audit verify`, and every shape of the auditor's page (each filter alone, together,
with days and a cursor). A new public AuditLog method without a case fails."""
from __future__ import annotations

import inspect
from typing import Any, Callable, Iterator

import pytest
from pymongo import monitoring

from counterflow.core import audit as chain
from counterflow.core.engine import Actor
from counterflow.store.audit import AuditLog, today

from conftest import make_config, new_db_name, running_app
from test_store_explain import Captured, plan_problem

N_ENTRIES = 3000
WHO = [Actor(f"u-{i}", f"user{i}", roles=frozenset({"clerk"})) for i in range(5)]
NO_QUERY = {"receive"}          # inserts only


class World:
    def __init__(self, app: Any, captured: Captured) -> None:
        self.state = app.extensions["counterflow"]
        self.log: AuditLog = self.state.store.audit_log
        self.captured = captured
        day = today()
        docs, prev = [], chain.genesis(day)
        for i in range(N_ENTRIES):
            fields = chain.audit_fields("record.read" if i % 3 else "record.reveal", WHO[i % 5],
                                        object_id=f"rec-{i % 200}")
            if i % 2:
                fields["event"] = f"rec-{i % 200}:{i}"
            doc = chain.make_entry(day, i + 1, prev, fields)
            prev = doc["hash"]
            docs.append(doc)
        self.log.entries.insert_many(docs)
        self.log._mark_day(day)
        self.log.seal_every = 500
        self.log.seal(force=True)
        self.day = day
        self.events = [{"_id": f"ev-{i}", "kind": "record", "object_id": "rec-1", "at": chain.stamp(),
                        "actor": {"id": "u-1"}, "trigger": "t"} for i in range(50)]

    def run(self, case: Callable[["World"], Any]) -> list[tuple[str, dict[str, Any], Any]]:
        return [q for q in self.captured.during(lambda: case(self)) if q[0].startswith("audit")]


@pytest.fixture(scope="module")
def world(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db_name = new_db_name()
    captured = Captured(db_name)
    monitoring.register(captured)
    with running_app(make_config(mongo_uri, db_name, tmp_path_factory.mktemp("explain-audit"))) as app:
        yield World(app, captured)
    captured.db_name = ""


def _page(filters: dict[str, str], days: bool = False, cursor: bool = False) -> Callable[[World], Any]:
    def case(w: World) -> Any:
        first, last = (w.day, w.day) if days else ("0000-01-01", "9999-12-31")
        after = chain.entry_key(w.day, N_ENTRIES // 2) if cursor else None
        return w.log.page(filters, first, last, after, 50)
    return case


def _append(w: World) -> None:
    w.log._heads.clear()                       # another host wrote last: the head is read again
    w.log.append(chain.audit_fields("login", WHO[0]))


def _feed(w: World) -> None:
    w.log.receive(w.events[:10])
    w.log.feed_events(w.events[:10])
    w.log.feed_events(w.events[:10])           # a repeat: the event is in the log already


def _repeat(w: World) -> None:
    fields = chain.event_fields(w.events[20])
    assert w.log.append(fields) is not None
    w.log._heads.clear()
    assert w.log.append_many([fields]) == []   # refused by the event's unique index, then looked up


def _feed_all(w: World) -> None:
    w.log.receive(w.events[30:40])
    w.log.feed()


CASES: dict[str, Callable[[World], Any]] = {
    "append": _append,
    "append_many": _repeat,
    "feed_events": _feed,
    "feed": _feed_all,
    "seal": lambda w: w.log.seal(force=True),
    "last_sealed": lambda w: w.log.last_sealed(w.day),
    "last_checkpoint": lambda w: w.log.last_checkpoint(),
    "day_list": lambda w: w.log.day_list("2000-01-01", "9999-12-31"),
    "partition": lambda w: sum(1 for _ in w.log.partition(w.day)),
    "sealed": lambda w: list(w.log.sealed(w.day)),
    "checkpoint_chain": lambda w: list(w.log.checkpoint_chain()),
    "checkpoint_days": lambda w: list(w.log.checkpoint_days()),
    "count": lambda w: w.log.count(w.day),
    "page": _page({}),
}
PAGES: dict[str, Callable[[World], Any]] = {
    "all": _page({}), "all, days": _page({}, days=True), "all, cursor": _page({}, cursor=True),
    "object": _page({"object": "rec-7"}), "actor": _page({"actor_id": "u-2"}),
    "action": _page({"action": "record.reveal"}),
    "object, days, cursor": _page({"object": "rec-7"}, days=True, cursor=True),
    "actor, days, cursor": _page({"actor_id": "u-2"}, days=True, cursor=True),
    "action, days, cursor": _page({"action": "record.reveal"}, days=True, cursor=True),
}


def test_every_audit_log_method_has_a_case() -> None:
    methods = {name for name, _ in inspect.getmembers(AuditLog, inspect.isfunction)
               if not name.startswith("_")}
    assert methods - set(CASES) - NO_QUERY == set()


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_audit_query_is_served_by_an_index(world: World, name: str) -> None:
    sent = world.run(CASES[name])
    assert sent, f"{name} sent no query"
    problems = [(c, f, plan_problem(world.state.store, c, f, s)) for c, f, s in sent]
    assert [p for p in problems if p[2]] == []


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_page_shape_is_served_by_an_index(world: World, name: str) -> None:
    sent = world.run(PAGES[name])
    assert len(sent) == 1
    collection, filter_, sort = sent[0]
    assert plan_problem(world.state.store, collection, filter_, sort) is None, filter_


def test_the_service_runs_one_indexed_query_shape_per_page(world: World) -> None:
    """Several filters at once: the most selective leads (one index), the others filter its rows."""
    auditor = Actor("u-a", "aud", roles=frozenset({"auditor"}))
    sent = world.run(lambda w: w.state.service.audit_page(
        auditor, {"object": "rec-7", "actor": "u-2", "action": "record.read", "limit": 5}, "en"))
    assert sent and {tuple(sorted(f)) for _, f, _ in sent} == {("key", "object")}
    assert all(plan_problem(world.state.store, c, f, s) is None for c, f, s in sent)
