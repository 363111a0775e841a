import json
from datetime import datetime, timedelta, timezone
from importlib import resources

import pytest

from counterflow.core.numbering import NumberPattern

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
WHEN = datetime(2026, 11, 22, 9, 30, tzinfo=SHANGHAI)
SHIPPED_FORMS = ["account-change", "certificate-application", "business-licence"]


@pytest.mark.parametrize("pattern, number", [
    ("ACC-{yyyy}{mm}{dd}-{seq:05d}", "ACC-20261122-00042"),
    ("CERT-{yy}{mm}-{seq:04d}", "CERT-2611-0042"),
    ("BL/{yyyy}/{seq:06d}", "BL/2026/000042"),
    ("Q_{seq}", "Q_42"),
    ("{seq:01d}", "42"),
    ("{yyyy}{seq:012d}", "2026000000000042"),
])
def test_format_fills_date_tokens_and_padded_sequence(pattern, number):
    assert NumberPattern.parse(pattern).format(WHEN, 42) == number


@pytest.mark.parametrize("pattern, period", [
    ("ACC-{yyyy}{mm}{dd}-{seq:05d}", "20261122"),
    ("ACC-{yy}{mm}{dd}-{seq}", "20261122"),
    ("CERT-{yyyy}{mm}-{seq:04d}", "202611"),
    ("BL-{yyyy}-{seq}", "2026"),
    ("BL-{yy}-{seq}", "2026"),
    ("Q-{seq:08d}", "all"),
])
def test_period_is_the_finest_date_token(pattern, period):
    assert NumberPattern.parse(pattern).period(WHEN) == period


def test_period_follows_the_local_date_it_is_given():
    # 23:30 in Shanghai on the 22nd is still the 22nd, whatever UTC says.
    late = datetime(2026, 11, 22, 23, 30, tzinfo=SHANGHAI)
    assert NumberPattern.parse("A-{yyyy}{mm}{dd}-{seq}").period(late) == "20261122"


def test_sequence_wider_than_padding_still_formats():
    pattern = NumberPattern.parse("ACC-{yyyy}{mm}{dd}-{seq:05d}")
    assert pattern.format(WHEN, 123456) == "ACC-20261122-123456"


def test_direct_construction_is_checked_like_parse():
    assert NumberPattern("X-{seq}") == NumberPattern.parse("X-{seq}")
    with pytest.raises(ValueError):
        NumberPattern("X-")


@pytest.mark.parametrize("pattern, words", [
    ("ACC-{seq}-{seq:03d}", ["2 sequence tokens", "exactly one"]),
    ("ACC-{yyyy}{mm}{dd}", ["0 sequence tokens", "exactly one"]),
    ("ACC-{hh}-{seq}", ["unknown token '{hh}'", "{yyyy}"]),
    ("ACC-{seq:0d}", ["'{seq:0d}'", "{seq:05d}"]),
    ("ACC-{seq:5d}", ["'{seq:5d}'", "{seq:0Nd}"]),
    ("ACC-{seq:013d}", ["'{seq:013d}'", "1 to 12"]),
    ("ACC-{{seq}}", ["'{'", "braces only around a token"]),
    ("ACC}-{seq}", ["'}'", "braces only around a token"]),
    ("ACC-{seq", ["'{'", "braces only around a token"]),
    ("ACC {seq}", ["' '", "letters, digits"]),
    ("受理-{seq}", ["'受'", "letters, digits"]),
    ("", ["empty"]),
    ("A-{dd}-{seq}", ["{dd} without {mm}", "add {yyyy}{mm}"]),
    ("A-{mm}-{seq}", ["{mm} without a year", "add {yyyy}"]),
])
def test_invalid_patterns_name_the_problem_and_the_fix(pattern, words):
    with pytest.raises(ValueError) as error:
        NumberPattern.parse(pattern)
    for word in words:
        assert word in str(error.value)


def test_naive_datetimes_are_refused():
    pattern = NumberPattern.parse("A-{yyyy}-{seq}")
    with pytest.raises(ValueError, match="timezone-aware"):
        pattern.period(datetime(2026, 11, 22))
    with pytest.raises(ValueError, match="timezone-aware"):
        pattern.format(datetime(2026, 11, 22), 1)


@pytest.mark.parametrize("seq", [0, -1, True, 1.0])
def test_sequence_must_be_a_positive_integer(seq):
    with pytest.raises(ValueError, match="positive integer"):
        NumberPattern.parse("A-{seq}").format(WHEN, seq)


@pytest.mark.parametrize("key", SHIPPED_FORMS)
def test_shipped_form_numbering_parses(key):
    form = json.loads(resources.files("counterflow.schemas").joinpath(f"{key}.json").read_text("utf-8"))
    pattern = NumberPattern.parse(form["settings"]["numbering"])
    assert pattern.format(WHEN, 1)


def test_shipped_forms_number_with_distinct_prefixes():
    numbers = set()
    for key in SHIPPED_FORMS:
        text = resources.files("counterflow.schemas").joinpath(f"{key}.json").read_text("utf-8")
        numbers.add(NumberPattern.parse(json.loads(text)["settings"]["numbering"]).format(WHEN, 1))
    assert len(numbers) == len(SHIPPED_FORMS)
