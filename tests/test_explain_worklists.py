"""Every worklist is served by indexes (the server's own explain), and answers what the plain query would.

Each worklist runs one equality/range query per (process, state) it covers, or one equality on the inbox's
`box`; none uses `$or`, `$in` on a growing collection or an `_id` range. The pages walk the keyset on
`listed` and together equal the plain `$or`/`$in` query sorted newest first.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

import pytest
from pymongo import monitoring

from conftest import add_staff, make_config, new_db_name, running_app, signed_in
from counterflow.core.clock import stamp
from counterflow.core.engine import Actor
from counterflow.service.worklists import BOX_LISTS, WORKLISTS, assignee_states
from forms import publish
from test_store_explain import Captured, plan_problem

N_RECORDS = 900
PAGE = 40
ACTORS = {
    "clerk": Actor("u-clerk", "clerk", roles=frozenset({"clerk"}), department="counter-1"),
    "reviewer": Actor("u-reviewer", "reviewer", roles=frozenset({"reviewer"}), department="counter-3"),
    "head": Actor("u-head", "head", roles=frozenset({"dept_head"}), department="counter-2"),
    "manager": Actor("u-boss", "boss", roles=frozenset({"manager"}), department="office"),
}


class World:
    def __init__(self, app: Any, captured: Captured) -> None:
        state = app.extensions["counterflow"]
        self.store, self.service, self.captured = state.store, state.service, captured
        publish(add_staff(signed_in(app.test_client())))
        flows = self.service.record_workflows()
        self.places = sorted({(w.key, s) for w in flows for s in w.states})
        self.today = dt.datetime.now(self.service.tz).date()
        draft = {"form": "parking-permit", "data": {}}
        template, _ = self.service.create_record(ACTORS["clerk"], draft, "en")
        stored = self.store.record(template["_id"])
        people = [a.id for a in ACTORS.values()]
        records = []
        base = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
        for i in range(N_RECORDS):
            process, state_ = self.places[i % len(self.places)]
            at = stamp(base + dt.timedelta(minutes=i))
            doc = dict(stored, _id=f"01JWORK{i:019d}", process=process, state=state_,
                       department=("counter-1", "counter-2", "counter-3")[i % 3], created_by=people[i % 4],
                       assignee=people[(i // len(self.places)) % 4] if (i // len(self.places)) % 5 else None,
                       due_at=(self.today + dt.timedelta(days=(i % 9) - 4)).isoformat(),
                       created_at=at, updated_at=at, state_since=at)
            doc.pop("outbox", None)
            records.append(doc)
        self.store.insert_records(records, [])
        kinds = ("copied", "urged", "delegated")
        events = [{"_id": f"01JWORK{i:019d}:9", "kind": "record", "object_id": f"01JWORK{i:019d}",
                   "revision": 9, "at": stamp(base + dt.timedelta(minutes=i)), "trigger": "t",
                   "outcome": "done",
                   "actor": {"id": people[i % 4]},
                   "notify": {"kind": kinds[(i // 3) % 3], "to": [people[(i + 1) % 4]], "applicant": False}}
                  for i in range(0, N_RECORDS, 3)]
        events += [{"_id": f"01JWORK{i:019d}:8", "kind": "record", "object_id": f"01JWORK{i:019d}",
                    "revision": 8, "at": stamp(base + dt.timedelta(minutes=i)), "trigger": "t",
                    "outcome": "done", "actor": {"id": people[i % 4]},
                    "on_behalf_of": {"id": people[(i + 2) % 4]}}               # done by an A/B post's backup
                   for i in range(1, N_RECORDS, 5)]
        self.store.copy_events(events)
        self.service.pump_notifications()
        for i in range(0, N_RECORDS, 7):                     # approval-step tasks held by the manager
            self.service.notify_store.set_tasks(f"01JWORK{i:019d}", f"01JWORK{i:019d}", ["u-boss"])

    def run(self, case: Any) -> list[tuple[str, dict[str, Any], Any]]:
        return self.captured.during(lambda: case())


@pytest.fixture(scope="module")
def world(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db_name = new_db_name()
    captured = Captured(db_name)
    monitoring.register(captured)
    with running_app(make_config(mongo_uri, db_name, tmp_path_factory.mktemp("explain-worklists"))) as app:
        yield World(app, captured)
    captured.db_name = ""


def pages(world: World, actor: Actor, name: str) -> list[str]:
    """Every page of the worklist, walked by its cursor, as the API does."""
    seen: list[str] = []
    after = None
    while True:
        kind, items = world.service.worklist(actor, name, PAGE + 1, after, "en")
        seen += [i["_id"] if kind == "records" else i["id"] for i in items[:PAGE]]
        if len(items) <= PAGE:
            return seen
        after = items[PAGE - 1]["listed"]


def plain(world: World, actor: Actor, name: str) -> list[str]:
    """The same list by the plain query the product gave up (`$or`, `$in`), newest first."""
    if name in BOX_LISTS:
        found = world.store.db["inbox"].find({"user": actor.id, "kind": BOX_LISTS[name]})
        return [d["_id"] for d in sorted(found, key=lambda d: d["listed"], reverse=True)]
    alternatives = list(world.service.worklist_queries(actor, name))
    if name == "mine":
        held = [d["record_id"] for d in world.store.db["work_tasks"].find({"user": actor.id})]
        alternatives.append({"_id": {"$in": held}})
    if not alternatives:
        return []
    return [d["_id"] for d in world.store.records.find({"$or": alternatives}).sort([("listed", -1)])]


@pytest.mark.parametrize("who", sorted(ACTORS))
@pytest.mark.parametrize("name", WORKLISTS)
def test_every_worklist_is_indexed_and_equals_the_plain_query(world: World, who: str, name: str) -> None:
    actor = ACTORS[who]
    sent = world.run(lambda: pages(world, actor, name))
    assert sent
    problems = [(c, f, plan_problem(world.store, c, f, s)) for c, f, s in sent]
    assert [p for p in problems if p[2]] == [], (who, name)
    assert not any("$or" in f or "$in" in str({k: v for k, v in f.items() if k != "_id"}) for _, f, _ in sent)
    assert pages(world, actor, name) == plain(world, actor, name)


def test_the_world_fills_every_worklist(world: World) -> None:
    """The check is not vacuous: each list has rows for someone."""
    for name in WORKLISTS:
        assert any(plain(world, actor, name) for actor in ACTORS.values()), name
    assert assignee_states(world.service.record_workflows())
