"""Intake through the REST API: drafts keep what was typed, every gap at once, accept, receipt, status."""
from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

from conftest import PASSWORD, stored_record
from counterflow.core.calendar import WorkCalendar
from forms import COMPLETE, permit, publish, upload


def _new(staff: Any, data: dict[str, Any], who: str = "clerk") -> dict[str, Any]:
    r = staff.post("/api/v1/records", who, json={"form": "parking-permit", "data": data})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _fire(staff: Any, record: dict[str, Any], trigger: str, who: str = "clerk", **extra: Any) -> Any:
    return staff.post(f"/api/v1/records/{record['id']}/transitions/{trigger}", who,
                      json={"revision": record["revision"], **extra})


def test_the_walk_define_approve_fill_with_gaps_fix_accept_receipt_status_restart(
        staff: Any, config: Any) -> None:
    publish(staff)
    # the clerk saves a draft with gaps and a rule-breaking phone: nothing typed is lost
    record = _new(staff, {"applicant": "张三", "phone": "12345", "months": 6})
    assert record["process"] == "intake" and record["state"] == "draft" and record["revision"] == 0
    assert {w["path"] for w in record["warnings"]} >= {"/phone", "/id_number", "/plate", "/licence_copy"}
    stored = stored_record(staff.client.application, record["id"])
    assert stored["data"]["phone"] == "12345" and record["data"]["phone"] == "*2345"   # kept; shown masked

    # accept is refused with every missing or wrong item at once, in the clerk's language
    r = _fire(staff, record, "accept")
    assert r.status_code == 422
    problems = r.get_json()["error"]["details"]
    assert {p["path"] for p in problems} == {"/phone", "/id_number", "/plate", "/licence_copy"}
    assert {p["code"] for p in problems} >= {"pattern", "required", "material_missing"}
    assert all(any("\u4e00" <= c <= "\u9fff" for c in p["message"]) for p in problems)

    # the refused check is kept in the history
    history = staff.get(f"/api/v1/records/{record['id']}/history", "clerk").get_json()["items"]
    refused = [e for e in history if e["outcome"] == "refused"]
    assert refused and refused[0]["trigger"] == "accept" and len(refused[0]["details"]["problems"]) == 4

    # the clerk fixes everything, including the material, then accepts
    data = dict(COMPLETE, licence_copy=upload(staff))
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk", json={"data": data, "revision": 0})
    assert r.status_code == 200, r.get_json()
    record = r.get_json()
    assert record["revision"] == 1 and record["warnings"] == []
    r = _fire(staff, record, "accept")
    assert r.status_code == 200, r.get_json()
    record = r.get_json()
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y%m%d")
    assert record["acceptance_number"] == f"PK-{today}-0001"
    assert record["process"] == "review" and record["state"] == "pending"   # moved on to the next process

    receipt = staff.get(f"/api/v1/records/{record['id']}/receipt", "clerk").get_json()
    assert receipt["acceptance_number"] == record["acceptance_number"]
    local_today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    # due in 5 working days
    assert receipt["due_date"] == WorkCalendar().add_working_days(local_today, 5).isoformat()
    assert len(receipt["query_code"]) == 8
    assert f"number={record['acceptance_number']}" in receipt["status_url"]

    # the applicant looks up progress: no personal data
    r = staff.get(f"/api/v1/status?number={receipt['acceptance_number']}&code={receipt['query_code']}")
    assert r.status_code == 200
    status = r.get_json()
    assert status["process"] == "review" and status["acceptance_number"] == receipt["acceptance_number"]
    body = r.get_data(as_text=True)
    for secret in ("张三", "110105199001011234", "13812345678", "京A12345"):
        assert secret not in body
    assert [s["state"] for s in status["steps"]][-1] in ("已受理", "Accepted")

    # a wrong code and an unknown number look the same
    wrong = staff.get(f"/api/v1/status?number={receipt['acceptance_number']}&code=WRONG123")
    unknown = staff.get("/api/v1/status?number=PK-19990101-0001&code=WRONG123")
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.get_json() == unknown.get_json()

    # a host restart (a new app on the same store; tests/test_cli.py restarts the real process):
    # all still there
    from counterflow.host import create_app

    again = create_app(config)
    try:
        client = again.test_client()
        token = client.post("/api/v1/auth/token",
                            json={"username": "clerk", "password": PASSWORD}).get_json()["token"]
        got = client.get(f"/api/v1/records/{record['id']}",
                         headers={"Authorization": f"Bearer {token}"}).get_json()
        assert got["acceptance_number"] == record["acceptance_number"]
        assert got["data"]["id_number"] == "110***********1234"
        assert client.get(f"/api/v1/status?number={receipt['acceptance_number']}"
                          f"&code={receipt['query_code']}").status_code == 200
    finally:
        again.extensions["counterflow"].close()


