"""Bad input never gives a 500 or a stack trace, and never half-writes.

Every endpoint of the API is listed in ENDPOINTS (a test checks the list against the app's URL map),
and every error is checked for its status, its JSON shape, its code and the absence of a traceback.

Most tests here only send requests that must be refused, so they share one world per module (`world`):
one app, its users, two forms and a record, built once. After each such test the `world` fixture checks
that every stored document is as it was, so a refusal that writes anything fails, and no test can leak
state into the next. Tests that must change state take `fresh`: a second, separate world of the module,
with a record of the test's own.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterator

import pytest
import yaml

from conftest import Api, add_staff, make_config, new_db_name, running_app, signed_in, stored_documents

CJK = re.compile(r"[\u4e00-\u9fff]")
KEY = "visit-note"
SIMPLE_FORM = {
    "key": KEY,
    "title": {"zh-CN": "来访登记", "en": "Visit note"},
    "description": {"zh-CN": "登记来访人和事由", "en": "Who visited and why"},
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["visitor"],
        "properties": {
            "visitor": {"type": "string", "minLength": 1, "maxLength": 50,
                        "title": "来访人", "x-title-en": "Visitor"},
            "purpose": {"type": "string", "maxLength": 200, "title": "事由", "x-title-en": "Purpose"},
            "count": {"type": "integer", "minimum": 1, "maximum": 99,
                      "title": "人数", "x-title-en": "Head count"},
        },
    },
    "ui_schema": {"ui:order": ["visitor", "purpose", "count"]},
    "settings": {"processes": ["intake", "review", "archive", "destroy"],
                 "numbering": "VIS-{yyyy}{mm}{dd}-{seq:04d}", "time_limit": {"working_days": 3}},
}

# a process definition as JSON, its key and names none the product ships (the body of the workflow uploads)
WORKFLOW: dict[str, Any] = {
    "key": "hostile_check", "title": {"zh-CN": "许可核查", "en": "Permit check"}, "initial": "lodged",
    "states": [{"name": "lodged", "title": {"zh-CN": "待提交", "en": "Lodged"}, "editable": True},
               {"name": "settled", "title": {"zh-CN": "已办结", "en": "Settled"}, "final": True,
                "ends_record": True}],
    "transitions": [{"trigger": "hand_in", "title": {"zh-CN": "提交核查", "en": "Hand in"},
                     "source": "lodged", "dest": "settled", "roles": ["clerk"]}],
}

# clerk2 stands in for the caller (or for clerk) for a week
POST_BODY = {"backup": "clerk2", "from": "2031-01-02", "until": "2031-01-09"}

# (method, path template, body sent when the test needs a well-formed one)
# {key}: the published simple form; {draft}: a second form kept in draft; {rid}: a record in intake/draft
ENDPOINTS: list[tuple[str, str, Any]] = [
    ("GET", "/healthz", None),
    ("POST", "/api/v1/auth/token", {"username": "admin", "password": "x"}),
    ("POST", "/api/v1/users", {"username": "someone", "password": "Counter-Pass-2026", "roles": ["clerk"],
                               "email": "someone@example.gov.cn"}),
    ("GET", "/api/v1/users", None),
    ("GET", "/api/v1/me", None),
    # a well-formed body whose current password is wrong: it reaches the service and changes nothing
    ("POST", "/api/v1/me/password",
     {"current_password": "not-the-password", "new_password": "Brand-New-Pass-2027"}),
    ("POST", "/api/v1/forms", dict(SIMPLE_FORM, key="another-form")),
    ("GET", "/api/v1/forms", None),
    ("GET", "/api/v1/forms/{key}", None),
    ("GET", "/api/v1/forms/{key}/versions/1", None),
    ("PUT", "/api/v1/forms/{draft}/versions/1", {"revision": 0}),
    ("POST", "/api/v1/forms/{key}/versions", {}),
    ("GET", "/api/v1/forms/{draft}/versions/1/transitions", None),
    ("POST", "/api/v1/forms/{draft}/versions/1/transitions/submit", {"revision": 0}),
    ("GET", "/api/v1/forms/{key}/versions/1/history", None),
    ("POST", "/api/v1/records", {"form": KEY, "data": {"visitor": "x"}}),
    ("GET", "/api/v1/records", None),
    ("GET", "/api/v1/records/{rid}", None),
    ("PATCH", "/api/v1/records/{rid}", {"revision": 0, "data": {"visitor": "y"}}),
    ("GET", "/api/v1/records/{rid}/history", None),
    ("GET", "/api/v1/records/{rid}/receipt", None),
    ("GET", "/api/v1/records/{rid}/transitions", None),
    ("POST", "/api/v1/records/{rid}/transitions/submit", {"revision": 0}),
    ("POST", "/api/v1/attachments", None),
    ("GET", "/api/v1/attachments/{aid}", None),
    ("GET", "/api/v1/status", None),
    ("GET", "/api/v1/openapi.json", None),
    # approval steps
    ("GET", "/api/v1/records/{rid}/approval", None),
    ("POST", "/api/v1/records/{rid}/approval/approve", {"revision": 0, "opinion": "同意"}),
    # the audit log
    ("GET", "/api/v1/audit", None),
    # clocks: the calendar (a year far from the records' deadlines) and extensions
    ("GET", "/api/v1/calendar/2031", None),
    ("PUT", "/api/v1/calendar/2031", {"days_off": ["2031-10-08"], "workdays": []}),
    ("POST", "/api/v1/records/{rid}/extension", {"revision": 0, "days": 5, "reason": "材料待补"}),
    ("POST", "/api/v1/records/{rid}/extension/decision", {"revision": 0, "grant": True, "opinion": "同意"}),
    # destruction lists ({lid}: a list in its first state)
    ("GET", "/api/v1/destructions/disposition", None),
    ("POST", "/api/v1/destructions", {"title": "2026 年第一批", "note": "到期档案"}),
    ("GET", "/api/v1/destructions", None),
    ("GET", "/api/v1/destructions/{lid}", None),
    ("POST", "/api/v1/destructions/{lid}/items", {"records": [{"id": "rec_01NOSUCHRECORD", "note": "x"}]}),
    ("GET", "/api/v1/destructions/{lid}/items", None),
    ("POST", "/api/v1/destructions/{lid}/items/{rid}", {"action": "remove", "reason": "仍在诉讼中"}),
    ("GET", "/api/v1/destructions/{lid}/transitions", None),
    ("POST", "/api/v1/destructions/{lid}/transitions/submit", {"revision": 0, "opinion": "请审批"}),
    ("GET", "/api/v1/destructions/{lid}/certificate", None),
    # protected values in full
    ("POST", "/api/v1/records/{rid}/reveal", {"fields": ["/visitor"], "reason": "核对身份"}),
    # notifications ({eid}: an inbox entry nobody has, so marking it read is a clean 404)
    ("GET", "/api/v1/inbox", None),
    ("POST", "/api/v1/inbox/{eid}/read", None),
    ("GET", "/api/v1/worklists/mine", None),
    ("POST", "/api/v1/status/rating", {"number": "VIS-NOSUCH", "code": "NOSUCH", "score": 5, "comment": "好"}),
    # approved reading ({qid}: a query request in draft)
    ("POST", "/api/v1/query-requests", {"purpose": "核对历史办理情况", "records": ["rec_01NOSUCHRECORD"],
                                        "period_from": "2031-01-02", "period_until": "2031-01-09"}),
    ("GET", "/api/v1/query-requests", None),
    ("GET", "/api/v1/query-requests/{qid}", None),
    ("GET", "/api/v1/query-requests/{qid}/transitions", None),
    ("POST", "/api/v1/query-requests/{qid}/transitions/submit", {"revision": 0}),
    # workflow definitions ({wf}: a process uploaded and kept in draft)
    ("POST", "/api/v1/workflows", dict(WORKFLOW, key="another_check")),
    ("GET", "/api/v1/workflows", None),
    ("GET", "/api/v1/workflows/{wf}", None),
    ("POST", "/api/v1/workflows/{wf}/versions", WORKFLOW),
    ("GET", "/api/v1/workflows/{wf}/versions/1", None),
    ("PUT", "/api/v1/workflows/{wf}/versions/1?revision=0", WORKFLOW),
    ("GET", "/api/v1/workflows/{wf}/versions/1/transitions", None),
    ("POST", "/api/v1/workflows/{wf}/versions/1/transitions/submit", {"revision": 0, "opinion": "请审批"}),
    ("GET", "/api/v1/workflows/{wf}/versions/1/history", None),
    ("GET", "/api/v1/workflows/{wf}/versions/1/diagram.svg", None),
    # definitions under review: differences between versions, checks that write nothing
    ("GET", "/api/v1/forms/{key}/versions/1/diff", None),
    ("GET", "/api/v1/workflows/{wf}/versions/1/diff", None),
    ("POST", "/api/v1/forms/check", dict(SIMPLE_FORM, key="checked-form")),
    ("POST", "/api/v1/workflows/check", dict(WORKFLOW, key="checked_check")),
    # A/B posts ({bid}: a post nobody named, so ending it is a clean 404)
    ("POST", "/api/v1/me/backups", POST_BODY),
    ("GET", "/api/v1/me/backups", None),
    ("DELETE", "/api/v1/me/backups/{bid}", None),
    ("POST", "/api/v1/users/clerk/backups", POST_BODY),
]
PUBLIC = {"/healthz", "/api/v1/auth/token", "/api/v1/status", "/api/v1/openapi.json", "/api/v1/status/rating"}
# A workflow upload's body is the definition itself, as JSON (sent here) or YAML (test_yaml_definition_*);
# an empty body on a workflow's new version means "copy the latest", as on a form's (test_empty_body_on_*).
# the endpoints that take a JSON body (an attachment is a multipart upload; marking read takes no body)
WITH_BODY = [e for e in ENDPOINTS
             if e[0] in ("POST", "PUT", "PATCH") and "attachments" not in e[1] and not e[1].endswith("/read")]
AUTHED = [e for e in ENDPOINTS if e[1] not in PUBLIC]


def ids(endpoints: list[tuple[str, str, Any]]) -> list[str]:
    return [f"{m} {p}" for m, p, _ in endpoints]


# -- helpers ------------------------------------------------------------------------------------------------

def error_of(r: Any, status: int | tuple[int, ...],
             code: str | tuple[str, ...] | None = None) -> dict[str, Any]:
    """A JSON error of `status` and `code`; no traceback, no source paths, never HTML."""
    text = r.get_data(as_text=True)
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, (r.status_code, text[:500])
    assert r.mimetype == "application/json", (r.headers.get("Content-Type"), text[:300])
    for leak in ("Traceback", 'File "', "site-packages", "/work/", ".py\"", ".py,", "<html", "<!doctype"):
        assert leak.lower() not in text.lower(), (leak, text[:500])
    body = r.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert {"code", "message", "details"} <= set(err), err
    assert isinstance(err["code"], str) and isinstance(err["message"], str) and err["message"]
    assert isinstance(err["details"], (list, dict))
    if code is not None:
        codes = code if isinstance(code, tuple) else (code,)
        assert err["code"] in codes, err
    for d in err["details"] if isinstance(err["details"], list) else []:
        assert {"path", "code", "message"} <= set(d), d
    return err


def flushed_db(app: Any) -> Any:
    store = app.extensions["counterflow"].store
    if hasattr(store, "copier"):
        store.copier.flush()                 # events are copied from the outbox in the background
    return store.db


def counts(app: Any) -> dict[str, int]:
    """Documents per collection, except the rate-limit buckets (every login attempt counts there)."""
    db = flushed_db(app)                 # ids only: on the embedded store, thrice as fast as count_documents
    return {name: len(list(db[name].find({}, {"_id": 1})))
            for name in db.list_collection_names() if name != "rate_buckets"}


def fill(path: str, world: dict[str, Any]) -> str:
    return path.format(**world)


def publish(api: Api, form: dict[str, Any]) -> None:
    """Define `form` and take its version 1 through approval."""
    assert api.post("/api/v1/forms", "admin", json=form).status_code == 201
    for who, trigger in (("admin", "submit"), ("head", "review"), ("boss", "approve")):
        rev = api.get(f"/api/v1/forms/{form['key']}/versions/1", "admin").get_json()["revision"]
        r = api.post(f"/api/v1/forms/{form['key']}/versions/1/transitions/{trigger}", who,
                     json={"revision": rev})
        assert r.status_code == 200, r.get_json()


def new_record(api: Api) -> str:
    r = api.post("/api/v1/records", "clerk", json={"form": KEY, "data": {"visitor": "王五", "purpose": "开户"}})
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["id"])


def build_world(api: Api, app: Any) -> dict[str, Any]:
    """A published simple form, a second form in draft, one record in intake/draft, a destruction list and a
    query request in their first states and a process definition in draft."""
    publish(api, SIMPLE_FORM)
    api.add_user("auditor", ["auditor"])
    assert api.post("/api/v1/forms", "admin", json=dict(SIMPLE_FORM, key="draft-form")).status_code == 201
    r = api.post("/api/v1/destructions", "keeper", json={"title": "2026 年第一批"})
    assert r.status_code == 201, r.get_json()
    lid = r.get_json()["id"]
    asked = {"purpose": "核对历史办理情况", "records": ["rec_x"], "period_from": "2031-01-02",
             "period_until": "2031-01-09"}
    r = api.post("/api/v1/query-requests", "clerk", json=asked)
    assert r.status_code == 201, r.get_json()
    qid = r.get_json()["id"]
    r = api.post("/api/v1/workflows", "admin", json=WORKFLOW)
    assert r.status_code == 201, r.get_json()
    return {"key": KEY, "draft": "draft-form", "rid": new_record(api), "aid": "att_01NOSUCHATTACHMENT",
            "lid": lid, "qid": qid, "wf": WORKFLOW["key"], "eid": "ntf_01NOSUCHENTRY",
            "bid": "bak_01NOSUCHPOST", "api": api, "app": app}


@pytest.fixture(scope="module")
def shared(module_staff: Api, module_app: Any) -> dict[str, Any]:
    return build_world(module_staff, module_app)


@pytest.fixture
def world(shared: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The module's shared world, for a test whose requests are all refused or only read.

    Afterwards every stored document must be as it was before the test."""
    before = stored_documents(shared["app"])
    yield shared
    assert stored_documents(shared["app"]) == before, "a test on the shared world changed what is stored"


