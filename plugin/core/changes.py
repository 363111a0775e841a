"""What changed between two versions of a record's data, pointer by pointer (pure)."""
from __future__ import annotations

import copy
import re
from typing import Any, Mapping

from counterflow.core import pointer as jp
from counterflow.core.masking import mask_value

Doc = dict[str, Any]
ATTACHMENT_ID = re.compile(r"^att_[0-9A-HJKMNP-TV-Z]{26}$")


def pointer_values(data: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf as {JSON pointer: value}; a list of scalars counts as one value."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(pointer_values(v, jp.append(prefix, k)))
        return out
    if isinstance(data, list) and data and all(isinstance(v, (dict, list)) for v in data):
        out = {}
        for i, v in enumerate(data):
            out.update(pointer_values(v, jp.append(prefix, i)))
        return out
    return {prefix: data}


def _sensitive_kind(pointer: str, sensitive: Mapping[str, str]) -> str | None:
    return next((kind for pattern, kind in sensitive.items() if jp.matches(pointer, pattern)), None)


def diff(old: Mapping[str, Any], new: Mapping[str, Any], sensitive: Mapping[str, str]) -> list[Doc]:
    """Old and new value of every changed field; sensitive values appear masked."""
    before, after = pointer_values(old), pointer_values(new)
    changes = []
    for pointer in sorted(set(before) | set(after)):
        if before.get(pointer) != after.get(pointer):
            kind = _sensitive_kind(pointer, sensitive)
            was, now = before.get(pointer), after.get(pointer)
            if kind:
                was, now = (mask_value(kind, v) if isinstance(v, str) else v for v in (was, now))
            changes.append({"path": pointer, "old": was, "new": now})
    return changes


def keep_masked(old: Mapping[str, Any], new: Any, sensitive: Mapping[str, str]) -> Any:
    """A sensitive value sent back exactly as we showed it (masked) means 'unchanged'."""
    if not isinstance(new, dict) or not sensitive:
        return new
    result = copy.deepcopy(new)
    before = pointer_values(old)
    for pointer, value in pointer_values(result).items():
        kind = _sensitive_kind(pointer, sensitive)
        old_value = before.get(pointer)
        if kind and isinstance(old_value, str) and isinstance(value, str) and value != old_value \
                and value == mask_value(kind, old_value):
            _set_pointer(result, pointer, old_value)
    return result


def _set_pointer(data: Any, pointer: str, value: Any) -> None:
    parts = jp.split(pointer)
    for part in parts[:-1]:
        data = data[int(part)] if isinstance(data, list) else data[part]
    if isinstance(data, list):
        data[int(parts[-1])] = value
    else:
        data[parts[-1]] = value


def attachment_ids(data: Any) -> list[tuple[str, str]]:
    """(pointer, id) of every attachment id in the data."""
    values = pointer_values(data)
    found = [(p, v) for p, v in values.items() if isinstance(v, str) and ATTACHMENT_ID.match(v)]
    found += [(jp.append(p, i), x) for p, v in values.items() if isinstance(v, list)
              for i, x in enumerate(v) if isinstance(x, str) and ATTACHMENT_ID.match(x)]
    return found
