"""The one walk of a form's JSON Schema: `$ref`, combinators and the fields they declare.

Validation, rendering, form-data parsing and the definition checks all ask this module where a
form's fields are. It offers two views of the same walk, because its callers need two:

- the union view (`expand`, `property_schemas`, `item_schemas`, `fields`): every subschema that
  applies at a place (through `$ref`, `allOf`/`anyOf`/`oneOf`, `if`/`then`/`else`,
  `dependencies`/`dependentSchemas`), for validation, which must know every rule that may apply;
- the display view (`resolve`, `properties`, `required_names`): one merged schema per field
  (`$ref` followed with its siblings winning, `allOf` merged in, the properties of conditional
  branches added), for rendering and parsing, which lay out one widget per field.

`Structure` is the union view compiled for checking data (unknown fields, JSON types), built
once per form version.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import unquote

import jsonschema_rs

from counterflow.core import pointer as jp

Schema = Any  # a JSON Schema node: a dict, or a boolean schema

MAX_SCHEMA_DEPTH = 32
# The one regex engine for `pattern`, `patternProperties` and names: jsonschema-rs with the Rust `regex`
# crate, which matches in linear time (no backtracking, so no ReDoS); it refuses look-around and
# back-references, and the definition checks refuse such a pattern when the form is defined.
PATTERN_OPTIONS = jsonschema_rs.RegexOptions()

# Keywords whose subschemas apply to the same instance (they may declare its properties).
_SAME_INSTANCE_LISTS = ("allOf", "anyOf", "oneOf")
_SAME_INSTANCE_ONE = ("if", "then", "else")
_SAME_INSTANCE_MAPS = ("dependencies", "dependentSchemas")
# A key no form declares, to ask which candidates an undeclared key has (its text does not matter).
_UNDECLARED = "\x00undeclared"
# One representative value per JSON type: whether a value's type fits a schema depends on its type only.
_SAMPLES: dict[str, Any] = {"null": None, "boolean": True, "integer": 1, "number": 0.5, "string": "",
                            "array": [], "object": {}}


# -- references --------------------------------------------------------------------------------

def resolve_ref(root: Schema, ref: str) -> Schema:
    """A local `#...` reference; None when it points nowhere (or is remote)."""
    if not ref.startswith("#"):
        return None
    fragment = unquote(ref[1:])
    if fragment and not fragment.startswith("/"):
        return _find_anchor(root, fragment)
    node: Any = root
    for part in jp.split(fragment):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _find_anchor(node: Any, anchor: str) -> Schema:
    if isinstance(node, dict):
        if node.get("$anchor") == anchor:
            return node
        children: Iterable[Any] = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find_anchor(child, anchor)
        if found is not None:
            return found
    return None


# -- the union view: every subschema that applies ------------------------------------------------

def expand(schema: Schema, root: Schema) -> list[dict[str, Any]]:
    """Every subschema that applies to the same instance as `schema` ($ref and combinators)."""
    return _expand(schema, root, conditional=True)


def unconditional(schema: Schema, root: Schema) -> list[dict[str, Any]]:
    """The subschemas that always apply with `schema`: itself, its `$ref` targets and `allOf`."""
    return _expand(schema, root, conditional=False)


def _expand(schema: Schema, root: Schema, *, conditional: bool) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    seen: set[int] = set()
    stack = [schema]
    while stack:
        node = stack.pop(0)
        if not isinstance(node, dict) or id(node) in seen:
            continue
        seen.add(id(node))
        found.append(node)
        if isinstance(node.get("$ref"), str):
            stack.append(resolve_ref(root, node["$ref"]))
        for key in _SAME_INSTANCE_LISTS if conditional else ("allOf",):
            if isinstance(node.get(key), list):
                stack.extend(node[key])
        if not conditional:
            continue
        stack.extend(node.get(key) for key in _SAME_INSTANCE_ONE)
        for key in _SAME_INSTANCE_MAPS:
            if isinstance(node.get(key), dict):
                stack.extend(v for v in node[key].values() if isinstance(v, dict))
    return found


@lru_cache(maxsize=1024)
def pattern_matcher(pattern: str) -> Any:
    """A tiny validator that fails exactly when a key matches `pattern` as `patternProperties` does in
    the form's validator (same library, same engine); None when that engine cannot compile it."""
    try:
        return jsonschema_rs.validator_for({"patternProperties": {pattern: False}},
                                           pattern_options=PATTERN_OPTIONS)
    except (ValueError, jsonschema_rs.ReferencingError):
        return None


