"""A reviewer reads what changed before deciding (issue 9, differences): the form version page in headless
Chromium shows the differences from the version before, another version is chosen with the keyboard, and the
screen is saved under test-artifacts/differences/."""
from __future__ import annotations

import copy
import re
from typing import Any, Iterator

import pytest

from test_browser import ARGS, ARTIFACTS, CHROMIUM, T, LiveApi, LiveServer, sign_in

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = pytest.mark.browser

FORM: dict[str, Any] = {
    "key": "diff-browser",
    "title": {"zh-CN": "差异查看", "en": "Difference view"},
    "schema": {"type": "object", "required": ["visitor"], "properties": {
        "visitor": {"type": "string", "maxLength": 50, "title": "来访人", "x-title-en": "Visitor"},
        "reason": {"type": "string", "title": "事由", "x-title-en": "Reason", "enum": ["open", "close"]},
    }},
    "settings": {"processes": ["intake", "review", "archive", "destroy"],
                 "numbering": "DFB-{yyyy}{mm}{dd}-{seq:04d}", "time_limit": {"working_days": 3}},
}


@pytest.fixture
def live(config: dict[str, Any], mongo_uri: str) -> Iterator[LiveServer]:
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
def page() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(T)
        yield context.new_page()
        browser.close()


def _approve(api: LiveApi, version: int) -> None:
    base = f"/api/v1/forms/{FORM['key']}/versions/{version}"
    for who, trigger in (("admin", "submit"), ("head", "review"), ("boss", "approve")):
        rev = api.get(base, "admin").json()["revision"]
        r = api.post(f"{base}/transitions/{trigger}", who, json={"revision": rev, "opinion": "同意"})
        assert r.status_code == 200, r.text


def test_the_reviewer_reads_the_differences_and_chooses_another_version(live: LiveServer, page: Any) -> None:
    from conftest import ADMIN_PASSWORD

    api = LiveApi(live.url)
    api.login("admin", ADMIN_PASSWORD)
    for name, roles in (("head", ["dept_head"]), ("boss", ["manager"])):
        api.add_user(name, roles)
    assert api.post("/api/v1/forms", "admin", json=FORM).status_code == 201
    _approve(api, 1)
    schema = copy.deepcopy(FORM["schema"])
    schema["properties"]["visitor"]["maxLength"] = 20
    schema["properties"]["reason"]["enum"] = ["open", "close", "change"]
    schema["properties"]["note"] = {"type": "string", "title": "<b>备注</b>", "x-title-en": "Note"}
    r = api.post(f"/api/v1/forms/{FORM['key']}/versions", "admin", json={"schema": schema})
    assert r.status_code == 201, r.text
    _approve(api, 2)
    r = api.post(f"/api/v1/forms/{FORM['key']}/versions", "admin",
                 json={"settings": dict(FORM["settings"], time_limit={"working_days": 5})})
    assert r.status_code == 201, r.text
    rev = api.get(f"/api/v1/forms/{FORM['key']}/versions/3", "admin").json()["revision"]
    assert api.post(f"/api/v1/forms/{FORM['key']}/versions/3/transitions/submit", "admin",
                    json={"revision": rev}).status_code == 200
    api.http.close()

    sign_in(page, live.url, "head")
    page.goto(f"{live.url}/admin/forms/{FORM['key']}/versions/3")
    section = page.locator("#cf-differences")
    expect(section.locator("li")).to_have_count(1)
    changed = section.locator("li[data-kind=changed][data-path='/settings/time_limit']")
    expect(changed).to_contain_text("3 → 5")
    # the differences come before the decision
    assert page.locator("#cf-differences ~ section form button").count() >= 1
    # choose version 1 with the keyboard only
    page.focus("#cf-against")
    page.keyboard.press("Home")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"against=1$"))
    expect(section.locator("li")).to_have_count(4)
    expect(section.locator("li[data-kind=added][data-path='/note']")).to_contain_text("<b>备注</b>")
    expect(section.locator("li[data-path='/reason']")).to_contain_text("新增选项 change")
    assert section.locator("b").count() == 0                  # a label is text, never markup
    (ARTIFACTS / "differences").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "differences" / "form-version-differences.png"), full_page=True)
    page.goto(f"{live.url}/admin/forms/{FORM['key']}/versions/3?against=1&lang=en")
    expect(section.locator("li[data-path='/visitor']")).to_contain_text("maximum length: 50 → 20")
    page.screenshot(path=str(ARTIFACTS / "differences" / "form-version-differences-en.png"), full_page=True)
