"""Ed25519 signatures over canonical JSON (RFC 8785): audit checkpoints, destruction certificates.

The key comes from configuration (`COUNTERFLOW_SIGNING_KEY`: base64 of a 32-byte seed, or a PEM private
key); without one it is derived from the app's secret with HKDF, like the field-encryption key. A
verifier needs only the public key (`public_key_pem()`), so a checkpoint or certificate exported to an
outside system can be checked there without any secret."""
from __future__ import annotations

import base64
import binascii
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FIX = ("fix: give base64 of 32 random bytes (python -c 'import os, base64; "
           "print(base64.b64encode(os.urandom(32)).decode())') or an Ed25519 private key in PEM")


def canonical(obj: Any) -> bytes:
    """`obj` as RFC 8785 canonical JSON: sorted keys, no spaces, one spelling per number and string.

    Raises ValueError for what JSON cannot carry exactly (integers beyond 2**53, NaN, non-JSON types)."""
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"not canonical JSON: {exc}") from exc


def derive_seed(secret: str) -> bytes:
    """A 32-byte Ed25519 seed derived from the app's secret (used only when no signing key is configured)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"counterflow",
                info=b"ed25519-signing").derive(secret.encode())


def load_private_key(text: str) -> Ed25519PrivateKey:
    """A configured signing key: a PEM Ed25519 private key, or base64 (standard or url-safe) of a seed.

    Raises ValueError naming the fix."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"is not a readable unencrypted PEM private key; {KEY_FIX}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"is a PEM key but not an Ed25519 one; {KEY_FIX}")
        return key
    try:
        padded = text + "=" * (-len(text) % 4)
        seed = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"is neither base64 nor PEM; {KEY_FIX}") from None
    if len(seed) != 32:
        raise ValueError(f"decodes to {len(seed)} bytes, not 32; {KEY_FIX}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ValueError otherwise."""
    try:
        key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except (ValueError, TypeError) as exc:
        raise ValueError("not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def _payload_bytes(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else canonical(payload)


class Signer:
    """Signs and verifies payloads (bytes as they are, anything else as canonical JSON) with one key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()

    @classmethod
    def from_settings(cls, configured: str | None, secret: str) -> Signer:
        """The configured key, else one derived from `secret`."""
        if configured and configured.strip():
            return cls(load_private_key(configured))
        return cls(Ed25519PrivateKey.from_private_bytes(derive_seed(secret)))

    def sign(self, payload: Any) -> str:
        """The base64 signature of `payload`."""
        return base64.b64encode(self._key.sign(_payload_bytes(payload))).decode()

    def verify(self, payload: Any, signature: str, public_key: str | bytes | Ed25519PublicKey | None = None,
               ) -> bool:
        """Whether `signature` (base64) signs `payload` under `public_key` (PEM or key; default: this
        signer's). Never raises for a malformed signature or payload: that is simply False."""
        try:
            key = public_key if isinstance(public_key, Ed25519PublicKey) else (
                load_public_key(public_key) if public_key is not None else self.public_key)
            raw = base64.b64decode(signature, validate=True)
            key.verify(raw, _payload_bytes(payload))
            return True
        except (InvalidSignature, ValueError, TypeError, binascii.Error):
            return False

    def public_key_pem(self) -> str:
        return self.public_key.public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def key_id(self) -> str:
        """A short name of the public key (the first 16 hex digits of SHA-256 of its raw bytes)."""
        digest = hashes.Hash(hashes.SHA256())
        digest.update(self.public_key.public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw))
        return digest.finalize().hex()[:16]
