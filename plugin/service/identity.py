"""Who is asking: sign-in, tokens, sessions, the user's own password."""
from __future__ import annotations

import datetime as dt
import time
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from counterflow.core.accounts import normal_username
from counterflow.core.engine import Actor
from counterflow.core.errors import Forbidden, Invalid, NotFound, RateLimited, Unauthorized
from counterflow.core.i18n import message
from counterflow.security.passwords import PasswordsBusy, password_advice
from counterflow.service.base import Doc, ServiceBase
from counterflow.service.identity_cache import actor_from_user
from counterflow.service.messages import msg

TEXT = {
    "busy": {"zh-CN": "登录的人太多，请几秒后再试", "en": "Too many sign-ins at once; try again in a few seconds"},
    "address_locked": {"zh-CN": "此地址登录失败次数过多，请一分钟后再试",
                       "en": "Too many failed sign-ins from this address; try again in a minute"},
    "password_change_required": {
        "zh-CN": "您正在使用初始密码：请先修改密码（网页：账号 > 修改密码；接口：POST /api/v1/me/password），"
                 "之后才能继续使用",
        "en": "You are using an initial password: change it first (pages: Account > Change password; "
              "API: POST /api/v1/me/password), then carry on"},
    "weak": {"zh-CN": "新密码太弱：{advice}", "en": "The new password is too weak: {advice}"},
    "same": {"zh-CN": "新密码不能与当前密码相同", "en": "The new password must differ from the current one"},
}
# What a page session holds: the user, both epochs (a password change raises the token epoch,
# a logout the session epoch) and when it began (sessions end SESSION_HOURS after sign-in).
SESSION_KEYS = ("cf_uid", "cf_epoch", "cf_sepoch", "cf_at")


@contextmanager
def hashing(lang: str) -> Iterator[None]:
    """Every argon2 slot taken: a 429 saying to try again, not a queue of CPU-bound work."""
    try:
        yield
    except PasswordsBusy:
        raise RateLimited(message(TEXT, "busy", lang), code="busy") from None


