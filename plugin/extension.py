"""The Flask extension: `Counterflow(app)` or `cf.init_app(app)`."""
from __future__ import annotations

import atexit
import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from flask import Flask
from werkzeug.exceptions import HTTPException

from counterflow.core import definitions
from counterflow.store.embedded import EmbeddedServer
from counterflow.core.engine import Actor
from counterflow.core.errors import CounterflowError
from counterflow.forms.check import shipped_forms
from counterflow.web.errors import handle_domain_error, handle_http_error
from counterflow.service import Service
from counterflow.settings import Settings
from counterflow.store.client import Store

log = logging.getLogger(__name__)
IdentityLoader = Callable[[], Mapping[str, Any] | None]


@dataclass
class State:
    """Per-app state, kept in `app.extensions["counterflow"]`."""

    settings: Settings
    store: Store
    service: Service
    identity_loader: IdentityLoader | None
    embedded: EmbeddedServer | None = None
    generated_password: str | None = field(default=None, repr=False)

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
        self.store.close()
        if self.embedded is not None:
            self.embedded.stop()


class Counterflow:
    """Registers the pages, the REST API, the error handler, the CLI and the store connection."""

    def __init__(self, app: Flask | None = None, *, identity_loader: IdentityLoader | None = None) -> None:
        self.identity_loader = identity_loader
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, identity_loader: IdentityLoader | None = None) -> None:
        if "counterflow" in app.extensions:
            raise RuntimeError("Counterflow is already registered on this app; call init_app once per app")
        if not app.config.get("SECRET_KEY"):
            raise RuntimeError("Counterflow needs app.config['SECRET_KEY'] to sign tokens, sessions and CSRF "
                               "tokens; set it to a long random value (and keep it out of version control)")
        settings = Settings.from_mapping(app.config)
        workflows = definitions.shipped_workflows()
        forms = shipped_forms(workflows)
        embedded = None
        uri = settings.mongodb_uri
        if not uri:
            embedded = EmbeddedServer(settings.data_dir)
            uri = embedded.start()
        store = Store(uri, settings.db_name, timeout_ms=settings.store_timeout_ms)
        store.ensure_indexes()
        service = Service(store, settings, app.config["SECRET_KEY"])
        if not settings.encryption_key:
            log.warning("COUNTERFLOW_ENCRYPTION_KEY is not set: protected fields are sealed with a key derived "
                        "from SECRET_KEY, so changing SECRET_KEY would make them unreadable; set a key of its own")
        generated = service.bootstrap(workflows, forms if settings.load_shipped else {})
        service.sweep_outboxes()
        state = State(settings, store, service, identity_loader or self.identity_loader, embedded, generated)
        app.extensions["counterflow"] = state
        if generated:
            print(f"counterflow: created user 'admin' with password {generated} (shown once; change it)",
                  file=sys.stderr)
        if embedded is not None and embedded.owned:
            atexit.register(state.close)
        self._register(app, settings)

    def _register(self, app: Flask, settings: Settings) -> None:
        from counterflow.web.api.routes import bp as api_bp
        from counterflow.cli import group
        from counterflow.web.pages import bp as pages_bp

        prefix = settings.url_prefix or None
        app.register_blueprint(api_bp, url_prefix=prefix)
        app.register_blueprint(pages_bp, url_prefix=prefix)
        app.register_error_handler(CounterflowError, handle_domain_error)
        app.register_error_handler(HTTPException, handle_http_error)
        app.cli.add_command(group)


