"""Records: created from a published form, read under the access rule, edited, moved through
their processes."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Mapping

from counterflow.core import access
from counterflow.core.changes import attachment_ids, diff, keep_masked
from counterflow.core.clock import stamp, utcnow
from counterflow.core.engine import Actor
from counterflow.core.errors import Conflict, Forbidden, Invalid, NotFound
from counterflow.core.roles import STAFF
from counterflow.core.masking import mask_data
from counterflow.service.attachments import AttachmentActions
from counterflow.service.base import Doc
from counterflow.service.messages import check_revision, msg, new_id
from counterflow.service.reading import read_allowed
from counterflow.service.transitions import Transitions

log = logging.getLogger(__name__)

# how many records' opened data a process keeps (read-only: the data of a record `opened` returns is shared
# with the cache and never changed in place; every change makes new data, so a new ciphertext)
OPENED_KEPT = 512


class RecordActions(Transitions, AttachmentActions):
    """Business records and their data."""

    @staticmethod
    def can_see(actor: Actor, record: Mapping[str, Any]) -> bool:
        """Record-level access: your department's records, ones you created or are assigned,
        or a records-wide role."""
        return access.can_see(actor, record)

    def _visible_record(self, actor: Actor, record_id: str, lang: str) -> Doc:
        return self.opened(self._visible_stored(actor, record_id, lang))

    def _visible_stored(self, actor: Actor, record_id: str, lang: str) -> Doc:
        """The record as stored (protected fields sealed), if the caller may see it."""
        self.require(actor, STAFF, lang)
        if not isinstance(record_id, str) or len(record_id) > 64:
            raise NotFound("no such record", code="record_not_found")
        record = self.store.record(record_id)
        if not read_allowed(self, actor, record, lang, self.can_see(actor, record)):   # archived: grants
            raise Forbidden(msg("record_access", lang), code="record_access")
        return record

    def opened(self, record: Doc) -> Doc:
        """The record as read from the store, its protected fields decrypted (remembered for the last
        OPENED_KEPT records, while their stored ciphertexts stay the same). A value no configured key
        opens reads as a placeholder and is logged (where, never what): one damaged value must not make
        the record, or every list that holds it, unreadable."""
        sensitive = self.validator(record["form"], record["form_version"]).sensitive
        if not sensitive:
            return record
        stored = record.get("data") or {}
        hit = self._opened.get(record["_id"])
        if hit is not None and hit[0] == stored:        # the very same ciphertexts: their texts are known
            return dict(record, data=hit[1])
        data, unreadable = self.sealer.open_stored(stored, sensitive)
        if not unreadable:
            self._remember_opened(record["_id"], stored, data)
        else:
            log.error("record %s: %d protected value(s) cannot be decrypted and are shown as a placeholder "
                      "(%s): the key that sealed them is not configured (COUNTERFLOW_ENCRYPTION_KEY) or the "
                      "stored value is damaged", record.get("_id"), len(unreadable), ", ".join(unreadable))
        return dict(record, data=data)

    def _remember_opened(self, record_id: str, stored: Any, data: Any) -> None:
        with self._lock:
            if len(self._opened) >= OPENED_KEPT and record_id not in self._opened:
                self._opened.pop(next(iter(self._opened)))
            self._opened[record_id] = (stored, data)

    def _sealed(self, record: Mapping[str, Any], data: Any) -> Any:
        """Data from a request as it is stored: every protected value sealed, whatever it looks like."""
        return self.sealer.seal_input(data, self.validator(record["form"], record["form_version"]).sensitive)

    def create_record(self, actor: Actor, payload: Mapping[str, Any], lang: str) -> tuple[Doc, list[Doc]]:
        """A draft: one store round trip (the insert) when the data names no attachment; the published
        version and its validator come from the process's caches (`published_version`)."""
        self.require(actor, {"clerk"}, lang)
        form = self.published_version(payload["form"])
        if form is None:
            raise NotFound(msg("no_form", lang, key=payload["form"]), code="form_not_found")
        validator = self.validator(form["key"], form["version"])
        data, masked = keep_masked({}, payload.get("data") or {}, validator.sensitive, lang)  # nothing stored
        problems, warnings = validator.check_draft(data, lang)
        files = attachment_ids(data)
        refused = [p.to_dict() for p in problems] + masked + self.attachment_problems(actor, data, lang,
                                                                                      ids=files)
        if refused:
            raise Invalid(msg("draft_refused", lang, count=len(refused)), code="invalid_data",
                          details=refused)
        processes = list(form["settings"]["processes"])
        pins = form.get("workflows") or {}             # pinned when the version was published
        flows = {p: self.workflow(p, pins.get(p)) for p in processes}
        at = stamp(utcnow())
        doc = {"_id": new_id(), "form": form["key"], "form_version": form["version"],
               "workflows": {p: w.version for p, w in flows.items()}, "processes": processes,
               "process": processes[0], "state": flows[processes[0]].initial, "revision": 0,
               "data": self.sealer.seal_input(data, validator.sensitive), "created_by": actor.id,
               "first_responder": actor.id, "department": actor.department, "assignee": None,
               "state_since": at, "created_at": at, "updated_at": at}
        event = self._event("record", actor, "create", processes[0], "", doc["state"], at=at)
        self.hold_attachments(doc["_id"], data, ids=files)
        doc = self.store.insert_record(doc, event)
        self._remember_opened(doc["_id"], doc["data"], data)
        doc["data"] = data
        return doc, [w.to_dict() for w in warnings]

    def record(self, actor: Actor, record_id: str, lang: str) -> Doc:
        return self._visible_record(actor, record_id, lang)

    def list_records(self, actor: Actor, filters: Mapping[str, Any], limit: int, after: str | None,
                     lang: str) -> list[Doc]:
        self.require(actor, STAFF, lang)
        query: Doc = {}
        for field_name, column in (("form", "form"), ("process", "process"), ("state", "state"),
                                   ("assignee", "assignee"), ("number", "acceptance_number")):
            if filters.get(field_name):
                query[column] = filters[field_name]
        # alternatives the store runs one by one and merges: `$or` and `$in` are full scans on the embedded
        # store, so an overdue list is one query per (process, state) the clock runs in, and visibility is
        # one query per way the actor may see a record (the same rule as can_see)
        alternatives = [query]
        if filters.get("overdue"):
            query["due_date"] = {"$lt": dt.datetime.now(self.tz).date().isoformat()}
            timed = sorted({(w.key, s) for w in self.record_workflows() for s in w.states if w.clock_runs(s)})
            alternatives = [dict(query, process=p, state=s) for p, s in timed
                            if query.get("process", p) == p and query.get("state", s) == s]
        if not access.sees_everything(actor):
            alternatives = [dict(q, **clause) for q in alternatives for clause in access.clauses(actor)
                            if all(q.get(k, v) == v for k, v in clause.items())]
        if not alternatives:
            return []
        return [self.opened(r) for r in self.store.list_records(alternatives, limit, after)]

    def edit_record(self, actor: Actor, record_id: str, payload: Mapping[str, Any],
                    lang: str) -> tuple[Doc, list[Doc]]:
        stored = self._visible_stored(actor, record_id, lang)
        record = self.opened(stored)
        self.require(actor, {"clerk", "reviewer"}, lang)
        check_revision(record, payload, lang)
        workflow = self.workflow(record["process"], record["workflows"].get(record["process"]))
        in_intake = workflow.is_editable(record["state"])      # a draft; elsewhere an edit is a correction
        if workflow.is_read_only(record["state"]):
            raise Conflict(msg("read_only", lang, state=workflow.state_title(record["state"], lang)),
                           code="read_only")
        validator = self.validator(record["form"], record["form_version"])
        # masked values sent back stand for the stored ones; one no key opens stays exactly as stored
        before, _ = self.sealer.open_stored(stored.get("data") or {}, validator.sensitive, marked=True)
        kept, masked = keep_masked(before, payload["data"], validator.sensitive, lang)
        data = self.sealer.unmarked(kept, validator.sensitive)
        problems, warnings = validator.check_draft(data, lang)
        refused = ([p.to_dict() for p in problems] + masked +
                   self.attachment_problems(actor, data, lang, known=record.get("data")))
        if refused:
            raise Invalid(msg("draft_refused", lang, count=len(refused)), code="invalid_data",
                          details=refused)
        reason = payload.get("reason")
        if not in_intake:
            if not (isinstance(reason, str) and reason.strip()):
                raise Invalid(msg("reason", lang), code="reason_required",
                              details=[{"path": "/reason", "code": "required",
                                        "message": msg("reason", lang)}])
            problems = validator.check_complete(data, lang)
            if problems:
                raise Invalid(msg("correction_invalid", lang, count=len(problems)),
                              details=[p.to_dict() for p in problems])
        changes = diff(record.get("data") or {}, data, validator.sensitive)
        if not changes:
            return record, [w.to_dict() for w in warnings]       # nothing changed: no new revision
        event = self._event("record", actor, "edit" if in_intake else "correct", record["process"],
                            record["state"], record["state"], reason, changes=changes)
        self.hold_attachments(record["_id"], data, known=record.get("data"))
        sealed = self._sealed(record, kept)
        updated = self.store.commit(self.store.records, record, {"data": sealed}, event)
        if data == kept:                              # no unreadable value kept as stored
            self._remember_opened(record["_id"], sealed, data)
        return dict(updated, data=data), [w.to_dict() for w in warnings]

    def record_options(self, actor: Actor, record_id: str, lang: str) -> list[Doc]:
        return self.options_for(actor, self._visible_record(actor, record_id, lang), lang)

    def options_for(self, actor: Actor, record: Doc, lang: str) -> list[Doc]:
        """The triggers from a record the caller was already allowed to see (`record()`)."""
        workflow = self.workflow(record["process"], record["workflows"].get(record["process"]))
        return self.options_on(workflow, record, actor, lang)

    def fire_record(self, actor: Actor, record_id: str, trigger: str, payload: Mapping[str, Any],
                    lang: str) -> Doc:
        record = self._visible_record(actor, record_id, lang)
        workflow = self.workflow(record["process"], record["workflows"].get(record["process"]))
        return self.fire("record", self.store.records, workflow, record, actor, trigger, payload, lang)

    def history(self, actor: Actor, record_id: str, lang: str) -> list[Doc]:
        return self.events_of(self._visible_record(actor, record_id, lang))

    def events_of(self, record: Doc) -> list[Doc]:
        """The history of a record the caller was already allowed to see (`record()`)."""
        return self.store.history(record["_id"], record.get("outbox"))

    def receipt(self, actor: Actor, record_id: str, lang: str) -> Doc:
        record = self._visible_record(actor, record_id, lang)
        if not record.get("acceptance_number"):
            raise Conflict({"zh-CN": "业务单尚未受理，没有回执",
                            "en": "The record is not accepted yet, so it has no receipt"}[lang],
                           code="not_accepted")
        return record

    def masked(self, record: Doc) -> Doc:
        validator = self.validator(record["form"], record["form_version"])
        return mask_data(record.get("data") or {}, validator.sensitive)