def test_sensitive_fields_are_masked_in_every_output(staff: Any) -> None:
    publish(staff)
    record = _new(staff, dict(COMPLETE))
    assert record["data"]["id_number"] == "110***********1234"
    assert record["data"]["phone"] == "138****5678"
    assert record["data"]["applicant"] == "张*"
    got = staff.get(f"/api/v1/records/{record['id']}", "clerk").get_json()
    assert got["data"]["id_number"] == "110***********1234"
    listed = staff.get("/api/v1/records", "clerk").get_json()["items"]
    assert listed[0]["data"]["id_number"] == "110***********1234"
    # sending the masked value back keeps the stored one
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"data": dict(got["data"], months=7), "revision": 0})
    assert r.status_code == 200
    stored = stored_record(staff.client.application, record["id"])
    assert stored["data"]["id_number"] == "110105199001011234" and stored["data"]["months"] == 7


def test_draft_refuses_only_unknown_fields_wrong_types_and_oversize(staff: Any) -> None:
    publish(staff)
    store = staff.client.application.extensions["counterflow"].store
    before = store.records.count_documents({})
    for data, path in (({"applicant": {"$ne": None}}, "/applicant"), ({"nickname": "x"}, "/nickname"),
                       ({"months": "six"}, "/months"), ({"plate": "x" * 20000}, "/plate")):
        r = staff.post("/api/v1/records", "clerk", json={"form": "parking-permit", "data": data})
        assert r.status_code == 422, data
        assert path in {d["path"] for d in r.get_json()["error"]["details"]}
    assert store.records.count_documents({}) == before


def test_return_records_the_one_time_notice_with_every_item(staff: Any) -> None:
    publish(staff)
    record = _new(staff, {"applicant": "张三", "months": 6})
    r = _fire(staff, record, "return", items=["请携带行驶证原件"], opinion="材料不全")
    assert r.status_code == 200, r.get_json()
    record = r.get_json()
    assert record["state"] == "returned"
    history = staff.get(f"/api/v1/records/{record['id']}/history", "clerk").get_json()["items"]
    notice = history[-1]["details"]["notice"]
    messages = [i["message"] for i in notice["items"]]
    assert "请携带行驶证原件" in messages
    assert {i["path"] for i in notice["items"] if i["path"]} == {
        "/id_number", "/phone", "/plate", "/licence_copy"}
    # supplement, then submit and accept
    data = dict(COMPLETE, licence_copy=upload(staff))
    record = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                         json={"data": data, "revision": record["revision"]}).get_json()
    record = _fire(staff, record, "submit").get_json()
    assert record["state"] == "submitted"
    record = _fire(staff, record, "accept").get_json()
    assert record["acceptance_number"]


def test_stale_revision_is_a_conflict_and_loses_nothing(staff: Any) -> None:
    publish(staff)
    record = _new(staff, dict(COMPLETE))
    ok = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                     json={"data": dict(COMPLETE, months=2), "revision": 0})
    assert ok.status_code == 200
    stale = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                        json={"data": dict(COMPLETE, months=3), "revision": 0})
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "stale"
    stored = stored_record(staff.client.application, record["id"])
    assert stored["data"]["months"] == 2 and stored["revision"] == 1


def test_concurrent_accepts_get_unique_numbers_without_gaps(staff: Any) -> None:
    publish(staff)
    attachment = upload(staff)
    records = [_new(staff, dict(COMPLETE, licence_copy=attachment)) for _ in range(12)]
    app = staff.client.application
    results: list[Any] = []

    def accept(record: dict[str, Any]) -> None:
        client = app.test_client()
        r = client.post(f"/api/v1/records/{record['id']}/transitions/accept", json={"revision": 0},
                        headers={"Authorization": f"Bearer {staff.tokens['clerk']}"})
        results.append(r)

    # each record twice: one accept per record wins, the other gets 409 and gives its number back
    threads = [threading.Thread(target=accept, args=(r,)) for r in records for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) == 12 and all(c in (200, 409) for c in codes)
    numbers = sorted(int(r.get_json()["acceptance_number"].rsplit("-", 1)[1])
                     for r in results if r.status_code == 200)
    assert numbers == list(range(1, 13)) or len(set(numbers)) == 12 and max(numbers) <= 12 + codes.count(409)
    # whatever was handed out and lost is reused by the next accept, so the sequence closes
    extra = _new(staff, dict(COMPLETE, licence_copy=attachment))
    final = _fire(staff, extra, "accept").get_json()
    assert int(final["acceptance_number"].rsplit("-", 1)[1]) in set(range(1, 14)) - set(numbers)


