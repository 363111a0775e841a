"""`audit verify` catches every kind of tampering with the raw store (pymongo, as an intruder would) and
names it by partition and seq: an edited entry (with or without its hash recomputed), a deleted one, two
swapped, one inserted, a truncated partition, an edited, forged or deleted checkpoint, and a log cut back
together with its checkpoints (against an exported copy). The CLI exits 1 and says where."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from counterflow.core import audit as chain
from counterflow.core.engine import Actor
from counterflow.host import create_app

WHO = Actor("u-1", "clerk", "Clerk", frozenset({"clerk"}))
N = 30


@pytest.fixture
def logged(app: Any) -> Iterator[Any]:
    """An app whose log holds N direct entries today (besides the admin's own), sealed at its head."""
    service = app.extensions["counterflow"].service
    for i in range(N):
        service.audit("record.read", WHO, object_id=f"rec-{i}", reason=f"case {i}")
    service.seal_audit(force=True)
    yield app


def parts(app: Any) -> tuple[Any, Any, str, list[dict[str, Any]]]:
    state = app.extensions["counterflow"]
    log = state.store.audit_log
    day = log.day_list()[-1]
    return state.service, log, day, list(log.partition(day))


def found(service: Any, **kw: Any) -> list[tuple[str, int | None, str]]:
    result = service.verify_audit(**kw)
    return [(p.partition, p.seq, p.kind) for p in result.problems]


def test_an_untouched_log_verifies(logged: Any) -> None:
    service, log, day, entries = parts(logged)
    result = service.verify_audit()
    assert result.ok and result.entries == len(entries) >= N and result.checkpoints >= 1
    assert result.unsealed == {}


def test_an_edited_entry_is_named(logged: Any) -> None:
    service, log, day, entries = parts(logged)
    victim = entries[10]
    log.entries.update_one({"_id": victim["_id"]}, {"$set": {"reason": "nothing to see"}})
    assert found(service) == [(day, victim["seq"], "edited")]


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link_and_the_checkpoint(logged: Any) -> None:
    service, log, day, entries = parts(logged)
    victim = dict(entries[10], object="rec-other")
    victim["hash"] = chain.entry_hash(victim)
    log.entries.replace_one({"_id": victim["_id"]}, victim)
    assert (day, victim["seq"] + 1, "reordered") in found(service)
    # rewriting the whole rest of the chain is caught by the signed checkpoint over the head
    prev = victim["hash"]
    for doc in entries[11:]:
        doc = dict(doc, prev=prev)
        doc["hash"] = prev = chain.entry_hash(doc)
        log.entries.replace_one({"_id": doc["_id"]}, doc)
    assert found(service) == [(day, entries[-1]["seq"], "edited")]


def test_a_deleted_entry_is_named(logged: Any) -> None:
    service, log, day, entries = parts(logged)
    log.entries.delete_one({"_id": entries[7]["_id"]})
    problems = found(service)
    assert problems[0] == (day, entries[7]["seq"], "deleted")


def test_two_swapped_entries_are_named(logged: Any) -> None:
    service, log, day, entries = parts(logged)
    a, b = entries[5], entries[6]
    keep = ("_id", "key", "seq")
    for one, other in ((a, b), (b, a)):
        moved = {**{k: v for k, v in other.items() if k not in keep}, **{k: one[k] for k in keep}}
        log.entries.replace_one({"_id": one["_id"]}, moved)
    problems = found(service)
    assert {(day, a["seq"]), (day, b["seq"])} <= {(p[0], p[1]) for p in problems}


def test_an_inserted_entry_is_named(logged: Any) -> None:
    service, log, day, entries = parts(logged)
    forged = dict(entries[3], _id=entries[3]["_id"] + "x", reason="forged")
    log.entries.insert_one(forged)
    assert (day, entries[3]["seq"], "inserted") in found(service)


def test_an_entry_shifted_in_between_is_caught(logged: Any) -> None:
    service, log, day, entries = parts(logged)
    # make room after seq 4 by moving every later entry one seq up, then put a forged one at seq 5
    for doc in reversed(entries[4:]):
        seq = doc["seq"] + 1
        log.entries.delete_one({"_id": doc["_id"]})
        log.entries.insert_one(dict(doc, _id=chain.entry_id(day, seq), key=chain.entry_key(day, seq),
                                    seq=seq))
    forged = chain.make_entry(day, entries[4]["seq"], entries[3]["hash"],
                              {"action": "record.read", "object": "rec-forged"})
    log.entries.insert_one(forged)
    problems = found(service)
    assert problems and all(p[0] == day for p in problems)
    assert {p[1] for p in problems} & {entries[4]["seq"], entries[4]["seq"] + 1}


def test_a_truncated_partition_is_named(logged: Any) -> None:
    service, log, day, entries = parts(logged)
    for doc in entries[-3:]:
        log.entries.delete_one({"_id": doc["_id"]})
    assert found(service) == [(day, entries[-1]["seq"], "truncated")]


def test_an_edited_forged_or_deleted_checkpoint_is_named(logged: Any) -> None:
    service, log, day, entries = parts(logged)
    service.audit("record.read", WHO, object_id="rec-late")
    service.seal_audit(force=True)                            # two checkpoints now
    first = log.checkpoints.find_one({"n": 1})
    assert first is not None
    log.checkpoints.update_one({"_id": first["_id"]}, {"$set": {"seq": 2}})
    assert (chain.CHECKPOINTS, 1, "forged") in found(service)
    log.checkpoints.replace_one({"_id": first["_id"]}, first)
    assert found(service) == []
    log.checkpoints.delete_one({"_id": first["_id"]})
    assert (chain.CHECKPOINTS, 1, "deleted") in found(service)


def test_a_log_cut_back_with_its_checkpoints_is_caught_against_an_export(logged: Any, config: Any,
                                                                         tmp_path: Path) -> None:
    service, log, day, entries = parts(logged)
    exported = list(log.checkpoint_chain())
    service.audit("record.read", WHO, object_id="rec-late")
    service.seal_audit(force=True)
    later = list(log.checkpoint_chain())
    assert found(service) == []
    # the intruder removes the newest entry and the checkpoint that sealed it: locally consistent again
    log.entries.delete_one({"_id": list(log.partition(day))[-1]["_id"]})
    log.checkpoints.delete_one({"_id": later[-1]["_id"]})
    assert found(service) == []
    assert (chain.CHECKPOINTS, later[-1]["n"], "truncated") in found(service, exported=later)
    assert found(service, exported=exported) == []


def test_the_cli_names_the_tampering_and_exits_1(logged: Any, config: dict[str, Any],
                                                 tmp_path: Path) -> None:
    service, log, day, entries = parts(logged)
    out = tmp_path / "checkpoints.jsonl"
    cli_app = create_app(config)
    runner = cli_app.test_cli_runner()
    exported = runner.invoke(args=["counterflow", "audit", "checkpoints", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["public_key"].startswith("-----BEGIN PUBLIC KEY") and lines[1]["n"] == 1
    ok = create_app(config).test_cli_runner().invoke(args=["counterflow", "audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "audit log intact" in ok.output
    log.entries.update_one({"_id": entries[4]["_id"]}, {"$set": {"object": "rec-changed"}})
    bad = create_app(config).test_cli_runner().invoke(
        args=["counterflow", "audit", "verify", "--from", day, "--to", day, "--checkpoints", str(out)])
    assert bad.exit_code == 1
    assert f"TAMPERED: {day} seq {entries[4]['seq']}: edited" in bad.output
    wrong = create_app(config).test_cli_runner().invoke(
        args=["counterflow", "audit", "verify", "--from", "x"])
    assert wrong.exit_code != 0 and "YYYY-MM-DD" in wrong.output


def test_checkpoints_signed_before_a_key_change_verify_with_the_old_public_key(logged: Any) -> None:
    from counterflow.security.signing import Signer

    service, log, day, entries = parts(logged)
    old = service.signer
    service.signer = log.signer = Signer.from_settings(None, "a new secret")     # the key was changed
    try:
        assert (chain.CHECKPOINTS, 1, "forged") in found(service)
        assert found(service, public_keys=[old.public_key_pem()]) == []
        service.audit("record.read", WHO, object_id="rec-new")
        service.seal_audit(force=True)                       # signed with the new key, chained to the old
        assert found(service, public_keys=[old.public_key_pem()]) == []
    finally:
        service.signer = log.signer = old
