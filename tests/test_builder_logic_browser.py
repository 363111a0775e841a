"""The builder's condition and settings editors (static/builder/logic.js, settings.js) in Chromium.

The editors are mounted on a tiny page this test serves itself; an admin builds rules by picking (one of
them with the keyboard alone) and the JSON Logic they produce is asserted, and checked by the server's
definition check (forms/conditions.py) and evaluated by it the same way the browser does.
"""
from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any, Iterator

import pytest

from counterflow.forms.conditions import condition_problems, holds

playwright_sync = pytest.importorskip("playwright.sync_api")
from conftest import ADMIN_PASSWORD  # noqa: E402
from test_browser import (ARGS, ARTIFACTS, CHROMIUM, T, LiveApi, LiveServer, live,  # noqa: E402,F401
                          sign_in, staff)

expect = playwright_sync.expect
pytestmark = pytest.mark.browser

STATIC = resources.files("counterflow.static")
ORIGIN = "http://cf.test"
SHOTS = ARTIFACTS / "builder-logic"

FIELDS = [
    {"var": "reason", "pointer": "/reason", "title": {"zh-CN": "申请原因", "en": "Reason"}, "type": "string",
     "enum": ["lost", "stolen", "damaged"],
     "enumTitles": {"zh-CN": ["遗失", "挂失", "损坏"], "en": ["Lost", "Stolen", "Damaged"]}},
    {"var": "by_agent", "pointer": "/by_agent", "title": {"zh-CN": "是否代办", "en": "By an agent"},
     "type": "boolean"},
    {"var": "changed_items", "pointer": "/changed_items", "title": {"zh-CN": "变更事项", "en": "Changes"},
     "type": "array", "enum": ["name", "phone"],
     "enumTitles": {"zh-CN": ["姓名", "电话"], "en": ["Name", "Phone"]}},
    {"var": "amount", "pointer": "/amount", "title": {"zh-CN": "金额", "en": "Amount"}, "type": "number"},
    {"var": "applicant.name", "pointer": "/applicant/name", "title": {"zh-CN": "姓名", "en": "Name"},
     "type": "string"},
    {"var": "signed_on", "pointer": "/signed_on", "title": {"zh-CN": "签署日期", "en": "Signed on"},
     "type": "string", "format": "date"},
]

PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>logic</title>
<link rel="stylesheet" href="/cf-static/counterflow.css">
<script src="/cf-static/vendor/json-logic-js/logic.js"></script>
<body class="cf"><main id="mount"></main>
<script type="module">
import * as logic from "/cf-static/builder/logic.js";
window.logic = logic;
window.changes = [];
window.mount = (options) => {
  const holder = document.getElementById("mount");
  const editor = logic.conditionEditor({...options, onChange: (rule) => window.changes.push(rule)});
  holder.replaceChildren(editor);
  window.changes = [];
  return true;
};
window.ready = true;
</script></body></html>"""


def _serve(route: Any) -> None:
    url = route.request.url
    if "/cf-static/" in url:
        path = url.split("/cf-static/", 1)[1].split("?", 1)[0]
        kind = "text/css" if path.endswith(".css") else "text/javascript"
        route.fulfill(status=200, content_type=kind, body=STATIC.joinpath(path).read_bytes())
    else:
        route.fulfill(status=200, content_type="text/html", body=PAGE)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 800})
    context.set_default_timeout(T)
    context.route(f"{ORIGIN}/**", _serve)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(ORIGIN + "/")
    page.wait_for_function("() => window.ready === true")
    yield page
    assert errors == []
    context.close()


def mount(page: Any, value: Any = None, lang: str = "zh-CN", label: str = "显示条件") -> None:
    page.evaluate("([fields, value, lang, label]) => window.mount({fields, value, lang, label})",
                  [FIELDS, value, lang, label])


def last_rule(page: Any) -> Any:
    changes = page.evaluate("() => window.changes")
    assert changes, "the editor reported no change"
    return changes[-1]


def accepted(rule: Any) -> Any:
    """The rule passes the server's definition check."""
    assert condition_problems(rule) == [], rule
    return rule


