"""The process designer's page and JSON endpoints through the Flask test client (the browser walk is in
test_designer_browser.py): the registry served with descriptions, the upload's own checks live, saving through
the service (create, edit the draft, a new version), the approval buttons from the service's options, shipped
processes read only, CSRF on every post, hostile bodies refused with a 4xx and nothing written."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from conftest import ADMIN_PASSWORD, PASSWORD, Api
from test_api_workflows import PERMIT_CHECK
from test_pages import sign_in

DESIGNER = "/admin/workflows/designer"


def _data(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="cf-designer-data">(.*?)</script>', html, re.S)
    assert found, "the designer page embeds its data"
    return dict(json.loads(found.group(1)))


def _token(html: str) -> str:
    found = re.search(r'<meta name="cf-csrf" content="([^"]+)"', html)
    assert found
    return found.group(1)


class Page:
    """A signed-in browser session: GETs pages, posts JSON with the page's CSRF header."""

    def __init__(self, app: Any, username: str, password: str) -> None:
        self.client = app.test_client()
        assert sign_in(self.client, username, password).status_code == 302
        self.token = _token(self.client.get(DESIGNER if username == "admin" else "/worklist")
                            .get_data(as_text=True))

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def post(self, path: str, body: Any, csrf: bool = True, **kw: Any) -> Any:
        headers = {"X-CSRF-Token": self.token} if csrf else {}
        if "data" in kw:
            return self.client.post(path, headers=headers, **kw)
        return self.client.post(path, json=body, headers=headers)


@pytest.fixture
def admin(app: Any, staff: Api) -> Page:
    return Page(app, "admin", ADMIN_PASSWORD)


def _stored(app: Any) -> list[dict[str, Any]]:
    return sorted(app.extensions["counterflow"].store.workflows.find({}), key=lambda d: d["_id"])


def _definition() -> dict[str, Any]:
    return dict(yaml.safe_load(PERMIT_CHECK))


def test_the_page_serves_the_registry_with_descriptions_in_both_languages(app: Any, admin: Page) -> None:
    from counterflow.core import registry
    from counterflow.web.pages.designer import DESCRIPTIONS

    r = admin.get(DESIGNER)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'src="/cf-static/designer/main.js"' in html and "<script>" not in html.replace(
        '<script type="application/json"', "").replace('<script type="module"', "")
    data = _data(html)
    assert data["definition"] is None and data["editable"] and data["key"] is None
    for table, found in (("guards", registry.GUARDS), ("conditions", registry.CONDITIONS),
                         ("actions", registry.ACTIONS)):
        named = {e["name"] for e in data["registry"][table]}
        assert named == set(found) - {"fill_duty"}, table
        for entry in data["registry"][table]:         # every registered name is described, in both languages
            assert entry["described"], entry["name"]
            assert entry["description"]["zh-CN"] and entry["description"]["en"]
        assert set(DESCRIPTIONS[table]) <= set(found)      # and nothing described that is not registered
    assert {"clerk", "reviewer", "manager"} <= set(data["choices"]["roles"])
    assert data["choices"]["modes"] == ["all", "any", "sequence", "ratio"]
    assert {u["username"] for u in data["users"]} >= {"reviewer", "head", "boss"}
    # field rights are picked from a form's fields: every field as a JSON pointer, nested ones too
    forms = {f["key"]: f for f in data["forms"]}
    pointers = {f["pointer"]: f["title"] for f in forms["account-change"]["fields"]}
    assert "/new_details/new_phone" in pointers and pointers["/new_details/new_phone"]["en"]
    served = admin.client.get(f"{DESIGNER}/registry.json").get_json()
    assert served["guards"] == data["registry"]["guards"] and served["choices"] == data["choices"]
    # the processes page links to the designer
    listing = admin.get("/admin/workflows").get_data(as_text=True)
    assert 'href="/admin/workflows/designer"' in listing
    assert 'href="/admin/workflows/intake/designer"' in listing


