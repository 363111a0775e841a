"""The process designer: an admin draws a workflow (states, transitions, approval steps) in the browser.

The page (templates/counterflow/admin_workflow_designer.html, scripts under static/designer/) edits the same
definition the API takes; nothing here knows a process: the registry's names and the meta-schema's choices are
served as data, every check is the service's own (`check_workflow_definition`, the upload's), and saving goes
through the service functions the API uses (create, edit a draft, new version). Its JSON endpoints are called
by the page's own script with the session and the X-CSRF-Token header (common._protect).
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

import yaml
from flask import Response, jsonify, render_template, request, url_for

from counterflow.core import definitions, diagram, registry
from counterflow.core.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from counterflow.core.i18n import message, text
from counterflow.core.limits import MAX_DEPTH, unstorable
from counterflow.web.pages.common import actor, bp, ext, json_body, lang

READERS = frozenset({"admin", "dept_head", "manager"})       # who opens the designer (admins edit)

MESSAGES = {
    "shipped": {"zh-CN": "流程「{key}」随系统提供，只能查看；请「复制」后在副本上修改",
                "en": "Process '{key}' ships with the product and is read only; make a copy to change it"},
    "exists": {"zh-CN": "流程「{key}」已存在，请换一个标识", "en": "Process '{key}' exists; pick another key"},
    "definition": {"zh-CN": "请发送流程定义（一个对象）", "en": "Send the workflow definition (an object)"},
    "too_deep": {"zh-CN": "流程定义嵌套过深", "en": "The definition nests too deep"},
    "too_large": {"zh-CN": "数值超出可保存的范围", "en": "A number is too large to store"},
    "revision": {"zh-CN": "请提供您看到的修订号（整数）", "en": "Send the revision you saw (an integer)"},
    "trigger": {"zh-CN": "请选择一个审批操作", "en": "Pick an approval action"},
    "opinion": {"zh-CN": "意见最多 2000 字", "en": "An opinion has at most 2000 characters"},
    "text": {"zh-CN": "请发送要导入的文本（至多 1 MiB）", "en": "Send the text to import (at most 1 MiB)"},
    "unreadable": {"zh-CN": "无法读取：{why}", "en": "Cannot be read: {why}"},
    "admin_only": {"zh-CN": "只有管理员可以修改流程", "en": "Only an admin changes processes"},
    "no_version": {"zh-CN": "流程「{key}」没有版本 {version}", "en": "Process '{key}' has no version {version}"},
}
# the page's own headings (the rest of its words live in static/designer/main.js)
WORDS = {
    "designer": {"zh-CN": "流程设计器", "en": "Process designer"},
    "back": {"zh-CN": "返回流程列表", "en": "Back to the processes"},
    "version_page": {"zh-CN": "版本页（差异与审批记录）", "en": "Version page (differences and history)"},
    "needs_script": {"zh-CN": "流程设计器需要启用 JavaScript；也可以在流程页面上传 YAML。",
                     "en": "The designer needs JavaScript; you can also upload YAML on the processes page."},
}

# What each registered name does, in both languages: the designer offers these names to pick, never to type.
# tests/test_designer_pages.py asserts every registered guard, condition and action is described here.
DESCRIPTIONS: dict[str, dict[str, dict[str, str]]] = {
    "guards": {
        "materials_complete": {"zh-CN": "材料齐全：数据完整、必需材料均已上传（否则一次性列出全部缺项）",
                               "en": "Materials complete: every rule, required field and material attachment "
                                     "(else every gap at once)"},
        "is_assignee": {"zh-CN": "操作人是业务单的经办人", "en": "The caller is the record's assignee"},
        "retention_passed": {"zh-CN": "保管期限已届满", "en": "The retention period has passed"},
        "cooling_off_over": {"zh-CN": "冷静期已结束", "en": "The cooling-off period has ended"},
        "disposal_items_listed": {"zh-CN": "销毁清单中仍有待销毁的业务单",
                                  "en": "A destruction list still holds a record to destroy"},
        "not_submitter": {"zh-CN": "操作人不是创建人（旧名，建议用 separate_from: creator）",
                          "en": "The caller did not create the record "
                                "(older name for separate_from: creator)"},
        "not_author": {"zh-CN": "操作人不是模板作者（旧名，建议用 separate_from: author）",
                       "en": "The caller is not the author (older name for separate_from: author)"},
        "not_approver": {"zh-CN": "操作人未批准该销毁（旧名）",
                         "en": "The caller did not approve the destruction (older name)"},
        "is_requester": {"zh-CN": "操作人是查阅申请人", "en": "The caller made the query request"},
        "reading_request_complete": {"zh-CN": "查阅申请内容完整（业务单、期限、外部依据）",
                                     "en": "A query request is complete (records, period, outside basis)"},
        "is_first_responder": {"zh-CN": "操作人是首问负责人（或已移交的经办人）",
                               "en": "The caller owns the record "
                                     "(first responder, or assignee once handed on)"},
        "complaint_classified": {"zh-CN": "投诉已填写过错分类", "en": "The complaint names its fault class"},
        "within_reconsideration_period": {"zh-CN": "仍在复核申请期内（15 日）",
                                          "en": "Within the reconsideration period (15 days)"},
        "within_deadline": {"zh-CN": "本环节时限尚未届满", "en": "The state's own deadline has not passed"},
    },
    "conditions": {
        "second_level_required": {"zh-CN": "满足表单的二级审核规则", "en": "The form's second-level rule holds"},
        "reading_needs_manager": {"zh-CN": "查阅申请需管理层批准（外部或含敏感字段）",
                                  "en": "A query request needs a manager (outside, or sensitive fields)"},
        "callback_sampled": {"zh-CN": "抽中上级回访（30%）", "en": "Drawn for the level above's callback (30%)"},
    },
    "actions": {
        "assign_acceptance_number": {"zh-CN": "编受理号、受理时间、办结期限和查询码",
                                     "en": "Acceptance number, time, due date and query code"},
        "record_notice": {"zh-CN": "记录一次性告知的全部事项", "en": "Record the one-time notice's items"},
        "set_assignee": {"zh-CN": "设定经办人（请求中的 assignee）", "en": "Set the assignee from the request"},
        "set_retention": {"zh-CN": "计算保管期限", "en": "Set the retention date"},
        "file_in_archive": {"zh-CN": "按业务类型和年度归档", "en": "File in the archive by form and year"},
        "set_legal_hold": {"zh-CN": "设置诉讼保全（理由与依据）", "en": "Set a legal hold (reason and authority)"},
        "clear_legal_hold": {"zh-CN": "解除诉讼保全", "en": "Clear the legal hold"},
        "grant_reading": {"zh-CN": "授予查阅权限", "en": "Grant reading"},
        "revoke_reading": {"zh-CN": "撤销查阅权限", "en": "Revoke reading"},
        "record_destruction_approver": {"zh-CN": "记录销毁批准人（旧名）",
                                        "en": "Record the destruction approver (older form)"},
        "publish_form": {"zh-CN": "记录模板发布时间", "en": "Stamp a form version as published"},
        "record_answer": {"zh-CN": "记录答复及复核途径", "en": "Record the answer and the reconsideration route"},
        "record_delay_notice": {"zh-CN": "记录延期告知", "en": "Record a delay notice"},
        "draw_callback_sample": {"zh-CN": "记录回访并抽取上级回访样本",
                                 "en": "Record the callback and draw the level above's sample"},
        "record_superior_callback": {"zh-CN": "记录上级回访", "en": "Record the level above's callback"},
        "record_handover": {"zh-CN": "记录移交（在设定经办人之后）", "en": "Record a handover (after set_assignee)"},
        "sign_disposal": {"zh-CN": "记录销毁清单签名", "en": "Record who signed a destruction list"},
    },
}
_TABLES: dict[str, Mapping[str, Any]] = {"guards": registry.GUARDS, "conditions": registry.CONDITIONS,
                                         "actions": registry.ACTIONS}
_ADDED_BY_FORMAT = {"fill_duty"}        # `duty: <part>` adds it; a definition never names it


def _m(code: str, **params: Any) -> str:
    return message(MESSAGES, code, lang(), **params)


def registry_entries() -> dict[str, list[dict[str, Any]]]:
    """Every registered guard, condition and action with its description in both languages (a name without
    one is still offered, flagged `described: false`)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table, found in _TABLES.items():
        described = DESCRIPTIONS[table]
        out[table] = [{"name": name, "description": described.get(name, {"zh-CN": name, "en": name}),
                       "described": name in described}
                      for name in sorted(found) if name not in _ADDED_BY_FORMAT]
    return out


