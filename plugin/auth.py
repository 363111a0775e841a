"""Passwords (argon2), bearer tokens (signed, expiring) and the built-in identity."""
from __future__ import annotations

import datetime as dt
import secrets
import string
import threading
import time
from typing import Any, Callable

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .engine import Actor

ROLES = ("admin", "clerk", "reviewer", "dept_head", "manager", "archivist", "supervisor", "auditor")
PROFILES = {"rfc9106_low_memory": profiles.RFC_9106_LOW_MEMORY, "cheapest": profiles.CHEAPEST}
TRIVIAL = {"123456", "12345678", "123456789", "password", "admin123", "11111111", "00000000",
           "qwerty123", "abc12345", "88888888", "66666666", "password1", "a1234567"}


class Passwords:
    """argon2id hashing; `cheapest` exists for test suites only (COUNTERFLOW_PASSWORD_PROFILE)."""

    def __init__(self, profile: str = "rfc9106_low_memory") -> None:
        if profile not in PROFILES:
            raise ValueError(f"COUNTERFLOW_PASSWORD_PROFILE must be one of {', '.join(PROFILES)}, got {profile!r}")
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


class Tokens:
    """Signed bearer tokens naming the user and the user's token epoch (raised to revoke all)."""

    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="counterflow-token")
        self.ttl = ttl_seconds

    def issue(self, user: dict[str, Any]) -> tuple[str, dt.datetime]:
        token = self._serializer.dumps({"u": user["_id"], "e": user.get("token_epoch", 0)})
        return token, dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=self.ttl)

    def read(self, token: str) -> tuple[str, int] | None:
        try:
            data = self._serializer.loads(token, max_age=self.ttl)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), str):
            return None
        return data["u"], int(data.get("e", 0))


def actor_from_user(user: dict[str, Any]) -> Actor:
    return Actor(id=user["_id"], username=user["username"], name=user.get("name", ""),
                 roles=frozenset(user.get("roles", ())), department=user.get("department", ""))


class UserCache:
    """A short-lived cache of user look-ups, so a request costs no extra store round trip."""

    def __init__(self, load: Callable[[str], dict[str, Any] | None], seconds: int) -> None:
        self._load, self._seconds = load, seconds
        self._items: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def get(self, user_id: str) -> dict[str, Any] | None:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(user_id)
        if hit and now - hit[0] < self._seconds:
            return hit[1]
        user = self._load(user_id)
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[user_id] = (now, user)
        return user

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._items.pop(user_id, None)
