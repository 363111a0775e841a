"""A/B post look-ups are served by indexes (the server's own explain, as in tests/test_store_explain.py): a
holder's posts (the check at every transition fired on someone's behalf), a backup's posts, one post by id and
ending it. A new public BackupStore method without a case fails."""
from __future__ import annotations

import inspect
from typing import Any, Iterator

import pytest
from pymongo import monitoring

from conftest import make_config, new_db_name, running_app
from counterflow.store.backups import BackupStore
from test_store_explain import Captured, plan_problem

N_POSTS = 3000


@pytest.fixture(scope="module")
def world(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    db_name = new_db_name()
    captured = Captured(db_name)
    monitoring.register(captured)          # before the app's client exists: it is created with the listener
    config = make_config(mongo_uri, db_name, tmp_path_factory.mktemp("backups"))
    with running_app(config) as app:
        store = app.extensions["counterflow"].store
        posts = BackupStore(store)
        for i in range(N_POSTS):
            posts.put({"_id": f"post{i:05d}", "holder": f"user{i % 200:03d}",
                       "backup": f"user{(i + 7) % 200:03d}",
                       "from": "2026-01-01", "until": "2026-12-31", "created_by": "u-admin",
                       "created_at": "2026-01-01T00:00:00.000Z", "ended_at": None, "ended_by": None})
        yield {"store": store, "posts": posts, "captured": captured}


def _explained(world: dict[str, Any], call: Any) -> list[tuple[str, dict[str, Any], Any]]:
    captured = world["captured"]
    captured.queries.clear()
    captured.on = True
    try:
        call()
    finally:
        captured.on = False
    return list(captured.queries)


def test_every_backup_store_method_has_a_case() -> None:
    public = {n for n, _ in inspect.getmembers(BackupStore, inspect.isfunction) if not n.startswith("_")}
    assert public == {"put", "get", "of_holder", "of_backup", "end"}


@pytest.mark.parametrize("method, args", [
    ("of_holder", ("user007",)), ("of_backup", ("user007",)), ("get", ("post00007",)),
    ("end", ("post00008", "2026-06-01T00:00:00.000Z", "user008")),
])
def test_each_backup_query_uses_an_index(world: dict[str, Any], method: str, args: tuple[Any, ...]) -> None:
    queries = _explained(world, lambda: getattr(world["posts"], method)(*args))
    assert queries, "a look-up sends a query"
    for collection, filter_, sort in queries:
        assert collection == "backups"
        assert plan_problem(world["store"], collection, filter_, sort) is None, (collection, filter_)


def test_a_holders_posts_are_found_by_one_equality(world: dict[str, Any]) -> None:
    queries = _explained(world, lambda: world["posts"].of_holder("user042"))
    assert queries == [("backups", {"holder": "user042"}, None)]
