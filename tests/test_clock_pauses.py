"""The `overdue` and `due_soon` lists (worklists and the records list's `overdue` filter) follow the record's
clock: a record whose clock was paused and resumed is listed by the due date the clock moved (`due_at`), not
the one printed at acceptance, so it is neither listed overdue early nor late, on the clock's own calendar day
(the installation's clock, offset included)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

import pytest

from conftest import Api
from counterflow.core import clock
from counterflow.core.calendar import WorkCalendar
import test_clocks
from test_clocks import SHANGHAI, _accepted

world = test_clocks.world                                  # the fixture, used by name


@pytest.fixture(autouse=True)
def _host_clock() -> Iterator[None]:
    yield
    clock.set_offset(None)


def _listed(api: Api, name: str, who: str = "boss") -> list[str]:
    r = api.get(f"/api/v1/worklists/{name}?limit=100", who)
    assert r.status_code == 200, r.get_json()
    return [item["id"] for item in r.get_json()["items"]]


def _overdue_filter(api: Api, who: str = "boss") -> list[str]:
    r = api.get("/api/v1/records?overdue=true&limit=100", who)
    assert r.status_code == 200, r.get_json()
    return [item["id"] for item in r.get_json()["items"]]


def _on(day: dt.date) -> None:
    """Move the installation's clock to noon (Shanghai) of `day`."""
    now = dt.datetime.now(SHANGHAI)
    target = dt.datetime.combine(day, dt.time(12), SHANGHAI)
    shift = (target - now).total_seconds()
    days, seconds = divmod(abs(int(shift)), 86400)
    clock.set_offset(f"{'+' if shift >= 0 else '-'}{days}d{seconds}s")


def test_a_paused_and_resumed_record_is_listed_by_the_moved_due_date(world: Any) -> None:
    app, api, _ = world
    service = app.extensions["counterflow"].service
    calendar = WorkCalendar()
    start = calendar.add_working_days(dt.datetime.now(SHANGHAI).date(), 1)      # a working day
    _on(start)
    record = _accepted(api)
    printed = record["due_date"]
    assert record["due_at"] == printed == calendar.add_working_days(start, 3).isoformat()
    r = api.post(f"/api/v1/records/{record['id']}/transitions/wait", "reviewer",
                 json={"revision": record["revision"]})
    assert r.status_code == 200, r.get_json()
    waiting = r.get_json()
    # two weeks waiting for the experts: the clock does not run, the printed date passes
    back = calendar.add_working_days(start, 10)
    _on(back)
    assert record["id"] not in _listed(api, "overdue") and record["id"] not in _overdue_filter(api)
    r = api.post(f"/api/v1/records/{record['id']}/transitions/resume", "reviewer",
                 json={"revision": waiting["revision"]})
    assert r.status_code == 200, r.get_json()
    resumed = r.get_json()
    due = dt.date.fromisoformat(resumed["due_at"])
    assert due == calendar.add_working_days(back, 3) and resumed["due_at"] > printed
    # not early: past the printed date, before the moved one, it is neither overdue nor (yet) due soon
    assert back.isoformat() > printed
    assert record["id"] not in _listed(api, "overdue") and record["id"] not in _overdue_filter(api)
    assert record["id"] not in _listed(api, "due_soon")
    # due soon on the days the record itself says so, up to its due day
    for day in (calendar.back_working_days(due, 1), due):
        _on(day)
        service.tick(clock.utcnow())                     # the record's own flags, as of that day
        shown = api.get(f"/api/v1/records/{record['id']}", "boss").get_json()
        assert shown["due_soon"] is True and shown["overdue"] is False, day
        assert record["id"] in _listed(api, "due_soon"), day
        assert record["id"] not in _listed(api, "overdue") and record["id"] not in _overdue_filter(api)
    # not late: the first working day after the moved due date it is overdue, and no longer due soon
    _on(calendar.add_working_days(due, 1))
    assert record["id"] in _listed(api, "overdue") and record["id"] in _overdue_filter(api)
    assert record["id"] not in _listed(api, "due_soon")
    # its department's own people see it the same way (the list runs under their visibility clauses)
    assert record["id"] in _listed(api, "overdue", "clerk")
