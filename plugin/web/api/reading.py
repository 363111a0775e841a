"""REST API v1 for approved reading (query requests and their grants), and the clock-offset header."""
from __future__ import annotations

from typing import Any

from counterflow.core import clock
from counterflow.web.api.routes import bp

# a shifted clock (test and training installations) is announced on every API response
CLOCK_HEADER = "X-Counterflow-Clock-Offset"


@bp.after_app_request
def _clock_offset(response: Any) -> Any:
    shifted = clock.offset()
    if shifted:
        response.headers[CLOCK_HEADER] = shifted.text
    return response
