"""The audit log in MongoDB: hash-chained entries per UTC day, an inbox that feeds them from the history,
signed checkpoints, and the cursors that verification and the API walk.

Collections (models.py): `audit` (the entries, `_id` = `key` = "k<day>:<seq:09d>"), `audit_inbox` (history
events on their way into the log), `audit_checkpoints` (`_id` = "<n:012d>") and `audit_days` (one small
document per day that has entries).

Appending is insert-if-absent: the next seq after the head this process knows; a DuplicateKeyError on
`_id` means another host took that seq, so the head is read again (one indexed query) and the insert
retried. No document is updated on every append, so none is hot.

Every history event reaches the log exactly once: it is put into `audit_inbox` (`_id` = the event's id)
*before* it is put into `events`, so an event that is in the history is in the inbox or already in the
log (the outbox keeps it until it is in `events`, see client.py). The feeder appends an entry per inbox
event (the `event` field has a unique index: a repeat, from another host or a crash before the inbox
was emptied, appends nothing) and then deletes the inbox documents it fed. The copier thread feeds each
batch it copies; `counterflow tick` feeds whatever a crash left behind.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Iterable, Iterator, Mapping

import pymongo
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from counterflow.core import audit as chain
from counterflow.core.clock import stamp, utcnow

Doc = dict[str, Any]
log = logging.getLogger(__name__)
SEAL_EVERY = 1000           # a checkpoint at least every this many entries of a partition
FEED_BATCH = 500


def today() -> str:
    return utcnow().date().isoformat()


class AuditLog:
    """Appends to, feeds, seals and reads the audit log of one database; safe to share between threads."""

    def __init__(self, db: pymongo.database.Database[Doc]) -> None:
        self.entries = db["audit"]
        self.inbox = db["audit_inbox"]
        self.checkpoints = db["audit_checkpoints"]
        self.days = db["audit_days"]
        self.signer: Any = None                     # set by the service: a security.signing.Signer
        self.seal_every = SEAL_EVERY
        self._lock = threading.Lock()
        self._heads: dict[str, tuple[int, str]] = {}     # day -> (seq, hash) as last written or read here
        self._sealed: dict[str, int] = {}                # day -> the last seq sealed by a checkpoint

    # -- appending -----------------------------------------------------------------------------------

    def append(self, fields: Mapping[str, Any]) -> Doc | None:
        """One entry (a direct one: login, grant, read ...); returns it as stored (None: its `event` is
        in the log already)."""
        written = self.append_many([fields])
        return written[0] if written else None

    def append_many(self, items: Iterable[Mapping[str, Any]]) -> list[Doc]:
        """Entries in this order, chained; one whose `event` is already in the log is skipped."""
        pending = [dict(f) for f in items]
        written: list[Doc] = []
        with self._lock:
            while pending:
                day = today()
                seq, prev = self._head(day)
                docs: list[Doc] = []
                for fields in pending:
                    doc = chain.make_entry(day, seq + 1 + len(docs), prev, fields)
                    docs.append(doc)
                    prev = doc["hash"]
                try:
                    self.entries.insert_many(docs, ordered=True)
                    done = len(docs)
                except BulkWriteError as exc:
                    if any(err.get("code") != 11000 for err in exc.details.get("writeErrors", [])):
                        raise
                    done = int(exc.details.get("nInserted") or 0)
                    blocked = docs[done]
                    self._heads.pop(day, None)
                    if (blocked.get("event") and self.entries.find_one({"_id": blocked["_id"]}) is None
                            and self.entries.find_one({"event": blocked["event"]}, {"_id": 1}) is not None):
                        pending.pop(done)            # its event is in the log already (another feeder)
                        if done:
                            self._heads[day] = (docs[done - 1]["seq"], docs[done - 1]["hash"])
                    # else another host took that seq: the head is read again
                    written.extend(docs[:done])
                    pending = pending[done:]
                    continue
                written.extend(docs)
                self._heads[day] = (docs[-1]["seq"], docs[-1]["hash"])
                pending = []
        return written

    def _head(self, day: str) -> tuple[int, str]:
        known = self._heads.get(day)
        if known is not None:
            return known
        first, last = chain.day_range(day, day)
        found = list(self.entries.find({"key": {"$gte": first, "$lte": last}}, {"seq": 1, "hash": 1})
                     .sort([("key", -1)]).limit(1))
        head = (int(found[0]["seq"]), str(found[0]["hash"])) if found else (0, chain.genesis(day))
        if not found:
            self._mark_day(day)
        self._heads[day] = head
        return head

    def _mark_day(self, day: str) -> None:
        try:
            self.days.insert_one({"_id": chain.day_key(day), "day": day, "key": chain.day_key(day)})
        except DuplicateKeyError:
            pass

    # -- feeding from the history ----------------------------------------------------------------------

    def receive(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Put history events into the inbox (before they go into `events`); repeats are harmless."""
        docs = [{"_id": str(e["_id"]), "at": str(e.get("at") or stamp()), "fields": chain.event_fields(e)}
                for e in events if e and e.get("_id")]
        if not docs:
            return
        try:
            self.inbox.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if any(err.get("code") != 11000 for err in exc.details.get("writeErrors", [])):
                raise

    def feed_events(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Append the entries of these (just copied) events and empty their inbox slots. Returns how many
        were appended here."""
        ids = list(dict.fromkeys(str(e["_id"]) for e in events if e and e.get("_id")))
        if not ids:
            return 0
        waiting = list(self.inbox.find({"_id": {"$in": ids}}))
        return self._feed(waiting)

    def feed(self, batch: int = FEED_BATCH, progress: Callable[[int], None] | None = None) -> int:
        """Feed everything in the inbox, oldest first, in batches. Returns how many entries were appended."""
        total = 0
        while True:
            waiting = list(self.inbox.find({"at": {"$gte": ""}}).sort([("at", 1)]).limit(batch))
            if not waiting:
                return total
            total += self._feed(waiting)
            if progress is not None:
                progress(total)

    def _feed(self, waiting: list[Doc]) -> int:
        if not waiting:
            return 0
        waiting.sort(key=lambda d: (d.get("at") or "", d["_id"]))
        written = self.append_many(d["fields"] for d in waiting)
        self.inbox.delete_many({"_id": {"$in": [d["_id"] for d in waiting]}})
        if written and self.signer is not None:
            self._maybe_seal(written[-1]["day"], int(written[-1]["seq"]))
        return len(written)

    # -- checkpoints ---------------------------------------------------------------------------------

    def _maybe_seal(self, day: str, seq: int) -> None:
        sealed = self._sealed.get(day)
        if sealed is None:
            sealed = self._sealed[day] = self.last_sealed(day)
        if seq - sealed >= self.seal_every:
            try:
                self.seal(days=[day])
            except PyMongoError as exc:              # the next feed or tick seals it
                log.warning("sealing the audit log failed (%s)", type(exc).__name__)

    def last_sealed(self, day: str) -> int:
        first, last = chain.day_range(day, day)
        found = list(self.checkpoints.find({"key": {"$gte": first, "$lte": last}}, {"seq": 1})
                     .sort([("key", -1)]).limit(1))
        return int(found[0]["seq"]) if found else 0

    def last_checkpoint(self) -> Doc | None:
        found = list(self.checkpoints.find({"n": {"$gte": 1}}).sort([("n", -1)]).limit(1))
        return found[0] if found else None

    def seal(self, days: Iterable[str] | None = None, *, force: bool = True) -> list[Doc]:
        """A signed checkpoint over the head of each day (default: every day since the last checkpoint's
        day) whose head is not sealed yet; with `force` False only past days and days `seal_every`
        entries past their last checkpoint. Returns the checkpoints written."""
        if self.signer is None:
            raise RuntimeError("the audit log has no signer")
        if days is None:
            last = self.last_checkpoint()
            days = self.day_list(str(last["day"]) if last else "", "9999-12-31")
        written = []
        now = today()
        for day in days:
            first, last_key = chain.day_range(day, day)
            head = list(self.entries.find({"key": {"$gte": first, "$lte": last_key}}, {"seq": 1, "hash": 1})
                        .sort([("key", -1)]).limit(1))
            if not head:
                continue
            seq, head_hash = int(head[0]["seq"]), str(head[0]["hash"])
            sealed = self.last_sealed(day)
            if seq <= sealed or (not force and day >= now and seq - sealed < self.seal_every):
                continue
            doc = self._checkpoint(day, seq, head_hash)
            if doc is not None:
                written.append(doc)
        return written

    def _checkpoint(self, day: str, seq: int, head_hash: str) -> Doc | None:
        for _ in range(20):
            if self.last_sealed(day) >= seq:
                return None
            last = self.last_checkpoint()
            n = int(last["n"]) + 1 if last else 1
            body = chain.checkpoint_body(n, day, seq, head_hash, chain.checkpoint_hash(last) if last else "",
                                         stamp(), self.signer.key_id())
            doc = {"_id": chain.checkpoint_id(n), **body, "signature": self.signer.sign(body)}
            try:
                self.checkpoints.insert_one(doc)
            except DuplicateKeyError:
                continue                             # another host wrote checkpoint n: read again
            self._sealed[day] = max(self._sealed.get(day, 0), seq)
            return doc
        raise RuntimeError("could not write an audit checkpoint after 20 tries")

    # -- reading -------------------------------------------------------------------------------------

    def day_list(self, first: str = "", last: str = "9999-12-31") -> list[str]:
        """The days that have entries, from `first` to `last` (one small document per day)."""
        query = {"key": {"$gte": chain.day_key(first), "$lte": chain.day_key(last)}}
        return [d["day"] for d in self.days.find(query).sort([("key", 1)])]

    def partition(self, day: str) -> Iterator[Doc]:
        """A day's entries in seq order, through a cursor (never all in memory)."""
        first, last = chain.day_range(day, day)
        return self.entries.find({"key": {"$gte": first, "$lte": last}}).sort([("key", 1)]).batch_size(1000)

    def sealed(self, day: str) -> Iterator[Doc]:
        """A day's checkpoints in seq order."""
        first, last = chain.day_range(day, day)
        return self.checkpoints.find({"key": {"$gte": first, "$lte": last}}).sort([("key", 1)])

    def checkpoint_chain(self) -> Iterator[Doc]:
        return self.checkpoints.find({"n": {"$gte": 1}}).sort([("n", 1)]).batch_size(1000)

    def checkpoint_days(self) -> Iterator[str]:
        """The day of every checkpoint, in checkpoint order (for the days a checkpoint knows of)."""
        for doc in self.checkpoints.find({"n": {"$gte": 1}}, {"day": 1}).sort([("n", 1)]).batch_size(1000):
            yield str(doc.get("day"))

    def count(self, day: str) -> int:
        first, last = chain.day_range(day, day)
        return self.entries.count_documents({"key": {"$gte": first, "$lte": last}})

    def page(self, filters: Mapping[str, str], first_day: str, last_day: str, after: str | None,
             limit: int) -> list[Doc]:
        """Entries matching `filters` (equalities on `object`, `actor_id`, `action`: allow-listed by the
        caller) between the days, newest first, after the key `after`: one indexed keyset query."""
        low, high = chain.day_range(first_day, last_day)
        if after:
            high = min(high, after)
            key: Doc = {"$gte": low, "$lt": high}
        else:
            key = {"$gte": low, "$lte": high}
        query = dict(filters, key=key)
        return list(self.entries.find(query).sort([("key", -1)]).limit(limit))
