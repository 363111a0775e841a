"""The audit log's chain, pure: how an entry and a checkpoint are made and hashed, and how a partition and
the checkpoint chain are verified, one document at a time (flat memory, whatever the length).

One chain per partition (a UTC day): entry `seq` 1, 2, 3 ... with `_id` (and `key`) "k<day>:<seq:09d>",
`prev` = the hash of entry seq-1 (the day's genesis hash for seq 1), `hash` = SHA-256 of the entry's
canonical JSON (RFC 8785) without `_id`, `key` and `hash`. Checkpoints form one chain of their own
(`n` 1, 2, 3 ..., `prev` = the previous checkpoint's hash), each sealing one partition's head (day, seq,
hash) and signed (Ed25519). Verification names what it finds by partition and seq:
an edited entry (its content no longer matches its hash, or its successor's `prev` no longer matches),
a deleted one (a gap in seq), a reordered or inserted one (a broken link, a repeated seq), a truncated
partition (a checkpoint seals an entry that is gone) and any edited, deleted or forged checkpoint.
Entries never hold a sensitive value: what changed is named by JSON pointers only."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

import rfc8785

from counterflow.core.clock import stamp

Doc = dict[str, Any]
SEQ_DIGITS = 9
KEY_PREFIX = "k"
UNHASHED = frozenset({"_id", "key", "hash"})
UNSIGNED = frozenset({"_id", "signature"})
# keys whose values could be data; a direct entry's details never keep them (only pointers and names)
VALUE_KEYS = frozenset({"old", "new", "value", "values", "data", "before", "after", "password", "secret",
                        "token", "plain"})
TEXT_LIMIT = 500


def entry_key(day: str, seq: int) -> str:
    """An entry's `_id` and `key` (the field ranges and pages run on): "k<day>:<seq:09d>". The letter is
    needed: the embedded server matches no text that begins with a date, not even by equality on `_id`."""
    return f"{KEY_PREFIX}{day}:{seq:0{SEQ_DIGITS}d}"


entry_id = entry_key


def day_key(day: str) -> str:
    return KEY_PREFIX + day


def day_range(first: str, last: str) -> tuple[str, str]:
    """The keys bounding every entry of days `first`..`last` (inclusive), for a range on `key`."""
    return f"{KEY_PREFIX}{first}:", f"{KEY_PREFIX}{last}:~"


def canonical(obj: Any) -> bytes:
    """RFC 8785 canonical JSON (the same bytes as security/signing.canonical; the core imports only the core).

    The `rfc8785` package is pure Python and costs about 300 µs for an entry, which would make a million
    entries' verification a matter of hours: a value made only of ASCII keys, text, whole numbers within
    2**53, booleans and null is written by the standard library's JSON encoder with sorted keys, which
    gives exactly RFC 8785's bytes for such a value (the two differ only for floats and for the order of
    non-ASCII keys); anything else goes through `rfc8785`. tests/test_audit.py checks both agree."""
    if _plain(obj, 0):
        return _FAST.encode(obj).encode()
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"not canonical JSON: {exc}") from exc


_FAST = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
_LIMIT = 2 ** 53


def _plain(value: Any, depth: int) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_LIMIT < value < _LIMIT
    if depth > 16:
        return False
    if kind is dict:
        return all(type(k) is str and k.isascii() and _plain(v, depth + 1) for k, v in value.items())
    if kind is list:
        return all(_plain(v, depth + 1) for v in value)
    return False


def digest(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(dict(body))).hexdigest()


def genesis(day: str) -> str:
    """The `prev` of a partition's first entry: bound to the day, so a partition cannot pass as another."""
    return digest({"audit_genesis": day})


def entry_hash(doc: Mapping[str, Any]) -> str:
    return digest({k: v for k, v in doc.items() if k not in UNHASHED})


def make_entry(day: str, seq: int, prev: str, fields: Mapping[str, Any]) -> Doc:
    """The stored entry: `fields` (None values left out) chained after `prev`."""
    body = {k: v for k, v in fields.items() if v is not None and k not in UNHASHED}
    body.update(day=day, seq=seq, prev=prev)
    return {"_id": entry_id(day, seq), "key": entry_key(day, seq), **body, "hash": digest(body)}


