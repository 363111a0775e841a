"""Separation of duties (issue 6, items 5 and 6): every decision is the assignee's or a manager's, and one
person never plays two parts a workflow separates (creator, acceptor, reviewer, approver, destruction
approver, witness; a form's author, reviewer, approver), whatever roles they hold.

The first half walks every trigger of every shipped workflow with one user per role plus multi-role users
and asserts exactly who may fire it; the second half plays the reported cases through the API.
"""
from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from conftest import Api, stored_record
from counterflow.core import definitions
from counterflow.core.engine import Actor, Context, Workflow
from counterflow.core.errors import CounterflowError
from counterflow.core.registry import ACTIONS
from forms import COMPLETE, permit, publish, upload

SHIPPED = definitions.shipped_workflows()
WORKFLOWS = {key: Workflow(d) for key, d in SHIPPED.items()}

# one user per role, and people who hold two roles at once; a user's id is their name
USERS: dict[str, frozenset[str]] = {
    **{role: frozenset({role}) for role in ("admin", "clerk", "reviewer", "dept_head", "manager", "archivist",
                                            "supervisor", "auditor")},
    "clerk_reviewer": frozenset({"clerk", "reviewer"}),
    "head_manager": frozenset({"dept_head", "manager"}),
    "manager_supervisor": frozenset({"manager", "supervisor"}),
    "reviewer_manager": frozenset({"reviewer", "manager"}),
}
CLERKS = {"clerk", "clerk_reviewer"}
MANAGERS = {"manager", "head_manager", "manager_supervisor", "reviewer_manager"}
HEADS = {"dept_head", "head_manager"}


class Env:
    """The rest of the product as the rules see it (TransitionEnv), without a store: data complete,
    retention over, the named assignee taken as given."""

    stamp = "2030-01-01T09:00:00+08:00"
    today = "2030-01-01"

    def completeness(self, obj: Any, lang: str) -> list[dict[str, str]]:
        return []

    def form_settings(self, obj: Any) -> dict[str, Any]:
        return {"review": {"second_level_if": {">": [{"var": "amount"}, 50000]}}}

    def acceptance(self, ctx: Context) -> dict[str, Any]:
        return {"acceptance_number": "N-1"}

    def notice(self, ctx: Context) -> dict[str, Any]:
        return {"items": [{"path": "", "code": "clerk_note", "message": "x"}]}

    def assignee(self, ctx: Context) -> str:
        return str(ctx.payload["assignee"])

    def retention_until(self, obj: Any) -> str:
        return "2000-01-01"

    def cooling_off_ends(self, obj: Any) -> str | None:
        return None                                 # no cooling-off left (tests/test_destruction.py times it)

    def disposal_items(self, obj: Any) -> int:
        return 1

    def reading_records(self, ctx: Context) -> tuple[list[str], list[str]]:
        return list((ctx.obj.get("data") or {}).get("records") or []), []

    def reading_needs_manager(self, ctx: Context) -> bool:
        return False

    def grant_reading(self, ctx: Context) -> list[str]:
        return []


# A record created by `clerk`; the parts played so far vary by row.
RECORD = {"created_by": "clerk", "data": {"amount": 100}, "retention_until": "2000-01-01"}
ACCEPTED_BY_CR = {**RECORD, "duties": {"acceptor": ["clerk_reviewer"]}}       # the reported case
ACCEPTED_BY_CLERK = {**RECORD, "duties": {"acceptor": ["clerk"]}}
REVIEWED = {**RECORD, "duties": {"acceptor": ["clerk"], "reviewer": ["reviewer"]}}
FORM = {"author": "admin"}
DLIST = {"created_by": "archivist"}                 # a destruction list
# a query request by `clerk` (issue 10, item 2): its head approves, then a manager when asked; never clerk
QUERY = {"created_by": "clerk", "data": {"records": ["r1"], "period_from": "2030-01-01",
                                         "period_until": "2030-01-31"}}
HOLD = {"reason": "诉讼保全", "authority": "(2030)京0105民初1号"}
# a complaint received by `clerk`, classified and answered (reconsideration open until 2030-01-10)
COMPLAINT = {"_id": "c1", "created_by": "clerk", "first_responder": "clerk",
             "data": {"level": "counter", "fault": "counter_fee"}, "answer": {"reconsider_by": "2030-01-10"}}
