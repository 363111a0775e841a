"""The lifecycle's invariants under random use (issue 8, "Done when"): a hypothesis state machine fires random
triggers and approval actions by random people on records of random processes, against the real embedded
store through the API, and after every step checks, from what is stored:

- no skipped state: every move is a defined transition (or a step's send-back to a state passed, or a withdraw
  to where the step was entered from), and each move starts where the previous one ended;
- no one plays two parts a workflow keeps apart;
- one history entry per change, and revisions rise by exactly one;
- every vote is counted once (one per person and step round);
- never a 500.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, initialize, invariant, rule,
                                 run_state_machine_as_test)

from conftest import Api, add_staff, make_config, new_db_name, running_app, signed_in
from forms import COMPLETE, permit, publish
from test_approval_api import COUNCIL, PEOPLE

ACTIONS = ("approve", "reject", "send_back", "transfer", "delegate", "add_approver", "withdraw", "copy",
           "urge")
# asked, in a drawn order, which triggers they may fire: a fitting person for one is found this way
ACTING = ("head", "clerk", "reviewer", "boss", "r1", "r2", "r3", "s1", "s2", "rm")
OPINIONS = st.sampled_from([None, "同意", "不同意，请补充"])
EXPECTED = {200, 403, 404, 409, 422, 429}
SEEN: set[tuple[str, int, str]] = set()         # (trigger or action, status) the run produced


@pytest.fixture(scope="module")
def world(mongo_uri: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Api, dict[str, str]]]:
    folder: Path = tmp_path_factory.mktemp("flows")
    (folder / "council.yaml").write_text(COUNCIL, "utf-8")
    config = make_config(mongo_uri, new_db_name(), tmp_path_factory.mktemp("inv"))
    with running_app({**config, "COUNTERFLOW_WORKFLOWS_DIR": str(folder)}) as app:
        api = add_staff(signed_in(app.test_client()))
        for name, roles, department in PEOPLE:
            api.add_user(name, roles, department)
        api.add_user("rm", ["reviewer", "manager"])
        for key, processes in (("inv-council", ["intake", "council"]), ("inv-review", ["intake", "review"])):
            form = permit(key=key, settings={**permit()["settings"], "processes": processes})
            del form["schema"]["properties"]["licence_copy"]
            publish(api, form)
        ids = {u["username"]: u["id"] for u in api.get("/api/v1/users", "admin").get_json()["items"]}
        yield app, api, ids


class Lifecycle(RuleBasedStateMachine):
    app: Any
    api: Api
    ids: dict[str, str]
    records = Bundle("records")

    def __init__(self) -> None:
        super().__init__()
        self.names = sorted(n for n in self.ids if n != "admin")
        self.touched: list[str] = []

    @initialize(target=records, form=st.sampled_from(["inv-council", "inv-review"]),
                amount=st.sampled_from([300, 80000]))
    def new_record(self, form: str, amount: int) -> str:
        data = dict(COMPLETE, amount=amount)
        r = self.api.post("/api/v1/records", "clerk", json={"form": form, "data": data})
        assert r.status_code == 201, r.get_json()
        record = r.get_json()
        r = self.api.post(f"/api/v1/records/{record['id']}/transitions/accept", "clerk",
                          json={"revision": record["revision"]})
        assert r.status_code == 200, r.get_json()
        self.touched.append(record["id"])
        return str(record["id"])

    @rule(target=records, form=st.sampled_from(["inv-council", "inv-review"]),
          amount=st.sampled_from([300, 80000]))
    def another_record(self, form: str, amount: int) -> str:
        return str(self.new_record(form, amount))

    def _record(self, record_id: str) -> dict[str, Any]:
        return dict(self.api.get(f"/api/v1/records/{record_id}", "boss").get_json())

    @rule(record_id=records, who=st.data(), pick=st.integers(0, 50), opinion=OPINIONS, assignee=st.data(),
          fitting=st.sampled_from([True, True, True, False]))
    def fire(self, record_id: str, who: Any, pick: int, opinion: str | None, assignee: Any,
             fitting: bool) -> None:
        """A trigger by someone: often a person it is open to (found by asking), else anyone, anything."""
        record = self._record(record_id)
        user = who.draw(st.sampled_from(self.names))
        triggers = ["teleport"]
        for name in who.draw(st.permutations(ACTING)) if fitting else [user]:
            listed = self.api.get(f"/api/v1/records/{record_id}/transitions", name)
            options = listed.get_json()["items"] if listed.status_code == 200 else []
            found = [o["trigger"] for o in options
                     if "/" not in o["trigger"] and (o["allowed"] or not fitting)]
            if found:
                user, triggers = name, found + triggers[:0 if fitting else 1]
                break
        trigger = triggers[pick % len(triggers)]
        body: dict[str, Any] = {"revision": record["revision"]}
        if opinion:
            body["opinion"] = opinion
        if trigger == "assign":
            chosen = assignee.draw(st.sampled_from(["reviewer", "r1", "r2", "rm", "clerk"]))
            body["assignee"] = self.ids[chosen]
        r = self.api.post(f"/api/v1/records/{record_id}/transitions/{trigger}", user, json=body)
        assert r.status_code in EXPECTED, (trigger, user, r.status_code, r.get_json())
        SEEN.add((trigger, r.status_code, ""))

    @rule(record_id=records, action=st.sampled_from(ACTIONS), who=st.data(), other=st.data(),
          opinion=OPINIONS, position=st.sampled_from(["before", "after"]),
          stale=st.sampled_from([False] * 7 + [True]))
    def act(self, record_id: str, action: str, who: Any, other: Any, opinion: str | None, position: str,
            stale: bool) -> None:
        record = self._record(record_id)
        step = self.api.get(f"/api/v1/records/{record_id}/approval", "boss")
        holders = step.get_json().get("holders", []) if step.status_code == 200 else []
        names = {v: k for k, v in self.ids.items()}
        people = [names[h] for h in holders if h in names] + self.names     # holders are likelier
        user = who.draw(st.sampled_from(people[:3] if holders and not stale else people))
        body: dict[str, Any] = {"revision": record["revision"] - (1 if stale else 0),
                                "digest": record["data_digest"]}
        if opinion:
            body["opinion"] = opinion
        if action == "send_back":
            choices = step.get_json().get("send_back_to", []) if step.status_code == 200 else []
            body["to"] = other.draw(st.sampled_from(choices + ["done"]))
        elif action in ("transfer", "delegate", "add_approver"):
            body["to"] = self.ids[other.draw(st.sampled_from(self.names))]
            body["position"] = position
        elif action == "copy":
            body["users"] = [self.ids[other.draw(st.sampled_from(self.names))]]
        r = self.api.post(f"/api/v1/records/{record_id}/approval/{action}", user, json=body)
        assert r.status_code in EXPECTED, (action, user, r.status_code, r.get_json())
        SEEN.add((action, r.status_code, (r.get_json().get("error") or {}).get("code", "")))

    @invariant()
    def stored_history_holds(self) -> None:
        for record_id in self.touched:
            check_record(self.app, record_id)


def check_record(app: Any, record_id: str) -> None:
    service = app.extensions["counterflow"].service
    stored = service.store.record(record_id)
    events = [e for e in service.store.history(record_id, stored.get("outbox")) if e.get("outcome") == "done"]
    # one history entry per change; revisions rise by one
    assert sorted(e["revision"] for e in events) == list(range(stored["revision"] + 1))
    events.sort(key=lambda e: e["revision"])
    # no skipped state
    state, process, passed = "", events[0]["process"], {events[0]["process"]: [events[0]["dest"]]}
    entered_from: dict[str, str] = {}
    for event in events:
        if event["revision"] == 0:
            state = event["dest"]
            continue
        assert event["source"] == state and event["process"] == process, event
        flow = service.workflow(process, stored["workflows"].get(process))
        if event["dest"] != event["source"]:
            defined = any(event["source"] in t.sources and event["dest"] in (t.dest, t.branch_dest)
                          for t in flow.transitions if t.trigger == event["trigger"])
            back = event["trigger"] == "send_back" and event["dest"] in passed.get(process, [])
            withdrawn = event["trigger"] == "withdraw" and event["dest"] == entered_from.get(event["source"])
            assert defined or back or withdrawn, event
            entered_from[event["dest"]] = event["source"]
        passed.setdefault(process, []).append(event["dest"])
        state = event["dest"]
        if event.get("to_process"):
            process = event["to_process"]
            state = service.workflow(process, stored["workflows"].get(process)).initial
            passed.setdefault(process, []).append(state)
    assert (stored["process"], stored["state"]) == (process, state)
    # no one in two parts a workflow keeps apart
    duties = {k: set(v) for k, v in (stored.get("duties") or {}).items()}
    duties.setdefault("creator", set()).add(stored["created_by"])
    for key in stored["processes"]:
        for t in service.workflow(key, stored["workflows"].get(key)).transitions:
            for other in (t.separate_from if t.duty else ()):
                assert not duties.get(t.duty, set()) & duties.get(other, set()), (t.trigger, t.duty, other)
    # votes counted once: one vote event per person and step round, and the stored votes are the approvers'
    for name, step in (stored.get("approval") or {}).items():
        assert set(step.get("votes") or {}) <= set(step.get("order") or []) | set(step.get("tasks") or {})
        cast = [e["actor"]["id"] for e in events
                if e["at"] >= step["started_at"] and (e.get("details") or {}).get("step") == name
                and (e.get("details") or {}).get("decision") and not e["details"].get("advice_for")]
        assert len(cast) == len(set(cast)), (name, cast)


def test_random_triggers_and_approval_actions_keep_the_invariants(
        world: tuple[Any, Api, dict[str, str]]) -> None:
    Lifecycle.app, Lifecycle.api, Lifecycle.ids = world
    run_state_machine_as_test(Lifecycle, settings=settings(
        max_examples=7, stateful_step_count=16, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    print(sorted(SEEN))
