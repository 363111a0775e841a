"""Destruction list pages (records administration): the lists with their progress, and the printable
certificate."""
from __future__ import annotations

import json
from typing import Any

from flask import render_template

from counterflow.web.pages.common import actor, bp, ext, lang


@bp.get("/admin/destructions")
def destructions() -> Any:
    lists = ext().service.list_destructions(actor(), 200, None, lang())
    running = any(v["executing"] and not v["certificate"] for v in lists)
    return render_template("counterflow/destructions.html", lists=lists, running=running)


@bp.get("/admin/destructions/<list_id>/certificate")
def destruction_certificate(list_id: str) -> Any:
    envelope = json.loads(ext().service.destruction_certificate(actor(), list_id, lang()))
    return render_template("counterflow/destruction_certificate.html", envelope=envelope,
                           certificate=envelope["certificate"], list_id=list_id)
