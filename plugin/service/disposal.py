"""Destruction lists (销毁清单): the disposition list, proposing, amending, approving and executing a list item
by item (resumable), and the signed destruction certificate.

A list is a record of the shipped form `destruction-list`; its process (workflows/destruction.yaml) decides
who approves, the cooling-off period and who executes, through flags: a state `amendable_by` roles may
remove items or change an item's retention, an `editable` one may also take new items, one flagged
`disposes` is executed item by item, and a record destroyed is left in a state flagged `tombstone`.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import threading
from typing import Any, Callable, Mapping, Sequence

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from counterflow.core.changes import ATTACHMENT_ID, attachment_ids
from counterflow.core.clock import stamp, utcnow
from counterflow.core.engine import Actor, Workflow
from counterflow.core.errors import Conflict, Forbidden, Invalid, NotFound
from counterflow.core.i18n import message, text
from counterflow.security.signing import Signer, canonical, load_public_key
from counterflow.service.base import Doc
from counterflow.service.messages import msg, new_id
from counterflow.service.records import RecordActions
from counterflow.settings import Settings
from counterflow.store import Store
from counterflow.store.disposal import DisposalStore, item_id

log = logging.getLogger(__name__)

LIST_FORM = "destruction-list"              # the shipped form whose records are destruction lists
DISPOSAL_ROLES = frozenset({"archivist", "manager", "dept_head", "supervisor", "auditor"})
EARLY_REASONS = ("error", "duplicate")      # made in error, or a duplicate: may be destroyed before its time
APPROVER_DUTIES = ("destruction_approver", "co_approver")     # the two approvals a certificate names
STATUSES = ("listed", "removed", "blocked", "shredded")
BATCH = 200
LEASE_SECONDS = 300
MAX_ITEMS_PER_CALL = 5000
METHOD = {"code": "crypto_shredding",
          "zh-CN": "销毁记录数据密钥，删除记录数据、历史内容与附件，保留目录（墓碑）",
          "en": "The record's data key is shredded; its data, history contents and attachments are removed; "
                "a tombstone keeps its catalogue entry"}

MESSAGES = {
    "no_list": {"zh-CN": "没有此销毁清单", "en": "There is no such destruction list"},
    "not_amendable": {"zh-CN": "清单在「{state}」状态下，您不能增删条目或调整保存期限",
                      "en": "While the list is '{state}' you may not add, remove or re-date its items"},
    "not_author": {"zh-CN": "只有清单的编制人可以加入业务单", "en": "Only the list's author adds records to it"},
    "not_addable": {"zh-CN": "只有编制中的清单可以加入业务单", "en": "Records are added only while the list is drawn up"},
    "ineligible": {"zh-CN": "有 {count} 件业务单不能列入清单", "en": "{count} record(s) cannot be put on the list"},
    "gone": {"zh-CN": "业务单不存在", "en": "The record does not exist"},
    "already_destroyed": {"zh-CN": "业务单已销毁", "en": "The record is destroyed already"},
    "held": {"zh-CN": "业务单被冻结（法律保全），不能销毁", "en": "The record is under a legal hold and cannot be destroyed"},
    "retention": {"zh-CN": "保存期限未满（至 {until}），除误建、重复业务单外不能销毁",
                  "en": "Its retention runs until {until}; only a record made in error or duplicated "
                        "may go earlier"},
    "listed_elsewhere": {"zh-CN": "业务单已在另一份未完成的销毁清单中", "en": "The record is on another open list"},
    "is_list": {"zh-CN": "销毁清单本身不能列入销毁清单", "en": "A destruction list cannot itself be destroyed"},
    "not_closed": {"zh-CN": "业务单 {record} 处于「{where}」，尚未归档或办结，不能销毁"
                            "（提前销毁同样须先归档或办结）",
                   "en": "Record {record} is at '{where}': it is neither archived nor closed, so it "
                         "cannot be destroyed (an early destruction too waits until it is archived or "
                         "closed)"},
    "early_reason": {"zh-CN": "提前销毁须说明原因（误建 error 或重复 duplicate）并填写理由",
                     "en": "An early destruction needs its cause (error or duplicate) and a reason"},
    "amend_reason": {"zh-CN": "请填写理由", "en": "Give a reason"},
    "no_item": {"zh-CN": "清单中没有此业务单", "en": "The record is not on this list"},
    "item_done": {"zh-CN": "此条目已处理", "en": "This item is settled already"},
    "retain_date": {"zh-CN": "新的保存期限须为今天之后的日期（YYYY-MM-DD）",
                    "en": "The new retention date must be a day after today (YYYY-MM-DD)"},
    "not_executing": {"zh-CN": "清单尚未进入执行", "en": "The list is not being executed"},
    "running": {"zh-CN": "此清单正在另一处执行", "en": "The list is being executed elsewhere"},
    "no_certificate": {"zh-CN": "清单尚未完成，没有销毁证明", "en": "The list is not finished, so it has no certificate"},
}


def _m(code: str, lang: str, **params: Any) -> str:
    return message(MESSAGES, code, lang, **params)


def _problem(path: str, code: str, lang: str, **params: Any) -> dict[str, str]:
    return {"path": path, "code": code, "message": _m(code, lang, **params)}


class DisposalActions(RecordActions):
    """Destruction lists through their process, the runner, and certificates."""

    def __init__(self, store: Store, settings: Settings, secret: str) -> None:
        super().__init__(store, settings, secret)
        self.disposal = DisposalStore(store)
        self._certificate_signer = Signer.from_settings(settings.signing_key, secret)
        self._dsp_with_attachments: dict[str, bool] = {}

    # -- small helpers ---------------------------------------------------------------------------------

    def certificate_signer(self) -> Signer:
        found = getattr(self, "signer", None)       # the audit log's signer, once the service has one
        return found if isinstance(found, Signer) else self._certificate_signer

    def _dsp_audit(self, action: str, actor: Actor, **fields: Any) -> None:
        audit = getattr(self, "audit", None)
        if callable(audit):
            audit(action, actor, **fields)

    def _dsp_today(self) -> str:
        return utcnow().astimezone(self.tz).date().isoformat()

    def _dsp_list(self, actor: Actor, list_id: str, lang: str) -> Doc:
        self.require(actor, DISPOSAL_ROLES, lang)
        if not isinstance(list_id, str) or len(list_id) > 64:
            raise NotFound(_m("no_list", lang), code="list_not_found")
        doc = self.disposal.record(list_id)
        if doc is None or doc.get("form") != LIST_FORM:
            raise NotFound(_m("no_list", lang), code="list_not_found")
        return doc

    def _dsp_flow(self, doc: Mapping[str, Any]) -> Workflow:
        return self.workflow(doc["process"], doc["workflows"].get(doc["process"]))

    def _dsp_flag(self, doc: Mapping[str, Any], flag: str) -> Any:
        return self._dsp_flow(doc).states.get(doc["state"], {}).get(flag)

    def _dsp_has_attachments(self, form: str, version: int) -> bool:
        key = f"{form}@{version}"
        if key not in self._dsp_with_attachments:
            schema = self.form_doc(form, version)["schema"]
            self._dsp_with_attachments[key] = '"attachment"' in json.dumps(schema)
        return self._dsp_with_attachments[key]

    # -- views -------------------------------------------------------------------------------------------

    def destruction_view(self, doc: Doc, lang: str) -> Doc:
        flow = self._dsp_flow(doc)
        counts = {s: self.disposal.count(doc["_id"], s) for s in STATUSES}
        data = doc.get("data") or {}
        view = {"id": doc["_id"], "number": doc.get("acceptance_number"), "title": data.get("title", ""),
                "note": data.get("note", ""), "method": data.get("method") or METHOD["code"],
                "state": doc["state"], "state_title": flow.state_title(doc["state"], lang),
                "revision": doc.get("revision", 0), "created_by": doc.get("created_by"),
                "created_at": doc.get("created_at"), "signatures": doc.get("signatures") or [],
                "counts": counts, "total": sum(counts.values()) - counts["removed"],
                "amendable_by": list(flow.states.get(doc["state"], {}).get("amendable_by") or []),
                "adding": flow.is_editable(doc["state"]),
                "executing": bool(flow.states.get(doc["state"], {}).get("disposes")),
                "completed_at": doc.get("disposal_completed_at"), "certificate": doc.get("certificate_id"),
                "cooling_off_until": None}
        if flow.states.get(doc["state"], {}).get("cooling_off"):
            view["cooling_off_until"] = self.cooling_off_until(doc)
        return view

    def cooling_off_until(self, doc: Mapping[str, Any]) -> str:
        since = dt.datetime.fromisoformat(str(doc.get("state_since")).replace("Z", "+00:00"))
        return stamp(since + dt.timedelta(days=self.settings.destruction_cooling_off_days))

    def list_destructions(self, actor: Actor, limit: int, after: str | None, lang: str) -> list[Doc]:
        self.require(actor, DISPOSAL_ROLES, lang)
        lists = self.store.list_records({"form": LIST_FORM}, limit, after)
        return [self.destruction_view(d, lang) for d in lists]

    def destruction(self, actor: Actor, list_id: str, lang: str) -> Doc:
        doc = self._dsp_list(actor, list_id, lang)
        view = self.destruction_view(doc, lang)
        view["options"] = self.options_on(self._dsp_flow(doc), doc, actor, lang)
        return view

    def destruction_items(self, actor: Actor, list_id: str, status: str, limit: int, lang: str) -> list[Doc]:
        doc = self._dsp_list(actor, list_id, lang)
        return self.disposal.items_of(doc["_id"], status if status in STATUSES else "listed", limit)

    def disposition(self, actor: Actor, lang: str, *, form: str | None = None, before: str | None = None,
                    limit: int = 100, after: str = "") -> list[Doc]:
        """Records whose retention has ended and that no hold keeps, oldest first (what may be listed)."""
        self.require(actor, DISPOSAL_ROLES, lang)
        return [{"id": r["_id"], "number": r.get("acceptance_number"), "form": r["form"],
                 "form_version": r["form_version"], "process": r["process"], "state": r["state"],
                 "retention_until": r.get("retention_until"), "created_at": r.get("created_at")}
                for r in self.disposal.disposable(self._dsp_today(), limit, form=form, before=before,
                                                  after=after)
                if self._dsp_not_resting(r, lang) is None]

    # -- proposing and amending -------------------------------------------------------------------------

    def create_destruction_list(self, actor: Actor, payload: Mapping[str, Any], lang: str) -> Doc:
        self.require(actor, {"archivist"}, lang)
        form = self.published_version(LIST_FORM)
        if form is None:
            raise NotFound(msg("no_form", lang, key=LIST_FORM), code="form_not_found")
        data = {k: payload[k] for k in ("title", "method", "note") if payload.get(k) is not None}
        data.setdefault("method", METHOD["code"])
        problems, _ = self.validator(form["key"], form["version"]).check_draft(data, lang)
        if problems:
            raise Invalid(msg("draft_refused", lang, count=len(problems)), code="invalid_data",
                          details=[p.to_dict() for p in problems])
        processes = list(form["settings"]["processes"])
        flows = {p: self.workflow(p) for p in processes}
        at = stamp(utcnow())
        doc = {"_id": new_id(), "form": form["key"], "form_version": form["version"],
               "workflows": {p: w.version for p, w in flows.items()}, "processes": processes,
               "process": processes[0], "state": flows[processes[0]].initial, "revision": 0, "data": data,
               "created_by": actor.id, "first_responder": actor.id, "department": actor.department,
               "assignee": None, "state_since": at, "created_at": at, "updated_at": at, "signatures": []}
        event = self._event("record", actor, "create", processes[0], "", doc["state"], at=at)
        doc = self.store.insert_record(doc, event)
        self._dsp_audit("destruction.list_created", actor, object_id=doc["_id"],
                        details={"title": data["title"]})
        return self.destruction_view(doc, lang)

    def _dsp_amendable(self, actor: Actor, doc: Doc, lang: str, *, adding: bool = False) -> None:
        flow = self._dsp_flow(doc)
        roles = set(flow.states.get(doc["state"], {}).get("amendable_by") or ())
        if not (actor.roles & roles):
            raise Conflict(_m("not_amendable", lang, state=flow.state_title(doc["state"], lang)),
                           code="not_amendable")
        if adding and not flow.is_editable(doc["state"]):
            raise Conflict(_m("not_addable", lang), code="not_addable")
        if adding and doc.get("created_by") != actor.id:     # the author (the creator part) draws it up
            raise Forbidden(_m("not_author", lang), code="not_list_author")

    def add_destruction_items(self, actor: Actor, list_id: str, payload: Mapping[str, Any], lang: str) -> Doc:
        """Put records on a list being drawn up: by id (each with an optional note) and/or by a search of
        the disposition list. Early destruction (made in error, duplicated) needs its cause and a reason.
        Every record that cannot go on the list is reported at once, and then none is added."""
        doc = self._dsp_list(actor, list_id, lang)
        self._dsp_amendable(actor, doc, lang, adding=True)
        early = payload.get("early")
        if early is not None and not (isinstance(early, Mapping) and early.get("cause") in EARLY_REASONS
                                      and isinstance(early.get("reason"), str) and early["reason"].strip()):
            raise Invalid(_m("early_reason", lang), code="early_reason",
                          details=[_problem("/early", "early_reason", lang)])
        notes: dict[str, str] = {}
        for entry in payload.get("records") or []:
            notes[entry["id"]] = str(entry.get("note") or "")[:500]
        search = payload.get("search")
        if search:
            limit = min(int(search.get("limit") or 1000), MAX_ITEMS_PER_CALL)
            found = self.disposal.disposable(self._dsp_today(), limit, form=search.get("form"),
                                             before=search.get("retention_before"))
            for r in found:
                notes.setdefault(r["_id"], str(search.get("note") or "")[:500])
        ids = list(notes)[:MAX_ITEMS_PER_CALL]
        records = {r["_id"]: r for r in self.disposal.records(ids, fields={"outbox": 0, "data": 0})}
        today, at = self._dsp_today(), stamp(utcnow())
        problems, items = [], []
        for i, record_id in enumerate(ids):
            problem = self._dsp_ineligible(records.get(record_id), doc["_id"], early is not None, today, lang)
            if problem:
                problems.append(_problem(f"/records/{i}", problem[0], lang, **problem[1]))
                continue
            r = records[record_id]
            items.append({"_id": item_id(doc["_id"], record_id), "list": doc["_id"], "record": record_id,
                          "status": "listed", "list_status": f"{doc['_id']}:listed",
                          "record_status": f"{record_id}:listed", "note": notes[record_id],
                          "number": r.get("acceptance_number"), "form": r["form"],
                          "retention_until": r.get("retention_until"),
                          "early": ({"cause": early["cause"], "reason": early["reason"].strip()[:2000]}
                                    if early else None),
                          "added_by": actor.public(), "added_at": at})
        if problems and not search:
            raise Invalid(_m("ineligible", lang, count=len(problems)), code="ineligible", details=problems)
        added = self.disposal.insert_items(items)
        self._dsp_audit("destruction.items_added", actor, object_id=doc["_id"],
                        details={"added": added, "early": early["cause"] if early else None})
        view = self.destruction_view(doc, lang)
        view["added"], view["skipped"] = added, problems
        return view

    def _dsp_ineligible(self, record: Doc | None, list_id: str, early: bool, today: str,
                        lang: str) -> tuple[str, dict[str, Any]] | None:
        if record is None:
            return "gone", {}
        if record.get("form") == LIST_FORM:
            return "is_list", {}
        if record.get("destroyed_at"):
            return "already_destroyed", {}
        if record.get("legal_hold"):
            return "held", {}
        resting = self._dsp_not_resting(record, lang)
        if resting is not None:
            return resting
        until = record.get("retention_until")
        if not early and not (until and until <= today):
            return "retention", {"until": until or "—"}
        other = self.disposal.listed_elsewhere(record["_id"])
        if other is not None and other["list"] != list_id:
            return "listed_elsewhere", {}
        return None

    def _dsp_not_resting(self, record: Mapping[str, Any], lang: str) -> tuple[str, dict[str, Any]] | None:
        """None when the record's process has brought it to rest where it may be destroyed, early or not: a
        state flagged `archival`, or a final state that ends the record (closed: withdrawn, declined, a
        closed complaint) and is not a tombstone. Flags only: no process or state is named here."""
        process, state = record.get("process") or "", record.get("state") or ""
        try:
            flow = self.workflow(process, (record.get("workflows") or {}).get(process))
        except NotFound:
            flow = None
        flags = dict(flow.states.get(state, {})) if flow is not None else {}
        if flow is not None and not flags.get("archival"):
            # a record pinned to a version from before the flag: its process's latest version says it too
            latest = self.workflow(process)
            flags["archival"] = bool(latest.states.get(state, {}).get("archival"))
        if flags.get("archival") or (flags.get("final") and flags.get("ends_record")
                                     and not flags.get("tombstone")):
            return None
        where = (f"{text(flow.title, lang) or process} / {flow.state_title(state, lang)}" if flow is not None
                 else f"{process} / {state}")
        return "not_closed", {"record": record.get("acceptance_number") or record.get("_id"), "where": where}

    def amend_destruction_item(self, actor: Actor, list_id: str, record_id: str, payload: Mapping[str, Any],
                               lang: str) -> Doc:
        """Remove an item, or keep the record longer (a new retention date): each with a reason."""
        doc = self._dsp_list(actor, list_id, lang)
        self._dsp_amendable(actor, doc, lang)
        reason = payload.get("reason")
        if not (isinstance(reason, str) and reason.strip()):
            raise Invalid(_m("amend_reason", lang), code="reason_required",
                          details=[_problem("/reason", "amend_reason", lang)])
        item = self.disposal.item(doc["_id"], record_id) if isinstance(record_id, str) else None
        if item is None:
            raise NotFound(_m("no_item", lang), code="item_not_found")
        if item["status"] != "listed":
            raise Conflict(_m("item_done", lang), code="item_settled")
        at = stamp(utcnow())
        change = {"by": actor.public(), "at": at, "reason": reason.strip()[:2000],
                  "action": payload["action"]}
        if payload["action"] == "retain":
            until = payload.get("retention_until")
            if not (isinstance(until, str) and len(until) == 10 and until > self._dsp_today()):
                raise Invalid(_m("retain_date", lang), code="retain_date",
                              details=[_problem("/retention_until", "retain_date", lang)])
            self.disposal.retain(record_id, until, at)
            change["retention_until"] = until
        self.disposal.set_item(doc["_id"], record_id, "removed", amended=change)
        what = "destruction.item_" + ("retained" if payload["action"] == "retain" else "removed")
        self._dsp_audit(what, actor, object_id=record_id, reason=change["reason"],
                        details={"list": doc["_id"], **change})
        return self.destruction_view(doc, lang)

    # -- deciding and executing ----------------------------------------------------------------------------

    def destruction_options(self, actor: Actor, list_id: str, lang: str) -> list[Doc]:
        doc = self._dsp_list(actor, list_id, lang)
        return self.options_on(self._dsp_flow(doc), doc, actor, lang)

    def fire_destruction(self, actor: Actor, list_id: str, trigger: str, payload: Mapping[str, Any],
                         lang: str, *, run: bool = True) -> Doc:
        """A decision on the list (submit, approve, cancel, execute: whatever its process offers). When it
        enters a state that `disposes`, the execution starts in the background (`run`), resumable by
        `counterflow destructions run`."""
        doc = self._dsp_list(actor, list_id, lang)
        flow = self._dsp_flow(doc)
        updated = self.fire("record", self.store.records, flow, doc, actor, trigger, payload, lang)
        self._dsp_audit("destruction.decision", actor, object_id=doc["_id"], reason=payload.get("opinion"),
                        details={"trigger": trigger, "from": doc["state"], "to": updated["state"]})
        if run and self._dsp_flag(updated, "disposes"):
            threading.Thread(target=self._dsp_run_quietly, args=(doc["_id"],), daemon=True,
                             name=f"destruction-{doc['_id']}").start()
        return self.destruction_view(updated, lang)

    def _dsp_run_quietly(self, list_id: str) -> None:
        try:
            self.run_destruction(list_id)
        except Exception:                                    # noqa: BLE001 - the CLI resumes it
            log.exception("destruction list %s: the run stopped; resume it with "
                          "`counterflow destructions run %s`", list_id, list_id)

    def run_destruction(self, list_id: str, progress: Callable[[int, int], None] | None = None, *,
                        lang: str = "zh-CN", stop_after: int | None = None) -> Doc:
        """Destroy the list's items still listed, batch by batch (each record in one atomic write that a hold
        or an unexpired retention refuses), then issue the certificate. Safe to repeat and to resume after a
        crash: a record already a tombstone of this list is only finished, never destroyed twice.
        `stop_after` stops (raises) after that many records were shredded: a crash, for tests."""
        doc = self.disposal.record(list_id)
        if doc is None or doc.get("form") != LIST_FORM:
            raise NotFound(_m("no_list", lang), code="list_not_found")
        if not self._dsp_flag(doc, "disposes"):
            raise Conflict(_m("not_executing", lang), code="not_executing")
        holder = new_id()
        now = utcnow()
        lease = stamp(now + dt.timedelta(seconds=LEASE_SECONDS))
        if not self.disposal.claim_run(list_id, holder, stamp(now), lease):
            raise Conflict(_m("running", lang), code="running")
        supervisor = self._dsp_supervisor(doc)
        shredded = 0
        try:
            total = self.disposal.count(list_id, "listed") + self.disposal.count(list_id, "shredded")
            while True:
                batch = self.disposal.next_items(list_id, "listed", BATCH)
                if not batch:
                    break
                shredded += self._dsp_destroy_batch(doc, batch, supervisor, stop_after, shredded)
                later = utcnow() + dt.timedelta(seconds=LEASE_SECONDS)
                self.disposal.claim_run(list_id, holder, stamp(), stamp(later))
                if progress is not None:
                    progress(self.disposal.count(list_id, "shredded"), total)
            return self._dsp_issue_certificate(self.disposal.record(list_id) or doc)
        finally:
            self.disposal.release_run(list_id, holder)

    def _dsp_supervisor(self, doc: Mapping[str, Any]) -> Actor:
        """Who executed the list (the last signature), as whom the destruction of each record is logged."""
        signed = (doc.get("signatures") or [{}])[-1]
        return Actor(signed.get("id", ""), signed.get("username", ""), signed.get("name", ""),
                     frozenset(signed.get("roles") or ()), signed.get("department", ""))

    def _dsp_destroy_batch(self, doc: Doc, batch: Sequence[Doc], supervisor: Actor, stop_after: int | None,
                           shredded: int) -> int:
        list_id, today, at = doc["_id"], self._dsp_today(), stamp(utcnow())
        self.store.copier.flush()           # events queued here reach `events` before the history is deleted
        records = {r["_id"]: r for r in self.disposal.records([i["record"] for i in batch])}
        destroyed: list[str] = []
        count = 0
        for item in batch:
            record = records.get(item["record"])
            if record is not None and record.get("destroyed_at") and \
                    record.get("destruction_list") == list_id:
                self._dsp_finish(record["_id"], item.get("attachments") or ())       # resumed after a crash
                destroyed.append(record["_id"])
                continue
            if record is None or record.get("destroyed_at"):
                code = "gone" if record is None else "already_destroyed"
                self.disposal.set_item(list_id, item["record"], "blocked", outcome={"code": code, "at": at})
                continue
            files = self._dsp_files_of(record)
            if files:
                self.disposal.set_item(list_id, record["_id"], attachments=files)
            if stop_after is not None and shredded + count >= stop_after:
                raise RuntimeError(f"destruction interrupted after {stop_after} record(s) (test crash)")
            if self._dsp_block_unrested(list_id, record, at):
                continue
            if self.disposal.shred(record["_id"], list_id, today=today, early=bool(item.get("early")),
                                   tombstone=self._dsp_tombstone(record, at),
                                   retained_until=record.get("retention_until"),
                                   resting=(record.get("process"), record.get("state"))):
                count += 1
                self._dsp_finish(record["_id"], files)
                destroyed.append(record["_id"])
                self._dsp_audit("destruction.record_destroyed", supervisor, object_id=record["_id"],
                                details={"list": list_id, "number": record.get("acceptance_number"),
                                         "form": record["form"]})
            else:
                self._dsp_refused(list_id, record["_id"], today, at)
        self.disposal.mark_destroyed(list_id, destroyed, at)
        return count

    def _dsp_block_unrested(self, list_id: str, record: Mapping[str, Any], at: str) -> bool:
        """Checked again at execution: a record that left the archive (or never reached it) since it was
        listed is not destroyed; its item says why, in both languages. True if it was blocked."""
        found = self._dsp_not_resting(record, "zh-CN")
        if found is None:
            return False
        code, params = found
        english = self._dsp_not_resting(record, "en") or found
        self.disposal.set_item(list_id, record["_id"], "blocked", outcome={
            "code": code, "at": at, "message": {"zh-CN": _m(code, "zh-CN", **params),
                                                "en": _m(code, "en", **english[1])}})
        return True

    def _dsp_files_of(self, record: Doc) -> list[str]:
        """Every attachment the record holds or held (its data and the changes in its history)."""
        if not self._dsp_has_attachments(record["form"], record["form_version"]):
            return []
        if record.get("data_key"):          # per-record keys: every file the record ever held has a key here
            return list((record.get("attachment_keys") or {}).keys())
        ids = [v for _, v in attachment_ids(self.opened(record).get("data") or {})]
        for event in self.disposal.history_of(record["_id"]):
            for change in event.get("changes") or ():
                for side in ("old", "new", "from", "to"):
                    value = change.get(side) if isinstance(change, Mapping) else None
                    values = value if isinstance(value, list) else [value]
                    ids.extend(v for v in values if isinstance(v, str) and ATTACHMENT_ID.match(v))
        return list(dict.fromkeys(ids))

    def _dsp_finish(self, record_id: str, files: Sequence[str]) -> None:
        self.disposal.delete_history(record_id)
        if files:
            self.disposal.delete_attachments(files, record_id)
        self._opened.pop(record_id, None)

    def _dsp_tombstone(self, record: Doc, at: str) -> Doc:
        """Where the record rests: the first of its processes with a state flagged `tombstone`."""
        fields: Doc = {"destroyed_at": at, "state_since": at, "updated_at": at,
                       "destruction_method": METHOD["code"]}
        for process in record.get("processes") or ():
            flow = self.workflow(process, (record.get("workflows") or {}).get(process))
            resting = flow.states_where("tombstone")
            if resting:
                fields.update(process=process, state=resting[0])
                break
        return fields

    def _dsp_refused(self, list_id: str, record_id: str, today: str, at: str) -> None:
        """The atomic write did not match: say why (a hold, a retention moved, destroyed meanwhile)."""
        now = self.disposal.record(record_id)
        if now is None:
            code = "gone"
        elif now.get("destroyed_at"):
            code = "already_destroyed"
        elif now.get("legal_hold"):
            code = "held"
        elif self._dsp_block_unrested(list_id, now, at):       # it moved between the check and the write
            return
        else:
            code = "retention"
        self.disposal.set_item(list_id, record_id, "blocked", outcome={"code": code, "at": at})

    # -- the certificate -------------------------------------------------------------------------------------

    def _dsp_issue_certificate(self, doc: Doc) -> Doc:
        cert_id = f"cert_{doc['_id']}"
        found = self.disposal.certificate(cert_id)
        if found is not None:
            return found
        at = stamp(utcnow())
        items = self.disposal.items_of(doc["_id"], "shredded", 10_000_000)
        tombstones = {r["_id"]: r for start in range(0, len(items), 1000)
                      for r in self.disposal.records([i["record"] for i in items[start:start + 1000]])}
        records = []
        for item in items:
            t = tombstones.get(item["record"], {})
            records.append({"id": item["record"], "number": t.get("acceptance_number"), "form": t.get("form"),
                            "form_version": t.get("form_version"), "created_at": t.get("created_at"),
                            "accepted_at": t.get("accepted_at"), "retained_until": t.get("retained_until"),
                            "retention_basis": self._dsp_retention_basis(t), "early": item.get("early"),
                            "note": item.get("note") or "", "list": doc["_id"],
                            "destroyed_at": t.get("destroyed_at")})
        others = [{"id": i["record"], "number": i.get("number"), "status": s,
                   "reason": (i.get("outcome") or i.get("amended") or {}).get("code")
                   or (i.get("amended") or {}).get("reason")}
                  for s in ("blocked", "removed") for i in self.disposal.items_of(doc["_id"], s, 100_000)]
        signatures = doc.get("signatures") or []
        author = self.store.user(doc.get("created_by") or "") or {}
        data = doc.get("data") or {}
        certificate = {
            "kind": "destruction_certificate", "id": cert_id,
            "list": {"id": doc["_id"], "number": doc.get("acceptance_number"), "title": data.get("title", ""),
                     "note": data.get("note", "")},
            "method": METHOD,
            "executed_at": next((s["at"] for s in signatures if s.get("duty") == "witness"), None),
            "completed_at": at, "count": len(records), "records": records, "not_destroyed": others,
            "author": {"id": author.get("_id"), "username": author.get("username"),
                       "name": author.get("name"), "roles": author.get("roles") or []},
            "approvers": [s for s in signatures if s.get("duty") in APPROVER_DUTIES],
            "supervisor": next((s for s in signatures if s.get("duty") == "witness"), None)}
        signer = self.certificate_signer()
        envelope = {"certificate": certificate, "algorithm": "Ed25519", "key_id": signer.key_id(),
                    "public_key": signer.public_key_pem()}
        envelope["signature"] = signer.sign(envelope)
        stored = self.disposal.insert_certificate({"_id": cert_id, "list": doc["_id"], "issued_at": at,
                                                   "envelope": envelope})
        self.disposal.set_list(doc["_id"], certificate_id=cert_id, disposal_completed_at=at)
        self._dsp_audit("destruction.certificate_issued", self._dsp_supervisor(doc), object_id=doc["_id"],
                        details={"certificate": cert_id, "count": len(records)})
        return stored

    def _dsp_retention_basis(self, tombstone: Mapping[str, Any]) -> Doc | None:
        if not tombstone.get("form"):
            return None
        settings = self.form_doc(tombstone["form"], tombstone["form_version"]).get("settings", {})
        rule = settings.get("retention") or {}
        return {"years": int(rule.get("years", 5)), "from": rule.get("from")}

    def destruction_certificate(self, actor: Actor, list_id: str, lang: str) -> bytes:
        """The signed certificate as stored, in canonical JSON: the bytes `certificates verify` checks."""
        doc = self._dsp_list(actor, list_id, lang)
        found = self.disposal.certificate(doc.get("certificate_id") or f"cert_{doc['_id']}")
        if found is None:
            raise Conflict(_m("no_certificate", lang), code="no_certificate")
        return canonical(found["envelope"])


def verify_certificate(raw: bytes, public_key_pem: str | None = None) -> tuple[bool, str]:
    """Whether `raw` is a destruction certificate exactly as signed: canonical JSON byte for byte (so no
    byte may change, not even a space), a canonical base64 signature, and a valid Ed25519 signature by its
    key (or by `public_key_pem`, when the verifier knows the key it expects). (ok, what was found)."""
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False, "not valid JSON: the file is damaged or changed"
    if not isinstance(parsed, dict) or not isinstance(parsed.get("certificate"), dict) \
            or not isinstance(parsed.get("signature"), str) or not isinstance(parsed.get("public_key"), str):
        return False, "not a destruction certificate (certificate, public_key and signature are needed)"
    try:
        exact = canonical(parsed)
    except ValueError:
        return False, "holds values no certificate holds: the file was changed"
    if raw.rstrip(b"\n") != exact:
        return False, "the bytes differ from the signed canonical form: the file was changed"
    signature = parsed.pop("signature")
    try:
        decoded = base64.b64decode(signature, validate=True)
        key = load_public_key(public_key_pem or parsed["public_key"])
        signed_by = load_public_key(parsed["public_key"])
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        return False, "the signature or the key is damaged: the file was changed"
    if base64.b64encode(decoded).decode() != signature:
        return False, "the signature is not written the way it was signed: the file was changed"
    if public_key_pem and signed_by.public_bytes_raw() != key.public_bytes_raw():
        return False, "signed by another key than the one given"
    try:
        key.verify(decoded, canonical(parsed))
    except InvalidSignature:
        return False, "the signature does not match the content: the certificate was changed"
    cert = parsed["certificate"]
    return True, (f"certificate {cert.get('id')} verifies: {cert.get('count')} record(s) destroyed, "
                  f"completed {cert.get('completed_at')}, key {parsed.get('key_id')}")
