"""One function per user action. Views and CLI only translate to and from these."""
from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import logging
import secrets
import threading
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from ulid import ULID

from counterflow.core import definitions
from counterflow.core.roles import RECORD_WIDE_ROLES, ROLES, STAFF
from counterflow.security.passwords import Passwords, generate_password, password_problems
from counterflow.security.tokens import Tokens
from counterflow.service.identity_cache import UserCache, actor_from_user
from counterflow.core.changes import attachment_ids, diff, keep_masked
from counterflow.core.engine import Actor, Context, Workflow
from counterflow.core.errors import (Conflict, CounterflowError, Forbidden, Invalid, NotFound,
                     RateLimited, Unauthorized)
from counterflow.forms.check import check_form_definition
from counterflow.core.i18n import message, text
from counterflow.security.masking import mask_data
from counterflow.core.numbering import NumberPattern
from counterflow.core.registry import ACTIONS
from counterflow.security.sealing import Sealer, derive_key
from counterflow.settings import Settings
from counterflow.core.clock import stamp, utcnow
from counterflow.store import AttachmentStore, Store
from counterflow.forms.validate import FormValidator
from counterflow.core.calendar import WorkCalendar, YearOverride

log = logging.getLogger(__name__)
Doc = dict[str, Any]

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

MESSAGES = {
    "login_failed": {"zh-CN": "用户名或密码不正确", "en": "The user name or password is wrong"},
    "no_account": {"zh-CN": "此账号由门户系统管理，请在门户中修改密码", "en": "This account is managed by the portal; change the password there"},
    "wrong_password": {"zh-CN": "当前密码不正确", "en": "The current password is wrong"},
    "login_locked": {"zh-CN": "登录失败次数过多，请一分钟后再试", "en": "Too many failed logins; try again in a minute"},
    "token": {"zh-CN": "请先登录", "en": "Please sign in first"},
    "role": {"zh-CN": "您的角色不能执行此操作（需要：{roles}）", "en": "Your roles do not allow this (needs one of: {roles})"},
    "record_access": {"zh-CN": "您无权查看此业务单", "en": "You may not see this record"},
    "no_form": {"zh-CN": "没有已发布的业务单模板「{key}」", "en": "There is no published form '{key}'"},
    "draft_refused": {"zh-CN": "有 {count} 项无法保存，请修改后再试", "en": "{count} item(s) cannot be saved; correct them and try again"},
    "stale": {"zh-CN": "内容已被他人修改（当前修订号 {current}，您提交的是 {given}），请刷新后重试",
              "en": "Someone else changed this (now revision {current}, you sent {given}); reload and try again"},
    "revision": {"zh-CN": "请提供 revision（您看到的版本号）", "en": "Send the revision you are changing"},
    "read_only": {"zh-CN": "业务单在「{state}」状态下只读", "en": "The record is read-only while '{state}'"},
    "reason": {"zh-CN": "受理后修改属于更正，必须填写更正理由", "en": "After acceptance an edit is a correction and needs a reason"},
    "correction_invalid": {"zh-CN": "更正后的内容有 {count} 个问题", "en": "The corrected record has {count} problem(s)"},
    "nothing_to_return": {"zh-CN": "没有需要告知的补正事项：请列出需要补正的项目", "en": "Nothing is missing: list the items the applicant must supply"},
    "assignee": {"zh-CN": "经办人不存在或没有审核角色", "en": "The assignee does not exist or is not a reviewer"},
    "status_not_found": {"zh-CN": "受理编号或查询码不正确", "en": "The acceptance number or query code is wrong"},
    "rate": {"zh-CN": "查询过于频繁，请稍后再试", "en": "Too many look-ups; try again in a minute"},
    "open_version": {"zh-CN": "版本 {version} 尚未完成审批，请先处理该版本", "en": "Version {version} is still in approval; finish it first"},
    "form_exists": {"zh-CN": "模板「{key}」已存在，请新建版本", "en": "Form '{key}' exists; create a new version instead"},
    "form_not_draft": {"zh-CN": "只有草稿可以修改；已发布的版本不可更改，请新建版本",
                       "en": "Only a draft can be edited; a published version never changes, so create a new version"},
    "definition": {"zh-CN": "模板定义有 {count} 个问题", "en": "The form definition has {count} problem(s)"},
    "password": {"zh-CN": "密码太弱：至少 10 位，包含字母和数字，不能是常见密码或包含用户名",
                 "en": "The password is too weak: at least 10 characters, letters and digits, not a common one, not containing the user name"},
    "roles": {"zh-CN": "未知角色：{roles}", "en": "Unknown roles: {roles}"},
}


def _msg(code: str, lang: str, **params: Any) -> str:
    return message(MESSAGES, code, lang, **params)


def new_id() -> str:
    return str(ULID())


