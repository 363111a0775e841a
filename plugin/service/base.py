"""The state every service action shares, and the caches built once per definition version."""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from counterflow.core import definitions
from counterflow.core.audit import audit_fields
from counterflow.core.calendar import WorkCalendar, YearOverride
from counterflow.core.clock import stamp
from counterflow.core.engine import Actor, Workflow
from counterflow.core.errors import Forbidden, NotFound
from counterflow.forms.validate import FormValidator
from counterflow.security.passwords import Passwords
from counterflow.security.envelope import Keyring
from counterflow.security.sealing import Sealer, derive_key
from counterflow.security.signing import Signer
from counterflow.security.tokens import Tokens
from counterflow.service.identity_cache import UserCache
from counterflow.service.messages import msg
from counterflow.settings import Settings
from counterflow.store import Store

log = logging.getLogger(__name__)
Doc = dict[str, Any]

# how long a host trusts its copy of "the latest published version of form X": a version published on
# another host is used by this one at most this many seconds later (one published here: at once)
PUBLISHED_TTL_SECONDS = 2.0
NOTICE_PLACE = "notice"         # where (AAD) a one-time notice is sealed under its record's key


class ServiceBase:
    """What every action shares: the store, settings, keys, caches of machines, forms and validators."""

    published_ttl: float = PUBLISHED_TTL_SECONDS

    def __init__(self, store: Store, settings: Settings, secret: str) -> None:
        self.store = store
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        self.tokens = Tokens(secret, settings.token_ttl_seconds)
        self.passwords = Passwords(settings.password_profile, settings.password_hash_concurrency)
        keys: list[str | bytes] = [k.strip() for k in (settings.encryption_key or "").split(",") if k.strip()]
        self.sealer = Sealer(keys or [derive_key(secret)])            # values sealed by older versions
        self.keyring = Keyring(keys or [derive_key(secret)])          # per-record data keys (envelope.py)
        self.signer = Signer.from_settings(settings.signing_key, secret)
        store.audit_log.signer = self.signer
        self.users = UserCache(store.user, settings.user_cache_seconds)
        self.calendar = WorkCalendar(_overrides(settings.calendar_overrides))
        self._workflows: dict[tuple[str, int], Workflow] = {}
        self._latest_workflow: dict[str, int] = {}
        self._workflows_read = 0.0                              # when load_workflows last ran (monotonic)
        self._forms: dict[str, Doc] = {}
        self._published: dict[str, tuple[float, Doc]] = {}      # form key -> (when read, latest published)
        self._form_workflow: Workflow | None = None
        # record id -> (its data as stored, the same opened): decrypting is most of a transition's own work,
        # and the same ciphertext always opens to the same text (see RecordActions.opened)
        self._opened: dict[str, tuple[Any, Any, Any]] = {}      # (stored data, opened data, data_key)
        self._validators: dict[str, FormValidator] = {}
        self._lock = threading.Lock()

    def load_workflows(self) -> None:
        """Build one machine per stored workflow version, once, and read again which version of each process
        is the latest that runs: one approved (in a state its approval process flags `in_use`), or stored
        before workflow versions were approved (no state). Drafts get a machine, never new records."""
        self._workflows_read = time.monotonic()
        docs = self.store.workflow_versions()
        for doc in docs:
            self._workflow_from_doc(doc)
        approved = {s for w in list(self._workflows.values()) if "workflow_version" in w.subjects
                    for s in w.states_where("in_use")}
        latest: dict[str, int] = {}
        for doc in docs:
            if doc.get("state") is None or doc["state"] in approved:
                latest[doc["key"]] = max(latest.get(doc["key"], 0), int(doc["version"]))
        with self._lock:
            if latest != self._latest_workflow:
                self._form_workflow = None
            self._latest_workflow = latest

    def _workflow_from_doc(self, doc: Doc) -> Workflow:
        key = (doc["key"], int(doc["version"]))
        with self._lock:
            if key not in self._workflows:
                problems = definitions.check_workflow(doc["definition"], f"stored workflow {doc['_id']}")
                if problems:
                    raise definitions.DefinitionError(problems)
                self._workflows[key] = Workflow(doc["definition"], int(doc["version"]))
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

    def form_workflow(self) -> Workflow:
        """The process that form definition versions go through (the workflow whose subject they are);
        looked up once, again only after a new workflow version is loaded."""
        found = self._form_workflow
        if found is not None:
            return found
        for key in sorted(self._latest_workflow):
            found = self.workflow(key)
            if "form_version" in found.subjects:
                self._form_workflow = found
                return found
        raise NotFound("no workflow for form versions", code="unknown_process")

    def record_workflows(self) -> list[Workflow]:
        """The latest version of every process a record can go through; read again once `published_ttl`
        seconds have passed, since another host may have approved a process (worklists ask by process)."""
        if time.monotonic() - self._workflows_read >= self.published_ttl:
            self.load_workflows()
        latest = [self.workflow(k) for k in sorted(self._latest_workflow)]
        return [w for w in latest if w.subjects == ("record",)]

    def form_doc(self, key: str, version: int) -> Doc:
        """A form version; published ones never change, so they are cached for good."""
        form_id = f"{key}@{version}"
        doc = self._forms.get(form_id)
        if doc is None:
            doc = self.store.form_version(key, version)
            workflow = self.form_workflow()
            if workflow.is_in_use(doc["state"]) or workflow.is_final(doc["state"]):
                self._forms[form_id] = doc
        return doc

    def published_version(self, key: str) -> Doc | None:
        """The latest published (in use) version of form `key`, or None. Versions never change once
        published, but a newer one may be published on another host: the answer is trusted for
        `published_ttl` seconds, then read again (one indexed query); `forget_published` drops it at once."""
        now = time.monotonic()
        hit = self._published.get(key)
        if hit is not None and now - hit[0] < self.published_ttl:
            return hit[1]
        found = self.store.latest_form_version(key, self.form_workflow().states_where("in_use")[0])
        if found is None:                # unknown keys are not remembered: anyone may send any key
            self._published.pop(key, None)
            return None
        doc = self._forms.setdefault(found["_id"], found)       # published: immutable, kept for good
        self._published[key] = (now, doc)
        return doc

    def forget_published(self, key: str) -> None:
        self._published.pop(key, None)

    def validator(self, key: str, version: int) -> FormValidator:
        form_id = f"{key}@{version}"
        found = self._validators.get(form_id)
        if found is None:
            form = self.form_doc(key, version)
            found = FormValidator(form["schema"], form.get("ui_schema"))
            with self._lock:
                self._validators.setdefault(form_id, found)
        return found

    def sealed_history(self, kind: str, obj: Doc, event: Doc) -> Doc:
        """The event as stored: a record's `changes` sealed under its data key (service/records.py)."""
        return event

    def sealed_notice(self, obj: Mapping[str, Any], changes: Doc) -> Doc:
        """`changes` with the one-time notice an action recorded sealed under the record's own key (what the
        applicant must bring: a record with a key keeps it sealed, on itself and in its history)."""
        if isinstance(changes.get("notice"), Mapping) and obj.get("data_key"):
            key = self.keyring.key(obj["_id"], obj["data_key"])
            changes = dict(changes, notice=key.seal(changes["notice"], NOTICE_PLACE))
        return changes

    def notice_opened_event(self, record: Doc, event: Doc) -> Doc:
        """The event with the one-time notice in its details opened (service/records.py)."""
        return event

    def audit(self, action: str, actor: Actor | None, *, object_id: str | None = None,
              on_behalf_of: str | None = None, source: str | None = None, dest: str | None = None,
              reason: str | None = None, grant: str | None = None, request_id: str | None = None,
              details: Mapping[str, Any] | None = None) -> None:
        """Append a direct entry to the audit log (an action that is no history event: a sign-in, a read,
        a reveal, a grant). `details` keeps names and pointers only, never values (core/audit.py)."""
        self.store.audit_log.append(audit_fields(
            action, actor, object_id=object_id, on_behalf_of=on_behalf_of, source=source, dest=dest,
            reason=reason, grant=grant, request_id=request_id, details=details))

    @staticmethod
    def require(actor: Actor, roles: frozenset[str] | set[str], lang: str) -> None:
        if not (actor.roles & roles):
            raise Forbidden(msg("role", lang, roles=", ".join(sorted(roles))), code="role")

    def _event(self, kind: str, actor: Actor, trigger: str, process: str, source: str, dest: str,
               opinion: Any = None, *, now: dt.datetime | None = None, at: str | None = None,
               **extra: Any) -> Doc:
        """A history event; `at` is the stamp when the caller has formatted it already (else `now`'s)."""
        return {"kind": kind, "at": at or stamp(now), "actor": actor.public(), "trigger": trigger,
                "process": process, "source": source, "dest": dest,
                "opinion": str(opinion)[:2000] if opinion else None,
                "outcome": "done", **extra}


def _overrides(raw: Mapping[Any, Any]) -> dict[int, YearOverride]:
    out = {}
    for year, value in (raw or {}).items():
        out[int(year)] = YearOverride(frozenset(dt.date.fromisoformat(d) for d in value.get("days_off", [])),
                                      frozenset(dt.date.fromisoformat(d) for d in value.get("workdays", [])))
    return out
