"""A 4-step instance through the service's decision path (store replaced by an in-memory double) beside
SpiffWorkflow running the same 4-step process, and beside the bare engine, side by side.

    python bench/bench_engine.py            # 15 interleaved rounds
    python bench/bench_engine.py --quick    # 5 rounds

The process: the shipped account-change form's record is accepted (intake: role, the
materials-complete guard, an acceptance number, a due date, then the move into review), assigned
by a department head (an assignee who must be a reviewer and not the creator or acceptor),
acknowledged and approved by that reviewer (four-eyes checks, a required opinion, the
second-level branch condition on the amount). Each instance starts from a stored draft.

- `counterflow service`: `Service.fire_record` four times, exactly as the API calls it (read
  the record, the access rule, protected fields decrypted, the plan, the actions, the
  compare-and-set commit with its history event), over `MemoryStore`, a dict-backed double of
  the methods this path uses (no network, no BSON), so only our Python is measured.
- `counterflow engine`: `Workflow.plan` for the same four steps (the engine alone, no service).
- `SpiffWorkflow`: a BPMN process with the same four user tasks and the same exclusive
  gateway on the amount, parsed once; each instance is a new `BpmnWorkflow` whose ready user
  tasks are completed with their data in turn. Spiff checks no roles, guards or duties and
  writes no history, so the comparison favours it. `pip install SpiffWorkflow` to include it.

Rounds time every candidate in turn (timeit, enough instances for about 0.2 s each); medians per
instance are reported, and the ratio is SpiffWorkflow's time over ours (target >= 5x).
"""
from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import timeit
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from counterflow.core import definitions
from counterflow.core.clock import stamp, utcnow
from counterflow.core.engine import Actor, Context
from counterflow.core.errors import Conflict, NotFound
from counterflow.service import Service
from counterflow.service.env import Env
from counterflow.settings import Settings
from counterflow.store.client import slot_name

ROOT = Path(__file__).resolve().parent.parent
FORM = json.loads((ROOT / "schemas" / "account-change.json").read_text(encoding="utf-8"))
DATA = {
    "applicant_name": "王小明", "id_type": "resident_id", "id_number": "11010519491231002X",
    "bank_card": "6222020200112233445", "phone": "13800138000", "changed_items": ["phone"],
    "new_details": {"new_phone": "13912345678"}, "reason": "更换手机号", "application_date": "2026-11-20",
    "id_copy": "att_01J9Z3K4M5N6P7Q8R9S0T1V2W3",
}
CLERK = Actor("u-clerk", "clerk", "Clerk", frozenset({"clerk"}), "counter-1")
HEAD = Actor("u-head", "head", "Head", frozenset({"dept_head"}), "counter-1")
REVIEWER = Actor("u-reviewer", "reviewer", "Reviewer", frozenset({"reviewer"}), "counter-1")
STEPS: list[tuple[Actor, str, dict[str, Any]]] = [
    (CLERK, "accept", {}),
    (HEAD, "assign", {"assignee": REVIEWER.id}),
    (REVIEWER, "acknowledge", {}),
    (REVIEWER, "approve", {"opinion": "材料齐全，同意"}),
]

Doc = dict[str, Any]


