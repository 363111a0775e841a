"""The record page's form for an approval step's own fields (`fields.editable`): offered to whoever holds the
step now, it posts those fields only, with the reason, through the service's correction (edit_record), which
refuses anything else. Top-level fields only; a nested one is corrected through PATCH /api/v1/records/{id}."""
from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from markupsafe import Markup

from counterflow.core import pointer
from counterflow.core.errors import CounterflowError
from counterflow.forms.parse import parse_form
from counterflow.forms.render import render_fields
from counterflow.web.pages.common import actor, as_int, ext, lang

ACTION = "_step_fields"
TEXT = {
    "title": {"zh-CN": "本环节可更正的内容", "en": "What this step may correct"},
    "help": {"zh-CN": "您是本审批环节当前的办理人，可以更正以下内容（须说明理由）；"
                      "更正记入办理记录，"
                      "您的意见将针对更正后的内容。",
             "en": "You hold this approval step now and may correct these fields (with the reason); the "
                   "correction goes into the history as yours, and your opinion is about the corrected "
                   "data."},
    "save": {"zh-CN": "保存更正", "en": "Save the correction"},
}


def _sub_schema(schema: dict[str, Any], editable: tuple[str, ...]) -> dict[str, Any] | None:
    """The form's schema cut down to the step's editable top-level fields (None: none of them)."""
    properties = schema.get("properties") or {}
    names = []
    for ptr in editable:
        try:
            parts = pointer.split(ptr)
        except ValueError:
            continue
        if len(parts) == 1 and parts[0] in properties and parts[0] not in names:
            names.append(parts[0])
    if not names:
        return None
    return {"type": "object", "properties": {n: properties[n] for n in names},
            "required": [n for n in schema.get("required") or () if n in names]}


def _cut(doc: dict[str, Any], form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    rights = ext().service.step_field_rights(actor(), doc)
    if rights is None or not rights.holding:
        return None
    sub = _sub_schema(form["schema"], rights.editable)
    if sub is None:
        return None
    ui = form.get("ui_schema") or {}
    return sub, {k: v for k, v in ui.items() if k in sub["properties"] or not isinstance(v, dict)}


def step_form(doc: dict[str, Any], form: dict[str, Any], values: Any = None,
              problems: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """What the record page shows the holder of a step with editable fields (None: nothing)."""
    cut = _cut(doc, form)
    if cut is None:
        return None
    sub, ui = cut
    if values is None:
        shown = ext().service.masked(doc)
        values = {k: shown.get(k) for k in sub["properties"] if k in shown}
    html = render_fields(sub, ui, values, problems or [], lang(), tz=ext().service.tz)
    return {"html": Markup(html), "problems": problems or [], "text": TEXT}


def post_step_fields(doc: dict[str, Any], form: dict[str, Any]) -> Any:
    """Save the step's fields (merged into the data as the holder reads it) with the reason."""
    service = ext().service
    cut = _cut(doc, form)
    if cut is None:
        return redirect(url_for("counterflow_pages.record", record_id=doc["_id"]), 303)
    sub, _ = cut
    values, problems = parse_form(sub, request.form, lang=lang(), tz=service.tz)
    if not problems:
        data = dict(doc.get("data") or {}, **(values if isinstance(values, dict) else {}))
        payload = {"data": data, "revision": as_int(request.form.get("revision")),
                   "reason": request.form.get("reason", "").strip()[:2000]}
        try:
            service.edit_record(actor(), doc["_id"], payload, lang())
            return redirect(url_for("counterflow_pages.record", record_id=doc["_id"], saved=1), 303)
        except CounterflowError as exc:
            problems = list(exc.details) if isinstance(exc.details, list) and exc.details else \
                [{"path": "", "code": exc.code, "message": exc.message}]
            status = exc.status
    else:
        status = 422
    from counterflow.web.pages import records as page      # the record page (which imports this module)
    shown = render_fields(form["schema"], form.get("ui_schema") or {}, service.masked(doc), [], lang(),
                          readonly=True, tz=service.tz)
    return render_template("counterflow/record.html", form=form, record=doc, fields=shown,
                           step_fields=step_form(doc, form, values, problems),
                           reading=service.reading_grant(actor(), doc), **page._record_context(doc)), status