@lru_cache(maxsize=1)
def _meta() -> dict[str, Any]:
    return dict(json.loads(resources.files("counterflow.schemas.meta").joinpath("workflow.schema.json")
                           .read_text("utf-8")))


def choices() -> dict[str, list[Any]]:
    """The fixed choices of the format, read from the meta-schema (roles, inputs, approval modes, ...)."""
    meta = _meta()
    defs, state, transition = meta["$defs"], meta["properties"]["states"]["items"]["properties"], \
        meta["properties"]["transitions"]["items"]["properties"]
    approval = defs["approval"]["properties"]
    return {"roles": defs["role"]["enum"], "duties": defs["duty"]["enum"],
            "notify_kinds": defs["notify_kind"]["enum"], "requires": transition["requires"]["items"]["enum"],
            "asks": transition["asks"]["items"]["enum"], "shows": transition["shows"]["enum"],
            "clock": state["clock"]["enum"], "reading": state["reading"]["enum"],
            "timeout_actions": state["timeout"]["properties"]["action"]["enum"],
            "modes": approval["mode"]["enum"], "opinion": approval["opinion"]["enum"],
            "step_actions": approval["actions"]["items"]["enum"]}


@lru_cache(maxsize=1)
def shipped_keys() -> frozenset[str]:
    """The processes of the YAML files inside the package (workflows/): the designer opens them read only."""
    folder = resources.files("counterflow.workflows")
    return frozenset(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def _admin() -> Any:
    who = actor()
    if "admin" not in who.roles:
        raise Forbidden(_m("admin_only"), code="role")
    return who


def _reader() -> Any:
    who = actor()
    ext().service.require(who, READERS, lang())
    return who


def _definition(data: Mapping[str, Any]) -> dict[str, Any]:
    """The body's `definition`: an object the store can hold (400/422 otherwise, before any check)."""
    found = data.get("definition")
    if not isinstance(found, dict):
        raise BadRequest(_m("definition"), code="bad_definition")
    problems = unstorable(found)
    if problems and problems[0][1] == "too_deep":
        raise BadRequest(_m("too_deep") + f" ({MAX_DEPTH})", code="too_deep")
    if problems:
        raise Invalid(_m("too_large"), code="too_large_number",
                      details=[{"path": p, "code": "too_large", "message": _m("too_large")}
                               for p, _ in problems])
    return found


def _key_of(data: Mapping[str, Any]) -> str | None:
    key = data.get("key")
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > 64:
        raise BadRequest(_m("definition"), code="bad_key")
    return key


def _summary(who: Any, key: str) -> dict[str, Any] | None:
    try:
        return dict(ext().service.workflow_summaries(who, lang(), key)[0])
    except NotFound:
        return None


def problems_of(who: Any, definition: Any, key: str | None) -> list[dict[str, Any]]:
    """Every problem the upload would find (the service's own check), plus a taken key for a new process."""
    problems: list[dict[str, Any]] = []
    try:
        ext().service.check_workflow_definition(definition, lang(), key=key)
    except Invalid as exc:
        problems = [dict(d) for d in exc.details or [] if isinstance(d, dict)]
    given = definition.get("key") if isinstance(definition, dict) else None
    if key is None and isinstance(given, str) and _summary(who, given) is not None:
        problems.append({"path": "/key", "code": "exists", "message": f"/key: {_m('exists', key=given)}"})
    return problems


def _versions(summary: Mapping[str, Any] | None, key: str | None) -> list[dict[str, Any]]:
    if not summary or not key:
        return []
    return [{"version": v["version"], "state": v["state"], "state_title": v["state_title"],
             "in_use": v["in_use"], "author": v["author"], "created_at": v.get("created_at"),
             "url": url_for("counterflow_pages.admin_workflow_version", key=key, version=v["version"])}
            for v in summary["versions"]]


def _options(who: Any, key: str, version: int, doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The approval actions the caller has on this version, as the service lists them (none when the version
    was loaded from a file, outside the approval process)."""
    if not doc.get("state"):
        return []
    try:
        found = ext().service.workflow_options(who, key, version, lang())
    except (Conflict, Forbidden):
        return []
    keys = ("trigger", "title", "allowed", "requires", "asks", "reasons")
    return [{k: o.get(k) for k in keys} for o in found]


def _form_fields(schema: Any, path: list[str], titles: list[str], out: list[dict[str, Any]]) -> None:
    """Every field of a form schema as a JSON pointer with its label (nested objects walked)."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return
    for name, spec in props.items():
        spec = spec if isinstance(spec, dict) else {}
        zh = str(spec.get("title") or name)
        en = str(spec.get("x-title-en") or spec.get("title") or name)
        here = [*path, name]
        pointer_ = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in here)
        out.append({"pointer": pointer_, "title": {"zh-CN": " / ".join([*titles, zh]),
                                                   "en": " / ".join([*titles, en])}})
        if len(out) < 500 and spec.get("type") == "object":
            _form_fields(spec, here, [*titles, zh], out)


def _forms(who: Any) -> list[dict[str, Any]]:
    """Each form (its latest version) with its fields, for picking a step's field rights."""
    latest: dict[str, Mapping[str, Any]] = {}
    for doc in ext().service.all_form_versions(who, lang()):
        if doc["key"] not in latest or doc["version"] > latest[doc["key"]]["version"]:
            latest[doc["key"]] = doc
    out = []
    for key, doc in sorted(latest.items()):
        fields: list[dict[str, Any]] = []
        _form_fields(doc.get("schema"), [], [], fields)
        title = doc.get("title") or key
        out.append({"key": key, "title": title, "fields": fields})
    return out


def _people(who: Any) -> tuple[list[dict[str, Any]], list[str]]:
    if "admin" not in who.roles:
        return [], []
    users = [u for u in ext().service.list_users(who, lang()) if u.get("active", True)]
    people = [{"username": u["username"], "name": u.get("name") or u["username"], "roles": u["roles"],
               "department": u.get("department", "")} for u in users]
    return people, sorted({u["department"] for u in people if u["department"]})


def _page(key: str | None, version: int | None) -> Any:
    who = _reader()
    service = ext().service
    doc: dict[str, Any] | None = None
    summary = _summary(who, key) if key else None
    if key and summary is None:
        raise NotFound(service_text("no_workflow", key=key), code="workflow_not_found")
    if key and summary:
        wanted = version or summary["latest_version"]
        try:
            doc = dict(service.workflow_version_doc(who, key, wanted, lang()))
        except NotFound:
            raise NotFound(_m("no_version", key=key, version=wanted), code="version_not_found") from None
    approval = service.approval_workflow(lang())
    shipped = bool(key and key in shipped_keys())
    latest = bool(doc and summary and doc["version"] == summary["latest_version"])
    state = (doc or {}).get("state") or ""
    editable = "admin" in who.roles and not shipped and (doc is None or latest and (
        not state or approval.is_editable(state) or not approval.is_open(state)))
    people, departments = _people(who)
    data = {
        "lang": lang(), "key": key, "version": doc["version"] if doc else None,
        "revision": doc.get("revision") if doc else None, "state": doc.get("state") if doc else None,
        "state_title": doc.get("state_title") if doc else None,
        "is_draft": bool(doc and approval.is_editable(doc.get("state") or "")),
        "latest": latest or doc is None, "shipped": shipped, "editable": editable,
        "is_admin": "admin" in who.roles,
        "definition": doc["definition"] if doc else None,
        # a shipped process is read only here (its version page still lists what the approval process allows)
        "options": _options(who, key, doc["version"], doc) if key and doc and not shipped else [],
        "versions": _versions(summary, key),
        "registry": registry_entries(), "choices": choices(), "users": people, "departments": departments,
        "forms": _forms(who) if "admin" in who.roles else [],
        "urls": {"check": url_for("counterflow_pages.designer_check"),
                 "layout": url_for("counterflow_pages.designer_layout"),
                 "save": url_for("counterflow_pages.designer_save"),
                 "yaml": url_for("counterflow_pages.designer_yaml"),
                 "parse": url_for("counterflow_pages.designer_parse"),
                 "registry": url_for("counterflow_pages.designer_registry"),
                 "fire": url_for("counterflow_pages.designer_fire", key=key, version=doc["version"])
                 if key and doc else None,
                 "designer": url_for("counterflow_pages.designer_new"),
                 "list": url_for("counterflow_pages.admin_workflows")},
        "messages": {"shipped": _m("shipped", key=key) if shipped else None},
    }
    title = text(doc["definition"].get("title"), lang()) if doc else None
    return render_template("counterflow/admin_workflow_designer.html", data=data, title=title, doc=doc,
                           w={k: text(v, lang()) for k, v in WORDS.items()})


def service_text(code: str, **params: Any) -> str:
    from counterflow.service.workflows import MESSAGES as SERVICE

    return message(SERVICE, code, lang(), **params)


@bp.get("/admin/workflows/designer")
def designer_new() -> Any:
    return _page(None, None)


@bp.get("/admin/workflows/<key>/designer")
def designer_edit(key: str) -> Any:
    version = request.args.get("version", "")
    return _page(key, int(version) if version.isdigit() and len(version) < 10 else None)


@bp.get("/admin/workflows/designer/registry.json")
def designer_registry() -> Response:
    _reader()
    return jsonify({**registry_entries(), "choices": choices()})


@bp.post("/admin/workflows/designer/check")
def designer_check() -> Response:
    """The upload's checks on a definition being drawn: every problem with its place; nothing is written."""
    who = _reader()
    data = json_body(("definition", "key"))
    definition = _definition(data)
    return jsonify({"problems": problems_of(who, definition, _key_of(data))})


@bp.post("/admin/workflows/designer/layout")
def designer_layout() -> Response:
    """Where to draw each state and transition (core/diagram.py's layered layout); the format holds no
    coordinates. Only well-formed states and transitions are laid out, so a half-drawn process still draws."""
    _reader()
    definition = _definition(json_body(("definition",)))
    given = definition.get("states")
    states = [s for s in (given if isinstance(given, list) else [])
              if isinstance(s, dict) and isinstance(s.get("name"), str)]
    names = {s["name"] for s in states}
    transitions: list[dict[str, Any]] = []
    listed = definition.get("transitions")
    for t in listed if isinstance(listed, list) else []:
        if not isinstance(t, dict) or not isinstance(t.get("dest"), str):
            continue
        raw = t.get("source")
        sources = [s for s in (raw if isinstance(raw, list) else [raw]) if isinstance(s, str) and s in names]
        if sources and t["dest"] in names:
            branch = t.get("branch")
            clean = {"trigger": str(t.get("trigger") or ""), "title": t.get("title"), "source": sources,
                     "dest": t["dest"], "roles": [r for r in t.get("roles") or [] if isinstance(r, str)]}
            if isinstance(branch, dict) and isinstance(branch.get("dest"), str) and branch["dest"] in names:
                clean["branch"] = {"dest": branch["dest"]}
            transitions.append(clean)
    shape = {"key": definition.get("key"), "initial": definition.get("initial"),
             "states": [{k: s[k] for k in ("name", "title", "deadline", "clock") if k in s}
                        for s in states[:100]], "transitions": transitions[:500]}
    try:
        geo = diagram.layout(shape, lang())
    except (TypeError, ValueError, KeyError, AttributeError):      # titles of the wrong type: draw in a row
        geo = diagram.layout({**shape, "states": [{"name": s["name"]} for s in states[:100]],
                              "transitions": [dict(t, title=None) for t in transitions[:500]]}, lang())
    boxes = {name: {"x": round(b.xy[0], 1), "y": round(b.xy[1], 1), "w": round(b.w, 1), "h": round(b.h, 1)}
             for name, b in geo["boxes"].items()}
    routes = [{"source": s, "dest": d, "points": [[round(x, 1), round(y, 1)] for x, y in points]}
              for (s, d), points in geo["routes"].items()]
    return jsonify({"states": boxes, "routes": routes})


@bp.post("/admin/workflows/designer/save")
def designer_save() -> Response:
    """Save what was drawn through the service functions the API uses: a new key is created, the latest draft
    is updated (with the revision seen), a published process gets a new version. Refused as a whole (422 with
    every problem) when the upload would refuse it; shipped processes are never changed here."""
    who = _admin()
    service = ext().service
    data = json_body(("definition", "key", "version", "revision"))
    definition = _definition(data)
    key = _key_of(data)
    if key is None:
        problems = problems_of(who, definition, None)
        if problems:
            raise Invalid(service_text("definition", count=len(problems)), code="invalid_definition",
                          details=problems)
        doc = service.create_workflow(who, definition, lang())
    else:
        if key in shipped_keys():
            raise Conflict(_m("shipped", key=key), code="shipped")
        summary = _summary(who, key)
        if summary is None:
            raise NotFound(service_text("no_workflow", key=key), code="workflow_not_found")
        approval = service.approval_workflow(lang())
        version = data.get("version")
        if approval.is_editable(summary["latest_state"] or "") and version == summary["latest_version"]:
            revision = data.get("revision")
            if not isinstance(revision, int) or isinstance(revision, bool):
                raise BadRequest(_m("revision"), code="revision_required")
            doc = service.edit_workflow_version(who, key, summary["latest_version"], definition,
                                                {"revision": revision}, lang())
        else:
            doc = service.new_workflow_version(who, key, definition, lang())
    return jsonify(_saved(who, doc))


def _saved(who: Any, doc: Mapping[str, Any]) -> dict[str, Any]:
    key, version = doc["key"], doc["version"]
    approval = ext().service.approval_workflow(lang())
    state = doc.get("state") or ""
    return {"key": key, "version": version, "revision": doc.get("revision"), "state": doc.get("state"),
            "state_title": doc.get("state_title"), "is_draft": approval.is_editable(state),
            "editable": "admin" in who.roles and (approval.is_editable(state) or not approval.is_open(state)),
            "designer": url_for("counterflow_pages.designer_edit", key=key),
            "fire": url_for("counterflow_pages.designer_fire", key=key, version=version),
            "options": _options(who, key, version, doc), "versions": _versions(_summary(who, key), key)}


@bp.post("/admin/workflows/<key>/versions/<int:version>/designer/fire")
def designer_fire(key: str, version: int) -> Response:
    """One of the approval process's transitions on this version (submit, review, approve, ...: whatever the
    service lists as options; the page never names one)."""
    who = _reader()
    data = json_body(("trigger", "revision", "opinion"))
    trigger, revision, opinion = data.get("trigger"), data.get("revision"), data.get("opinion")
    if not isinstance(trigger, str) or not trigger or len(trigger) > 64:
        raise BadRequest(_m("trigger"), code="bad_trigger")
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise BadRequest(_m("revision"), code="revision_required")
    payload: dict[str, Any] = {"revision": revision}
    if opinion is not None:
        if not isinstance(opinion, str) or len(opinion) > 2000:
            raise BadRequest(_m("opinion"), code="bad_opinion")
        if opinion.strip():
            payload["opinion"] = opinion
    doc = ext().service.fire_workflow(who, key, version, trigger, payload, lang())
    return jsonify(_saved(who, doc))


@bp.post("/admin/workflows/designer/yaml")
def designer_yaml() -> Response:
    """The definition as YAML text, for the export (JSON is written by the page itself)."""
    _reader()
    definition = _definition(json_body(("definition",)))
    return jsonify({"text": yaml.safe_dump(definition, allow_unicode=True, sort_keys=False, width=100)})


@bp.post("/admin/workflows/designer/parse")
def designer_parse() -> Response:
    """An imported file's text (YAML or JSON) read within the definition limits: the definition, or 400."""
    _reader()
    data = json_body(("text",))
    source = data.get("text")
    if not isinstance(source, str) or len(source) > definitions.MAX_DEFINITION_BYTES:
        raise BadRequest(_m("text"), code="bad_text")
    try:
        found = definitions.load_json(source) if source.lstrip().startswith("{") else \
            definitions.load_yaml(source)
    except definitions.UnreadableDefinition as exc:
        raise BadRequest(_m("unreadable", why=str(exc)[:300]), code="malformed") from None
    if not isinstance(found, dict):
        raise BadRequest(_m("definition"), code="malformed")
    return jsonify({"definition": _definition({"definition": found})})