class MemoryStore:
    """The store methods the decision path uses, over dicts: a double with the real commit's contract
    (compare-and-set on id, state and revision; the event under `<id>:<revision>`)."""

    def __init__(self) -> None:
        self.records: dict[str, Doc] = {}
        self.forms: dict[str, Doc] = {}
        self.workflows: dict[str, Doc] = {}
        self.users: dict[str, Doc] = {}
        self.events: dict[str, Doc] = {}
        self.counters: dict[str, int] = {}
        self.audit_log = SimpleNamespace(signer=None)     # the service hands its signer to the audit log
        # collections the other concepts' stores (destruction lists, grants, ...) hold on to; the decision
        # path never touches them, and a touch would fail loudly here (a namespace has no find or update)
        self.meta = SimpleNamespace(find_one=lambda query: None)     # no admin calendar overrides stored
        self.db: defaultdict[str, SimpleNamespace] = defaultdict(SimpleNamespace)

    def workflow_versions(self) -> list[Doc]:
        return sorted(self.workflows.values(), key=lambda d: (d["key"], d["version"]))

    def form_version(self, key: str, version: int) -> Doc:
        try:
            return self.forms[f"{key}@{version}"]
        except KeyError:
            raise NotFound(f"form '{key}' has no version {version}") from None

    def latest_form_version(self, key: str, state: str | None = None) -> Doc | None:
        found = [d for d in self.forms.values() if d["key"] == key and (state is None or d["state"] == state)]
        return max(found, key=lambda d: d["version"]) if found else None

    def user(self, user_id: str) -> Doc | None:
        return self.users.get(user_id)

    def record(self, record_id: str) -> Doc:
        try:
            return self.records[record_id]
        except KeyError:
            raise NotFound("no such record", code="record_not_found") from None

    def insert_record(self, doc: Doc) -> None:
        self.records[doc["_id"]] = doc

    def next_number(self, counter_id: str) -> int:
        self.counters[counter_id] = self.counters.get(counter_id, 0) + 1
        return self.counters[counter_id]

    def return_number(self, counter_id: str, seq: int) -> None:
        pass

    def add_event(self, event: Doc) -> None:
        self.events[event["_id"]] = event

    def commit(self, collection: Any, current: Doc, changes: Doc, event: Doc | None) -> Doc:
        stored = self.records.get(current["_id"])
        if stored is None or (stored["revision"], stored["state"]) != (current["revision"], current["state"]):
            raise Conflict("stale", code="stale")
        revision = current["revision"] + 1
        updated = dict(stored, **changes, revision=revision)
        updated["updated_at"] = changes.get("updated_at") or stamp()
        if event is not None:
            event = dict(event, _id=f"{current['_id']}:{revision}", object_id=current["_id"],
                         revision=revision)
            updated["outbox"] = {slot_name(revision): event}
            self.events[event["_id"]] = event
        self.records[current["_id"]] = updated
        return dict(current, **changes, revision=revision)


def service_world() -> tuple[Service, MemoryStore, Doc]:
    """A Service over a MemoryStore holding the shipped workflows, the account-change form, the users and
    one sealed draft to copy for each instance."""
    store = MemoryStore()
    for key, definition in definitions.shipped_workflows(None).items():
        store.workflows[f"{key}@1"] = {"_id": f"{key}@1", "key": key, "version": 1, "definition": definition}
    secret = "bench-secret-" + "x" * 32
    settings = Settings.from_mapping({"SECRET_KEY": secret, "COUNTERFLOW_DB_NAME": "bench"})
    service = Service(store, settings, secret)      # type: ignore[arg-type]  # the double, not a Store
    service.load_workflows()
    now = stamp()
    published = service.form_workflow().states_where("in_use")[0]
    form = service._form_doc(FORM, 1, published, author="bench", now=now)
    store.forms[form["_id"]] = form
    for actor in (CLERK, HEAD, REVIEWER):
        store.users[actor.id] = {"_id": actor.id, "username": actor.username, "name": actor.name,
                                 "roles": sorted(actor.roles), "department": actor.department, "active": True}
    processes = FORM["settings"]["processes"]
    validator = service.validator("account-change", 1)
    draft = {"_id": "", "form": "account-change", "form_version": 1,
             "workflows": {p: 1 for p in processes}, "processes": processes, "process": processes[0],
             "state": service.workflow(processes[0]).initial, "revision": 0,
             "data": service.sealer.seal_input(DATA, validator.sensitive), "created_by": CLERK.id,
             "first_responder": CLERK.id, "department": CLERK.department, "assignee": None,
             "state_since": now, "created_at": now, "updated_at": now}
    return service, store, draft


def through_service(service: Service, store: MemoryStore, draft: Doc) -> Callable[[], None]:
    counter = iter(range(10**9))

    def instance() -> None:
        record_id = f"r{next(counter)}"
        store.insert_record(dict(draft, _id=record_id))
        for actor, trigger, extra in STEPS:
            revision = store.records[record_id]["revision"]
            service.fire_record(actor, record_id, trigger, dict(extra, revision=revision), "zh-CN")
        assert store.records[record_id]["process"] == "archive", store.records[record_id]["state"]
    return instance


def engine_only(service: Service, draft: Doc) -> Callable[[], None]:
    """The same four steps through `Workflow.plan` alone, with the object updated between steps."""
    opened = dict(draft, data=DATA)
    steps = [("intake", "draft", CLERK, "accept", {}),
             ("review", "pending", HEAD, "assign", {"assignee": REVIEWER.id}),
             ("review", "assigned", REVIEWER, "acknowledge", {}),
             ("review", "in_progress", REVIEWER, "approve", {"opinion": "材料齐全，同意"})]
    env = Env(service, utcnow())          # what guards may ask; planning does no store work

    def instance() -> None:
        obj = dict(opened, duties={"acceptor": [CLERK.id]})
        for process, state, actor, trigger, payload in steps:
            workflow = service.workflow(process)
            plan = workflow.plan(state, trigger, Context(obj, actor, payload, "zh-CN", env))
            obj["state"] = plan.dest
            if trigger == "assign":
                obj["assignee"] = REVIEWER.id
    return instance


