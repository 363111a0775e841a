"""Approved reading (issue 10, item 2): an archived record answers 403 to everyone but records staff and the
holders of an active grant; query requests are approved by the requester's department head, and by a manager
as well for records with sensitive fields or outside requests; revoking and expiry end a grant at once."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from counterflow.core import clock
from test_archive_helpers import (approved, archived_record, move, query_request, setup_forms,
                                  submitted, today)
from forms import upload


@pytest.fixture(autouse=True)
def _host_clock() -> Iterator[None]:
    yield
    clock.set_offset(None)


@pytest.fixture
def office(staff: Any) -> Any:
    setup_forms(staff)
    return staff


def _read(api: Any, record: dict[str, Any], who: str) -> Any:
    return api.get(f"/api/v1/records/{record['id']}", who)


def test_without_a_grant_an_archived_record_is_closed_to_all_but_records_staff(office: Any) -> None:
    record = archived_record(office)
    assert _read(office, record, "keeper").status_code == 200
    for who in ("clerk", "clerk2", "head", "boss", "reviewer", "outsider"):
        for lang, words in (("en", "ask for reading through a query request"), ("zh-CN", "查阅申请")):
            r = office.get(f"/api/v1/records/{record['id']}?lang={lang}", who,
                           headers={"Accept-Language": lang})
            assert r.status_code == 403, who
            error = r.get_json()["error"]
            assert error["code"] == "reading_needs_grant" and words in error["message"], (who, lang)
        for path in ("history", "transitions"):
            assert office.get(f"/api/v1/records/{record['id']}/{path}", who).status_code == 403


def test_an_archived_record_lists_without_its_data_for_anyone_but_records_staff(office: Any) -> None:
    """A list is no way around the grant: department staff see an archived record exists, not its data."""
    record = archived_record(office)
    for who in ("clerk", "head"):
        listed = {r["id"]: r for r in office.get("/api/v1/records?limit=100", who).get_json()["items"]}
        assert listed[record["id"]]["data"] == {}, who
    listed = {r["id"]: r for r in office.get("/api/v1/records?limit=100", "keeper").get_json()["items"]}
    assert listed[record["id"]]["data"], "records staff read the archive"


def test_a_grant_opens_the_record_read_only_and_revoking_closes_it_at_once(office: Any) -> None:
    record = archived_record(office)
    request = query_request(office, "clerk2", [record["id"]])
    assert request["state"] == "draft" and request["grants"] == []
    assert _read(office, record, "clerk2").status_code == 403            # a draft grants nothing
    request = submitted(office, request, "clerk2")
    assert request["state"] == "pending_head"
    assert _read(office, record, "clerk2").status_code == 403            # not approved yet
    request = approved(office, request, "head")
    assert request["state"] == "in_force"
    [grant] = request["grants"]
    assert (grant["record"], grant["from"], grant["until"], grant["active"]) == \
        (record["id"], today(), today(30), True)
    r = _read(office, record, "clerk2")
    assert r.status_code == 200 and r.get_json()["id"] == record["id"]
    assert office.get(f"/api/v1/records/{record['id']}/history", "clerk2").status_code == 200
    # read only: an edit is a 409, and the record is unchanged
    r = office.patch(f"/api/v1/records/{record['id']}", "clerk2",
                     json={"data": {"months": 7}, "revision": record["revision"], "reason": "改"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "read_only"
    assert _read(office, record, "keeper").get_json()["revision"] == record["revision"]
    # the grant is the requester's alone
    assert _read(office, record, "clerk").status_code == 403
    # revoked: closed at the next read
    r = move(office, request, "revoke", "head")
    assert r.status_code == 422                                          # a reason is required
    r = move(office, request, "revoke", "head", reason="用途已完成")
    assert r.status_code == 200 and r.get_json()["state"] == "revoked"
    assert r.get_json()["grants"][0]["active"] is False
    assert _read(office, record, "clerk2").status_code == 403


def test_a_sensitive_record_stays_closed_after_the_heads_approval_until_the_managers(office: Any) -> None:
    record = archived_record(office, form="parking-permit")
    request = submitted(office, query_request(office, "clerk2", [record["id"]]), "clerk2")
    request = approved(office, request, "head")
    assert request["state"] == "pending_manager" and request["grants"] == []
    assert _read(office, record, "clerk2").status_code == 403
    request = approved(office, request, "boss")
    assert request["state"] == "in_force" and request["grants"][0]["active"]
    r = _read(office, record, "clerk2")
    assert r.status_code == 200
    assert r.get_json()["data"]["id_number"] != "110105199001011234"      # still masked in the API


def test_the_requester_never_approves_their_own_request(office: Any) -> None:
    record = archived_record(office)
    office.add_user("head2", ["dept_head", "manager"])
    request = submitted(office, query_request(office, "head2", [record["id"]]), "head2")
    r = move(office, request, "approve", "head2", opinion="同意")
    assert r.status_code == 422
    assert [p["code"] for p in r.get_json()["error"]["details"]] == ["separation_of_duties"]
    # and someone else submits nobody's request
    draft = query_request(office, "clerk2", [record["id"]])
    r = move(office, draft, "submit", "clerk")
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["code"] == "not_requester"


def test_the_head_of_another_department_cannot_approve(office: Any) -> None:
    record = archived_record(office)
    office.add_user("head_other", ["dept_head"], department="counter-9")
    request = submitted(office, query_request(office, "clerk2", [record["id"]]), "clerk2")
    assert move(office, request, "approve", "head_other", opinion="同意").status_code == 403


def test_an_outside_request_needs_its_basis_and_document_and_a_manager(office: Any) -> None:
    record = archived_record(office)
    bare = query_request(office, "clerk2", [record["id"]], outside=True, outside_body="某区人民法院")
    r = move(office, bare, "submit", "clerk2")
    assert r.status_code == 422
    assert [p["code"] for p in r.get_json()["error"]["details"]] == ["outside"]
    document = upload(office, "clerk2", name="协助查询通知书.pdf")
    full = query_request(office, "clerk2", [record["id"]], outside=True, outside_body="某区人民法院",
                         legal_basis="民事诉讼法第六十七条", document=document)
    request = approved(office, submitted(office, full, "clerk2"), "head")
    assert request["state"] == "pending_manager"                        # outside: the superior decides too
    request = approved(office, request, "boss")
    assert request["state"] == "in_force"
    assert _read(office, record, "clerk2").status_code == 200


def test_a_grant_ends_by_itself_after_its_period(office: Any) -> None:
    record = archived_record(office)
    request = query_request(office, "clerk2", [record["id"]], period_until=today(2))
    approved(office, submitted(office, request, "clerk2"), "head")
    assert _read(office, record, "clerk2").status_code == 200
    clock.set_offset("+3d")
    assert _read(office, record, "clerk2").status_code == 403
    clock.set_offset(None)
    assert _read(office, record, "clerk2").status_code == 200


def test_a_request_by_search_names_the_records_the_requester_may_list(office: Any) -> None:
    record = archived_record(office)
    r = office.post("/api/v1/query-requests", "clerk2",
                    json={"purpose": "年度检查", "search": {"form": "visit-permit", "state": "archived"},
                          "period_from": today(), "period_until": today(7)})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["data"]["records"] == [record["id"]]
    r = office.post("/api/v1/query-requests", "outsider",
                    json={"purpose": "年度检查", "search": {"form": "visit-permit"},
                          "period_from": today(), "period_until": today(7)})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "nothing_found"


@pytest.mark.parametrize("payload, path", [
    ({"purpose": "x"}, "/purpose"),
    ({"period_until": "2020-13-01"}, "/period_until"),
    ({"records": [{"$ne": None}]}, "/records/0"),
    ({"records": ["r"] * 201}, "/records"),
    ({"extra": 1}, "/extra"),
])
def test_hostile_or_wrong_requests_are_4xx_with_the_place(
        office: Any, payload: dict[str, Any], path: str) -> None:
    body = {"purpose": "核对历史办理情况", "records": ["x"], "period_from": today(), "period_until": today(3),
            **payload}
    r = office.post("/api/v1/query-requests", "clerk2", json=body)
    assert r.status_code == 422, r.get_json()
    assert path in [p["path"] for p in r.get_json()["error"]["details"]]


def test_unknown_records_and_past_periods_are_refused_at_submission(office: Any) -> None:
    draft = query_request(office, "clerk2", ["no-such-record"], period_from=today(-9), period_until=today(-1))
    r = move(office, draft, "submit", "clerk2")
    assert r.status_code == 422
    assert {p["code"] for p in r.get_json()["error"]["details"]} == {"unknown_records", "period"}


def test_query_requests_are_listed_for_the_requester_and_their_head(office: Any) -> None:
    record = archived_record(office)
    mine = query_request(office, "clerk2", [record["id"]])
    for who in ("clerk2", "head", "boss"):
        ids = [q["id"] for q in office.get("/api/v1/query-requests", who).get_json()["items"]]
        assert ids == [mine["id"]], who
    assert office.get("/api/v1/query-requests", "outsider").get_json()["items"] == []
    assert office.get(f"/api/v1/query-requests/{mine['id']}", "outsider").status_code == 403
    assert office.get(f"/api/v1/query-requests/{record['id']}", "keeper").status_code == 404
    options = office.get(f"/api/v1/query-requests/{mine['id']}/transitions", "clerk2").get_json()["items"]
    assert {o["trigger"] for o in options} == {"submit", "withdraw"}


def test_every_read_of_an_archived_record_is_logged_with_its_grant(office: Any) -> None:
    record = archived_record(office)
    request = approved(office, submitted(office, query_request(office, "clerk2", [record["id"]]), "clerk2"),
                       "head")
    grant = request["grants"][0]["id"]
    audit = office.client.application.extensions["counterflow"].store.audit_log.entries
    before = audit.count_documents({"action": "read", "object": record["id"]})
    assert _read(office, record, "clerk2").status_code == 200
    assert _read(office, record, "keeper").status_code == 200
    reads = list(audit.find({"action": "read", "object": record["id"]}))[before:]
    assert [(e["actor"]["username"], e.get("grant")) for e in reads] == [("clerk2", grant), ("keeper", None)]
    [granted] = list(audit.find({"action": "grant", "object": record["id"]}))
    assert (granted["grant"], granted["actor"]["username"], granted["request_id"]) == \
        (grant, "head", request["id"])
    # a refused read grants nothing and reads nothing
    assert _read(office, record, "clerk").status_code == 403
    assert audit.count_documents({"action": "read", "object": record["id"]}) == before + 2


def test_reading_a_record_with_sensitive_fields_is_logged_before_it_is_archived(office: Any) -> None:
    r = office.post("/api/v1/records", "clerk", json={"form": "parking-permit", "data": {"plate": "京A12345"}})
    record = r.get_json()
    audit = office.client.application.extensions["counterflow"].store.audit_log.entries
    assert _read(office, record, "clerk2").status_code == 200
    [entry] = list(audit.find({"action": "read", "object": record["id"]}))
    assert entry["actor"]["username"] == "clerk2" and entry.get("grant") is None
