"""Every read and write of MongoDB, inside the subset that the embedded server keeps intact.

Writes use only: insert_one/insert_many, update_one/find_one_and_update with `$set` of
whole fields or dotted object paths, `$inc`, `$setOnInsert` + upsert, and delete_many.
A transition is one compare-and-set `update_one` on (id, state, revision) that also sets
the event into the object's `outbox`, an object keyed by revision (`$set` of
`outbox.r<revision>`): from that moment the history entry is durable. The event is then
copied into `events` under the id `<object>:<revision>` by a background copier in batches
(so a repeated copy is harmless). An event leaves the outbox only once it is known to be in
`events`: the next transition's compare-and-set `$unset`s the slots the copier has
confirmed and keeps (and re-queues) every other one, so a crash at any moment leaves each
acknowledged event in `events` or in its outbox, where `copy_outboxes` (start-up, `tick`)
finds it.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Iterable, Mapping, Sequence

import pymongo
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from counterflow.core.errors import Conflict, NotFound, StoreUnavailable
from counterflow.core.clock import stamp, utcnow  # noqa: F401  (re-exported)
from counterflow.store.audit import AuditLog
from counterflow.store.copier import EventCopier
from counterflow.store.models import ALL

Doc = dict[str, Any]
log = logging.getLogger(__name__)
# records are listed newest first by this field, the record's id again: a range on `_id` is a full scan on
# the embedded store, a range on a field with an index of its own is not (models.py, the Record indexes)
LIST_KEY = "listed"


class Store:
    """The product's MongoDB database, through a client of its own.

    mongoengine declares the collections, fields and indexes (models.py); the connection is
    this object's, not a process-wide mongoengine alias, so several apps (a portal's tenants,
    a test suite) can live in one process without closing each other's connections.
    """

    def __init__(self, uri: str, db_name: str, *, timeout_ms: int = 5000) -> None:
        self.client: pymongo.MongoClient[Doc] = pymongo.MongoClient(
            uri, tz_aware=True, uuidRepresentation="standard", serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms, appname="counterflow")
        self.db: pymongo.database.Database[Doc] = self.client[db_name]
        self.users = self.db["users"]
        self.forms = self.db["form_versions"]
        self.workflows = self.db["workflow_versions"]
        self.records = self.db["records"]
        self.events = self.db["events"]
        self.counters = self.db["counters"]
        self.returned = self.db["returned_numbers"]
        self.buckets = self.db["rate_buckets"]
        self.attachments = self.db["attachments"]
        self.meta = self.db["meta"]
        self.audit_log = AuditLog(self.db)
        self.copier = EventCopier(self.events, self.audit_log)

    def ensure_indexes(self) -> None:
        """The indexes the models declare, created on this store's database."""
        for model in ALL:
            collection = self.db[model._get_collection_name()]
            for spec in model._meta["index_specs"]:
                collection.create_index(spec["fields"], **{k: v for k, v in spec.items() if k != "fields"})
        self._backfill_list_key()

    def _backfill_list_key(self) -> None:
        """Records written before they had a list key get one (an indexed look-up when none is missing)."""
        while True:
            absent = self.records.find({LIST_KEY: {"$exists": False}}, {"_id": 1}).limit(500)
            missing = [d["_id"] for d in absent]
            if not missing:
                return
            for record_id in missing:
                self.records.update_one({"_id": record_id}, {"$set": {LIST_KEY: record_id}})

    def close(self) -> None:
        self.copier.close()
        self.client.close()

    def ping(self) -> bool:
        try:
            self.db.command("ping")
            return True
        except PyMongoError:
            return False

    # -- generic ---------------------------------------------------------------------------

    @staticmethod
    def _insert(collection: pymongo.collection.Collection, doc: Doc, what: str) -> Doc:
        try:
            collection.insert_one(doc)
        except DuplicateKeyError as exc:
            raise Conflict(what, code="duplicate") from exc
        return doc

    def commit(self, collection: pymongo.collection.Collection, current: Doc, changes: Doc,
               event: Doc | None) -> Doc:
        """Compare-and-set on (id, state, revision); the event rides in the outbox. Stale -> Conflict.

        The same update drops the outbox slots whose events the copier has put into `events`
        and keeps the others: an event leaves its outbox only once it is in the history.
        """
        revision = int(current.get("revision", 0)) + 1
        changes = dict(changes, revision=revision, updated_at=changes.get("updated_at") or stamp())
        update: Doc = {"$set": changes}
        held = outbox_slots(current.get("outbox"))
        copied = self.copier.copied(e.get("_id") for e in held.values())
        keep = {slot: e for slot, e in held.items() if e.get("_id") not in copied}
        outbox = dict(keep)
        if event is not None:
            event = dict(event, _id=f"{current['_id']}:{revision}", object_id=current["_id"],
                         revision=revision)
            outbox[slot_name(revision)] = event
            if is_one_slot(current.get("outbox")):           # written before outboxes were keyed
                changes["outbox"] = outbox
            else:
                changes[f"outbox.{slot_name(revision)}"] = event
                gone = sorted(set(held) - set(keep))
                if gone:
                    update["$unset"] = {f"outbox.{slot}": "" for slot in gone}
        filter_ = {"_id": current["_id"], "revision": current.get("revision", 0),
                   "state": current.get("state")}
        result = collection.update_one(filter_, update)
        if result.matched_count != 1:
            raise Conflict("this record was changed by someone else; reload it and try again",
                           code="stale")
        updated = dict(current, **{k: v for k, v in changes.items() if not k.startswith("outbox.")})
        if event is not None:
            updated["outbox"] = outbox
        self.copier.put([*keep.values(), *([event] if event else [])])
        return updated

    def copy_events(self, events: Iterable[Doc]) -> None:
        """Insert events that may already be there: duplicates are the expected, harmless case."""
        docs = [dict(e) for e in events if e and e.get("_id")]
        if not docs:
            return
        self.audit_log.receive(docs)         # into the audit inbox first: no history without its entry
        try:
            self.events.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if any(err.get("code") != 11000 for err in exc.details.get("writeErrors", [])):
                raise
        self.audit_log.feed_events(docs)

    def add_event(self, event: Doc) -> None:
        """An event that changes no state (a refused check, a read): its own insert (and audit entry)."""
        self.audit_log.receive([event])
        self.events.insert_one(event)
        self.audit_log.feed_events([event])

    def history(self, object_id: str, outbox: Doc | None = None) -> list[Doc]:
        """The object's events; those still in its `outbox` (not copied yet) are included."""
        self.copier.flush()
        # one equality on a single-field index: every revision's event and every refused attempt
        events = list(self.events.find({"object_id": object_id}).sort([("at", 1), ("_id", 1)]))
        known = {e["_id"] for e in events}
        waiting = [e for e in outbox_slots(outbox).values() if e.get("_id") not in known]
        if waiting:
            events.extend(waiting)
            events.sort(key=lambda e: e["at"])
        return events

    def copy_outboxes(self, collection: pymongo.collection.Collection, since: str | None,
                      batch: int = 500) -> int:
        """Copy the outbox events of objects changed since `since` (a stamp); idempotent. Returns how many."""
        # a range on the indexed `updated_at` even on the first sweep: `$exists` alone is a full scan
        query: Doc = {"updated_at": {"$gte": since or ""}, "outbox": {"$exists": True}}
        copied, pending = 0, list[Doc]()
        for doc in collection.find(query, {"outbox": 1}).sort([("updated_at", 1)]):
            pending.extend(outbox_slots(doc.get("outbox")).values())
            if len(pending) >= batch:
                self.copy_events(pending)
                copied, pending = copied + len(pending), []
        self.copy_events(pending)
        return copied + len(pending)

    def set_meta(self, key: str, value: Doc) -> None:
        self.meta.update_one({"_id": key}, {"$set": {"value": value}}, upsert=True)

    # -- users -----------------------------------------------------------------------------

    def insert_user(self, doc: Doc) -> Doc:
        return self._insert(self.users, doc, f"the user name '{doc['username']}' is taken")

    def user_by_name(self, username: str) -> Doc | None:
        return self.users.find_one({"username": username})

    def user(self, user_id: str) -> Doc | None:
        return self.users.find_one({"_id": user_id})

    def change_password(self, user_id: str, password_hash: str) -> None:
        """New hash, no longer an initial password, and every token and session issued before is void."""
        self.users.update_one({"_id": user_id},
                              {"$set": {"password_hash": password_hash, "must_change_password": False},
                               "$inc": {"token_epoch": 1}})

    def end_sessions(self, user_id: str) -> None:
        """Sign-out: every page session of the user that began before now is void (the session epoch)."""
        self.users.update_one({"_id": user_id}, {"$inc": {"session_epoch": 1}})

    def list_users(self) -> list[Doc]:
        return list(self.users.find({}, {"password_hash": 0}).sort([("username", 1)]))

    def count_users(self) -> int:
        return self.users.count_documents({})

    # -- definitions -----------------------------------------------------------------------

    def insert_form_version(self, doc: Doc) -> Doc:
        return self._insert(self.forms, doc, f"form '{doc['key']}' already has version {doc['version']}")

    def form_version(self, key: str, version: int) -> Doc:
        doc = self.forms.find_one({"_id": f"{key}@{version}"})
        if doc is None:
            raise NotFound(f"form '{key}' has no version {version}")
        return doc

    def form_versions(self, key: str) -> list[Doc]:
        return list(self.forms.find({"key": key}).sort([("version", 1)]))

    def latest_form_version(self, key: str, state: str | None = None) -> Doc | None:
        query: Doc = {"key": key}
        if state:
            query["state"] = state
        found = list(self.forms.find(query).sort([("version", -1)]).limit(1))
        return found[0] if found else None

    def form_versions_in(self, states: list[str]) -> list[Doc]:
        """One indexed equality per state (`$in` on a field other than `_id` is a full scan), merged."""
        found = [doc for state in dict.fromkeys(states) for doc in self.forms.find({"state": state})]
        return sorted(found, key=lambda d: (d["key"], d["version"]))

    def insert_workflow_version(self, doc: Doc) -> Doc:
        return self._insert(self.workflows, doc,
                            f"workflow '{doc['key']}' already has version {doc['version']}")

    def workflow_versions(self) -> list[Doc]:
        return list(self.workflows.find({}).sort([("key", 1), ("version", 1)]))

    # -- records ---------------------------------------------------------------------------

    def insert_record(self, doc: Doc, event: Doc) -> Doc:
        event = dict(event, _id=f"{doc['_id']}:0", object_id=doc["_id"], revision=0)
        doc = dict(doc, outbox={slot_name(0): event}, **{LIST_KEY: doc["_id"]})
        self._insert(self.records, doc, "record exists")
        self.copier.put([event])
        return doc

    def insert_records(self, docs: Sequence[Doc], events: Sequence[Doc], batch: int = 1000) -> None:
        """The bulk path (loads, migrations, benchmarks): records as `insert_record` stores them (with their
        list key; their history in `events`, not in an outbox), in batches; an existing id is a Conflict."""
        try:
            for start in range(0, len(docs), batch):
                self.records.insert_many([dict(d, **{LIST_KEY: d["_id"]}) for d in docs[start:start + batch]])
        except BulkWriteError as exc:
            raise Conflict("record exists") from exc
        for start in range(0, len(events), batch):
            self.copy_events(events[start:start + batch])

    def record(self, record_id: str) -> Doc:
        doc = self.records.find_one({"_id": record_id})
        if doc is None:
            raise NotFound("no such record", code="record_not_found")
        return doc

    def record_by_number(self, number: str) -> Doc | None:
        return self.records.find_one({"acceptance_number": number})

    def list_records(self, queries: Mapping[str, Any] | Sequence[Mapping[str, Any]], limit: int,
                     after: str | None) -> list[Doc]:
        """Records matching any of `queries` (each a conjunction of equalities and ranges on indexed
        fields), newest first, after the record `after`, at most `limit`.

        Each query runs on its own, limited, as a range on the list key (an indexed keyset, never `$or`
        nor an `_id` range); the pages are merged by list key without duplicates.
        """
        alternatives = [queries] if isinstance(queries, Mapping) else list(queries)
        page = {LIST_KEY: {"$lt": after}} if after else {LIST_KEY: {"$gt": ""}}
        found: dict[str, Doc] = {}
        for query in alternatives:
            cursor = self.records.find(dict(query, **page), {"outbox": 0}).sort([(LIST_KEY, -1)]).limit(limit)
            for doc in cursor:
                found.setdefault(doc["_id"], doc)
        return sorted(found.values(), key=lambda d: d[LIST_KEY], reverse=True)[:limit]

    # -- acceptance numbers ------------------------------------------------------------------

    def next_number(self, counter_id: str) -> int:
        """Hand out the counter's next number; numbers given back by lost races go first."""
        doc = self.counters.find_one_and_update(
            {"_id": counter_id, "returned": {"$lte": 0}}, {"$inc": {"seq": 1}},
            return_document=ReturnDocument.AFTER)
        if doc is not None:
            return int(doc["seq"])
        try:
            self.counters.update_one({"_id": counter_id},
                                     {"$setOnInsert": {"seq": 0, "returned": 0}}, upsert=True)
        except DuplicateKeyError:
            pass
        while True:
            doc = self.counters.find_one_and_update(
                {"_id": counter_id, "returned": {"$lte": 0}}, {"$inc": {"seq": 1}},
                return_document=ReturnDocument.AFTER)
            if doc is not None:
                return int(doc["seq"])
            reused = self._reuse_number(counter_id)
            if reused is not None:
                return reused

    def _reuse_number(self, counter_id: str) -> int | None:
        for doc in self.returned.find({"counter": counter_id}).sort([("seq", 1)]).limit(5):
            claimed = self.returned.find_one_and_delete({"_id": doc["_id"]})
            if claimed is not None:
                self.counters.update_one({"_id": counter_id}, {"$inc": {"returned": -1}})
                return int(claimed["seq"])
        # the pool is empty but the flag says otherwise (a crash in between): reset it
        self.counters.update_one({"_id": counter_id, "returned": {"$gt": 0}}, {"$set": {"returned": 0}})
        return None

    def return_number(self, counter_id: str, seq: int) -> None:
        """Give a number back so the sequence stays free of gaps."""
        self.returned.insert_one({"_id": f"{counter_id}:{seq:012d}", "counter": counter_id, "seq": seq})
        self.counters.update_one({"_id": counter_id}, {"$inc": {"returned": 1}})

    # -- rate limits and meta ------------------------------------------------------------------

    def hit(self, bucket: str, window_seconds: int) -> int:
        """Count one hit in a fixed window shared by every host; returns the count so far."""
        now = utcnow()
        window = int(now.timestamp()) // window_seconds
        expires = stamp(now + dt.timedelta(seconds=2 * window_seconds))
        # $set, not $setOnInsert: the embedded server drops $setOnInsert in find_one_and_update upserts
        doc = self.buckets.find_one_and_update(
            {"_id": f"{bucket}:{window}"}, {"$inc": {"count": 1}, "$set": {"expires_at": expires}},
            upsert=True, return_document=ReturnDocument.AFTER)
        if doc is None:             # an upsert with ReturnDocument.AFTER always returns the document
            raise StoreUnavailable("the rate-limit bucket was not written")
        if doc["count"] == 1:
            self.buckets.delete_many({"expires_at": {"$lt": stamp(now)}})
        return int(doc["count"])

    def hits(self, bucket: str, window_seconds: int) -> int:
        """The count so far in the current window, without counting this look."""
        window = int(utcnow().timestamp()) // window_seconds
        doc = self.buckets.find_one({"_id": f"{bucket}:{window}"})
        return int(doc["count"]) if doc else 0

    def claim_meta(self, key: str, value: Doc) -> bool:
        """Insert a meta document once; False when it was already there (another host won)."""
        try:
            self.meta.insert_one({"_id": key, "value": value})
            return True
        except DuplicateKeyError:
            return False

    def meta_value(self, key: str) -> Doc | None:
        doc = self.meta.find_one({"_id": key})
        return doc["value"] if doc else None


def slot_name(revision: int) -> str:
    """The outbox key of a revision's event: `r<revision>` (a digit-only key would read as an array index)."""
    return f"r{revision}"


def is_one_slot(outbox: Any) -> bool:
    """An outbox written before outboxes were keyed by revision: the event itself."""
    return isinstance(outbox, Mapping) and "_id" in outbox


def outbox_slots(outbox: Any) -> dict[str, Doc]:
    """The events an outbox holds, by slot name, whichever shape it was written in."""
    if not isinstance(outbox, Mapping) or not outbox:
        return {}
    if is_one_slot(outbox):
        return {slot_name(int(outbox.get("revision") or 0)): dict(outbox)}
    return {slot: dict(e) for slot, e in outbox.items() if isinstance(e, Mapping) and e.get("_id")}


def guard_store_errors(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable("the record store is not answering; try again in a moment")
