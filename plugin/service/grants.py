"""Approved reading (issue 10, item 2): query requests and their grants (the check at every read of a
record is service/reading.py).

A query request is a record of the shipped form `query-request` that runs its own process (shipped as
workflows/query_request.yaml; who approves and when is data). Approving it into a state flagged
`grants_reading` writes one grant per record (store/grants.py); a grant reads only while its request stays
in such a state, so revoking (a transition out of it) takes effect at once, and only within its dates.
"""
from __future__ import annotations

from typing import Any, Mapping

from counterflow.core import access
from counterflow.core.clock import stamp, utcnow
from counterflow.core.engine import Actor
from counterflow.core.errors import Invalid, NotFound
from counterflow.core.i18n import message
from counterflow.core.roles import STAFF
from counterflow.service.base import Doc
from counterflow.service.messages import new_id
from counterflow.service.reading import MAX_RECORDS, acting_roles, active_grant, reading_day
from counterflow.service.records import RecordActions
from counterflow.store.grants import GrantStore

QUERY_FORM = "query-request"            # the shipped form whose records are query requests

MESSAGES = {
    "not_query_request": {"zh-CN": "没有这份查阅申请", "en": "There is no such query request"},
    "no_form": {"zh-CN": "查阅申请表尚未发布，请管理员运行 counterflow init",
                "en": "The query request form is not published; an administrator runs counterflow init"},
    "refused": {"zh-CN": "查阅申请有 {count} 个问题", "en": "The query request has {count} problem(s)"},
    "too_many": {"zh-CN": "一份查阅申请最多 {limit} 件业务单，请缩小查找范围",
                 "en": "A query request names at most {limit} records; narrow the search"},
    "nothing_found": {"zh-CN": "按此条件没有找到您可见的业务单，请改为列出业务单编号",
                      "en": "The search finds no record you can see; list the record ids instead"},
}


def _msg(code: str, lang: str, **params: Any) -> str:
    return message(MESSAGES, code, lang, **params)


class GrantActions(RecordActions):
    """Query requests: ask for reading, see them, move them through their process; a reader's grant."""

    def create_query_request(self, actor: Actor, payload: Mapping[str, Any], lang: str) -> Doc:
        """A draft query request of `actor`: the records it names (or those its search finds among the records
        `actor` may list), the period, the purpose, and for an outside request its body, basis, document."""
        self.require(actor, STAFF, lang)
        form = self.published_version(QUERY_FORM)
        if form is None:
            raise NotFound(_msg("no_form", lang), code="form_not_found")
        records = list(dict.fromkeys(payload.get("records") or []))
        search = {k: v for k, v in (payload.get("search") or {}).items() if v}
        if search and not records:
            found = self.list_records(actor, search, MAX_RECORDS + 1, None, lang)
            if not found:
                raise Invalid(_msg("nothing_found", lang), code="nothing_found",
                              details=[{"path": "/search", "code": "nothing_found",
                                        "message": _msg("nothing_found", lang)}])
            records = [r["_id"] for r in found]
        if len(records) > MAX_RECORDS:
            raise Invalid(_msg("too_many", lang, limit=MAX_RECORDS), code="too_many",
                          details=[{"path": "/records", "code": "too_many",
                                    "message": _msg("too_many", lang, limit=MAX_RECORDS)}])
        asked = ("purpose", "period_from", "period_until", "outside", "outside_body", "legal_basis",
                 "document")
        data: Doc = {k: payload[k] for k in asked if payload.get(k) not in (None, "")}
        data["records"] = records
        if search:
            data["search"] = search
        validator = self.validator(form["key"], form["version"])
        problems = [p.to_dict() for p in validator.check_complete(data, lang)]
        problems += self.attachment_problems(actor, data, lang)
        if problems:
            raise Invalid(_msg("refused", lang, count=len(problems)), code="invalid_data", details=problems)
        processes = list(form["settings"]["processes"])
        pins = form.get("workflows") or {}
        flows = {p: self.workflow(p, pins.get(p)) for p in processes}
        at = stamp(utcnow())
        doc = {"_id": new_id(), "form": form["key"], "form_version": form["version"],
               "workflows": {p: w.version for p, w in flows.items()}, "processes": processes,
               "process": processes[0], "state": flows[processes[0]].initial, "revision": 0,
               "data": self.sealer.seal_input(data, validator.sensitive), "created_by": actor.id,
               "first_responder": actor.id, "department": actor.department, "assignee": None,
               "state_since": at, "created_at": at, "updated_at": at}
        event = self._event("record", actor, "create", processes[0], "", doc["state"], at=at)
        self.hold_attachments(doc["_id"], data)
        doc = self.store.insert_record(doc, event)
        return dict(doc, data=data)

    def query_requests(self, actor: Actor, limit: int, after: str | None, lang: str) -> list[Doc]:
        """The query requests `actor` may see (their own, their department's; all for records-wide roles)."""
        return self.list_records(actor, {"form": QUERY_FORM}, limit, after, lang)

    def query_request(self, actor: Actor, request_id: str, lang: str) -> Doc:
        found = self.record(actor, request_id, lang)
        if found.get("form") != QUERY_FORM:
            raise NotFound(_msg("not_query_request", lang), code="not_found")
        return found

    def query_request_grants(self, request: Doc) -> list[Doc]:
        """The grants a request wrote (the caller could see the request), each marked active or not."""
        workflow = self.workflow(request["process"], (request.get("workflows") or {}).get(request["process"]))
        granting = bool(workflow.states.get(request["state"], {}).get("grants_reading"))
        now = reading_day(self)
        return [dict(g, active=granting and access.grant_current(g, now))
                for g in GrantStore(self.store).of_request(request["_id"])]

    def fire_query_request(self, actor: Actor, request_id: str, trigger: str, payload: Mapping[str, Any],
                           lang: str) -> Doc:
        self.query_request(actor, request_id, lang)
        return self.fire_record(actor, request_id, trigger, payload, lang)

    def query_request_options(self, actor: Actor, request_id: str, lang: str) -> list[Doc]:
        return self.options_for(actor, self.query_request(actor, request_id, lang), lang)

    def reading_grant(self, actor: Actor, record: Doc) -> Doc | None:
        """The grant by which `actor` reads `record` (already read through `record()`), when a grant is what
        lets them: the page then shows the watermarked read-only view. None for everyone else."""
        workflow = self.workflow(record["process"], (record.get("workflows") or {}).get(record["process"]))
        restricted = access.reading_restricted(workflow.states.get(record["state"], {}))
        acting = actor.roles & acting_roles(workflow, record["state"])
        if not restricted or access.records_staff(actor) or acting:
            return None
        grant = active_grant(self, actor, record)
        return dict(grant, read_at=stamp()) if grant else None
