"""The queries of per-record keys are served by an index (test_store_explain's check): exact search on an ID
number or phone (one equality on a keyed HMAC field per visibility clause, never an array field) and key
rotation's pages of records under an old master key (the indexed key_id + listed pair)."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from pymongo import monitoring

from conftest import add_staff, make_config, new_db_name, running_app, signed_in
from counterflow.core.engine import Actor
from counterflow.store import AttachmentStore
from counterflow.store import keys as key_queries
from test_store_explain import Captured, plan_problem

ACCOUNT = {"applicant_name": "王五", "id_type": "resident_id", "id_number": "110105194912310038",
           "bank_card": "6222021234567890123", "phone": "13912345678", "changed_items": ["bank_account"],
           "reason": "变更", "application_date": "2026-11-02"}
CLERK = Actor("u-clerk", "clerk", roles=frozenset({"clerk"}), department="counter-1")
MANAGER = Actor("u-boss", "boss", roles=frozenset({"manager"}), department="office")


@pytest.fixture(scope="module")
def world(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Captured]]:
    db_name = new_db_name()
    captured = Captured(db_name)
    monitoring.register(captured)
    with running_app(make_config(mongo_uri, db_name, tmp_path_factory.mktemp("keys"))) as app:
        add_staff(signed_in(app.test_client()))
        service = app.extensions["counterflow"].service
        for i in range(300):
            service.create_record(CLERK, {"form": "account-change",
                                          "data": dict(ACCOUNT, phone=f"139{i:08d}")}, "en")
        yield app, captured
    captured.db_name = ""


def sent(world: tuple[Any, Captured], action: Any) -> list[tuple[str, dict[str, Any], Any]]:
    _, captured = world
    captured.queries = []
    captured.on = True
    try:
        action()
    finally:
        captured.on = False
    return list(captured.queries)


@pytest.mark.parametrize("actor", [CLERK, MANAGER], ids=["clerk", "manager"])
@pytest.mark.parametrize("filters", [{"id_number": "110105194912310038"}, {"phone": "13900000007"}])
def test_exact_search_is_one_indexed_equality_per_clause(
        world: tuple[Any, Captured], actor: Actor, filters: dict[str, Any]) -> None:
    app, _ = world
    store, service = app.extensions["counterflow"].store, app.extensions["counterflow"].service
    found: list[Any] = []
    queries = sent(world, lambda: found.extend(service.list_records(actor, filters, 20, None, "en")))
    assert found and len(found) == (20 if "id_number" in filters else 1)
    records = [q for q in queries if q[0] == "records"]
    assert records and all(any(k.startswith("find_") for k in f) for _, f, _ in records)
    for collection, filter_, sort in queries:
        assert plan_problem(store, collection, filter_, sort) is None, (collection, filter_)


def test_rotation_queries_are_indexed(world: tuple[Any, Captured]) -> None:
    app, _ = world
    state = app.extensions["counterflow"]
    kid = state.service.keyring.current
    queries = sent(world, lambda: (key_queries.records_under(state.store, kid, None, 50),
                                   key_queries.records_under(state.store, kid, "01M", 50),
                                   key_queries.count_under(state.store, kid),
                                   AttachmentStore(state.store).under_key(kid, 50)))
    assert {c for c, _, _ in queries} == {"records", "attachments"}
    for collection, filter_, sort in queries:
        assert plan_problem(state.store, collection, filter_, sort) is None, (collection, filter_)
