"""Admin pages for processes: every process and its versions, each drawn as a diagram; upload, approval."""
from __future__ import annotations

from typing import Any

import yaml
from flask import redirect, render_template, request, url_for
from markupsafe import Markup

from counterflow.core import definitions
from counterflow.core.errors import CounterflowError, Invalid
from counterflow.core.i18n import text
from counterflow.web.pages.common import actor, as_int, bp, ext, lang, problems_of
from counterflow.web.pages.differences import version_differences

WORDS = {
    "processes": {"zh-CN": "流程", "en": "Processes"},
    "process": {"zh-CN": "流程", "en": "Process"},
    "in_use": {"zh-CN": "使用中的版本", "en": "Version in use"},
    "latest": {"zh-CN": "最新版本", "en": "Latest version"},
    "versions": {"zh-CN": "版本", "en": "Versions"},
    "version": {"zh-CN": "版本", "en": "Version"},
    "state": {"zh-CN": "状态", "en": "State"},
    "author": {"zh-CN": "作者", "en": "Author"},
    "open": {"zh-CN": "打开", "en": "Open"},
    "none": {"zh-CN": "无", "en": "none"},
    "upload": {"zh-CN": "上传新流程（YAML）", "en": "Upload a new process (YAML)"},
    "definition": {"zh-CN": "流程定义", "en": "Definition"},
    "create": {"zh-CN": "保存为草稿", "en": "Save as draft"},
    "new_version": {"zh-CN": "新建版本", "en": "New version"},
    "save": {"zh-CN": "保存草稿", "en": "Save the draft"},
    "diagram": {"zh-CN": "流程图", "en": "Diagram"},
    "approval": {"zh-CN": "审批", "en": "Approval"},
    "opinion": {"zh-CN": "意见", "en": "Opinion"},
    "history": {"zh-CN": "审批记录", "en": "Approval history"},
    "problems": {"zh-CN": "{count} 个问题", "en": "{count} problem(s)"},
    "bad_yaml": {"zh-CN": "无法读取：{why}", "en": "Cannot be read: {why}"},
    "shipped": {"zh-CN": "随系统加载", "en": "shipped"},
    "in_use_now": {"zh-CN": "使用中", "en": "in use"},
}
READERS = {"admin", "dept_head", "manager"}


def w() -> dict[str, str]:
    """The page's words in the request's language."""
    return {k: text(v, lang()) for k, v in WORDS.items()}


def _parsed(source: str) -> Any:
    try:
        return definitions.load_yaml(source)
    except definitions.UnreadableDefinition as exc:
        why = w()["bad_yaml"].format(why=exc)
        details = [{"path": "", "code": "malformed", "message": why}]
        raise Invalid(why, code="malformed", details=details) from None


@bp.route("/admin/workflows", methods=["GET", "POST"])
def admin_workflows() -> Any:
    who = actor()
    service = ext().service
    problems: list[Any] = []
    source = ""
    if request.method == "POST":
        source = request.form.get("definition", "")
        try:
            doc = service.create_workflow(who, _parsed(source), lang())
            return redirect(url_for("counterflow_pages.admin_workflow_version", key=doc["key"],
                                    version=doc["version"]))
        except CounterflowError as exc:
            problems = problems_of(exc)
    summaries = service.workflow_summaries(who, lang())
    return render_template("counterflow/admin_workflows.html", summaries=summaries, problems=problems,
                           source=source, w=w(), can_edit="admin" in who.roles), 422 if problems else 200


@bp.route("/admin/workflows/<key>/versions/<int:version>", methods=["GET", "POST"])
def admin_workflow_version(key: str, version: int) -> Any:
    who = actor()
    service = ext().service
    problems: list[Any] = []
    error = None
    source = None
    if request.method == "POST":
        action = request.form.get("_action", "")
        payload: dict[str, Any] = {"revision": as_int(request.form.get("revision"))}
        if request.form.get("opinion"):
            payload["opinion"] = request.form["opinion"][:2000]
        try:
            if action == "_new_version":
                doc = service.new_workflow_version(who, key, None, lang())
                return redirect(url_for("counterflow_pages.admin_workflow_version", key=key,
                                        version=doc["version"]))
            if action == "_save":
                source = request.form.get("definition", "")
                service.edit_workflow_version(who, key, version, _parsed(source), payload, lang())
            else:
                service.fire_workflow(who, key, version, action, payload, lang())
            return redirect(url_for("counterflow_pages.admin_workflow_version", key=key, version=version))
        except Invalid as exc:
            problems, error = list(exc.details), exc.message
        except CounterflowError as exc:
            error = exc.message
    doc = service.workflow_version_doc(who, key, version, lang())
    approval = service.approval_workflow(lang())
    in_approval = bool(doc.get("state")) and doc["state"] in approval.states
    reads = bool(READERS & who.roles)
    options = service.workflow_options(who, key, version, lang()) if in_approval and reads else []
    history = service.workflow_history(who, key, version, lang()) if reads else []
    if source is None:
        source = yaml.safe_dump(doc["definition"], allow_unicode=True, sort_keys=False, width=100)
    return render_template("counterflow/admin_workflow_version.html", doc=doc, options=options,
                           problems=problems, error=error, history=history, source=source,
                           diagram=Markup(service.workflow_diagram(who, key, version, lang())),
                           editable=in_approval and approval.is_editable(doc["state"]) and "admin" in
                           who.roles,
                           can_edit="admin" in who.roles, w=w(),
                           diff=version_differences("workflow", who, key, version)), \
        422 if problems or error else 200
