"""Accessible server-rendered HTML for a form's JSON Schema, ui_schema, data and problems."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import unquote

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from counterflow.core import pointer as jp
from counterflow.core.i18n import message, normalize, text
from counterflow.forms.conditions import holds
from counterflow.forms.walker import object_fields, properties, resolve, schema_type

MAX_DEPTH = 10
RADIO_MAX = 4
FILE_FORMATS = ("attachment", "data-url")
ROOT_NAME = "_root"
EXTRA_KEY = "*"

MESSAGES = {
    "required": {"zh-CN": "必填", "en": "required"},
    "summary": {"zh-CN": "{n} 项需要补正", "en": "{n} items need attention"},
    "summary_one": {"zh-CN": "1 项需要补正", "en": "1 item needs attention"},
    "row": {"zh-CN": "{label} 第 {n} 项", "en": "{label} #{n}"},
    "add_row": {"zh-CN": "添加一项", "en": "Add a row"},
    "remove_row": {"zh-CN": "删除此项", "en": "Remove this row"},
    "remove_file": {"zh-CN": "删除此文件", "en": "Remove this file"},
    "current_file": {"zh-CN": "当前文件", "en": "Current file"},
    "choose": {"zh-CN": "请选择", "en": "Choose…"},
    "yes": {"zh-CN": "是", "en": "Yes"},
    "no": {"zh-CN": "否", "en": "No"},
    "masked": {"zh-CN": "敏感信息，已脱敏显示", "en": "Sensitive: shown masked"},
    "masked_edit": {"zh-CN": "敏感信息已脱敏显示：保持不变即保留原值；如需更正，请输入完整的新内容",
                    "en": "Shown masked: leave it as it is to keep the stored value, "
                          "or type the full new value"},
    "extra": {"zh-CN": "其他字段", "en": "Other fields"},
    "json": {"zh-CN": "以 JSON 格式填写", "en": "Enter as JSON"},
    "error": {"zh-CN": "错误：", "en": "Error: "},
    "empty": {"zh-CN": "未填写", "en": "Not filled in"},
}

_env = Environment(loader=PackageLoader("counterflow.forms", "templates"), autoescape=True,
                   trim_blocks=True, lstrip_blocks=True)
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_]")
_LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
# Names posted beside the fields (by these fields and by the record page); a root field of the same
# name is posted escaped.
RESERVED_NAMES = frozenset({ROOT_NAME, "_present", "_json", "_remove", "_add_row", "_action", "csrf_token",
                            "revision"})
NAME_ESCAPE = "~"


# ---- pointers, names and ids -------------------------------------------------------------

to_pointer = jp.join


def pointer_parts(pointer: str) -> list[str]:
    """The parts of a problem's path; `"/"` (how some callers write the root) is the root too."""
    if not pointer or pointer == "/":
        return []
    return jp.split(pointer if pointer.startswith("/") else "/" + pointer)


def name_part(part: str, *, root: bool = False) -> str:
    """One part of a posted name. Field names never hold `.` (the separator), so a part is the name
    itself, except that a field named `*` (the name of an object's extra-keys box), a field whose
    name starts with the escape `~`, and a root field named as one of RESERVED_NAMES are posted as
    `~` + name. Distinct names stay distinct: only an escaped part starts with `~`."""
    if part.startswith(NAME_ESCAPE) or part == EXTRA_KEY or (root and part in RESERVED_NAMES):
        return NAME_ESCAPE + part
    return part


def input_name(parts: list[str], *, extras: bool = False) -> str:
    """The posted name of the field at `parts`: its parts (see `name_part`) joined with '.';
    with `extras`, the name of the box for the object's other keys (`parts` + `*`).
    A JSON Logic `{"var": "a.b"}` in the browser reads the field posted as `a.b`."""
    names = [name_part(p, root=i == 0) for i, p in enumerate(parts)] + ([EXTRA_KEY] if extras else [])
    return ".".join(names) if names else ROOT_NAME


def _id_segment(part: str) -> str:
    if not part:
        return "."
    return "".join(c if _SAFE_SEGMENT.match(c) else "".join(f".{b:02x}" for b in c.encode())
                   for c in part)


def field_id(pointer: str) -> str:
    """`/applicant/phone` -> `cf-f-applicant-phone`; any other character is written as its UTF-8
    bytes in hex (`alt-date` -> `cf-f-alt.2ddate`), so ids are valid, unique and need no escaping."""
    return "-".join(["cf-f", *map(_id_segment, pointer_parts(pointer))])