def clean_details(details: Mapping[str, Any] | None, depth: int = 0) -> Doc | None:
    """What a direct entry keeps of `details`: names, pointers, counts and short texts; never a key that
    could hold a value (`VALUE_KEYS`), nothing nested deeper than two levels, nothing not JSON."""
    if not details:
        return None
    out: Doc = {}
    for key, value in details.items():
        key = str(key)
        if key.lower() in VALUE_KEYS:
            continue
        kept = _clean(value, depth)
        if kept is not None:
            out[key] = kept
    return out or None


def _clean(value: Any, depth: int) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) < 2 ** 53 else str(value)
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        return value[:TEXT_LIMIT]
    if isinstance(value, Mapping) and depth < 2:
        return clean_details(value, depth + 1)
    if isinstance(value, (list, tuple)) and depth < 2:
        return [c for c in (_clean(v, depth + 1) for v in list(value)[:200]) if c is not None]
    return str(value)[:TEXT_LIMIT] if depth < 2 else None


def event_fields(event: Mapping[str, Any]) -> Doc:
    """The audit entry of a history event: who, when, what, from and to, the opinion as reason, and the
    pointers of the changed fields (never their old or new values)."""
    raw_actor, raw_changes = event.get("actor"), event.get("changes")
    actor: Mapping[str, Any] = raw_actor if isinstance(raw_actor, Mapping) else {}
    kind, trigger = str(event.get("kind") or "event"), event.get("trigger")
    changes: list[Any] = raw_changes if isinstance(raw_changes, list) else []
    pointers = [str(c.get("path")) for c in changes if isinstance(c, Mapping) and c.get("path")]
    details = {"process": event.get("process"), "revision": event.get("revision"),
               "to_process": event.get("to_process"), "outcome": event.get("outcome"),
               "changed": pointers or None}
    return {"at": _text(event.get("at")), "action": f"{kind}.{trigger}" if trigger else kind,
            "actor": _who(actor), "actor_id": str(actor.get("id") or "") or None,
            "on_behalf_of": _text(event.get("on_behalf_of")), "object": _text(event.get("object_id")),
            "source": _text(event.get("source")), "dest": _text(event.get("dest")),
            "reason": _text(event.get("opinion") or event.get("reason")), "grant": _text(event.get("grant")),
            "request_id": _text(event.get("request_id")), "event": str(event["_id"]),
            "details": {k: v for k, v in (clean_details(details) or {}).items() if v is not None} or None}


def audit_fields(action: str, actor: Any, *, object_id: str | None = None, on_behalf_of: str | None = None,
                 source: str | None = None, dest: str | None = None, reason: str | None = None,
                 grant: str | None = None, request_id: str | None = None,
                 details: Mapping[str, Any] | None = None, at: str | None = None) -> Doc:
    """A direct entry's fields; `actor` is an engine Actor (or None: an unknown or failed sign-in)."""
    who = None if actor is None else _who({"id": actor.id, "username": actor.username, "name": actor.name})
    return {"at": at or stamp(), "action": str(action)[:100], "actor": who,
            "actor_id": who.get("id") if who else None, "on_behalf_of": _text(on_behalf_of),
            "object": _text(object_id), "source": _text(source), "dest": _text(dest), "reason": _text(reason),
            "grant": _text(grant), "request_id": _text(request_id), "details": clean_details(details)}


def _who(actor: Mapping[str, Any]) -> Doc | None:
    who = {k: str(actor[k]) for k in ("id", "username", "name") if actor.get(k)}
    return who or None


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)[:TEXT_LIMIT]


# -- verification ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    partition: str          # the day, or "checkpoints"
    seq: int | None         # the entry's seq, or the checkpoint's n
    kind: str               # edited | deleted | inserted | reordered | truncated | forged | malformed
    message: str

    def __str__(self) -> str:
        where = f"{self.partition} seq {self.seq}" if self.seq is not None else self.partition
        return f"{where}: {self.kind}: {self.message}"


