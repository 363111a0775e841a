"""The built-in guards, branch conditions and actions that workflow files may name.

They are pure: what they need from the store or the form arrives through `ctx.env`
(the protocol `core.ports.TransitionEnv`, implemented by `service.env.Env`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from json_logic import jsonLogic

from counterflow.core.i18n import message
from counterflow.core.registry import action, condition, guard

if TYPE_CHECKING:
    from counterflow.core.engine import Context
    from counterflow.core.ports import TransitionEnv

MESSAGES = {
    "not_submitter": {"zh-CN": "受理人不能审核自己受理的业务",
                      "en": "You took this record in, so someone else must review it"},
    "not_author": {"zh-CN": "模板作者不能审核或批准自己的模板", "en": "The author of a form may not review or approve it"},
    "is_assignee": {"zh-CN": "此业务已分派给其他经办人", "en": "This record is assigned to someone else"},
    "retention": {"zh-CN": "保存期限未满（至 {until}），不能销毁",
                  "en": "The retention period runs until {until}; it cannot end yet"},
    "not_approver": {"zh-CN": "批准销毁的人不能同时监销",
                     "en": "Whoever approved the destruction may not also witness it"},
}


def _env(ctx: Context) -> TransitionEnv:
    if ctx.env is None:
        raise RuntimeError("this guard or action needs the service's environment (Context.env)")
    return ctx.env


def _problem(ctx: Context, code: str, **params: Any) -> dict[str, str]:
    return {"path": "", "code": code, "message": message(MESSAGES, code, ctx.lang, **params)}


@guard("materials_complete")
def materials_complete(ctx: Context) -> list[dict[str, str]]:
    """Every missing or wrong item and material, all at once (一次性告知)."""
    return _env(ctx).completeness(ctx.obj, ctx.lang)


@guard("not_submitter")
def not_submitter(ctx: Context) -> list[dict[str, str]]:
    return [_problem(ctx, "not_submitter")] if ctx.obj.get("created_by") == ctx.actor.id else []


@guard("not_author")
def not_author(ctx: Context) -> list[dict[str, str]]:
    return [_problem(ctx, "not_author")] if ctx.obj.get("author") == ctx.actor.id else []


@guard("is_assignee")
def is_assignee(ctx: Context) -> list[dict[str, str]]:
    return [] if ctx.obj.get("assignee") == ctx.actor.id else [_problem(ctx, "is_assignee")]


@guard("retention_passed")
def retention_passed(ctx: Context) -> list[dict[str, str]]:
    until = ctx.obj.get("retention_until")
    if until and until <= _env(ctx).today:
        return []
    return [_problem(ctx, "retention", until=until or "—")]


@guard("not_approver")
def not_approver(ctx: Context) -> list[dict[str, str]]:
    return [_problem(ctx, "not_approver")] if ctx.obj.get("destruction_approved_by") == ctx.actor.id else []


@condition("second_level_required")
def second_level_required(ctx: Context) -> bool:
    rule = (_env(ctx).form_settings(ctx.obj).get("review") or {}).get("second_level_if")
    return bool(rule) and bool(jsonLogic(rule, ctx.obj.get("data") or {}))


@action("assign_acceptance_number")
def assign_acceptance_number(ctx: Context) -> dict[str, Any]:
    return _env(ctx).acceptance(ctx)


@action("record_notice")
def record_notice(ctx: Context) -> dict[str, Any]:
    return {"notice": _env(ctx).notice(ctx)}


@action("set_assignee")
def set_assignee(ctx: Context) -> dict[str, Any]:
    return {"assignee": _env(ctx).assignee(ctx)}


@action("set_retention")
def set_retention(ctx: Context) -> dict[str, Any]:
    return {"retention_until": _env(ctx).retention_until(ctx.obj)}


@action("record_destruction_approver")
def record_destruction_approver(ctx: Context) -> dict[str, Any]:
    """Who approved the destruction: the witness must be someone else (not_approver)."""
    return {"destruction_approved_by": ctx.actor.id}


@action("publish_form")
def publish_form(ctx: Context) -> dict[str, Any]:
    return {"published_at": _env(ctx).stamp}
