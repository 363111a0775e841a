"""formdata.py: what a browser posts from the rendered fields comes back as the same JSON data."""
from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from werkzeug.datastructures import FileStorage, MultiDict

from counterflow.forms import parse
from counterflow.forms import render as forms_render
from counterflow.forms.parse import DATA_URL_LIMIT
from test_render import CORPUS, SHANGHAI, Page, load, render_fields


def parse_form(*args: Any, **kwargs: Any) -> Any:
    """The data as the pages parse it with the default `timezone` setting."""
    return parse.parse_form(*args, **{"tz": SHANGHAI, **kwargs})


WITHOUT_FILES = [p for p in CORPUS if "data-url" not in p.read_text() and "attachment" not in p.read_text()]
# What the HTML form cannot carry: an unticked checkbox is `false`, a `const` is filled in,
# blank rows and nulls are dropped.
NORMALISED = {"allOf", "constField", "defaults", "nullable"}


def round_trip(schema: dict, ui: dict, data: Any, **kwargs: Any) -> tuple[Any, list[dict]]:
    page = Page(str(render_fields(schema, ui, data, [], "zh-CN")))
    return parse_form(schema, MultiDict(page.posted()), MultiDict(), **kwargs)


@pytest.mark.parametrize("path", WITHOUT_FILES, ids=[p.stem for p in WITHOUT_FILES])
def test_corpus_samples_survive_a_round_trip(path: Path) -> None:
    sample = load(path)
    schema, ui, data = sample["schema"], sample.get("uiSchema", {}), sample.get("formData", {})
    once, problems = round_trip(schema, ui, data)
    assert problems == []
    if path.stem not in NORMALISED:
        assert once == data
    assert round_trip(schema, ui, once)[0] == once


FORM = {
    "type": "object",
    "properties": {
        "applicant": {"type": "object", "properties": {
            "name": {"type": "string"},
            "address": {"type": "object", "properties": {
                "city": {"type": "string"}, "zip": {"type": "string"}}},
        }},
        "note": {"type": "string"},
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "agree": {"type": "boolean"},
        "newsletter": {"type": "boolean"},
        "channels": {"type": "array", "uniqueItems": True,
                     "items": {"type": "string", "enum": ["sms", "mail", "phone"]}},
        "level": {"type": "integer", "enum": [1, 2, 3, 4, 5, 6]},
        "rows": {"type": "array", "items": {"type": "object", "properties": {
            "item": {"type": "string"}, "qty": {"type": "integer"}, "urgent": {"type": "boolean"}}}},
        "aliases": {"type": "array", "items": {"type": "string"}},
        "meta": {"type": "object", "additionalProperties": {"type": "integer"}},
        "when": {"type": "string", "format": "date-time"},
    },
}
FORM_UI = {"note": {"ui:widget": "textarea"}}
DATA = {
    "applicant": {"name": "张三 <b>", "address": {"city": "上海"}},
    "note": "line one\nline two",
    "count": 3,
    "ratio": 0.5,
    "agree": True,
    "newsletter": False,
    "channels": ["sms", "phone"],
    "level": 5,
    "rows": [{"item": "A", "qty": 2, "urgent": True}, {"item": "B", "urgent": False}],
    "aliases": ["x", "y"],
    "meta": {"a": 1},
    "when": "2026-03-01T09:30:00+08:00",
}


def test_custom_form_survives_a_round_trip() -> None:
    assert round_trip(FORM, FORM_UI, DATA) == (DATA, [])


def posted(data: Any, ui: dict | None = None) -> MultiDict:
    return MultiDict(Page(str(render_fields(FORM, ui or FORM_UI, data, [], "en"))).posted())


def replace(form: MultiDict, name: str, value: str) -> MultiDict:
    form.setlist(name, [value])
    return form


def test_text_in_a_number_field_is_kept_as_typed() -> None:
    data, _ = parse_form(FORM, replace(posted({}), "count", "three"), MultiDict())
    assert data["count"] == "three"
    data, _ = parse_form(FORM, replace(posted({}), "count", "１２"), MultiDict())
    assert data["count"] == 12
    page = Page(str(render_fields(FORM, {}, {"count": "three"}, [], "en")))
    count = next(c for c in page.controls if c.get("name") == "count")
    assert (count["type"], count["value"]) == ("text", "three")


def test_empty_values_are_omitted_and_unticked_booleans_are_false() -> None:
    data, problems = parse_form(FORM, posted({}), MultiDict())
    assert data == {"agree": False, "newsletter": False} and problems == []


