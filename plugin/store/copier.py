"""The event copier: committed events leave their outboxes for `events`, in batches, off the request path."""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Iterable

import pymongo
from pymongo.errors import BulkWriteError, PyMongoError

Doc = dict[str, Any]
log = logging.getLogger(__name__)


class EventCopier:
    """Copies committed events into `events` off the request path, in batches, never dropping one.

    The event is already durable in the object's outbox when it is queued here, and stays
    there until the object's next commit sees, through `copied()`, that it is in `events`;
    a failed copy is retried, and events a crash left behind are swept by `Store.copy_outboxes`.
    """

    LINGER_SECONDS = 0.05      # gather a batch for this long; flush() cuts it short
    REMEMBER = 10_000          # ids copied lately: re-queued outbox events are skipped, not re-sent

    def __init__(self, events: pymongo.collection.Collection, audit: Any = None) -> None:
        self._events = events
        self._audit = audit             # store/audit.AuditLog: each event enters its inbox before `events`
        self._queue: queue.Queue[list[Doc] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._hurry = threading.Event()
        self._copied: dict[str, None] = {}

    def put(self, events: list[Doc]) -> None:
        if not events:
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="counterflow-event-copier",
                                                daemon=True)
                self._thread.start()
        self._queue.put(events)

    def copied(self, ids: Iterable[str | None]) -> set[str]:
        """Which of these event ids this copier has seen acknowledged in `events` (lately)."""
        return {i for i in ids if i is not None and i in self._copied}

    def flush(self) -> None:
        """Wait until every queued event is in `events` (history reads call this)."""
        if self._thread is not None and self._thread.is_alive():
            self._hurry.set()
            self._queue.join()

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._hurry.set()
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.task_done()
                return
            self._hurry.wait(self.LINGER_SECONDS)
            self._hurry.clear()
            batch, taken, stop = list(first), 1, False
            while len(batch) < 1000:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                taken += 1
                if more is None:
                    stop = True
                    break
                batch.extend(more)
            self._insert(batch)
            for _ in range(taken):
                self._queue.task_done()
            if stop:
                return

    def _insert(self, batch: list[Doc]) -> None:
        docs = list({e["_id"]: dict(e) for e in batch
                     if e and e.get("_id") and e["_id"] not in self._copied}.values())
        if not docs:
            return
        for attempt in range(6):
            try:
                if self._audit is not None:
                    self._audit.receive(docs)
                self._events.insert_many(docs, ordered=False)
                self._remember(docs)
                self._feed(docs)
                return
            except BulkWriteError as exc:
                if all(err.get("code") == 11000 for err in exc.details.get("writeErrors", [])):
                    self._remember(docs)
                    self._feed(docs)
                    return
                log.warning("copying %d events failed (%s); retrying", len(docs),
                            exc.details.get("writeErrors", [{}])[0].get("code"))
            except PyMongoError as exc:
                log.warning("copying %d events failed (%s); retrying", len(docs), type(exc).__name__)
            time.sleep(min(2 ** attempt * 0.1, 3))
        log.error("gave up copying %d events for now; they stay in their outboxes until the next sweep",
                  len(docs))

    def _feed(self, docs: list[Doc]) -> None:
        """The audit entries of events now in `events`; what fails here stays in the inbox for `tick`."""
        if self._audit is None:
            return
        try:
            self._audit.feed_events(docs)
        except Exception as exc:         # never the copier's end: the events wait in the inbox for `tick`
            log.warning("feeding %d events into the audit log failed (%s); `tick` feeds them",
                        len(docs), type(exc).__name__)

    def _remember(self, docs: list[Doc]) -> None:
        for doc in docs:
            self._copied[doc["_id"]] = None
        while len(self._copied) > self.REMEMBER:
            del self._copied[next(iter(self._copied))]
