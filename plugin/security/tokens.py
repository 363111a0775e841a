"""Bearer tokens: signed, expiring, ended by a password change (the user's token epoch)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


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