def test_blank_rows_are_dropped_and_rows_reindexed() -> None:
    form = posted({"rows": [{"item": "A"}, {"item": "B"}]})
    form.setlist("rows.0.item", [""])
    data, _ = parse_form(FORM, form, MultiDict())
    assert data["rows"] == [{"item": "B", "urgent": False}]


def test_removed_rows_are_dropped() -> None:
    form = posted({"rows": [{"item": "A"}, {"item": "B"}, {"item": "C"}], "aliases": ["x", "y"]})
    form.add("_remove", "/rows/1")
    form.add("_remove", "/aliases/0")
    data, _ = parse_form(FORM, form, MultiDict())
    assert [r["item"] for r in data["rows"]] == ["A", "C"] and data["aliases"] == ["y"]


def test_rows_added_by_script_with_sparse_indices_are_kept_in_order() -> None:
    form = MultiDict([("rows.7.item", "late"), ("rows.2.item", "early"), ("_add_row", "/rows"),
                      ("csrf_token", "t"), ("unknown", "x")])
    data, _ = parse_form(FORM, form, MultiDict())
    assert data == {"rows": [{"item": "early"}, {"item": "late"}]}


def test_invalid_json_is_kept_with_a_problem() -> None:
    form = replace(posted({}), "meta.*", "{oops")
    data, problems = parse_form(FORM, form, MultiDict())
    assert "meta" not in data
    assert [(p["path"], p["code"]) for p in problems] == [("/meta/*", "json")]
    schema = {"type": "object", "properties": {"pair": {"type": "array", "items": [{"type": "string"}]}}}
    form = MultiDict(Page(str(render_fields(schema, {}, {"pair": ["a"]}, [], "en"))).posted())
    assert parse_form(schema, form, MultiDict()) == ({"pair": ["a"]}, [])
    data, problems = parse_form(schema, replace(form, "pair", "[oops"), MultiDict())
    assert data == {"pair": "[oops"} and problems[0]["code"] == "json"


FILES = {"type": "object", "properties": {
    "scan": {"type": "string", "format": "attachment"},
    "photo": {"type": "string", "format": "data-url"},
    "pages": {"type": "array", "items": {"type": "string", "format": "attachment"}},
}}


def upload(name: str, content: bytes, mime: str = "image/png") -> FileStorage:
    return FileStorage(io.BytesIO(content), filename=name, content_type=mime)


def test_files_are_stored_through_store_file() -> None:
    stored: list[str] = []

    def store(file: FileStorage) -> str:
        stored.append(file.filename or "")
        return f"att-{len(stored)}"

    files = MultiDict([("scan", upload("scan.pdf", b"%PDF")), ("photo", upload("我.png", b"\x89PNG")),
                       ("pages", upload("p1.pdf", b"1")), ("pages", upload("p2.pdf", b"2"))])
    data, problems = parse_form(FILES, MultiDict(), files, store_file=store)
    assert problems == [] and stored == ["scan.pdf", "p1.pdf", "p2.pdf"]
    assert data["scan"] == "att-1" and data["pages"] == ["att-2", "att-3"]
    assert data["photo"] == "data:image/png;name=%E6%88%91.png;base64,iVBORw=="
    again, _ = parse_form(FILES, MultiDict(Page(str(render_fields(FILES, {}, data, [], "en"))).posted()),
                          MultiDict(), store_file=store)
    assert again == data and len(stored) == 3


def test_oversize_data_url_is_refused_with_a_problem() -> None:
    files = MultiDict([("photo", upload("big.png", b"x" * (DATA_URL_LIMIT + 1)))])
    data, problems = parse_form(FILES, MultiDict(), files)
    assert "photo" not in data
    assert [(p["path"], p["code"]) for p in problems] == [("/photo", "too_large")]
    assert problems[0]["message"]


def test_removed_existing_file_is_dropped() -> None:
    form = MultiDict(Page(str(render_fields(FILES, {}, {"scan": "att-9", "pages": ["a", "b"]}, [], "en")))
                     .posted())
    form.add("_remove", "/scan")
    form.add("_remove", "/pages/0")
    data, _ = parse_form(FILES, form, MultiDict())
    assert data == {"pages": ["b"]}


def test_root_scalar_form() -> None:
    schema = {"type": "string", "title": "One"}
    assert round_trip(schema, {}, "hello") == ("hello", [])


