"""Turn a posted HTML form back into JSON data typed per the form's schema."""
from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, Mapping, Protocol, Sequence, TypeVar
from urllib.parse import quote

from counterflow.core import pointer as jp
from counterflow.core.i18n import message, normalize
from counterflow.core.limits import INT64, MAX_DEPTH, unstorable
from counterflow.forms.render import EXTRA_KEY, choices, encode_value, input_name, is_file, to_pointer
from counterflow.forms.walker import properties, resolve, schema_type

DATA_URL_LIMIT = 2 * 1024 * 1024
TRUE_WORDS = ("on", "true", "1", "yes")
FALSE_WORDS = ("off", "false", "0", "no")

MESSAGES = {
    "too_large": {"zh-CN": "文件“{name}”超过 {limit} MiB，未保存",
                  "en": "File '{name}' is over {limit} MiB and was not kept"},
    "json": {"zh-CN": "不是有效的 JSON：{error}", "en": "Not valid JSON: {error}"},
    "json_object": {"zh-CN": "须为 JSON 对象", "en": "Must be a JSON object"},
    "upload_unavailable": {"zh-CN": "此处不能上传文件", "en": "Files cannot be uploaded here"},
    "too_large_number": {"zh-CN": "数值超出可保存的范围", "en": "The number is too large to store"},
    "too_deep": {"zh-CN": f"嵌套超过 {MAX_DEPTH} 层，无法保存", "en": f"Nested deeper than {MAX_DEPTH} levels; "
                 "it cannot be stored"},
}

_MISSING = object()
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")   # one way to match: linear time
_LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


# What a web framework hands over (werkzeug's MultiDict and FileStorage fit); forms/ imports no framework.

class Upload(Protocol):
    """One uploaded file."""

    @property
    def filename(self) -> str | None: ...

    @property
    def mimetype(self) -> str: ...

    def read(self, size: int = -1) -> bytes: ...


U = TypeVar("U", bound=Upload)
V_co = TypeVar("V_co", covariant=True)


class Posted(Protocol[V_co]):
    """The posted fields (or files): every value under a name, and the names."""

    def getlist(self, key: str) -> Sequence[V_co]: ...

    def keys(self) -> Iterable[str]: ...


class _NoFiles:
    def getlist(self, key: str) -> list[Any]:
        return []

    def keys(self) -> Iterable[str]:
        return ()


@dataclass
class _Post(Generic[U]):
    root: dict
    form: Posted[Any]
    files: Posted[U]
    store_file: Callable[[U], str] | None
    tz: dt.tzinfo
    lang: str
    present: set[str]
    json_fields: set[str]
    removed: set[str]
    problems: list[dict] = field(default_factory=list)

    def problem(self, pointer: str, code: str, **params: Any) -> None:
        self.problems.append({"path": pointer, "code": code,
                              "message": message(MESSAGES, code, self.lang, **params)})

    def texts(self, name: str) -> list[str]:
        return [v for v in self.form.getlist(name) if isinstance(v, str)]

    def new_files(self, name: str) -> list[U]:
        return [f for f in self.files.getlist(name) if f and f.filename]


def parse_form(schema: dict, form: Posted[Any], files: Posted[U] | None = None, *, tz: dt.tzinfo,
               store_file: Callable[[U], str] | None = None,
               lang: str = "zh-CN") -> tuple[Any, list[dict]]:
    """The JSON data a posted form holds, and the problems met reading it (bad JSON, files too large).
    A date-time typed without an offset is read in the counter's time zone `tz`."""
    post: _Post[U] = _Post(schema if isinstance(schema, dict) else {}, form,
                           files if files is not None else _NoFiles(), store_file, tz,
                           normalize(lang), set(form.getlist("_present")), set(form.getlist("_json")),
                           set(form.getlist("_remove")))
    value = _parse(post.root, [], post, depth=0)
    if value is _MISSING:
        value = {} if schema_type(resolve(post.root, {}, post.root)[0]) in ("object", None) else None
    return value, post.problems


