"""Masking of sensitive values for display: what a clerk may see of an ID or card number."""
from __future__ import annotations

import copy
import re
from typing import Any, Callable, Mapping

from counterflow.core import pointer as jp

KINDS = ("id_number", "bank_card", "phone", "name", "address", "secret")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_MAINLAND_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_MASKED_MOBILE = re.compile(r"^1[3-9][0-9]\*{4}[0-9]{4}$")
MAX_ADDRESS_STARS = 10


def _keep(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return value[:1] + "*" * (len(value) - 1) if len(value) > 1 else "*"
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail:]


def _phone(value: str) -> str:
    digits = re.sub(r"[\s-]", "", value)
    if _MAINLAND_MOBILE.match(digits):
        return _keep(digits, 3, 4)
    return _keep(digits, 0, 4)


def _name(value: str) -> str:
    if _CJK.search(value):
        return value[0] + "*" * (len(value) - 1)
    return " ".join(word[0] + "*" * (len(word) - 1) for word in value.split())


def _address(value: str) -> str:
    return value[:6] + "*" * min(len(value) - 6, MAX_ADDRESS_STARS) if len(value) > 6 else value


_MASKERS = {
    "id_number": lambda v: _keep(v.strip(), 3, 4),
    "bank_card": lambda v: _keep(re.sub(r"\s", "", v), 6, 4),
    "phone": _phone,
    "name": _name,
    "address": _address,
    "secret": lambda v: "******",
}


def mask_value(kind: str, value: Any) -> Any:
    """The value as it may be shown; non-strings and empty strings pass unchanged."""
    if not isinstance(value, str) or not value:
        return value
    return _MASKERS.get(kind, _MASKERS["secret"])(value)


def looks_masked(kind: str, value: Any) -> bool:
    """Whether `value` has the shape of a masked `kind` value (stars where characters were hidden):
    masking it again changes nothing. Such a value is never data a person typed."""
    if not isinstance(value, str) or "*" not in value:
        return False
    return mask_value(kind, value) == value or (kind == "phone" and _MASKED_MOBILE.match(value) is not None)


def mask_data(data: Any, sensitive: Mapping[str, str]) -> Any:
    """A deep copy of `data` with every sensitive pointer (`*` for any array element) masked."""
    return transform_sensitive(data, sensitive, mask_value)


def transform_sensitive(data: Any, sensitive: Mapping[str, str], change: Callable[[str, Any], Any]) -> Any:
    """A deep copy of `data` with `change(kind, value)` applied at every sensitive pointer."""
    return transform_sensitive_at(data, sensitive, lambda ptr, kind, value: change(kind, value))


def transform_sensitive_at(data: Any, sensitive: Mapping[str, str],
                           change: Callable[[str, str, Any], Any]) -> Any:
    """A deep copy of `data` with `change(pointer, kind, value)` applied at every sensitive pointer
    (`pointer` is the value's own, with array indices where the pattern has `*`)."""
    if not sensitive:
        return data
    result = copy.deepcopy(data)
    for ptr, kind in sensitive.items():
        parts = jp.split(ptr)
        if parts:
            _mask_at(result, parts, kind, change, "")
    return result


def _mask_at(node: Any, parts: list[str], kind: str, change: Callable[[str, str, Any], Any], at: str) -> None:
    head, rest = parts[0], parts[1:]
    if head == jp.WILDCARD and isinstance(node, list):
        keys: list[Any] = list(range(len(node)))
    elif isinstance(node, dict) and head in node:
        keys = [head]
    elif isinstance(node, list) and head.isdigit() and int(head) < len(node):
        keys = [int(head)]
    else:
        return
    for key in keys:
        if rest:
            _mask_at(node[key], rest, kind, change, jp.append(at, key))
        else:
            node[key] = change(jp.append(at, key), kind, node[key])