@pytest.fixture(scope="module")
def scratch(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A second world of the module, apart from `shared`, where tests may change state."""
    with running_app(make_config(mongo_uri, new_db_name(), tmp_path_factory.mktemp("scratch"))) as app:
        yield build_world(add_staff(signed_in(app.test_client())), app)


@pytest.fixture
def fresh(scratch: dict[str, Any]) -> dict[str, Any]:
    """The scratch world with a record of this test's own as {rid}: for a test that changes state."""
    return dict(scratch, rid=new_record(scratch["api"]))


def send(api: Api, method: str, path: str, who: str | None = "admin", **kw: Any) -> Any:
    return api.call(method, path, who, **kw)


def test_endpoint_list_covers_every_api_route(module_app: Any) -> None:
    routes = set()
    for rule in module_app.url_map.iter_rules():
        if rule.endpoint.startswith("counterflow_api."):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)))
    listed = set()
    for method, path, _ in ENDPOINTS:
        generic = re.sub(r"/forms/\{(key|draft)\}", "/forms/{key}", path)
        generic = generic.replace("/versions/1", "/versions/{version}").replace("{rid}", "{record_id}")
        generic = generic.replace("{aid}", "{attachment_id}")
        generic = re.sub(r"/transitions/submit$", "/transitions/{trigger}", generic)
        generic = generic.partition("?")[0].replace("/calendar/2031", "/calendar/{year}")
        generic = generic.replace("/approval/approve", "/approval/{trigger}")
        generic = generic.replace("/worklists/mine", "/worklists/{name}").replace("{lid}", "{list_id}")
        generic = generic.replace("{eid}", "{entry_id}").replace("{qid}", "{record_id}")
        generic = generic.replace("{wf}", "{key}").replace("{bid}", "{backup_id}")
        generic = generic.replace("/users/clerk/", "/users/{username}/")
        listed.add((method, generic))
    assert routes == listed, (routes - listed, listed - routes)


# -- bodies that are not JSON objects ------------------------------------------------------------------------