def _parse(schema: Any, parts: list[str], post: _Post, *, depth: int) -> Any:
    schema, _ = resolve(schema, {}, post.root)
    pointer, name = to_pointer(parts), input_name(parts)
    if pointer in post.json_fields:
        return _json(name, pointer, post)
    typ = schema_type(schema)
    if typ == "object" and depth < 20:
        return _object(schema, parts, post, depth)
    if typ == "array" and depth < 20:
        return _array(schema, parts, post, depth)
    if typ == "null":
        return _MISSING
    if is_file(schema):
        return _single_file(schema, name, pointer, post)
    return _scalar(schema, post.texts(name), pointer, post)


def _object(schema: dict, parts: list[str], post: _Post, depth: int) -> Any:
    props = properties(schema, post.root)
    data = {}
    for key, prop in props.items():
        value = _parse(prop, parts + [key], post, depth=depth + 1)
        if value is not _MISSING:
            data[key] = value
    extra = _json(input_name(parts, extras=True), to_pointer(parts + [EXTRA_KEY]), post)
    if isinstance(extra, dict):
        data.update({k: v for k, v in extra.items() if k not in props})
    elif extra is not _MISSING and not isinstance(extra, str):
        post.problem(to_pointer(parts + [EXTRA_KEY]), "json_object")
    return data if data else _MISSING


def _array(schema: dict, parts: list[str], post: _Post, depth: int) -> Any:
    items = schema.get("items")
    if not isinstance(items, dict):
        return _MISSING
    item, _ = resolve(items, {}, post.root)
    name, pointer = input_name(parts), to_pointer(parts)
    if is_file(item):
        return _many_files(item, name, pointer, post)
    group = post.texts(name)
    if group:  # a checkbox group posts every ticked value under the field's own name
        values = [_scalar(item, [v], pointer, post) for v in group]
        return [v for v in values if v is not _MISSING] or _MISSING
    rows = []
    for index in _row_indices(name if parts else "", post):
        row_parts = parts + [str(index)]
        if to_pointer(row_parts) in post.removed:
            continue
        value = _parse(item, row_parts, post, depth=depth + 1)
        if value is not _MISSING:
            rows.append(value)
    return rows or _MISSING


def _row_indices(name: str, post: _Post) -> list[int]:
    """The indices of rows that hold at least one filled-in value (blank rows are dropped)."""
    prefix = name + "." if name else ""
    found = set()
    for posted, uploads in ((post.form, False), (post.files, True)):
        for key in posted.keys():
            index = key[len(prefix):].split(".", 1)[0] if key.startswith(prefix) else ""
            if not index.isdigit() or int(index) in found:
                continue
            values = posted.getlist(key)
            if any(getattr(v, "filename", None) if uploads else str(v).strip() for v in values):
                found.add(int(index))
    return sorted(found)


def _scalar(schema: dict, values: list[str], pointer: str, post: _Post) -> Any:
    raw = next((v for v in values if v.strip()), None)
    typ = schema_type(schema)
    if typ == "boolean" and raw is None and not values:
        return False if pointer in post.present else _MISSING
    if raw is None:
        return _MISSING
    raw = raw.replace("\r\n", "\n")
    pairs = choices(schema, {"ui:widget": "radio"} if typ == "boolean" else {})
    for value, _ in pairs or []:
        if encode_value(value) == raw:
            return value
    if typ == "boolean":
        word = raw.strip().lower()
        return True if word in TRUE_WORDS else False if word in FALSE_WORDS else raw
    if typ in ("integer", "number"):
        number = _number(raw)
        if number is _TOO_LARGE or _unstorable(number, 0):
            post.problem(pointer, "too_large_number")
            return raw
        return number
    if schema.get("format") == "date-time" and _LOCAL_DATETIME.match(raw):
        return _with_offset(raw, post.tz)
    if pairs and not isinstance(pairs[0][0], str):
        return _maybe_json(raw)
    return raw


