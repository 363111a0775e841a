"""The process designer in a real headless Chromium (issue 9, second "Done when"): an admin who types no YAML
builds a three-step process with a 会签 step, by mouse and by keyboard; the live check passes; it is saved,
submitted and approved with the designer's buttons (department head, then manager); a form naming it is
published; a record walks through it and the 会签 counts each approver.
Screenshots: test-artifacts/designer/."""
from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from conftest import ADMIN_PASSWORD
from forms import COMPLETE, permit, publish
from test_api_workflows import PERMIT_CHECK
from test_browser import ARTIFACTS, T, LiveApi, LiveServer, browser, live, page, sign_in, sign_out, staff

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = pytest.mark.browser
__all__ = ["browser", "live", "page", "staff"]      # the fixtures this module shares with test_browser.py

SHOTS = ARTIFACTS / "designer"
IMG = "<img src=x onerror=window.__xss=1>"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _ready(page: Any) -> None:
    expect(page.locator("#cf-designer[data-ready='1']")).to_be_attached(timeout=T)


def _checked_clean(page: Any) -> None:
    expect(page.locator("#cf-ds-status[data-pending='0']")).to_be_attached(timeout=T)
    expect(page.locator("#cf-ds-status")).to_have_attribute("data-problems", "0", timeout=T)


def _select_state(page: Any, name: str) -> None:
    """Click a state until the canvas shows it selected: a click that lands while the live check redraws
    the canvas (slow on a loaded machine) can hit the drawing being replaced."""
    for _ in range(3):
        page.locator(f"svg [data-state='{name}']").click()
        try:
            expect(page.locator(f"svg [data-state='{name}'][aria-pressed='true']")).to_be_attached(timeout=T)
            return
        except AssertionError:
            continue
    raise AssertionError(f"state {name} could not be selected")


def _name(page: Any, field: str, value: str) -> None:
    """Type a name and leave the field (renames apply on change: once, with every reference)."""
    page.fill(field, value)
    page.press(field, "Tab")


def _titles(page: Any, stem: str, zh: str, en: str) -> None:
    page.fill(f"#{stem}-zh-CN", zh)
    page.fill(f"#{stem}-en", en)


def _add_state(page: Any, name: str, zh: str, en: str) -> None:
    page.click("#cf-ds-add-state")
    expect(page.locator("#cf-ds-state-name")).to_be_visible(timeout=T)
    _name(page, "#cf-ds-state-name", name)
    expect(page.locator(f"svg [data-state='{name}']")).to_be_visible(timeout=T)
    _titles(page, "cf-ds-state-title", zh, en)


def _approve_with_buttons(page: Any, base: str, who: str, url: str) -> None:
    sign_in(page, base, who)
    page.goto(url)
    _ready(page)
    # the actions the service allows this person, less those that need an opinion (a send-back): one left
    allowed = page.locator("#cf-ds-approval button.cf-button--primary:not([data-needs-opinion])")
    expect(allowed).to_have_count(1, timeout=T)
    before = page.locator("#cf-ds-approval").get_attribute("data-state")
    page.locator("#cf-ds-approval .cf-ds-option:has(button.cf-button--primary:not([data-needs-opinion])) "
                 "textarea").fill("同意")
    allowed.click()
    expect(page.locator("#cf-ds-approval")).not_to_have_attribute("data-state", before or "", timeout=T)
    expect(page.locator("#cf-ds-notice")).not_to_have_class(re.compile("cf-ds-notice--bad"))
    sign_out(page)


