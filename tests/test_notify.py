"""Notifications: outcomes reach the inbox, a real local SMTP server and a signed webhook, once; a channel
that is down keeps them (retries with back-off) and delivers each once when it is back; the applicant sees
the result (why and what next on a failure) on the status look-up and rates the service once."""
from __future__ import annotations

import copy
import email
import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
from aiosmtpd.controller import Controller

from conftest import add_staff, running_app, signed_in
from counterflow.core.clock import stamp, utcnow
from counterflow.store.notify import time_key
from forms import COMPLETE, permit, publish, upload

SECRET = "hook-secret-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """aiosmtpd's handler: every message the local SMTP server accepts."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append({"to": list(envelope.rcpt_tos), "from": envelope.mail_from,
                              "data": envelope.content.decode("utf-8", "replace")})
        return "250 OK"


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a loopback port, in a thread of the test process."""

    def __init__(self, port: int) -> None:
        self.port, self.box = port, Mailbox()
        self.controller = Controller(self.box, hostname="127.0.0.1", port=port)

    def __enter__(self) -> "SmtpServer":
        self.controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.controller.stop()


class Hooks:
    """A local HTTP server that keeps every POST (headers and body)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[dict[str, str], bytes]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hooks.received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Hooks":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def mail_form() -> dict[str, Any]:
    definition = permit()
    schema = copy.deepcopy(definition["schema"])
    schema["properties"]["email"]["x-notify"] = "email"
    definition["schema"] = schema
    return definition


@pytest.fixture
def ports() -> dict[str, int]:
    return {"smtp": free_port(), "hook": free_port()}


@pytest.fixture
def notify_app(config: dict[str, Any], ports: dict[str, int]) -> Iterator[Any]:
    config = dict(config, COUNTERFLOW_NOTIFY={
        "smtp_host": "127.0.0.1", "smtp_port": ports["smtp"], "smtp_from": "counter@example.gov",
        "webhook_url": f"http://127.0.0.1:{ports['hook']}/hook", "webhook_secret": SECRET,
        "backoff_seconds": 1, "backoff_max_seconds": 60, "smtp_timeout": 5, "webhook_timeout": 5})
    with running_app(config) as app:
        yield app


@pytest.fixture
def nstaff(notify_app: Any) -> Any:
    return add_staff(signed_in(notify_app.test_client()))


def user_id(api: Any, name: str) -> str:
    users = api.get("/api/v1/users", "admin").get_json()["items"]
    return next(u["id"] for u in users if u["username"] == name)


def fire(api: Any, record: dict[str, Any], trigger: str, who: str, **extra: Any) -> dict[str, Any]:
    r = api.post(f"/api/v1/records/{record['id']}/transitions/{trigger}", who,
                 json={"revision": record["revision"], **extra})
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def decided_record(api: Any, *, reject: bool = False) -> dict[str, Any]:
    """intake -> accept -> assign -> acknowledge -> approve (or reject) by the reviewer."""
    publish(api, mail_form())
    data = dict(COMPLETE, licence_copy=upload(api), email="zhang.san@example.cn")
    r = api.post("/api/v1/records", "clerk", json={"form": "parking-permit", "data": data})
    assert r.status_code == 201, r.get_json()
    record = fire(api, r.get_json(), "accept", "clerk")
    record = fire(api, record, "assign", "head", assignee=user_id(api, "reviewer"))
    record = fire(api, record, "acknowledge", "reviewer")
    return fire(api, record, "reject" if reject else "approve", "reviewer",
                opinion="材料与事实不符" if reject else "同意")


def service_of(api: Any) -> Any:
    return api.client.application.extensions["counterflow"].service


