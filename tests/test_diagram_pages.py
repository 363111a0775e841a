"""Diagrams on the pages: every process on the admin pages, a record's progress on its page (states passed,
the state now, who holds it), the applicant's status page without staff names; escaped, and drawn by
Chromium without running anything an admin wrote."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from conftest import Api
from forms import COMPLETE, permit, publish
from test_api_workflows import _approve
from test_pages import sign_in

SVG = "{http://www.w3.org/2000/svg}"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
HOSTILE = "<script>window.__pwned=1</script>"
COUNTER_CHECK = """\
key: counter_check
title: {zh-CN: 柜面核查, en: Counter check}
initial: lodged
states:
  - {name: lodged, title: {zh-CN: 待提交, en: Lodged}, editable: true}
  - {name: vetting, title: {zh-CN: "%s", en: "%s"}, deadline: {working_days: 3}}
  - {name: settled, title: {zh-CN: 已办结, en: Settled}, final: true, ends_record: true}
transitions:
  - trigger: hand_in
    title: {zh-CN: 受理并分派, en: Accept and assign}
    source: lodged
    dest: vetting
    roles: [clerk]
    requires: [assignee]
    actions: [assign_acceptance_number, set_assignee]
  - trigger: settle
    title: {zh-CN: 核查办结, en: Settle}
    source: vetting
    dest: settled
    roles: [reviewer]
