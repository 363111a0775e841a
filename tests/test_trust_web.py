"""Issue 6, items 11-14: attachments follow their record, the Host header is trusted only when known,
pages carry a Content-Security-Policy without inline script, and hostile page posts are a 422, never a 500."""
from __future__ import annotations

import io
import re
from typing import Any, Iterator

import pytest

from conftest import Api, add_staff, running_app, signed_in, stored_record
from forms import COMPLETE, permit, publish, upload


def _new(api: Any, data: dict[str, Any], who: str = "clerk") -> Any:
    return api.post("/api/v1/records", who, json={"form": "parking-permit", "data": data})


def _fire(api: Any, record: dict[str, Any], trigger: str, who: str = "clerk", **extra: Any) -> Any:
    return api.post(f"/api/v1/records/{record['id']}/transitions/{trigger}", who,
                    json={"revision": record["revision"], **extra})


def _user_id(api: Any, username: str) -> str:
    return next(u["id"] for u in api.get("/api/v1/users", "admin").get_json()["items"]
                if u["username"] == username)


def _csrf(page: Any) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found, "every form carries a CSRF token"
    return found.group(1)


def _sign_in(client: Any, username: str, host: str = "http://localhost") -> Any:
    from conftest import PASSWORD

    token = _csrf(client.get("/login", base_url=host))
    return client.post("/login", base_url=host,
                       data={"username": username, "password": PASSWORD, "csrf_token": token})


def _accepted(api: Any) -> dict[str, Any]:
    """A complete parking permit, accepted by the clerk (so it has a receipt)."""
    r = _new(api, dict(COMPLETE, licence_copy=upload(api)))
    assert r.status_code == 201, r.get_json()
    record = _fire(api, r.get_json(), "accept")
    assert record.status_code == 200, record.get_json()
    return dict(record.get_json())


# -- 11. attachments follow the record that holds them ------------------------------------------------------

def test_an_assigned_reviewer_of_another_department_reads_the_records_attachments(staff: Api) -> None:
    publish(staff)
    staff.add_user("far_reviewer", ["reviewer"], department="counter-2")
    attachment = upload(staff, content=b"%PDF-1.4 the applicant's licence")
    record = _new(staff, dict(COMPLETE, licence_copy=attachment)).get_json()
    record = _fire(staff, record, "accept").get_json()
    assert staff.get(f"/api/v1/attachments/{attachment}", "far_reviewer").status_code == 403   # not yet
    record = _fire(staff, record, "assign", "head", assignee=_user_id(staff, "far_reviewer")).get_json()
    assert staff.get(f"/api/v1/records/{record['id']}", "far_reviewer").status_code == 200
    r = staff.get(f"/api/v1/attachments/{attachment}", "far_reviewer")
    assert r.status_code == 200 and r.data == b"%PDF-1.4 the applicant's licence"
    # the record's rule, not the reviewer's department: a colleague of the reviewer still may not
    assert staff.get(f"/api/v1/attachments/{attachment}", "outsider").status_code == 403
    assert staff.get(f"/api/v1/attachments/{attachment}", "clerk2").status_code == 200     # the record's dept
    assert staff.get(f"/api/v1/attachments/{attachment}", "boss").status_code == 200       # records-wide


def test_a_record_may_only_hold_attachments_its_author_may_read(staff: Api) -> None:
    publish(staff)
    theirs = upload(staff, "clerk", content=b"%PDF-1.4 counter-1's file")
    r = _new(staff, dict(COMPLETE, licence_copy=theirs), who="outsider")
    assert r.status_code == 422
    details = r.get_json()["error"]["details"]
    assert [(d["path"], d["code"]) for d in details] == [("/licence_copy", "attachment_forbidden")]
    # editing a draft is refused the same way, and the outsider's own upload is fine
    own = _new(staff, dict(COMPLETE, licence_copy=upload(staff, "outsider")), who="outsider")
    assert own.status_code == 201, own.get_json()
    record = own.get_json()
    r = staff.patch(f"/api/v1/records/{record['id']}", "outsider",
                    json={"revision": record["revision"], "data": dict(COMPLETE, licence_copy=theirs)})
    assert r.status_code == 422
    assert [d["code"] for d in r.get_json()["error"]["details"]] == ["attachment_forbidden"]
    assert staff.get(f"/api/v1/attachments/{theirs}", "outsider").status_code == 403


