"""REST routes of approval steps: the step of a record, and one action on it (docs/definitions.md)."""
from __future__ import annotations

from flask import Response
from marshmallow import fields, validate

from counterflow.web.api import schemas as s
from counterflow.web.api.routes import actor, body, bp, ext, lang, out, record_view, schema

ACTIONS = ("approve", "reject", "send_back", "transfer", "delegate", "add_approver", "withdraw", "copy",
           "urge")


class ApprovalRequest(s.Strict):
    revision = fields.Integer(required=True, strict=True)
    digest = fields.String(validate=validate.Length(min=1, max=128),
                           metadata={"description": "the record's data_digest as shown (approve, reject)"})
    opinion = fields.String(validate=validate.Length(max=2000))
    reason = fields.String(validate=validate.Length(max=2000))
    to = fields.String(validate=validate.Length(min=1, max=64),
                       metadata={"description": "send_back: a state passed or 'applicant'; "
                                                "transfer, delegate, add_approver: a user id"})
    position = fields.String(validate=validate.OneOf(["before", "after"]))
    users = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                        validate=validate.Length(min=1, max=20), metadata={"description": "copy: user ids"})


class ApprovalStep(s.Schema):
    state = fields.String()
    mode = fields.String()
    revision = fields.Integer()
    data_digest = fields.String()
    tasks = fields.List(fields.Dict())
    holders = fields.List(fields.String())
    votes = fields.Dict()
    copies = fields.Dict()
    submitted_by = fields.String(allow_none=True)
    urged_at = fields.String(allow_none=True)
    send_back_to = fields.List(fields.String())
    actions = fields.List(fields.Nested(s.TransitionOption))


@bp.get("/api/v1/records/<record_id>/approval", merge_slashes=False)
def approval_step(record_id: str) -> tuple[Response, int]:
    return out(schema(ApprovalStep), ext().service.approval_state(actor(), record_id, lang()))


@bp.post("/api/v1/records/<record_id>/approval/<trigger>", merge_slashes=False)
def approval_action(record_id: str, trigger: str) -> tuple[Response, int]:
    """One step action (`trigger` is one of ACTIONS)."""
    who = actor()
    payload = body(schema(ApprovalRequest))
    doc = ext().service.approval_action(who, record_id, trigger, payload, lang())
    return out(schema(s.RecordOut), record_view(doc))
