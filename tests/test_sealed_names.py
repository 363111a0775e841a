"""What the store kept in clear beside a record's sealed data: its attachments' file names and digests, and
the one-time notice (what the applicant must bring). They are sealed now (security/envelope.py): a file's
name and digest under the file's own key, which the record that holds it keeps under its key; the notice
under the record's key, on the record and in its history. Readers of the record see them opened; once the
record's key is destroyed, a raw copy of them (a backup, the store's free pages) opens no more."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest

from conftest import add_staff, make_config, running_app, signed_in
from counterflow.security.envelope import KeyUnavailable
from forms import COMPLETE, upload
from test_destruction_helpers import fire, new_list, prepare
from test_record_keys import raw_bytes

NAME = "身份证正反面-王五QZ9.pdf"
CONTENT = b"%PDF-1.4 identity card of QZ9"


@pytest.fixture
def world(mongo_uri: str, db_name: str, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    config = dict(make_config(mongo_uri, db_name, tmp_path), COUNTERFLOW_DESTRUCTION_COOLING_OFF_DAYS=0)
    with running_app(config) as app:
        api = add_staff(signed_in(app.test_client()))
        prepare(api)
        yield app, api


def _store(app: Any) -> Any:
    return app.extensions["counterflow"].store


def test_an_attachment_name_and_digest_are_stored_sealed_and_shown_to_readers(world: Any) -> None:
    app, api = world
    file_id = upload(api, name=NAME, content=CONTENT)
    digest = hashlib.sha256(CONTENT).hexdigest()
    raw = raw_bytes(app)
    assert NAME.encode() not in raw and "王五QZ9".encode() not in raw and digest.encode() not in raw
    meta = _store(app).attachments.find_one({"_id": file_id})
    assert meta["name"].startswith("cf1:k:") and meta["sha256"].startswith("cf1:k:")
    r = api.post("/api/v1/records", "clerk", json={"form": "parking-permit",
                                                   "data": dict(COMPLETE, licence_copy=file_id)})
    assert r.status_code == 201, r.get_json()
    assert NAME.encode() not in raw_bytes(app)
    # the record's readers download it under its name; others are refused
    r = api.get(f"/api/v1/attachments/{file_id}", "clerk")
    assert r.status_code == 200 and r.data == CONTENT
    assert quote(NAME) in r.headers["Content-Disposition"]
    assert api.get(f"/api/v1/attachments/{file_id}", "outsider").status_code == 403


def _certificate(app: Any, list_id: str) -> dict[str, Any]:
    for _ in range(400):
        found = app.extensions["counterflow"].service.disposal.certificate(f"cert_{list_id}")
        if found is not None:
            return dict(found["envelope"]["certificate"])
        time.sleep(0.025)
    raise AssertionError("the execution did not finish within 10 s")


def test_destroying_the_record_key_leaves_a_raw_copy_of_the_name_unreadable(world: Any) -> None:
    app, api = world
    service = app.extensions["counterflow"].service
    file_id = upload(api, name=NAME, content=CONTENT)
    r = api.post("/api/v1/records", "clerk", json={"form": "parking-permit",
                                                   "data": dict(COMPLETE, licence_copy=file_id)})
    record = r.get_json()
    _store(app).records.update_one({"_id": record["id"]}, {"$set": {
        "process": "archive", "state": "archived", "retention_until": "2020-01-01",
        "acceptance_number": "PK-N-000001"}})
    backup = dict(_store(app).attachments.find_one({"_id": file_id}))       # a copy kept elsewhere
    assert service.attachment(_actor(app, "clerk"), file_id, "en")[0]["name"] == NAME
    listed = new_list(api, [dict(record, number="PK-N-000001")])
    steps = (("submit", "keeper"), ("approve", "boss"), ("approve", "head"), ("execute", "witness"))
    for trigger, who in steps:
        assert fire(api, listed, trigger, who).status_code == 200
    assert _certificate(app, listed["id"])["count"] == 1
    assert NAME.encode() not in raw_bytes(app)
    # the backup holds the name sealed only, and no key opens it: the file's key went with the record's
    assert "王五QZ9" not in str(backup) and hashlib.sha256(CONTENT).hexdigest() not in str(backup)
    backup["records"] = {record["id"]: "2026-01-01"}
    with pytest.raises(KeyUnavailable):
        service.attachment_key(backup)


def _actor(app: Any, username: str) -> Any:
    from counterflow.core.engine import Actor

    user = _store(app).user_by_name(username)
    return Actor(user["_id"], username, user.get("name", ""), frozenset(user["roles"]), user["department"])


BRING = "请携带户口簿原件QZ7"


def _raw_records_and_history(app: Any) -> bytes:
    import bson

    store = _store(app)
    store.copier.flush()
    return b"".join(bson.encode(d) for c in (store.records, store.events) for d in c.find())


def test_the_one_time_notice_is_sealed_on_the_record_and_in_its_history(world: Any) -> None:
    app, api = world
    service = app.extensions["counterflow"].service
    r = api.post("/api/v1/records", "clerk", json={"form": "parking-permit", "data": dict(COMPLETE)})
    record = r.get_json()
    r = api.post(f"/api/v1/records/{record['id']}/transitions/return", "clerk",
                 json={"revision": record["revision"], "items": [BRING], "opinion": "材料不全QZ8"})
    assert r.status_code == 200, r.get_json()
    assert BRING in [i["message"] for i in r.get_json()["notice"]["items"]]
    raw = _raw_records_and_history(app)
    assert BRING.encode() not in raw           # (an opinion is kept in clear, as every one is)
    stored = _store(app).records.find_one({"_id": record["id"]})
    assert stored["notice"].startswith("cf1:k:")
    # readers see it opened: the record, its history
    shown = api.get(f"/api/v1/records/{record['id']}", "clerk").get_json()
    assert BRING in [i["message"] for i in shown["notice"]["items"]]
    history = api.get(f"/api/v1/records/{record['id']}/history", "clerk").get_json()["items"]
    told = [e for e in history if e["trigger"] == "return"]
    assert BRING in [i["message"] for i in told[0]["details"]["notice"]["items"]]
    # once the record is destroyed, the sealed copy kept elsewhere opens no more
    copy = stored["notice"]
    _store(app).records.update_one({"_id": record["id"]}, {"$set": {
        "process": "archive", "state": "archived", "retention_until": "2020-01-01",
        "acceptance_number": "PK-N-000002"}})
    listed = new_list(api, [dict(record, number="PK-N-000002")])
    steps = (("submit", "keeper"), ("approve", "boss"), ("approve", "head"), ("execute", "witness"))
    for trigger, who in steps:
        assert fire(api, listed, trigger, who).status_code == 200
    assert _certificate(app, listed["id"])["count"] == 1
    assert BRING.encode() not in _raw_records_and_history(app)
    tombstone = _store(app).records.find_one({"_id": record["id"]})
    assert "notice" not in tombstone and "data_key" not in tombstone
    assert service.notice_opened(tombstone, {"notice": copy})["notice"] is None