def test_outcomes_reach_inbox_mail_and_signed_webhook_once(nstaff: Any, ports: dict[str, int]) -> None:
    service = service_of(nstaff)
    service.store.users.update_one({"username": "clerk"}, {"$set": {"email": "clerk@example.gov"}})
    record = decided_record(nstaff)
    assert record["process"] == "archive"
    receipt = nstaff.get(f"/api/v1/records/{record['id']}/receipt", "clerk").get_json()
    history = service.store.history(record["id"])
    kinds = [(e["trigger"], (e.get("notify") or {}).get("kind")) for e in history]
    assert ("accept", "accepted") in kinds and ("approve", "decided") in kinds
    approve = next(e for e in history if e["trigger"] == "approve")
    clerk = user_id(nstaff, "clerk")
    assert approve["notify"] == {"kind": "decided", "to": [clerk], "applicant": True}

    with SmtpServer(ports["smtp"]) as smtp, Hooks(ports["hook"]) as hooks:
        counts = service.pump_notifications()
        assert counts["sent"] == counts["derived"] and counts["retry"] == counts["failed"] == 0
        again = service.pump_notifications()                  # idempotent: nothing new, nothing sent twice
        assert again["derived"] == 0 and again["sent"] == 0
        to = sorted(a for m in smtp.box.messages for a in m["to"])
        # the applicant (accepted, decided) and the clerk (decided: the reviewer decided the clerk's record)
        assert to == ["clerk@example.gov", "zhang.san@example.cn", "zhang.san@example.cn"]
        applicant_mail = [m["data"] for m in smtp.box.messages if m["to"] == ["zhang.san@example.cn"]]
        assert any(receipt["acceptance_number"] in m for m in applicant_mail)
        for secret in ("110105199001011234", "13812345678"):           # never the record's data
            assert all(secret not in m["data"] for m in smtp.box.messages)
        assert len(hooks.received) == 2                       # one per event with notify
        for headers, body in hooks.received:
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-Counterflow-Signature"] == expected
            assert json.loads(body)["id"] == headers["X-Counterflow-Delivery"]
        assert {json.loads(b)["kind"] for _, b in hooks.received} == {"accepted", "decided"}

    inbox = nstaff.get("/api/v1/inbox", "clerk").get_json()["items"]
    assert [e["kind"] for e in inbox] == ["decided"] and inbox[0]["record_id"] == record["id"]
    assert inbox[0]["read"] is False and receipt["acceptance_number"] in inbox[0]["subject"]
    english = nstaff.get("/api/v1/inbox?lang=en", "clerk", headers={"Accept-Language": "en"}).get_json()
    assert "Decided" in english["items"][0]["subject"]


def test_the_applicant_sees_the_result_why_and_what_next_and_rates_once(nstaff: Any) -> None:
    record = decided_record(nstaff, reject=True)
    receipt = nstaff.get(f"/api/v1/records/{record['id']}/receipt", "clerk").get_json()
    number, code = receipt["acceptance_number"], receipt["query_code"]
    status = nstaff.get(f"/api/v1/status?number={number}&code={code}").get_json()
    result = status["result"]
    assert result["kind"] == "decided" and result["failed"] is True
    assert result["reason"] == "材料与事实不符" and result["next"] and result["title"] == "未获批准"
    english = nstaff.get(f"/api/v1/status?number={number}&code={code}",
                         headers={"Accept-Language": "en"}).get_json()["result"]
    assert english["title"] == "Not approved" and "reason" in english["next"]
    assert status["rating"] is None

    bad = nstaff.post("/api/v1/status/rating", json={"number": number, "code": code, "score": 9})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["path"] == "/score"
    hostile = nstaff.post("/api/v1/status/rating", json={"number": number, "code": {"$ne": None}, "score": 5})
    assert hostile.status_code == 422
    wrong = nstaff.post("/api/v1/status/rating", json={"number": number, "code": "WRONG123", "score": 5})
    assert wrong.status_code == 404
    r = nstaff.post("/api/v1/status/rating",
                    json={"number": number, "code": code.lower(), "score": 4, "comment": "办事快，但结果不满意"})
    assert r.status_code == 201 and r.get_json()["score"] == 4
    twice = nstaff.post("/api/v1/status/rating", json={"number": number, "code": code, "score": 1})
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "rated"
    status = nstaff.get(f"/api/v1/status?number={number}&code={code}").get_json()
    assert status["rating"]["score"] == 4 and status["rating"]["comment"] == "办事快，但结果不满意"


