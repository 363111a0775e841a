"""Archive (issue 10, item 1): the record is filed with its retention counted from the form's rule, and from
then on it, its attachments and its history are read only; retention ends, shown end to end with the clock."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import add_staff, make_config, new_db_name, running_app, signed_in
from counterflow.core import clock
from counterflow.store.attachments import AttachmentStore
from forms import publish, upload
from test_archive_helpers import archived_record, fire, plain_form, setup_forms, today


@pytest.fixture(autouse=True)
def _host_clock() -> Iterator[None]:
    yield
    clock.set_offset(None)


def _years_later(day: str, years: int) -> str:
    start = dt.date.fromisoformat(day)
    try:
        return start.replace(year=start.year + years).isoformat()
    except ValueError:
        return start.replace(year=start.year + years, day=28).isoformat()


def test_archiving_files_the_record_and_sets_retention_from_the_form_rule(staff: Any) -> None:
    setup_forms(staff)
    record = archived_record(staff)                        # visit-permit keeps records 5 years from archiving
    assert record["retention_until"] == _years_later(today(), 5)
    assert record["archive_file"] == {"form": "visit-permit", "year": today()[:4]}
    stored = staff.client.application.extensions["counterflow"].store.record(record["id"])
    assert stored["archived_at"][:10] <= today()
    assert "legal_hold" in stored and stored["legal_hold"] is None      # written as null: no hold


def test_retention_never_falls_below_the_minimum_and_counts_from_the_configured_event(
        mongo_uri: str, tmp_path: Path) -> None:
    config = dict(make_config(mongo_uri, new_db_name(), tmp_path), COUNTERFLOW_RETENTION_MIN_YEARS=8)
    with running_app(config) as app:
        api = add_staff(signed_in(app.test_client()))
        form = plain_form()
        form["settings"]["retention"] = {"years": 5, "from": "accepted"}
        publish(api, form)
        store = app.extensions["counterflow"].store
        record = archived_record(api, before_archive=lambda r: store.records.update_one(
            {"_id": r["id"]}, {"$set": {"accepted_at": "2020-02-29T03:00:00.000Z"}}))
        assert record["retention_until"] == "2028-02-29"   # 8 years (the minimum) from the day of acceptance


def test_an_archived_record_its_attachments_and_history_are_read_only(staff: Any) -> None:
    setup_forms(staff)
    staff.add_user("clerk_keeper", ["clerk", "archivist"])  # may read it and would otherwise edit it
    record = archived_record(staff)
    store = staff.client.application.extensions["counterflow"].store
    history = staff.get(f"/api/v1/records/{record['id']}/history", "keeper").get_json()["items"]
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk_keeper",
                    json={"data": {**record["data"], "months": 7}, "revision": record["revision"],
                          "reason": "更正"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "read_only"
    # a new attachment is not taken either: its file is held by no record
    extra = upload(staff, "clerk_keeper", name="补充.pdf")
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk_keeper",
                    json={"data": {**record["data"], "licence_copy": extra}, "revision": record["revision"],
                          "reason": "补充材料"})
    assert r.status_code == 409
    assert not (AttachmentStore(store).meta(extra) or {}).get("records")
    # transitions: only the archive process's own, from its current state
    assert fire(staff, record, "accept", "clerk_keeper").status_code == 404
    assert fire(staff, record, "archive", "keeper").status_code == 409
    after = staff.get(f"/api/v1/records/{record['id']}", "keeper").get_json()
    assert (after["revision"], after["data"]) == (record["revision"], record["data"])
    done = [e for e in staff.get(f"/api/v1/records/{record['id']}/history", "keeper").get_json()["items"]
            if e.get("outcome") != "refused"]
    assert [e["id"] for e in done] == [e["id"] for e in history if e.get("outcome") != "refused"]


def test_retention_ends_when_the_clock_says_so(staff: Any) -> None:
    setup_forms(staff)
    record = archived_record(staff)
    r = fire(staff, record, "close_retention", "keeper")
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["code"] == "retention"
    clock.set_offset("+6y")                             # a training installation six years on
    r = fire(staff, record, "close_retention", "keeper")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["process"] != "archive"          # on to the next process (destruction)


def test_an_archived_records_files_are_downloaded_by_records_staff_only(staff: Any) -> None:
    setup_forms(staff)
    record = archived_record(staff)
    attachment = record["data"]["licence_copy"]
    assert staff.get(f"/api/v1/attachments/{attachment}", "keeper").status_code == 200
    for who in ("clerk", "head", "boss"):          # the uploader and record-wide roles too
        assert staff.get(f"/api/v1/attachments/{attachment}", who).status_code == 403, who
    # and no new record may take it in
    r = staff.post("/api/v1/records", "clerk",
                   json={"form": "visit-permit", "data": {"licence_copy": attachment}})
    assert r.status_code == 422
    assert r.get_json()["error"]["details"][0]["code"] == "attachment_forbidden"
