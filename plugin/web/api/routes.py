"""REST API v1: parse, call the service, render JSON. Nothing else lives here."""
from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from wtforms.validators import ValidationError

from counterflow.web.api import schemas as s

from counterflow.web import errors as handlers
from counterflow.core.errors import BadRequest, CounterflowError, Forbidden, Invalid, Unauthorized
from counterflow.core.clock import stamp
from counterflow.core.limits import MAX_DEPTH, unstorable

bp = Blueprint("counterflow_api", __name__)
handlers.install(bp)


@lru_cache(maxsize=None)
def schema(cls: type[s.Schema], many: bool = False) -> s.Schema:
    """One instance per schema: marshmallow schemas are reusable, and building one per request costs."""
    return cls(many=many)


def ext() -> Any:
    return current_app.extensions["counterflow"]


lang = handlers.request_lang


def portal_identity() -> Any:
    """The portal's user for this request (its cookie, its session), asked once; None without a loader."""
    if "cf_portal_actor" not in g:
        g.cf_portal_actor = ext().identity_from_portal()
    return g.cf_portal_actor


def actor(initial_ok: bool = False) -> Any:
    """The caller: the portal's identity_loader, else a bearer token. One check per request.

    A built-in account on its initial password gets 403 `password_change_required` unless the
    route passes `initial_ok` (reading /me, changing the password). Portal users are never held.
    """
    state = ext()
    if "cf_actor" not in g:
        found, builtin = portal_identity(), False
        if found is None and not state.identity_loader:
            header = request.headers.get("Authorization", "")
            if header[:7].lower() == "bearer " and len(header) < 4096:
                found, builtin = state.service.actor_for_token(header[7:].strip(), lang()), True
        if found is None:
            raise Unauthorized({"zh-CN": "请先登录", "en": "Please sign in first"}[lang()], code="unauthorized")
        g.cf_actor, g.cf_builtin = found, builtin
    if g.get("cf_builtin") and not initial_ok:
        state.service.require_own_password(g.cf_actor, lang())
    return g.cf_actor


def body(schema: s.Schema) -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise BadRequest({"zh-CN": "请以 application/json 发送请求体",
                          "en": "Send the body as application/json"}[lang()],
                         code="content_type")
    try:
        data = request.get_json(silent=True)
    except RecursionError:                         # nested deeper than the JSON decoder goes
        data = None
    if data is None:
        raise BadRequest({"zh-CN": "请求体不是有效的 JSON", "en": "The body is not valid JSON"}[lang()],
                         code="malformed")
    _storable(data)
    return s.load(schema, data, lang())


def _storable(data: Any) -> None:
    """Refuse what the store cannot hold before anything looks at it: deep nesting, integers past 64 bits."""
    problems = unstorable(data)
    if problems and problems[0][1] == "too_deep":
        raise BadRequest({"zh-CN": f"请求体嵌套超过 {MAX_DEPTH} 层",
                          "en": f"The body nests deeper than {MAX_DEPTH} levels"}[lang()],
                         code="too_deep")
    if problems:
        text_ = {"zh-CN": "数值超出可保存的范围", "en": "The number is too large to store"}[lang()]
        raise Invalid(text_, code="too_large_number",
                      details=[{"path": p, "code": "too_large", "message": text_} for p, _ in problems])


def args(schema: s.Schema) -> dict[str, Any]:
    """The query string loaded by `schema`; `lang` is every route's language choice (request_lang), so no
    route's schema has to list it, and none refuses it as an unknown field."""
    raw = {k: v for k, v in request.args.items() if k != "lang"}
    return s.load(schema, raw, lang())


def out(schema: s.Schema, value: Any, status: int = 200) -> tuple[Response, int]:
    return jsonify(schema.dump(value)), status


def record_view(doc: dict[str, Any], warnings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    service = ext().service
    doc = service.readable(actor(), doc)          # without the fields the caller does not see (once)
    workflow = service.workflow(doc["process"], doc["workflows"].get(doc["process"]))
    view = dict(doc, id=doc["_id"], data=service.masked(doc),
                state_title=workflow.state_title(doc["state"], lang()), **service.approval_view(doc))
    if warnings is not None:
        view["warnings"] = warnings
    return view


LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::[0-9]{1,5})?")
UNTRUSTED_HOST = {
    "zh-CN": "此访问地址不在受信任的主机名单中，无法生成查询地址；请管理员设置 COUNTERFLOW_PUBLIC_BASE_URL "
             "或 COUNTERFLOW_TRUSTED_HOSTS",
    "en": "This address is not a trusted host name, so no status address can be made from it; an "
          "administrator sets COUNTERFLOW_PUBLIC_BASE_URL or COUNTERFLOW_TRUSTED_HOSTS"}


