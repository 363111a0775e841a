"""Fire a trigger on any workflow object (a record, a form version): plan, actions, one compare-and-set."""
from __future__ import annotations

from typing import Any, Mapping

from counterflow.core.clock import utcnow
from counterflow.core.engine import Actor, Context, Workflow
from counterflow.core.errors import CounterflowError, Invalid
from counterflow.core.registry import ACTIONS
from counterflow.service.base import Doc, ServiceBase
from counterflow.service.env import Env
from counterflow.service.messages import check_revision, new_id

# fields an action sets that the history keeps too (what the applicant was told, the number given)
KEPT_IN_HISTORY = ("notice", "acceptance_number", "legal_hold", "legal_hold_released")


class Transitions(ServiceBase):
    """The one way any object changes state; the caller has already checked it may see the object."""

    def fire(self, kind: str, collection: Any, workflow: Workflow, obj: Doc, actor: Actor, trigger: str,
             payload: Mapping[str, Any], lang: str) -> Doc:
        """Move `obj` by `trigger` or raise with every reason it cannot; a refusal stays in the history.

        An object that lists its `processes` moves on to the next one when a process ends
        without ending the object. Side effects an action prepared (an acceptance number)
        are given back when the commit loses a race.
        """
        check_revision(obj, payload, lang)
        now = utcnow()
        env = Env(self, now)                  # formats `now` once: every stamp below is env.stamp
        ctx = Context(obj, actor, payload, lang, env)
        try:
            plan = workflow.plan(obj["state"], trigger, ctx)
            changes: Doc = {"state": plan.dest, "state_since": env.stamp, "updated_at": env.stamp}
            for name in plan.actions:
                changes.update(ACTIONS[name](ctx))
            if workflow.is_in_use(plan.dest) and obj.get("settings", {}).get("processes"):
                changes["workflows"] = self.pinned_workflows(obj["settings"]["processes"], lang)
        except Invalid as exc:
            self._keep_refusal(kind, obj, actor, trigger, workflow.key, exc, env.stamp)
            raise
        to_process = None
        if plan.final and not plan.ends_record and obj.get("processes"):
            following = obj["processes"][obj["processes"].index(obj["process"]) + 1:]
            if following:
                to_process = following[0]
                changes.update(process=to_process,
                               state=self.workflow(to_process, obj["workflows"].get(to_process)).initial)
        details = {k: changes[k] for k in KEPT_IN_HISTORY if k in changes}
        extra: Doc = {"to_process": to_process, "details": details} if kind == "record" else {}
        # the transition's `notifies` flag (service/notify.py, which builds on this module: imported here)
        from counterflow.service.notify import notify_fields
        extra.update(notify_fields(workflow, plan, obj, changes, actor))
        event = self._event(kind, actor, trigger, plan.process, plan.source, plan.dest,
                            payload.get("opinion"), at=env.stamp, **extra)
        try:
            return self.store.commit(collection, obj, changes, event)
        except CounterflowError:
            if "number" in ctx.notes:
                self.store.return_number(*ctx.notes["number"])
            raise

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
