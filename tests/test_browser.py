"""The pages in a real headless Chromium against the real app served by waitress (no Flask test client).

Each test gets its own database and its own live server; one browser serves the whole module.
"""
from __future__ import annotations

import copy
import json
import re
import threading
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest
import requests

from conftest import ADMIN_PASSWORD, INITIAL_PASSWORD, PASSWORD
from forms import PERMIT, publish

playwright_sync = pytest.importorskip("playwright.sync_api")
waitress = pytest.importorskip("waitress")
expect = playwright_sync.expect

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
T = 10_000  # ms: every wait is explicit
PDF = {"name": "licence.pdf", "mimeType": "application/pdf",
       "buffer": b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"}
SECRETS = ("张三", "110105199001011234", "13812345678", "京A12345")


# ---- the live server ---------------------------------------------------------------------------------------

class LiveServer:
    """The app served by waitress on an ephemeral port, in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, name="cf-live", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        from waitress import wasyncore

        self.server.task_dispatcher.shutdown(timeout=5)
        # closed from inside the loop thread (the trigger runs it there): closing the sockets from this
        # thread while the loop sits in select() races it into EBADF
        self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "waitress did not stop"


class LiveApi:
    """The conftest `Api` protocol (post/get with a user name, .status_code, .get_json()) over real HTTP."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.tokens: dict[str, str] = {}

    def call(self, method: str, path: str, who: str | None = None, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", {})
        if who:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        r = self.http.request(method, self.base + path, headers=headers, timeout=30, **kw)
        r.get_json = r.json  # type: ignore[attr-defined]
        return r

    def get(self, path: str, who: str | None = None, **kw: Any) -> requests.Response:
        return self.call("GET", path, who, **kw)

    def post(self, path: str, who: str | None = None, **kw: Any) -> requests.Response:
        return self.call("POST", path, who, **kw)

    def login(self, username: str, password: str = PASSWORD) -> None:
        r = self.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        self.tokens[username] = r.json()["token"]

    def add_user(self, username: str, roles: list[str], department: str = "counter-1") -> None:
        """As conftest's Api.add_user: created with an initial password, changed to PASSWORD, signed in."""
        r = self.post("/api/v1/users", "admin", json={"username": username, "password": INITIAL_PASSWORD,
                                                      "name": username.title(), "roles": roles,
                                                      "department": department})
        assert r.status_code == 201, r.text
        self.login(username, INITIAL_PASSWORD)
        r = self.post("/api/v1/me/password", username,
                      json={"current_password": INITIAL_PASSWORD, "new_password": PASSWORD})
        assert r.status_code == 200, r.text
        self.login(username)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live(config: dict[str, Any], mongo_uri: str) -> Iterator[LiveServer]:
    """The standalone app on a fresh database, served for real; the database is dropped afterwards.

    Not conftest's `app`: the store keeps one process-wide connection (a mongoengine alias), so a second app
    built in the same process (the "restart" below) closes the first app's client; the drop therefore uses a
    client of its own.
    """
    import pymongo

    from counterflow.host import create_app

    app = create_app(config)
    server = LiveServer(app)
    yield server
    if server.thread.is_alive():
        server.stop()
    client: Any = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=5000)
    try:
        client.drop_database(config["COUNTERFLOW_DB_NAME"])
    finally:
        client.close()
    app.extensions["counterflow"].close()


@pytest.fixture
def staff(live: LiveServer) -> Iterator[LiveApi]:
    """admin, clerk, head (dept_head) and boss (manager), in department counter-1, through the REST API."""
    api = LiveApi(live.url)
    api.login("admin", ADMIN_PASSWORD)
    for name, roles in (("clerk", ["clerk"]), ("head", ["dept_head"]), ("boss", ["manager"])):
        api.add_user(name, roles)
    yield api
    api.http.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(T)
    page = context.new_page()
    yield page
    context.close()


# ---- helpers -----------------------------------------------------------------------------------------------

def sign_in(page: Any, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base + "/login")
    page.fill("#cf-username", username)
    page.fill("#cf-password", password)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/worklist$"), timeout=T)


def sign_out(page: Any) -> None:
    page.locator("header form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/login$"), timeout=T)


