"""Issue 6, items 7, 8, 9, 10 and 15: initial passwords, sign-out and session lifetime, password strength,
login floods, and user names that look alike. Each test fails on the code before the fix."""
from __future__ import annotations

import re
import statistics
import time
import uuid
from typing import Any, Iterator

import pytest

from conftest import INITIAL_PASSWORD, PASSWORD, Api, make_config, new_db_name, running_app
from counterflow.security.passwords import Passwords
from test_pages import csrf, sign_in

CJK = re.compile(r"[\u4e00-\u9fff]")


def newbie(api: Api, name: str = "newbie") -> None:
    """A user as an admin makes one: still on its initial password."""
    r = api.post("/api/v1/users", "admin", json={"username": name, "password": INITIAL_PASSWORD,
                                                 "roles": ["clerk"], "department": "counter-1"})
    assert r.status_code == 201, r.get_json()


def error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:400])
    body = r.get_json()["error"]
    assert body["code"] == code, body
    return dict(body)


# -- 7. an initial password allows only its change -----------------------------------------------------

def test_an_initial_password_allows_only_me_and_the_change_on_the_api(api: Api) -> None:
    newbie(api)
    api.login("newbie", INITIAL_PASSWORD)
    me = api.get("/api/v1/me", "newbie")
    assert me.status_code == 200 and me.get_json()["must_change_password"] is True     # a client can tell
    for method, path in (("GET", "/api/v1/forms"), ("GET", "/api/v1/records"), ("POST", "/api/v1/records"),
                         ("GET", "/api/v1/users")):
        body = error(api.call(method, path, "newbie", json={}), 403, "password_change_required")
        assert CJK.search(body["message"]) and "/api/v1/me/password" in body["message"]
    english = error(api.get("/api/v1/forms?lang=en", "newbie"), 403, "password_change_required")
    assert "change it first" in english["message"] and not CJK.search(english["message"])

    r = api.post("/api/v1/me/password", "newbie", json={"current_password": INITIAL_PASSWORD,
                                                        "new_password": PASSWORD})
    assert r.status_code == 200, r.get_json()
    api.login("newbie")
    assert api.get("/api/v1/forms", "newbie").status_code == 200
    assert api.get("/api/v1/me", "newbie").get_json()["must_change_password"] is False


def test_an_initial_password_sends_every_page_to_the_password_change(app: Any, api: Api) -> None:
    newbie(api)
    client = app.test_client()
    signed = sign_in(client, "newbie", INITIAL_PASSWORD)
    assert signed.status_code == 302 and signed.headers["Location"].endswith("/account/password")
    for path in ("/worklist", "/forms/parking-permit/new", "/admin/users", "/admin/forms"):
        r = client.get(path)
        assert r.status_code == 303, (path, r.status_code)
        assert r.headers["Location"].endswith("/account/password")
    page = client.get("/account/password")
    assert page.status_code == 200
    posted = client.post("/forms/parking-permit/new", data={"csrf_token": csrf(page), "applicant": "x"})
    assert posted.status_code == 303 and posted.headers["Location"].endswith("/account/password")

    r = client.post("/account/password", data={"csrf_token": csrf(page), "current_password": INITIAL_PASSWORD,
                                               "new_password": PASSWORD})
    assert r.status_code == 302
    assert client.get("/worklist").status_code == 200


def test_sign_out_is_allowed_on_an_initial_password(app: Any, api: Api) -> None:
    newbie(api)
    client = app.test_client()
    sign_in(client, "newbie", INITIAL_PASSWORD)
    page = client.get("/account/password")
    r = client.post("/logout", data={"csrf_token": csrf(page)})
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")


def test_a_portals_users_are_never_held_even_beside_a_flagged_account(config: dict[str, Any]) -> None:
    from test_portal import drop, init, make_portal, signed_in

    portal = make_portal(config)
    init(portal)
    try:
        # a built-in account flagged for a password change whose id is the portal user's id
        portal.extensions["counterflow"].store.insert_user(
            {"_id": "alice", "username": "alice", "password_hash": "x", "roles": ["clerk"],
             "must_change_password": True, "token_epoch": 0})
        client = signed_in(portal, "alice")
        assert client.get("/counter/api/v1/forms").status_code == 200
        assert client.get("/counter/worklist").status_code == 200
    finally:
        drop(portal)


# -- 8. sign-out ends the session on the server; sessions have a lifetime ------------------------------

def _cookie(client: Any) -> str:
    cookie = client.get_cookie("counterflow_session")
    assert cookie is not None
    return str(cookie.value)


