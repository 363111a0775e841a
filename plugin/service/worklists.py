"""Worklists: each a set of queries served by single-field indexes, merged newest first, paged by keyset.

Record worklists run one query per (process, state) they cover (never `$in` or `$or` on the growing
`records`, see `Store.list_records`); the lists of things told to a user (copied to me, urged, delegated
by me) read the user's inbox entries of that kind (`box` = `<user>|<kind>`), so they do not depend on
fields other features may keep in the record.
"""
from __future__ import annotations

from typing import Any

from counterflow.core import access
from counterflow.core.clock import utcnow
from counterflow.core.engine import Actor
from counterflow.core.errors import NotFound
from counterflow.core.i18n import message
from counterflow.core.roles import STAFF
from counterflow.service.base import Doc
from counterflow.service.clocks import ClockActions
from counterflow.service.notify import ON_BEHALF, NotifyActions

RECORD_LISTS = ("mine", "department", "due_soon", "overdue", "acknowledge")
BOX_LISTS = {"copied": "copied", "urged": "urged", "delegated": "delegated_by", "on_my_behalf": ON_BEHALF}
WORKLISTS = (*RECORD_LISTS, *BOX_LISTS)
DUE_SOON_DAYS = 1                   # as settings.due_soon_days

MESSAGES = {
    "unknown_worklist": {"zh-CN": "没有工作清单「{name}」，可用：{names}",
                         "en": "There is no worklist '{name}'; use one of: {names}"},
}


def assignee_states(flows: list[Any]) -> list[tuple[str, str]]:
    """The (process, state) pairs where the record's assignee has work: a transition from there is the
    assignee's (guarded by `is_assignee`) or is how the assignee signs for it (`acknowledges`)."""
    found: set[tuple[str, str]] = set()
    for w in flows:
        for t in w.definition.get("transitions", ()):
            if "is_assignee" in (t.get("guards") or ()) or t.get("acknowledges"):
                sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
                found.update((w.key, s) for s in sources)
    return sorted(found)


class WorklistActions(NotifyActions):
    """GET /api/v1/worklists/{name}: what a person has to do, each list served by an index."""

    def worklist(self, actor: Actor, name: str, limit: int, after: str | None,
                 lang: str) -> tuple[str, list[Doc]]:
        """("records", records) or ("entries", inbox entries), newest first, after the key `after`."""
        self.require(actor, STAFF, lang)
        if name in BOX_LISTS:
            entries = self.notify_store.inbox_page("box", f"{actor.id}|{BOX_LISTS[name]}", limit, after)
            return "entries", self.entry_views(entries, lang)
        if name not in RECORD_LISTS:
            raise NotFound(message(MESSAGES, "unknown_worklist", lang, name=str(name)[:64],
                                   names=", ".join(WORKLISTS)), code="unknown_worklist")
        queries = self.worklist_queries(actor, name)
        found = self.store.list_records(queries, limit, after) if queries else []
        if name == "mine":          # and the approval steps whose task I hold (kept by the sweep)
            held = self.notify_store.task_page(actor.id, limit, after)
            known = {r["_id"] for r in found}
            found += self.notify_store.records([i for i in held if i not in known])
            found = sorted(found, key=lambda r: r["listed"], reverse=True)[:limit]
        return "records", [self.opened(r) for r in found]

    def due_range(self, name: str) -> Doc:
        """The `due_at` range of the `overdue` or `due_soon` list today (the installation's clock, offset
        included), the same test the record's clock makes (service/clocks.py `Clock.fields`): overdue once
        today is past the last working day allowed; due soon from today while at most `due_soon_days`
        working days are left. `due_at` is the date the clock moves (a pause pushes it on at the resume, an
        extension too); the date printed at acceptance (`due_date`) stays as the applicant was told."""
        today = utcnow().astimezone(self.tz).date()
        if name == "overdue":
            return {"$lt": today.isoformat()}
        days = int(getattr(self.settings, "due_soon_days", DUE_SOON_DAYS))
        calendar = self.work_calendar() if isinstance(self, ClockActions) else self.calendar   # admins' years
        return {"$gte": today.isoformat(), "$lt": calendar.add_working_days(today, days + 1).isoformat()}

    @staticmethod
    def timed_places(flows: list[Any]) -> list[tuple[str, str]]:
        """The (process, state) pairs where the clock runs (a paused or stopped state has no `due_at`)."""
        return sorted({(w.key, s) for w in flows for s in w.states if w.clock_runs(s)})

    def worklist_queries(self, actor: Actor, name: str) -> list[Doc]:
        """The indexed queries whose union is the worklist `name` for `actor`."""
        flows = self.record_workflows()
        open_states = [(w.key, s) for w in flows for s in w.states if not w.is_final(s)]
        if name == "mine":
            return [{"assignee": actor.id, "process": p, "state": s} for p, s in assignee_states(flows)]
        if name == "department":
            if not actor.department:
                return []
            return [{"department": actor.department, "process": p, "state": s} for p, s in open_states]
        if name == "acknowledge":
            waiting = sorted({(w.key, s) for w in flows for t in w.definition.get("transitions", ())
                              if t.get("acknowledges")
                              for s in (t["source"] if isinstance(t["source"], list) else [t["source"]])})
            return [{"assignee": actor.id, "process": p, "state": s} for p, s in waiting]
        due = self.due_range(name)
        queries = [{"due_at": due, "process": p, "state": s} for p, s in self.timed_places(flows)]
        if access.sees_everything(actor):
            return queries
        return [dict(q, **clause) for q in queries for clause in access.clauses(actor)]
