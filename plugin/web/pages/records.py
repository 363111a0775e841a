"""The clerk's pages: the worklist, the generated data form, a record and its actions."""
from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.datastructures import FileStorage

from counterflow.core import access
from counterflow.core.errors import Invalid
from counterflow.core.i18n import text
from counterflow.forms.parse import parse_form
from counterflow.forms.render import error_summary, render_fields
from counterflow.web.pages.common import actor, as_int, bp, ext, lang, local_time, t
from counterflow.web.pages.step_fields import ACTION as STEP_FIELDS, post_step_fields, step_form


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
        rows.append({"id": r["_id"], "number": r.get("acceptance_number") or "—",
                     "form": text(form["title"], lang()), "process": text(workflow.title, lang()),
                     "state": workflow.state_title(r["state"], lang()),
                     "due": r.get("due_date") or "", "updated": local_time(r.get("updated_at"))})
    must_change = not ext().identity_loader and ext().service.user_state(who)["must_change_password"]
    return render_template("counterflow/worklist.html", rows=rows, forms=forms,
                           can_create="clerk" in who.roles,
                           must_change=must_change, changed=bool(request.args.get("changed")))


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
        return (service.workflow(record["process"], record["workflows"].get(record["process"])),
                record["state"])
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
    unseen = access.hidden_fields(who, service.visible_to_fields(form["key"], form["version"]))
    if unseen:                              # fields this clerk may not see: neither shown nor posted
        form = dict(form, schema=access.schema_without(form["schema"], unseen))
    if request.method == "GET":
        return _form_page(form, {}, [])
    data, problems = parse_form(form["schema"], request.form, request.files, store_file=_store_file,
                                lang=lang(), tz=ext().service.tz)
    if request.form.getlist("_add_row") or problems:
        return _form_page(form, data, problems, add_rows=request.form.getlist("_add_row"),
                          status=422 if problems else 200)
    try:
        record, warnings = service.create_record(who, {"form": key, "data": data}, lang())
    except Invalid as exc:
        return _form_page(form, data, _details(exc), status=422)
    return _after_save(form, record, warnings)


def _after_save(form: dict[str, Any], record: dict[str, Any], warnings: list[dict[str, Any]]) -> Any:
    action = request.form.get("_action", "save")
    chosen = _data_triggers(form, record).get(action)
    if chosen is not None:
        try:
            record = ext().service.fire_record(actor(), record["_id"], action,
                                               {"revision": record["revision"]}, lang())
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
    if shows == "decision":
        return redirect(url_for("counterflow_pages.decision", record_id=record["_id"]))
    return redirect(url_for("counterflow_pages.record", record_id=record["_id"]))


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
                        e.get("actor", {}).get("username", ""),
                        "trigger": wf.trigger_title(e.get("trigger") or "", lang()),
                        "process": text(wf.title, lang()), "to": wf.state_title(e.get("dest") or "", lang()),
                        "opinion": e.get("opinion") or "", "outcome": e.get("outcome"),
                        "problems": (e.get("details") or {}).get("problems") or [],
                        "changes": e.get("changes") or []})
    reviewers = service.reviewers(who, lang()) if "dept_head" in who.roles and any(
        "assignee" in o["requires"] for o in options) else []
    return {"options": options, "history": history, "reviewers": reviewers,
            "state_title": workflow.state_title(record["state"], lang()),
            "process_title": text(workflow.title, lang()),
            "diagram": Markup(service.progress_diagram(record, lang()))}     # escaped in core/diagram.py


def _editable(record: dict[str, Any]) -> bool:
    workflow = ext().service.workflow(record["process"], record["workflows"].get(record["process"]))
    return workflow.is_editable(record["state"])


@bp.route("/records/<record_id>", methods=["GET", "POST"])
def record(record_id: str) -> Any:
    who = actor()
    service = ext().service
    doc = service.record(who, record_id, lang())
    form = service.form_doc(doc["form"], doc["form_version"])
    if doc.get("_hidden"):                  # fields this person does not see: neither shown nor posted
        form = dict(form, schema=access.schema_without(form["schema"], doc["_hidden"]))
    if request.method == "POST":
        return _post_record(doc, form)
    shown = service.masked(doc)
    if _editable(doc) and "clerk" in who.roles:
        validator = service.validator(doc["form"], doc["form_version"])
        refused = _data_triggers(form, doc).get(request.args.get("refused") or "")
        if refused is not None:
            problems = [p.to_dict() for p in validator.check_complete(doc.get("data") or {}, lang())]
            return _form_page(form, shown, problems, record=doc,
                              notice=t("not_fired", action=text(refused.title, lang())),
                              status=422 if problems else 200)
        _, warnings = validator.check_draft(doc.get("data") or {}, lang())
        problems = [w.to_dict() for w in warnings] if request.args.get("saved") or doc.get("notice") else []
        return _form_page(form, shown, problems, record=doc,
                          notice=t("saved") if request.args.get("saved") else None)
    fields = render_fields(form["schema"], form.get("ui_schema") or {}, shown, [], lang(), readonly=True,
                           tz=ext().service.tz)
    return render_template("counterflow/record.html", form=form, record=doc, fields=fields,
                           reading=ext().service.reading_grant(who, doc), step_fields=step_form(doc, form),
                           **_record_context(doc))


def _post_record(doc: dict[str, Any], form: dict[str, Any]) -> Any:
    service = ext().service
    who = actor()
    action = request.form.get("_action", "save")
    if action == STEP_FIELDS:                  # an approval step's own fields (fields.editable)
        return post_step_fields(doc, form)
    revision = as_int(request.form.get("revision"))
    posts_fields = (action == "save" or action in _data_triggers(form, doc) or
                    bool(request.form.getlist("_add_row")))
    if posts_fields and _editable(doc) and "clerk" in who.roles:
        data, problems = parse_form(form["schema"], request.form, request.files, store_file=_store_file,
                                    lang=lang(), tz=ext().service.tz)
        if request.form.getlist("_add_row") or problems:
            return _form_page(form, data, problems, record=doc, add_rows=request.form.getlist("_add_row"),
                              status=422 if problems else 200)
        try:
            doc, warnings = service.edit_record(who, doc["_id"], {"data": data, "revision": revision}, lang())
        except Invalid as exc:
            return _form_page(form, data, _details(exc), record=doc, status=422)
        revision = doc["revision"]
        if action == "save":
            return redirect(url_for("counterflow_pages.record", record_id=doc["_id"], saved=1))
        return _after_save(form, doc, warnings)
    payload: dict[str, Any] = {"revision": revision}
    for name in ("opinion", "assignee", "reason", "authority"):
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
                               error=exc.message,
                               fields=render_fields(form["schema"], form.get("ui_schema") or {},
                                                    service.masked(doc), [], lang(), readonly=True,
                                                    tz=service.tz),
                               **_record_context(doc)), 422
    return _after_transition(doc, chosen.shows if chosen else None)


def _details(exc: Invalid) -> list[dict[str, Any]]:
    return list(exc.details) if isinstance(exc.details, list) else [exc.details]