UNIT = CLERKS | HEADS | {"reviewer", "reviewer_manager"}    # the handling unit: clerk, reviewer, head

# (workflow, state, trigger, object, payload, who may fire it)
ROWS: list[tuple[str, str, str, dict[str, Any], dict[str, Any], set[str]]] = [
    *[("intake", state, trigger, RECORD, {}, CLERKS)
      for state in ("draft", "submitted", "returned") for trigger in ("accept", "withdraw")],
    *[("intake", state, "submit", RECORD, {}, CLERKS) for state in ("draft", "returned")],
    *[("intake", state, "return", RECORD, {}, CLERKS) for state in ("draft", "submitted")],
    # decline (不予受理): a clerk's, with the reason and where else to go
    *[("intake", state, "decline", RECORD, {"reason": "不属于本机关职权范围", "refer_to": "区市场监督管理局"},
       CLERKS) for state in ("draft", "submitted", "returned")],
    # assign: the department head's; never to whoever created or accepted the record or approved it
    ("review", "pending", "assign", ACCEPTED_BY_CR, {"assignee": "reviewer"}, HEADS),
    ("review", "pending", "assign", ACCEPTED_BY_CR, {"assignee": "clerk_reviewer"}, set()),
    ("review", "pending", "assign", ACCEPTED_BY_CLERK, {"assignee": "clerk_reviewer"}, HEADS),
    ("review", "pending", "assign", {**REVIEWED, "duties": {"approver": ["reviewer_manager"]}},
     {"assignee": "reviewer_manager"}, set()),
    # the first level: only the assignee, and not when they took the record in
    ("review", "assigned", "acknowledge", {**ACCEPTED_BY_CR, "assignee": "reviewer"}, {}, {"reviewer"}),
    ("review", "assigned", "acknowledge", {**ACCEPTED_BY_CR, "assignee": "clerk_reviewer"}, {}, set()),
    *[("review", "in_progress", trigger, {**ACCEPTED_BY_CR, "assignee": "reviewer"}, {}, {"reviewer"})
      for trigger in ("approve", "reject", "send_back")],
    *[("review", "in_progress", trigger, {**ACCEPTED_BY_CR, "assignee": "clerk_reviewer"}, {}, set())
      for trigger in ("approve", "reject", "send_back")],
    *[("review", "in_progress", trigger, {**ACCEPTED_BY_CLERK, "assignee": "clerk_reviewer"}, {},
       {"clerk_reviewer"}) for trigger in ("approve", "reject", "send_back")],
    *[("review", "in_progress", trigger,
       {**RECORD, "assignee": "reviewer_manager",
        "duties": {"acceptor": ["clerk"], "approver": ["reviewer_manager"]}},
       {}, set()) for trigger in ("approve", "reject", "send_back")],
    # the second level: any manager but the reviewer
    *[("review", "second_review", trigger, REVIEWED, {}, MANAGERS)
      for trigger in ("approve_final", "reject", "send_back")],
    *[("review", "second_review", trigger,
       {**RECORD, "duties": {"acceptor": ["clerk"], "reviewer": ["reviewer_manager"]}}, {},
       MANAGERS - {"reviewer_manager"}) for trigger in ("approve_final", "reject", "send_back")],
    ("archive", "pending", "archive", RECORD, {}, {"archivist"}),
    ("archive", "archived", "hold", RECORD, HOLD, {"archivist", "supervisor", "manager_supervisor"}),
    ("archive", "on_hold", "release", RECORD, HOLD, {"archivist", "supervisor", "manager_supervisor"}),
    ("archive", "archived", "hold", RECORD, {}, set()),                   # no reason, no authority: nobody
    # query requests: only the requester submits or withdraws; a head approves, then a manager (not the head)
    ("query_request", "draft", "submit", QUERY, {}, {"clerk"}),
    *[("query_request", state, "withdraw", QUERY, {}, {"clerk"})
      for state in ("draft", "pending_head", "pending_manager")],
    *[("query_request", "pending_head", trigger, QUERY, {}, HEADS) for trigger in ("approve", "reject")],
    *[("query_request", "pending_head", trigger, {**QUERY, "created_by": "head_manager"}, {}, {"dept_head"})
      for trigger in ("approve", "reject")],
    *[("query_request", "pending_manager", trigger, {**QUERY, "duties": {"reviewer": ["head_manager"]}}, {},
       MANAGERS - {"head_manager"}) for trigger in ("approve", "reject")],
    ("query_request", "in_force", "revoke", QUERY, {"reason": "用途已完成"}, HEADS | MANAGERS | {"archivist"}),
    ("archive", "archived", "close_retention", RECORD, {}, {"archivist"}),
    # the per-record destroy: nobody destroys a record outside a destruction list (it would not erase it)
    ("destroy", "pending", "execute", RECORD, {}, set()),
    # form versions: the head reviews, a manager approves; never the author, never one person at both levels
    # destruction lists by an archivist: two approvers (heads or managers), never the author nor one person
    # twice; the supervisor executes only when they approved nothing; anyone authorised cancels
    ("destruction", "draft", "submit", DLIST, {}, {"archivist"}),
    ("destruction", "pending", "approve", DLIST, {}, HEADS | MANAGERS),
    ("destruction", "approved_once", "approve",
     {**DLIST, "duties": {"destruction_approver": ["head_manager"]}}, {},
     (HEADS | MANAGERS) - {"head_manager"}),
    *[("destruction", state, "cancel", DLIST, {}, {"archivist", "supervisor"} | HEADS | MANAGERS)
      for state in ("draft", "pending", "approved_once", "cooling")],
    ("destruction", "cooling", "execute",
     {**DLIST, "duties": {"destruction_approver": ["manager"], "co_approver": ["manager_supervisor"]}}, {},
     {"supervisor"}),
    ("form_approval", "draft", "submit", FORM, {}, {"admin"}),
    *[("form_approval", "pending_review", trigger, FORM, {}, HEADS) for trigger in ("review", "reject")],
    *[("form_approval", "pending_review", trigger, {"author": "head_manager"}, {}, {"dept_head"})
      for trigger in ("review", "reject")],
    *[("form_approval", "pending_approval", trigger, {**FORM, "duties": {"reviewer": ["dept_head"]}}, {},
       MANAGERS) for trigger in ("approve", "reject")],
    *[("form_approval", "pending_approval", trigger, {**FORM, "duties": {"reviewer": ["head_manager"]}}, {},
       MANAGERS - {"head_manager"}) for trigger in ("approve", "reject")],
    ("form_approval", "published", "retire", FORM, {}, {"admin"}),
    # complaints (issue 8, item 7): the first receiver registers, escalates and explains a delay; the level
    # above (heads, managers; never the creator) decides a reconsideration and makes the sampled callback
    ("complaint", "received", "register", COMPLAINT, {}, {"clerk"}),
    ("complaint", "handling", "escalate", COMPLAINT, {"reason": "x"}, {"clerk"}),
    *[("complaint", state, "hand_over", COMPLAINT, {"reason": "x", "assignee": "reviewer"}, {"clerk"})
      for state in ("handling", "raised")],
    ("complaint", "handling", "hand_over", {**COMPLAINT, "assignee": "reviewer"},
     {"reason": "x", "assignee": "reviewer_manager"}, {"reviewer"}),
    *[("complaint", state, "explain_delay", COMPLAINT, {"reason": "x"}, {"clerk"})
      for state in ("handling", "raised")],
    *[("complaint", state, "reply", COMPLAINT, {}, CLERKS | HEADS | MANAGERS | {"reviewer"})
      for state in ("handling", "raised")],
    *[("complaint", state, "reconsider", COMPLAINT, {"reason": "x"}, UNIT)
      for state in ("answered", "called_back", "superior_callback")],
    ("complaint", "reconsideration", "decide_reconsideration", COMPLAINT, {}, HEADS | MANAGERS),
    ("complaint", "answered", "callback", COMPLAINT, {}, UNIT),
    ("complaint", "superior_callback", "superior_callback", COMPLAINT, {}, HEADS | MANAGERS),
    ("complaint", "called_back", "close", COMPLAINT, {}, UNIT),
]


