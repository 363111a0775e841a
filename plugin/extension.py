"""The Flask extension: `Counterflow(app)` or `cf.init_app(app)`; no I/O until a request needs the store."""
from __future__ import annotations

import atexit
import logging
import sys
import threading
from typing import Any, Callable, Mapping

from flask import Flask, has_request_context

from counterflow.core import clock, definitions
from counterflow.core.engine import Actor
from counterflow.core.errors import StoreUnavailable
from counterflow.forms.check import shipped_forms
from counterflow.service import Service
from counterflow.settings import Settings
from counterflow.store.client import Store
from counterflow.store.embedded import EmbeddedServer
from counterflow.web.errors import request_lang, store_unavailable

log = logging.getLogger(__name__)
IdentityLoader = Callable[[], Mapping[str, Any] | None]
NOT_INITIALISED = {
    "zh-CN": "counterflow 尚未在此数据存储上初始化；请管理员运行 flask counterflow init（独立运行时为 counterflow init）",
    "en": "counterflow is not set up on this store yet; an administrator runs `flask counterflow init` "
          "(standalone: `counterflow init`)"}


def _lang() -> str:
    return request_lang() if has_request_context() else "en"


class State:
    """Per-app state, in `app.extensions["counterflow"]`; connects once, on first use, from any thread."""

    def __init__(self, settings: Settings, secret: str, identity_loader: IdentityLoader | None,
                 workflows: Mapping[str, Any], forms: Mapping[str, Any]) -> None:
        self.settings = settings
        self.identity_loader = identity_loader
        self.workflows = workflows                 # the shipped definitions, checked at init_app
        self.forms = forms
        self.embedded: EmbeddedServer | None = None
        self.generated_password: str | None = None
        self._secret = secret
        self._store: Store | None = None
        self._service: Service | None = None
        self._ready = False                        # the store holds the shipped workflows (bootstrap ran)
        self._lock = threading.Lock()
        self._exit_hook = False

    def __repr__(self) -> str:
        return f"<counterflow State connected={self._store is not None} ready={self._ready}>"

    @property
    def store(self) -> Store:
        """The store connection, made on first access (starting the embedded store when no URI is set)."""
        return self._store if self._store is not None else self._connect()[0]

    @property
    def service(self) -> Service:
        """The service over the store; the first use checks that `counterflow init` ran on this store."""
        service = self._service if self._service is not None else self._connect()[1]
        if not self._ready:
            if not service.store.workflow_versions():     # a store error here is a 503; the next use retries
                raise StoreUnavailable(NOT_INITIALISED[_lang()], code="not_initialised")
            service.load_workflows()                      # one machine per stored version, built once
            self._ready = True
        return service

    def _connect(self) -> tuple[Store, Service]:
        with self._lock:
            if self._store is None or self._service is None:
                uri = self.settings.mongodb_uri or self._start_embedded()
                store = Store(uri, self.settings.db_name, timeout_ms=self.settings.store_timeout_ms)
                self._service = Service(store, self.settings, self._secret)
                self._store = store
            return self._store, self._service

    def _start_embedded(self) -> str:
        embedded = self.embedded or EmbeddedServer(self.settings.data_dir)
        try:
            uri = embedded.start()
        except (RuntimeError, OSError) as exc:
            log.error("the embedded store in %s did not start: %s", self.settings.data_dir, exc)
            raise StoreUnavailable(store_unavailable(_lang())) from exc
        self.embedded = embedded
        if embedded.owned and not self._exit_hook:
            atexit.register(self.close)
            self._exit_hook = True
        return uri

    def bootstrap(self) -> str | None:
        """Indexes, shipped workflows and forms, the first admin, left-over outboxes. Safe to run again."""
        store = self.store
        store.ensure_indexes()
        service = self._connect()[1]
        generated = service.bootstrap(self.workflows, self.forms if self.settings.load_shipped else {})
        service.sweep_outboxes()
        self._ready = True
        if generated:
            self.generated_password = generated
            print(f"counterflow: created user 'admin' with password {generated} (shown once; change it)",
                  file=sys.stderr)
        return generated

    def identity_from_portal(self) -> Actor | None:
        if not self.identity_loader:
            return None
        found = self.identity_loader()
        if not found:
            return None
        return Actor(id=str(found["id"]), username=str(found.get("username") or found["id"]),
                     name=str(found.get("name", "")), roles=frozenset(found.get("roles", ())),
                     department=str(found.get("department", "")))

    def close(self) -> None:
        """Close the connection, stop the embedded store if this state started it; a later use reconnects."""
        with self._lock:
            store, self._store, self._service, self._ready = self._store, None, None, False
        if store is not None:
            store.close()
        if self.embedded is not None:
            self.embedded.stop()


class Counterflow:
    """Registers the pages, the REST API (each blueprint with its own error handlers) and the CLI group."""

    def __init__(self, app: Flask | None = None, *, identity_loader: IdentityLoader | None = None) -> None:
        self.identity_loader = identity_loader
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, identity_loader: IdentityLoader | None = None) -> None:
        """Check the settings and the shipped definitions; connect nothing (the first request does)."""
        if "counterflow" in app.extensions:
            raise RuntimeError("Counterflow is already registered on this app; call init_app once per app")
        if not app.config.get("SECRET_KEY"):
            raise RuntimeError("Counterflow needs app.config['SECRET_KEY'] to sign tokens, sessions and CSRF "
                               "tokens; set it to a long random value (and keep it out of version control)")
        settings = Settings.from_app(app)
        workflows = definitions.shipped_workflows(settings.workflows_dir)
        forms = shipped_forms(workflows)
        if not settings.encryption_key:
            log.warning("COUNTERFLOW_ENCRYPTION_KEY is not set: protected fields are sealed with a key "
                        "derived from SECRET_KEY, so changing SECRET_KEY would make them unreadable; "
                        "set a key of its own")
        if clock.set_offset(settings.clock_offset):       # process-wide; an app without one resets it
            log.warning("COUNTERFLOW_CLOCK_OFFSET=%s: the clock reads %s, not the host's time; for test "
                        "and training installations only", settings.clock_offset, clock.utcnow().isoformat())
        app.extensions["counterflow"] = State(settings, app.config["SECRET_KEY"],
                                              identity_loader or self.identity_loader, workflows, forms)
        self._register(app, settings)

    def _register(self, app: Flask, settings: Settings) -> None:
        from counterflow.cli import group
        from counterflow.web.api.routes import bp as api_bp, fallback
        from counterflow.web.pages import bp as pages_bp

        prefix = settings.url_prefix or None
        app.register_blueprint(api_bp, url_prefix=prefix)
        app.register_blueprint(pages_bp, url_prefix=prefix)
        app.register_blueprint(fallback, url_prefix=prefix)      # unknown paths under {prefix}/api: JSON 404
        app.cli.add_command(group)
