"""REST routes of A/B posts (issue 8, item 3): name a backup for a period, list, end at once. Acting on a
holder's behalf is `on_behalf_of` on POST /api/v1/records/{id}/transitions/{trigger} (service/backups.py)."""
from __future__ import annotations

from flask import Response, jsonify
from marshmallow import fields

from counterflow.web.api import schemas as s
from counterflow.web.api.routes import actor, body, bp, ext, lang, out, schema


class BackupCreate(s.Strict):
    backup = fields.String(required=True, validate=s.ID, metadata={"description": "the backup's username"})
    starts = fields.Date(required=True, data_key="from", metadata={"description": "first day (ISO date)"})
    until = fields.Date(required=True, metadata={"description": "last day (ISO date), at most 366 days on"})


class Person(s.Schema):
    id = fields.String()
    username = fields.String()
    name = fields.String()


class BackupOut(s.Schema):
    id = fields.String()
    holder = fields.Nested(Person)
    backup = fields.Nested(Person)
    starts = fields.String(data_key="from", attribute="from")
    until = fields.String()
    active = fields.Boolean()
    created_by = fields.String()
    created_at = fields.String()
    ended_at = fields.String(allow_none=True)
    ended_by = fields.String(allow_none=True)


class BackupList(s.Schema):
    holding = fields.List(fields.Nested(BackupOut), metadata={"description": "who stands in for me"})
    backing = fields.List(fields.Nested(BackupOut), metadata={"description": "for whom I stand in"})


def _payload() -> dict[str, object]:
    loaded = body(schema(BackupCreate))
    return {"backup": loaded["backup"], "from": loaded["starts"], "until": loaded["until"]}


@bp.post("/api/v1/me/backups", merge_slashes=False)
def create_my_backup() -> tuple[Response, int]:
    who = actor()
    return out(schema(BackupOut), ext().service.create_backup(who, None, _payload(), lang()), 201)


@bp.get("/api/v1/me/backups", merge_slashes=False)
def my_backups() -> tuple[Response, int]:
    return jsonify(schema(BackupList).dump(ext().service.my_backups(actor()))), 200


@bp.delete("/api/v1/me/backups/<backup_id>", merge_slashes=False)
def end_my_backup(backup_id: str) -> tuple[Response, int]:
    return out(schema(BackupOut), ext().service.end_backup(actor(), backup_id, lang()))


@bp.post("/api/v1/users/<username>/backups", merge_slashes=False)
def create_backup_for(username: str) -> tuple[Response, int]:
    who = actor()
    return out(schema(BackupOut), ext().service.create_backup(who, username, _payload(), lang()), 201)


__all__ = ["BackupCreate", "BackupList", "BackupOut"]
