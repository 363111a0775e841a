"""The mainland China working-day calendar: official arrangement plus admin overrides."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Iterable, Mapping

import holidays

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class YearOverride:
    """An admin's correction of one year's arrangement, published late by the State Council."""

    days_off: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "days_off", _dates(self.days_off, "days_off"))
        object.__setattr__(self, "workdays", _dates(self.workdays, "workdays"))
        both = self.days_off & self.workdays
        if both:
            listed = ", ".join(sorted(d.isoformat() for d in both))
            raise ValueError(f"{listed} listed both as day off and as working day; keep one")


@dataclass(frozen=True)
class _PackageYear:
    holidays: frozenset[date]
    weekend_workdays: frozenset[date]


@lru_cache(maxsize=None)
def _package_year(year: int) -> _PackageYear:
    # Building holidays.China costs milliseconds (a tenth of a second for far years);
    # its data never changes while the process runs, so every calendar shares this cache.
    china = holidays.China(years=year)
    return _PackageYear(
        holidays=frozenset(d for d in china if d.year == year),
        # weekend_workdays also carries cross-year days of every year; keep this year's.
        weekend_workdays=frozenset(d for d in china.weekend_workdays if d.year == year),
    )


class WorkCalendar:
    """Answers which days are working days and counts deadlines in working days."""

    def __init__(self, overrides: Mapping[int, YearOverride] | None = None) -> None:
        self._override_years = frozenset(overrides or {})
        self._days_off: set[date] = set()
        self._workdays: set[date] = set()
        for override in (overrides or {}).values():
            self._days_off |= override.days_off
            self._workdays |= override.workdays
        clash = self._days_off & self._workdays
        if clash:
            listed = ", ".join(sorted(d.isoformat() for d in clash))
            raise ValueError(f"{listed} listed as day off in one year's override and as "
                             "working day in another; keep one")

    def is_working_day(self, day: date) -> bool:
        """True if counters are open on `day`."""
        day = _as_date(day)
        if day in self._workdays:
            return True
        if day in self._days_off:
            return False
        package = _package_year(day.year)
        if day in package.weekend_workdays:
            return True
        return day.weekday() < 5 and day not in package.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The due date: the `days`-th working day after `start` (start itself never counts)."""
        day = _as_date(start)
        if days < 0:
            raise ValueError(f"days must be 0 or more, got {days}")
        while days:
            day += ONE_DAY
            if self.is_working_day(day):
                days -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when `end` is before `start`."""
        start, end = _as_date(start), _as_date(end)
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        day = start + ONE_DAY
        while day <= end:
            count += self.is_working_day(day)
            day += ONE_DAY
        return count

    def back_working_days(self, end: date, days: int) -> date:
        """The day `d` with exactly `days` working days in (d, end]: how far back a due date lies when
        `days` working days have passed it (0: `end` itself)."""
        day = _as_date(end)
        if days < 0:
            raise ValueError(f"days must be 0 or more, got {days}")
        while days:
            if self.is_working_day(day):
                days -= 1
            day -= ONE_DAY
        return day

    def has_official_arrangement(self, year: int) -> bool:
        """False when `year` falls back to weekends plus statutory holidays only."""
        return year in self._override_years or bool(_package_year(year).weekend_workdays)


def override_from_lists(year: int, days_off: Iterable[str], workdays: Iterable[str]) -> YearOverride:
    """One year's override from ISO date texts; ValueError names every day that is not a date of `year`."""
    wrong: list[str] = []
    parsed: dict[str, set[date]] = {"days_off": set(), "workdays": set()}
    for name, values in (("days_off", days_off), ("workdays", workdays)):
        for value in values:
            try:
                day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
            except ValueError:
                day = None
            if day is None or day.year != year:
                wrong.append(f"{name}: {str(value)[:20]!r}")
            else:
                parsed[name].add(day)
    if wrong:
        raise ValueError(f"not dates of {year} (YYYY-MM-DD): {', '.join(wrong[:10])}")
    return YearOverride(frozenset(parsed["days_off"]), frozenset(parsed["workdays"]))


def _as_date(value: date) -> date:
    if isinstance(value, datetime):
        raise TypeError("pass a date, not a datetime: convert to Asia/Shanghai and call .date()")
    if not isinstance(value, date):
        raise TypeError(f"expected a date, got {type(value).__name__}")
    return value


def _dates(values: Iterable[date], name: str) -> frozenset[date]:
    result = frozenset(values)
    for value in result:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise TypeError(f"{name} must hold dates, got {value!r}")
    return result
