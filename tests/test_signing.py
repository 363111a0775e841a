"""Ed25519 signing over canonical JSON: a configured key (seed or PEM) or one derived from the secret;
any changed byte, another key or a malformed signature verifies False; canonical JSON is RFC 8785."""
from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from counterflow.security.signing import Signer, canonical, load_private_key
from counterflow.settings import Settings, SettingsError

PAYLOAD = {"day": "2026-11-28", "heads": {"2026-11-28": "ab" * 32}, "count": 3, "note": "窗口"}


def test_canonical_json_sorts_keys_drops_spaces_and_keeps_utf8() -> None:
    assert canonical({"b": 1, "a": [True, None, 1.5], "c": "é"}) == \
        b'{"a":[true,null,1.5],"b":1,"c":"\xc3\xa9"}'
    assert canonical({"x": 1.0}) == b'{"x":1}'                         # one spelling per number
    with pytest.raises(ValueError):
        canonical({"x": 2 ** 60})                                     # not exact in JSON numbers
    with pytest.raises(ValueError):
        canonical({"x": float("nan")})


def test_sign_and_verify_with_a_derived_key_and_only_the_public_key() -> None:
    signer = Signer.from_settings(None, "app-secret")
    signature = signer.sign(PAYLOAD)
    assert signer.verify(PAYLOAD, signature)
    assert signer.verify(dict(reversed(list(PAYLOAD.items()))), signature)      # key order is not content
    outsider = Signer.from_settings(None, "another-secret")
    assert outsider.verify(PAYLOAD, signature, signer.public_key_pem())     # only the public key needed
    assert not outsider.verify(PAYLOAD, signature)                           # another key: no
    assert Signer.from_settings(None, "app-secret").public_key_pem() == signer.public_key_pem()  # stable
    assert signer.verify(b"raw bytes", signer.sign(b"raw bytes"))


def test_one_changed_byte_or_a_malformed_signature_is_false_never_an_error() -> None:
    signer = Signer.from_settings(None, "s")
    signature = signer.sign(PAYLOAD)
    assert not signer.verify({**PAYLOAD, "count": 4}, signature)
    raw = bytearray(base64.b64decode(signature))
    raw[0] ^= 1
    assert not signer.verify(PAYLOAD, base64.b64encode(bytes(raw)).decode())
    for bad in ("", "not base64!", base64.b64encode(b"short").decode()):
        assert not signer.verify(PAYLOAD, bad)
    assert not signer.verify(PAYLOAD, signature, "not a pem")


def test_configured_seed_and_pem_give_the_same_key() -> None:
    seed = os.urandom(32)
    from_seed = Signer.from_settings(base64.b64encode(seed).decode(), "ignored")
    from_urlsafe = Signer.from_settings(base64.urlsafe_b64encode(seed).decode().rstrip("="), "ignored")
    pem = Ed25519PrivateKey.from_private_bytes(seed).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    from_pem = Signer.from_settings(pem, "ignored")
    assert from_seed.public_key_pem() == from_urlsafe.public_key_pem() == from_pem.public_key_pem()
    assert from_seed.public_key_pem() != Signer.from_settings(None, "ignored").public_key_pem()
    assert from_pem.verify(PAYLOAD, from_seed.sign(PAYLOAD))
    assert len(from_seed.key_id()) == 16


@pytest.mark.parametrize("bad", ["short", base64.b64encode(b"x" * 31).decode(),
                                 "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"])
def test_a_wrong_key_names_the_fix(bad: str) -> None:
    with pytest.raises(ValueError, match="fix:"):
        load_private_key(bad)
    with pytest.raises(SettingsError, match="COUNTERFLOW_SIGNING_KEY"):
        Settings.from_mapping({"COUNTERFLOW_SIGNING_KEY": bad})


def test_settings_keep_a_good_signing_key_out_of_repr() -> None:
    seed = base64.b64encode(os.urandom(32)).decode()
    settings = Settings.from_mapping({"COUNTERFLOW_SIGNING_KEY": seed})
    assert settings.signing_key == seed and seed not in repr(settings)
    assert Settings.from_mapping({}).signing_key is None