def _row_id(row: tuple[Any, ...]) -> str:
    key, state, trigger, obj, payload = row[:5]
    held = ",".join(f"{d}={'+'.join(p)}" for d, p in sorted((obj.get("duties") or {}).items()))
    extra = "".join(f" {k}={v}" for k, v in sorted(payload.items()))
    assigned = f" assignee={obj['assignee']}" if "assignee" in obj else ""
    return f"{key}/{state}/{trigger} [{held}]{assigned}{extra}"


def _fire(workflow: Workflow, state: str, trigger: str, obj: dict[str, Any], payload: dict[str, Any],
          who: str) -> dict[str, Any]:
    """The object after `who` fires `trigger` (the engine's plan, then its actions), or raise why not."""
    ctx = Context(copy.deepcopy(obj), Actor(who, who, roles=USERS[who]), {"opinion": "ok", **payload}, "en",
                  Env())
    plan = workflow.plan(state, trigger, ctx)
    after = dict(ctx.obj, state=plan.dest)
    for name in plan.actions:
        after.update(ACTIONS[name](ctx))
    return after


def test_the_table_covers_every_trigger_of_every_shipped_workflow() -> None:
    shipped = {(key, state, t.trigger)
               for key, w in WORKFLOWS.items() for t in w.transitions for state in t.sources}
    assert {row[:3] for row in ROWS} == shipped


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_only_the_intended_people_may_fire_each_trigger(row: tuple[Any, ...]) -> None:
    key, state, trigger, obj, payload, expected = row
    workflow = WORKFLOWS[key]
    allowed, why_not = set(), {}
    for who in USERS:
        try:
            after = _fire(workflow, state, trigger, obj, payload, who)
        except CounterflowError as exc:
            why_not[who] = exc.code
            continue
        allowed.add(who)
        duty = getattr(workflow.transition(state, trigger), "duty", None)
        if duty:                                                # the part played is on the object now
            assert who in after["duties"][duty]
            assert all(set(p) <= set(after["duties"][d]) for d, p in (obj.get("duties") or {}).items())
    assert allowed == expected, why_not


