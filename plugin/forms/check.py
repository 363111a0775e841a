"""Form definition files checked before use: meta-schema, field names, limits, extension keywords.

Every problem at once, each as 'SOURCE: PLACE: what is wrong; fix: what to do'.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files
from typing import Any, Iterable, Iterator, Mapping

import jsonschema_rs

from counterflow.core import definitions
from counterflow.core.errors import DefinitionError
from counterflow.core.roles import ROLES, STAFF
from counterflow.forms.conditions import condition_problems, ui_condition_problems
from counterflow.forms.validate import (DRAFT7_URIS, DRAFT202012_URIS, MAX_PROPERTIES, MAX_SCHEMA_BYTES,
                                        SENSITIVE_KINDS, FormValidator, _clip, pointer, valid_field_name)
from counterflow.forms.walker import (MAX_SCHEMA_DEPTH, Schema, declared_names, expand, item_schemas,
                                      pattern_matcher, property_schemas, resolve_ref)


@lru_cache(maxsize=1)
def _meta() -> tuple[dict[str, Any], Any]:
    meta = json.loads(files("counterflow.schemas.meta").joinpath("form.schema.json").read_text("utf-8"))
    return meta, jsonschema_rs.Draft202012Validator(meta, offline=True)


_SUBSCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas",
                   "dependencies")
_SUBSCHEMA_ONE = ("additionalProperties", "items", "additionalItems", "contains", "propertyNames", "not",
                  "if", "then", "else", "unevaluatedProperties", "unevaluatedItems", "contentSchema")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_NEW_INSTANCE = {"properties", "patternProperties", "additionalProperties", "items", "additionalItems",
                 "prefixItems", "contains", "unevaluatedProperties", "unevaluatedItems", "propertyNames",
                 "definitions", "$defs", "contentSchema"}
NAME_FIX = "use 1 to 64 characters, not starting with $, without . or control characters"
PATTERN_FIX = ("write it without look-around ((?=, (?!, (?<=, (?<!) and back-references (\\1): patterns "
               "run on a linear-time engine; check its brackets and escapes")


def _subschemas(node: dict[str, Any]) -> Iterator[tuple[str, list[str | int], Any]]:
    """(keyword, place below node, subschema) for every subschema a schema node holds."""
    for key in _SUBSCHEMA_MAPS:
        if isinstance(node.get(key), dict):
            for name, child in node[key].items():
                if isinstance(child, (dict, bool)):
                    yield key, [key, name], child
    for key in _SUBSCHEMA_ONE:
        if isinstance(node.get(key), (dict, bool)):
            yield key, [key], node[key]
    for key in _SUBSCHEMA_LISTS:
        if isinstance(node.get(key), list):
            for i, child in enumerate(node[key]):
                yield key, [key, i], child


def _walk_schema(node: Any, place: list[str | int],
                 scope: Any) -> Iterator[tuple[dict[str, Any], list[str | int], Any]]:
    """(node, place, the node where its instance starts) for every schema node, depth first."""
    stack = [(node, place, scope)]
    while stack:
        current, where, current_scope = stack.pop()
        if not isinstance(current, dict):
            continue
        yield current, where, current_scope
        children = [(child, where + sub, child if key in _NEW_INSTANCE else current_scope)
                    for key, sub, child in _subschemas(current)]
        stack.extend(reversed(children))


def _depth(value: Any, limit: int = MAX_SCHEMA_DEPTH) -> int:
    """How deep objects and lists nest, counted up to `limit + 1` (no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, level = stack.pop()
        if isinstance(current, (dict, list)):
            deepest = max(deepest, level)
            if level <= limit + 1:
                stack.extend((c, level + 1)
                             for c in (current.values() if isinstance(current, dict) else current))
    return deepest


def _bilingual(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(value.get(lang), str) and value[lang]
                                           for lang in ("zh-CN", "en"))


def _is_file_field(node: dict[str, Any], root: Any) -> bool:
    nodes = expand(node, root)
    if any(n.get("format") in ("attachment", "data-url") for n in nodes):
        return True
    return any(_is_file_field(i, root) for n in nodes for i in [n.get("items")] if isinstance(i, dict))


def _type_is(node: dict[str, Any], wanted: str) -> bool:
    types = node.get("type")
    return types == wanted or (isinstance(types, list) and wanted in types)


def _node_problems(node: dict[str, Any], where: list[str | int], scope: Any,
                   root: Any) -> Iterator[tuple[str, str, str]]:
    """(place, what is wrong, fix) for one schema node."""
    for name in node.get("properties", {}) if isinstance(node.get("properties"), dict) else ():
        if not valid_field_name(name):
            yield (pointer([*where, "properties", name]), f"field name {_clip(name)!r} is not allowed",
                   NAME_FIX)
    for key in ("dependencies", "dependentRequired", "dependentSchemas"):
        for name, value in node[key].items() if isinstance(node.get(key), dict) else ():
            if not valid_field_name(name):
                yield pointer([*where, key, name]), f"field name {_clip(name)!r} is not allowed", NAME_FIX
    for key in ("$ref", "$dynamicRef", "$recursiveRef"):
        ref = node.get(key)
        if isinstance(ref, str) and not ref.startswith("#"):
            yield (pointer([*where, key]), f"remote reference {_clip(ref)!r} is not allowed",
                   "copy the referenced schema under $defs (or definitions) "
                   "and refer to it as '#/$defs/name'")
        elif key == "$ref" and isinstance(ref, str) and resolve_ref(root, ref) is None:
            yield (pointer([*where, key]), f"reference {_clip(ref)!r} points nowhere",
                   "point it at a schema in this file")
    yield from _required_names(node, where)
    yield from _pattern_problems(node, where)
    yield from _extension_problems(node, where, root)


def _pattern_problems(node: dict[str, Any], where: list[str | int]) -> Iterator[tuple[str, str, str]]:
    """Patterns the validator's regex engine cannot run (forms/walker.py PATTERN_OPTIONS), refused here."""
    found: list[tuple[list[str | int], str]] = []
    if isinstance(node.get("pattern"), str):
        found.append(([*where, "pattern"], node["pattern"]))
    if isinstance(node.get("patternProperties"), dict):
        found += [([*where, "patternProperties", p], p) for p in node["patternProperties"]]
    for place, pattern in found:
        if pattern_matcher(pattern) is None:
            yield pointer(place), f"pattern {_clip(pattern)!r} is not a regular expression the validator " \
                "can run", PATTERN_FIX


def _required_names(node: dict[str, Any], where: list[str | int]) -> Iterator[tuple[str, str, str]]:
    for i, name in enumerate(node["required"] if isinstance(node.get("required"), list) else []):
        if not valid_field_name(name):
            yield pointer([*where, "required", i]), f"field name {_clip(name)!r} is not allowed", NAME_FIX


def _undeclared_required(schema: dict[str, Any],
                         places: dict[int, list[str | int]]) -> list[tuple[str, str, str]]:
    """Required names that no schema applying to the same object declares, found per object."""
    found: dict[str, tuple[str, str, str]] = {}

    def visit(schemas: list[Schema], refs: set[str], depth: int, mixin: bool) -> None:
        nodes = [n for s in schemas for n in expand(s, schema)]
        names = declared_names(nodes)
        for node in nodes if not (mixin and not names) else ():
            for i, name in enumerate(node["required"] if isinstance(node.get("required"), list) else []):
                if isinstance(name, str) and name not in names and not property_schemas(nodes, name)[0]:
                    place = f"/schema{pointer([*places.get(id(node), []), 'required', i])}"
                    found.setdefault(place, (place, f"required field {name!r} is not declared in properties",
                                             "declare it under properties, or remove it from required"))
        here = {n["$ref"] for n in nodes if isinstance(n.get("$ref"), str)}
        if depth >= MAX_SCHEMA_DEPTH or here & refs:
            return
        for name in names:
            visit(property_schemas(nodes, name)[0], refs | here, depth + 1, False)
        width = max([len(n[k]) for n in nodes for k in ("items", "prefixItems")
                     if isinstance(n.get(k), list)] + [1])
        for index in range(width):
            visit(item_schemas(nodes, index), refs | here, depth + 1, False)

    visit([schema], set(), 0, False)
    for key in ("definitions", "$defs"):
        for definition in schema[key].values() if isinstance(schema.get(key), dict) else ():
            visit([definition], set(), 0, True)  # a definition without properties may be a mixin
    return list(found.values())


def _extension_problems(node: dict[str, Any], where: list[str | int],
                        root: Any) -> Iterator[tuple[str, str, str]]:
    if "x-sensitive" in node:
        kind = node["x-sensitive"]
        if not (kind is True or kind is False or kind in SENSITIVE_KINDS):
            yield (pointer([*where, "x-sensitive"]), f"unknown x-sensitive kind {_clip(kind)!r}",
                   "use one of " + ", ".join(SENSITIVE_KINDS) + " or true")
        elif kind and not any(_type_is(n, "string") for n in expand(node, root)):
            yield pointer([*where, "x-sensitive"]), "x-sensitive is on a field that is not text", \
                "put x-sensitive on a {\"type\": \"string\"} field"
    if "x-material" in node:
        material = node["x-material"]
        if not (material is True or (isinstance(material, dict) and set(material) <= {"title"}
                                     and _bilingual(material.get("title")))):
            yield pointer([*where, "x-material"]), "x-material is malformed", \
                "write true, or {\"title\": {\"zh-CN\": \"...\", \"en\": \"...\"}}"
        elif not _is_file_field(node, root):
            yield pointer([*where, "x-material"]), "x-material is on a field that takes no file", \
                "put it on {\"type\": \"string\", \"format\": \"attachment\"} or an array of those"
    for keyword in ("x-show-if", "x-required-if"):
        if keyword in node:
            for place, what, fix in condition_problems(node[keyword]):
                yield pointer([*where, keyword, *place]), f"{keyword}: {what}", fix
    if "x-title" in node and not _bilingual(node["x-title"]):
        yield pointer([*where, "x-title"]), "x-title needs both languages", \
            "write {\"zh-CN\": \"...\", \"en\": \"...\"}"
    if "x-visible-to" in node:
        yield from _visible_to_problems(node["x-visible-to"], [*where, "x-visible-to"])


def _visible_to_problems(roles: Any, where: list[str | int]) -> Iterator[tuple[str, str, str]]:
    """`x-visible-to`: a non-empty list of the roles that read records (not admin, who reads none)."""
    known = [r for r in ROLES if r in STAFF]
    fix = "list the roles that may see the field, from " + ", ".join(known) + " (records staff see it anyway)"
    if not (isinstance(roles, list) and roles):
        yield pointer(where), "x-visible-to must be a non-empty list of roles", fix
        return
    for i, role in enumerate(roles):
        if not isinstance(role, str) or role not in STAFF:
            yield pointer([*where, i]), f"x-visible-to names an unknown role {_clip(role)!r}", fix


def _limit_problems(schema: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    size = len(json.dumps(schema, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_SCHEMA_BYTES:
        yield "/schema", f"the schema is {size // 1024} KiB, over the {MAX_SCHEMA_BYTES // 1024} KiB limit", \
            "split the form, or move repeated parts into $defs"
    depth = _depth(schema)
    if depth > MAX_SCHEMA_DEPTH:
        yield "/schema", f"the schema nests deeper than {MAX_SCHEMA_DEPTH} levels", \
            "flatten the nested groups"
    count = sum(len(n["properties"]) for n, _, _ in _walk_schema(schema, [], schema)
                if isinstance(n.get("properties"), dict))
    if count > MAX_PROPERTIES:
        yield "/schema", f"the schema declares {count} properties, over the limit of {MAX_PROPERTIES}", \
            "split the form into several forms"


def _schema_problems(schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    declared = schema.get("$schema")
    if declared is not None and declared not in DRAFT7_URIS + DRAFT202012_URIS:
        return [("/schema/$schema", f"$schema {_clip(declared)!r} is not supported",
                 f"remove it (draft 2020-12) or use {DRAFT7_URIS[0]!r}")]
    problems = list(_limit_problems(schema))
    if problems:
        return problems  # walking an oversized or too deep schema is what the limits prevent
    places: dict[int, list[str | int]] = {}
    for node, where, scope in _walk_schema(schema, [], schema):
        places.setdefault(id(node), where)
        problems += [(f"/schema{place}", what, fix)
                     for place, what, fix in _node_problems(node, where, scope, schema)]
    problems += _undeclared_required(schema, places)
    if problems:
        return problems
    try:
        jsonschema_rs.meta.validate(schema)
        FormValidator(schema)
    except jsonschema_rs.ValidationError as error:
        at = pointer(getattr(error, "instance_path", []) or [])
        what = _clip(str(getattr(error, "message", error)).splitlines()[0], 160)
        problems.append((f"/schema{at}", f"not a valid JSON Schema: {what}",
                         "correct this keyword as the JSON Schema specification describes"))
    except (jsonschema_rs.ReferencingError, DefinitionError, ValueError) as error:
        problems.append(("/schema", f"the schema does not compile: {_clip(str(error).splitlines()[0], 160)}",
                         "correct the schema"))
    return problems


def _ui_order_problems(ui: Any, schema: Any, where: list[str | int],
                       root: Any) -> Iterator[tuple[str, str, str]]:
    if not isinstance(ui, dict):
        return
    nodes = [n for s in ([schema] if isinstance(schema, dict) else []) for n in expand(s, root)]
    names = declared_names(nodes)
    for i, name in enumerate(ui.get("ui:order", []) if isinstance(ui.get("ui:order"), list) else []):
        if name != "*" and name not in names:
            yield (pointer([*where, "ui:order", i]),
                   f"ui:order names {_clip(name)!r}, which is not a field here",
                   "use one of " + _clip(", ".join(names) or "(no fields)", 200) + ", or \"*\"")
    for key, child in ui.items():
        if not key.startswith("ui:") and isinstance(child, dict):
            sub = property_schemas(nodes, key)[0] if key != "items" else item_schemas(nodes, 0)
            if len(sub) == 1:
                yield from _ui_order_problems(child, sub[0], [*where, key], root)


def _meta_problems(definition: Any) -> Iterator[tuple[str, str, str]]:
    meta, validator = _meta()
    for error in validator.iter_errors(definition):
        kind, detail = error.kind.name, error.kind.as_dict()
        fix = _meta_fix(meta, error.schema_path)
        if kind == "required":
            place = pointer([*error.instance_path, detail["property"]])
            child_fix = _meta_fix(meta, [*error.schema_path[:-1], "properties", detail["property"]],
                                  inherit=False)
            yield place, "is missing", child_fix or fix or f"add {detail['property']!r}"
        elif kind == "additionalProperties":
            for name in detail.get("unexpected", []):
                yield pointer([*error.instance_path, name]), f"unknown key {_clip(name)!r}", \
                    fix or "remove it or correct its spelling"
        elif kind == "propertyNames":
            name = detail["error"].instance
            yield pointer([*error.instance_path, name]), f"key {_clip(name)!r} is not allowed", \
                fix or "rename the key"
        else:
            what = _clip(error.message.splitlines()[0], 160)
            yield pointer(error.instance_path) or "/", what, fix or "correct the value"


def _meta_fix(meta: Any, path: Iterable[str | int], inherit: bool = True) -> str:
    node, fix = meta, ""
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return fix if inherit else ""
        if isinstance(node, dict) and isinstance(node.get("x-fix"), str):
            fix = node["x-fix"]
        elif not inherit:
            fix = ""
    return fix


def check_form_definition(definition: Any, source: str) -> list[str]:
    """[] when the definition is fine, else every problem as "SOURCE: PLACE: what is wrong; fix: how"."""
    if not isinstance(definition, dict):
        return [f"{source}: /: a form definition must be a JSON object; "
                f"fix: write {{\"key\": ..., \"title\": ..., "
                "\"schema\": ..., \"settings\": ...}"]
    if _depth(definition, definitions.MAX_DEFINITION_DEPTH) > definitions.MAX_DEFINITION_DEPTH:
        # as a definition file would be (core/definitions.py); the meta-schema check recurses
        return [f"{source}: /: the definition nests deeper than {definitions.MAX_DEFINITION_DEPTH} levels; "
                f"fix: flatten the nested groups"]
    problems = list(_meta_problems(definition))
    schema = definition.get("schema")
    if isinstance(schema, dict):
        problems += _schema_problems(schema)
        if not any(place.startswith("/schema") for place, _, _ in problems):
            problems += _ui_order_problems(definition.get("ui_schema"), schema, ["ui_schema"], schema)
    problems += [(pointer(place), f"show_if: {what}", fix)
                 for place, what, fix in ui_condition_problems(definition.get("ui_schema"), ["ui_schema"])]
    return [f"{source}: {place}: {what}; fix: {fix}" for place, what, fix in problems]


def shipped_forms(workflows: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The form definition files inside the package, checked against the record processes
    among `workflows`."""
    processes = {k: workflows[k] for k in definitions.record_processes(workflows)}

    def check(definition: Any, source: str) -> list[str]:
        return (check_form_definition(definition, source) or
                definitions.check_processes(definition, processes, source))

    found, problems = definitions.load_folder("counterflow.schemas", "schemas", ".json",
                                              definitions.load_json, check)
    if problems:
        raise DefinitionError(problems)
    return found
