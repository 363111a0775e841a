"""Form definitions into validators: every problem at once, localised, keyed by JSON pointer."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import jsonschema_rs

from counterflow.core import pointer as jp
from counterflow.core.errors import DefinitionError
from counterflow.core.i18n import LANGS, message, normalize, text
from counterflow.forms.conditions import compile_condition, holds
# the walk's names, kept importable from here for the definition checks and older callers
from counterflow.forms.walker import (MAX_SCHEMA_DEPTH, PATTERN_OPTIONS, Field, Schema, Shape,  # noqa: F401
                                      Structure, child_schemas, declared_names, expand, fields,
                                      item_schemas, json_type, property_schemas, resolve_ref, type_ok)

DRAFT7_URIS = ("http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-07/schema")
DRAFT202012_URIS = ("https://json-schema.org/draft/2020-12/schema",
                    "https://json-schema.org/draft/2020-12/schema#")
# A field name as MongoDB can store it and other tools write it: 1 to 64 characters, no leading `$`,
# no `.` and no control character (C0, DEL, C1). schemas/meta/form.schema.json says the same.
FIELD_NAME = re.compile(r"^[^$.\x00-\x1f\x7f-\x9f][^.\x00-\x1f\x7f-\x9f]{0,63}\Z")
FIELD_NAME_RS = r"^[^$.\x00-\x1f\x7f-\x9f][^.\x00-\x1f\x7f-\x9f]{0,63}$"   # the same for jsonschema-rs
ATTACHMENT_ID = re.compile(r"^att_[0-9A-HJKMNP-TV-Z]{26}$")
DATA_URL = re.compile(r"^data:[^,]*,", re.DOTALL)
SENSITIVE_KINDS = ("id_number", "bank_card", "phone", "name", "address")

MAX_SCHEMA_BYTES = 256 * 1024
MAX_PROPERTIES = 500
MAX_STRING = 10_000
MAX_ITEMS = 1_000
MAX_DATA_BYTES = 512 * 1024
MAX_DATA_DEPTH = 64
CACHE_SIZE = 4096    # problems (and their sort keys) a validator keeps ready, per form version

TYPE_NAMES = {
    "string": {"zh-CN": "文本", "en": "text"}, "integer": {"zh-CN": "整数", "en": "a whole number"},
    "number": {"zh-CN": "数字", "en": "a number"}, "boolean": {"zh-CN": "是/否", "en": "yes/no"},
    "array": {"zh-CN": "列表", "en": "a list"}, "object": {"zh-CN": "一组字段", "en": "a group of fields"},
    "null": {"zh-CN": "空值", "en": "empty"},
}
FORMAT_NAMES = {
    "email": {"zh-CN": "电子邮箱地址", "en": "an e-mail address"},
    "date": {"zh-CN": "日期（如 2024-05-01）", "en": "a date such as 2024-05-01"},
    "date-time": {"zh-CN": "日期时间（如 2024-05-01T09:30:00+08:00）",
                  "en": "a date and time such as 2024-05-01T09:30:00+08:00"},
    "time": {"zh-CN": "时间（如 09:30:00+08:00）", "en": "a time such as 09:30:00+08:00"},
    "uri": {"zh-CN": "网址", "en": "a web address"},
    "attachment": {"zh-CN": "已上传的附件", "en": "an uploaded attachment"},
    "data-url": {"zh-CN": "上传的文件", "en": "an uploaded file"},
}

MESSAGES: dict[str, dict[str, str]] = {
    "required": {"zh-CN": "「{field}」为必填项", "en": "\"{field}\" is required"},
    "type": {"zh-CN": "「{field}」应填写{expected}", "en": "\"{field}\" must be {expected}"},
    "enum": {"zh-CN": "「{field}」只能选择：{options}", "en": "\"{field}\" must be one of: {options}"},
    "const": {"zh-CN": "「{field}」只能是 {expected}", "en": "\"{field}\" must be {expected}"},
    "minLength": {"zh-CN": "「{field}」至少需要 {limit} 个字符",
                  "en": "\"{field}\" needs at least {limit} characters"},
    "maxLength": {"zh-CN": "「{field}」最多 {limit} 个字符", "en": "\"{field}\" allows at most {limit} characters"},
    "pattern": {"zh-CN": "「{field}」格式不正确", "en": "\"{field}\" is not in the expected format"},
    "format": {"zh-CN": "「{field}」格式不正确，应为{format}", "en": "\"{field}\" must be {format}"},
    "minimum": {"zh-CN": "「{field}」不能小于 {limit}", "en": "\"{field}\" must be at least {limit}"},
    "maximum": {"zh-CN": "「{field}」不能大于 {limit}", "en": "\"{field}\" must be at most {limit}"},
    "exclusiveMinimum": {"zh-CN": "「{field}」必须大于 {limit}", "en": "\"{field}\" must be more than {limit}"},
    "exclusiveMaximum": {"zh-CN": "「{field}」必须小于 {limit}", "en": "\"{field}\" must be less than {limit}"},
    "multipleOf": {"zh-CN": "「{field}」必须是 {limit} 的整数倍", "en": "\"{field}\" must be a multiple of {limit}"},
    "minItems": {"zh-CN": "「{field}」至少需要 {limit} 项", "en": "\"{field}\" needs at least {limit} items"},
    "maxItems": {"zh-CN": "「{field}」最多 {limit} 项", "en": "\"{field}\" allows at most {limit} items"},
    "uniqueItems": {"zh-CN": "「{field}」中有重复的项", "en": "\"{field}\" has repeated items"},
    "minProperties": {"zh-CN": "「{field}」至少需要填写 {limit} 项",
                      "en": "\"{field}\" needs at least {limit} entries"},
    "maxProperties": {"zh-CN": "「{field}」最多填写 {limit} 项", "en": "\"{field}\" allows at most {limit} entries"},
    "oneOf": {"zh-CN": "「{field}」须且只能符合其中一种填写方式",
              "en": "\"{field}\" must match exactly one of the allowed forms"},
    "anyOf": {"zh-CN": "「{field}」不符合任何一种允许的填写方式", "en": "\"{field}\" matches none of the allowed forms"},
    "not": {"zh-CN": "「{field}」的填写内容不被允许", "en": "\"{field}\" has a value that is not allowed"},
    "contains": {"zh-CN": "「{field}」缺少要求的项", "en": "\"{field}\" lacks a required item"},
    "propertyNames": {"zh-CN": "名称「{field}」不被允许", "en": "The name \"{field}\" is not allowed here"},
    "unknown_field": {"zh-CN": "表单中没有「{field}」这一项", "en": "The form has no field \"{field}\""},
    "field_name": {"zh-CN": "名称「{field}」不合法：须为 1 到 64 个字符，不以 $ 开头，不含 . 或控制字符",
                   "en": "\"{field}\" is not a valid name: 1-64 characters, "
                         "no leading $, . or control characters"},
    "falseSchema": {"zh-CN": "「{field}」此处不应填写", "en": "\"{field}\" must be left empty here"},
    "material_missing": {"zh-CN": "缺少材料「{field}」，请上传",
                         "en": "The material \"{field}\" is missing; please upload it"},
    "too_large": {"zh-CN": "「{field}」内容过多（上限 {limit}）", "en": "\"{field}\" is too large (limit {limit})"},
    "unknown": {"zh-CN": "「{field}」填写有误", "en": "\"{field}\" is not valid"},
}
# error kinds whose details (limit, types, options, format...) are the schema's: the same place in the
# schema and in the data always gives the same problems
_SCHEMA_KINDS = frozenset({
    "type", "enum", "const", "pattern", "format", "minLength", "maxLength", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems",
    "minProperties", "maxProperties", "contains", "not", "anyOf", "oneOfNotValid", "oneOfMultipleValid",
    "falseSchema"})
_CODES = {"additionalProperties": "unknown_field", "unevaluatedProperties": "unknown_field",
          "additionalItems": "maxItems", "unevaluatedItems": "maxItems"}
FORM_LABEL = {"zh-CN": "表单", "en": "the form"}
ITEM_LABEL = {"zh-CN": "第 {n} 项", "en": "item {n}"}


@dataclass(frozen=True)
class Problem:
    """One thing the clerk must fix, at the field's JSON pointer."""

    path: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message}


