"""Attachments: contents in GridFS, metadata in `attachments`, under one `att_<ULID>` id."""
from __future__ import annotations

from typing import Any

import gridfs

from counterflow.store.client import Store

Doc = dict[str, Any]


class AttachmentStore:
    """File contents in GridFS, metadata in `attachments`; both under the same `att_<ULID>` id."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._gridfs: gridfs.GridFS | None = None

    @property
    def _fs(self) -> gridfs.GridFS:
        """GridFS, built only for the contents: metadata checks (a draft's `$in`) never pay for it."""
        if self._gridfs is None:
            self._gridfs = gridfs.GridFS(self._store.db, collection="attachment_files")
        return self._gridfs

    def put(self, meta: Doc, content: bytes) -> Doc:
        """The content and its metadata; GridFS's own `filename` is the id (the name is sealed in `meta`)."""
        self._fs.put(content, _id=meta["_id"], filename=meta["_id"])
        self._store.attachments.insert_one(meta)
        return meta

    def meta(self, attachment_id: str) -> Doc | None:
        return self._store.attachments.find_one({"_id": attachment_id})

    def existing(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        return {d["_id"] for d in self._store.attachments.find({"_id": {"$in": ids}}, {"_id": 1})}

    def metas(self, ids: list[str]) -> list[Doc]:
        return list(self._store.attachments.find({"_id": {"$in": ids}})) if ids else []

    def hold(self, ids: list[str], record_id: str, at: str, adopted: bool = False) -> None:
        """Note that a record holds these attachments: one key per record under `records` (a `$set` of a
        dotted path; never `$push`, never an indexed array, see the store landmines). `adopted`: the record
        keeps their data keys now, so the master-wrapped copies go in the same update."""
        if ids:
            update: Doc = {"$set": {f"records.{record_id}": at}}
            if adopted:
                update["$unset"] = {"data_key": "", "key_id": ""}
            self._store.attachments.update_many({"_id": {"$in": ids}}, update)

    def under_key(self, kid: str, limit: int) -> list[Doc]:
        """Attachments no record holds yet whose data key is wrapped by master key `kid` (rotation)."""
        return list(self._store.attachments.find({"key_id": kid}, {"data_key": 1, "key_id": 1}).limit(limit))

    def rewrap(self, attachment_id: str, old: str, new: str, kid: str) -> bool:
        """Replace a wrapped key only if it is still the one read (a record may have adopted it since)."""
        result = self._store.attachments.update_one({"_id": attachment_id, "data_key": old},
                                                    {"$set": {"data_key": new, "key_id": kid}})
        return result.matched_count == 1

    def content(self, attachment_id: str) -> bytes:
        return self._fs.get(attachment_id).read()
