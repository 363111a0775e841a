"""The form builder in Chromium, as an admin who types no JSON (issue 9's first "done when"): a published v1,
then v2 built in the builder (a section, a repeatable group, a sensitive ID number, a required material, a
field shown only when another has a given value, a second-level rule), previewed, tried (every gap at
once), saved and submitted; the department head reads the differences and reviews, the manager approves;
a clerk fills the published form (the conditional field comes and goes), accepts it, and the record page
draws the process with its current state highlighted. Screenshots go to test-artifacts/builder/."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from conftest import ADMIN_PASSWORD

playwright_sync = pytest.importorskip("playwright.sync_api")
from test_browser import (ARTIFACTS, PDF, T, LiveApi, LiveServer, browser, fire,  # noqa: E402,F401
                          live, page, sign_in, sign_out, staff, stored_record)

expect = playwright_sync.expect
pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "builder"

V1: dict[str, Any] = {
    "key": "card-loss",
    "title": {"zh-CN": "银行卡挂失", "en": "Report a lost card"},
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "applicant_name": {"type": "string", "minLength": 1, "maxLength": 50, "title": "持卡人姓名",
                               "x-title-en": "Cardholder's name", "x-sensitive": "name"},
            "reason": {"type": "string", "enum": ["lost", "stolen"], "title": "挂失原因", "x-title-en": "Reason",
                       "x-enum-titles": {"zh-CN": ["遗失", "被盗"], "en": ["Lost", "Stolen"]}},
        },
        "required": ["applicant_name", "reason"],
    },
    "ui_schema": {"reason": {"ui:widget": "radio"}},
    "settings": {"processes": ["intake", "review", "archive", "destroy"],
                 "numbering": "CL-{yyyy}{mm}{dd}-{seq:04d}", "time_limit": {"working_days": 5},
                 "retention": {"years": 5, "from": "archived"}},
}


def shot(tab: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / name), full_page=True)


def item(tab: Any, *path: str) -> Any:
    key = json.dumps(list(path), ensure_ascii=False, separators=(",", ":"))
    return tab.locator(f"#cf-b-tree li[data-path='{key}']")


def select(tab: Any, *path: str) -> None:
    item(tab, *path).locator(":scope > .cf-b-row .cf-b-select").click()
    expect(tab.locator("#cf-b-key")).to_have_value(path[-1], timeout=T)


def add(tab: Any, kind: str, zh: str, en: str) -> None:
    """Pick a field type from the palette and label it in both languages (the key follows the English)."""
    tab.locator(f"#cf-b-palette button[data-kind={kind}]").click()
    expect(tab.locator("#cf-b-title-zh")).to_be_focused(timeout=T)
    tab.keyboard.type(zh)
    tab.fill("#cf-b-title-en", en)


def drag(tab: Any, handle: Any, target: Any) -> None:
    """Press the handle, move in small steps to the target's middle, release (what a person's mouse does)."""
    expect(tab.locator("#cf-b-preview-status")).not_to_have_text(re.compile("…|^$"), timeout=T)  # settled
    handle.scroll_into_view_if_needed()
    start, end = handle.bounding_box(), target.bounding_box()
    tab.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    tab.mouse.down()
    tab.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
    for _ in range(3):                  # the list moves as the item passes others: follow it, as a hand would
        end = target.bounding_box()
        tab.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=4)
    tab.mouse.up()


def top_level(tab: Any) -> list[str]:
    names = tab.locator("#cf-b-tree > ol > li").evaluate_all(
        "els => els.map(e => JSON.parse(e.dataset.path)[0])")
    return list(names)


def check_ready(tab: Any) -> None:
    expect(tab.locator("#cf-b-preview-status")).to_have_text("定义检查通过", timeout=T)
    expect(tab.locator("#cf-b-save")).to_be_enabled(timeout=T)


def publish_v1(api: LiveApi) -> None:
    r = api.post("/api/v1/forms", "admin", json=V1)
    assert r.status_code == 201, r.text
    for trigger, who in (("submit", "admin"), ("review", "head"), ("approve", "boss")):
        doc = api.get("/api/v1/forms/card-loss/versions/1", "admin").json()
        r = api.post(f"/api/v1/forms/card-loss/versions/1/transitions/{trigger}", who,
                     json={"revision": doc["revision"]})
        assert r.status_code == 200, r.text


def test_an_admin_builds_v2_without_json_and_it_runs(live: LiveServer, staff: LiveApi,  # noqa: F811
                                                     page: Any) -> None:  # noqa: F811
    base = live.url
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    publish_v1(staff)
    sign_in(page, base, "admin", ADMIN_PASSWORD)
    page.goto(base + "/admin/forms")
    page.locator("a.cf-builder-link[href$='/admin/forms/card-loss/builder']").click()
    expect(page.locator("#cf-builder[data-ready='1']")).to_have_count(1, timeout=T)
    expect(page.locator("#cf-b-state")).to_have_attribute("data-state", "published")
    check_ready(page)

    # a section holding a required, sensitive ID number
    select(page, "reason")
    add(page, "section", "申请人证件", "Applicant ID")
    expect(page.locator("#cf-b-key")).to_have_value("applicant_id")
    page.locator("#cf-b-required").check()
    add(page, "id_number", "身份证号", "ID number")
    expect(item(page, "applicant_id", "id_number")).to_have_count(1)
    expect(page.locator("#cf-b-sensitive")).to_have_value('"id_number"')
    page.locator("#cf-b-required").check()
    page.locator("#cf-b-visible-clerk").check()         # seen by clerks and managers (and records staff)
    page.locator("#cf-b-visible-manager").check()
    page.fill("#cf-b-pattern-test", "11010519900101123X")
    expect(page.locator("#cf-b-pattern-result")).to_have_attribute("data-result", "match")
    page.fill("#cf-b-pattern-test", "12345")
    expect(page.locator("#cf-b-pattern-result")).to_have_attribute("data-result", "no-match")

    # a repeatable group with a field in its rows
    select(page, "reason")
    add(page, "group", "同行人", "Companions")
    page.locator("#cf-b-required").check()
    add(page, "text", "同行人姓名", "Companion name")
    expect(item(page, "companions", "companion_name")).to_have_count(1)

    # a required material, its name in both languages
    select(page, "reason")
    add(page, "attachment", "身份证复印件", "ID copy")
    page.locator("#cf-b-material").check()
    page.fill("#cf-b-material-zh", "持卡人身份证复印件")
    page.fill("#cf-b-material-en", "Copy of the cardholder's ID card")

    # a field shown only when the reason is "stolen", picked in the condition editor
    select(page, "reason")
    add(page, "text", "报案编号", "Police report number")
    show = page.locator("#cf-b-show-if")
    show.locator("[data-cf-add-row]").first.click()
    show.locator("[data-cf-field]").first.select_option(label="挂失原因")
    show.locator("[data-cf-op]").first.select_option(value="eq")
    show.locator("[data-cf-value]").first.select_option(label="被盗")
    expect(item(page, "police_report_number").locator(".cf-b-conditional")).to_have_count(1, timeout=T)
    required_if = page.locator("#cf-b-required-if")                  # and required then
    required_if.locator("[data-cf-add-row]").first.click()
    required_if.locator("[data-cf-field]").first.select_option(label="挂失原因")
    required_if.locator("[data-cf-op]").first.select_option(value="eq")
    required_if.locator("[data-cf-value]").first.select_option(label="被盗")

    # reorder without a mouse: the police report number moves up, just after the reason
    item(page, "police_report_number").locator(":scope > .cf-b-row .cf-b-select").focus()
    before = top_level(page)
    page.keyboard.press("Alt+ArrowUp")
    after = top_level(page)
    at = before.index("police_report_number")
    assert after[at - 1] == "police_report_number" and after[at] == before[at - 1]
    expect(item(page, "police_report_number").locator(":scope > .cf-b-row .cf-b-select")).to_be_focused()
    check_ready(page)

    # a missing translation is marked and counted; a definition the server refuses cannot be saved
    select(page, "id_copy")
    page.fill("#cf-b-title-en", "")
    expect(page.locator("#cf-b-title-en--missing")).to_be_visible(timeout=T)
    expect(item(page, "id_copy").locator(".cf-b-missing")).to_be_visible()
    expect(page.locator("#cf-b-missing-count")).to_have_attribute("data-count", "1")
    page.fill("#cf-b-title-en", "ID copy")
    expect(page.locator("#cf-b-missing-count")).to_have_attribute("data-count", "0", timeout=T)
    page.locator("#cf-b-tab-form").click()
    page.fill("#cf-b-form-title-en", "")
    expect(page.locator("#cf-b-save")).to_be_disabled(timeout=T)
    expect(page.locator("#cf-b-problems li").first).to_be_visible(timeout=T)
    expect(page.locator("#cf-b-panel-form .cf-b-form-problems")).to_be_visible()
    page.fill("#cf-b-form-title-en", "Report a lost card")

    # the second-level rule, picked in the settings editor
    settings = page.locator("#cf-b-settings")
    second = settings.locator("[data-cf-review]")
    second.locator("[data-cf-add-row]").first.click()
    second.locator("[data-cf-field]").first.select_option(label="挂失原因")
    second.locator("[data-cf-op]").first.select_option(value="eq")
    second.locator("[data-cf-value]").first.select_option(label="被盗")
    page.locator("#cf-b-tab-fields").click()
    check_ready(page)
    shot(page, "builder.png")
    # on a 1280-pixel laptop screen: the field list, the field editor beside it, the preview beside both
    page.set_viewport_size({"width": 1280, "height": 800})
    select(page, "police_report_number")
    tree, field = page.locator(".cf-b-tree").bounding_box(), page.locator("#cf-b-field").bounding_box()
    box = page.locator("#cf-b-preview").bounding_box()
    assert field["x"] >= tree["x"] + tree["width"] - 1, (tree, field)          # beside the list, not below it
    assert field["y"] < tree["y"] + tree["height"], (tree, field)
    assert box["x"] >= field["x"] + field["width"] - 1, (field, box)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "builder-1280x800.png"))
    page.set_viewport_size({"width": 1280, "height": 900})

    # the preview is the clerk's page: the conditional field comes and goes there too
    preview = page.locator("#cf-b-preview-form")
    expect(preview.locator("#cf-f-applicant_id-id_number")).to_be_visible()
    expect(preview.locator("#cf-f-police_report_number")).to_be_hidden()
    preview.locator("input[name=reason][value=stolen]").check()
    expect(preview.locator("#cf-f-police_report_number")).to_be_visible(timeout=T)
    # ... and its "required" marker (x-required-if) comes on with it, as counterflow.js does on the clerk's
    # page (the preview runs that very code)
    marker = preview.locator("[data-required-if] [data-cf-required-if]")
    expect(marker).to_be_visible(timeout=T)
    expect(preview.locator("#cf-f-police_report_number")).to_have_attribute("aria-required", "true")
    preview.locator("input[name=reason][value=lost]").check()
    expect(preview.locator("#cf-f-police_report_number")).to_be_hidden(timeout=T)
    expect(marker).to_be_hidden()
    expect(preview.locator("#cf-f-police_report_number")).not_to_have_attribute("aria-required", "true")
    shot(page, "preview.png")

    # try it: every message a clerk would get, at once
    page.locator("#cf-b-try").click()
    gaps = page.locator("#cf-b-gaps li")
    expect(gaps.first).to_be_visible(timeout=T)
    paths = set(gaps.evaluate_all("els => els.map(e => e.dataset.path)"))
    assert {"/applicant_name", "/applicant_id", "/companions", "/id_copy"} <= paths, paths
    codes = gaps.evaluate_all("els => els.map(e => e.dataset.code)")
    assert "material_missing" in codes
    expect(preview.locator(".cf-field--error").first).to_be_visible()
    shot(page, "try-it.png")
    # a file picked in the preview counts as the material handed in; the name typed is kept across checks
    preview.locator("#cf-f-id_copy").set_input_files(PDF)
    page.fill("#cf-f-applicant_name", "张三")
    page.locator("#cf-b-try").click()
    expect(gaps.filter(has_text="持卡人身份证复印件")).to_have_count(0, timeout=T)
    expect(page.locator("#cf-b-gaps li[data-path='/applicant_name']")).to_have_count(0)
    expect(preview.locator("#cf-f-applicant_name")).to_have_value("张三")
    expect(page.locator("#cf-b-gaps li[data-path='/police_report_number']")).to_have_count(0)
    preview.locator("input[name=reason][value=stolen]").check()     # now the report number is required
    page.locator("#cf-b-try").click()
    expect(page.locator("#cf-b-gaps li[data-path='/police_report_number']")).to_have_count(1, timeout=T)

    # save: a new draft version 2; then the approval step the server offers
    page.locator("#cf-b-save").click()
    expect(page.locator("#cf-b-state")).to_have_attribute("data-state", "draft", timeout=T)
    expect(page.locator("#cf-b-status")).to_contain_text("2")
    saved = live.app.extensions["counterflow"].store.form_version("card-loss", 2)
    props = saved["schema"]["properties"]
    assert props["applicant_id"]["properties"]["id_number"]["x-sensitive"] == "id_number"
    assert props["applicant_id"]["required"] == ["id_number"]
    assert props["applicant_id"]["properties"]["id_number"]["x-visible-to"] == ["clerk", "manager"]
    assert props["companions"]["type"] == "array"
    assert "companion_name" in props["companions"]["items"]["properties"]
    assert props["id_copy"]["x-material"] == {"title": {"zh-CN": "持卡人身份证复印件",
                                                        "en": "Copy of the cardholder's ID card"}}
    assert props["police_report_number"]["x-show-if"] == {"==": [{"var": "reason"}, "stolen"]}
    assert props["police_report_number"]["x-required-if"] == {"==": [{"var": "reason"}, "stolen"]}
    assert saved["settings"]["review"]["second_level_if"] == {"==": [{"var": "reason"}, "stolen"]}
    assert {"applicant_id", "companions"} <= set(saved["schema"]["required"])
    page.locator("#cf-b-actions button").first.click()
    expect(page.locator("#cf-b-state")).to_have_attribute("data-state", "pending_review", timeout=T)
    expect(page.locator("#cf-b-save")).to_be_disabled()
    sign_out(page)

    # the department head reads what changed since v1 and reviews; the manager approves
    sign_in(page, base, "head")
    page.goto(base + "/admin/forms/card-loss/versions/2")
    differences = page.locator("#cf-differences")
    expect(differences).to_be_visible(timeout=T)
    added = differences.locator("li[data-kind=added]").evaluate_all("els => els.map(e => e.dataset.path)")
    assert any("applicant_id" in p for p in added), added
    assert any("police_report_number" in p for p in added), added
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot(page, "differences.png")
    fire(page, "review")
    expect(page.locator("#cf-form-state")).to_have_attribute("data-state", "pending_approval", timeout=T)
    sign_out(page)
    sign_in(page, base, "boss")
    page.goto(base + "/admin/forms/card-loss/versions/2")
    fire(page, "approve")
    expect(page.locator("#cf-form-state")).to_have_attribute("data-state", "published", timeout=T)
    sign_out(page)

    # a clerk fills v2: the police report number appears only while the reason is "stolen"
    sign_in(page, base, "clerk")
    page.goto(base + "/forms/card-loss/new")
    expect(page.locator("#cf-f-police_report_number")).to_be_hidden(timeout=T)
    page.locator("input[name=reason][value=stolen]").check()
    expect(page.locator("#cf-f-police_report_number")).to_be_visible(timeout=T)
    page.locator("input[name=reason][value=lost]").check()
    expect(page.locator("#cf-f-police_report_number")).to_be_hidden(timeout=T)
    page.locator("input[name=reason][value=stolen]").check()
    page.fill("#cf-f-police_report_number", "京公110-2026-0001")
    page.fill("#cf-f-applicant_name", "张三")
    page.fill("#cf-f-applicant_id-id_number", "110105199001011234")
    rows = page.locator("[data-cf-rows='/companions'] [data-cf-row]")
    if rows.count() == 0:
        page.locator("button[name=_add_row][value='/companions']").click()
    page.fill("#cf-f-companions-0-companion_name", "李四")
    page.set_input_files("#cf-f-id_copy", PDF)
    page.locator("button[name=_action][value=accept]").click()
    expect(page).to_have_url(re.compile(r"/records/[^/]+/receipt$"), timeout=T)
    record_id = re.search(r"/records/([^/]+)/receipt$", page.url).group(1)  # type: ignore[union-attr]
    stored = stored_record(live.app, record_id)
    assert stored["form_version"] == 2
    assert stored["data"]["applicant_id"]["id_number"] == "110105199001011234"
    assert stored["data"]["police_report_number"] == "京公110-2026-0001"

    # the record page draws the process with the state it is in highlighted
    page.goto(f"{base}/records/{record_id}")
    diagram = page.locator("#cf-record-diagram")
    expect(diagram).to_be_visible(timeout=T)
    expect(diagram.locator("g.current")).to_have_count(1)
    shot(page, "record-diagram.png")
    assert errors == []


def test_drag_and_drop_buttons_duplicate_and_remove(live: LiveServer, staff: LiveApi,  # noqa: F811
                                                    page: Any) -> None:  # noqa: F811
    """The tree's other moves: drag a field into a section, the buttons, duplicate, remove; then the JSON tab
    and the import refuse what is not a definition without losing the model."""
    sign_in(page, live.url, "admin", ADMIN_PASSWORD)
    page.goto(live.url + "/admin/forms/builder?lang=en")          # the builder in English, this time
    expect(page.locator("#cf-builder[data-ready='1']")).to_have_count(1, timeout=T)
    expect(page.locator("#cf-b-palette button[data-kind=group]")).to_have_text("Repeatable group")
    add(page, "text", "甲", "Alpha")
    add(page, "section", "分组", "Box")
    select(page, "alpha")
    add(page, "integer", "乙", "Beta")
    order = top_level(page)
    assert order == ["alpha", "beta", "box"]
    # drag beta by its handle into the section's list
    handle = item(page, "beta").locator(":scope > .cf-b-row .cf-b-handle")
    target = item(page, "box").locator(":scope > ol.cf-b-list")
    assert page.evaluate("typeof window.Sortable") == "function"
    drag(page, handle, target)
    expect(item(page, "box", "beta")).to_have_count(1, timeout=T)
    # the button takes it out again, after the section
    item(page, "box", "beta").locator(":scope > .cf-b-row .cf-b-out").click()
    expect(item(page, "beta")).to_have_count(1, timeout=T)
    item(page, "beta").locator(":scope > .cf-b-row .cf-b-up").click()
    item(page, "alpha").locator(":scope > .cf-b-row .cf-b-duplicate").click()
    expect(item(page, "alpha_copy")).to_have_count(1, timeout=T)
    item(page, "alpha_copy").locator(":scope > .cf-b-row .cf-b-remove").click()
    expect(item(page, "alpha_copy")).to_have_count(0, timeout=T)
    page.locator("#cf-b-undo").click()                              # removed by mistake: back, as it was
    expect(item(page, "alpha_copy")).to_have_count(1, timeout=T)
    item(page, "alpha_copy").locator(":scope > .cf-b-row .cf-b-select").focus()
    page.keyboard.press("Delete")
    expect(item(page, "alpha_copy")).to_have_count(0, timeout=T)
    # the key is checked before it is taken
    select(page, "alpha")
    page.fill("#cf-b-key", "a.b")
    page.keyboard.press("Enter")
    expect(page.locator("#cf-b-key--error")).to_be_visible()
    expect(item(page, "alpha")).to_have_count(1)
    page.fill("#cf-b-key", "beta")
    page.keyboard.press("Enter")
    expect(page.locator("#cf-b-key--error")).to_be_visible()
    page.fill("#cf-b-key", "first")
    page.keyboard.press("Enter")
    expect(item(page, "first")).to_have_count(1, timeout=T)
    # the raw JSON tab shows the same definition; a list instead of an object is refused, nothing lost
    page.locator("#cf-b-tab-json").click()
    shown = json.loads(page.locator("#cf-b-json").input_value())
    assert list(shown["schema"]["properties"]) == ["first", "beta", "box"]
    page.fill("#cf-b-json", "[1, 2]")
    page.locator("#cf-b-json-apply").click()
    expect(page.locator("#cf-b-json-error")).to_be_visible()
    page.locator("#cf-b-tab-fields").click()
    expect(item(page, "first")).to_have_count(1)
    # what the server refuses, written in the JSON tab, is shown next to its field and blocks saving
    page.locator("#cf-b-tab-json").click()
    shown["schema"]["properties"]["first"]["pattern"] = "([unclosed"
    page.fill("#cf-b-json", json.dumps(shown))
    page.locator("#cf-b-json-apply").click()
    page.locator("#cf-b-tab-fields").click()
    expect(item(page, "first").locator(":scope > .cf-b-row .cf-b-problem")).to_be_visible(timeout=T)
    expect(page.locator("#cf-b-problems li[data-path='/schema/properties/first/pattern']")).to_have_count(1)
    expect(page.locator("#cf-b-save")).to_be_disabled()
    select(page, "first")
    expect(page.locator("#cf-b-field .cf-b-field-problems li")).to_have_count(1)
    shot(page, "builder-en.png")
    # fixed in the field editor; the form titled in both languages (its key follows the English): saved as v1
    page.fill("#cf-b-pattern", "")
    expect(item(page, "first").locator(":scope > .cf-b-row .cf-b-problem")).to_be_hidden(timeout=T)
    page.locator("#cf-b-tab-form").click()
    page.fill("#cf-b-form-title-zh", "练习表")
    page.fill("#cf-b-form-title-en", "Practice form")
    expect(page.locator("#cf-b-form-key")).to_have_value("practice-form")
    expect(page.locator("#cf-b-save")).to_be_enabled(timeout=T)
    page.locator("#cf-b-save").click()
    expect(page.locator("#cf-b-state")).to_have_attribute("data-state", "draft", timeout=T)
    expect(page).to_have_url(re.compile(r"/admin/forms/practice-form/builder$"))
    stored = live.app.extensions["counterflow"].store.form_version("practice-form", 1)
    assert list(stored["schema"]["properties"]) == ["first", "beta", "box"]
    assert "pattern" not in stored["schema"]["properties"]["first"]

    # the model, run in the page: a move or a rename carries the field's required flag, its ui entry and its
    # place in ui:order (a "*" kept), and conditions naming it follow it; keys it does not know stay
    result = page.evaluate("""async () => {
      const { Model } = await import("/cf-static/builder/model.js");
      const m = new Model({ key: "x", "x-unknown": 1, schema: { type: "object", required: ["a"],
          properties: { a: { type: "string", "x-odd": [1] },
                        b: { type: "string", "x-show-if": { "==": [{ var: "a" }, "y"] } },
                        box: { type: "object", properties: {} } } },
        ui_schema: { "ui:order": ["b", "a", "*"], a: { "ui:widget": "textarea" } },
        settings: { review: { second_level_if: { "!!": [{ var: ["a", ""] }] } } } });
      const moved = m.move(["a"], ["box"], 0);
      const renamed = m.rename(moved, "c");
      return { def: m.def, renamed };
    }""")
    d = result["def"]
    assert result["renamed"] == ["box", "c"]
    assert d["x-unknown"] == 1
    assert d["schema"]["properties"]["box"]["properties"]["c"] == {"type": "string", "x-odd": [1]}
    assert d["schema"]["properties"]["box"]["required"] == ["c"] and "required" not in d["schema"]
    assert d["ui_schema"] == {"ui:order": ["b", "*"], "box": {"c": {"ui:widget": "textarea"}}}
    assert d["schema"]["properties"]["b"]["x-show-if"] == {"==": [{"var": "box.c"}, "y"]}
    assert d["settings"]["review"]["second_level_if"] == {"!!": [{"var": ["box.c", ""]}]}

    # a field named "__proto__" is a field like any other (never an object's prototype)
    odd = page.evaluate("""async () => {
      const { Model } = await import("/cf-static/builder/model.js");
      const m = new Model(JSON.parse('{"schema": {"type": "object", "properties": '
        + '{"__proto__": {"type": "string"}, "b": {"type": "string"}}}, '
        + '"ui_schema": {"__proto__": {"ui:widget": "textarea"}}}'));
      const kind = m.kind(["__proto__"]);
      m.move(["__proto__"], [], 1);
      return { kind, def: JSON.stringify(m.def) };
    }""")
    assert odd["kind"] == "textarea"
    string = {"type": "string"}
    expected = {"schema": {"type": "object", "properties": {"b": string, "__proto__": string}},
                "ui_schema": {"__proto__": {"ui:widget": "textarea"}}}
    assert json.loads(odd["def"]) == expected
    assert list(json.loads(odd["def"])["schema"]["properties"]) == ["b", "__proto__"]

    # a template from the gallery opens as a new form's start, under a key no form has
    page.goto(live.url + "/admin/forms/builder?template=account-change&lang=zh-CN")
    expect(item(page, "new_details", "new_phone")).to_have_count(1, timeout=T)
    # a date field offers the date comparisons (is after / is before) in the condition editors
    select(page, "reason")
    show = page.locator("#cf-b-show-if")
    show.locator("[data-cf-add-row]").first.click()
    show.locator("[data-cf-field]").first.select_option(label="申请日期")
    ops = show.locator("[data-cf-op]").first
    expect(ops.locator("option[value=gt]")).to_have_text("晚于", timeout=T)
    expect(ops.locator("option[value=lt]")).to_have_text("早于")
    # the key the gallery suggested (free: no form has it) is kept as it is, also when the title changes
    suggested = page.request.get(live.url + "/admin/forms/templates/account-change.json").json()["key"]
    assert suggested == "account-change-2", suggested
    page.locator("#cf-b-tab-form").click()
    expect(page.locator("#cf-b-form-key")).to_have_value(suggested, timeout=T)
    page.fill("#cf-b-form-title-en", "Change account details (branch)")
    expect(page.locator("#cf-b-form-key")).to_have_value(suggested)
    page.locator("#cf-b-tab-json").click()
    assert json.loads(page.locator("#cf-b-json").input_value())["key"] == suggested

    # removing a field that conditions elsewhere name: the admin is told which, and may remove them too
    page.locator("#cf-b-tab-fields").click()
    check_ready(page)
    item(page, "changed_items").locator(":scope > .cf-b-row .cf-b-remove").click()
    naming = page.locator("#cf-b-naming li")
    expect(naming.first).to_be_visible(timeout=T)
    places = naming.evaluate_all("els => els.map(e => e.dataset.path)")
    assert places == ['["amount"]', '["amount"]', '["name_change_proof"]', '["name_change_proof"]'], places
    expect(naming.filter(has_text="姓名变更证明")).to_have_count(2)          # x-show-if, and ui:options show_if
    # left as they are, the conditions name nothing: shown next to the condition's field, and Save is blocked
    holder = item(page, "name_change_proof")
    expect(holder.locator(":scope > .cf-b-row .cf-b-problem")).to_be_visible(timeout=T)
    expect(page.locator("#cf-b-save")).to_be_disabled()
    select(page, "name_change_proof")
    expect(page.locator("#cf-b-field .cf-b-field-problems li").first).to_contain_text("changed_items")
    page.locator("#cf-b-undo").click()                           # Undo: the field and its conditions back
    expect(item(page, "changed_items")).to_have_count(1, timeout=T)
    check_ready(page)
    expect(holder.locator(":scope > .cf-b-row .cf-b-problem")).to_be_hidden()
    item(page, "changed_items").locator(":scope > .cf-b-row .cf-b-remove").click()
    page.locator("#cf-b-drop-conditions").click()                # this time the conditions go with it
    check_ready(page)
    page.locator("#cf-b-tab-json").click()
    now = json.loads(page.locator("#cf-b-json").input_value())
    named = re.findall(r'\{"var": ?\[?"([^"]*)"', json.dumps(now, ensure_ascii=False))
    assert "changed_items" not in named and "amount" in named, named   # only the rules naming it went
    assert "x-show-if" not in now["schema"]["properties"]["name_change_proof"]
    assert now["settings"]["review"]["second_level_if"] == {">": [{"var": "amount"}, 50000]}  # not about it
