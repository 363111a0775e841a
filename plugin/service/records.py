"""Records: created from a published form, read under the access rule, edited, moved through
their processes."""
from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from counterflow.core import access
from counterflow.core import pointer as jp
from counterflow.core.approval import data_digest
from counterflow.core.approval import FieldRights
from counterflow.core.changes import attachment_ids, diff, keep_masked, map_changes
from counterflow.core.clock import stamp, utcnow
from counterflow.core.engine import Actor
from counterflow.core.errors import Conflict, Forbidden, Invalid, NotFound
from counterflow.core.roles import STAFF
from counterflow.core.masking import mask_data
from counterflow.forms.walker import fields as declared_fields
from counterflow.security.envelope import (KeyUnavailable, RecordKey, is_sealed, map_leaves, open_tree,
                                           seal_tree)
from counterflow.security.sealing import PLACEHOLDER, PREFIX, Unreadable
from counterflow.service.attachments import AttachmentActions
from counterflow.store import AttachmentStore
from counterflow.store import keys as key_queries
from counterflow.service.base import NOTICE_PLACE, Doc
from counterflow.service.messages import check_revision, msg, new_id
from counterflow.service.reading import acting_roles, read_allowed
from counterflow.service.transitions import Transitions

log = logging.getLogger(__name__)

# how many records' opened data a process keeps (read-only: the data of a record `opened` returns is shared
# with the cache and never changed in place; every change makes new data, so a new ciphertext)
OPENED_KEPT = 512
# the kinds of protected value found by exact search: each record holds the keyed HMAC of its first value of
# each kind in `find_<kind>` (one indexed equality; never an array, never a plain hash)
SEARCHABLE = ("id_number", "phone")
# who may see protected values in full (with a reason; each reveal is logged)
REVEAL_ROLES = frozenset({"manager", "supervisor"})
NOT_PROTECTED = {"zh-CN": "只能查看受保护字段（身份证号、银行卡号等）的完整内容，请列出这些字段",
                 "en": "Only protected fields (ID number, bank card and the like) can be revealed; "
                       "list those"}
NOT_VISIBLE = {"zh-CN": "您无权查看或修改字段 {fields}，请不要提交其内容（已保存的内容会保留）",
               "en": "You may not see or change the field(s) {fields}: send no value for them "
                     "(what is stored is kept)"}
KEY_UNAVAILABLE = {"zh-CN": "此业务单的数据密钥无法解开（主密钥未配置或密钥已销毁），不能修改",
                   "en": "This record's data key cannot be unwrapped (its master key is not configured, or "
                         "the "
                         "key was destroyed), so it cannot be changed"}


