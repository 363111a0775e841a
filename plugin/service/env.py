"""What guards and actions may ask of the service during one transition (the core's TransitionEnv)."""
from __future__ import annotations

import datetime as dt
import functools
import secrets
from typing import TYPE_CHECKING, Any, Mapping

from counterflow.core.clock import stamp
from counterflow.core.engine import Context
from counterflow.core.errors import Invalid
from counterflow.core.numbering import NumberPattern
from counterflow.service.messages import msg
from counterflow.service.reading import KeepingEnv

if TYPE_CHECKING:
    from counterflow.service.base import ServiceBase

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


class Env(KeepingEnv):
    """What the pure rules (guards, actions) may ask of the service during one transition."""

    def __init__(self, service: "ServiceBase", now: dt.datetime) -> None:
        self.service, self.now = service, now
        self.stamp = stamp(now)                     # formatted once for the whole transition
        self.local = now.astimezone(service.tz)
        self.today = self.local.date().isoformat()    # the counter's calendar day

    def completeness(self, obj: Mapping[str, Any], lang: str) -> list[dict[str, str]]:
        validator = self.service.validator(obj["form"], obj["form_version"])
        return [p.to_dict() for p in validator.check_complete(obj.get("data") or {}, lang)]

    def form_settings(self, obj: Mapping[str, Any]) -> Mapping[str, Any]:
        return self.service.form_doc(obj["form"], obj["form_version"]).get("settings", {})

    def acceptance(self, ctx: Context) -> dict[str, Any]:
        settings = self.form_settings(ctx.obj)
        pattern = _pattern(settings["numbering"])
        local = self.local
        counter_id = f"{settings['numbering']}|{pattern.period(local)}"
        seq = self.service.store.next_number(counter_id)
        ctx.notes["number"] = (counter_id, seq)
        days = int(settings.get("time_limit", {}).get("working_days", 5))
        return {"acceptance_number": pattern.format(local, seq), "accepted_at": self.stamp,
                "due_date": self.service.calendar.add_working_days(local.date(), days).isoformat(),
                "query_code": "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))}

    def notice(self, ctx: Context) -> dict[str, Any]:
        items = self.completeness(ctx.obj, ctx.lang)
        for extra in ctx.payload.get("items") or []:
            if isinstance(extra, str) and extra.strip():
                items.append({"path": "", "code": "clerk_note", "message": extra.strip()[:500]})
        if not items:
            raise Invalid(msg("nothing_to_return", ctx.lang), code="nothing_to_return",
                          details=[{"path": "/items", "code": "required",
                                    "message": msg("nothing_to_return", ctx.lang)}])
        return {"items": items, "opinion": str(ctx.payload.get("opinion") or "")[:2000],
                "at": self.stamp, "by": ctx.actor.public()}

    def assignee(self, ctx: Context) -> str:
        user_id = ctx.payload.get("assignee")
        user = self.service.store.user(user_id) if isinstance(user_id, str) else None
        if not user or "reviewer" not in user.get("roles", []) or not user.get("active", True):
            raise Invalid(msg("assignee", ctx.lang), details=[{"path": "/assignee", "code": "assignee",
                                                               "message": msg("assignee", ctx.lang)}])
        return user["_id"]

    # retention_until: KeepingEnv (service/reading.py), with the archive's other rules

    def cooling_off_ends(self, obj: Mapping[str, Any]) -> str | None:
        workflow = self.service.workflow(obj["process"], (obj.get("workflows") or {}).get(obj["process"]))
        if not workflow.states.get(obj["state"], {}).get("cooling_off"):
            return None
        since = dt.datetime.fromisoformat(str(obj.get("state_since") or self.stamp).replace("Z", "+00:00"))
        return stamp(since + dt.timedelta(days=self.service.settings.destruction_cooling_off_days))

    def disposal_items(self, obj: Mapping[str, Any]) -> int:
        from counterflow.store.disposal import DisposalStore      # only destruction lists ask
        return DisposalStore(self.service.store).count(obj["_id"], "listed")


@functools.lru_cache(maxsize=256)
def _pattern(text: str) -> NumberPattern:
    """A numbering rule parsed once (forms are few, their rules never change once published)."""
    return NumberPattern.parse(text)