MALFORMED: dict[str, dict[str, Any]] = {
    "not_json": dict(data="{not json", content_type="application/json"),
    "truncated": dict(data='{"revision": 0, "data": {', content_type="application/json"),
    "array": dict(data="[1, 2, 3]", content_type="application/json"),
    "string": dict(data='"hello"', content_type="application/json"),
    "number": dict(data="42", content_type="application/json"),
    "null": dict(data="null", content_type="application/json"),
    "bad_utf8": dict(data=b'{"a": "\xff\xfe"}', content_type="application/json"),
    "nan": dict(data='{"revision": NaN}', content_type="application/json; charset=utf-8"),
    "deep_array": dict(data="[" * 100_000 + "]" * 100_000, content_type="application/json"),
    "deep_object": dict(data='{"a":' * 50_000 + "1" + "}" * 50_000, content_type="application/json"),
    "deep_500": dict(data='{"data": ' + '{"a":' * 500 + "1" + "}" * 500 + "}",
                     content_type="application/json"),
    "deep_list_900": dict(data='{"revision": 0, "items": ' + "[" * 900 + "]" * 900 + "}",
                          content_type="application/json"),
    "text_plain": dict(data='{"revision": 0}', content_type="text/plain"),
    "form_encoded": dict(data="revision=0", content_type="application/x-www-form-urlencoded"),
    "no_content_type": dict(data='{"revision": 0}'),
    "multipart": dict(data={"revision": "0"}, content_type="multipart/form-data"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
@pytest.mark.parametrize("method, path, good", WITH_BODY, ids=ids(WITH_BODY))
def test_malformed_body_is_400(world: dict[str, Any], method: str, path: str, good: Any,
                               kind: str) -> None:
    before = counts(world["app"])
    r = send(world["api"], method, fill(path, world), **MALFORMED[kind])
    if kind == "nan":      # Python's json reads NaN; the field checks must still refuse it
        error_of(r, (400, 422))
    else:
        error_of(r, 400, ("malformed", "content_type", "too_deep"))
    assert counts(world["app"]) == before


def test_wrong_content_type_names_json(world: dict[str, Any]) -> None:
    r = send(world["api"], "POST", "/api/v1/records?lang=en", data='{"form": "visit-note"}',
             content_type="text/plain")
    err = error_of(r, 400, "content_type")
    assert "application/json" in err["message"]


@pytest.mark.parametrize("method, path, good", WITH_BODY, ids=ids(WITH_BODY))
def test_unknown_fields_are_422_and_listed(world: dict[str, Any], method: str, path: str, good: Any) -> None:
    before = counts(world["app"])
    r = send(world["api"], method, fill(path, world), json=dict(good, bogus=1, **{"$where": "1"}))
    err = error_of(r, 422, "invalid_request")
    paths = {d["path"]: d["code"] for d in err["details"]}
    assert paths.get("/bogus") == "unknown_field" and paths.get("/$where") == "unknown_field", paths
    assert counts(world["app"]) == before


def test_empty_body_on_new_version_means_copy(scratch: dict[str, Any]) -> None:
    api = scratch["api"]
    publish(api, dict(SIMPLE_FORM, key="copy-me"))
    r = send(api, "POST", "/api/v1/forms/copy-me/versions", data=b"", content_type="application/json")
    assert r.status_code == 201 and r.get_json()["version"] == 2
    first = api.get("/api/v1/forms/copy-me/versions/1", "admin").get_json()
    assert r.get_json()["schema"] == first["schema"]


def test_empty_body_on_new_workflow_version_means_copy(scratch: dict[str, Any]) -> None:
    """A workflow's new version takes its definition as the body, or none: then the latest is copied."""
    api = scratch["api"]
    assert api.post("/api/v1/workflows", "admin", json=dict(WORKFLOW, key="copy_check")).status_code == 201
    for who, trigger in (("admin", "submit"), ("head", "review"), ("boss", "approve")):
        rev = api.get("/api/v1/workflows/copy_check/versions/1", "admin").get_json()["revision"]
        r = api.post(f"/api/v1/workflows/copy_check/versions/1/transitions/{trigger}", who,
                     json={"revision": rev, "opinion": "同意"})
        assert r.status_code == 200, r.get_json()
    r = send(api, "POST", "/api/v1/workflows/copy_check/versions", data=b"", content_type="application/json")
    assert r.status_code == 201 and r.get_json()["version"] == 2, r.get_json()
    first = api.get("/api/v1/workflows/copy_check/versions/1", "admin").get_json()
    assert r.get_json()["definition"] == first["definition"]


# -- a workflow definition sent as YAML answers as the same definition sent as JSON --------------------------

DEFINITION_ENDPOINTS = [e for e in WITH_BODY if e[2] is not None and "initial" in e[2]]
YAML_TYPE = "application/yaml"
# what is wrong with the body -> (the JSON text, the YAML text) saying the same
SAME_IN_BOTH: dict[str, tuple[str, str]] = {
    "unparseable": ('{"key": [', "key: [\n"),
    "a_list": ("[1, 2]", "- 1\n- 2\n"),
    "a_string": ('"hello"', "hello\n"),
    "null": ("null", "~\n"),
    "deep": ("[" * 5_000 + "]" * 5_000, "[" * 5_000 + "]" * 5_000),
    "unknown_fields": (json.dumps(dict(WORKFLOW, bogus=1, **{"$where": "1"})),
                       yaml.safe_dump(dict(WORKFLOW, bogus=1, **{"$where": "1"}), allow_unicode=True)),
    "operator_key": (json.dumps(dict(WORKFLOW, key={"$ne": None})),
                     yaml.safe_dump(dict(WORKFLOW, key={"$ne": None}), allow_unicode=True)),
    "operator_states": (json.dumps(dict(WORKFLOW, states={"$gt": ""})),
                        yaml.safe_dump(dict(WORKFLOW, states={"$gt": ""}), allow_unicode=True)),
}


@pytest.mark.parametrize("kind", sorted(SAME_IN_BOTH))
@pytest.mark.parametrize("method, path, good", DEFINITION_ENDPOINTS, ids=ids(DEFINITION_ENDPOINTS))
def test_yaml_definition_answers_as_json(world: dict[str, Any], method: str, path: str, good: Any,
                                         kind: str) -> None:
    as_json, as_yaml = SAME_IN_BOTH[kind]
    got = []
    for text, content_type in ((as_json, "application/json"), (as_yaml, YAML_TYPE)):
        r = send(world["api"], method, fill(path, world), data=text.encode("utf-8"),
                 content_type=content_type)
        err = error_of(r, (400, 409, 422))        # 409: a new version while another is open
        got.append((r.status_code, err["code"], sorted(d["path"] for d in err["details"])
                    if isinstance(err["details"], list) else []))
    assert got[0] == got[1], got
    if kind == "unknown_fields":
        assert got[0] == (422, "invalid_request", ["/$where", "/bogus"]), got


@pytest.mark.parametrize("kind, text", [
    ("anchors", "key: a\ntitle: &t {zh-CN: 甲, en: A}\ndescription: *t\n"),
    ("bad_utf8", b"key: \xff\xfe\n"),
    ("tabs", "key:\n\t- a\n"),
    ("python_tag", "key: !!python/object/apply:os.system ['echo hi']\n"),
    ("billion_laughs", "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"),
    ("list_key", "key: a\n? [x, y]\n: z\n"),
    ("date_value", "key: a\ndescription: 2026-01-01\n"),
    ("nested_number_key", "key: a\nstates:\n  - {name: x, 1: y}\n"),
    ("binary", "key: !!binary aGVsbG8=\n"),
    ("set", "key: a\ntitle: !!set {x, y}\n"),
])
@pytest.mark.parametrize("method, path, good", DEFINITION_ENDPOINTS, ids=ids(DEFINITION_ENDPOINTS))
def test_hostile_yaml_definition_is_400(world: dict[str, Any], method: str, path: str, good: Any, kind: str,
                                        text: Any) -> None:
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    r = send(world["api"], method, fill(path, world), data=data, content_type=YAML_TYPE)
    error_of(r, 400, "malformed")


@pytest.mark.parametrize("member", ["1", "true", "null", "2026-01-01", "1.5", "'$where'", "'a.b'", "'~1'"])
@pytest.mark.parametrize("method, path, good", DEFINITION_ENDPOINTS, ids=ids(DEFINITION_ENDPOINTS))
def test_yaml_member_names_that_are_not_text_are_refused(
        world: dict[str, Any], method: str, path: str, good: Any, member: str) -> None:
    """YAML reads `1:` or `2026-01-01:` as a number or a date, not a name: refused, never a 500."""
    text = yaml.safe_dump(good, allow_unicode=True) + f"{member}: x\n"
    r = send(world["api"], method, fill(path, world), data=text.encode("utf-8"), content_type=YAML_TYPE)
    err = error_of(r, (400, 409, 422))
    if r.status_code == 422:
        assert err["code"] == "invalid_request" and len(err["details"]) == 1, err


@pytest.mark.parametrize("method, path, good", DEFINITION_ENDPOINTS, ids=ids(DEFINITION_ENDPOINTS))
def test_oversized_yaml_definition_is_413(world: dict[str, Any], method: str, path: str, good: Any) -> None:
    limit = world["app"].extensions["counterflow"].settings.max_json_bytes
    big = yaml.safe_dump(dict(good, description={"zh-CN": "x" * (limit + 1024), "en": "x"}))
    r = send(world["api"], method, fill(path, world), data=big.encode("utf-8"), content_type=YAML_TYPE)
    error_of(r, 413, "too_large")


# -- operators where strings belong --------------------------------------------------------------------------

OP_NE, OP_GT = {"$ne": None}, {"$gt": ""}

INJECTIONS = [
    ("POST", "/api/v1/auth/token", None, {"username": OP_NE, "password": OP_NE}),
    ("POST", "/api/v1/auth/token", None, {"username": "admin", "password": OP_GT}),
    ("POST", "/api/v1/users", "admin",
     {"username": OP_GT, "password": "Counter-Pass-2026", "roles": ["clerk"]}),
    ("POST", "/api/v1/users", "admin", {"username": "eve", "password": "Counter-Pass-2026", "roles": OP_NE}),
    ("POST", "/api/v1/users", "admin",
     {"username": "eve", "password": "Counter-Pass-2026", "roles": ["clerk"], "department": OP_NE}),
    ("POST", "/api/v1/users", "admin",
     {"username": "eve", "password": "Counter-Pass-2026", "roles": ["clerk"], "email": OP_NE}),
    ("POST", "/api/v1/users", "admin",
     {"username": "eve", "password": "Counter-Pass-2026", "roles": ["clerk"], "email": "eve@x.cn, $where"}),
    ("POST", "/api/v1/forms", "admin", dict(SIMPLE_FORM, key=OP_NE)),
    ("PUT", "/api/v1/forms/{draft}/versions/1", "admin", {"revision": OP_GT}),
    ("PUT", "/api/v1/forms/{draft}/versions/1", "admin", {"revision": "0"}),
    ("POST", "/api/v1/forms/{draft}/versions/1/transitions/submit", "admin", {"revision": OP_NE}),
    ("POST", "/api/v1/records", "clerk", {"form": OP_NE, "data": {"visitor": "x"}}),
    ("POST", "/api/v1/records", "clerk", {"form": KEY, "data": {"visitor": OP_NE}}),
    ("POST", "/api/v1/records", "clerk", {"form": KEY, "data": {"$where": "sleep(1000)"}}),
    ("POST", "/api/v1/records", "clerk", {"form": KEY, "data": {"visitor.$": "x"}}),
    ("POST", "/api/v1/records", "clerk", {"form": KEY, "data": OP_NE}),
    ("PATCH", "/api/v1/records/{rid}", "clerk", {"revision": OP_GT, "data": {"visitor": "x"}}),
    ("PATCH", "/api/v1/records/{rid}", "clerk", {"revision": 0, "data": {"visitor": OP_GT}}),
    ("PATCH", "/api/v1/records/{rid}", "clerk", {"revision": 0, "data": {"$set": {"state": "accepted"}}}),
    ("POST", "/api/v1/records/{rid}/transitions/withdraw", "clerk", {"revision": OP_NE, "opinion": "x"}),
    ("POST", "/api/v1/records/{rid}/transitions/withdraw", "clerk", {"revision": 0, "opinion": OP_NE}),
    ("POST", "/api/v1/records/{rid}/transitions/return", "clerk", {"revision": 0, "items": [OP_NE]}),
    ("GET", "/api/v1/records?form[$ne]=x", "clerk", None),
    ("GET", "/api/v1/records?state[$exists]=true", "clerk", None),
    ("GET", "/api/v1/records?limit[$gt]=0", "clerk", None),
    ("GET", "/api/v1/records?limit=-1", "clerk", None),
    ("GET", "/api/v1/records?limit=10000", "clerk", None),
    ("GET", "/api/v1/records?overdue=maybe", "clerk", None),
    ("GET", "/api/v1/records?state=" + "x" * 100, "clerk", None),
    ("GET", "/api/v1/status?number[$ne]=x&code[$ne]=y", None, None),
    ("GET", "/api/v1/status?number=VIS-1", None, None),
    ("GET", "/api/v1/records?id_number[$ne]=x", "boss", None),
    ("GET", "/api/v1/records?phone[$gt]=", "boss", None),
    # approval steps
    ("POST", "/api/v1/records/{rid}/approval/approve", "boss", {"revision": OP_NE, "opinion": "x"}),
    ("POST", "/api/v1/records/{rid}/approval/transfer", "boss", {"revision": 0, "to": OP_NE}),
    ("POST", "/api/v1/records/{rid}/approval/copy", "boss", {"revision": 0, "users": [OP_NE]}),
    ("POST", "/api/v1/records/{rid}/approval/approve", "boss", {"revision": 0, "digest": OP_GT}),
    # the audit log
    ("GET", "/api/v1/audit?actor[$ne]=x", "auditor", None),
    ("GET", "/api/v1/audit?from[$gt]=2020-01-01", "auditor", None),
    ("GET", "/api/v1/audit?limit[$gt]=0", "auditor", None),
    ("GET", "/api/v1/audit?to=2020-13-45", "auditor", None),
    ("GET", "/api/v1/audit?cursor=%7B%22%24gt%22%3A%22%22%7D", "auditor", None),
    # clocks
    ("PUT", "/api/v1/calendar/2031", "admin", {"days_off": OP_NE, "workdays": []}),
    ("PUT", "/api/v1/calendar/2031", "admin", {"days_off": [OP_GT], "workdays": []}),
    ("POST", "/api/v1/records/{rid}/extension", "clerk", {"revision": 0, "days": OP_GT, "reason": "x"}),
    ("POST", "/api/v1/records/{rid}/extension", "clerk", {"revision": 0, "days": 5, "reason": OP_NE}),
    ("POST", "/api/v1/records/{rid}/extension/decision", "head", {"revision": 0, "grant": OP_NE}),
    # destruction lists
    ("POST", "/api/v1/destructions", "keeper", {"title": OP_NE}),
    ("POST", "/api/v1/destructions/{lid}/items", "keeper", {"records": [{"id": OP_NE}]}),
    ("POST", "/api/v1/destructions/{lid}/items", "keeper", {"records": [OP_NE]}),
    ("POST", "/api/v1/destructions/{lid}/items", "keeper", {"search": {"form": OP_NE, "limit": OP_GT}}),
    ("POST", "/api/v1/destructions/{lid}/items", "keeper",
     {"records": [{"id": "{rid}"}], "early": {"cause": OP_NE, "reason": "x"}}),
    ("POST", "/api/v1/destructions/{lid}/items/{rid}", "keeper", {"action": OP_NE, "reason": "x"}),
    ("POST", "/api/v1/destructions/{lid}/transitions/submit", "keeper", {"revision": OP_NE}),
    ("GET", "/api/v1/destructions/disposition?form[$ne]=x", "keeper", None),
    ("GET", "/api/v1/destructions/disposition?retention_before[$gt]=2020-01-01", "keeper", None),
    ("GET", "/api/v1/destructions?cursor[$gt]=", "keeper", None),
    ("GET", "/api/v1/destructions/{lid}/items?status[$ne]=x", "keeper", None),
    ("GET", "/api/v1/destructions/{lid}/items?status=shredded&limit[$gt]=0", "keeper", None),
    # protected values in full
    ("POST", "/api/v1/records/{rid}/reveal", "boss", {"fields": [OP_NE], "reason": "核对身份"}),
    ("POST", "/api/v1/records/{rid}/reveal", "boss", {"fields": OP_NE, "reason": "核对身份"}),
    ("POST", "/api/v1/records/{rid}/reveal", "boss", {"fields": ["/visitor"], "reason": OP_NE}),
    # notifications
    ("GET", "/api/v1/inbox?unread[$ne]=x", "clerk", None),
    ("GET", "/api/v1/inbox?unread=maybe", "clerk", None),
    ("GET", "/api/v1/worklists/mine?limit[$gt]=0", "clerk", None),
    ("GET", "/api/v1/worklists/mine?cursor[$ne]=x", "clerk", None),
    ("GET", "/api/v1/worklists/$where", "clerk", None),
    ("POST", "/api/v1/inbox/%7B%22%24ne%22%3Anull%7D/read", "clerk", None),
    ("POST", "/api/v1/status/rating", None, {"number": OP_NE, "code": OP_NE, "score": 5}),
    ("POST", "/api/v1/status/rating", None, {"number": "VIS-1", "code": "x", "score": OP_GT}),
    # approved reading
    ("POST", "/api/v1/query-requests", "clerk",
     {"purpose": OP_NE, "records": ["x"], "period_from": "2031-01-02", "period_until": "2031-01-09"}),
    ("POST", "/api/v1/query-requests", "clerk",
     {"purpose": "核对历史办理情况", "records": [OP_NE], "period_from": "2031-01-02", "period_until": "2031-01-09"}),
    ("POST", "/api/v1/query-requests", "clerk",
     {"purpose": "核对历史办理情况", "search": {"form": OP_NE, "state": OP_GT}, "period_from": "2031-01-02",
      "period_until": "2031-01-09"}),
    ("POST", "/api/v1/query-requests", "clerk",
     {"purpose": "核对历史办理情况", "records": ["x"], "period_from": OP_GT, "period_until": "2031-01-09"}),
    ("POST", "/api/v1/query-requests/{qid}/transitions/submit", "clerk", {"revision": OP_NE}),
    ("GET", "/api/v1/query-requests?cursor[$gt]=", "clerk", None),
    ("GET", "/api/v1/query-requests?limit[$gt]=0", "clerk", None),
    # A/B posts
    ("POST", "/api/v1/me/backups", "clerk", {"backup": OP_NE, "from": "2031-01-02", "until": "2031-01-09"}),
    ("POST", "/api/v1/me/backups", "clerk", {"backup": "clerk2", "from": OP_GT, "until": "2031-01-09"}),
    ("POST", "/api/v1/users/clerk/backups", "admin",
     {"backup": ["clerk2"], "from": "2031-01-02", "until": "2031-01-09"}),
    ("POST", "/api/v1/users/$where/backups", "admin",
     {"backup": "clerk2", "from": "2031-01-02", "until": "2031-01-09"}),
    ("DELETE", "/api/v1/me/backups/%7B%22%24ne%22%3Anull%7D", "clerk", None),
    # workflow definitions
    ("POST", "/api/v1/workflows", "admin", dict(WORKFLOW, key=OP_NE)),
    ("POST", "/api/v1/workflows", "admin", dict(WORKFLOW, key="other_check", states=OP_NE)),
    ("POST", "/api/v1/workflows", "admin", dict(WORKFLOW, key="other_check", initial=OP_GT)),
    ("PUT", "/api/v1/workflows/{wf}/versions/1?revision[$ne]=0", "admin", WORKFLOW),
    ("PUT", "/api/v1/workflows/{wf}/versions/1?revision=0", "admin", dict(WORKFLOW, title=OP_NE)),
    ("PUT", "/api/v1/workflows/{wf}/versions/1?revision=0", "admin", dict(WORKFLOW, transitions=[OP_NE])),
    ("POST", "/api/v1/workflows/{wf}/versions/1/transitions/submit", "admin", {"revision": OP_GT}),
    # differences and checks
    ("GET", "/api/v1/forms/{key}/versions/1/diff?against[$ne]=1", "admin", None),
    ("GET", "/api/v1/forms/{key}/versions/1/diff?against=%7B%22%24ne%22%3Anull%7D", "admin", None),
    ("GET", "/api/v1/forms/{key}/versions/1/diff?against=-1", "admin", None),
    ("GET", "/api/v1/forms/{key}/versions/1/diff?against=99999999999999999999", "admin", None),
    ("GET", "/api/v1/forms/{key}/versions/1/diff?against=7", "admin", None),
    ("GET", "/api/v1/workflows/{wf}/versions/1/diff?against[$gt]=0", "admin", None),
    ("GET", "/api/v1/workflows/{wf}/versions/1/diff?against=1e3", "admin", None),
    ("POST", "/api/v1/forms/check", "admin", dict(SIMPLE_FORM, key=OP_NE)),
    ("POST", "/api/v1/forms/check", "admin", dict(SIMPLE_FORM, schema=OP_NE)),
    ("POST", "/api/v1/forms/check", "admin", dict(SIMPLE_FORM, settings={"processes": [OP_NE]})),
    ("POST", "/api/v1/workflows/check", "admin", dict(WORKFLOW, states=OP_NE)),
    ("POST", "/api/v1/workflows/check", "admin", dict(WORKFLOW, transitions=[OP_NE])),
]


@pytest.mark.parametrize("method, path, who, payload", INJECTIONS,
                         ids=[f"{m} {p} {json.dumps(b)[:60] if b else ''}" for m, p, _, b in INJECTIONS])
def test_operators_in_place_of_values_are_refused(world: dict[str, Any], method: str, path: str,
                                                  who: str | None, payload: Any) -> None:
    api = world["api"]
    record_before = api.get(f"/api/v1/records/{world['rid']}", "clerk").get_json()
    before = counts(world["app"])
    kw = {"json": payload} if payload is not None else {}
    r = send(api, method, fill(path, world), who, **kw)
    error_of(r, (400, 401, 404, 422))
    assert counts(world["app"]) == before
    assert api.get(f"/api/v1/records/{world['rid']}", "clerk").get_json() == record_before


@pytest.mark.parametrize("query", ['state={"$ne":null}', 'form={"$gt":""}', 'number={"$ne":null}',
                                   'assignee={"$exists":true}', "process[]=intake"])
def test_operator_looking_filters_match_literally(world: dict[str, Any], query: str) -> None:
    before = counts(world["app"])
    r = world["api"].get(f"/api/v1/records?{query}", "clerk")
    if r.status_code == 200:
        assert r.get_json()["items"] == [], query
    else:
        error_of(r, (400, 422))
    assert counts(world["app"]) == before


def test_status_lookup_with_operator_strings_finds_nothing(world: dict[str, Any]) -> None:
    r = world["api"].get('/api/v1/status?number={"$ne":null}&code={"$ne":null}')
    error_of(r, 404, "status_not_found")


# -- markup is data ------------------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


def test_markup_is_stored_as_text_and_returned_as_json(fresh: dict[str, Any]) -> None:
    api = fresh["api"]
    r = api.post("/api/v1/records", "clerk",
                 json={"form": KEY, "data": {"visitor": SCRIPT, "purpose": "<img src=x onerror=alert(1)>"}})
    assert r.status_code == 201 and r.mimetype == "application/json"
    rec = r.get_json()
    assert rec["data"]["visitor"] == SCRIPT
    got = api.get(f"/api/v1/records/{rec['id']}", "clerk")
    assert got.mimetype == "application/json" and got.get_json()["data"]["visitor"] == SCRIPT
    assert "text/html" not in got.headers["Content-Type"]
    r = api.post(f"/api/v1/records/{rec['id']}/transitions/withdraw", "clerk",
                 json={"revision": rec["revision"], "opinion": SCRIPT})
    assert r.status_code == 200
    hist = api.get(f"/api/v1/records/{rec['id']}/history", "clerk")
    assert hist.mimetype == "application/json"
    assert SCRIPT in [e["opinion"] for e in hist.get_json()["items"]]
    listed = api.get("/api/v1/records", "clerk")
    assert listed.mimetype == "application/json"
    assert SCRIPT in [x["data"].get("visitor") for x in listed.get_json()["items"]]


@pytest.mark.parametrize("method, path, payload", [
    ("POST", "/api/v1/records", {"form": SCRIPT, "data": {}}),
    ("POST", "/api/v1/records/{rid}/transitions/<script>alert(1)</script>", {"revision": 0}),
    ("GET", "/api/v1/forms/<script>", None),
    ("GET", "/api/v1/records/<script>alert(1)<%2Fscript>", None),
    ("POST", "/api/v1/users", {"username": "eve", "password": "Counter-Pass-2026", "roles": [SCRIPT]}),
])
def test_markup_in_errors_stays_json(world: dict[str, Any], method: str, path: str, payload: Any) -> None:
    kw = {"json": payload} if payload is not None else {}
    who = "admin" if "users" in path else "clerk"
    r = send(world["api"], method, fill(path, world), who, **kw)
    error_of(r, (400, 403, 404, 422))
    assert "text/html" not in r.headers["Content-Type"]


# -- paths ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/api/v1/records/../../etc/passwd",
    "/api/v1/records/..%2f..%2fetc%2fpasswd",
    "/api/v1/records/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/api/v1/records/%2e%2e",
    "/api/v1/records/$where",
    "/api/v1/records/%24ne",
    "/api/v1/records/{\"$ne\":null}",
    "/api/v1/records/" + "A" * 10_240,
    "/api/v1/records/" + "A" * 10_240 + "/history",
    "/api/v1/records/%00",
    "/api/v1/records/a%00b/receipt",
    "/api/v1/records/..%5c..%5cwindows",
    "/api/v1/forms/../../etc/passwd",
    "/api/v1/forms/$where/versions/1",
    "/api/v1/forms/" + "k" * 10_240,
    "/api/v1/forms/visit-note/versions/-1",
    "/api/v1/forms/visit-note/versions/99999999999999999999999",
    "/api/v1/forms/visit-note/versions/1e3",
    "/api/v1/calendar/99999999999999999999",
    "/api/v1/calendar/0",
    "/api/v1/calendar/10000",
    "/api/v1/calendar/-1",
    "/api/v1/destructions/$where",
    "/api/v1/destructions/%00/items",
    "/api/v1/destructions/" + "L" * 10_240 + "/certificate",
    "/api/v1/destructions/..%2f..%2fetc%2fpasswd/transitions",
    "/api/v1/query-requests/{\"$ne\":null}",
    "/api/v1/query-requests/%24ne/transitions",
    "/api/v1/records/$where/approval",
    "/api/v1/worklists/" + "w" * 10_240,
    "/api/v1/worklists/..%2f..%2fetc%2fpasswd",
    "/api/v1/workflows/../../etc/passwd",
    "/api/v1/workflows/$where/versions/1/diagram.svg",
    "/api/v1/workflows/hostile_check/versions/99999999999999999999/history",
    "/api/v1/workflows/hostile_check/versions/0/diagram.svg",
    "/api/v1/workflows/" + "k" * 10_240,
    "/api/v1/forms/$where/versions/1/diff",
    "/api/v1/forms/visit-note/versions/99999999999999999999/diff",
    "/api/v1/workflows/hostile_check/versions/0/diff",
    "/api/v1/workflows/..%2f..%2fetc/versions/1/diff",
])
def test_path_tricks_are_404_or_400_json(world: dict[str, Any], path: str) -> None:
    r = world["api"].get(path, "clerk")
    assert r.status_code not in (301, 308), "API routes never answer with an HTML redirect"
    text = r.get_data(as_text=True)
    assert "root:" not in text
    if r.request.path.startswith("/api/"):
        error_of(r, (400, 403, 404))
    else:
        assert r.status_code == 404


