"""Fire a trigger on any workflow object (a record, a form version): plan, actions, one compare-and-set."""
from __future__ import annotations

from typing import Any, Mapping

from counterflow.core import approval, rules
from counterflow.core.clock import utcnow
from counterflow.core.engine import Actor, Context, Plan, Workflow
from counterflow.core.errors import CounterflowError, Invalid
from counterflow.core.i18n import message, text
from counterflow.core.registry import ACTIONS
from counterflow.service.base import Doc, ServiceBase
from counterflow.service.clocks import transition_changes
from counterflow.service.env import Env
from counterflow.service.messages import check_revision, new_id

# fields an action sets that the history keeps too (what the applicant was told, the number given)
KEPT_IN_HISTORY = ("notice", "acceptance_number", "legal_hold", "legal_hold_released")
MESSAGES = {
    "no_approver": {"zh-CN": "「{state}」没有可以审批的人（审批人不存在、已停用或与本环节职责分离）",
                    "en": "Nobody can decide '{state}' (the approvers named do not exist, are inactive "
                          "or are kept apart from this step)"},
}


class Transitions(ServiceBase):
    """The one way any object changes state; the caller has already checked it may see the object."""

    def fire(self, kind: str, collection: Any, workflow: Workflow, obj: Doc, actor: Actor, trigger: str,
             payload: Mapping[str, Any], lang: str, **event_extra: Any) -> Doc:
        """Move `obj` by `trigger` or raise with every reason it cannot; a refusal stays in the history.

        An object that lists its `processes` moves on to the next one when a process ends
        without ending the object. Side effects an action prepared (an acceptance number)
        are given back when the commit loses a race. `event_extra`: fields the caller adds to the history
        event (an A/B post's `on_behalf_of`, service/backups.py), as `planned` takes them.
        """
        check_revision(obj, payload, lang)
        now = utcnow()
        env = Env(self, now)                  # formats `now` once: every stamp below is env.stamp
        ctx = Context(obj, actor, payload, lang, env)
        plan, changes, event = self.planned(kind, workflow, obj, ctx, trigger, **event_extra)
        return self.commit_move(collection, obj, changes, event, ctx)

    def planned(self, kind: str, workflow: Workflow, obj: Doc, ctx: Context, trigger: str, *,
                with_roles: bool = True, **event_extra: Any) -> tuple[Plan, Doc, Doc]:
        """The plan of `trigger`, the fields it sets and its history event (nothing written but a refusal).

        A record entering an approval step gets the step's tasks in the same write
        (`approval.<state>`, see core/approval.py)."""
        env, actor, lang, payload = ctx.env, ctx.actor, ctx.lang, ctx.payload
        assert isinstance(env, Env)
        try:
            plan = workflow.plan(obj["state"], trigger, ctx, with_roles=with_roles)
            changes: Doc = {"state": plan.dest, "state_since": env.stamp, "updated_at": env.stamp}
            for name in plan.actions:
                changes.update(ACTIONS[name](ctx))
            if kind == "record":
                changes = self.sealed_notice(obj, changes)
            if workflow.is_in_use(plan.dest) and obj.get("settings", {}).get("processes"):
                changes["workflows"] = self.pinned_workflows(obj["settings"]["processes"], lang)
            to_process = None
            if plan.final and not plan.ends_record and obj.get("processes"):
                following = obj["processes"][obj["processes"].index(obj["process"]) + 1:]
                if following:
                    to_process = following[0]
                    changes.update(process=to_process,
                                   state=self.workflow(to_process, obj["workflows"].get(to_process)).initial)
            if kind == "record":
                process = to_process or obj["process"]
                flow = workflow if to_process is None else self.workflow(process,
                                                                         obj["workflows"].get(process))
                source = plan.source if to_process is None else ""     # withdraw stays within a process
                entered = self.entering(flow, changes["state"], {**obj, **changes}, actor, source, env, lang)
                holder = (event_extra.get("on_behalf_of") or {}).get("id")
                for step in entered.values() if holder else ():
                    step["submitted_by"] = holder      # a backup sends it in the holder's name: theirs
                changes.update(entered)
                changes.update(transition_changes(self, obj, changes, plan.shows, ctx, env.now))   # clocks
        except Invalid as exc:
            self._keep_refusal(kind, obj, actor, trigger, workflow.key, exc, env.stamp)
            raise
        details = {k: changes[k] for k in KEPT_IN_HISTORY if k in changes}
        details.update(event_extra.pop("details", {}))
        extra: Doc = {"to_process": to_process, "details": details} if kind == "record" else {}
        # the transition's `notifies` flag (service/notify.py, which builds on this module: imported here)
        from counterflow.service.notify import notify_fields, superiors_of
        extra.update(notify_fields(workflow, plan, obj, changes, actor,
                                   superiors=lambda: superiors_of(self, obj, actor.id)))
        for key, value in event_extra.items():           # an approval step's own `notify`, unless flagged
            extra.setdefault(key, value)
        event = self._event(kind, actor, trigger, plan.process, plan.source, plan.dest,
                            payload.get("opinion"), at=env.stamp, **extra)
        event = self.sealed_history(kind, obj, event)        # a record's change values: under its own key
        return plan, changes, event

    def commit_move(self, collection: Any, obj: Doc, changes: Doc, event: Doc, ctx: Context) -> Doc:
        """One compare-and-set write of `changes` and `event`; an acceptance number prepared is given back
        when it loses. Fields set by dotted path (`approval.<state>.votes.<user>`) come back nested."""
        try:
            updated = self.store.commit(collection, obj, changes, event)
        except CounterflowError:
            if "number" in ctx.notes:
                self.store.return_number(*ctx.notes["number"])
            raise
        return nested(updated)

    def entering(self, workflow: Workflow, state: str, obj: Doc, actor: Actor, source: str, env: Env,
                 lang: str) -> Doc:
        """The fields a record gets on entering `state`: a fresh approval step when it is one (tasks for
        every approver, resolved now and collapsed), else nothing. No approver at all is refused (422):
        a step nobody can decide would hold the record for ever."""
        spec = workflow.approval(state)
        if spec is None:
            return {}
        order = self.resolve_approvers(workflow, spec, obj, lang)
        if not order:
            text_ = message(MESSAGES, "no_approver", lang, state=workflow.state_title(state, lang))
            raise Invalid(text_, code="no_approver", details=[{"path": "", "code": "no_approver",
                                                               "message": text_}])
        return {f"approval.{state}": approval.new_step(workflow.key, state, order, env.stamp, actor.id,
                                                       source)}

    def resolve_approvers(self, workflow: Workflow, spec: approval.ApprovalSpec, obj: Doc,
                          lang: str) -> list[str]:
        """The people a step names, in the listed order, each once, active, and not separated from the step's
        part (a person who may never decide it is no task of it: see `separation`)."""
        people: list[Doc] = []
        everyone: list[Doc] | None = None
        for entry in spec.approvers:
            if "users" in entry:
                people.extend(u for u in (self.store.user_by_name(n) for n in entry["users"]) if u)
                continue
            if everyone is None:
                everyone = sorted(self.store.list_users(), key=lambda u: (u.get("username", ""), u["_id"]))
            if entry.get("department_head"):
                people.extend(u for u in everyone if "dept_head" in u.get("roles", [])
                              and u.get("department") == obj.get("department"))
            elif "role" in entry:
                department = entry.get("department")
                if department == "record":
                    department = obj.get("department")
                people.extend(u for u in everyone if entry["role"] in u.get("roles", [])
                              and (department is None or u.get("department") == department))
        ids = [u["_id"] for u in people if u.get("active", True) and approval.usable_id(u["_id"])]
        return [uid for uid in dict.fromkeys(ids) if not self.separation(workflow, spec, obj, uid, lang)]

    def separation(self, workflow: Workflow, spec: approval.ApprovalSpec, obj: Doc, person: str,
                   lang: str) -> list[Doc]:
        """Why `person` may never decide this step: the parts the step's transitions keep apart."""
        ctx = Context(obj, Actor(person, person), {}, lang)
        problems: list[Doc] = []
        for trigger in filter(None, (spec.approve, spec.reject)):
            t = workflow.transition(spec.state, trigger)
            if t is not None:
                problems.extend(rules.separation_problems(ctx, person, t.separate_from, duty=t.duty,
                                                          trigger_title=text(t.title, lang)))
        return problems

    def pinned_workflows(self, processes: list[str], lang: str) -> dict[str, int]:
        """The version of each named process that a definition put in use runs from now on: the latest
        approved one (its records keep these for good); a process with none stops the publication."""
        self.load_workflows()               # approved on another host a moment ago: seen here too
        missing = [p for p in processes if p not in self._latest_workflow]
        if missing:
            words = {"zh-CN": "流程「{p}」没有已审批的版本", "en": "Process '{p}' has no approved version"}
            details = [{"path": f"/settings/processes/{processes.index(p)}", "code": "unknown_process",
                        "message": words.get(lang, words["en"]).format(p=p)} for p in missing]
            raise Invalid(details[0]["message"], code="unknown_process", details=details)
        return {p: self._latest_workflow[p] for p in processes}

    def options_on(self, workflow: Workflow, obj: Doc, actor: Actor, lang: str) -> list[Doc]:
        """The triggers from the object's state, each with whether `actor` may fire it and why not."""
        return workflow.options(obj["state"], Context(obj, actor, {}, lang, Env(self, utcnow())))

    def _keep_refusal(self, kind: str, obj: Doc, actor: Actor, trigger: str, process: str, exc: Invalid,
                      at: str) -> None:
        """A failed check stays in the history: who tried what, and every reason it was refused."""
        event = self._event(kind, actor, trigger, process, obj["state"], obj["state"], at=at,
                            outcome="refused", details={"problems": exc.details})
        event.update(_id=f"{obj['_id']}:{obj.get('revision', 0)}:refused:{new_id()}", object_id=obj["_id"],
                     revision=obj.get("revision", 0))
        self.store.add_event(event)


def nested(doc: Doc) -> Doc:
    """`doc` with its dotted keys (`a.b.c`, as a `$set` names them) put in place: {"a": {"b": {"c": ...}}}."""
    dotted = [k for k in doc if "." in k]
    if not dotted:
        return doc
    out = dict(doc)
    for key in dotted:
        value = out.pop(key)
        head, *rest = key.split(".")
        node = out[head] = dict(out.get(head) or {})
        for part in rest[:-1]:
            node[part] = dict(node.get(part) or {})
            node = node[part]
        node[rest[-1]] = value
    return out
