"""What changed between two versions of a definition, field by field, for the people who approve it.

Pure: two definitions in, a list of changes out. Each change is one place, named by a JSON pointer, that was
added, removed or changed, with every aspect that changed there and a sentence in both languages:

- a **form**: each field by its data pointer (`/applicant/phone`, `*` for the elements of a list), with its
  rules (type, required, conditions, pattern, lengths, range, options and their labels, format,
  `x-sensitive`, `x-material`, `x-visible-to`, default, any other keyword), its labels and help in both
  languages, and its layout (`ui_schema`: order, widget, options, ...); the form's own `title` and
  `description` (`/title`, `/description`) and its root object (`""`: top-level order, rules across
  fields); each setting (`/settings/numbering`, ...);
- a **workflow**: its top-level keys (`/initial`, `/title`, ...), each state (`/states/<name>`: title,
  deadline, clock, approval block, field rights, flags) and each transition by trigger and source
  (`/transitions/<trigger>/<source+source>`: roles, guards, actions, requires, opinion, destination, ...).

A change: `{"kind": "added"|"removed"|"changed", "path", "area": "field"|"form"|"settings"|"state"|
"transition"|"workflow", "label": {"zh-CN","en"}, "aspects": [{"aspect", "group", "old", "new", "message"}],
"message": {"zh-CN","en"}}`. The same definition twice gives no change.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterator, Mapping

from counterflow.core import pointer as jp

Text = dict[str, str]
Change = dict[str, Any]
LANGS = ("zh-CN", "en")
MAX_SHOWN = 120                   # characters of a value quoted in a sentence
MAX_DEPTH = 32                    # nesting of fields walked (a definition is checked to at most 32 levels)

# keywords that hold other fields or other places: walked, never compared as a field's own rule
_STRUCTURE = frozenset({"properties", "items", "prefixItems", "additionalItems", "$ref", "$defs",
                        "definitions", "required", "patternProperties", "$schema", "$id", "$anchor",
                        "$comment"})
# JSON Schema combinators on an object: compared as the object's "conditional rules"
_CONDITIONAL = ("allOf", "anyOf", "oneOf", "if", "then", "else", "dependencies", "dependentSchemas",
                "dependentRequired")

# (group, zh-CN, en) for each aspect a reviewer reads
ASPECTS: dict[str, tuple[str, str, str]] = {
    "type": ("rule", "类型", "type"),
    "required": ("rule", "必填", "required"),
    "x-required-if": ("rule", "必填条件", "required when"),
    "x-show-if": ("rule", "显示条件", "shown when"),
    "pattern": ("rule", "格式规则（正则表达式）", "pattern"),
    "minLength": ("rule", "最短长度", "minimum length"),
    "maxLength": ("rule", "最长长度", "maximum length"),
    "minimum": ("rule", "最小值", "minimum"),
    "maximum": ("rule", "最大值", "maximum"),
    "exclusiveMinimum": ("rule", "最小值（不含）", "exclusive minimum"),
    "exclusiveMaximum": ("rule", "最大值（不含）", "exclusive maximum"),
    "multipleOf": ("rule", "倍数", "multiple of"),
    "minItems": ("rule", "最少项数", "minimum items"),
    "maxItems": ("rule", "最多项数", "maximum items"),
    "uniqueItems": ("rule", "不可重复", "unique items"),
    "enum": ("rule", "选项", "options"),
    "const": ("rule", "固定值", "constant"),
    "x-enum-titles": ("label", "选项名称", "option labels"),
    "format": ("rule", "格式", "format"),
    "x-sensitive": ("rule", "敏感信息", "sensitive"),
    "x-material": ("rule", "申请材料", "material"),
    "x-visible-to": ("rule", "可查看的角色", "visible to"),
    "x-notify": ("rule", "通知方式", "notify"),
    "default": ("rule", "默认值", "default"),
    "additionalProperties": ("rule", "其他字段", "additional properties"),
    "conditions": ("rule", "条件规则（if/then 等）", "conditional rules (if/then, ...)"),
    "title": ("label", "中文标签", "Chinese label"),
    "x-title-en": ("label", "英文标签", "English label"),
    "x-title": ("label", "标签", "label"),
    "description": ("label", "中文说明", "Chinese help"),
    "x-description-en": ("label", "英文说明", "English help"),
    "ui:order": ("layout", "字段顺序", "field order"),
    "ui:widget": ("layout", "控件", "widget"),
    "ui:options": ("layout", "控件选项", "widget options"),
    "ui:help": ("layout", "帮助文字", "help text"),
    "ui:placeholder": ("layout", "占位提示", "placeholder"),
    "ui:title": ("layout", "显示标签", "shown label"),
    "ui:description": ("layout", "显示说明", "shown description"),
    "ui:enumNames": ("layout", "选项显示名称", "option names shown"),
    "ui:enumOrder": ("layout", "选项顺序", "option order"),
    "ui:readonly": ("layout", "只读", "read only"),
    "ui:disabled": ("layout", "禁用", "disabled"),
    "ui:autocomplete": ("layout", "自动填充", "autocomplete"),
    # settings
    "processes": ("settings", "办理流程", "processes"),
    "numbering": ("settings", "受理编号规则", "numbering"),
    "time_limit": ("settings", "办结时限", "time limit"),
    "retention": ("settings", "保管期限", "retention"),
    "review": ("settings", "二级审核规则", "second-level review rule"),
    "purpose": ("settings", "收集目的", "purpose of collection"),
    "contact": ("settings", "联系方式", "contact"),
    # workflows
    "initial": ("workflow", "初始状态", "initial state"),
    "subject": ("workflow", "处理对象", "subject"),
    "deadline": ("state", "时限", "deadline"),
    "clock": ("state", "计时", "clock"),
    "approval": ("state", "审批环节", "approval step"),
    "fields": ("state", "字段权限", "field rights"),
    "timeout": ("state", "超时处理", "timeout"),
    "final": ("state", "结束状态", "final"),
    "ends_record": ("state", "结束业务单", "ends the record"),
    "editable": ("state", "可编辑", "editable"),
    "read_only": ("state", "只读", "read only"),
    "reading": ("state", "查阅限制", "reading"),
    "roles": ("transition", "角色", "roles"),
    "guards": ("transition", "检查条件", "guards"),
    "actions": ("transition", "动作", "actions"),
    "requires": ("transition", "必填输入", "required inputs"),
    "asks": ("transition", "可选输入", "optional inputs"),
    "opinion": ("transition", "意见", "opinion"),
    "dest": ("transition", "目标状态", "destination"),
    "source": ("transition", "起始状态", "source states"),
    "branch": ("transition", "分支", "branch"),
    "duty": ("transition", "职责", "duty"),
    "separate_from": ("transition", "职责分离", "separate from"),
}
WHERE = {
    "field": ("字段", "field"), "form": ("表单", "form"), "settings": ("设置", "setting"),
    "state": ("状态", "state"), "transition": ("流转", "transition"), "workflow": ("流程", "workflow"),
}


def _aspect_words(aspect: str) -> tuple[str, str, str]:
    if aspect in ASPECTS:
        return ASPECTS[aspect]
    group = "layout" if aspect.startswith("ui:") else "rule"
    return group, f"「{aspect}」", f"'{aspect}'"


def shown(value: Any) -> str:
    """A value as a sentence quotes it: compact JSON, clipped."""
    if isinstance(value, str):
        found = value
    else:
        found = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return found if len(found) <= MAX_SHOWN else found[:MAX_SHOWN - 1] + "…"


def _options_sentence(old: Any, new: Any) -> Text | None:
    if not (isinstance(old, list) and isinstance(new, list)):
        return None
    added = [v for v in new if v not in old]
    gone = [v for v in old if v not in new]
    zh, en = [], []
    if added:
        zh.append("新增选项 " + "、".join(shown(v) for v in added))
        en.append("options added: " + ", ".join(shown(v) for v in added))
    if gone:
        zh.append("删除选项 " + "、".join(shown(v) for v in gone))
        en.append("options removed: " + ", ".join(shown(v) for v in gone))
    if not added and not gone:
        zh.append("选项顺序改变")
        en.append("options reordered")
    return {"zh-CN": "；".join(zh), "en": "; ".join(en)}


def aspect_sentence(aspect: str, old: Any, new: Any) -> Text:
    """One aspect's change in both languages (`None` for old or new: not set before or after)."""
    _, zh, en = _aspect_words(aspect)
    if aspect == "required":
        return ({"zh-CN": "改为必填", "en": "now required"} if new else
                {"zh-CN": "改为非必填", "en": "no longer required"})
    if aspect == "x-sensitive":
        if new and not old:
            return {"zh-CN": f"标记为敏感信息（{shown(new)}）", "en": f"now sensitive ({shown(new)})"}
        if old and not new:
            return {"zh-CN": "不再标记为敏感信息", "en": "no longer sensitive"}
    if aspect == "x-material":
        if new and not old:
            return {"zh-CN": "改为必交材料", "en": "now a required material"}
        if old and not new:
            return {"zh-CN": "不再是必交材料", "en": "no longer a required material"}
    if aspect == "enum" and old is not None and new is not None:
        found = _options_sentence(old, new)
        if found:
            return found
    if old is None:
        return {"zh-CN": f"新增{zh}：{shown(new)}", "en": f"{en} set: {shown(new)}"}
    if new is None:
        return {"zh-CN": f"删除{zh}（原为 {shown(old)}）", "en": f"{en} removed (was {shown(old)})"}
    return {"zh-CN": f"{zh}：{shown(old)} → {shown(new)}", "en": f"{en}: {shown(old)} → {shown(new)}"}


