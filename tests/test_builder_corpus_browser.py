"""Every object-rooted react-jsonschema-form playground sample opens in the form builder and saves back
equal: pasted into the builder's import in Chromium, exported as a download, the same JSON (ui_schema
included). The builder keeps every keyword it does not edit; one edit in the builder touches only its
own key."""
from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from conftest import ADMIN_PASSWORD
from test_corpus import OBJECT_ROOTED, SAMPLES, as_definition, load

playwright_sync = pytest.importorskip("playwright.sync_api")
from test_browser import ARGS, CHROMIUM, T, LiveServer, sign_in  # noqa: E402

expect = playwright_sync.expect
pytestmark = [pytest.mark.browser, pytest.mark.skipif(not SAMPLES, reason="no corpus")]
ROOTED = [p for p in SAMPLES if load(p)["schema"].get("type") == "object"]


@pytest.fixture(scope="module")
def served(module_app: Any, module_staff: Any) -> Iterator[LiveServer]:
    server = LiveServer(module_app)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def builder(served: LiveServer) -> Iterator[Any]:
    """One signed-in admin page on the builder, for the whole module (Chromium is slow on shared cores)."""
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900},
                                      accept_downloads=True)
        context.set_default_timeout(T)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(page, served.url, "admin", ADMIN_PASSWORD)
        page.goto(served.url + "/admin/forms/builder")
        expect(page.locator("#cf-builder[data-ready='1']")).to_have_count(1, timeout=T)
        page.errors = errors
        yield page
        context.close()
        browser.close()


def _import(page: Any, definition: dict[str, Any]) -> None:
    page.locator("#cf-b-tab-import").click()
    page.fill("#cf-b-import-text", json.dumps(definition, ensure_ascii=False))
    page.locator("#cf-b-import-apply").click()
    expect(page.locator("#cf-b-import-error")).to_be_hidden(timeout=T)


def _export(page: Any) -> Any:
    with page.expect_download(timeout=T) as download:
        page.locator("#cf-b-export").click()
    path = download.value.path()
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def test_the_corpus_has_29_object_rooted_samples() -> None:
    assert len(ROOTED) == OBJECT_ROOTED == 29


@pytest.mark.parametrize("path", ROOTED, ids=[p.stem for p in ROOTED])
def test_sample_opens_and_saves_back_equal(builder: Any, path: Any) -> None:
    sample = load(path)
    definition = as_definition(path.stem, sample["schema"], sample.get("uiSchema"))
    _import(builder, definition)
    # the builder shows the sample's fields (the names at the top level), and the preview renders it
    for name in list((sample["schema"].get("properties") or {}))[:3]:
        expect(builder.locator(f"#cf-b-tree > ol > li[data-path='{json.dumps([name])}']")).to_have_count(1)
    expect(builder.locator("#cf-b-preview-status")).to_have_text("定义检查通过", timeout=T)
    assert _export(builder) == definition
    # opening the first field's editor (without changing anything) changes nothing either
    first = builder.locator("#cf-b-tree .cf-b-select").first
    if first.count():
        first.click()
        expect(builder.locator("#cf-b-key")).to_be_visible()
        assert _export(builder) == definition
    assert builder.errors == []


def test_one_edit_changes_only_its_own_key(builder: Any) -> None:
    sample = load(next(p for p in ROOTED if p.stem == "widgets"))
    definition = as_definition("widgets", sample["schema"], sample.get("uiSchema"))
    _import(builder, definition)
    builder.locator("#cf-b-tree > ol > li").first.locator(":scope > .cf-b-row .cf-b-select").click()
    builder.fill("#cf-b-title-en", "Stringy")
    exported = _export(builder)
    name = json.loads(builder.locator("#cf-b-tree > ol > li").first.get_attribute("data-path"))[0]
    expected = json.loads(json.dumps(definition))
    expected["schema"]["properties"][name]["x-title-en"] = "Stringy"
    assert exported == expected


def test_a_definition_file_imports_as_pasted_text_does(builder: Any) -> None:
    sample = load(next(p for p in ROOTED if p.stem == "nested"))
    definition = as_definition("nested", sample["schema"], sample.get("uiSchema"))
    builder.locator("#cf-b-tab-import").click()
    builder.set_input_files("#cf-b-import-file", {"name": "nested.json", "mimeType": "application/json",
                                                  "buffer": json.dumps(definition).encode()})
    expect(builder.locator("#cf-b-panel-fields")).to_be_visible(timeout=T)
    assert _export(builder) == definition
    builder.locator("#cf-b-tab-import").click()
    builder.set_input_files("#cf-b-import-file", {"name": "bad.json", "mimeType": "application/json",
                                                  "buffer": b"[1, 2]"})
    expect(builder.locator("#cf-b-import-error")).to_be_visible(timeout=T)
    assert _export(builder) == definition              # a file that is not a definition changes nothing


def _select(page: Any, name: str) -> None:
    page.locator(f"#cf-b-tree > ol > li[data-path='{json.dumps([name])}'] > .cf-b-row .cf-b-select").click()
    expect(page.locator("#cf-b-key")).to_have_value(name)


def test_choices_written_as_oneof_or_ui_enum_names_are_edited_in_their_own_shape(builder: Any) -> None:
    """Options the builder did not write (oneOf [{const, title}], ui:enumNames as a list or a map) are edited
    where they are: the edit changes that place only, never converted to enum + x-enum-titles."""
    sample = load(next(p for p in ROOTED if p.stem == "widgets"))
    definition = as_definition("widgets", sample["schema"], sample.get("uiSchema"))
    _import(builder, definition)
    _select(builder, "selectWidgetOptions2")
    options = builder.locator("#cf-b-options")
    expect(options).to_have_attribute("data-shape", "oneOf")
    expect(options.locator("li.cf-b-option")).to_have_count(2)
    expect(builder.locator("#cf-b-option-1-zh")).to_have_value("Bar")
    builder.fill("#cf-b-option-0-zh", "甲")
    builder.fill("#cf-b-option-0-en", "First")
    exported = _export(builder)
    expected = json.loads(json.dumps(definition))
    expected["schema"]["properties"]["selectWidgetOptions2"]["oneOf"][0] = {
        "const": "foo", "title": "甲", "x-title-en": "First"}
    assert exported == expected

    sample = load(next(p for p in ROOTED if p.stem == "enumObjects"))
    definition = as_definition("enumObjects", sample["schema"], sample.get("uiSchema"))
    _import(builder, definition)
    _select(builder, "rating")                                       # ui:enumNames as a map {value: label}
    expect(options).to_have_attribute("data-shape", "enumNames")
    expect(builder.locator("#cf-b-option-0-zh")).to_have_value("Terrible")
    expect(builder.locator("#cf-b-option-0-en")).to_have_count(0)   # one label per option in this shape
    builder.fill("#cf-b-option-4-zh", "Superb")
    exported = _export(builder)
    expected = json.loads(json.dumps(definition))
    expected["ui_schema"]["rating"]["ui:enumNames"]["5"] = "Superb"
    assert exported == expected
    assert builder.errors == []
