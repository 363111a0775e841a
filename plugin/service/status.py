"""The applicant's progress look-up: no personal data, rate-limited, one answer for every miss; the result
they were told (on a failure: why and what to do next), and their satisfaction rating, once per record."""
from __future__ import annotations

import hmac
from typing import Any

from counterflow.core.clock import stamp, utcnow
from counterflow.core.errors import Conflict, NotFound, RateLimited
from counterflow.core.i18n import message, text
from counterflow.service.base import Doc, ServiceBase
from counterflow.service.messages import msg
from counterflow.service.notify import FAILURES, check_rating, event_reason, next_steps, notify_store_of, say

MESSAGES = {
    "rated": {"zh-CN": "此业务已评价过，每件业务只能评价一次", "en": "This record has been rated already; once is all"},
    "not_yet": {"zh-CN": "业务尚未得出结果，出结果后再来评价", "en": "There is no result yet; rate the service once there is"},
}


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
        steps, told = [], None
        for event in self.store.history(record["_id"], record.get("outbox")):
            if event.get("outcome") != "done" or event.get("trigger") in ("edit", "correct"):
                continue
            notify = event.get("notify")
            if isinstance(notify, dict) and notify.get("applicant"):
                told = event
            wf = self.workflow(event["process"], record["workflows"].get(event["process"]))
            steps.append({"at": event["at"], "process": text(wf.title, lang),
                          "state": wf.state_title(event["dest"], lang)})
        return {"acceptance_number": record["acceptance_number"], "form": text(form["title"], lang),
                "accepted_at": record.get("accepted_at"), "due_date": record.get("due_date"),
                "process": record["process"], "process_title": text(workflow.title, lang),
                "state": record["state"], "state_title": workflow.state_title(record["state"], lang),
                "finished": workflow.is_final(record["state"]), "steps": steps,
                "result": result_of(self.notice_opened_event(record, told) if told else None, lang, record),
                "rating": self._rating_view(record)}

    def _rating_view(self, record: Doc) -> Doc | None:
        found = notify_store_of(self).rating(record["_id"])
        if found is None:
            return None
        return {"score": found["score"], "comment": found.get("comment", ""), "at": found["at"]}

    def rate(self, number: Any, code: Any, score: Any, comment: Any, client: str, lang: str) -> Doc:
        """The applicant's satisfaction (1-5, a comment), once per record, after a result; checked and rate
        limited as the look-up is (the same number and code, the same bucket)."""
        record = self.status(number, code, client, lang)
        score, comment = check_rating(score, comment, lang)
        workflow = self.workflow(record["process"], record["workflows"].get(record["process"]))
        told = [e for e in self.store.history(record["_id"], record.get("outbox"))
                if isinstance(e.get("notify"), dict) and e["notify"].get("applicant")
                and e["notify"].get("kind") != "accepted"]
        if not told and not workflow.is_final(record["state"]):
            raise Conflict(message(MESSAGES, "not_yet", lang), code="no_result")
        doc = {"_id": record["_id"], "form": record["form"], "score": score, "comment": comment,
               "at": stamp(utcnow())}
        try:
            notify_store_of(self).add_rating(doc)
        except Conflict:
            raise Conflict(message(MESSAGES, "rated", lang), code="rated") from None
        return doc


def result_of(event: Doc | None, lang: str, record: Doc | None = None) -> Doc | None:
    """What the applicant was last told: the outcome, and on a failure why and what to do next."""
    if event is None:
        return None
    kind, failed = event["notify"].get("kind", ""), bool(event["notify"].get("failed"))
    failure = failed or kind in FAILURES
    # an acceptance tells the applicant the matter is being handled: not an outcome to rate yet
    return {"kind": kind, "at": event.get("at"), "failed": failure, "interim": kind == "accepted",
            "title": say("decided_failed" if kind == "decided" and failed else kind, lang),
            "reason": event_reason(event, lang, record) if failure else "",
            "next": next_steps(kind, failed, lang)}
