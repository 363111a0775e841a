"""`x-required-if` on the clerk's page in Chromium: the "required" marker and aria-required follow the rule
as the clerk types, and on every step the page and the server's completeness check agree on which fields
are required and missing.
"""
from __future__ import annotations

import re
from typing import Any, Iterator

import pytest

from counterflow.forms.validate import FormValidator
from forms import permit, publish

playwright_sync = pytest.importorskip("playwright.sync_api")
from test_browser import (ARGS, ARTIFACTS, CHROMIUM, T, LiveApi, LiveServer, live,  # noqa: E402,F401
                          record_id_of, sign_in, staff, stored_record)

expect = playwright_sync.expect
pytestmark = pytest.mark.browser

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "by_agent": {"type": "boolean", "title": "是否代办"},
        "agent_name": {"type": "string", "title": "代办人姓名",
                       "x-required-if": {"==": [{"var": "by_agent"}, True]}},
        "amount": {"type": "integer", "title": "金额"},
        "note": {"type": "string", "title": "说明", "x-show-if": {">": [{"var": "amount"}, 100]},
                 "x-required-if": {">": [{"var": "amount"}, 1000]}},
        "kind": {"type": "string", "title": "类别", "enum": ["a", "b", "c"],
                 "x-required-if": {"!!": {"var": "amount"}}},
        "children": {"type": "array", "title": "子女", "items": {
            "type": "object", "properties": {
                "name": {"type": "string", "title": "姓名"},
                "school": {"type": "string", "title": "学校",
                           "x-required-if": {"!!": {"var": "by_agent"}}}}}},
    },
}
FIELDS = {"/agent_name": "#cf-f-agent_name", "/note": "#cf-f-note", "/kind": "#cf-f-kind--group",
          "/children/0/school": "#cf-f-children-0-school"}

# what the page thinks: (pointer, marked required, its control's aria-required) for each conditional field
PAGE_STATE = """(fields) => {
  const out = {};
  for (const [pointer, selector] of Object.entries(fields)) {
    const control = document.querySelector(selector);
    const wrapper = control.closest("[data-required-if]");
    const mark = wrapper.querySelector("[data-cf-required-if]");
    const shown = !wrapper.closest("[hidden]");
    out[pointer] = {marked: shown && !mark.hidden, aria: control.getAttribute("aria-required") === "true"};
  }
  return out;
}"""
FORM_DATA = """async () => {
  const cf = await import("/cf-static/counterflow.js");
  return cf.formData(document.querySelector("main form.cf-form"));
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def agree(page: Any, validator: FormValidator) -> dict[str, bool]:
    """The page's required markers are what the server's completeness check decides on the data the
    page would post: each conditional field is marked exactly when the server would call it missing
    were it left empty (these fields are empty here)."""
    state = page.evaluate(PAGE_STATE, FIELDS)
    data = page.evaluate(FORM_DATA)
    missing = {p.path for p in validator.check_complete(data, "zh-CN") if p.code == "required"}
    for pointer, seen in state.items():
        assert seen["marked"] == (pointer in missing), (pointer, seen, data, missing)
        assert seen["aria"] == seen["marked"], (pointer, seen)
    return {pointer: seen["marked"] for pointer, seen in state.items()}


def test_the_page_and_the_server_agree_on_what_is_required(live: LiveServer, staff: LiveApi,  # noqa: F811
                                                           browser: Any) -> None:
    definition = permit(key="required-if-demo", title={"zh-CN": "条件必填", "en": "Required when"})
    definition["schema"] = SCHEMA
    definition["ui_schema"] = {"ui:order": ["by_agent", "agent_name", "amount", "note", "kind", "children"]}
    publish(staff, definition)
    validator = FormValidator(SCHEMA)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 900})
    context.set_default_timeout(T)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        sign_in(page, live.url, "clerk")
        page.goto(live.url + "/forms/required-if-demo/new")
        expect(page.locator("#cf-f-agent_name")).to_be_visible()
        none = {"/agent_name": False, "/note": False, "/kind": False, "/children/0/school": False}
        assert agree(page, validator) == none

        page.check("#cf-f-by_agent")
        mark = page.locator(".cf-field:has(#cf-f-agent_name) [data-cf-required-if]")
        expect(mark).to_be_visible()
        expect(page.locator("#cf-f-agent_name")).to_have_attribute("aria-required", "true")
        # the blank row of the list is not posted: nothing in it is required until something is typed
        assert agree(page, validator) == {**none, "/agent_name": True}
        page.fill("#cf-f-children-0-name", "小明")
        assert agree(page, validator) == {**none, "/agent_name": True, "/children/0/school": True}

        page.fill("#cf-f-amount", "500")                 # the note is shown, not yet required
        expect(page.locator("#cf-f-note")).to_be_visible()
        assert agree(page, validator) == {**none, "/agent_name": True, "/children/0/school": True,
                                          "/kind": True}
        page.fill("#cf-f-amount", "5000")                # now it is
        expect(page.locator(".cf-field:has(#cf-f-note) [data-cf-required-if]")).to_be_visible()
        assert agree(page, validator) == {"/agent_name": True, "/note": True, "/kind": True,
                                          "/children/0/school": True}
        ARTIFACTS.joinpath("required-if").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "required-if" / "clerk-page.png"), full_page=True)

        page.fill("#cf-f-amount", "50")                  # hidden again: never required
        expect(page.locator("#cf-f-note")).to_be_hidden()
        page.uncheck("#cf-f-by_agent")
        expect(mark).to_be_hidden()
        expect(page.locator("#cf-f-agent_name")).not_to_have_attribute("aria-required", "true")
        assert agree(page, validator) == {**none, "/kind": True}

        page.check("#cf-f-by_agent")
        # saved: the server's warnings are the fields the page marks, and the page it renders marks them too
        page.locator("button[name=_action][value=save]").click()
        expect(page).to_have_url(re.compile(r"/records/[^/]+\?saved=1$"))
        data = stored_record(live.app, record_id_of(page))["data"]
        assert data == {"by_agent": True, "amount": 50, "children": [{"name": "小明"}]}
        after = agree(page, validator)
        assert after == {**none, "/agent_name": True, "/kind": True, "/children/0/school": True}
        assert errors == []
    finally:
        context.close()
