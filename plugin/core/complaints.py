"""What a complaint process may name (issue 8, item 7): first-receiver ownership, the deadline per level (a
state's `deadline: {by_field: ...}`, read by service/clocks.py), the answer with its reconsideration route,
and the reproducible callback sample of the level above.

Pure like core/rules.py: the day and the stamp arrive through `ctx.env` (`stamp`, `today`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any, Mapping

from counterflow.core.i18n import message
from counterflow.core.registry import action, condition, guard

if TYPE_CHECKING:
    from counterflow.core.engine import Context

# the level above calls back at least this share of closed complaints: a record is in the sample when the
# first four bytes of sha256("callback-sample:" + record id) fall below this share of 2**32, so anyone can
# draw the sample again from the ids alone; the draw is recorded on the record (`callback_sample`)
CALLBACK_SAMPLE_PERCENT = 30
# the complainant asks for reconsideration within this many (calendar) days of the answer; the level above
# decides within the working days of the reconsideration state's deadline
RECONSIDERATION_ASK_DAYS = 15
RECONSIDERATION_DECIDE_WORKING_DAYS = 10

MESSAGES = {
    "first_responder": {"zh-CN": "首问负责：此投诉由首位接待人 {owner} 负责办理",
                        "en": "The first receiver owns it: {owner} received this complaint and handles it"},
    "classify": {"zh-CN": "答复前须对投诉进行责任归类（网点责任或非网点责任）",
                 "en": "Classify the fault (the counter's or not) before answering"},
    "too_late": {"zh-CN": "复议须在答复后 {days} 日内（{until} 前）提出",
                 "en": "Reconsideration must be asked within {days} days of the answer (by {until})"},
    "route": {"zh-CN": "如对答复不满意，可在 {until} 前（{days} 日内）向上一级申请复议，上一级在 {decide} 个工作日内办结",
              "en": "If you disagree with the answer you may ask the level above for reconsideration by "
                    "{until} "
                    "(within {days} days); it decides within {decide} working days"},
}


def _m(code: str, lang: str, **params: Any) -> str:
    return message(MESSAGES, code, lang, **params)


def by_field_days(deadline: Mapping[str, Any], data: Mapping[str, Any] | None) -> int | None:
    """`{by_field: {field: NAME, working_days: {VALUE: N, ...}, default: N}}`: the working days for the value
    the record's data holds in NAME (a complaint's level), else `default` (none: no deadline)."""
    spec = deadline.get("by_field")
    if not isinstance(spec, Mapping):
        return None
    value = (data or {}).get(str(spec.get("field")))
    table = spec.get("working_days") or {}
    days = table.get(value) if isinstance(value, str) and isinstance(table, Mapping) else None
    if days is None:
        days = spec.get("default")
    return int(days) if isinstance(days, int) else None


def in_callback_sample(record_id: str, percent: int = CALLBACK_SAMPLE_PERCENT) -> tuple[bool, str]:
    """Whether the level above calls this record back, and the draw (hex) that decided it."""
    digest = hashlib.sha256(f"callback-sample:{record_id}".encode()).digest()[:4]
    return int.from_bytes(digest, "big") < percent * 2 ** 32 // 100, digest.hex()


@guard("is_first_responder")
def is_first_responder(ctx: Context) -> list[dict[str, str]]:
    """The caller owns the record: whoever it was handed on to (its assignee), else the person who first
    received it (its `first_responder`), or their backup acting for them (an A/B post)."""
    owner = ctx.obj.get("assignee") or ctx.obj.get("first_responder")
    if not owner or ctx.actor.owns(owner):
        return []
    return [{"path": "", "code": "first_responder", "message": _m("first_responder", ctx.lang, owner=owner)}]


@guard("complaint_classified")
def complaint_classified(ctx: Context) -> list[dict[str, str]]:
    """The record's data names the fault classification (`fault`)."""
    data = ctx.obj.get("data") or {}
    if isinstance(data, Mapping) and isinstance(data.get("fault"), str) and data["fault"]:
        return []
    return [{"path": "/fault", "code": "required", "message": _m("classify", ctx.lang)}]


@guard("within_reconsideration_period")
def within_reconsideration_period(ctx: Context) -> list[dict[str, str]]:
    """The answer's reconsideration period (`answer.reconsider_by`) has not ended."""
    until = (ctx.obj.get("answer") or {}).get("reconsider_by")
    env = ctx.env
    if isinstance(until, str) and env is not None and env.today > until:
        return [{"path": "", "code": "reconsideration_too_late",
                 "message": _m("too_late", ctx.lang, days=RECONSIDERATION_ASK_DAYS, until=until)}]
    return []


