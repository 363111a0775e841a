"""Shared fixtures: a real MongoDB-protocol server process for the whole run, a fresh database per test."""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from counterflow.store.embedded import EmbeddedServer

ADMIN_PASSWORD = "Adm1n-Secret-Pass"
PASSWORD = "Counter-Pass-2026"
SHARED = Path(os.environ.get("COUNTERFLOW_SHARED") or Path(__file__).resolve().parents[2] / "shared")


def pytest_configure(config: Any) -> None:
    """In CI the react-jsonschema-form corpus must be there: its tests never vanish silently."""
    if os.environ.get("CI") and not (SHARED / "corpus" / "rjsf").is_dir():
        raise pytest.UsageError(f"the corpus is missing at {SHARED / 'corpus' / 'rjsf'}; "
                                "put shared/ beside the repository or set COUNTERFLOW_SHARED")


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    """COUNTERFLOW_TEST_MONGODB_URI when a real MongoDB is at hand, else the embedded server process."""
    configured = os.environ.get("COUNTERFLOW_TEST_MONGODB_URI")
    if configured:
        yield configured
        return
    folder = Path(tempfile.mkdtemp(prefix="cf-test-store-"))
    server = EmbeddedServer(folder)
    uri = server.start()
    yield uri
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def db_name() -> str:
    return "cft_" + uuid.uuid4().hex[:12]


@pytest.fixture
def config(mongo_uri: str, db_name: str, tmp_path: Path) -> dict[str, Any]:
    return {"TESTING": True, "SECRET_KEY": "test-secret-" + db_name, "COUNTERFLOW_MONGODB_URI": mongo_uri,
            "COUNTERFLOW_DB_NAME": db_name, "COUNTERFLOW_DATA_DIR": str(tmp_path / "data"),
            "COUNTERFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD,
            # argon2's cheapest parameters: the suite creates hundreds of users (production keeps RFC 9106)
            "COUNTERFLOW_PASSWORD_PROFILE": "cheapest"}


@pytest.fixture
def app(config: dict[str, Any]) -> Iterator[Any]:
    from counterflow.host import create_app

    app = create_app(config)
    yield app
    state = app.extensions["counterflow"]
    state.store.db.client.drop_database(state.store.db.name)
    state.close()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


class Api:
    """A thin JSON client that signs in as different users."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def login(self, username: str, password: str = PASSWORD) -> str:
        r = self.client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert r.status_code == 200, r.get_json()
        self.tokens[username] = r.get_json()["token"]
        return self.tokens[username]

    def call(self, method: str, path: str, who: str | None = None, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if who:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, who: str | None = None, **kw: Any) -> Any:
        return self.call("GET", path, who, **kw)

    def post(self, path: str, who: str | None = None, **kw: Any) -> Any:
        return self.call("POST", path, who, **kw)

    def put(self, path: str, who: str | None = None, **kw: Any) -> Any:
        return self.call("PUT", path, who, **kw)

    def patch(self, path: str, who: str | None = None, **kw: Any) -> Any:
        return self.call("PATCH", path, who, **kw)

    def add_user(self, username: str, roles: list[str], department: str = "counter-1") -> dict[str, Any]:
        r = self.post("/api/v1/users", "admin", json={"username": username, "password": PASSWORD, "name": username.title(),
                                                      "roles": roles, "department": department})
        assert r.status_code == 201, r.get_json()
        self.login(username)
        return r.get_json()


@pytest.fixture
def api(client: Any) -> Api:
    api = Api(client)
    api.login("admin", ADMIN_PASSWORD)
    return api


@pytest.fixture
def staff(api: Api) -> Api:
    """admin plus one user per role: clerk, clerk2, reviewer, dept_head, manager, archivist, supervisor."""
    for name, roles in (("clerk", ["clerk"]), ("clerk2", ["clerk"]), ("reviewer", ["reviewer"]),
                        ("head", ["dept_head"]), ("boss", ["manager"]), ("keeper", ["archivist"]),
                        ("witness", ["supervisor"]), ("outsider", ["clerk"])):
        api.add_user(name, roles, department="counter-2" if name == "outsider" else "counter-1")
    return api


def stored_record(app: Any, record_id: str) -> dict[str, Any]:
    """The record as stored, with its protected fields decrypted (they are sealed at rest)."""
    state = app.extensions["counterflow"]
    return state.service.opened(state.store.record(record_id))
