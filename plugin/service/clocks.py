"""Clocks on working days: a state's `deadline`, the form's overall time limit (承诺时限), pauses, extensions,
the admins' calendar overrides, and the printable vouchers a transition's `shows` flag asks for.

A record keeps its clock in `clock` (how many working days were used and paused, the segment in progress, what
was already announced) and shows it as `due_at` (ISO date: the last working day allowed, absent while the
clock does not run), `due_soon`, `overdue`, `days_used`, `days_paused`. `tick_at` is the day `tick` must look
at the record again (indexed; absent when nothing is pending). They are computed at every transition (the hook
`transition_changes`) and by `tick`.
"""
from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any, Mapping

from counterflow.core.calendar import WorkCalendar, YearOverride, override_from_lists
from counterflow.core.complaints import by_field_days
from counterflow.core.engine import Actor
from counterflow.core.errors import Conflict, Forbidden, Invalid
from counterflow.core.i18n import message
from counterflow.service.base import Doc, ServiceBase, _overrides
from counterflow.service.messages import check_revision
from counterflow.store import tick as tick_store

if TYPE_CHECKING:
    from counterflow.core.engine import Context, Workflow

CALENDAR_TTL_SECONDS = 30.0          # a year changed on another host is used here at most this much later
SUPERIORS = frozenset({"dept_head", "manager"})
VOUCHER_CODES = {"receipt": "SL", "notice": "BZ", "decision": "BY"}
SYSTEM_ACTOR = {"kind": "system", "id": "system", "username": "system",
                "name": "系统自动 / automatic"}

MESSAGES = {
    "calendar_year": {"zh-CN": "年份须在 2000 至 2100 之间", "en": "The year must be between 2000 and 2100"},
    "calendar_days": {"zh-CN": "日期有误：{problem}", "en": "Wrong dates: {problem}"},
    "no_clock": {"zh-CN": "该业务单当前不计时，无需延期", "en": "This record's clock is not running: nothing to extend"},
    "too_late": {"zh-CN": "办理时限已于 {due} 届满，延期须在时限届满前申请",
                 "en": "The time limit passed on {due}; an extension must be asked before the limit passes"},
    "pending_extension": {"zh-CN": "已有待审批的延期申请", "en": "An extension request is already waiting"},
    "no_extension": {"zh-CN": "没有待审批的延期申请", "en": "There is no extension request waiting"},
    "superior": {"zh-CN": "延期须由上级（部门负责人或管理层）审批",
                 "en": "An extension is approved by a superior (department head or manager)"},
    "own_request": {"zh-CN": "不能审批自己提出的延期申请", "en": "You cannot approve your own extension request"},
    "reason": {"zh-CN": "请说明延期理由", "en": "Please give the reason for the extension"},
}


def _m(code: str, lang: str, **params: Any) -> str:
    return message(MESSAGES, code, lang, **params)


def deadline_days(deadline: Mapping[str, Any] | None, settings: Any,
                  data: Mapping[str, Any] | None = None) -> int | None:
    """A state's `deadline` in working days: `{working_days: N}`, `{setting: NAME}` (a whole-number setting,
    such as `notice_days`, so an installation sets the statutory number once) or `{by_field: ...}` (by the
    value of a field of the record's data: a complaint's level, core/complaints.py)."""
    if not deadline:
        return None
    if "by_field" in deadline:
        return by_field_days(deadline, data)
    if "setting" in deadline:
        return int(getattr(settings, str(deadline["setting"])))
    return int(deadline["working_days"])


def clock_mode(workflow: "Workflow", state: str) -> str:
    found = workflow.states.get(state, {})
    return str(found.get("clock", "stopped" if found.get("final") else "running"))


