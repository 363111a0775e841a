"""What is printed or shown to the applicant: the receipt, the one-time notice, the status look-up."""
from __future__ import annotations

from typing import Any

import segno
from flask import render_template, request
from markupsafe import Markup

from counterflow.core.errors import CounterflowError, Invalid
from counterflow.web.pages.common import actor, bp, ext, lang, t


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
    doc = ext().service.printable(actor(), record_id, lang())
    if not doc.get("notice"):
        raise Invalid(t("no_notice"), code="no_notice")
    form = ext().service.form_doc(doc["form"], doc["form_version"])
    return render_template("counterflow/notice.html", record=doc, form=form, notice=doc["notice"])


@bp.get("/status")
def status() -> Any:
    number, code = request.args.get("number", "").strip(), request.args.get("code", "").strip()
    progress, error, code_status = None, None, 200
    if number or code:
        try:
            record = ext().service.status(number, code, request.remote_addr or "-", lang())
            progress = ext().service.public_progress(record, lang())
            progress["diagram"] = Markup(ext().service.progress_diagram(record, lang(), public=True))
        except CounterflowError as exc:
            error, code_status = exc.message, exc.status
    return render_template("counterflow/status.html", progress=progress, error=error, number=number,
                           code=code), code_status


@bp.get("/records/<record_id>/decision")
def decision(record_id: str) -> Any:
    """The printable decision of a transition flagged `shows: decision` (不予受理决定书): number, date, reason,
    where else to go, clerk, contact."""
    doc = ext().service.printable(actor(), record_id, lang())
    voucher = (doc.get("vouchers") or {}).get("decision")
    if not voucher:
        raise Invalid(t("no_notice"), code="no_decision")
    form = ext().service.form_doc(doc["form"], doc["form_version"])
    return render_template("counterflow/decision.html", record=doc, form=form, voucher=voucher)
