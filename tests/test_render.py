"""render.py: generated fields are labelled, escaped, ordered and show their problems."""
from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from counterflow.forms import render as forms_render
from counterflow.forms.render import error_summary, field_id

SHANGHAI = ZoneInfo("Asia/Shanghai")


def render_fields(*args: Any, **kwargs: Any) -> Any:
    """The fields as the pages render them with the default `timezone` setting."""
    return forms_render.render_fields(*args, **{"tz": SHANGHAI, **kwargs})


SHARED = Path(os.environ.get("COUNTERFLOW_SHARED") or Path(__file__).resolve().parents[2] / "shared")
CORPUS = sorted((SHARED / "corpus" / "rjsf").glob("*.json"))
XSS = "<script>alert(1)</script>"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


class Page(HTMLParser):
    """What a browser would see in rendered fields: controls, labels, ids, what it would post."""

    VOID = {"input", "br", "img", "hr", "meta", "link"}

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.labels: dict[str, str] = {}
        self.controls: list[dict[str, Any]] = []
        self.elements: list[tuple[str, dict[str, Any]]] = []
        self.in_template = 0
        self._label: str | None = None
        self._textarea: dict[str, Any] | None = None
        self._select: dict[str, Any] | None = None
        self._option: dict[str, Any] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs_list: list) -> None:
        attrs = {k: (v if v is not None else "") for k, v in attrs_list}
        attrs["_template"] = self.in_template > 0
        self.elements.append((tag, attrs))
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "template":
            self.in_template += 1
        elif tag == "label":
            self._label = attrs.get("for", "")
            self.labels.setdefault(self._label, "")
        elif tag in ("input", "textarea", "select"):
            control: dict[str, Any] = {"tag": tag, **attrs, "text": "", "options": []}
            self.controls.append(control)
            if tag == "textarea":
                self._textarea = control
            if tag == "select":
                self._select = control
        elif tag == "option" and self._select is not None:
            self._option = {**attrs, "text": ""}
            self._select["options"].append(self._option)

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self.in_template -= 1
        elif tag == "label":
            self._label = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "option":
            self._option = None

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self.labels[self._label] += data
        if self._textarea is not None:
            self._textarea["text"] += data
        if self._option is not None:
            self._option["text"] += data

    def visible_controls(self) -> list[dict[str, Any]]:
        return [c for c in self.controls if not (c["tag"] == "input" and c.get("type") == "hidden")]

    def posted(self) -> list[tuple[str, str]]:
        """The (name, value) pairs a browser submits, files aside."""
        pairs = []
        for c in self.controls:
            if c["_template"] or "name" not in c or "disabled" in c:
                continue
            kind = c.get("type", "text")
            if c["tag"] == "textarea":
                value = c["text"][1:] if c["text"].startswith("\n") else c["text"]
                pairs.append((c["name"], value.replace("\n", "\r\n")))
            elif c["tag"] == "select":
                chosen = [o for o in c["options"] if "selected" in o] or c["options"][:1]
                pairs += [(c["name"], o.get("value", o["text"])) for o in chosen]
            elif kind in ("checkbox", "radio"):
                if "checked" in c:
                    pairs.append((c["name"], c.get("value", "on")))
            elif kind not in ("file", "submit", "button"):
                pairs.append((c["name"], c.get("value", "")))
        return pairs


def render(sample: dict, lang: str = "en", problems: list | None = None, **kwargs: Any) -> str:
    return str(render_fields(sample["schema"], sample.get("uiSchema", {}), sample.get("formData"),
                             problems or [], lang, **kwargs))


