"""A portal can trust the extension: its own errors and routes stay its own, start-up needs no store,
cookie identities cannot be used by a cross-site form, and settings come the Flask way."""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pymongo
import pytest
from flask import Flask, abort, jsonify, request, session
from flask.cli import routes_command
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import HTTPException

from counterflow import Counterflow
from counterflow.settings import Settings, SettingsError

CJK = re.compile(r"[\u4e00-\u9fff]")
USERS = {"alice": {"id": "alice", "name": "Alice", "roles": ["clerk"], "department": "hall-1"},
         "root": {"id": "root", "name": "Root", "roles": ["admin"], "department": ""}}
GENERATED = re.compile(r"created user 'admin' with password (\S+)")


def make_portal(config: dict[str, Any], **extra: Any) -> Flask:
    """A portal with JSON error handlers of its own (registered before counterflow) and a cookie login."""
    app = Flask("portal")
    app.config.update({"COUNTERFLOW_URL_PREFIX": "/counter", **config, **extra})

    @app.errorhandler(404)
    def portal_404(exc: Any) -> Any:
        return jsonify(portal="not found", path=request.path), 404

    @app.errorhandler(413)
    def portal_413(exc: Any) -> Any:
        return jsonify(portal="too large"), 413

    @app.errorhandler(HTTPException)
    def portal_http(exc: HTTPException) -> Any:
        return jsonify(portal=exc.name, status=exc.code), exc.code

    @app.errorhandler(500)
    def portal_500(exc: Any) -> Any:
        return jsonify(portal="broken"), 500

    @app.get("/portal/home")
    def home() -> str:
        return "portal home"

    @app.post("/portal/login/<name>")
    def login(name: str) -> str:
        session["user"] = name                    # the portal's own signed session cookie
        return "signed in"

    @app.get("/portal/csrf")
    def csrf() -> str:
        return generate_csrf()                    # what a portal page puts in its X-CSRF-Token header

    @app.get("/portal/boom")
    def boom() -> str:
        raise KeyError("the portal's own bug")

    @app.get("/portal/teapot")
    def teapot() -> str:
        abort(418)

    Counterflow(app, identity_loader=lambda: USERS.get(session.get("user", "")))
    return app


def init(app: Flask) -> Any:
    result = app.test_cli_runner().invoke(args=["counterflow", "init"])
    assert result.exit_code == 0, result.output
    return result


def drop(app: Flask) -> None:
    state = app.extensions["counterflow"]
    state.store.db.client.drop_database(state.store.db.name)
    state.close()


@pytest.fixture
def portal(config: dict[str, Any]) -> Iterator[Flask]:
    app = make_portal(config, COUNTERFLOW_MAX_JSON_BYTES=4096)
    init(app)
    yield app
    drop(app)


def signed_in(app: Flask, name: str) -> Any:
    client = app.test_client()
    assert client.post(f"/portal/login/{name}").status_code == 200
    return client


