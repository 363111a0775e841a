"""A/B posts (issue 8, item 3): a person names a backup for a period (or an administrator does for anyone);
while it runs (today, in the counter's timezone, within its dates, and not ended), the backup acts on the
holder's records within the holder's roles and department by naming the holder (`on_behalf_of`) when firing a
transition, and reads the holder's worklists (`GET /api/v1/worklists/{name}?on_behalf_of=<holder>`: the
holder's tasks, department queue, due lists, as the holder sees them). Separation of duties counts both
people: the step is refused when either already plays a part it keeps apart. The transition goes through the
one fire path (`Transitions.fire`, with the event's `on_behalf_of`); the history says on whose behalf, and the
holder finds it in their inbox and their worklist `on_my_behalf` (service/notify.py `ON_BEHALF`)."""
from __future__ import annotations

from typing import Any, Mapping

from counterflow.core import rules
from counterflow.core.clock import stamp, utcnow
from counterflow.core.engine import Actor, Context
from counterflow.core.errors import Forbidden, Invalid, NotFound
from counterflow.core.i18n import message, text
from counterflow.core.roles import STAFF
from counterflow.service.base import Doc
from counterflow.service.messages import new_id
from counterflow.service.reading import reading_day
from counterflow.service.worklists import WorklistActions
from counterflow.store.backups import BackupStore

MAX_DAYS = 366                  # the longest post one can name
MESSAGES = {
    "not_a_backup": {
        "zh-CN": "您当前不是「{holder}」的 A/B 岗替岗人（没有进行中的替岗安排）；请由其本人或管理员通过 "
                 "POST /api/v1/me/backups 指定您为替岗人，并在替岗期内办理",
        "en": "You are not an active backup of '{holder}' (no A/B post runs today); ask them or an "
              "administrator to name you through POST /api/v1/me/backups, and act within its dates"},
    "unknown_user": {"zh-CN": "没有用户「{name}」或该用户已停用，请核对用户名",
                     "en": "There is no active user '{name}'; check the username"},
    "same_person": {"zh-CN": "替岗人不能是本人，请指定另一位同事",
                    "en": "A person cannot be their own backup; name a colleague"},
    "reversed": {"zh-CN": "替岗结束日期不能早于开始日期", "en": "The post cannot end before it starts"},
    "too_long": {"zh-CN": "替岗期最长 {days} 天，请缩短", "en": "A post lasts at most {days} days; shorten it"},
    "approval_step": {"zh-CN": "审批环节的决定属于其审批人本人，不能替岗办理；请审批人使用环节的“委托”"
                               "（POST /api/v1/records/{{id}}/approval/delegate）",
                      "en": "An approval step's decision is its approver's own and no backup takes it; the "
                            "approver delegates it (POST /api/v1/records/{{id}}/approval/delegate)"},
    "not_found": {"zh-CN": "没有这项替岗安排", "en": "There is no such A/B post"},
    "not_yours": {"zh-CN": "只有本人、替岗人或管理员可以结束这项替岗安排",
                  "en": "Only the holder, the backup or an administrator may end this A/B post"},
    "separated": {"zh-CN": "被替岗人「{holder}」不能办理此步骤（职责分离），替岗人也不能代其办理",
                  "en": "'{holder}' may not take this step (separation of duties), so no backup may take it "
                        "on their behalf"},
}


def _m(code: str, lang: str, **params: Any) -> str:
    return message(MESSAGES, code, lang, **params)


def _invalid(code: str, path: str, lang: str, **params: Any) -> Invalid:
    text_ = _m(code, lang, **params)
    return Invalid(text_, code=code, details=[{"path": path, "code": code, "message": text_}])


def current(post: Mapping[str, Any], today: str) -> bool:
    return not post.get("ended_at") and str(post.get("from", "")) <= today <= str(post.get("until", ""))


def _public(user: Mapping[str, Any]) -> Doc:
    return {"id": user["_id"], "username": user.get("username", ""), "name": user.get("name", "")}


