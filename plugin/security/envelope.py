"""Envelope encryption: every record (and every attachment not yet held by one) has its own random data key
(AES-256-GCM); that key is stored wrapped by a master key from the configuration, on the record itself
(`data_key`). Every value sealed under a data key is bound to its owner and its place (the AAD), so a
value copied to another field or record does not open. Destroying the `data_key` of a record leaves every
copy of its values (free pages, journals, backups) unreadable: shredding by key.

Master keys are the COUNTERFLOW_ENCRYPTION_KEY values (32 url-safe base64 bytes each, newest first): the
first wraps new data keys, every one unwraps. A master key is known by its key id (a fingerprint), which
is written before every wrapped key, so rotation finds the records still wrapped by an old one.

Exact search on protected values goes through a keyed HMAC derived from the master key (`finder`): never
a plain hash, which anyone could compute for every ID number."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import threading
from collections import OrderedDict
from typing import Any, Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from counterflow.core import pointer as jp

# a value sealed under its record's data key; a Fernet token (the older app-wide seal) is "cf1:gAAAA...",
# and ":" is not a base64 character, so the two never look alike
ENVELOPE = "cf1:k:"
NONCE = 12
KEYS_KEPT = 4096            # unwrapped data keys kept in the process (least recently used dropped)


class KeyUnavailable(Exception):
    """A wrapped data key that no configured master key opens (its master key was removed, or the record's
    key was destroyed)."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(raw: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"counterflow envelope", info=info).derive(raw)


def master_bytes(key: bytes | str) -> bytes:
    """The 32 bytes of a configured master key (the Fernet key format: url-safe base64)."""
    text = key.decode() if isinstance(key, bytes) else key
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError("an encryption key must be 32 url-safe base64-encoded bytes")
    return raw


def key_id(key: bytes | str) -> str:
    """A master key's fingerprint: 16 hex characters that name it without revealing it."""
    return hashlib.sha256(b"counterflow key id\0" + master_bytes(key)).hexdigest()[:16]


class RecordKey:
    """One owner's data key: seals values (as JSON, any type) and bytes, each bound to (owner, place)."""

    __slots__ = ("owner", "_aead", "raw")

    def __init__(self, owner: str, raw: bytes) -> None:
        self.owner = owner
        self.raw = raw
        self._aead = AESGCM(raw)

    def _aad(self, where: str) -> bytes:
        return f"{self.owner}\0{where}".encode()

    def seal(self, value: Any, where: str) -> str:
        nonce = os.urandom(NONCE)
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return ENVELOPE + _b64(nonce + self._aead.encrypt(nonce, plain, self._aad(where)))

    def open(self, token: str, where: str) -> Any:
        """The value sealed at `where`; raises ValueError when it does not open (another key, another
        place, damaged)."""
        try:
            raw = _unb64(token[len(ENVELOPE):])
            return json.loads(self._aead.decrypt(raw[:NONCE], raw[NONCE:], self._aad(where)))
        except (InvalidTag, ValueError, UnicodeDecodeError) as exc:
            raise ValueError("the sealed value does not open") from exc

    def seal_bytes(self, content: bytes, where: str) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, content, self._aad(where))

    def open_bytes(self, sealed: bytes, where: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], self._aad(where))
        except (InvalidTag, ValueError) as exc:
            raise ValueError("the sealed content does not open") from exc


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(ENVELOPE)