def _aspects(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name in list(old) + [k for k in new if k not in old]:
        before, after = old.get(name), new.get(name)
        if _same(before, after):
            continue
        out.append({"aspect": name, "group": _aspect_words(name)[0], "old": before, "new": after,
                    "message": aspect_sentence(name, before, after)})
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON: 1 and 1.0 alike, true and 1 not."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _change(kind: str, path: str, area: str, label: Text, aspects: list[dict[str, Any]]) -> Change:
    where_zh, where_en = WHERE[area]
    name_zh = f"{where_zh}「{label['zh-CN']}」" if label.get("zh-CN") else where_zh
    name_en = f"{where_en} '{label['en']}'" if label.get("en") else where_en
    name_en = name_en[:1].upper() + name_en[1:]
    at = f" ({path})" if path else ""
    if kind == "added":
        message = {"zh-CN": f"新增{name_zh}{at}", "en": f"{name_en} added{at}"}
    elif kind == "removed":
        message = {"zh-CN": f"删除{name_zh}{at}", "en": f"{name_en} removed{at}"}
    else:
        message = {"zh-CN": f"{name_zh}{at}：" + "；".join(a["message"]["zh-CN"] for a in aspects),
                   "en": f"{name_en}{at}: " + "; ".join(a["message"]["en"] for a in aspects)}
    return {"kind": kind, "path": path, "area": area, "label": label, "aspects": aspects, "message": message}


def _compare(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]], area: str,
             labels: Mapping[str, Text]) -> Iterator[Change]:
    """Places present in either map (path -> facets): added, removed, or changed in their facets."""
    for path in list(old) + [p for p in new if p not in old]:
        label = labels.get(path) or {}
        if path not in new:
            yield _change("removed", path, area, label, _aspects(old[path], {}))
        elif path not in old:
            yield _change("added", path, area, label, _aspects({}, new[path]))
        else:
            aspects = _aspects(old[path], new[path])
            if aspects:
                yield _change("changed", path, area, label, aspects)