def test_an_attachment_held_by_a_record_is_usable_by_whoever_sees_that_record(staff: Api) -> None:
    publish(staff)
    staff.add_user("far_clerk", ["clerk", "reviewer"], department="counter-2")
    attachment = upload(staff, content=b"%PDF-1.4 shared")
    record = _new(staff, dict(COMPLETE, licence_copy=attachment)).get_json()
    record = _fire(staff, record, "accept").get_json()
    _fire(staff, record, "assign", "head", assignee=_user_id(staff, "far_clerk"))
    # far_clerk may read it through the record assigned to them, so may put it in a record of their own
    r = _new(staff, dict(COMPLETE, licence_copy=attachment), who="far_clerk")
    assert r.status_code == 201, r.get_json()
    # held by two records now: the first record's department still reads it
    assert staff.get(f"/api/v1/attachments/{attachment}", "clerk2").status_code == 200


# -- 12. the Host header ------------------------------------------------------------------------------------

def test_the_receipt_refuses_an_unknown_host_and_never_prints_it(staff: Api, app: Any) -> None:
    publish(staff)
    record = _accepted(staff)
    evil = staff.get(f"/api/v1/records/{record['id']}/receipt", "clerk", base_url="http://evil.example")
    assert evil.status_code == 400 and evil.get_json()["error"]["code"] == "untrusted_host"
    assert "evil.example" not in evil.get_data(as_text=True)
    good = staff.get(f"/api/v1/records/{record['id']}/receipt", "clerk")
    assert good.status_code == 200
    assert good.get_json()["status_url"].startswith("http://localhost/status?number=")
    page_client = app.test_client()
    assert _sign_in(page_client, "clerk").status_code == 302
    # the session cookie is sent (the request reaches this server) with a forged Host header
    cookie = page_client.get_cookie("counterflow_session")
    assert cookie is not None
    forged = {"Cookie": f"counterflow_session={cookie.value}"}
    bare = app.test_client(use_cookies=False)
    page = bare.get(f"/records/{record['id']}/receipt", headers={"Host": "evil.example", **forged})
    assert page.status_code == 400 and "evil.example" not in page.get_data(as_text=True)
    page = bare.get(f"/records/{record['id']}/receipt", headers={"Host": "127.0.0.1:8080", **forged})
    assert page.status_code == 200 and "http://127.0.0.1:8080/status?number=" in page.get_data(as_text=True)


def test_a_configured_base_url_or_host_list_decides_the_status_address(config: dict[str, Any]) -> None:
    with running_app(dict(config, COUNTERFLOW_PUBLIC_BASE_URL="https://counter.example.gov/cf")) as app:
        api = add_staff(signed_in(app.test_client()))
        publish(api)
        record = _accepted(api)
        r = api.get(f"/api/v1/records/{record['id']}/receipt", "clerk", base_url="http://evil.example")
        assert r.status_code == 200
        assert r.get_json()["status_url"].startswith("https://counter.example.gov/cf/status?number=")
    hosts = ["counter.example.gov", ".portal.example"]
    with running_app(dict(config, COUNTERFLOW_TRUSTED_HOSTS=hosts)) as app:
        # the standalone host hands the list to Flask, which refuses any other Host on every route
        assert app.config["TRUSTED_HOSTS"] == hosts
        client = app.test_client()
        assert client.get("/login", base_url="http://localhost").status_code == 400   # the list replaces it
        assert client.get("/login", base_url="https://a.portal.example").status_code == 200
        # a portal leaves Flask's setting alone: the status address is still only made on a listed host
        app.config["TRUSTED_HOSTS"] = None
        api = add_staff(signed_in(client))
        publish(api)
        record = _accepted(api)
        path = f"/api/v1/records/{record['id']}/receipt"
        r = api.get(path, "clerk", base_url="https://a.portal.example")
        assert r.status_code == 200
        assert r.get_json()["status_url"].startswith("https://a.portal.example/status?number=")
        r = api.get(path, "clerk", base_url="http://localhost")
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "untrusted_host"


