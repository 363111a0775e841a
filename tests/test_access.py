"""Rules that live once: who may see a record (predicate and query agree), and what a user name may be."""
from __future__ import annotations

import itertools
from typing import Any

import pytest

from counterflow.core import access
from counterflow.core.accounts import username_ok
from counterflow.core.engine import Actor
from test_pages import csrf, sign_in

PEOPLE = [Actor("u1", "clerk", roles=frozenset({"clerk"}), department="d1"),
          Actor("u2", "reviewer", roles=frozenset({"reviewer"}), department="d2"),
          Actor("u3", "boss", roles=frozenset({"manager"}), department="d3"),
          Actor("u4", "admin", roles=frozenset({"admin"}), department="d1")]
RECORDS = [{"department": d, "created_by": c, "assignee": a}
           for d, c, a in itertools.product(["d1", "d2"], ["u1", "u9"], ["u2", None])]


def _matches(query: dict[str, Any], doc: dict[str, Any]) -> bool:
    return all(doc.get(k) == v for k, v in query.items())


@pytest.mark.parametrize("who", PEOPLE, ids=lambda a: a.username)
def test_the_visibility_query_selects_exactly_the_records_the_predicate_allows(who: Actor) -> None:
    for doc in RECORDS:
        if access.sees_everything(who):
            assert access.can_see(who, doc)          # listed without a visibility filter
        else:
            by_query = any(_matches(q, doc) for q in access.clauses(who))
            assert by_query == access.can_see(who, doc), (who.username, doc)


def test_attachments_follow_the_same_rule_on_their_own_fields() -> None:
    clerk = PEOPLE[0]
    assert access.can_see(clerk, {"department": "d1", "uploaded_by": "u9"}, access.ATTACHMENT_FIELDS)
    assert access.can_see(clerk, {"department": "d2", "uploaded_by": "u1"}, access.ATTACHMENT_FIELDS)
    assert not access.can_see(clerk, {"department": "d2", "uploaded_by": "u9"}, access.ATTACHMENT_FIELDS)
    assert not access.can_see(PEOPLE[3], {"department": "d1", "uploaded_by": "u4"}, access.ATTACHMENT_FIELDS)


@pytest.mark.parametrize("name, ok", [("clerk.wang", True), ("a1", True), ("Bad Name <x>!", False),
                                      ("x", False), ("1abc", False), ("a" * 65, False), ("", False)])
def test_the_user_name_rule(name: str, ok: bool) -> None:
    assert username_ok(name) is ok


def test_the_admin_page_refuses_a_user_name_the_api_refuses(app: Any, staff: Any) -> None:
    from conftest import ADMIN_PASSWORD

    admin = app.test_client()
    sign_in(admin, "admin", ADMIN_PASSWORD)
    token = csrf(admin.get("/admin/users"))
    r = admin.post("/admin/users", data={"csrf_token": token, "username": "Bad Name <x>!",
                                         "password": "Counter-Pass-2026",
                                         "name": "x", "roles": ["clerk"], "department": "d1"})
    assert r.status_code == 422
    assert "用户名须以小写字母开头" in r.get_data(as_text=True)
    users = staff.get("/api/v1/users", "admin").get_json()
    names = [u["username"] for u in (users["items"] if isinstance(users, dict) else users)]
    assert "Bad Name <x>!" not in names
    api = staff.post("/api/v1/users", "admin", json={"username": "Bad Name <x>!",
                                                     "password": "Counter-Pass-2026",
                                                     "roles": ["clerk"]})
    assert api.status_code == 422 and api.get_json()["error"]["details"][0]["code"] == "username_rule"