# -- forms ----------------------------------------------------------------------------------------

def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _resolve(node: Any, root: Mapping[str, Any]) -> dict[str, Any]:
    """A local `$ref` followed (its siblings win) and `allOf` members' own keywords merged in."""
    node, seen = _d(node), set()
    while isinstance(node.get("$ref"), str) and node["$ref"] not in seen and node["$ref"].startswith("#/"):
        seen.add(node["$ref"])
        target: Any = root
        for part in jp.split(node["$ref"][1:]):
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            break
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _properties(node: Mapping[str, Any], root: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """An object's fields (its `properties`, those of `allOf` members, then those only conditional branches
    declare) and the names it always requires."""
    props = dict(_d(node.get("properties")))
    required = {n for n in node.get("required") or () if isinstance(n, str)}
    for member in node.get("allOf") or ():
        member = _resolve(member, root)
        for name, sub in _d(member.get("properties")).items():
            props.setdefault(name, sub)
        required |= {n for n in member.get("required") or () if isinstance(n, str)}
    branches = [node.get("then"), node.get("else"), *(node.get("anyOf") or ()), *(node.get("oneOf") or ())]
    branches += [m.get(k) for m in node.get("allOf") or () if isinstance(m, dict) for k in ("then", "else")]
    branches += list(_d(node.get("dependentSchemas")).values())
    for branch in branches:
        for name, sub in _d(_resolve(branch, root).get("properties")).items():
            props.setdefault(name, sub)
    return props, required


def _label(node: Mapping[str, Any], name: str) -> Text:
    if isinstance(node.get("x-title"), dict):
        return {lang: str(node["x-title"].get(lang) or name) for lang in LANGS}
    zh = str(node["title"]) if isinstance(node.get("title"), str) else name
    en = str(node["x-title-en"]) if isinstance(node.get("x-title-en"), str) else zh
    return {"zh-CN": zh, "en": en}


def form_fields(definition: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Text]]:
    """Every field of a form definition by its data pointer: its facets (own keywords, `required`, its
    conditional rules, its `ui_schema` keys) and its label."""
    root = _d(definition.get("schema"))
    facets: dict[str, dict[str, Any]] = {}
    labels: dict[str, Text] = {}

    def walk(node: Any, ui: Any, parts: list[str], required: bool, depth: int) -> None:
        node, ui = _resolve(node, root), _d(ui)
        path = jp.join(parts)
        own = {k: v for k, v in node.items() if k not in _STRUCTURE and k not in _CONDITIONAL}
        if parts:
            own["required"] = required
        conditions = {k: node[k] for k in _CONDITIONAL if k in node}
        if conditions:
            own["conditions"] = conditions
        own.update({k: v for k, v in ui.items() if k.startswith("ui:")})
        facets[path] = own
        labels[path] = _label(node, parts[-1] if parts else "")
        if depth >= MAX_DEPTH:
            return
        props, always = _properties(node, root)
        for name, sub in props.items():
            walk(sub, ui.get(name), [*parts, name], name in always, depth + 1)
        items = node.get("items")
        if isinstance(items, dict):
            walk(items, ui.get("items"), [*parts, jp.WILDCARD], False, depth + 1)

    walk(root, definition.get("ui_schema"), [], False, 0)
    if facets[""].get("type") == "object":           # every form's root is an object
        del facets[""]["type"]
    return facets, labels


