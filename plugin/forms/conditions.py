"""Conditions (`x-show-if`, `x-required-if`, `ui:options.show_if`, `settings.review.second_level_if`):
which JSON Logic a definition may use, and its answer.

The browser evaluates the same rule with json-logic-js (static/vendor/json-logic-js), the reference
implementation of JSON Logic. The Python package (panzi-json-logic) converts values its own way in a
few operators (`"" == 0`, `1 === true`, `1 in [true]`, `{"<": [1, 2, null]}`, `{">": [3, 2, 5]}`,
a null field with a default, ...), so the server evaluates with the operators below, which follow the
JavaScript rules the browser applies. `var` reads only the data's own fields on both sides (never a
JavaScript built-in such as `constructor`); counterflow.js installs the same `var` in the browser.
tests/test_jsonlogic_browser.py holds both to the same answers in Chromium.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any, Callable, Iterator

from json_logic import jsonLogic
from json_logic.builtins import BUILTINS

#: operator -> (fewest, most) arguments; None: no upper limit. The only operators a condition may use.
OPERATORS: dict[str, tuple[int, int | None]] = {
    "var": (0, 2), "missing": (1, None), "missing_some": (2, 2),
    "if": (2, None), "?:": (2, None), "and": (1, None), "or": (1, None), "!": (1, 1), "!!": (1, 1),
    "==": (2, 2), "!=": (2, 2), "===": (2, 2), "!==": (2, 2),
    "<": (2, 3), "<=": (2, 3), ">": (2, 2), ">=": (2, 2),
    "in": (2, 2), "some": (2, 2), "all": (2, 2), "none": (2, 2),
}
FIX = ('write one operator per object, e.g. {"==": [{"var": "delivery"}, "mail"]}, using only '
       + ", ".join(OPERATORS))


class _Undefined:
    """JavaScript's `undefined`: an argument that was not given."""

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED: Any = _Undefined()
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
            "\u2028\u2029\u202f\u205f\u3000\ufeff"
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_RADIX = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)\Z")
_INDEX = re.compile(r"(0|[1-9][0-9]*)\Z")


# ---- the definition check -----------------------------------------------------------------------------

def condition_problems(rule: Any) -> list[tuple[list[str | int], str, str]]:
    """(place inside the rule, what is wrong, fix) for a condition; [] when it is fine."""
    if not (isinstance(rule, dict) and len(rule) == 1):
        return [([], "a condition must be one JSON Logic operator object", FIX)]
    return list(_rule_problems(rule, []))


def ui_condition_problems(ui: Any, where: list[str | int]) -> Iterator[tuple[list[str | int], str, str]]:
    """The same for every `ui:options.show_if` in a ui_schema (place from the definition's root)."""
    if not isinstance(ui, dict):
        return
    options = ui.get("ui:options")
    if isinstance(options, dict) and "show_if" in options:
        for place, what, fix in condition_problems(options["show_if"]):
            yield [*where, "ui:options", "show_if", *place], what, fix
    for key, child in ui.items():
        if not key.startswith("ui:"):
            yield from ui_condition_problems(child, [*where, key])


