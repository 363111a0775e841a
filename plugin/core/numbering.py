"""Acceptance numbers built from a form's pattern, such as `ACC-{yyyy}{mm}{dd}-{seq:05d}`."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

_TOKEN = re.compile(r"\{([^{}]*)\}")
_LITERAL = re.compile(r"[A-Za-z0-9_/-]*")
_SEQ = re.compile(r"seq(?::0([1-9]|1[0-2])d)?")
_DATE_TOKENS = {"yyyy": "%Y", "yy": "%y", "mm": "%m", "dd": "%d"}
_KNOWN = "{yyyy}, {yy}, {mm}, {dd}, {seq} or {seq:0Nd} with N from 1 to 12"

# A part is ("text", literal), ("date", strftime code) or ("seq", width).
_Part = tuple[str, str | int]


@dataclass(frozen=True)
class NumberPattern:
    """A parsed numbering pattern; the counter restarts with each period."""

    pattern: str
    _parts: tuple[_Part, ...] = field(init=False, repr=False, compare=False)
    _period_format: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = _parse(self.pattern)
        object.__setattr__(self, "_parts", parts)
        object.__setattr__(self, "_period_format", _period_format(self.pattern, parts))

    @classmethod
    def parse(cls, pattern: str) -> NumberPattern:
        """Check and compile `pattern`; ValueError names the bad token and the fix."""
        return cls(pattern)

    def period(self, when: datetime) -> str:
        """The counter's period for `when`: "20261122", "202611", "2026" or "all"."""
        _require_aware(when)
        return when.strftime(self._period_format) if self._period_format else "all"

    def format(self, when: datetime, seq: int) -> str:
        """The acceptance number for the `seq`-th record of `when`'s period."""
        _require_aware(when)
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise ValueError(f"seq must be a positive integer, got {seq!r}")
        out = []
        for kind, value in self._parts:
            if kind == "text":
                out.append(str(value))
            elif kind == "date":
                out.append(when.strftime(str(value)))
            else:
                out.append(str(seq).zfill(int(value)))
        return "".join(out)


def _parse(pattern: str) -> tuple[_Part, ...]:
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("numbering pattern is empty; write one like 'ACC-{yyyy}{mm}{dd}-{seq:05d}'")
    parts: list[_Part] = []
    position = 0
    for match in _TOKEN.finditer(pattern):
        parts.extend(_literal(pattern, pattern[position:match.start()]))
        parts.append(_token(pattern, match.group(1)))
        position = match.end()
    parts.extend(_literal(pattern, pattern[position:]))
    seqs = sum(kind == "seq" for kind, _ in parts)
    if seqs != 1:
        raise ValueError(f"numbering pattern {pattern!r} has {seqs} sequence tokens; "
                         "it needs exactly one {seq} or {seq:0Nd}")
    return tuple(parts)


def _literal(pattern: str, text: str) -> list[_Part]:
    if not text:
        return []
    if not _LITERAL.fullmatch(text):
        bad = next(ch for ch in text if not _LITERAL.fullmatch(ch))
        raise ValueError(f"numbering pattern {pattern!r}: {bad!r} in {text!r} is not allowed; "
                         "literal text may hold only letters, digits, '-', '_' and '/', "
                         f"and braces only around a token: {_KNOWN}")
    return [("text", text)]


def _token(pattern: str, name: str) -> _Part:
    if name in _DATE_TOKENS:
        return ("date", _DATE_TOKENS[name])
    seq = _SEQ.fullmatch(name)
    if seq:
        return ("seq", int(seq.group(1) or 1))
    if name.startswith("seq"):
        raise ValueError(f"numbering pattern {pattern!r}: bad sequence token '{{{name}}}'; "
                         "write {seq} or {seq:0Nd} with N from 1 to 12, e.g. {seq:05d}")
    raise ValueError(f"numbering pattern {pattern!r}: unknown token '{{{name}}}'; use {_KNOWN}")


def _period_format(pattern: str, parts: tuple[_Part, ...]) -> str:
    # The period always carries the full date down to the finest token, so a number
    # can only repeat if the pattern itself leaves out a coarser part of the date.
    codes = {value for kind, value in parts if kind == "date"}
    has_year = bool(codes & {"%Y", "%y"})
    if "%d" in codes and not ("%m" in codes and has_year):
        raise ValueError(f"numbering pattern {pattern!r} has {{dd}} without {{mm}} and a year; "
                         "numbers would repeat every month or year: add {yyyy}{mm}")
    if "%m" in codes and not has_year:
        raise ValueError(f"numbering pattern {pattern!r} has {{mm}} without a year; "
                         "numbers would repeat every year: add {yyyy} or {yy}")
    if "%d" in codes:
        return "%Y%m%d"
    if "%m" in codes:
        return "%Y%m"
    return "%Y" if has_year else ""


def _require_aware(when: datetime) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("when must be timezone-aware, in the counter's zone (Asia/Shanghai)")
