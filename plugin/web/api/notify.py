"""REST routes of notifications: the inbox, the worklists, the applicant's satisfaction rating."""
from __future__ import annotations

from flask import Response, jsonify, request
from marshmallow import fields, validate

from counterflow.web.api import schemas as s
from counterflow.web.api.openapi import OPERATIONS
from counterflow.web.api.routes import actor, args, body, bp, ext, lang, record_view, schema


class PageQuery(s.Strict):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(min=1, max=300))
    lang = fields.String(validate=validate.Length(max=16))


class WorklistQuery(PageQuery):
    on_behalf_of = fields.String(validate=validate.Length(min=1, max=64))    # an A/B post's holder (username)


class InboxQuery(PageQuery):
    unread = fields.Boolean(load_default=False)


class EntryOut(s.Schema):
    id = fields.String()
    kind = fields.String()
    record_id = fields.String(allow_none=True)
    acceptance_number = fields.String(allow_none=True)
    at = fields.String()
    subject = fields.String()
    body = fields.String()
    read = fields.Boolean()
    read_at = fields.String(allow_none=True)


class EntryList(s.Schema):
    items = fields.List(fields.Nested(EntryOut))
    next_cursor = fields.String(allow_none=True)


class WorklistOut(s.Schema):
    name = fields.String()
    kind = fields.String(metadata={"description": "records (items are records) or entries (inbox entries)"})
    items = fields.List(fields.Dict())
    next_cursor = fields.String(allow_none=True)


class RatingRequest(s.Strict):
    number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    score = fields.Integer(required=True, strict=True)
    comment = fields.String(validate=validate.Length(max=1000))


class RatingOut(s.Schema):
    score = fields.Integer()
    comment = fields.String()
    at = fields.String()


@bp.get("/api/v1/inbox", merge_slashes=False)
def inbox() -> tuple[Response, int]:
    query = args(schema(InboxQuery))
    limit = query["limit"]
    entries = ext().service.inbox(actor(), query["unread"], limit + 1, query.get("cursor"), lang())
    more = len(entries) > limit
    entries = entries[:limit]
    return jsonify({"items": schema(EntryOut, many=True).dump(entries),
                    "next_cursor": entries[-1]["listed"] if more else None}), 200


@bp.post("/api/v1/inbox/<entry_id>/read", merge_slashes=False)
def inbox_read(entry_id: str) -> tuple[Response, int]:
    entry = ext().service.mark_read(actor(), entry_id, lang())
    return jsonify(schema(EntryOut).dump(entry)), 200


@bp.get("/api/v1/worklists/<name>", merge_slashes=False)
def worklist(name: str) -> tuple[Response, int]:
    query = args(schema(WorklistQuery))
    limit = query["limit"]
    kind, items = ext().service.worklist(actor(), name, limit + 1, query.get("cursor"), lang(),
                                         on_behalf_of=query.get("on_behalf_of"))
    more = len(items) > limit
    items = items[:limit]
    if kind == "records":
        cursor = items[-1]["listed"] if more else None
        shown = schema(s.RecordOut, many=True).dump([record_view(d) for d in items])
    else:
        cursor = items[-1]["listed"] if more else None
        shown = schema(EntryOut, many=True).dump(items)
    return jsonify({"name": name, "kind": kind, "items": shown, "next_cursor": cursor}), 200


@bp.post("/api/v1/status/rating", merge_slashes=False)
def rate() -> tuple[Response, int]:
    given = body(schema(RatingRequest))
    rating = ext().service.rate(given["number"], given["code"], given["score"], given.get("comment"),
                                request.remote_addr or "-", lang())
    return jsonify(schema(RatingOut).dump(rating)), 201


OPERATIONS.extend([
    ("/api/v1/inbox", "get", "The caller's in-app notifications, newest first (unread=true: only unread)",
     None, EntryList, "200", InboxQuery),
    ("/api/v1/inbox/{entry_id}/read", "post", "Mark one of the caller's notifications read",
     None, EntryOut, "200", None),
    ("/api/v1/worklists/{name}", "get",
     "A worklist: mine, department, due_soon, overdue, acknowledge (records); copied, urged, delegated, "
     "on_my_behalf (inbox entries: what an A/B post's backup did for the caller). Newest first, cursor "
     "paging; on_behalf_of=<username>: the list of the holder whose backup the caller is today",
     None, WorklistOut, "200", WorklistQuery),
    ("/api/v1/status/rating", "post",
     "The applicant rates the service once per record, with the number and query code (public, "
     "rate-limited)", RatingRequest, RatingOut, "201", None),
])
