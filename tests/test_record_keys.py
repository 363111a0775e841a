"""Per-record data keys (issue 10, items 4 and 5): every value of a record, the old and new values in its
history and its attachments' content are sealed under the record's own key, wrapped by a configured master
key and stored on the record as `data_key`; without that field nothing of it opens. Exact search goes
through a keyed HMAC, full values only to a permitted role with a reason (logged), and the master key can
be rotated in batches, interrupted and resumed."""
from __future__ import annotations

import base64
import hashlib
from typing import Any, Iterator

import bson
import pytest
from cryptography.fernet import Fernet

from conftest import Api, add_staff, signed_in
from counterflow.host import create_app
from counterflow.security.envelope import ENVELOPE, Keyring, KeyUnavailable, key_id
from counterflow.security.sealing import PLACEHOLDER, PREFIX
from forms import COMPLETE, publish, upload

ID_NUMBER = "11010519491231002X"
CARD = "6222021234567890123"
PHONE = "13987654321"
ACCOUNT = {"applicant_name": "李小四", "id_type": "resident_id", "id_number": ID_NUMBER, "bank_card": CARD,
           "phone": PHONE, "changed_items": ["bank_account"], "reason": "因工作调动变更代发账户QX7",
           "application_date": "2026-11-02"}
SCAN = b"%PDF-1.4 scanned identity card QX7-SECRET-PAGE"


def raw_bytes(app: Any) -> bytes:
    """Every document of every collection as BSON bytes, nothing decrypted (GridFS chunks included)."""
    store = app.extensions["counterflow"].store
    store.copier.flush()
    db = store.db
    # GridFS under its own names (the embedded server lists them mangled, and a find on those never answers)
    names = [n for n in db.list_collection_names() if not n.startswith("attachment_files")]
    names += ["attachment_files.files", "attachment_files.chunks"]
    return b"".join(bson.encode(doc) for name in sorted(names) for doc in db[name].find())


def record_doc(app: Any, record_id: str) -> dict[str, Any]:
    doc = app.extensions["counterflow"].store.records.find_one({"_id": record_id})
    assert doc is not None
    return doc


def create(staff: Api, form: str, data: dict[str, Any], who: str = "clerk") -> dict[str, Any]:
    r = staff.post("/api/v1/records", who, json={"form": form, "data": data})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


# -- what is stored ---------------------------------------------------------------------------------------

def test_a_raw_scan_finds_no_value_of_a_record_its_history_or_its_attachment(app: Any, staff: Api) -> None:
    file_id = upload(staff, content=SCAN)
    record = create(staff, "account-change", dict(ACCOUNT, id_copy=file_id))
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"revision": 0, "data": dict(ACCOUNT, id_copy=file_id, reason="改为新单位工资卡QX8")})
    assert r.status_code == 200, r.get_json()
    scanned = raw_bytes(app)
    for plain in (ID_NUMBER, CARD, PHONE, "李小四", "因工作调动变更代发账户QX7", "改为新单位工资卡QX8", "bank_account",
                  "2026-11-02", SCAN.decode(), "QX7-SECRET"):
        assert plain.encode() not in scanned, plain
    doc = record_doc(app, record["id"])
    ring = app.extensions["counterflow"].service.keyring
    assert doc["data_key"].startswith(ring.current + ":") and doc["key_id"] == ring.current
    assert all(isinstance(v, str) and v.startswith(ENVELOPE) for k, v in doc["data"].items()
               if k != "changed_items") and doc["data"]["changed_items"][0].startswith(ENVELOPE)
    # the pages and the API work on the opened data: masked as before, the history's values readable
    shown = staff.get(f"/api/v1/records/{record['id']}", "clerk").get_json()
    assert shown["data"]["reason"] == "改为新单位工资卡QX8" and shown["data"]["bank_card"] == "622202*********0123"
    history = staff.get(f"/api/v1/records/{record['id']}/history", "clerk").get_json()["items"]
    assert history[-1]["changes"] == [{"path": "/reason", "old": "因工作调动变更代发账户QX7",
                                       "new": "改为新单位工资卡QX8"}]
    got = staff.get(f"/api/v1/attachments/{file_id}", "clerk")
    assert got.status_code == 200 and got.data == SCAN