@pytest.mark.parametrize("method", ["PATCH", "POST"])
def test_path_tricks_on_writes(world: dict[str, Any], method: str) -> None:
    before = counts(world["app"])
    suffix = "" if method == "PATCH" else "/transitions/withdraw"
    payload: dict[str, Any] = {"revision": 0}
    payload.update({"data": {"visitor": "x"}} if method == "PATCH" else {"opinion": "x"})
    for rid in ("$where", "A" * 10_240, "%2e%2e%2f"):
        r = send(world["api"], method, f"/api/v1/records/{rid}{suffix}", "clerk", json=payload)
        error_of(r, (400, 404))                # no 308 to a merged-slash path: API rules keep slashes as sent
    assert counts(world["app"]) == before


# -- size ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, good", WITH_BODY, ids=ids(WITH_BODY))
def test_oversized_body_is_413(world: dict[str, Any], method: str, path: str, good: Any) -> None:
    limit = world["app"].extensions["counterflow"].settings.max_json_bytes
    big = json.dumps(dict(good, padding="x" * (limit + 1024)))
    before = counts(world["app"])
    r = send(world["api"], method, fill(path, world), data=big, content_type="application/json")
    error_of(r, 413, "too_large")
    assert counts(world["app"]) == before


def test_just_under_the_limit_is_not_413(world: dict[str, Any]) -> None:
    limit = world["app"].extensions["counterflow"].settings.max_json_bytes
    body = json.dumps({"form": KEY, "data": {"visitor": "x", "purpose": "y" * (limit - 200)}})
    assert len(body) < limit
    r = send(world["api"], "POST", "/api/v1/records", "clerk", data=body, content_type="application/json")
    error_of(r, 422, "invalid_data")       # purpose is far over its maxLength: refused as oversize, not 413


