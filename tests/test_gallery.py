"""The template gallery and the builder's numbering preview (pages/gallery.py), without a browser: who may
use them, the shipped counter forms as templates to copy, a free key, path tricks, CSRF, hostile bodies and
the next numbers as core/numbering.py issues them."""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from conftest import ADMIN_PASSWORD, stored_documents
from counterflow.forms.check import check_form_definition
from test_pages import sign_in

GALLERY = "/admin/forms/templates"
PREVIEW = "/admin/forms/numbering-preview"
COUNTER_FORMS = ["account-change", "business-licence", "certificate-application", "complaint"]


def _token(client: Any, path: str = GALLERY) -> str:
    html = client.get(path).get_data(as_text=True)
    found = re.search(r'<meta name="cf-csrf" content="([^"]+)"', html)
    assert found
    return found.group(1)


def _post(client: Any, body: Any, token: str | None) -> Any:
    headers = {"X-CSRF-Token": token} if token else {}
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(PREVIEW, data=raw, headers=headers, content_type="application/json")


@pytest.fixture
def admin(app: Any, staff: Any) -> Any:
    client = app.test_client()
    assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 302
    return client


def _today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


# ---- the gallery ----------------------------------------------------------------------------------------

def test_the_gallery_lists_the_shipped_counter_forms(app: Any, admin: Any) -> None:
    r = admin.get(GALLERY)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert re.findall(r'data-template="([^"]+)"', html) == COUNTER_FORMS      # not the records staff's forms
    assert "<h1>表单模板库</h1>" in html
    shipped = app.extensions["counterflow"].forms
    for key in COUNTER_FORMS:
        card = html.split(f'data-template="{key}"', 1)[1].split("</section>", 1)[0]
        assert f"<h2 id=\"cf-template-{key}\">{shipped[key]['title']['zh-CN']}</h2>" in card
        assert shipped[key]["description"]["zh-CN"] in card
        count = re.search(r'cf-gallery-count">共 (\d+) 个字段<', card)
        assert count and int(count.group(1)) >= len(shipped[key]["schema"]["properties"])
        link = re.search(r'<a class="[^"]*cf-gallery-copy" href="([^"]+)" aria-label="([^"]+)">([^<]+)</a>',
                         card)
        assert link and link.groups() == (f"/admin/forms/builder?template={key}",
                                          f"复制并修改：{shipped[key]['title']['zh-CN']}", "复制并修改")
        assert 'class="cf-view"' in card                         # the read-only preview, by render_fields
        assert "<input" not in card and "<select" not in card
    en = admin.get(GALLERY + "?lang=en").get_data(as_text=True)
    assert "<h1>Template gallery</h1>" in en and "Copy and adapt" in en and "Change of account details" in en
    # linked from the forms page
    forms = admin.get("/admin/forms?lang=zh-CN").get_data(as_text=True)
    assert f'href="{GALLERY}"' in forms and "从模板库复制表单" in forms


def test_only_admins_see_the_gallery(app: Any, admin: Any) -> None:
    for who in ("clerk", "head"):
        client = app.test_client()
        sign_in(client, who)
        assert client.get(GALLERY).status_code == 403
        assert client.get(GALLERY + "/account-change.json").status_code == 403
    assert app.test_client().get(GALLERY).status_code in (302, 401)
    r = app.test_client().get(GALLERY + "/account-change.json", headers={"Accept": "application/json"})
    assert r.status_code == 401


