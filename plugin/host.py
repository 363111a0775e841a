"""The standalone host: a Flask app with counterflow at `/`, its own login and sessions."""
from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, Request, redirect, url_for
from flask.sessions import SecureCookieSessionInterface

from counterflow.extension import Counterflow
from counterflow.settings import environment


class SessionInterface(SecureCookieSessionInterface):
    """HttpOnly and SameSite always; Secure whenever the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        from flask import request

        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def _secret_key(data_dir: Path, configured: str | None) -> str:
    """COUNTERFLOW_SECRET_KEY, else a random key kept (mode 0600) in the data folder."""
    if configured:
        return configured
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _encryption_key(data_dir: Path) -> str:
    """A Fernet key kept (mode 0600) in the data folder, made on first start. Back it up with the data."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "encryption_key"
    if not path.exists():
        from cryptography.fernet import Fernet

        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode())
    return path.read_text().strip()


def create_app(config: Mapping[str, Any] | None = None, *, bootstrap: bool = True) -> Flask:
    """The standalone app; `config` overrides the environment (`COUNTERFLOW_*`).

    With `bootstrap` (the default) it prepares its store at once, like `counterflow init`;
    `counterflow serve` and the other commands pass False and run `init`'s own step.
    """
    app = Flask("counterflow.host")
    app.config.update(config or {})
    env = environment(app.root_path).raw
    data_dir = Path(app.config.get("COUNTERFLOW_DATA_DIR") or env.get("DATA_DIR")
                    or "counterflow-data").expanduser()
    app.config.setdefault("COUNTERFLOW_DATA_DIR", str(data_dir))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(data_dir, env.get("SECRET_KEY"))
    if not (app.config.get("COUNTERFLOW_ENCRYPTION_KEY") or env.get("ENCRYPTION_KEY")):
        app.config["COUNTERFLOW_ENCRYPTION_KEY"] = _encryption_key(data_dir)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_NAME="counterflow_session")
    app.session_interface = SessionInterface()
    Counterflow(app)
    # Flask refuses a session cookie signed longer ago than this (31 days by default); the page
    # sessions also end COUNTERFLOW_SESSION_HOURS after sign-in and at sign-out (service.identity)
    hours = app.extensions["counterflow"].settings.session_hours
    app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(hours=hours)
    trusted = app.extensions["counterflow"].settings.trusted_hosts
    if trusted and app.config.get("TRUSTED_HOSTS") is None:
        app.config["TRUSTED_HOSTS"] = list(trusted)        # Flask refuses any other Host on every route
    if bootstrap:
        app.extensions["counterflow"].bootstrap()

    @app.get("/")
    def home() -> Any:
        return redirect(url_for("counterflow_pages.worklist"))

    return app


__all__ = ["create_app", "Request"]
