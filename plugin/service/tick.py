"""`tick`: the periodic work on clocks, safe to run from many hosts at once.

For every record whose `tick_at` has come (one indexed range, read through a cursor in batches), the
host takes the record's lease (one compare-and-set), settles its clock and does what is owed, each as one
compare-and-set commit with its history event: a reminder before the deadline (`notify: due_soon`), the
overdue mark (`notify: overdue`), one escalation to the department head (`notify: escalated`), and the
state's `timeout` action (remind, escalate, or firing its trigger: approve, reject, send back, or a delayed
transition), labelled as automatic (actor kind `system`, never a person). Then it gives the lease back. A
host that loses a lease or a commit skips the record: another host did the work, so nothing is done twice.
"""
from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from counterflow.core import approval
from counterflow.core.clock import stamp, utcnow
from counterflow.core.engine import Actor, Context, Plan
from counterflow.core.errors import CounterflowError
from counterflow.core.registry import ACTIONS
from counterflow.service.base import Doc
from counterflow.service.clocks import SYSTEM_ACTOR, ClockActions, transition_changes
from counterflow.service.env import Env
from counterflow.service.transitions import Transitions
from counterflow.store import tick as tick_store

log = logging.getLogger(__name__)
ESCALATED = "escalated"         # the notify kind agreed with service/notify.py
SYSTEM = Actor(id=SYSTEM_ACTOR["id"], username=SYSTEM_ACTOR["username"], name=SYSTEM_ACTOR["name"])


@dataclass
class TickReport:
    looked: int = 0                     # records whose tick_at had come
    claimed: int = 0                    # ... of which this host took the lease
    events: dict[str, int] = field(default_factory=dict)
    heads: dict[str, list[str]] = field(default_factory=dict, repr=False)   # department -> its heads

    def count(self, kind: str) -> None:
        self.events[kind] = self.events.get(kind, 0) + 1

    def summary(self) -> str:
        done = ", ".join(f"{k} {v}" for k, v in sorted(self.events.items())) or "nothing owed"
        return f"looked at {self.looked} record(s), took {self.claimed}: {done}"


