"""Approval steps with several people (会签, 或签, 依次, a vote ratio): the pure rules.

A state with an `approval` block is a step. When a record enters it the service resolves the
approvers once (collapsed: a person named twice is one approver) and keeps the step in the record
under `approval.<state>`; each person's vote is one `$set` of `approval.<state>.votes.<user id>`.
This module decides, from that stored step alone, who may act now and whether the step is decided.

The step as stored:
    {"process", "state", "started_at", "submitted_by", "from",      who brought it here, from where
     "order": [user ids],                                             the approvers in listed order
     "tasks": {user id: {"state": "pending" | "delegated" | "transferred", "delegate", "for",
                         "waits_for", "added_by", "from", "advice"}},
     "votes": {user id: {"decision": "approve" | "reject", "opinion", "at", "revision", "digest"}},
     "copies": {user id: {"by", "at"}}, "urged_at", "acted"}
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from counterflow.core import pointer
from counterflow.core.i18n import message

MODES = ("all", "any", "sequence", "ratio")
ACTIONS = ("send_back", "transfer", "delegate", "add_approver", "withdraw", "copy", "urge")
DECISIONS = ("approve", "reject")
DEFAULT_URGE_MINUTES = 60


@dataclass(frozen=True)
class ApprovalSpec:
    """A state's `approval` block, read once per workflow version."""

    state: str
    mode: str
    approvers: tuple[Mapping[str, Any], ...]
    approve: str                      # the trigger fired (its dest, branch, actions) when the step passes
    reject: str | None                # the trigger fired when it is rejected
    opinion_required: bool
    ratio: tuple[int, int] | None
    actions: tuple[str, ...]
    urge_minutes: int
    applicant: Mapping[str, str] | None    # where `send_back` to the applicant's clerk leads
    hidden: tuple[str, ...] = ()
    editable: tuple[str, ...] = ()

    @classmethod
    def parse(cls, state: str, block: Mapping[str, Any]) -> "ApprovalSpec":
        fields = block.get("fields") or {}
        return cls(state, block["mode"], tuple(block["approvers"]), block["approve"], block.get("reject"),
                   block.get("opinion", "required") == "required", parse_ratio(block.get("ratio")),
                   tuple(block.get("actions", ACTIONS)), int(block.get("urge_interval_minutes",
                                                                       DEFAULT_URGE_MINUTES)),
                   block.get("applicant"), tuple(fields.get("hidden", ())), tuple(fields.get("editable", ())))

    def decision_of(self, trigger: str) -> str | None:
        """'approve' or 'reject' when `trigger` is this step's approve or reject trigger."""
        if trigger == self.approve:
            return "approve"
        if self.reject and trigger == self.reject:
            return "reject"
        return None

    def needed(self, n: int) -> int:
        """How many approvals pass the step among `n` approvers."""
        if self.mode == "any":
            return 1 if n else 0
        if self.mode == "ratio" and self.ratio:
            return max(1, math.ceil(self.ratio[0] * n / self.ratio[1] - 1e-9))
        return n


def usable_id(user_id: Any) -> bool:
    """A user id that can be a key of the stored step (`votes.<id>`): a string without '.' or '$'."""
    return isinstance(user_id, str) and 0 < len(user_id) <= 64 and "." not in user_id and "$" not in user_id


def parse_ratio(raw: Any) -> tuple[int, int] | None:
    """`2/3` or `{approve: 2, of: 3}` as (2, 3); None when absent."""
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        return int(raw["approve"]), int(raw["of"])
    left, right = str(raw).split("/")
    return int(left), int(right)


def ratio_problem(raw: Any) -> str | None:
    """Why a ratio cannot be used (more approvals than approvers, zero), or None."""
    try:
        parsed = parse_ratio(raw)
    except (ValueError, KeyError, TypeError):
        return "is not a ratio such as 2/3 or {approve: 2, of: 3}"
    if parsed is None:
        return None
    if parsed[0] < 1 or parsed[1] < 1 or parsed[0] > parsed[1]:
        return f"needs 1 <= approve <= of (got {parsed[0]}/{parsed[1]})"
    return None


