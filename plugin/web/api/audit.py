"""REST API v1 for the audit log: the auditor's filtered, keyset-paged read (GET /api/v1/audit).

Only the `auditor` role reads the log: an admin administers the system and is audited, so an admin reads
it only when also given the auditor role (separation of duties, deny by default)."""
from __future__ import annotations

from flask import Response, jsonify
from marshmallow import fields, validate

from counterflow.web.api import openapi, schemas as s
from counterflow.web.api.routes import actor, args, bp, ext, lang, schema

DAY = validate.Regexp(r"^\d{4}-\d{2}-\d{2}$")


class AuditQuery(s.Strict):
    actor = fields.String(validate=validate.Length(min=1, max=200), metadata={"description": "a user id"})
    action = fields.String(validate=validate.Length(min=1, max=200),
                           metadata={"description": "such as login, login_failed, record.<trigger>"})
    object = fields.String(validate=validate.Length(min=1, max=200),
                           metadata={"description": "a record, form version or user id"})
    first = fields.String(data_key="from", validate=DAY,
                          metadata={"description": "first UTC day, YYYY-MM-DD"})
    last = fields.String(data_key="to", validate=DAY, metadata={"description": "last UTC day, YYYY-MM-DD"})
    cursor = fields.String(validate=validate.Length(min=1, max=64))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class AuditEntryOut(s.Schema):
    id = fields.String()
    day = fields.String()
    seq = fields.Integer()
    at = fields.String()
    action = fields.String()
    actor = fields.Dict()
    actor_id = fields.String()
    on_behalf_of = fields.String()
    object = fields.String()
    source = fields.String()
    dest = fields.String()
    reason = fields.String()
    grant = fields.String()
    request_id = fields.String()
    event = fields.String()
    details = fields.Dict()
    prev = fields.String()
    hash = fields.String()


class AuditPage(s.Schema):
    items = fields.List(fields.Nested(AuditEntryOut))
    next_cursor = fields.String(allow_none=True)


@bp.get("/api/v1/audit", merge_slashes=False)
def audit_log() -> tuple[Response, int]:
    query = args(schema(AuditQuery))
    renamed = {"from": query.pop("first", None), "to": query.pop("last", None), **query}
    items, cursor = ext().service.audit_page(actor(), {k: v for k, v in renamed.items() if v is not None},
                                             lang())
    return jsonify({"items": schema(AuditEntryOut, many=True).dump(items), "next_cursor": cursor}), 200


openapi.OPERATIONS.extend([
    ("/api/v1/audit", "get",
     "The audit log, newest first (auditor): filters by actor, action, object and UTC days, keyset-paged "
     "by next_cursor; entries name changed fields by pointer, never by value", None, AuditPage, "200",
     AuditQuery),
])
