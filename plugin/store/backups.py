"""A/B posts (issue 8, item 3): who stands in for whom, and when. Every query is one equality on an indexed
field (`holder`, `backup`) or on `_id`; the dates are checked in the service (few posts per person)."""
from __future__ import annotations

from typing import Any

from counterflow.store.client import Store

Doc = dict[str, Any]
PER_PERSON = 500                 # posts one person named or was named in that a look-up reads at most


class BackupStore:
    def __init__(self, store: Store) -> None:
        self.backups = store.db["backups"]

    def put(self, doc: Doc) -> Doc:
        self.backups.insert_one(doc)
        return doc

    def get(self, backup_id: str) -> Doc | None:
        return self.backups.find_one({"_id": backup_id})

    def of_holder(self, holder: str) -> list[Doc]:
        return list(self.backups.find({"holder": holder}).limit(PER_PERSON))

    def of_backup(self, backup: str) -> list[Doc]:
        return list(self.backups.find({"backup": backup}).limit(PER_PERSON))

    def end(self, backup_id: str, at: str, by: str) -> Doc | None:
        """End a post at once (kept for the history: `ended_at` set, never deleted)."""
        self.backups.update_one({"_id": backup_id, "ended_at": None},
                                {"$set": {"ended_at": at, "ended_by": by}})
        return self.get(backup_id)