class Env:
    """What the pure rules (guards, actions) may ask of the service during one transition."""

    def __init__(self, service: "Service", now: dt.datetime) -> None:
        self.service, self.now = service, now
        self.stamp = stamp(now)
        self.today = now.astimezone(service.tz).date().isoformat()    # the counter's calendar day

    def completeness(self, obj: Mapping[str, Any], lang: str) -> list[dict[str, str]]:
        validator = self.service.validator(obj["form"], obj["form_version"])
        return [p.to_dict() for p in validator.check_complete(obj.get("data") or {}, lang)]

    def form_settings(self, obj: Mapping[str, Any]) -> Mapping[str, Any]:
        return self.service.form_doc(obj["form"], obj["form_version"]).get("settings", {})

    def acceptance(self, ctx: Context) -> dict[str, Any]:
        settings = self.form_settings(ctx.obj)
        pattern = NumberPattern.parse(settings["numbering"])
        local = self.now.astimezone(self.service.tz)
        counter_id = f"{settings['numbering']}|{pattern.period(local)}"
        seq = self.service.store.next_number(counter_id)
        ctx.notes["number"] = (counter_id, seq)
        days = int(settings.get("time_limit", {}).get("working_days", 5))
        return {"acceptance_number": pattern.format(local, seq), "accepted_at": stamp(self.now),
                "due_date": self.service.calendar.add_working_days(local.date(), days).isoformat(),
                "query_code": "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))}

    def notice(self, ctx: Context) -> dict[str, Any]:
        items = self.completeness(ctx.obj, ctx.lang)
        for extra in ctx.payload.get("items") or []:
            if isinstance(extra, str) and extra.strip():
                items.append({"path": "", "code": "clerk_note", "message": extra.strip()[:500]})
        if not items:
            raise Invalid(_msg("nothing_to_return", ctx.lang), code="nothing_to_return",
                          details=[{"path": "/items", "code": "required", "message": _msg("nothing_to_return", ctx.lang)}])
        return {"items": items, "opinion": str(ctx.payload.get("opinion") or "")[:2000],
                "at": stamp(self.now), "by": ctx.actor.public()}

    def assignee(self, ctx: Context) -> str:
        user_id = ctx.payload.get("assignee")
        user = self.service.store.user(user_id) if isinstance(user_id, str) else None
        if not user or "reviewer" not in user.get("roles", []) or not user.get("active", True):
            raise Invalid(_msg("assignee", ctx.lang), details=[{"path": "/assignee", "code": "assignee",
                                                                "message": _msg("assignee", ctx.lang)}])
        return user["_id"]

    def retention_until(self, obj: Mapping[str, Any]) -> str:
        years = int((self.form_settings(obj).get("retention") or {}).get("years", 5))
        today = self.now.astimezone(self.service.tz).date()
        try:
            return today.replace(year=today.year + years).isoformat()
        except ValueError:                       # 29 February
            return today.replace(year=today.year + years, day=28).isoformat()


class Service:
    """The product's actions over one store; safe to share between request threads."""

    def __init__(self, store: Store, settings: Settings, secret: str) -> None:
        self.store = store
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        self.tokens = Tokens(secret, settings.token_ttl_seconds)
        self.passwords = Passwords(settings.password_profile)
        keys = [k.strip() for k in (settings.encryption_key or "").split(",") if k.strip()]
        self.sealer = Sealer(keys or [derive_key(secret)])
        self.users = UserCache(store.user, settings.user_cache_seconds)
        self.calendar = WorkCalendar(_overrides(settings.calendar_overrides))
        self._workflows: dict[tuple[str, int], Workflow] = {}
        self._latest_workflow: dict[str, int] = {}
        self._forms: dict[str, Doc] = {}
        self._validators: dict[str, FormValidator] = {}
        self._lock = threading.Lock()

    # -- start-up ---------------------------------------------------------------------------

    def bootstrap(self, shipped_workflows: Mapping[str, Doc], shipped_forms: Mapping[str, Doc]) -> str | None:
        """Load what an empty store lacks; create `admin`. Returns a generated password, once."""
        now = stamp()
        latest: dict[str, Doc] = {}
        for doc in self.store.workflow_versions():          # sorted by key, version
            latest[doc["key"]] = doc
        for key, definition in shipped_workflows.items():
            current = latest.get(key)
            if current is not None and current["definition"] == definition:
                continue
            # new, or changed by an upgrade of the product: a new version; running records keep theirs
            version = current["version"] + 1 if current else 1
            try:
                self.store.insert_workflow_version({"_id": f"{key}@{version}", "key": key, "version": version,
                                                    "definition": definition, "created_at": now})
            except Conflict:
                pass                                       # another host loaded it first
        self.load_workflows()
        for key, definition in shipped_forms.items():
            if self.store.latest_form_version(key) is None:
                doc = self._form_doc(definition, 1, "published", author="counterflow", now=now)
                doc["published_at"] = now
                try:
                    self.store.insert_form_version(doc)
                except Conflict:
                    pass
        generated = None
        if self.store.user_by_name("admin") is None:
            password = self.settings.admin_password or generate_password()
            generated = None if self.settings.admin_password else password
            try:
                self.store.insert_user({"_id": new_id(), "username": "admin", "password_hash": self.passwords.hash(password),
                                        "name": "Administrator", "roles": ["admin"], "department": "",
                                        "active": True, "token_epoch": 0, "must_change_password": generated is not None,
                                        "created_at": now})
            except Conflict:
                generated = None
        return generated

    def sweep_outboxes(self) -> int:
        """Copy history events a crash left in outboxes since the last sweep; idempotent, any host."""
        since = (self.store.meta_value("outbox_sweep") or {}).get("since")
        started = stamp(utcnow() - dt.timedelta(minutes=10))      # overlaps writes still in flight
        copied = sum(self.store.copy_outboxes(c, since) for c in (self.store.records, self.store.forms))
        self.store.set_meta("outbox_sweep", {"since": started})
        return copied

    def load_workflows(self) -> None:
        """Build one machine per stored workflow version, once."""
        for doc in self.store.workflow_versions():
            self._workflow_from_doc(doc)

    def _workflow_from_doc(self, doc: Doc) -> Workflow:
        key = (doc["key"], int(doc["version"]))
        with self._lock:
            if key not in self._workflows:
                problems = definitions.check_workflow(doc["definition"], f"stored workflow {doc['_id']}")
                if problems:
                    raise definitions.DefinitionError(problems)
                self._workflows[key] = Workflow(doc["definition"], int(doc["version"]))
                self._latest_workflow[doc["key"]] = max(self._latest_workflow.get(doc["key"], 0), key[1])
            return self._workflows[key]

    def workflow(self, key: str, version: int | None = None) -> Workflow:
        version = version or self._latest_workflow.get(key)
        found = self._workflows.get((key, version)) if version else None
        if found is None:
            self.load_workflows()
            found = self._workflows.get((key, version or self._latest_workflow.get(key, 0)))
        if found is None:
            raise NotFound(f"no workflow '{key}'", code="unknown_process")
        return found

    # -- identity ---------------------------------------------------------------------------

    def login(self, username: Any, password: Any, lang: str) -> tuple[str, dt.datetime, Doc]:
        if not isinstance(username, str) or not isinstance(password, str) or not username or len(username) > 64:
            raise Unauthorized(_msg("login_failed", lang), code="login_failed")
        if self.store.hit(f"login:{username}", 60) > self.settings.login_rate_limit * 3:
            raise RateLimited(_msg("login_locked", lang))
        if self.store.hits(f"login-failed:{username}", 60) >= self.settings.login_rate_limit:
            raise RateLimited(_msg("login_locked", lang))        # locked: even the right password waits
        user = self.store.user_by_name(username)
        ok = self.passwords.verify(user.get("password_hash") if user else None, password[:1024])
        if not ok or not user or not user.get("active", True):
            if self.store.hit(f"login-failed:{username}", 60) > self.settings.login_rate_limit:
                raise RateLimited(_msg("login_locked", lang))
            raise Unauthorized(_msg("login_failed", lang), code="login_failed")
        token, expires = self.tokens.issue(user)
        return token, expires, user

    def actor_for_token(self, token: str, lang: str) -> Actor:
        found = self.tokens.read(token)
        user = self.users.get(found[0]) if found else None
        if not found or not user or not user.get("active", True) or user.get("token_epoch", 0) != found[1]:
            raise Unauthorized(_msg("token", lang), code="unauthorized")
        return actor_from_user(user)

    def actor_for_user_id(self, user_id: str, epoch: int | None = None) -> Actor | None:
        """The session's user, unless deactivated or their password changed since the session began."""
        user = self.users.get(user_id)
        if not user or not user.get("active", True) or (epoch is not None and user.get("token_epoch", 0) != epoch):
            return None
        return actor_from_user(user)

    def user_state(self, actor: Actor) -> Doc:
        """The built-in account behind an actor (empty for a portal's users)."""
        user = self.users.get(actor.id)
        return {"must_change_password": bool(user and user.get("must_change_password")),
                "token_epoch": (user or {}).get("token_epoch", 0)}

    def change_password(self, actor: Actor, current: str, new: str, lang: str) -> None:
        """The user's own password: the current one, then a strong new one; old tokens and sessions end."""
        user = self.store.user(actor.id)
        if user is None:
            raise NotFound(_msg("no_account", lang), code="no_account")
        if self.store.hits(f"login-failed:{user['username']}", 60) >= self.settings.login_rate_limit:
            raise RateLimited(_msg("login_locked", lang))
        problems = []
        if not self.passwords.verify(user.get("password_hash"), current[:1024]):
            self.store.hit(f"login-failed:{user['username']}", 60)
            problems.append({"path": "/current_password", "code": "wrong_password", "message": _msg("wrong_password", lang)})
        if password_problems(new, user["username"]) or new == current:
            problems.append({"path": "/new_password", "code": "weak_password", "message": _msg("password", lang)})
        if problems:
            raise Invalid(problems[0]["message"], code="password_not_changed", details=problems)
        self.store.change_password(user["_id"], self.passwords.hash(new))
        self.users.forget(user["_id"])

    @staticmethod
    def require(actor: Actor, roles: frozenset[str] | set[str], lang: str) -> None:
        if not (actor.roles & roles):
            raise Forbidden(_msg("role", lang, roles=", ".join(sorted(roles))), code="role")

    # -- users -----------------------------------------------------------------------------

    def create_user(self, actor: Actor, payload: Mapping[str, Any], lang: str) -> Doc:
        self.require(actor, {"admin"}, lang)
        problems = []
        unknown = sorted(set(payload["roles"]) - set(ROLES))
        if unknown:
            problems.append({"path": "/roles", "code": "enum", "message": _msg("roles", lang, roles=", ".join(unknown))})
        if password_problems(payload["password"], payload["username"]):
            problems.append({"path": "/password", "code": "weak_password", "message": _msg("password", lang)})
        if problems:
            raise Invalid(problems[0]["message"] if len(problems) == 1 else
                          _msg("definition", lang, count=len(problems)).replace("模板定义", "用户信息").replace(
                              "The form definition", "The user"), code="invalid_user", details=problems)
        doc = {"_id": new_id(), "username": payload["username"], "password_hash": self.passwords.hash(payload["password"]),
               "name": payload.get("name", ""), "roles": sorted(set(payload["roles"])),
               "department": payload.get("department", ""), "active": True, "token_epoch": 0,
               "must_change_password": True, "created_at": stamp()}        # an initial password (DOMAIN: security)
        self.store.insert_user(doc)
        return public_user(doc)

    def reviewers(self, actor: Actor, lang: str) -> list[Doc]:
        """Who a department head may assign a review to."""
        self.require(actor, {"dept_head"}, lang)
        return [public_user(u) for u in self.store.list_users() if "reviewer" in u.get("roles", [])
                and u.get("active", True)]

    def list_users(self, actor: Actor, lang: str) -> list[Doc]:
        self.require(actor, {"admin"}, lang)
        return [public_user(u) for u in self.store.list_users()]

    # -- form definitions ------------------------------------------------------------------------

    def _form_doc(self, definition: Mapping[str, Any], version: int, state: str, *, author: str,
                  now: str) -> Doc:
        return {"_id": f"{definition['key']}@{version}", "key": definition["key"], "version": version,
                "state": state, "revision": 0, "title": definition["title"],
                "description": definition.get("description") or {}, "schema": definition["schema"],
                "ui_schema": definition.get("ui_schema") or {}, "settings": definition["settings"],
                "author": author, "created_at": now, "updated_at": now}

    def check_definition(self, definition: Any, lang: str) -> None:
        source = f"form '{definition.get('key', '?')}'" if isinstance(definition, dict) else "form"
        problems = check_form_definition(definition, source)
        settings = definition.get("settings") if isinstance(definition, dict) else None
        processes = settings.get("processes") if isinstance(settings, dict) else None
        if isinstance(processes, list) and all(isinstance(p, str) for p in processes):   # else the schema said so
            problems += [p for p in definitions.check_processes(definition, {k for k, _ in self._workflows}, source)
                         if p not in problems]
        if problems:
            raise Invalid(_msg("definition", lang, count=len(problems)), code="invalid_definition",
                          details=[{"path": _place(p), "code": "definition", "message": p} for p in problems])

    def create_form(self, actor: Actor, payload: Mapping[str, Any], lang: str) -> Doc:
        self.require(actor, {"admin"}, lang)
        definition = _definition_from(payload)
        self.check_definition(definition, lang)
        if self.store.latest_form_version(definition["key"]) is not None:
            raise Conflict(_msg("form_exists", lang, key=definition["key"]), code="form_exists")
        doc = self._form_doc(definition, 1, "draft", author=actor.id, now=stamp())
        self.store.insert_form_version(doc)
        return doc

    def form_doc(self, key: str, version: int) -> Doc:
        """A form version; published ones never change, so they are cached for good."""
        form_id = f"{key}@{version}"
        doc = self._forms.get(form_id)
        if doc is None:
            doc = self.store.form_version(key, version)
            if doc["state"] in ("published", "retired"):
                self._forms[form_id] = doc
        return doc

    def validator(self, key: str, version: int) -> FormValidator:
        form_id = f"{key}@{version}"
        found = self._validators.get(form_id)
        if found is None:
            form = self.form_doc(key, version)
            found = FormValidator(form["schema"], form.get("ui_schema"))
            with self._lock:
                self._validators.setdefault(form_id, found)
        return found

    def published_forms(self, actor: Actor, lang: str) -> list[Doc]:
        self.require(actor, STAFF | {"admin"}, lang)
        latest: dict[str, Doc] = {}
        for doc in self.store.form_versions_in(["published"]):
            latest[doc["key"]] = doc
        return list(latest.values())

    def all_form_versions(self, actor: Actor, lang: str) -> list[Doc]:
        self.require(actor, {"admin", "dept_head", "manager"}, lang)
        return self.store.form_versions_in(["draft", "pending_review", "pending_approval", "published", "retired"])

    def published_form(self, actor: Actor, key: str, lang: str) -> Doc:
        self.require(actor, STAFF | {"admin"}, lang)
        doc = self.store.latest_form_version(key, "published")
        if doc is None:
            raise NotFound(_msg("no_form", lang, key=key), code="form_not_found")
        return doc

    def form_version(self, actor: Actor, key: str, version: int, lang: str) -> Doc:
        self.require(actor, {"admin", "dept_head", "manager"}, lang)
        return self.store.form_version(key, version)

    def edit_form_version(self, actor: Actor, key: str, version: int, payload: Mapping[str, Any], lang: str) -> Doc:
        self.require(actor, {"admin"}, lang)
        current = self.store.form_version(key, version)
        if current["state"] != "draft":
            raise Conflict(_msg("form_not_draft", lang), code="not_draft")
        _check_revision(current, payload, lang)
        definition = _definition_from({**{k: current[k] for k in ("title", "description", "schema", "ui_schema", "settings")},
                                       **{k: v for k, v in payload.items() if k != "revision"}, "key": key})
        self.check_definition(definition, lang)
        changes = {k: definition.get(k) or {} for k in ("title", "description", "schema", "ui_schema", "settings")}
        event = self._event("form_version", actor, "edit", "form_approval", "draft", "draft", payload.get("reason"))
        return self.store.commit(self.store.forms, current, changes, event)

    def new_form_version(self, actor: Actor, key: str, payload: Mapping[str, Any], lang: str) -> Doc:
        self.require(actor, {"admin"}, lang)
        latest = self.store.latest_form_version(key)
        if latest is None:
            raise NotFound(_msg("no_form", lang, key=key), code="form_not_found")
        if latest["state"] in ("draft", "pending_review", "pending_approval"):
            raise Conflict(_msg("open_version", lang, version=latest["version"]), code="open_version")
        definition = _definition_from({**{k: latest[k] for k in ("title", "description", "schema", "ui_schema", "settings")},
                                       **{k: v for k, v in payload.items() if k != "revision"}, "key": key})
        self.check_definition(definition, lang)
        doc = self._form_doc(definition, latest["version"] + 1, "draft", author=actor.id, now=stamp())
        self.store.insert_form_version(doc)
        return doc

    def form_options(self, actor: Actor, key: str, version: int, lang: str) -> list[Doc]:
        doc = self.form_version(actor, key, version, lang)
        return self.workflow("form_approval").options(doc["state"], Context(doc, actor, {}, lang, Env(self, utcnow())))

    def fire_form(self, actor: Actor, key: str, version: int, trigger: str, payload: Mapping[str, Any], lang: str) -> Doc:
        current = self.store.form_version(key, version)
        _check_revision(current, payload, lang)
        workflow = self.workflow("form_approval")
        now = utcnow()
        ctx = Context(current, actor, payload, lang, Env(self, now))
        plan = workflow.plan(current["state"], trigger, ctx)
        changes: Doc = {"state": plan.dest}
        for name in plan.actions:
            changes.update(ACTIONS[name](ctx))
        event = self._event("form_version", actor, trigger, "form_approval", plan.source, plan.dest,
                            payload.get("opinion"), now=now)
        updated = self.store.commit(self.store.forms, current, changes, event)
        self._forms.pop(current["_id"], None)
        return updated

    # -- records ----------------------------------------------------------------------------------

    def _event(self, kind: str, actor: Actor, trigger: str, process: str, source: str, dest: str,
               opinion: Any = None, *, now: dt.datetime | None = None, **extra: Any) -> Doc:
        return {"kind": kind, "at": stamp(now), "actor": actor.public(), "trigger": trigger, "process": process,
                "source": source, "dest": dest, "opinion": str(opinion)[:2000] if opinion else None,
                "outcome": "done", **extra}

    def can_see(self, actor: Actor, record: Mapping[str, Any]) -> bool:
        """Record-level access: your department's records, ones assigned to you, or a records-wide role."""
        if not actor.roles & STAFF:
            return False
        if actor.roles & RECORD_WIDE_ROLES:
            return True
        return (record.get("department") == actor.department or record.get("assignee") == actor.id
                or record.get("created_by") == actor.id)

    def _visible_record(self, actor: Actor, record_id: str, lang: str) -> Doc:
        self.require(actor, STAFF, lang)
        if not isinstance(record_id, str) or len(record_id) > 64:
            raise NotFound("no such record", code="record_not_found")
        record = self.store.record(record_id)
        if not self.can_see(actor, record):
            raise Forbidden(_msg("record_access", lang), code="record_access")
        return self.opened(record)

    def opened(self, record: Doc) -> Doc:
        """The record with its protected fields decrypted (they are sealed in the store)."""
        sensitive = self.validator(record["form"], record["form_version"]).sensitive
        return dict(record, data=self.sealer.unseal(record.get("data") or {}, sensitive)) if sensitive else record

    def _sealed(self, record: Mapping[str, Any], data: Any) -> Any:
        return self.sealer.seal(data, self.validator(record["form"], record["form_version"]).sensitive)

    def create_record(self, actor: Actor, payload: Mapping[str, Any], lang: str) -> tuple[Doc, list[Doc]]:
        self.require(actor, {"clerk"}, lang)
        form = self.store.latest_form_version(payload["form"], "published")
        if form is None:
            raise NotFound(_msg("no_form", lang, key=payload["form"]), code="form_not_found")
        form = self.form_doc(form["key"], form["version"])
        data = payload.get("data") or {}
        refused, warnings = self.validator(form["key"], form["version"]).check_draft(data, lang)
        refused = [p.to_dict() for p in refused] + self.unknown_attachments(data, lang)
        if refused:
            raise Invalid(_msg("draft_refused", lang, count=len(refused)), code="invalid_data", details=refused)
        processes = list(form["settings"]["processes"])
        now = utcnow()
        doc = {"_id": new_id(), "form": form["key"], "form_version": form["version"],
               "workflows": {p: self.workflow(p).version for p in processes}, "processes": processes,
               "process": processes[0], "state": self.workflow(processes[0]).initial, "revision": 0, "data": data,
               "created_by": actor.id, "first_responder": actor.id, "department": actor.department,
               "assignee": None, "state_since": stamp(now), "created_at": stamp(now), "updated_at": stamp(now)}
        event = self._event("record", actor, "create", processes[0], "", doc["state"], now=now)
        doc = self.store.insert_record(dict(doc, data=self._sealed(doc, data)), event)
        return dict(doc, data=data), [w.to_dict() for w in warnings]

    def record(self, actor: Actor, record_id: str, lang: str) -> Doc:
        return self._visible_record(actor, record_id, lang)

    def list_records(self, actor: Actor, filters: Mapping[str, Any], limit: int, after: str | None, lang: str) -> list[Doc]:
        self.require(actor, STAFF, lang)
        query: Doc = {}
        for field_name, column in (("form", "form"), ("process", "process"), ("state", "state"),
                                   ("assignee", "assignee"), ("number", "acceptance_number")):
            if filters.get(field_name):
                query[column] = filters[field_name]
        if filters.get("overdue"):
            query["due_date"] = {"$lt": dt.datetime.now(self.tz).date().isoformat()}
            query["process"] = query.get("process") or {"$in": ["intake", "review"]}
        if not actor.roles & RECORD_WIDE_ROLES:     # the same rule as can_see, as one indexed query each
            query["$or"] = [{"department": actor.department}, {"assignee": actor.id}, {"created_by": actor.id}]
        return [self.opened(r) for r in self.store.list_records(query, limit, after)]

    def edit_record(self, actor: Actor, record_id: str, payload: Mapping[str, Any], lang: str) -> tuple[Doc, list[Doc]]:
        record = self._visible_record(actor, record_id, lang)
        self.require(actor, {"clerk", "reviewer"}, lang)
        _check_revision(record, payload, lang)
        workflow = self.workflow(record["process"], record["workflows"].get(record["process"]))
        in_intake = record["process"] == "intake" and record["state"] in ("draft", "submitted", "returned")
        if workflow.is_read_only(record["state"]) or record["process"] in ("archive", "destroy") or (
                workflow.is_final(record["state"]) and not in_intake and record["process"] != "intake"):
            raise Conflict(_msg("read_only", lang, state=workflow.state_title(record["state"], lang)), code="read_only")
        validator = self.validator(record["form"], record["form_version"])
        data = keep_masked(record.get("data") or {}, payload["data"], validator.sensitive)
        refused, warnings = validator.check_draft(data, lang)
        refused = [p.to_dict() for p in refused] + self.unknown_attachments(data, lang, known=record.get("data"))
        if refused:
            raise Invalid(_msg("draft_refused", lang, count=len(refused)), code="invalid_data", details=refused)
        reason = payload.get("reason")
        if not in_intake:
            if not (isinstance(reason, str) and reason.strip()):
                raise Invalid(_msg("reason", lang), code="reason_required",
                              details=[{"path": "/reason", "code": "required", "message": _msg("reason", lang)}])
            problems = validator.check_complete(data, lang)
            if problems:
                raise Invalid(_msg("correction_invalid", lang, count=len(problems)),
                              details=[p.to_dict() for p in problems])
        changes = diff(record.get("data") or {}, data, validator.sensitive)
        if not changes:
            return record, [w.to_dict() for w in warnings]       # nothing changed: no new revision
        event = self._event("record", actor, "edit" if in_intake else "correct", record["process"],
                            record["state"], record["state"], reason, changes=changes)
        updated = self.store.commit(self.store.records, record, {"data": self._sealed(record, data)}, event)
        return dict(updated, data=data), [w.to_dict() for w in warnings]

    def record_options(self, actor: Actor, record_id: str, lang: str) -> list[Doc]:
        return self.options_for(actor, self._visible_record(actor, record_id, lang), lang)

    def options_for(self, actor: Actor, record: Doc, lang: str) -> list[Doc]:
        """The triggers from a record the caller was already allowed to see (`record()`)."""
        workflow = self.workflow(record["process"], record["workflows"].get(record["process"]))
        return workflow.options(record["state"], Context(record, actor, {}, lang, Env(self, utcnow())))

    def fire_record(self, actor: Actor, record_id: str, trigger: str, payload: Mapping[str, Any], lang: str) -> Doc:
        record = self._visible_record(actor, record_id, lang)
        _check_revision(record, payload, lang)
        workflow = self.workflow(record["process"], record["workflows"].get(record["process"]))
        now = utcnow()
        ctx = Context(record, actor, payload, lang, Env(self, now))
        try:
            plan = workflow.plan(record["state"], trigger, ctx)
            changes: Doc = {"state": plan.dest, "state_since": stamp(now)}
            for name in plan.actions:
                changes.update(ACTIONS[name](ctx))
        except Invalid as exc:
            self._keep_refusal(record, actor, trigger, exc, now)
            raise
        to_process = None
        if plan.final and not plan.ends_record:
            following = record["processes"][record["processes"].index(record["process"]) + 1:]
            if following:
                to_process = following[0]
                changes.update(process=to_process, state=self.workflow(to_process, record["workflows"].get(to_process)).initial)
        details: Doc = {}
        if "notice" in changes:
            details["notice"] = changes["notice"]
        if "acceptance_number" in changes:
            details["acceptance_number"] = changes["acceptance_number"]
        event = self._event("record", actor, trigger, plan.process, plan.source, plan.dest, payload.get("opinion"),
                            now=now, to_process=to_process, details=details)
        try:
            return self.store.commit(self.store.records, record, changes, event)
        except CounterflowError:
            if "number" in ctx.notes:
                self.store.return_number(*ctx.notes["number"])
            raise

    def _keep_refusal(self, record: Doc, actor: Actor, trigger: str, exc: Invalid, now: dt.datetime) -> None:
        """A failed check stays in the history: who tried what, and every reason it was refused."""
        event = self._event("record", actor, trigger, record["process"], record["state"], record["state"], now=now,
                            outcome="refused", details={"problems": exc.details})
        event.update(_id=f"{record['_id']}:{record.get('revision', 0)}:refused:{new_id()}", object_id=record["_id"],
                     revision=record.get("revision", 0))
        self.store.add_event(event)

    def history(self, actor: Actor, record_id: str, lang: str) -> list[Doc]:
        return self.events_of(self._visible_record(actor, record_id, lang))

    def events_of(self, record: Doc) -> list[Doc]:
        """The history of a record the caller was already allowed to see (`record()`)."""
        return self.store.history(record["_id"], record.get("outbox"))

    def form_history(self, actor: Actor, key: str, version: int, lang: str) -> list[Doc]:
        doc = self.form_version(actor, key, version, lang)
        return self.store.history(doc["_id"], doc.get("outbox"))

    def receipt(self, actor: Actor, record_id: str, lang: str) -> Doc:
        record = self._visible_record(actor, record_id, lang)
        if not record.get("acceptance_number"):
            raise Conflict({"zh-CN": "业务单尚未受理，没有回执", "en": "The record is not accepted yet, so it has no receipt"}[lang],
                           code="not_accepted")
        return record

    # -- attachments ------------------------------------------------------------------------------

    def upload(self, actor: Actor, name: str, content_type: str, content: bytes, lang: str) -> Doc:
        """Keep an uploaded file; the form field then holds its `att_<ULID>` id."""
        self.require(actor, {"clerk", "reviewer"}, lang)
        if not content:
            raise Invalid({"zh-CN": "上传的文件是空的", "en": "The uploaded file is empty"}[lang], code="empty_file",
                          details=[{"path": "/file", "code": "required", "message": "empty"}])
        safe_name = _safe_filename(name)
        meta = {"_id": "att_" + new_id(), "name": safe_name, "content_type": _safe_type(content_type),
                "size": len(content), "sha256": hashlib.sha256(content).hexdigest(), "uploaded_by": actor.id,
                "department": actor.department, "created_at": stamp()}
        return AttachmentStore(self.store).put(meta, content)

    def attachment(self, actor: Actor, attachment_id: str, lang: str) -> tuple[Doc, bytes]:
        self.require(actor, STAFF, lang)
        files = AttachmentStore(self.store)
        meta = files.meta(attachment_id) if isinstance(attachment_id, str) and len(attachment_id) < 64 else None
        if meta is None:
            raise NotFound({"zh-CN": "附件不存在", "en": "No such attachment"}[lang], code="attachment_not_found")
        # the same rule as records: the uploader's department, the uploader, or a records-wide role
        if not (actor.roles & RECORD_WIDE_ROLES or meta.get("uploaded_by") == actor.id
                or meta.get("department") == actor.department):
            raise Forbidden(_msg("record_access", lang), code="record_access")
        return meta, files.content(attachment_id)

    def unknown_attachments(self, data: Any, lang: str, known: Any = None) -> list[dict[str, str]]:
        """Attachment ids in the data that name no uploaded file: refused when the data is saved.

        Ids the record already held (`known`) were checked when they were saved."""
        already = {v for _, v in attachment_ids(known)} if known else set()
        found = [(p, v) for p, v in attachment_ids(data) if v not in already]
        existing = AttachmentStore(self.store).existing([v for _, v in found]) if found else set()
        return [{"path": p, "code": "attachment_missing",
                 "message": {"zh-CN": "附件未找到，请重新上传", "en": "The attachment was not found; upload it again"}[lang]}
                for p, v in found if v not in existing]

    # -- the applicant's status look-up --------------------------------------------------------------

    def status(self, number: Any, code: Any, client: str, lang: str) -> Doc:
        if self.store.hit(f"status:{client}", 60) > self.settings.status_rate_limit:
            raise RateLimited(_msg("rate", lang))
        not_found = NotFound(_msg("status_not_found", lang), code="status_not_found")
        if not isinstance(number, str) or not isinstance(code, str) or not 0 < len(number) <= 64 or not 0 < len(code) <= 32:
            raise not_found
        record = self.store.record_by_number(number)
        expected = (record or {}).get("query_code") or "-" * 8
        if not hmac.compare_digest(expected.encode(), code.strip().upper().encode()) or record is None:
            raise not_found
        return record

    def public_progress(self, record: Doc, lang: str) -> Doc:
        """What the applicant may see: the stage and the dates, no personal data, no opinions."""
        form = self.form_doc(record["form"], record["form_version"])
        workflow = self.workflow(record["process"], record["workflows"].get(record["process"]))
        steps = []
        for event in self.store.history(record["_id"], record.get("outbox")):
            if event.get("outcome") != "done" or event.get("trigger") in ("edit", "correct"):
                continue
            wf = self.workflow(event["process"], record["workflows"].get(event["process"]))
            steps.append({"at": event["at"], "process": text(wf.title, lang),
                          "state": wf.state_title(event["dest"], lang)})
        return {"acceptance_number": record["acceptance_number"], "form": text(form["title"], lang),
                "accepted_at": record.get("accepted_at"), "due_date": record.get("due_date"),
                "process": record["process"], "process_title": text(workflow.title, lang),
                "state": record["state"], "state_title": workflow.state_title(record["state"], lang),
                "finished": workflow.is_final(record["state"]), "steps": steps}

    def masked(self, record: Doc) -> Doc:
        validator = self.validator(record["form"], record["form_version"])
        return mask_data(record.get("data") or {}, validator.sensitive)


# -- helpers --------------------------------------------------------------------------------------

def public_user(doc: Mapping[str, Any]) -> Doc:
    return {"id": doc["_id"], "username": doc["username"], "name": doc.get("name", ""),
            "roles": list(doc.get("roles", [])), "department": doc.get("department", ""),
            "active": doc.get("active", True)}


def _definition_from(payload: Mapping[str, Any]) -> Doc:
    return {k: copy.deepcopy(payload[k]) for k in ("key", "title", "description", "schema", "ui_schema", "settings")
            if k in payload and payload[k] is not None and not (k == "description" and payload[k] == {})}


def _place(problem: str) -> str:
    parts = problem.split(": ")
    return parts[1] if len(parts) > 2 and parts[1].startswith("/") else ""


def _check_revision(current: Mapping[str, Any], payload: Mapping[str, Any], lang: str) -> None:
    given = payload.get("revision")
    if not isinstance(given, int) or isinstance(given, bool):
        raise Invalid(_msg("revision", lang), code="revision_required",
                      details=[{"path": "/revision", "code": "required", "message": _msg("revision", lang)}])
    if given != current.get("revision", 0):
        raise Conflict(_msg("stale", lang, current=current.get("revision", 0), given=given), code="stale")


def _overrides(raw: Mapping[Any, Any]) -> dict[int, YearOverride]:
    out = {}
    for year, value in (raw or {}).items():
        out[int(year)] = YearOverride(frozenset(dt.date.fromisoformat(d) for d in value.get("days_off", [])),
                                      frozenset(dt.date.fromisoformat(d) for d in value.get("workdays", [])))
    return out


def _safe_filename(name: str) -> str:
    """Keep only the last path part, without control characters; a file name is never a path."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable() and c not in '<>:"|?*').strip(" .")
    return base[:200] or "file"


def _safe_type(content_type: str) -> str:
    value = (content_type or "").split(";")[0].strip().lower()
    return value if len(value) < 100 and "/" in value else "application/octet-stream"