SPIFF_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="bench">
  <bpmn:process id="account_change" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="accept"/>
    <bpmn:userTask id="accept" name="Accept"/>
    <bpmn:sequenceFlow id="f1" sourceRef="accept" targetRef="assign"/>
    <bpmn:userTask id="assign" name="Assign"/>
    <bpmn:sequenceFlow id="f2" sourceRef="assign" targetRef="acknowledge"/>
    <bpmn:userTask id="acknowledge" name="Acknowledge"/>
    <bpmn:sequenceFlow id="f3" sourceRef="acknowledge" targetRef="approve"/>
    <bpmn:userTask id="approve" name="Approve"/>
    <bpmn:sequenceFlow id="f4" sourceRef="approve" targetRef="level"/>
    <bpmn:exclusiveGateway id="level" default="f6"/>
    <bpmn:sequenceFlow id="f5" sourceRef="level" targetRef="second">
      <bpmn:conditionExpression>amount &gt; 50000</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f6" sourceRef="level" targetRef="end"/>
    <bpmn:userTask id="second" name="Second-level review"/>
    <bpmn:sequenceFlow id="f7" sourceRef="second" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def spiff() -> Callable[[], None] | None:
    try:                      # through importlib: an optional yardstick without type information
        BpmnWorkflow = importlib.import_module("SpiffWorkflow.bpmn").BpmnWorkflow
        BpmnParser = importlib.import_module("SpiffWorkflow.bpmn.parser").BpmnParser
        TaskState = importlib.import_module("SpiffWorkflow.util.task").TaskState
    except ImportError:
        return None
    parser = BpmnParser()
    parser.add_bpmn_str(SPIFF_BPMN.encode())
    spec = parser.get_spec("account_change")
    inputs = [{"acceptance_number": "ACC-1"}, {"assignee": REVIEWER.id}, {},
              {"opinion": "材料齐全，同意", "amount": 0}]

    def instance() -> None:
        workflow = BpmnWorkflow(spec)
        workflow.do_engine_steps()
        for data in inputs:
            task = workflow.get_next_task(state=TaskState.READY, manual=True)
            assert task is not None
            task.data.update(data)
            task.run()
            workflow.do_engine_steps()
        assert workflow.is_completed()
    return instance


def per_call(fn: Callable[[], None]) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    number = max(1, number // 2)                        # about 0.1 s
    return timer.timeit(number) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 15)

    service, store, draft = service_world()
    candidates: dict[str, Callable[[], None]] = {
        "counterflow service (4 steps)": through_service(service, store, draft),
        "counterflow engine (4 plans)": engine_only(service, draft),
    }
    spiff_instance = spiff()
    if spiff_instance is not None:
        candidates["SpiffWorkflow (4 tasks)"] = spiff_instance
    else:
        print("SpiffWorkflow is not installed: `pip install SpiffWorkflow` to compare with it",
              file=sys.stderr)
    for fn in candidates.values():                      # warm-up: caches, validators, machines
        fn()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for r in range(rounds):
        for name, fn in candidates.items():
            times[name].append(per_call(fn))
        print(f"round {r + 1}/{rounds}: " + "   ".join(f"{n.split(' (')[0]} {t[-1] * 1e6:7.1f} us"
                                                       for n, t in times.items()), file=sys.stderr)
    medians = {name: statistics.median(t) for name, t in times.items()}
    print()
    print(f"a 4-step instance, {rounds} interleaved rounds, medians per instance")
    for name, value in medians.items():
        print(f"  {name:34}{value * 1e6:10.1f} us   (min {min(times[name]) * 1e6:.1f}, "
              f"max {max(times[name]) * 1e6:.1f})")
    service_t = medians["counterflow service (4 steps)"]
    engine_t = medians["counterflow engine (4 plans)"]
    print(f"  service work around the engine    {(service_t - engine_t) * 1e6:10.1f} us per instance")
    if "SpiffWorkflow (4 tasks)" in medians:
        spiff_t = medians["SpiffWorkflow (4 tasks)"]
        print(f"  ratio SpiffWorkflow / service     {spiff_t / service_t:10.2f}x   (target >= 5)")
        print(f"  ratio SpiffWorkflow / engine      {spiff_t / engine_t:10.2f}x")


if __name__ == "__main__":
    main()