def host_trusted(host: str, trusted: tuple[str, ...]) -> bool:
    """The Host header names one of `trusted` (any port); `.example.gov` also stands for its subdomains."""
    found = _HOST.fullmatch(host.lower())
    if not found:
        return False
    name = found.group(1)
    return any(name == ref or (ref.startswith(".") and (name == ref[1:] or name.endswith(ref)))
               for ref in trusted)


def status_url(record: dict[str, Any]) -> str:
    """The applicant's status address: on COUNTERFLOW_PUBLIC_BASE_URL, else on the request's host, which must
    be a trusted one (COUNTERFLOW_TRUSTED_HOSTS, by default the local names): a forged Host never reaches a
    receipt."""
    settings = ext().settings
    params = {"number": record["acceptance_number"], "code": record["query_code"]}
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/") + url_for("counterflow_pages.status", **params)
    if not host_trusted(request.host, settings.trusted_hosts or LOCAL_HOSTS):
        raise BadRequest(UNTRUSTED_HOST[lang()], code="untrusted_host")
    return url_for("counterflow_pages.status", _external=True, **params)


def receipt_view(record: dict[str, Any]) -> dict[str, Any]:
    return {"acceptance_number": record["acceptance_number"], "accepted_at": record["accepted_at"],
            "due_date": record["due_date"], "query_code": record["query_code"],
            "status_url": status_url(record)}


def event_view(event: dict[str, Any]) -> dict[str, Any]:
    return dict(event, id=event["_id"])


# -- health and identity ------------------------------------------------------------------------

@bp.get("/healthz", merge_slashes=False)
def healthz() -> tuple[Response, int]:
    try:
        ok = ext().store.ping()
    except CounterflowError:                       # the embedded store could not be started
        ok = False
    word = "ok" if ok else "unavailable"
    return jsonify({"status": word, "store": word}), 200 if ok else 503


@bp.post("/api/v1/auth/token", merge_slashes=False)
def token() -> tuple[Response, int]:
    payload = body(schema(s.TokenRequest))
    issued, expires, _ = ext().service.login(payload["username"], payload["password"], lang(),
                                             request.remote_addr or "-")
    return out(schema(s.TokenResponse), {"token": issued, "expires_at": stamp(expires)})


@bp.post("/api/v1/users", merge_slashes=False)
def create_user() -> tuple[Response, int]:
    return out(schema(s.UserOut), ext().service.create_user(actor(), body(schema(s.UserCreate)), lang()), 201)


@bp.get("/api/v1/users", merge_slashes=False)
def list_users() -> tuple[Response, int]:
    users = ext().service.list_users(actor(), lang())
    return jsonify({"items": schema(s.UserOut, many=True).dump(users)}), 200


@bp.get("/api/v1/me", merge_slashes=False)
def me() -> tuple[Response, int]:
    who = actor(initial_ok=True)                   # so a client can tell it must change the password
    return jsonify({"id": who.id, "username": who.username, "name": who.name, "roles": sorted(who.roles),
                    "department": who.department,
                    "must_change_password": ext().service.user_state(who)["must_change_password"]}), 200


@bp.post("/api/v1/me/password", merge_slashes=False)
def change_password() -> tuple[Response, int]:
    who = actor(initial_ok=True)
    payload = body(schema(s.PasswordChange))
    ext().service.change_password(who, payload["current_password"], payload["new_password"], lang())
    return jsonify({"changed": True}), 200


# -- form definitions ------------------------------------------------------------------------------

@bp.post("/api/v1/forms", merge_slashes=False)
def create_form() -> tuple[Response, int]:
    who = actor()
    doc = ext().service.create_form(who, body(schema(s.FormCreate)), lang())
    return out(schema(s.FormVersionOut), doc, 201)


@bp.get("/api/v1/forms", merge_slashes=False)
def list_forms() -> tuple[Response, int]:
    forms = ext().service.published_forms(actor(), lang())
    return jsonify({"items": schema(s.FormVersionOut, many=True).dump(forms)}), 200


@bp.get("/api/v1/forms/<key>", merge_slashes=False)
def get_form(key: str) -> tuple[Response, int]:
    return out(schema(s.FormVersionOut), ext().service.published_form(actor(), key, lang()))


@bp.get("/api/v1/forms/<key>/versions/<int:version>", merge_slashes=False)
def get_form_version(key: str, version: int) -> tuple[Response, int]:
    return out(schema(s.FormVersionOut), ext().service.form_version(actor(), key, version, lang()))


