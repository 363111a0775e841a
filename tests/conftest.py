"""Shared fixtures: a real MongoDB-protocol server process for the whole run, a fresh database per test."""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from counterflow.store.embedded import EmbeddedServer

ADMIN_PASSWORD = "Adm1n-Secret-Pass"
PASSWORD = "Counter-Pass-2026"
INITIAL_PASSWORD = "Initial-Pass-2026"     # what an admin gives a new user; they change it to PASSWORD
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


def new_db_name() -> str:
    return "cft_" + uuid.uuid4().hex[:12]


def make_config(mongo_uri: str, db_name: str, folder: Path) -> dict[str, Any]:
    """An app's settings on database `db_name`, its files under `folder`."""
    return {"TESTING": True, "SECRET_KEY": "test-secret-" + db_name, "COUNTERFLOW_MONGODB_URI": mongo_uri,
            "COUNTERFLOW_DB_NAME": db_name, "COUNTERFLOW_DATA_DIR": str(folder / "data"),
            "COUNTERFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD,
            # argon2's cheapest parameters: the suite creates hundreds of users (production keeps RFC 9106)
            "COUNTERFLOW_PASSWORD_PROFILE": "cheapest"}


@contextmanager
def running_app(config: dict[str, Any]) -> Iterator[Any]:
    """An app on `config`; afterwards its database is dropped and its connection closed."""
    from counterflow.host import create_app

    app = create_app(config)
    try:
        yield app
    finally:
        state = app.extensions["counterflow"]
        state.store.db.client.drop_database(state.store.db.name)
        state.close()


@pytest.fixture
def db_name() -> str:
    return new_db_name()


@pytest.fixture
def config(mongo_uri: str, db_name: str, tmp_path: Path) -> dict[str, Any]:
    return make_config(mongo_uri, db_name, tmp_path)


@pytest.fixture
def app(config: dict[str, Any]) -> Iterator[Any]:
    with running_app(config) as app:
        yield app


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
        """A new user, created by admin with an initial password that the user then changes to PASSWORD
        (until then only the password change is allowed), signed in."""
        r = self.post("/api/v1/users", "admin", json={"username": username, "password": INITIAL_PASSWORD,
                                                      "name": username.title(), "roles": roles,
                                                      "department": department})
        assert r.status_code == 201, r.get_json()
        self.login(username, INITIAL_PASSWORD)
        changed = self.post("/api/v1/me/password", username,
                            json={"current_password": INITIAL_PASSWORD, "new_password": PASSWORD})
        assert changed.status_code == 200, changed.get_json()
        self.login(username)
        return r.get_json()


STAFF = (("clerk", ["clerk"]), ("clerk2", ["clerk"]), ("reviewer", ["reviewer"]),
         ("head", ["dept_head"]), ("boss", ["manager"]), ("keeper", ["archivist"]),
         ("witness", ["supervisor"]), ("outsider", ["clerk"]))


def signed_in(client: Any) -> Api:
    """An Api on `client`, signed in as admin."""
    api = Api(client)
    api.login("admin", ADMIN_PASSWORD)
    return api


def add_staff(api: Api) -> Api:
    """One user per role (see `staff`), each signed in."""
    for name, roles in STAFF:
        api.add_user(name, roles, department="counter-2" if name == "outsider" else "counter-1")
    return api


@pytest.fixture
def api(client: Any) -> Api:
    return signed_in(client)


@pytest.fixture
def staff(api: Api) -> Api:
    """admin plus one user per role: clerk, clerk2, reviewer, dept_head, manager, archivist, supervisor."""
    return add_staff(api)


# -- one world per test module -------------------------------------------------------------------------------
# For tests that only read or are refused: building an app and eight users costs far more than the request a
# test makes. These live for the whole module; a test that changes state must not use them (or must use
# records of its own), and a module that shares them should check that its tests leave them unchanged.

@pytest.fixture(scope="module")
def module_db_name() -> str:
    return new_db_name()


@pytest.fixture(scope="module")
def module_config(mongo_uri: str, module_db_name: str,
                  tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return make_config(mongo_uri, module_db_name, tmp_path_factory.mktemp("module"))


@pytest.fixture(scope="module")
def module_app(module_config: dict[str, Any]) -> Iterator[Any]:
    with running_app(module_config) as app:
        yield app


@pytest.fixture(scope="module")
def module_api(module_app: Any) -> Api:
    return signed_in(module_app.test_client())


@pytest.fixture(scope="module")
def module_staff(module_api: Api) -> Api:
    """`staff`, once per module."""
    return add_staff(module_api)


def stored_documents(app: Any) -> dict[str, list[str]]:
    """Every stored document as text, by collection, except the rate-limit buckets (every login attempt
    counts there); the events still on their way from the outbox are copied first."""
    store = app.extensions["counterflow"].store
    if hasattr(store, "copier"):
        store.copier.flush()
    db = store.db
    return {name: sorted(repr(sorted(doc.items())) for doc in db[name].find())
            for name in sorted(db.list_collection_names()) if name != "rate_buckets"}


@pytest.fixture
def shared_staff(module_staff: Api, module_app: Any) -> Iterator[Api]:
    """`module_staff`, for a test whose requests are all refused or only read: afterwards every stored
    document must be as it was, so a refusal that writes fails here and leaks into no other test."""
    before = stored_documents(module_app)
    yield module_staff
    assert stored_documents(module_app) == before, "a test on the module's shared app changed what is stored"


def stored_record(app: Any, record_id: str) -> dict[str, Any]:
    """The record as stored, with its protected fields decrypted (they are sealed at rest)."""
    state = app.extensions["counterflow"]
    return state.service.opened(state.store.record(record_id))
