"""A notification's text is sealed under its record's key: the outbox (`notifications`) and the inbox kept the
one-time notice (what the applicant must bring) and the applicant's mail address in clear, beyond the reach of
a destruction list. Now the stored documents hold them sealed only; the inbox's reader sees the text opened,
a channel sends it opened; once a list destroys the record, no stored copy opens any more."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import bson
import pytest

from conftest import add_staff, make_config, running_app, signed_in
from forms import COMPLETE, publish
from test_destruction_helpers import fire, new_list
from test_notify import mail_form
from test_sealed_names import _certificate

BRING = "请携带户口簿原件QZ5"
EMAIL = "wang.wu.qz5@example.cn"


class Recorder:
    """A mail channel that keeps what it was asked to send."""

    name = "mail"

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, notification: dict[str, Any]) -> None:
        self.sent.append(notification)


@pytest.fixture
def world(mongo_uri: str, db_name: str, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    config = dict(make_config(mongo_uri, db_name, tmp_path), COUNTERFLOW_DESTRUCTION_COOLING_OFF_DAYS=0)
    with running_app(config) as app:
        api = add_staff(signed_in(app.test_client()))
        publish(api, mail_form())
        yield app, api


def _raw(app: Any) -> bytes:
    store = app.extensions["counterflow"].store
    db = store.db
    return b"".join(bson.encode(d) for name in ("notifications", "inbox") for d in db[name].find())


def test_the_notice_in_notifications_is_sealed_shown_to_its_reader_and_gone_with_the_record(
        world: Any) -> None:
    app, api = world
    service = app.extensions["counterflow"].service
    mail = Recorder()
    service.extra_channels = {"mail": mail}
    r = api.post("/api/v1/records", "clerk",
                 json={"form": "parking-permit", "data": dict(COMPLETE, email=EMAIL)})
    assert r.status_code == 201, r.get_json()
    record = r.get_json()
    r = api.post(f"/api/v1/records/{record['id']}/transitions/return", "clerk2",
                 json={"revision": record["revision"], "items": [BRING], "opinion": "材料不全"})
    assert r.status_code == 200, r.get_json()
    counts = service.pump_notifications()
    assert counts["sent"] >= 2 and counts["failed"] == 0 and counts["retry"] == 0, counts
    db = app.extensions["counterflow"].store.db
    stored = list(db["notifications"].find({"record_id": record["id"]}))
    assert {n["channel"] for n in stored} == {"inbox", "mail"}
    assert all(n["state"] == "sent" for n in stored)
    raw = _raw(app)
    assert raw and BRING.encode() not in raw and EMAIL.encode() not in raw
    assert all(n["content"]["sealed"].startswith("cf1:k:") and "zh-CN" not in n["content"] for n in stored)
    # the channel sent it opened: the applicant's mail names what to bring, to their address
    assert [m["address"] for m in mail.sent] == [EMAIL]
    assert BRING in mail.sent[0]["content"]["zh-CN"]["body"]
    # the inbox's reader sees the text
    inbox = api.get("/api/v1/inbox", "clerk").get_json()["items"]
    assert [e["kind"] for e in inbox] == ["returned"]
    assert BRING in inbox[0]["body"] and inbox[0]["subject"]
    copies = [dict(n["content"]) for n in stored]
    # a destruction list destroys the record: no stored copy opens any more
    app.extensions["counterflow"].store.records.update_one({"_id": record["id"]}, {"$set": {
        "process": "archive", "state": "archived", "retention_until": "2020-01-01",
        "acceptance_number": "PK-N-000005"}})
    listed = new_list(api, [dict(record, number="PK-N-000005")])
    steps = (("submit", "keeper"), ("approve", "boss"), ("approve", "head"), ("execute", "witness"))
    for trigger, who in steps:
        assert fire(api, listed, trigger, who).status_code == 200
    assert _certificate(app, listed["id"])["count"] == 1
    assert BRING.encode() not in _raw(app) and EMAIL.encode() not in _raw(app)
    keys = service._record_keys([record["id"]])
    assert keys == {} and all(service._opened_text(c, keys) is None for c in copies)
    gone = api.get("/api/v1/inbox?lang=en", "clerk").get_json()["items"]
    assert [e["kind"] for e in gone] == ["returned"]
    assert BRING not in gone[0]["body"] and "destroyed" in gone[0]["subject"]
    assert "销毁" in api.get("/api/v1/inbox", "clerk").get_json()["items"][0]["subject"]
