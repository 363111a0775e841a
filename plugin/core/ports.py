"""The protocol through which guards and actions reach the rest of the product (the store among it).

The core declares it; the service implements it (`counterflow.service.env.Env`). A guard or
action sees only these members, so the pure core never imports the store or the web layer.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Protocol

if TYPE_CHECKING:
    from counterflow.core.engine import Context


class TransitionEnv(Protocol):
    stamp: str          # the transition's time, as stored
    today: str          # the counter's calendar day (ISO date, in the configured zone)

    def completeness(self, obj: Mapping[str, Any], lang: str) -> list[dict[str, str]]:
        """Every missing or wrong item of the object's data, all at once."""

    def form_settings(self, obj: Mapping[str, Any]) -> Mapping[str, Any]:
        """The settings of the form version the object was created with."""

    def acceptance(self, ctx: "Context") -> dict[str, Any]:
        """A gap-free acceptance number, due date and query code (draws from the store's counter)."""

    def notice(self, ctx: "Context") -> dict[str, Any]:
        """The one-time notice (一次性告知): every item the applicant must still supply."""

    def assignee(self, ctx: "Context") -> str:
        """The user named in the request, if they exist and may take the work."""

    def retention_until(self, obj: Mapping[str, Any]) -> str:
        """The day the retention period ends, from the form's rule."""

    def cooling_off_ends(self, obj: Mapping[str, Any]) -> str | None:
        """When the object's cooling-off period ends (a stamp), or None when its state has none."""

    def disposal_items(self, obj: Mapping[str, Any]) -> int:
        """How many records a destruction list still holds to destroy."""
