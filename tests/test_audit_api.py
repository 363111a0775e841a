"""GET /api/v1/audit: only auditors read the log (an admin is audited, not an auditor: 403), every filter
is allow-listed and checked (422 with a bilingual message), pages are keyset pages, newest first."""
from __future__ import annotations

from typing import Any

from counterflow.core.engine import Actor

from conftest import Api

WHO = Actor("u-7", "clerk7", "Clerk", frozenset({"clerk"}))
OTHER = Actor("u-8", "clerk8", "Clerk", frozenset({"clerk"}))


def test_only_auditors_read_the_log(api: Api) -> None:
    api.add_user("aud", ["auditor"])
    api.add_user("clerk", ["clerk"])
    for who in ("admin", "clerk"):
        r = api.get("/api/v1/audit", who)
        assert r.status_code == 403, r.get_json()
    assert api.get("/api/v1/audit").status_code == 401
    r = api.get("/api/v1/audit", "aud")
    assert r.status_code == 200
    actions = [e["action"] for e in r.get_json()["items"]]
    assert "login" in actions and "user.create" in actions
    keys = [e["id"] for e in r.get_json()["items"]]
    assert keys == sorted(keys, reverse=True)                   # newest first


def test_filters_and_keyset_pages(api: Api, app: Any) -> None:
    api.add_user("aud", ["auditor"])
    service = app.extensions["counterflow"].service
    for i in range(7):
        service.audit("record.read", WHO, object_id=f"rec-{i % 2}")
    service.audit("record.read", OTHER, object_id="rec-0")
    service.audit("record.reveal", WHO, object_id="rec-0", reason="court order")

    def page(**query: Any) -> Any:
        r = api.get("/api/v1/audit", "aud", query_string=query)
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    mine = page(actor="u-7")["items"]
    assert len(mine) == 8 and {e["actor_id"] for e in mine} == {"u-7"}
    assert len(page(action="record.reveal")["items"]) == 1
    assert len(page(object="rec-0")["items"]) == 6
    both = page(object="rec-0", actor="u-7", action="record.read")["items"]
    assert len(both) == 4 and all(e["object"] == "rec-0" and e["actor_id"] == "u-7" for e in both)
    seen: list[str] = []
    cursor = None
    while True:
        got = page(actor="u-7", limit=3, **({"cursor": cursor} if cursor else {}))
        seen.extend(e["id"] for e in got["items"])
        cursor = got["next_cursor"]
        if not cursor:
            break
    assert seen == [e["id"] for e in mine]
    day = mine[0]["day"]
    assert len(page(actor="u-7", **{"from": day, "to": day})["items"]) == 8
    assert page(actor="u-7", **{"from": "2000-01-01", "to": "2000-01-02"})["items"] == []


def test_wrong_filters_are_refused_with_a_reason(api: Api) -> None:
    api.add_user("aud", ["auditor"])
    for query in ({"password": "x"}, {"from": "yesterday"}, {"limit": "0"}, {"limit": "many"},
                  {"cursor": "2026-01-01:1"}, {"from": "2026-02-02", "to": "2026-01-01"},
                  {"from": "2026-02-30"},
                  {"actor": "x" * 300}):
        r = api.get("/api/v1/audit", "aud", query_string=query)
        assert r.status_code in (400, 422), (query, r.status_code)
        assert r.get_json()["error"]["message"], query
    zh = api.get("/api/v1/audit", "aud", query_string={"from": "2026-02-02", "to": "2026-01-01"},
                 headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 422 and "from" in zh.get_json()["error"]["message"]


def test_the_openapi_document_lists_the_audit_route(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/audit"]["get"]
    assert "auditor" in operation["summary"]
