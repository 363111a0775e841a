"""REST API v1 for approved reading (query requests and their grants), and the clock-offset header."""
from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from marshmallow import fields, validate

from counterflow.core import clock
from counterflow.web.api import openapi, schemas as s
from counterflow.web.api.routes import actor, args, body, bp, ext, lang, schema

# a shifted clock (test and training installations) is announced on every response
CLOCK_HEADER = "X-Counterflow-Clock-Offset"


@bp.after_app_request
def _clock_offset(response: Any) -> Any:
    shifted = clock.offset()
    if shifted:
        response.headers[CLOCK_HEADER] = shifted.text
    return response


# -- schemas ---------------------------------------------------------------------------------------------

class ReadingSearch(s.Strict):
    form = fields.String(validate=s.ID)
    process = fields.String(validate=s.ID)
    state = fields.String(validate=s.ID)
    number = fields.String(validate=s.ID)


class QueryRequestCreate(s.Strict):
    purpose = fields.String(required=True, validate=validate.Length(min=4, max=500))
    records = fields.List(fields.String(validate=s.ID), validate=validate.Length(max=200))
    search = fields.Nested(ReadingSearch)
    period_from = fields.Date(required=True)
    period_until = fields.Date(required=True)
    outside = fields.Boolean()
    outside_body = fields.String(validate=validate.Length(max=200))
    legal_basis = fields.String(validate=validate.Length(max=1000))
    document = fields.String(validate=s.ID)


class GrantOut(s.Schema):
    id = fields.String()
    grantee = fields.String()
    record = fields.String()
    starts = fields.String(data_key="from")
    until = fields.String()
    request = fields.String()
    granted_by = fields.String()
    granted_at = fields.String()
    active = fields.Boolean()


class QueryRequestOut(s.Schema):
    id = fields.String()
    state = fields.String()
    state_title = fields.String()
    revision = fields.Integer()
    created_by = fields.String()
    department = fields.String()
    created_at = fields.String()
    updated_at = fields.String()
    data = fields.Dict()
    granted_at = fields.String(allow_none=True)
    revoked_at = fields.String(allow_none=True)
    grants = fields.List(fields.Nested(GrantOut))


class QueryRequestList(s.Schema):
    items = fields.List(fields.Nested(QueryRequestOut))
    next_cursor = fields.String(allow_none=True)


class QueryRequestsQuery(s.Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=s.ID)


# -- routes ----------------------------------------------------------------------------------------------

def _view(doc: dict[str, Any], with_grants: bool = True) -> dict[str, Any]:
    service = ext().service
    workflow = service.workflow(doc["process"], doc["workflows"].get(doc["process"]))
    view = dict(doc, id=doc["_id"], state_title=workflow.state_title(doc["state"], lang()))
    view.pop("grants", None)
    if with_grants:
        view["grants"] = [dict(g, id=g["_id"], starts=g.get("from"))
                          for g in service.query_request_grants(doc)]
    return view


@bp.post("/api/v1/query-requests", merge_slashes=False)
def create_query_request() -> tuple[Response, int]:
    payload = body(schema(QueryRequestCreate))
    for name in ("period_from", "period_until"):
        payload[name] = payload[name].isoformat()
    doc = ext().service.create_query_request(actor(), payload, lang())
    return jsonify(schema(QueryRequestOut).dump(_view(doc))), 201


@bp.get("/api/v1/query-requests", merge_slashes=False)
def list_query_requests() -> tuple[Response, int]:
    query = args(schema(QueryRequestsQuery))
    limit = query["limit"]
    docs = ext().service.query_requests(actor(), limit + 1, query.get("cursor"), lang())
    more = len(docs) > limit
    docs = docs[:limit]
    return jsonify({"items": schema(QueryRequestOut, many=True).dump([_view(d, False) for d in docs]),
                    "next_cursor": docs[-1]["_id"] if more else None}), 200


@bp.get("/api/v1/query-requests/<record_id>", merge_slashes=False)
def get_query_request(record_id: str) -> tuple[Response, int]:
    doc = ext().service.query_request(actor(), record_id, lang())
    return jsonify(schema(QueryRequestOut).dump(_view(doc))), 200


@bp.get("/api/v1/query-requests/<record_id>/transitions", merge_slashes=False)
def query_request_options(record_id: str) -> tuple[Response, int]:
    items = ext().service.query_request_options(actor(), record_id, lang())
    return jsonify({"items": schema(s.TransitionOption, many=True).dump(items)}), 200


@bp.post("/api/v1/query-requests/<record_id>/transitions/<trigger>", merge_slashes=False)
def fire_query_request(record_id: str, trigger: str) -> tuple[Response, int]:
    doc = ext().service.fire_query_request(actor(), record_id, trigger, body(schema(s.TransitionRequest)),
                                           lang())
    return jsonify(schema(QueryRequestOut).dump(_view(doc))), 200


openapi.OPERATIONS.extend([
    ("/api/v1/query-requests", "post",
     "Ask to read archived records (records or a search, a period, a purpose; an outside request with its "
     "legal basis and document): a draft the requester then submits", QueryRequestCreate, QueryRequestOut,
     "201", None),
    ("/api/v1/query-requests", "get", "The query requests the caller may see", None, QueryRequestList, "200",
     QueryRequestsQuery),
    ("/api/v1/query-requests/{id}", "get", "A query request with its grants (each active or not)", None,
     QueryRequestOut, "200", None),
    ("/api/v1/query-requests/{id}/transitions", "get",
     "Triggers the caller may fire on a query request (submit, approve, reject, revoke...)", None, None,
     "200", None),
    ("/api/v1/query-requests/{id}/transitions/{trigger}", "post",
     "Move a query request: approval into a granting state writes its grants, revoking ends them at once",
     s.TransitionRequest, QueryRequestOut, "200", None),
])