def test_a_value_sealed_for_one_field_or_record_does_not_open_in_another(app: Any, staff: Api) -> None:
    first = create(staff, "account-change", ACCOUNT)
    second = create(staff, "account-change", dict(ACCOUNT, phone="13700001111"))
    store = app.extensions["counterflow"].store
    moved = record_doc(app, first["id"])["data"]["phone"]
    store.records.update_one({"_id": second["id"]}, {"$set": {"data.phone": moved,
                                                              "data.reason": record_doc(app, first["id"])
                                                              ["data"]["phone"]}})
    shown = staff.get(f"/api/v1/records/{second['id']}", "clerk").get_json()["data"]
    assert shown["phone"] == PLACEHOLDER and shown["reason"] == PLACEHOLDER     # bound to record and field
    assert shown["id_number"] == "110***********002X"


def test_without_its_data_key_nothing_of_a_record_opens(app: Any, staff: Api) -> None:
    file_id = upload(staff, content=SCAN)
    record = create(staff, "account-change", dict(ACCOUNT, id_copy=file_id))
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"revision": 0, "data": dict(ACCOUNT, id_copy=file_id, reason="第二次修改")})
    assert r.status_code == 200
    state = app.extensions["counterflow"]
    doc = record_doc(app, record["id"])
    wrapped = doc["data_key"]
    assert state.service.keyring.key(record["id"], wrapped)          # opens while it is there
    with pytest.raises(KeyUnavailable):
        state.service.keyring.key("another-record", wrapped)         # bound to its record
    # the attachment's own master-wrapped key left it when the record took it in
    meta = state.store.attachments.find_one({"_id": file_id})
    assert "data_key" not in meta and meta["sealed"] and file_id in doc["attachment_keys"]

    state.store.records.update_one({"_id": record["id"]}, {"$unset": {"data_key": ""}})    # as destruction
    fresh = Keyring([state.settings.encryption_key or ""] if state.settings.encryption_key else
                    [base64.urlsafe_b64encode(b"\0" * 32)])
    with pytest.raises(KeyUnavailable):
        fresh.key(record["id"], None)
    shown = staff.get(f"/api/v1/records/{record['id']}", "clerk").get_json()
    assert shown["data"]["changed_items"] == [PLACEHOLDER], shown["data"]
    assert all(v == PLACEHOLDER for k, v in shown["data"].items() if k != "changed_items"), shown["data"]
    history = staff.get(f"/api/v1/records/{record['id']}/history", "clerk").get_json()["items"]
    assert history[-1]["changes"][0]["old"] == PLACEHOLDER and history[-1]["changes"][0]["new"] == PLACEHOLDER
    got = staff.get(f"/api/v1/attachments/{file_id}", "clerk")
    assert got.status_code == 409 and got.get_json()["error"]["code"] == "attachment_unreadable"
    # and it cannot be edited under a key nobody has: refused, nothing written
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"revision": 1, "data": dict(ACCOUNT, reason="再改")})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "record_key_unavailable"


def test_an_attachment_no_record_holds_yet_is_sealed_under_its_own_key(app: Any, staff: Api) -> None:
    file_id = upload(staff, content=SCAN)
    state = app.extensions["counterflow"]
    meta = state.store.attachments.find_one({"_id": file_id})
    assert meta["sealed"] and meta["data_key"].startswith(state.service.keyring.current + ":")
    assert SCAN not in raw_bytes(app)
    assert staff.get(f"/api/v1/attachments/{file_id}", "clerk").data == SCAN
    # a second record taking the same file in reads it through its own key
    one = create(staff, "account-change", dict(ACCOUNT, id_copy=file_id))
    two = create(staff, "account-change", dict(ACCOUNT, id_copy=file_id), who="clerk2")
    state.store.records.update_one({"_id": one["id"]}, {"$unset": {"data_key": ""}})
    assert staff.get(f"/api/v1/attachments/{file_id}", "clerk").data == SCAN
    assert file_id in record_doc(app, two["id"])["attachment_keys"]


