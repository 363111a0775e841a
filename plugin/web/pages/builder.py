"""The form builder: admins build, check, preview and submit a form definition without typing JSON.

The page is server-rendered; static/builder/*.js edit the definition in the browser and call the JSON
endpoints below (session login, CSRF token in the X-CSRF-Token header, errors as the API's JSON body).
Saving goes through the same service functions as the API, so the builder can never store what the API
would refuse; the preview uses the clerk's renderer and, in "try it", the clerk's completeness check.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from flask import jsonify, render_template, url_for

from counterflow.core.diagram import ROLE_TITLES
from counterflow.core.errors import BadRequest, Conflict, Invalid, TooLarge
from counterflow.core.i18n import text
from counterflow.core.masking import KINDS
from counterflow.core.roles import ROLES, STAFF
from counterflow.forms.render import render_fields
from counterflow.forms.validate import FormValidator
from counterflow.service.messages import check_revision
from counterflow.web.pages.common import actor, bp, ext, json_body, lang, t
from counterflow.web.pages.uitext import UI

DEFINITION_KEYS = ("key", "title", "description", "schema", "ui_schema", "settings")
MAX_DEFINITION_BYTES = 512 * 1024       # the schema alone may be 256 KiB (docs/definitions.md)
SENSITIVE_TITLES = {
    "id_number": {"zh-CN": "身份证件号码", "en": "ID number"},
    "bank_card": {"zh-CN": "银行卡号", "en": "Bank card number"},
    "phone": {"zh-CN": "电话号码", "en": "Phone number"},
    "name": {"zh-CN": "姓名", "en": "Personal name"},
    "address": {"zh-CN": "地址", "en": "Address"},
    "secret": {"zh-CN": "其他保密信息", "en": "Other secret"},
}


def _admin() -> Any:
    who = actor()
    ext().service.require(who, {"admin"}, lang())
    return who


# the builder's own words for removing a field that conditions name (here, beside the page using them)
TEXTS: dict[str, dict[str, str]] = {
    "conditions_name_it": {"zh-CN": "以下 {n} 个条件引用了这个字段：",
                           "en": "{n} condition(s) name this field:"},
    "drop_conditions": {"zh-CN": "一并删除这些条件", "en": "Remove these conditions too"},
    "conditions_dropped": {"zh-CN": "已一并删除 {n} 个条件。", "en": "{n} condition(s) removed too."},
    "second_level_rule": {"zh-CN": "二级审核规则", "en": "Second-level review rule"},
    "dangling_condition": {"zh-CN": "条件引用了表单中没有的字段：{names}；请修改或删除该条件",
                           "en": "the condition names a field the form does not have: {names}; change or "
                                 "remove the condition"},
}


def _texts() -> dict[str, str]:
    """Every builder word in the page's language, for the scripts."""
    words = {k[2:]: text(v, lang()) for k, v in UI.items() if k.startswith("b_")}
    return {**words, **{k: text(v, lang()) for k, v in TEXTS.items()}}


def _definition_of(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: doc.get(k) for k in DEFINITION_KEYS}
    if not out.get("description"):
        out.pop("description")
    return out


def _status(who: Any, doc: Mapping[str, Any]) -> dict[str, Any]:
    """A saved version as the builder shows it: where it stands and what this admin may do next."""
    service = ext().service
    options = service.form_options(who, doc["key"], doc["version"], lang())
    return {"key": doc["key"], "version": doc["version"], "revision": doc["revision"], "state": doc["state"],
            "state_title": service.form_workflow().state_title(doc["state"], lang()),
            "editable": service.form_workflow().is_editable(doc["state"]),
            "open": service.form_workflow().is_open(doc["state"]),
            "url": url_for("counterflow_pages.admin_form_version", key=doc["key"], version=doc["version"]),
            "builder_url": url_for("counterflow_pages.form_builder_of", key=doc["key"]),
            "options": [{"trigger": o["trigger"], "title": o["title"], "allowed": o["allowed"],
                         "reasons": [r.get("message", "") for r in o["reasons"]],
                         "requires": o["requires"], "asks": o["asks"]} for o in options]}


def _page(who: Any, doc: Mapping[str, Any] | None) -> Any:
    service = ext().service
    processes = [{"key": w.key, "title": w.definition.get("title") or {"zh-CN": w.key, "en": w.key}}
                 for w in service.record_workflows()]
    data = {
        "lang": lang(), "definition": _definition_of(doc) if doc else None,
        "key": doc["key"] if doc else None, "version": doc["version"] if doc else None,
        "revision": doc["revision"] if doc else None, "status": _status(who, doc) if doc else None,
        "processes": processes,
        # the roles a field may be shown to (x-visible-to): those that read records, so not admin
        "roles": [{"value": r, "title": ROLE_TITLES.get(r, {"zh-CN": r, "en": r})}
                  for r in ROLES if r in STAFF],
        "sensitive_kinds": [{"value": True if k == "secret" else k, "title": SENSITIVE_TITLES[k]}
                            for k in KINDS],
        "endpoints": {"preview": url_for("counterflow_pages.form_builder_preview"),
                      "save": url_for("counterflow_pages.form_builder_save"),
                      "numbering": "/admin/forms/numbering-preview",
                      "templates": "/admin/forms/templates/"},
        "t": _texts(),
    }
    return render_template("counterflow/admin_form_builder.html", data=data, doc=doc)