# -- record data ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, path", [
    ({"visitor": "x", "nickname": "y"}, "/nickname"),
    ({"visitor": 5}, "/visitor"),
    ({"visitor": ["a"]}, "/visitor"),
    ({"visitor": {"a": 1}}, "/visitor"),
    ({"visitor": True}, "/visitor"),
    ({"visitor": "x", "count": "three"}, "/count"),
    ({"visitor": "x", "count": 1.5}, "/count"),
    ({"visitor": "x" * 100_000}, "/visitor"),
    ({"visitor": "x", "count": 10 ** 30}, "/data/count"),
    ({"visitor": "x", "count": -(10 ** 19)}, "/data/count"),
    ({"visitor": "x", "zzz": {"a": 10 ** 20}}, "/data/zzz/a"),
    ({"visitor": "x", "zzz": json.loads('{"a":' * 90 + "1" + "}" * 90)}, "/zzz"),
    ({"visitor": json.loads("[" * 90 + "]" * 90)}, "/visitor"),
])
def test_bad_record_data_is_422_and_creates_nothing(world: dict[str, Any], data: Any, path: str) -> None:
    before = counts(world["app"])
    r = world["api"].post("/api/v1/records", "clerk", json={"form": KEY, "data": data})
    err = error_of(r, 422, ("invalid_data", "too_large_number"))
    assert path in [d["path"] for d in err["details"]], err["details"]
    assert counts(world["app"]) == before


