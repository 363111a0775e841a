"""The built-in accounts: created by admins, listed, offered as reviewers."""
from __future__ import annotations

import re
from typing import Any, Mapping

from counterflow.core.accounts import USERNAME_RULE, normal_username, username_key
from counterflow.core.clock import stamp
from counterflow.core.engine import Actor
from counterflow.core.errors import Conflict, Invalid
from counterflow.core.i18n import message, text
from counterflow.core.roles import ROLES
from counterflow.security.passwords import password_advice
from counterflow.service.base import Doc, ServiceBase
from counterflow.service.identity import hashing
from counterflow.service.messages import msg, new_id

# a staff member's mail address (notifications by mail when mail is set up): one plain address, no display
# name, no list (what the mail channel's To header takes as it is)
EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
TEXT = {
    "taken": {"zh-CN": "用户名「{name}」已被使用（不区分大小写和全角半角）",
              "en": "The user name '{name}' is taken (whatever the case or width)"},
    "weak": {"zh-CN": "密码太弱：{advice}", "en": "The password is too weak: {advice}"},
    "email": {"zh-CN": "邮箱地址格式不正确，请填写一个地址，例如 name@example.gov.cn（不含姓名、不填多个）",
              "en": "That is not a mail address; give one address such as name@example.gov.cn (no display "
                    "name, not a list)"},
}


def email_of(value: Any) -> str | None:
    """The address as kept (trimmed; empty: none), or raises ValueError when it is not one address."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("not text")
    value = value.strip()
    if not value:
        return None
    if len(value) > 254 or not EMAIL.match(value):
        raise ValueError("not an address")
    return value


class UserActions(ServiceBase):
    """Accounts and who may be assigned."""

    def create_user(self, actor: Actor, payload: Mapping[str, Any], lang: str) -> Doc:
        self.require(actor, {"admin"}, lang)
        problems = []
        username = normal_username(payload.get("username"))      # one rule and one form, however it came
        if username is None:
            problems.append({"path": "/username", "code": "username_rule",
                             "message": text(USERNAME_RULE, lang)})
        unknown = sorted(set(payload["roles"]) - set(ROLES))
        if unknown:
            problems.append({"path": "/roles", "code": "enum",
                             "message": msg("roles", lang, roles=", ".join(unknown))})
        try:
            email = email_of(payload.get("email"))
        except ValueError:
            email = None
            problems.append({"path": "/email", "code": "email", "message": message(TEXT, "email", lang)})
        given = username or str(payload.get("username", ""))[:256]
        advice = password_advice(payload["password"], given, lang)
        if advice:
            problems.append({"path": "/password", "code": "weak_password",
                             "message": weak_password(advice, lang)})
        if problems or username is None:
            raise Invalid(problems[0]["message"] if len(problems) == 1 else
                          msg("invalid_user", lang, count=len(problems)),
                          code="invalid_user", details=problems)
        self._refuse_look_alike(username, lang)
        with hashing(lang):
            password_hash = self.passwords.hash(payload["password"])
        doc = {"_id": new_id(), "username": username, "password_hash": password_hash,
               "name": payload.get("name", ""), "roles": sorted(set(payload["roles"])),
               "department": payload.get("department", ""), "email": email, "active": True, "token_epoch": 0,
               "must_change_password": True, "created_at": stamp()}  # an initial password (DOMAIN: security)
        try:
            self.store.insert_user(doc)        # the unique index on the stored (normal) name settles races
        except Conflict:
            raise Conflict(message(TEXT, "taken", lang, name=username), code="duplicate") from None
        self.audit("user.create", actor, object_id=doc["_id"], details={"roles": doc["roles"]})
        return public_user(doc)

    def _refuse_look_alike(self, username: str, lang: str) -> None:
        """An account whose name normalises to the same key, including ones stored before names were
        normalised (`Admin` then, `admin` now), makes the new name taken."""
        if any(username_key(u.get("username")) == username for u in self.store.list_users()):
            raise Conflict(message(TEXT, "taken", lang, name=username), code="duplicate")

    def reviewers(self, actor: Actor, lang: str) -> list[Doc]:
        """Who a department head may assign a review to."""
        self.require(actor, {"dept_head"}, lang)
        return [public_user(u) for u in self.store.list_users() if "reviewer" in u.get("roles", [])
                and u.get("active", True)]

    def list_users(self, actor: Actor, lang: str) -> list[Doc]:
        self.require(actor, {"admin"}, lang)
        return [public_user(u) for u in self.store.list_users()]


def weak_password(advice: list[str], lang: str) -> str:
    """One message: what is wrong with the password and the estimator's advice."""
    return message(TEXT, "weak", lang, advice=("；" if lang == "zh-CN" else "; ").join(advice))


def public_user(doc: Mapping[str, Any]) -> Doc:
    return {"id": doc["_id"], "username": doc["username"], "name": doc.get("name", ""),
            "roles": list(doc.get("roles", [])), "department": doc.get("department", ""),
            "active": doc.get("active", True), "email": doc.get("email") or None}
