"""Server-rendered pages: they parse a post, call the service, render a template."""
from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import segno
from flask import (Blueprint, abort, current_app, g, redirect, render_template, request, session,
                   url_for)
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from markupsafe import Markup
from werkzeug.datastructures import FileStorage
from wtforms.validators import ValidationError

from counterflow.web import errors as handlers
from counterflow.core.errors import BadRequest, CounterflowError, Invalid, Unauthorized
from counterflow.forms.parse import parse_form
from counterflow.core.i18n import LANGS, text
from counterflow.forms.render import error_summary, render_fields
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


def actor(required: bool = True) -> Any:
    """The signed-in user: the portal's identity_loader, else the session of the built-in login."""
    if "cf_actor" in g:
        return g.cf_actor
    state = ext()
    found = state.identity_from_portal()
    if found is None and not state.identity_loader and session.get("cf_uid"):
        found = state.service.actor_for_user_id(session["cf_uid"], session.get("cf_epoch", 0))
    if found is None and required:
        raise Unauthorized(t("sign_in_first"), code="unauthorized")
    g.cf_actor = found
    return found


@bp.before_request
def _protect() -> Any:
    request.max_content_length = ext().settings.max_upload_bytes
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except (ValidationError, CSRFError):
            raise BadRequest(t("csrf"), code="csrf") from None
    return None


@bp.after_request
def _headers(response: Any) -> Any:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"cf_csrf": generate_csrf, "cf_t": t, "cf_time": local_time, "cf_lang": lang, "cf_text": lambda v: text(v, lang()),
            "cf_actor": lambda: actor(required=False), "cf_portal": lambda: bool(ext().identity_loader),
            "cf_lang_url": _lang_url}


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
    args = dict(request.args)
    args["lang"] = code
    return url_for(request.endpoint or "counterflow_pages.worklist", **(request.view_args or {}), **args)


def error_page(exc: CounterflowError) -> Any:
    if exc.status == 401 and not ext().identity_loader and request.method == "GET":
        return redirect(url_for("counterflow_pages.login", next=request.full_path.rstrip("?")))
    return render_template("counterflow/error.html", error=exc), exc.status


def _problems(exc: CounterflowError) -> list[Any]:
    """The items a page lists for an error: its details, else its message."""
    if isinstance(exc.details, list) and exc.details:
        return list(exc.details)
    return [{"path": "", "code": exc.code, "message": exc.message}]


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never another host, never a scheme."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("counterflow_pages.worklist")
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else url_for("counterflow_pages.worklist")


# -- sign in -------------------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if ext().identity_loader:
        abort(404)
    error = None
    if request.method == "POST":
        try:
            _, _, user = ext().service.login(request.form.get("username", ""), request.form.get("password", ""), lang())
        except CounterflowError as exc:
            error = exc.message
        else:
            chosen = session.get("cf_lang")
            session.clear()
            session["cf_uid"] = user["_id"]
            session["cf_epoch"] = user.get("token_epoch", 0)
            if chosen:
                session["cf_lang"] = chosen
            return redirect(_safe_next(request.form.get("next")))
    return render_template("counterflow/login.html", error=error, next=request.values.get("next", "")), 401 if error else 200


