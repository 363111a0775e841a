"""Time as the product stores it: aware UTC, trimmed to milliseconds, written as fixed-width text.

A test or training installation may run ahead of (or behind) the host's clock by a fixed offset
(`COUNTERFLOW_CLOCK_OFFSET`, such as `+6y` or `-3d`), so that a retention period can be seen to end
through the API. The offset is process-wide: every `utcnow()` (and so every `stamp()`) carries it.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_PART = re.compile(r"(\d{1,6})(y|w|d|h|m|s)")
_WHOLE = re.compile(r"^[+-](\d{1,6}(y|w|d|h|m|s))+$")
UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
OFFSET_FIX = ("fix: give a sign, then whole numbers with units y (years), w (weeks), d (days), h (hours), "
              "m (minutes) or s (seconds), such as +6y, -3d, +1y30d or +2h")


@dataclass(frozen=True)
class Offset:
    """A signed shift of the clock: whole years (calendar years, 29 February kept as 28) and a duration."""

    text: str = ""
    sign: int = 1
    years: int = 0
    delta: dt.timedelta = dt.timedelta(0)

    def __bool__(self) -> bool:
        return bool(self.years or self.delta)

    def apply(self, when: dt.datetime) -> dt.datetime:
        if self.years:
            year = when.year + self.sign * self.years
            try:
                when = when.replace(year=year)
            except ValueError:                       # 29 February in a year without one
                when = when.replace(year=year, day=28)
        return when + self.sign * self.delta


def parse_offset(text: str | None) -> Offset:
    """`+6y`, `-3d`, `+1y30d`, `+2h` as an Offset; empty or None: no offset. ValueError names the fix."""
    value = (text or "").strip().replace(" ", "")
    if not value:
        return Offset()
    if not _WHOLE.match(value):
        raise ValueError(f"{text!r} is not a clock offset; {OFFSET_FIX}")
    years, parts = 0, {name: 0 for name in UNITS.values()}
    for number, unit in _PART.findall(value):
        if unit == "y":
            years += int(number)
        else:
            parts[UNITS[unit]] += int(number)
    if years > 200:
        raise ValueError(f"{text!r} moves the clock more than 200 years; {OFFSET_FIX}")
    try:
        delta = dt.timedelta(**parts)
    except OverflowError:
        raise ValueError(f"{text!r} is too large; {OFFSET_FIX}") from None
    return Offset(value, -1 if value[0] == "-" else 1, years, delta)


_offset = Offset()


def set_offset(offset: Offset | str | None) -> Offset:
    """Shift `utcnow()` for the whole process (an empty offset: the host's clock again)."""
    global _offset
    _offset = offset if isinstance(offset, Offset) else parse_offset(offset)
    return _offset


def offset() -> Offset:
    """The offset in force (false when the clock is the host's)."""
    return _offset


def utcnow() -> dt.datetime:
    # the store keeps milliseconds; trimming here keeps what we return equal to what we read back
    now = dt.datetime.now(dt.timezone.utc)
    if _offset:
        now = _offset.apply(now)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def stamp(when: dt.datetime | None = None) -> str:
    """A timestamp as stored: fixed-width UTC ISO 8601 text, so text order is time order.

    The embedded server turns a top-level datetime in `$set` into naive text, so every
    stored timestamp is text, the way every id is.
    """
    when = (when or utcnow()).astimezone(dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
