"""The service's bilingual messages, and the small checks every action shares."""
from __future__ import annotations

from typing import Any, Mapping

from ulid import ULID

from counterflow.core.errors import Conflict, Invalid
from counterflow.core.i18n import message


MESSAGES = {
    "login_failed": {"zh-CN": "用户名或密码不正确", "en": "The user name or password is wrong"},
    "no_account": {"zh-CN": "此账号由门户系统管理，请在门户中修改密码",
                   "en": "This account is managed by the portal; change the password there"},
    "wrong_password": {"zh-CN": "当前密码不正确", "en": "The current password is wrong"},
    "login_locked": {"zh-CN": "登录失败次数过多，请一分钟后再试", "en": "Too many failed logins; try again in a minute"},
    "token": {"zh-CN": "请先登录", "en": "Please sign in first"},
    "role": {"zh-CN": "您的角色不能执行此操作（需要：{roles}）",
             "en": "Your roles do not allow this (needs one of: {roles})"},
    "record_access": {"zh-CN": "您无权查看此业务单", "en": "You may not see this record"},
    "no_form": {"zh-CN": "没有已发布的业务单模板「{key}」", "en": "There is no published form '{key}'"},
    "draft_refused": {"zh-CN": "有 {count} 项无法保存，请修改后再试",
                      "en": "{count} item(s) cannot be saved; correct them and try again"},
    "stale": {"zh-CN": "内容已被他人修改（当前修订号 {current}，您提交的是 {given}），请刷新后重试",
              "en": "Someone else changed this (now revision {current}, you sent {given}); "
                    "reload and try again"},
    "revision": {"zh-CN": "请提供 revision（您看到的版本号）", "en": "Send the revision you are changing"},
    "read_only": {"zh-CN": "业务单在「{state}」状态下只读", "en": "The record is read-only while '{state}'"},
    "reason": {"zh-CN": "受理后修改属于更正，必须填写更正理由",
               "en": "After acceptance an edit is a correction and needs a reason"},
    "correction_invalid": {"zh-CN": "更正后的内容有 {count} 个问题",
                           "en": "The corrected record has {count} problem(s)"},
    "nothing_to_return": {"zh-CN": "没有需要告知的补正事项：请列出需要补正的项目",
                          "en": "Nothing is missing: list the items the applicant must supply"},
    "assignee": {"zh-CN": "经办人不存在或没有审核角色", "en": "The assignee does not exist or is not a reviewer"},
    "status_not_found": {"zh-CN": "受理编号或查询码不正确", "en": "The acceptance number or query code is wrong"},
    "rate": {"zh-CN": "查询过于频繁，请稍后再试", "en": "Too many look-ups; try again in a minute"},
    "open_version": {"zh-CN": "版本 {version} 尚未完成审批，请先处理该版本",
                     "en": "Version {version} is still in approval; finish it first"},
    "form_exists": {"zh-CN": "模板「{key}」已存在，请新建版本", "en": "Form '{key}' exists; create a new version instead"},
    "form_not_draft": {"zh-CN": "只有草稿可以修改；已发布的版本不可更改，请新建版本",
                       "en": "Only a draft can be edited; a published version never changes, "
                             "so create a new version"},
    "definition": {"zh-CN": "模板定义有 {count} 个问题", "en": "The form definition has {count} problem(s)"},
    "password": {"zh-CN": "密码太弱：至少 10 位，包含字母和数字，不能是常见密码或包含用户名",
                 "en": "The password is too weak: at least 10 characters, letters and digits, "
                       "not a common one, not containing the user name"},
    "invalid_user": {"zh-CN": "用户信息有 {count} 个问题", "en": "The user has {count} problem(s)"},
    "roles": {"zh-CN": "未知角色：{roles}", "en": "Unknown roles: {roles}"},
}


def msg(code: str, lang: str, **params: Any) -> str:
    return message(MESSAGES, code, lang, **params)


def new_id() -> str:
    """A time-ordered ULID as text: every id is a string (DESIGN: the store's landmines)."""
    return str(ULID())


def check_revision(current: Mapping[str, Any], payload: Mapping[str, Any], lang: str) -> None:
    given = payload.get("revision")
    if not isinstance(given, int) or isinstance(given, bool):
        raise Invalid(msg("revision", lang), code="revision_required",
                      details=[{"path": "/revision", "code": "required", "message": msg("revision", lang)}])
    if given != current.get("revision", 0):
        raise Conflict(msg("stale", lang, current=current.get("revision", 0), given=given), code="stale")
