"""Workflow (process) definitions through the API: versions, drafts, their approval, and what runs.

A workflow version is stored like a form version (`<key>@<version>`, a `state` in the approval process,
a `revision`, its `author`) and moves through the process whose `subject` lists `workflow_version`
(shipped: workflows/form_approval.yaml), by the same generic `fire()`, with the same separation of
duties: its author never reviews or approves it. Only a version in that process's `in_use` state runs;
definitions loaded from files at start-up are stored in it at once (ServiceBase.load_workflows).
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

from counterflow.core import approval as approval_steps, defdiff, definitions
from counterflow.core.clock import stamp
from counterflow.core.diagram import progress_of, render_svg
from counterflow.core.engine import Actor, Workflow
from counterflow.core.errors import Conflict, Invalid, NotFound
from counterflow.core.i18n import message
from counterflow.core.roles import STAFF
from counterflow.service.base import Doc
from counterflow.service.messages import check_revision
from counterflow.service.transitions import Transitions
from counterflow.store import workflows as stored

READERS = frozenset({"admin", "dept_head", "manager"})     # who reads definitions and their approval
KIND = "workflow_version"                                  # the subject name and the history events' kind

MESSAGES = {
    "definition": {"zh-CN": "流程定义有 {count} 个问题", "en": "The workflow definition has {count} problem(s)"},
    "exists": {"zh-CN": "流程「{key}」已存在，请新建版本",
               "en": "Workflow '{key}' exists; create a new version instead"},
    "no_workflow": {"zh-CN": "没有流程「{key}」", "en": "There is no workflow '{key}'"},
    "open_version": {"zh-CN": "版本 {version} 尚未完成审批，请先处理该版本",
                     "en": "Version {version} is still in approval; finish it first"},
    "not_draft": {"zh-CN": "只有草稿可以修改；已审批的版本不可更改，请新建版本",
                  "en": "Only a draft can be edited; an approved version never changes, "
                        "so create a new version"},
    "no_approval": {"zh-CN": "没有审批流程版本的流程（subject 含 workflow_version）",
                    "en": "No process approves workflow versions (one whose subject lists workflow_version)"},
    "not_in_approval": {"zh-CN": "此版本随系统加载、未经审批流程；请新建版本",
                        "en": "This version was loaded with the product, outside the approval process; "
                              "create a new version"},
    "key": {"zh-CN": "定义的 key「{given}」与地址中的「{key}」不一致",
            "en": "The definition's key '{given}' differs from '{key}' in the address"},
    "subject_new": {"zh-CN": "通过接口新增的流程只能处理业务单（subject: record）",
                    "en": "A process added through the API moves records (subject: record)"},
    "subject_kept": {"zh-CN": "流程的 subject 在各版本之间不能改变（应为 {subjects}）",
                     "en": "A process keeps its subject from version to version ({subjects})"},
}
FIXES = {
    "key": "fix: send the definition under its own address, or change its key",
    "subject_new": "fix: write 'subject: record' or leave it out; one process approves definitions",
    "subject_kept": "fix: keep the subject, or add a process under a new key",
}


def _text(code: str, lang: str, **params: Any) -> str:
    return message(MESSAGES, code, lang, **params)


class WorkflowActions(Transitions):
    """Workflow definition versions through their approval process."""

    def approval_workflow(self, lang: str = "zh-CN") -> Workflow:
        """The latest approved version of the process whose subject lists workflow versions."""
        for key in sorted(self._latest_workflow) or sorted(self._load_keys()):
            found = self.workflow(key)
            if KIND in found.subjects:
                return found
        raise NotFound(_text("no_approval", lang), code="unknown_process")

    def _load_keys(self) -> list[str]:
        self.load_workflows()
        return list(self._latest_workflow)

    # -- checking ------------------------------------------------------------------------------

    def check_workflow_definition(self, definition: Any, lang: str, *, key: str | None = None) -> None:
        """Every problem at once as a 422: the meta-schema, the guard/action/condition registry, the states
        and duties (core.definitions.check_workflow), the address's key and the subject rules."""
        problems = [p.split(": ", 1)[1] for p in definitions.check_workflow(definition, "definition")]
        if isinstance(definition, dict) and isinstance(definition.get("key"), str):
            given = definition["key"]
            if key is not None and given != key:
                problems.append(f"/key: {_text('key', lang, given=given, key=key)}; {FIXES['key']}")
            latest = stored.latest(self.store, given)
            moves = definitions.subjects(definition)
            if latest is None and moves != ["record"]:
                problems.append(f"/subject: {_text('subject_new', lang)}; {FIXES['subject_new']}")
            elif latest is not None and definitions.subjects(latest["definition"]) != moves:
                was = ", ".join(definitions.subjects(latest["definition"]))
                problems.append(f"/subject: {_text('subject_kept', lang, subjects=was)}; "
                                f"{FIXES['subject_kept']}")
        if problems:
            raise Invalid(_text("definition", lang, count=len(problems)), code="invalid_definition",
                          details=[{"path": _place(p), "code": "definition", "message": p} for p in problems])

    def check_workflow(self, actor: Actor, definition: Any, lang: str) -> Doc:
        """Check a definition as an upload would, writing nothing: `{"problems": []}`, else a 422 listing
        every problem (admin)."""
        self.require(actor, {"admin"}, lang)
        self.check_workflow_definition(definition, lang)
        return {"problems": []}

    def workflow_version_diff(self, actor: Actor, key: str, version: int, against: int | None,
                              lang: str) -> Doc:
        """What changed from version `against` (by default the one before) to `version`: states,
        transitions, the process's own keys; read by whoever may read the version."""
        doc = self.workflow_version_doc(actor, key, version, lang)

        def other(number: int) -> Doc:
            try:
                return stored.version(self.store, key, number)
            except NotFound:
                raise NotFound(defdiff.text("no_version", lang, key=key, version=number),
                               code="version_not_found") from None

        found = defdiff.report(doc, other, against, lang, defdiff.diff_workflows,
                               lambda given: given.get("definition") or {})
        return dict(found, versions=[d["version"] for d in stored.versions(self.store, key)])

    # -- versions ------------------------------------------------------------------------------

    def _workflow_doc(self, definition: Mapping[str, Any], version: int, *, author: str) -> Doc:
        now = stamp()
        return {"_id": f"{definition['key']}@{version}", "key": definition["key"], "version": version,
                "state": self.approval_workflow().initial, "revision": 0, "title": definition.get("title"),
                "definition": copy.deepcopy(dict(definition)), "author": author,
                "created_at": now, "updated_at": now}

    def create_workflow(self, actor: Actor, definition: Any, lang: str) -> Doc:
        """Version 1 of a new process, as a draft in the approval process (admin)."""
        self.require(actor, {"admin"}, lang)
        self.check_workflow_definition(definition, lang)
        if stored.latest(self.store, definition["key"]) is not None:
            raise Conflict(_text("exists", lang, key=definition["key"]), code="workflow_exists")
        doc = self._workflow_doc(definition, 1, author=actor.id)
        self.store.insert_workflow_version(doc)
        return self.workflow_view(doc)

    def new_workflow_version(self, actor: Actor, key: str, definition: Any, lang: str) -> Doc:
        """The next version as a draft: the definition sent, else a copy of the latest (admin)."""
        self.require(actor, {"admin"}, lang)
        latest = stored.latest(self.store, key)
        if latest is None:
            raise NotFound(_text("no_workflow", lang, key=key), code="workflow_not_found")
        if latest.get("state") is not None and self.approval_workflow(lang).is_open(latest["state"]):
            raise Conflict(_text("open_version", lang, version=latest["version"]), code="open_version")
        definition = latest["definition"] if definition is None else definition
        self.check_workflow_definition(definition, lang, key=key)
        doc = self._workflow_doc(definition, latest["version"] + 1, author=actor.id)
        self.store.insert_workflow_version(doc)
        return self.workflow_view(doc)

    def edit_workflow_version(self, actor: Actor, key: str, version: int, definition: Any,
                              payload: Mapping[str, Any], lang: str) -> Doc:
        """Replace a draft's definition; `payload` carries the revision the caller saw (admin)."""
        self.require(actor, {"admin"}, lang)
        current = stored.version(self.store, key, version)
        approval = self.approval_workflow(lang)
        if not approval.is_editable(current.get("state") or ""):
            raise Conflict(_text("not_draft", lang), code="not_draft")
        check_revision(current, payload, lang)
        self.check_workflow_definition(definition, lang, key=key)
        event = self._event(KIND, actor, "edit", approval.key, current["state"], current["state"],
                            payload.get("reason"))
        changes = {"definition": copy.deepcopy(dict(definition)), "title": definition.get("title")}
        return self.workflow_view(self.store.commit(self.store.workflows, current, changes, event))

    def workflow_version_doc(self, actor: Actor, key: str, version: int, lang: str) -> Doc:
        self.require(actor, READERS | STAFF, lang)
        return self.workflow_view(stored.version(self.store, key, version))

    def workflow_summaries(self, actor: Actor, lang: str, key: str | None = None) -> list[Doc]:
        """Each process (or the one named): its title, subject, versions with their states, the one in use."""
        self.require(actor, READERS, lang)
        docs = stored.versions(self.store, key) if key else self.store.workflow_versions()
        if key and not docs:
            raise NotFound(_text("no_workflow", lang, key=key), code="workflow_not_found")
        self.load_workflows()
        by_key: dict[str, list[Doc]] = {}
        for doc in docs:
            by_key.setdefault(doc["key"], []).append(self.workflow_view(doc))
        out = []
        for name, versions in sorted(by_key.items()):
            latest = versions[-1]
            out.append({"key": name, "title": latest["definition"].get("title"),
                        "subject": definitions.subjects(latest["definition"]),
                        "in_use_version": self._latest_workflow.get(name),
                        "latest_version": latest["version"], "latest_state": latest["state"],
                        "versions": [{k: v[k] for k in ("version", "state", "state_title", "in_use", "author",
                                                        "created_at")} for v in versions]})
        return out

    def workflow_view(self, doc: Doc) -> Doc:
        """A stored version with its state's title and whether it is the one that runs."""
        approval = self.approval_workflow()
        state = doc.get("state")
        runs = state is None or approval.is_in_use(state)
        return dict(doc, state=state or "", in_use=runs,
                    state_title={lang: approval.state_title(state, lang) if state else "" for lang in
                                 ("zh-CN", "en")})

    # -- approval --------------------------------------------------------------------------------

    def _in_approval(self, key: str, version: int, lang: str) -> Doc:
        current = stored.version(self.store, key, version)
        if current.get("state") is None:
            raise Conflict(_text("not_in_approval", lang), code="not_in_approval")
        return current

    def workflow_options(self, actor: Actor, key: str, version: int, lang: str) -> list[Doc]:
        self.require(actor, READERS, lang)
        doc = self._in_approval(key, version, lang)
        return self.options_on(self.approval_workflow(lang), doc, actor, lang)

    def fire_workflow(self, actor: Actor, key: str, version: int, trigger: str, payload: Mapping[str, Any],
                      lang: str) -> Doc:
        """Move a version through the approval process; one approved here runs here at once."""
        current = self._in_approval(key, version, lang)
        updated = self.fire(KIND, self.store.workflows, self.approval_workflow(lang), current, actor, trigger,
                            payload, lang)
        self.load_workflows()
        return self.workflow_view(updated)

    # -- diagrams ----------------------------------------------------------------------------------

    def workflow_diagram(self, actor: Actor, key: str, version: int, lang: str) -> str:
        """Version `version` of process `key` drawn as SVG (staff and admins)."""
        doc = self.workflow_version_doc(actor, key, version, lang)
        return render_svg(doc["definition"], lang)

    def progress_diagram(self, record: Doc, lang: str, *, public: bool = False) -> str:
        """The record's current process drawn with the states it passed, the one it is in and who holds it
        (the assignee, or the approvers of an open approval step). `public`: the applicant's view, which
        names nobody and shows no roles. The caller has already checked the record may be seen."""
        process = record["process"]
        workflow = self.workflow(process, (record.get("workflows") or {}).get(process))
        events = self.store.history(record["_id"], record.get("outbox"))
        holder = None if public else self._holder_names(workflow, record)
        progress = progress_of(events, process, record["state"], holder)
        return render_svg(workflow.definition, lang, progress, public=public)

    def _holder_names(self, workflow: Workflow, record: Doc) -> str | None:
        """Who holds the record now: the people an open approval step waits for, else the assignee."""
        step = (record.get("approval") or {}).get(record["state"])
        spec = workflow.approval(record["state"])
        people: list[str] = []
        if isinstance(step, Mapping) and spec is not None:
            people = list(approval_steps.holders(spec, step))
        elif record.get("assignee"):
            people = [record["assignee"]]
        names = []
        for uid in people[:5]:
            user = self.users.get(uid) if isinstance(uid, str) else None
            names.append((user or {}).get("name") or (user or {}).get("username") or "?")
        return "、".join(names) if names else None

    def workflow_history(self, actor: Actor, key: str, version: int, lang: str) -> list[Doc]:
        self.require(actor, READERS, lang)
        doc = stored.version(self.store, key, version)
        return self.store.history(doc["_id"], doc.get("outbox"))


def _place(problem: str) -> str:
    head = problem.split(": ", 1)[0]
    return head if head.startswith("/") else ""
