"""The workflow-version queries (store/workflows.py) are served by an index, as the server explains them."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from pymongo import monitoring

from conftest import make_config, new_db_name, running_app
from test_store_explain import Captured, plan_problem

from counterflow.store import workflows as stored


@pytest.fixture(scope="module")
def world(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Captured]]:
    db_name = new_db_name()
    captured = Captured(db_name)
    monitoring.register(captured)
    with running_app(make_config(mongo_uri, db_name, tmp_path_factory.mktemp("explain_wf"))) as app:
        store = app.extensions["counterflow"].store
        # many processes of several versions each, so a scan would show
        docs = [{"_id": f"p{k:03d}@{v}", "key": f"p{k:03d}", "version": v, "definition": {}, "state": "x"}
                for k in range(200) for v in range(1, 4)]
        store.workflows.insert_many(docs)
        yield store, captured
    captured.db_name = ""


CASES = {
    "version": lambda store: stored.version(store, "p007", 2),
    "versions": lambda store: stored.versions(store, "p007"),
    "latest": lambda store: stored.latest(store, "p007"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_workflow_version_query_uses_an_index(world: tuple[Any, Captured], name: str) -> None:
    store, captured = world
    captured.queries = []
    captured.on = True
    try:
        answer = CASES[name](store)
    finally:
        captured.on = False
    assert answer
    assert captured.queries, "the case sent no query"
    for collection, filter_, sort in captured.queries:
        assert plan_problem(store, collection, filter_, sort) is None, (name, filter_)


def test_the_answers_are_the_right_versions(world: tuple[Any, Captured]) -> None:
    store, _ = world
    assert [d["version"] for d in stored.versions(store, "p007")] == [1, 2, 3]
    latest = stored.latest(store, "p007")
    assert latest is not None and latest["version"] == 3
    assert stored.latest(store, "nothing") is None
    assert stored.version(store, "p007", 2)["_id"] == "p007@2"