class RecordActions(Transitions, AttachmentActions):
    """Business records and their data."""

    @staticmethod
    def can_see(actor: Actor, record: Mapping[str, Any]) -> bool:
        """Record-level access: your department's records, ones you created or are assigned,
        or a records-wide role."""
        return access.can_see(actor, record)

    # -- who sees which field: `x-visible-to` (and, in service/approvals.py, a step's `fields.hidden`) ------

    def visible_to_fields(self, key: str, version: int) -> dict[str, frozenset[str]]:
        """The form version's fields that name who sees them (`x-visible-to`), by pattern pointer; a record's
        form version is published, so never changes: computed once per version."""
        cache: dict[str, dict[str, frozenset[str]]] = self.__dict__.setdefault("_visible_to_fields", {})
        form_id = f"{key}@{version}"
        found = cache.get(form_id)
        if found is None:
            found = {}
            for field in declared_fields(self.form_doc(key, version)["schema"]):
                roles = next((n["x-visible-to"] for n in field.nodes
                              if isinstance(n.get("x-visible-to"), list)), None)
                if roles and field.parts:
                    found[field.pointer] = frozenset(r for r in roles if isinstance(r, str))
            cache[form_id] = found
        return found

    def hidden_fields(self, actor: Actor, record: Mapping[str, Any]) -> list[str]:
        """The fields of `record` that `actor` does not see (pattern pointers)."""
        return access.hidden_fields(actor, self.visible_to_fields(record["form"], record["form_version"]))

    def readable(self, actor: Actor, record: Doc) -> Doc:
        """The record as `actor` may read it: without the fields they do not see (`_hidden` names them; the
        digest an opinion is bound to stays the full data's). The one place every read of a record's data
        (the API, the pages, lists, history, printouts) passes; done once, the answer is kept on the
        record."""
        if "_hidden" in record:
            return record
        record = self.notice_opened(record)
        hidden = self.hidden_fields(actor, record)
        if not hidden:
            return dict(record, _hidden=[])
        return dict(record, data=access.without_fields(record.get("data") or {}, hidden), _hidden=hidden,
                    _data_digest=data_digest(record.get("data")))

    def refuse_hidden_values(self, sent: Any, hidden: list[str], lang: str) -> None:
        """A value sent for a field the sender does not see: 403 naming each field."""
        places = [at for pattern in hidden for at, value in access.values_at(sent, pattern)
                  if not access.blank(value)]
        if places:
            raise _not_visible(places, lang)

    def _visible_record(self, actor: Actor, record_id: str, lang: str, *, acting: bool = False) -> Doc:
        return self.opened(self._visible_stored(actor, record_id, lang, acting=acting))

    def _visible_stored(self, actor: Actor, record_id: str, lang: str, *, acting: bool = False) -> Doc:
        """The record as stored (protected fields sealed), if the caller may see it. `acting`: read to change
        it (an edit, a transition), whose own history event is its audit entry, so no separate read entry."""
        self.require(actor, STAFF, lang)
        if not isinstance(record_id, str) or len(record_id) > 64:
            raise NotFound("no such record", code="record_not_found")
        record = self.store.record(record_id)
        if not read_allowed(self, actor, record, lang, self.can_see(actor, record), log=not acting):
            raise Forbidden(msg("record_access", lang), code="record_access")
        return record

    def opened(self, record: Doc) -> Doc:
        """The record as read from the store, its data decrypted (remembered for the last OPENED_KEPT
        records, while their stored ciphertexts stay the same). A value no configured key opens reads as a
        placeholder and is logged (where, never what): one damaged value must not make the record, or
        every list that holds it, unreadable."""
        stored = record.get("data") or {}
        hit = self._opened.get(record["_id"])
        # the very same ciphertexts under the very same key: their texts are known
        if hit is not None and hit[0] == stored and hit[2] == record.get("data_key"):
            return dict(record, data=hit[1])
        data, unreadable = self.open_data(record)
        if not unreadable:
            self._remember_opened(record["_id"], stored, data, record.get("data_key"))
        else:
            log.error("record %s: %d protected value(s) cannot be decrypted and are shown as a placeholder "
                      "(%s): the key that sealed them is not configured (COUNTERFLOW_ENCRYPTION_KEY) or the "
                      "stored value is damaged", record.get("_id"), len(unreadable),
                      ", ".join(unreadable[:20]))
        return dict(record, data=data)

    def record_key(self, record: Mapping[str, Any]) -> RecordKey:
        """The record's own data key (unwrapped once per process, see Keyring); KeyUnavailable without."""
        return self.keyring.key(record["_id"], record.get("data_key"))

    def _key_or_none(self, record: Mapping[str, Any]) -> RecordKey | None:
        if not record.get("data_key"):
            return None
        try:
            return self.record_key(record)
        except KeyUnavailable as exc:
            log.error("record %s: its data key cannot be unwrapped (%s); its values show as a placeholder",
                      record.get("_id"), exc)
            return None

    def open_data(self, record: Mapping[str, Any], *, marked: bool = False) -> tuple[Any, list[str]]:
        """The record's stored data opened, and the pointers of the values that do not open (each reads as
        `PLACEHOLDER`; with `marked`, as an `Unreadable` that sealing writes back exactly as stored).

        Under a data key every leaf is sealed; a `cf1:` Fernet token (an older version's seal, kept as it
        was) opens with the app-wide keys; a record from before data keys has only its protected fields
        sealed, with those keys."""
        stored = record.get("data") or {}
        unreadable: list[str] = []
        if not record.get("data_key"):             # from before data keys, or its key was destroyed
            sensitive = self.validator(record["form"], record["form_version"]).sensitive
            data, unreadable = self.sealer.open_stored(stored, sensitive, marked=marked)
            lost = open_tree(data, None, lambda at, value: (
                (Unreadable(value) if marked else PLACEHOLDER) if is_sealed(value) else value), unreadable)
            return lost, unreadable
        key = self._key_or_none(record)

        def other(at: str, value: Any) -> Any:
            if is_sealed(value):                      # under the data key, yet it did not open
                return Unreadable(value) if marked else PLACEHOLDER
            if isinstance(value, str) and value.startswith(PREFIX):
                try:
                    return self.sealer.open_one(value)
                except ValueError:
                    unreadable.append(at)
                    return Unreadable(value) if marked else PLACEHOLDER
            return value

        return open_tree(stored, key, other, unreadable), unreadable

    def _writing_key(self, record: Mapping[str, Any], lang: str) -> tuple[RecordKey, Doc]:
        """The key new values of the record are sealed under, and the fields to store with them: its own,
        or (a record from before data keys) a new one."""
        # values sealed under a key the record lost: never a new key over values no one opens
        if record.get("data_key") or _holds_sealed(record.get("data")):
            try:
                return self.record_key(record), {}
            except KeyUnavailable:
                raise Conflict(KEY_UNAVAILABLE[lang], code="record_key_unavailable") from None
        key, wrapped = self.keyring.new_key(record["_id"])
        return key, {"data_key": wrapped, "key_id": self.keyring.current}

    def finders(self, data: Any, sensitive: Mapping[str, str]) -> Doc:
        """`find_<kind>`: the keyed HMAC of the data's first value of each searchable kind (None: none)."""
        found: Doc = {}
        for pattern, kind in sensitive.items():
            if kind in SEARCHABLE and kind not in found:
                values = _values_at(data, jp.split(pattern))
                value = next((v for v in values if isinstance(v, str) and v), None)
                if value is not None:
                    found[kind] = value
        return {f"find_{kind}": self.keyring.finder(kind, found.get(kind)) for kind in SEARCHABLE}

    def sealed_history(self, kind: str, obj: Doc, event: Doc) -> Doc:
        """A record event's change values sealed under the record's key, bound to revision, field and side
        (destroying the key destroys them too)."""
        if kind != "record" or not event.get("changes") or not obj.get("data_key"):
            return event
        try:
            key = self.record_key(obj)
        except KeyUnavailable:
            raise Conflict(KEY_UNAVAILABLE["en"], code="record_key_unavailable") from None
        revision = int(obj.get("revision", 0)) + 1
        return dict(event, changes=map_changes(event["changes"], revision, key.seal))

    def notice_opened(self, record: Doc, found: Any = None) -> Doc:
        """The record (or, with `found`, that object: a history event's details) with its one-time notice
        opened; one that no key opens any more (its key destroyed) reads as none."""
        holder = record if found is None else found
        sealed = holder.get("notice")
        if not is_sealed(sealed):
            return holder
        key = self._key_or_none(record)
        try:
            return dict(holder, notice=key.open(str(sealed), NOTICE_PLACE) if key is not None else None)
        except ValueError:
            return dict(holder, notice=None)

    def notice_opened_event(self, record: Doc, event: Doc) -> Doc:
        details = event.get("details")
        if not (isinstance(details, dict) and is_sealed(details.get("notice"))):
            return event
        return dict(event, details=self.notice_opened(record, details))

    def _opened_events(self, record: Doc, events: list[Doc]) -> list[Doc]:
        events = [self.notice_opened_event(record, e) for e in events]
        if not any(is_sealed(c.get(side)) for e in events for c in e.get("changes") or ()
                   for side in ("old", "new")):
            return events
        key = self._key_or_none(record)

        def open_value(value: Any, where: str) -> Any:
            if not is_sealed(value):
                return value
            try:
                return key.open(value, where) if key is not None else PLACEHOLDER
            except ValueError:
                return PLACEHOLDER

        return [dict(e, changes=map_changes(e["changes"], int(e.get("revision") or 0), open_value))
                if e.get("changes") else e for e in events]

    def _remember_opened(self, record_id: str, stored: Any, data: Any, wrapped: Any) -> None:
        with self._lock:
            if len(self._opened) >= OPENED_KEPT and record_id not in self._opened:
                self._opened.pop(next(iter(self._opened)))
            self._opened[record_id] = (stored, data, wrapped)

    @staticmethod
    def _sealed(key: RecordKey, data: Any) -> Any:
        """Data as it is stored: every value sealed under the record's key, whatever it looks like (a value
        read from the store that no key opened is written back exactly as stored)."""
        return seal_tree(data, key, lambda v: v.stored if isinstance(v, Unreadable) else None)

    def create_record(self, actor: Actor, payload: Mapping[str, Any], lang: str) -> tuple[Doc, list[Doc]]:
        """A draft: one store round trip (the insert) when the data names no attachment; the published
        version and its validator come from the process's caches (`published_version`)."""
        self.require(actor, {"clerk"}, lang)
        form = self.published_version(payload["form"])
        if form is None:
            raise NotFound(msg("no_form", lang, key=payload["form"]), code="form_not_found")
        validator = self.validator(form["key"], form["version"])
        rights = self.visible_to_fields(form["key"], form["version"])
        self.refuse_hidden_values(payload.get("data") or {}, access.hidden_fields(actor, rights), lang)
        data, masked = keep_masked({}, payload.get("data") or {}, validator.sensitive, lang)  # nothing stored
        problems, warnings = validator.check_draft(data, lang)
        files = attachment_ids(data)
        metas: dict[str, Doc] = {}
        refused = [p.to_dict() for p in problems] + masked + self.attachment_problems(actor, data, lang,
                                                                                      ids=files, seen=metas)
        if refused:
            raise Invalid(msg("draft_refused", lang, count=len(refused)), code="invalid_data",
                          details=refused)
        processes = list(form["settings"]["processes"])
        pins = form.get("workflows") or {}             # pinned when the version was published
        flows = {p: self.workflow(p, pins.get(p)) for p in processes}
        at = stamp(utcnow())
        record_id = new_id()
        key, wrapped = self.keyring.new_key(record_id)
        doc = {"_id": record_id, "form": form["key"], "form_version": form["version"],
               "workflows": {p: w.version for p, w in flows.items()}, "processes": processes,
               "process": processes[0], "state": flows[processes[0]].initial, "revision": 0,
               "data": self._sealed(key, data), "data_key": wrapped, "key_id": self.keyring.current,
               **self.finders(data, validator.sensitive), "created_by": actor.id,
               "first_responder": actor.id, "department": actor.department, "assignee": None,
               "state_since": at, "created_at": at, "updated_at": at}
        event = self._event("record", actor, "create", processes[0], "", doc["state"], at=at)
        held = self.hold_attachments(doc["_id"], data, ids=files, key=key, metas=metas)
        if held:
            doc["attachment_keys"] = held
        doc = self.store.insert_record(doc, event)
        self._remember_opened(doc["_id"], doc["data"], data, wrapped)
        doc["data"] = data
        return self.readable(actor, doc), [w.to_dict() for w in warnings]

    def step_field_rights(self, actor: Actor, record: Mapping[str, Any]) -> FieldRights | None:
        """What `actor` may change of the record's data when an approval step limits it (ApprovalActions);
        None: the record's ordinary rights."""
        return None

    def record(self, actor: Actor, record_id: str, lang: str) -> Doc:
        return self.readable(actor, self._visible_record(actor, record_id, lang))

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
            # the date the clock moves (a pause, an extension), on the installation's clock
            query["due_at"] = {"$lt": utcnow().astimezone(self.tz).date().isoformat()}
            timed = sorted({(w.key, s) for w in self.record_workflows() for s in w.states if w.clock_runs(s)})
            alternatives = [dict(query, process=p, state=s) for p, s in timed
                            if query.get("process", p) == p and query.get("state", s) == s]
        for kind in SEARCHABLE:          # exact search: one indexed equality on the keyed HMAC per master key
            if filters.get(kind):
                found = self.keyring.finders(kind, filters[kind])
                alternatives = [dict(q, **{f"find_{kind}": h}) for q in alternatives for h in found]
        if not access.sees_everything(actor):
            alternatives = [dict(q, **clause) for q in alternatives for clause in access.clauses(actor)
                            if all(q.get(k, v) == v for k, v in clause.items())]
        if not alternatives:
            return []
        searched = [kind for kind in SEARCHABLE if filters.get(kind)]
        if not searched:
            return [self._listed(actor, r) for r in self.store.list_records(alternatives, limit, after)]
        # a search by a protected value lists only records in which the searcher sees the field it matched:
        # a hit on a field hidden from them would confirm its value (left out, as if it did not match); the
        # pages go on past the records left out, so a page is full while any record is left to list
        listed: list[Doc] = []
        while len(listed) < limit:
            batch = self.store.list_records(alternatives, limit, after)
            listed += [self._listed(actor, r) for r in batch if self._found_field_seen(actor, r, searched)]
            if len(batch) < limit:
                break
            after = batch[-1]["listed"]
        return listed[:limit]

    def _found_field_seen(self, actor: Actor, record: Doc, kinds: list[str]) -> bool:
        """Whether `actor` sees, in `record`, the field of each of `kinds` its `find_<kind>` was taken from
        (the first value of the kind, as `finders` takes it)."""
        hidden = self.hidden_fields(actor, record)
        if not hidden:
            return True
        sensitive = self.validator(record["form"], record["form_version"]).sensitive
        data = self.opened(record).get("data") or {}
        for kind in kinds:
            source = next((pattern for pattern, k in sensitive.items() if k == kind and any(
                isinstance(v, str) and v for v in _values_at(data, jp.split(pattern)))), None)
            if source is None or any(access.under(source, h) for h in hidden):
                return False
        return True

    def _listed(self, actor: Actor, record: Doc) -> Doc:
        """A record as a list shows it: in a state flagged `reading: granted` (archived) it lists without its
        data for anyone but records staff and the roles its process names there; others read it with a
        grant, one record at a time (each read logged), never through a list."""
        workflow = self.workflow(record["process"], (record.get("workflows") or {}).get(record["process"]))
        if access.reading_restricted(workflow.states.get(record["state"], {})) and not (
                access.records_staff(actor) or actor.roles & acting_roles(workflow, record["state"])):
            return dict(record, data={}, notice=None)
        return self.readable(actor, self.opened(record))

    def edit_record(self, actor: Actor, record_id: str, payload: Mapping[str, Any],
                    lang: str) -> tuple[Doc, list[Doc]]:
        stored = self._visible_stored(actor, record_id, lang, acting=True)
        record = self.opened(stored)
        # a value sent for a field the editor does not see (`x-visible-to`, a step's `fields.hidden`) is
        # refused, before anything else; the same one path as every read (`hidden_fields`)
        unseen = self.hidden_fields(actor, record)
        self.refuse_hidden_values(payload.get("data"), unseen, lang)
        rights = self.step_field_rights(actor, record)     # a step's people: the step's fields, nothing else
        if rights is None:
            self.require(actor, {"clerk", "reviewer"}, lang)
        else:                                         # what the step hides from them is not sent: kept
            payload = dict(payload, data=rights.filled(payload.get("data"), record.get("data")))
        check_revision(record, payload, lang)
        workflow = self.workflow(record["process"], record["workflows"].get(record["process"]))
        in_intake = workflow.is_editable(record["state"])      # a draft; elsewhere an edit is a correction
        if workflow.is_read_only(record["state"]):
            raise Conflict(msg("read_only", lang, state=workflow.state_title(record["state"], lang)),
                           code="read_only")
        validator = self.validator(record["form"], record["form_version"])
        # masked values sent back stand for the stored ones; one no key opens stays exactly as stored
        before, _ = self.open_data(stored, marked=True)
        sent = payload["data"]
        if unseen:                                        # what the editor does not see stays as stored
            sent = access.restore_fields(sent, before, unseen)
        kept, masked = keep_masked(before, sent, validator.sensitive, lang)
        data = map_leaves(kept, lambda v: PLACEHOLDER if isinstance(v, Unreadable) else v)
        if rights is not None:
            outside = rights.problems(diff(record.get("data") or {}, data, validator.sensitive), lang)
            if outside:
                raise Forbidden(rights.refusal(outside, lang), code=outside[0]["code"], details=outside)
        problems, warnings = validator.check_draft(data, lang)
        metas: dict[str, Doc] = {}
        refused = ([p.to_dict() for p in problems] + masked +
                   self.attachment_problems(actor, data, lang, known=record.get("data"), seen=metas))
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
        if not changes:                                           # nothing changed: no new revision
            return self.readable(actor, record), [w.to_dict() for w in warnings]
        key, fields = self._writing_key(stored, lang)
        about: dict[str, Any] = {"details": {"step": rights.state}} if rights is not None else {}
        event = self._event("record", actor, "edit" if in_intake else "correct", record["process"],
                            record["state"], record["state"], reason,
                            changes=map_changes(changes, int(record.get("revision", 0)) + 1, key.seal),
                            **about)
        held = self.hold_attachments(record["_id"], data, known=record.get("data"), key=key, metas=metas)
        if held:
            fields["attachment_keys"] = dict(stored.get("attachment_keys") or {}, **held)
        sealed = self._sealed(key, kept)
        fields.update(self.finders(data, validator.sensitive), data=sealed)
        updated = self.store.commit(self.store.records, record, fields, event)
        if data == kept:                              # no unreadable value kept as stored
            self._remember_opened(record["_id"], sealed, data, fields.get("data_key", stored.get("data_key")))
        return self.readable(actor, dict(updated, data=data)), [w.to_dict() for w in warnings]

    def record_options(self, actor: Actor, record_id: str, lang: str) -> list[Doc]:
        return self.options_for(actor, self._visible_record(actor, record_id, lang), lang)

    def options_for(self, actor: Actor, record: Doc, lang: str) -> list[Doc]:
        """The triggers from a record the caller was already allowed to see (`record()`); guards judge the
        whole data, also the fields the caller does not see."""
        if record.get("_hidden"):
            record = self.opened(self.store.record(record["_id"]))
        workflow = self.workflow(record["process"], record["workflows"].get(record["process"]))
        return self.options_on(workflow, record, actor, lang)

    def fire_record(self, actor: Actor, record_id: str, trigger: str, payload: Mapping[str, Any],
                    lang: str) -> Doc:
        record = self._visible_record(actor, record_id, lang, acting=True)
        workflow = self.workflow(record["process"], record["workflows"].get(record["process"]))
        return self.readable(actor, self.fire("record", self.store.records, workflow, record, actor, trigger,
                                              payload, lang))

    def history(self, actor: Actor, record_id: str, lang: str) -> list[Doc]:
        return self.events_of(self.readable(actor, self._visible_record(actor, record_id, lang)))

    def events_of(self, record: Doc) -> list[Doc]:
        """The history of a record the caller was already allowed to see (`record()`), without the changes of
        the fields they do not see."""
        events = self.store.history(record["_id"], record.get("outbox"))
        hidden = record.get("_hidden") or ()
        if hidden:
            events = [dict(e, changes=[c for c in e["changes"] if not any(
                access.under(str(c.get("path", "")), p) for p in hidden)]) if e.get("changes") else e
                for e in events]
        return self._opened_events(record, events)

    def printable(self, actor: Actor, record_id: str, lang: str) -> Doc:
        """A record for a printout (receipt, notice, decision): a copy, so a record in a state flagged
        `reading: granted` prints for records staff and the roles its process names there only; a grant
        reads on screen, under its watermark, and copies nothing."""
        record = self.readable(actor, self._visible_record(actor, record_id, lang))
        workflow = self.workflow(record["process"], (record.get("workflows") or {}).get(record["process"]))
        if access.reading_restricted(workflow.states.get(record["state"], {})) and not (
                access.records_staff(actor) or actor.roles & acting_roles(workflow, record["state"])):
            raise Forbidden({"zh-CN": "已归档业务单凭查阅授权只能在屏幕上查阅，不能打印或复制",
                             "en": "An archived record is read on screen under a reading grant; it cannot be "
                                   "printed or copied"}[lang], code="no_copy_of_archive")
        return record

    def receipt(self, actor: Actor, record_id: str, lang: str) -> Doc:
        record = self.printable(actor, record_id, lang)
        if not record.get("acceptance_number"):
            raise Conflict({"zh-CN": "业务单尚未受理，没有回执",
                            "en": "The record is not accepted yet, so it has no receipt"}[lang],
                           code="not_accepted")
        return record

    def reveal(self, actor: Actor, record_id: str, payload: Mapping[str, Any], lang: str) -> Doc:
        """Protected values in full, for a permitted role, with a reason; every reveal is in the audit log
        (who, which record, which fields by pointer, why; never the values)."""
        self.require(actor, REVEAL_ROLES, lang)
        reason = payload.get("reason")
        if not (isinstance(reason, str) and reason.strip()):
            raise Invalid(msg("reason", lang), code="reason_required",
                          details=[{"path": "/reason", "code": "required", "message": msg("reason", lang)}])
        record = self._visible_record(actor, record_id, lang)
        sensitive = self.validator(record["form"], record["form_version"]).sensitive
        wanted = list(dict.fromkeys(payload.get("fields") or ()))
        hidden = self.hidden_fields(actor, record)
        unseen = [p for p in wanted if isinstance(p, str) and p.startswith("/") and any(
            access.under(p, h) for h in hidden)]
        if unseen:
            raise _not_visible(unseen, lang)
        problems = [{"path": f"/fields/{i}", "code": "not_protected", "message": NOT_PROTECTED[lang]}
                    for i, pointer in enumerate(wanted)
                    if not any(jp.matches(pointer, pattern) for pattern in sensitive)]
        if problems or not wanted:
            raise Invalid(NOT_PROTECTED[lang], code="invalid_fields", details=problems or [
                {"path": "/fields", "code": "required", "message": NOT_PROTECTED[lang]}])
        values = {}
        for pointer in wanted:
            found = _values_at(record.get("data") or {}, jp.split(pointer))
            values[pointer] = found[0] if found else None
        audit = getattr(self, "audit", None)           # the audit log (ServiceBase.audit), where there is one
        if callable(audit):
            audit("reveal", actor, object_id=record["_id"], reason=reason.strip()[:500],
                  details={"fields": wanted})
        else:                                          # else the record's own history keeps it
            event = self._event("record", actor, "reveal", record["process"], record["state"],
                                record["state"], reason.strip()[:500], details={"fields": wanted})
            event.update(_id=f"{record['_id']}:{record.get('revision', 0)}:reveal:{new_id()}",
                         object_id=record["_id"], revision=record.get("revision", 0))
            self.store.add_event(event)
        return {"id": record["_id"], "values": values}

    def rotate_keys(self, batch: int = 500, max_batches: int | None = None,
                    progress: Callable[[str], None] | None = None) -> Doc:
        """Rewrap every data key wrapped by an older master key under the first (current) one, batch by
        batch, while the service runs: data, revision and history stay as they are (the data key itself
        does not change), and the search fields are computed afresh under the current key. Stops after
        `max_batches` (None: when done); running it again resumes, since a rewrapped record is no longer
        under an old key."""
        ring, say = self.keyring, progress or (lambda line: None)
        counts = {"rewrapped": 0, "attachments": 0, "skipped": 0, "batches": 0, "done": False}
        for kid in ring.order[1:]:
            total, seen, after = key_queries.count_under(self.store, kid), 0, None
            say(f"master key {kid}: {total} record(s) to rewrap under {ring.current}")
            while True:
                if max_batches is not None and counts["batches"] >= max_batches:
                    return counts
                docs = key_queries.records_under(self.store, kid, after, batch)
                if not docs:
                    break
                counts["batches"] += 1
                for doc in docs:
                    after, seen = doc["listed"], seen + 1
                    counts[self._rewrap_one(doc)] += 1
                say(f"master key {kid}: {seen} of {total} record(s) done "
                    f"({counts['rewrapped']} rewrapped, {counts['skipped']} skipped)")
            files = AttachmentStore(self.store)
            while True:           # attachments no record holds yet: each rewrapped or passed, never twice
                if max_batches is not None and counts["batches"] >= max_batches:
                    return counts
                docs = files.under_key(kid, batch)
                moved = 0
                for doc in docs:
                    try:
                        new = ring.rewrap(doc["_id"], doc["data_key"])
                    except KeyUnavailable:
                        continue
                    moved += files.rewrap(doc["_id"], doc["data_key"], new, ring.current)
                counts["batches"] += 1
                counts["attachments"] += moved
                if not moved:
                    break
                say(f"master key {kid}: {counts['attachments']} attachment(s) rewrapped")
        counts["done"] = True
        return counts

    def _rewrap_one(self, doc: Doc) -> str:
        wrapped = doc.get("data_key")
        if not wrapped:                                  # its key was destroyed: nothing to rewrap
            key_queries.forget_key_id(self.store, doc["_id"])
            return "skipped"
        try:
            key = self.keyring.key(doc["_id"], wrapped)
        except KeyUnavailable:
            log.error("record %s: its data key does not unwrap under master key %s; left as it is",
                      doc["_id"], self.keyring.kid_of(wrapped))
            return "skipped"
        fields: Doc = {"data_key": self.keyring.wrap(key.raw, doc["_id"]), "key_id": self.keyring.current}
        sensitive = self.validator(doc["form"], doc["form_version"]).sensitive
        if any(kind in SEARCHABLE for kind in sensitive.values()):
            data, _ = self.open_data(doc)
            fields.update(self.finders(data, sensitive))
        if not key_queries.rewrap_record(self.store, doc["_id"], wrapped, fields):
            return "skipped"                             # rewrapped or destroyed meanwhile
        self.keyring.forget(wrapped)
        return "rewrapped"

    def masked(self, record: Doc) -> Doc:
        validator = self.validator(record["form"], record["form_version"])
        return mask_data(record.get("data") or {}, validator.sensitive)


def _not_visible(places: list[str], lang: str) -> Forbidden:
    """403 naming each field (pointer) the caller does not see yet sent a value for, or asked to reveal."""
    text = NOT_VISIBLE.get(lang, NOT_VISIBLE["zh-CN"]).format(fields=", ".join(places[:20]))
    return Forbidden(text, code="field_not_visible",
                     details=[{"path": at, "code": "field_not_visible", "message": text} for at in places])


def _values_at(node: Any, parts: list[str]) -> list[Any]:
    """The values at a pattern pointer (`*`: every element), in document order."""
    if not parts:
        return [node]
    head, rest = parts[0], parts[1:]
    if head == jp.WILDCARD and isinstance(node, list):
        return [v for item in node for v in _values_at(item, rest)]
    if isinstance(node, dict) and head in node:
        return _values_at(node[head], rest)
    if isinstance(node, list) and head.isdigit() and int(head) < len(node):
        return _values_at(node[int(head)], rest)
    return []


def _holds_sealed(data: Any) -> bool:
    if isinstance(data, dict):
        return any(_holds_sealed(v) for v in data.values())
    if isinstance(data, list):
        return any(_holds_sealed(v) for v in data)
    return is_sealed(data)