class IdentityActions(ServiceBase):
    """Signing in and knowing who a request comes from."""

    def login(self, username: Any, password: Any, lang: str,
              address: str = "-") -> tuple[str, dt.datetime, Doc]:
        """A token for a user name and password; `address` (the client's) has its own failure limit.

        A name that is no account costs no argon2 hash: `equalise` waits as long as a verify
        takes instead, so the answer and its time are the same for known and unknown names.
        """
        address_bucket = f"login-address:{address}"
        if self.store.hits(address_bucket, 60) >= self.settings.login_address_limit:
            raise RateLimited(message(TEXT, "address_locked", lang))
        if not isinstance(username, str) or not isinstance(password, str) or not username:
            raise Unauthorized(msg("login_failed", lang), code="login_failed")
        name = normal_username(username)
        bucket = name or username[:64]
        if self.store.hit(f"login:{bucket}", 60) > self.settings.login_rate_limit * 3:
            raise RateLimited(msg("login_locked", lang))
        if self.store.hits(f"login-failed:{bucket}", 60) >= self.settings.login_rate_limit:
            raise RateLimited(msg("login_locked", lang))        # locked: even the right password waits
        user = self.store.user_by_name(name) if name else None
        with hashing(lang):
            if user and user.get("password_hash"):
                ok = self.passwords.verify(user["password_hash"], password[:1024])
            else:
                self.passwords.equalise()
                ok = False
        if not ok or not user or not user.get("active", True):
            self.audit("login_failed", None, source=address, details={"username": bucket[:64]})
            self.store.hit(address_bucket, 60)
            if self.store.hit(f"login-failed:{bucket}", 60) > self.settings.login_rate_limit:
                raise RateLimited(msg("login_locked", lang))
            raise Unauthorized(msg("login_failed", lang), code="login_failed")
        token, expires = self.tokens.issue(user)
        self.audit("login", actor_from_user(user), source=address)
        return token, expires, user

    def actor_for_token(self, token: str, lang: str) -> Actor:
        found = self.tokens.read(token)
        user = self.users.get(found[0]) if found else None
        if not found or not user or not user.get("active", True) or user.get("token_epoch", 0) != found[1]:
            raise Unauthorized(msg("token", lang), code="unauthorized")
        return actor_from_user(user)

    # -- page sessions ---------------------------------------------------------------------------

    def session_for(self, user: Doc) -> dict[str, Any]:
        """What a page session holds after sign-in (see SESSION_KEYS)."""
        return {"cf_uid": user["_id"], "cf_epoch": user.get("token_epoch", 0),
                "cf_sepoch": user.get("session_epoch", 0), "cf_at": int(time.time())}

    def actor_for_session(self, session: Mapping[str, Any]) -> Actor | None:
        """The session's user, unless deactivated, signed out since (session epoch), their password
        changed since (token epoch), or the session began more than SESSION_HOURS ago."""
        user_id, began = session.get("cf_uid"), session.get("cf_at")
        if not isinstance(user_id, str) or not isinstance(began, int):
            return None                             # no sign-in, or a session from before lifetimes
        if not 0 <= time.time() - began < self.settings.session_hours * 3600:
            return None
        user = self.users.get(user_id)
        if (not user or not user.get("active", True) or user.get("token_epoch", 0) != session.get("cf_epoch")
                or user.get("session_epoch", 0) != session.get("cf_sepoch")):
            return None
        return actor_from_user(user)

    def end_sessions(self, user_id: str) -> None:
        """Sign-out: every page session of this user ends, here and (after the user cache) on other hosts.

        All of them, not only this one: the threat is a copied cookie, and ending every session
        is the one way to be sure it dies without a server-side table of sessions. Bearer tokens
        are not touched (a password change ends those).
        """
        self.store.end_sessions(user_id)
        self.users.forget(user_id)

    # -- initial passwords -----------------------------------------------------------------------

    def user_state(self, actor: Actor) -> Doc:
        """The built-in account behind an actor (empty for a portal's users)."""
        user = self.users.get(actor.id)
        return {"must_change_password": bool(user and user.get("must_change_password")),
                "token_epoch": (user or {}).get("token_epoch", 0)}

    def require_own_password(self, actor: Actor, lang: str) -> None:
        """A built-in account still on its initial password may only change it (and sign out)."""
        user = self.users.get(actor.id)
        if user and user.get("must_change_password"):
            raise Forbidden(message(TEXT, "password_change_required", lang), code="password_change_required")

    def change_password(self, actor: Actor, current: str, new: str, lang: str) -> None:
        """The user's own password: the current one, then a strong new one; old tokens and sessions end."""
        user = self.store.user(actor.id)
        if user is None:
            raise NotFound(msg("no_account", lang), code="no_account")
        if self.store.hits(f"login-failed:{user['username']}", 60) >= self.settings.login_rate_limit:
            raise RateLimited(msg("login_locked", lang))
        problems = []
        with hashing(lang):
            right = self.passwords.verify(user.get("password_hash") or "", current[:1024])
        if not right:
            self.store.hit(f"login-failed:{user['username']}", 60)
            problems.append({"path": "/current_password", "code": "wrong_password",
                             "message": msg("wrong_password", lang)})
        advice = password_advice(new, user["username"], lang)
        if advice or new == current:
            text = (message(TEXT, "weak", lang, advice=("；" if lang == "zh-CN" else "; ").join(advice))
                    if advice else message(TEXT, "same", lang))
            problems.append({"path": "/new_password", "code": "weak_password", "message": text})
        if problems:
            raise Invalid(problems[0]["message"], code="password_not_changed", details=problems)
        with hashing(lang):
            new_hash = self.passwords.hash(new)
        self.store.change_password(user["_id"], new_hash)
        self.users.forget(user["_id"])
