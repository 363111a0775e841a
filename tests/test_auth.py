"""Identity through the REST API: tokens, failed logins, forged tokens, roles, user administration.

Tests whose requests are all refused take `shared_staff`: one app and its users for the whole module,
checked after each test to be exactly as before; the others build an app of their own.
"""
from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from itsdangerous import URLSafeTimedSerializer

from conftest import ADMIN_PASSWORD, PASSWORD, Api

CJK = re.compile(r"[\u4e00-\u9fff]")


def error_of(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is a JSON error of `status` (and `code`), with no stack trace in it."""
    text = r.get_data(as_text=True)
    assert r.status_code == status, (r.status_code, text)
    assert r.mimetype == "application/json", r.headers.get("Content-Type")
    assert "Traceback" not in text and 'File "' not in text and ".py" not in text
    body = r.get_json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def new_user(api: Api, who: str = "admin", **overrides: Any) -> Any:
    payload = {"username": "newbie", "password": PASSWORD, "name": "Newbie", "roles": ["clerk"],
               "department": "counter-1", **overrides}
    return api.post("/api/v1/users", who, json=payload)


# -- tokens ------------------------------------------------------------------------------------------

def test_token_is_issued_and_works(api: Api) -> None:
    r = api.client.post("/api/v1/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {"token", "expires_at"}
    assert isinstance(body["token"], str) and len(body["token"]) > 20
    assert body["expires_at"]
    me = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["username"] == "admin" and me.get_json()["roles"] == ["admin"]
    text = me.get_data(as_text=True)
    assert "password_hash" not in text and "$argon2" not in text and ADMIN_PASSWORD not in text


def test_bearer_scheme_is_case_insensitive(api: Api) -> None:
    r = api.client.get("/api/v1/me", headers={"Authorization": f"bearer {api.tokens['admin']}"})
    assert r.status_code == 200


def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    wrong = api.client.post("/api/v1/auth/token",
                            json={"username": "admin", "password": "Not-The-Password-1"})
    unknown = api.client.post("/api/v1/auth/token",
                              json={"username": "nobody-here", "password": "Not-The-Password-1"})
    a, b = error_of(wrong, 401, "login_failed"), error_of(unknown, 401, "login_failed")
    assert a == b
    assert CJK.search(a["message"])
    assert "token" not in wrong.get_json() and "token" not in unknown.get_json()


def test_wrong_password_message_in_english(api: Api) -> None:
    r = api.client.post("/api/v1/auth/token?lang=en", json={"username": "admin", "password": "nope-nope-1"})
    err = error_of(r, 401, "login_failed")
    assert "wrong" in err["message"] and not CJK.search(err["message"])


@pytest.mark.parametrize("payload", [
    {"username": "admin"},
    {"password": "x"},
    {"username": "", "password": "x"},
    {"username": "admin", "password": ""},
    {"username": "admin", "password": ADMIN_PASSWORD, "remember": True},
    {"username": ["admin"], "password": ADMIN_PASSWORD},
    {"username": {"$ne": None}, "password": {"$ne": None}},
    {"username": "a" * 65, "password": "x"},
])
def test_malformed_login_is_422_without_token(shared_staff: Api, payload: dict[str, Any]) -> None:
    api = shared_staff
    r = api.client.post("/api/v1/auth/token", json=payload)
    err = error_of(r, 422, "invalid_request")
    assert err["details"] and all({"path", "code", "message"} <= set(d) for d in err["details"])
    assert "token" not in r.get_data(as_text=True).replace('"code"', "")


def test_repeated_failures_are_rate_limited(api: Api) -> None:
    statuses = []
    for _ in range(15):
        r = api.client.post("/api/v1/auth/token", json={"username": "clerk-x", "password": "Wrong-Pass-123"})
        statuses.append(r.status_code)
    assert statuses[0] == 401
    assert 429 in statuses, statuses
    first = statuses.index(429)
    assert all(s == 429 for s in statuses[first:]), statuses
    error_of(r, 429, "rate_limited")
    # another user name is not locked out by someone guessing at clerk-x
    ok = api.client.post("/api/v1/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert ok.status_code == 200


def test_lockout_also_refuses_the_right_password(staff: Api) -> None:
    for _ in range(15):
        staff.client.post("/api/v1/auth/token", json={"username": "clerk", "password": "Wrong-Pass-123"})
    r = staff.client.post("/api/v1/auth/token", json={"username": "clerk", "password": PASSWORD})
    error_of(r, 429, "rate_limited")


# -- bearer tokens -------------------------------------------------------------------------------------

def _signed(app: Any, payload: Any, secret: str | None = None) -> str:
    return URLSafeTimedSerializer(secret or app.config["SECRET_KEY"], salt="counterflow-token").dumps(payload)


def tampered(token: str) -> str:
    """The token with its last three characters (part of the signature) changed."""
    return token[:-3] + ("BBB" if token.endswith("AAA") else "AAA")


def test_expired_token_is_401(api: Api, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = app.extensions["counterflow"].store.user_by_name("admin")
    ttl = app.extensions["counterflow"].settings.token_ttl_seconds
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - ttl - 60)
    old = _signed(app, {"u": admin["_id"], "e": 0})
    monkeypatch.setattr(time, "time", real)
    r = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"})
    error_of(r, 401, "unauthorized")
    fresh = _signed(app, {"u": admin["_id"], "e": 0})
    assert api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


@pytest.mark.parametrize("kind", ["other_secret", "other_salt", "unknown_user", "wrong_epoch", "not_a_dict",
                                  "tampered"])
def test_forged_token_is_401(shared_staff: Api, kind: str) -> None:
    api = shared_staff
    app = api.client.application
    admin = app.extensions["counterflow"].store.user_by_name("admin")
    token = {
        "other_secret": lambda: _signed(app, {"u": admin["_id"], "e": 0}, secret="not-the-secret"),
        "other_salt": lambda: URLSafeTimedSerializer(app.config["SECRET_KEY"],
                                                     salt="other").dumps({"u": admin["_id"], "e": 0}),
        "unknown_user": lambda: _signed(app, {"u": "01NOBODY", "e": 0}),
        "wrong_epoch": lambda: _signed(app, {"u": admin["_id"], "e": 7}),
        "not_a_dict": lambda: _signed(app, [admin["_id"], 0]),
        "tampered": lambda: tampered(api.tokens["admin"]),
    }[kind]()
    error_of(api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401, "unauthorized")
    error_of(api.client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"}), 401,
             "unauthorized")


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer ", "Bearer garbage", "Bearer a.b.c", "Basic YWRtaW46YWRtaW4=", "Token abc",
    "Bearer " + "x" * 5000, "Bearer {\"$ne\": null}", "Bearer ....", "Bearer %00%00",
])
def test_garbage_authorization_is_401_json(shared_staff: Api, header: str) -> None:
    api = shared_staff
    error_of(api.client.get("/api/v1/me", headers={"Authorization": header}), 401, "unauthorized")
    error_of(api.client.get("/api/v1/records", headers={"Authorization": header}), 401, "unauthorized")


def test_no_token_is_401_in_chinese_by_default(shared_staff: Api) -> None:
    api = shared_staff
    err = error_of(api.client.get("/api/v1/me"), 401, "unauthorized")
    assert CJK.search(err["message"])
    err = error_of(api.client.get("/api/v1/me", headers={"Accept-Language": "en-GB,en;q=0.9"}), 401,
                   "unauthorized")
    assert not CJK.search(err["message"])


def test_inactive_user_cannot_sign_in_or_use_a_token(staff: Api, app: Any) -> None:
    state = app.extensions["counterflow"]
    # no API endpoint deactivates a user yet: do it in the store, as an admin tool would (this used to skip
    # itself when any /users/<...> route existed, and the A/B posts' /users/{username}/backups made it skip)
    user = state.store.user_by_name("clerk")
    state.store.users.update_one({"_id": user["_id"]}, {"$set": {"active": False}})
    state.service.users.forget(user["_id"])
    error_of(staff.client.post("/api/v1/auth/token", json={"username": "clerk", "password": PASSWORD}),
             401, "login_failed")
    error_of(staff.get("/api/v1/me", "clerk"), 401, "unauthorized")


# -- roles ---------------------------------------------------------------------------------------------------

def test_clerk_cannot_create_users(shared_staff: Api) -> None:
    staff = shared_staff
    before = staff.client.application.extensions["counterflow"].store.count_users()
    err = error_of(new_user(staff, "clerk"), 403, "role")
    assert "admin" in err["message"]
    error_of(staff.get("/api/v1/users", "clerk"), 403, "role")
    assert staff.client.application.extensions["counterflow"].store.count_users() == before


def test_clerk_cannot_create_forms(shared_staff: Api) -> None:
    staff = shared_staff
    definition = json.loads((__import__("pathlib").Path(__file__).resolve().parents[1]
                             / "schemas" / "account-change.json").read_text("utf-8"))
    definition["key"] = "clerk-form"
    error_of(staff.post("/api/v1/forms", "clerk", json=definition), 403, "role")
    error_of(staff.post("/api/v1/forms", "head", json=definition), 403, "role")
    assert staff.client.application.extensions["counterflow"].store.latest_form_version("clerk-form") is None


# -- users --------------------------------------------------------------------------------------------------

def test_admin_creates_and_lists_users(api: Api) -> None:
    r = new_user(api, roles=["clerk", "reviewer"], name="新 人")
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert made["username"] == "newbie" and made["roles"] == ["clerk", "reviewer"] and made["active"] is True
    assert made["name"] == "新 人" and made["department"] == "counter-1" and made["id"]
    listed = api.get("/api/v1/users", "admin")
    assert listed.status_code == 200
    names = [u["username"] for u in listed.get_json()["items"]]
    assert "admin" in names and "newbie" in names
    api.login("newbie")
    assert api.get("/api/v1/me", "newbie").get_json()["roles"] == ["clerk", "reviewer"]


def test_duplicate_username_is_409(api: Api) -> None:
    assert new_user(api).status_code == 201
    error_of(new_user(api, password="Another-Pass-99"), 409)
    error_of(new_user(api, username="admin"), 409)
    items = api.get("/api/v1/users", "admin").get_json()["items"]
    assert [u["username"] for u in items].count("newbie") == 1


@pytest.mark.parametrize("password", ["123456", "password", "12345678", "password1", "Ab1", "short1A",
                                      "abcdefghijkl", "newbie-2026-Secret", "NEWBIE12345678", "aaaaaaaaaaaa"])
def test_weak_password_is_422_on_password(shared_staff: Api, password: str) -> None:
    api = shared_staff
    before = api.client.application.extensions["counterflow"].store.count_users()
    err = error_of(new_user(api, password=password), 422)
    assert "/password" in [d["path"] for d in err["details"]], err
    assert api.client.application.extensions["counterflow"].store.count_users() == before


@pytest.mark.parametrize("roles, bad", [(["wizard"], "wizard"), (["clerk", "root"], "root"), ([], None),
                                        (["clerk"] * 9, None), ("clerk", None), ([{"$ne": None}], None)])
def test_bad_roles_are_422(shared_staff: Api, roles: Any, bad: str | None) -> None:
    api = shared_staff
    before = api.client.application.extensions["counterflow"].store.count_users()
    err = error_of(new_user(api, roles=roles), 422)
    assert any(d["path"].startswith("/roles") for d in err["details"]), err
    if bad:
        assert bad in err["message"]
    assert api.client.application.extensions["counterflow"].store.count_users() == before


@pytest.mark.parametrize("username", ["Admin Two", "a", "x" * 65, "$where", "a.b$c", "用户", ""])
def test_bad_usernames_are_422(shared_staff: Api, username: str) -> None:
    api = shared_staff
    err = error_of(new_user(api, username=username), 422)
    assert "/username" in [d["path"] for d in err["details"]]


def test_user_body_lists_every_problem_at_once(shared_staff: Api) -> None:
    api = shared_staff
    r = api.post("/api/v1/users", "admin", json={"username": "Bad Name", "roles": "clerk", "shoe_size": 42})
    err = error_of(r, 422, "invalid_request")
    paths = {d["path"]: d["code"] for d in err["details"]}
    assert paths.get("/username") == "username_rule"
    assert paths.get("/password") == "required"
    assert paths.get("/roles") == "type"
    assert paths.get("/shoe_size") == "unknown_field"


def test_passwords_never_leave_the_server(staff: Api, app: Any) -> None:
    secret = "Very-Secret-Pass-42"
    r = new_user(staff, password=secret)
    assert r.status_code == 201
    staff.login("newbie", secret)
    responses = [r, staff.get("/api/v1/users", "admin"), staff.get("/api/v1/me", "newbie"),
                 staff.client.post("/api/v1/auth/token", json={"username": "newbie", "password": secret})]
    stored_hash = app.extensions["counterflow"].store.user_by_name("newbie")["password_hash"]
    for resp in responses:
        text = resp.get_data(as_text=True)
        assert secret not in text
        assert "password_hash" not in text.lower()       # (the flag must_change_password is not a secret)
        assert "argon2" not in text and stored_hash not in text
    for user in staff.get("/api/v1/users", "admin").get_json()["items"]:
        # what an account shows: no hash, no password; the mail address for notifications is not a secret
        assert set(user) - {"email"} == {"id", "username", "name", "roles", "department", "active"}


def test_changing_ones_own_password_ends_older_tokens(staff: Api) -> None:
    # a user of its own: the staff fixture's users have changed their initial passwords already
    assert new_user(staff).status_code == 201
    staff.login("newbie")
    me = staff.get("/api/v1/me", "newbie").get_json()
    assert me["must_change_password"] is True                    # created by an admin: an initial password
    old_token = staff.tokens["newbie"]
    r = staff.post("/api/v1/me/password", "newbie", json={"current_password": "wrong", "new_password": "123"})
    assert r.status_code == 422
    assert {d["path"] for d in r.get_json()["error"]["details"]} == {"/current_password", "/new_password"}
    r = staff.post("/api/v1/me/password", "newbie", json={"current_password": PASSWORD,
                                                          "new_password": "Brand-New-Pass-2027"})
    assert r.status_code == 200
    assert staff.get("/api/v1/me", "newbie").status_code == 401     # the old token is void
    staff.login("newbie", "Brand-New-Pass-2027")
    assert staff.get("/api/v1/me", "newbie").get_json()["must_change_password"] is False
    assert staff.client.post("/api/v1/auth/token",
                             json={"username": "newbie", "password": PASSWORD}).status_code == 401
    assert old_token != staff.tokens["newbie"]
