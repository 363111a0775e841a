"""Every query of the notification store is served by an index (the server's own explain), and its time
ranges are exact to the millisecond on the embedded store (which compares ISO date-time text at whole
seconds, hence the compact range keys)."""
from __future__ import annotations

import datetime as dt
import inspect
from typing import Any, Callable, Iterator

import pytest
from pymongo import monitoring

from conftest import make_config, new_db_name, running_app
from counterflow.core.clock import stamp
from counterflow.store.notify import NotifyStore, key_of_stamp, time_key
from test_store_explain import Captured, plan_problem

N_EVENTS = 1500
BASE = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)
NO_QUERY = {"add_notifications", "deliver", "add_rating"}          # inserts


class World:
    def __init__(self, app: Any, captured: Captured) -> None:
        self.store = app.extensions["counterflow"].store
        self.store.ensure_indexes()
        self.ns = NotifyStore(self.store)
        self.captured = captured
        events = [{"_id": f"rec{i:06d}:1", "kind": "record", "object_id": f"rec{i:06d}", "revision": 1,
                   "at": stamp(BASE + dt.timedelta(milliseconds=250 * i)), "trigger": "t",
                   "outcome": "done",
                   **({"notify": {"kind": "copied", "to": ["u1"], "applicant": False}} if i % 4 == 0 else {})}
                  for i in range(N_EVENTS)]
        self.store.copy_events(events)
        self.ns.add_notifications([
            {"_id": f"rec{i:06d}:1|u1|inbox", "event_id": f"rec{i:06d}:1", "channel": "inbox",
             "recipient": "u1", "kind": "copied", "attempts": 0, "state": "pending",
             "next_at": time_key(BASE + dt.timedelta(milliseconds=250 * i))} for i in range(0, N_EVENTS, 4)])
        for i in range(0, N_EVENTS, 4):
            at = stamp(BASE + dt.timedelta(milliseconds=250 * i))
            self.ns.deliver({"_id": f"rec{i:06d}:1|u1|inbox", "user": "u1", "box": "u1|copied",
                             "unread": "u1",
                             "kind": "copied", "at": at, "listed": f"{key_of_stamp(at)}|rec{i:06d}"})
        self.ns.add_rating({"_id": "rec000001", "score": 5, "comment": "", "at": stamp(BASE)})

    def run(self, case: Callable[["World"], Any]) -> list[tuple[str, dict[str, Any], Any]]:
        return self.captured.during(lambda: case(self))


@pytest.fixture(scope="module")
def world(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db_name = new_db_name()
    captured = Captured(db_name)
    monitoring.register(captured)
    with running_app(make_config(mongo_uri, db_name, tmp_path_factory.mktemp("explain-notify"))) as app:
        yield World(app, captured)
    captured.db_name = ""


def _claim_and_mark(w: World) -> None:
    doc = w.ns.due(time_key(BASE + dt.timedelta(hours=1)), 1)[0]
    claimed = w.ns.claim(doc, time_key(BASE + dt.timedelta(hours=1)), "me")
    assert claimed is not None
    w.ns.mark_failed(doc["_id"], "me", "down", time_key(BASE))
    again = w.ns.claim(dict(claimed, next_at=time_key(BASE)), time_key(BASE + dt.timedelta(hours=1)), "me")
    assert again is not None
    assert w.ns.mark_sent(doc["_id"], "me", stamp(BASE))


def _set_tasks(w: World) -> None:
    w.ns.set_tasks("rec000001", "rec000001", ["u1", "u2"])
    w.ns.set_tasks("rec000001", "rec000001", ["u2"])


CASES: dict[str, Callable[[World], Any]] = {
    "events_since": lambda w: list(w.ns.events_since(stamp(BASE + dt.timedelta(seconds=300)))),
    "cursor": lambda w: w.ns.cursor(),
    "set_cursor": lambda w: w.ns.set_cursor(stamp(BASE)),
    "due": lambda w: w.ns.due(time_key(BASE + dt.timedelta(seconds=10)), 100),
    "claim": _claim_and_mark,
    "mark_sent": _claim_and_mark,
    "mark_failed": _claim_and_mark,
    "notification": lambda w: w.ns.notification("rec000004:1|u1|inbox"),
    "notifications_of": lambda w: w.ns.notifications_of("rec000004:1"),
    "inbox_page": lambda w: [w.ns.inbox_page(f, v, 20, None) + w.ns.inbox_page(f, v, 20, "20260302T080100000")
                             for f, v in (("user", "u1"), ("box", "u1|copied"), ("unread", "u1"))],
    "mark_read": lambda w: w.ns.mark_read("rec000008:1|u1|inbox", "u1", stamp(BASE)),
    "rating": lambda w: w.ns.rating("rec000001"),
    "set_tasks": _set_tasks,
    "task_page": lambda w: w.ns.task_page("u2", 20, None) + w.ns.task_page("u2", 20, "rec000002"),
    "records": lambda w: w.ns.records(["rec000001", "rec000002"]),
    "record": lambda w: w.ns.record("rec000001"),
    "record_state": lambda w: w.ns.record_state("rec000001"),
}


def test_every_notify_store_method_has_a_case() -> None:
    methods = {n for n, _ in inspect.getmembers(NotifyStore, inspect.isfunction) if not n.startswith("_")}
    assert methods - set(CASES) - NO_QUERY == set()


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_notify_query_is_served_by_an_index(world: World, name: str) -> None:
    sent = world.run(CASES[name])
    assert sent, name
    problems = [(c, f, plan_problem(world.store, c, f, s)) for c, f, s in sent]
    assert [p for p in problems if p[2]] == [], name


def test_ranges_are_exact_to_the_millisecond(world: World) -> None:
    """Four notifications fall due in each second: `due` takes those due by the millisecond asked, and
    the inbox pages by its keyset without losing or repeating an entry of the same second."""
    cut = BASE + dt.timedelta(seconds=60, milliseconds=500)
    due = world.ns.due(time_key(cut), 1000)
    assert all(d["next_at"] <= time_key(cut) for d in due)
    every = list(world.store.db["notifications"].find({}, {"next_at": 1}))
    assert len(due) == len([d for d in every if "next_at" in d and d["next_at"] <= time_key(cut)]) >= 1
    seen, after = [], None
    while True:
        page = world.ns.inbox_page("user", "u1", 7, after)
        seen += [e["_id"] for e in page]
        if len(page) < 7:
            break
        after = page[-1]["listed"]
    assert len(seen) == len(set(seen)) == len(range(0, N_EVENTS, 4))
    since = stamp(BASE + dt.timedelta(seconds=100))
    got = [e["at"] for e in world.ns.events_since(since)]
    assert min(got) >= stamp(BASE + dt.timedelta(seconds=100)) and len(got) >= N_EVENTS - 400