def test_every_problem_is_listed_at_once_in_both_languages() -> None:
    """A clerk+reviewer who created and accepted the record and sends no opinion: three reasons, one call."""
    obj = {**RECORD, "created_by": "clerk_reviewer", "duties": {"acceptor": ["clerk_reviewer"]},
           "assignee": "clerk_reviewer"}
    for lang, words in (("en", ("creator", "acceptor", "reviewer")), ("zh-CN", ("录入人", "受理人", "审核人"))):
        ctx = Context(obj, Actor("clerk_reviewer", "cr", roles=USERS["clerk_reviewer"]), {}, lang, Env())
        problems = WORKFLOWS["review"].blockers("in_progress", "approve", ctx)
        assert [p["code"] for p in problems] == ["required", "separation_of_duties", "separation_of_duties"]
        assert words[0] in problems[1]["message"] and words[1] in problems[2]["message"]
        assert all(words[2] in p["message"] for p in problems[1:])


@pytest.mark.parametrize("change, message", [
    (lambda t: t.update(duty="reviewer", separate_from=["reviewer"]),
     "separates duty 'reviewer' from itself"),
    (lambda t: t.update(assignee_separate_from=["creator"]),
     "has assignee_separate_from but takes no assignee"),
    (lambda t: t.update(separate_from=["author"]),
     "'author' is never played on a record; fix: use 'creator'"),
    (lambda t: t.update(actions=["fill_duty"]), "action 'fill_duty' is added by 'duty'"),
    (lambda t: t.update(duty="clerk"), "/transitions/1/duty"),
])
def test_a_separation_that_cannot_work_is_refused_when_the_workflow_is_checked(change: Any,
                                                                               message: str) -> None:
    definition = copy.deepcopy(SHIPPED["review"])
    change(definition["transitions"][1])
    problems = definitions.check_workflow(definition, "review.yaml")
    assert any(message in p for p in problems), problems