def _rule_problems(rule: Any, place: list[str | int]) -> Iterator[tuple[list[str | int], str, str]]:
    if isinstance(rule, list):
        for i, item in enumerate(rule):
            yield from _rule_problems(item, [*place, i])
        return
    if not isinstance(rule, dict):
        return  # a literal: text, number, true/false, null
    if len(rule) != 1:
        yield place, "an object in a condition must hold exactly one operator", FIX
        return
    op, args = next(iter(rule.items()))
    here = [*place, op]
    if op not in OPERATORS:
        yield here, f"operator {op[:40]!r} is not allowed in a condition", FIX
        return
    values = args if isinstance(args, list) else [args]
    fewest, most = OPERATORS[op]
    if len(values) < fewest or (most is not None and len(values) > most):
        wanted = f"{fewest}" if fewest == most else f"{fewest} or more" if most is None \
            else f"{fewest} to {most}"
        yield here, f"{op} takes {wanted} arguments, not {len(values)}", f"give {op} {wanted} in a list"
        return
    if op == "var":
        path = values[0] if values else None
        if not (path is None or isinstance(path, str) or (type(path) is int and path >= 0)):
            yield ([*here, 0] if isinstance(args, list) else here), \
                "var takes a field name such as \"delivery\" or \"applicant.phone\"", \
                "write the field's name as text, its parts joined with '.'"
        if len(values) == 2:
            yield from _rule_problems(values[1], [*here, 1])
        return
    if op in ("missing", "missing_some"):
        names = values[0] if op == "missing" and len(values) == 1 and isinstance(values[0], list) else \
            values[1] if op == "missing_some" else values
        counted = op != "missing_some" or (type(values[0]) is int and values[0] >= 0)
        if not counted or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            after = ", after a count" if op == "missing_some" else ""
            yield here, f"{op} takes field names as text{after}", \
                'write {"missing": ["a", "b"]} or {"missing_some": [1, ["a", "b"]]}'
        return
    yield from _rule_problems(args, here)


# ---- evaluation as json-logic-js does it ---------------------------------------------------------------

def evaluate(rule: Any, data: Any) -> Any:
    """The rule's value on the data, as json-logic-js computes it in the browser."""
    return jsonLogic(rule, data, OPERATIONS)


def holds(rule: Any, data: Any) -> bool:
    """Whether a condition holds on a form's data; a rule that cannot apply counts as false (the page
    hides the field then too)."""
    try:
        return truthy(evaluate(rule, data if isinstance(data, dict) else {}))
    except Exception:  # noqa: BLE001 - admin-supplied rule on clerk-supplied data: never a 500
        return False


# operators json_logic's apply evaluates itself (lazily, or over items): a compiled rule leaves them to it
_APPLIED = frozenset({"if", "?:", "and", "or", "filter", "reduce", "map", "all", "some", "none"})


def compile_condition(rule: Any) -> Callable[[Any], bool]:
    """`holds` for one rule, its operators looked up once (per form version) instead of per data:
    `compile_condition(rule)(data) == holds(rule, data)` for every rule and data."""
    evaluate_ = _compiled(rule)

    def compiled(data: Any) -> bool:
        try:
            return truthy(evaluate_(data if isinstance(data, dict) else {}))
        except Exception:  # noqa: BLE001 - admin-supplied rule on clerk-supplied data: never a 500
            return False
    return compiled


def _compiled(logic: Any) -> Callable[[Any], Any]:
    """What json_logic's apply(logic, data, OPERATIONS) computes, as a function of the data."""
    if isinstance(logic, list):
        items = [_compiled(item) for item in logic]
        return lambda data: [item(data) for item in items]
    if not isinstance(logic, dict) or len(logic) != 1:
        return lambda data: logic
    op, args = next(iter(logic.items()))
    if op in _APPLIED or op not in OPERATIONS:
        return lambda data: jsonLogic(logic, data, OPERATIONS)
    values = args if isinstance(args, list) else [args]
    if op == "var" and 1 <= len(values) <= 2 and not any(isinstance(v, (dict, list)) for v in values):
        return _compiled_var(*values)
    operation = OPERATIONS[op]
    arguments = [_compiled(arg) for arg in values]
    return lambda data: operation(data, *[argument(data) for argument in arguments])


def _compiled_var(path: Any, default: Any = UNDEFINED) -> Callable[[Any], Any]:
    """`_var(data, path, default)` for a path and default written in the rule: split once."""
    not_found = None if default is UNDEFINED else default
    if path is None or (isinstance(path, str) and path == ""):
        return lambda data: data
    parts = _string(path).split(".")

    def var(data: Any) -> Any:
        for part in parts:
            if data is None or data is UNDEFINED:
                return not_found
            data = data.get(part, UNDEFINED) if isinstance(data, dict) else _own(data, part)
            if data is UNDEFINED:
                return not_found
        return data
    return var