def diff_forms(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """The changes from form definition `old` to `new`: the form's title and description, each field, each
    setting."""
    changes: list[Change] = []
    for key, zh, en in (("title", "标题", "title"), ("description", "说明", "description")):
        before, after = old.get(key) or None, new.get(key) or None
        if not _same(before, after):
            aspects = _aspects({key: before} if before is not None else {},
                               {key: after} if after is not None else {})
            for aspect in aspects:
                aspect["group"] = "label"
                aspect["message"] = _form_text_sentence(zh, en, before, after)
            changes.append(_change("changed", f"/{key}", "form", {"zh-CN": zh, "en": en}, aspects))
    before_fields, before_labels = form_fields(old)
    after_fields, after_labels = form_fields(new)
    whole = {"zh-CN": "整体（根对象）", "en": "as a whole (its root object)"}
    changes += _compare({"": before_fields.pop("")}, {"": after_fields.pop("")}, "form", {"": whole})
    changes += _compare(before_fields, after_fields, "field", {**before_labels, **after_labels})
    old_settings, new_settings = _d(old.get("settings")), _d(new.get("settings"))
    for name in list(old_settings) + [k for k in new_settings if k not in old_settings]:
        before, after = old_settings.get(name), new_settings.get(name)
        if _same(before, after):
            continue
        _, zh, en = _aspect_words(name)
        kind = "added" if name not in old_settings else "removed" if name not in new_settings else "changed"
        aspect = {"aspect": name, "group": "settings", "old": before, "new": after,
                  "message": _settings_sentence(name, before, after)}
        change = _change("changed", jp.join(["settings", name]), "settings", {"zh-CN": zh, "en": en},
                         [aspect])
        change["kind"] = kind
        changes.append(change)
    return changes


def _form_text_sentence(zh: str, en: str, before: Any, after: Any) -> Text:
    def each(value: Any, lang: str) -> str:
        return shown(value.get(lang, "")) if isinstance(value, dict) else shown(value or "")
    return {"zh-CN": f"{zh}：{each(before, 'zh-CN')} → {each(after, 'zh-CN')}",
            "en": f"{en}: {each(before, 'en')} → {each(after, 'en')}"}


def _settings_sentence(name: str, before: Any, after: Any) -> Text:
    if name == "processes":
        found = _options_sentence(before or [], after or [])
        if found:
            return {"zh-CN": found["zh-CN"].replace("选项", "流程"),
                    "en": found["en"].replace("options", "processes")}
    if name == "time_limit" and isinstance(before, dict) and isinstance(after, dict):
        return {"zh-CN": f"办结时限：{before.get('working_days')} → {after.get('working_days')} 个工作日",
                "en": f"time limit: {before.get('working_days')} → {after.get('working_days')} working days"}
    if name == "retention" and isinstance(before, dict) and isinstance(after, dict):
        return {"zh-CN": f"保管期限：{before.get('years')} → {after.get('years')} 年",
                "en": f"retention: {before.get('years')} → {after.get('years')} years"}
    return aspect_sentence(name, before, after)


# -- workflows ------------------------------------------------------------------------------------------

def _title_of(value: Any, fallback: str) -> Text:
    if isinstance(value, dict):
        return {lang: str(value.get(lang) or value.get("zh-CN") or fallback) for lang in LANGS}
    if isinstance(value, str):
        return {lang: value for lang in LANGS}
    return {lang: fallback for lang in LANGS}


def _sources(transition: Mapping[str, Any]) -> list[str]:
    source = transition.get("source")
    items = source if isinstance(source, list) else [source]
    return sorted(str(s) for s in items if s is not None)


def transition_path(transition: Mapping[str, Any]) -> str:
    """A transition's place: its trigger and its source states (`/transitions/return/draft+submitted`)."""
    return jp.join(["transitions", str(transition.get("trigger")), "+".join(_sources(transition))])


def diff_workflows(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """The changes from workflow definition `old` to `new`: its own keys, each state by name, each transition
    by trigger and source (one whose sources changed, the only one with its trigger on each side, is changed
    rather than removed and added)."""
    changes: list[Change] = []
    top_old = {k: v for k, v in old.items() if k not in ("states", "transitions")}
    top_new = {k: v for k, v in new.items() if k not in ("states", "transitions")}
    for name in list(top_old) + [k for k in top_new if k not in top_old]:
        before, after = top_old.get(name), top_new.get(name)
        if _same(before, after):
            continue
        _, zh, en = _aspect_words(name)
        kind = "added" if name not in top_old else "removed" if name not in top_new else "changed"
        change = _change("changed", jp.join([name]), "workflow", {"zh-CN": zh, "en": en},
                         _aspects({name: before} if name in top_old else {},
                                  {name: after} if name in top_new else {}))
        change["kind"] = kind
        changes.append(change)

    def states(definition: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Text]]:
        found, labels = {}, {}
        for state in definition.get("states") or ():
            if isinstance(state, dict) and isinstance(state.get("name"), str):
                path = jp.join(["states", state["name"]])
                found[path] = {k: v for k, v in state.items() if k != "name"}
                labels[path] = _title_of(state.get("title"), state["name"])
        return found, labels

    old_states, old_labels = states(old)
    new_states, new_labels = states(new)
    changes += _compare(old_states, new_states, "state", {**old_labels, **new_labels})

    def transitions(definition: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Text]]:
        found, labels = {}, {}
        for item in definition.get("transitions") or ():
            if isinstance(item, dict):
                path = transition_path(item)
                found[path] = {k: (_sources(item) if k == "source" else v) for k, v in item.items()
                               if k != "trigger"}
                labels[path] = _title_of(item.get("title"), str(item.get("trigger")))
        return found, labels

    old_moves, old_tl = transitions(old)
    new_moves, new_tl = transitions(new)
    gone = [p for p in old_moves if p not in new_moves]
    came = [p for p in new_moves if p not in old_moves]
    for path in list(gone):                 # the same trigger, its sources changed: one change, not two
        trigger = jp.split(path)[1]
        mates = [p for p in came if jp.split(p)[1] == trigger]
        if len(mates) == 1 and len([p for p in gone if jp.split(p)[1] == trigger]) == 1:
            aspects = _aspects(old_moves[path], new_moves[mates[0]])
            changes.append(_change("changed", mates[0], "transition", new_tl[mates[0]], aspects))
            gone.remove(path)
            came.remove(mates[0])
    paired_old = {p for p in old_moves if p not in new_moves and p not in gone}
    paired_new = {p for p in new_moves if p not in old_moves and p not in came}
    changes += _compare({p: v for p, v in old_moves.items() if p not in paired_old},
                        {p: v for p, v in new_moves.items() if p not in paired_new},
                        "transition", {**old_tl, **new_tl})
    return changes