def test_review_archive_destroy_are_walkable_after_intake(staff: Any) -> None:
    publish(staff, permit())
    record = _new(staff, dict(COMPLETE, licence_copy=upload(staff), amount=80000))
    record = _fire(staff, record, "accept").get_json()
    reviewer = staff.get("/api/v1/users", "admin").get_json()["items"]
    reviewer_id = next(u["id"] for u in reviewer if u["username"] == "reviewer")
    record = _fire(staff, record, "assign", "head", assignee=reviewer_id).get_json()
    assert record["state"] == "assigned" and record["assignee"] == reviewer_id
    record = _fire(staff, record, "acknowledge", "reviewer").get_json()
    r = _fire(staff, record, "approve", "reviewer")
    assert r.status_code == 422                      # an opinion is required
    record = _fire(staff, record, "approve", "reviewer", opinion="材料齐全，同意").get_json()
    assert record["state"] == "second_review"        # amount > 50000: second level
    record = _fire(staff, record, "approve_final", "boss", opinion="同意").get_json()
    assert record["process"] == "archive" and record["state"] == "pending"
    record = _fire(staff, record, "archive", "keeper").get_json()
    assert record["state"] == "archived"
    # archived records are read-only
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"data": COMPLETE, "revision": record["revision"], "reason": "x"})
    assert r.status_code in (403, 409)
    # retention has not passed: closing it is refused with the reason
    r = _fire(staff, record, "close_retention", "keeper")
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["code"] == "retention"
    options = staff.get(f"/api/v1/records/{record['id']}/transitions", "keeper").get_json()["items"]
    blocked = {o["trigger"]: o for o in options}
    assert blocked["close_retention"]["allowed"] is False and blocked["close_retention"]["reasons"]
    # years later (the store is told so): retention ends, the record moves to destruction
    store = staff.client.application.extensions["counterflow"].store
    store.records.update_one({"_id": record["id"]}, {"$set": {"retention_until": "2000-01-01"}})
    record = _fire(staff, record, "close_retention", "keeper").get_json()
    assert record["process"] == "destroy" and record["state"] == "pending"
    # records are destroyed only through an approved destruction list (tests/test_destruction_rules.py)
    r = _fire(staff, record, "execute", "witness", opinion="监销完毕")
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["code"] == "destroyed_by_list"


def test_reviewer_who_took_it_in_may_not_approve(staff: Any) -> None:
    publish(staff)
    staff.add_user("both", ["clerk", "reviewer"])
    record = _new(staff, dict(COMPLETE, licence_copy=upload(staff, "both")), who="both")
    record = _fire(staff, record, "accept", "both").get_json()
    users = staff.get("/api/v1/users", "admin").get_json()["items"]
    both = next(u["id"] for u in users if u["username"] == "both")
    # review.yaml refuses the assignment itself now (assignee_separate_from: [creator, acceptor, ...]),
    # naming both parts "both" played, rather than letting the record reach a reviewer who may not decide
    r = _fire(staff, record, "assign", "head", assignee=both)
    assert r.status_code == 422
    details = r.get_json()["error"]["details"]
    assert [(d["path"], d["code"]) for d in details] == [("/assignee", "separation_of_duties")] * 2


def test_other_departments_cannot_see_the_record(staff: Any) -> None:
    publish(staff)
    record = _new(staff, dict(COMPLETE))
    assert staff.get(f"/api/v1/records/{record['id']}", "outsider").status_code == 403
    assert staff.get("/api/v1/records", "outsider").get_json()["items"] == []


def test_correction_after_acceptance_needs_a_reason_and_keeps_old_and_new(staff: Any) -> None:
    publish(staff)
    record = _new(staff, dict(COMPLETE, licence_copy=upload(staff)))
    record = _fire(staff, record, "accept").get_json()
    stored = stored_record(staff.client.application, record["id"])
    data = dict(stored["data"], plate="京B54321")
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"data": data, "revision": record["revision"]})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "reason_required"
    r = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                    json={"data": data, "revision": record["revision"], "reason": "车牌录入错误"})
    assert r.status_code == 200, r.get_json()
    history = staff.get(f"/api/v1/records/{record['id']}/history", "clerk").get_json()["items"]
    correction = history[-1]
    assert correction["trigger"] == "correct" and correction["opinion"] == "车牌录入错误"
    assert correction["changes"] == [{"path": "/plate", "old": "京A12345", "new": "京B54321"}]