""" % (HOSTILE, HOSTILE)


def _svg_text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(<svg.*?</svg>)', html, re.S)
    assert found, f"no diagram #{element_id} on the page"
    return found.group(1)


def _svg_in(html: str, element_id: str) -> ET.Element:
    return ET.fromstring(_svg_text(html, element_id))


def _states(root: ET.Element) -> dict[str, list[str]]:
    return {g.get("data-state") or "": (g.get("class") or "").split() for g in root.iter(f"{SVG}g")
            if g.get("data-state")}


@pytest.fixture
def walked(app: Any, staff: Api) -> dict[str, Any]:
    """counter_check uploaded and approved, a form naming it published, a record handed to the reviewer."""
    api = staff
    r = api.post("/api/v1/workflows", "admin", data=COUNTER_CHECK.encode(),
                 headers={"Content-Type": "text/yaml"})
    assert r.status_code == 201, r.get_json()
    _approve(api, "counter_check", 1)
    form = permit(key="check-form", settings={**permit()["settings"], "processes": ["counter_check"]})
    del form["schema"]["properties"]["licence_copy"]
    publish(api, form)
    record = api.post("/api/v1/records", "clerk", json={"form": "check-form", "data": COMPLETE}).get_json()
    users = api.get("/api/v1/users", "admin").get_json()["items"]
    reviewer = next(u for u in users if u["username"] == "reviewer")
    r = api.post(f"/api/v1/records/{record['id']}/transitions/hand_in", "clerk",
                 json={"revision": record["revision"], "assignee": reviewer["id"]})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_the_admin_pages_list_every_process_and_draw_each_version(app: Any, walked: dict[str, Any]) -> None:
    admin = app.test_client()
    from conftest import ADMIN_PASSWORD

    sign_in(admin, "admin", ADMIN_PASSWORD)
    page = admin.get("/admin/workflows").get_data(as_text=True)
    assert 'data-key="counter_check"' in page and 'data-key="intake"' in page
    r = admin.get("/admin/workflows/counter_check/versions/1")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert HOSTILE not in html and "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    root = _svg_in(html, "cf-workflow-diagram")
    assert set(_states(root)) == {"lodged", "vetting", "settled"}
    head = app.test_client()
    sign_in(head, "head")
    assert head.get("/admin/workflows").status_code == 200
    clerk = app.test_client()
    sign_in(clerk, "clerk")
    assert clerk.get("/admin/workflows").status_code == 403


def test_the_record_page_highlights_the_way_taken_the_state_now_and_its_holder(
        app: Any, walked: dict[str, Any]) -> None:
    clerk = app.test_client()
    sign_in(clerk, "clerk")
    html = clerk.get(f"/records/{walked['id']}").get_data(as_text=True)
    assert HOSTILE not in html
    root = _svg_in(html, "cf-record-diagram")
    states = _states(root)
    assert "passed" in states["lodged"] and "current" in states["vetting"]
    assert "current" not in states["settled"] and "passed" not in states["settled"]
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert "经办：Reviewer" in texts and HOSTILE in texts
    walked_edges = [(g.get("data-source"), g.get("data-dest")) for g in root.iter(f"{SVG}g")
                    if "walked" in (g.get("class") or "")]
    assert walked_edges == [("lodged", "vetting")]


def test_the_status_page_shows_the_same_progress_without_staff_or_personal_data(
        app: Any, walked: dict[str, Any]) -> None:
    stored = app.extensions["counterflow"].store.record(walked["id"])
    anyone = app.test_client()
    r = anyone.get(f"/status?number={stored['acceptance_number']}&code={stored['query_code']}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    root = _svg_in(html, "cf-status-diagram")
    states = _states(root)
    assert "passed" in states["lodged"] and "current" in states["vetting"]
    svg = ET.tostring(root, encoding="unicode")
    private_texts: list[str] = ["Reviewer", "Clerk", "经办", "窗口人员", "审核人员", str(COMPLETE["applicant"]),
                                str(COMPLETE["phone"])]
    for private in private_texts:
        assert private not in svg, private


@pytest.mark.browser
def test_chromium_draws_the_record_diagram_and_runs_nothing_an_admin_wrote(app: Any,
                                                                           walked: dict[str, Any]) -> None:
    sync = pytest.importorskip("playwright.sync_api")
    clerk = app.test_client()
    sign_in(clerk, "clerk")
    html = clerk.get(f"/records/{walked['id']}").get_data(as_text=True)
    svg = _svg_text(html, "cf-record-diagram")
    with sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 900, "height": 700})
            page.set_content(f"<!doctype html><html><body><figure id='d'>{svg}</figure></body></html>")
            assert page.evaluate("window.__pwned") is None
            current = page.locator("#d g.current rect").first.bounding_box()
            passed = page.locator("#d g.passed rect").first.bounding_box()
            assert current and passed and current["width"] > 40 and current["height"] > 20
            assert passed["y"] < current["y"]                     # the way taken leads down to the state now
            assert page.locator("#d g.current text.title").text_content() == HOSTILE
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "record-diagram.png"), full_page=True)
        finally:
            browser.close()


def test_an_admin_uploads_edits_and_submits_a_process_on_the_pages(app: Any, staff: Api) -> None:
    from conftest import ADMIN_PASSWORD
    from test_pages import csrf

    admin = app.test_client()
    sign_in(admin, "admin", ADMIN_PASSWORD)
    broken = COUNTER_CHECK.replace("dest: settled", "dest: nowhere").replace("[clerk]", "[janitor]")
    r = admin.post("/admin/workflows", data={"csrf_token": csrf(admin.get("/admin/workflows")),
                                             "definition": broken})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "janitor" in html and "fix:" in html and broken.splitlines()[0] in html     # kept for correcting
    r = admin.post("/admin/workflows", data={"csrf_token": csrf(admin.get("/admin/workflows")),
                                             "definition": "a: &x 1\nb: *x\n"})
    assert r.status_code == 422 and "anchors" in r.get_data(as_text=True)
    r = admin.post("/admin/workflows", data={"csrf_token": csrf(admin.get("/admin/workflows")),
                                             "definition": COUNTER_CHECK})
    assert r.status_code == 302
    assert r.headers["Location"].endswith("/admin/workflows/counter_check/versions/1")
    page = admin.get("/admin/workflows/counter_check/versions/1")
    token = csrf(page)
    renamed = COUNTER_CHECK.replace("en: Counter check}", "en: Counter check renamed}")
    r = admin.post("/admin/workflows/counter_check/versions/1",
                   data={"csrf_token": token, "revision": "0", "_action": "_save", "definition": renamed})
    assert r.status_code == 302
    r = admin.post("/admin/workflows/counter_check/versions/1",
                   data={"csrf_token": token, "revision": "1", "_action": "submit"})
    assert r.status_code == 302
    doc = staff.get("/api/v1/workflows/counter_check/versions/1", "admin").get_json()
    assert doc["title"]["en"] == "Counter check renamed" and doc["revision"] == 2 and not doc["in_use"]
    stale = admin.post("/admin/workflows/counter_check/versions/1",
                       data={"csrf_token": token, "revision": "0", "_action": "_save", "definition": renamed})
    assert stale.status_code == 422                       # no longer a draft, and stale: nothing written
    assert staff.get("/api/v1/workflows/counter_check/versions/1", "admin").get_json()["revision"] == 2