def encode_value(value: Any) -> str:
    """How a value travels in an HTML attribute: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# ---- laying fields out (the schema walk itself is forms/walker.py) ---------------------------

def _as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def has_extras(schema: Mapping) -> bool:
    """Whether the object takes keys beyond its properties that the form cannot lay out."""
    return bool(schema.get("patternProperties") or schema.get("propertyNames")
                or isinstance(schema.get("additionalProperties"), dict))


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _branch_const(branch: Any) -> tuple[bool, Any]:
    branch = _as_dict(branch)
    if "const" in branch:
        return True, branch["const"]
    enum = branch.get("enum")
    if isinstance(enum, list) and len(enum) == 1:
        return True, enum[0]
    return False, None


def _widget(ui: Mapping) -> str:
    widget = ui.get("ui:widget")
    return widget.lower().removesuffix("widget") if isinstance(widget, str) else ""


def choices(schema: Mapping, ui: Mapping, lang: str = "zh-CN") -> list[tuple[Any, str]] | None:
    """The (value, label) pairs a field offers, or None when it is not a choice."""
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return _order_choices(list(zip(enum, _enum_labels(schema, ui, enum, lang))), ui)
    for key in ("oneOf", "anyOf"):
        branches = _as_list(schema.get(key))
        consts = [_branch_const(b) for b in branches]
        if branches and all(ok for ok, _ in consts):
            values = [v for _, v in consts]
            labels = _enum_labels(schema, ui, values, lang, branches)
            return _order_choices(list(zip(values, labels)), ui)
    if schema_type(schema) == "boolean" and _widget(ui) in ("radio", "select"):
        return [(True, message(MESSAGES, "yes", lang)), (False, message(MESSAGES, "no", lang))]
    return None


def _enum_labels(schema: Mapping, ui: Mapping, values: list, lang: str,
                 branches: list | None = None) -> list[str]:
    titles = schema.get("x-enum-titles")
    if isinstance(titles, dict):
        picked = titles.get(lang) or titles.get("zh-CN") or titles.get("en")
        if isinstance(picked, list) and len(picked) == len(values):
            return [str(t) for t in picked]
    names = ui.get("ui:enumNames")
    if isinstance(names, list) and len(names) == len(values):
        return [str(text(n, lang)) for n in names]
    labels = []
    for i, value in enumerate(values):
        label = names.get(encode_value(value)) if isinstance(names, dict) else None
        if label is None and branches:
            label = _title(_as_dict(branches[i]), lang) or None
        labels.append(str(text(label, lang)) if label is not None else encode_value(value))
    return labels


def _order_choices(pairs: list[tuple[Any, str]], ui: Mapping) -> list[tuple[Any, str]]:
    order = ui.get("ui:enumOrder")
    if not isinstance(order, list):
        return pairs
    by_key = {encode_value(v): (v, label) for v, label in pairs}
    keys = order_names(list(by_key), [encode_value(o) if o != "*" else "*" for o in order])
    return [by_key[k] for k in keys]


def order_names(names: list[str], order: Any) -> list[str]:
    """react-jsonschema-form's `ui:order`: listed names first, `*` stands for the rest."""
    if not isinstance(order, list):
        return names
    order = [o for o in order if o == "*" or o in names]
    if "*" not in order:
        order.append("*")
    star = order.index("*")
    before, after = order[:star], [o for o in order[star + 1:] if o != "*"]
    rest = [n for n in names if n not in before and n not in after]
    return before + rest + after


def is_file(schema: Mapping) -> bool:
    return schema.get("format") in FILE_FORMATS


def kind_of(schema: Mapping, ui: Mapping, root: Mapping) -> str:
    """How a (resolved) field is laid out: object, rows, checkboxes, files, choice, boolean,
    number, file, text, hidden, note or json (anything the form cannot lay out)."""
    if _widget(ui) == "hidden":
        return "hidden"
    typ = schema_type(schema)
    if typ == "null":
        return "note"
    if typ == "object":
        return "object"
    if typ == "array":
        return _array_kind(schema, ui, root)
    if choices(schema, ui) is not None:
        return "choice"
    if typ == "boolean":
        return "boolean"
    if typ in ("integer", "number"):
        return "number"
    if typ == "string":
        return "file" if is_file(schema) else "text"
    return "json"