def test_a_template_is_the_shipped_definition_under_a_free_key(app: Any, admin: Any, staff: Any) -> None:
    shipped = app.extensions["counterflow"].forms["account-change"]
    r = admin.get(GALLERY + "/account-change.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    found = r.get_json()
    assert found["key"] == "account-change-2"
    assert {k: v for k, v in found.items() if k != "key"} == {k: v for k, v in shipped.items() if k != "key"}
    assert check_form_definition(found, "t.json") == []
    # the key is free: once a form takes it, the next one is offered
    definition = dict(found)
    assert staff.post("/api/v1/forms", "admin", json=definition).status_code == 201
    assert admin.get(GALLERY + "/account-change.json").get_json()["key"] == "account-change-3"


@pytest.mark.parametrize("path", [
    "/no-such-form.json", "/destruction-list.json", "/query-request.json", "/ACCOUNT-CHANGE.json",
    "/account-change", "/..%2F..%2Fsettings.json", "/../account-change.json", "/a/b.json",
    "/%2e%2e/schemas/complaint.json", "/account-change.json.json", "/x" * 40 + ".json"])
def test_an_unknown_template_or_a_path_trick_is_a_clear_404(admin: Any, path: str) -> None:
    r = admin.get(GALLERY + path, headers={"Accept": "application/json"})
    assert r.status_code == 404, (path, r.status_code)
    if r.mimetype == "application/json":
        error = r.get_json()["error"]
        assert error["code"] in ("template_not_found", "not_found")
        if error["code"] == "template_not_found":
            assert "模板库" in error["message"]
    english = admin.get(GALLERY + "/no-such-form.json?lang=en")
    assert english.status_code == 404
    assert english.get_json()["error"]["message"] == \
        "There is no form template \"no-such-form\"; choose one from the template gallery"


# ---- the numbering preview ------------------------------------------------------------------------------

def test_the_next_three_numbers_of_a_pattern(app: Any, admin: Any) -> None:
    token = _token(admin)
    r = _post(admin, {"pattern": "ACC-{yyyy}{mm}{dd}-{seq:05d}"}, token)
    assert r.status_code == 200, r.get_json()
    today = _today()
    day = today.strftime("%Y%m%d")
    assert r.get_json() == {"numbers": [f"ACC-{day}-00001", f"ACC-{day}-00002", f"ACC-{day}-00003"],
                            "problems": []}
    r = _post(admin, {"pattern": "BL/{yy}{mm}/{seq}"}, token)
    assert r.get_json()["numbers"] == [f"BL/{today:%y%m}/{n}" for n in (1, 2, 3)]
    # what intake would issue: the first acceptance of a new form today gets the first number shown
    from counterflow.core.numbering import NumberPattern
    now = dt.datetime.now(ZoneInfo("Asia/Shanghai"))
    assert NumberPattern.parse("ACC-{yyyy}{mm}{dd}-{seq:05d}").format(now, 1) == f"ACC-{day}-00001"


@pytest.mark.parametrize("pattern,zh,en", [
    ("", "编号规则为空", "The pattern is empty"),
    ("ACC-{yyyy}", "有 0 个序号", "0 sequence tokens"),
    ("A{seq}{seq}", "有 2 个序号", "2 sequence tokens"),
    ("ACC {seq}", "「 」不能出现在编号中", "\" \" cannot appear"),
    ("{seq:013d}", "序号「{seq:013d}」写法不对", "The sequence token \"{seq:013d}\" is wrong"),
    ("{foo}-{seq}", "未知的标记「{foo}」", "Unknown token \"{foo}\""),
    ("{dd}-{seq}", "有 {dd} 却没有 {mm}", "{dd} without {mm}"),
    ("{mm}-{seq}", "有 {mm} 却没有年份", "{mm} without a year"),
    ("A" * 65 + "{seq}", "最多 64 个字符", "at most 64"),
])
def test_a_bad_pattern_says_what_is_wrong_in_both_languages(admin: Any, pattern: str, zh: str,
                                                            en: str) -> None:
    token = _token(admin)
    r = _post(admin, {"pattern": pattern}, token)
    assert r.status_code == 200
    body = r.get_json()
    assert body["numbers"] == [] and len(body["problems"]) == 1
    assert body["problems"][0]["path"] == "/settings/numbering"
    assert zh in body["problems"][0]["message"], body
    admin.get(GALLERY + "?lang=en")                               # the choice sticks for the session
    r = _post(admin, {"pattern": pattern}, token)
    assert en in r.get_json()["problems"][0]["message"], r.get_json()


def test_the_preview_refuses_without_csrf_or_with_a_hostile_body(app: Any, admin: Any) -> None:
    before = stored_documents(app)
    r = _post(admin, {"pattern": "A-{seq}"}, None)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf"
    token = _token(admin)
    for body, code in ((b"not json", "bad_json"), ([1, 2], "bad_json"), ({"pattern": 5}, "bad_pattern"),
                       ({"pattern": None}, "bad_pattern"), ({"pattern": ["{seq}"]}, "bad_pattern"),
                       ({"pattern": "A-{seq}", "extra": 1}, "unknown_field"), ({}, "bad_pattern")):
        r = _post(admin, body, token)
        assert r.status_code == 400, (body, r.status_code)
        error = r.get_json()["error"]
        assert error["code"] == code and error["message"], (body, error)
    for hostile in ('{"pattern": "{" }', '{"pattern": "\\ud800{seq}"}', '{"pattern": "{seq}\\u0000"}',
                    '{"pattern": "%Y-{seq}"}', '{"pattern": "{{seq}}"}', '{"pattern": "' + "{" * 5000 + '"}',
                    '{"pattern": "{seq:0' + "9" * 40 + 'd}"}', '{"pattern": "\u00e9{seq}"}'):
        r = _post(admin, hostile, token)
        assert r.status_code == 200, (hostile[:40], r.status_code)
        assert r.get_json()["numbers"] == [] and r.get_json()["problems"][0]["message"], hostile[:40]
    assert stored_documents(app) == before                      # nothing written, no counter drawn
    clerk = app.test_client()
    sign_in(clerk, "clerk")
    r = _post(clerk, {"pattern": "A-{seq}"}, _token(clerk, "/worklist"))
    assert r.status_code == 403