class Keyring:
    """The configured master keys, and the data keys they unwrapped lately (an LRU: a hot record's key is
    unwrapped once per process)."""

    def __init__(self, keys: list[bytes | str], kept: int = KEYS_KEPT) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._wrappers: dict[str, AESGCM] = {}
        self._finders: dict[str, bytes] = {}
        self.order: list[str] = []
        for key in keys:
            raw, kid = master_bytes(key), key_id(key)
            if kid not in self._wrappers:
                self._wrappers[kid] = AESGCM(_derive(raw, b"data key wrap"))
                self._finders[kid] = _derive(raw, b"search index")
                self.order.append(kid)
        self.current = self.order[0]
        self._kept = kept
        self._keys: OrderedDict[str, RecordKey] = OrderedDict()
        self._lock = threading.Lock()

    # -- data keys ---------------------------------------------------------------------------------------

    def new_key(self, owner: str) -> tuple[RecordKey, str]:
        """A fresh data key for `owner` and its wrapped form (to store as the owner's `data_key`)."""
        key = RecordKey(owner, AESGCM.generate_key(bit_length=256))
        wrapped = self.wrap(key.raw, owner)
        self._remember(wrapped, key)
        return key, wrapped

    def wrap(self, raw: bytes, owner: str, kid: str | None = None) -> str:
        kid = kid or self.current
        nonce = os.urandom(NONCE)
        sealed = self._wrappers[kid].encrypt(nonce, raw, b"counterflow data key\0" + owner.encode())
        return f"{kid}:{_b64(nonce + sealed)}"

    def key(self, owner: str, wrapped: Any) -> RecordKey:
        """The data key `wrapped` holds for `owner` (from the LRU when it was opened lately)."""
        if not isinstance(wrapped, str):
            raise KeyUnavailable("no data key")
        with self._lock:
            found = self._keys.get(wrapped)
            if found is not None and found.owner == owner:
                self._keys.move_to_end(wrapped)
                return found
        kid, _, body = wrapped.partition(":")
        wrapper = self._wrappers.get(kid)
        if wrapper is None:
            raise KeyUnavailable(f"the master key {kid} is not configured")
        try:
            raw = _unb64(body)
            plain = wrapper.decrypt(raw[:NONCE], raw[NONCE:], b"counterflow data key\0" + owner.encode())
        except (InvalidTag, ValueError) as exc:
            raise KeyUnavailable("the data key does not unwrap") from exc
        key = RecordKey(owner, plain)
        self._remember(wrapped, key)
        return key

    def rewrap(self, owner: str, wrapped: str) -> str:
        """`wrapped` under the current master key (the data key itself stays the same)."""
        return self.wrap(self.key(owner, wrapped).raw, owner)

    def forget(self, wrapped: str) -> None:
        with self._lock:
            self._keys.pop(wrapped, None)

    def _remember(self, wrapped: str, key: RecordKey) -> None:
        with self._lock:
            self._keys[wrapped] = key
            self._keys.move_to_end(wrapped)
            while len(self._keys) > self._kept:
                self._keys.popitem(last=False)

    @staticmethod
    def kid_of(wrapped: Any) -> str | None:
        return wrapped.partition(":")[0] if isinstance(wrapped, str) and ":" in wrapped else None

    # -- the search index ----------------------------------------------------------------------------------

    def finder(self, kind: str, value: Any, kid: str | None = None) -> str | None:
        """The keyed HMAC under which a protected value is found by exact search (None for no value)."""
        text = normalise(kind, value)
        if not text:
            return None
        digest = hmac.new(self._finders[kid or self.current], f"{kind}\0{text}".encode(), hashlib.sha256)
        return digest.hexdigest()

    def finders(self, kind: str, value: Any) -> list[str]:
        """The value's HMAC under every configured master key (records not rotated yet hold an older one)."""
        found = [self.finder(kind, value, kid) for kid in self.order]
        return list(dict.fromkeys(f for f in found if f))


def normalise(kind: str, value: Any) -> str:
    """One spelling per value: an ID number in capitals without spaces, a phone number's digits only."""
    if not isinstance(value, str):
        return ""
    if kind == "phone":
        return re.sub(r"[^0-9+]", "", value)
    return re.sub(r"\s", "", value).upper()


# -- whole data trees ----------------------------------------------------------------------------------

def seal_tree(data: Any, key: RecordKey, keep: Callable[[Any], str | None], at: str = "") -> Any:
    """`data` with every scalar leaf (text, number, flag) sealed at its pointer; `keep(value)` gives the
    stored text to write back unchanged (a value read from the store that no key opened), else None."""
    if isinstance(data, dict):
        return {k: seal_tree(v, key, keep, jp.append(at, k)) for k, v in data.items()}
    if isinstance(data, list):
        return [seal_tree(v, key, keep, jp.append(at, i)) for i, v in enumerate(data)]
    if data is None:
        return None
    stored = keep(data)
    if stored is not None:
        return stored
    return key.seal(data, "data" + at)


def open_tree(data: Any, key: RecordKey | None, other: Callable[[str, Any], Any],
              unreadable: list[str], at: str = "") -> Any:
    """`data` with every leaf sealed under `key` opened; any other string goes through `other(pointer,
    value)` (older seals, plain values). A leaf that does not open is `other`'s too (it decides the
    placeholder) and its pointer is added to `unreadable`."""
    if isinstance(data, dict):
        return {k: open_tree(v, key, other, unreadable, jp.append(at, k)) for k, v in data.items()}
    if isinstance(data, list):
        return [open_tree(v, key, other, unreadable, jp.append(at, i)) for i, v in enumerate(data)]
    if is_sealed(data):
        if key is not None:
            try:
                return key.open(data, "data" + at)
            except ValueError:
                pass
        unreadable.append(at)
    return other(at, data)


def map_leaves(data: Any, change: Callable[[Any], Any]) -> Any:
    if isinstance(data, dict):
        return {k: map_leaves(v, change) for k, v in data.items()}
    if isinstance(data, list):
        return [map_leaves(v, change) for v in data]
    return change(data)