def test_bad_record_data_lists_every_problem(world: dict[str, Any]) -> None:
    r = world["api"].post("/api/v1/records", "clerk",
                          json={"form": KEY, "data": {"visitor": 1, "count": "x", "zzz": 0}})
    err = error_of(r, 422, "invalid_data")
    assert {"/visitor", "/count", "/zzz"} <= {d["path"] for d in err["details"]}


@pytest.mark.parametrize("data", [[], "x", 5, None])
def test_record_data_must_be_an_object(world: dict[str, Any], data: Any) -> None:
    before = counts(world["app"])
    r = world["api"].post("/api/v1/records", "clerk", json={"form": KEY, "data": data})
    err = error_of(r, 422, "invalid_request")
    assert "/data" in [d["path"] for d in err["details"]]
    assert counts(world["app"]) == before


def test_bad_patch_changes_nothing(world: dict[str, Any]) -> None:
    api, rid = world["api"], world["rid"]
    before = api.get(f"/api/v1/records/{rid}", "clerk").get_json()
    n = counts(world["app"])
    r = api.patch(f"/api/v1/records/{rid}", "clerk", json={"revision": 0, "data": {"visitor": 7, "ghost": 1}})
    err = error_of(r, 422, "invalid_data")
    assert {"/visitor", "/ghost"} <= {d["path"] for d in err["details"]}
    assert api.get(f"/api/v1/records/{rid}", "clerk").get_json() == before
    assert counts(world["app"]) == n


