"""Passwords: argon2id hashing, the strength rule, generated initial passwords."""
from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

PROFILES = {"rfc9106_low_memory": profiles.RFC_9106_LOW_MEMORY, "cheapest": profiles.CHEAPEST}
TRIVIAL = {"123456", "12345678", "123456789", "password", "admin123", "11111111", "00000000",
           "qwerty123", "abc12345", "88888888", "66666666", "password1", "a1234567"}


class Passwords:
    """argon2id hashing; `cheapest` exists for test suites only (COUNTERFLOW_PASSWORD_PROFILE)."""

    def __init__(self, profile: str = "rfc9106_low_memory") -> None:
        if profile not in PROFILES:
            raise ValueError(f"COUNTERFLOW_PASSWORD_PROFILE must be one of {', '.join(PROFILES)}, "
                             f"got {profile!r}")
        self._hasher = PasswordHasher.from_parameters(PROFILES[profile])
        # verified against when the user name is unknown, so both paths cost the same time
        self._dummy = self._hasher.hash("counterflow-timing-equaliser")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False


def password_problems(password: str, username: str = "") -> list[str]:
    """Codes for why a password is too weak: no initial or trivial passwords (DOMAIN: security)."""
    codes = []
    if len(password) < 10:
        codes.append("too_short")
    if password.lower() in TRIVIAL or (username and username.lower() in password.lower()):
        codes.append("trivial")
    classes = sum(any(c in group for c in password)
                  for group in (string.ascii_lowercase, string.ascii_uppercase, string.digits))
    if classes + (any(not c.isalnum() for c in password)) < 2:
        codes.append("too_simple")
    return codes


def generate_password() -> str:
    return secrets.token_urlsafe(12)
