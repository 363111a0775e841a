"""The standalone host: a Flask app with counterflow at `/`, its own login and sessions."""
from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, Request, redirect, url_for
from flask.sessions import SecureCookieSessionInterface

from counterflow.extension import Counterflow
from counterflow.settings import environment
from counterflow.store.supervisor import private_folder

log = logging.getLogger(__name__)


class SessionInterface(SecureCookieSessionInterface):
    """HttpOnly and SameSite always; Secure whenever the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        from flask import request

        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def _secret_key(data_dir: Path, configured: str | None) -> str:
    """COUNTERFLOW_SECRET_KEY, else a random key kept (mode 0600) in the data folder (mode 0700)."""
    if configured:
        return configured
    private_folder(data_dir)
    path = data_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _encryption_key(data_dir: Path, key_file: str | None = None) -> str:
    """The Fernet key in COUNTERFLOW_ENCRYPTION_KEY_FILE, else in `<data dir>/encryption_key`; made (mode
    0600) on first start. Kept outside the data folder, a copy of that folder does not open protected fields.
    """
    in_folder = data_dir / "encryption_key"
    if key_file:
        path = Path(key_file).expanduser()
        if not path.exists() and in_folder.exists():
            raise RuntimeError(f"COUNTERFLOW_ENCRYPTION_KEY_FILE names {path}, which does not exist, while "
                               f"the data folder holds {in_folder}, the key the stored data was sealed with; "
                               f"fix: move that file to {path} (mode 0600), or unset the setting")
        if not path.parent.exists():
            private_folder(path.parent)
    else:
        path = private_folder(data_dir) / "encryption_key"
    if not path.exists():
        from cryptography.fernet import Fernet

        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode())
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("the encryption key %s can be read by other users (mode %03o); fix: chmod 600 %s",
                    path, mode, path)
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"the encryption key file {path} is empty; fix: put the Fernet key there, or "
                           "remove the file on a store that holds no protected data yet")
    return key


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
        key_file = app.config.get("COUNTERFLOW_ENCRYPTION_KEY_FILE") or env.get("ENCRYPTION_KEY_FILE")
        app.config["COUNTERFLOW_ENCRYPTION_KEY"] = _encryption_key(data_dir, key_file and str(key_file))
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