@bp.get("/admin/forms/builder")
def form_builder() -> Any:
    return _page(_admin(), None)


@bp.get("/admin/forms/<key>/builder")
def form_builder_of(key: str) -> Any:
    who = _admin()
    service = ext().service
    doc = service.store.latest_form_version(key)
    if doc is None:
        service.form_version(who, key, 1, lang())          # the service's own 404, in the page's language
    return _page(who, doc)


def _definition(body: Mapping[str, Any]) -> dict[str, Any]:
    definition = body.get("definition")
    if not isinstance(definition, dict):
        raise BadRequest(t("b_definition_object"), code="bad_definition")
    if len(json.dumps(definition, ensure_ascii=False).encode()) > MAX_DEFINITION_BYTES:
        raise TooLarge(t("b_too_large", limit=MAX_DEFINITION_BYTES // 1024), code="too_large")
    return definition


def definition_problems(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every problem the API would refuse the definition for, each with its JSON pointer."""
    try:
        ext().service.check_definition(definition, lang())
    except Invalid as exc:
        return [dict(p) for p in exc.details] if isinstance(exc.details, list) else \
            [{"path": "", "code": exc.code, "message": exc.message}]
    return []


@bp.post("/admin/forms/builder/preview")
def form_builder_preview() -> Any:
    """The clerk's page for a definition being built, and what is wrong with the definition; with
    "try": the completeness check a clerk gets on accepting, every message at once."""
    _admin()
    body = json_body(("definition", "data", "try"))
    definition = _definition(body)
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise BadRequest(t("b_data_object"), code="bad_data")
    problems = definition_problems(definition)
    schema, ui = definition.get("schema"), definition.get("ui_schema") or {}
    gaps: list[dict[str, Any]] = []
    html, rendered = "", False
    if isinstance(schema, dict) and isinstance(ui, dict):
        try:
            if body.get("try") is True and not problems:
                gaps = [p.to_dict() for p in FormValidator(schema, ui).check_complete(data, lang())]
            html = str(render_fields(schema, ui, data, gaps, lang(), tz=ext().service.tz))
            rendered = True
        except (RecursionError, KeyError, TypeError, ValueError, AttributeError, IndexError):
            # a definition the checks refuse may be one the renderer cannot lay out: its problems say why
            html, rendered = "", False
    return jsonify({"html": html, "rendered": rendered, "problems": problems, "gaps": gaps,
                    "tried": body.get("try") is True and not problems}), 200


@bp.post("/admin/forms/builder/save")
def form_builder_save() -> Any:
    """Save as draft: a new form, the draft version edited in place, or a new version after a published
    one; refused (422, nothing written) for anything the API refuses."""
    who = _admin()
    service = ext().service
    body = json_body(("definition", "key", "version", "revision"))
    definition = _definition(body)
    key = body.get("key")
    if key is not None and not isinstance(key, str):
        raise BadRequest(t("b_bad_key"), code="bad_key")
    if key is not None:
        definition = {**definition, "key": key}
    problems = definition_problems(definition)
    if problems:
        raise Invalid(t("b_refused", count=len(problems)), code="invalid_definition", details=problems)
    if key is None:
        doc = service.create_form(who, definition, lang())
        return jsonify(_status(who, doc)), 201
    latest = service.store.latest_form_version(key)
    if latest is None:
        raise BadRequest(t("b_bad_key"), code="bad_key")
    # the page saves over the version it showed: another version since then, or another change, is stale
    if body.get("version") != latest["version"] or isinstance(body.get("version"), bool):
        raise Conflict(t("b_other_version", version=latest["version"]), code="stale")
    check_revision(latest, body, lang())
    fields = {k: definition[k] for k in DEFINITION_KEYS[1:] if k in definition}
    if service.form_workflow().is_editable(latest["state"]):
        if "description" not in fields:
            fields["description"] = {}
        doc = service.edit_form_version(who, key, latest["version"],
                                        {**fields, "revision": body.get("revision")}, lang())
        return jsonify(_status(who, doc)), 200
    if service.form_workflow().is_open(latest["state"]):
        raise Conflict(t("b_in_approval", version=latest["version"]), code="open_version")
    doc = service.new_form_version(who, key, fields, lang())
    return jsonify(_status(who, doc)), 201


@bp.post("/admin/forms/<key>/versions/<int:version>/builder-action")
def form_builder_action(key: str, version: int) -> Any:
    """One of the approval steps the version's options offered (submit, …), fired as on the version page."""
    who = _admin()
    service = ext().service
    body = json_body(("trigger", "revision", "opinion"))
    trigger, opinion = body.get("trigger"), body.get("opinion")
    if not isinstance(trigger, str) or not trigger:
        raise BadRequest(t("b_no_action"), code="bad_action")
    if opinion is not None and not isinstance(opinion, str):
        raise BadRequest(t("b_no_action"), code="bad_action")
    offered = {o["trigger"] for o in service.form_options(who, key, version, lang())}
    if trigger not in offered:
        raise BadRequest(t("b_no_action"), code="bad_action")
    payload: dict[str, Any] = {"revision": body.get("revision")}
    if opinion:
        payload["opinion"] = opinion[:2000]
    doc = service.fire_form(who, key, version, trigger, payload, lang())
    return jsonify(_status(who, doc)), 200