def test_rating_before_a_result_is_refused_and_rating_is_rate_limited(notify_app: Any) -> None:
    api = add_staff(signed_in(notify_app.test_client()))
    publish(api, mail_form())
    data = dict(COMPLETE, licence_copy=upload(api))
    record = api.post("/api/v1/records", "clerk", json={"form": "parking-permit", "data": data}).get_json()
    record = fire(api, record, "accept", "clerk")
    receipt = api.get(f"/api/v1/records/{record['id']}/receipt", "clerk").get_json()
    given = {"number": receipt["acceptance_number"], "code": receipt["query_code"], "score": 5}
    r = api.post("/api/v1/status/rating", json=given)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "no_result"
    limit = notify_app.extensions["counterflow"].settings.status_rate_limit
    codes = [api.post("/api/v1/status/rating", json=given).status_code for _ in range(limit + 1)]
    assert codes[-1] == 429


def test_a_channel_down_keeps_retrying_with_back_off_then_delivers_once(nstaff: Any,
                                                                        ports: dict[str, int]) -> None:
    service = service_of(nstaff)
    decided_record(nstaff)
    first = service.pump_notifications()                  # neither SMTP nor the webhook is up
    assert first["sent"] == 1 and first["retry"] == first["derived"] - 1     # the clerk's inbox entry: sent
    pending = list(service.store.db["notifications"].find({"state": "pending"}))
    assert {n["channel"] for n in pending} == {"mail", "webhook"}
    now = time_key(utcnow())
    assert all(n["attempts"] == 1 and n["next_at"] > now and n["last_error"] for n in pending)
    assert service.dispatch_notifications()["sent"] == 0          # not due yet: back-off
    time.sleep(1.1)
    second = service.dispatch_notifications()
    assert second["retry"] == len(pending)
    waits = [n["next_at"] for n in service.store.db["notifications"].find({"state": "pending"})]
    assert all(w >= time_key(utcnow()) for w in waits)               # the second wait is longer (2 s)
    time.sleep(2.1)
    with SmtpServer(ports["smtp"]) as smtp, Hooks(ports["hook"]) as hooks:
        third = service.dispatch_notifications()
        assert third["sent"] == len(pending) and third["retry"] == 0
        time.sleep(0.2)
        assert service.pump_notifications()["sent"] == 0
        assert len(hooks.received) == 2 and len({h["X-Counterflow-Delivery"] for h, _ in hooks.received}) == 2
        assert len(smtp.box.messages) == 2                       # the applicant: accepted and decided
    assert service.store.db["notifications"].count_documents({"state": "sent"}) == first["derived"]


def test_a_channel_that_never_comes_back_is_given_up_but_kept(notify_app: Any) -> None:
    api = add_staff(signed_in(notify_app.test_client()))
    service = service_of(api)
    decided_record(api)
    service.derive_notifications()
    store = service.store.db["notifications"]
    store.update_many({"channel": "webhook"}, {"$set": {"attempts": 11}})
    counts = service.dispatch_notifications()
    assert counts["failed"] >= 1
    gone = list(store.find({"channel": "webhook"}))
    assert all(n["state"] == "failed" and "next_at" not in n and n["last_error"] for n in gone)