@bp.post("/logout")
def logout() -> Any:
    session.pop("cf_uid", None)
    session.pop("cf_epoch", None)
    return redirect(url_for("counterflow_pages.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def account_password() -> Any:
    if ext().identity_loader:
        abort(404)
    who = actor()
    problems: list[Any] = []
    if request.method == "POST":
        try:
            ext().service.change_password(who, request.form.get("current_password", ""),
                                          request.form.get("new_password", ""), lang())
        except CounterflowError as exc:
            problems = _problems(exc)
        else:
            session["cf_epoch"] = ext().service.user_state(who)["token_epoch"]   # this session goes on
            return redirect(url_for("counterflow_pages.worklist", changed=1))
    return render_template("counterflow/password.html", problems=problems), 422 if problems else 200


# -- worklist -------------------------------------------------------------------------------------------

@bp.get("/worklist")
def worklist() -> Any:
    who = actor()
    service = ext().service
    records, forms = [], []
    if who.roles & {"clerk", "reviewer", "dept_head", "manager", "archivist", "supervisor", "auditor"}:
        records = service.list_records(who, {}, 50, None, lang())
        forms = service.published_forms(who, lang())
    rows = []
    for r in records:
        workflow = service.workflow(r["process"], r["workflows"].get(r["process"]))
        form = service.form_doc(r["form"], r["form_version"])
        rows.append({"id": r["_id"], "number": r.get("acceptance_number") or "—", "form": text(form["title"], lang()),
                     "process": text(workflow.title, lang()), "state": workflow.state_title(r["state"], lang()),
                     "due": r.get("due_date") or "", "updated": local_time(r.get("updated_at"))})
    must_change = not ext().identity_loader and ext().service.user_state(who)["must_change_password"]
    return render_template("counterflow/worklist.html", rows=rows, forms=forms, can_create="clerk" in who.roles,
                           must_change=must_change, changed=bool(request.args.get("changed")))


# -- the generated form ------------------------------------------------------------------------------------

def _store_file(upload: FileStorage) -> str:
    meta = ext().service.upload(actor(), upload.filename or "", upload.mimetype or "", upload.read(), lang())
    return meta["_id"]


def _form_page(form: dict[str, Any], data: Any, problems: list[dict[str, Any]], *, record: Any = None,
               status: int = 200, notice: str | None = None, add_rows: list[str] | None = None) -> Any:
    fields = render_fields(form["schema"], form.get("ui_schema") or {}, data, problems, lang(),
                           add_rows=add_rows or (), tz=ext().service.tz)
    summary = error_summary(problems, form["schema"], lang(), form.get("ui_schema") or {})
    return render_template("counterflow/record_form.html", form=form, fields=fields, summary=summary,
                           record=record, notice=notice, form_actions=_form_actions(form, record),
                           **_record_context(record)), status


def _place(form: dict[str, Any], record: Any) -> tuple[Any, str]:
    """The workflow and state a data form posts into: the record's, or a new record's first."""
    service = ext().service
    if record:
        return service.workflow(record["process"], record["workflows"].get(record["process"])), record["state"]
    workflow = service.workflow(form["settings"]["processes"][0])
    return workflow, workflow.initial


def _data_triggers(form: dict[str, Any], record: Any) -> dict[str, Any]:
    """The transitions the data form itself offers here (flagged `with_data`), by trigger."""
    workflow, state = _place(form, record)
    return {tr.trigger: tr for tr in workflow.data_triggers(state)}


def _form_actions(form: dict[str, Any], record: Any) -> list[dict[str, Any]]:
    found = list(_data_triggers(form, record).values())
    return [{"trigger": tr.trigger, "primary": i == len(found) - 1,
             "title": text(tr.title, lang()) + (t("then_receipt") if tr.shows == "receipt" else "")}
            for i, tr in enumerate(found)]


@bp.route("/forms/<key>/new", methods=["GET", "POST"])
def new_record(key: str) -> Any:
    who = actor()
    service = ext().service
    form = service.published_form(who, key, lang())
    form = service.form_doc(form["key"], form["version"])
    if request.method == "GET":
        return _form_page(form, {}, [])
    data, problems = parse_form(form["schema"], request.form, request.files, store_file=_store_file, lang=lang(),
                                tz=ext().service.tz)
    if request.form.getlist("_add_row") or problems:
        return _form_page(form, data, problems, add_rows=request.form.getlist("_add_row"), status=422 if problems else 200)
    try:
        record, warnings = service.create_record(who, {"form": key, "data": data}, lang())
    except Invalid as exc:
        return _form_page(form, data, list(exc.details), status=422)
    return _after_save(form, record, warnings)


def _after_save(form: dict[str, Any], record: dict[str, Any], warnings: list[dict[str, Any]]) -> Any:
    action = request.form.get("_action", "save")
    chosen = _data_triggers(form, record).get(action)
    if chosen is not None:
        try:
            record = ext().service.fire_record(actor(), record["_id"], action, {"revision": record["revision"]}, lang())
        except Invalid:
            # the draft is saved; show every problem on the record's own page, so a reload posts nothing again
            return redirect(url_for("counterflow_pages.record", record_id=record["_id"], refused=action), 303)
        return _after_transition(record, chosen.shows)
    return redirect(url_for("counterflow_pages.record", record_id=record["_id"], saved=1))


def _after_transition(record: dict[str, Any], shows: str | None) -> Any:
    """The printable page a transition asks for (its `shows` flag), else the record."""
    if shows == "receipt":
        return redirect(url_for("counterflow_pages.receipt", record_id=record["_id"]))
    if shows == "notice":
        return redirect(url_for("counterflow_pages.notice", record_id=record["_id"]))
    return redirect(url_for("counterflow_pages.record", record_id=record["_id"]))


# -- a record ------------------------------------------------------------------------------------------------

def _record_context(record: Any) -> dict[str, Any]:
    if not record:
        return {"options": [], "history": [], "state_title": "", "process_title": "", "reviewers": []}
    service = ext().service
    who = actor()
    workflow = service.workflow(record["process"], record["workflows"].get(record["process"]))
    editable = workflow.is_editable(record["state"])          # then the data form offers its own triggers
    options = [o for o in service.options_for(who, record, lang()) if not (editable and o["with_data"])]
    history = []
    for e in service.events_of(record):
        wf = service.workflow(e["process"], record["workflows"].get(e["process"]))
        history.append({"at": local_time(e.get("at")), "who": e.get("actor", {}).get("name") or
                        e.get("actor", {}).get("username", ""), "trigger": wf.trigger_title(e.get("trigger") or "", lang()),
                        "process": text(wf.title, lang()), "to": wf.state_title(e.get("dest") or "", lang()),
                        "opinion": e.get("opinion") or "", "outcome": e.get("outcome"),
                        "problems": (e.get("details") or {}).get("problems") or [], "changes": e.get("changes") or []})
    reviewers = service.reviewers(who, lang()) if "dept_head" in who.roles and any(
        "assignee" in o["requires"] for o in options) else []
    return {"options": options, "history": history, "reviewers": reviewers,
            "state_title": workflow.state_title(record["state"], lang()), "process_title": text(workflow.title, lang())}


def _editable(record: dict[str, Any]) -> bool:
    workflow = ext().service.workflow(record["process"], record["workflows"].get(record["process"]))
    return workflow.is_editable(record["state"])


@bp.route("/records/<record_id>", methods=["GET", "POST"])
def record(record_id: str) -> Any:
    who = actor()
    service = ext().service
    doc = service.record(who, record_id, lang())
    form = service.form_doc(doc["form"], doc["form_version"])
    if request.method == "POST":
        return _post_record(doc, form)
    shown = service.masked(doc)
    if _editable(doc) and "clerk" in who.roles:
        validator = service.validator(doc["form"], doc["form_version"])
        refused = _data_triggers(form, doc).get(request.args.get("refused") or "")
        if refused is not None:
            problems = [p.to_dict() for p in validator.check_complete(doc.get("data") or {}, lang())]
            return _form_page(form, shown, problems, record=doc, notice=t("not_fired", action=text(refused.title, lang())),
                              status=422 if problems else 200)
        _, warnings = validator.check_draft(doc.get("data") or {}, lang())
        problems = [w.to_dict() for w in warnings] if request.args.get("saved") or doc.get("notice") else []
        return _form_page(form, shown, problems, record=doc, notice=t("saved") if request.args.get("saved") else None)
    fields = render_fields(form["schema"], form.get("ui_schema") or {}, shown, [], lang(), readonly=True,
                           tz=ext().service.tz)
    return render_template("counterflow/record.html", form=form, record=doc, fields=fields, **_record_context(doc))


def _post_record(doc: dict[str, Any], form: dict[str, Any]) -> Any:
    service = ext().service
    who = actor()
    action = request.form.get("_action", "save")
    revision = _int(request.form.get("revision"))
    posts_fields = action == "save" or action in _data_triggers(form, doc) or bool(request.form.getlist("_add_row"))
    if posts_fields and _editable(doc) and "clerk" in who.roles:
        data, problems = parse_form(form["schema"], request.form, request.files, store_file=_store_file, lang=lang(),
                                    tz=ext().service.tz)
        if request.form.getlist("_add_row") or problems:
            return _form_page(form, data, problems, record=doc, add_rows=request.form.getlist("_add_row"),
                              status=422 if problems else 200)
        try:
            doc, warnings = service.edit_record(who, doc["_id"], {"data": data, "revision": revision}, lang())
        except Invalid as exc:
            return _form_page(form, data, list(exc.details), record=doc, status=422)
        revision = doc["revision"]
        if action == "save":
            return redirect(url_for("counterflow_pages.record", record_id=doc["_id"], saved=1))
        return _after_save(form, doc, warnings)
    payload: dict[str, Any] = {"revision": revision}
    for name in ("opinion", "assignee"):
        if request.form.get(name):
            payload[name] = request.form[name][:2000]
    items = [line.strip() for line in request.form.get("items", "").splitlines() if line.strip()]
    if items:
        payload["items"] = items[:100]
    workflow = service.workflow(doc["process"], doc["workflows"].get(doc["process"]))
    chosen = workflow.transition(doc["state"], action)
    try:
        doc = service.fire_record(who, doc["_id"], action, payload, lang())
    except Invalid as exc:
        return render_template("counterflow/record.html", form=form, record=doc, problems=exc.details,
                               error=exc.message, fields=render_fields(form["schema"], form.get("ui_schema") or {},
                                                                       service.masked(doc), [], lang(), readonly=True,
                                                                       tz=service.tz),
                               **_record_context(doc)), 422
    return _after_transition(doc, chosen.shows if chosen else None)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@bp.get("/records/<record_id>/receipt")
def receipt(record_id: str) -> Any:
    from counterflow.web.api.routes import status_url

    doc = ext().service.receipt(actor(), record_id, lang())
    form = ext().service.form_doc(doc["form"], doc["form_version"])
    url = status_url(doc)
    qr = Markup(segno.make(url, error="m").svg_inline(scale=4, title=t("scan_status")))
    return render_template("counterflow/receipt.html", record=doc, form=form, url=url, qr=qr)


@bp.get("/records/<record_id>/notice")
def notice(record_id: str) -> Any:
    doc = ext().service.record(actor(), record_id, lang())
    if not doc.get("notice"):
        raise Invalid(t("no_notice"), code="no_notice")
    form = ext().service.form_doc(doc["form"], doc["form_version"])
    return render_template("counterflow/notice.html", record=doc, form=form, notice=doc["notice"])


# -- the applicant's look-up ---------------------------------------------------------------------------------

@bp.get("/status")
def status() -> Any:
    number, code = request.args.get("number", "").strip(), request.args.get("code", "").strip()
    progress, error, code_status = None, None, 200
    if number or code:
        try:
            record = ext().service.status(number, code, request.remote_addr or "-", lang())
            progress = ext().service.public_progress(record, lang())
        except CounterflowError as exc:
            error, code_status = exc.message, exc.status
    return render_template("counterflow/status.html", progress=progress, error=error, number=number,
                           code=code), code_status


# -- admin: form definitions and users --------------------------------------------------------------------------

@bp.route("/admin/forms", methods=["GET", "POST"])
def admin_forms() -> Any:
    who = actor()
    service = ext().service
    problems: list[Any] = []
    source = ""
    if request.method == "POST":
        source = request.form.get("definition", "")
        try:
            definition = json.loads(source)
            if not isinstance(definition, dict):
                raise ValueError
        except ValueError:
            problems = [{"path": "", "code": "json", "message": t("bad_json")}]
        else:
            try:
                doc = service.create_form(who, definition, lang())
                return redirect(url_for("counterflow_pages.admin_form_version", key=doc["key"], version=doc["version"]))
            except CounterflowError as exc:
                problems = _problems(exc)
    versions = service.all_form_versions(who, lang())
    return render_template("counterflow/admin_forms.html", versions=versions, problems=problems, source=source), \
        422 if problems else 200


@bp.route("/admin/forms/<key>/versions/<int:version>", methods=["GET", "POST"])
def admin_form_version(key: str, version: int) -> Any:
    who = actor()
    service = ext().service
    problems: list[Any] = []
    error = None
    if request.method == "POST":
        action = request.form.get("_action", "")
        payload: dict[str, Any] = {"revision": _int(request.form.get("revision"))}
        if request.form.get("opinion"):
            payload["opinion"] = request.form["opinion"][:2000]
        try:
            if action == "new_version":
                doc = service.new_form_version(who, key, {}, lang())
                return redirect(url_for("counterflow_pages.admin_form_version", key=key, version=doc["version"]))
            service.fire_form(who, key, version, action, payload, lang())
            return redirect(url_for("counterflow_pages.admin_form_version", key=key, version=version))
        except Invalid as exc:
            problems, error = list(exc.details), exc.message
        except CounterflowError as exc:
            error = exc.message
    doc = service.form_version(who, key, version, lang())
    options = service.form_options(who, key, version, lang())
    preview = render_fields(doc["schema"], doc.get("ui_schema") or {}, {}, [], lang(), tz=service.tz)
    definition = json.dumps({k: doc.get(k) for k in ("key", "title", "description", "schema", "ui_schema", "settings")},
                            ensure_ascii=False, indent=2)
    history = service.form_history(who, key, version, lang())
    state_title = service.form_workflow().state_title(doc["state"], lang())
    return render_template("counterflow/admin_form_version.html", doc=doc, options=options, preview=preview,
                           definition=definition, problems=problems, error=error, history=history,
                           state_title=state_title), 422 if problems or error else 200


@bp.route("/admin/users", methods=["GET", "POST"])
def admin_users() -> Any:
    who = actor()
    service = ext().service
    problems: list[Any] = []
    if request.method == "POST":
        payload = {"username": request.form.get("username", "").strip(), "password": request.form.get("password", ""),
                   "name": request.form.get("name", "").strip()[:100], "roles": request.form.getlist("roles"),
                   "department": request.form.get("department", "").strip()[:100]}
        try:
            if not payload["roles"] or not payload["username"]:
                raise Invalid(t("user_fields"), details=[{"path": "/roles", "code": "required", "message": t("user_fields")}])
            service.create_user(who, payload, lang())
            return redirect(url_for("counterflow_pages.admin_users"))
        except CounterflowError as exc:
            problems = _problems(exc)
    users = service.list_users(who, lang())
    from counterflow.core.roles import ROLES

    return render_template("counterflow/admin_users.html", users=users, roles=ROLES, problems=problems), \
        422 if problems else 200