def scalars(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in scalars(v)]
    if isinstance(value, list):
        return [s for v in value for s in scalars(v)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_corpus_sample_renders_labelled_unique_controls(path: Path, lang: str) -> None:
    sample = load(path)
    page = Page(render(sample, lang))
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"
    for control in page.visible_controls():
        assert control.get("id"), control
        assert control["id"] in page.labels, f"no <label for> for {control['id']}"
        assert page.labels[control["id"]].strip()


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_every_corpus_value_appears(path: Path) -> None:
    sample = load(path)
    page = Page(render(sample))
    shown = {v for _, v in page.posted()} | {c["text"] for c in page.controls}
    blob = " ".join(shown)
    for value in scalars(sample.get("formData")):
        assert value in blob, value


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_every_corpus_sample_renders_read_only_view(path: Path) -> None:
    sample = load(path)
    html = render(sample, readonly=True)
    assert not Page(html).controls
    assert html.lstrip().startswith('<dl class="cf-view">')


def test_read_only_view_shows_labels_of_choices() -> None:
    html = str(render_fields(WIDGETS, {}, {"mode": "p", "agree": True, "name": "张三"}, [], "en",
                             readonly=True))
    assert ">\nPost\n<" in html
    assert ">\nYes\n<" in html and "张三" in html


WIDGETS = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "title": "姓名", "x-title-en": "Name"},
        "note": {"type": "string"},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "amount": {"type": "number", "multipleOf": 0.01},
        "born": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
        "email": {"type": "string", "format": "email"},
        "phone": {"type": "string", "x-sensitive": "phone"},
        "tel": {"type": "string"},
        "id_number": {"type": "string", "x-sensitive": "id_number"},
        "colour": {"type": "string", "enum": ["red", "green", "blue"]},
        "city": {"type": "string", "enum": ["a", "b", "c", "d", "e"]},
        "forced": {"type": "string", "enum": ["a", "b", "c", "d", "e"]},
        "agree": {"type": "boolean"},
        "tags": {"type": "array", "uniqueItems": True, "items": {"type": "string", "enum": ["x", "y"]}},
        "secret": {"type": "string"},
        "hidden": {"type": "string"},
        "scan": {"type": "string", "format": "attachment"},
        "photo": {"type": "string", "format": "data-url"},
        "fixed": {"type": "string", "const": "F"},
        "locked": {"type": "string", "readOnly": True},
        "mode": {"type": "string", "oneOf": [{"const": "p", "title": "Post"},
                                             {"const": "e", "title": "Email"}]},
        "extras": {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
    },
}
WIDGETS_UI = {
    "note": {"ui:widget": "textarea"},
    "tel": {"ui:widget": "tel"},
    "forced": {"ui:widget": "radio"},
    "secret": {"ui:widget": "password"},
    "hidden": {"ui:widget": "hidden"},
    "photo": {"ui:options": {"accept": "image/*"}},
    "ui:unknown": 1,
    "name": {"ui:frobnicate": True},
}


def control(page: Page, name: str) -> dict[str, Any]:
    return next(c for c in page.controls if c.get("name") == name)


def test_widgets_follow_type_format_enum_and_ui_widget() -> None:
    page = Page(str(render_fields(WIDGETS, WIDGETS_UI, {"hidden": "h", "locked": "L"}, [], "zh-CN")))
    assert control(page, "note")["tag"] == "textarea"
    age = control(page, "age")
    assert (age["type"], age["min"], age["max"], age["step"]) == ("number", "0", "150", "1")
    assert control(page, "amount")["step"] == "0.01"
    assert control(page, "born")["type"] == "date"
    assert control(page, "at")["type"] == "datetime-local"
    assert control(page, "email")["type"] == "email"
    assert (control(page, "phone")["type"], control(page, "phone")["inputmode"]) == ("tel", "tel")
    assert control(page, "tel")["type"] == "tel"
    id_number = control(page, "id_number")
    assert (id_number["maxlength"], id_number["autocomplete"]) == ("18", "off")
    assert control(page, "colour")["type"] == "radio"
    assert control(page, "city")["tag"] == "select"
    assert control(page, "forced")["type"] == "radio"
    assert control(page, "agree")["type"] == "checkbox"
    assert [c["type"] for c in page.controls if c.get("name") == "tags"] == ["checkbox", "checkbox"]
    assert control(page, "secret")["type"] == "password"
    assert control(page, "hidden")["type"] == "hidden"
    assert control(page, "scan")["type"] == "file"
    assert control(page, "photo")["accept"] == "image/*"
    fixed = next(c for c in page.controls if c.get("id") == field_id("/fixed"))
    assert "readonly" in fixed and fixed["value"] == "F"
    assert "readonly" in next(c for c in page.controls if c.get("id") == field_id("/locked"))
    mode = [c for c in page.controls if c.get("name") == "mode"]
    assert [page.labels[c["id"]] for c in mode] == ["Post", "Email"]
    assert "data-json" in control(page, "extras.*")
    assert "required" not in control(page, "name") and control(page, "name")["aria-required"] == "true"