def truthy(value: Any) -> bool:
    """JSON Logic truthiness: JavaScript's, except that an empty list is false."""
    if value is UNDEFINED or value is None:
        return False
    if isinstance(value, list):
        return bool(value)
    if isinstance(value, float):
        return not (math.isnan(value) or value == 0)
    return bool(value) if isinstance(value, (bool, int, str)) else True


def _type(value: Any) -> str:
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "object"


def _number(value: Any) -> float:
    """JavaScript's ToNumber."""
    kind = _type(value)
    if kind == "number":
        try:
            return float(value)
        except OverflowError:
            return math.copysign(math.inf, value)
    if kind == "string":
        text = value.strip(_JS_SPACE)
        if not text:
            return 0.0
        if _DECIMAL.match(text):
            return float(text)
        if text.lstrip("+-") == "Infinity":
            return -math.inf if text.startswith("-") else math.inf
        if _RADIX.match(text):
            return float(int(text, 0))
        return math.nan
    if kind == "object":
        return _number(_primitive(value))
    return {"undefined": math.nan, "null": 0.0, "boolean": float(bool(value))}[kind]


def _primitive(value: Any) -> Any:
    """JavaScript's ToPrimitive for data: a list is joined with ',', an object is '[object Object]'."""
    if isinstance(value, list):
        return ",".join("" if v is None or v is UNDEFINED else _string(v) for v in value)
    return "[object Object]" if _type(value) == "object" else value


def _string(value: Any) -> str:
    """JavaScript's ToString."""
    kind = _type(value)
    if kind == "number":
        return _number_text(_number(value))
    if kind == "object":
        return _primitive(value)
    named = {"undefined": "undefined", "null": "null", "boolean": "true" if value else "false"}
    return named.get(kind, value)


def _number_text(x: float) -> str:
    """Number.prototype.toString(): the shortest digits that round-trip, laid out as JavaScript does."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    parts = Decimal(repr(abs(x))).normalize().as_tuple()
    digits = "".join(map(str, parts.digits))
    k, n = len(digits), int(parts.exponent) + len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    exponent = f"e{'+' if n - 1 > 0 else '-'}{abs(n - 1)}"
    return sign + digits[0] + ("." + digits[1:] if k > 1 else "") + exponent


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")


def loose_equals(a: Any, b: Any) -> bool:
    """JavaScript's `a == b`."""
    ta, tb = _type(a), _type(b)
    if ta == tb:
        if ta == "number":
            return _number(a) == _number(b)
        return a is b if ta == "object" else ta in ("undefined", "null") or a == b
    if {ta, tb} == {"undefined", "null"}:
        return True
    if ta == "number" and tb == "string" or ta == "string" and tb == "number":
        return _number(a) == _number(b)
    if ta == "boolean":
        return loose_equals(_number(a), b)
    if tb == "boolean":
        return loose_equals(a, _number(b))
    if ta in ("number", "string") and tb == "object":
        return loose_equals(a, _primitive(b))
    if ta == "object" and tb in ("number", "string"):
        return loose_equals(_primitive(a), b)
    return False


def strict_equals(a: Any, b: Any) -> bool:
    """JavaScript's `a === b`."""
    ta = _type(a)
    if ta != _type(b):
        return False
    if ta == "number":
        return _number(a) == _number(b)
    return a is b if ta == "object" else ta in ("undefined", "null") or a == b


def _less(a: Any, b: Any) -> bool | None:
    """JavaScript's IsLessThan: None where it is undefined (a NaN was met)."""
    pa, pb = _primitive(a), _primitive(b)
    if isinstance(pa, str) and isinstance(pb, str):
        return _utf16(pa) < _utf16(pb)
    na, nb = _number(pa), _number(pb)
    return None if math.isnan(na) or math.isnan(nb) else na < nb


def _lt(a: Any, b: Any) -> bool:
    return _less(a, b) is True


def _le(a: Any, b: Any) -> bool:
    return _less(b, a) is False