# -- JSON pointers and the schema walk (forms/walker.py); these names stay for callers ---------

pointer = jp.join        # the one JSON-pointer module, core/pointer.py
split_pointer = jp.split


def valid_field_name(name: Any) -> bool:
    """1 to 64 characters, not starting with `$`, without `.` or a control character (DESIGN.md)."""
    return isinstance(name, str) and FIELD_NAME.match(name) is not None


# -- the validator ---------------------------------------------------------------------------

def _is_attachment(value: str) -> bool:
    return ATTACHMENT_ID.match(value) is not None


def _is_data_url(value: str) -> bool:
    return DATA_URL.match(value) is not None


FORMATS: dict[str, Callable[[str], bool]] = {"attachment": _is_attachment, "data-url": _is_data_url}


def _clip(value: Any, limit: int = 40) -> str:
    out = value if isinstance(value, str) else str(value) if type(value) is int \
        else json.dumps(value, ensure_ascii=False, default=str)
    return out if len(out) <= limit else out[: limit - 1] + "…"


class FormValidator:
    """Compiled once per form version (jsonschema-rs, formats ON, draft from $schema, the linear-time
    regex engine for `pattern` and `patternProperties`)."""

    def __init__(self, schema: dict[str, Any], ui_schema: dict[str, Any] | None = None) -> None:
        declared = schema.get("$schema")
        if declared is not None and declared not in DRAFT7_URIS + DRAFT202012_URIS:
            raise DefinitionError([f"schema: $schema {_clip(declared)!r} is not supported; "
                                   "fix: use draft 2020-12 (default) or draft-07"])
        cls = jsonschema_rs.Draft7Validator if declared in DRAFT7_URIS else jsonschema_rs.Draft202012Validator
        self.schema = schema
        try:
            self._validator = cls(schema, validate_formats=True, formats=FORMATS, offline=True,
                                  pattern_options=PATTERN_OPTIONS)  # linear time: no ReDoS
        except (ValueError, jsonschema_rs.ReferencingError) as error:
            first = _clip(str(error).splitlines()[0], 160)
            raise DefinitionError([f"schema: the schema does not compile: {first}; "
                                   "fix: run check_form_definition and correct what it reports"]) from error
        self.structure = Structure(schema)   # built once per form version, reused by every check
        # data this passes has no structure problem, so the walk is skipped (None: always walk)
        summary = self.structure.summary(FIELD_NAME_RS, MAX_STRING, MAX_ITEMS, MAX_DATA_DEPTH,
                                         valid_field_name)
        self._clean = None if summary is None else jsonschema_rs.Draft202012Validator(
            summary, pattern_options=PATTERN_OPTIONS)
        self._titles: dict[str, dict[str, str]] = {}
        self.sensitive: dict[str, str] = {}
        self.materials: list[tuple[str, dict[str, str]]] = []
        self._order: dict[str, int] = {}
        self._material_conditions: dict[str, dict[str, Any]] = {}
        # per place and language, filled as data meets them and bounded: problems and their order
        self._problems: dict[tuple[Any, ...], Problem] = {}
        self._by_error: dict[tuple[Any, ...], list[Problem]] = {}
        self._sort_keys: dict[str, tuple[int, ...]] = {}
        declared = list(fields(schema))
        for found in declared:
            self._take(found)
        for ptr, _ in self.materials:           # the layout's show_if hides a material just as x-show-if does
            rule = _ui_show_if(ui_schema or {}, split_pointer(ptr))
            if rule is not None:
                self._material_conditions.setdefault(ptr, rule)
        # (pointer's parts, the pointer when it names one place, title per language, compiled condition
        # or None) per material, in declaration order
        self._material_checks = [
            (parts, None if "*" in parts else pointer(parts),
             {lang: message({"t": title}, "t", lang) if title else None for lang in LANGS},
             _compile(self._material_conditions.get(ptr)))
            for ptr, title in self.materials for parts in [split_pointer(ptr)]]
        self._required_checks = _required_checks(declared, ui_schema or {})

    def _take(self, found: Field) -> None:
        """What one declared field tells the validator: its title, order, sensitive kind, material."""
        path = found.pointer
        self._order.setdefault(path, len(self._order))
        if found.title is not None:
            self._titles.setdefault(path, found.title)
        if found.sensitive is not None:
            self.sensitive.setdefault(path, found.sensitive)
        if found.material is not None and all(p != path for p, _ in self.materials):
            self.materials.append((path, found.material))
            if found.material_if is not None:
                self._material_conditions[path] = found.material_if

    # -- titles and ordering --

    def field_title(self, ptr: str, lang: str) -> str:
        """The field's title (nested fields as a breadcrumb), else its name."""
        lang = normalize(lang)
        parts = split_pointer(ptr)
        if not parts:
            title = self.schema.get("x-title") or self.schema.get("title")
            shown = title if isinstance(title, (dict, str)) and title else FORM_LABEL
            return text(shown, lang)
        labels: list[str] = []
        for i, part in enumerate(parts):
            generic = [p if not p.isdigit() else "*" for p in parts[: i + 1]]
            if part.isdigit():
                labels.append(message({"t": ITEM_LABEL}, "t", lang, n=int(part) + 1))
            else:
                title = self._titles.get(pointer(generic))
                labels.append(message({"t": title}, "t", lang) if title else _clip(part))
        return " › ".join(labels)

    def _sort_key(self, problem: Problem) -> tuple[int, ...]:
        found = self._sort_keys.get(problem.path)
        if found is not None:
            return found
        key: list[int] = []
        generic: list[str] = []
        for part in split_pointer(problem.path):
            generic.append("*" if part.isdigit() else part)
            key.append(int(part) if part.isdigit() else self._order.get(pointer(generic), 1 << 30))
        if len(self._sort_keys) >= CACHE_SIZE:
            self._sort_keys.clear()
        found = self._sort_keys[problem.path] = tuple(key)
        return found

    # -- problems --

    def _problem(self, path: str, code: str, lang: str, **params: Any) -> Problem:
        """The localised problem; the same one is reused while it stays in the (bounded) cache."""
        key = (path, code, lang, *params.items())
        found = self._problems.get(key)
        if found is None:
            field = params.pop("field", None) or self.field_title(path, lang)
            template = code if code in MESSAGES else "unknown"
            found = Problem(path, code, message(MESSAGES, template, lang, field=field, **params))
            if len(self._problems) >= CACHE_SIZE:
                self._problems.clear()
            self._problems[key] = found
        return found

    def _from_error(self, error: Any, lang: str) -> list[Problem]:
        """The problems of one jsonschema-rs error; for a kind whose details all come from the schema,
        remembered by where it was found in the schema and in the data (bounded)."""
        kind = error.kind.name
        if kind not in _SCHEMA_KINDS:
            return list(self._problems_of(error, kind, lang))
        key = (kind, lang, *error.schema_path, None, *error.instance_path)
        found = self._by_error.get(key)
        if found is None:
            found = list(self._problems_of(error, kind, lang))
            if len(self._by_error) >= CACHE_SIZE:
                self._by_error.clear()
            self._by_error[key] = found
        return found

    def _problems_of(self, error: Any, kind: str, lang: str) -> Iterator[Problem]:
        detail = error.kind.as_dict()
        path = pointer(error.instance_path)
        if kind == "required":
            yield self._problem(pointer([*error.instance_path, detail["property"]]), "required", lang)
            return
        if kind == "propertyNames":
            name = str(detail["error"].instance)
            yield self._problem(pointer([*error.instance_path, name]), "propertyNames", lang,
                                field=_clip(name))
            return
        if kind in ("additionalProperties", "unevaluatedProperties"):
            for name in detail.get("unexpected", []):
                child = pointer([*error.instance_path, name])
                yield self._problem(child, "unknown_field", lang, field=_clip(name))
            return
        code = _CODES.get(kind, kind)
        params: dict[str, Any] = {"limit": _clip(detail.get("limit", detail.get("multiple_of", "")))}
        if kind == "type":
            types = detail.get("types", [])
            params["expected"] = " / ".join(message(TYPE_NAMES, t, lang) for t in types)
        elif kind == "enum":
            params["options"] = _clip("、".join(_clip(o, 20) for o in detail.get("options", [])), 80)
        elif kind == "const":
            params["expected"] = _clip(detail.get("expected_value"))
        elif kind == "format":
            fmt = str(detail.get("format", ""))
            params["format"] = message(FORMAT_NAMES, fmt, lang) if fmt in FORMAT_NAMES else _clip(fmt)
        yield self._problem(path, code, lang, **params)

    def _structure(self, value: Any, shape: Shape, parts: list[str | int], lang: str,
                   out: list[Problem]) -> None:
        """Unknown fields, wrong JSON types and oversize values: what a draft may never hold."""
        if not shape.accepts(value):
            expected = " / ".join(message(TYPE_NAMES, t, lang) for t in shape.expected) or "?"
            out.append(self._problem(pointer(parts), "type", lang, expected=expected))
            return
        if len(parts) > MAX_DATA_DEPTH:
            out.append(self._problem(pointer(parts), "too_large", lang, limit=MAX_DATA_DEPTH))
            return
        if isinstance(value, str) and len(value) > MAX_STRING:
            out.append(self._problem(pointer(parts), "too_large", lang, limit=MAX_STRING))
        elif isinstance(value, list):
            if len(value) > MAX_ITEMS:
                out.append(self._problem(pointer(parts), "too_large", lang, limit=MAX_ITEMS))
                return
            shallow = len(parts) < MAX_DATA_DEPTH
            for i, item in enumerate(value):
                item_shape = shape.item(i)
                if not (shallow and _plain(item, item_shape)):
                    self._structure(item, item_shape, [*parts, i], lang, out)
        elif isinstance(value, dict):
            shallow = len(parts) < MAX_DATA_DEPTH
            for name, item in value.items():
                if not valid_field_name(name):
                    out.append(self._problem(pointer([*parts, name]), "field_name", lang,
                                             field=_clip(str(name))))
                    continue
                child_shape, allowed = shape.key(name)
                if not allowed:
                    out.append(self._problem(pointer([*parts, name]), "unknown_field", lang,
                                             field=_clip(name)))
                elif not (shallow and _plain(item, child_shape)):
                    self._structure(item, child_shape, [*parts, name], lang, out)

    def _oversize(self, data: Any, lang: str) -> tuple[list[Problem], bool]:
        """(the too-large problem or [], whether the data is plain JSON: no NaN, Infinity or other
        value JSON cannot hold, which the summary check would read differently from the walk)."""
        plain = True
        try:
            text = _PLAIN_JSON.encode(data)
        except (ValueError, _NotJSON):   # NaN, Infinity or a value JSON has no type for
            text, plain = json.dumps(data, ensure_ascii=False, default=str), False
        if len(text.encode()) > MAX_DATA_BYTES:
            return [self._problem("", "too_large", lang, limit=f"{MAX_DATA_BYTES // 1024} KiB")], False
        return [], plain

    def _missing_materials(self, data: Any, lang: str) -> list[Problem]:
        problems = []
        for parts, place, titles, condition in self._material_checks:
            if place is not None:   # one place: read it
                value = _value_at(data, parts)
                empty = [] if value is _NOWHERE or value not in (None, "", [], {}) else [place]
            else:
                empty = [concrete for concrete, value in _lookup(data, parts, [])
                         if value in (None, "", [], {})]
            if not empty or (condition is not None and not condition(data)):
                continue  # supplied, or a conditional material (x-show-if) this application does not need
            problems += [self._problem(concrete, "material_missing", lang, field=titles[lang])
                         for concrete in empty]
        return problems

    def _missing_required_if(self, data: Any, lang: str) -> list[Problem]:
        """`x-required-if`: a field left empty while its rule holds is missing, as `required` says it;
        a field hidden by its own or a parent's show-if condition is never required."""
        problems = []
        for parts, place, rule, shown in self._required_checks:
            if place is not None:
                value = _value_at(data, parts)
                empty = [] if value is _NOWHERE or not _blank(value) else [place]
            else:
                empty = [concrete for concrete, value in _lookup(data, parts, [], skip_blank_rows=True)
                         if _blank(value)]
            if empty and rule(data) and all(condition(data) for condition in shown):
                problems += [self._problem(concrete, "required", lang) for concrete in empty]
        return problems

    def _finish(self, problems: Iterable[Problem]) -> list[Problem]:
        unique: dict[tuple[str, str], Problem] = {}
        for p in problems:
            unique.setdefault((p.path, p.code), p)
        return sorted(unique.values(), key=self._sort_key)

    def _draft_problems(self, data: Any, lang: str, plain: bool) -> list[Problem]:
        """What a draft may never hold (unknown fields, wrong JSON types, oversize values), unsorted.
        Plain JSON data that the compiled summary passes has none: the Python walk is skipped."""
        if plain and self._clean is not None:
            try:
                if self._clean.is_valid(data):
                    return []
            except (ValueError, TypeError, OverflowError):  # a key or value jsonschema-rs cannot read
                pass
        found: list[Problem] = []
        self._structure(data, self.structure.top, [], lang, found)
        return found

    def check_complete(self, data: Any, lang: str) -> list[Problem]:
        """Every problem at once: schema rules, structure and missing materials."""
        lang = normalize(lang)
        oversize, plain = self._oversize(data, lang)
        return oversize or self._complete(data, lang, self._draft_problems(data, lang, plain))

    def _complete(self, data: Any, lang: str, structure: list[Problem]) -> list[Problem]:
        if not structure and self._validator.is_valid(data):
            found: list[Problem] = []
        else:
            found = [p for e in self._validator.iter_errors(data) for p in self._from_error(e, lang)]
        # JSON Schema decides what is unknown here; the stricter draft rule is check_draft's
        seen = {p.path for p in found}
        found += [p for p in structure if p.code in ("too_large", "field_name")
                  or (p.code == "type" and p.path not in seen)]
        if self._required_checks:
            found += self._missing_required_if(data, lang)
        materials = self._missing_materials(data, lang)
        if not found and not materials:
            return []
        missing = {p.path for p in materials}
        found = [p for p in found if p.path not in missing] + materials  # one item per thing to supply
        return self._finish(found)

    def check_draft(self, data: Any, lang: str) -> tuple[list[Problem], list[Problem]]:
        """(refused, warnings): a draft keeps what was typed unless it cannot be stored."""
        lang = normalize(lang)
        oversize, plain = self._oversize(data, lang)
        if oversize:
            return oversize, []
        structure = self._draft_problems(data, lang, plain)
        refused = self._finish(structure)
        complete = self._complete(data, lang, structure)
        if refused:
            blocked = {p.path for p in refused}
            warnings = [p for p in complete
                        if p.path not in blocked
                        and p.code not in ("unknown_field", "field_name", "too_large")]
            return refused, warnings
        return [], complete


