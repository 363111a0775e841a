"""The store side of clocks and `tick`: the working-day calendar overrides, the records whose clock needs a
look, per-record leases, department heads.

Every query here is served by an index on both servers (tests/test_explain_tick.py): `records.tick_at` and
`users.department` are single-field indexes, the calendar is one `meta` document read by `_id`, and a lease is
one compare-and-set `find_one_and_update` on `_id` plus the lease seen (no `$or`, no `$in`).
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from pymongo import ReturnDocument

from counterflow.store.client import Store

Doc = dict[str, Any]
CALENDAR_KEY = "calendar"      # one meta document: {"value": {"y2027": {"days_off", "workdays", ...}}}


def calendar_years(store: Store) -> dict[int, Doc]:
    """The admins' overrides by year, as stored (`y<year>` keys: a digit-only key would read as an index)."""
    doc = store.meta.find_one({"_id": CALENDAR_KEY})
    value = (doc or {}).get("value") or {}
    return {int(k[1:]): dict(v) for k, v in value.items()
            if isinstance(k, str) and k[:1] == "y" and k[1:].isdigit() and isinstance(v, Mapping)}


def set_calendar_year(store: Store, year: int, override: Doc) -> None:
    """Replace one year's override (a `$set` of one dotted path: the other years stay as they are)."""
    store.meta.update_one({"_id": CALENDAR_KEY}, {"$set": {f"value.y{int(year)}": override}}, upsert=True)


def due_for_tick(store: Store, today: str, batch: int) -> Iterator[Doc]:
    """Records whose clock needs a look on or before `today` (ISO date), oldest first, read through a cursor
    in batches of `batch` (memory stays flat whatever the count): only the id and the lease come back."""
    # a lower bound too: without it the index range starts at the records with no `tick_at` (null sorts
    # first), so the look grew with every record ever done (measured: 0.56 s against 0.22 s over 15,000)
    cursor = store.records.find({"tick_at": {"$gte": "0", "$lte": today}}, {"_id": 1, "tick_lease": 1})
    yield from cursor.sort([("tick_at", 1)]).batch_size(batch)


def claim(store: Store, record_id: str, seen_lease: Any, lease: str) -> Doc | None:
    """Take the record's lease (one compare-and-set on the lease seen): the whole record when this host won,
    None when another host took it first."""
    return store.records.find_one_and_update({"_id": record_id, "tick_lease": seen_lease},
                                             {"$set": {"tick_lease": lease}},
                                             return_document=ReturnDocument.AFTER)


def release(store: Store, record_id: str, lease: str, fields: Mapping[str, Any]) -> bool:
    """Write the recomputed clock fields and give the lease back (only while this host still holds it)."""
    result = store.records.update_one({"_id": record_id, "tick_lease": lease},
                                      {"$set": {**fields, "tick_lease": None}})
    return result.matched_count == 1


def set_clock(store: Store, record_id: str, revision: int, fields: Mapping[str, Any]) -> bool:
    """Derived clock fields on an unchanged revision (no history: nothing happened to the record)."""
    result = store.records.update_one({"_id": record_id, "revision": revision}, {"$set": dict(fields)})
    return result.matched_count == 1


def department_users(store: Store, department: str) -> list[Doc]:
    """The users of one department (few; an equality on the indexed `department`)."""
    return list(store.users.find({"department": department}, {"roles": 1, "active": 1, "username": 1}))
