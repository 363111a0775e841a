"""What the store can hold: nesting depth and integer range, checked the same way on every path in."""
from __future__ import annotations

from typing import Any

from counterflow.core import pointer

MAX_DEPTH = 100                 # MongoDB refuses documents nested deeper than 100
INT64 = 2 ** 63                 # nor does it hold an integer beyond 64 bits


def unstorable(value: Any, depth: int = 0, path: str = "") -> list[tuple[str, str]]:
    """Every place the store cannot hold, as (JSON pointer, reason), walked without recursion.

    Too deep stops the walk with that one problem; otherwise every integer past 64 bits is listed.
    """
    stack: list[tuple[Any, str, int]] = [(value, path, depth)]
    too_large: list[tuple[str, str]] = []
    while stack:
        item, where, level = stack.pop()
        if level > MAX_DEPTH:
            return [(where or "/", "too_deep")]
        if isinstance(item, dict):
            stack.extend((v, pointer.append(where, k), level + 1) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, pointer.append(where, i), level + 1) for i, v in enumerate(item))
        elif isinstance(item, int) and not isinstance(item, bool) and not -INT64 <= item < INT64:
            too_large.append((where or "/", "too_large_number"))
    return sorted(too_large)