def test_the_shipped_files_say_it_as_data() -> None:
    """No shipped workflow relies on the older single-purpose guards any more."""
    for key, definition in SHIPPED.items():
        text = yaml.safe_dump(definition)
        for old in ("not_submitter", "not_author", "not_approver", "record_destruction_approver"):
            assert old not in text, (key, old)


# -- end to end through the API -------------------------------------------------------------------------

SEPARATED = [("", "separation_of_duties")]
ASSIGNEE_SEPARATED = [("/assignee", "separation_of_duties")]


def _user_id(staff: Api, username: str) -> str:
    return str(next(u["id"] for u in staff.get("/api/v1/users", "admin").get_json()["items"]
                    if u["username"] == username))


def _new(staff: Api, who: str = "clerk", **data: Any) -> dict[str, Any]:
    data = dict(COMPLETE, licence_copy=upload(staff, who), **data)
    r = staff.post("/api/v1/records", who, json={"form": "parking-permit", "data": data})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def _fire_api(staff: Api, record: dict[str, Any], trigger: str, who: str, **extra: Any) -> Any:
    return staff.post(f"/api/v1/records/{record['id']}/transitions/{trigger}", who,
                      json={"revision": record["revision"], **extra})


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def _codes(r: Any, status: int = 422) -> list[tuple[str, str]]:
    assert r.status_code == status, r.get_json()
    return [(d["path"], d["code"]) for d in r.get_json()["error"]["details"]]


def test_a_clerk_reviewer_who_accepted_another_clerks_record_may_not_review_or_approve_it(staff: Api) -> None:
    publish(staff)
    staff.add_user("both", ["clerk", "reviewer"])
    both, reviewer = _user_id(staff, "both"), _user_id(staff, "reviewer")
    app = staff.client.application
    record = _new(staff, "clerk")
    record = _ok(_fire_api(staff, record, "accept", "both"))
    assert stored_record(app, record["id"])["duties"] == {"acceptor": [both]}   # recorded with the accept

    # the department head cannot hand it to the acceptor to review, and is told why, in both languages
    r = _fire_api(staff, record, "assign", "head", assignee=both)
    assert _codes(r) == ASSIGNEE_SEPARATED
    assert "受理人" in r.get_json()["error"]["details"][0]["message"]
    r = staff.post(f"/api/v1/records/{record['id']}/transitions/assign?lang=en", "head",
                   json={"revision": record["revision"], "assignee": both})
    assert "acceptor" in r.get_json()["error"]["details"][0]["message"]

    # a record that reached the acceptor anyway (assigned before this rule): no decision is theirs
    store = app.extensions["counterflow"].store
    store.records.update_one({"_id": record["id"]}, {"$set": {"state": "in_progress", "assignee": both}})
    record = staff.get(f"/api/v1/records/{record['id']}", "both").get_json()
    options = {o["trigger"]: o for o in
               staff.get(f"/api/v1/records/{record['id']}/transitions", "both").get_json()["items"]}
    allowed = {t: o["allowed"] for t, o in options.items()}
    assert allowed == {"approve": False, "reject": False, "send_back": False}
    for trigger in ("approve", "reject", "send_back"):
        assert _codes(_fire_api(staff, record, trigger, "both", opinion="同意")) == SEPARATED
    assert stored_record(app, record["id"])["state"] == "in_progress"

    # item 5: a reviewer who is not the assignee decides nothing either
    for trigger in ("approve", "reject", "send_back"):
        assert _codes(_fire_api(staff, record, trigger, "reviewer", opinion="x")) == [("", "is_assignee")]

    # the way it should go: the assignee is someone else, who decides; a manager takes the second level
    store.records.update_one({"_id": record["id"]},
                             {"$set": {"state": "pending"}, "$unset": {"assignee": ""}})
    record = staff.get(f"/api/v1/records/{record['id']}", "head").get_json()
    record = _ok(_fire_api(staff, record, "assign", "head", assignee=reviewer))
    record = _ok(_fire_api(staff, record, "acknowledge", "reviewer"))
    record = _ok(_fire_api(staff, record, "approve", "reviewer", opinion="同意"))
    assert (record["process"], record["state"]) == ("archive", "pending")
    assert stored_record(app, record["id"])["duties"] == {"acceptor": [both], "reviewer": [reviewer]}