def test_a_rule_built_by_picking_is_json_logic_the_server_accepts(page: Any) -> None:
    mount(page)
    editor = page.locator(".cf-cond")
    expect(editor.locator("legend").first).to_have_text("显示条件")
    expect(editor.locator(".cf-cond-none")).to_be_visible()
    editor.get_by_role("button", name="添加条件", exact=True).click()
    row = editor.locator("[data-cf-row]").first
    # the first field, "equals", its first option: already a whole rule
    assert last_rule(page) == {"==": [{"var": "reason"}, "lost"]}
    row.get_by_label("值", exact=True).select_option(label="挂失")
    assert accepted(last_rule(page)) == {"==": [{"var": "reason"}, "stolen"]}
    # is one of: options picked as checkboxes
    row.get_by_label("条件", exact=True).select_option(label="是以下之一")
    row.get_by_label("挂失", exact=True).check()
    row.get_by_label("损坏", exact=True).check()
    assert accepted(last_rule(page)) == {"in": [{"var": "reason"}, ["stolen", "damaged"]]}
    # a second row: the rows are joined by "and", then switched to "or"
    editor.locator(".cf-cond-body > .cf-cond-actions").get_by_role("button", name="添加条件", exact=True).click()
    second = editor.locator("[data-cf-row]").nth(1)
    second.get_by_label("字段", exact=True).select_option(label="金额")
    expect(second.get_by_label("条件", exact=True)).to_have_value("eq")
    options = second.get_by_label("条件", exact=True).locator("option").all_text_contents()
    assert options == ["等于", "不等于", "是以下之一", "大于", "大于或等于", "小于", "小于或等于", "已填写", "未填写"]
    second.get_by_label("条件", exact=True).select_option(label="大于")
    second.get_by_label("值", exact=True).fill("50000")
    assert accepted(last_rule(page)) == {"and": [{"in": [{"var": "reason"}, ["stolen", "damaged"]]},
                                                 {">": [{"var": "amount"}, 50000]}]}
    editor.get_by_label("组合方式", exact=True).first.select_option(label="满足以下任一条件")
    rule = accepted(last_rule(page))
    assert rule == {"or": [{"in": [{"var": "reason"}, ["stolen", "damaged"]]},
                           {">": [{"var": "amount"}, 50000]}]}
    # a nested group: an array field "contains", and a nested text field "is filled in"
    editor.get_by_role("button", name="添加条件组", exact=True).click()
    group = editor.locator("[data-cf-group]")
    inner = group.locator("[data-cf-row]").first
    inner.get_by_label("字段", exact=True).select_option(label="变更事项")
    assert inner.get_by_label("条件", exact=True).locator("option").all_text_contents() == ["包含", "已填写", "未填写"]
    inner.get_by_label("值", exact=True).select_option(label="电话")
    group.get_by_role("button", name="添加条件", exact=True).click()
    inner2 = group.locator("[data-cf-row]").nth(1)
    inner2.get_by_label("字段", exact=True).select_option(label="姓名")
    inner2.get_by_label("条件", exact=True).select_option(label="已填写")
    rule = accepted(last_rule(page))
    assert rule == {"or": [{"in": [{"var": "reason"}, ["stolen", "damaged"]]},
                           {">": [{"var": "amount"}, 50000]},
                           {"and": [{"in": ["phone", {"var": "changed_items"}]},
                                    {"!!": {"var": "applicant.name"}}]}]}
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "condition-editor.png"), full_page=True)
    # the server evaluates what the browser built the same way
    data = {"reason": "lost", "amount": 10, "changed_items": ["phone"], "applicant": {"name": "张三"}}
    samples: list[dict[str, Any]] = [
        {"reason": "lost", "amount": 10, "changed_items": ["phone"], "applicant": {"name": "张三"}},
        {"reason": "lost", "amount": 10}, {"reason": "stolen"}, {"amount": 60000}]
    for data in samples:
        browser_says = page.evaluate("([r, d]) => jsonLogic.truthy(jsonLogic.apply(r, d))", [rule, data])
        assert browser_says is holds(rule, data), data
    # in words
    words = page.evaluate("([rule, fields]) => window.logic.describeCondition(rule, fields, 'zh-CN')",
                          [rule, FIELDS])
    assert words == ("「申请原因」是以下之一「挂失」、「损坏」，或者「金额」大于「50000」，或者"
                     "（「变更事项」包含「电话」，并且「姓名」已填写）")
    english = page.evaluate("([rule, fields]) => window.logic.describeCondition(rule, fields, 'en')",
                            [rule, FIELDS])
    assert english == ("“Reason” is one of “Stolen”, “Damaged” or “Amount” is more than “50000” or "
                       "(“Changes” contains “Phone” and “Name” is filled in)")
    # removing rows: back to a single rule, then none at all
    group.get_by_role("button", name="删除此条件组", exact=True).click()
    editor.locator("[data-cf-row]").first.get_by_role("button", name="删除此条件", exact=True).click()
    assert last_rule(page) == {">": [{"var": "amount"}, 50000]}
    editor.locator("[data-cf-row]").first.get_by_role("button", name="删除此条件", exact=True).click()
    assert last_rule(page) is None
    expect(editor.locator(".cf-cond-none")).to_be_visible()