@condition("callback_sampled")
def callback_sampled(ctx: Context) -> bool:
    """The record is in the level above's callback sample (see `in_callback_sample`)."""
    return in_callback_sample(str(ctx.obj.get("_id", "")))[0]


@action("record_answer")
def record_answer(ctx: Context) -> dict[str, Any]:
    """`answer`: the text (the opinion), who and when, and the reconsideration route told with it; earlier
    answers are kept in `answers` (set whole)."""
    env = ctx.env
    today = env.today if env is not None else dt.date.today().isoformat()
    until = (dt.date.fromisoformat(today) + dt.timedelta(days=RECONSIDERATION_ASK_DAYS)).isoformat()
    route = {lang: _m("route", lang, until=until, days=RECONSIDERATION_ASK_DAYS,
                      decide=RECONSIDERATION_DECIDE_WORKING_DAYS) for lang in ("zh-CN", "en")}
    answer = {"text": str(ctx.payload.get("opinion") or "")[:4000], "by": ctx.actor.id,
              "at": env.stamp if env is not None else today, "reconsider_by": until, "route": route,
              "trigger": ctx.trigger}
    earlier = [dict(a) for a in ctx.obj.get("answers") or () if isinstance(a, Mapping)]
    return {"answer": answer, "answers": [*earlier, answer]}


@action("record_delay_notice")
def record_delay_notice(ctx: Context) -> dict[str, Any]:
    """`delay_notices`: the limit cannot be met; why (the reason), who told the complainant and when (the
    superior is told through the transition's `notifies`). Set whole."""
    env = ctx.env
    notices = [dict(n) for n in ctx.obj.get("delay_notices") or () if isinstance(n, Mapping)]
    notices.append({"reason": str(ctx.payload.get("reason") or "")[:2000], "by": ctx.actor.id,
                    "at": env.stamp if env is not None else "", "due_at": ctx.obj.get("due_at")})
    return {"delay_notices": notices}


@action("draw_callback_sample")
def draw_callback_sample(ctx: Context) -> dict[str, Any]:
    """`callback_sample`: whether the level above calls this complaint back, the draw and the share, recorded
    with the handling unit's callback (`callbacks`, set whole)."""
    env = ctx.env
    record_id = str(ctx.obj.get("_id", ""))
    picked, draw = in_callback_sample(record_id)
    stamp = env.stamp if env is not None else ""
    callbacks = [dict(c) for c in ctx.obj.get("callbacks") or () if isinstance(c, Mapping)]
    callbacks.append({"by": ctx.actor.id, "at": stamp, "result": str(ctx.payload.get("opinion") or "")[:2000],
                      "level": "unit", "trigger": ctx.trigger})
    return {"callbacks": callbacks,
            "callback_sample": {"selected": picked, "draw": draw, "percent": CALLBACK_SAMPLE_PERCENT,
                                "method": "sha256(callback-sample:<record id>)[:4] < percent", "at": stamp}}


@action("record_superior_callback")
def record_superior_callback(ctx: Context) -> dict[str, Any]:
    """The level above's callback, appended to `callbacks` (set whole)."""
    env = ctx.env
    callbacks = [dict(c) for c in ctx.obj.get("callbacks") or () if isinstance(c, Mapping)]
    callbacks.append({"by": ctx.actor.id, "at": env.stamp if env is not None else "",
                      "result": str(ctx.payload.get("opinion") or "")[:2000], "level": "above",
                      "trigger": ctx.trigger})
    return {"callbacks": callbacks}


@action("record_handover")
def record_handover(ctx: Context) -> dict[str, Any]:
    """A handover entry in `handovers` (set whole): from whom (the owner until now), to whom (the assignee the
    transition's `set_assignee` checked before this runs), the state and when (every handover keeps the time,
    both people and the record's state)."""
    env = ctx.env
    handovers = [dict(h) for h in ctx.obj.get("handovers") or () if isinstance(h, Mapping)]
    handovers.append({"from": ctx.obj.get("assignee") or ctx.obj.get("first_responder"), "by": ctx.actor.id,
                      "to": str(ctx.payload.get("assignee") or ""), "state": ctx.obj.get("state"),
                      "at": env.stamp if env is not None else "",
                      "reason": str(ctx.payload.get("reason") or "")[:2000]})
    return {"handovers": handovers}
