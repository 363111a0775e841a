"""JSON pointers (RFC 6901): the one place a path into a document is encoded or decoded.

It lives in `core/` because every layer builds pointers: `core.changes` (diffs), `core.masking`,
`forms` (validation problems, field names, parsing) and the web layer (request-body errors). A
pointer is `""` for the whole document, else `/` followed by the parts, each with `~` written as
`~0` and `/` as `~1`, so a field named `a/b~c` is `/a~1b~0c`.
"""
from __future__ import annotations

from typing import Iterable

WILDCARD = "*"  # in a pattern pointer: any element of an array


def escape(part: str | int) -> str:
    """One reference token: `~` -> `~0`, then `/` -> `~1`."""
    return str(part).replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """The part a reference token stands for: `~1` -> `/`, then `~0` -> `~`."""
    return token.replace("~1", "/").replace("~0", "~")


def join(parts: Iterable[str | int]) -> str:
    """The pointer of `parts` (`[]` -> `""`, `["a/b", 0]` -> `/a~1b/0`)."""
    return "".join("/" + escape(p) for p in parts)


def append(ptr: str, *parts: str | int) -> str:
    """`ptr` extended by `parts`."""
    return ptr + join(parts)


def split(ptr: str) -> list[str]:
    """The parts of a pointer (`""` -> `[]`, `/a~1b/0` -> `["a/b", "0"]`).

    A string that does not start with `/` is not a pointer: ValueError.
    """
    if ptr == "":
        return []
    if not ptr.startswith("/"):
        raise ValueError(f"not a JSON pointer: {ptr!r}")
    return [unescape(token) for token in ptr[1:].split("/")]


def matches(ptr: str, pattern: str) -> bool:
    """Whether `ptr` is `pattern` with every `*` part standing for any one part."""
    a, b = split(ptr), split(pattern)
    return len(a) == len(b) and all(y == WILDCARD or x == y for x, y in zip(a, b))