def test_a_session_cookie_copied_before_sign_out_is_dead_after_it(app: Any, staff: Api) -> None:
    client, thief = app.test_client(), app.test_client()
    assert sign_in(client, "clerk").status_code == 302
    thief.set_cookie("counterflow_session", _cookie(client))
    assert thief.get("/worklist").status_code == 200
    other_browser = app.test_client()
    assert sign_in(other_browser, "clerk").status_code == 302

    r = client.post("/logout", data={"csrf_token": csrf(client.get("/worklist"))})
    assert r.status_code == 302
    r = thief.get("/worklist")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    # by design, every page session of the user ends (see IdentityActions.end_sessions)
    assert other_browser.get("/worklist").status_code == 302
    # bearer tokens are not page sessions: a password change ends those
    assert staff.get("/api/v1/forms", "clerk").status_code == 200
    assert sign_in(client, "clerk").status_code == 302 and client.get("/worklist").status_code == 200


def test_a_session_ends_session_hours_after_sign_in(app: Any, staff: Api) -> None:
    client = app.test_client()
    assert sign_in(client, "clerk").status_code == 302
    assert client.get("/worklist").status_code == 200
    hours = app.extensions["counterflow"].settings.session_hours
    assert 8 <= hours <= 12
    with client.session_transaction() as session:
        session["cf_at"] -= hours * 3600 + 1                 # signed in a working day ago
    r = client.get("/worklist")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_session_from_before_lifetimes_must_sign_in_again(app: Any, staff: Api) -> None:
    client = app.test_client()
    assert sign_in(client, "clerk").status_code == 302
    with client.session_transaction() as session:
        del session["cf_at"]
    assert client.get("/worklist").status_code == 302


def test_the_session_lifetime_is_a_setting_and_bounds_flasks_cookie(mongo_uri: str, tmp_path: Any) -> None:
    config = dict(make_config(mongo_uri, new_db_name(), tmp_path), COUNTERFLOW_SESSION_HOURS=2)
    with running_app(config) as app:
        assert app.extensions["counterflow"].settings.session_hours == 2
        assert app.permanent_session_lifetime.total_seconds() == 2 * 3600   # Flask's own 31 days otherwise


# -- 9. password strength: zxcvbn and the user-name rule ------------------------------------------------

@pytest.mark.parametrize("password", ["Password1!", "Qwerty2026!", "P@ssw0rd2024", "Admin12345!"])
def test_guessable_passwords_are_refused_with_the_estimators_advice(shared_staff: Api, password: str) -> None:
    r = shared_staff.post("/api/v1/users", "admin", json={"username": "guessy", "password": password,
                                                          "roles": ["clerk"]})
    body = error(r, 422, "invalid_user")
    problem = next(d for d in body["details"] if d["path"] == "/password")
    assert problem["code"] == "weak_password" and problem["message"].startswith("密码太弱")


def test_the_advice_is_bilingual(shared_staff: Api) -> None:
    payload = {"username": "guessy", "password": "Password1!", "roles": ["clerk"]}
    zh = error(shared_staff.post("/api/v1/users", "admin", json=payload), 422, "invalid_user")["message"]
    en = error(shared_staff.post("/api/v1/users?lang=en", "admin", json=payload), 422,
               "invalid_user")["message"]
    assert "常用密码" in zh and not re.search(r"[A-Za-z]{4}", zh)
    assert "commonly used password" in en and not CJK.search(en)


def test_a_password_holding_the_user_name_is_refused(shared_staff: Api) -> None:
    r = shared_staff.post("/api/v1/users?lang=en", "admin",
                          json={"username": "zhouxiaoming", "password": "Zhouxiaoming#Harbour-77",
                                "roles": ["clerk"]})
    body = error(r, 422, "invalid_user")
    assert "user name" in body["message"]


def test_a_strong_passphrase_is_accepted(api: Api) -> None:
    r = api.post("/api/v1/users", "admin", json={"username": "phrase", "roles": ["clerk"],
                                                 "password": "violet harbour lantern seventy"})
    assert r.status_code == 201, r.get_json()


def test_the_own_password_change_uses_the_same_rule(api: Api) -> None:
    newbie(api)
    api.login("newbie", INITIAL_PASSWORD)
    r = api.post("/api/v1/me/password", "newbie", json={"current_password": INITIAL_PASSWORD,
                                                        "new_password": "Password1!"})
    body = error(r, 422, "password_not_changed")
    assert [d["path"] for d in body["details"]] == ["/new_password"]


# -- 10. login floods ----------------------------------------------------------------------------------------

@pytest.fixture
def flood_app(mongo_uri: str, tmp_path: Any) -> Iterator[Any]:
    config = dict(make_config(mongo_uri, new_db_name(), tmp_path), COUNTERFLOW_LOGIN_ADDRESS_LIMIT=5)
    with running_app(config) as app:
        yield app


def _login(app: Any, address: str, username: str, password: str) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def test_failures_are_limited_per_client_address_whatever_the_names(flood_app: Any) -> None:
    from conftest import ADMIN_PASSWORD

    statuses = [_login(flood_app, "203.0.113.7", f"nobody{uuid.uuid4().hex[:8]}", "Wrong-Pass-1").status_code
                for _ in range(8)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}, statuses
    locked = _login(flood_app, "203.0.113.7", "admin", ADMIN_PASSWORD)
    assert error(locked, 429, "rate_limited")
    assert _login(flood_app, "198.51.100.9", "admin", ADMIN_PASSWORD).status_code == 200   # others go on


