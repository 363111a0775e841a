"""Who a user id is: the built-in account as an actor, through a short-lived cache."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from counterflow.core.engine import Actor


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
