"""Notifications: derived from history events that carry `notify`, sent from an outbox through channels.

An event may carry `notify: {"kind", "to": [user ids], "applicant": bool, "failed": bool}` (a transition's
`notifies` flag puts it there, see `notify_fields`; approval steps and `tick` write their own). Deriving
turns each such event into one notification per (recipient, channel), under the id
`<event id>|<recipient>|<channel>`, so deriving twice is harmless. Dispatching claims each due
notification by compare-and-set (a lease), sends it through its channel, and marks it sent; a failed send
is tried again with exponential back-off, and one that keeps failing is kept as `failed`, never dropped.
A sender that dies between sending and marking leaves the lease to run out, so a notification is sent at
most once per lease: the webhook carries the notification id (`X-Counterflow-Delivery`) and mail a
Message-ID made from it, so a receiver can drop the rare repeat.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Callable, Mapping, Protocol

from counterflow.core import approval
from counterflow.core.clock import stamp, utcnow
from counterflow.core.engine import Actor, Plan, Workflow
from counterflow.core.errors import Invalid, NotFound
from counterflow.core.i18n import LANGS, message, text
from counterflow.core.roles import STAFF
from counterflow.security.envelope import is_sealed
from counterflow.service.base import Doc, ServiceBase
from counterflow.service.messages import new_id
from counterflow.service.records import RecordActions
from counterflow.service.users import EMAIL
from counterflow.store.notify import NotifyStore, key_of_stamp, time_key

log = logging.getLogger(__name__)

KINDS = ("accepted", "returned", "declined", "decided", "urged", "due_soon", "overdue", "copied",
         "delegated", "escalated")
# told to the holder of an A/B post when their backup acts for them (the event's `on_behalf_of`), whatever
# else the event notifies: the holder's own entry, kind ON_BEHALF (the worklist "on_my_behalf")
ON_BEHALF = "on_behalf"
OUTCOMES = ("accepted", "returned", "declined", "decided")     # told to the applicant
FAILURES = ("returned", "declined")                             # the applicant must do something
# where (AAD) a notification's text (subject and body, both languages) and an applicant's address are sealed
# under the record's key: destroying the key leaves every stored copy (outbox, inbox) unreadable
TEXT_PLACE = "notification"
ADDRESS_PLACE = "notification_address"
LAG_SECONDS = 600          # each sweep looks this far behind its cursor: events copied late are not missed
MAX_RECIPIENTS = 200
_EMAIL = EMAIL                                      # one rule for staff and applicants (service/users.py)

MESSAGES = {
    "accepted": {"zh-CN": "已受理", "en": "Accepted"},
    "returned": {"zh-CN": "需要补正", "en": "Returned for correction"},
    "declined": {"zh-CN": "不予受理", "en": "Not accepted"},
    "decided": {"zh-CN": "已办结", "en": "Decided"},
    "decided_failed": {"zh-CN": "未获批准", "en": "Not approved"},
    "urged": {"zh-CN": "催办", "en": "Reminder to act"},
    "due_soon": {"zh-CN": "即将到期", "en": "Due soon"},
    "overdue": {"zh-CN": "已逾期", "en": "Overdue"},
    "escalated": {"zh-CN": "逾期督办", "en": "Escalated: overdue"},
    "copied": {"zh-CN": "抄送", "en": "Copied to you"},
    "delegated": {"zh-CN": "委派", "en": "Delegated to you"},
    "delegated_by": {"zh-CN": "已委派", "en": "Delegated by you"},
    "on_behalf": {"zh-CN": "替岗人代您办理", "en": "Done on your behalf"},
    "by_backup": {"zh-CN": "{name} 作为您的替岗人办理了「{trigger}」", "en": "{name}, your backup, did '{trigger}'"},
    "subject": {"zh-CN": "【{form}】{number}：{what}", "en": "[{form}] {number}: {what}"},
    "now_in": {"zh-CN": "当前环节：{process} · {state}", "en": "Now: {process} · {state}"},
    "reason": {"zh-CN": "原因：{reason}", "en": "Reason: {reason}"},
    "next_returned": {"zh-CN": "请按下列事项补充或更正材料，并凭受理编号或补正告知书到窗口办理。",
                      "en": "Supply or correct every item listed, then bring them to the counter with "
                            "the notice or your number."},
    "next_declined": {"zh-CN": "申请未被受理。请查看原因；如需办理，请按告知的途径向有权机关申请或咨询窗口。",
                      "en": "The application was not accepted. See the reason; to go on, apply where the "
                            "decision tells you to, or ask at the counter."},
    "next_failed": {"zh-CN": "申请未获批准。请查看原因；如有异议，可向窗口咨询复核或重新申请的途径。",
                    "en": "The application was not approved. See the reason; if you disagree, ask the "
                          "counter how to have it reviewed or how to apply again."},
    "next_done": {"zh-CN": "业务已办结，欢迎对本次服务进行评价。", "en": "Done. Please rate the service."},
    "next_accepted": {"zh-CN": "已受理，请凭受理编号和查询码查询办理进度。",
                      "en": "Accepted: follow the progress with your number and query code."},
    "status_at": {"zh-CN": "查询进度：{url}", "en": "Follow it here: {url}"},
    "unknown_entry": {"zh-CN": "没有这条消息", "en": "There is no such message"},
    "channel_refused": {"zh-CN": "接收方拒绝：{status}", "en": "refused by the receiver: {status}"},
    "text_gone": {"zh-CN": "此消息的内容已随业务单销毁", "en": "This message's content was destroyed with its record"},
    "text_unsendable": {"zh-CN": "消息内容无法解开（业务单密钥已销毁）", "en": "the message's content does not open (its "
                        "record's key was destroyed)"},
}


def say(code: str, lang: str, **params: Any) -> str:
    return message(MESSAGES, code, lang, **params)


def both(code: str, **params: Any) -> dict[str, str]:
    return {lang: say(code, lang, **params) for lang in LANGS}


# -- the transition flag, read by Transitions.fire --------------------------------------------------------

def transition_notifies(workflow: Workflow, source: str, trigger: str) -> Mapping[str, Any] | None:
    """The `notifies` flag of the transition that fires `trigger` from `source`, as `{kind, failed}`."""
    for t in workflow.definition.get("transitions", ()):
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        if t["trigger"] == trigger and source in sources:
            flag = t.get("notifies")
            if isinstance(flag, str):
                return {"kind": flag}
            return flag if isinstance(flag, Mapping) else None
    return None


def notify_fields(workflow: Workflow, plan: Plan, obj: Mapping[str, Any], changes: Mapping[str, Any],
                  actor: Actor, superiors: Callable[[], list[str]] | None = None) -> Doc:
    """`{"notify": {...}}` for the event of a transition whose definition `notifies`, else `{}`.

    Told: the record's creator, its first responder and its assignee (not the one who fired it), and the
    applicant for outcomes. `decided` is told only when the transition ends its process (an approval that
    branches to a further level decides nothing yet). A flag with `superior: true` tells the superior too
    (`superiors()`, see `superiors_of`: the handling unit's department head, else the level above), named in
    the event's `notify.superior`.
    """
    flag = transition_notifies(workflow, plan.source, plan.trigger)
    if not flag or flag.get("kind") not in KINDS:
        return {}
    kind = flag["kind"]
    if kind == "decided" and not plan.final:
        return {}
    people = [obj.get("created_by"), obj.get("first_responder"), changes.get("assignee", obj.get("assignee"))]
    to = [p for p in dict.fromkeys(people) if isinstance(p, str) and p and p != actor.id]
    notify: Doc = {"kind": kind, "to": to, "applicant": kind in OUTCOMES}
    if flag.get("failed"):
        notify["failed"] = True
    if flag.get("superior") and superiors is not None:
        above = [p for p in superiors() if p != actor.id]
        notify.update(to=list(dict.fromkeys(to + above)), superior=above)
    return {"notify": notify}


def superiors_of(service: ServiceBase, record: Mapping[str, Any], actor_id: str) -> list[str]:
    """Who a `superior: true` notice goes to: the active department heads of the unit handling the record
    (its department), other than whoever acted; where there is none, the level above (the active managers).
    Read from the accounts (a small collection, as approval steps resolve their approvers)."""
    people = [u for u in service.store.list_users() if u.get("active", True) and u["_id"] != actor_id]
    department = record.get("department")
    heads = [u["_id"] for u in people if "dept_head" in (u.get("roles") or [])
             and department and u.get("department") == department]
    if heads:
        return sorted(heads)
    return sorted(u["_id"] for u in people if "manager" in (u.get("roles") or []))


# -- channels ------------------------------------------------------------------------------------------------

class ChannelError(Exception):
    """A send that did not go through; the outbox tries it again later."""


class Channel(Protocol):
    name: str

    def send(self, notification: Doc) -> None: ...


class InboxChannel:
    """The in-app inbox: an entry per user, inserted once whatever the number of tries."""

    name = "inbox"

    def __init__(self, notify_store: NotifyStore) -> None:
        self.notify_store = notify_store

    def send(self, notification: Doc) -> None:
        user, kind = notification["recipient"], notification["kind"]
        at = notification.get("event_at") or notification["created_at"]
        self.notify_store.deliver({
            "_id": notification["_id"], "user": user, "box": f"{user}|{kind}", "unread": user, "kind": kind,
            "record_id": notification.get("record_id"), "event_id": notification["event_id"], "at": at,
            "listed": f"{key_of_stamp(at)}|{notification['_id']}",
            "content": notification.get("sealed_content", notification.get("content", {}))})


class MailChannel:
    """SMTP through smtplib: plain, STARTTLS or TLS, with a login when a user is set (never logged)."""

    name = "mail"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.host = str(config["smtp_host"])
        self.port = int(config.get("smtp_port") or (465 if config.get("smtp_tls") == "ssl" else 25))
        self.sender = str(config.get("smtp_from") or "counterflow@localhost")
        self.tls = str(config.get("smtp_tls") or "none")
        self.user = config.get("smtp_user")
        self._password = config.get("smtp_password")
        self.timeout = float(config.get("smtp_timeout") or 10)

    def __repr__(self) -> str:
        return f"<MailChannel {self.host}:{self.port} tls={self.tls}>"

    def message(self, notification: Doc) -> EmailMessage:
        content = notification.get("content", {})
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = notification["address"]
        subjects = (content.get(lang, {}).get("subject", "") for lang in LANGS)
        mail["Subject"] = " / ".join(dict.fromkeys(subjects))
        mail["Date"] = formatdate(localtime=False)
        digest = hashlib.sha256(notification["_id"].encode()).hexdigest()[:32]
        mail["Message-ID"] = f"<{digest}@counterflow>"
        mail["X-Counterflow-Delivery"] = notification["_id"]
        mail.set_content("\n\n".join(content.get(lang, {}).get("body", "") for lang in LANGS))
        return mail

    def send(self, notification: Doc) -> None:
        mail = self.message(notification)
        try:
            if self.tls == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                      context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(str(self.user), str(self._password or ""))
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise ChannelError(f"{type(exc).__name__}: {str(exc)[:200]}") from None


class WebhookChannel:
    """POST the notification as JSON, signed: `X-Counterflow-Signature: sha256=<HMAC-SHA256 of the body>`."""

    name = "webhook"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.url = str(config["webhook_url"])
        self._secret = str(config.get("webhook_secret") or "").encode()
        self.timeout = float(config.get("webhook_timeout") or 10)

    def __repr__(self) -> str:
        return f"<WebhookChannel {self.url}>"

    def body(self, notification: Doc) -> bytes:
        payload = {k: notification.get(k) for k in ("_id", "event_id", "record_id", "kind", "recipients",
                                                    "applicant", "failed", "event_at", "content")}
        payload["id"] = payload.pop("_id")
        return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    def send(self, notification: Doc) -> None:
        body = self.body(notification)
        signature = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "counterflow",
            "X-Counterflow-Signature": f"sha256={signature}", "X-Counterflow-Delivery": notification["_id"],
            "X-Counterflow-Event": notification["kind"]})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:     # the admin's URL
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, ValueError) as exc:
            raise ChannelError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
        if not 200 <= status < 300:
            raise ChannelError(say("channel_refused", "en", status=status))


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body` (what a receiver recomputes)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- the service ---------------------------------------------------------------------------------------------

class NotifyActions(RecordActions):
    """Deriving notifications from events, sending them, and each user's inbox."""

    extra_channels: dict[str, Channel] = {}        # tests and portals may add or replace a channel by name

    @property
    def notify_store(self) -> NotifyStore:
        return notify_store_of(self)

    @property
    def notify_config(self) -> Mapping[str, Any]:
        return getattr(self.settings, "notify", None) or {}

    def channels(self) -> dict[str, Channel]:
        config = self.notify_config
        found: dict[str, Channel] = {"inbox": InboxChannel(self.notify_store)}
        if config.get("smtp_host"):
            found["mail"] = MailChannel(config)
        if config.get("webhook_url"):
            found["webhook"] = WebhookChannel(config)
        found.update(self.extra_channels)
        return found

    # -- deriving ------------------------------------------------------------------------------------------

    def derive_notifications(self) -> int:
        """One notification per (event with `notify`, recipient, channel) since the last sweep; idempotent.
        Returns how many are new."""
        ns = self.notify_store
        self.store.copier.flush()
        cursor = ns.cursor()
        since = _before(cursor, LAG_SECONDS) if cursor else ""
        channels = self.channels()
        made, pending, latest, touched = 0, list[Doc](), cursor, set[str]()
        for event in ns.events_since(since):
            latest = max(latest, event.get("at") or "")
            if event.get("kind") == "record" and isinstance(event.get("object_id"), str):
                touched.add(event["object_id"])
            told = isinstance(event.get("notify"), Mapping) or isinstance(event.get("on_behalf_of"), Mapping)
            if told and event.get("outcome", "done") == "done":
                pending.extend(self._notifications_for(event, channels))
            if len(pending) >= 200:
                made, pending = made + ns.add_notifications(pending), []
        made += ns.add_notifications(pending)
        for record_id in sorted(touched):
            self.refresh_tasks(record_id)
        if latest and latest != cursor:
            ns.set_cursor(latest)
        return made

    def refresh_tasks(self, record_id: str) -> None:
        """Keep who holds the record's open approval-step task (the "mine" worklist) as the record is now."""
        record = self.notify_store.record_state(record_id)
        users: list[str] = []
        if record is not None:
            try:
                process = record["process"]
                workflow = self.workflow(process, record.get("workflows", {}).get(process))
            except NotFound:
                workflow = None
            spec = workflow.approval(record["state"]) if workflow is not None else None
            step = (record.get("approval") or {}).get(record["state"])
            if spec is not None and isinstance(step, Mapping):
                users = sorted(approval.holders(spec, step))
        self.notify_store.set_tasks(record_id, (record or {}).get("listed") or record_id, users)

    def _notifications_for(self, event: Doc, channels: Mapping[str, Channel]) -> list[Doc]:
        notify: Mapping[str, Any] = event["notify"] if isinstance(event.get("notify"), Mapping) else {}
        kind = notify.get("kind")
        behalf: Mapping[str, Any] = {}
        if isinstance(event.get("on_behalf_of"), Mapping):
            behalf = event["on_behalf_of"]
        holder = behalf.get("id") if isinstance(behalf.get("id"), str) and behalf.get("id") else None
        if kind not in KINDS and holder is None:
            return []
        record = self.notify_store.record(event["object_id"]) if event.get("kind") == "record" else None
        if kind not in KINDS:                     # only the holder of the A/B post is told
            kind, notify = ON_BEHALF, {}
        to = [u for u in dict.fromkeys(notify.get("to") or []) if isinstance(u, str) and u][:MAX_RECIPIENTS]
        applicant, failed = bool(notify.get("applicant")), bool(notify.get("failed"))
        key = self._key_or_none(record) if record is not None else None
        content = self._sealed_text(key, self._content(event, record, kind, failed))
        now = utcnow()
        base = {"event_id": event["_id"], "record_id": event.get("object_id"), "event_at": event.get("at"),
                "kind": kind, "applicant": applicant, "failed": failed, "recipients": to, "state": "pending",
                "attempts": 0, "next_at": time_key(now), "created_at": stamp(now), "content": content}

        def one(recipient: str, channel: str, address: str, **more: Any) -> Doc:
            return dict(base, _id=f"{event['_id']}|{recipient}|{channel}", recipient=recipient,
                        channel=channel, address=address, **more)

        out = []
        if holder is not None:                                     # what the backup did for them
            told = self._sealed_text(key, self._content(event, record, ON_BEHALF, False))
            out.append(dict(base, _id=f"{event['_id']}|{holder}|{ON_BEHALF}", recipient=holder,
                            channel="inbox", address=holder, kind=ON_BEHALF, content=told))
        if kind == ON_BEHALF:
            return out
        for user_id in to:
            out.append(one(user_id, "inbox", user_id))
            email = (self.store.user(user_id) or {}).get("email") if "mail" in channels else None
            if isinstance(email, str) and _EMAIL.match(email):
                out.append(one(user_id, "mail", email))
        if kind == "delegated" and isinstance(event.get("actor"), Mapping) and event["actor"].get("id"):
            delegator = str(event["actor"]["id"])
            out.append(one(delegator, "inbox", delegator, kind="delegated_by"))
        if applicant and record is not None and "mail" in channels:
            address = self.applicant_address(record)
            if address:
                told = self._sealed_text(key, self._content(event, record, kind, failed, applicant=True))
                sealed = key.seal(address, ADDRESS_PLACE) if key is not None else address
                out.append(one("applicant", "mail", sealed, content=told))
        if "webhook" in channels:
            out.append(one("*", "webhook", ""))
        return out

    @staticmethod
    def _sealed_text(key: Any, content: Doc) -> Doc:
        """`content` with its words (subject and body in each language: the reason, the notice's items) sealed
        under the record's key; the record id and number stay as they are (the tombstone keeps them)."""
        if key is None:
            return content
        words = {lang: content[lang] for lang in LANGS if lang in content}
        kept = {k: v for k, v in content.items() if k not in words}
        return dict(kept, sealed=key.seal(words, TEXT_PLACE))

    def _opened_text(self, content: Any, keys: Mapping[str, Any]) -> Doc | None:
        """`content` with its sealed words opened under the key `keys` holds for its record (None: they do
        not open, the record's key was destroyed)."""
        content = dict(content) if isinstance(content, Mapping) else {}
        sealed = content.pop("sealed", None)
        if not is_sealed(sealed):
            return content
        key = keys.get(str(content.get("record_id")))
        try:
            words = key.open(str(sealed), TEXT_PLACE) if key is not None else None
        except ValueError:
            words = None
        return dict(content, **words) if isinstance(words, Mapping) else None

    def _record_keys(self, record_ids: list[str]) -> dict[str, Any]:
        """The data keys of these records (one `_id` query), by record id; a destroyed one is left out."""
        found: dict[str, Any] = {}
        for record in self.notify_store.records(sorted({r for r in record_ids if isinstance(r, str)})):
            key = self._key_or_none(record)
            if key is not None:
                found[record["_id"]] = key
        return found

    def entry_views(self, entries: list[Doc], lang: str) -> list[Doc]:
        """Inbox entries as their reader sees them: the words opened under the record's key; once the record
        is destroyed, a line saying so."""
        keys = self._record_keys([e["record_id"] for e in entries
                                  if is_sealed((e.get("content") or {}).get("sealed"))])
        out = []
        for entry in entries:
            opened = self._opened_text(entry.get("content"), keys)
            if opened is None:
                opened = {k: v for k, v in entry["content"].items() if k != "sealed"}
                opened.update({lang_: {"subject": say("text_gone", lang_), "body": ""} for lang_ in LANGS})
            out.append(entry_view(dict(entry, content=opened), lang))
        return out

    def _sendable(self, claimed: Doc) -> Doc:
        """The notification as its channel sends it: its words and address opened under the record's key (the
        inbox keeps them sealed: `sealed_content`); ChannelError when they no longer open."""
        content, address = claimed.get("content"), claimed.get("address")
        if not (is_sealed((content or {}).get("sealed")) or is_sealed(address)):
            return claimed
        keys = self._record_keys([str(claimed.get("record_id"))])
        opened = self._opened_text(content, keys)
        key = keys.get(str(claimed.get("record_id")))
        try:
            if is_sealed(address):
                address = key.open(str(address), ADDRESS_PLACE) if key is not None else None
        except ValueError:
            address = None
        if opened is None or address is None:
            raise ChannelError(say("text_unsendable", "en"))
        return dict(claimed, content=opened, address=address, sealed_content=content)

    def applicant_address(self, record: Doc) -> str | None:
        """The applicant's mail address: the top-level field the form marks `x-notify: email`."""
        try:
            form = self.form_doc(record["form"], record["form_version"])
        except NotFound:
            return None
        fields = [name for name, node in (form.get("schema", {}).get("properties") or {}).items()
                  if isinstance(node, Mapping) and node.get("x-notify") == "email"]
        if not fields:
            return None
        data = self.opened(record).get("data") or {}
        value = data.get(fields[0])
        return value.strip() if isinstance(value, str) and _EMAIL.match(value.strip()) else None

    def _content(self, event: Doc, record: Doc | None, kind: str, failed: bool, *, applicant: bool = False
                 ) -> Doc:
        """Subject and body in both languages: the form, the number, what happened, where it is now; for the
        applicant, why and what to do next. Never the record's data."""
        out: Doc = {"record_id": event.get("object_id"),
                    "acceptance_number": (record or {}).get("acceptance_number")}
        for lang in LANGS:
            what = say("decided_failed" if kind == "decided" and failed else kind, lang)
            form, now_in = "", ""
            if record is not None:
                try:
                    form = text(self.form_doc(record["form"], record["form_version"]).get("title"), lang)
                    wf = self.workflow(record["process"], record["workflows"].get(record["process"]))
                    now_in = say("now_in", lang, process=text(wf.title, lang),
                                 state=wf.state_title(record["state"], lang))
                except NotFound:
                    pass
            number = (record or {}).get("acceptance_number") or event.get("object_id", "")
            lines = [what, now_in]
            if kind == ON_BEHALF:
                actor = event.get("actor") or {}
                lines.append(say("by_backup", lang, name=actor.get("name") or actor.get("username") or "",
                                 trigger=self._trigger_title(record, event, lang)))
            if applicant or kind in FAILURES or failed:
                told = self.notice_opened_event(record, event) if record is not None else event
                reason = event_reason(told, lang, record)
                if reason:
                    lines.append(say("reason", lang, reason=reason))
            if applicant:
                lines.append(next_steps(kind, failed, lang))
                base_url = getattr(self.settings, "public_base_url", None)
                if base_url and record is not None and record.get("acceptance_number"):
                    lines.append(say("status_at", lang, url=f"{base_url.rstrip('/')}/status?number="
                                                            f"{record['acceptance_number']}"))
            subject = say("subject", lang, form=form or "counterflow", number=number, what=what)
            out[lang] = {"subject": subject,
                         "body": "\n".join(line for line in lines if line)}
        return out

    def _trigger_title(self, record: Doc | None, event: Doc, lang: str) -> str:
        trigger = str(event.get("trigger") or "")
        if record is None:
            return trigger
        try:
            process = event.get("process") or record["process"]
            return self.workflow(process, record["workflows"].get(process)).trigger_title(trigger, lang)
        except (NotFound, KeyError):
            return trigger

    # -- dispatching ---------------------------------------------------------------------------------------

    def dispatch_notifications(self, limit: int = 500, channels: Mapping[str, Channel] | None = None
                               ) -> dict[str, int]:
        """Send the due notifications, each claimed first; returns how many were sent, failed, given up."""
        config = self.notify_config
        lease = int(config.get("lease_seconds") or 120)
        base = float(config.get("backoff_seconds", 30))
        cap = float(config.get("backoff_max_seconds", 3600))
        most = int(config.get("max_attempts") or 12)
        channels = channels if channels is not None else self.channels()
        ns, owner = self.notify_store, new_id()
        counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
        now = utcnow()
        for doc in ns.due(time_key(now), limit):
            claimed = ns.claim(doc, time_key(now + dt.timedelta(seconds=lease)), owner)
            if claimed is None:
                counts["skipped"] += 1
                continue
            channel = channels.get(claimed["channel"])
            sendable: Doc | None = None
            try:
                if channel is None:
                    raise ChannelError(f"the {claimed['channel']} channel is not configured")
                sendable = self._sendable(claimed)
                channel.send(sendable)
            except Exception as exc:           # any channel's failure: kept and tried again, never lost
                attempts = int(claimed.get("attempts") or 1)
                delay = min(base * 2 ** (attempts - 1), cap)
                again = None if attempts >= most else time_key(utcnow() + dt.timedelta(seconds=delay))
                error = f"{type(exc).__name__}: {exc}"
                if sendable is not None and sendable.get("address") and sendable is not claimed:
                    error = error.replace(str(sendable["address"]), "<address>")   # kept sealed only
                ns.mark_failed(claimed["_id"], owner, error, again)
                counts["retry" if again else "failed"] += 1
                log.warning("notification %s through %s failed (try %d)%s: %s", claimed["_id"],
                            claimed["channel"], attempts, "" if again else ", given up",
                            f"{type(exc).__name__}: {str(exc)[:200]}")
                continue
            ns.mark_sent(claimed["_id"], owner, stamp(utcnow()))
            counts["sent"] += 1
        return counts

    def pump_notifications(self) -> dict[str, int]:
        """Derive, then dispatch: what `tick` (and the host's background loop) run."""
        made = self.derive_notifications()
        return dict(self.dispatch_notifications(), derived=made)

    # -- the inbox ------------------------------------------------------------------------------------------

    def inbox(self, actor: Actor, unread: bool, limit: int, after: str | None, lang: str) -> list[Doc]:
        self.require(actor, STAFF | {"admin"}, lang)
        field = "unread" if unread else "user"
        return self.entry_views(self.notify_store.inbox_page(field, actor.id, limit, after), lang)

    def mark_read(self, actor: Actor, entry_id: str, lang: str) -> Doc:
        self.require(actor, STAFF | {"admin"}, lang)
        found = self.notify_store.mark_read(entry_id, actor.id, stamp(utcnow())) \
            if isinstance(entry_id, str) and len(entry_id) <= 300 else None
        if found is None:
            raise NotFound(say("unknown_entry", lang), code="entry_not_found")
        return self.entry_views([found], lang)[0]


def notify_store_of(service: ServiceBase) -> NotifyStore:
    """The notification collections over the service's store (made once per store)."""
    found = getattr(service, "_notify_store", None)
    if found is None or found.store is not service.store:
        found = NotifyStore(service.store)
        setattr(service, "_notify_store", found)
    return found


def entry_view(entry: Doc, lang: str) -> Doc:
    content = entry.get("content") or {}
    words = content.get(lang) or {}
    return {"id": entry["_id"], "kind": entry.get("kind"), "record_id": entry.get("record_id"),
            "acceptance_number": content.get("acceptance_number"), "at": entry.get("at"),
            "subject": words.get("subject", ""), "body": words.get("body", ""),
            "read": "unread" not in entry, "read_at": entry.get("read_at"), "listed": entry.get("listed")}


def event_reason(event: Mapping[str, Any], lang: str,
                 record: Mapping[str, Any] | None = None) -> str:
    """Why, as the event gives it: the opinion, the notice's items, a reason or where else to go (for a
    decline, the reason and the referral printed on the record's decision voucher)."""
    parts: list[str] = []
    found = event.get("details")
    details: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    found = details.get("notice")
    notice: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    declined = (event.get("notify") or {}).get("kind") == "declined"
    found = ((record or {}).get("vouchers") or {}).get("decision") if declined else None
    decision: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    for source in (event.get("opinion"), notice.get("opinion"), details.get("reason"), details.get("where"),
                   decision.get("reason"), decision.get("refer_to")):
        if isinstance(source, str) and source.strip() and source.strip() not in parts:
            parts.append(source.strip()[:500])
        elif isinstance(source, Mapping):
            parts.append(text(source, lang)[:500])
    for item in notice.get("items") or []:
        if isinstance(item, Mapping) and isinstance(item.get("message"), str):
            parts.append(item["message"][:300])
    return "；".join(parts) if lang == "zh-CN" else "; ".join(parts)


def next_steps(kind: str, failed: bool, lang: str) -> str:
    if kind == "returned":
        return say("next_returned", lang)
    if kind == "declined":
        return say("next_declined", lang)
    if kind == "decided":
        return say("next_failed" if failed else "next_done", lang)
    if kind == "accepted":
        return say("next_accepted", lang)
    return ""


def _before(at: str, seconds: int) -> str:
    try:
        when = dt.datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return ""
    return stamp(when - dt.timedelta(seconds=seconds))


RATING = {"score": {"zh-CN": "评分须为 1 到 5 的整数", "en": "The score is a whole number from 1 to 5"},
          "comment": {"zh-CN": "评价内容最多 1000 字", "en": "The comment is at most 1000 characters"}}


def check_rating(score: Any, comment: Any, lang: str) -> tuple[int, str]:
    problems = []
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        problems.append({"path": "/score", "code": "score", "message": text(RATING["score"], lang)})
    if comment is not None and (not isinstance(comment, str) or len(comment) > 1000):
        problems.append({"path": "/comment", "code": "comment", "message": text(RATING["comment"], lang)})
    if problems:
        raise Invalid(problems[0]["message"], code="invalid_rating", details=problems)
    return int(score), (comment or "").strip()
