"""Protected fields at rest: sealed with the first key, readable with any configured key; what comes
from a request is always sealed, what comes from the store is always opened (never judged by its looks)."""
from __future__ import annotations

import copy

import pytest
from cryptography.fernet import Fernet

from counterflow.security.sealing import PLACEHOLDER, PREFIX, Sealer, Unreadable, derive_key

SENSITIVE = {"/id_number": "id_number", "/rows/*/card": "bank_card"}
DATA = {"id_number": "110105199001011234", "plate": "京A12345",
        "rows": [{"card": "6222020200112233445", "qty": 1}, {"card": "", "qty": 2}]}


def test_seal_encrypts_only_sensitive_strings_and_opening_restores_them() -> None:
    sealer = Sealer([Fernet.generate_key()])
    sealed = sealer.seal_input(DATA, SENSITIVE)
    assert sealed["id_number"].startswith(PREFIX) and "1101" not in sealed["id_number"]
    assert sealed["rows"][0]["card"].startswith(PREFIX)
    assert sealed["rows"][1]["card"] == "" and sealed["plate"] == DATA["plate"]
    assert sealer.open_stored(sealed, SENSITIVE) == (DATA, [])
    assert DATA["id_number"] == "110105199001011234"                 # the input is never changed


def test_input_that_looks_sealed_is_sealed_like_any_other_and_tokens_differ() -> None:
    sealer = Sealer([Fernet.generate_key()])
    once = sealer.seal_input(DATA, SENSITIVE)
    twice = sealer.seal_input(once, SENSITIVE)       # a request may send anything, even a real token
    assert twice["id_number"] != once["id_number"] and twice["id_number"].startswith(PREFIX)
    assert sealer.open_stored(twice, SENSITIVE)[0]["id_number"] == once["id_number"]
    typed = {"id_number": "cf1:not-a-token"}
    stored = sealer.seal_input(typed, SENSITIVE)
    assert stored["id_number"] != typed["id_number"] and "not-a-token" not in stored["id_number"]
    assert sealer.open_stored(stored, SENSITIVE) == (typed, [])
    assert sealer.seal_input(DATA, SENSITIVE)["id_number"] != once["id_number"]   # randomised: nothing leaks


def test_rotation_new_key_first_old_key_still_reads() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed_old = Sealer([old]).seal_input(DATA, SENSITIVE)
    rotated = Sealer([new, old])
    assert rotated.open_stored(sealed_old, SENSITIVE) == (DATA, [])
    assert Sealer([new]).open_stored(rotated.seal_input(DATA, SENSITIVE), SENSITIVE) == (DATA, [])


def test_a_value_no_key_opens_reads_as_a_placeholder_and_is_written_back_as_stored() -> None:
    sealed = Sealer([Fernet.generate_key()]).seal_input(DATA, SENSITIVE)
    other = Sealer([Fernet.generate_key()])
    opened, unreadable = other.open_stored(sealed, SENSITIVE)
    assert unreadable == ["/id_number", "/rows/0/card"]
    assert opened["id_number"] == PLACEHOLDER and type(opened["id_number"]) is str
    assert opened["rows"][0]["card"] == PLACEHOLDER and opened["plate"] == DATA["plate"]
    marked, _ = other.open_stored(sealed, SENSITIVE, marked=True)
    assert isinstance(marked["id_number"], Unreadable) and marked["id_number"] == PLACEHOLDER
    assert copy.deepcopy(marked)["id_number"].stored == sealed["id_number"]
    assert other.unmarked(marked, SENSITIVE) == opened
    assert type(other.unmarked(marked, SENSITIVE)["id_number"]) is str
    back = other.seal_input(marked, SENSITIVE)
    assert back["id_number"] == sealed["id_number"] and back["rows"][0]["card"] == sealed["rows"][0]["card"]
    # the placeholder typed as a value (not read from the store) is input: sealed
    assert other.seal_input({"id_number": PLACEHOLDER}, SENSITIVE)["id_number"].startswith(PREFIX)


def test_values_written_before_encryption_still_read() -> None:
    assert Sealer([derive_key("s")]).open_stored(DATA, SENSITIVE) == (DATA, [])


def test_a_malformed_key_says_how_to_make_one() -> None:
    with pytest.raises(ValueError, match="Fernet.generate_key"):
        Sealer(["not-a-key"])
