"""REST API v1 for destruction lists: the disposition list, proposing and amending a list, its decisions
(through the usual transitions endpoints), progress, and the signed certificate."""
from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from marshmallow import Schema, fields, validate

from counterflow.web.api import schemas as s
from counterflow.web.api.routes import actor, args, body, bp, ext, lang, schema

ID = validate.Length(min=1, max=64)
DATE = validate.Regexp(r"^\d{4}-\d{2}-\d{2}$")


class DestructionCreate(s.Strict):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    note = fields.String(validate=validate.Length(max=2000))
    method = fields.String(validate=validate.OneOf(["crypto_shredding"]))


class ListedRecord(s.Strict):
    id = fields.String(required=True, validate=ID)
    note = fields.String(validate=validate.Length(max=500))


class Search(s.Strict):
    form = fields.String(validate=validate.Length(min=1, max=64))
    retention_before = fields.String(validate=DATE)
    limit = fields.Integer(strict=True, validate=validate.Range(min=1, max=5000))
    note = fields.String(validate=validate.Length(max=500))


class Early(s.Strict):
    cause = fields.String(required=True, validate=validate.OneOf(["error", "duplicate"]))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ItemsAdd(s.Strict):
    records = fields.List(fields.Nested(ListedRecord), validate=validate.Length(max=5000))
    search = fields.Nested(Search)
    early = fields.Nested(Early)


class ItemAmend(s.Strict):
    action = fields.String(required=True, validate=validate.OneOf(["remove", "retain"]))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    retention_until = fields.String(validate=DATE)


class DispositionQuery(s.Strict):
    form = fields.String(validate=validate.Length(min=1, max=64))
    retention_before = fields.String(validate=DATE)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    after = fields.String(load_default="", validate=DATE)


class ListsQuery(s.Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=ID)


class ItemsQuery(s.Strict):
    status = fields.String(load_default="listed",
                           validate=validate.OneOf(["listed", "removed", "blocked", "shredded"]))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class DestructionOut(Schema):
    id = fields.String()
    number = fields.String(allow_none=True)
    title = fields.String()
    note = fields.String()
    method = fields.String()
    state = fields.String()
    state_title = fields.String()
    revision = fields.Integer()
    created_by = fields.String()
    created_at = fields.String()
    signatures = fields.List(fields.Dict())
    counts = fields.Dict()
    total = fields.Integer()
    amendable_by = fields.List(fields.String())
    adding = fields.Boolean()
    executing = fields.Boolean()
    cooling_off_until = fields.String(allow_none=True)
    completed_at = fields.String(allow_none=True)
    certificate = fields.String(allow_none=True)
    options = fields.List(fields.Dict())
    added = fields.Integer()
    skipped = fields.List(fields.Dict())


def _out(view: dict[str, Any], status: int = 200) -> tuple[Response, int]:
    return jsonify(schema(DestructionOut).dump(view)), status


@bp.get("/api/v1/destructions/disposition", merge_slashes=False)
def disposition() -> tuple[Response, int]:
    query = args(schema(DispositionQuery))
    items = ext().service.disposition(actor(), lang(), form=query.get("form"),
                                      before=query.get("retention_before"), limit=query["limit"],
                                      after=query["after"])
    return jsonify({"items": items}), 200


@bp.post("/api/v1/destructions", merge_slashes=False)
def create_destruction() -> tuple[Response, int]:
    return _out(ext().service.create_destruction_list(actor(), body(schema(DestructionCreate)), lang()), 201)


@bp.get("/api/v1/destructions", merge_slashes=False)
def list_destructions() -> tuple[Response, int]:
    query = args(schema(ListsQuery))
    views = ext().service.list_destructions(actor(), query["limit"] + 1, query.get("cursor"), lang())
    more = len(views) > query["limit"]
    views = views[:query["limit"]]
    return jsonify({"items": schema(DestructionOut, many=True).dump(views),
                    "next_cursor": views[-1]["id"] if more else None}), 200


@bp.get("/api/v1/destructions/<list_id>", merge_slashes=False)
def get_destruction(list_id: str) -> tuple[Response, int]:
    return _out(ext().service.destruction(actor(), list_id, lang()))


@bp.post("/api/v1/destructions/<list_id>/items", merge_slashes=False)
def add_destruction_items(list_id: str) -> tuple[Response, int]:
    return _out(ext().service.add_destruction_items(actor(), list_id, body(schema(ItemsAdd)), lang()))


@bp.get("/api/v1/destructions/<list_id>/items", merge_slashes=False)
def destruction_items(list_id: str) -> tuple[Response, int]:
    query = args(schema(ItemsQuery))
    items = ext().service.destruction_items(actor(), list_id, query["status"], query["limit"], lang())
    return jsonify({"items": [{k: v for k, v in i.items() if k not in ("list_status", "record_status")}
                              for i in items]}), 200


@bp.post("/api/v1/destructions/<list_id>/items/<record_id>", merge_slashes=False)
def amend_destruction_item(list_id: str, record_id: str) -> tuple[Response, int]:
    return _out(ext().service.amend_destruction_item(actor(), list_id, record_id, body(schema(ItemAmend)),
                                                     lang()))


@bp.get("/api/v1/destructions/<list_id>/transitions", merge_slashes=False)
def destruction_options(list_id: str) -> tuple[Response, int]:
    items = ext().service.destruction_options(actor(), list_id, lang())
    return jsonify({"items": schema(s.TransitionOption, many=True).dump(items)}), 200


@bp.post("/api/v1/destructions/<list_id>/transitions/<trigger>", merge_slashes=False)
def fire_destruction(list_id: str, trigger: str) -> tuple[Response, int]:
    return _out(ext().service.fire_destruction(actor(), list_id, trigger, body(schema(s.TransitionRequest)),
                                               lang()))


@bp.get("/api/v1/destructions/<list_id>/certificate", merge_slashes=False)
def destruction_certificate(list_id: str) -> Response:
    raw = ext().service.destruction_certificate(actor(), list_id, lang())
    return Response(raw, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="destruction-certificate-{list_id}.json"'})