def test_the_live_check_is_the_uploads_check_with_every_problem_at_its_place(app: Any, admin: Page,
                                                                             staff: Api) -> None:
    broken = _definition()
    broken["transitions"][0]["dest"] = "nowhere"
    broken["transitions"][0]["guards"] = ["no_such_guard"]
    broken["transitions"][1]["actions"] = ["no_such_action"]
    broken["states"].append({"name": "lodged"})
    before = _stored(app)
    r = admin.post(f"{DESIGNER}/check", {"definition": broken})
    assert r.status_code == 200, r.get_json()
    problems = r.get_json()["problems"]
    upload = staff.post("/api/v1/workflows", "admin", json=broken)
    assert upload.status_code == 422
    assert problems == upload.get_json()["error"]["details"]          # the very same problems, same places
    assert {p["path"] for p in problems} == {"/states/3", "/transitions/0", "/transitions/1"}
    assert admin.post(f"{DESIGNER}/check", {"definition": _definition()}).get_json() == {"problems": []}
    # a key that is taken is a problem for a new process, not for the process's own next version
    staff.post("/api/v1/workflows", "admin", json=_definition())
    taken = admin.post(f"{DESIGNER}/check", {"definition": _definition()}).get_json()["problems"]
    assert [p["path"] for p in taken] == ["/key"]
    own = admin.post(f"{DESIGNER}/check", {"definition": _definition(), "key": "permit_check"}).get_json()
    assert own == {"problems": []}
    other = admin.post(f"{DESIGNER}/check", {"definition": _definition(), "key": "intake"}).get_json()
    assert [p["path"] for p in other["problems"]] == ["/key"]          # the address's key must match
    after = _stored(app)
    assert len(after) == len(before) + 1                                # only the API upload wrote


def test_json_posts_without_the_csrf_header_are_refused_and_write_nothing(app: Any, admin: Page) -> None:
    before = _stored(app)
    for path, body in ((f"{DESIGNER}/save", {"definition": _definition()}),
                       (f"{DESIGNER}/check", {"definition": _definition()}),
                       ("/admin/workflows/intake/versions/1/designer/fire", {"trigger": "x", "revision": 0})):
        r = admin.post(path, body, csrf=False)
        assert r.status_code == 400, path
        assert r.get_json()["error"]["code"] == "csrf"
        r = admin.client.post(path, json=body, headers={"X-CSRF-Token": "forged"})
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf"
    assert _stored(app) == before


def _deep(levels: int) -> Any:
    value: Any = []
    for _ in range(levels):
        value = [value]
    return value


HOSTILE = [
    ("save", None, "data"),                                   # not JSON at all
    ("save", [1, 2], None),                                   # not an object
    ("save", {"definition": "key: x"}, None),                 # YAML text where an object belongs
    ("save", {"definition": [1]}, None),
    ("save", {"definition": {"key": {"$ne": None}}}, None),   # an operator: the check refuses it (422)
    ("save", {"definition": {"states": [{"name": "a", "deadline": {"working_days": 2 ** 70}}]}}, None),
    ("save", {"definition": _definition(), "extra": 1}, None),
    ("save", {"definition": _definition(), "key": ["permit_check"]}, None),
    ("save", {"definition": _definition(), "key": "no_such_process"}, None),
    ("check", {"definition": {"a": _deep(120)}}, None),              # nested past the store's limit
    ("layout", {"definition": None}, None),
    ("yaml", {"definition": 7}, None),
    ("parse", {"text": "key: a\nx: &a [1]\ny: *a\n"}, None),     # YAML anchors
    ("parse", {"text": "[1, 2]"}, None),
    ("parse", {"text": "{{{"}, None),
    ("parse", {"text": 12}, None),
    ("parse", {"text": "a" * (1024 * 1024 + 1)}, None),
]


@pytest.mark.parametrize("endpoint,body,raw", HOSTILE)
def test_hostile_bodies_are_4xx_with_a_message_and_write_nothing(app: Any, admin: Page, endpoint: str,
                                                                 body: Any, raw: str | None) -> None:
    before = _stored(app)
    path = f"{DESIGNER}/{endpoint}"
    if raw:
        r = admin.post(path, None, data=b"\x00not json", content_type="application/json")
    else:
        r = admin.post(path, body)
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    error = r.get_json()["error"]
    assert error["message"] and error["code"]
    assert _stored(app) == before


