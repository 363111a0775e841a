"""Approval steps with several people: votes, send back, transfer, delegate, add an approver, withdraw,
copy, urge. The rules of a step are pure (core/approval.py); this mixin reads the step stored in the
record, checks who may act, and writes each change as one compare-and-set (`Store.commit`) whose `$set`
names only the person's own slot (`approval.<state>.votes.<user id>`, `approval.<state>.tasks.<user id>`):
never a `$push`, never a positional `$set`.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from pymongo.errors import DuplicateKeyError

from counterflow.core import approval
from counterflow.core.approval import ApprovalSpec
from counterflow.core.clock import utcnow
from counterflow.core.engine import Actor, Context, Workflow
from counterflow.core.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited
from counterflow.core.i18n import message, text
from counterflow.service.base import Doc
from counterflow.service.env import Env
from counterflow.service.messages import check_revision
from counterflow.service.records import RecordActions

MESSAGES = {
    "not_in_step": {"zh-CN": "业务单当前不在审批环节", "en": "The record is not in an approval step now"},
    "no_action": {"zh-CN": "本审批环节不提供「{action}」", "en": "This approval step does not offer '{action}'"},
    "not_holder": {"zh-CN": "此审批环节当前不由您办理", "en": "This approval step is not waiting for you now"},
    "delegated_away": {"zh-CN": "您已将此任务委派他人，待其办理后再由您决定",
                       "en": "You delegated this task; it comes back to you once the delegate has "
                             "worked on it"},
    "stale_data": {"zh-CN": "您看到的内容已不是当前版本（摘要不符），请刷新后重新审阅",
                   "en": "The data you reviewed is not the current data (the digest differs); reload and "
                         "review it again"},
    "digest": {"zh-CN": "请提供 digest（您审阅的内容摘要，即业务单的 data_digest）",
               "en": "Send the digest of the data you reviewed (the record's data_digest)"},
    "opinion": {"zh-CN": "请填写意见", "en": "Please give your opinion"},
    "to": {"zh-CN": "请选择退回到的环节：{choices}", "en": "Choose where to send it back: {choices}"},
    "user": {"zh-CN": "所选人员不存在或已停用", "en": "The person chosen does not exist or is inactive"},
    "self": {"zh-CN": "不能选择自己", "en": "You cannot choose yourself"},
    "already": {"zh-CN": "所选人员已是本环节的审批人（同一人只计一次）",
                "en": "That person is already an approver in this step (a person counts once)"},
    "position": {"zh-CN": "请选择加签位置：before 或 after", "en": "Choose where to add: before or after"},
    "users": {"zh-CN": "请选择抄送的人员", "en": "Choose the people to copy to"},
    "not_submitter": {"zh-CN": "只有提交人可以撤回", "en": "Only whoever submitted it may withdraw it"},
    "acted": {"zh-CN": "已有人办理，不能撤回", "en": "Someone has acted on it already, so it cannot be withdrawn"},
    "urge_self": {"zh-CN": "当前办理人不能催办自己", "en": "The people holding the step cannot urge themselves"},
    "urged": {"zh-CN": "已于 {at} 催办，{minutes} 分钟内只能催办一次，请于 {next} 后再试",
              "en": "Urged at {at}; it can be urged once every {minutes} minutes, so try again after {next}"},
    "copy_who": {"zh-CN": "只有当前办理人或提交人可以抄送",
                 "en": "Only the people holding the step or its submitter may copy it"},
    "no_reject": {"zh-CN": "本审批环节没有「不同意」操作", "en": "This approval step has no reject"},
    "blocked": {"zh-CN": "不能执行「{trigger}」：{count} 个问题",
                "en": "'{trigger}' cannot be done: {count} problem(s)"},
}
TITLES = {
    "send_back": {"zh-CN": "退回", "en": "Send back"}, "transfer": {"zh-CN": "转办", "en": "Transfer"},
    "delegate": {"zh-CN": "委派", "en": "Delegate"}, "add_approver": {"zh-CN": "加签", "en": "Add an approver"},
    "withdraw": {"zh-CN": "撤回", "en": "Withdraw"}, "copy": {"zh-CN": "抄送", "en": "Copy"},
    "urge": {"zh-CN": "催办", "en": "Urge"},
}
APPLICANT = "applicant"


def _problem(code: str, lang: str, path: str = "", **params: Any) -> dict[str, str]:
    return {"path": path, "code": code, "message": message(MESSAGES, code, lang, **params)}


def _invalid(code: str, lang: str, path: str = "", **params: Any) -> Invalid:
    return Invalid(message(MESSAGES, code, lang, **params), code=code,
                   details=[_problem(code, lang, path, **params)])


class _Change:
    """The fields one step action sets: under a fresh step the whole step, else each slot by its path."""

    def __init__(self, spec: ApprovalSpec, step: Doc, fresh: bool) -> None:
        self.prefix = f"approval.{spec.state}"
        self.step = step
        self.changes: Doc = {self.prefix: step} if fresh else {}

    def put(self, path: str, value: Any) -> None:
        *parents, last = path.split(".")
        node = self.step
        for part in parents:
            node[part] = dict(node.get(part) or {})
            node = node[part]
        node[last] = value
        if self.prefix not in self.changes:
            self.changes[f"{self.prefix}.{path}"] = value


class ApprovalActions(RecordActions):
    """Approval steps on records; `fire` turns a step's approve and reject triggers into votes."""

    # -- reading ---------------------------------------------------------------------------------

    def _visible_stored(self, actor: Actor, record_id: str, lang: str, *, acting: bool = False) -> Doc:
        """A person a step names (approver, delegate, copied to) may read the record even outside their
        department: the task is theirs."""
        try:
            return super()._visible_stored(actor, record_id, lang, acting=acting)
        except Forbidden:
            record = self.store.record(record_id)
            if actor.id in self.step_people(record):
                return record
            raise

    @staticmethod
    def step_people(record: Mapping[str, Any]) -> set[str]:
        found: set[str] = set()
        for step in (record.get("approval") or {}).values():
            if isinstance(step, Mapping) and step.get("process") == record.get("process"):
                found.update(step.get("order") or [])
                found.update(step.get("copies") or {})
                found.update(str(t["delegate"]) for t in (step.get("tasks") or {}).values()
                             if isinstance(t, Mapping) and t.get("delegate"))
        return found

    def record(self, actor: Actor, record_id: str, lang: str) -> Doc:
        """The record (as `readable` lets the caller read it); a person it was copied to has their reading
        recorded in the history, once a step."""
        found = super().record(actor, record_id, lang)
        step = self.current_step(found)
        if step and actor.id in (step.get("copies") or {}):
            self._note_reading(found, step, actor)
        return found

    def hidden_fields(self, actor: Actor, record: Mapping[str, Any]) -> list[str]:
        """The fields `actor` does not see: those whose `x-visible-to` names none of their roles, and, for the
        step's people, those the approval step's `fields.hidden` names (the same path: `readable`)."""
        hidden = super().hidden_fields(actor, record)
        step = self.current_step(record)
        if step:
            flow = self.workflow(record["process"], (record.get("workflows") or {}).get(record["process"]))
            spec = flow.approval(record["state"])
            if spec and spec.hidden and actor.id in self.step_people(record):
                hidden += [p for p in spec.hidden if p not in hidden]
        return hidden

    def step_field_rights(self, actor: Actor, record: Mapping[str, Any]) -> approval.FieldRights | None:
        """While the record sits in a step whose `fields.editable` names fields, the step's approvers (and
        their delegates) may change those fields only, and only the one holding the step now (an approver
        correcting an amount before deciding); everyone else keeps the record's ordinary rights. The digest
        a vote is bound to is the data's at the vote, so it binds to the corrected data."""
        step = self.current_step(record)
        if step is None or "workflows" not in record:
            return None
        spec = self.workflow(record["process"], record["workflows"].get(record["process"])).approval(
            record["state"])
        if spec is None or not spec.editable:
            return None
        tasks = (step.get("tasks") or {}).values()
        people = set(step.get("order") or [])
        people.update(str(t["delegate"]) for t in tasks if isinstance(t, Mapping) and t.get("delegate"))
        if actor.id not in people:
            return None
        return approval.FieldRights(spec.state, spec.editable, spec.hidden,
                                    actor.id in approval.holders(spec, step))

    def _note_reading(self, record: Doc, step: Mapping[str, Any], actor: Actor) -> None:
        event = self._event("record", actor, "read", record["process"], record["state"], record["state"],
                            outcome="read", details={"step": step.get("state")})
        event.update(_id=f"{record['_id']}:read:{step.get('started_at')}:{actor.id}", object_id=record["_id"],
                     revision=record.get("revision", 0))
        try:
            self.store.add_event(event)
        except DuplicateKeyError:
            pass                         # read before in this step: recorded once

    def current_step(self, record: Mapping[str, Any]) -> Doc | None:
        step = (record.get("approval") or {}).get(record.get("state"))
        if isinstance(step, dict) and step.get("process") == record.get("process"):
            return step
        return None

    def approval_view(self, record: Doc) -> Doc:
        """What a record shows of its step: the digest an opinion is bound to and the open tasks."""
        step = self.current_step(record)
        return {"data_digest": record.get("_data_digest") or approval.data_digest(record.get("data")),
                "tasks": approval.task_list(step) if step else []}

    def approval_state(self, actor: Actor, record_id: str, lang: str) -> Doc:
        """The step of a record: mode, tasks, votes, copies, who holds it now, and what the caller may do."""
        record = self._visible_record(actor, record_id, lang)
        workflow, spec = self._flow(record, lang)
        step = self.current_step(record) or {}
        return {"state": record["state"], "mode": spec.mode, "revision": record.get("revision", 0),
                "data_digest": approval.data_digest(record.get("data")),
                "tasks": approval.task_list(step), "holders": sorted(approval.holders(spec, step)),
                "votes": step.get("votes") or {}, "copies": step.get("copies") or {},
                "submitted_by": step.get("submitted_by"), "urged_at": step.get("urged_at"),
                "send_back_to": self._send_back_choices(record, spec),
                "actions": self._options(workflow, spec, record, step, actor, lang)}

    def options_on(self, workflow: Workflow, obj: Doc, actor: Actor, lang: str) -> list[Doc]:
        """In a step, the approve and reject triggers are offered to the people holding it now, and the
        step's own actions follow as `approval/<action>` (POST .../approval/<action>)."""
        found = super().options_on(workflow, obj, actor, lang)
        spec = workflow.approval(obj["state"]) if "form" in obj and "process" in obj else None
        if spec is None:
            return found
        step = self.current_step(obj) or {}
        held = approval.holders(spec, step)
        for entry in found:
            if spec.decision_of(entry["trigger"]) and actor.id not in held and entry["allowed"]:
                entry["allowed"], entry["reasons"] = False, [_problem("not_holder", lang)]
        return found + self._options(workflow, spec, obj, step, actor, lang)

    def _options(self, workflow: Workflow, spec: ApprovalSpec, record: Doc, step: Mapping[str, Any],
                 actor: Actor, lang: str) -> list[Doc]:
        out = []
        for action in spec.actions:
            reasons = self._refusals(spec, record, step, actor, action, lang)
            out.append({"trigger": f"approval/{action}", "title": text(TITLES[action], lang),
                        "requires": ["opinion"] if action == "send_back" else [], "asks": [],
                        "with_data": False, "shows": None, "allowed": not reasons, "reasons": reasons})
        return out

    def _refusals(self, spec: ApprovalSpec, record: Doc, step: Mapping[str, Any], actor: Actor, action: str,
                  lang: str) -> list[dict[str, str]]:
        """Why `actor` may not take `action` on the step now (empty: may), without the inputs."""
        held = approval.holders(spec, step)
        if action == "withdraw":
            if step.get("submitted_by") != actor.id:
                return [_problem("not_submitter", lang)]
            return [_problem("acted", lang)] if step.get("acted") or step.get("votes") else []
        if action == "urge":
            return [_problem("urge_self", lang)] if actor.id in held else []
        if action == "copy":
            ok = actor.id in held or actor.id == step.get("submitted_by")
            return [] if ok else [_problem("copy_who", lang)]
        if actor.id not in held:
            return [_problem("not_holder", lang)]
        if held[actor.id] != actor.id and action != "send_back":
            return [_problem("not_holder", lang)]          # a delegate works on it; the owner decides
        return []

    # -- deciding --------------------------------------------------------------------------------

    def fire(self, kind: str, collection: Any, workflow: Workflow, obj: Doc, actor: Actor, trigger: str,
             payload: Mapping[str, Any], lang: str, **event_extra: Any) -> Doc:
        spec = workflow.approval(obj["state"]) if kind == "record" else None
        decision = spec.decision_of(trigger) if spec else None
        if spec is None or decision is None:
            return super().fire(kind, collection, workflow, obj, actor, trigger, payload, lang, **event_extra)
        return self._vote(workflow, spec, obj, actor, trigger, decision, payload, lang)

    def approval_action(self, actor: Actor, record_id: str, action: str, payload: Mapping[str, Any],
                        lang: str) -> Doc:
        """One step action (`approve`, `reject`, `send_back`, `transfer`, `delegate`, `add_approver`,
        `withdraw`, `copy`, `urge`) by `actor` on the record's current step."""
        record = self._visible_record(actor, record_id, lang)
        workflow, spec = self._flow(record, lang)
        if action in approval.DECISIONS:
            trigger = spec.approve if action == "approve" else spec.reject
            if not trigger:
                raise NotFound(message(MESSAGES, "no_reject", lang), code="no_action")
            check_revision(record, payload, lang)
            if not payload.get("digest"):
                raise _invalid("digest", lang, "/digest")
            return self._vote(workflow, spec, record, actor, trigger, action, payload, lang)
        if action not in approval.ACTIONS or action not in spec.actions:
            raise NotFound(message(MESSAGES, "no_action", lang, action=action), code="no_action")
        check_revision(record, payload, lang)
        self._check_digest(record, payload, lang)
        env = Env(self, utcnow())
        step, fresh = self._step(workflow, spec, record, actor, env, lang)
        refused = self._refusals(spec, record, step, actor, action, lang)
        if refused:
            raise Forbidden(refused[0]["message"], code=refused[0]["code"])
        handler = getattr(self, f"_act_{action}")
        found: Doc = handler(workflow, spec, record, step, fresh, actor, payload, env, lang)
        return found

    def _flow(self, record: Doc, lang: str) -> tuple[Workflow, ApprovalSpec]:
        workflow = self.workflow(record["process"], record["workflows"].get(record["process"]))
        spec = workflow.approval(record["state"])
        if spec is None:
            raise Conflict(message(MESSAGES, "not_in_step", lang), code="not_in_step")
        return workflow, spec

    def _step(self, workflow: Workflow, spec: ApprovalSpec, record: Doc, actor: Actor, env: Env,
              lang: str) -> tuple[Doc, bool]:
        """The record's step (a copy to change), or a fresh one when the record entered the state before it
        was a step or by an older path; fresh steps are written whole."""
        found = self.current_step(record)
        if found is not None:
            return _copy(found), False
        started = self.entering(workflow, spec.state, record, actor, record["state"], env, lang)
        step = started[f"approval.{spec.state}"]
        step["submitted_by"] = None
        return step, True

    def _check_digest(self, record: Doc, payload: Mapping[str, Any], lang: str) -> str:
        """The digest of the data at this revision; a digest sent that differs is 409 (the opinion would be
        about other data)."""
        digest = approval.data_digest(record.get("data"))
        sent = payload.get("digest")
        if sent is not None and sent != digest:
            raise Conflict(message(MESSAGES, "stale_data", lang), code="stale_data")
        return digest

    def _vote(self, workflow: Workflow, spec: ApprovalSpec, obj: Doc, actor: Actor, trigger: str,
              decision: str, payload: Mapping[str, Any], lang: str) -> Doc:
        """A vote: one `$set` of the voter's slot; when the mode's condition is met the step's approve (or
        reject) transition fires in the same write. A delegate's vote is advice that goes back to the
        delegator, who decides."""
        check_revision(obj, payload, lang)
        digest = self._check_digest(obj, payload, lang)
        env = Env(self, utcnow())
        ctx = Context(obj, actor, payload, lang, env)
        step, fresh = self._step(workflow, spec, obj, actor, env, lang)
        held = approval.holders(spec, step)
        if actor.id not in held:
            problems = workflow.blockers(obj["state"], trigger, ctx)     # a role or a separated part says why
            if problems:
                return self._refuse(workflow, obj, actor, trigger, problems, env, lang)
            raise Forbidden(message(MESSAGES, "not_holder", lang), code="not_holder")
        problems = workflow.blockers(obj["state"], trigger, ctx, with_roles=False)
        opinion = payload.get("opinion")
        has_opinion = isinstance(opinion, str) and bool(opinion.strip())
        if spec.opinion_required and not has_opinion and not any(p["path"] == "/opinion" for p in problems):
            problems.append(_problem("opinion", lang, "/opinion"))
        if problems:
            return self._refuse(workflow, obj, actor, trigger, problems, env, lang)
        owner = held[actor.id]
        change = _Change(spec, step, fresh)
        vote = {"decision": decision, "opinion": opinion if has_opinion else None, "at": env.stamp,
                "revision": obj.get("revision", 0), "digest": digest, "name": actor.name or actor.username}
        details: Doc = {"step": spec.state, "decision": decision, "digest": digest}
        change.put("acted", True)
        if owner != actor.id:                                      # 委派: back to the delegator to decide
            task = dict((step.get("tasks") or {}).get(owner) or {}, state="pending", delegate=None,
                        advice=dict(vote, by=actor.id))
            change.put(f"tasks.{owner}", task)
            details["advice_for"] = owner
        else:
            change.put(f"votes.{actor.id}", vote)
        changes: Doc = dict(change.changes, updated_at=env.stamp)
        t = workflow.transition(obj["state"], trigger)
        if t is not None and t.duty:
            changes["duties"] = _with_duty(obj, t.duty, actor.id)
        result = approval.outcome(spec, step) if owner == actor.id else None
        if result is not None:
            final_trigger = spec.approve if result == "approve" else spec.reject
            if final_trigger:
                moved = {**obj, **{k: v for k, v in changes.items() if "." not in k}}
                move_ctx = Context(moved, actor, payload, lang, env)
                notify = {"kind": "decided", "to": self._told(obj, step)}
                details["outcome"] = result
                plan, move, event = self.planned("record", workflow, moved, move_ctx, final_trigger,
                                                 with_roles=False, details=details, notify=notify)
                if not plan.final and event.get("notify") == notify:
                    del event["notify"]          # on to another step or level: nothing is decided yet
                changes.update(move)
                event["trigger"] = trigger
                return self.commit_move(self.store.records, obj, changes, event, move_ctx)
        event = self._event("record", actor, trigger, obj["process"], obj["state"], obj["state"], opinion,
                            at=env.stamp, details=details)
        return self.commit_move(self.store.records, obj, changes, event, ctx)

    def _refuse(self, workflow: Workflow, obj: Doc, actor: Actor, trigger: str, problems: list[Doc],
                env: Env, lang: str) -> Doc:
        t = workflow.transition(obj["state"], trigger)
        title = text(t.title, lang) if t else trigger
        exc = Invalid(message(MESSAGES, "blocked", lang, trigger=title, count=len(problems)),
                      code="guard_failed", details=problems)
        self._keep_refusal("record", obj, actor, trigger, workflow.key, exc, env.stamp)
        raise exc

    @staticmethod
    def _told(obj: Mapping[str, Any], step: Mapping[str, Any]) -> list[str]:
        """Who hears of a decision or a return: whoever submitted the step and the record's creator."""
        return [p for p in dict.fromkeys([step.get("submitted_by"), obj.get("created_by")]) if p]

    # -- the other actions -----------------------------------------------------------------------

    def _send_back_choices(self, record: Doc, spec: ApprovalSpec) -> list[str]:
        """The states of this process the record has passed (its history), and `applicant` when the step
        names where the applicant's clerk picks it up."""
        passed: list[str] = []
        for event in self.store.history(record["_id"], record.get("outbox")):
            if event.get("process") == record["process"] and event.get("outcome") == "done":
                passed.extend(s for s in (event.get("source"), event.get("dest")) if s)
        choices = [s for s in dict.fromkeys(passed) if s != record["state"]]
        return choices + ([APPLICANT] if spec.applicant else [])

    def _act_send_back(self, workflow: Workflow, spec: ApprovalSpec, record: Doc, step: Doc, fresh: bool,
                       actor: Actor, payload: Mapping[str, Any], env: Env, lang: str) -> Doc:
        """退回: to a state this record has passed in this process, or to the applicant's clerk, with the
        reason; the step ends (a later return starts it afresh)."""
        opinion = payload.get("opinion") or payload.get("reason")
        if not (isinstance(opinion, str) and opinion.strip()):
            raise _invalid("opinion", lang, "/opinion")
        choices = self._send_back_choices(record, spec)
        to = payload.get("to")
        if to not in choices:
            raise _invalid("to", lang, "/to", choices=", ".join(choices))
        changes: Doc = {"state_since": env.stamp, "updated_at": env.stamp}
        process, flow = record["process"], workflow
        if to == APPLICANT and spec.applicant:
            process = spec.applicant["process"]
            flow = self.workflow(process, record["workflows"].get(process))
            to = spec.applicant["state"]
            changes.update(process=process)
        changes["state"] = to
        if flow.approval(to):
            changes.update(self.entering(flow, to, {**record, **changes}, actor, record["state"], env, lang))
        t = workflow.transition(record["state"], spec.approve)
        if t is not None and t.duty:
            changes["duties"] = _with_duty(record, t.duty, actor.id)
        event = self._event("record", actor, "send_back", record["process"], record["state"], to, opinion,
                            at=env.stamp, details={"step": spec.state, "to_process": process},
                            notify={"kind": "returned", "to": self._told(record, step)})
        return self.commit_move(self.store.records, record, changes, event,
                                Context(record, actor, payload, lang, env))

    def _target(self, spec: ApprovalSpec, workflow: Workflow, record: Doc, step: Doc, actor: Actor,
                who: Any, lang: str, path: str) -> str:
        """A person a task may go to: exists, active, not the caller, not already an approver here, and not
        separated from the step's part (people, not roles)."""
        user = self.store.user(who) if approval.usable_id(who) else None
        if not user or not user.get("active", True):
            raise _invalid("user", lang, path)
        if who == actor.id:
            raise _invalid("self", lang, path)
        if who in (step.get("order") or []):
            raise Conflict(message(MESSAGES, "already", lang), code="already_approver")
        problems = self.separation(workflow, spec, record, who, lang)
        if problems:
            raise Invalid(problems[0]["message"], code="guard_failed",
                          details=[dict(p, path=path) for p in problems])
        return str(who)

    def _plain(self, record: Doc, change: _Change, actor: Actor, action: str, payload: Mapping[str, Any],
               env: Env, lang: str, **event_extra: Any) -> Doc:
        """Commit a step change that moves nothing: one event, the record in the same state."""
        changes = dict(change.changes, updated_at=env.stamp)
        event = self._event("record", actor, action, record["process"], record["state"], record["state"],
                            payload.get("opinion"), at=env.stamp, **event_extra)
        return self.commit_move(self.store.records, record, changes, event,
                                Context(record, actor, payload, lang, env))

    def _act_transfer(self, workflow: Workflow, spec: ApprovalSpec, record: Doc, step: Doc, fresh: bool,
                      actor: Actor, payload: Mapping[str, Any], env: Env, lang: str) -> Doc:
        """转办: someone else owns the task now (in the same place of the order); the caller's is closed."""
        who = self._target(spec, workflow, record, step, actor, payload.get("to"), lang, "/to")
        change = _Change(spec, step, fresh)
        tasks = step.get("tasks") or {}
        mine = dict(tasks.get(actor.id) or {})
        change.put("order", [who if uid == actor.id else uid for uid in step.get("order") or []])
        change.put(f"tasks.{actor.id}", dict(mine, state="transferred", to=who))
        change.put(f"tasks.{who}", {"state": "pending", "from": actor.id, "waits_for": mine.get("waits_for")})
        for uid, task in tasks.items():                  # whoever waited for the caller now waits for `who`
            if isinstance(task, Mapping) and task.get("waits_for") == actor.id:
                change.put(f"tasks.{uid}", dict(task, waits_for=who))
        change.put("acted", True)
        return self._plain(record, change, actor, "transfer", payload, env, lang,
                           details={"step": spec.state, "from": actor.id, "to": who})

    def _act_delegate(self, workflow: Workflow, spec: ApprovalSpec, record: Doc, step: Doc, fresh: bool,
                      actor: Actor, payload: Mapping[str, Any], env: Env, lang: str) -> Doc:
        """委派: someone else works on the task; their decision comes back to the caller as advice."""
        who = self._target(spec, workflow, record, step, actor, payload.get("to"), lang, "/to")
        change = _Change(spec, step, fresh)
        mine = dict((step.get("tasks") or {}).get(actor.id) or {})
        change.put(f"tasks.{actor.id}", dict(mine, state="delegated", delegate=who))
        change.put("acted", True)
        return self._plain(record, change, actor, "delegate", payload, env, lang,
                           details={"step": spec.state, "to": who}, notify={"kind": "delegated", "to": [who]})

    def _act_add_approver(self, workflow: Workflow, spec: ApprovalSpec, record: Doc, step: Doc, fresh: bool,
                          actor: Actor, payload: Mapping[str, Any], env: Env, lang: str) -> Doc:
        """加签: another approver before the caller (who then waits for them) or after."""
        position = payload.get("position")
        if position not in ("before", "after"):
            raise _invalid("position", lang, "/position")
        who = self._target(spec, workflow, record, step, actor, payload.get("to"), lang, "/to")
        change = _Change(spec, step, fresh)
        order = list(step.get("order") or [])
        at = order.index(actor.id) + (0 if position == "before" else 1)
        order.insert(at, who)
        change.put("order", order)
        change.put(f"tasks.{who}", {"state": "pending", "added_by": actor.id, "position": position})
        if position == "before":
            mine = dict((step.get("tasks") or {}).get(actor.id) or {})
            change.put(f"tasks.{actor.id}", dict(mine, waits_for=who))
        change.put("acted", True)
        return self._plain(record, change, actor, "add_approver", payload, env, lang,
                           details={"step": spec.state, "who": who, "position": position})

    def _act_withdraw(self, workflow: Workflow, spec: ApprovalSpec, record: Doc, step: Doc, fresh: bool,
                      actor: Actor, payload: Mapping[str, Any], env: Env, lang: str) -> Doc:
        """撤回: the submitter takes it back to where it came from while nobody has acted."""
        to = step.get("from")
        if not to or to not in workflow.states:
            raise Conflict(message(MESSAGES, "acted", lang), code="acted")
        changes: Doc = {"state": to, "state_since": env.stamp, "updated_at": env.stamp,
                        f"approval.{spec.state}.withdrawn_at": env.stamp}
        if fresh:
            changes = {k: v for k, v in changes.items() if not k.startswith("approval.")}
        changes.update(self.entering(workflow, to, {**record, **changes}, actor, record["state"], env, lang))
        event = self._event("record", actor, "withdraw", record["process"], record["state"], to,
                            payload.get("opinion"), at=env.stamp, details={"step": spec.state})
        return self.commit_move(self.store.records, record, changes, event,
                                Context(record, actor, payload, lang, env))

    def _act_copy(self, workflow: Workflow, spec: ApprovalSpec, record: Doc, step: Doc, fresh: bool,
                  actor: Actor, payload: Mapping[str, Any], env: Env, lang: str) -> Doc:
        """抄送: the people named may read the record (their reading is recorded when they open it)."""
        users = payload.get("users")
        if not users or not isinstance(users, list):
            raise _invalid("users", lang, "/users")
        change = _Change(spec, step, fresh)
        told = []
        for i, who in enumerate(dict.fromkeys(users)):
            user = self.store.user(who) if approval.usable_id(who) else None
            if not user or not user.get("active", True):
                raise _invalid("user", lang, f"/users/{i}")
            change.put(f"copies.{who}", {"by": actor.id, "at": env.stamp})
            told.append(who)
        return self._plain(record, change, actor, "copy", payload, env, lang,
                           details={"step": spec.state, "to": told}, notify={"kind": "copied", "to": told})

    def _act_urge(self, workflow: Workflow, spec: ApprovalSpec, record: Doc, step: Doc, fresh: bool,
                  actor: Actor, payload: Mapping[str, Any], env: Env, lang: str) -> Doc:
        """催办: a notification to whoever holds the step now, at most once per `urge_interval_minutes`."""
        last = step.get("urged_at")
        if last:
            ready = dt.datetime.fromisoformat(last) + dt.timedelta(minutes=spec.urge_minutes)
            if env.now < ready:
                raise RateLimited(message(MESSAGES, "urged", lang, at=last, minutes=spec.urge_minutes,
                                          next=ready.astimezone(self.tz).isoformat(timespec="minutes")),
                                  code="urged_recently")
        held = sorted(approval.holders(spec, step))
        change = _Change(spec, step, fresh)
        change.put("urged_at", env.stamp)
        return self._plain(record, change, actor, "urge", payload, env, lang,
                           details={"step": spec.state, "to": held}, notify={"kind": "urged", "to": held})


def _copy(step: Mapping[str, Any]) -> Doc:
    out: Doc = {}
    for key, value in step.items():
        out[key] = _copy(value) if isinstance(value, Mapping) else (list(value) if isinstance(value, list)
                                                                    else value)
    return out


def _with_duty(obj: Mapping[str, Any], duty: str, person: str) -> dict[str, list[str]]:
    """The object's duties with `person` playing `duty` (the whole map, as `fill_duty` sets it)."""
    recorded = obj.get("duties")
    duties: dict[str, list[str]] = {}
    if isinstance(recorded, Mapping):
        duties = {k: list(v) for k, v in recorded.items() if isinstance(v, list)}
    people = duties.setdefault(duty, [])
    if person not in people:
        people.append(person)
    return duties