class Clock:
    """The clock arithmetic over one calendar and one day (pure: no store)."""

    def __init__(self, calendar: WorkCalendar, today: dt.date, soon_days: int) -> None:
        self.calendar, self.today, self.soon_days = calendar, today, soon_days

    def due(self, left: int) -> dt.date:
        """The last working day allowed with `left` working days to go (negative: that many behind)."""
        if left >= 0:
            return self.calendar.add_working_days(self.today, left)
        return self.calendar.back_working_days(self.today, -left)

    def fields(self, old: Mapping[str, Any] | None, *, mode: str, limit: int | None, state_days: int | None,
               entered: bool, timeout: Mapping[str, Any] | None) -> Doc:
        """The record's clock fields today: the segment since the last look settled, the new one opened."""
        clock = dict(old or {})
        today = self.today.isoformat()
        since = clock.get("since")
        elapsed = 0
        if isinstance(since, str) and since < today:
            elapsed = self.calendar.working_days_between(dt.date.fromisoformat(since), self.today)
        if clock.get("mode") == "running":
            clock["used"] = int(clock.get("used", 0)) + (elapsed if clock.get("limit") else 0)
            clock["state_used"] = int(clock.get("state_used", 0)) + elapsed
        elif clock.get("mode") == "paused" and clock.get("limit"):
            clock["paused"] = int(clock.get("paused", 0)) + elapsed
        if entered:                       # a new state: its own deadline, nothing announced yet
            clock.update(state_used=0, state_days=state_days, state_extended=0, timeout_done=False)
            for key in ("reminded", "overdue_told", "escalated_for", "reminded_on"):
                clock.pop(key, None)
        if limit and not clock.get("limit"):
            clock.update(limit=limit, used=0, paused=0, extended=0)
        if mode == "stopped" and clock.get("limit"):
            clock["limit_stopped"] = True
        clock.update(mode=mode, since=today)
        used, paused = int(clock.get("used", 0)), int(clock.get("paused", 0))
        state_due = limit_due = None
        if mode == "running":
            if clock.get("state_days"):
                left = (int(clock["state_days"]) + int(clock.get("state_extended", 0)) -
                        int(clock["state_used"]))
                state_due = self.due(left).isoformat()
            if clock.get("limit") and not clock.get("limit_stopped"):
                limit_due = self.due(int(clock["limit"]) + int(clock.get("extended", 0)) - used).isoformat()
        clock.update(state_due=state_due, limit_due=limit_due)
        dues = [d for d in (state_due, limit_due) if d]
        due_at = min(dues) if dues else None
        overdue = bool(due_at and today > due_at)
        due_soon = bool(due_at and not overdue and
                        self.calendar.working_days_between(self.today, dt.date.fromisoformat(due_at))
                        <= self.soon_days)
        fields: Doc = {"clock": clock, "due_at": due_at, "due_soon": due_soon, "overdue": overdue,
                       "days_used": used if clock.get("limit") else int(clock.get("state_used", 0)),
                       "days_paused": paused}
        fields["tick_at"] = self.next_look(fields, timeout)
        return fields

    def next_look(self, fields: Mapping[str, Any], timeout: Mapping[str, Any] | None) -> str | None:
        """The day `tick` must look again: today when something is owed now, else the day it will be."""
        clock, due_at, today = fields["clock"], fields["due_at"], self.today.isoformat()
        if not due_at:
            return None
        if fields["overdue"]:
            state_due = clock.get("state_due")
            owed = (clock.get("overdue_told") != due_at or clock.get("escalated_for") != due_at or
                    bool(timeout and state_due and today > state_due and not clock.get("timeout_done")))
            if owed:
                return today
            if timeout and timeout.get("action") == "remind":
                return self.calendar.add_working_days(self.today, 1).isoformat()
            return None
        if fields["due_soon"]:
            if clock.get("reminded") != due_at:
                return today
            return (dt.date.fromisoformat(due_at) + dt.timedelta(days=1)).isoformat()
        soon = self.calendar.back_working_days(dt.date.fromisoformat(due_at), self.soon_days)
        return max(soon.isoformat(), today)


