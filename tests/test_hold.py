"""Legal hold (issue 10, item 3): hold and release carry a reason and an authority (court order, audit,
complaint number), set and clear the record's `legal_hold`, and keep both in the history."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from counterflow.core import clock
from test_archive_helpers import archived_record, fire, setup_forms

HOLD = {"reason": "诉讼保全", "authority": "(2026)京0105民初123号裁定"}


@pytest.fixture(autouse=True)
def _host_clock() -> Iterator[None]:
    yield
    clock.set_offset(None)


def test_hold_and_release_require_reason_and_authority_and_set_then_clear_the_hold(staff: Any) -> None:
    setup_forms(staff)
    record = archived_record(staff)
    for lang, word in (("en", "authority"), ("zh-CN", "依据")):
        r = staff.post(f"/api/v1/records/{record['id']}/transitions/hold?lang={lang}", "keeper",
                       json={"revision": record["revision"]}, headers={"Accept-Language": lang})
        assert r.status_code == 422
        details = r.get_json()["error"]["details"]
        assert {d["path"] for d in details} == {"/reason", "/authority"}
        assert any(word in d["message"] for d in details)
    r = fire(staff, record, "hold", "keeper", **HOLD)
    assert r.status_code == 200, r.get_json()
    held = r.get_json()
    stored = staff.client.application.extensions["counterflow"].store.record(record["id"])
    hold = stored["legal_hold"]
    assert (hold["reason"], hold["authority"], hold["by"]["username"]) == \
        (HOLD["reason"], HOLD["authority"], "keeper")
    assert held["legal_hold"] == hold
    assert hold["at"]
    events = staff.get(f"/api/v1/records/{record['id']}/history", "keeper").get_json()["items"]
    assert events[-1]["trigger"] == "hold"
    # while held, retention cannot end, even years later
    clock.set_offset("+40y")
    assert fire(staff, held, "close_retention", "keeper").status_code == 409
    clock.set_offset(None)
    assert fire(staff, held, "release", "witness", reason="撤诉").status_code == 422     # no authority
    r = fire(staff, held, "release", "witness", reason="撤诉", authority="(2026)京0105民初123号之一")
    assert r.status_code == 200, r.get_json()
    stored = staff.client.application.extensions["counterflow"].store.record(record["id"])
    assert stored["legal_hold"] is None
    released = stored["legal_hold_released"]
    assert (released["reason"], released["authority"], released["previous"]["authority"]) == \
        ("撤诉", "(2026)京0105民初123号之一", HOLD["authority"])


@pytest.mark.parametrize("extra", [{"authority": "x" * 501}, {"authority": {"$ne": None}},
                                   {"authority": ["a"]}])
def test_a_hostile_authority_is_refused(staff: Any, extra: dict[str, Any]) -> None:
    setup_forms(staff)
    record = archived_record(staff)
    r = fire(staff, record, "hold", "keeper", reason="审计", **extra)
    assert r.status_code == 422
    assert r.get_json()["error"]["details"][0]["path"] == "/authority"
    store = staff.client.application.extensions["counterflow"].store
    assert store.record(record["id"]).get("legal_hold") is None


def test_the_roles_the_process_names_hold_and_read_what_they_hold(staff: Any) -> None:
    setup_forms(staff)
    record = archived_record(staff)
    for who in ("boss", "clerk", "head"):          # not named by the archive process: not even read it
        r = fire(staff, record, "hold", who, **HOLD)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "reading_needs_grant", who
    assert staff.get(f"/api/v1/records/{record['id']}", "witness").status_code == 200
    r = fire(staff, record, "hold", "witness", **HOLD)
    assert r.status_code == 200 and r.get_json()["state"] == "on_hold"
