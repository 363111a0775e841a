"""Staff mail addresses: a user has an optional `email`, given when the admin creates the account (API and the
admin users page), checked as one plain address (a bilingual 422 naming /email, nothing created otherwise),
listed, and used by the notifications a person is sent (due soon, overdue, urged, copied) when mail is set
up: a mail to that address through a real local SMTP server, besides the inbox entry."""
from __future__ import annotations

from typing import Any

import pytest

from conftest import ADMIN_PASSWORD, Api, signed_in
from counterflow.core.clock import stamp, utcnow
from test_pages import csrf, sign_in
import test_notify
from test_notify import SmtpServer

notify_app, ports = test_notify.notify_app, test_notify.ports          # the fixtures, used by name

GOOD = {"password": "Counter-Pass-2026", "roles": ["reviewer"], "department": "counter-1"}


def _users(api: Api) -> dict[str, dict[str, Any]]:
    r = api.get("/api/v1/users", "admin")
    assert r.status_code == 200
    return {u["username"]: u for u in r.get_json()["items"]}


@pytest.fixture
def api(notify_app: Any) -> Api:
    return signed_in(notify_app.test_client())


def test_an_address_is_kept_listed_and_optional(api: Api) -> None:
    r = api.post("/api/v1/users", "admin", json=dict(GOOD, username="mei", email="  mei.li@example.gov.cn "))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["email"] == "mei.li@example.gov.cn"
    for name, given in (("nomail", None), ("blank", "  ")):
        body = dict(GOOD, username=name) if given is None else dict(GOOD, username=name, email=given)
        r = api.post("/api/v1/users", "admin", json=body)
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["email"] is None
    listed = _users(api)
    assert listed["mei"]["email"] == "mei.li@example.gov.cn"
    assert listed["nomail"]["email"] is None and listed["blank"]["email"] is None


@pytest.mark.parametrize("given", ["not-an-address", "mei@localhost", "Mei Li <mei@example.gov.cn>",
                                   "a@example.cn, b@example.cn", "mei@exa mple.cn", "@example.cn",
                                   "x" * 65 + "@example.cn"])
def test_a_wrong_address_is_a_bilingual_422_that_creates_nobody(api: Api, given: str) -> None:
    r = api.post("/api/v1/users", "admin", json=dict(GOOD, username="wrong", email=given))
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert [d["path"] for d in error["details"]] == ["/email"]
    assert "邮箱" in error["message"] + error["details"][0]["message"]
    r = api.post("/api/v1/users?lang=en", "admin", json=dict(GOOD, username="wrong", email=given))
    assert r.status_code == 422 and "mail address" in r.get_json()["error"]["details"][0]["message"]
    assert "wrong" not in _users(api)


@pytest.mark.parametrize("given", [{"$ne": None}, 5, ["a@example.cn"], "x" * 250 + "@example.cn"])
def test_an_address_that_is_not_text_is_refused(api: Api, given: Any) -> None:
    r = api.post("/api/v1/users", "admin", json=dict(GOOD, username="wrong", email=given))
    assert r.status_code == 422, r.get_json()
    assert "wrong" not in _users(api)


def test_the_admin_users_page_takes_and_shows_an_address(api: Api) -> None:
    admin = api.client.application.test_client()
    sign_in(admin, "admin", ADMIN_PASSWORD)
    page = admin.get("/admin/users")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="email"' in html and 'for="cf-new-email"' in html
    form = {"csrf_token": csrf(page), "username": "page-user", "name": "Page", "password": GOOD["password"],
            "department": "counter-1", "roles": "clerk", "email": "not an address"}
    refused = admin.post("/admin/users", data=form)
    assert refused.status_code == 422 and "邮箱" in refused.get_data(as_text=True)
    assert "page-user" not in _users(api)
    done = admin.post("/admin/users", data=dict(form, email="page.user@example.gov.cn"))
    assert done.status_code == 302
    assert _users(api)["page-user"]["email"] == "page.user@example.gov.cn"
    assert "page.user@example.gov.cn" in admin.get("/admin/users").get_data(as_text=True)


def test_staff_notices_go_to_the_address_when_mail_is_set_up(api: Api, ports: dict[str, int]) -> None:
    service = api.client.application.extensions["counterflow"].service
    made = {}
    for name, address in (("mailed", "mailed@example.gov.cn"), ("unmailed", None)):
        body = dict(GOOD, username=name, **({"email": address} if address else {}))
        r = api.post("/api/v1/users", "admin", json=body)
        assert r.status_code == 201, r.get_json()
        made[name] = r.get_json()["id"]
    at = stamp(utcnow())
    kinds = ("due_soon", "overdue", "urged", "copied")
    service.store.copy_events([
        {"_id": f"rec-{i}:1", "kind": "record", "object_id": f"rec-{i}", "revision": 1, "at": at,
         "actor": {"id": "system", "kind": "system", "username": "system", "name": ""}, "trigger": kind,
         "outcome": "done", "notify": {"kind": kind, "to": [made["mailed"], made["unmailed"]],
                                       "applicant": False}}
        for i, kind in enumerate(kinds)])
    with SmtpServer(ports["smtp"]) as smtp:
        service.pump_notifications()
        service.pump_notifications()                       # once: nothing is sent twice
    to = [m["to"] for m in smtp.box.messages]
    assert to == [["mailed@example.gov.cn"]] * len(kinds)
    for uid in made.values():
        entries = service.store.db["inbox"].find({"user": uid})
        assert sorted(e["kind"] for e in entries) == sorted(kinds)
