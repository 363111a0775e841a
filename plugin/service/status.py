"""The applicant's progress look-up: no personal data, rate-limited, one answer for every miss."""
from __future__ import annotations

import hmac
from typing import Any

from counterflow.core.errors import NotFound, RateLimited
from counterflow.core.i18n import text
from counterflow.service.base import Doc, ServiceBase
from counterflow.service.messages import msg


class StatusActions(ServiceBase):
    """What an applicant may learn with a number and a query code."""

    def status(self, number: Any, code: Any, client: str, lang: str) -> Doc:
        if self.store.hit(f"status:{client}", 60) > self.settings.status_rate_limit:
            raise RateLimited(msg("rate", lang))
        not_found = NotFound(msg("status_not_found", lang), code="status_not_found")
        if (not isinstance(number, str) or not isinstance(code, str) or
                not 0 < len(number) <= 64 or not 0 < len(code) <= 32):
            raise not_found
        record = self.store.record_by_number(number)
        expected = (record or {}).get("query_code") or "-" * 8
        if not hmac.compare_digest(expected.encode(), code.strip().upper().encode()) or record is None:
            raise not_found
        return record

    def public_progress(self, record: Doc, lang: str) -> Doc:
        """What the applicant may see: the stage and the dates, no personal data, no opinions."""
        form = self.form_doc(record["form"], record["form_version"])
        workflow = self.workflow(record["process"], record["workflows"].get(record["process"]))
        steps = []
        for event in self.store.history(record["_id"], record.get("outbox")):
            if event.get("outcome") != "done" or event.get("trigger") in ("edit", "correct"):
                continue
            wf = self.workflow(event["process"], record["workflows"].get(event["process"]))
            steps.append({"at": event["at"], "process": text(wf.title, lang),
                          "state": wf.state_title(event["dest"], lang)})
        return {"acceptance_number": record["acceptance_number"], "form": text(form["title"], lang),
                "accepted_at": record.get("accepted_at"), "due_date": record.get("due_date"),
                "process": record["process"], "process_title": text(workflow.title, lang),
                "state": record["state"], "state_title": workflow.state_title(record["state"], lang),
                "finished": workflow.is_final(record["state"]), "steps": steps}
