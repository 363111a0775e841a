"""The built-in guards, branch conditions and actions that workflow files may name.

They are pure: what they need from the store or the form arrives through `ctx.env`
(the protocol `core.ports.TransitionEnv`, implemented by `service.env.Env`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

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
    "separated": {"zh-CN": "您已是{held}，同一人不能再担任{duty}",
                  "en": "You are the {held} here; the same person may not also be the {duty}"},
    "separated_step": {"zh-CN": "您已是{held}，不能执行「{trigger}」",
                       "en": "You are the {held} here, so you may not do '{trigger}'"},
    "separated_assignee": {"zh-CN": "所选经办人已是{held}，同一人不能再办理此项",
                           "en": "The chosen assignee is the {held} here; "
                                 "the same person may not also take this on"},
}

# Separation of duties (不相容岗位分离). A duty is a part one person plays on one object; a transition
# flagged `duty: NAME` records its caller under `duties.NAME` (a list of user ids) in the same write,
# and `separate_from: [...]` refuses a person who already plays any of the listed parts there,
# whatever roles they hold. The names are a fixed vocabulary (the meta-schema lists them).
DUTY_TITLES = {
    "creator": {"zh-CN": "录入人", "en": "creator"},
    "author": {"zh-CN": "模板作者", "en": "author"},
    "acceptor": {"zh-CN": "受理人", "en": "acceptor"},
    "reviewer": {"zh-CN": "审核人", "en": "reviewer"},
    "approver": {"zh-CN": "审批人", "en": "approver"},
    "destruction_approver": {"zh-CN": "销毁批准人", "en": "destruction approver"},
    "witness": {"zh-CN": "监销人", "en": "destruction witness"},
}
# parts an object records in fields of its own: who created a record, who wrote a form version, and
# who approved a destruction before duties were recorded (the field `record_destruction_approver` sets)
IMPLIED_DUTIES = {"creator": "created_by", "author": "author",
                  "destruction_approver": "destruction_approved_by"}
FILL_DUTY = "fill_duty"         # the action the engine adds to a transition flagged `duty`


def _env(ctx: Context) -> TransitionEnv:
    if ctx.env is None:
        raise RuntimeError("this guard or action needs the service's environment (Context.env)")
    return ctx.env


def _problem(ctx: Context, code: str, **params: Any) -> dict[str, str]:
    return {"path": "", "code": code, "message": message(MESSAGES, code, ctx.lang, **params)}


def filled_duties(obj: Mapping[str, Any]) -> dict[str, set[str]]:
    """Who has played which part on this object: its recorded duties plus the parts its own fields imply."""
    found: dict[str, set[str]] = {}
    recorded = obj.get("duties")
    for duty, people in (recorded.items() if isinstance(recorded, Mapping) else ()):
        if isinstance(people, list):
            found.setdefault(duty, set()).update(p for p in people if isinstance(p, str))
    for duty, name in IMPLIED_DUTIES.items():
        if isinstance(obj.get(name), str) and obj[name]:
            found.setdefault(duty, set()).add(obj[name])
    return found


def duty_title(duty: str, lang: str) -> str:
    return message(DUTY_TITLES, duty, lang) if duty in DUTY_TITLES else duty


def separation_problems(ctx: Context, person: str, avoid: Iterable[str], *, duty: str | None = None,
                        trigger_title: str = "", path: str = "",
                        assignee: bool = False) -> list[dict[str, str]]:
    """One problem for every listed duty `person` already plays on the object (empty: none)."""
    filled = filled_duties(ctx.obj)
    problems = []
    for held in avoid:
        if person not in filled.get(held, ()):
            continue
        params = {"held": duty_title(held, ctx.lang)}
        if assignee:
            code = "separated_assignee"
        elif duty:
            code, params["duty"] = "separated", duty_title(duty, ctx.lang)
        else:
            code, params["trigger"] = "separated_step", trigger_title
        problems.append({"path": path, "code": "separation_of_duties",
                         "message": message(MESSAGES, code, ctx.lang, **params)})
    return problems


@guard("materials_complete")
def materials_complete(ctx: Context) -> list[dict[str, str]]:
    """Every missing or wrong item and material, all at once (一次性告知)."""
    return _env(ctx).completeness(ctx.obj, ctx.lang)


def _plays(ctx: Context, duty: str) -> bool:
    return ctx.actor.id in filled_duties(ctx.obj).get(duty, ())


@guard("not_submitter")
def not_submitter(ctx: Context) -> list[dict[str, str]]:
    """The older name for `separate_from: [creator]`, kept for admins' own workflows."""
    return [_problem(ctx, "not_submitter")] if _plays(ctx, "creator") else []


@guard("not_author")
def not_author(ctx: Context) -> list[dict[str, str]]:
    """The older name for `separate_from: [author]`, kept for admins' own workflows."""
    return [_problem(ctx, "not_author")] if _plays(ctx, "author") else []


@guard("is_assignee")
def is_assignee(ctx: Context) -> list[dict[str, str]]:
    return [] if ctx.actor.owns(ctx.obj.get("assignee")) else [_problem(ctx, "is_assignee")]