def _array_kind(schema: Mapping, ui: Mapping, root: Mapping) -> str:
    if not isinstance(schema.get("items"), dict):
        return "json"
    item, item_ui = resolve(schema["items"], ui.get("items"), root)
    if choices(item, item_ui) is not None and (
            schema.get("uniqueItems") or _widget(ui) in ("checkboxes", "select")):
        return "checkboxes"
    if is_file(item):
        return "files"
    return "json" if kind_of(item, item_ui, root) in ("json", "rows", "checkboxes", "files", "note") \
        else "rows"


def _title(schema: Mapping, lang: str) -> str:
    if isinstance(schema.get("x-title"), Mapping):
        return str(text(schema["x-title"], lang))
    if lang == "en" and isinstance(schema.get("x-title-en"), str):
        return schema["x-title-en"]
    return str(text(schema.get("title"), lang)) if schema.get("title") else ""


def label_of(schema: Mapping, ui: Mapping, name: str, lang: str) -> str:
    if ui.get("ui:title"):
        return str(text(ui["ui:title"], lang))
    return _title(schema, lang) or name


def _description(schema: Mapping, ui: Mapping, lang: str) -> str:
    if ui.get("ui:description"):
        return str(text(ui["ui:description"], lang))
    if lang == "en" and isinstance(schema.get("x-description-en"), str):
        return schema["x-description-en"]
    value = schema.get("description")
    return str(text(value, lang)) if isinstance(value, (str, dict)) else ""


def target_pointer(schema: Mapping, ui_schema: Mapping | None, path: str) -> tuple[str, bool]:
    """The pointer of the rendered field that shows a problem at `path`, and whether the
    field owns that path (itself or, for a single widget, anything inside it)."""
    root, ui_root = _as_dict(schema), _as_dict(ui_schema)
    node, ui = resolve(root, ui_root, root, ui_root)
    parts = pointer_parts(path)
    for depth, part in enumerate(parts):
        kind = kind_of(node, ui, root)
        here = parts[:depth]
        if kind == "object":
            props = properties(node, root)
            if part not in props:
                if has_extras(node):
                    return to_pointer(here + [EXTRA_KEY]), True
                return to_pointer(here), False
            node, ui = resolve(props[part], ui.get(part), root, ui_root)
        elif kind == "rows" and part.isdigit():
            node, ui = resolve(node["items"], ui.get("items"), root, ui_root)
        else:
            return to_pointer(here), True
    return path if parts else "", True


# ---- building the view ------------------------------------------------------------------

@dataclass
class Option:
    value: str
    label: str
    selected: bool
    id: str


@dataclass
class Node:
    kind: str
    pointer: str
    name: str
    id: str
    label: str
    required: bool = False
    desc: str = ""
    help: str = ""
    note: str = ""
    errors: list[str] = field(default_factory=list)
    show_if: str = ""
    required_if: str = ""     # x-required-if as JSON: the page marks the field required while it holds
    value: str = ""
    display: str = ""
    input_type: str = "text"
    attrs: dict[str, Any] = field(default_factory=dict)
    options: list[Option] = field(default_factory=list)
    children: list["Node"] = field(default_factory=list)
    template: "Node | None" = None
    token: str = ""
    next_index: int = 0
    addable: bool = False
    remove_pointer: str = ""
    existing: list[tuple[str, str, str]] = field(default_factory=list)
    present: bool = False
    json: bool = False
    readonly: bool = False
    placeholder: str = ""
    group: bool = False

    @property
    def describedby(self) -> str:
        ids = [f"{self.id}--{part}" for part, shown in
               (("error", self.errors), ("desc", self.desc), ("help", self.help), ("note", self.note))
               if shown]
        return " ".join(ids)


@dataclass
class _Context:
    root: dict
    ui_root: dict
    lang: str
    problems: list[Mapping]
    used: set[int]
    targets: list[tuple[str, bool]]
    sensitive_masked: bool
    view: bool
    add_rows: frozenset[str]
    tz: dt.tzinfo
    data: Any = None          # the whole form's data: what a condition reads

    def t(self, code: str, **params: Any) -> str:
        return message(MESSAGES, code, self.lang, **params)

    def take(self, pointer: str, *, leaf: bool) -> list[str]:
        found = []
        for i, problem in enumerate(self.problems):
            target, owned = self.targets[i]
            if i not in self.used and target == pointer and (owned or not leaf):
                self.used.add(i)
                found.append(str(problem.get("message") or problem.get("code") or ""))
        return found


