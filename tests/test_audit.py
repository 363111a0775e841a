"""The audit log is fed by every history event exactly once, and by direct entries (sign-in, failed
sign-in, new user, `ServiceBase.audit`); entries chain per day and hold pointers, never values."""
from __future__ import annotations

import threading
from typing import Any

import pytest

from counterflow.core import audit as chain
from counterflow.core.engine import Actor

from conftest import Api

AUDITOR = Actor("u-aud", "aud", "Auditor", frozenset({"auditor"}))


def entries(app: Any) -> list[dict[str, Any]]:
    state = app.extensions["counterflow"]
    state.store.copier.flush()
    return list(state.store.audit_log.entries.find({"key": {"$gte": ""}}).sort([("key", 1)]))


def test_direct_entries_chain_and_keep_no_values(app: Any) -> None:
    service = app.extensions["counterflow"].service
    service.audit("record.reveal", AUDITOR, object_id="rec-1", reason="court order 12", grant="g-1",
                  request_id="req-1", on_behalf_of="u-boss",
                  details={"pointers": ["/id_number"], "value": "110105199001011234",
                           "nested": {"old": "secret", "path": "/phone"}})
    service.audit("login_failed", None, source="10.0.0.1", details={"username": "nobody"})
    found = [e for e in entries(app) if e["action"] in ("record.reveal", "login_failed")]
    assert [e["action"] for e in found] == ["record.reveal", "login_failed"]
    reveal = found[0]
    assert reveal["actor"] == {"id": "u-aud", "username": "aud", "name": "Auditor"}
    assert [reveal[k] for k in ("object", "reason", "grant", "request_id", "on_behalf_of")] \
        == ["rec-1", "court order 12", "g-1", "req-1", "u-boss"]
    assert reveal["details"] == {"pointers": ["/id_number"], "nested": {"path": "/phone"}}
    assert "110105199001011234" not in repr(found) and "secret" not in repr(found)
    assert "actor" not in found[1] and found[1]["source"] == "10.0.0.1"
    all_entries = entries(app)
    day = all_entries[0]["day"]
    assert [e["seq"] for e in all_entries] == list(range(1, len(all_entries) + 1))
    assert all_entries[0]["prev"] == chain.genesis(day)
    for before, after in zip(all_entries, all_entries[1:]):
        assert after["prev"] == before["hash"] and after["_id"] == chain.entry_id(day, after["seq"])
    assert list(chain.verify_partition(day, all_entries, [])) == []


def test_sign_in_failed_sign_in_and_new_user_are_logged(api: Api, app: Any) -> None:
    r = api.client.post("/api/v1/auth/token", json={"username": "admin", "password": "wrong-password-1"})
    assert r.status_code == 401
    api.add_user("clerk", ["clerk"])
    actions = [(e["action"], (e.get("actor") or {}).get("username"), e.get("object")) for e in entries(app)]
    assert ("login", "admin", None) in actions
    assert ("login_failed", None, None) in actions
    created = [a for a in actions if a[0] == "user.create"]
    assert created and created[0][1] == "admin"
    failed = next(e for e in entries(app) if e["action"] == "login_failed")
    assert failed["details"]["username"] == "admin" and "wrong-password-1" not in repr(failed)


def test_every_history_event_gives_exactly_one_entry(staff: Api, app: Any) -> None:
    from forms import publish

    publish(staff)
    state = app.extensions["counterflow"]
    for _ in range(3):
        r = staff.post("/api/v1/records", "clerk", json={"form": "parking-permit", "data": {}})
        assert r.status_code == 201, r.get_json()
    state.store.copier.flush()
    events = list(state.store.events.find({"object_id": {"$gte": ""}}))
    assert events
    logged = entries(app)
    by_event = [e["event"] for e in logged if e.get("event")]
    assert sorted(by_event) == sorted(e["_id"] for e in events)          # each once, none missing
    assert state.store.audit_log.inbox.count_documents({}) == 0
    # a repeat (a crash before the inbox was emptied, another host, the sweep) appends nothing
    state.store.audit_log.receive(events)
    assert state.service.feed_audit() == 0
    state.store.copy_events(events)
    assert len(entries(app)) == len(logged)


def test_a_crash_between_the_history_and_the_log_is_fed_by_tick(staff: Api, app: Any) -> None:
    state = app.extensions["counterflow"]
    event = {"_id": "rec-x:3", "kind": "record", "object_id": "rec-x", "revision": 3,
             "at": "2026-11-28T00:00:00Z",
             "actor": {"id": "u1", "username": "clerk"}, "trigger": "t", "source": "a", "dest": "b",
             "changes": [{"path": "/id_number", "old": "110105199001011234", "new": "x"}]}
    state.store.audit_log.receive([event])           # into the inbox, then the process died
    state.store.events.insert_one(dict(event))
    assert not [e for e in entries(app) if e.get("event") == "rec-x:3"]
    assert state.service.feed_audit() == 1
    fed = [e for e in entries(app) if e.get("event") == "rec-x:3"]
    assert len(fed) == 1 and fed[0]["details"]["changed"] == ["/id_number"]
    assert "110105199001011234" not in repr(fed)
    assert state.service.feed_audit() == 0


def test_concurrent_appenders_never_lose_or_fork_the_chain(app: Any) -> None:
    service = app.extensions["counterflow"].service
    from counterflow.store.audit import AuditLog

    others = [AuditLog(service.store.db) for _ in range(3)]          # three "hosts" on one store

    def work(log: AuditLog, i: int) -> None:
        for j in range(40):
            log.append(chain.audit_fields(f"test.{i}", AUDITOR, object_id=f"o{i}-{j}"))

    threads = [threading.Thread(target=work, args=(log, i)) for i, log in enumerate(others)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logged = entries(app)
    assert len([e for e in logged if e["action"].startswith("test.")]) == 120
    assert list(chain.verify_partition(logged[0]["day"], logged, [])) == []


def test_the_fast_canonical_form_is_rfc8785_byte_for_byte() -> None:
    import random

    import rfc8785

    rng = random.Random(8785)

    def text() -> str:
        ranges = [(0, 0x7f), (0x80, 0xd7ff), (0xe000, 0xffff), (0x10000, 0x10ffff)]
        return "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(rng.randint(0, 12)))

    samples: list[Any] = [
        {"a": "é\u2028\x00\x1f\x7f\"\\/\n\t\b\f\r", "b": [1, -2 ** 53 + 1, True, None, {"z": "😀", "y": ""}]},
        {"x": "中文 mixed \U0001F600", "n": 0, "nested": {"deep": [[], {}, [""]]}}, {}, [], "plain", 12]
    samples += [{"".join(rng.choice("abcXYZ_-09 ~") for _ in range(rng.randint(0, 6))): text()
                 for _ in range(5)} for _ in range(2000)]
    for sample in samples:
        assert chain.canonical(sample) == rfc8785.dumps(sample), sample
    for odd in ({"f": 1.5, "g": 1e21}, {"中": 1, "a": 2}, {"big": 2 ** 60 - 1}):    # the slow path
        if "big" in odd:
            with pytest.raises(ValueError):
                chain.canonical(odd)
        else:
            assert chain.canonical(odd) == rfc8785.dumps(odd)