def _var(data: Any, path: Any = UNDEFINED, default: Any = UNDEFINED) -> Any:
    not_found = None if default is UNDEFINED else default
    if path is UNDEFINED or path is None or (isinstance(path, str) and path == ""):
        return data
    for part in _string(path).split("."):
        if data is None or data is UNDEFINED:
            return not_found
        data = _own(data, part)
        if data is UNDEFINED:
            return not_found
    return data


def _own(data: Any, key: str) -> Any:
    """data[key] for the data's own fields only: object keys, list and text indices, and length."""
    if isinstance(data, dict):
        return data.get(key, UNDEFINED)
    if isinstance(data, str):
        units = _utf16(data)
        if key == "length":
            return len(units) // 2
        index = int(key) if _INDEX.match(key) else -1
        if not 0 <= index < len(units) // 2:
            return UNDEFINED
        return units[2 * index:2 * index + 2].decode("utf-16-be", "surrogatepass")  # a UTF-16 unit, as JS
    if isinstance(data, list):
        if key == "length":
            return len(data)
        index = int(key) if _INDEX.match(key) else -1
        return data[index] if 0 <= index < len(data) else UNDEFINED
    return UNDEFINED


def _in(_: Any, needle: Any = UNDEFINED, haystack: Any = UNDEFINED, *__: Any) -> bool:
    """json-logic-js: `if (!b || typeof b.indexOf === "undefined") return false;
    return b.indexOf(a) !== -1`."""
    if isinstance(haystack, list):
        return any(strict_equals(needle, item) for item in haystack)
    if isinstance(haystack, str):
        return haystack != "" and _string(needle) in haystack   # same as UTF-16 search for whole characters
    if isinstance(haystack, dict) and "indexOf" in haystack:
        raise TypeError("b.indexOf is not a function")  # what the browser meets on such data
    return False


def _missing(data: Any, *args: Any) -> list[Any]:
    keys = args[0] if args and isinstance(args[0], list) else list(args)
    return [k for k in keys if (v := _var(data, k)) is None or (isinstance(v, str) and v == "")]


def _missing_some(data: Any, need: Any = UNDEFINED, keys: Any = UNDEFINED, *_: Any) -> list[Any]:
    missing = _missing(data, *(keys if isinstance(keys, list) else [keys]))
    length = len(keys) if isinstance(keys, (list, str)) else math.nan
    return [] if length - len(missing) >= _number(need) else missing


def _three(compare: Any) -> Any:
    def operation(_: Any, a: Any = UNDEFINED, b: Any = UNDEFINED, c: Any = UNDEFINED, *__: Any) -> bool:
        return compare(a, b) if c is UNDEFINED else compare(a, b) and compare(b, c)
    return operation


# A rule stored before the definition check refused other operators still evaluates as the package does
# (never `log`, which writes to the server's output); every operator a definition may use is here.
OPERATIONS: dict[str, Any] = {
    **{op: fn for op, fn in BUILTINS.items() if op != "log"},
    "var": _var,
    "missing": _missing,
    "missing_some": _missing_some,
    "==": lambda _, a=UNDEFINED, b=UNDEFINED, *__: loose_equals(a, b),
    "!=": lambda _, a=UNDEFINED, b=UNDEFINED, *__: not loose_equals(a, b),
    "===": lambda _, a=UNDEFINED, b=UNDEFINED, *__: strict_equals(a, b),
    "!==": lambda _, a=UNDEFINED, b=UNDEFINED, *__: not strict_equals(a, b),
    "<": _three(_lt),
    "<=": _three(_le),
    ">": lambda _, a=UNDEFINED, b=UNDEFINED, *__: _lt(b, a),
    ">=": lambda _, a=UNDEFINED, b=UNDEFINED, *__: _le(b, a),
    "!": lambda _, a=UNDEFINED, *__: not truthy(a),
    "!!": lambda _, a=UNDEFINED, *__: truthy(a),
    "in": _in,
}