# -- revisions and triggers ----------------------------------------------------------------------------------

def test_stale_revision_on_patch_is_409_and_changes_nothing(fresh: dict[str, Any]) -> None:
    api, rid = fresh["api"], fresh["rid"]
    r = api.patch(f"/api/v1/records/{rid}", "clerk", json={"revision": 0, "data": {"visitor": "李四"}})
    assert r.status_code == 200 and r.get_json()["revision"] == 1
    before = api.get(f"/api/v1/records/{rid}", "clerk").get_json()
    n = counts(fresh["app"])
    for stale in (0, 2, 99, -1):
        r = api.patch(f"/api/v1/records/{rid}", "clerk", json={"revision": stale, "data": {"visitor": "张三"}})
        err = error_of(r, 409, "stale")
        assert err["message"]
    assert api.get(f"/api/v1/records/{rid}", "clerk").get_json() == before
    assert counts(fresh["app"]) == n


def test_stale_revision_on_transition_is_409_and_changes_nothing(world: dict[str, Any]) -> None:
    api, rid = world["api"], world["rid"]
    before = api.get(f"/api/v1/records/{rid}", "clerk").get_json()
    n = counts(world["app"])
    for stale in (1, 5):
        error_of(api.post(f"/api/v1/records/{rid}/transitions/submit", "clerk", json={"revision": stale}),
                 409, "stale")
        error_of(api.post(f"/api/v1/records/{rid}/transitions/withdraw", "clerk",
                          json={"revision": stale, "opinion": "x"}), 409, "stale")
    assert api.get(f"/api/v1/records/{rid}", "clerk").get_json() == before
    assert counts(world["app"]) == n


@pytest.mark.parametrize("method, path, who, payload", [
    ("POST", "/api/v1/records/{rid}/extension", "clerk", {"revision": 7, "days": 5, "reason": "材料待补"}),
    ("POST", "/api/v1/destructions/{lid}/transitions/submit", "keeper", {"revision": 7, "opinion": "请审批"}),
    ("POST", "/api/v1/query-requests/{qid}/transitions/submit", "clerk", {"revision": 7}),
    ("POST", "/api/v1/workflows/{wf}/versions/1/transitions/submit", "admin", {"revision": 7}),
    ("PUT", "/api/v1/workflows/{wf}/versions/1?revision=7", "admin", WORKFLOW),
])
def test_stale_revision_on_the_new_endpoints_is_409_and_changes_nothing(
        world: dict[str, Any], method: str, path: str, who: str, payload: Any) -> None:
    """What the caller saw is out of date: 409 stale, said in both languages, and nothing written."""
    r = send(world["api"], method, fill(path, world), who, json=payload)
    assert CJK.search(error_of(r, 409, "stale")["message"])
    path_en = fill(path, world) + ("&" if "?" in path else "?") + "lang=en"
    err = error_of(send(world["api"], method, path_en, who, json=payload), 409, "stale")
    assert not CJK.search(err["message"]), err


@pytest.mark.parametrize("method, path, who, payload", [
    ("POST", "/api/v1/records/{rid}/approval/approve", "boss", {"revision": 0, "opinion": "同意"}),
    ("POST", "/api/v1/records/{rid}/extension/decision", "head", {"revision": 0, "grant": True}),
    ("POST", "/api/v1/destructions/{lid}/items/{rid}", "boss", {"action": "remove", "reason": "仍在诉讼中"}),
    ("POST", "/api/v1/destructions/{lid}/transitions/approve", "boss", {"revision": 0, "opinion": "同意"}),
    ("POST", "/api/v1/query-requests/{qid}/transitions/approve", "head", {"revision": 0}),
    ("POST", "/api/v1/workflows/{wf}/versions", "admin", WORKFLOW),
    ("POST", "/api/v1/records/{rid}/reveal", "clerk", {"fields": ["/visitor"], "reason": "核对身份"}),
    ("POST", "/api/v1/records/{rid}/reveal", "boss", {"fields": ["/visitor"], "reason": "核对身份"}),
    ("PUT", "/api/v1/calendar/2031", "clerk", {"days_off": ["2031-10-08"], "workdays": []}),
    ("PUT", "/api/v1/calendar/2031", "admin", {"days_off": ["2031-02-30"], "workdays": []}),
    ("PUT", "/api/v1/calendar/2031", "admin", {"days_off": ["2030-10-08"], "workdays": []}),
    ("PUT", "/api/v1/calendar/2031", "admin", {"days_off": ["2031-10-08"], "workdays": ["2031-10-08"]}),
    ("PUT", "/api/v1/calendar/1", "admin", {"days_off": ["0001-01-03"], "workdays": []}),
    ("POST", "/api/v1/records/{rid}/extension", "clerk", {"revision": 0, "days": 5, "reason": "   "}),
    # one record not yet past retention and one not there: all refused at once, none added
    ("POST", "/api/v1/destructions/{lid}/items", "keeper",
     {"records": [{"id": "{rid}"}, {"id": "rec_nosuch"}]}),
    ("POST", "/api/v1/destructions/{lid}/items", "clerk", {"records": [{"id": "{rid}"}]}),
    ("POST", "/api/v1/destructions/{lid}/items", "keeper",
     {"records": [{"id": "rec_nosuch"}], "early": {"cause": "duplicate", "reason": "重复登记"}}),
    ("GET", "/api/v1/audit", "admin", None),
    ("GET", "/api/v1/worklists/nosuchlist", "clerk", None),
    ("POST", "/api/v1/inbox/{eid}/read", "clerk", None),
    ("POST", "/api/v1/status/rating", None, {"number": "VIS-NOSUCH", "code": "NOSUCH", "score": 5}),
    ("POST", "/api/v1/status/rating", None, {"number": "VIS-NOSUCH", "code": "NOSUCH", "score": 99}),
])
def test_a_step_out_of_turn_is_a_bilingual_4xx_that_writes_nothing(
        world: dict[str, Any], method: str, path: str, who: str | None, payload: Any) -> None:
    """The wrong state, the wrong person, a thing that is not there: a 4xx in both languages, no write."""
    sent = json.loads(json.dumps(payload).replace("{rid}", world["rid"]))
    kw = {"json": sent} if payload is not None else {}
    r = send(world["api"], method, fill(path, world), who, **kw)
    assert CJK.search(error_of(r, (400, 403, 404, 409, 422))["message"])
    err = error_of(send(world["api"], method, fill(path, world) + "?lang=en", who, **kw), r.status_code)
    assert not CJK.search(err["message"]), err


@pytest.mark.parametrize("payload", [{}, {"revision": None}, {"revision": "0"}, {"revision": 0.0},
                                     {"revision": True}])
def test_missing_or_wrong_revision_is_422(world: dict[str, Any], payload: dict[str, Any]) -> None:
    api, rid = world["api"], world["rid"]
    err = error_of(api.post(f"/api/v1/records/{rid}/transitions/submit", "clerk", json=payload), 422)
    assert "/revision" in [d["path"] for d in err["details"]]
    r = api.patch(f"/api/v1/records/{rid}", "clerk", json=dict(payload, data={"visitor": "x"}))
    err = error_of(r, 422)
    assert "/revision" in [d["path"] for d in err["details"]]


@pytest.mark.parametrize("trigger", ["teleport", "archive", "approve_final", "SUBMIT", "submit%20", "$where"])
def test_unknown_trigger_is_404(world: dict[str, Any], trigger: str) -> None:
    n = counts(world["app"])
    r = world["api"].post(f"/api/v1/records/{world['rid']}/transitions/{trigger}", "clerk",
                          json={"revision": 0})
    error_of(r, 404, "unknown_trigger")
    assert counts(world["app"]) == n


def test_trigger_in_the_wrong_state_is_409(fresh: dict[str, Any]) -> None:
    api, rid = fresh["api"], fresh["rid"]
    r = api.post(f"/api/v1/records/{rid}/transitions/submit", "clerk", json={"revision": 0})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "submitted"
    before = api.get(f"/api/v1/records/{rid}", "clerk").get_json()
    n = counts(fresh["app"])
    r = api.post(f"/api/v1/records/{rid}/transitions/submit", "clerk", json={"revision": 1})
    err = error_of(r, 409, "wrong_state")
    assert err["message"]
    assert api.get(f"/api/v1/records/{rid}", "clerk").get_json() == before
    assert counts(fresh["app"]) == n


