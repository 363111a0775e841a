"""Trust in the data (issue 6, items 1 and 3): what a request sends is never taken for ciphertext, an
unreadable stored value degrades to a placeholder, and masked values sent back keep the right stored row."""
from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from conftest import PASSWORD
from counterflow.core.masking import mask_value
from counterflow.security.sealing import PLACEHOLDER, PREFIX
from forms import COMPLETE, publish

CARD = "cf1:6214830199887766554"
SHAREHOLDERS = [
    {"name": "张三", "id_number": "110101199003070054", "contribution": 50, "share_percent": 50},
    {"name": "张四", "id_number": "11010119900307007X", "contribution": 50, "share_percent": 50},
]


def csrf(page: Any) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found, "every form carries a CSRF token"
    return found.group(1)


def page_client(app: Any, username: str = "clerk") -> Any:
    client = app.test_client()
    token = csrf(client.get("/login"))
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    return client


def raw(app: Any, record_id: str) -> dict[str, Any]:
    """The record exactly as the store holds it (nothing decrypted)."""
    doc = app.extensions["counterflow"].store.records.find_one({"_id": record_id})
    assert doc is not None
    return doc


def opened(app: Any, record_id: str) -> dict[str, Any]:
    state = app.extensions["counterflow"]
    return state.service.opened(state.store.record(record_id))["data"]


def create(staff: Any, form: str, data: dict[str, Any]) -> dict[str, Any]:
    r = staff.post("/api/v1/records", "clerk", json={"form": form, "data": data})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def lists_work(app: Any, staff: Any, record_id: str) -> dict[str, Any]:
    """The list (API and worklist page) still answers and holds the record; returns its listed view."""
    r = staff.get("/api/v1/records", "clerk")
    assert r.status_code == 200, r.get_json()
    listed = {item["id"]: item for item in r.get_json()["items"]}
    assert record_id in listed
    page = page_client(app).get("/worklist")
    assert page.status_code == 200 and record_id in page.get_data(as_text=True)
    return listed[record_id]


# -- item 1: a value that looks sealed is input like any other ---------------------------------------------

@pytest.mark.parametrize("form, field, value", [
    ("parking-permit", "id_number", "cf1:not-a-token"),
    ("account-change", "bank_card", CARD),
])
def test_a_value_that_looks_sealed_is_sealed_and_reads_back_exactly(
        app: Any, staff: Any, form: str, field: str, value: str) -> None:
    if form == "parking-permit":
        publish(staff)
    record = create(staff, form, {field: value})
    stored = raw(app, record["id"])["data"][field]
    assert stored.startswith(PREFIX) and stored != value and value[len(PREFIX):] not in stored
    assert opened(app, record["id"])[field] == value                 # decrypts to exactly what was typed
    got = staff.get(f"/api/v1/records/{record['id']}", "clerk")
    assert got.status_code == 200 and got.get_json()["data"][field] == mask_value(field, value)
    assert lists_work(app, staff, record["id"])["data"][field] == mask_value(field, value)
    # sent back as shown, the value is kept (and sealed afresh, never stored in plain text)
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"data": got.get_json()["data"], "revision": 0})
    assert r.status_code == 200, r.get_json()
    assert opened(app, record["id"])[field] == value
    assert raw(app, record["id"])["data"][field].startswith(PREFIX)


def test_a_value_that_looks_sealed_typed_on_the_form_page_is_sealed(app: Any, staff: Any) -> None:
    publish(staff)
    client = page_client(app)
    page = client.get("/forms/parking-permit/new")
    r = client.post("/forms/parking-permit/new", data={"csrf_token": csrf(page), "_action": "save",
                                                       "applicant": "张三", "id_number": "cf1:not-a-token"})
    assert r.status_code in (302, 303), r.get_data(as_text=True)
    found = re.search(r"/records/([0-9A-Z]{26})", r.headers["Location"])
    assert found, r.headers["Location"]
    record_id = found.group(1)
    stored = raw(app, record_id)["data"]["id_number"]
    assert stored.startswith(PREFIX) and "not-a-token" not in stored
    assert opened(app, record_id)["id_number"] == "cf1:not-a-token"
    shown = client.get(f"/records/{record_id}")
    assert shown.status_code == 200
    assert mask_value("id_number", "cf1:not-a-token") in shown.get_data(as_text=True)
    lists_work(app, staff, record_id)


def test_an_unreadable_stored_value_shows_a_placeholder_and_logs_an_error(
        app: Any, staff: Any, caplog: pytest.LogCaptureFixture) -> None:
    publish(staff)
    record = create(staff, "parking-permit", dict(COMPLETE))
    damaged = PREFIX + "gAAAAABdamaged-token-that-no-key-opens"
    store = app.extensions["counterflow"].store
    store.records.update_one({"_id": record["id"]}, {"$set": {"data.id_number": damaged}})
    caplog.set_level(logging.ERROR)
    got = staff.get(f"/api/v1/records/{record['id']}", "clerk")
    assert got.status_code == 200, got.get_json()
    assert got.get_json()["data"]["id_number"] == PLACEHOLDER
    assert got.get_json()["data"]["phone"] == "138****5678"             # the rest of the record reads
    assert lists_work(app, staff, record["id"])["data"]["id_number"] == PLACEHOLDER
    page = page_client(app).get(f"/records/{record['id']}")
    assert page.status_code == 200 and PLACEHOLDER in page.get_data(as_text=True)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and any(record["id"] in r.getMessage() and "/id_number" in r.getMessage() for r in errors)
    logged = caplog.text
    for secret in (damaged, damaged[len(PREFIX):], str(COMPLETE["phone"]), str(COMPLETE["applicant"])):
        assert secret not in logged

    # an edit that sends the placeholder back leaves the stored value as it was, untouched
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"data": dict(got.get_json()["data"], months=7), "revision": 0})
    assert r.status_code == 200, r.get_json()
    assert raw(app, record["id"])["data"]["id_number"] == damaged
    assert opened(app, record["id"])["months"] == 7
    # typing a new value replaces it, sealed
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"data": dict(got.get_json()["data"], months=7, id_number=COMPLETE["id_number"]),
                          "revision": 1})
    assert r.status_code == 200, r.get_json()
    assert opened(app, record["id"])["id_number"] == COMPLETE["id_number"]
    assert raw(app, record["id"])["data"]["id_number"] != damaged