def _pattern_matches(pattern: str, name: str) -> bool:
    matcher = pattern_matcher(pattern)
    # a pattern the engine refuses never reaches an approved form (forms/check.py); the key is left to it
    return True if matcher is None else not matcher.is_valid({name: None})


def declared_names(nodes: list[dict[str, Any]]) -> list[str]:
    """The property names the nodes declare, in the order they first appear."""
    names: dict[str, None] = {}
    for node in nodes:
        if isinstance(node.get("properties"), dict):
            names.update(dict.fromkeys(node["properties"]))
    return list(names)


def property_schemas(nodes: list[dict[str, Any]], name: str) -> tuple[list[Schema], bool]:
    """(candidate schemas for key `name`, whether the key is allowed at all)."""
    found = [n["properties"][name] for n in nodes
             if isinstance(n.get("properties"), dict) and name in n["properties"]]
    found += [s for n in nodes if isinstance(n.get("patternProperties"), dict)
              for p, s in n["patternProperties"].items() if _pattern_matches(p, name)]
    if found:
        return found, True
    extra = [n["additionalProperties"] for n in nodes if "additionalProperties" in n]
    schemas = [s for s in extra if isinstance(s, dict)]
    if schemas or any(s is True for s in extra):
        return schemas, True
    declares = any(isinstance(n.get(k), dict) and n[k]
                   for n in nodes for k in ("properties", "patternProperties"))
    return [], not declares and not extra


def item_schemas(nodes: list[dict[str, Any]], index: int) -> list[Schema]:
    """The candidate schemas for element `index` of an array (prefixItems, draft-07 tuples, items)."""
    found: list[Schema] = []
    for node in nodes:
        prefix = node.get("prefixItems")
        items = node.get("items")
        if isinstance(prefix, list):
            found.append(prefix[index] if index < len(prefix) else items)
        elif isinstance(items, list):  # draft-07 tuple
            found.append(items[index] if index < len(items) else node.get("additionalItems"))
        else:
            found.append(items)
    return [s for s in found if isinstance(s, dict)]


def _tuple_width(nodes: list[dict[str, Any]]) -> int:
    """From this index on, every element of the array has the same candidate schemas."""
    return max([len(n[k]) for n in nodes for k in ("prefixItems", "items")
                if isinstance(n.get(k), list)] + [0])


def child_schemas(nodes: list[dict[str, Any]], segment: str) -> list[Schema]:
    if segment.isdigit() or segment == jp.WILDCARD:
        return item_schemas(nodes, int(segment) if segment.isdigit() else 0)
    return property_schemas(nodes, segment)[0]


def required_names(schema: Schema, root: Schema) -> set[str]:
    """The names an object always requires: `required` of the schema, its `$ref`s and `allOf`."""
    return {name for node in unconditional(schema, root)
            for name in (node["required"] if isinstance(node.get("required"), list) else [])
            if isinstance(name, str)}


# -- JSON types --------------------------------------------------------------------------------