def verify_partition(day: str, entries: Iterable[Mapping[str, Any]],
                     sealed: Iterable[Mapping[str, Any]]) -> Iterator[Problem]:
    """Problems of one partition: `entries` in `seq` order, `sealed` its checkpoints in `seq` order (each
    with `seq` and `hash`). Every problem is named once, where it is; the walk goes on after one."""
    seals = iter(sealed)
    seal = next(seals, None)
    expected, prev, last = 1, genesis(day), 0
    for doc in entries:
        seq = doc.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            yield Problem(day, None, "malformed", f"entry {doc.get('_id')!r} has no whole seq")
            continue
        if seq < expected:
            yield Problem(day, seq, "inserted", f"a second entry with seq {seq} ({doc.get('_id')!r})")
            continue
        if seq > expected:
            gap = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
            yield Problem(day, expected, "deleted", f"entries {gap} are missing before seq {seq}")
        own = entry_hash(doc)
        if (doc.get("_id"), doc.get("key"), doc.get("day")) != (entry_id(day, seq), entry_key(day, seq), day):
            yield Problem(day, seq, "edited", f"its id, key or day is not that of {entry_id(day, seq)!r}")
        elif own != doc.get("hash"):
            yield Problem(day, seq, "edited", "its content does not match its hash")
        elif doc.get("prev") != prev and seq == expected:
            yield Problem(day, seq, "reordered",
                          f"its prev does not match the hash of seq {seq - 1}: entry {seq - 1} was changed "
                          f"or replaced, or this one was moved or inserted here")
        while seal is not None and int(seal.get("seq") or 0) < seq:
            yield Problem(day, int(seal.get("seq") or 0), "deleted",
                          "a checkpoint seals an entry that is gone")
            seal = next(seals, None)
        if seal is not None and seal.get("seq") == seq:
            if seal.get("hash") != own:
                yield Problem(day, seq, "edited", f"checkpoint {seal.get('n')} sealed another hash for it")
            seal = next(seals, None)
        stored = doc.get("hash")
        prev = stored if isinstance(stored, str) else own
        expected, last = seq + 1, seq
    while seal is not None:
        yield Problem(day, int(seal.get("seq") or 0), "truncated",
                      f"checkpoint {seal.get('n')} seals seq {seal.get('seq')} but the partition ends at "
                      f"seq {last}")
        seal = next(seals, None)


def checkpoint_body(n: int, day: str, seq: int, head_hash: str, prev: str, at: str, key_id: str) -> Doc:
    return {"n": n, "day": day, "seq": seq, "hash": head_hash, "prev": prev, "at": at, "key_id": key_id,
            "key": entry_key(day, seq)}


def checkpoint_hash(doc: Mapping[str, Any]) -> str:
    return digest({k: v for k, v in doc.items() if k not in UNSIGNED})


def checkpoint_id(n: int) -> str:
    return f"{n:012d}"


CHECKPOINTS = "checkpoints"


def verify_checkpoints(docs: Iterable[Mapping[str, Any]],
                       verify_signature: Callable[[Mapping[str, Any], str], bool]) -> Iterator[Problem]:
    """Problems of the checkpoint chain (in `n` order): gaps, broken links, bad signatures."""
    expected, prev = 1, ""
    for doc in docs:
        n = doc.get("n")
        if not isinstance(n, int) or isinstance(n, bool):
            yield Problem(CHECKPOINTS, None, "malformed", f"checkpoint {doc.get('_id')!r} has no whole n")
            continue
        if n < expected:
            yield Problem(CHECKPOINTS, n, "inserted", f"a second checkpoint {n}")
            continue
        if n > expected:
            yield Problem(CHECKPOINTS, expected, "deleted", f"checkpoints {expected}..{n - 1} are missing")
        body = {k: v for k, v in doc.items() if k not in UNSIGNED}
        if doc.get("_id") != checkpoint_id(n):
            yield Problem(CHECKPOINTS, n, "edited", f"its id is not {checkpoint_id(n)!r}")
        elif not verify_signature(body, str(doc.get("signature") or "")):
            yield Problem(CHECKPOINTS, n, "forged", "its signature does not verify (edited, or another key)")
        elif n == expected and doc.get("prev") != prev:
            yield Problem(CHECKPOINTS, n, "reordered", f"its prev does not match checkpoint {n - 1}")
        prev, expected = checkpoint_hash(doc), n + 1