def test_required_marker_is_visible() -> None:
    html = str(render_fields(WIDGETS, {}, {}, [], "zh-CN"))
    assert "必填" in Page(html).labels[field_id("/name")]


def test_ui_order_with_wildcard() -> None:
    sample = load(SHARED / "corpus" / "rjsf" / "ordering.json")
    names = [c["name"] for c in Page(render(sample)).controls if "name" in c]
    assert names == ["firstName", "lastName", "bio", "age", "password"]


def test_ui_order_without_wildcard_keeps_unlisted_fields_last() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"},
                                               "c": {"type": "string"}}}
    names = [c["name"]
             for c in Page(str(render_fields(schema, {"ui:order": ["c", "zz"]}, {}, [], "en"))).controls]
    assert names == ["c", "a", "b"]


def test_problems_sit_next_to_their_fields_and_link_from_the_summary() -> None:
    schema = {"type": "object", "properties": {
        "applicant": {"type": "object", "properties": {"phone": {"type": "string"}}},
        "kind": {"type": "string", "enum": ["a", "b"]}}}
    problems = [{"path": "/applicant/phone", "code": "pattern", "message": "号码格式不对"},
                {"path": "/kind", "code": "required", "message": "请选择"},
                {"path": "", "code": "oneOf", "message": "整体不符"}]
    fields = render_fields(schema, {}, {"applicant": {"phone": "12"}}, problems, "zh-CN")
    page = Page(str(fields))
    phone = control(page, "applicant.phone")
    assert phone["aria-invalid"] == "true"
    error_id = field_id("/applicant/phone") + "--error"
    assert error_id in phone["aria-describedby"].split()
    assert "号码格式不对" in str(fields)
    assert control(page, "kind")["aria-invalid"] == "true"
    assert fields.unplaced_problems() == [problems[2]]
    summary = str(error_summary(problems, schema, "zh-CN"))
    assert "3 项需要补正" in summary and 'role="alert"' in summary and 'tabindex="-1"' in summary
    assert 'href="#cf-f-applicant-phone"' in summary and 'href="#cf-f-kind"' in summary
    assert field_id("/kind") in page.ids
    assert "3 items need attention" in str(error_summary(problems, schema, "en"))
    assert str(error_summary([], schema, "en")) == ""


def test_field_ids() -> None:
    assert field_id("/applicant/phone") == "cf-f-applicant-phone"
    assert field_id("/rows/0/qty") == "cf-f-rows-0-qty"
    assert field_id("/a b") != field_id("/a-b") != field_id("/a_b")


def test_admin_text_and_values_are_escaped() -> None:
    schema = {"type": "object", "properties": {
        "x": {"type": "string", "title": XSS, "description": XSS},
        "y": {"type": "string", "enum": ["a", XSS], "x-enum-titles": {"zh-CN": [XSS, "b"], "en": [XSS, "b"]}},
        "z": {"type": "string", "enum": list("abcdef"), "x-enum-titles": {"zh-CN": [XSS] * 6}},
        "w": {"type": "string"}}}
    ui = {"x": {"ui:help": XSS, "ui:placeholder": XSS}, "w": {"ui:widget": "textarea", "ui:title": XSS},
          "z": {"ui:options": {"show_if": {"==": [{"var": "x"}, XSS]}}}}
    data = {"x": XSS, "y": XSS, "z": "a", "w": "</textarea>" + XSS}
    problems = [{"path": "/x", "code": "c", "message": XSS}]
    for html in (str(render_fields(schema, ui, data, problems, "zh-CN")),
                 str(render_fields(schema, ui, data, problems, "en", readonly=True)),
                 str(error_summary(problems, schema, "en"))):
        assert "<script" not in html
        assert "</textarea><script" not in html
    assert control(Page(str(render_fields(schema, ui, data, [], "en"))), "x")["value"] == XSS