def test_hostile_approval_bodies_are_4xx(app: Any, admin: Page) -> None:
    r = admin.post(f"{DESIGNER}/save", {"definition": _definition()})
    assert r.status_code == 200, r.get_json()
    fire = r.get_json()["fire"]
    before = _stored(app)
    for body in ({"trigger": 5, "revision": 0}, {"trigger": "x", "revision": "0"}, {"trigger": "x"},
                 {"trigger": "x", "revision": True}, {"trigger": "x", "revision": 0, "opinion": ["a"]},
                 {"trigger": "x", "revision": 0, "opinion": "a" * 2001},
                 {"trigger": "no_such", "revision": 0},
                 {"trigger": "x", "revision": 0, "more": 1}):
        r = admin.post(fire, body)
        assert 400 <= r.status_code < 500, (body, r.get_json())
    assert _stored(app) == before


def test_save_creates_then_edits_the_draft_then_makes_a_new_version(app: Any, admin: Page,
                                                                    staff: Api) -> None:
    definition = _definition()
    r = admin.post(f"{DESIGNER}/save", {"definition": definition})
    assert r.status_code == 200, r.get_json()
    saved = r.get_json()
    assert (saved["key"], saved["version"], saved["is_draft"]) == ("permit_check", 1, True)
    assert saved["editable"]
    assert saved["designer"] == "/admin/workflows/permit_check/designer"
    assert [v["version"] for v in saved["versions"]] == [1]
    stored = staff.get("/api/v1/workflows/permit_check/versions/1", "admin").get_json()
    assert stored["definition"] == definition and stored["author"] != "counterflow"

    # the draft is edited in place, with the revision seen; a stale one is refused and changes nothing
    definition["states"][1]["title"]["en"] = "Checking"
    body = {"definition": definition, "key": "permit_check", "version": 1, "revision": saved["revision"] + 5}
    r = admin.post(f"{DESIGNER}/save", body)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "stale"
    r = admin.post(f"{DESIGNER}/save", dict(body, revision=saved["revision"]))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["version"] == 1
    assert staff.get("/api/v1/workflows/permit_check/versions/1", "admin").get_json()["definition"][
        "states"][1]["title"]["en"] == "Checking"

    # a definition that would fail never saves: 422 with every problem, nothing written
    before = _stored(app)
    bad = json.loads(json.dumps(definition))
    bad["transitions"][0]["dest"] = "nowhere"
    r = admin.post(f"{DESIGNER}/save", dict(body, definition=bad, revision=r.get_json()["revision"]))
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["path"] == "/transitions/0"
    r = admin.post(f"{DESIGNER}/save", {"definition": dict(bad, key="fresh_one")})
    assert r.status_code == 422
    assert _stored(app) == before

    # the approval buttons are the service's options; the one allowed to the admin moves the version on
    page = _data(admin.get("/admin/workflows/permit_check/designer").get_data(as_text=True))
    assert page["key"] == "permit_check" and page["is_draft"] and page["editable"]
    allowed = [o for o in page["options"] if o["allowed"]]
    assert len(allowed) == 1
    r = admin.post(page["urls"]["fire"], {"trigger": allowed[0]["trigger"], "revision": page["revision"]})
    assert r.status_code == 200, r.get_json()
    moved = r.get_json()
    assert not moved["is_draft"] and not moved["editable"] and moved["state"] != page["state"]
    # in approval: no save, no new version (one open version at a time)
    r = admin.post(f"{DESIGNER}/save", {"definition": definition, "key": "permit_check", "version": 1,
                                        "revision": moved["revision"]})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "open_version"
    head = Page(app, "head", PASSWORD)
    head_view = _data(head.get("/admin/workflows/permit_check/designer").get_data(as_text=True))
    assert not head_view["editable"] and any(o["allowed"] for o in head_view["options"])
    r = head.post(f"{DESIGNER}/save", {"definition": definition})
    assert r.status_code == 403

    # approved (department head, then manager): saving now makes version 2, a draft
    _approve_rest(staff)
    page = _data(admin.get("/admin/workflows/permit_check/designer").get_data(as_text=True))
    assert page["editable"] and not page["is_draft"]
    definition["states"][1]["clock"] = "paused"
    r = admin.post(f"{DESIGNER}/save", {"definition": definition, "key": "permit_check",
                                        "version": page["version"], "revision": page["revision"]})
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["version"], r.get_json()["is_draft"]) == (2, True)
    assert [v["version"] for v in r.get_json()["versions"]] == [1, 2]


