"""When the store stops answering: 503 with a clear message, never a 500 or a stack trace."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from counterflow.store.embedded import EmbeddedServer
from counterflow.host import create_app

from conftest import ADMIN_PASSWORD


def test_healthz_and_the_api_answer_503_when_the_store_is_down() -> None:
    folder = Path(tempfile.mkdtemp(prefix="cf-down-"))
    server = EmbeddedServer(folder / "store")
    uri = server.start()
    app: Any = None
    try:
        app = create_app({"SECRET_KEY": "down", "COUNTERFLOW_MONGODB_URI": uri, "COUNTERFLOW_DB_NAME": "down",
                          "COUNTERFLOW_DATA_DIR": str(folder / "data"),
                          "COUNTERFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD,
                          "COUNTERFLOW_PASSWORD_PROFILE": "cheapest", "COUNTERFLOW_STORE_TIMEOUT_MS": 1000})
        client = app.test_client()
        login = {"username": "admin", "password": ADMIN_PASSWORD}
        token = client.post("/api/v1/auth/token", json=login).get_json()["token"]
        assert client.get("/healthz").status_code == 200
        server.stop()
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.get_json() == {"status": "unavailable", "store": "unavailable"}
        r = client.get("/api/v1/forms", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 503 and r.get_json()["error"]["code"] == "store_unavailable"
        assert "Traceback" not in r.get_data(as_text=True)
        page = client.get("/status?number=X-1&code=ABCDEFGH")
        assert page.status_code == 503 and "<html" in page.get_data(as_text=True)
    finally:
        if app is not None:
            app.extensions["counterflow"].close()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_an_embedded_store_that_cannot_start_is_a_503_and_init_says_so(tmp_path: Path) -> None:
    from flask import Flask

    from counterflow import Counterflow

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the data folder should be")
    app = Flask("portal")
    app.config.update(SECRET_KEY="down", COUNTERFLOW_DATA_DIR=str(blocked), COUNTERFLOW_URL_PREFIX="/counter")
    Counterflow(app, identity_loader=lambda: {"id": "alice", "roles": ["clerk"], "department": "hall-1"})
    client = app.test_client()
    r = client.get("/counter/api/v1/forms?lang=en")
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "store_unavailable"
    assert "try again" in r.get_json()["error"]["message"]
    health = client.get("/counter/healthz")
    assert health.status_code == 503 and health.get_json()["store"] == "unavailable"
    result = app.test_cli_runner().invoke(args=["counterflow", "init"])
    assert result.exit_code == 2 and "embedded store" in result.output and "fix:" in result.output
    assert "Traceback" not in result.output


def test_a_signed_in_clerk_gets_a_503_page_not_a_500_when_the_store_dies() -> None:
    import re

    folder = Path(tempfile.mkdtemp(prefix="cf-down-"))
    server = EmbeddedServer(folder / "store", supervise=False)
    uri = server.start()
    app: Any = None
    try:
        app = create_app({"SECRET_KEY": "down", "COUNTERFLOW_MONGODB_URI": uri, "COUNTERFLOW_DB_NAME": "down",
                          "COUNTERFLOW_DATA_DIR": str(folder / "data"),
                          "COUNTERFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD,
                          "COUNTERFLOW_PASSWORD_PROFILE": "cheapest", "COUNTERFLOW_STORE_TIMEOUT_MS": 500,
                          "COUNTERFLOW_USER_CACHE_SECONDS": 0})
        client = app.test_client()
        found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
        assert found
        signed_in = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                                "csrf_token": found.group(1)})
        assert signed_in.status_code == 302
        server.stop()
        for path in ("/worklist", "/admin/forms", "/admin/users"):
            page = client.get(path)       # the page header looks the user up too: it shows nobody instead
            body = page.get_data(as_text=True)
            assert page.status_code == 503, (path, body[:300])
            assert "数据存储暂时不可用" in body and "Traceback" not in body
    finally:
        if app is not None:
            app.extensions["counterflow"].close()
        shutil.rmtree(folder, ignore_errors=True)
