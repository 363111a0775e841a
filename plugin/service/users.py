"""The built-in accounts: created by admins, listed, offered as reviewers."""
from __future__ import annotations

from typing import Any, Mapping

from counterflow.core.accounts import USERNAME_RULE, username_ok
from counterflow.core.clock import stamp
from counterflow.core.engine import Actor
from counterflow.core.errors import Invalid
from counterflow.core.i18n import text
from counterflow.core.roles import ROLES
from counterflow.security.passwords import password_problems
from counterflow.service.base import Doc, ServiceBase
from counterflow.service.messages import msg, new_id


class UserActions(ServiceBase):
    """Accounts and who may be assigned."""

    def create_user(self, actor: Actor, payload: Mapping[str, Any], lang: str) -> Doc:
        self.require(actor, {"admin"}, lang)
        problems = []
        if not username_ok(payload.get("username")):
            problems.append({"path": "/username", "code": "username_rule",
                             "message": text(USERNAME_RULE, lang)})
        unknown = sorted(set(payload["roles"]) - set(ROLES))
        if unknown:
            problems.append({"path": "/roles", "code": "enum",
                             "message": msg("roles", lang, roles=", ".join(unknown))})
        if password_problems(payload["password"], payload["username"]):
            problems.append({"path": "/password", "code": "weak_password", "message": msg("password", lang)})
        if problems:
            raise Invalid(problems[0]["message"] if len(problems) == 1 else
                          msg("invalid_user", lang, count=len(problems)),
                          code="invalid_user", details=problems)
        doc = {"_id": new_id(), "username": payload["username"],
               "password_hash": self.passwords.hash(payload["password"]),
               "name": payload.get("name", ""), "roles": sorted(set(payload["roles"])),
               "department": payload.get("department", ""), "active": True, "token_epoch": 0,
               "must_change_password": True, "created_at": stamp()}  # an initial password (DOMAIN: security)
        self.store.insert_user(doc)
        return public_user(doc)

    def reviewers(self, actor: Actor, lang: str) -> list[Doc]:
        """Who a department head may assign a review to."""
        self.require(actor, {"dept_head"}, lang)
        return [public_user(u) for u in self.store.list_users() if "reviewer" in u.get("roles", [])
                and u.get("active", True)]

    def list_users(self, actor: Actor, lang: str) -> list[Doc]:
        self.require(actor, {"admin"}, lang)
        return [public_user(u) for u in self.store.list_users()]


def public_user(doc: Mapping[str, Any]) -> Doc:
    return {"id": doc["_id"], "username": doc["username"], "name": doc.get("name", ""),
            "roles": list(doc.get("roles", [])), "department": doc.get("department", ""),
            "active": doc.get("active", True)}