class _NotJSON(Exception):
    """A value JSON has no type for (the size check then writes it as text)."""


def _not_json(value: Any) -> Any:
    raise _NotJSON


_PLAIN_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_not_json)


def _plain(value: Any, shape: Shape) -> bool:
    """A scalar of a type the place accepts and of a storable length: nothing to check below it."""
    return not isinstance(value, (dict, list)) and shape.accepts(value) \
        and not (isinstance(value, str) and len(value) > MAX_STRING)


_NOWHERE: Any = object()


def _value_at(data: Any, parts: list[str]) -> Any:
    """What `_lookup` finds at a pointer without `*`: the value (None where an object on the way is
    missing or null), or _NOWHERE where the way meets another kind of value."""
    for part in parts:
        if isinstance(data, dict):
            data = data.get(part)
        elif data is None:
            return None
        else:
            return _NOWHERE
    return data


def _lookup(data: Any, parts: list[str], done: list[str | int],
            skip_blank_rows: bool = False) -> Iterator[tuple[str, Any]]:
    """(concrete pointer, value or None) for a pointer with `*` for every array element; with
    `skip_blank_rows`, not inside an element that holds nothing (the page never posts such a row)."""
    if not parts:
        yield pointer(done), data
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        for i, item in enumerate(data if isinstance(data, list) else []):
            if not (skip_blank_rows and rest and _blank(item)):
                yield from _lookup(item, rest, [*done, i], skip_blank_rows)
    elif isinstance(data, dict):
        yield from _lookup(data.get(head), rest, [*done, head], skip_blank_rows)
    elif data is None:
        if "*" not in parts:
            yield pointer([*done, *parts]), None