def test_a_rule_is_built_with_the_keyboard_alone_in_english(page: Any) -> None:
    mount(page, lang="en", label="Required when")
    page.keyboard.press("Tab")                                   # "Add a condition"
    expect(page.get_by_role("button", name="Add a condition", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    field = page.get_by_label("Field", exact=True)
    expect(field).to_be_focused()                                # the new row's field has the focus
    # choose "By an agent" with the keyboard: arrow keys move a focused <select>'s choice
    for _ in range(1):
        page.keyboard.press("ArrowDown")
    expect(field).to_have_value("by_agent")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Condition", exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    value = page.get_by_label("Value", exact=True)
    expect(value).to_be_focused()
    page.keyboard.press("ArrowDown")                             # Yes -> No
    expect(value.locator("option:checked")).to_have_text("No")
    rule = accepted(last_rule(page))
    assert rule == {"==": [{"var": "by_agent"}, False]}
    assert holds(rule, {"by_agent": False}) and not holds(rule, {"by_agent": True})
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Remove this condition", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    assert last_rule(page) is None


def test_rules_open_as_rows_and_hand_written_rules_are_kept(page: Any) -> None:
    shipped = {"or": [{"==": [{"var": "by_agent"}, True]}, {"==": [{"var": "reason"}, "stolen"]}]}
    mount(page, shipped)
    editor = page.locator(".cf-cond")
    expect(editor.locator("[data-cf-row]")).to_have_count(2)
    expect(editor.locator("[data-cf-row]").nth(1).get_by_label("值", exact=True)).to_have_value("1")   # 挂失
    expect(editor.get_by_label("组合方式", exact=True)).to_have_value("or")
    assert page.evaluate("() => window.changes") == []              # opening changes nothing
    mount(page, {">=": [{"var": "signed_on"}, "2026-01-01"]})
    row = page.locator("[data-cf-row]")
    expect(row.get_by_label("条件", exact=True).locator("option:checked")).to_have_text("不早于")
    expect(row.get_by_label("值", exact=True)).to_have_attribute("type", "date")
    row.get_by_label("值", exact=True).fill("2026-05-01")
    assert accepted(last_rule(page)) == {">=": [{"var": "signed_on"}, "2026-05-01"]}
    # a rule the rows cannot show: kept as written, shown read-only with its JSON
    custom = {"some": [{"var": "changed_items"}, {"==": [{"var": ""}, "name"]}]}
    mount(page, custom)
    box = page.locator("[data-cf-custom]")
    expect(box).to_be_visible()
    assert json.loads(box.locator("pre").text_content() or "") == custom
    expect(page.locator("[data-cf-row]")).to_have_count(0)
    assert page.evaluate("() => window.changes") == []
    assert "some" in page.evaluate("([r, f]) => window.logic.describeCondition(r, f, 'en')", [custom, FIELDS])
    page.get_by_role("button", name="删除此条件并重新设置", exact=True).click()
    assert last_rule(page) is None
    expect(page.get_by_role("button", name="添加条件", exact=True)).to_be_focused()
    # a value typed as text for a number field, an unknown field: kept, not rewritten
    for rule in ({"==": [{"var": "amount"}, "5"]}, {"==": [{"var": "nowhere"}, 1]}):
        mount(page, rule)
        expect(page.locator("[data-cf-custom]")).to_be_visible()
    # definition text reaches the page as text, never as markup
    hostile = [{**FIELDS[0], "title": {"zh-CN": "<img src=x onerror=alert(1)>", "en": "x"}}]
    page.evaluate("([fields]) => window.mount({fields, value: {'==': [{var: 'reason'}, 'lost']}})", [hostile])
    expect(page.locator("#mount img")).to_have_count(0)
    expect(page.get_by_label("字段", exact=True).locator("option")).to_have_text("<img src=x onerror=alert(1)>")


# ---- the settings editor, against the real numbering preview -------------------------------------------

SETTINGS: dict[str, Any] = {
    "processes": ["intake", "review", "archive", "destroy"],
    "numbering": "ACC-{yyyy}{mm}{dd}-{seq:05d}",
    "time_limit": {"working_days": 5},
    "retention": {"years": 5, "from": "archived"},
    "review": {"second_level_if": {">": [{"var": "amount"}, 50000]}},
    "purpose": {"zh-CN": "核实身份", "en": "To verify the applicant"},
    "contact": {"zh-CN": "窗口电话 12345", "en": "Counter phone 12345"},     # a key the editor does not know
}

MOUNT_SETTINGS = """async ([settings, fields, processes]) => {
  const {settingsEditor} = await import("/cf-static/builder/settings.js");
  window.settingsChanges = [];
  const editor = settingsEditor({settings, fields, processes, lang: "zh-CN",
                                 onChange: (s) => window.settingsChanges.push(s)});
  const main = document.querySelector("main");
  main.replaceChildren(editor);
  return true;
}"""


def last_settings(page: Any) -> Any:
    changes = page.evaluate("() => window.settingsChanges")
    assert changes, "the settings editor reported no change"
    return changes[-1]


def test_the_settings_editor_previews_numbers_and_keeps_what_it_does_not_know(
        live: LiveServer, staff: LiveApi, browser: Any) -> None:  # noqa: F811
    import datetime as dt
    from zoneinfo import ZoneInfo

    from counterflow.forms.check import check_form_definition
    from forms import permit

    service = live.app.extensions["counterflow"].service
    processes = [{"key": w.key, "title": w.definition.get("title")} for w in service.record_workflows()]
    context = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 900})
    context.set_default_timeout(T)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        sign_in(page, live.url, "admin", ADMIN_PASSWORD)
        # the gallery: the shipped counter forms, one copied into the builder
        page.goto(live.url + "/admin/forms")
        page.locator("#cf-gallery-link").click()
        expect(page.locator("[data-template]")).to_have_count(4)
        page.locator("[data-template=complaint] summary").click()        # the read-only preview opens
        expect(page.locator("[data-template=complaint] .cf-view")).to_be_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "template-gallery.png"), full_page=True)
        page.get_by_role("link", name="复制并修改：账户信息变更申请").click()
        expect(page).to_have_url(re.compile(r"/admin/forms/builder\?template=account-change$"))
        expect(page.locator("#cf-builder[data-ready='1']")).to_have_count(1)
        expect(page.locator("#cf-b-form-title-zh")).to_have_value("账户信息变更申请")

        page.goto(live.url + "/admin/forms/templates")          # any admin page: its session and CSRF token
        page.evaluate(MOUNT_SETTINGS, [SETTINGS, FIELDS, processes])
        numbers = page.locator("[data-cf-numbers]")
        day = dt.datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
        expect(numbers.locator("li")).to_have_text([f"ACC-{day}-0000{n}" for n in (1, 2, 3)])
        assert page.evaluate("() => window.settingsChanges") == []          # opening changes nothing

        pattern = page.get_by_label("受理编号规则")
        pattern.fill("ACC-{foo}-{seq}")
        expect(numbers.locator(".cf-error li")).to_have_text(
            "未知的标记「{foo}」：可用 {yyyy}、{yy}、{mm}、{dd}、{seq} 或 {seq:0Nd}")
        expect(pattern).to_have_attribute("aria-invalid", "true")
        pattern.fill("BL-{yyyy}{mm}-{seq:03d}")
        expect(numbers.locator("li")).to_have_text([f"BL-{day[:6]}-00{n}" for n in (1, 2, 3)])
        expect(pattern).not_to_have_attribute("aria-invalid", "true")

        page.get_by_label("办理时限（工作日，1–365）").fill("7")
        page.get_by_label("保存期限（年，5–100，自归档起算）").fill("10")
        # the processes' order, by keyboard: "move down" on review, then back up
        down = page.get_by_role("button", name="下移: 审核 (review)")
        down.focus()
        page.keyboard.press("Enter")
        assert last_settings(page)["processes"] == ["intake", "archive", "review", "destroy"]
        expect(page.get_by_role("button", name="下移: 审核 (review)")).to_be_focused()
        page.get_by_role("button", name="上移: 审核 (review)").click()
        page.get_by_label("销毁 (destroy)", exact=True).uncheck()
        assert last_settings(page)["processes"] == ["intake", "review", "archive"]
        page.get_by_label("销毁 (destroy)", exact=True).check()
        # the second-level rule, built by picking
        review = page.locator("[data-cf-review]")
        review.get_by_label("值", exact=True).fill("1000")
        page.get_by_label("收集目的（英文）").fill("To verify who applies")
        settings = last_settings(page)
        assert settings == {
            "processes": ["intake", "review", "archive", "destroy"], "numbering": "BL-{yyyy}{mm}-{seq:03d}",
            "time_limit": {"working_days": 7}, "retention": {"years": 10, "from": "archived"},
            "review": {"second_level_if": {">": [{"var": "amount"}, 1000]}},
            "purpose": {"zh-CN": "核实身份", "en": "To verify who applies"},
            "contact": SETTINGS["contact"]}
        definition = permit()
        definition["settings"] = {k: v for k, v in settings.items() if k != "contact"}
        assert check_form_definition(definition, "f.json") == []
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "settings-editor.png"), full_page=True)
        # removing the rule removes the review section; clearing the retention drops the optional key
        review.get_by_role("button", name="删除此条件", exact=True).click()
        page.get_by_label("保存期限（年，5–100，自归档起算）").fill("")
        settings = last_settings(page)
        assert "review" not in settings and "retention" not in settings
        assert errors == []
    finally:
        context.close()
