"""REST API v1 for clocks: the working-day calendar's yearly overrides (admins) and extensions (延期)."""
from __future__ import annotations

from typing import Any

from flask import Response

from counterflow.web.api import openapi, schemas as s
from counterflow.web.api.routes import actor, body, bp, ext, lang, out, record_view, schema


@bp.get("/api/v1/calendar/<int:year>", merge_slashes=False)
def get_calendar_year(year: int) -> tuple[Response, int]:
    return out(schema(s.CalendarYear), ext().service.calendar_year(actor(), year, lang()))


@bp.put("/api/v1/calendar/<int:year>", merge_slashes=False)
def put_calendar_year(year: int) -> tuple[Response, int]:
    found = ext().service.put_calendar_year(actor(), year, body(schema(s.CalendarPut)), lang())
    return out(schema(s.CalendarYear), found)


@bp.post("/api/v1/records/<record_id>/extension", merge_slashes=False)
def request_extension(record_id: str) -> tuple[Response, int]:
    doc = ext().service.request_extension(actor(), record_id, body(schema(s.ExtensionRequest)), lang())
    return out(schema(s.RecordOut), _view(doc))


@bp.post("/api/v1/records/<record_id>/extension/decision", merge_slashes=False)
def decide_extension(record_id: str) -> tuple[Response, int]:
    doc = ext().service.decide_extension(actor(), record_id, body(schema(s.ExtensionDecision)), lang())
    return out(schema(s.RecordOut), _view(doc))


def _view(doc: dict[str, Any]) -> dict[str, Any]:
    return record_view(ext().service.opened(doc))


openapi.OPERATIONS.extend([
    ("/api/v1/calendar/{year}", "get", "A year's working-day overrides and where they come from (admin)",
     None, s.CalendarYear, "200", None),
    ("/api/v1/calendar/{year}", "put", "Replace a year's days off and extra working days (admin; every host)",
     s.CalendarPut, s.CalendarYear, "200", None),
    ("/api/v1/records/{id}/extension", "post", "Ask for an extension before the limit passes, with a reason",
     s.ExtensionRequest, s.RecordOut, "200", None),
    ("/api/v1/records/{id}/extension/decision", "post",
     "A superior approves or refuses the extension asked (never the person who asked)",
     s.ExtensionDecision, s.RecordOut, "200", None),
])
