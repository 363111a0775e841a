"""The record page for a grant reader (issue 10, item 2): read only, watermarked with the reader, the time
and the grant, and no print, receipt or action; anyone else without a grant gets the 403 page saying how
to ask."""
from __future__ import annotations

from typing import Any

from test_archive_helpers import approved, archived_record, query_request, setup_forms, submitted
from test_pages import csrf, sign_in


def test_a_grant_reader_sees_a_watermarked_read_only_page(app: Any, staff: Any) -> None:
    setup_forms(staff)
    record = archived_record(staff)
    draft = query_request(staff, "clerk2", [record["id"]])
    request = approved(staff, submitted(staff, draft, "clerk2"), "head")
    grant = request["grants"][0]["id"]
    reader = app.test_client()
    assert sign_in(reader, "clerk2").status_code == 302
    for lang, words in (("en", "Read only"), ("zh-CN", "只读查阅")):
        page = reader.get(f"/records/{record['id']}?lang={lang}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert 'class="cf-watermark"' in html and "<svg" in html
        assert words in html and grant in html and "clerk2" in html
        assert "/receipt" not in html and "/notice" not in html             # no printout to take away
        assert 'class="cf-form cf-action"' not in html                       # nothing to do but read
        assert "style=" not in html.split('class="cf-grant-view"')[1].split("</div>")[0]
    # the printouts are copies: a grant reader cannot open them by address either (the API receipt too)
    for printout in ("receipt", "notice", "decision"):
        page = reader.get(f"/records/{record['id']}/{printout}?lang=en")
        assert page.status_code == 403 and "cannot be printed" in page.get_data(as_text=True), printout
    assert staff.get(f"/api/v1/records/{record['id']}/receipt", "clerk2").get_json()["error"]["code"] == \
        "no_copy_of_archive"
    # records staff read it plainly, with their actions
    keeper = app.test_client()
    assert sign_in(keeper, "keeper").status_code == 302
    html = keeper.get(f"/records/{record['id']}").get_data(as_text=True)
    assert "cf-watermark" not in html and 'class="cf-form cf-action"' in html
    # without a grant: the error page says how to ask
    other = app.test_client()
    assert sign_in(other, "clerk").status_code == 302
    page = other.get(f"/records/{record['id']}?lang=en")
    assert page.status_code == 403 and "query request" in page.get_data(as_text=True)


def test_the_hold_form_asks_for_reason_and_authority(app: Any, staff: Any) -> None:
    setup_forms(staff)
    record = archived_record(staff)
    keeper = app.test_client()
    assert sign_in(keeper, "keeper").status_code == 302
    html = keeper.get(f"/records/{record['id']}?lang=en").get_data(as_text=True)
    assert 'name="reason"' in html and 'name="authority"' in html and "court order" in html
    token = csrf(keeper.get(f"/records/{record['id']}"))
    r = keeper.post(f"/records/{record['id']}", data={"csrf_token": token, "_action": "hold",
                                                      "revision": record["revision"], "reason": "审计",
                                                      "authority": "审计通知 2026-7"})
    assert r.status_code in (200, 302, 303)
    held = app.extensions["counterflow"].store.record(record["id"])["legal_hold"]
    assert (held["reason"], held["authority"]) == ("审计", "审计通知 2026-7")