def test_trusted_hosts_setting_is_checked_at_start(config: dict[str, Any]) -> None:
    from counterflow.settings import Settings, SettingsError

    assert Settings.from_mapping({}).trusted_hosts is None
    assert Settings.from_mapping({"COUNTERFLOW_TRUSTED_HOSTS": "a.example, .b.example"}).trusted_hosts == (
        "a.example", ".b.example")
    with pytest.raises(SettingsError, match="COUNTERFLOW_TRUSTED_HOSTS"):
        Settings.from_mapping({"COUNTERFLOW_TRUSTED_HOSTS": ["http://a.example/"]})
    with pytest.raises(SettingsError, match="COUNTERFLOW_FRAME_ANCESTORS"):
        Settings.from_mapping({"COUNTERFLOW_FRAME_ANCESTORS": ["portal.example; script-src *"]})


# -- 13. security headers ------------------------------------------------------------------------------------

def _csp(response: Any) -> dict[str, str]:
    policy = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


def test_pages_send_a_csp_without_inline_script_and_frame_rules(app: Any, staff: Api) -> None:
    publish(staff)
    client = app.test_client()
    assert _sign_in(client, "clerk").status_code == 302
    for path in ("/login", "/worklist", "/forms/parking-permit/new", "/status"):
        r = client.get(path)
        assert r.status_code == 200, path
        csp = _csp(r)
        assert csp["default-src"] == "default-src 'self'"
        assert csp["script-src"] == "script-src 'self'"                  # no 'unsafe-inline', no eval
        assert "unsafe-inline" not in csp["style-src"]
        assert csp["object-src"] == "object-src 'none'"
        assert csp["frame-ancestors"] == "frame-ancestors 'self'"
        assert r.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
        html = r.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script on {path}"
        assert not re.search(r"\son[a-z]+\s*=", html), f"inline event handler on {path}"
        assert not re.search(r"\sstyle\s*=", html), f"inline style on {path}"


def test_frame_ancestors_come_from_the_portal_origins_setting(config: dict[str, Any]) -> None:
    origins = ["https://portal.example.gov", "https://*.intranet.example"]
    with running_app(dict(config, COUNTERFLOW_FRAME_ANCESTORS=origins)) as app:
        r = app.test_client().get("/login")
        assert _csp(r)["frame-ancestors"] == ("frame-ancestors 'self' https://portal.example.gov "
                                              "https://*.intranet.example")
        assert "X-Frame-Options" not in r.headers            # it cannot name other origins; the CSP does


@pytest.mark.browser
def test_chromium_runs_the_pages_under_the_policy_without_a_violation(app: Any, staff: Api) -> None:
    """Chromium enforces the CSP: the pages' own script runs (it focuses the error summary), the receipt's
    inline SVG QR code shows, and the browser reports no violation."""
    sync_api = pytest.importorskip("playwright.sync_api")
    pytest.importorskip("waitress")
    from conftest import PASSWORD
    from test_browser import ARGS, CHROMIUM, LiveServer

    publish(staff)
    record = _accepted(staff)
    server = LiveServer(app)
    violations: list[str] = []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text
                    else None)
            page.goto(server.url + "/login")
            page.fill("#cf-username", "clerk")
            page.fill("#cf-password", PASSWORD)
            page.locator("main form button[type=submit]").click()
            sync_api.expect(page).to_have_url(re.compile(r"/worklist$"))
            page.goto(server.url + "/forms/parking-permit/new")
            page.fill("#cf-f-applicant", "张三")
            page.locator("button[name=_action][value=accept]").click()          # refused: every gap listed
            sync_api.expect(page.locator(".cf-error-summary")).to_be_focused()       # counterflow.js ran
            page.goto(server.url + f"/records/{record['id']}/receipt")
            sync_api.expect(page.locator("svg.segno")).to_be_visible()
            browser.close()
    finally:
        server.stop()
    assert violations == []