def _approve_rest(api: Api) -> None:
    doc = api.get("/api/v1/workflows/permit_check/versions/1", "admin").get_json()
    for trigger, who in (("review", "head"), ("approve", "boss")):
        r = api.post(f"/api/v1/workflows/permit_check/versions/1/transitions/{trigger}", who,
                     json={"revision": doc["revision"], "opinion": "同意"})
        assert r.status_code == 200, r.get_json()
        doc = r.get_json()


def test_shipped_processes_open_read_only_and_are_never_saved(app: Any, admin: Page) -> None:
    r = admin.get("/admin/workflows/intake/designer")
    assert r.status_code == 200
    data = _data(r.get_data(as_text=True))
    assert data["shipped"] and not data["editable"] and data["definition"]["key"] == "intake"
    assert data["messages"]["shipped"] and data["options"] == []
    before = _stored(app)
    r = admin.post(f"{DESIGNER}/save", {"definition": data["definition"], "key": "intake",
                                        "version": data["version"], "revision": data["revision"]})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "shipped"
    # the copy is a new process under the key the admin names
    copy = dict(data["definition"], key="my_intake")
    r = admin.post(f"{DESIGNER}/save", {"definition": copy})
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["key"], r.get_json()["version"]) == ("my_intake", 1)
    assert len(_stored(app)) == len(before) + 1
    assert admin.get("/admin/workflows/nothing_here/designer").status_code == 404
    assert admin.get("/admin/workflows/intake/designer?version=99").status_code == 404


def test_layout_draws_half_drawn_processes_and_yaml_round_trips(app: Any, admin: Page) -> None:
    r = admin.post(f"{DESIGNER}/layout", {"definition": _definition()})
    assert r.status_code == 200
    found = r.get_json()
    assert set(found["states"]) == {"lodged", "vetting", "settled"}
    assert all({"x", "y", "w", "h"} <= set(b) for b in found["states"].values())
    pairs = {(e["source"], e["dest"]) for e in found["routes"]}
    assert pairs == {("lodged", "vetting"), ("vetting", "settled")}
    half = {"states": [{"name": "a"}, {"name": "b", "title": 5}, {"title": "no name"}, "x"],
            "transitions": [{"source": "a", "dest": "b"}, {"source": ["a", 3], "dest": "nowhere"}, 7, {}]}
    r = admin.post(f"{DESIGNER}/layout", {"definition": half})
    assert r.status_code == 200 and set(r.get_json()["states"]) == {"a", "b"}

    text = admin.post(f"{DESIGNER}/yaml", {"definition": _definition()}).get_json()["text"]
    assert "initial: lodged" in text and "许可核查" in text
    assert admin.post(f"{DESIGNER}/parse", {"text": text}).get_json()["definition"] == _definition()
    as_json = json.dumps(_definition(), ensure_ascii=False)
    assert admin.post(f"{DESIGNER}/parse", {"text": as_json}).get_json()["definition"] == _definition()


def test_who_may_open_the_designer_and_admin_text_is_escaped(app: Any, admin: Page, staff: Api) -> None:
    hostile = _definition()
    hostile["title"] = {"zh-CN": "</script><script>alert(1)</script>", "en": "<img src=x onerror=alert(1)>"}
    assert staff.post("/api/v1/workflows", "admin", json=hostile).status_code == 201
    html = admin.get("/admin/workflows/permit_check/designer").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert _data(html)["definition"]["title"] == hostile["title"]
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html            # the heading, as text
    clerk = app.test_client()
    assert sign_in(clerk, "clerk").status_code == 302
    assert clerk.get(DESIGNER).status_code == 403
    assert clerk.get("/admin/workflows/permit_check/designer").status_code == 403


def test_refusals_say_why_in_chinese_by_default_and_in_english_when_asked(app: Any, admin: Page) -> None:
    for suffix, expected in (("", re.compile(r"[\u4e00-\u9fff]")), ("?lang=en", re.compile(r"^[ -~]+$"))):
        r = admin.post(f"{DESIGNER}/save{suffix}", {"definition": "not an object"})
        assert r.status_code == 400 and expected.search(r.get_json()["error"]["message"]), r.get_json()
        r = admin.post(f"{DESIGNER}/save{suffix}", {"definition": _definition(), "key": "intake"})
        assert r.status_code == 409 and expected.search(r.get_json()["error"]["message"]), r.get_json()
        page = admin.get(f"/admin/workflows/intake/designer{suffix}").get_data(as_text=True)
        assert expected.search(_data(page)["messages"]["shipped"])