class FieldsMarkup(Markup):
    """The fields' HTML; `unplaced_problems()` lists the problems no field could show."""

    unplaced: list[Mapping]

    def unplaced_problems(self) -> list[Mapping]:
        return list(getattr(self, "unplaced", []))


def render_fields(schema: dict, ui_schema: dict, data: Any, problems: Iterable[Mapping], lang: str, *,
                  tz: dt.tzinfo, readonly: bool = False, sensitive_masked: bool = False,
                  add_rows: Iterable[str] = ()) -> FieldsMarkup:
    """The fieldsets and fields of a form (no <form>, buttons or CSRF token). A date-time is shown
    in the counter's time zone `tz` (the `timezone` setting)."""
    ctx = _context(schema, ui_schema, problems, lang, sensitive_masked, readonly, add_rows, tz)
    ctx.data = data
    nodes = _root_nodes(ctx, data)
    module: Any = _env.get_template("_fields.html").module
    html = module.view(nodes, ctx.t("empty")) if readonly else module.fields(nodes, _labels(ctx))
    out = FieldsMarkup(html)
    out.unplaced = [p for i, p in enumerate(ctx.problems) if i not in ctx.used]
    return out


def unplaced_problems(schema: dict, ui_schema: dict, data: Any, problems: Iterable[Mapping]) -> list[Mapping]:
    """The problems `render_fields` would not show next to any field."""
    return render_fields(schema, ui_schema, data, problems, "zh-CN", tz=dt.timezone.utc).unplaced_problems()


def error_summary(problems: Iterable[Mapping], schema: dict, lang: str,
                  ui_schema: dict | None = None) -> Markup:
    """The summary of every problem, each linked to the field that shows it."""
    problems = list(problems)
    if not problems:
        return Markup("")
    lang = normalize(lang)
    items = []
    for problem in problems:
        target, _ = target_pointer(schema, ui_schema, str(problem.get("path") or ""))
        href = "#" + field_id(target) if target else ""
        items.append((href, str(problem.get("message") or problem.get("code") or "")))
    code = "summary_one" if len(problems) == 1 else "summary"
    title = message(MESSAGES, code, lang, n=len(problems))
    module: Any = _env.get_template("_fields.html").module
    return module.error_summary(title, items)


def _context(schema: dict, ui_schema: dict, problems: Iterable[Mapping], lang: str,
             sensitive_masked: bool, view: bool, add_rows: Iterable[str], tz: dt.tzinfo) -> _Context:
    problems = list(problems)
    targets = [target_pointer(schema, ui_schema, str(p.get("path") or "")) for p in problems]
    return _Context(_as_dict(schema), _as_dict(ui_schema), normalize(lang), problems, set(), targets,
                    sensitive_masked, view, frozenset(add_rows), tz)


def _labels(ctx: _Context) -> dict[str, str]:
    return {code: ctx.t(code) for code in MESSAGES if code not in ("summary", "summary_one", "row")}


def _root_nodes(ctx: _Context, data: Any) -> list[Node]:
    schema, ui = resolve(ctx.root, ctx.ui_root, ctx.root, ctx.ui_root)
    if kind_of(schema, ui, ctx.root) == "object" and (data is None or isinstance(data, dict)):
        return _object_children(schema, ui, data or {}, [], ctx, readonly=False, depth=0)
    label = label_of(schema, ui, "", ctx.lang) or ctx.t("json")
    return [_build(schema, ui, data, [], ctx, label=label, required=True, readonly=False, depth=0)]


def _object_children(schema: dict, ui: dict, data: dict, parts: list[str], ctx: _Context, *,
                     readonly: bool, depth: int) -> list[Node]:
    props = {name: (prop, required) for name, prop, required in object_fields(schema, ctx.root)}
    nodes = []
    for name in order_names(list(props), ui.get("ui:order")):
        prop, required = props[name]
        child_schema, child_ui = resolve(prop, ui.get(name), ctx.root, ctx.ui_root)
        label = label_of(child_schema, child_ui, name, ctx.lang)
        nodes.append(_build(child_schema, child_ui, data.get(name), parts + [name], ctx, label=label,
                            required=required, readonly=readonly, depth=depth + 1))
    extra = {k: v for k, v in data.items() if k not in props}
    if has_extras(schema) or (extra and schema.get("additionalProperties") is not False):
        nodes.append(_extras_node(extra, parts, ctx, readonly))
    return nodes