def test_values_stored_by_older_versions_still_read_and_an_edit_gives_the_record_a_key(
        app: Any, staff: Api) -> None:
    publish(staff)
    record = create(staff, "parking-permit", dict(COMPLETE))
    state = app.extensions["counterflow"]
    sensitive = state.service.validator("parking-permit", 1).sensitive
    old = dict(COMPLETE, id_number=state.service.sealer.seal_input(COMPLETE, sensitive)["id_number"])
    assert old["id_number"].startswith(PREFIX) and not old["id_number"].startswith(ENVELOPE)
    state.store.records.update_one({"_id": record["id"]}, {"$set": {"data": old},
                                                           "$unset": {"data_key": "", "key_id": ""}})
    state.service._opened.clear()
    shown = staff.get(f"/api/v1/records/{record['id']}", "clerk").get_json()
    assert shown["data"]["id_number"] == "110***********1234" and shown["data"]["plate"] == COMPLETE["plate"]
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"revision": 0, "data": dict(shown["data"], months=9)})
    assert r.status_code == 200, r.get_json()
    doc = record_doc(app, record["id"])
    assert doc["data_key"] and doc["data"]["plate"].startswith(ENVELOPE)
    assert doc["data"]["id_number"].startswith(ENVELOPE)
    assert state.service.opened(doc)["data"]["id_number"] == COMPLETE["id_number"]


# -- exact search --------------------------------------------------------------------------------------------

def test_exact_search_on_an_id_number_or_phone_through_a_keyed_hmac(app: Any, staff: Api) -> None:
    publish(staff)
    wanted = create(staff, "account-change", ACCOUNT)
    create(staff, "account-change", dict(ACCOUNT, id_number="110105194912310038", phone="13700001111"))
    doc = record_doc(app, wanted["id"])
    for plain in (ID_NUMBER, hashlib.sha256(ID_NUMBER.encode()).hexdigest(),
                  hashlib.sha256(PHONE.encode()).hexdigest()):
        assert plain not in (doc["find_id_number"], doc["find_phone"])                 # never a plain hash
    for query in (f"id_number={ID_NUMBER}", f"id_number={ID_NUMBER.lower()}", f"phone={PHONE}",
                  "phone=139-8765-4321"):
        found = staff.get(f"/api/v1/records?{query}", "clerk").get_json()["items"]
        assert [i["id"] for i in found] == [wanted["id"]], query
    assert staff.get("/api/v1/records?id_number=110105194912319999", "clerk").get_json()["items"] == []
    assert staff.get(f"/api/v1/records?id_number={ID_NUMBER}", "outsider").get_json()["items"] == []
    assert len(staff.get(f"/api/v1/records?id_number={ID_NUMBER}", "boss").get_json()["items"]) == 1
    # an edit moves the index with the value
    r = staff.patch(f"/api/v1/records/{wanted['id']}", "clerk",
                    json={"revision": 0, "data": dict(ACCOUNT, phone="13611112222")})
    assert r.status_code == 200
    assert staff.get(f"/api/v1/records?phone={PHONE}", "clerk").get_json()["items"] == []
    assert len(staff.get("/api/v1/records?phone=13611112222", "clerk").get_json()["items"]) == 1
    r = staff.get("/api/v1/records?id_number=" + "1" * 41, "clerk")
    assert r.status_code == 422 or r.status_code == 400


# -- reveal --------------------------------------------------------------------------------------------------

