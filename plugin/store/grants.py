"""Grants of approved reading: written when a query request is approved, looked up at every read of a record
that needs one (one equality on an indexed key), listed per request."""
from __future__ import annotations

from typing import Any, Iterable

from pymongo.errors import DuplicateKeyError

from counterflow.store.client import Store

Doc = dict[str, Any]


def reader_key(grantee: str, record: str) -> str:
    return f"{grantee}|{record}"


class GrantStore:
    def __init__(self, store: Store) -> None:
        self.grants = store.db["grants"]

    def put(self, grants: Iterable[Doc]) -> list[str]:
        """Insert each grant once (ids are "<request>:<record>", so approving again writes nothing new)."""
        ids = []
        for grant in grants:
            doc = dict(grant, reader_record=reader_key(grant["grantee"], grant["record"]))
            try:
                self.grants.insert_one(doc)
            except DuplicateKeyError:
                pass
            ids.append(doc["_id"])
        return ids

    def for_reader(self, grantee: str, record: str) -> list[Doc]:
        """Every grant `grantee` holds on `record`, whatever its period or request."""
        return list(self.grants.find({"reader_record": reader_key(grantee, record)}).limit(100))

    def of_request(self, request: str) -> list[Doc]:
        return list(self.grants.find({"request": request}).limit(1000))

    def of_grantee(self, grantee: str, limit: int = 200) -> list[Doc]:
        return list(self.grants.find({"grantee": grantee}).limit(limit))
