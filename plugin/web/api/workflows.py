"""REST API v1 for workflow (process) definitions: upload as YAML or JSON, versions, approval, diagrams.

A definition body is the definition itself: JSON (`application/json`) or YAML (`application/yaml`,
`text/yaml`, `application/x-yaml`), read within the definition limits (size, depth, no YAML anchors or
aliases: core.definitions). Editing a draft takes the revision the caller saw as `?revision=N`.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from flask import Response, jsonify, request

from counterflow.core import definitions, pointer
from counterflow.core.errors import BadRequest, Invalid
from counterflow.core.i18n import message
from counterflow.web.api import schemas as s
from counterflow.web.api.routes import _storable, actor, body, bp, event_view, ext, lang, out, schema

YAML_TYPES = ("application/yaml", "text/yaml", "application/x-yaml", "text/x-yaml")
UNREADABLE = {"zh-CN": "无法读取流程定义：{why}", "en": "The workflow definition cannot be read: {why}"}
CONTENT_TYPE = {"zh-CN": "请以 application/json 或 application/yaml 发送流程定义",
                "en": "Send the workflow definition as application/json or application/yaml"}
NOT_AN_OBJECT = {"zh-CN": "流程定义必须是一个对象（键和值的映射），不能是列表、文字或数字",
                 "en": "The workflow definition must be an object (keys and values), "
                       "not a list, text or a number"}
REVISION = {"zh-CN": "请在地址中提供 ?revision=（您看到的修订号）",
            "en": "Send the revision you are changing as ?revision=N"}


class WorkflowVersionOut(s.Schema):
    key = s.fields.String()
    version = s.fields.Integer()
    state = s.fields.String()
    state_title = s.fields.Dict()
    in_use = s.fields.Boolean()
    revision = s.fields.Integer()
    title = s.fields.Raw()
    definition = s.fields.Dict()
    author = s.fields.String()
    created_at = s.fields.String()
    updated_at = s.fields.String()
    published_at = s.fields.String(allow_none=True)


class WorkflowSummary(s.Schema):
    key = s.fields.String()
    title = s.fields.Raw()
    subject = s.fields.List(s.fields.String())
    in_use_version = s.fields.Integer(allow_none=True)
    latest_version = s.fields.Integer()
    latest_state = s.fields.String()
    versions = s.fields.List(s.fields.Dict())


def definition_body(optional: bool = False) -> Any:
    """The request's definition, parsed by its content type within the definition limits (400 otherwise);
    None when `optional` and there is no body."""
    raw = request.get_data(cache=False)
    if optional and not raw:
        return None
    if request.mimetype == "application/json":
        parse = definitions.load_json
    elif request.mimetype in YAML_TYPES:
        parse = definitions.load_yaml
    else:
        raise BadRequest(CONTENT_TYPE[lang()], code="content_type")
    try:
        found = parse(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest(UNREADABLE[lang()].format(why="not UTF-8"), code="malformed") from None
    except definitions.UnreadableDefinition as exc:
        raise BadRequest(UNREADABLE[lang()].format(why=exc), code="malformed") from None
    _storable(found)
    # The body is the definition itself, so its top level is the request's envelope: refused like any other
    # request body (400 when not an object, 422 invalid_request naming each unknown member), before the
    # service checks the definition's content (422 invalid_definition).
    if not isinstance(found, dict):
        raise BadRequest(NOT_AN_OBJECT[lang()], code="malformed")
    unknown = [name for name in found if name not in _top_level()]
    if unknown:
        details = [{"path": pointer.join([name]), "code": "unknown_field",
                    "message": message(s.MESSAGES, "unknown_field", lang(), field=name[:64])}
                   for name in unknown]
        raise Invalid(message(s.MESSAGES, "fields", lang(), count=len(details)), code="invalid_request",
                      details=details)
    return found


@lru_cache(maxsize=1)
def _top_level() -> frozenset[str]:
    """The members a workflow definition may have (the meta-schema's top-level properties)."""
    meta = json.loads(resources.files("counterflow.schemas.meta").joinpath("workflow.schema.json")
                      .read_text("utf-8"))
    return frozenset(meta["properties"])


def _revision() -> dict[str, Any]:
    given = request.args.get("revision", "")
    if not given.isdigit() or len(given) > 12:
        raise BadRequest(REVISION[lang()], code="revision_required")
    return {"revision": int(given)}


@bp.post("/api/v1/workflows", merge_slashes=False)
def create_workflow() -> tuple[Response, int]:
    who = actor()
    doc = ext().service.create_workflow(who, definition_body(), lang())
    return out(schema(WorkflowVersionOut), doc, 201)


@bp.get("/api/v1/workflows", merge_slashes=False)
def list_workflows() -> tuple[Response, int]:
    items = ext().service.workflow_summaries(actor(), lang())
    return jsonify({"items": schema(WorkflowSummary, many=True).dump(items)}), 200


@bp.get("/api/v1/workflows/<key>", merge_slashes=False)
def get_workflow(key: str) -> tuple[Response, int]:
    return out(schema(WorkflowSummary), ext().service.workflow_summaries(actor(), lang(), key)[0])


@bp.post("/api/v1/workflows/<key>/versions", merge_slashes=False)
def new_workflow_version(key: str) -> tuple[Response, int]:
    who = actor()
    doc = ext().service.new_workflow_version(who, key, definition_body(optional=True), lang())
    return out(schema(WorkflowVersionOut), doc, 201)


@bp.get("/api/v1/workflows/<key>/versions/<int:version>", merge_slashes=False)
def get_workflow_version(key: str, version: int) -> tuple[Response, int]:
    return out(schema(WorkflowVersionOut), ext().service.workflow_version_doc(actor(), key, version, lang()))


@bp.put("/api/v1/workflows/<key>/versions/<int:version>", merge_slashes=False)
def edit_workflow_version(key: str, version: int) -> tuple[Response, int]:
    who = actor()
    revision = _revision()
    doc = ext().service.edit_workflow_version(who, key, version, definition_body(), revision, lang())
    return out(schema(WorkflowVersionOut), doc)


@bp.get("/api/v1/workflows/<key>/versions/<int:version>/transitions", merge_slashes=False)
def workflow_options(key: str, version: int) -> tuple[Response, int]:
    items = ext().service.workflow_options(actor(), key, version, lang())
    return jsonify({"items": schema(s.TransitionOption, many=True).dump(items)}), 200


@bp.post("/api/v1/workflows/<key>/versions/<int:version>/transitions/<trigger>", merge_slashes=False)
def fire_workflow(key: str, version: int, trigger: str) -> tuple[Response, int]:
    payload = body(schema(s.TransitionRequest))
    doc = ext().service.fire_workflow(actor(), key, version, trigger, payload, lang())
    return out(schema(WorkflowVersionOut), doc)


@bp.get("/api/v1/workflows/<key>/versions/<int:version>/history", merge_slashes=False)
def workflow_history(key: str, version: int) -> tuple[Response, int]:
    events = ext().service.workflow_history(actor(), key, version, lang())
    return jsonify({"items": schema(s.HistoryEvent, many=True).dump([event_view(e) for e in events])}), 200


@bp.get("/api/v1/workflows/<key>/versions/<int:version>/diagram.svg", merge_slashes=False)
def workflow_diagram(key: str, version: int) -> Response:
    svg = ext().service.workflow_diagram(actor(), key, version, lang())
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
