from datetime import date, datetime

import pytest

from counterflow.core.calendar import WorkCalendar, YearOverride

# The State Council's 2026 arrangement, as the holidays package ships it.
ADJUSTED_WORKDAYS_2026 = [
    date(2026, 1, 4),    # Sunday, for New Year
    date(2026, 2, 14),   # Saturday, for Spring Festival
    date(2026, 2, 28),   # Saturday, for Spring Festival
    date(2026, 5, 9),    # Saturday, for Labour Day
    date(2026, 9, 20),   # Sunday, for National Day
    date(2026, 10, 10),  # Saturday, for National Day
]


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar()


@pytest.mark.parametrize("day", ADJUSTED_WORKDAYS_2026)
def test_adjusted_weekend_days_of_2026_are_working_days(calendar, day):
    assert day.weekday() >= 5
    assert calendar.is_working_day(day)


def test_national_day_week_2026_pushes_the_deadline_past_the_holiday(calendar):
    # Oct 1-7 off; Oct 10 (Sat) worked; Oct 11 (Sun) off.
    assert calendar.add_working_days(date(2026, 9, 30), 5) == date(2026, 10, 13)


def test_every_day_of_national_day_week_2026_is_off(calendar):
    assert not any(calendar.is_working_day(date(2026, 10, d)) for d in range(1, 8))
    assert calendar.is_working_day(date(2026, 10, 8))


def test_spring_festival_2026_is_nine_days_off_between_two_worked_saturdays(calendar):
    off = [date(2026, 2, d) for d in range(15, 24)]
    assert not any(calendar.is_working_day(day) for day in off)
    assert calendar.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert calendar.add_working_days(date(2026, 2, 13), 3) == date(2026, 2, 25)


def test_plain_week_counts_weekdays_only(calendar):
    monday = date(2026, 3, 9)
    assert calendar.add_working_days(monday, 4) == date(2026, 3, 13)
    assert calendar.add_working_days(monday, 5) == date(2026, 3, 16)
    assert calendar.working_days_between(monday, date(2026, 3, 16)) == 5


def test_acceptance_on_a_weekend_counts_from_the_next_working_day(calendar):
    saturday = date(2026, 3, 14)
    assert not calendar.is_working_day(saturday)
    assert calendar.add_working_days(saturday, 1) == date(2026, 3, 16)
    assert calendar.add_working_days(saturday, 5) == date(2026, 3, 20)


def test_zero_days_is_the_acceptance_day_itself(calendar):
    assert calendar.add_working_days(date(2026, 10, 3), 0) == date(2026, 10, 3)


def test_negative_days_are_refused(calendar):
    with pytest.raises(ValueError, match="0 or more"):
        calendar.add_working_days(date(2026, 3, 9), -1)


def test_datetimes_are_refused_so_the_time_zone_is_decided_by_the_caller(calendar):
    with pytest.raises(TypeError, match="Asia/Shanghai"):
        calendar.is_working_day(datetime(2026, 3, 9, 10, 0))


def test_working_days_between_is_the_inverse_of_add_working_days(calendar):
    start = date(2026, 9, 25)
    for days in range(0, 15):
        assert calendar.working_days_between(start, calendar.add_working_days(start, days)) == days


def test_working_days_between_counts_the_end_not_the_start(calendar):
    assert calendar.working_days_between(date(2026, 3, 9), date(2026, 3, 9)) == 0
    assert calendar.working_days_between(date(2026, 3, 9), date(2026, 3, 10)) == 1
    assert calendar.working_days_between(date(2026, 9, 30), date(2026, 10, 8)) == 1


def test_working_days_between_is_negative_when_the_end_is_earlier(calendar):
    assert calendar.working_days_between(date(2026, 3, 16), date(2026, 3, 9)) == -5


def test_override_adds_a_day_off():
    tuesday = date(2026, 3, 10)
    calendar = WorkCalendar({2026: YearOverride(days_off=frozenset({tuesday}))})
    assert not calendar.is_working_day(tuesday)
    assert calendar.add_working_days(date(2026, 3, 9), 2) == date(2026, 3, 12)


def test_override_makes_a_saturday_a_working_day():
    saturday = date(2026, 3, 14)
    calendar = WorkCalendar({2026: YearOverride(workdays=frozenset({saturday}))})
    assert calendar.is_working_day(saturday)
    assert calendar.add_working_days(date(2026, 3, 13), 1) == saturday


def test_override_wins_over_the_package(calendar):
    overridden = WorkCalendar({2026: YearOverride(days_off=frozenset({date(2026, 10, 10)}),
                                                  workdays=frozenset({date(2026, 10, 7)}))})
    assert not overridden.is_working_day(date(2026, 10, 10))
    assert overridden.is_working_day(date(2026, 10, 7))
    assert calendar.is_working_day(date(2026, 10, 10))


def test_override_refuses_a_day_both_off_and_worked():
    day = date(2026, 3, 14)
    with pytest.raises(ValueError, match="2026-03-14"):
        YearOverride(days_off=frozenset({day}), workdays=frozenset({day}))


def test_override_accepts_any_iterable_of_dates():
    override = YearOverride(days_off=[date(2026, 3, 10)])
    assert override.days_off == frozenset({date(2026, 3, 10)})


def test_2026_has_an_official_arrangement(calendar):
    assert calendar.has_official_arrangement(2026)


def test_2027_has_no_arrangement_yet_and_falls_back_to_weekends_and_holidays(calendar):
    assert not calendar.has_official_arrangement(2027)
    assert not calendar.is_working_day(date(2027, 10, 1))   # National Day, a Friday
    assert not calendar.is_working_day(date(2027, 10, 2))   # Saturday: no adjusted workday
    assert not calendar.is_working_day(date(2027, 10, 9))   # Saturday
    assert calendar.is_working_day(date(2027, 10, 8))
    assert calendar.add_working_days(date(2027, 9, 30), 5) == date(2027, 10, 12)


def test_an_override_gives_a_year_its_arrangement():
    calendar = WorkCalendar({2027: YearOverride(workdays=frozenset({date(2027, 10, 9)}))})
    assert calendar.has_official_arrangement(2027)
    assert calendar.is_working_day(date(2027, 10, 9))
