"""Form definitions: drafts, versions, their approval, and what clerks may use."""
from __future__ import annotations

import copy
from typing import Any, Mapping

from counterflow.core import defdiff, definitions
from counterflow.core.clock import stamp
from counterflow.core.engine import Actor
from counterflow.core.errors import Conflict, Invalid, NotFound
from counterflow.core.roles import STAFF
from counterflow.forms.check import check_form_definition
from counterflow.service.base import Doc
from counterflow.service.messages import check_revision, msg
from counterflow.service.transitions import Transitions


class FormActions(Transitions):
    """Form definition versions through their approval process."""

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
        # anything but a list of names: the schema has said so already
        if isinstance(processes, list) and all(isinstance(p, str) for p in processes):
            known = {w.key: w.definition for w in self.record_workflows()}
            problems += [p for p in definitions.check_processes(definition, known, source)
                         if p not in problems]
        if problems:
            raise Invalid(msg("definition", lang, count=len(problems)), code="invalid_definition",
                          details=[{"path": _place(p), "code": "definition", "message": p} for p in problems])

    def create_form(self, actor: Actor, payload: Mapping[str, Any], lang: str) -> Doc:
        self.require(actor, {"admin"}, lang)
        definition = _definition_from(payload)
        self.check_definition(definition, lang)
        if self.store.latest_form_version(definition["key"]) is not None:
            raise Conflict(msg("form_exists", lang, key=definition["key"]), code="form_exists")
        doc = self._form_doc(definition, 1, self.form_workflow().initial, author=actor.id, now=stamp())
        self.store.insert_form_version(doc)
        return doc

    def published_forms(self, actor: Actor, lang: str) -> list[Doc]:
        self.require(actor, STAFF | {"admin"}, lang)
        latest: dict[str, Doc] = {}
        for doc in self.store.form_versions_in(self.form_workflow().states_where("in_use")):
            latest[doc["key"]] = doc
        return list(latest.values())

    def all_form_versions(self, actor: Actor, lang: str) -> list[Doc]:
        self.require(actor, {"admin", "dept_head", "manager"}, lang)
        return self.store.form_versions_in(list(self.form_workflow().states))

    def published_form(self, actor: Actor, key: str, lang: str) -> Doc:
        self.require(actor, STAFF | {"admin"}, lang)
        doc = self.store.latest_form_version(key, self.form_workflow().states_where("in_use")[0])
        if doc is None:
            raise NotFound(msg("no_form", lang, key=key), code="form_not_found")
        return doc

    def form_version(self, actor: Actor, key: str, version: int, lang: str) -> Doc:
        self.require(actor, {"admin", "dept_head", "manager"}, lang)
        return self.store.form_version(key, version)

    def edit_form_version(self, actor: Actor, key: str, version: int, payload: Mapping[str, Any],
                          lang: str) -> Doc:
        self.require(actor, {"admin"}, lang)
        current = self.store.form_version(key, version)
        workflow = self.form_workflow()
        if not workflow.is_editable(current["state"]):
            raise Conflict(msg("form_not_draft", lang), code="not_draft")
        check_revision(current, payload, lang)
        definition = _definition_from({
            **{k: current[k] for k in ("title", "description", "schema", "ui_schema", "settings")},
            **{k: v for k, v in payload.items() if k != "revision"}, "key": key})
        self.check_definition(definition, lang)
        changes = {k: definition.get(k) or {}
                   for k in ("title", "description", "schema", "ui_schema", "settings")}
        event = self._event("form_version", actor, "edit", workflow.key, current["state"], current["state"],
                            payload.get("reason"))
        return self.store.commit(self.store.forms, current, changes, event)

    def new_form_version(self, actor: Actor, key: str, payload: Mapping[str, Any], lang: str) -> Doc:
        self.require(actor, {"admin"}, lang)
        latest = self.store.latest_form_version(key)
        if latest is None:
            raise NotFound(msg("no_form", lang, key=key), code="form_not_found")
        if self.form_workflow().is_open(latest["state"]):
            raise Conflict(msg("open_version", lang, version=latest["version"]), code="open_version")
        definition = _definition_from({
            **{k: latest[k] for k in ("title", "description", "schema", "ui_schema", "settings")},
            **{k: v for k, v in payload.items() if k != "revision"}, "key": key})
        self.check_definition(definition, lang)
        doc = self._form_doc(definition, latest["version"] + 1, self.form_workflow().initial,
                             author=actor.id, now=stamp())
        self.store.insert_form_version(doc)
        return doc

    def form_options(self, actor: Actor, key: str, version: int, lang: str) -> list[Doc]:
        doc = self.form_version(actor, key, version, lang)
        return self.options_on(self.form_workflow(), doc, actor, lang)

    def fire_form(self, actor: Actor, key: str, version: int, trigger: str, payload: Mapping[str, Any],
                  lang: str) -> Doc:
        current = self.store.form_version(key, version)
        updated = self.fire("form_version", self.store.forms, self.form_workflow(), current, actor, trigger,
                            payload, lang)
        self._forms.pop(current["_id"], None)
        self.forget_published(key)          # a version published (or retired) here is seen here at once
        return updated

    def check_form(self, actor: Actor, payload: Mapping[str, Any], lang: str) -> Doc:
        """Check a definition as an upload would, writing nothing: `{"problems": []}`, else a 422 listing
        every problem (admin)."""
        self.require(actor, {"admin"}, lang)
        self.check_definition(_definition_from(payload), lang)
        return {"problems": []}

    def form_version_diff(self, actor: Actor, key: str, version: int, against: int | None,
                          lang: str) -> Doc:
        """What changed from version `against` (by default the one before) to `version`, field by field;
        read by whoever may read the version."""
        doc = self.form_version(actor, key, version, lang)

        def other(number: int) -> Doc:
            try:
                return self.store.form_version(key, number)
            except NotFound:
                raise NotFound(defdiff.text("no_version", lang, key=key, version=number),
                               code="version_not_found") from None

        found = defdiff.report(doc, other, against, lang, defdiff.diff_forms, _definition_of)
        return dict(found, versions=[d["version"] for d in self.store.form_versions(key)])

    def form_history(self, actor: Actor, key: str, version: int, lang: str) -> list[Doc]:
        doc = self.form_version(actor, key, version, lang)
        return self.store.history(doc["_id"], doc.get("outbox"))


def _definition_from(payload: Mapping[str, Any]) -> Doc:
    return {k: copy.deepcopy(payload[k])
            for k in ("key", "title", "description", "schema", "ui_schema", "settings")
            if k in payload and payload[k] is not None and not (k == "description" and payload[k] == {})}


def _definition_of(doc: Mapping[str, Any]) -> Doc:
    """A stored form version's definition, as it was uploaded."""
    return {k: doc.get(k) for k in ("key", "title", "description", "schema", "ui_schema", "settings")}


def _place(problem: str) -> str:
    parts = problem.split(": ")
    return parts[1] if len(parts) > 2 and parts[1].startswith("/") else ""