def _extras_node(extra: dict, parts: list[str], ctx: _Context, readonly: bool) -> Node:
    pointer = to_pointer(parts + [EXTRA_KEY])
    node = Node(kind="json", pointer=pointer, name=input_name(parts, extras=True), id=field_id(pointer),
                label=ctx.t("extra"))
    node = _json_node(extra or None, parts + [EXTRA_KEY], ctx, ctx.t("extra"), readonly, node)
    node.json = False  # the "*" key is always JSON, no marker needed
    prefix = to_pointer(parts) + "/"
    for i, problem in enumerate(ctx.problems):
        if i not in ctx.used and ctx.targets[i][0] == node.pointer \
                and str(problem.get("path")).startswith(prefix):
            ctx.used.add(i)
            node.errors.append(str(problem.get("message") or problem.get("code") or ""))
    return node


def _fits(kind: str, data: Any) -> bool:
    if data is None:
        return True
    if kind == "object":
        return isinstance(data, dict)
    if kind in ("rows", "checkboxes", "files"):
        return isinstance(data, list)
    if kind == "boolean":
        return isinstance(data, bool)
    return not isinstance(data, (dict, list)) or kind in ("choice", "json", "hidden", "note")


def _build(schema: dict, ui: dict, data: Any, parts: list[str], ctx: _Context, *, label: str,
           required: bool, readonly: bool, depth: int) -> Node:
    kind = kind_of(schema, ui, ctx.root) if depth < MAX_DEPTH else "json"
    if data is None and "const" in schema:
        data = schema["const"]
    if not _fits(kind, data):
        kind = "json"
    readonly = bool(readonly or schema.get("readOnly") is True or "const" in schema
                    or ui.get("ui:readonly") or ui.get("ui:disabled"))
    pointer = to_pointer(parts)
    node = Node(kind=kind, pointer=pointer, name=input_name(parts), id=field_id(pointer), label=label,
                required=required, desc=_description(schema, ui, ctx.lang),
                help=str(text(ui.get("ui:help"), ctx.lang)), readonly=readonly)
    node.errors = ctx.take(pointer, leaf=kind not in ("object", "rows"))
    options = _as_dict(ui.get("ui:options"))
    show_if = options.get("show_if", schema.get("x-show-if"))
    if show_if is not None:
        node.show_if = json.dumps(show_if, ensure_ascii=False, separators=(",", ":"))
    required_if = schema.get("x-required-if")
    if isinstance(required_if, dict) and not required:
        # required while the rule holds on the data as it is now; counterflow.js follows it live
        node.required_if = json.dumps(required_if, ensure_ascii=False, separators=(",", ":"))
        node.required = holds(required_if, ctx.data) and _rows_filled(ctx.data, parts)
    if schema.get("x-sensitive") and ctx.sensitive_masked and kind not in ("object", "rows"):
        return _masked(node, data, ctx)
    built = _BUILDERS[kind](node, schema, ui, data, parts, ctx, depth)
    if schema.get("x-sensitive") and isinstance(data, str) and data and not (ctx.view or built.readonly):
        built.note = ctx.t("masked_edit")  # the value shown is masked; posting it back keeps the original
    return built


def _rows_filled(data: Any, parts: list[str]) -> bool:
    """Whether every row of a list that the field at `parts` sits in holds something: a blank row is not
    posted, so nothing in it is required (a new row, and the blank row of a new list, hold nothing)."""
    for part in parts:
        if isinstance(data, list):
            if not part.isdigit() or int(part) >= len(data):
                return False
            data = data[int(part)]
            if data is None or (isinstance(data, (str, list, dict)) and not data):
                return False
        elif isinstance(data, dict):
            data = data.get(part)
        elif part.isdigit() or part.startswith("__i"):
            return False      # a row of a list that is not there
    return True


def _masked(node: Node, data: Any, ctx: _Context) -> Node:
    node.kind, node.note, node.readonly = "masked", ctx.t("masked"), True
    node.value = node.display = encode_value(data)
    node.attrs = _input_attrs(node, {"type": "text", "readonly": True, "value": node.value})
    return node


