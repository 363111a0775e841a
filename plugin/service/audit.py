"""The audit log's actions: feeding and sealing (tick), verification (CLI), the auditor's filtered reads."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

from counterflow.core import audit as chain
from counterflow.core.engine import Actor
from counterflow.core.errors import Invalid
from counterflow.core.i18n import message
from counterflow.service.base import Doc, ServiceBase

READERS = frozenset({"auditor"})        # who reads the log; admins administer and are audited, not auditors
FILTERS = {"actor": "actor_id", "action": "action", "object": "object"}     # the allow-list: query -> field
PAGE_DEFAULT, PAGE_MAX = 50, 500
KEEP_PROBLEMS = 1000        # a log rewritten wholesale still verifies in flat memory: the rest are counted
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
AFTER = re.compile(r"k\d{4}-\d{2}-\d{2}:\d{9}")
TEXT = {
    "filter": {"zh-CN": "不支持的筛选条件：{names}；可用：actor、action、object、from、to、cursor、limit",
               "en": "Unsupported filter: {names}; use actor, action, object, from, to, cursor, limit"},
    "day": {"zh-CN": "{name} 须为 YYYY-MM-DD 格式的日期", "en": "{name} must be a date as YYYY-MM-DD"},
    "range": {"zh-CN": "from 不能晚于 to", "en": "from must not be later than to"},
    "limit": {"zh-CN": "limit 须为 1 到 {max} 之间的整数", "en": "limit must be a whole number from 1 to {max}"},
    "text": {"zh-CN": "{name} 须为不超过 200 个字符的文本", "en": "{name} must be text of at most 200 characters"},
    "cursor": {"zh-CN": "cursor 须为上一页返回的 next_cursor",
               "en": "cursor must be the next_cursor of the page before"},
}


@dataclass
class Verification:
    """What `audit verify` found: problems (each naming partition and seq), counts, unsealed tails."""

    problems: list[chain.Problem] = field(default_factory=list)    # the first KEEP_PROBLEMS of them
    problem_count: int = 0
    entries: int = 0
    days: int = 0
    checkpoints: int = 0
    unsealed: dict[str, int] = field(default_factory=dict)     # day -> entries after its last checkpoint

    @property
    def ok(self) -> bool:
        return not self.problem_count

    def add(self, problems: Iterable[chain.Problem]) -> None:
        for problem in problems:
            self.problem_count += 1
            if len(self.problems) < KEEP_PROBLEMS:
                self.problems.append(problem)


class AuditActions(ServiceBase):
    """Feeding, sealing, verifying and reading the audit log."""

    def feed_audit(self, progress: Callable[[int], None] | None = None) -> int:
        """Append the entries of history events still in the audit inbox (a crash left them); idempotent."""
        return self.store.audit_log.feed(progress=progress)

    def seal_audit(self, *, force: bool = False) -> list[Doc]:
        """Signed checkpoints over partition heads: every past day not sealed to its end, and today once
        `seal_every` entries are unsealed (all of them with `force`)."""
        return self.store.audit_log.seal(force=force)

    def verify_audit(self, first: str = "", last: str = "9999-12-31", *,
                     public_keys: Iterable[Any] = (), exported: Iterable[Mapping[str, Any]] = (),
                     progress: Callable[[str, int], None] | None = None) -> Verification:
        """Walk the checkpoint chain and every partition from `first` to `last` with cursors (flat memory):
        each problem names its partition and seq. `public_keys` (PEM) verify checkpoints signed by keys
        other than the configured one; `exported` checkpoints (from `audit checkpoints --out`) must all
        still be in the store, unchanged (this catches a log truncated together with its checkpoints)."""
        log = self.store.audit_log
        keys = list(public_keys)
        result = Verification()

        def signed(body: Mapping[str, Any], signature: str) -> bool:
            return self.signer.verify(dict(body), signature) or any(
                self.signer.verify(dict(body), signature, k) for k in keys)

        days: set[str] = set()

        def chain_docs() -> Iterator[Doc]:
            for doc in log.checkpoint_chain():
                result.checkpoints += 1
                if isinstance(doc.get("day"), str):
                    days.add(doc["day"])
                yield doc

        result.add(chain.verify_checkpoints(chain_docs(), signed))
        for item in exported:
            n = item.get("n")
            stored = log.checkpoints.find_one({"_id": chain.checkpoint_id(n)}) if isinstance(n, int) else None
            if stored is None or chain.checkpoint_hash(stored) != chain.checkpoint_hash(item) \
                    or stored.get("signature") != item.get("signature"):
                result.add([chain.Problem(
                    chain.CHECKPOINTS, n if isinstance(n, int) else None,
                    "truncated" if stored is None else "edited",
                    "an exported checkpoint is " + ("gone from the store" if stored is None else "changed"))])
        days.update(log.day_list())
        for day in sorted(d for d in days if first <= d <= last):
            result.days += 1
            counted = 0

            def entries(day: str = day) -> Iterator[Doc]:
                nonlocal counted
                for doc in log.partition(day):
                    counted += 1
                    if progress is not None and counted % 10000 == 0:
                        progress(day, counted)
                    yield doc

            result.add(chain.verify_partition(day, entries(), log.sealed(day)))
            result.entries += counted
            if progress is not None:
                progress(day, counted)
            tail = counted - log.last_sealed(day)
            if tail > 0:
                result.unsealed[day] = tail
        return result

    def audit_page(self, actor: Actor, query: Mapping[str, Any], lang: str) -> tuple[list[Doc], str | None]:
        """The auditor's filtered, keyset-paged read (newest first); every filter is allow-listed."""
        self.require(actor, READERS, lang)
        unknown = sorted(set(query) - set(FILTERS) - {"from", "to", "cursor", "limit"})
        if unknown:
            raise Invalid(message(TEXT, "filter", lang, names=", ".join(unknown)), code="audit_filter")
        filters: dict[str, str] = {}
        for name, stored in FILTERS.items():
            value = query.get(name)
            if value is None or value == "":
                continue
            if not isinstance(value, str) or len(value) > 200:
                raise Invalid(message(TEXT, "text", lang, name=name), code="audit_filter")
            filters[stored] = value
        first, last = self._day(query.get("from"), "from", "0000-01-01", lang), \
            self._day(query.get("to"), "to", "9999-12-31", lang)
        if first > last:
            raise Invalid(message(TEXT, "range", lang), code="audit_filter")
        after = query.get("cursor")
        if after is not None and (not isinstance(after, str) or not AFTER.fullmatch(after)):
            raise Invalid(message(TEXT, "cursor", lang), code="audit_filter")
        raw_limit = query.get("limit", PAGE_DEFAULT)
        try:
            limit = int(raw_limit)
        except (TypeError, ValueError):
            limit = -1
        if not 1 <= limit <= PAGE_MAX:
            raise Invalid(message(TEXT, "limit", lang, max=PAGE_MAX), code="audit_filter")
        # one equality leads (the most selective first: object, then actor, then action): one index serves it
        lead: dict[str, str] = next(
            ({k: filters[k]} for k in ("object", "actor_id", "action") if k in filters), {})
        rest = {k: v for k, v in filters.items() if k not in lead}
        found: list[Doc] = []
        cursor = after
        while len(found) < limit:
            batch = self.store.audit_log.page(lead, first, last, cursor, limit)
            found.extend(d for d in batch if all(d.get(k) == v for k, v in rest.items()))
            if len(batch) < limit:
                cursor = None
                break
            cursor = batch[-1]["key"]
        page = found[:limit]
        more = cursor is not None or len(found) > limit
        return [public_entry(d) for d in page], (page[-1]["_id"] if page and more else None)

    @staticmethod
    def _day(value: Any, name: str, default: str, lang: str) -> str:
        if value is None or value == "":
            return default
        if not isinstance(value, str) or not DAY.fullmatch(value):
            raise Invalid(message(TEXT, "day", lang, name=name), code="audit_filter")
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise Invalid(message(TEXT, "day", lang, name=name), code="audit_filter") from None
        return value


def public_entry(doc: Mapping[str, Any]) -> Doc:
    """An entry as the API shows it: everything it holds, its key as `id`."""
    return {"id": doc["_id"], **{k: v for k, v in doc.items() if k not in ("_id", "key")}}
