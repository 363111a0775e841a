"""Every query the store sends is served by an index, proven by the server's own explain.

Each public method of `Store` has a case here (or is named as sending no query): the cases run against a
few thousand records shaped as the product stores them, every command they send is captured through
pymongo's command monitoring, and each filter is explained by the configured server. On nx-27017 the
plan is SQLite's EXPLAIN QUERY PLAN: it must search an index and never scan the collection (a query the
server cannot translate to SQL shows as a bare `SCAN <collection>`: evaluated in Python over every
document). On MongoDB the winning plan must hold an IXSCAN (or the `_id` fast path) and no COLLSCAN.
The product's answers must equal those of the plain query they replace (`$or`, `$in`, an `_id` range).
A new store method without a case fails `test_every_store_method_has_a_case`.
"""
from __future__ import annotations

import datetime as dt
import inspect
import itertools
import re
import threading
from typing import Any, Callable, Iterator

import pytest
from pymongo import monitoring

from counterflow.core import access
from counterflow.core.clock import stamp
from counterflow.core.engine import Actor
from counterflow.store.client import Store

from conftest import add_staff, make_config, new_db_name, running_app, signed_in
from forms import publish

N_RECORDS = 3000
PAGE = 250
# collections that hold a handful of documents and are read whole by design (the admin's lists)
READ_WHOLE = {"users", "workflow_versions"}
# methods that send no filtered command (inserts, the connection itself)
NO_QUERY = {"close", "ping", "insert_user", "insert_form_version", "insert_workflow_version", "insert_record",
            "insert_records", "copy_events", "add_event", "claim_meta"}


class Captured(monitoring.CommandListener):
    """The filters of the commands sent to one database while `on` (pymongo listeners are process-wide)."""

    def __init__(self, db_name: str) -> None:
        self.db_name = db_name
        self._on = False
        self.thread = 0
        self.queries: list[tuple[str, dict[str, Any], Any]] = []

    @property
    def on(self) -> bool:
        return self._on

    @on.setter
    def on(self, value: bool) -> None:
        """Capture the commands of the thread that turns it on: the app's background threads (the history
        and audit copiers) query their own collections at any moment, which is not what the case sends."""
        self.thread = threading.get_ident()
        self._on = value

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self._on or event.database_name != self.db_name or threading.get_ident() != self.thread:
            return
        cmd, name = event.command, event.command_name
        if name == "find":
            self.queries.append((cmd["find"], dict(cmd.get("filter") or {}), cmd.get("sort")))
        elif name == "findAndModify":
            self.queries.append((cmd["findAndModify"], dict(cmd.get("query") or {}), cmd.get("sort")))
        elif name == "update":
            self.queries.extend((cmd["update"], dict(u["q"]), None) for u in cmd.get("updates", []))
        elif name == "delete":
            self.queries.extend((cmd["delete"], dict(d["q"]), None) for d in cmd.get("deletes", []))
        elif name == "aggregate":
            match: dict[str, Any] = next((s["$match"] for s in cmd.get("pipeline", []) if "$match" in s), {})
            self.queries.append((cmd["aggregate"], dict(match), None))

    def during(self, case: Callable[[], Any]) -> list[tuple[str, dict[str, Any], Any]]:
        """The filtered commands `case` sends."""
        self.queries = []
        self.on = True
        try:
            case()
        finally:
            self.on = False
        return list(self.queries)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def plan_problem(store: Store, collection: str, filter_: dict[str, Any], sort: Any) -> str | None:
    """None when the server serves the query from an index, else what its plan says."""
    if not filter_ and collection in READ_WHOLE:
        return None
    cmd: dict[str, Any] = {"find": collection, "filter": filter_}
    if sort:
        cmd["sort"] = sort
    plan = store.db.command("explain", cmd, verbosity="queryPlanner")["queryPlanner"]["winningPlan"]
    if isinstance(plan, list):                                   # nx-27017: SQLite's plan rows
        details = [str(row.get("detail", "")) for row in plan]
        scans = [d for d in details if re.fullmatch(rf"SCAN \"?{collection}\"?( .*)?", d)]
        searches = [d for d in details if re.match(rf"SEARCH \"?{collection}\"? USING", d)]
        return None if searches and not scans else f"{details}"
    stages = set(re.findall(r"'stage': '([A-Z_]+)'", repr(plan)))     # MongoDB: the plan tree
    if "COLLSCAN" in stages or not stages & {"IXSCAN", "IDHACK", "EXPRESS_IXSCAN", "EXPRESS_IDHACK"}:
        return f"{sorted(stages)}"
    return None