def test_the_login_page_counts_the_address_too(flood_app: Any) -> None:
    client = flood_app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.8"
    for _ in range(5):
        assert sign_in(client, f"nobody{uuid.uuid4().hex[:8]}", "Wrong-Pass-1").status_code == 401
    assert sign_in(client, "admin", "Wrong-Pass-1").status_code == 429


def test_no_free_hashing_slot_is_429_for_known_and_unknown_names_alike(app: Any) -> None:
    from conftest import ADMIN_PASSWORD

    passwords = app.extensions["counterflow"].service.passwords
    held = 0
    while passwords.slots.acquire(blocking=False):        # every argon2 slot busy, as in a flood
        held += 1
    assert held == app.extensions["counterflow"].settings.password_hash_concurrency == 2
    try:
        started = time.perf_counter()
        busy = error(_login(app, "192.0.2.1", "admin", ADMIN_PASSWORD), 429, "busy")
        assert time.perf_counter() - started < 3
        assert CJK.search(busy["message"])
        error(_login(app, "192.0.2.1", "nobody-here", "Wrong-Pass-1"), 429, "busy")   # no tell
    finally:
        for _ in range(held):
            passwords.slots.release()
    assert _login(app, "192.0.2.1", "admin", ADMIN_PASSWORD).status_code == 200


def test_unknown_names_cost_no_argon2_hash_and_known_ones_one(app: Any) -> None:
    passwords = app.extensions["counterflow"].service.passwords
    before = passwords.hashes
    for name in ("nobody-here", "ADMINS", "Nobody.Else", "аdmin"):     # the last with a Cyrillic а
        assert _login(app, "192.0.2.2", name, "Wrong-Pass-1").status_code == 401
    assert passwords.hashes == before
    assert _login(app, "192.0.2.2", "admin", "Wrong-Pass-1").status_code == 401
    assert passwords.hashes == before + 1


def test_an_unknown_name_takes_as_long_as_a_verify_without_hashing() -> None:
    """With production argon2 parameters: the stand-in wait is within a factor of a real verify."""
    passwords = Passwords("rfc9106_low_memory")
    stored = passwords.hash("Counter-Pass-2026")
    known, unknown = [], []
    for _ in range(4):
        started = time.perf_counter()
        passwords.verify(stored, "Wrong-Pass-1")
        known.append(time.perf_counter() - started)
        hashes = passwords.hashes
        started = time.perf_counter()
        passwords.equalise()
        unknown.append(time.perf_counter() - started)
        assert passwords.hashes == hashes
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2.0, (known, unknown)


# -- 15. one user-name rule, normalised, everywhere -------------------------------------------------------

def _admin_page(app: Any) -> Any:
    from conftest import ADMIN_PASSWORD

    client = app.test_client()
    assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 302
    return client


def _page_user(client: Any, username: str) -> Any:
    token = csrf(client.get("/admin/users"))
    return client.post("/admin/users", data={"csrf_token": token, "username": username,
                                             "password": "violet harbour lantern seventy", "roles": "clerk"})


@pytest.mark.parametrize("username", ["Admin", "ADMIN", "ａｄｍｉｎ", "аdmin", "admіn", "has space", "$where",
                                      "a.b$c", "<b>x</b>", "x" * 5000, "a"])
def test_the_admin_page_refuses_look_alikes_and_bad_names(app: Any, username: str) -> None:
    client = _admin_page(app)
    store = app.extensions["counterflow"].store
    before = store.count_users()
    r = _page_user(client, username)
    assert r.status_code == 422, r.status_code
    assert store.count_users() == before
    page = r.get_data(as_text=True)
    assert "用户名" in page and "x" * 100 not in page


def test_the_admin_page_stores_the_normal_form_and_sign_in_folds_case(app: Any) -> None:
    client = _admin_page(app)
    assert _page_user(client, "Ｗang.Li").status_code == 302
    names = [u["username"] for u in app.extensions["counterflow"].store.list_users()]
    assert "wang.li" in names and "Ｗang.Li" not in names
    assert _login(app, "192.0.2.3", "WANG.LI", "violet harbour lantern seventy").status_code == 200


def test_a_name_stored_before_normalising_still_makes_its_look_alike_taken(app: Any, api: Api) -> None:
    store = app.extensions["counterflow"].store
    store.insert_user({"_id": "legacy", "username": "Clerk9", "password_hash": "x", "roles": ["clerk"]})
    r = api.post("/api/v1/users", "admin", json={"username": "clerk9", "roles": ["clerk"],
                                                 "password": "violet harbour lantern seventy"})
    assert error(r, 409, "duplicate")
    assert sum(1 for u in store.list_users() if u["username"].casefold() == "clerk9") == 1
