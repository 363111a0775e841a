"""COUNTERFLOW_CLOCK_OFFSET: a test or training installation's clock runs ahead or behind, only when allowed,
and says so on every page, every API response and in the log."""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import add_staff, make_config, new_db_name, running_app, signed_in
from counterflow.core import clock
from counterflow.settings import Settings, SettingsError
from forms import COMPLETE, publish


@pytest.fixture(autouse=True)
def _host_clock() -> Iterator[None]:
    yield
    clock.set_offset(None)                  # whatever a test set, the next one starts on the host's clock


@pytest.mark.parametrize("text, years, delta", [
    ("+6y", 6, dt.timedelta(0)), ("-3d", 0, dt.timedelta(days=3)), ("+2h", 0, dt.timedelta(hours=2)),
    ("+1y30d", 1, dt.timedelta(days=30)), ("+90m", 0, dt.timedelta(minutes=90)),
    ("+2w", 0, dt.timedelta(weeks=2))])
def test_offsets_parse(text: str, years: int, delta: dt.timedelta) -> None:
    found = clock.parse_offset(text)
    sign = -1 if text[0] == "-" else 1
    assert (found.years, found.delta, found.sign, found.text) == (years, delta, sign, text)


@pytest.mark.parametrize("text", ["6y", "+6", "+6x", "+y", "++6y", "+6y-", "tomorrow", "+999y"])
def test_a_malformed_offset_names_the_fix(text: str) -> None:
    with pytest.raises(ValueError, match="fix: give a sign"):
        clock.parse_offset(text)


def test_utcnow_and_stamp_carry_the_offset() -> None:
    before = dt.datetime.now(dt.timezone.utc)
    clock.set_offset("+6y")
    shifted = clock.utcnow()
    assert shifted.year in (before.year + 6, before.year + 7)
    assert abs((shifted.replace(year=before.year) - before).total_seconds()) < 5 or before.month == 12
    assert clock.stamp().startswith(str(shifted.year))
    clock.set_offset("-3d")
    assert abs((dt.datetime.now(dt.timezone.utc) - clock.utcnow()) - dt.timedelta(days=3)) < \
        dt.timedelta(seconds=5)
    clock.set_offset(None)
    assert abs((clock.utcnow() - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 5


def test_29_february_plus_a_year_is_28_february() -> None:
    leap = dt.datetime(2028, 2, 29, 12, tzinfo=dt.timezone.utc)
    assert clock.parse_offset("+1y").apply(leap) == dt.datetime(2029, 2, 28, 12, tzinfo=dt.timezone.utc)


def test_refused_at_start_up_unless_allowed() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_mapping({"COUNTERFLOW_CLOCK_OFFSET": "+6y"})
    assert "COUNTERFLOW_CLOCK_OFFSET" in str(refused.value)
    assert "COUNTERFLOW_ALLOW_CLOCK_OFFSET=1" in str(refused.value)
    with pytest.raises(SettingsError, match="COUNTERFLOW_CLOCK_OFFSET: 'tomorrow' is not a clock offset"):
        Settings.from_mapping({"COUNTERFLOW_CLOCK_OFFSET": "tomorrow",
                               "COUNTERFLOW_ALLOW_CLOCK_OFFSET": "1"})
    allowed = Settings.from_mapping({"COUNTERFLOW_CLOCK_OFFSET": "+6y",
                                     "COUNTERFLOW_ALLOW_CLOCK_OFFSET": "1"})
    assert allowed.clock_offset == "+6y" and allowed.allow_clock_offset
    assert Settings.from_mapping({}).clock_offset is None


def test_refused_by_the_app_too(mongo_uri: str, tmp_path: Path) -> None:
    from counterflow.host import create_app

    config = dict(make_config(mongo_uri, new_db_name(), tmp_path), COUNTERFLOW_CLOCK_OFFSET="+6y")
    with pytest.raises(SettingsError, match="COUNTERFLOW_ALLOW_CLOCK_OFFSET"):
        create_app(config)
    assert not clock.offset()


def test_an_allowed_offset_is_logged_announced_on_pages_and_api_and_stamps_records(
        mongo_uri: str, tmp_path: Path, caplog: Any) -> None:
    config = dict(make_config(mongo_uri, new_db_name(), tmp_path), COUNTERFLOW_CLOCK_OFFSET="+6y",
                  COUNTERFLOW_ALLOW_CLOCK_OFFSET="1")
    with caplog.at_level(logging.WARNING), running_app(config) as app:
        assert any("COUNTERFLOW_CLOCK_OFFSET=+6y" in r.getMessage() for r in caplog.records)
        client = app.test_client()
        api = signed_in(client)
        r = api.get("/api/v1/me", "admin")
        assert r.headers["X-Counterflow-Clock-Offset"] == "+6y"
        for lang, words in (("zh-CN", "系统时钟已偏移 +6y"), ("en", "the clock is shifted by +6y")):
            page = client.get(f"/status?lang={lang}").get_data(as_text=True)
            assert 'class="cf-clock-offset"' in page and words in page
        add_staff(api)
        publish(api)
        record = api.post("/api/v1/records", "clerk", json={"form": "parking-permit", "data": COMPLETE})
        assert record.status_code == 201
        year = dt.datetime.now(dt.timezone.utc).year
        assert int(record.get_json()["created_at"][:4]) in (year + 6, year + 7)


def test_without_an_offset_nothing_is_announced(app: Any, client: Any) -> None:
    api = signed_in(client)
    assert "X-Counterflow-Clock-Offset" not in api.get("/api/v1/me", "admin").headers
    assert "cf-clock-offset" not in client.get("/status").get_data(as_text=True)