def test_an_admin_designs_a_joint_approval_process_that_a_record_then_walks(live: LiveServer, staff: LiveApi,
                                                                            page: Any) -> None:
    base = live.url
    for name in ("r1", "r2"):
        staff.add_user(name, ["reviewer"])
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400
            and not r.url.endswith("/favicon.ico") else None)

    sign_in(page, base, "admin", ADMIN_PASSWORD)
    page.goto(base + "/admin/workflows")
    page.locator("#cf-designer-new").click()
    expect(page).to_have_url(re.compile(r"/admin/workflows/designer$"), timeout=T)
    _ready(page)
    page.fill("#cf-ds-key", "joint_check")
    _titles(page, "cf-ds-title", "联合核查", "Joint check")

    # three states, drawn as they are added; the first is where records start
    _add_state(page, "lodged", "待提交", "Lodged")
    page.check("#cf-ds-state-editable")
    _add_state(page, "joint", "会签审核", "")
    expect(page.locator("#cf-ds-panel .cf-ds-missing")).to_contain_text("英文")     # a missing translation
    page.fill("#cf-ds-state-title-en", "Joint review")
    expect(page.locator("#cf-ds-panel .cf-ds-missing")).to_be_hidden()
    _add_state(page, "done", "已办结", "Done")
    page.check("#cf-ds-state-final")
    page.check("#cf-ds-state-ends_record")
    expect(page.locator("#cf-ds-initial")).to_have_value("lodged")

    # connect by mouse: the connect button, a source, a destination
    page.click("#cf-ds-connect")
    page.locator("svg [data-state='lodged']").click()
    page.locator("svg [data-state='joint']").click()
    expect(page.locator("#cf-ds-trigger")).to_be_visible(timeout=T)
    _name(page, "#cf-ds-trigger", "hand_in")
    _titles(page, "cf-ds-transition-title", "提交核查", "Hand in")
    page.check("#cf-ds-roles input[data-value='clerk']")
    expect(page.locator("svg [data-trigger='hand_in']")).to_be_visible(timeout=T)

    # connect by keyboard: Enter on the connect button moves focus to the first state; Tab and Enter pick
    page.focus("#cf-ds-connect")
    page.keyboard.press("Enter")
    expect(page.locator("svg [data-state='lodged']")).to_be_focused(timeout=T)
    page.keyboard.press("Tab")
    expect(page.locator("svg [data-state='joint']")).to_be_focused(timeout=T)
    page.keyboard.press("Enter")                                          # the source
    expect(page.locator("svg [data-state='joint'].cf-ds-source")).to_be_attached(timeout=T)
    page.keyboard.press("Tab")
    expect(page.locator("svg [data-state='done']")).to_be_focused(timeout=T)
    page.keyboard.press("Enter")                                          # the destination
    expect(page.locator("#cf-ds-trigger")).to_be_visible(timeout=T)
    _name(page, "#cf-ds-trigger", "agree")
    _titles(page, "cf-ds-transition-title", "同意", "Agree")
    page.check("#cf-ds-roles input[data-value='reviewer']")
    page.select_option("#cf-ds-opinion", "required")
    # guards come from the registry with their descriptions; picked, never typed
    expect(page.locator("#cf-ds-guards")).to_contain_text("materials_complete")

    # the middle state becomes a 会签 step of r1 and r2, passing by `agree`
    _select_state(page, "joint")
    page.check("#cf-ds-approval-on")
    page.select_option("#cf-ds-approval-mode", "all")
    page.select_option("#cf-ds-approver-0-kind", "users")
    page.check("#cf-ds-approver-0-users input[data-value='r1']")
    page.check("#cf-ds-approver-0-users input[data-value='r2']")
    expect(page.locator("#cf-ds-approval-approve")).to_have_value("agree")
    page.fill("#cf-ds-state-deadline", "3")
    # field rights are picked from a form chosen as context: the step does not see the new phone number
    page.select_option("#cf-ds-form", "account-change")
    page.check("#cf-ds-fields-hidden input[data-value='/new_details/new_phone']")

    # a problem shows at its place and blocks saving; fixing it clears it
    page.select_option("#cf-ds-approval-approve", "")
    expect(page.locator("#cf-ds-status")).to_have_attribute("data-problems", re.compile(r"^[1-9]"), timeout=T)
    expect(page.locator("#cf-ds-save")).to_be_disabled()
    expect(page.locator("#cf-ds-panel .cf-ds-here li")).to_contain_text("/states/1/approval/approve")
    expect(page.locator("svg [data-state='joint'].cf-ds-bad")).to_be_attached()
    shot(page, "designer-problem-at-its-place.png")
    page.select_option("#cf-ds-approval-approve", "agree")
    _checked_clean(page)
    expect(page.locator("#cf-ds-status")).to_contain_text("检查通过")
    shot(page, "designer-new-process.png")

    page.click("#cf-ds-save")
    expect(page).to_have_url(re.compile(r"/admin/workflows/joint_check/designer$"), timeout=T)
    expect(page.locator("#cf-ds-notice")).to_contain_text("已保存", timeout=T)
    stored = staff.get("/api/v1/workflows/joint_check/versions/1", "admin").json()
    assert stored["author"] != "counterflow"
    definition = stored["definition"]
    joint = next(s for s in definition["states"] if s["name"] == "joint")
    assert joint["approval"] == {"mode": "all", "approvers": [{"users": ["r1", "r2"]}], "approve": "agree",
                                 "fields": {"hidden": ["/new_details/new_phone"]}}
    assert joint["deadline"] == {"working_days": 3}
    assert definition["initial"] == "lodged"
    assert [(t["trigger"], t["source"], t["dest"], t["roles"]) for t in definition["transitions"]] == [
        ("hand_in", "lodged", "joint", ["clerk"]), ("agree", "joint", "done", ["reviewer"])]

    # submitted with the designer's own button (the one the service allows the admin), then reviewed and
    # approved by the department head and the manager with theirs
    url = base + "/admin/workflows/joint_check/designer"
    draft_state = page.locator("#cf-ds-approval").get_attribute("data-state")
    page.locator("#cf-ds-approval button.cf-button--primary").click()
    expect(page.locator("#cf-ds-approval")).not_to_have_attribute("data-state", draft_state or "", timeout=T)
    expect(page.locator("#cf-ds-save")).to_have_count(0)                  # in approval: read only
    shot(page, "designer-submitted.png")
    sign_out(page)
    _approve_with_buttons(page, base, "head", url)
    _approve_with_buttons(page, base, "boss", url)
    assert staff.get("/api/v1/workflows/joint_check", "admin").json()["in_use_version"] == 1

    # bound to a form (a published form version naming the process), and a record walks through it
    form = permit(key="joint-form", settings={**permit()["settings"], "processes": ["joint_check"]})
    del form["schema"]["properties"]["licence_copy"]
    assert publish(staff, form)["workflows"] == {"joint_check": 1}
    r = staff.post("/api/v1/records", "clerk", json={"form": "joint-form", "data": COMPLETE})
    assert r.status_code == 201, r.text
    record = r.json()
    assert (record["process"], record["state"]) == ("joint_check", "lodged")
    r = staff.post(f"/api/v1/records/{record['id']}/transitions/hand_in", "clerk",
                   json={"revision": record["revision"]})
    assert r.status_code == 200, r.text
    record = r.json()
    assert record["state"] == "joint"
    ids = {u["username"]: u["id"] for u in staff.get("/api/v1/users", "admin").json()["items"]}
    assert sorted(t["user"] for t in record["tasks"]) == sorted([ids["r1"], ids["r2"]])

    def vote(who: str, current: dict[str, Any]) -> dict[str, Any]:
        r = staff.post(f"/api/v1/records/{current['id']}/approval/approve", who,
                       json={"revision": current["revision"], "digest": current["data_digest"],
                             "opinion": "同意"})
        assert r.status_code == 200, r.text
        return dict(r.json())

    record = vote("r1", record)
    assert record["state"] == "joint"                                      # 会签: one of two is not enough
    decided = {t["user"]: t.get("decision") for t in record["tasks"]}
    assert decided[ids["r1"]] == "approve" and not decided[ids["r2"]]
    r = staff.post(f"/api/v1/records/{record['id']}/approval/approve", "r1",
                   json={"revision": record["revision"], "digest": record["data_digest"], "opinion": "再次"})
    assert r.status_code in (403, 409, 422), r.text                        # each approver counts once
    record = vote("r2", record)
    assert record["state"] == "done"

    # the admin sees the approved version read only in the designer, with its versions listed
    sign_in(page, base, "admin", ADMIN_PASSWORD)
    page.goto(url)
    _ready(page)
    expect(page.locator("#cf-ds-version-list li")).to_have_count(1, timeout=T)
    expect(page.locator("svg [data-state='joint'].cf-ds-approval")).to_be_visible()
    shot(page, "designer-approved.png")
    assert errors == [], errors