def new_step(process: str, state: str, order: list[str], at: str, submitted_by: str | None,
             source: str | None) -> dict[str, Any]:
    """A step as it starts: every approver pending, no vote."""
    return {"process": process, "state": state, "started_at": at, "submitted_by": submitted_by,
            "from": source, "order": list(dict.fromkeys(order)),
            "tasks": {uid: {"state": "pending"} for uid in dict.fromkeys(order)},
            "votes": {}, "copies": {}, "urged_at": None, "acted": False}


def votes(step: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The approvers' votes (one per person: keyed by user id, so a person is counted once)."""
    found = step.get("votes") or {}
    order = step.get("order") or []
    return {uid: v for uid, v in found.items() if uid in order and isinstance(v, Mapping)}


def outcome(spec: ApprovalSpec, step: Mapping[str, Any]) -> str | None:
    """'approve' when the mode's condition is met, 'reject' when it no longer can be, else None.

    all, sequence: every approver approves; one reject decides at once.
    any: the first decision decides, either way.
    ratio: approvals reach ceil(ratio x approvers); rejected once so many reject that it cannot.
    """
    n = len(step.get("order") or [])
    cast = votes(step)
    yes = sum(1 for v in cast.values() if v.get("decision") == "approve")
    no = sum(1 for v in cast.values() if v.get("decision") == "reject")
    need = spec.needed(n)
    if n and yes >= need:
        return "approve"
    if spec.mode == "ratio":
        return "reject" if no > n - need else None
    return "reject" if no else None


def holders(spec: ApprovalSpec, step: Mapping[str, Any]) -> dict[str, str]:
    """Who may act now: {holder: the approver whose task it is} (a delegate holds the delegator's task)."""
    cast = votes(step)
    tasks = step.get("tasks") or {}
    out: dict[str, str] = {}
    for uid in step.get("order") or []:
        if uid in cast:
            continue
        task = tasks.get(uid) or {}
        waits = task.get("waits_for")
        if waits and waits in (step.get("order") or []) and waits not in cast:
            continue
        holder = task.get("delegate") if task.get("state") == "delegated" else uid
        if holder:
            out[holder] = uid
        if spec.mode == "sequence":
            break
    return out


def task_list(step: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The open and done tasks as the API shows them: [{"user", "state", "decision", "at"}]."""
    cast = step.get("votes") or {}
    tasks = step.get("tasks") or {}
    out = []
    for uid in step.get("order") or []:
        vote = cast.get(uid) or {}
        task = tasks.get(uid) or {}
        out.append({"user": uid, "state": "done" if vote else task.get("state", "pending"),
                    "decision": vote.get("decision"), "at": vote.get("at"),
                    "delegate": task.get("delegate"), "added_by": task.get("added_by")})
    return out


FIELD_MESSAGES = {
    "not_editable": {"zh-CN": "本审批环节只能修改：{allowed}；不能修改 {path}",
                     "en": "In this approval step only {allowed} may be changed; {path} may not"},
    "not_holding": {"zh-CN": "您不是本审批环节当前的办理人，不能修改业务单数据（{path}）",
                    "en": "You do not hold this approval step now, so you may not change the record's data "
                          "({path})"},
    "refused": {"zh-CN": "有 {count} 个字段不能在本审批环节修改",
                "en": "{count} field(s) cannot be changed in this approval step"},
}


@dataclass(frozen=True)
class FieldRights:
    """What one of a step's people may change in the record's data while it sits in a step whose
    `fields.editable` names fields: the holder of the step now, exactly those fields (an approver correcting
    an amount); an approver of the step who does not hold it now, nothing. Whoever is not the step's keeps
    the rights the record's rules give (no FieldRights at all)."""

    state: str
    editable: tuple[str, ...]
    hidden: tuple[str, ...]
    holding: bool

    def filled(self, sent: Any, data: Any) -> Any:
        """The data sent with the values of the fields the step hides from its people put back as stored
        (they were not shown, so they are not sent: not a change)."""
        if not self.hidden or not isinstance(sent, dict) or not isinstance(data, Mapping):
            return sent
        out = _deep_copy(sent)
        for ptr in self.hidden:
            parts = pointer.split(ptr)
            source: Any = data
            target: Any = out
            for part in parts[:-1]:
                source = source.get(part) if isinstance(source, Mapping) else None
                target = target.get(part) if isinstance(target, dict) else None
            if parts and isinstance(source, Mapping) and isinstance(target, dict) and parts[-1] in source \
                    and parts[-1] not in target:
                target[parts[-1]] = source[parts[-1]]
        return out

    def allows(self, path: str) -> bool:
        if not self.holding:
            return False
        return any(_within(path, pattern) for pattern in self.editable)

    def problems(self, changes: Sequence[Mapping[str, Any]], lang: str) -> list[dict[str, str]]:
        """One problem per changed field outside the step's rights, naming it (empty: allowed)."""
        allowed = ", ".join(self.editable)
        code = "field_not_editable" if self.holding else "not_holder"
        return [{"path": str(c["path"]), "code": code,
                 "message": message(FIELD_MESSAGES, "not_editable" if self.holding else "not_holding", lang,
                                    allowed=allowed, path=str(c["path"]))}
                for c in changes if not self.allows(str(c.get("path")))]

    def refusal(self, problems: list[dict[str, str]], lang: str) -> str:
        return problems[0]["message"] if len(problems) == 1 else message(FIELD_MESSAGES, "refused", lang,
                                                                         count=len(problems))


def _deep_copy(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _deep_copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_deep_copy(v) for v in node]
    return node


def _within(path: str, pattern: str) -> bool:
    """`path` is the field `pattern` names (`*` standing for any one part) or lies inside it."""
    try:
        parts, wanted = pointer.split(path), pointer.split(pattern)
    except ValueError:
        return False
    return len(parts) >= len(wanted) and all(w == pointer.WILDCARD or p == w for p, w in zip(parts, wanted))


def data_digest(data: Any) -> str:
    """sha256 of the data as canonical JSON (sorted keys, no spaces, UTF-8): what an opinion is bound to."""
    text = json.dumps(data if data is not None else {}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_block(state: Mapping[str, Any], triggers_from: Mapping[str, set[str]], state_names: set[str],
                where: str) -> list[str]:
    """Problems of one state's approval block the meta-schema cannot see (each 'place: problem; fix: ...')."""
    block = state.get("approval")
    if not block:
        return []
    problems = []
    name = state["name"]
    here = triggers_from.get(name, set())
    for key in ("approve", "reject"):
        trigger = block.get(key)
        if trigger and trigger not in here:
            problems.append(f"{where}/approval/{key}: '{trigger}' is not a transition from '{name}'; "
                            f"fix: name one of {', '.join(sorted(here)) or '(none: add one)'}")
    if block.get("mode") == "ratio" and block.get("ratio") is None:
        problems.append(f"{where}/approval: mode 'ratio' without a ratio; fix: add ratio: 2/3 "
                        f"or {{approve: 2, of: 3}}")
    if block.get("ratio") is not None and block.get("mode") != "ratio":
        problems.append(f"{where}/approval/ratio: only mode 'ratio' uses a ratio; fix: set mode: ratio "
                        f"or remove ratio")
    problem = ratio_problem(block.get("ratio"))
    if problem:
        problems.append(f"{where}/approval/ratio: {problem}; fix: write 2/3 or {{approve: 2, of: 3}}")
    for i, who in enumerate(block.get("approvers", [])):
        if "department" in who and "role" not in who:
            problems.append(f"{where}/approval/approvers/{i}: a department alone names nobody; "
                            f"fix: add the role held there, e.g. {{role: reviewer, department: ...}}")
        if who.get("department_head") and ("role" in who or "users" in who):
            problems.append(f"{where}/approval/approvers/{i}: department_head stands alone; "
                            f"fix: list it as its own entry")
    if state.get("final"):
        problems.append(f"{where}: a final state cannot be an approval step; fix: remove approval or final")
    return problems
