"""Grant look-ups are served by indexes (the server's own explain): the check at every read of an archived
record, a request's grants, a reader's grants; and the whole read of a record through a grant sends no query
that scans a collection."""
from __future__ import annotations

import inspect
from typing import Any, Iterator

import pytest
from pymongo import monitoring

from conftest import add_staff, make_config, new_db_name, running_app, signed_in
from counterflow.core.engine import Actor
from counterflow.store.grants import GrantStore
from test_archive_helpers import approved, archived_record, query_request, setup_forms, submitted
from test_store_explain import Captured, plan_problem

N_GRANTS = 3000


@pytest.fixture(scope="module")
def world(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    db_name = new_db_name()
    captured = Captured(db_name)
    monitoring.register(captured)          # before the app's client exists: it is created with the listener
    config = make_config(mongo_uri, db_name, tmp_path_factory.mktemp("grants"))
    with running_app(config) as app:
        api = add_staff(signed_in(app.test_client()))
        setup_forms(api)
        record = archived_record(api)
        draft = query_request(api, "clerk2", [record["id"]])
        request = approved(api, submitted(api, draft, "clerk2"), "head")
        state = app.extensions["counterflow"]
        grants = GrantStore(state.store)
        grants.put({"_id": f"req{i % 300:05d}:rec{i:06d}", "grantee": f"user{i % 50:03d}",
                    "record": f"rec{i:06d}", "from": "2026-01-01", "until": "2026-12-31",
                    "request": f"req{i % 300:05d}", "granted_by": "u-head",
                    "granted_at": "2026-01-01T00:00:00.000Z"} for i in range(N_GRANTS))
        yield {"app": app, "store": state.store, "service": state.service, "grants": grants, "record": record,
               "request": request, "captured": captured}


def _explained(world: dict[str, Any], call: Any) -> list[tuple[str, dict[str, Any], Any]]:
    captured = world["captured"]
    captured.queries.clear()
    captured.on = True
    try:
        call()
    finally:
        captured.on = False
    return list(captured.queries)


def test_every_grant_store_method_has_a_case() -> None:
    public = {n for n, _ in inspect.getmembers(GrantStore, inspect.isfunction) if not n.startswith("_")}
    assert public == {"put", "for_reader", "of_request", "of_grantee"}


@pytest.mark.parametrize("method, args", [
    ("for_reader", ("user007", "rec000007")), ("of_request", ("req00007",)), ("of_grantee", ("user007",)),
    ("put", ([{"_id": "req00001:rec000001", "grantee": "user001", "record": "rec000001",
               "request": "req00001"}],)),
])
def test_each_grant_query_uses_an_index(world: dict[str, Any], method: str, args: tuple[Any, ...]) -> None:
    queries = _explained(world, lambda: getattr(world["grants"], method)(*args))
    if method != "put":
        assert queries, "a look-up sends a query"
    for collection, filter_, sort in queries:
        assert plan_problem(world["store"], collection, filter_, sort) is None, (collection, filter_)


def test_reading_an_archived_record_through_a_grant_scans_nothing(world: dict[str, Any]) -> None:
    store, service, record = world["store"], world["service"], world["record"]
    user = store.user_by_name("clerk2")
    reader = Actor(user["_id"], "clerk2", roles=frozenset(user["roles"]), department=user["department"])
    found: dict[str, Any] = {}
    queries = _explained(world, lambda: found.update(service.record(reader, record["id"], "en")))
    assert found["_id"] == record["id"]
    grant_queries = [q for q in queries if q[0] == "grants"]
    assert grant_queries == [("grants", {"reader_record": f"{user['_id']}|{record['id']}"}, None)]
    for collection, filter_, sort in queries:
        if collection.startswith("audit"):
            continue                     # the audit log's own queries: tests/test_explain_audit.py
        assert plan_problem(store, collection, filter_, sort) is None, (collection, filter_)