def _input_attrs(node: Node, extra: Mapping[str, Any], *, named: bool = True) -> dict[str, Any]:
    attrs: dict[str, Any] = {"id": node.id}
    if named and not node.readonly:
        attrs["name"] = node.name
    attrs.update(extra)
    if node.describedby:
        attrs["aria-describedby"] = node.describedby
    if node.errors:
        attrs["aria-invalid"] = "true"
    if node.required and extra.get("type") not in ("checkbox", "radio", "file"):
        attrs["aria-required"] = "true"
    return attrs


def _build_object(node: Node, schema: dict, ui: dict, data: Any, parts: list[str], ctx: _Context,
                  depth: int) -> Node:
    node.children = _object_children(schema, ui, data or {}, parts, ctx, readonly=node.readonly, depth=depth)
    return node


def _build_rows(node: Node, schema: dict, ui: dict, data: Any, parts: list[str], ctx: _Context,
                depth: int) -> Node:
    item, item_ui = resolve(schema["items"], ui.get("items"), ctx.root, ctx.ui_root)
    options = _as_dict(ui.get("ui:options"))
    rows = list(data or [])
    editable = not node.readonly and not ctx.view
    node.addable = editable and options.get("addable", True) is not False
    removable = editable and options.get("removable", True) is not False
    # one blank row to type into: on a new list, or when the clerk asked for one (the no-JS "add" button)
    blanks = (1 if not rows or node.pointer in ctx.add_rows else 0) if node.addable else 0
    item_label = node.label
    for index, value in enumerate(rows + [None] * blanks):
        node.children.append(_row(item, item_ui, value, parts + [str(index)], ctx, item_label,
                                  str(index + 1), readonly=node.readonly, removable=removable, depth=depth))
    node.next_index = len(node.children)
    if node.addable:
        level = sum(p.startswith("__i") or p.isdigit() for p in parts) + 1
        node.token = f"__i{level}__"
        node.template = _row(item, item_ui, None, parts + [node.token], ctx, item_label, f"__n{level}__",
                             readonly=False, removable=removable, depth=depth)
    return node


def _row(item: dict, item_ui: dict, value: Any, parts: list[str], ctx: _Context, label: str,
         number: str, *, readonly: bool, removable: bool, depth: int) -> Node:
    row_label = ctx.t("row", label=label, n=number)
    child = _build(item, item_ui, value, parts, ctx, label=row_label, required=False,
                   readonly=readonly, depth=depth + 1)
    row = Node(kind="row", pointer=child.pointer, name=child.name, id=child.id + "--row", label=row_label,
               readonly=readonly)
    if child.kind == "object":
        row.children, row.errors, row.id, row.group = child.children, child.errors, child.id, True
    else:
        child.label = row_label
        row.children = [child]
    row.remove_pointer = child.pointer if removable else ""
    return row


def _build_checkboxes(node: Node, schema: dict, ui: dict, data: Any, parts: list[str], ctx: _Context,
                      depth: int) -> Node:
    item, item_ui = resolve(schema["items"], ui.get("items"), ctx.root, ctx.ui_root)
    chosen = {encode_value(v) for v in data or []}
    pairs = choices(item, {**item_ui, **{k: v for k, v in ui.items() if k.startswith("ui:enum")}},
                    ctx.lang) or []
    _set_options(node, pairs, chosen, data or [])
    node.present = True
    node.attrs = {"data-cf-type": _cf_type(item, pairs)}
    return node


def _set_options(node: Node, pairs: list[tuple[Any, str]], chosen: set[str], values: list) -> None:
    known = {encode_value(v) for v, _ in pairs}
    pairs = pairs + [(v, encode_value(v)) for v in values if encode_value(v) not in known]
    for i, (value, label) in enumerate(pairs):
        key = encode_value(value)
        node.options.append(Option(key, label, key in chosen, node.id if i == 0 else f"{node.id}--{i}"))
    node.display = "、".join(o.label for o in node.options if o.selected) if node.options else ""


def _cf_type(schema: Mapping, pairs: list[tuple[Any, str]]) -> str:
    if pairs and all(isinstance(v, str) for v, _ in pairs):
        return "string"
    typ = schema_type(schema)
    return typ if typ in ("integer", "number", "boolean") and not pairs else "json"


