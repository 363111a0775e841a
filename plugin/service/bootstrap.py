"""Preparing a store: shipped workflows and forms, the first admin, left-over history events."""
from __future__ import annotations

import datetime as dt
from typing import Mapping

from counterflow.core import definitions
from counterflow.core.clock import stamp, utcnow
from counterflow.core.errors import Conflict
from counterflow.security.passwords import generate_password
from counterflow.service.base import Doc
from counterflow.service.forms import FormActions
from counterflow.service.messages import new_id


# the author of definitions loaded from files (the package, COUNTERFLOW_WORKFLOWS_DIR)
SHIPPED = "counterflow"


def shipped_approved_state(workflows: Mapping[str, Doc]) -> str | None:
    """The state in which the shipped approval process holds a workflow version in use (None: no process
    approves workflow versions, so stored ones carry no state and all run)."""
    for definition in workflows.values():
        if "workflow_version" in definitions.subjects(definition):
            return next((s["name"] for s in definition["states"] if s.get("in_use")), None)
    return None


class BootstrapActions(FormActions):
    """Start-up work; idempotent, safe from many hosts at once."""

    def bootstrap(self, shipped_workflows: Mapping[str, Doc], shipped_forms: Mapping[str, Doc]) -> str | None:
        """Load what an empty store lacks; create `admin`. Returns a generated password, once."""
        now = stamp()
        top: dict[str, int] = {}
        loaded: dict[str, Doc] = {}                          # the latest version that came from files
        for doc in self.store.workflow_versions():          # sorted by key, version
            top[doc["key"]] = doc["version"]
            if doc.get("author", SHIPPED) == SHIPPED:
                loaded[doc["key"]] = doc
        approved = shipped_approved_state(shipped_workflows)
        for key, definition in shipped_workflows.items():
            current = loaded.get(key)
            if current is not None and current["definition"] == definition:
                continue
            # new, or changed by an upgrade of the product or in COUNTERFLOW_WORKFLOWS_DIR: a new version,
            # in use at once (files are approved where they are written); running records keep theirs
            version = top.get(key, 0) + 1
            doc = {"_id": f"{key}@{version}", "key": key, "version": version, "definition": definition,
                   "title": definition.get("title"), "author": SHIPPED, "revision": 0,
                   "created_at": now, "updated_at": now}
            if approved:
                doc.update(state=approved, published_at=now)
            try:
                self.store.insert_workflow_version(doc)
            except Conflict:
                pass                                       # another host loaded it first
        self.load_workflows()
        in_use = self.form_workflow().states_where("in_use")[0]
        for key, definition in shipped_forms.items():
            if self.store.latest_form_version(key) is None:
                doc = self._form_doc(definition, 1, in_use, author=SHIPPED, now=now)
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
                self.store.insert_user({"_id": new_id(), "username": "admin",
                                        "password_hash": self.passwords.hash(password),
                                        "name": "Administrator", "roles": ["admin"], "department": "",
                                        "active": True, "token_epoch": 0,
                                        "must_change_password": generated is not None,
                                        "created_at": now})
            except Conflict:
                generated = None
        return generated

    def sweep_outboxes(self) -> int:
        """Copy history events a crash left in outboxes since the last sweep; idempotent, any host."""
        since = (self.store.meta_value("outbox_sweep") or {}).get("since")
        started = stamp(utcnow() - dt.timedelta(minutes=10))      # overlaps writes still in flight
        copied = sum(self.store.copy_outboxes(c, since)
                     for c in (self.store.records, self.store.forms, self.store.workflows))
        self.store.set_meta("outbox_sweep", {"since": started})
        return copied