# -- a version against another ------------------------------------------------------------------------

NOTES = {
    "first": {"zh-CN": "这是第一个版本，没有更早的版本可以比较",
              "en": "This is the first version: there is no earlier version to compare with"},
    "same": {"zh-CN": "比较的是同一个版本，没有差异", "en": "A version compared with itself: no differences"},
    "no_version": {"zh-CN": "「{key}」没有版本 {version}", "en": "'{key}' has no version {version}"},
}


def text(code: str, lang: str, **params: Any) -> str:
    words = NOTES[code]
    return (words.get(lang) or words["zh-CN"]).format(**params)


def in_language(changes: list[Change], lang: str) -> list[Change]:
    """Each change (and aspect) with `text`: its sentence in `lang`."""
    def said(item: Mapping[str, Any]) -> str:
        return str(item["message"].get(lang) or item["message"]["zh-CN"])
    return [dict(c, text=said(c), aspects=[dict(a, text=said(a)) for a in c["aspects"]]) for c in changes]


def report(doc: Mapping[str, Any], other: Callable[[int], Mapping[str, Any]], against: int | None, lang: str,
           compare: Callable[[Mapping[str, Any], Mapping[str, Any]], list[Change]],
           definition: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> dict[str, Any]:
    """The differences of stored version `doc` from version `against` (None: the one before; version 1 has
    none, said in `note`), read through `other(number)` (NotFound for an unknown one)."""
    version = int(doc["version"])
    if against is None:
        against = version - 1 if version > 1 else None
    note: str | None = None
    changes: list[Change] = []
    if against is None:
        changes, note = [], text("first", lang)
    elif against == version:
        changes, note = [], text("same", lang)
    else:
        changes = compare(definition(other(against)), definition(doc))
    counted = {kind: sum(1 for c in changes if c["kind"] == kind) for kind in ("added", "removed", "changed")}
    return {"key": doc["key"], "version": version, "against": against, "note": note, "counts": counted,
            "changes": in_language(changes, lang)}