class BackupActions(WorklistActions):
    """Name, list and end A/B posts; fire a record's transition, read the worklists, on a holder's behalf."""

    def _person(self, username: Any, path: str, lang: str) -> Doc:
        user = self.store.user_by_name(username) if isinstance(username, str) else None
        if user is None or not user.get("active", True):
            raise _invalid("unknown_user", path, lang, name=str(username)[:64])
        return user

    def create_backup(self, actor: Actor, holder_name: str | None, payload: Mapping[str, Any],
                      lang: str) -> Doc:
        """A post of `actor` (holder_name None), or of anyone when an administrator names the holder."""
        if holder_name is None:
            self.require(actor, STAFF, lang)
            holder = self._person(actor.username, "", lang)
        else:
            self.require(actor, {"admin"}, lang)
            holder = self._person(holder_name, "/username", lang)
        backup = self._person(payload.get("backup"), "/backup", lang)
        if backup["_id"] == holder["_id"]:
            raise _invalid("same_person", "/backup", lang)
        start, until = payload["from"], payload["until"]
        if until < start:
            raise _invalid("reversed", "/until", lang)
        if (until - start).days + 1 > MAX_DAYS:
            raise _invalid("too_long", "/until", lang, days=MAX_DAYS)
        doc = {"_id": new_id(), "holder": holder["_id"], "backup": backup["_id"], "from": start.isoformat(),
               "until": until.isoformat(), "created_by": actor.id, "created_at": stamp(utcnow()),
               "ended_at": None, "ended_by": None}
        return self._backup_view(BackupStore(self.store).put(doc))

    def my_backups(self, actor: Actor) -> Doc:
        """The posts `actor` holds (named a backup) and those they stand in for others."""
        found = BackupStore(self.store)
        return {"holding": [self._backup_view(p) for p in found.of_holder(actor.id)],
                "backing": [self._backup_view(p) for p in found.of_backup(actor.id)]}

    def end_backup(self, actor: Actor, backup_id: str, lang: str) -> Doc:
        found = BackupStore(self.store)
        post = found.get(backup_id) if isinstance(backup_id, str) and len(backup_id) <= 64 else None
        if post is None:
            raise NotFound(_m("not_found", lang), code="not_found")
        if actor.id not in (post["holder"], post["backup"]) and "admin" not in actor.roles:
            raise Forbidden(_m("not_yours", lang), code="not_yours")
        return self._backup_view(found.end(backup_id, stamp(utcnow()), actor.id) or post)

    def _backup_view(self, post: Doc) -> Doc:
        people = {k: self.store.user(post[k]) or {"_id": post[k]} for k in ("holder", "backup")}
        return dict(post, id=post["_id"], holder=_public(people["holder"]), backup=_public(people["backup"]),
                    active=current(post, reading_day(self)))

    def fire_record(self, actor: Actor, record_id: str, trigger: str, payload: Mapping[str, Any],
                    lang: str) -> Doc:
        """A transition by the caller, or by a backup when the request names the holder (`on_behalf_of`)."""
        if payload.get("on_behalf_of") is not None:
            return self.fire_on_behalf(actor, record_id, trigger, payload, lang)
        return super().fire_record(actor, record_id, trigger, payload, lang)

    def backed_holder(self, actor: Actor, name: Any, lang: str) -> Doc:
        """The active user `name` (a username) whose post `actor` stands in for today, or 403 not_a_backup."""
        self.require(actor, STAFF, lang)
        holder = self.store.user_by_name(name) if isinstance(name, str) else None
        today = reading_day(self)
        if holder is None or not holder.get("active", True) or not any(
                p["backup"] == actor.id and current(p, today)
                for p in BackupStore(self.store).of_holder(holder["_id"])):
            raise Forbidden(_m("not_a_backup", lang, holder=str(name)[:64]), code="not_a_backup")
        return holder

    def worklist(self, actor: Actor, name: str, limit: int, after: str | None, lang: str,
                 on_behalf_of: str | None = None) -> tuple[str, list[Doc]]:
        """A worklist of the caller, or, named `on_behalf_of`, of the holder whose backup the caller is today:
        the holder's own list (their tasks, their department's queue, what was copied to them), as they
        see it."""
        if on_behalf_of is None:
            return super().worklist(actor, name, limit, after, lang)
        holder = self.backed_holder(actor, on_behalf_of, lang)
        who = Actor(holder["_id"], holder.get("username", ""), holder.get("name", ""),
                    frozenset(holder.get("roles") or ()) & STAFF, holder.get("department") or "")
        return super().worklist(who, name, limit, after, lang)

    def fire_on_behalf(self, actor: Actor, record_id: str, trigger: str, payload: Mapping[str, Any],
                       lang: str) -> Doc:
        """Fire `trigger` as the backup of `payload["on_behalf_of"]` (a username): the holder's roles and
        department, the backup's own id for the record's duties; the holder is checked for separation too."""
        holder = self.backed_holder(actor, payload["on_behalf_of"], lang)
        acting = Actor(actor.id, actor.username, actor.name, frozenset(holder.get("roles") or ()) & STAFF,
                       holder.get("department") or "", for_id=holder["_id"])     # the holder's tasks too
        record = self._visible_record(acting, record_id, lang, acting=True)
        workflow = self.workflow(record["process"], record["workflows"].get(record["process"]))
        t = workflow.transition(record["state"], trigger)
        if t is not None:
            who = Actor(holder["_id"], holder.get("username", ""), holder.get("name", ""))
            problems = rules.separation_problems(Context(record, who, payload, lang), holder["_id"],
                                                 t.separate_from, duty=t.duty,
                                                 trigger_title=text(t.title, lang))
            if problems:
                text_ = _m("separated", lang, holder=holder.get("username", ""))
                raise Invalid(text_, code="guard_failed", details=problems)
        spec = workflow.approval(record["state"])
        if spec is not None and spec.decision_of(trigger) is not None:
            raise _invalid("approval_step", "", lang)
        steps = {k: v for k, v in payload.items() if k != "on_behalf_of"}
        # the one fire path, its event saying on whose behalf (an approval step's decisions are its tasks'
        # own: refused above); the holder is told from that field (service/notify.py ON_BEHALF)
        moved = self.fire("record", self.store.records, workflow, record, acting, trigger, steps, lang,
                          on_behalf_of=_public(holder))
        return self.readable(acting, moved)


__all__ = ["BackupActions", "current"]