class TickActions(ClockActions):
    """Deadlines, reminders, escalations and timeouts."""

    def tick(self, now: dt.datetime | None = None,
             progress: Callable[[str], None] | None = None) -> TickReport:
        now = now or utcnow()
        today = now.astimezone(self.tz).date().isoformat()
        lease_seconds = self.settings.tick_lease_seconds
        # "until <stamp>|host|...": never text that begins with a date (the embedded store matches none)
        until = stamp(now + dt.timedelta(seconds=lease_seconds))
        lease = f"until {until}|{socket.gethostname()}|{id(self)}|{threading.get_ident()}"
        report = TickReport()
        self.work_calendar()
        batch = self.settings.tick_batch
        for seen in tick_store.due_for_tick(self.store, today, batch):
            report.looked += 1
            held = seen.get("tick_lease")
            if held and _lease_until(str(held)) > stamp(now):     # another host holds it, not run out
                continue
            record = tick_store.claim(self.store, seen["_id"], held, lease)
            if record is None:
                continue
            report.claimed += 1
            try:
                self._tick_record(record, now, lease, report)
            except CounterflowError as exc:             # a lost race: the other writer's change stands
                log.info("tick: record %s skipped (%s)", seen["_id"], exc.code)
                tick_store.release(self.store, seen["_id"], lease, {})
            if progress and report.looked % batch == 0:
                progress(report.summary())
        if progress:
            progress(report.summary())
        return report

    def _tick_record(self, record: Doc, now: dt.datetime, lease: str, report: TickReport) -> None:
        workflow = self.workflow(record["process"], (record.get("workflows") or {}).get(record["process"]))
        state = workflow.states.get(record["state"], {})
        timeout = state.get("timeout")
        today = now.astimezone(self.tz).date().isoformat()
        fields = self.clock_of(record, record["process"], record["state"], now, entered=False,
                               accepted=bool(record.get("accepted_at")))
        clock = fields["clock"]
        state_due, due_at = clock.get("state_due"), fields["due_at"]
        if timeout and state_due and today > state_due and not clock.get("timeout_done"):
            action = timeout.get("action")
            if timeout.get("trigger"):           # approve, reject, send back, or a delayed transition
                clock["timeout_done"] = True
                record = self._fire_automatic(record, workflow, str(timeout["trigger"]), str(action), now)
                report.count(f"timeout_{action}")
                tick_store.release(self.store, record["_id"], lease, {})
                return
            clock["timeout_done"] = True
        holders = _holders(record, workflow)
        if fields["overdue"] and due_at:
            if clock.get("overdue_told") != due_at:
                clock["overdue_told"] = due_at
                record = self._announce(record, fields, "overdue", holders, now)
                report.count("overdue")
            if clock.get("escalated_for") != due_at:
                clock["escalated_for"] = due_at
                heads = self._department_heads(record.get("department") or "", report.heads)
                record = self._announce(record, dict(fields, escalated_to=heads), ESCALATED, heads, now,
                                        trigger="escalation")
                report.count("escalation")
            elif timeout and timeout.get("action") == "remind" and clock.get("reminded_on") != today:
                clock["reminded_on"] = today
                record = self._announce(record, fields, "overdue", holders, now, trigger="remind")
                report.count("remind")
        elif fields["due_soon"] and due_at and clock.get("reminded") != due_at:
            clock["reminded"] = due_at
            record = self._announce(record, fields, "due_soon", holders, now)
            report.count("due_soon")
        fields["tick_at"] = self._next_look(fields, timeout, now)
        tick_store.release(self.store, record["_id"], lease, fields)

    def _next_look(self, fields: Doc, timeout: Mapping[str, Any] | None, now: dt.datetime) -> str | None:
        from counterflow.service.clocks import Clock
        clock = Clock(self.work_calendar(), now.astimezone(self.tz).date(), self.settings.due_soon_days)
        return clock.next_look(fields, timeout)

    def _announce(self, record: Doc, fields: Doc, kind: str, to: list[str], now: dt.datetime,
                  trigger: str | None = None) -> Doc:
        """One history event that asks the notifications to tell `to` (`notify`), with the clock fields."""
        event = self._event("record", SYSTEM, trigger or kind, record["process"], record["state"],
                            record["state"], now=now,
                            notify={"kind": kind, "to": to, "due_at": fields["due_at"]},
                            automatic={"by": "tick", "reason": kind})
        event["actor"] = dict(SYSTEM_ACTOR)
        changes = {k: v for k, v in fields.items() if k != "tick_at"}
        return self.store.commit(self.store.records, record, changes, event)

    def _fire_automatic(self, record: Doc, workflow: Any, trigger: str, action: str, now: dt.datetime) -> Doc:
        """The state's timeout trigger, fired by the system: the definition's actions run (a number, a
        notice), roles and guards do not (nobody is acting), no duty is filled (separation of duties counts
        people)."""
        t = workflow.transition(record["state"], trigger)
        if t is None:
            log.error("tick: %s/%s names the timeout trigger %r, which does not leave that state",
                      workflow.key, record["state"], trigger)
            return record
        env = Env(self, now)
        opened = self.opened(record)
        ctx = Context(opened, SYSTEM, {}, "zh-CN", env, trigger=trigger, dest=t.dest, transition=t)
        changes: Doc = {"state": t.dest, "state_since": env.stamp, "updated_at": env.stamp}
        for name in t.actions:
            changes.update(ACTIONS[name](ctx))
        changes = self.sealed_notice(record, changes)
        to_process = None
        dest = workflow.states.get(t.dest, {})
        if dest.get("final") and not dest.get("ends_record") and record.get("processes"):
            following = record["processes"][record["processes"].index(record["process"]) + 1:]
            if following:
                to_process = following[0]
                changes.update(process=to_process,
                               state=self.workflow(to_process, record["workflows"].get(to_process)).initial)
        if isinstance(self, Transitions):      # entering an approval step: its tasks, as a person's move does
            flow = workflow if to_process is None else self.workflow(to_process,
                                                                     record["workflows"].get(to_process))
            entered = self.entering(flow, changes["state"], {**record, **changes}, SYSTEM,
                                    "" if to_process else record["state"], env, "zh-CN")
            for step in entered.values():
                step["submitted_by"] = None    # nobody submitted it, so nobody withdraws it
            changes.update(entered)
        changes.update(transition_changes(self, record, changes, t.shows, ctx, now))
        changes["tick_lease"] = None
        details = {k: changes[k] for k in ("notice", "acceptance_number") if k in changes}
        # whoever the transition `notifies` is told, as when a person fires it (the applicant of an
        # application deemed accepted too)
        from counterflow.service.notify import notify_fields
        plan = Plan(trigger, workflow.key, record["state"], t.dest, bool(dest.get("final")),
                    bool(dest.get("ends_record")), tuple(t.actions), t.shows)
        told = notify_fields(workflow, plan, record, changes, SYSTEM)
        event = self._event("record", SYSTEM, trigger, workflow.key, record["state"], t.dest, now=now,
                            at=env.stamp, to_process=to_process, details=details,
                            automatic={"by": "tick", "reason": "timeout", "action": action}, **told)
        event["actor"] = dict(SYSTEM_ACTOR)
        try:
            return self.store.commit(self.store.records, record, changes, event)
        except CounterflowError:
            if "number" in ctx.notes:
                self.store.return_number(*ctx.notes["number"])
            raise

    def _department_heads(self, department: str, known: dict[str, list[str]]) -> list[str]:
        """The active department heads (read once per department and tick run)."""
        if not department:
            return []
        if department not in known:
            known[department] = sorted(
                u["_id"] for u in tick_store.department_users(self.store, department)
                if "dept_head" in (u.get("roles") or []) and u.get("active", True))
        return known[department]


def _lease_until(lease: str) -> str:
    return lease.removeprefix("until ").split("|", 1)[0]


def _holders(record: Mapping[str, Any], workflow: Any = None) -> list[str]:
    """Who holds the work now: in an approval step, whoever may act on it (approvers, delegates); else the
    assignee, else the first responder (who owns it until handed on)."""
    spec = workflow.approval(record.get("state")) if workflow is not None else None
    step = (record.get("approval") or {}).get(record.get("state")) if spec is not None else None
    if spec is not None and isinstance(step, Mapping) and step.get("process") == record.get("process"):
        held = sorted(approval.holders(spec, step))
        if held:
            return held
    for key in ("assignee", "first_responder", "created_by"):
        if record.get(key):
            return [str(record[key])]
    return []


class Ticker:
    """`serve`'s background tick: every `every` seconds, until stopped; a failure is logged, never fatal."""

    def __init__(self, service: Any, every: float) -> None:
        self.service, self.every = service, every
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="counterflow-tick", daemon=True)

    def start(self) -> "Ticker":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.service.sweep_outboxes()
                report = self.service.tick()
                if report.claimed:
                    log.info("tick: %s", report.summary())
                self.service.pump_notifications()       # tell what happened (service/notify.py)
            except Exception:                           # the next minute tries again
                log.exception("tick failed")