def json_type(value: Any) -> str:
    """The JSON Schema type of a decoded JSON value; a number with a zero fraction (3.0) is an
    "integer", as JSON Schema says. Rendering and validation both ask this one function."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def _type_allows(types: Any, actual: str) -> bool:
    allowed = {types} if isinstance(types, str) else set(types) if isinstance(types, list) else set()
    return actual in allowed or (actual == "integer" and "number" in allowed)


def type_ok(value: Any, schema: Schema, root: Schema, depth: int = 0) -> bool:
    """Whether the JSON type of `value` can satisfy `schema` (other rules are ignored)."""
    if not isinstance(schema, dict) or depth > MAX_SCHEMA_DEPTH:
        return True
    actual = json_type(value)
    if "type" in schema and not _type_allows(schema["type"], actual):
        return False
    if "type" not in schema:
        options = schema["enum"] if isinstance(schema.get("enum"), list) else (
            [schema["const"]] if "const" in schema else None)
        if options is not None and not any(_type_allows(json_type(o), actual) or json_type(o) == actual
                                           for o in options):
            return False
    if isinstance(schema.get("$ref"), str) \
            and not type_ok(value, resolve_ref(root, schema["$ref"]), root, depth + 1):
        return False
    if isinstance(schema.get("allOf"), list) \
            and not all(type_ok(value, s, root, depth + 1) for s in schema["allOf"]):
        return False
    return all(any(type_ok(value, s, root, depth + 1) for s in schema[key])
               for key in ("anyOf", "oneOf") if isinstance(schema.get(key), list) and schema[key])


# -- the declared fields -----------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """One place a form declares, `*` standing for every element of an array."""

    parts: tuple[str, ...]
    nodes: tuple[dict[str, Any], ...]       # every subschema that applies here (union view)
    required: bool                          # always required by the object that holds it
    title: dict[str, str] | None            # {"zh-CN": ..., "en": ...}
    sensitive: str | None                   # an x-sensitive kind, "secret" for `true`
    material: dict[str, str] | None         # the material's title when the field is an x-material
    material_if: dict[str, Any] | None      # the x-show-if beside that x-material
    show_if: dict[str, Any] | None = None       # the field's own x-show-if (the first schema that has one)
    required_if: dict[str, Any] | None = None   # its x-required-if: required while this holds

    @property
    def pointer(self) -> str:
        return jp.join(self.parts)


def fields(root: Schema) -> Iterator[Field]:
    """Every place the form declares, parents before children, in declaration order; the walk
    stops where a `$ref` recurs (the structure repeats from there) or MAX_SCHEMA_DEPTH is reached."""
    yield from _fields([root], (), root, set(), True)


def _fields(schemas: list[Schema], parts: tuple[str, ...], root: Schema, refs: set[str],
            required: bool) -> Iterator[Field]:
    nodes = [n for s in schemas for n in expand(s, root)]
    yield _field(nodes, parts, required)
    here = {n["$ref"] for n in nodes if isinstance(n.get("$ref"), str)}
    if len(parts) >= MAX_SCHEMA_DEPTH or here & refs:
        return
    new_refs = refs | here
    names = declared_names(nodes)
    if names:
        always = {name for s in schemas for name in required_names(s, root)}
        for name in names:
            yield from _fields(property_schemas(nodes, name)[0], (*parts, name), root, new_refs,
                               name in always)
    items = item_schemas(nodes, 0)
    if items:
        yield from _fields(items, (*parts, jp.WILDCARD), root, new_refs, False)


def _field(nodes: list[dict[str, Any]], parts: tuple[str, ...], required: bool) -> Field:
    title: dict[str, str] | None = None
    sensitive: str | None = None
    material: dict[str, str] | None = None
    material_if: dict[str, Any] | None = None
    has_material = False
    show_if = next((n["x-show-if"] for n in nodes if isinstance(n.get("x-show-if"), dict)), None)
    required_if = next((n["x-required-if"] for n in nodes if isinstance(n.get("x-required-if"), dict)), None)
    for node in nodes:
        if title is None:
            if isinstance(node.get("x-title"), dict):
                title = node["x-title"]
            elif isinstance(node.get("title"), str) and parts:
                english = node["x-title-en"] if isinstance(node.get("x-title-en"), str) else node["title"]
                title = {"zh-CN": node["title"], "en": english}
        kind = node.get("x-sensitive")
        if sensitive is None and kind is not None and kind is not False:
            sensitive = "secret" if kind is True else str(kind)
        found = node.get("x-material")
        if found and not has_material:
            has_material = True
            material = found.get("title", {}) if isinstance(found, dict) else {}
            material_if = node["x-show-if"] if isinstance(node.get("x-show-if"), dict) else None
    return Field(parts, tuple(nodes), required, title, sensitive, material if has_material else None,
                 material_if, show_if, required_if)


# -- the union view compiled for data -----------------------------------------------------------

class Shape:
    """What the schemas that apply at one place allow: the JSON types, the keys, the elements."""

    def __init__(self, structure: Structure, schemas: list[Schema]) -> None:
        root = structure.root
        self._structure = structure
        self.nodes = [n for s in schemas for n in expand(s, root)]
        self.types = frozenset(t for t, sample in _SAMPLES.items()
                               if not schemas or any(type_ok(sample, s, root) for s in schemas))
        declared = [t for n in self.nodes
                    for t in ([n["type"]] if isinstance(n.get("type"), str)
                              else n.get("type", []) if isinstance(n.get("type"), list) else [])]
        self.expected = tuple(dict.fromkeys(declared))  # the types named, for the message
        self._keys: dict[str, tuple[Shape, bool]] = {}
        self.declared = declared_names(self.nodes)
        self._declared = set(self.declared)
        self.width = _tuple_width(self.nodes)
        self._items: dict[int, Shape] = {}

    def accepts(self, value: Any) -> bool:
        """Whether the JSON type of `value` fits at least one schema that applies here."""
        return json_type(value) in self.types

    def key(self, name: str) -> tuple[Shape, bool]:
        """(the shape of key `name`, whether the object may hold that key at all)."""
        found = self._keys.get(name)
        if found is not None:
            return found
        if not self.nodes:
            return self._structure.shape([]), True
        candidates, allowed = property_schemas(self.nodes, name)
        found = self._structure.shape(candidates), allowed
        if name in self._declared:  # only names the schema declares: data cannot grow this
            self._keys[name] = found
        return found

    def item(self, index: int) -> Shape:
        """The shape of element `index` of an array."""
        index = min(index, self.width)
        found = self._items.get(index)
        if found is None:
            found = self._items[index] = self._structure.shape(item_schemas(self.nodes, index))
        return found


class _NoSummary(Exception):
    """The shapes recur (a recursive `$ref`) or nest too deep to be written as one finite schema."""


class Structure:
    """A form's schema compiled for checking data, once per form version: each place's `Shape`
    is built the first time data reaches it and reused after (recursive `$ref`s share theirs)."""

    def __init__(self, root: Schema) -> None:
        self.root = root
        self._shapes: dict[tuple[int, ...], Shape] = {}
        self.top = self.shape([root])

    def summary(self, name_pattern: str, max_string: int, max_items: int, max_depth: int,
                name_ok: Callable[[str], bool] = lambda name: False) -> Schema:
        """A JSON Schema (draft 2020-12) that only data free of structure problems passes: every
        value of a JSON type its place accepts, every key a valid name (`name_pattern`) that its object
        may hold, no text longer than `max_string`, no list longer than `max_items`. It may refuse more
        than the walk does (a place with `patternProperties`, a container where no schema applies):
        such data is then walked. None when the shapes recur or nest `max_depth` // 2 deep or more,
        where no finite schema bounds the depth. `name_ok` says which declared names pass
        `name_pattern`: an object that may hold only those needs no pattern check of its keys."""
        limits = (name_pattern, max_string, max_items, max_depth // 2, name_ok)
        try:
            return self._summary(self.top, limits, 0, set())
        except _NoSummary:
            return None

    def _summary(self, shape: Shape, limits: tuple[str, int, int, int, Callable[[str], bool]], depth: int,
                 open_: set[int]) -> Schema:
        name_pattern, max_string, max_items, max_depth, name_ok = limits
        if id(shape) in open_ or depth >= max_depth:
            raise _NoSummary
        scalars = [t for t in ("null", "boolean", "integer", "number", "string") if t in shape.types]
        if not shape.nodes:   # any value; containers are left to the walk
            return {"type": scalars, "maxLength": max_string}
        if not shape.types:
            return False
        out: dict[str, Any] = {"type": sorted(shape.types), "maxLength": max_string}
        open_.add(id(shape))
        if "array" in shape.types:
            width = shape.width
            out["maxItems"] = max_items
            if width:
                out["prefixItems"] = [self._summary(shape.item(i), limits, depth + 1, open_)
                                      for i in range(width)]
            out["items"] = self._summary(shape.item(width), limits, depth + 1, open_)
        if "object" in shape.types:
            if any(isinstance(n.get("patternProperties"), dict) and n["patternProperties"]
                   for n in shape.nodes):
                out["type"] = [t for t in out["type"] if t != "object"]   # objects here: walked
            else:
                out["properties"] = {name: self._summary(shape.key(name)[0], limits, depth + 1, open_)
                                     for name in shape.declared}
                # without patternProperties every undeclared name has the same candidates
                if _UNDECLARED in shape._declared:
                    raise _NoSummary
                other, allowed = shape.key(_UNDECLARED)
                out["additionalProperties"] = \
                    self._summary(other, limits, depth + 1, open_) if allowed else False
                if allowed or not all(name_ok(name) for name in shape.declared):
                    out["propertyNames"] = {"pattern": name_pattern}
        open_.discard(id(shape))
        return out if out["type"] else False

    def shape(self, schemas: list[Schema]) -> Shape:
        """The shape of the places where exactly `schemas` apply (all parts of `root`)."""
        key = tuple(id(s) for s in schemas)
        found = self._shapes.get(key)
        if found is None:
            found = self._shapes[key] = Shape(self, schemas)
        return found


# -- the display view: one merged schema per field ---------------------------------------------

def _as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def resolve(schema: Any, ui: Any, root: Mapping, ui_root: Mapping | None = None) -> tuple[dict, dict]:
    """Follow local `$ref`s (sibling keywords win) and apply `ui:definitions` for them."""
    schema, ui = _as_dict(schema), _as_dict(ui)
    ui_defs = _as_dict(_as_dict(ui_root).get("ui:definitions"))
    seen: set[str] = set()
    while isinstance(schema.get("$ref"), str):
        ref = schema["$ref"]
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        target = resolve_ref(root, ref) if ref not in seen else None
        if not isinstance(target, dict):
            return siblings, ui
        seen.add(ref)
        schema = {**target, **siblings}
        ui = {**_as_dict(ui_defs.get(ref)), **ui}
    return schema, ui


def schema_type(schema: Mapping) -> str | None:
    """The one JSON type a (resolved) field is laid out as, or None when it names none."""
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "null" if typ else None)
    if isinstance(typ, str):
        return typ
    if "properties" in schema or "patternProperties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    if "const" in schema:
        return json_type(schema["const"])
    return None


def _merge_property(old: dict | None, new: dict, *, conditional: bool) -> dict:
    if old is None:
        return dict(new)
    if isinstance(old.get("enum"), list) and isinstance(new.get("enum"), list):
        merged = list(old["enum"]) + [v for v in new["enum"] if v not in old["enum"]]
        return {**old, "enum": merged} if conditional else {**old, **new, "enum": merged}
    return old if conditional else {**old, **new}


def properties(schema: Mapping, root: Mapping) -> dict[str, dict]:
    """Every property the object may have, from `properties` and from its combinators: `allOf`
    merged in, the first declaration kept for a conditional branch (enums joined)."""
    props: dict[str, dict] = {k: _as_dict(v) for k, v in _as_dict(schema.get("properties")).items()}
    conditional: list[Any] = [*_as_list(schema.get("anyOf")), *_as_list(schema.get("oneOf")),
                              schema.get("then"), schema.get("else")]
    conditional += [v for v in _as_dict(schema.get("dependencies")).values() if isinstance(v, dict)]
    conditional += [v for v in _as_dict(schema.get("dependentSchemas")).values()]
    for sub, is_conditional in [(s, False) for s in _as_list(schema.get("allOf"))] + \
                               [(s, True) for s in conditional]:
        if not isinstance(sub, dict) or not sub:
            continue
        sub, _ = resolve(sub, {}, root)
        if schema_type(sub) not in (None, "object"):
            continue
        for key, prop in properties(sub, root).items():
            props[key] = _merge_property(props.get(key), prop, conditional=is_conditional)
    return props


def object_fields(schema: Mapping, root: Mapping) -> list[tuple[str, dict, bool]]:
    """(name, merged schema, always required) for every property of a resolved object schema."""
    required = required_names(schema, root)
    return [(name, prop, name in required) for name, prop in properties(schema, root).items()]