# -- 14. hostile values on the page path --------------------------------------------------------------------

def _with_notes() -> dict[str, Any]:
    """The permit with a free JSON field (an array of anything: the form shows it as a JSON box)."""
    definition = permit()
    definition["schema"]["properties"]["notes"] = {"type": "array", "title": "备注", "x-title-en": "Notes"}
    return definition


@pytest.fixture
def form_client(app: Any, staff: Api) -> Iterator[Any]:
    publish(staff, _with_notes())
    client = app.test_client()
    assert _sign_in(client, "clerk").status_code == 302
    yield client


def _post_new(client: Any, **fields: Any) -> Any:
    page = client.get("/forms/parking-permit/new")
    return client.post("/forms/parking-permit/new", content_type="multipart/form-data",
                       data={"csrf_token": _csrf(page), "_action": "save", "applicant": "张三", **fields})


def _field_error(html: str, field: str) -> str:
    """The error text the form shows under one field (the element that says the field is wrong)."""
    found = re.search(rf'id="cf-f-{field}--error"[^>]*>(.*?)</p>', html, re.S)
    assert found, f"no error shown next to {field}"
    return found.group(1)


@pytest.mark.parametrize("digits", ["1" * 25, "-" + "9" * 19, "1" * 5000])
def test_an_integer_too_large_to_store_is_shown_next_to_its_field(form_client: Any, digits: str) -> None:
    r = _post_new(form_client, amount=digits)
    html = r.get_data(as_text=True)
    assert r.status_code == 422, html[:2000]
    assert "数值超出可保存的范围" in _field_error(html, "amount")


@pytest.mark.parametrize("value, words", [
    ("[" + "9" * 30 + "]", "数值超出可保存的范围"),
    ("[" * 50_000 + "]" * 50_000, "嵌套"),
    ("[" * 120 + "]" * 120, "嵌套"),
    ("[" + "1" * 5000 + "]", "数值超出可保存的范围"),
])
def test_json_values_too_large_or_too_deep_are_shown_next_to_their_field(
        form_client: Any, app: Any, value: str, words: str) -> None:
    r = _post_new(form_client, notes=value, _json="/notes")
    html = r.get_data(as_text=True)
    assert r.status_code == 422, html[:2000]
    assert words in _field_error(html, "notes")
    assert app.extensions["counterflow"].store.records.count_documents({}) == 0      # nothing was saved


def test_a_long_number_that_is_not_one_is_answered_at_once(form_client: Any) -> None:
    import time

    started = time.monotonic()
    r = _post_new(form_client, amount="1" * 10_000 + "x")          # the old number pattern backtracked
    assert r.status_code == 422
    assert time.monotonic() - started < 2


def test_a_fine_value_still_saves_through_the_page(form_client: Any, app: Any) -> None:
    r = _post_new(form_client, amount=str(2 ** 63 - 1), notes='[1, [2, {"a": 3}]]', _json="/notes",
                  licence_copy=(io.BytesIO(b"%PDF-1.4 x"), "x.pdf"))
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    record_id = r.headers["Location"].split("/records/")[1].split("?")[0]
    data = stored_record(app, record_id)["data"]
    assert data["amount"] == 2 ** 63 - 1 and data["notes"] == [1, [2, {"a": 3}]]