def test_two_dispatchers_at_once_send_each_notification_once(notify_app: Any) -> None:
    api = add_staff(signed_in(notify_app.test_client()))
    service = service_of(api)
    decided_record(api)
    service.derive_notifications()
    sent: list[str] = []
    lock = threading.Lock()

    class Slow:
        name = "slow"

        def send(self, notification: dict[str, Any]) -> None:
            time.sleep(0.05)
            with lock:
                sent.append(notification["_id"])

    channels = {name: Slow() for name in ("inbox", "mail", "webhook")}
    workers = [threading.Thread(target=service.dispatch_notifications, kwargs={"channels": channels})
               for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    total = service.store.db["notifications"].count_documents({})
    assert len(sent) == len(set(sent)) == total


def test_inbox_paging_unread_and_mark_read(nstaff: Any) -> None:
    service = service_of(nstaff)
    clerk = user_id(nstaff, "clerk")
    at = stamp(utcnow())
    events = [{"_id": f"ev-{i}:1", "kind": "record", "object_id": f"rec-{i}", "revision": 1, "at": at,
               "actor": {"id": "u-x", "username": "x", "name": ""}, "trigger": "copy", "outcome": "done",
               "notify": {"kind": "copied", "to": [clerk], "applicant": False}} for i in range(5)]
    service.store.copy_events(events)
    assert service.pump_notifications()["sent"] == 5
    page = nstaff.get("/api/v1/inbox?limit=2", "clerk").get_json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    seen = [e["id"] for e in page["items"]]
    while page["next_cursor"]:
        page = nstaff.get(f"/api/v1/inbox?limit=2&cursor={page['next_cursor']}", "clerk").get_json()
        seen += [e["id"] for e in page["items"]]
    assert len(seen) == len(set(seen)) == 5
    r = nstaff.post(f"/api/v1/inbox/{seen[0]}/read", "clerk")
    assert r.status_code == 200 and r.get_json()["read"] is True
    unread = nstaff.get("/api/v1/inbox?unread=true", "clerk").get_json()["items"]
    assert seen[0] not in [e["id"] for e in unread] and len(unread) == 4
    other = nstaff.post(f"/api/v1/inbox/{seen[1]}/read", "clerk2")              # not theirs
    assert other.status_code == 404 and other.get_json()["error"]["code"] == "entry_not_found"
    assert nstaff.get("/api/v1/inbox").status_code == 401
    assert nstaff.get("/api/v1/inbox?limit=1000", "clerk").status_code == 422


def test_the_status_page_shows_the_result_and_takes_the_rating_once(nstaff: Any) -> None:
    from test_pages import csrf

    record = decided_record(nstaff, reject=True)
    receipt = nstaff.get(f"/api/v1/records/{record['id']}/receipt", "clerk").get_json()
    number, code = receipt["acceptance_number"], receipt["query_code"]
    client = nstaff.client.application.test_client()
    page = client.get(f"/status?number={number}&code={code}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "未获批准" in html and "材料与事实不符" in html
    assert 'id="cf-rating"' in html
    token = csrf(page)
    given = {"csrf_token": token, "number": number, "code": code}
    r = client.post("/status/rating", data=dict(given, score="7"))
    assert r.status_code == 422 and "1 到 5" in r.get_data(as_text=True)
    r = client.post("/status/rating", data=dict(given, score="5", comment="态度好"))
    assert r.status_code == 303
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="cf-rated"' in html and 'id="cf-rating"' not in html
    again = client.post("/status/rating", data=dict(given, score="1"))
    assert again.status_code == 409
    no_token = client.post("/status/rating", data={"number": number, "code": code, "score": "1"})
    assert no_token.status_code == 400
    assert service_of(nstaff).notify_store.rating(record["id"])["score"] == 5


def test_a_decline_mails_the_applicant_why_and_where_else_to_go(nstaff: Any, ports: dict[str, int]) -> None:
    publish(nstaff, mail_form())
    data = dict(COMPLETE, licence_copy=upload(nstaff), email="li.si@example.cn")
    record = nstaff.post("/api/v1/records", "clerk", json={"form": "parking-permit", "data": data}).get_json()
    record = fire(nstaff, record, "decline", "clerk", reason="不属于本窗口受理范围", refer_to="请向区交通局申请")
    assert record["state"] == "declined"
    event = service_of(nstaff).store.history(record["id"])[-1]
    assert event["notify"] == {"kind": "declined", "to": [], "applicant": True}
    with SmtpServer(ports["smtp"]) as smtp, Hooks(ports["hook"]):
        service_of(nstaff).pump_notifications()
    mails = [m for m in smtp.box.messages if m["to"] == ["li.si@example.cn"]]
    assert len(mails) == 1
    payload = email.message_from_string(mails[0]["data"]).get_payload(decode=True)
    assert isinstance(payload, bytes)
    text = payload.decode("utf-8")
    assert "不属于本窗口受理范围" in text and "请向区交通局申请" in text and "不予受理" in text
    assert "Not accepted" in text                                    # both languages