@guard("retention_passed")
def retention_passed(ctx: Context) -> list[dict[str, str]]:
    until = ctx.obj.get("retention_until")
    if until and until <= _env(ctx).today:
        return []
    return [_problem(ctx, "retention", until=until or "—")]


@guard("not_approver")
def not_approver(ctx: Context) -> list[dict[str, str]]:
    """The older name for `separate_from: [destruction_approver]`, kept for admins' own workflows."""
    return [_problem(ctx, "not_approver")] if _plays(ctx, "destruction_approver") else []


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
    """The older form of `duty: destruction_approver` (read back as that duty), kept for admins' workflows."""
    return {"destruction_approved_by": ctx.actor.id}


@action(FILL_DUTY)
def fill_duty(ctx: Context) -> dict[str, Any]:
    """Record the caller under the transition's `duty`; the whole map is set, so the write stays one `$set`
    of a top-level field (the compare-and-set on the revision keeps concurrent fills from losing one)."""
    duty = ctx.transition.duty if ctx.transition is not None else None
    if not duty:
        return {}
    recorded = ctx.obj.get("duties")
    duties: dict[str, list[str]] = {}
    if isinstance(recorded, Mapping):
        duties = {k: list(v) for k, v in recorded.items() if isinstance(v, list)}
    people = duties.setdefault(duty, [])
    if ctx.actor.id not in people:
        people.append(ctx.actor.id)
    return {"duties": duties}


@action("publish_form")
def publish_form(ctx: Context) -> dict[str, Any]:
    return {"published_at": _env(ctx).stamp}


from counterflow.core import keeping  # noqa: E402,F401  (archive, legal hold, approved reading)


# -- clocks (service/clocks.py) --------------------------------------------------------------------------

DEADLINE_PASSED = {"zh-CN": "本环节的办理期限已于 {due} 届满，不能再执行此操作（按超时规则自动处理）",
                   "en": "This step's time limit passed on {due}; this can no longer be done "
                         "(the step's timeout rule applies instead)"}


@guard("within_deadline")
def within_deadline(ctx: Context) -> list[dict[str, str]]:
    """Refused once the state's own deadline has passed (the 补正 notice after its working days: the
    application then counts as accepted, which `tick` records)."""
    due = (ctx.obj.get("clock") or {}).get("state_due")
    if isinstance(due, str) and _env(ctx).today > due:
        return [{"path": "", "code": "deadline_passed",
                 "message": message({"deadline_passed": DEADLINE_PASSED}, "deadline_passed", ctx.lang,
                                    due=due)}]
    return []


# -- destruction lists (issue 10, items 5-6): what a `destruction` workflow may name ----------------------

# a destruction list's second approver: kept apart from the first (`destruction_approver`), so that one
# person never gives both approvals
DUTY_TITLES["co_approver"] = {"zh-CN": "第二批准人", "en": "second approver"}

DISPOSAL_MESSAGES = {
    "cooling_off": {"zh-CN": "冷静期至 {until} 结束，之前不能执行销毁",
                    "en": "The cooling-off period runs until {until}; the destruction cannot be executed "
                          "before"},
    "no_items": {"zh-CN": "清单中没有待销毁的业务单", "en": "The list holds no record to destroy"},
}


@guard("cooling_off_over")
def cooling_off_over(ctx: Context) -> list[dict[str, str]]:
    """The object's state is not a cooling-off state (`cooling_off: true`), or its period has ended."""
    until = _env(ctx).cooling_off_ends(ctx.obj)
    if until is None or until <= _env(ctx).stamp:
        return []
    return [{"path": "", "code": "cooling_off", "message": message(DISPOSAL_MESSAGES, "cooling_off", ctx.lang,
                                                                   until=until)}]


@guard("disposal_items_listed")
def disposal_items_listed(ctx: Context) -> list[dict[str, str]]:
    """A destruction list holds at least one record still to be destroyed."""
    if _env(ctx).disposal_items(ctx.obj) > 0:
        return []
    said = message(DISPOSAL_MESSAGES, "no_items", ctx.lang)
    return [{"path": "/items", "code": "no_items", "message": said}]


@action("sign_disposal")
def sign_disposal(ctx: Context) -> dict[str, Any]:
    """Who signed the list (approvers, the supervisor) with their name and roles as they are now, the part
    they play and their opinion: the certificate names them as they were. The list is set whole."""
    duty = ctx.transition.duty if ctx.transition is not None else None
    signed = [dict(s) for s in ctx.obj.get("signatures") or () if isinstance(s, Mapping)]
    signed.append({"id": ctx.actor.id, "username": ctx.actor.username, "name": ctx.actor.name,
                   "roles": sorted(ctx.actor.roles), "department": ctx.actor.department,
                   "duty": duty or "", "trigger": ctx.trigger, "at": _env(ctx).stamp,
                   "opinion": str(ctx.payload.get("opinion") or "")[:2000]})
    return {"signatures": signed}


from counterflow.core import complaints  # noqa: E402,F401  (complaints: owner, answer, callback sample)
