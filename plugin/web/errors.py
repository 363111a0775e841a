"""Turns every error into `{"error": {...}}` (API) or an error page (pages): one place."""
from __future__ import annotations

import logging
from typing import Any

from flask import current_app, g, jsonify, request, session
from pymongo.errors import PyMongoError
from werkzeug.exceptions import HTTPException, default_exceptions

from counterflow.core.errors import CounterflowError, StoreUnavailable
from counterflow.core.i18n import normalize

log = logging.getLogger(__name__)


def request_lang() -> str:
    """The request's language: `?lang=`, then the user's choice kept in the session, then the browser's."""
    if "cf_lang" not in g:
        g.cf_lang = normalize(request.args.get("lang") or session.get("cf_lang")
                              or request.accept_languages.best_match(["zh-CN", "zh", "en"]))
    return str(g.cf_lang)


def _ours(path_prefix: str = "/api/") -> bool:
    prefix = _prefix()
    return request.path.startswith(prefix + path_prefix) or request.path == prefix + "/healthz"


def _prefix() -> str:
    state = current_app.extensions.get("counterflow")
    return state.settings.url_prefix if state else ""


def _wants_page() -> bool:
    """A page gets an error page; a page's JSON endpoint (the builder's and the designer's) gets JSON."""
    return not _ours() and request.blueprint == "counterflow_pages" and not page_json()


def page_json() -> bool:
    """A script on one of our pages calling a JSON endpoint: a JSON body, or a GET that asks for JSON."""
    return request.is_json or request.accept_mimetypes.best == "application/json"


def handle_domain_error(exc: CounterflowError) -> Any:
    if _wants_page():
        from counterflow.web.pages import error_page

        return error_page(exc)
    return jsonify(exc.to_dict()), exc.status


def store_unavailable(lang: str) -> str:
    """What a caller reads while the store is down: it is temporary, and what to do."""
    return {"zh-CN": "数据存储暂时不可用，请稍后再试",
            "en": "The record store is not answering; try again in a moment"}[lang]


def handle_store_error(exc: PyMongoError) -> Any:
    log.warning("store error: %s", type(exc).__name__)
    return handle_domain_error(StoreUnavailable(store_unavailable(request_lang())))


def handle_http_error(exc: HTTPException) -> Any:
    if not (_ours() or request.blueprint in ("counterflow_api", "counterflow_pages", "counterflow_fallback")):
        return exc
    lang = request_lang()
    status = exc.code or 500
    messages = {
        404: ("未找到该地址", "Nothing here"), 405: ("不支持此请求方法", "This method is not allowed here"),
        413: ("内容太大", "The request is too large"), 400: ("请求格式不正确", "The request is malformed"),
    }
    zh, en = messages.get(status, ("请求无法处理", "The request cannot be handled"))
    code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(status, "bad_request")
    err = CounterflowError(zh if lang == "zh-CN" else en, code=code)
    err.status = status
    return handle_domain_error(err)


def handle_unexpected(exc: Exception) -> Any:
    if isinstance(exc, HTTPException):
        return handle_http_error(exc)
    log.error("unexpected error on %s %s: %s", request.method, request.path, type(exc).__name__, exc_info=exc)
    err = CounterflowError("内部错误，已记录；请重试或联系管理员 / Internal error; it was logged",
                           code="internal")
    err.status = 500
    return handle_domain_error(err)


def install(bp: Any) -> None:
    """Blueprint-level handlers, so the portal's own errors stay the portal's.

    Flask looks for a handler of the status code before one of the class, on the app too: each code is
    registered here as well, so a portal's `errorhandler(404)` never answers for counterflow's routes.
    """
    bp.register_error_handler(CounterflowError, handle_domain_error)
    bp.register_error_handler(HTTPException, handle_http_error)
    for code in default_exceptions:
        bp.register_error_handler(code, handle_http_error)
    bp.register_error_handler(PyMongoError, handle_store_error)
    bp.register_error_handler(Exception, handle_unexpected)