def test_status_lookup_is_rate_limited(app: Any, staff: Any) -> None:
    limit = app.extensions["counterflow"].settings.status_rate_limit
    codes = [staff.get("/api/v1/status?number=X-1&code=ABCDEFGH").status_code for _ in range(limit + 2)]
    assert codes[:limit] == [404] * limit and codes[-1] == 429


def test_protected_fields_are_encrypted_at_rest(staff: Any) -> None:
    publish(staff)
    record = _new(staff, dict(COMPLETE))
    store = staff.client.application.extensions["counterflow"].store
    raw = store.records.find_one({"_id": record["id"]})["data"]
    for field in ("applicant", "id_number", "phone"):
        assert raw[field].startswith("cf1:") and COMPLETE[field] not in raw[field]
    # not x-sensitive, yet sealed too: every value is under the record's own key (destroying it erases them)
    assert raw["plate"].startswith("cf1:") and COMPLETE["plate"] not in raw["plate"]
    assert stored_record(staff.client.application, record["id"])["data"]["id_number"] == COMPLETE["id_number"]
    # the completeness check sees the real values: accept passes once the material is there
    data = dict(stored_record(staff.client.application, record["id"])["data"], licence_copy=upload(staff))
    record = staff.patch(f"/api/v1/records/{record['id']}", "clerk",
                         json={"data": data, "revision": 0}).get_json()
    assert _fire(staff, record, "accept").status_code == 200


def test_attachments_download_only_for_those_who_may_see_them(staff: Any) -> None:
    attachment = upload(staff, content=b"%PDF-1.4 private scan")
    mine = staff.get(f"/api/v1/attachments/{attachment}", "clerk2")              # same department
    assert mine.status_code == 200 and mine.data == b"%PDF-1.4 private scan"
    assert "attachment;" in mine.headers["Content-Disposition"]
    assert mine.headers["X-Content-Type-Options"] == "nosniff"
    assert staff.get(f"/api/v1/attachments/{attachment}", "outsider").status_code == 403  # another department
    assert staff.get(f"/api/v1/attachments/{attachment}", "boss").status_code == 200      # records-wide role
    assert staff.get("/api/v1/attachments/att_00000000000000000000000000", "clerk").status_code == 404


def test_an_upgraded_shipped_workflow_is_a_new_version_and_running_records_keep_theirs(
        app: Any, staff: Any) -> None:
    import copy

    from counterflow.core import definitions

    publish(staff)
    running = _new(staff, dict(COMPLETE))
    service = app.extensions["counterflow"].service
    shipped = definitions.shipped_workflows()
    upgraded = copy.deepcopy(shipped)
    upgraded["intake"]["states"][1]["title"] = {"zh-CN": "待受理（新）", "en": "Submitted (new)"}
    service.bootstrap(upgraded, {})                       # a later release starting on the same store
    service.bootstrap(upgraded, {})                       # and again: nothing more to load
    versions = [d["version"] for d in service.store.workflow_versions() if d["key"] == "intake"]
    assert versions == [1, 2]
    # a form version names the process versions it runs (pinned when it was published): its new records
    # keep running intake v1; the form's next published version pins v2, and its records run that
    fresh = _new(staff, dict(COMPLETE))
    store = service.store
    assert store.record(running["id"])["workflows"]["intake"] == 1
    assert store.record(fresh["id"])["workflows"]["intake"] == 1
    r = staff.post("/api/v1/forms/parking-permit/versions", "admin", json={})
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    base = f"/api/v1/forms/parking-permit/versions/{doc['version']}/transitions"
    for trigger, who in (("submit", "admin"), ("review", "head"), ("approve", "boss")):
        r = staff.post(f"{base}/{trigger}", who, json={"revision": doc["revision"]})
        assert r.status_code == 200, (trigger, r.get_json())
        doc = r.get_json()
    assert doc["workflows"]["intake"] == 2
    newer = _new(staff, dict(COMPLETE))
    assert store.record(newer["id"])["workflows"]["intake"] == 2
    assert store.record(running["id"])["workflows"]["intake"] == 1
