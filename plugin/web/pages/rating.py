"""The applicant's side of the status page: what they were told (why and what next on a failure), and the
satisfaction rating, posted with the number and query code (no account)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import redirect, render_template, request, url_for

from counterflow.core.errors import CounterflowError
from counterflow.core.i18n import text
from counterflow.web.pages.common import bp, ext, lang

WORDS = {
    "told": {"zh-CN": "办理结果", "en": "The result"},
    "reason": {"zh-CN": "原因", "en": "Why"},
    "next": {"zh-CN": "下一步", "en": "What to do next"},
    "rate": {"zh-CN": "服务评价", "en": "Rate the service"},
    "score": {"zh-CN": "满意度（1 最差，5 最好）", "en": "Satisfaction (1 worst, 5 best)"},
    "comment": {"zh-CN": "意见或建议（可不填）", "en": "Comments (optional)"},
    "send": {"zh-CN": "提交评价", "en": "Send the rating"},
    "rated": {"zh-CN": "您的评价：{score} 分。谢谢！", "en": "Your rating: {score}. Thank you!"},
}


@bp.app_context_processor
def _rating_words() -> dict[str, Any]:
    return {"cf_rt": lambda key, **params: text(WORDS[key], lang()).format(**params)}


@bp.post("/status/rating")
def status_rating() -> Any:
    number, code = request.form.get("number", "").strip(), request.form.get("code", "").strip()
    raw_score, comment = request.form.get("score", ""), request.form.get("comment") or None
    score: Any = int(raw_score) if raw_score.isdigit() and len(raw_score) < 3 else raw_score
    service = ext().service
    try:
        service.rate(number, code, score, comment, request.remote_addr or "-", lang())
    except CounterflowError as exc:
        progress = None
        try:
            progress = service.public_progress(service.status(number, code, request.remote_addr or "-",
                                                              lang()), lang())
        except CounterflowError:
            pass
        return render_template("counterflow/status.html", progress=progress, error=exc.message,
                               number=number, code=code), exc.status
    return redirect(url_for("counterflow_pages.status") + "?" + urlencode({"number": number, "code": code}),
                    code=303)