# -- item 3: masked values sent back match rows by identity ------------------------------------------------

def licence(staff: Any) -> dict[str, Any]:
    record = create(staff, "business-licence", {"company_name": "北京某某科技有限公司",
                                                "shareholders": SHAREHOLDERS})
    shown = record["data"]["shareholders"]
    assert [(r["name"], r["id_number"]) for r in shown] == [
        ("张*", "110***********0054"), ("张*", "110***********007X")]
    return record


def test_a_masked_row_sent_back_alone_keeps_its_own_stored_values_through_the_api(
        app: Any, staff: Any) -> None:
    record = licence(staff)
    second = record["data"]["shareholders"][1]
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"data": dict(record["data"], shareholders=[second]), "revision": 0})
    assert r.status_code == 200, r.get_json()
    assert opened(app, record["id"])["shareholders"] == [SHAREHOLDERS[1]]


def test_the_whole_list_sent_back_unchanged_changes_nothing(app: Any, staff: Any) -> None:
    record = licence(staff)
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk", json={"data": record["data"], "revision": 0})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["revision"] == 0                               # nothing changed: no new revision
    assert opened(app, record["id"])["shareholders"] == SHAREHOLDERS


def test_a_masked_value_that_fits_two_stored_rows_is_refused_naming_the_row(app: Any, staff: Any) -> None:
    record = licence(staff)
    row = dict(record["data"]["shareholders"][0], id_number="110101199501010011")   # name 张* fits both
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"data": dict(record["data"], shareholders=[row]), "revision": 0})
    assert r.status_code == 422, r.get_json()
    details = r.get_json()["error"]["details"]
    assert [d["path"] for d in details] == ["/shareholders/0"] and details[0]["code"] == "masked_ambiguous"
    assert opened(app, record["id"])["shareholders"] == SHAREHOLDERS


def test_a_mask_that_matches_no_stored_value_is_refused_naming_the_field(app: Any, staff: Any) -> None:
    record = licence(staff)
    rows = [dict(record["data"]["shareholders"][0], id_number="110***********9999"),
            record["data"]["shareholders"][1]]
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"data": dict(record["data"], shareholders=rows), "revision": 0})
    assert r.status_code == 422, r.get_json()
    details = r.get_json()["error"]["details"]
    assert [(d["path"], d["code"]) for d in details] == [("/shareholders/0/id_number", "masked_unknown")]
    assert opened(app, record["id"])["shareholders"] == SHAREHOLDERS
    # a new record has nothing stored: a mask is never taken for data
    r = staff.post("/api/v1/records", "clerk", json={"form": "business-licence", "data": {
        "legal_representative": {"name": "李四", "id_number": "110***********007X"}}})
    assert r.status_code == 422, r.get_json()
    assert [d["path"] for d in r.get_json()["error"]["details"]] == ["/legal_representative/id_number"]


def test_removing_a_row_on_the_page_keeps_the_other_rows_stored_values(app: Any, staff: Any) -> None:
    record = licence(staff)
    client = page_client(app)
    page = client.get(f"/records/{record['id']}")
    html = page.get_data(as_text=True)
    posted: dict[str, Any] = {"csrf_token": csrf(page), "_action": "save", "revision": "0",
                              "_remove": "/shareholders/0", "company_name": "北京某某科技有限公司"}
    for index in (0, 1):
        for key in ("name", "id_number", "contribution", "share_percent"):
            name = f"shareholders.{index}.{key}"
            found = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', html)
            assert found, name
            posted[name] = found.group(1)
    assert posted["shareholders.1.id_number"] == "110***********007X"   # the page shows the masked value
    r = client.post(f"/records/{record['id']}", data=posted)
    assert r.status_code == 302, r.get_data(as_text=True)
    assert opened(app, record["id"])["shareholders"] == [SHAREHOLDERS[1]]


def test_a_mask_posted_on_the_page_that_matches_nothing_is_shown_next_to_the_field(
        app: Any, staff: Any) -> None:
    record = licence(staff)
    client = page_client(app)
    page = client.get(f"/records/{record['id']}")
    r = client.post(f"/records/{record['id']}", data={
        "csrf_token": csrf(page), "_action": "save", "revision": "0",
        "legal_representative.id_number": "110***********1234"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'aria-invalid="true"' in html and "cf-f-legal_representative-id_number" in html
    assert "legal_representative" not in opened(app, record["id"])