def _build_choice(node: Node, schema: dict, ui: dict, data: Any, parts: list[str], ctx: _Context,
                  depth: int) -> Node:
    pairs = choices(schema, ui, ctx.lang) or []
    chosen = {encode_value(data)} if data is not None else set()
    _set_options(node, pairs, chosen, [data] if data is not None else [])
    widget = _widget(ui)
    radio = widget == "radio" or (widget != "select" and len(pairs) <= RADIO_MAX)
    cf_type = _cf_type(schema, pairs)
    if node.readonly:
        return _readonly(node, data, ctx)
    if radio:
        node.kind = "radio"
        node.attrs = {"data-cf-type": cf_type}
    else:
        node.kind = "select"
        node.attrs = _input_attrs(node, {"data-cf-type": cf_type})
        node.placeholder = str(text(ui.get("ui:placeholder"), ctx.lang)) or ctx.t("choose")
    return node


def _build_boolean(node: Node, schema: dict, ui: dict, data: Any, parts: list[str], ctx: _Context,
                   depth: int) -> Node:
    node.display = ctx.t("yes") if data else ctx.t("no") if data is False else ""
    if node.readonly:
        return _readonly(node, data, ctx, display=node.display)
    node.kind, node.present = "checkbox", True
    extra = {"type": "checkbox", "value": "true", "checked": True if data else None,
             "data-cf-type": "boolean"}
    node.attrs = _input_attrs(node, extra)
    return node


def _readonly(node: Node, data: Any, ctx: _Context, display: str | None = None) -> Node:
    node.kind = "readonly"
    node.value = encode_value(data)
    node.display = display if display is not None else (node.display or node.value)
    node.attrs = _input_attrs(node, {"type": "text", "readonly": True, "value": node.display})
    return node


def _build_number(node: Node, schema: dict, ui: dict, data: Any, parts: list[str], ctx: _Context,
                  depth: int) -> Node:
    typ = schema_type(schema)
    node.value = node.display = encode_value(data)
    if node.readonly:
        return _readonly(node, data, ctx)
    numeric = data is None or (isinstance(data, (int, float)) and not isinstance(data, bool))
    extra: dict[str, Any] = {"type": "number" if numeric else "text", "inputmode": "decimal",
                             "value": node.value, "data-cf-type": typ}
    if numeric:
        extra.update({"min": _num(schema.get("minimum")), "max": _num(schema.get("maximum")),
                      "step": _num(schema.get("multipleOf")) or ("1" if typ == "integer" else "any")})
    if typ == "integer":
        extra["inputmode"] = "numeric"
    extra["placeholder"] = str(text(ui.get("ui:placeholder"), ctx.lang)) or None
    node.kind = "input"
    node.attrs = _input_attrs(node, extra)
    return node