@bp.put("/api/v1/forms/<key>/versions/<int:version>", merge_slashes=False)
def edit_form_version(key: str, version: int) -> tuple[Response, int]:
    who = actor()
    doc = ext().service.edit_form_version(who, key, version, body(schema(s.FormUpdate)), lang())
    return out(schema(s.FormVersionOut), doc)


@bp.post("/api/v1/forms/<key>/versions", merge_slashes=False)
def new_form_version(key: str) -> tuple[Response, int]:
    payload = body(schema(s.NewFormVersion)) if request.content_length else {}
    return out(schema(s.FormVersionOut), ext().service.new_form_version(actor(), key, payload, lang()), 201)


@bp.get("/api/v1/forms/<key>/versions/<int:version>/transitions", merge_slashes=False)
def form_options(key: str, version: int) -> tuple[Response, int]:
    items = ext().service.form_options(actor(), key, version, lang())
    return jsonify({"items": schema(s.TransitionOption, many=True).dump(items)}), 200


@bp.post("/api/v1/forms/<key>/versions/<int:version>/transitions/<trigger>", merge_slashes=False)
def fire_form(key: str, version: int, trigger: str) -> tuple[Response, int]:
    doc = ext().service.fire_form(actor(), key, version, trigger, body(schema(s.TransitionRequest)), lang())
    return out(schema(s.FormVersionOut), doc)


@bp.get("/api/v1/forms/<key>/versions/<int:version>/history", merge_slashes=False)
def form_history(key: str, version: int) -> tuple[Response, int]:
    events = ext().service.form_history(actor(), key, version, lang())
    return jsonify({"items": schema(s.HistoryEvent, many=True).dump([event_view(e) for e in events])}), 200


# -- records -------------------------------------------------------------------------------------------

@bp.post("/api/v1/records", merge_slashes=False)
def create_record() -> tuple[Response, int]:
    doc, warnings = ext().service.create_record(actor(), body(schema(s.RecordCreate)), lang())
    return out(schema(s.RecordOut), record_view(doc, warnings), 201)


@bp.get("/api/v1/records", merge_slashes=False)
def list_records() -> tuple[Response, int]:
    query = args(schema(s.RecordsQuery))
    limit = query.pop("limit")
    cursor = query.pop("cursor", None)
    docs = ext().service.list_records(actor(), query, limit + 1, cursor, lang())
    more = len(docs) > limit
    docs = docs[:limit]
    return jsonify({"items": schema(s.RecordOut, many=True).dump([record_view(d) for d in docs]),
                    "next_cursor": docs[-1]["_id"] if more else None}), 200


@bp.get("/api/v1/records/<record_id>", merge_slashes=False)
def get_record(record_id: str) -> tuple[Response, int]:
    return out(schema(s.RecordOut), record_view(ext().service.record(actor(), record_id, lang())))


@bp.patch("/api/v1/records/<record_id>", merge_slashes=False)
def edit_record(record_id: str) -> tuple[Response, int]:
    doc, warnings = ext().service.edit_record(actor(), record_id, body(schema(s.RecordPatch)), lang())
    return out(schema(s.RecordOut), record_view(doc, warnings))


@bp.get("/api/v1/records/<record_id>/history", merge_slashes=False)
def record_history(record_id: str) -> tuple[Response, int]:
    events = ext().service.history(actor(), record_id, lang())
    return jsonify({"items": schema(s.HistoryEvent, many=True).dump([event_view(e) for e in events])}), 200


@bp.get("/api/v1/records/<record_id>/receipt", merge_slashes=False)
def record_receipt(record_id: str) -> tuple[Response, int]:
    return out(schema(s.Receipt), receipt_view(ext().service.receipt(actor(), record_id, lang())))


@bp.get("/api/v1/records/<record_id>/transitions", merge_slashes=False)
def record_options(record_id: str) -> tuple[Response, int]:
    items = ext().service.record_options(actor(), record_id, lang())
    return jsonify({"items": schema(s.TransitionOption, many=True).dump(items)}), 200


@bp.post("/api/v1/records/<record_id>/transitions/<trigger>", merge_slashes=False)
def fire_record(record_id: str, trigger: str) -> tuple[Response, int]:
    doc = ext().service.fire_record(actor(), record_id, trigger, body(schema(s.TransitionRequest)), lang())
    return out(schema(s.RecordOut), record_view(doc))


# -- attachments ------------------------------------------------------------------------------------------

@bp.post("/api/v1/attachments", merge_slashes=False)
def upload_attachment() -> tuple[Response, int]:
    request.max_content_length = ext().settings.max_upload_bytes
    who = actor()
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest({"zh-CN": "请以 multipart/form-data 上传字段 file",
                          "en": "Upload the file as multipart field 'file'"}[lang()],
                         code="no_file")
    meta = ext().service.upload(who, upload.filename or "", upload.mimetype or "", upload.read(), lang())
    return jsonify(attachment_view(meta)), 201


