"""REST API v1: revealing a record's protected values in full (a permitted role, a reason, logged)."""
from __future__ import annotations

from flask import Response, jsonify
from marshmallow import fields as f, validate

from counterflow.web.api import schemas as s
from counterflow.web.api.routes import actor, body, bp, ext, lang, schema


class RevealRequest(s.Strict):
    wanted = f.List(f.String(validate=validate.Length(min=1, max=300)), required=True, data_key="fields",
                    validate=validate.Length(min=1, max=50))
    reason = f.String(required=True, validate=validate.Length(max=500))


@bp.post("/api/v1/records/<record_id>/reveal", merge_slashes=False)
def reveal_record(record_id: str) -> tuple[Response, int]:
    """`{fields: [pointers], reason}` -> `{id, values: {pointer: value}}`; 403 without the role, 422 without
    a reason or for a field that is not protected."""
    payload = body(schema(RevealRequest))
    wanted = {"fields": payload["wanted"], "reason": payload["reason"]}
    return jsonify(ext().service.reveal(actor(), record_id, wanted, lang())), 200
