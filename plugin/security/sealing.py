"""Sensitive field values encrypted at rest under the app-wide key (Fernet: AES-128-CBC + HMAC-SHA256), one
token per value: how versions before per-record keys (security/envelope.py) sealed them. Values sealed so
still read; `Unreadable` and `PLACEHOLDER` serve both."""
from __future__ import annotations

import base64
from typing import Any, Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from counterflow.core.masking import transform_sensitive, transform_sensitive_at

PREFIX = "cf1:"
PLACEHOLDER = "******"       # what an unreadable stored value shows: a mask that reveals nothing


def derive_key(secret: str) -> bytes:
    """A Fernet key derived from the app's secret (used only when no encryption key is configured)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"counterflow",
               info=b"field-encryption").derive(secret.encode())
    return base64.urlsafe_b64encode(raw)


class Unreadable(str):
    """A stored protected value that no configured key opens (the key is missing or the value damaged).

    It reads as `PLACEHOLDER` everywhere (pages, API, masking, validation), and sealing writes back the
    stored text it carries untouched: an edit never replaces what could not be read, unless a new value
    is typed. Only `Sealer.open_stored` makes one, so a request can never pass one in."""

    stored: str

    def __new__(cls, stored: str) -> Unreadable:
        value = super().__new__(cls, PLACEHOLDER)
        value.stored = stored
        return value

    def __copy__(self) -> Unreadable:
        return self

    def __deepcopy__(self, memo: Any) -> Unreadable:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return Unreadable, (self.stored,)


class Sealer:
    """Seals the `x-sensitive` values of a record's data; the first key encrypts, every key decrypts.

    Which way a value goes depends on where it comes from, never on what it looks like: data from a
    request is always sealed (`seal_input`, even a value that starts with the prefix), data from the
    store is always opened (`open_stored`)."""

    def __init__(self, keys: list[bytes | str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except ValueError as exc:
            raise ValueError("COUNTERFLOW_ENCRYPTION_KEY must be 32 url-safe base64-encoded bytes "
                             "(make one with: python -c 'from cryptography.fernet import Fernet; "
                             "print(Fernet.generate_key().decode())')") from exc

    def seal_input(self, data: Any, sensitive: Mapping[str, str]) -> Any:
        """`data` as it is to be stored: every sensitive string encrypted (a value read from the store
        that could not be opened goes back as it was)."""
        return transform_sensitive(data, sensitive, self._seal_value)

    def open_stored(self, data: Any, sensitive: Mapping[str, str], *,
                    marked: bool = False) -> tuple[Any, list[str]]:
        """Stored `data` with its sealed values decrypted, and the pointers of the values no key opens:
        each reads as `PLACEHOLDER` (with `marked`, as an `Unreadable` that `seal_input` writes back as
        stored; only for data on its way back to the store: validators take plain strings only). A value
        without the prefix was stored before encryption was on and reads as it is."""
        unreadable: list[str] = []

        def open_value(pointer: str, kind: str, value: Any) -> Any:
            if not isinstance(value, str) or not value.startswith(PREFIX):
                return value
            try:
                return self._fernet.decrypt(value[len(PREFIX):].encode()).decode()
            except (InvalidToken, UnicodeDecodeError):
                unreadable.append(pointer)
                return Unreadable(value) if marked else PLACEHOLDER

        return transform_sensitive_at(data, sensitive, open_value), unreadable

    def open_one(self, value: str) -> str:
        """One value sealed by an older version (`cf1:` + a Fernet token); raises ValueError if no key
        opens it."""
        try:
            return self._fernet.decrypt(value[len(PREFIX):].encode()).decode()
        except (InvalidToken, UnicodeDecodeError) as exc:
            raise ValueError("no configured key opens the value") from exc

    @staticmethod
    def unmarked(data: Any, sensitive: Mapping[str, str]) -> Any:
        """`data` (from `open_stored(marked=True)`) with every `Unreadable` as the plain placeholder."""
        return transform_sensitive(data, sensitive, lambda kind, value: (
            PLACEHOLDER if isinstance(value, Unreadable) else value))

    def _seal_value(self, kind: str, value: Any) -> Any:
        if isinstance(value, Unreadable):
            return value.stored
        if not isinstance(value, str) or not value:
            return value
        return PREFIX + self._fernet.encrypt(value.encode()).decode()