# -- the world: a few thousand records shaped as the product stores them, with their history ------------

ACTORS = {
    "clerk": Actor("u-clerk", "clerk", roles=frozenset({"clerk"}), department="counter-1"),
    "clerk2": Actor("u-clerk2", "clerk2", roles=frozenset({"clerk"}), department="counter-1"),
    "outsider": Actor("u-outsider", "outsider", roles=frozenset({"clerk"}), department="counter-2"),
    "reviewer": Actor("u-reviewer", "reviewer", roles=frozenset({"reviewer"}), department="counter-3"),
    "manager": Actor("u-boss", "boss", roles=frozenset({"manager"}), department="office"),
}


class World:
    def __init__(self, app: Any, captured: Captured) -> None:
        state = app.extensions["counterflow"]
        self.app, self.store, self.service, self.captured = app, state.store, state.service, captured
        publish(add_staff(signed_in(app.test_client())))
        form = self.store.latest_form_version("parking-permit", "published")
        assert form is not None
        self.form = form
        flows = self.service.record_workflows()
        self.timed = sorted({(w.key, s) for w in flows for s in w.states if w.clock_runs(s)})
        self.places = sorted({(w.key, s) for w in flows for s in w.states})
        self.today = dt.datetime.now(self.service.tz).date()
        self.load()

    def load(self) -> None:
        actor = ACTORS["clerk"]
        template, _ = self.service.create_record(actor, {"form": "parking-permit", "data": {}}, "en")
        stored = self.store.record(template["_id"])
        people = [a.id for a in ACTORS.values()]
        records, events = [], []
        base = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
        for i in range(N_RECORDS):
            rid = f"01JXPLAIN{i:017d}"
            place = self.places[(i // 3) % len(self.places)] if i % 3 else self.timed[i % len(self.timed)]
            process, state = place
            revision = i % 4
            at = stamp(base + dt.timedelta(minutes=i))
            doc = dict(stored, _id=rid, process=process, state=state, revision=revision,
                       department=("counter-1", "counter-2", "counter-3")[i % 3],
                       created_by=people[i % 4], first_responder=people[i % 4],
                       assignee=people[(i // 3) % len(people)] if i % 5 else None,
                       due_at=(self.today + dt.timedelta(days=(i % 11) - 5)).isoformat(),
                       created_at=at, updated_at=at, state_since=at)
            doc.pop("outbox", None)
            if i % 2:
                doc.update(acceptance_number=f"PX-{i:06d}", query_code="ABCDEFGH", accepted_at=at)
            records.append(doc)
            for r in range(revision + 1):
                events.append({"_id": f"{rid}:{r}", "kind": "record", "object_id": rid, "revision": r,
                               "at": stamp(base + dt.timedelta(minutes=i, seconds=r)), "trigger": "t",
                               "process": process, "source": state, "dest": state, "outcome": "done",
                               "actor": {"id": actor.id}, "changes": [], "details": {}})
            if i % 7 == 0:
                events.append({"_id": f"{rid}:{revision}:refused:01JREFUSED{i:016d}", "kind": "record",
                               "object_id": rid, "revision": revision, "outcome": "refused",
                               "at": stamp(base + dt.timedelta(minutes=i, seconds=30)), "trigger": "t",
                               "process": process, "source": state, "dest": state,
                               "actor": {"id": actor.id}, "changes": [], "details": {"problems": []}})
        self.store.insert_records(records, events)       # the bulk path gives each record its list key
        self.store.copier.flush()

    def run(self, case: Callable[["World"], Any]) -> list[tuple[str, dict[str, Any], Any]]:
        """The filtered commands `case` sends."""
        return self.captured.during(lambda: case(self))


@pytest.fixture(scope="module")
def world(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db_name = new_db_name()
    captured = Captured(db_name)
    monitoring.register(captured)          # before the app's client exists: it is created with the listener
    with running_app(make_config(mongo_uri, db_name, tmp_path_factory.mktemp("explain"))) as app:
        yield World(app, captured)
    captured.db_name = ""                  # listeners cannot be unregistered: this one goes quiet


# -- the lists: every role, every filter, every page ----------------------------------------------------

FILTERS: list[dict[str, Any]] = [
    {}, {"form": "parking-permit"}, {"process": "intake"}, {"state": "draft"},
    {"process": "review", "state": "pending"}, {"assignee": "u-clerk"}, {"number": "PX-000101"},
    {"overdue": True}, {"overdue": True, "process": "intake"}, {"overdue": True, "assignee": "u-clerk2"},
]


def plain_rows(world: World, actor: Actor, filters: dict[str, Any]) -> list[str]:
    """The ids the plain query answers (the `$or`, `$in` and `_id` order the product no longer sends)."""
    query: dict[str, Any] = {}
    for name, column in (("form", "form"), ("process", "process"), ("state", "state"),
                         ("assignee", "assignee"), ("number", "acceptance_number")):
        if filters.get(name):
            query[column] = filters[name]
    if filters.get("overdue"):
        query["due_at"] = {"$lt": world.today.isoformat()}
        pairs = [p for p in world.timed
                 if query.get("process", p[0]) == p[0] and query.get("state", p[1]) == p[1]]
        query.pop("process", None)
        query.pop("state", None)
        query["$and"] = [{"$or": [{"process": p, "state": s} for p, s in pairs] or [{"_id": None}]}]
    if not access.sees_everything(actor):
        query.setdefault("$and", []).append({"$or": access.clauses(actor)})
    return [d["_id"] for d in world.store.records.find(query, {"_id": 1}).sort([("_id", -1)])]


def product_pages(world: World, actor: Actor, filters: dict[str, Any]) -> list[list[str]]:
    """The pages the API serves (routes.list_records: limit + 1 rows, the last shown id is the cursor)."""
    pages, cursor = [], None
    while True:
        docs = world.service.list_records(actor, filters, PAGE + 1, cursor, "en")
        pages.append([d["_id"] for d in docs[:PAGE]])
        if len(docs) <= PAGE:
            return pages
        cursor = docs[PAGE - 1]["_id"]


@pytest.mark.parametrize("who", sorted(ACTORS))
def test_every_list_and_every_page_is_indexed_and_answers_the_plain_rows(world: World, who: str) -> None:
    actor = ACTORS[who]
    for filters in FILTERS:
        pages: list[list[str]] = []
        sent = world.run(lambda w: pages.extend(product_pages(w, actor, filters)))
        expected = plain_rows(world, actor, filters)
        assert list(itertools.chain(*pages)) == expected, (who, filters)
        assert all(len(p) == PAGE for p in pages[:-1]), (who, filters, [len(p) for p in pages])
        records_queries = [q for q in sent if q[0] == "records"]
        assert records_queries or not expected, (who, filters)
        for collection, filter_, sort in sent:
            assert plan_problem(world.store, collection, filter_, sort) is None, (who, filters, collection,
                                                                                  filter_,
                                                                                  plan_problem(world.store,
                                                                                               collection,
                                                                                               filter_, sort))
    assert len(plain_rows(world, actor, {})) > PAGE or not access.sees_everything(actor)


# -- every other store method ----------------------------------------------------------------------------

def _history(w: World) -> None:
    rid = f"01JXPLAIN{0:017d}"
    events = w.store.history(rid, None)
    assert [e["_id"] for e in events] == [f"{rid}:0", f"{rid}:0:refused:01JREFUSED{0:016d}"]
    rid = f"01JXPLAIN{7:017d}"                   # revision 3, one refused attempt
    ids = [e["_id"] for e in w.store.history(rid, None)]
    assert sorted(ids) == sorted([f"{rid}:{r}" for r in range(4)] + [f"{rid}:3:refused:01JREFUSED{7:016d}"])


def _status(w: World) -> None:
    record = w.store.record_by_number("PX-000101")
    assert record is not None and record["_id"] == f"01JXPLAIN{101:017d}"
    assert w.store.record_by_number("PX-000100") is None
    w.service.status("PX-000101", "ABCDEFGH", "127.0.0.9", "en")


def _numbers(w: World) -> None:
    first = w.store.next_number("explain:2026")
    w.store.return_number("explain:2026", first)
    assert w.store.next_number("explain:2026") == first


def _commit(w: World) -> None:
    record = w.store.record(f"01JXPLAIN{5:017d}")
    w.store.commit(w.store.records, record, {"assignee": "u-clerk"}, {"kind": "record", "at": stamp()})


CASES: dict[str, Callable[[World], Any]] = {
    "ensure_indexes": lambda w: w.store.ensure_indexes(),
    "set_meta": lambda w: w.store.set_meta("explain", {"a": 1}),
    "meta_value": lambda w: w.store.meta_value("explain"),
    "user_by_name": lambda w: w.store.user_by_name("admin"),
    "user": lambda w: w.store.user("nobody"),
    "change_password": lambda w: w.store.change_password("nobody", "x"),
    "end_sessions": lambda w: w.store.end_sessions("nobody"),
    "list_users": lambda w: w.store.list_users(),
    "count_users": lambda w: w.store.count_users(),
    "form_version": lambda w: w.store.form_version("parking-permit", w.form["version"]),
    "form_versions": lambda w: w.store.form_versions("parking-permit"),
    "latest_form_version": lambda w: (w.store.latest_form_version("parking-permit"),
                                      w.store.latest_form_version("parking-permit", "published")),
    "form_versions_in": lambda w: w.store.form_versions_in(["published", "retired"]),
    "workflow_versions": lambda w: w.store.workflow_versions(),
    "record": lambda w: w.store.record(f"01JXPLAIN{3:017d}"),
    "record_by_number": _status,
    "list_records": lambda w: w.store.list_records([{"department": "counter-1"}, {"assignee": "u-boss"}],
                                                   20, f"01JXPLAIN{2000:017d}"),
    "history": _history,
    "commit": _commit,
    "copy_outboxes": lambda w: (w.store.copy_outboxes(w.store.records, None),
                                w.store.copy_outboxes(w.store.records, stamp())),
    "next_number": _numbers,
    "return_number": _numbers,
    "hit": lambda w: w.store.hit("explain", 60),
    "hits": lambda w: w.store.hits("explain", 60),
}


def test_every_store_method_has_a_case() -> None:
    methods = {name for name, _ in inspect.getmembers(Store, inspect.isfunction) if not name.startswith("_")}
    assert methods - set(CASES) - NO_QUERY == set(), "a store method without an explain case"
    assert set(CASES) | NO_QUERY <= methods, "a case for a method the store no longer has"


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_store_query_is_served_by_an_index(world: World, name: str) -> None:
    sent = world.run(CASES[name])
    assert sent, f"{name} sent no query: name it in NO_QUERY"
    problems = [(c, f, plan_problem(world.store, c, f, s)) for c, f, s in sent]
    assert [p for p in problems if p[2]] == [], name


def test_a_full_scan_is_caught(world: World) -> None:
    """The check itself: the shapes the product gave up are reported as scans on this server."""
    for filter_ in ({"$or": [{"department": "counter-1"}, {"assignee": "u-clerk"}]},
                    {"_id": {"$lt": f"01JXPLAIN{100:017d}"}}, {"process": {"$in": ["intake", "review"]}}):
        assert plan_problem(world.store, "records", filter_, None) is not None, filter_


def test_a_record_written_before_the_list_key_is_listed_after_ensure_indexes(world: World) -> None:
    rid = f"01JXPLAIN{N_RECORDS + 1:017d}"
    world.store.records.insert_one(dict(world.store.record(f"01JXPLAIN{3:017d}"), _id=rid,
                                        acceptance_number=None, department="old-counter")
                                   | {"listed": None})
    world.store.records.update_one({"_id": rid}, {"$unset": {"listed": ""}})
    world.store.records.update_one({"_id": rid}, {"$unset": {"acceptance_number": ""}})
    old = Actor("u-old", "old", roles=frozenset({"clerk"}), department="old-counter")
    assert world.service.list_records(old, {}, 10, None, "en") == []
    world.store.ensure_indexes()
    assert [d["_id"] for d in world.service.list_records(old, {}, 10, None, "en")] == [rid]


def test_the_lists_cover_states_the_records_are_in(world: World) -> None:
    """The filters above name places the loaded records occupy, so the rows compared are not all empty."""
    places = set(world.places)
    assert ("intake", "draft") in places and ("review", "pending") in places and world.timed
    for filters in FILTERS:
        if not filters.get("number"):
            assert plain_rows(world, ACTORS["manager"], filters), filters
