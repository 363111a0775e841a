"""The engine: one machine per workflow version, guards with every reason, branches, roles."""
from __future__ import annotations

from typing import Any

import pytest
import yaml

from counterflow.core import definitions
from counterflow.core.engine import Actor, Context, Workflow
from counterflow.core.errors import Conflict, Forbidden, Invalid, NotFound

SHIPPED = definitions.shipped_workflows()


class Env:
    """The engine's view of the rest of the product (TransitionEnv), without a store: planning never
    draws a number, a notice, an assignee or a retention date."""

    def __init__(self, amount: int = 0, problems: list[dict[str, str]] | None = None) -> None:
        self.amount, self.problems = amount, problems or []
        self.stamp = "2030-01-01T09:00:00+08:00"
        self.today = "2030-01-01"

    def form_settings(self, obj: Any) -> dict[str, Any]:
        return {"review": {"second_level_if": {">": [{"var": "amount"}, 50000]}}}

    def completeness(self, obj: Any, lang: str) -> list[dict[str, str]]:
        return self.problems

    def acceptance(self, ctx: Context) -> dict[str, Any]:
        raise AssertionError("planning draws no acceptance number")

    def notice(self, ctx: Context) -> dict[str, Any]:
        raise AssertionError("planning writes no notice")

    def assignee(self, ctx: Context) -> str:
        raise AssertionError("planning looks up no assignee")

    def retention_until(self, obj: Any) -> str:
        raise AssertionError("planning computes no retention date")

    def cooling_off_ends(self, obj: Any) -> str | None:
        raise AssertionError("planning reads no cooling-off period")

    def disposal_items(self, obj: Any) -> int:
        raise AssertionError("planning counts no destruction items")


def ctx(roles: set[str], obj: dict[str, Any] | None = None, payload: dict[str, Any] | None = None,
        env: Env | None = None, who: str = "u1") -> Context:
    return Context(obj or {}, Actor(who, who, roles=frozenset(roles)), payload or {}, "en", env or Env())


@pytest.mark.parametrize("key", sorted(SHIPPED))
def test_every_shipped_workflow_builds_and_every_state_is_reachable(key: str) -> None:
    workflow = Workflow(SHIPPED[key])
    reachable, frontier = {workflow.initial}, [workflow.initial]
    while frontier:
        state = frontier.pop()
        for t in workflow.transitions:
            if state in t.sources:
                for dest in filter(None, (t.dest, t.branch_dest)):
                    if dest not in reachable:
                        reachable.add(dest)
                        frontier.append(dest)
    assert reachable == set(workflow.states)
    assert any(workflow.is_final(s) for s in workflow.states)


def test_the_machine_is_built_once_and_reused_for_every_object() -> None:
    workflow = Workflow(SHIPPED["review"])
    machine = workflow.machine
    for amount in (10, 60000, 20):
        obj = {"assignee": "u1", "created_by": "other", "data": {"amount": amount}}
        workflow.plan("in_progress", "approve", ctx({"reviewer"}, obj, {"opinion": "ok"}))
    assert workflow.machine is machine
    assert not machine.models        # no object is ever attached to the shared machine


def test_branch_goes_to_second_review_when_the_rule_holds() -> None:
    workflow = Workflow(SHIPPED["review"])
    base = {"assignee": "u1", "created_by": "other"}
    small = workflow.plan("in_progress", "approve",
                          ctx({"reviewer"}, {**base, "data": {"amount": 100}}, {"opinion": "ok"}))
    large = workflow.plan("in_progress", "approve",
                          ctx({"reviewer"}, {**base, "data": {"amount": 60000}}, {"opinion": "ok"}))
    assert (small.dest, small.final) == ("approved", True)
    assert (large.dest, large.final) == ("second_review", False)


def test_guards_report_every_reason_at_once() -> None:
    workflow = Workflow(SHIPPED["review"])
    obj = {"assignee": "someone-else", "created_by": "u1", "data": {}}
    with pytest.raises(Invalid) as caught:
        workflow.plan("in_progress", "approve", ctx({"reviewer"}, obj, {}))
    details = caught.value.details
    assert isinstance(details, list)
    codes = [d["code"] for d in details]
    # opinion, assignee, four-eyes (the creator may not review: separate_from, whatever roles they hold)
    assert codes == ["required", "is_assignee", "separation_of_duties"]


def test_intake_accept_lists_every_missing_item_from_the_completeness_check() -> None:
    problems = [{"path": f"/f{i}", "code": "required", "message": f"f{i}"} for i in range(5)]
    with pytest.raises(Invalid) as caught:
        Workflow(SHIPPED["intake"]).plan("draft", "accept", ctx({"clerk"}, env=Env(problems=problems)))
    assert caught.value.details == problems


def test_deny_by_default_roles_wrong_state_and_unknown_trigger() -> None:
    workflow = Workflow(SHIPPED["intake"])
    with pytest.raises(Forbidden):
        workflow.plan("draft", "accept", ctx({"reviewer"}))
    with pytest.raises(Forbidden):
        workflow.plan("draft", "accept", ctx(set()))                # no roles: nothing allowed
    with pytest.raises(Conflict) as wrong:
        workflow.plan("accepted", "accept", ctx({"clerk"}))
    assert wrong.value.code == "wrong_state"
    with pytest.raises(NotFound):
        workflow.plan("draft", "teleport", ctx({"clerk"}))


def test_options_say_what_is_blocked_and_why() -> None:
    options = Workflow(SHIPPED["form_approval"]).options("pending_review",
                                                         ctx({"dept_head"}, {"author": "u1"}))
    review = next(o for o in options if o["trigger"] == "review")
    assert review["allowed"] is False and review["reasons"][0]["code"] == "separation_of_duties"
    reject = next(o for o in options if o["trigger"] == "reject")
    assert reject["requires"] == ["opinion"]


def test_no_automatic_to_state_triggers() -> None:
    workflow = Workflow(SHIPPED["intake"])
    assert not any(name.startswith("to_") for name in workflow.machine.events)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["transitions"][0].update(dest="gone"), "goes to unknown state 'gone'"),
    (lambda d: d["transitions"][0].update(guards=["os_system"]), "guard 'os_system' is not registered"),
    (lambda d: d["transitions"][0].update(actions=["drop_tables"]), "action 'drop_tables' is not registered"),
    (lambda d: d["transitions"][0].update(actions=["__import__"]), "/transitions/0/actions/0"),
    (lambda d: d.update(initial="nowhere"), "initial state 'nowhere'"),
    (lambda d: d["transitions"][0].update(roles=["root"]), "/transitions/0/roles/0"),
    (lambda d: d["transitions"][0].update(source="limbo"), "starts from unknown state 'limbo'"),
])
def test_a_broken_workflow_is_refused_naming_file_place_and_fix(change: Any, message: str) -> None:
    definition = yaml.safe_load(yaml.safe_dump(SHIPPED["intake"]))
    change(definition)
    problems = definitions.check_workflow(definition, "workflows/intake.yaml")
    assert problems and any(message in p for p in problems), problems
    assert all(p.startswith("workflows/intake.yaml: /") and "fix:" in p for p in problems)