class ClockActions(ServiceBase):
    """The calendar the whole installation shares, record clocks, extensions, vouchers. (Reading records is
    RecordActions' work: the Service mixes both in.)"""

    _calendar_read: float = -1e9

    if TYPE_CHECKING:
        def _visible_stored(self, actor: Actor, record_id: str, lang: str, *,
                            acting: bool = False) -> Doc: ...

        def opened(self, record: Doc) -> Doc: ...

    # -- the calendar ------------------------------------------------------------------------------------

    def work_calendar(self, fresh: bool = False) -> WorkCalendar:
        """The settings' overrides with the admins' stored ones on top (a stored year wins), read again after
        CALENDAR_TTL_SECONDS so every host uses what an admin saved on any of them."""
        now = time.monotonic()
        if fresh or now - self._calendar_read > CALENDAR_TTL_SECONDS:
            overrides: dict[int, YearOverride] = dict(_overrides(self.settings.calendar_overrides))
            for year, value in tick_store.calendar_years(self.store).items():
                try:
                    overrides[year] = override_from_lists(year, value.get("days_off", []),
                                                          value.get("workdays", []))
                except ValueError:
                    continue                     # refused when written; a damaged year falls back
            self.calendar = WorkCalendar(overrides)
            self._calendar_read = now
        return self.calendar

    def calendar_year(self, actor: Actor, year: int, lang: str) -> Doc:
        self.require(actor, {"admin"}, lang)
        _check_year(year, lang)
        stored = tick_store.calendar_years(self.store).get(year)
        configured = (self.settings.calendar_overrides or {}).get(year) or \
            (self.settings.calendar_overrides or {}).get(str(year))      # type: ignore[call-overload]
        source = stored or configured or {}
        calendar = self.work_calendar()
        return {"year": year, "days_off": sorted(source.get("days_off", [])),
                "workdays": sorted(source.get("workdays", [])),
                "source": "store" if stored else ("settings" if configured else "package"),
                "official": calendar.has_official_arrangement(year),
                "updated_by": (stored or {}).get("updated_by"),
                "updated_at": (stored or {}).get("updated_at")}

    def put_calendar_year(self, actor: Actor, year: int, body: Mapping[str, Any], lang: str) -> Doc:
        self.require(actor, {"admin"}, lang)
        _check_year(year, lang)
        days_off, workdays = list(body.get("days_off") or []), list(body.get("workdays") or [])
        try:
            override = override_from_lists(year, days_off, workdays)
            others = {y: override_from_lists(y, v.get("days_off", []), v.get("workdays", []))
                      for y, v in tick_store.calendar_years(self.store).items() if y != year}
            WorkCalendar({**others, year: override})              # no day both off and working
        except ValueError as exc:
            problem = str(exc)
            raise Invalid(_m("calendar_days", lang, problem=problem), code="calendar_days",
                          details=[{"path": "/days_off", "code": "calendar_days",
                                    "message": problem}]) from None
        tick_store.set_calendar_year(self.store, year, {
            "days_off": sorted(d.isoformat() for d in override.days_off),
            "workdays": sorted(d.isoformat() for d in override.workdays),
            "updated_by": actor.id, "updated_at": self.env_now().isoformat()})
        self.work_calendar(fresh=True)
        return self.calendar_year(actor, year, lang)

    @staticmethod
    def env_now() -> dt.datetime:
        from counterflow.core.clock import utcnow
        return utcnow()

    # -- record clocks ----------------------------------------------------------------------------------

    def clock_of(self, record: Mapping[str, Any], process: str, state: str, now: dt.datetime, *,
                 entered: bool, accepted: bool) -> Doc:
        """The clock fields of `record` at `now` when it is (or is about to be) in `process`/`state`."""
        workflow = self.workflow(process, (record.get("workflows") or {}).get(process))
        limit = None
        if accepted:
            settings = self.form_doc(record["form"], record["form_version"]).get("settings", {})
            limit = int((settings.get("time_limit") or {}).get("working_days", 5))
        found = workflow.states.get(state, {})
        clock = Clock(self.work_calendar(), now.astimezone(self.tz).date(), self.settings.due_soon_days)
        return clock.fields(record.get("clock"), mode=clock_mode(workflow, state), limit=limit,
                            state_days=deadline_days(found.get("deadline"), self.settings,
                                                     record.get("data")),
                            entered=entered,
                            timeout=found.get("timeout"))

    def voucher(self, kind: str, record: Mapping[str, Any], by: Mapping[str, Any], now: dt.datetime,
                number: str | None = None) -> Doc:
        """A printable outcome: its own number (the acceptance number for a receipt), date, clerk, contact."""
        local = now.astimezone(self.tz)
        if number is None:
            code = VOUCHER_CODES.get(kind, kind[:2].upper())
            seq = self.store.next_number(f"voucher|{kind}|{local.year}")
            number = f"{code}{local.year}-{seq:06d}"
        settings = self.form_doc(record["form"], record["form_version"]).get("settings", {})
        return {"kind": kind, "number": number, "at": local.date().isoformat(), "by": dict(by),
                "contact": settings.get("contact") or self.settings.counter_contact or ""}

    # -- extensions (延期): asked before the limit passes, with a reason, approved by a superior -------------

    def request_extension(self, actor: Actor, record_id: str, payload: Mapping[str, Any], lang: str) -> Doc:
        self.require(actor, {"clerk", "reviewer", "dept_head"}, lang)
        record = self._visible_stored(actor, record_id, lang)
        check_revision(record, payload, lang)
        reason = payload.get("reason")
        if not (isinstance(reason, str) and reason.strip()):
            raise Invalid(_m("reason", lang), code="reason_required",
                          details=[{"path": "/reason", "code": "required", "message": _m("reason", lang)}])
        now = self.env_now()
        fields = self.clock_of(record, record["process"], record["state"], now, entered=False,
                               accepted=bool(record.get("accepted_at")))
        if not fields["due_at"]:
            raise Conflict(_m("no_clock", lang), code="no_clock")
        if fields["overdue"]:
            raise Invalid(_m("too_late", lang, due=fields["due_at"]), code="extension_too_late",
                          details=[{"path": "", "code": "extension_too_late",
                                    "message": _m("too_late", lang, due=fields["due_at"])}])
        if (record.get("extension") or {}).get("state") == "requested":
            raise Conflict(_m("pending_extension", lang), code="extension_pending")
        request = {"state": "requested", "days": int(payload["days"]), "reason": reason.strip()[:2000],
                   "by": actor.public(), "at": now.isoformat(), "due_at": fields["due_at"]}
        event = self._event("record", actor, "extension_request", record["process"], record["state"],
                            record["state"], reason, now=now, details={"extension": request})
        return self.store.commit(self.store.records, record, {**fields, "extension": request}, event)

    def decide_extension(self, actor: Actor, record_id: str, payload: Mapping[str, Any], lang: str) -> Doc:
        record = self._visible_stored(actor, record_id, lang)
        if not (actor.roles & SUPERIORS):
            raise Forbidden(_m("superior", lang), code="role")
        check_revision(record, payload, lang)
        request = dict(record.get("extension") or {})
        if request.get("state") != "requested":
            raise Conflict(_m("no_extension", lang), code="no_extension")
        if (request.get("by") or {}).get("id") == actor.id:
            raise Forbidden(_m("own_request", lang), code="separation_of_duties")
        now = self.env_now()
        grant = bool(payload.get("grant"))
        old = dict(record.get("clock") or {})
        if grant:
            key = "extended" if old.get("limit") and not old.get("limit_stopped") else "state_extended"
            old[key] = int(old.get(key, 0)) + int(request["days"])
        fields = self.clock_of(dict(record, clock=old), record["process"], record["state"], now,
                               entered=False, accepted=bool(record.get("accepted_at")))
        request.update(state="granted" if grant else "refused", decided_by=actor.public(),
                       decided_at=now.isoformat(), opinion=str(payload.get("opinion") or "")[:2000])
        event = self._event("record", actor, "extension_granted" if grant else "extension_refused",
                            record["process"], record["state"], record["state"], payload.get("opinion"),
                            now=now, details={"extension": request})
        return self.store.commit(self.store.records, record, {**fields, "extension": request}, event)