def test_show_if_becomes_an_attribute() -> None:
    rule = {"==": [{"var": "by_agent"}, True]}
    schema = {"type": "object", "properties": {"by_agent": {"type": "boolean"},
                                               "agent": {"type": "string"},
                                               "other": {"type": "string", "x-show-if": rule}}}
    html = str(render_fields(schema, {"agent": {"ui:options": {"show_if": rule}}}, {}, [], "en"))
    wrappers = [a for _, a in Page(html).elements if "data-show-if" in a]
    assert [json.loads(a["data-show-if"]) for a in wrappers] == [rule, rule]


ROWS = {"type": "object", "properties": {"rows": {"type": "array", "title": "Rows", "items": {
    "type": "object", "properties": {"item": {"type": "string"}, "qty": {"type": "integer"}}}}}}


def test_rows_render_existing_rows_a_template_and_controls() -> None:
    page = Page(str(render_fields(ROWS, {}, {"rows": [{"item": "a", "qty": 1}]}, [], "en")))
    live = [c["name"] for c in page.controls if not c["_template"] and c.get("name", "").startswith("rows.")]
    assert live == ["rows.0.item", "rows.0.qty"]          # no stray blank row: "add" makes one
    templates = [a for t, a in page.elements if t == "template"]
    assert templates[0]["data-cf-template"] == "/rows" and templates[0]["data-cf-next"] == "1"
    assert any(c.get("name") == "rows.__i1__.item" for c in page.controls if c["_template"])
    removes = [c["value"] for c in page.controls if c.get("name") == "_remove" and not c["_template"]]
    assert removes == ["/rows/0"]


def test_an_empty_list_starts_with_one_blank_row_to_type_into() -> None:
    page = Page(str(render_fields(ROWS, {}, {}, [], "en")))
    assert [c["name"] for c in page.controls if c.get("name", "").endswith(".item") and not c["_template"]] \
        == ["rows.0.item"]


def test_add_on_existing_rows_adds_exactly_one() -> None:
    page = Page(str(render_fields(ROWS, {}, {"rows": [{"item": "a"}]}, [], "en", add_rows=["/rows"])))
    assert [c["name"] for c in page.controls if c.get("name", "").endswith(".item") and not c["_template"]] \
        == ["rows.0.item", "rows.1.item"]
    add = next(a for t, a in page.elements if a.get("name") == "_add_row")
    assert (add["type"], add["value"]) == ("submit", "/rows")


def test_add_rows_on_an_empty_list_gives_one_blank_row() -> None:
    page = Page(str(render_fields(ROWS, {}, {}, [], "en", add_rows=["/rows"])))
    assert [c["name"] for c in page.controls if c.get("name", "").endswith(".item") and not c["_template"]] \
        == ["rows.0.item"]


def test_labels_follow_the_language() -> None:
    zh = Page(str(render_fields(WIDGETS, {}, {}, [], "zh-CN"))).labels[field_id("/name")]
    en = Page(str(render_fields(WIDGETS, {}, {}, [], "en"))).labels[field_id("/name")]
    assert zh.startswith("姓名") and en.startswith("Name")
    ui = {"name": {"ui:title": {"zh-CN": "名字", "en": "Given name"}}}
    assert (Page(str(render_fields(WIDGETS, ui, {}, [], "en"))).labels[field_id("/name")]
            .startswith("Given name"))


def test_masked_sensitive_values_are_read_only_and_not_posted() -> None:
    page = Page(str(render_fields(WIDGETS, {}, {"phone": "138****0000"}, [], "zh-CN", sensitive_masked=True)))
    phone = next(c for c in page.controls if c.get("id") == field_id("/phone"))
    assert "readonly" in phone and phone["value"] == "138****0000" and "name" not in phone
    assert "phone" not in dict(page.posted())


def test_unsupported_constructs_become_json_text() -> None:
    sample = load(SHARED / "corpus" / "rjsf" / "patternProperties.json")
    page = Page(render(sample))
    extra = control(page, "*")
    assert json.loads(extra["text"]) == {"assKickCount": "infinity"}


def test_refs_resolve_local_definitions() -> None:
    schema = {"$defs": {"addr": {"type": "object",
                                 "properties": {"city": {"type": "string", "title": "City"}}}},
              "type": "object", "properties": {"home": {"$ref": "#/$defs/addr", "title": "Home"}}}
    page = Page(str(render_fields(schema, {}, {"home": {"city": "Shanghai"}}, [], "en")))
    assert control(page, "home.city")["value"] == "Shanghai"
