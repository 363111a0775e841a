"""Runs workflow definitions: one `transitions` machine per workflow version, built once."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Mapping

from transitions import Machine

from counterflow.core import registry, rules     # rules also registers the built-in guards and actions
from counterflow.core.approval import ApprovalSpec
from counterflow.core.errors import Conflict, Forbidden, Invalid, NotFound
from counterflow.core.i18n import message, text
from counterflow.core.ports import TransitionEnv

MESSAGES = {
    "role": {"zh-CN": "您的角色不能执行「{trigger}」，需要：{roles}",
             "en": "Your roles do not allow '{trigger}'; it needs one of: {roles}"},
    "wrong_state": {"zh-CN": "当前状态「{state}」下不能执行「{trigger}」",
                    "en": "'{trigger}' cannot be done while the record is '{state}'"},
    "unknown_trigger": {"zh-CN": "流程「{process}」没有操作「{trigger}」",
                        "en": "The process '{process}' has no action '{trigger}'"},
    "requires": {"zh-CN": "请填写「{item}」", "en": "Please fill in '{item}'"},
    "blocked": {"zh-CN": "不能执行「{trigger}」：{count} 个问题",
                "en": "'{trigger}' cannot be done: {count} problem(s)"},
    "by_list": {"zh-CN": "业务单只能通过经批准的销毁清单销毁（两人批准、冷静期、监销人签字、销毁证明）："
                         "请档案管理员将其列入销毁清单（POST /api/v1/destructions）",
                "en": "Records are destroyed only through an approved destruction list (two approvers, a "
                      "cooling-off period, a supervisor's signature, a certificate): ask records staff to "
                      "put this record on one (POST /api/v1/destructions)"},
}
EVENT_TITLES = {
    "create": {"zh-CN": "新建", "en": "Created"},
    "edit": {"zh-CN": "修改", "en": "Edited"},
    "correct": {"zh-CN": "更正", "en": "Corrected"},
}
REQUIRE_TITLES = {
    "opinion": {"zh-CN": "意见", "en": "opinion"},
    "assignee": {"zh-CN": "经办人", "en": "assignee"},
    "reason": {"zh-CN": "理由", "en": "reason"},
    "refer_to": {"zh-CN": "告知去向（可向何处申请）", "en": "where the applicant may turn instead"},
    "authority": {"zh-CN": "依据（法院裁定、审计、投诉编号等）",
                  "en": "authority (court order, audit, complaint number)"},
}


@dataclass(frozen=True)
class Actor:
    id: str
    username: str
    name: str = ""
    roles: frozenset[str] = frozenset()
    department: str = ""
    for_id: str = ""                 # on whose behalf (the holder of an A/B post, when their backup acts)

    def public(self) -> dict[str, str]:
        return {"id": self.id, "username": self.username, "name": self.name}

    def owns(self, person: Any) -> bool:
        """`person` (a user id a record names: its assignee, its first responder) is this actor, or the one
        this actor stands in for."""
        return bool(person) and person in (self.id, self.for_id)


@dataclass
class Context:
    """What guards, conditions and actions see: the object, the actor, the request, the services."""

    obj: Mapping[str, Any]
    actor: Actor
    payload: Mapping[str, Any]
    lang: str
    env: TransitionEnv | None = None
    trigger: str = ""
    dest: str = ""
    notes: dict[str, Any] = field(default_factory=dict)
    transition: TransitionDef | None = None     # the definition being checked or fired


@dataclass(frozen=True)
class TransitionDef:
    trigger: str
    sources: tuple[str, ...]
    dest: str
    roles: tuple[str, ...]
    guards: tuple[str, ...]
    requires: tuple[str, ...]
    actions: tuple[str, ...]
    branch_if: str | None
    branch_dest: str | None
    title: Mapping[str, str]
    asks: tuple[str, ...] = ()          # optional inputs the page offers (opinion, items)
    with_data: bool = False             # offered on the data form: saves the fields, then fires
    shows: str | None = None            # the printable page that follows: notice | receipt
    duty: str | None = None             # the part the caller plays on the object (recorded in `duties`)
    separate_from: tuple[str, ...] = ()            # parts the caller may not already play there
    assignee_separate_from: tuple[str, ...] = ()   # parts the named assignee may not already play


@dataclass(frozen=True)
class Plan:
    trigger: str
    process: str
    source: str
    dest: str
    final: bool
    ends_record: bool
    actions: tuple[str, ...]
    shows: str | None = None


class _Subject:
    """The throwaway model a machine moves: only its state."""

    def __init__(self, state: str) -> None:
        self.state = state


class Workflow:
    """One workflow version; its machine is built in the constructor and reused for every object."""

    def __init__(self, definition: Mapping[str, Any], version: int = 1) -> None:
        self.key: str = definition["key"]
        moves = definition.get("subject", "record")
        self.subjects: tuple[str, ...] = tuple(moves) if isinstance(moves, list) else (moves,)
        self.subject: str = self.subjects[0]
        self.version = version
        self.definition = definition
        self.title = definition.get("title", {})
        self.initial: str = definition["initial"]
        self.states = {s["name"]: s for s in definition["states"]}
        self.transitions = [self._parse(t) for t in definition["transitions"]]
        self.machine = Machine(model=None, states=list(self.states), initial=self.initial,
                               transitions=list(self._machine_transitions()), auto_transitions=False,
                               send_event=True, ignore_invalid_triggers=False)

    @staticmethod
    def _parse(t: Mapping[str, Any]) -> TransitionDef:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        branch = t.get("branch") or {}
        return TransitionDef(t["trigger"], tuple(sources), t["dest"], tuple(t.get("roles", ())),
                             tuple(t.get("guards", ())), tuple(t.get("requires", ())),
                             tuple(t.get("actions", ())), branch.get("if"), branch.get("dest"),
                             t.get("title", {"en": t["trigger"]}), tuple(t.get("asks", ())),
                             bool(t.get("with_data")), t.get("shows"), t.get("duty"),
                             tuple(t.get("separate_from", ())), tuple(t.get("assignee_separate_from", ())))

    def _machine_transitions(self) -> Iterable[dict[str, Any]]:
        for t in self.transitions:
            if t.branch_if:
                yield {"trigger": t.trigger, "source": list(t.sources), "dest": t.branch_dest,
                       "conditions": [_branch_taken]}
            yield {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest}

    # -- questions ---------------------------------------------------------------------------

    def is_final(self, state: str) -> bool:
        return bool(self.states.get(state, {}).get("final"))

    def is_read_only(self, state: str) -> bool:
        """No change to the data at all; a final state is read only unless it says otherwise."""
        found = self.states.get(state, {})
        return bool(found.get("read_only", found.get("final", False)))

    def is_editable(self, state: str) -> bool:
        """The data is a draft here: edited freely, no reason needed, the page shows the form."""
        return bool(self.states.get(state, {}).get("editable"))

    def is_in_use(self, state: str) -> bool:
        """A definition in this state is in use (a published form version): it never changes again."""
        return bool(self.states.get(state, {}).get("in_use"))

    def is_open(self, state: str) -> bool:
        """Still being worked on: neither in use nor final."""
        return not self.is_in_use(state) and not self.is_final(state)

    def states_where(self, flag: str) -> list[str]:
        return [name for name, s in self.states.items() if s.get(flag)]

    def clock_runs(self, state: str) -> bool:
        """Whether the statutory time limit counts while an object is in this state."""
        found = self.states.get(state, {})
        return found.get("clock", "stopped" if found.get("final") else "running") == "running"

    def data_triggers(self, state: str) -> list[TransitionDef]:
        """The transitions from `state` that the data form itself offers (they carry its fields)."""
        seen: dict[str, TransitionDef] = {}
        for t in self.transitions:
            if t.with_data and state in t.sources:
                seen.setdefault(t.trigger, t)
        return list(seen.values())

    def transition(self, state: str, trigger: str) -> TransitionDef | None:
        found = self._candidates(state, trigger)
        return found[0] if found else None

    def state_title(self, state: str, lang: str) -> str:
        return text(self.states.get(state, {}).get("title"), lang) or state

    def deadline(self, state: str) -> Mapping[str, Any] | None:
        return self.states.get(state, {}).get("deadline")

    @cached_property
    def approvals(self) -> dict[str, ApprovalSpec]:
        """The approval steps (states with an `approval` block: core/approval.py), parsed once."""
        return {name: ApprovalSpec.parse(name, s["approval"]) for name, s in self.states.items()
                if s.get("approval")}

    def approval(self, state: str) -> ApprovalSpec | None:
        return self.approvals.get(state)

    def trigger_title(self, trigger: str, lang: str) -> str:
        """A trigger's title for people; the built-in record events have their own."""
        found = (next((t.title for t in self.transitions if t.trigger == trigger), None) or
                 EVENT_TITLES.get(trigger))
        return text(found, lang) if found else trigger

    def triggers(self) -> list[str]:
        return list(dict.fromkeys(t.trigger for t in self.transitions))

    def _candidates(self, state: str, trigger: str) -> list[TransitionDef]:
        return [t for t in self.transitions if t.trigger == trigger and state in t.sources]

    # -- deciding ----------------------------------------------------------------------------

    def blockers(self, state: str, trigger: str, ctx: Context, *, with_requires: bool = True,
                 with_roles: bool = True) -> list[dict[str, str]]:
        """Every reason `trigger` may not fire now (role, missing input, failed guard), all at once.

        `with_roles=False` for a person an approval step names (their task is theirs, whatever roles)."""
        if trigger not in self.triggers():
            raise NotFound(message(MESSAGES, "unknown_trigger", ctx.lang, process=self.key, trigger=trigger),
                           code="unknown_trigger")
        candidates = self._candidates(state, trigger)
        if not candidates:
            raise Conflict(message(MESSAGES, "wrong_state", ctx.lang, trigger=trigger,
                                   state=self.state_title(state, ctx.lang)), code="wrong_state")
        t = candidates[0]
        if with_roles and t.roles and not (ctx.actor.roles & set(t.roles)):
            raise Forbidden(message(MESSAGES, "role", ctx.lang, trigger=text(t.title, ctx.lang),
                                    roles=", ".join(t.roles)), code="role")
        problems: list[dict[str, str]] = []
        if any(self.states.get(d, {}).get("tombstone") for d in (t.dest, t.branch_dest) if d):
            # a tombstone is left only by a destruction list's run, which erases (service/disposal.py)
            problems.append({"path": "", "code": "destroyed_by_list",
                             "message": message(MESSAGES, "by_list", ctx.lang)})
        if with_requires:
            for item in t.requires:
                value = ctx.payload.get(item)
                if not (isinstance(value, str) and value.strip()):
                    problems.append({"path": f"/{item}", "code": "required",
                                     "message": message(MESSAGES, "requires", ctx.lang,
                                                        item=text(REQUIRE_TITLES.get(item, {"en": item}),
                                                                  ctx.lang))})
        ctx.trigger, ctx.transition = trigger, t
        for name in t.guards:
            problems.extend(registry.GUARDS[name](ctx))
        problems.extend(rules.separation_problems(ctx, ctx.actor.id, t.separate_from, duty=t.duty,
                                                  trigger_title=text(t.title, ctx.lang)))
        assignee = ctx.payload.get("assignee")
        if t.assignee_separate_from and isinstance(assignee, str):
            problems.extend(rules.separation_problems(ctx, assignee, t.assignee_separate_from,
                                                      path="/assignee", assignee=True))
        return problems

    def plan(self, state: str, trigger: str, ctx: Context, *, with_roles: bool = True) -> Plan:
        """Decide where `trigger` leads from `state`, or raise with every reason it cannot."""
        problems = self.blockers(state, trigger, ctx, with_roles=with_roles)
        t = self._candidates(state, trigger)[0]
        if problems:
            raise Invalid(message(MESSAGES, "blocked", ctx.lang, trigger=text(t.title, ctx.lang),
                                  count=len(problems)), code="guard_failed", details=problems)
        branches = {t.branch_if: registry.CONDITIONS[t.branch_if](ctx)} if t.branch_if else {}
        subject = _Subject(state)
        self.machine.events[trigger].trigger(subject, branches=branches, branch=t.branch_if)
        dest = subject.state
        ctx.dest = dest
        actions = t.actions + ((rules.FILL_DUTY,) if t.duty else ())
        return Plan(trigger, self.key, state, dest, self.is_final(dest),
                    bool(self.states[dest].get("ends_record")), actions, t.shows)

    def options(self, state: str, ctx: Context) -> list[dict[str, Any]]:
        """The triggers from `state`, each with whether the caller may fire it and why not."""
        out = []
        for trigger in dict.fromkeys(t.trigger for t in self.transitions if state in t.sources):
            t = self._candidates(state, trigger)[0]
            entry: dict[str, Any] = {"trigger": trigger, "title": text(t.title, ctx.lang),
                                     "requires": list(t.requires), "asks": list(t.asks),
                                     "with_data": t.with_data, "shows": t.shows,
                                     "allowed": True, "reasons": []}
            try:
                entry["reasons"] = self.blockers(state, trigger, ctx, with_requires=False)
            except Forbidden as exc:
                entry["reasons"] = [{"path": "", "code": exc.code, "message": exc.message}]
            entry["allowed"] = not entry["reasons"]
            out.append(entry)
        return out


def _branch_taken(event: Any) -> bool:
    return bool(event.kwargs.get("branches", {}).get(event.kwargs.get("branch")))