def _check_year(year: int, lang: str) -> None:
    if not 2000 <= year <= 2100:
        raise Invalid(_m("calendar_year", lang), code="calendar_year",
                      details=[{"path": "/year", "code": "calendar_year",
                                "message": _m("calendar_year", lang)}])


def transition_changes(service: Any, obj: Mapping[str, Any], changes: Mapping[str, Any], shows: str | None,
                       ctx: "Context", now: dt.datetime) -> Doc:
    """What a record's transition adds (called by Transitions.fire once the destination is known): the clock
    settled and restarted for the state it enters, and the voucher its `shows` flag prints."""
    if not isinstance(service, ClockActions):
        return {}
    process, state = changes.get("process", obj["process"]), changes["state"]
    entered = (process, state) != (obj["process"], obj["state"])
    out = service.clock_of(obj, process, state, now, entered=entered,
                           accepted=bool(obj.get("accepted_at") or changes.get("accepted_at")))
    if shows:
        by = ctx.actor.public() if ctx.actor.id != SYSTEM_ACTOR["id"] else dict(SYSTEM_ACTOR)
        number = changes.get("acceptance_number") if shows == "receipt" else None
        voucher = service.voucher(shows, obj, by, now, number=number)
        if shows == "decision":
            voucher.update(reason=str(ctx.payload.get("reason") or "")[:2000],
                           refer_to=str(ctx.payload.get("refer_to") or "")[:2000],
                           opinion=str(ctx.payload.get("opinion") or "")[:2000])
        out["vouchers"] = dict(obj.get("vouchers") or {}, **{shows: voucher})
    return out
