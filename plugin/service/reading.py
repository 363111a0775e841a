"""The check at every read of a record whose state is flagged `reading: granted` (issue 10, item 2), and what
the archive's and the query requests' rules ask of the service (`KeepingEnv`, mixed into service.env.Env).

A grant reads only within its dates and while the query request that wrote it stays in a state flagged
`grants_reading`, so revoking (a transition out of that state) takes effect at once.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Mapping

from counterflow.core import access
from counterflow.core.clock import utcnow
from counterflow.core.engine import Actor, Context
from counterflow.core.errors import Forbidden, NotFound
from counterflow.core.i18n import message
from counterflow.store.grants import GrantStore

if TYPE_CHECKING:
    from counterflow.service.base import Doc, ServiceBase

MAX_RECORDS = 200                       # records one request may name (or its search may find)
# the record field each retention start (the form's `settings.retention.from`) is counted from; none: today
RETENTION_EVENTS = {"archived": None, "accepted": "accepted_at", "created": "created_at"}
MESSAGES = {
    "needs_grant": {
        "zh-CN": "此业务单已归档，仅档案管理人员和持有有效查阅授权的人可以查阅；请通过查阅申请"
                 "（POST /api/v1/query-requests）申请查阅",
        "en": "This record is archived: only records staff and holders of an active reading grant may read "
              "it; ask for reading through a query request (POST /api/v1/query-requests)"},
}


def _local_date(value: Any, tz: Any) -> dt.date | None:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(tz).date()
    except ValueError:
        return None


class KeepingEnv:
    """What core/keeping.py (and the archive's `set_retention`) ask of the service; mixed into
    service.env.Env, which provides `service`, `stamp`, `today`, `local`."""

    service: "ServiceBase"
    stamp: str
    today: str
    local: dt.datetime

    def retention_until(self, obj: Mapping[str, Any]) -> str:
        """The day the retention period ends: the form's `settings.retention` years (5 by default, never below
        COUNTERFLOW_RETENTION_MIN_YEARS) counted from its `from` event (archived: today; accepted, created:
        the day the record was accepted or created)."""
        form = self.service.form_doc(obj["form"], obj["form_version"]).get("settings", {})
        rule = form.get("retention") or {}
        years = max(int(rule.get("years", 5)), self.service.settings.retention_min_years)
        start = self.local.date()
        field = RETENTION_EVENTS.get(rule.get("from") or "archived")
        if field and obj.get(field):
            start = _local_date(obj[field], self.service.tz) or start
        try:
            return start.replace(year=start.year + years).isoformat()
        except ValueError:                       # 29 February
            return start.replace(year=start.year + years, day=28).isoformat()

    def reading_records(self, ctx: Context) -> tuple[list[str], list[str]]:
        named = (ctx.obj.get("data") or {}).get("records") or []
        ids = sorted({r for r in named if isinstance(r, str) and 0 < len(r) <= 64})[:MAX_RECORDS]
        found = {r["_id"] for r in self.service.store.list_records({"_id": {"$in": ids}}, len(ids), None)} \
            if ids else set()
        return [i for i in ids if i in found], [i for i in ids if i not in found]

    def reading_needs_manager(self, ctx: Context) -> bool:
        found, _ = self.reading_records(ctx)
        records = self.service.store.list_records({"_id": {"$in": found}}, len(found), None) if found else []
        return any(self.service.validator(r["form"], r["form_version"]).sensitive for r in records)

    def grant_reading(self, ctx: Context) -> list[str]:
        obj = ctx.obj
        workflow = self.service.workflow(obj["process"], (obj.get("workflows") or {}).get(obj["process"]))
        if not workflow.states.get(ctx.dest, {}).get("grants_reading"):
            return []
        data = obj.get("data") or {}
        found, _ = self.reading_records(ctx)
        ids = GrantStore(self.service.store).put(
            {"_id": f"{obj['_id']}:{record}", "grantee": obj["created_by"], "record": record,
             "from": data.get("period_from"), "until": data.get("period_until"), "request": obj["_id"],
             "granted_by": ctx.actor.id, "granted_at": self.stamp} for record in found)
        for grant, record in zip(ids, found):
            self.service.audit("grant", ctx.actor, object_id=record, grant=grant,
                               on_behalf_of=obj["created_by"], request_id=obj["_id"])
        return ids


def reading_day(service: "ServiceBase") -> str:
    return utcnow().astimezone(service.tz).date().isoformat()


def active_grant(service: "ServiceBase", actor: Actor, record: Mapping[str, Any]) -> Doc | None:
    """The grant by which `actor` may read `record` now: within its dates, its request still granting."""
    now = reading_day(service)
    for grant in GrantStore(service.store).for_reader(actor.id, record["_id"]):
        if not access.grant_current(grant, now):
            continue
        try:
            request = service.store.record(grant["request"])
        except NotFound:
            continue
        pins = request.get("workflows") or {}
        workflow = service.workflow(request["process"], pins.get(request["process"]))
        if workflow.states.get(request["state"], {}).get("grants_reading"):
            return grant
    return None


def acting_roles(workflow: Any, state: str) -> set[str]:
    """The roles the process itself names to act on a record in `state` (a supervisor ordering a hold): they
    read what they act on, like records staff."""
    return {role for t in workflow.transitions if state in t.sources for role in t.roles}


def read_allowed(service: "ServiceBase", actor: Actor, record: Doc, lang: str, seen: bool, *,
                 log: bool = True) -> bool:
    """Whether `actor` may read `record` (`seen`: the department rule's answer). A record in a state flagged
    `reading: granted` is read by records staff and grant holders only (403 with the way to ask otherwise);
    every read of such a record, or of one with sensitive fields, is logged with the grant it used (unless
    `log` is off: the read serves a change whose own history event is in the audit log)."""
    workflow = service.workflow(record["process"], (record.get("workflows") or {}).get(record["process"]))
    if not access.reading_restricted(workflow.states.get(record["state"], {})):
        if seen and service.validator(record["form"], record["form_version"]).sensitive:
            _audit_read(service, actor, record, None, log)
        return seen
    if access.records_staff(actor) or actor.roles & acting_roles(workflow, record["state"]):
        _audit_read(service, actor, record, None, log)
        return True
    grant = active_grant(service, actor, record)
    if grant is None:
        raise Forbidden(message(MESSAGES, "needs_grant", lang), code="reading_needs_grant")
    _audit_read(service, actor, record, grant["_id"], log)
    return True


def _audit_read(service: "ServiceBase", actor: Actor, record: Mapping[str, Any], grant: str | None,
                log: bool = True) -> None:
    if log:
        service.audit("read", actor, object_id=record["_id"], grant=grant)