def test_form_trigger_errors(world: dict[str, Any]) -> None:
    api = world["api"]
    path = "/api/v1/forms/draft-form/versions/1/transitions/"
    error_of(api.post(path + "teleport", "admin", json={"revision": 0}), 404, "unknown_trigger")
    error_of(api.post(path + "approve", "admin", json={"revision": 0}), 409, "wrong_state")
    error_of(api.post(path + "submit", "admin", json={"revision": 3}), 409, "stale")
    assert api.get("/api/v1/forms/draft-form/versions/1", "admin").get_json()["revision"] == 0


# -- routes, methods, tokens ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/records/x/y/z", "/api/v1/", "/api/v1",
                                  "/api/v1/forms/visit-note/versions/abc",
                                  "/api/v1/records/x/transitions/a/b", "/api/v2/records",
                                  "/api/v1/users/admin"])
def test_unknown_route_is_404_json(world: dict[str, Any], path: str) -> None:
    for who in ("admin", None):
        error_of(world["api"].get(path, who), 404, "not_found")


@pytest.mark.parametrize("method, path", [
    ("DELETE", "/api/v1/records/{rid}"), ("PUT", "/api/v1/records/{rid}"), ("PUT", "/api/v1/users"),
    ("DELETE", "/api/v1/users"), ("PATCH", "/api/v1/forms"), ("DELETE", "/api/v1/forms/{key}/versions/1"),
    ("GET", "/api/v1/auth/token"), ("POST", "/healthz"), ("GET", "/api/v1/records/{rid}/transitions/submit"),
    ("POST", "/api/v1/records/{rid}/history"), ("PUT", "/api/v1/openapi.json"), ("POST", "/api/v1/status"),
])
def test_wrong_method_is_405_json(world: dict[str, Any], method: str, path: str) -> None:
    n = counts(world["app"])
    r = send(world["api"], method, fill(path, world), json={"revision": 0})
    err = error_of(r, 405, "method_not_allowed")
    assert err["message"]
    assert counts(world["app"]) == n


@pytest.mark.parametrize("method, path, good", AUTHED, ids=ids(AUTHED))
def test_no_token_is_401_json(world: dict[str, Any], method: str, path: str, good: Any) -> None:
    n = counts(world["app"])
    kw = {"json": good} if good is not None else {}
    err = error_of(send(world["api"], method, fill(path, world), None, **kw), 401, "unauthorized")
    assert CJK.search(err["message"])
    err = error_of(send(world["api"], method, fill(path, world), None,
                        headers={"Authorization": "Bearer nonsense"}, **kw), 401, "unauthorized")
    assert counts(world["app"]) == n


@pytest.mark.parametrize("method, path, good", ENDPOINTS, ids=ids(ENDPOINTS))
def test_every_endpoint_answers_json_without_a_500(fresh: dict[str, Any], method: str, path: str,
                                                   good: Any) -> None:
    """A plain call by each kind of user: whatever the answer, it is JSON and never a 500; a refusal says why
    in Chinese by default and in English when asked."""
    api = fresh["api"]
    for who in ("admin", "clerk", "outsider", "reviewer", "keeper", "auditor"):
        kw = {"json": good} if good is not None else {}
        r = send(api, method, fill(path, fresh), who if path not in PUBLIC else None, **kw)
        assert r.status_code < 500, (who, r.status_code, r.get_data(as_text=True)[:300])
        if r.status_code == 200 and path.endswith(".svg"):      # a diagram is a picture; its errors are JSON
            assert r.mimetype == "image/svg+xml"
            continue
        assert r.mimetype == "application/json"
        if r.status_code >= 400:
            assert CJK.search(error_of(r, r.status_code)["message"]), (who, r.get_json())
            english = fill(path, fresh) + ("&" if "?" in path else "?") + "lang=en"
            r = send(api, method, english, who if path not in PUBLIC else None, **kw)
            if r.status_code >= 400:                            # the refusal again, now in English
                err = error_of(r, r.status_code)
                assert not CJK.search(err["message"]), (who, err)
                for d in err["details"] if isinstance(err["details"], list) else []:
                    assert not CJK.search(d["message"]), (who, d)


# -- language ------------------------------------------------------------------------------------------------

def _errors(api: Api, rid: str, headers: dict[str, str], query: str) -> Iterator[tuple[str, Any]]:
    yield "401", api.client.get(f"/api/v1/me{query}", headers=headers)
    yield "404 route", api.get(f"/api/v1/nope{query}", "clerk", headers=dict(headers))
    yield "405", api.call("DELETE", f"/api/v1/records/{rid}{query}", "clerk", headers=dict(headers))
    yield "400", api.post(f"/api/v1/records{query}", "clerk", headers=dict(headers), data="{x",
                          content_type="application/json")
    yield "415-ish", api.post(f"/api/v1/records{query}", "clerk", headers=dict(headers), data="x",
                              content_type="text/plain")
    yield "422 body", api.post(f"/api/v1/records{query}", "clerk", headers=dict(headers), json={"bogus": 1})
    yield "422 data", api.post(f"/api/v1/records{query}", "clerk", headers=dict(headers),
                               json={"form": KEY, "data": {"visitor": 1}})
    yield "404 form", api.post(f"/api/v1/records{query}", "clerk", headers=dict(headers),
                               json={"form": "nope"})
    yield "409", api.patch(f"/api/v1/records/{rid}{query}", "clerk", headers=dict(headers),
                           json={"revision": 9, "data": {}})
    yield "404 trigger", api.post(f"/api/v1/records/{rid}/transitions/nope{query}", "clerk",
                                  headers=dict(headers), json={"revision": 0})
    yield "403", api.post(f"/api/v1/users{query}", "clerk", headers=dict(headers),
                          json={"username": "eve", "password": "Counter-Pass-2026", "roles": ["clerk"]})
    yield "413", api.post(f"/api/v1/records{query}", "clerk", headers=dict(headers),
                          data=json.dumps({"form": "x" * (2 * 1024 * 1024)}), content_type="application/json")


def test_messages_default_to_chinese(world: dict[str, Any]) -> None:
    for label, r in _errors(world["api"], world["rid"], {}, ""):
        err = error_of(r, r.status_code)
        assert r.status_code >= 400, label
        assert CJK.search(err["message"]), (label, err["message"])
        for d in err["details"] if isinstance(err["details"], list) else []:
            assert CJK.search(d["message"]), (label, d)


@pytest.mark.parametrize("headers, query", [({"Accept-Language": "en"}, ""), ({}, "?lang=en"),
                                            ({"Accept-Language": "zh-CN"}, "?lang=en"),
                                            ({"Accept-Language": "en-US,en;q=0.9"}, "")])
def test_messages_in_english_when_asked(world: dict[str, Any], headers: dict[str, str], query: str) -> None:
    for label, r in _errors(world["api"], world["rid"], headers, query):
        err = error_of(r, r.status_code)
        assert not CJK.search(err["message"]), (label, err["message"])
        for d in err["details"] if isinstance(err["details"], list) else []:
            assert not CJK.search(d["message"]), (label, d)


GETS = [e for e in ENDPOINTS if e[0] == "GET"]


@pytest.mark.parametrize("method, path, good", GETS, ids=ids(GETS))
def test_lang_query_is_taken_by_every_endpoint(world: dict[str, Any], method: str, path: str,
                                               good: Any) -> None:
    """?lang= chooses the language everywhere; no query schema refuses it as an unknown field."""
    for who in ("admin", "clerk", "auditor"):
        r = world["api"].get(fill(path, world) + "?lang=en", who if path not in PUBLIC else None)
        if r.status_code >= 400:
            err = error_of(r, r.status_code)
            assert "/lang" not in [d["path"] for d in err["details"] if isinstance(d, dict)], (who, err)
            assert not CJK.search(err["message"]), (who, err)


def test_lang_query_overrides_accept_language_to_chinese(world: dict[str, Any]) -> None:
    r = world["api"].get("/api/v1/nope?lang=zh-CN", "clerk", headers={"Accept-Language": "en"})
    assert CJK.search(error_of(r, 404)["message"])
