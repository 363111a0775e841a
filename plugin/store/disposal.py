"""Destruction lists in the store: their items (`disposal_items`), the disposition query, the one atomic write
that turns a record into a tombstone, and the permanent certificates (`destruction_certificates`).

Every query is an equality or a range on a single-field index (tests/test_explain_destruction.py): items
are found by `list_status` ("<list>:<status>") and `record_status` ("<record>:<status>"), records past
retention by a range on `retention_until`, everything else by `_id`.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import gridfs
from gridfs.errors import NoFile
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from counterflow.store.client import Store

Doc = dict[str, Any]

# what a tombstone loses: the data, its key (wrapped on the record), the pending history, what the applicant
# was told, the applicant's query code; the retention date moves to `retained_until` (off the disposition
# index)
SHREDDED = ("data", "data_key", "attachment_keys", "find_id_number", "find_phone", "outbox", "notice",
            "query_code", "retention_until")


def item_id(list_id: str, record_id: str) -> str:
    return f"{list_id}:{record_id}"


class DisposalStore:
    """The store's destruction-list collections, over one `Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.items = store.db["disposal_items"]
        self.certificates = store.db["destruction_certificates"]

    # -- the disposition list ----------------------------------------------------------------------

    def disposable(self, today: str, limit: int, *, form: str | None = None, before: str | None = None,
                   after: str = "") -> list[Doc]:
        """Records whose retention ended by `today` (or by `before`, if earlier) and that no hold keeps:
        one range on the indexed `retention_until` (tombstones have none), oldest first."""
        until = min(today, before) if before else today
        query: Doc = {"retention_until": {"$lte": until, "$gt": after}, "legal_hold": None,
                      "destroyed_at": None}
        if form:
            query["form"] = form
        return list(self.store.records.find(query, {"outbox": 0}).sort([("retention_until", 1)]).limit(limit))

    def records(self, ids: Sequence[str], *, fields: Doc | None = None) -> list[Doc]:
        """Records by id (`$in` on `_id` is indexed)."""
        return list(self.store.records.find({"_id": {"$in": list(ids)}}, fields)) if ids else []

    # -- items ---------------------------------------------------------------------------------------

    def insert_items(self, docs: Sequence[Doc]) -> int:
        """Add items; one already on the list is left as it is. Returns how many were new."""
        if not docs:
            return 0
        try:
            return len(self.items.insert_many(list(docs), ordered=False).inserted_ids)
        except BulkWriteError as exc:
            if any(err.get("code") != 11000 for err in exc.details.get("writeErrors", [])):
                raise
            return int(exc.details.get("nInserted", 0))

    def item(self, list_id: str, record_id: str) -> Doc | None:
        return self.items.find_one({"_id": item_id(list_id, record_id)})

    def items_of(self, list_id: str, status: str, limit: int) -> list[Doc]:
        """Up to `limit` of a list's items in one status, in record order."""
        return sorted(self.items.find({"list_status": f"{list_id}:{status}"}).limit(limit),
                      key=lambda d: d["_id"])

    def next_items(self, list_id: str, status: str, batch: int) -> list[Doc]:
        """Up to `batch` items of the list in `status` (the runner's next batch: done ones leave it)."""
        return list(self.items.find({"list_status": f"{list_id}:{status}"}).limit(batch))

    def listed_elsewhere(self, record_id: str) -> Doc | None:
        """The item that lists this record on an open list, if any."""
        return self.items.find_one({"record_status": f"{record_id}:listed"})

    def count(self, list_id: str, status: str) -> int:
        return self.items.count_documents({"list_status": f"{list_id}:{status}"})

    def set_item(self, list_id: str, record_id: str, status: str | None = None, **fields: Any) -> None:
        changes = dict(fields)
        if status:
            changes.update(status=status, list_status=f"{list_id}:{status}",
                           record_status=f"{record_id}:{status}")
        self.items.update_one({"_id": item_id(list_id, record_id)}, {"$set": changes})

    def mark_destroyed(self, list_id: str, record_ids: Sequence[str], at: str) -> None:
        """Items whose records are tombstones now: one update per item (each keeps its own record_status)."""
        for record_id in record_ids:
            self.set_item(list_id, record_id, "shredded", destroyed_at=at)

    def retain(self, record_id: str, until: str, at: str) -> None:
        """Keep a record longer (an approver's decision): a new retention date, unless it is a tombstone."""
        self.store.records.update_one({"_id": record_id, "destroyed_at": None},
                                      {"$set": {"retention_until": until, "updated_at": at},
                                       "$inc": {"revision": 1}})

    # -- the destruction itself ------------------------------------------------------------------------

    def shred(self, record_id: str, list_id: str, *, today: str, early: bool, tombstone: Doc,
              retained_until: str | None, resting: tuple[Any, Any] | None = None) -> bool:
        """Turn the record into a tombstone in ONE atomic write, only if no hold is on it and its retention
        has ended (or it is an approved early destruction) and it is not destroyed yet: a hold set at any
        moment before this write wins. `resting`: the (process, state) the caller found the record at rest in
        (archived or closed): a record that moved since is not touched. The data, its key and the pending
        history go; True if this call did."""
        filter_: Doc = {"_id": record_id, "legal_hold": None, "destroyed_at": None}
        if resting is not None:
            filter_["process"], filter_["state"] = resting
        if not early:
            filter_["retention_until"] = {"$lte": today}
        kept = dict(tombstone, destruction_list=list_id, retained_until=retained_until, key_id="")
        update: Doc = {"$set": kept,
                       "$unset": {name: "" for name in SHREDDED}, "$inc": {"revision": 1}}
        return self.store.records.update_one(filter_, update).matched_count == 1

    def record(self, record_id: str) -> Doc | None:
        return self.store.records.find_one({"_id": record_id}, {"outbox": 0})

    def history_of(self, record_id: str) -> list[Doc]:
        return list(self.store.events.find({"object_id": record_id}))

    def delete_history(self, record_id: str) -> int:
        """The record's history entries (their opinions, changes, notices) leave the store; idempotent."""
        return int(self.store.events.delete_many({"object_id": record_id}).deleted_count)

    def delete_attachments(self, ids: Iterable[str], record_id: str) -> int:
        """The record's files: content and metadata, unless another live record holds the same file."""
        fs = gridfs.GridFS(self.store.db, collection="attachment_files")
        gone = 0
        for attachment_id in dict.fromkeys(ids):
            meta = self.store.attachments.find_one({"_id": attachment_id})
            holders = set((meta or {}).get("records") or {}) - {record_id}
            if meta is not None and holders:
                self.store.attachments.update_one({"_id": attachment_id},
                                                  {"$unset": {f"records.{record_id}": ""}})
                continue
            try:
                fs.delete(attachment_id)
            except (OperationFailure, NoFile):        # gone already (a resumed run): nothing to delete
                pass
            self.store.attachments.delete_many({"_id": attachment_id})
            gone += 1
        return gone

    # -- the runner's lease and the list's own fields ------------------------------------------------------

    def claim_run(self, list_id: str, holder: str, now: str, until: str) -> bool:
        """Take the list's run lease (free, or expired): one runner at a time, any host."""
        for query in ({"_id": list_id, "disposal_lease": None},
                      {"_id": list_id, "disposal_lease.until": {"$lt": now}},
                      {"_id": list_id, "disposal_lease.holder": holder}):
            found = self.store.records.find_one_and_update(
                query, {"$set": {"disposal_lease": {"holder": holder, "until": until}}},
                projection={"_id": 1}, return_document=ReturnDocument.AFTER)
            if found is not None:
                return True
        return False

    def release_run(self, list_id: str, holder: str) -> None:
        self.store.records.update_one({"_id": list_id, "disposal_lease.holder": holder},
                                      {"$set": {"disposal_lease": None}})

    def set_list(self, list_id: str, **fields: Any) -> None:
        self.store.records.update_one({"_id": list_id}, {"$set": fields})

    # -- certificates (a permanent record: never destroyed) ----------------------------------------------

    def insert_certificate(self, doc: Doc) -> Doc:
        """The list's certificate, once: a second issue (another runner) keeps the first."""
        try:
            self.certificates.insert_one(doc)
            return doc
        except DuplicateKeyError:
            found = self.certificates.find_one({"_id": doc["_id"]})
            return found if found is not None else doc

    def certificate(self, certificate_id: str) -> Doc | None:
        return self.certificates.find_one({"_id": certificate_id})
