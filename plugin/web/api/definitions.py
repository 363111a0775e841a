"""REST API v1 for definitions under review: the differences between two versions of a form or a workflow,
and checking a definition without saving it (issue 9: differences, checks)."""
from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from counterflow.web.api import schemas as s
from counterflow.web.api.routes import actor, args, body, bp, ext, lang, schema
from counterflow.web.api.workflows import definition_body


class DiffQuery(s.Strict):
    against = s.fields.Integer(strict=False, validate=s.validate.Range(min=1, max=10**9))


class Change(s.Schema):
    kind = s.fields.String()
    path = s.fields.String()
    area = s.fields.String()
    label = s.fields.Dict()
    message = s.fields.Dict()
    text = s.fields.String()
    aspects = s.fields.List(s.fields.Dict())


class DiffOut(s.Schema):
    key = s.fields.String()
    version = s.fields.Integer()
    against = s.fields.Integer(allow_none=True)
    note = s.fields.String(allow_none=True)
    counts = s.fields.Dict()
    versions = s.fields.List(s.fields.Integer())
    changes = s.fields.List(s.fields.Nested(Change))


class CheckOut(s.Schema):
    problems = s.fields.List(s.fields.Dict())


def _against() -> Any:
    return args(schema(DiffQuery)).get("against")


@bp.get("/api/v1/forms/<key>/versions/<int:version>/diff", merge_slashes=False)
def form_version_diff(key: str, version: int) -> tuple[Response, int]:
    who = actor()
    found = ext().service.form_version_diff(who, key, version, _against(), lang())
    return jsonify(schema(DiffOut).dump(found)), 200


@bp.get("/api/v1/workflows/<key>/versions/<int:version>/diff", merge_slashes=False)
def workflow_version_diff(key: str, version: int) -> tuple[Response, int]:
    who = actor()
    found = ext().service.workflow_version_diff(who, key, version, _against(), lang())
    return jsonify(schema(DiffOut).dump(found)), 200


@bp.post("/api/v1/forms/check", merge_slashes=False)
def check_form() -> tuple[Response, int]:
    who = actor()
    found = ext().service.check_form(who, body(schema(s.FormCreate)), lang())
    return jsonify(schema(CheckOut).dump(found)), 200


@bp.post("/api/v1/workflows/check", merge_slashes=False)
def check_workflow() -> tuple[Response, int]:
    who = actor()
    found = ext().service.check_workflow(who, definition_body(), lang())
    return jsonify(schema(CheckOut).dump(found)), 200