def test_shipped_processes_open_read_only_and_a_copy_is_made_by_naming_it(
        live: LiveServer, staff: LiveApi, page: Any) -> None:
    base = live.url
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, base, "admin", ADMIN_PASSWORD)
    page.goto(base + "/admin/workflows/intake/designer?lang=en")
    _ready(page)
    expect(page.locator("#cf-ds-banner")).to_contain_text("read only", timeout=T)
    expect(page.locator("#cf-ds-save")).to_have_count(0)
    expect(page.locator("#cf-ds-add-state")).to_have_count(0)
    first = page.locator("svg .cf-ds-state").first
    first.focus()
    page.keyboard.press("Enter")                                           # the keyboard selects a state
    expect(page.locator("#cf-ds-state-name")).to_be_disabled(timeout=T)
    shot(page, "designer-shipped-read-only.png")

    # export works read only (JSON written by the page, YAML by the server)
    with page.expect_download() as found:
        page.click("#cf-ds-export-yaml")
    assert found.value.suggested_filename == "intake.yaml"
    text = open(found.value.path(), encoding="utf-8").read()
    assert "key: intake" in text

    page.fill("#cf-ds-copy-key", "my_intake")
    page.click("#cf-ds-copy")
    expect(page.locator("#cf-ds-save")).to_be_visible(timeout=T)
    _checked_clean(page)
    page.click("#cf-ds-save")
    expect(page).to_have_url(re.compile(r"/admin/workflows/my_intake/designer$"), timeout=T)
    copy = staff.get("/api/v1/workflows/my_intake/versions/1", "admin").json()
    shipped = staff.get("/api/v1/workflows/intake", "admin").json()
    original = staff.get(f"/api/v1/workflows/intake/versions/{shipped['latest_version']}", "admin").json()
    assert copy["definition"] == dict(original["definition"], key="my_intake")

    # the draft copy is editable: the Delete key removes the state that has the focus, with its transitions
    states = page.locator("svg .cf-ds-state")
    count = states.count()
    page.locator("svg .cf-ds-state.cf-ds-final").first.focus()
    page.keyboard.press("Delete")
    expect(states).to_have_count(count - 1, timeout=T)
    expect(page.locator("#cf-ds-status")).to_contain_text("Unsaved", timeout=T)
    shot(page, "designer-copy-en.png")

    # import: a YAML file replaces the drawing; it is checked like any other and saved as a new process
    page.goto(base + "/admin/workflows/designer?lang=en")
    _ready(page)
    hostile = yaml.safe_load(PERMIT_CHECK)
    hostile["states"][1]["title"] = {"zh-CN": IMG, "en": IMG}          # admin text is text, never markup
    page.set_input_files("#cf-ds-import", {"name": "permit_check.yaml", "mimeType": "application/yaml",
                                           "buffer": yaml.safe_dump(hostile, allow_unicode=True).encode()})
    expect(page.locator("svg [data-state='vetting'] .cf-ds-title")).to_have_text(IMG, timeout=T)
    _select_state(page, "vetting")
    expect(page.locator("#cf-ds-state-title-en")).to_have_value(IMG)
    assert page.locator("img").count() == 0 and page.evaluate("window.__xss") is None
    expect(page.locator("#cf-ds-key")).to_have_value("permit_check")
    _checked_clean(page)
    page.click("#cf-ds-save")
    expect(page).to_have_url(re.compile(r"/admin/workflows/permit_check/designer$"), timeout=T)
    imported = staff.get("/api/v1/workflows/permit_check/versions/1", "admin").json()
    assert imported["definition"] == hostile
    assert page.evaluate("window.__xss") is None
    assert errors == [], errors