def _with_offset(raw: str, tz: dt.tzinfo) -> str:
    """A wall-clock date-time from a datetime-local input, with its UTC offset in `tz` on that day."""
    raw = raw + (":00" if len(raw) == 16 else "")
    try:
        local = dt.datetime.fromisoformat(raw)
    except ValueError:
        return raw  # not a real day or time: validation says so
    offset = local.replace(tzinfo=tz).strftime("%z")
    return f"{raw}{offset[:3]}:{offset[3:5]}"


def _number(raw: str) -> Any:
    """A number from what was typed (full-width digits too); the text itself when it is none."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if _INTEGER.match(text):
        try:
            return int(text)
        except ValueError:          # more digits than Python converts (4300): far beyond what is stored
            return _TOO_LARGE
    if _NUMBER.match(text):
        number = float(text)
        if math.isfinite(number):
            return int(number) if number.is_integer() and abs(number) < 2 ** 53 and "e" not in text.lower() \
                and "." not in text else number
    return raw


def _maybe_json(raw: str) -> Any:
    try:
        value = _loads(raw)
    except (ValueError, RecursionError):
        return raw
    return raw if _unstorable(value, 0) else value


def _json(name: str, pointer: str, post: _Post) -> Any:
    raw = next((v for v in post.texts(name) if v.strip()), None)
    if raw is None:
        return _MISSING
    try:
        value = _loads(raw)
    except RecursionError:          # nested deeper than the decoder goes
        post.problem(pointer, "too_deep")
        return raw.replace("\r\n", "\n")
    except ValueError as error:
        post.problem(pointer, "json", error=str(error))
        return raw.replace("\r\n", "\n")
    # at the depth the REST API counts it (its body holds `data`, which holds the fields)
    problem = _unstorable(value, (len(jp.split(pointer)) if pointer else 0) + 1)
    if problem:
        post.problem(pointer, problem)
        return raw.replace("\r\n", "\n")
    return value


class _TooLarge(int):
    """An integer with more digits than any stored one: a mark past the 64-bit range, never converted."""


_TOO_LARGE = _TooLarge(INT64)


def _loads(raw: str) -> Any:
    return json.loads(raw, parse_int=lambda digits: int(digits) if len(digits) <= 20 else _TOO_LARGE)


def _unstorable(value: Any, depth: int) -> str | None:
    """Why the store cannot hold a value found at `depth` in the data, or None (the REST API's limits)."""
    problems = unstorable(value, depth)
    return problems[0][1] if problems else None


def _single_file(schema: dict, name: str, pointer: str, post: _Post) -> Any:
    kept = next((v for v in post.texts(name) if v), None)
    if pointer in post.removed:
        kept = None
    for upload in post.new_files(name)[:1]:
        stored = _store(schema, upload, pointer, post)
        if stored is not None:
            return stored
    return kept if kept is not None else _MISSING


def _many_files(item: dict, name: str, pointer: str, post: _Post) -> Any:
    values = [v for i, v in enumerate(post.texts(name)) if v and jp.append(pointer, i) not in post.removed]
    for upload in post.new_files(name):
        stored = _store(item, upload, jp.append(pointer, len(values)), post)
        if stored is not None:
            values.append(stored)
    return values or _MISSING


def _store(schema: Mapping, upload: U, pointer: str, post: _Post[U]) -> str | None:
    if schema.get("format") == "data-url":
        return _data_url(upload, pointer, post)
    if post.store_file is None:
        post.problem(pointer, "upload_unavailable")
        return None
    return post.store_file(upload)


def _data_url(upload: Upload, pointer: str, post: _Post[Any]) -> str | None:
    content = upload.read(DATA_URL_LIMIT + 1)
    if len(content) > DATA_URL_LIMIT:
        post.problem(pointer, "too_large", name=upload.filename, limit=DATA_URL_LIMIT // (1024 * 1024))
        return None
    mime = upload.mimetype or "application/octet-stream"
    encoded = base64.b64encode(content).decode("ascii")
    return f"data:{mime};name={quote(upload.filename or '')};base64,{encoded}"
