"""The notification outbox, the in-app inbox (and the worklists derived from it), applicants' ratings.

Every query here is an equality or a range on a field with a single-field index of its own (models.py):
no `$or`, no `$in` on growing collections, no `_id` ranges. Pages are a keyset on `listed`.

- `notifications`: one document per (event, recipient, channel), `_id` = `<event id>|<recipient>|<channel>`,
  inserted with duplicates ignored (deriving twice is harmless). A pending one has `next_at` (when it may be
  tried); a sender claims it by compare-and-set on (`_id`, `next_at`, `attempts`) moving `next_at` past a
  lease, sends, then marks it sent (`next_at` unset) only while its claim still stands.
- `inbox`: one entry per (event, user), what the in-app channel delivers; `box` = `<user>|<kind>` serves
  the worklists "copied to me", "urged", "delegated by me".
- `ratings`: one per record (`_id` = record id): a second rating is a duplicate key.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from counterflow.core.errors import Conflict

Doc = dict[str, Any]
CURSOR = "notify_cursor"


def time_key(when: dt.datetime) -> str:
    """A time as a range key: `20261128T131901648` (UTC, milliseconds). Not an ISO stamp on purpose: the
    embedded store compares text that reads as an ISO date-time at whole seconds in ranges, so two stamps
    of one second are neither `$lt` nor `$gt` each other; this form compares as text, to the millisecond."""
    when = when.astimezone(dt.timezone.utc)
    return when.strftime("%Y%m%dT%H%M%S") + f"{when.microsecond // 1000:03d}"


def key_of_stamp(at: str) -> str:
    """The range key of a stored stamp (`2026-11-28T13:19:01.648Z` -> `20261128T131901648`)."""
    return at.replace("-", "").replace(":", "").replace(".", "").rstrip("Z")


class NotifyStore:
    """Reads and writes of the notification collections, over the product's `Store`."""

    def __init__(self, store: Any) -> None:
        self.store = store
        db = store.db
        self.notifications = db["notifications"]
        self.inbox = db["inbox"]
        self.ratings = db["ratings"]
        self.tasks = db["work_tasks"]
        self.events = db["events"]
        self.meta = db["meta"]

    # -- deriving -------------------------------------------------------------------------------

    def events_since(self, since: str, batch: int = 500) -> Iterator[Doc]:
        """Events stamped at or after `since`, oldest first, in batches (a range on the indexed `at`; the
        embedded store compares it at whole seconds, so a few events of `since`'s second may come again)."""
        last, seen = since, set[str]()
        while True:
            found = list(self.events.find({"at": {"$gte": last}}).sort([("at", 1)]).limit(batch))
            fresh = [e for e in found if e["_id"] not in seen]
            yield from fresh
            if len(found) < batch or not fresh:
                return
            if found[-1]["at"] == last:           # a whole batch in one millisecond: move on past it
                last = found[-1]["at"] + "\0"
            else:
                last = found[-1]["at"]
            seen = {e["_id"] for e in found if e["at"] == last}

    def cursor(self) -> str:
        doc = self.meta.find_one({"_id": CURSOR})
        return str(doc["value"].get("at", "")) if doc else ""

    def set_cursor(self, at: str) -> None:
        """Move the sweep's cursor forward only (two hosts sweeping at once never move it back)."""
        self.meta.update_one({"_id": CURSOR, "value.at": {"$lt": at}}, {"$set": {"value": {"at": at}}})
        try:
            self.meta.update_one({"_id": CURSOR}, {"$setOnInsert": {"value": {"at": at}}}, upsert=True)
        except DuplicateKeyError:
            pass

    def add_notifications(self, docs: list[Doc]) -> int:
        """Insert what is new; those already there stay as they are. Returns how many were new."""
        return _insert_new(self.notifications, docs)

    # -- dispatching ------------------------------------------------------------------------------

    def due(self, now: str, limit: int) -> list[Doc]:
        """Pending notifications whose time has come (a range on the indexed `next_at`, a `time_key`)."""
        return list(self.notifications.find({"next_at": {"$lte": now}}).sort([("next_at", 1)]).limit(limit))

    def claim(self, doc: Doc, until: str, owner: str) -> Doc | None:
        """Compare-and-set: take the notification for sending until `until`, unless another sender has."""
        return self.notifications.find_one_and_update(
            {"_id": doc["_id"], "next_at": doc["next_at"], "attempts": doc.get("attempts", 0)},
            {"$set": {"next_at": until, "claim": owner}, "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER)

    def mark_sent(self, notification_id: str, owner: str, at: str) -> bool:
        result = self.notifications.update_one(
            {"_id": notification_id, "claim": owner},
            {"$set": {"state": "sent", "sent_at": at, "last_error": None},
             "$unset": {"next_at": "", "claim": ""}})
        return result.modified_count == 1

    def mark_failed(self, notification_id: str, owner: str, error: str, next_at: str | None) -> None:
        """A failed try: again at `next_at`, or given up (`next_at` None: kept, state `failed`)."""
        update: Doc = {"$set": {"last_error": error[:500]}, "$unset": {"claim": ""}}
        if next_at is None:
            update["$set"]["state"] = "failed"
            update["$unset"]["next_at"] = ""
        else:
            update["$set"]["next_at"] = next_at
        self.notifications.update_one({"_id": notification_id, "claim": owner}, update)

    def notification(self, notification_id: str) -> Doc | None:
        return self.notifications.find_one({"_id": notification_id})

    def notifications_of(self, event_id: str) -> list[Doc]:
        return list(self.notifications.find({"event_id": event_id}))

    # -- the inbox ---------------------------------------------------------------------------------

    def deliver(self, entry: Doc) -> None:
        """The in-app channel: the entry is there once, whatever the number of tries."""
        _insert_new(self.inbox, [entry])

    def inbox_page(self, field: str, value: str, limit: int, after: str | None) -> list[Doc]:
        """Entries with `field` == `value` (`user`, `box` or `unread`), newest first, after `after`."""
        page = {"listed": {"$lt": after}} if after else {"listed": {"$gt": ""}}
        return list(self.inbox.find({field: value, **page}).sort([("listed", -1)]).limit(limit))

    def mark_read(self, entry_id: str, user: str, at: str) -> Doc | None:
        return self.inbox.find_one_and_update(
            {"_id": entry_id, "user": user},
            {"$set": {"read_at": at}, "$unset": {"unread": ""}}, return_document=ReturnDocument.AFTER)

    # -- approval-step tasks -------------------------------------------------------------------

    def set_tasks(self, record_id: str, listed: str, users: list[str]) -> None:
        """The record's task holders are now `users`: entries of others go, new ones come (idempotent)."""
        held = {d["user"] for d in self.tasks.find({"record_id": record_id}, {"user": 1})}
        for user in held - set(users):
            self.tasks.delete_many({"_id": f"{record_id}|{user}"})
        _insert_new(self.tasks, [{"_id": f"{record_id}|{user}", "record_id": record_id, "user": user,
                                  "listed": listed} for user in users if user not in held])

    def task_page(self, user: str, limit: int, after: str | None) -> list[str]:
        """The ids of records whose task `user` holds, newest first, after the list key `after`."""
        page = {"listed": {"$lt": after}} if after else {"listed": {"$gt": ""}}
        found = self.tasks.find({"user": user, **page}, {"record_id": 1}).sort([("listed", -1)]).limit(limit)
        return [d["record_id"] for d in found]

    def records(self, ids: list[str]) -> list[Doc]:
        """Records by id (one `_id` `$in`, served by the primary key), without their outboxes."""
        return list(self.store.records.find({"_id": {"$in": ids}}, {"outbox": 0})) if ids else []

    def record(self, record_id: str) -> Doc | None:
        return self.store.records.find_one({"_id": record_id}, {"outbox": 0})

    def record_state(self, record_id: str) -> Doc | None:
        """A record without its data: where it is, its approval steps, its list key."""
        return self.store.records.find_one({"_id": record_id}, {"data": 0, "outbox": 0})

    # -- ratings -----------------------------------------------------------------------------------

    def add_rating(self, doc: Doc) -> Doc:
        try:
            self.ratings.insert_one(doc)
        except DuplicateKeyError as exc:
            raise Conflict("rated already", code="rated") from exc
        return doc

    def rating(self, record_id: str) -> Doc | None:
        return self.ratings.find_one({"_id": record_id})


def _insert_new(collection: Any, docs: list[Doc]) -> int:
    if not docs:
        return 0
    try:
        return len(collection.insert_many(docs, ordered=False).inserted_ids)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(err.get("code") != 11000 for err in errors):
            raise
        return len(docs) - len(errors)