def _ui_show_if(ui: Any, parts: list[str]) -> dict[str, Any] | None:
    """`ui:options.show_if` of the ui_schema entry at `parts` (`*` steps into `items`)."""
    for part in parts:
        if not isinstance(ui, dict):
            return None
        ui = ui.get("items") if part == "*" else ui.get(part)
    options = ui.get("ui:options") if isinstance(ui, dict) else None
    rule = options.get("show_if") if isinstance(options, dict) else None
    return rule if isinstance(rule, dict) else None


def _blank(value: Any) -> bool:
    """Nothing filled in: what the page leaves out of a post (a `false` or a 0 is an answer)."""
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def _required_checks(declared: list[Field], ui_schema: Any) -> list[
        tuple[list[str], str | None, Callable[[Any], bool], list[Callable[[Any], bool]]]]:
    """(pointer's parts, the pointer when it names one place, the compiled x-required-if, the compiled
    show-if conditions of the field and of every group it sits in) per field with an x-required-if.
    A show-if is the layout's `ui:options.show_if` where there is one, else the schema's `x-show-if`,
    as the page decides which one hides the field (forms/render.py)."""
    shown = {found.parts: found.show_if for found in declared}
    checks = []
    for found in declared:
        if found.required_if is None or not found.parts:
            continue
        conditions = []
        for depth in range(1, len(found.parts) + 1):
            prefix = list(found.parts[:depth])
            rule = _ui_show_if(ui_schema, prefix) or shown.get(found.parts[:depth])
            if rule is not None:
                conditions.append(compile_condition(rule))
        parts = list(found.parts)
        checks.append((parts, None if "*" in parts else pointer(parts), compile_condition(found.required_if),
                       conditions))
    return checks


def _holds(rule: dict[str, Any], data: Any) -> bool:
    """Whether a condition holds on the form's data, as the page decides it (forms.conditions)."""
    return holds(rule, data)


def _compile(rule: dict[str, Any] | None) -> Callable[[Any], bool] | None:
    """The condition compiled once per form version (forms.conditions), None for none."""
    return None if rule is None else compile_condition(rule)


def compile_schema(schema: dict[str, Any]) -> FormValidator:
    """Build the validator for one form version; callers cache it per version."""
    return FormValidator(schema)