def fire(page: Any, trigger: str) -> None:
    """Click the button of the action form that posts `_action=<trigger>`."""
    page.locator(f"form:has(input[name=_action][value={trigger}]) button[type=submit]").click()


def record_id_of(page: Any) -> str:
    action = page.locator("main form.cf-form[enctype]").get_attribute("action") or ""
    match = re.search(r"/records/([^/?#]+)$", action)
    assert match, f"the form does not post to a saved record: {action!r}"
    return match.group(1)


def stored_record(app: Any, record_id: str) -> dict[str, Any]:
    """The record as stored, its protected (encrypted at rest) fields opened."""
    state = app.extensions["counterflow"]
    record = state.store.record(record_id)
    opened = getattr(state.service, "opened", None)
    return opened(record) if opened else record


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


# ---- the walk ----------------------------------------------------------------------------------------------

def test_walk_in_the_browser(live: LiveServer, staff: LiveApi, page: Any, config: dict[str, Any]) -> None:
    base = live.url
    # the admin pastes the definition and creates the draft; head reviews; boss approves
    sign_in(page, base, "admin", ADMIN_PASSWORD)
    page.goto(base + "/admin/forms")
    page.fill("#cf-definition", json.dumps(PERMIT, ensure_ascii=False, indent=2))
    page.get_by_role("button", name="创建草稿").click()
    expect(page).to_have_url(re.compile(r"/admin/forms/parking-permit/versions/1$"), timeout=T)
    expect(page.locator("#cf-form-state")).to_have_attribute("data-state", "draft", timeout=T)
    fire(page, "submit")
    expect(page.locator("#cf-form-state")).to_have_attribute("data-state", "pending_review", timeout=T)
    sign_out(page)
    for who, trigger in (("head", "review"), ("boss", "approve")):
        sign_in(page, base, who)
        page.goto(base + "/admin/forms/parking-permit/versions/1")
        fire(page, trigger)
        expect(page.locator(".cf-error-summary")).to_have_count(0, timeout=T)
        sign_out(page)
    sign_in(page, base, "admin", ADMIN_PASSWORD)
    page.goto(base + "/admin/forms/parking-permit/versions/1")
    expect(page.locator("#cf-form-state[data-state=published]")).to_be_visible(timeout=T)
    sign_out(page)

    # the clerk finds the new form on the worklist and opens it
    sign_in(page, base, "clerk")
    link = page.locator('main a[href$="/forms/parking-permit/new"]')
    expect(link).to_have_text("停车证申请", timeout=T)
    link.click()
    expect(page).to_have_url(re.compile(r"/forms/parking-permit/new$"), timeout=T)

    # only the applicant, a bad phone and the months, then "accept": every gap at once, next to its field
    page.fill("#cf-f-applicant", "张三")
    page.fill("#cf-f-phone", "12345")
    page.fill("#cf-f-months", "6")
    page.locator("button[name=_action][value=accept]").click()
    summary = page.locator(".cf-error-summary")
    expect(summary).to_be_visible(timeout=T)
    expect(summary.locator("li")).to_have_count(4, timeout=T)
    expect(summary).to_be_focused(timeout=T)   # the script moves focus to it for screen readers
    hrefs = summary.locator("li a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert sorted(hrefs) == sorted(["#cf-f-id_number", "#cf-f-phone", "#cf-f-plate", "#cf-f-licence_copy"])
    for href in hrefs:
        field = page.locator(href)
        expect(field).to_have_count(1)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_attribute("aria-describedby", re.compile(re.escape(href[1:] + "--error")))
        message = page.locator(f".cf-field--error:has({href}) .cf-error")
        expect(message).to_be_visible()
    expect(page.locator("#cf-f-phone--error")).to_contain_text("手机号")
    page.locator('.cf-error-summary a[href="#cf-f-plate"]').click()     # the link takes the clerk there
    expect(page.locator("#cf-f-plate")).to_be_in_viewport(timeout=T)
    expect(page.locator(".cf-notice")).to_contain_text("已保存为草稿")
    expect(page.locator("dl.cf-meta dd[data-state=draft]")).to_be_visible()
    shot(page, "error-summary.png")

    # the draft is saved and nothing typed is lost (sensitive values are shown masked)
    record_id = record_id_of(page)
    stored = stored_record(live.app, record_id)
    assert stored["state"] == "draft"
    assert stored["data"]["applicant"] == "张三" and stored["data"]["phone"] == "12345"
    assert stored["data"]["months"] == 6
    expect(page.locator("#cf-f-applicant")).to_have_value("张*")
    expect(page.locator("#cf-f-phone")).to_have_value("*2345")
    expect(page.locator("#cf-f-months")).to_have_value("6")

    # the clerk fixes every item and attaches the licence copy: accepted, receipt
    page.fill("#cf-f-id_number", "110105199001011234")
    page.fill("#cf-f-phone", "13812345678")
    page.fill("#cf-f-plate", "京A12345")
    page.set_input_files("#cf-f-licence_copy", PDF)
    page.locator("button[name=_action][value=accept]").click()
    expect(page).to_have_url(re.compile(rf"/records/{re.escape(record_id)}/receipt$"), timeout=T)
    expect(page.locator("#cf-receipt-number")).to_have_text(re.compile(r"^PK-\d{8}-0001$"), timeout=T)
    code = page.locator("#cf-receipt-code").inner_text().strip()
    assert len(code) == 8, code
    expect(page.locator(".cf-qr svg")).to_be_visible()
    status_url = page.locator("#cf-receipt-url").inner_text().strip()
    assert "/status?number=" in status_url
    assert page.locator("#cf-receipt-url").get_attribute("href") == status_url
    shot(page, "receipt.png")
    number = page.locator("#cf-receipt-number").inner_text().strip()
    stored = stored_record(live.app, record_id)
    assert stored["data"]["applicant"] == "张三" and stored["data"]["id_number"] == "110105199001011234"
    assert stored["data"]["licence_copy"]

    # the applicant, not signed in, opens the status address: progress, and no personal data
    sign_out(page)
    page.goto(status_url)
    expect(page.locator("#cf-progress")).to_be_visible(timeout=T)
    expect(page.locator("#cf-progress")).to_contain_text(number)
    expect(page.locator("#cf-progress-state")).to_contain_text("审核")
    content = page.content()
    for secret in SECRETS:
        assert secret not in content

    # a wrong code: the error, and no progress
    page.goto(f"{base}/status?number={number}&code=WRONG123")
    expect(page.locator(".cf-error-summary")).to_be_visible(timeout=T)
    expect(page.locator("#cf-progress")).to_have_count(0)

    # "restart": stop serving, build a new app on the same database, serve it on another port
    live.stop()
    from counterflow.host import create_app

    again = create_app(dict(config))
    second = LiveServer(again)
    try:
        assert second.url != base
        parts = urlsplit(status_url)
        page.goto(second.url + parts.path + "?" + parts.query)
        expect(page.locator("#cf-progress")).to_contain_text(number, timeout=T)
        sign_in(page, second.url, "clerk")
        row = page.locator("main table tr", has_text=number)
        expect(row).to_have_count(1, timeout=T)
        row.locator(f'a[href$="/records/{record_id}"]').click()
        expect(page.locator("dl.cf-meta")).to_contain_text(number, timeout=T)
        expect(page.locator("main")).to_contain_text("张*")          # opened with the same key, shown masked
        assert "张三" not in page.content()
    finally:
        second.stop()
        again.extensions["counterflow"].store.close()


# ---- the one-time notice -----------------------------------------------------------------------------------

def _draft_with_gaps_then_return(live: LiveServer, page: Any) -> str:
    """The clerk saves a draft with gaps, opens its page and returns it with one extra item; its id."""
    sign_in(page, live.url, "clerk")
    page.goto(live.url + "/forms/parking-permit/new")
    page.fill("#cf-f-applicant", "张三")
    page.fill("#cf-f-months", "6")
    page.locator("button[name=_action][value=save]").click()
    expect(page).to_have_url(re.compile(r"/records/[^/]+\?saved=1$"), timeout=T)
    record_id = record_id_of(page)
    assert stored_record(live.app, record_id)["data"] == {"applicant": "张三", "months": 6}

    page.goto(f"{live.url}/records/{record_id}")
    page.fill("#cf-items-return", "请携带行驶证原件")
    fire(page, "return")
    expect(page).to_have_url(re.compile(rf"/records/{re.escape(record_id)}/notice$"), timeout=T)
    return record_id


def test_notice_page_lists_every_item_and_prints(live: LiveServer, staff: LiveApi, page: Any) -> None:
    publish(staff)
    _draft_with_gaps_then_return(live, page)
    items = page.locator("ol.cf-notice-items li")
    expect(items.last).to_have_text("请携带行驶证原件", timeout=T)   # the clerk's item, after the automatic ones
    texts = items.all_inner_texts()
    for label in ("身份证号", "手机号", "车牌号", "行驶证复印件"):
        assert any(label in t for t in texts), (label, texts)
    expect(page.locator("main")).to_contain_text("Clerk")

    no_print = page.locator(".cf-no-print")
    assert no_print.count() >= 2                  # the header and the print button
    expect(page.locator("[data-cf-print]")).to_be_visible()
    page.emulate_media(media="print")
    for i in range(no_print.count()):
        expect(no_print.nth(i)).to_be_hidden(timeout=T)
    expect(page.locator("[data-cf-print]")).to_be_hidden()
    expect(page.locator("ol.cf-notice-items")).to_be_visible()
    page.emulate_media(media="screen")
    expect(page.locator("[data-cf-print]")).to_be_visible()


def test_return_from_the_record_page_keeps_the_draft(live: LiveServer, staff: LiveApi, page: Any) -> None:
    publish(staff)
    record_id = _draft_with_gaps_then_return(live, page)
    stored = stored_record(live.app, record_id)
    assert stored["state"] == "returned"
    assert stored["data"] == {"applicant": "张三", "months": 6}
    expect(page.locator("ol.cf-notice-items li")).to_have_count(5, timeout=T)   # 4 gaps + the extra item


def test_reload_after_a_refused_accept_makes_no_second_draft(live: LiveServer, staff: LiveApi,
                                                             page: Any) -> None:
    publish(staff)
    store = live.app.extensions["counterflow"].store
    sign_in(page, live.url, "clerk")
    page.goto(live.url + "/forms/parking-permit/new")
    page.fill("#cf-f-applicant", "张三")
    page.locator("button[name=_action][value=accept]").click()
    expect(page.locator(".cf-error-summary")).to_be_visible(timeout=T)
    assert store.records.count_documents({}) == 1
    page.reload()
    expect(page.locator("#cf-f-applicant")).to_be_visible(timeout=T)
    assert store.records.count_documents({}) == 1


# ---- no JavaScript -----------------------------------------------------------------------------------------

def test_form_works_without_javascript(live: LiveServer, staff: LiveApi, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False, locale="zh-CN")
    context.set_default_timeout(T)
    try:
        page = context.new_page()
        sign_in(page, live.url, "clerk")
        page.goto(live.url + "/forms/business-licence/new")
        rows = page.locator("fieldset[data-cf-rows='/shareholders'] > .cf-rows-list > [data-cf-row]")
        expect(rows).to_have_count(1, timeout=T)
        page.fill("#cf-f-company_name", "北京测试科技有限公司")
        page.fill("#cf-f-shareholders-0-name", "李四")
        page.fill("#cf-f-shareholders-0-contribution", "60")
        page.fill("#cf-f-shareholders-0-share_percent", "60")

        page.locator("button[name=_add_row][value='/shareholders']").click()   # a real submit: no script
        expect(page.locator("#cf-f-shareholders-1-name")).to_be_visible(timeout=T)
        assert rows.count() >= 2          # exactly 2: see test_add_row_without_javascript_adds_one_row
        expect(page.locator("#cf-f-company_name")).to_have_value("北京测试科技有限公司")
        expect(page.locator("#cf-f-shareholders-0-contribution")).to_have_value("60")
        page.fill("#cf-f-shareholders-1-name", "王五")
        page.fill("#cf-f-shareholders-1-contribution", "40")
        page.fill("#cf-f-shareholders-1-share_percent", "40")

        page.locator("button[name=_action][value=save]").click()
        expect(page).to_have_url(re.compile(r"/records/[^/]+\?saved=1$"), timeout=T)
        record_id = record_id_of(page)
        stored = stored_record(live.app, record_id)
        assert stored["data"]["company_name"] == "北京测试科技有限公司"
        shareholders = [(s["name"], s["contribution"], s["share_percent"])
                        for s in stored["data"]["shareholders"]]
        assert shareholders == [("李四", 60, 60), ("王五", 40, 40)]

        page.goto(f"{live.url}/records/{record_id}")
        expect(page.locator("#cf-f-company_name")).to_have_value("北京测试科技有限公司", timeout=T)
        expect(page.locator("#cf-f-shareholders-0-contribution")).to_have_value("60")
        expect(page.locator("#cf-f-shareholders-1-contribution")).to_have_value("40")
        expect(page.locator("#cf-f-shareholders-1-share_percent")).to_have_value("40")
        expect(page.locator("#cf-f-shareholders-0-name")).to_have_value("李*")   # sensitive: masked
        expect(page.locator("#cf-f-shareholders-1-name")).to_have_value("王*")
        assert "李四" not in page.content()

        # saving the page again (masked names posted back as shown) keeps the stored names
        page.fill("#cf-f-company_name", "北京测试二号科技有限公司")
        page.locator("button[name=_action][value=save]").click()
        expect(page).to_have_url(re.compile(r"/records/[^/]+\?saved=1$"), timeout=T)
        stored = stored_record(live.app, record_id)
        assert stored["data"]["company_name"] == "北京测试二号科技有限公司"
        assert [s["name"] for s in stored["data"]["shareholders"]] == ["李四", "王五"]
    finally:
        context.close()


def test_add_row_without_javascript_adds_one_row(live: LiveServer, staff: LiveApi, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False, locale="zh-CN")
    context.set_default_timeout(T)
    try:
        page = context.new_page()
        sign_in(page, live.url, "clerk")
        page.goto(live.url + "/forms/business-licence/new")
        rows = page.locator("fieldset[data-cf-rows='/shareholders'] > .cf-rows-list > [data-cf-row]")
        expect(rows).to_have_count(1, timeout=T)
        page.fill("#cf-f-shareholders-0-name", "李四")
        page.locator("button[name=_add_row][value='/shareholders']").click()
        expect(page.locator("#cf-f-shareholders-1-name")).to_be_visible(timeout=T)
        expect(rows).to_have_count(2, timeout=2_000)
    finally:
        context.close()


# ---- CSRF --------------------------------------------------------------------------------------------------

def _csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token on the page"
    return match.group(1)


def test_csrf_is_required_on_posts(live: LiveServer, staff: LiveApi, request: Any) -> None:
    publish(staff)
    http = requests.Session()
    request.addfinalizer(http.close)
    token = _csrf_token(http.get(live.url + "/login", timeout=30).text)

    # without the token: 400 with the message, not a 500 and not a sign-in
    r = http.post(live.url + "/login", data={"username": "clerk", "password": PASSWORD},
                  allow_redirects=False, timeout=30)
    assert r.status_code == 400, r.status_code
    assert "页面已过期或来源不明" in r.text and "cf-error-summary" in r.text

    r = http.post(live.url + "/login", data={"username": "clerk", "password": PASSWORD, "csrf_token": token},
                  allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].endswith("/worklist")

    # signed in, a valid session cookie, but a post without (or with a forged) token is refused
    form = http.get(live.url + "/forms/parking-permit/new", timeout=30)
    assert form.status_code == 200
    before = live.app.extensions["counterflow"].store.records.count_documents({})
    for extra in ({}, {"csrf_token": "forged"}):
        r = http.post(live.url + "/forms/parking-permit/new",
                      data={"applicant": "张三", "_action": "save", **extra},
                      allow_redirects=False, timeout=30)
        assert r.status_code == 400, (extra, r.status_code)
        assert "页面已过期或来源不明" in r.text
    assert live.app.extensions["counterflow"].store.records.count_documents({}) == before
    # with the page's token the same post saves
    r = http.post(live.url + "/forms/parking-permit/new",
                  data={"applicant": "张三", "_action": "save", "csrf_token": _csrf_token(form.text)},
                  allow_redirects=False, timeout=30)
    assert r.status_code == 302 and "/records/" in r.headers["Location"]


# ---- language ----------------------------------------------------------------------------------------------

def test_language_switch(live: LiveServer, browser: Any) -> None:
    for locale, heading in (("zh-CN", "登录"), ("fr-FR", "登录"), ("en-US", "Sign in")):
        context = browser.new_context(locale=locale)
        try:
            page = context.new_page()
            page.goto(live.url + "/login")
            expect(page.locator("main h1")).to_have_text(heading, timeout=T)   # no choice: Chinese by default
            if locale == "zh-CN":
                expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
                page.goto(live.url + "/login?lang=en")
                expect(page.locator("main h1")).to_have_text("Sign in", timeout=T)
                expect(page.locator("html")).to_have_attribute("lang", "en")
                expect(page.locator("label[for=cf-username]")).to_have_text("User name")
                page.goto(live.url + "/status")            # the choice sticks to the session
                expect(page.locator("main h1")).to_have_text("Progress look-up", timeout=T)
                page.locator("header a[lang=zh-CN]").click()
                expect(page.locator("main h1")).to_have_text("进度查询", timeout=T)
        finally:
            context.close()


# ---- admin text is text ------------------------------------------------------------------------------------

SCRIPT = "<script>window.__xss=1</script>"
IMG = "<img src=x onerror=window.__xss=1>"


def test_admin_text_is_escaped(live: LiveServer, staff: LiveApi, page: Any) -> None:
    definition = copy.deepcopy(PERMIT)
    definition["key"] = "xss-form"
    definition["title"] = {"zh-CN": "标题" + SCRIPT, "en": "Title" + SCRIPT}
    definition["description"] = {"zh-CN": IMG, "en": IMG}
    definition["schema"]["properties"]["plate"]["title"] = "车牌" + SCRIPT
    definition["schema"]["properties"]["plate"]["description"] = "说明" + IMG
    definition["ui_schema"]["plate"]["ui:help"] = "帮助" + IMG
    definition["ui_schema"]["plate"]["ui:placeholder"] = '"><' + IMG[1:]
    publish(staff, definition)

    sign_in(page, live.url, "clerk")
    expect(page.locator('main a[href$="/forms/xss-form/new"]')).to_have_text("标题" + SCRIPT, timeout=T)
    page.goto(live.url + "/forms/xss-form/new")
    expect(page.locator("main h1")).to_have_text("标题" + SCRIPT, timeout=T)
    expect(page.locator("label[for=cf-f-plate]")).to_contain_text("车牌" + SCRIPT)
    expect(page.locator("#cf-f-plate--desc")).to_have_text("说明" + IMG)
    expect(page.locator("#cf-f-plate--help")).to_have_text("帮助" + IMG)
    expect(page.locator("#cf-f-plate")).to_have_attribute("placeholder", '"><' + IMG[1:])
    expect(page).to_have_title(re.compile(re.escape(SCRIPT)))
    assert page.locator("main img").count() == 0
    page.wait_for_load_state("load")
    assert page.evaluate("window.__xss") is None

    # the admin's own pages show the same text as text: preview and definition
    sign_out(page)
    sign_in(page, live.url, "admin", ADMIN_PASSWORD)
    page.goto(live.url + "/admin/forms/xss-form/versions/1")
    expect(page.locator("main h1")).to_contain_text("标题" + SCRIPT, timeout=T)
    expect(page.locator(".cf-preview #cf-f-plate--help")).to_have_text("帮助" + IMG)
    page.goto(live.url + "/admin/forms")
    expect(page.locator("main table")).to_contain_text("标题" + SCRIPT, timeout=T)
    page.wait_for_load_state("load")
    assert page.evaluate("window.__xss") is None
