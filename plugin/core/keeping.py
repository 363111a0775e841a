"""What the records office's processes may name (issue 10, items 1-3): filing a record in the archive, legal
holds with their reason and authority, and approved reading (query requests that grant time-limited reading).

Like core/rules.py they are pure: what they need from the store or the form arrives through `ctx.env`,
whose extra members are declared here (`KeepingEnv`) and implemented in `service/grants.py`.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Mapping, Protocol, cast

from counterflow.core.i18n import message
from counterflow.core.registry import action, condition, guard

if TYPE_CHECKING:
    from counterflow.core.engine import Context

MESSAGES = {
    "records": {"zh-CN": "请列出要查阅的业务单，或给出查找条件",
                "en": "List the records to read, or give a search that finds them"},
    "unknown_records": {"zh-CN": "以下业务单不存在：{ids}", "en": "These records do not exist: {ids}"},
    "period": {"zh-CN": "查阅期限应为有效日期，结束日不早于开始日和今天",
               "en": "The reading period needs valid dates, ending no earlier than it starts and than today"},
    "period_long": {"zh-CN": "查阅期限最长 {days} 天", "en": "A reading period lasts at most {days} days"},
    "not_requester": {"zh-CN": "只有申请人本人可以提交或撤回查阅申请",
                      "en": "Only the requester may submit or withdraw a query request"},
    "outside": {"zh-CN": "外部查询（法院、监管机构等）须写明来文单位、法律依据并附来文",
                "en": "An outside request (court, regulator) must name the requesting body and its legal "
                      "basis, and carry their document as an attachment"},
}
# the longest reading period one request may grant
MAX_READING_DAYS = 366


class KeepingEnv(Protocol):
    """The members of the transition environment these rules use (besides `stamp` and `today`)."""

    stamp: str
    today: str

    def reading_records(self, ctx: "Context") -> tuple[list[str], list[str]]:
        """The ids of the records a query request names that exist, and those that do not."""

    def reading_needs_manager(self, ctx: "Context") -> bool:
        """Whether any record a query request names has sensitive fields."""

    def grant_reading(self, ctx: "Context") -> list[str]:
        """Write the grants of a query request entering a state that grants reading; their ids."""


def _env(ctx: Context) -> KeepingEnv:
    if ctx.env is None:
        raise RuntimeError("this guard or action needs the service's environment (Context.env)")
    return cast(KeepingEnv, ctx.env)


def _text(value: Any) -> str:
    return value.strip()[:2000] if isinstance(value, str) else ""


# -- archive ---------------------------------------------------------------------------------------------

@action("file_in_archive")
def file_in_archive(ctx: Context) -> dict[str, Any]:
    """File the record under its business type and year (the record carries its materials, notes, opinions
    and history with it); from here on the process's `read_only` states keep it unchanged. `legal_hold` is
    written as null (not left out), so a destruction's filter on it never depends on how a store treats a
    missing field."""
    env = _env(ctx)
    return {"archived_at": env.stamp, "archive_file": {"form": ctx.obj.get("form"), "year": env.today[:4]},
            "legal_hold": ctx.obj.get("legal_hold")}


# -- legal hold ------------------------------------------------------------------------------------------

@action("set_legal_hold")
def set_legal_hold(ctx: Context) -> dict[str, Any]:
    """The hold, with its reason and authority (court order, audit, complaint number): while it is set, no
    destruction may run (the destruction's own atomic write filters `legal_hold: None`)."""
    return {"legal_hold": {"reason": _text(ctx.payload.get("reason")),
                           "authority": _text(ctx.payload.get("authority")),
                           "by": ctx.actor.public(), "at": _env(ctx).stamp}}


@action("clear_legal_hold")
def clear_legal_hold(ctx: Context) -> dict[str, Any]:
    """Release the hold; the release's reason and authority stay on the record beside the last hold."""
    held = ctx.obj.get("legal_hold")
    return {"legal_hold": None,
            "legal_hold_released": {"previous": held if isinstance(held, Mapping) else None,
                                    "reason": _text(ctx.payload.get("reason")),
                                    "authority": _text(ctx.payload.get("authority")),
                                    "by": ctx.actor.public(), "at": _env(ctx).stamp}}


# -- approved reading ------------------------------------------------------------------------------------

def _problem(ctx: Context, path: str, code: str, **params: Any) -> dict[str, str]:
    return {"path": path, "code": code, "message": message(MESSAGES, code, ctx.lang, **params)}


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


@guard("is_requester")
def is_requester(ctx: Context) -> list[dict[str, str]]:
    """The caller made the request (a query request is submitted and withdrawn by its requester only)."""
    return [] if ctx.obj.get("created_by") == ctx.actor.id else [_problem(ctx, "", "not_requester")]


@guard("reading_request_complete")
def reading_request_complete(ctx: Context) -> list[dict[str, str]]:
    """A query request names existing records, a period that has not ended, and, when it comes from outside
    (a court, a regulator), the requesting body, its legal basis and its document."""
    data = ctx.obj.get("data") or {}
    problems = []
    found, missing = _env(ctx).reading_records(ctx)
    if missing:
        problems.append(_problem(ctx, "/records", "unknown_records", ids=", ".join(missing[:20])))
    elif not found:
        problems.append(_problem(ctx, "/records", "records"))
    start, end = _date(data.get("period_from")), _date(data.get("period_until"))
    today = _date(_env(ctx).today)
    if start is None or end is None or today is None or end < start or end < today:
        problems.append(_problem(ctx, "/period_until", "period"))
    elif (end - start).days > MAX_READING_DAYS:
        problems.append(_problem(ctx, "/period_until", "period_long", days=MAX_READING_DAYS))
    outside = ("outside_body", "legal_basis", "document")
    if data.get("outside") and not all(_text(data.get(k)) for k in outside):
        problems.append(_problem(ctx, "/legal_basis", "outside"))
    return problems


@condition("reading_needs_manager")
def reading_needs_manager(ctx: Context) -> bool:
    """A manager approves too when the request comes from outside or any record has sensitive fields."""
    return bool((ctx.obj.get("data") or {}).get("outside")) or _env(ctx).reading_needs_manager(ctx)


@action("grant_reading")
def grant_reading(ctx: Context) -> dict[str, Any]:
    """Where the transition leads to a state that grants reading (`grants_reading`), grant the requester
    reading of each record for the period; elsewhere (a further approval is needed) nothing yet."""
    granted = _env(ctx).grant_reading(ctx)
    return {"grants": granted, "granted_at": _env(ctx).stamp} if granted else {}


@action("revoke_reading")
def revoke_reading(ctx: Context) -> dict[str, Any]:
    """Revoking takes effect at once: a grant reads only while its request is in a state that grants."""
    return {"revoked_at": _env(ctx).stamp, "revoked_by": ctx.actor.public()}