def test_second_level_decisions_are_a_managers_and_never_the_reviewers(staff: Api) -> None:
    publish(staff)
    staff.add_user("rm", ["reviewer", "manager"])
    rm = _user_id(staff, "rm")
    record = _new(staff, "clerk", amount=80000)
    record = _ok(_fire_api(staff, record, "accept", "clerk"))
    record = _ok(_fire_api(staff, record, "assign", "head", assignee=rm))
    record = _ok(_fire_api(staff, record, "acknowledge", "rm"))
    record = _ok(_fire_api(staff, record, "approve", "rm", opinion="同意"))
    assert record["state"] == "second_review"
    # item 5: a reviewer may not reject or send back at the second level (it was any reviewer before)
    for trigger in ("reject", "send_back", "approve_final"):
        assert _codes(_fire_api(staff, record, trigger, "reviewer", opinion="x"), 403) == []
    # item 6: the reviewer who is also a manager may not decide the second level
    for trigger in ("approve_final", "reject", "send_back"):
        assert _codes(_fire_api(staff, record, trigger, "rm", opinion="同意")) == SEPARATED
    staff.add_user("bm", ["reviewer", "manager"])
    bm = _user_id(staff, "bm")
    record = _ok(_fire_api(staff, record, "send_back", "bm", opinion="请补充"))
    assert record["state"] == "pending"
    # whoever sent it back at the second level is its approver now, so never its reviewer, and the
    # first reviewer stays one: neither may be handed the next round's second level in turn
    duties = stored_record(staff.client.application, record["id"])["duties"]
    assert duties["approver"] == [bm] and duties["reviewer"] == [rm]
    assert _codes(_fire_api(staff, record, "assign", "head", assignee=bm)) == ASSIGNEE_SEPARATED
    record = _ok(_fire_api(staff, record, "assign", "head", assignee=rm))
    record = _ok(_fire_api(staff, record, "acknowledge", "rm"))
    record = _ok(_fire_api(staff, record, "approve", "rm", opinion="已补充，同意"))
    assert _codes(_fire_api(staff, record, "approve_final", "rm", opinion="同意")) == SEPARATED
    record = _ok(_fire_api(staff, record, "approve_final", "boss", opinion="同意"))
    assert record["process"] == "archive"


def test_one_dept_head_and_manager_may_not_both_review_and_approve_a_form_version(staff: Api) -> None:
    staff.add_user("hm", ["dept_head", "manager"])
    r = staff.post("/api/v1/forms", "admin", json=permit(key="dual-check"))
    assert r.status_code == 201, r.get_json()
    path = "/api/v1/forms/dual-check/versions/1"

    def fire(who: str, trigger: str, **payload: Any) -> Any:
        revision = staff.get(path, "admin").get_json()["revision"]
        return staff.post(f"{path}/transitions/{trigger}", who, json={"revision": revision, **payload})

    assert fire("admin", "submit").status_code == 200
    assert fire("hm", "review", opinion="字段齐全").status_code == 200
    options = {o["trigger"]: o for o in staff.get(f"{path}/transitions", "hm").get_json()["items"]}
    assert options["approve"]["allowed"] is False
    assert [x["code"] for x in options["approve"]["reasons"]] == ["separation_of_duties"]
    assert _codes(fire("hm", "approve", opinion="同意")) == SEPARATED
    assert _codes(fire("hm", "reject", opinion="退回")) == SEPARATED
    assert staff.get(path, "admin").get_json()["state"] == "pending_approval"
    # a manager may no longer send a version back from the department head's step, nor a head from the
    # manager's: each level decides its own step
    assert fire("head", "reject", opinion="x").status_code == 403
    assert fire("boss", "approve", opinion="同意发布").get_json()["state"] == "published"
    history = staff.get(f"{path}/history", "admin").get_json()["items"]
    trail = [(e["trigger"], e["actor"]["username"], e["outcome"]) for e in history if e["trigger"] != "edit"]
    assert trail == [("submit", "admin", "done"), ("review", "hm", "done"), ("approve", "hm", "refused"),
                     ("reject", "hm", "refused"), ("approve", "boss", "done")]