def test_readonly_and_hidden_values_post_back_typed() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "readOnly": True},
                                               "h": {"type": "number"},
                                               "b": {"type": "boolean", "const": False}}}
    ui = {"h": {"ui:widget": "hidden"}}
    assert round_trip(schema, ui, {"n": 4, "h": 2.5, "b": False})[0] == {"n": 4, "h": 2.5, "b": False}


def test_non_string_enum_choices_come_back_typed() -> None:
    schema = {"type": "object", "properties": {"o": {"enum": [{"a": 1}, {"a": 2}]},
                                               "n": {"type": "number", "enum": [1.5, 2]}}}
    assert round_trip(schema, {}, {"o": {"a": 2}, "n": 1.5})[0] == {"o": {"a": 2}, "n": 1.5}
    assert json.dumps(round_trip(schema, {}, {"n": 2})[0]) == '{"n": 2}'


class PlainPost:
    """Posted values as any web framework may hand them over: only `getlist` and `keys`."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs

    def getlist(self, key: str) -> list[Any]:
        return [v for k, v in self.pairs if k == key]

    def keys(self) -> list[str]:
        return list(dict.fromkeys(k for k, _ in self.pairs))


class PlainUpload:
    def __init__(self, filename: str, mimetype: str, content: bytes) -> None:
        self.filename, self.mimetype, self._content = filename, mimetype, content

    def read(self, size: int = -1) -> bytes:
        return self._content if size < 0 else self._content[:size]


def test_parsing_needs_no_web_framework_objects() -> None:
    stored: list[str] = []

    def store(file: PlainUpload) -> str:
        stored.append(file.filename)
        return "att-1"

    form = PlainPost([("applicant.name", "张三"), ("rows.0.item", "A"), ("rows.2.qty", "3"), ("count", "4")])
    files = PlainPost([("scan", PlainUpload("scan.pdf", "application/pdf", b"%PDF")),
                       ("photo", PlainUpload("p.png", "image/png", b"\x89PNG"))])
    data, problems = parse.parse_form(FORM, form, None, tz=SHANGHAI)
    assert problems == []
    assert data == {"applicant": {"name": "张三"}, "rows": [{"item": "A"}, {"qty": 3}], "count": 4}
    data, problems = parse.parse_form(FILES, PlainPost([]), files, store_file=store, tz=SHANGHAI)
    assert problems == [] and stored == ["scan.pdf"]
    assert data == {"scan": "att-1", "photo": "data:image/png;name=p.png;base64,iVBORw=="}


BERLIN = ZoneInfo("Europe/Berlin")
WHEN = {"type": "object", "properties": {"when": {"type": "string", "format": "date-time"}}}


@pytest.mark.parametrize("typed, stored", [
    ("2026-01-15T10:00", "2026-01-15T10:00:00+01:00"),      # winter: CET
    ("2026-07-15T10:00:30", "2026-07-15T10:00:30+02:00"),   # summer: CEST
])
def test_a_typed_date_time_takes_the_configured_zone(typed: str, stored: str) -> None:
    data, problems = parse.parse_form(WHEN, MultiDict([("when", typed)]), tz=BERLIN)
    assert (data, problems) == ({"when": stored}, [])
    assert parse.parse_form(WHEN, MultiDict([("when", typed)]), tz=SHANGHAI)[0]["when"].endswith("+08:00")


def test_a_stored_date_time_is_shown_in_the_configured_zone_and_posts_back_as_the_same_moment() -> None:
    shown = Page(str(forms_render.render_fields(WHEN, {}, {"when": "2026-07-01T09:30:00+08:00"}, [], "en",
                                                tz=BERLIN)))
    control = next(c for c in shown.controls if c.get("name") == "when")
    assert (control["type"], control["value"], control["data-cf-offset"]) == \
        ("datetime-local", "2026-07-01T03:30:00", "+02:00")
    data, _ = parse.parse_form(WHEN, MultiDict(shown.posted()), tz=BERLIN)
    assert data == {"when": "2026-07-01T03:30:00+02:00"}
    assert dt.datetime.fromisoformat(data["when"]) == dt.datetime.fromisoformat("2026-07-01T09:30:00+08:00")
    utc = Page(str(forms_render.render_fields(WHEN, {}, {"when": "2026-07-01T01:30:00Z"}, [], "en",
                                              tz=SHANGHAI)))
    assert next(c for c in utc.controls if c.get("name") == "when")["value"] == "2026-07-01T09:30:00"
