"""Time as the product stores it: aware UTC, trimmed to milliseconds, written as fixed-width text."""
from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    # the store keeps milliseconds; trimming here keeps what we return equal to what we read back
    now = dt.datetime.now(dt.timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def stamp(when: dt.datetime | None = None) -> str:
    """A timestamp as stored: fixed-width UTC ISO 8601 text, so text order is time order.

    The embedded server turns a top-level datetime in `$set` into naive text, so every
    stored timestamp is text, the way every id is.
    """
    when = (when or utcnow()).astimezone(dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
