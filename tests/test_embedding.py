"""Embedding in a portal: identity_loader, URL prefix, the portal's own routes and errors untouched."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from flask import Flask, g

from counterflow import Counterflow


@pytest.fixture
def portal(config: dict[str, Any]) -> Iterator[Flask]:
    app = Flask("portal")
    app.config.update(config, COUNTERFLOW_URL_PREFIX="/counter")
    users = {"alice": {"id": "alice", "name": "Alice", "roles": ["clerk"], "department": "hall-1"},
             "root": {"id": "root", "name": "Root", "roles": ["admin"], "department": ""}}

    @app.before_request
    def who() -> None:
        from flask import request

        g.portal_user = users.get(request.headers.get("X-Portal-User", ""))

    @app.get("/portal/home")
    def home() -> str:
        return "portal home"

    @app.get("/portal/boom")
    def boom() -> str:
        raise KeyError("the portal's own error")

    Counterflow(app, identity_loader=lambda: g.get("portal_user"))
    result = app.test_cli_runner().invoke(args=["counterflow", "init"])     # a portal runs it on deploy
    assert result.exit_code == 0, result.output
    yield app
    state = app.extensions["counterflow"]
    state.store.db.client.drop_database(state.store.db.name)
    state.close()


def test_routes_live_under_the_prefix_and_use_the_portals_identity(portal: Flask) -> None:
    client = portal.test_client()
    assert client.get("/counter/healthz").status_code == 200
    assert client.get("/healthz").status_code == 404
    me = client.get("/counter/api/v1/me", headers={"X-Portal-User": "alice"})
    assert me.status_code == 200
    assert me.get_json()["roles"] == ["clerk"] and me.get_json()["department"] == "hall-1"
    assert client.get("/counter/api/v1/me").status_code == 401
    forms = client.get("/counter/api/v1/forms", headers={"X-Portal-User": "alice"}).get_json()["items"]
    assert {f["key"] for f in forms} >= {"account-change", "certificate-application", "business-licence"}
    r = client.post("/counter/api/v1/records", headers={"X-Portal-User": "alice"},
                    json={"form": "certificate-application", "data": {}})
    assert r.status_code == 201


def test_a_bearer_token_does_not_bypass_the_portals_identity(portal: Flask) -> None:
    r = portal.test_client().get("/counter/api/v1/me", headers={"Authorization": "Bearer forged"})
    assert r.status_code == 401


def test_the_built_in_login_is_off_and_pages_use_the_portal_user(portal: Flask) -> None:
    client = portal.test_client()
    assert client.get("/counter/login").status_code == 404
    page = client.get("/counter/worklist", headers={"X-Portal-User": "alice"})
    assert page.status_code == 200 and "/counter/forms/account-change/new" in page.get_data(as_text=True)
    assert "/counter/cf-static/counterflow.css" in page.get_data(as_text=True)
    assert client.get("/counter/cf-static/counterflow.css").status_code == 200
    assert client.get("/counter/worklist").status_code == 401  # no portal user: no redirect to a login


def test_the_portals_own_routes_and_errors_stay_the_portals(portal: Flask) -> None:
    client = portal.test_client()
    assert client.get("/portal/home").get_data(as_text=True) == "portal home"
    missing = client.get("/portal/nothing")
    assert missing.status_code == 404 and not missing.is_json
    portal.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(KeyError):
        client.get("/portal/boom")                                     # we never swallow the portal's errors


def test_init_app_refuses_twice_and_says_why_without_a_secret(config: dict[str, Any]) -> None:
    app = Flask("x")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        Counterflow(app)
    app.config.update(config)
    Counterflow(app)
    try:
        with pytest.raises(RuntimeError, match="already registered"):
            Counterflow(app)
        assert isinstance(app.extensions["counterflow"].settings.max_json_bytes, int)
    finally:
        state = app.extensions["counterflow"]
        state.store.db.client.drop_database(state.store.db.name)
        state.close()


def test_counterflow_exposes_a_short_public_surface() -> None:
    import counterflow

    assert counterflow.__all__ == ["Counterflow", "CounterflowError"]
