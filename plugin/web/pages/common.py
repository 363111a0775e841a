"""What every page shares: the blueprint, the actor, the language, CSRF, time and error pages."""
from __future__ import annotations

import datetime as dt
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from pymongo.errors import PyMongoError
from wtforms.validators import ValidationError

from counterflow.core import clock
from counterflow.core.errors import BadRequest, CounterflowError, Unauthorized
from counterflow.core.i18n import LANGS, text
from counterflow.web import errors as handlers
from counterflow.web.pages.uitext import UI

bp = Blueprint("counterflow_pages", __name__, template_folder="../templates",
               static_folder=str(resources.files("counterflow.static")), static_url_path="/cf-static")
handlers.install(bp)


def ext() -> Any:
    return current_app.extensions["counterflow"]


def lang() -> str:
    chosen = request.args.get("lang")
    if chosen in LANGS and session.get("cf_lang") != chosen:
        session["cf_lang"] = chosen                     # the user's choice sticks for the session
    return handlers.request_lang()


def t(key: str, **params: Any) -> str:
    value = text(UI.get(key, {"en": key}), lang())
    return value.format(**params) if params else value


def actor(required: bool = True, initial_ok: bool = False) -> Any:
    """The signed-in user: the portal's identity_loader, else the session of the built-in login.

    A built-in account on its initial password is refused (and sent to change it) unless the
    view passes `initial_ok`: only the password page does. A portal's users are never held.
    """
    state = ext()
    if "cf_actor" not in g:
        found, builtin = state.identity_from_portal(), False
        if found is None and not state.identity_loader and session.get("cf_uid"):
            found = state.service.actor_for_session(session)
            builtin = found is not None
        g.cf_actor, g.cf_builtin = found, builtin
    if g.cf_actor is None and required:
        raise Unauthorized(t("sign_in_first"), code="unauthorized")
    if required and g.get("cf_builtin") and not initial_ok:
        state.service.require_own_password(g.cf_actor, lang())
    return g.cf_actor


def json_body(limit_keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The JSON object a page's script sent; 400 with a message a person can act on otherwise."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        data = None
    if not isinstance(data, dict):
        raise BadRequest(t("json_object_expected"), code="bad_json")
    if limit_keys is not None:
        unknown = sorted(k for k in data if k not in limit_keys)
        if unknown:
            raise BadRequest(t("unknown_members", names=", ".join(unknown)[:200]), code="unknown_field")
    return data


def _shown_actor() -> Any:
    """The user in the page header; a store that does not answer shows nobody instead of failing the page."""
    try:
        return actor(required=False)
    except (PyMongoError, CounterflowError):
        g.cf_actor = None
        return None


@bp.before_request
def _protect() -> Any:
    request.max_content_length = ext().settings.max_upload_bytes
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        # a form posts its token as a field; a page's script sending JSON (the builder, the designer)
        # sends it in the X-CSRF-Token header, which another site's page cannot set
        token = request.form.get("csrf_token") if not request.is_json else request.headers.get("X-CSRF-Token")
        try:
            validate_csrf(token)
        except (ValidationError, CSRFError):
            raise BadRequest(t("csrf"), code="csrf") from None
    return None


# Every script and style is a file under /cf-static: no inline script, handler or style attribute anywhere
# (the receipt's QR code is inline SVG markup, which needs no source). A portal that frames the pages names
# its origins in COUNTERFLOW_FRAME_ANCESTORS.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {}")


@bp.after_request
def _headers(response: Any) -> Any:
    portals = ext().settings.frame_ancestors
    response.headers.setdefault("Content-Security-Policy", CSP.format(" ".join(("'self'",) + portals)))
    if not portals:                         # the older header cannot name other origins; the CSP does
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"cf_csrf": generate_csrf, "cf_t": t, "cf_time": local_time, "cf_lang": lang,
            "cf_text": lambda v: text(v, lang()),
            "cf_actor": _shown_actor, "cf_portal": lambda: bool(ext().identity_loader),
            "cf_lang_url": _lang_url, "cf_clock_offset": lambda: clock.offset().text}


def local_time(value: str | None, seconds: bool = False) -> str:
    """A stored UTC stamp as the counter's local time (Asia/Shanghai by default), for people."""
    if not value:
        return ""
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(ext().service.tz)
    except ValueError:
        return value
    return when.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _lang_url(code: str) -> str:
    args: dict[str, Any] = dict(request.args)
    args["lang"] = code
    return url_for(request.endpoint or "counterflow_pages.worklist", **(request.view_args or {}), **args)


def error_page(exc: CounterflowError) -> Any:
    if exc.code == "password_change_required":
        return redirect(url_for("counterflow_pages.account_password"), 303)
    if exc.status == 401 and not ext().identity_loader and request.method == "GET":
        return redirect(url_for("counterflow_pages.login", next=request.full_path.rstrip("?")))
    return render_template("counterflow/error.html", error=exc), exc.status


def problems_of(exc: CounterflowError) -> list[Any]:
    """The items a page lists for an error: its details, else its message."""
    if isinstance(exc.details, list) and exc.details:
        return list(exc.details)
    return [{"path": "", "code": exc.code, "message": exc.message}]


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host, never a scheme."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("counterflow_pages.worklist")
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else url_for("counterflow_pages.worklist")


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