def error_of(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.is_json and set(r.get_json()) == {"error"}, r.get_data(as_text=True)[:300]
    assert r.get_json()["error"]["code"] == code
    return dict(r.get_json()["error"])


# -- the portal's own errors and routes ----------------------------------------------------------------------

def test_the_portals_own_error_handlers_keep_answering_its_own_routes(portal: Flask) -> None:
    client = portal.test_client()
    assert client.get("/portal/home").get_data(as_text=True) == "portal home"
    assert client.get("/portal/nothing").get_json() == {"portal": "not found", "path": "/portal/nothing"}
    assert client.get("/counter/no-such-page").get_json()["portal"] == "not found"     # not an API path
    r = client.post("/portal/home")
    assert r.status_code == 405 and r.get_json() == {"portal": "Method Not Allowed", "status": 405}
    r = client.get("/portal/teapot")
    assert r.status_code == 418 and r.get_json() == {"portal": "I'm a teapot", "status": 418}
    portal.config["PROPAGATE_EXCEPTIONS"] = False
    r = client.get("/portal/boom")
    assert r.status_code == 500 and r.get_json() == {"portal": "broken"}


@pytest.mark.parametrize("path", ["/counter/api/v1/nope", "/counter/api/v1/", "/counter/api/v1",
                                  "/counter/api", "/counter/api/v2/records", "/counter/api/v1/records/x/y/z",
                                  "/counter/api/v1/forms/account-change/versions/abc"])
def test_unknown_api_paths_under_the_prefix_are_counterflows_json_404(portal: Flask, path: str) -> None:
    client = signed_in(portal, "alice")
    err = error_of(client.get(path), 404, "not_found")
    assert CJK.search(err["message"])
    assert error_of(client.get(path + "?lang=en"), 404, "not_found")["message"] == "Nothing here"


def test_counterflows_own_errors_stay_counterflows_beside_the_portals_handlers(portal: Flask) -> None:
    client = signed_in(portal, "alice")
    error_of(client.delete("/counter/api/v1/records/x"), 405, "method_not_allowed")
    error_of(client.post("/counter/healthz"), 405, "method_not_allowed")
    big = {"form": "x", "data": {"pad": "x" * 5000}}
    error_of(client.post("/counter/api/v1/records", json=big), 413, "too_large")
    error_of(client.get("/counter/api/v1/records/nope"), 404, "record_not_found")


# -- no store needed to start --------------------------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_store_on(port: int, folder: Path) -> subprocess.Popen[bytes]:
    (folder / "db").mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([sys.executable, "-c", "from nx_27017.nx_27017 import main; main()",
                                "--data-dir", str(folder / "db"), "--host", "127.0.0.1", "--port", str(port),
                                "--log-file", str(folder / "store.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/",
                                                           serverSelectionTimeoutMS=300)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            assert process.poll() is None, (folder / "store.log").read_text()[-2000:]
            try:
                client.admin.command("ping")
                return process
            except pymongo.errors.PyMongoError:
                time.sleep(0.1)
    finally:
        client.close()
    process.kill()
    raise AssertionError("the store did not come up")


def _until(check: Any, within: float = 20.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_a_portal_starts_and_lists_its_routes_while_the_store_is_down_then_serves_once_it_is_back(
        config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _closed_port()
    monkeypatch.setenv("COUNTERFLOW_MONGODB_URI", f"mongodb://127.0.0.1:{port}/")
    monkeypatch.setenv("COUNTERFLOW_STORE_TIMEOUT_MS", "300")
    started = time.monotonic()
    app = make_portal({k: v for k, v in config.items() if k != "COUNTERFLOW_MONGODB_URI"})
    assert time.monotonic() - started < 5
    state = app.extensions["counterflow"]
    assert state.settings.store_timeout_ms == 300 and state.settings.mongodb_uri.endswith(f":{port}/")
    listed = app.test_cli_runner().invoke(routes_command)
    assert listed.exit_code == 0, listed.output
    assert "/counter/api/v1/records" in listed.output and "/counter/worklist" in listed.output

    client = signed_in(app, "alice")
    err = error_of(client.get("/counter/api/v1/me"), 503, "store_unavailable")
    assert CJK.search(err["message"])
    err = error_of(client.get("/counter/api/v1/forms?lang=en"), 503, "store_unavailable")
    assert "try again" in err["message"]
    health = client.get("/counter/healthz")
    assert health.status_code == 503
    assert health.get_json() == {"status": "unavailable", "store": "unavailable"}
    page = client.get("/counter/worklist")
    assert page.status_code == 503 and "<html" in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True)
    failed = app.test_cli_runner().invoke(args=["counterflow", "init"])
    assert failed.exit_code == 2 and "did not answer" in failed.output and "fix:" in failed.output

    store = _start_store_on(port, tmp_path / "store")
    try:
        def code() -> str:
            r = client.get("/counter/api/v1/forms?lang=en")
            return "" if r.status_code == 503 and r.get_json()["error"]["code"] == "store_unavailable" \
                else str(r.get_json()["error"]["code"])
        assert _until(code) == "not_initialised"          # the store answers: it only lacks `init`
        init(app)
        r = client.get("/counter/api/v1/forms")
        assert r.status_code == 200 and {f["key"] for f in r.get_json()["items"]} >= {"account-change"}
        assert client.get("/counter/healthz").status_code == 200
    finally:
        drop(app)
        store.kill()
        store.wait(10)


def test_flask_routes_runs_as_a_real_command_with_the_store_down(tmp_path: Path) -> None:
    (tmp_path / "portal_app.py").write_text(
        "from flask import Flask\nfrom counterflow import Counterflow\n"
        "app = Flask(__name__)\napp.config.update(SECRET_KEY='portal', COUNTERFLOW_URL_PREFIX='/counter')\n"
        "Counterflow(app, identity_loader=lambda: None)\n", "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COUNTERFLOW_", "FLASK_"))}
    env.update(COUNTERFLOW_MONGODB_URI=f"mongodb://127.0.0.1:{_closed_port()}/",
               COUNTERFLOW_STORE_TIMEOUT_MS="300")
    flask = str(Path(sys.executable).parent / "flask")
    result = subprocess.run([flask, "--app", "portal_app", "routes"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "counterflow_api.create_record" in result.stdout and "/counter/api/v1/records" in result.stdout
    assert not (tmp_path / "counterflow-data").exists()            # nothing started, nothing written


def test_without_a_uri_the_first_user_starts_the_embedded_store_once(
        config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COUNTERFLOW_MONGODB_URI", raising=False)
    data_dir = tmp_path / "portal-data"
    app = make_portal({k: v for k, v in config.items() if k != "COUNTERFLOW_MONGODB_URI"},
                      COUNTERFLOW_DATA_DIR=str(data_dir))
    state = app.extensions["counterflow"]
    assert not data_dir.exists()                                   # init_app started nothing
    try:
        init(app)                                                  # starts it, prepares it, stops it again
        assert state.embedded is not None and not state.embedded.owned
        stores: list[Any] = []
        threads = [threading.Thread(target=lambda: stores.append(state.store)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(stores) == 6 and len({id(s) for s in stores}) == 1     # one connection, made once
        assert state.embedded.owned and (data_dir / "nx-27017.pid").exists()
        r = signed_in(app, "alice").get("/counter/api/v1/forms")
        assert r.status_code == 200 and r.get_json()["items"]
    finally:
        state.close()
    assert not (data_dir / "nx-27017.pid").exists()                 # close() stops the store it started


# -- flask counterflow init ----------------------------------------------------------------------------------

def _counts(app: Flask) -> dict[str, Any]:
    store = app.extensions["counterflow"].store
    names = ("workflow_versions", "form_versions", "users", "events", "records")
    counted: dict[str, Any] = {name: store.db[name].count_documents({}) for name in names}
    counted["indexes"] = {name: sorted(store.db[name].index_information())
                          for name in store.db.list_collection_names()}
    return counted


def test_flask_counterflow_init_prepares_the_store_once_and_is_harmless_again(
        config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COUNTERFLOW_ADMIN_PASSWORD", raising=False)
    app = make_portal({k: v for k, v in config.items() if k != "COUNTERFLOW_ADMIN_PASSWORD"})
    try:
        client = signed_in(app, "alice")
        error_of(client.get("/counter/api/v1/forms"), 503, "not_initialised")
        says = client.get("/counter/api/v1/forms?lang=en").get_json()["error"]["message"]
        assert "flask counterflow init" in says

        first = init(app)
        passwords = GENERATED.findall(first.stderr)
        assert len(passwords) == 1 and "the store is ready" in first.stdout
        after_first = _counts(app)
        assert after_first["workflow_versions"] >= 5 and after_first["form_versions"] >= 3
        assert after_first["users"] == 1 and after_first["indexes"]["users"] != ["_id_"]

        second = init(app)
        assert "created user" not in second.output and passwords[0] not in second.output
        assert _counts(app) == after_first
        admin = app.extensions["counterflow"].store.user_by_name("admin")
        assert admin["must_change_password"] is True
        assert client.get("/counter/api/v1/forms").status_code == 200
    finally:
        drop(app)


# -- cross-site forgery --------------------------------------------------------------------------------------

def _versions(app: Flask) -> int:
    return int(app.extensions["counterflow"].store.latest_form_version("account-change")["version"])


def _files(app: Flask) -> int:
    return int(app.extensions["counterflow"].store.attachments.count_documents({}))


FORGED = [
    ("POST", "/counter/api/v1/forms/account-change/versions", {}),
    ("POST", "/counter/api/v1/forms/account-change/versions", {"data": {"title": "x"}}),
    ("POST", "/counter/api/v1/forms/account-change/versions",
     {"data": '{"title": {"en": "forged"}}', "content_type": "text/plain"}),
    ("POST", "/counter/api/v1/attachments", {"data": {"file": (io.BytesIO(b"%PDF forged"), "forged.pdf")}}),
    ("POST", "/counter/api/v1/records", {"data": '{"form": "account-change", "data": {}}',
                                         "content_type": "text/plain"}),
    ("POST", "/counter/api/v1/records", {"data": {"form": "account-change"}}),
    ("PUT", "/counter/api/v1/forms/account-change/versions/1", {"data": {"title": "x"}}),
    ("PATCH", "/counter/api/v1/records/anything", {"data": {"revision": "1"}}),
    ("POST", "/counter/api/v1/attachments", {"data": {"file": (io.BytesIO(b"x"), "x.pdf")},
                                             "headers": {"X-CSRF-Token": "forged-token"}}),
]


@pytest.mark.parametrize("method, path, kwargs", FORGED,
                         ids=["empty-post", "urlencoded", "json-as-text", "multipart", "record-as-text",
                              "record-urlencoded", "put-urlencoded", "patch-urlencoded", "bad-token"])
def test_a_cross_site_form_cannot_use_the_portal_cookie(portal: Flask, method: str, path: str,
                                                        kwargs: dict[str, Any]) -> None:
    client = signed_in(portal, "root")
    versions, files = _versions(portal), _files(portal)
    err = error_of(client.open(path, method=method, **kwargs), 403, "csrf")
    assert CJK.search(err["message"]) and "X-CSRF-Token" in err["message"]
    assert (_versions(portal), _files(portal)) == (versions, files)


def test_the_csrf_refusal_says_what_to_send_in_english(portal: Flask) -> None:
    client = signed_in(portal, "root")
    err = error_of(client.post("/counter/api/v1/forms/account-change/versions?lang=en"), 403, "csrf")
    assert "application/json" in err["message"] and "X-CSRF-Token" in err["message"]


def test_json_and_csrf_header_requests_from_the_portal_pass(portal: Flask) -> None:
    client = signed_in(portal, "root")
    versions = _versions(portal)
    r = client.post("/counter/api/v1/forms/account-change/versions", content_type="application/json")
    assert r.status_code == 201 and r.get_json()["version"] == versions + 1      # empty JSON body: allowed
    token = client.get("/portal/csrf").get_data(as_text=True)
    r = client.post("/counter/api/v1/forms/business-licence/versions", headers={"X-CSRFToken": token})
    assert r.status_code == 201 and r.get_json()["state"] == "draft"             # flask-wtf's other header
    clerk = signed_in(portal, "alice")
    files = _files(portal)
    token = clerk.get("/portal/csrf").get_data(as_text=True)
    r = clerk.post("/counter/api/v1/attachments", headers={"X-CSRF-Token": token},
                   data={"file": (io.BytesIO(b"%PDF-1.4 real"), "scan.pdf", "application/pdf")})
    assert r.status_code == 201 and _files(portal) == files + 1, r.get_json()
    r = clerk.post("/counter/api/v1/records", json={"form": "account-change", "data": {}})
    assert r.status_code == 201
    assert clerk.get("/counter/api/v1/records").status_code == 200                  # reads need nothing


def test_bearer_tokens_are_not_affected(api: Any) -> None:
    r = api.post("/api/v1/forms/account-change/versions", "admin")                  # no body, no content type
    assert r.status_code == 201, r.get_json()
    api.add_user("clerk", ["clerk"])
    upload = {"file": (io.BytesIO(b"%PDF-1.4"), "a.pdf", "application/pdf")}
    r = api.post("/api/v1/attachments", "clerk", data=upload)
    assert r.status_code == 201, r.get_json()


# -- settings the Flask way ----------------------------------------------------------------------------------

OVERRIDES = '{"2027": {"days_off": ["2027-01-04"], "workdays": []}}'


def test_calendar_overrides_come_from_the_environment(config: dict[str, Any],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERFLOW_CALENDAR_OVERRIDES", OVERRIDES)
    app = make_portal(config)
    try:
        state = app.extensions["counterflow"]
        assert state.settings.calendar_overrides == {2027: {"days_off": ("2027-01-04",), "workdays": ()}}
        init(app)
        assert not state.service.calendar.is_working_day(dt.date(2027, 1, 4))        # a Monday made a day off
        assert state.service.calendar.is_working_day(dt.date(2027, 1, 5))
    finally:
        drop(app)


def test_environment_values_are_parsed_and_the_apps_config_comes_first(
        config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERFLOW_STORE_TIMEOUT_MS", "1234")
    monkeypatch.setenv("COUNTERFLOW_LOAD_SHIPPED", "false")
    monkeypatch.setenv("COUNTERFLOW_DB_NAME", "12345")                     # text stays text, though it parses
    monkeypatch.setenv("COUNTERFLOW_LOGIN_RATE_LIMIT", "3")
    app = make_portal({k: v for k, v in config.items() if k != "COUNTERFLOW_DB_NAME"},
                      COUNTERFLOW_LOGIN_RATE_LIMIT=7)
    settings: Settings = app.extensions["counterflow"].settings
    assert (settings.store_timeout_ms, settings.load_shipped, settings.db_name) == (1234, False, "12345")
    assert settings.login_rate_limit == 7
    assert "LOGIN_RATE_LIMIT" not in app.config and "DB_NAME" not in app.config  # unchanged
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.db_name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("key, value, says", [
    ("COUNTERFLOW_CALENDAR_OVERRIDES", '{"2027": {"days_off": ["2027-13-01"]}}', "not an ISO date"),
    ("COUNTERFLOW_CALENDAR_OVERRIDES", '{2027: ', "not valid JSON"),
    ("COUNTERFLOW_CALENDAR_OVERRIDES", '{"2027": {"days_off": ["2028-01-03"]}}', "another year"),
    ("COUNTERFLOW_CALENDAR_OVERRIDES", '{"2027": {"holidays": []}}', "only days_off and workdays"),
    ("COUNTERFLOW_CALENDAR_OVERRIDES", '{"2027": {"days_off": ["2027-01-04"], "workdays": ["2027-01-04"]}}',
     "both"),
    ("COUNTERFLOW_STORE_TIMEOUT_MS", "soon", "whole number"),
    ("COUNTERFLOW_MAX_JSON_BYTES", "0", "at least 1"),
    ("COUNTERFLOW_LOAD_SHIPPED", "maybe", "true or false"),
    ("COUNTERFLOW_TIMEZONE", "Mars/Olympus", "time zone"),
    ("COUNTERFLOW_URL_PREFIX", "counter", "start it with /"),
    ("COUNTERFLOW_ENCRYPTION_KEY", "not-a-key", "Fernet"),
    ("COUNTERFLOW_PASSWORD_PROFILE", "fast", "password profile"),
    ("COUNTERFLOW_MONGODB_URI", "db.example:27017", "MongoDB URI"),
])
def test_a_malformed_setting_stops_start_up_naming_the_key_and_the_fix(
        config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, key: str, value: str, says: str) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as raised:
        in_config = {key: value} if key.endswith("PREFIX") else {}           # the portal fixes its own prefix
        make_portal({k: v for k, v in config.items() if k != key}, **in_config)
    message = str(raised.value)
    assert key in message and says in message and "fix:" in message
