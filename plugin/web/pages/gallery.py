"""The template gallery and the numbering preview of the form builder (issue 9).

`GET /admin/forms/templates` lists the counter forms the package ships (schemas/*.json) as templates an
admin copies and adapts in the builder; `GET /admin/forms/templates/<key>.json` is the definition to start
from, under a key no form uses yet. `POST /admin/forms/numbering-preview` answers the next acceptance numbers
a pattern gives a new form today, or what is wrong with it, for the builder's settings editor
(static/builder/settings.js). Admins only; the JSON post carries the page's CSRF token in X-CSRF-Token.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from flask import jsonify, render_template, url_for

from counterflow.core import clock
from counterflow.core.errors import BadRequest, NotFound
from counterflow.core.i18n import text
from counterflow.core.numbering import NumberPattern
from counterflow.forms.render import render_fields
from counterflow.forms.walker import fields
from counterflow.web.pages.common import actor, bp, ext, json_body, lang

# the role that serves applicants at the counter: a counter form is one whose first process this role
# alone starts (every transition out of its first state is theirs); the records staff's own forms are not
COUNTER_ROLE = "clerk"
MAX_PATTERN = 64            # the meta-schema's limit on settings.numbering
PREVIEW_COUNT = 3
KEY = re.compile(r"^[a-z][a-z0-9-]{1,63}$")

TEXT: dict[str, dict[str, str]] = {
    "title": {"zh-CN": "表单模板库", "en": "Template gallery"},
    "intro": {"zh-CN": "以下是系统自带的窗口业务表单。选择“复制并修改”，在设计器中以它为起点新建表单；"
                       "原模板不受影响。",
              "en": "The counter forms that come with the product. Choose “Copy and adapt” to start a new "
                    "form from one in the builder; the template itself is left as it is."},
    "fields": {"zh-CN": "共 {n} 个字段", "en": "{n} fields"},
    "preview": {"zh-CN": "预览：{title}", "en": "Preview: {title}"},
    "copy_link": {"zh-CN": "复制并修改", "en": "Copy and adapt"},
    "copy_named": {"zh-CN": "复制并修改：{title}", "en": "Copy and adapt: {title}"},
    "none": {"zh-CN": "没有可用的模板。", "en": "There are no templates."},
    "back": {"zh-CN": "返回模板管理", "en": "Back to forms"},
    "no_template": {"zh-CN": "没有名为「{key}」的表单模板；请从模板库中选择",
                    "en": "There is no form template \"{key}\"; choose one from the template gallery"},
    "pattern_text": {"zh-CN": "请以文本形式提供编号规则：{\"pattern\": \"ACC-{yyyy}{mm}{dd}-{seq:05d}\"}",
                     "en": "Send the pattern as text: {\"pattern\": \"ACC-{yyyy}{mm}{dd}-{seq:05d}\"}"},
    "too_long": {"zh-CN": "编号规则最多 {limit} 个字符，现有 {n} 个",
                 "en": "The pattern has {n} characters; at most {limit} are allowed"},
    "empty": {"zh-CN": "编号规则为空；请写成如 ACC-{yyyy}{mm}{dd}-{seq:05d} 的形式",
              "en": "The pattern is empty; write one like ACC-{yyyy}{mm}{dd}-{seq:05d}"},
    "seq_count": {"zh-CN": "编号规则中有 {n} 个序号；须恰好一个 {seq} 或 {seq:0Nd}",
                  "en": "The pattern has {n} sequence tokens; it needs exactly one {seq} or {seq:0Nd}"},
    "literal": {"zh-CN": "「{x}」不能出现在编号中：普通文字只能是字母、数字、-、_ 和 /，"
                         "花括号只用于 {yyyy}、{yy}、{mm}、{dd}、{seq} 或 {seq:0Nd}",
                "en": "\"{x}\" cannot appear in a number: plain text may hold only letters, digits, -, _ "
                      "and /, and braces only around {yyyy}, {yy}, {mm}, {dd}, {seq} or {seq:0Nd}"},
    "bad_seq": {"zh-CN": "序号「{x}」写法不对：应写 {seq} 或 {seq:0Nd}（N 为 1 到 12），如 {seq:05d}",
                "en": "The sequence token \"{x}\" is wrong: write {seq} or {seq:0Nd} with N from 1 to 12, "
                      "e.g. {seq:05d}"},
    "unknown_token": {"zh-CN": "未知的标记「{x}」：可用 {yyyy}、{yy}、{mm}、{dd}、{seq} 或 {seq:0Nd}",
                      "en": "Unknown token \"{x}\": use {yyyy}, {yy}, {mm}, {dd}, {seq} or {seq:0Nd}"},
    "day_alone": {"zh-CN": "有 {dd} 却没有 {mm} 和年份，编号每月或每年会重复：请加上 {yyyy}{mm}",
                  "en": "{dd} without {mm} and a year: numbers would repeat every month or year; "
                        "add {yyyy}{mm}"},
    "month_alone": {"zh-CN": "有 {mm} 却没有年份，编号每年会重复：请加上 {yyyy} 或 {yy}",
                    "en": "{mm} without a year: numbers would repeat every year; add {yyyy} or {yy}"},
    "pattern_wrong": {"zh-CN": "编号规则不正确：{detail}", "en": "The pattern is not right: {detail}"},
}

# what core/numbering.py says is wrong (its ValueError), and the same in both languages
_REASONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"numbering pattern is empty"), "empty"),
    (re.compile(r"has (?P<n>\d+) sequence tokens"), "seq_count"),
    (re.compile(r": '(?P<x>.)' in .* is not allowed"), "literal"),
    (re.compile(r"bad sequence token '(?P<x>\{[^']*\})'"), "bad_seq"),
    (re.compile(r"unknown token '(?P<x>\{[^']*\})'"), "unknown_token"),
    (re.compile(r"has \{dd\} without"), "day_alone"),
    (re.compile(r"has \{mm\} without a year"), "month_alone"),
]


def _m(word: str, **params: Any) -> str:
    words = text(TEXT[word], lang())
    for name, value in params.items():          # not str.format: the texts hold the tokens' own braces
        words = words.replace("{" + name + "}", str(value))
    return words


def _admin() -> Any:
    who = actor()
    ext().service.require(who, {"admin"}, lang())
    return who


# ---- the numbering preview --------------------------------------------------------------------------------

def numbering_problem(error: ValueError) -> str:
    """core/numbering.py's refusal in the page's language."""
    said = str(error)
    for pattern, key in _REASONS:
        found = pattern.search(said)
        if found:
            return _m(key, **found.groupdict())
    return _m("pattern_wrong", detail=said[:200])


def next_numbers(pattern: str, count: int = PREVIEW_COUNT) -> tuple[list[str], list[dict[str, str]]]:
    """(the first `count` numbers a new form with this pattern issues today, in the counter's time zone,
    as core/numbering.py makes them; the problems, [] when the pattern can be used)."""
    def problem(message: str) -> tuple[list[str], list[dict[str, str]]]:
        return [], [{"path": "/settings/numbering", "code": "numbering", "message": message}]

    if len(pattern) > MAX_PATTERN:
        return problem(_m("too_long", n=len(pattern), limit=MAX_PATTERN))
    try:
        parsed = NumberPattern.parse(pattern)
    except ValueError as error:
        return problem(numbering_problem(error))
    today = clock.utcnow().astimezone(ext().service.tz)
    return [parsed.format(today, seq) for seq in range(1, count + 1)], []


@bp.post("/admin/forms/numbering-preview")
def numbering_preview() -> Any:
    _admin()
    body = json_body(("pattern",))
    pattern = body.get("pattern")
    if not isinstance(pattern, str):
        raise BadRequest(_m("pattern_text"), code="bad_pattern")
    numbers, problems = next_numbers(pattern)
    return jsonify({"numbers": numbers, "problems": problems})


# ---- the gallery ------------------------------------------------------------------------------------------

def _started_at_counter(workflow: Mapping[str, Any]) -> bool:
    initial = workflow.get("initial")
    leaving = [t for t in workflow.get("transitions", [])
               if initial in (t.get("source") if isinstance(t.get("source"), list) else [t.get("source")])]
    return bool(leaving) and all(t.get("roles") == [COUNTER_ROLE] for t in leaving)


def templates() -> dict[str, dict[str, Any]]:
    """The shipped counter forms, by key, in key order."""
    state = ext()
    found: dict[str, dict[str, Any]] = {}
    for key in sorted(state.forms):
        definition = state.forms[key]
        processes = (definition.get("settings") or {}).get("processes") or []
        first = state.workflows.get(processes[0]) if processes else None
        if isinstance(first, Mapping) and _started_at_counter(first):
            found[key] = definition
    return found


def field_count(schema: Any) -> int:
    """The places an admin fills in or groups: every declared field, sections and lists included."""
    return sum(1 for f in fields(schema) if f.parts and f.parts[-1] != "*")


def free_key(key: str) -> str:
    """`key-2`, `key-3`, … : the first that no form (in any state) uses yet."""
    store = ext().service.store
    for n in range(2, 1000):
        suffix = f"-{n}"
        candidate = key[:64 - len(suffix)] + suffix
        if store.latest_form_version(candidate) is None:
            return candidate
    return key


@bp.get("/admin/forms/templates")
def form_templates() -> Any:
    _admin()
    service = ext().service
    cards = []
    for key, definition in templates().items():
        schema = definition.get("schema") or {}
        title = text(definition.get("title"), lang())
        preview = render_fields(schema, definition.get("ui_schema") or {}, {}, [], lang(), tz=service.tz,
                                readonly=True)
        cards.append({"key": key, "title": title, "description": text(definition.get("description"), lang())
                      if definition.get("description") else "",
                      "fields": _m("fields", n=field_count(schema)), "preview": preview,
                      "preview_title": _m("preview", title=title),
                      "copy_label": _m("copy_named", title=title),
                      "copy_url": url_for("counterflow_pages.form_builder", template=key),
                      "json_url": url_for("counterflow_pages.form_template_json", key=key)})
    return render_template("counterflow/admin_form_templates.html", cards=cards,
                           words={k: _m(k) for k in ("title", "intro", "copy_link", "none", "back")})


def _not_found(key: str) -> Any:
    error = NotFound(_m("no_template", key=key[:80]), code="template_not_found")
    return jsonify(error.to_dict()), error.status


@bp.get("/admin/forms/templates/<key>.json")
def form_template_json(key: str) -> Any:
    """The template's definition under a free key, nothing else changed: the builder's start."""
    _admin()
    found = templates().get(key) if KEY.match(key) else None
    if found is None:
        return _not_found(key)
    return jsonify({**found, "key": free_key(key)})


@bp.get("/admin/forms/templates/<path:rest>")
def form_template_elsewhere(rest: str) -> Any:
    """Anything else under the gallery (`../x.json`, `a/b.json`, no `.json`): a clear 404, never a file."""
    _admin()
    return _not_found(rest)
