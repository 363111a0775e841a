"""Domain errors: a machine code, an HTTP status and a human message, in one place."""
from __future__ import annotations

from typing import Any


class CounterflowError(Exception):
    """Base of every error the product turns into `{"error": {...}}`."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None,
                 details: list[dict[str, Any]] | dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details if details is not None else []

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(CounterflowError):
    status, code = 400, "bad_request"


class Unauthorized(CounterflowError):
    status, code = 401, "unauthorized"


class Forbidden(CounterflowError):
    status, code = 403, "forbidden"


class NotFound(CounterflowError):
    status, code = 404, "not_found"


class Conflict(CounterflowError):
    status, code = 409, "conflict"


class TooLarge(CounterflowError):
    status, code = 413, "too_large"


class Invalid(CounterflowError):
    """422: details list every problem at once, each `{"path", "code", "message"}`."""

    status, code = 422, "invalid"


class RateLimited(CounterflowError):
    status, code = 429, "rate_limited"


class StoreUnavailable(CounterflowError):
    status, code = 503, "store_unavailable"


class DefinitionError(Exception):
    """A shipped or uploaded definition is wrong; the message names file, place and fix."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
