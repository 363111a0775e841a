"""The queries of key rotation (`counterflow keys rotate`): records whose data key is wrapped by a given
master key, page by page on the indexed (key_id, listed) pair, and a compare-and-set rewrap.

A record is found again only while its `key_id` names an old master key: a rewrapped one leaves the query,
so an interrupted rotation resumes by running again, and a record one run cannot rewrap (its master key is
not configured) is passed by position, never retried forever within the run."""
from __future__ import annotations

from typing import Any

from counterflow.store.client import LIST_KEY, Store

Doc = dict[str, Any]
FIELDS = {"data_key": 1, "key_id": 1, "data": 1, "form": 1, "form_version": 1, LIST_KEY: 1}


def records_under(store: Store, kid: str, after: str | None, limit: int) -> list[Doc]:
    """Up to `limit` records whose data key master key `kid` wraps, in list-key order after `after`."""
    query: Doc = {"key_id": kid, LIST_KEY: {"$gt": after or ""}}
    return list(store.records.find(query, FIELDS).sort([(LIST_KEY, 1)]).limit(limit))


def count_under(store: Store, kid: str) -> int:
    return store.records.count_documents({"key_id": kid})


def rewrap_record(store: Store, record_id: str, old: str, fields: Doc) -> bool:
    """Set the record's new wrapped key (and search fields) only if its key is still the one read: a
    concurrent rotation, or a destruction, wins. Data and revision are untouched, so no edit conflicts."""
    return store.records.update_one({"_id": record_id, "data_key": old}, {"$set": fields}).matched_count == 1


def forget_key_id(store: Store, record_id: str) -> None:
    """A record without a data key any more (destroyed) is no longer counted under its master key."""
    store.records.update_one({"_id": record_id, "data_key": {"$exists": False}}, {"$set": {"key_id": ""}})