def test_reveal_needs_a_permitted_role_and_a_reason_and_is_logged(app: Any, staff: Api) -> None:
    record = create(staff, "account-change", ACCOUNT)
    url = f"/api/v1/records/{record['id']}/reveal"
    state = app.extensions["counterflow"]

    def reveals() -> list[dict[str, Any]]:
        """The reveal entries of this record: in the audit log, or (without one) in its history."""
        db = state.store.db
        state.store.copier.flush()
        return [e for name in db.list_collection_names() if not name.startswith("attachment_files")
                for e in db[name].find(
                {"$or": [{"action": "reveal", "object": record["id"]},
                         {"trigger": "reveal", "object_id": record["id"]}]})]

    r = staff.post(url, "clerk", json={"fields": ["/id_number"], "reason": "核对身份"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "role"
    r = staff.post(url, "boss", json={"fields": ["/id_number"], "reason": "  "})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "reason_required"
    r = staff.post(url, "boss", json={"fields": ["/reason"], "reason": "核对身份"})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["path"] == "/fields/0"
    r = staff.post(url, "boss", json={"fields": {"$ne": None}, "reason": "核对身份"})
    assert r.status_code in (400, 422)
    assert reveals() == []                                                  # refusals reveal and log nothing
    r = staff.post(url, "boss", json={"fields": ["/id_number", "/bank_card"],
                                      "reason": "法院协查 (2026)京01执123号"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["values"] == {"/id_number": ID_NUMBER, "/bank_card": CARD}
    logged = reveals()
    assert len(logged) == 1 and logged[0]["details"]["fields"] == ["/id_number", "/bank_card"]
    assert "法院协查 (2026)京01执123号" in (logged[0].get("reason"), logged[0].get("opinion"))
    assert ID_NUMBER not in repr(logged) and CARD not in repr(logged)
    assert staff.post(url, "outsider", json={"fields": ["/id_number"], "reason": "x"}).status_code == 403


# -- rotation -------------------------------------------------------------------------------------------

@pytest.fixture
def two_keys() -> tuple[str, str]:
    return Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def keyed(config: dict[str, Any], two_keys: tuple[str, str]) -> Iterator[tuple[Any, Api, dict[str, Any]]]:
    old, _ = two_keys
    settings = dict(config, COUNTERFLOW_ENCRYPTION_KEY=old)
    app = create_app(settings)
    staff = add_staff(signed_in(app.test_client()))
    try:
        yield app, staff, settings
    finally:
        state = app.extensions["counterflow"]
        state.store.db.client.drop_database(state.store.db.name)
        state.close()


def test_rotation_rewraps_every_key_in_batches_resumes_after_an_interruption_and_the_old_key_can_go(
        keyed: tuple[Any, Api, dict[str, Any]], two_keys: tuple[str, str]) -> None:
    app, staff, settings = keyed
    old, new = two_keys
    ids = [create(staff, "account-change", dict(ACCOUNT, phone=f"1390000{i:04d}"))["id"] for i in range(7)]
    loose = upload(staff, content=SCAN)                   # no record holds it: its key is master-wrapped
    r = staff.patch(f"/api/v1/records/{ids[0]}", "clerk",
                    json={"revision": 0, "data": dict(ACCOUNT, reason="改")})
    assert r.status_code == 200
    assert {record_doc(app, i)["key_id"] for i in ids} == {key_id(old)}

    # a second host, the new key first
    rotated = create_app(dict(settings, COUNTERFLOW_ENCRYPTION_KEY=f"{new},{old}"))
    try:
        runner = rotated.test_cli_runner()
        result = runner.invoke(args=["counterflow", "keys", "rotate", "--batch", "3", "--max-batches", "1"])
        assert result.exit_code == 0, result.output
        assert "stopped after 1 batch" in result.output and "3 of 7" in result.output   # progress (stderr)
        under = [i for i in ids if record_doc(app, i)["key_id"] == key_id(new)]
        assert len(under) == 3
        # meanwhile both hosts read every record (the old one knows only the old key: not yet rotated ones)
        state = rotated.extensions["counterflow"]
        for i in ids:
            assert state.service.opened(state.store.record(i))["data"]["id_number"] == ID_NUMBER
        result = rotated.test_cli_runner().invoke(args=["counterflow", "keys", "rotate", "--batch", "3"])
        assert result.exit_code == 0, result.output
        assert "rotated: 4 record key(s) and 1 attachment key(s)" in result.output
    finally:
        rotated.extensions["counterflow"].close()
    assert {record_doc(app, i)["key_id"] for i in ids} == {key_id(new)}

    only_new = create_app(dict(settings, COUNTERFLOW_ENCRYPTION_KEY=new))              # the old key removed
    try:
        api = Api(only_new.test_client())
        api.tokens = staff.tokens
        for i in ids:
            shown = api.get(f"/api/v1/records/{i}", "clerk").get_json()["data"]
            assert shown["id_number"] == "110***********002X" and shown["reason"] in (ACCOUNT["reason"], "改")
        history = api.get(f"/api/v1/records/{ids[0]}/history", "clerk").get_json()["items"]
        assert {c["path"]: c["new"] for c in history[-1]["changes"]}["/reason"] == "改"
        assert api.get(f"/api/v1/attachments/{loose}", "clerk").data == SCAN
        found = api.get("/api/v1/records?phone=13900000003", "clerk").get_json()["items"]
        assert [f["id"] for f in found] == [ids[3]]
    finally:
        only_new.extensions["counterflow"].close()