def _num(value: Any) -> str | None:
    return encode_value(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


_FORMAT_TYPES = {"email": "email", "date": "date", "date-time": "datetime-local", "time": "time",
                 "uri": "url", "url": "url"}
_WIDGET_TYPES = {"email": "email", "date": "date", "datetime": "datetime-local", "time": "time",
                 "uri": "url", "url": "url", "tel": "tel", "password": "password", "color": "color"}
_TYPE_PATTERNS = {"date": _DATE, "time": _TIME, "datetime-local": _LOCAL_DATETIME}


def _build_text(node: Node, schema: dict, ui: dict, data: Any, parts: list[str], ctx: _Context,
                depth: int) -> Node:
    value = encode_value(data)
    node.display = value
    if node.readonly:
        return _readonly(node, data, ctx)
    widget, options = _widget(ui), _as_dict(ui.get("ui:options"))
    sensitive = schema.get("x-sensitive")
    extra: dict[str, Any] = {"placeholder": str(text(ui.get("ui:placeholder"), ctx.lang)) or None}
    if isinstance(schema.get("maxLength"), int):
        extra["maxlength"] = schema["maxLength"]
    if isinstance(ui.get("ui:autocomplete"), str):
        extra["autocomplete"] = ui["ui:autocomplete"]
    if widget == "textarea":
        node.kind, node.value = "textarea", value
        extra["rows"] = options.get("rows") if isinstance(options.get("rows"), int) else None
        node.attrs = _input_attrs(node, extra)
        return node
    input_type = _WIDGET_TYPES.get(widget) or _FORMAT_TYPES.get(str(schema.get("format"))) or "text"
    if options.get("inputType") in ("tel", "email", "url", "text", "date", "time", "password"):
        input_type = options["inputType"]
    offset = ""
    if input_type == "datetime-local" and value:
        value, offset = _local_datetime(value, ctx.tz)
    if sensitive == "phone" or input_type == "tel":
        input_type = "tel"
        extra.update(inputmode="tel", autocomplete="off" if sensitive else extra.get("autocomplete", "tel"))
    elif sensitive == "id_number":
        extra.update(inputmode="text", maxlength=extra.get("maxlength", 18), autocomplete="off",
                     spellcheck="false", autocapitalize="characters")
    elif sensitive:
        extra["autocomplete"] = "off"
    pattern = _TYPE_PATTERNS.get(input_type)
    if value and pattern and not pattern.match(value):
        input_type = "text"  # a browser would drop a value its date picker cannot show
    extra.update({"type": input_type, "value": value})
    if input_type == "datetime-local" and offset:
        extra["data-cf-offset"] = offset
    node.kind, node.value = "input", value
    node.attrs = _input_attrs(node, extra)
    return node


def _local_datetime(value: str, tz: dt.tzinfo) -> tuple[str, str]:
    """A stored date-time as the counter's wall-clock time (what a datetime-local input shows) and
    that moment's UTC offset in `tz`; a value without an offset, or not a date-time, is left as it is."""
    try:
        when = dt.datetime.fromisoformat(value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value)
    except ValueError:
        return value, ""
    if when.tzinfo is None:
        return value, ""
    local = when.astimezone(tz)
    shown = local.replace(tzinfo=None).isoformat(timespec="microseconds" if local.microsecond else "seconds")
    offset = local.strftime("%z")
    return shown, f"{offset[:3]}:{offset[3:5]}"


def _build_file(node: Node, schema: dict, ui: dict, data: Any, parts: list[str], ctx: _Context,
                depth: int) -> Node:
    values = data if isinstance(data, list) else [data] if data is not None else []
    multiple = node.kind == "files"
    for i, value in enumerate(values):
        remove = to_pointer(parts + [str(i)]) if multiple else node.pointer
        node.existing.append((encode_value(value), _file_label(value), remove))
    node.display = "、".join(label for _, label, _ in node.existing)
    accept = _as_dict(ui.get("ui:options")).get("accept")
    extra = {"type": "file", "accept": accept if isinstance(accept, str) else None,
             "multiple": multiple or None}
    node.kind = "file"
    node.attrs = _input_attrs(node, extra)
    if node.readonly:
        node.attrs.pop("name", None)
        node.attrs["disabled"] = True
    return node


def _file_label(value: Any) -> str:
    if isinstance(value, str) and value.startswith("data:"):
        match = re.search(r";name=([^;,]*)", value)
        return unquote(match.group(1)) if match else value.split(";", 1)[0][5:]
    return encode_value(value)


def _build_hidden(node: Node, schema: dict, ui: dict, data: Any, parts: list[str], ctx: _Context,
                  depth: int) -> Node:
    node.value = encode_value(data)
    node.json = isinstance(data, (dict, list))
    return node


def _build_note(node: Node, schema: dict, ui: dict, data: Any, parts: list[str], ctx: _Context,
                depth: int) -> Node:
    return node


def _build_json(node: Node, schema: dict, ui: dict, data: Any, parts: list[str], ctx: _Context,
                depth: int) -> Node:
    return _json_node(data, parts, ctx, node.label, node.readonly, node)


def _json_node(data: Any, parts: list[str], ctx: _Context, label: str, readonly: bool,
               node: Node | None = None) -> Node:
    pointer = to_pointer(parts)
    if node is None:
        node = Node(kind="json", pointer=pointer, name=input_name(parts), id=field_id(pointer), label=label)
    node.kind, node.json, node.readonly = "json", True, readonly
    node.value = node.display = "" if data is None else json.dumps(data, ensure_ascii=False, indent=2)
    node.note = ctx.t("json")
    extra = {"data-json": "", "rows": min(12, max(3, node.value.count("\n") + 1)), "spellcheck": "false",
             "readonly": True if readonly else None}
    node.attrs = _input_attrs(node, extra, named=True)
    if readonly:
        node.attrs["name"] = node.name
    return node


_BUILDERS = {"object": _build_object, "rows": _build_rows, "checkboxes": _build_checkboxes,
             "files": _build_file, "file": _build_file, "choice": _build_choice,
             "boolean": _build_boolean, "number": _build_number, "text": _build_text,
             "hidden": _build_hidden, "note": _build_note, "json": _build_json}