@bp.get("/api/v1/attachments/<attachment_id>", merge_slashes=False)
def download_attachment(attachment_id: str) -> Response:
    meta, content = ext().service.attachment(actor(), attachment_id, lang())
    response = Response(content, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = "attachment; filename*=UTF-8''" + quote(meta["name"])
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"     # never run as a page
    return response


def attachment_view(meta: dict[str, Any]) -> dict[str, Any]:
    return {"id": meta["_id"], "name": meta["name"], "content_type": meta["content_type"],
            "size": meta["size"],
            "sha256": meta["sha256"]}


# -- the applicant -----------------------------------------------------------------------------------------

@bp.get("/api/v1/status", merge_slashes=False)
def status() -> tuple[Response, int]:
    query = args(schema(s.StatusQuery))
    service = ext().service
    record = service.status(query["number"], query["code"], request.remote_addr or "-", lang())
    return out(schema(s.Status), service.public_progress(record, lang()))


@bp.get("/api/v1/openapi.json", merge_slashes=False)
def openapi() -> Response:
    from counterflow.web.api.openapi import spec

    return jsonify(spec(ext().settings.url_prefix))


# -- what no route answers: counterflow's JSON, while the portal's own paths keep the portal's handlers ----

fallback = Blueprint("counterflow_fallback", __name__)    # apart, so `counterflow_api` lists only real routes
handlers.install(fallback)
CATCH_ALL = ("counterflow_fallback.unknown_route",)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@fallback.route("/api/", strict_slashes=False, merge_slashes=False, methods=[*METHODS, "HEAD", "OPTIONS"])
@fallback.route("/api/<path:rest>", merge_slashes=False, methods=[*METHODS, "HEAD", "OPTIONS"])
@fallback.route("/healthz", merge_slashes=False, methods=["POST", "PUT", "PATCH", "DELETE"])
def unknown_route(rest: str = "") -> Any:
    """A path under the API that no route serves: 404, or 405 when another method would be served there.

    Answered here rather than raised, so that a portal's own 404 and 405 handlers never take it over.
    """
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in METHODS:
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint not in CATCH_ALL:
            allowed.append(method)
    return handlers.handle_http_error(MethodNotAllowed(valid_methods=allowed) if allowed else NotFound())


# -- before every API request -----------------------------------------------------------------------------

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADERS = ("X-CSRF-Token", "X-CSRFToken")


@bp.before_request
def _limits() -> None:
    request.max_content_length = ext().settings.max_json_bytes
    if request.method in UNSAFE and ext().identity_loader and portal_identity() is not None:
        _refuse_cross_site()


def _refuse_cross_site() -> None:
    """A portal's cookie rides on cross-site posts; a browser form sends no JSON and no custom header."""
    if request.mimetype == "application/json":
        return
    token = next((request.headers[h] for h in CSRF_HEADERS if request.headers.get(h)), None)
    if token:
        try:
            validate_csrf(token)
            return
        except (ValidationError, CSRFError):
            pass
    raise Forbidden(CROSS_SITE[lang()], code="csrf")


CROSS_SITE = {
    "zh-CN": "已拒绝可能来自其他网站的请求：请以 Content-Type: application/json 发送，"
             "或在 X-CSRF-Token 请求头中附上有效的 CSRF 令牌（上传文件时必须如此）",
    "en": "Refused as a possible cross-site request: send the body as Content-Type: application/json, "
          "or put a valid CSRF token in the X-CSRF-Token header (the way for file uploads)"}

from counterflow.web.api import reading  # noqa: E402,F401  (approved reading: its routes join bp)
from counterflow.web.api import notify  # noqa: E402,F401  (inbox, worklists, rating: their routes join bp)
from counterflow.web.api import workflows  # noqa: E402,F401  (workflow definitions: their routes join bp)

from counterflow.web.api import approvals  # noqa: E402,F401  (approval steps: their routes join bp)
from counterflow.web.api import audit  # noqa: E402,F401  (the audit log: its route joins bp)
from counterflow.web.api import calendar  # noqa: E402,F401  (clocks: calendar, extensions; routes join bp)

from counterflow.web.api import destructions  # noqa: E402,F401  (destruction lists and certificates)
from counterflow.web.api import keys  # noqa: E402,F401  (reveal: its route joins bp)
from counterflow.web.api import backups  # noqa: E402,F401  (A/B posts: their routes join bp)
from counterflow.web.api import definitions  # noqa: E402,F401  (differences between versions, checks)
