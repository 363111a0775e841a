"""Protected fields at rest: sealed with the first key, readable with any configured key."""
from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from counterflow.core.errors import StoreUnavailable
from counterflow.security.sealing import PREFIX, Sealer, derive_key

SENSITIVE = {"/id_number": "id_number", "/rows/*/card": "bank_card"}
DATA = {"id_number": "110105199001011234", "plate": "京A12345",
        "rows": [{"card": "6222020200112233445", "qty": 1}, {"card": "", "qty": 2}]}


def test_seal_encrypts_only_sensitive_strings_and_unseal_restores_them() -> None:
    sealer = Sealer([Fernet.generate_key()])
    sealed = sealer.seal(DATA, SENSITIVE)
    assert sealed["id_number"].startswith(PREFIX) and "1101" not in sealed["id_number"]
    assert sealed["rows"][0]["card"].startswith(PREFIX)
    assert sealed["rows"][1]["card"] == "" and sealed["plate"] == DATA["plate"]
    assert sealer.unseal(sealed, SENSITIVE) == DATA
    assert DATA["id_number"] == "110105199001011234"                 # the input is never changed


def test_sealing_twice_does_not_double_encrypt_and_tokens_differ() -> None:
    sealer = Sealer([Fernet.generate_key()])
    once = sealer.seal(DATA, SENSITIVE)
    assert sealer.seal(once, SENSITIVE) == once
    assert sealer.seal(DATA, SENSITIVE)["id_number"] != once["id_number"]   # randomised: no equality leaks


def test_rotation_new_key_first_old_key_still_reads() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed_old = Sealer([old]).seal(DATA, SENSITIVE)
    rotated = Sealer([new, old])
    assert rotated.unseal(sealed_old, SENSITIVE) == DATA
    assert Sealer([new]).unseal(rotated.seal(DATA, SENSITIVE), SENSITIVE) == DATA


def test_a_missing_key_is_a_clear_error_not_a_guess() -> None:
    sealed = Sealer([Fernet.generate_key()]).seal(DATA, SENSITIVE)
    with pytest.raises(StoreUnavailable) as caught:
        Sealer([Fernet.generate_key()]).unseal(sealed, SENSITIVE)
    assert caught.value.code == "encryption_key"


def test_values_written_before_encryption_still_read() -> None:
    assert Sealer([derive_key("s")]).unseal(DATA, SENSITIVE) == DATA


def test_a_malformed_key_says_how_to_make_one() -> None:
    with pytest.raises(ValueError, match="Fernet.generate_key"):
        Sealer(["not-a-key"])
