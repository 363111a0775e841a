"""Sensitive field values encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256), one token per value."""
from __future__ import annotations

import base64
from typing import Any, Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from counterflow.core.errors import StoreUnavailable
from counterflow.core.masking import transform_sensitive

PREFIX = "cf1:"


def derive_key(secret: str) -> bytes:
    """A Fernet key derived from the app's secret (used only when no encryption key is configured)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"counterflow",
               info=b"field-encryption").derive(secret.encode())
    return base64.urlsafe_b64encode(raw)


class Sealer:
    """Seals the `x-sensitive` values of a record's data; the first key encrypts, every key decrypts."""

    def __init__(self, keys: list[bytes | str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except ValueError as exc:
            raise ValueError("COUNTERFLOW_ENCRYPTION_KEY must be 32 url-safe base64-encoded bytes "
                             "(make one with: python -c 'from cryptography.fernet import Fernet; "
                             "print(Fernet.generate_key().decode())')") from exc

    def seal(self, data: Any, sensitive: Mapping[str, str]) -> Any:
        return transform_sensitive(data, sensitive, self._seal_value)

    def unseal(self, data: Any, sensitive: Mapping[str, str]) -> Any:
        return transform_sensitive(data, sensitive, self._unseal_value)

    def _seal_value(self, kind: str, value: Any) -> Any:
        if not isinstance(value, str) or not value or value.startswith(PREFIX):
            return value
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def _unseal_value(self, kind: str, value: Any) -> Any:
        if not isinstance(value, str) or not value.startswith(PREFIX):
            return value                     # written before encryption was on, or not a string
        try:
            return self._fernet.decrypt(value[len(PREFIX):].encode()).decode()
        except InvalidToken:
            # never guess and never let an edit overwrite what cannot be read
            raise StoreUnavailable("a protected field cannot be decrypted: the key that sealed it is not "
                                   "configured (COUNTERFLOW_ENCRYPTION_KEY)", code="encryption_key") from None
