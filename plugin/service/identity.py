"""Who is asking: sign-in, tokens, sessions, the user's own password."""
from __future__ import annotations

import datetime as dt
from typing import Any

from counterflow.core.engine import Actor
from counterflow.core.errors import Invalid, NotFound, RateLimited, Unauthorized
from counterflow.security.passwords import password_problems
from counterflow.service.base import Doc, ServiceBase
from counterflow.service.identity_cache import actor_from_user
from counterflow.service.messages import msg


class IdentityActions(ServiceBase):
    """Signing in and knowing who a request comes from."""

    def login(self, username: Any, password: Any, lang: str) -> tuple[str, dt.datetime, Doc]:
        if (not isinstance(username, str) or not isinstance(password, str) or
                not username or len(username) > 64):
            raise Unauthorized(msg("login_failed", lang), code="login_failed")
        if self.store.hit(f"login:{username}", 60) > self.settings.login_rate_limit * 3:
            raise RateLimited(msg("login_locked", lang))
        if self.store.hits(f"login-failed:{username}", 60) >= self.settings.login_rate_limit:
            raise RateLimited(msg("login_locked", lang))        # locked: even the right password waits
        user = self.store.user_by_name(username)
        ok = self.passwords.verify(user.get("password_hash") if user else None, password[:1024])
        if not ok or not user or not user.get("active", True):
            if self.store.hit(f"login-failed:{username}", 60) > self.settings.login_rate_limit:
                raise RateLimited(msg("login_locked", lang))
            raise Unauthorized(msg("login_failed", lang), code="login_failed")
        token, expires = self.tokens.issue(user)
        return token, expires, user

    def actor_for_token(self, token: str, lang: str) -> Actor:
        found = self.tokens.read(token)
        user = self.users.get(found[0]) if found else None
        if not found or not user or not user.get("active", True) or user.get("token_epoch", 0) != found[1]:
            raise Unauthorized(msg("token", lang), code="unauthorized")
        return actor_from_user(user)

    def actor_for_user_id(self, user_id: str, epoch: int | None = None) -> Actor | None:
        """The session's user, unless deactivated or their password changed since the session began."""
        user = self.users.get(user_id)
        if (not user or not user.get("active", True) or
                (epoch is not None and user.get("token_epoch", 0) != epoch)):
            return None
        return actor_from_user(user)

    def user_state(self, actor: Actor) -> Doc:
        """The built-in account behind an actor (empty for a portal's users)."""
        user = self.users.get(actor.id)
        return {"must_change_password": bool(user and user.get("must_change_password")),
                "token_epoch": (user or {}).get("token_epoch", 0)}

    def change_password(self, actor: Actor, current: str, new: str, lang: str) -> None:
        """The user's own password: the current one, then a strong new one; old tokens and sessions end."""
        user = self.store.user(actor.id)
        if user is None:
            raise NotFound(msg("no_account", lang), code="no_account")
        if self.store.hits(f"login-failed:{user['username']}", 60) >= self.settings.login_rate_limit:
            raise RateLimited(msg("login_locked", lang))
        problems = []
        if not self.passwords.verify(user.get("password_hash"), current[:1024]):
            self.store.hit(f"login-failed:{user['username']}", 60)
            problems.append({"path": "/current_password", "code": "wrong_password",
                             "message": msg("wrong_password", lang)})
        if password_problems(new, user["username"]) or new == current:
            problems.append({"path": "/new_password", "code": "weak_password",
                             "message": msg("password", lang)})
        if problems:
            raise Invalid(problems[0]["message"], code="password_not_changed", details=problems)
        self.store.change_password(user["_id"], self.passwords.hash(new))
        self.users.forget(user["_id"])
