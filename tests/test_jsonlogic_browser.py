"""A condition (x-show-if) gives the same answer in the browser and on the server.

The browser evaluates it with json-logic-js as the package ships it (static/vendor), through
counterflow.js; the server with `counterflow.forms.conditions`, the call intake makes when it decides
whether a conditional material is needed. Both are run on the same table of rules and data, in a real
headless Chromium, for every operator a definition may use; the others are refused when a form is
defined.
"""
from __future__ import annotations

import copy
import json
import math
import re
from importlib import resources
from itertools import product
from typing import Any, Iterator

import pytest

from counterflow.forms.check import check_form_definition
from counterflow.forms.conditions import OPERATORS, UNDEFINED, condition_problems, evaluate, holds
from forms import permit, publish

playwright_sync = pytest.importorskip("playwright.sync_api")
from test_browser import (ARGS, CHROMIUM, T, LiveApi, LiveServer, live,  # noqa: E402,F401 - fixtures
                          record_id_of, sign_in, staff, stored_record)

expect = playwright_sync.expect
STATIC = resources.files("counterflow.static")
ORIGIN = "http://cf.test"
VENDOR = "vendor/json-logic-js/logic.js"

# ---- the table -----------------------------------------------------------------------------------------

# values as they reach a condition: what forms hold, and the truthiness edge cases of JSON Logic
VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 1.5, 0.1, 1e21, 1e-7, 2 ** 53 + 1, "", " ", "0", "1", "01", "1.0", " 1 ",
    "abc", "ABC", "b", "true", "false", "null", "1e3", "0x10", "Infinity", "infinity", "-Infinity", "1_000",
    "\u00a01",
    "\ufeff1", "１", "😀", "\uff5e", [], [0], [1], ["1"], [1, 2], ["a"], [True], [None], [[]], {}, {"b": 1}]
DATA: list[dict[str, Any]] = [{}, {"a": None}] + [{"a": v} for v in VALUES if v is not None] + [
    {"a": {"b": "z", "c": {"d": 0}}}, {"a": {"b": None}}, {"a": {"b": ""}}, {"a": {"b": [1, 2]}},
    {"a": "abc", "b": "b"}, {"a": 2, "b": 5}, {"a": ["x", "y"], "b": "x"}, {"a": {"indexOf": "x"}},
    {"constructor": 1}, {"a": [{"n": 1}, {"n": 0}]}, {"a": [{"n": 2}, {"n": 3}]}]
X, Y, Z = {"var": "x"}, {"var": "y"}, {"var": "z"}
A, B = {"var": "a"}, {"var": "b"}
EACH = {"var": ""}


def _cases() -> dict[str, list[tuple[Any, Any]]]:
    """operator -> (rule, data) pairs that exercise it."""
    cases: dict[str, list[tuple[Any, Any]]] = {op: [] for op in OPERATORS}
    for op in ("==", "!=", "===", "!==", "<", "<=", ">", ">=", "in"):      # every value against every value
        cases[op] += [({op: [X, Y]}, {"x": x, "y": y}) for x, y in product(VALUES, VALUES)]
    for op in ("<", "<="):                                      # "between", a bound may be missing
        for x, y, z in product([0, 1, 5, "", None, "3"], [0, 1, 5, "", None, "3"], [None, 0, 10, "5", ""]):
            cases[op] += [({op: [X, Y, Z]}, {"x": x, "y": y, "z": z}), ({op: [X, Y, z]}, {"x": x, "y": y}),
                          ({op: [X, Y, Z]}, {"x": x, "y": y})]
    rules: dict[str, list[Any]] = {
        "var": [A, {"var": ["a", "dflt"]}, {"var": "a.b"}, {"var": ["a.b", 7]}, {"var": "a.0"},
                {"var": "a.1"},
                {"var": "a.01"}, {"var": "a.-1"}, {"var": "a.length"}, {"var": "a.c.d"},
                {"var": "a.constructor"},
                {"var": "constructor"}, {"var": "toString"}, {"var": "a.toString"}, {"var": "a.map"},
                {"var": "a.__proto__"}, {"var": ""}, {"var": []}, {"var": "missing.deep.path"},
                {"var": ["nothing", 0]}, {"var": 0}, {"var": ["a", {"var": "b"}]}],
        "!": [{"!": A}, {"!": [A]}, {"!": [[]]}, {"!": ["0"]}, {"!": [{"var": "a.b"}]}],
        "!!": [{"!!": A}, {"!!": [[]]}, {"!!": ["0"]}, {"!!": [0]}, {"!!": [{"var": "a.b"}]},
               {"!!": [{"var": "a.c"}]}],
        "and": [{"and": [A, B]}, {"and": [True, A]}, {"and": [A]}],
        "or": [{"or": [A, B]}, {"or": [A, "fallback"]}, {"or": [False, A]}],
        "if": [{"if": [A, "yes", "no"]}, {"if": [A, "A", B, "B", "C"]}, {"if": [A, "A"]}],
        "?:": [{"?:": [A, "yes", "no"]}],
        "missing": [{"missing": ["a", "b", "a.b"]}, {"missing": [["a", "b"]]}, {"missing": "a"}],
        "missing_some": [{"missing_some": [1, ["a", "b"]]}, {"missing_some": [2, ["a", "b"]]},
                         {"missing_some": [0, ["a"]]}],
        "in": [{"in": [A, ["x", "y", 1, True, "1"]]}, {"in": ["x", A]}, {"in": [1, A]}, {"in": [A, "abcx1"]},
               {"in": ["", A]}, {"in": [None, A]}, {"in": [B, A]}, {"in": [1.5, "x1.5"]},
               {"in": [A, "0.1 1e+21 1e-7 true 9007199254740992"]}],
        "some": [{"some": [A, {"==": [EACH, "x"]}]}, {"some": [A, {">": [{"var": "n"}, 0]}]}],
        "all": [{"all": [A, {"!!": EACH}]}, {"all": [A, {">=": [{"var": "n"}, 1]}]}],
        "none": [{"none": [A, {"!!": EACH}]}, {"none": [A, {">": [{"var": "n"}, 2]}]}],
        "==": [{"==": [A, B]}, {"==": [A, False]}, {"==": [A, 0]}, {"==": [A, None]}],
        "===": [{"===": [A, A]}, {"===": [A, True]}],
        "<": [{"<": [0, A, B]}, {"<": [A, "z"]}],
        ">": [{">": [B, A]}, {">": [A, "1"]}],
    }
    for op, listed in rules.items():
        cases[op] += [(rule, data) for rule, data in product(listed, DATA)]
    return cases


CASES = _cases()


# ---- both sides ----------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """A value as both sides report it: numbers as floats, JavaScript's specials by name."""
    if value is UNDEFINED:
        return {"$": "undefined"}
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        number = float(value) if abs(value) < 1e308 else math.copysign(math.inf, value)
        return number if math.isfinite(number) else {"$": "NaN" if math.isnan(number) else
                                                     "Infinity" if number > 0 else "-Infinity"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return {k: _plain(v) for k, v in value.items()}


def server_answers(cases: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
    out = []
    for rule, data in json.loads(json.dumps(cases)):       # fresh objects, as decoded JSON is
        try:
            answer = {"value": _plain(evaluate(rule, data))}
        except Exception as error:  # noqa: BLE001 - the browser reports its errors the same way
            answer = {"error": type(error).__name__}
        answer["holds"] = holds(rule, data)
        out.append(answer)
    return out


BROWSER_EVAL = """([cases, stock]) => JSON.parse(cases).map(([rule, data]) => {
  const logic = stock ? window.stockLogic : window.cf;
  const plain = (value) => JSON.stringify(value, (key, v) => v === undefined ? {"$": "undefined"}
    : typeof v === "function" ? {"$": "function"}
    : typeof v === "number" && !Number.isFinite(v) ? {"$": String(v)} : v);
  const answer = {holds: false};
  try {
    const value = stock ? logic.apply(rule, data) : logic.evaluate(rule, data);
    answer.value = JSON.parse(plain(value));
    answer.holds = stock ? logic.truthy(value) : logic.holds(rule, data);
  } catch (error) { answer.error = error.name; }
  if (!stock) answer.holds = logic.holds(rule, data);
  return answer;
})"""


def browser_answers(page: Any, cases: list[tuple[Any, Any]], stock: bool = False) -> list[dict[str, Any]]:
    return page.evaluate(BROWSER_EVAL, [json.dumps(cases), stock])


def _differences(cases: list[tuple[Any, Any]], server: list[Any], browser: list[Any]) -> list[str]:
    out = []
    for (rule, data), ours, theirs in zip(cases, server, browser):
        same = ours["holds"] == theirs["holds"] and (
            ("error" in ours and "error" in theirs) or ours.get("value") == theirs.get("value"))
        if not same:
            out.append(f"{json.dumps(rule, ensure_ascii=False)} on {json.dumps(data, ensure_ascii=False)}: "
                       f"server {ours}, browser {theirs}")
    return out


def _serve_static(route: Any) -> None:
    path = route.request.url.split("/cf-static/", 1)[1] if "/cf-static/" in route.request.url else ""
    if not path:
        route.fulfill(status=200, content_type="text/html", body=PAGE)
        return
    route.fulfill(status=200, content_type="text/javascript", body=STATIC.joinpath(path).read_bytes())


# The shipped json-logic-js is loaded twice: the first copy stays as published (to show where it and the
# Python package part ways), the second is the one counterflow.js sets up, as on every page.
PAGE = f"""<!doctype html><meta charset="utf-8"><title>conditions</title>
<script src="/cf-static/{VENDOR}"></script>
<script>window.stockLogic = window.jsonLogic; window.jsonLogic = undefined;</script>
<script src="/cf-static/{VENDOR}"></script>
<script type="module">import * as cf from "/cf-static/counterflow.js"; window.cf = cf;</script>"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def logic_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    context.set_default_timeout(T)
    context.route(f"{ORIGIN}/**", _serve_static)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(ORIGIN + "/")
    page.wait_for_function("() => window.cf && window.stockLogic && window.stockLogic !== window.jsonLogic")
    assert errors == []
    yield page
    context.close()


@pytest.mark.browser
@pytest.mark.parametrize("op", sorted(OPERATORS))
def test_every_operator_gives_the_same_answer_in_chromium(logic_page: Any, op: str) -> None:
    cases = CASES[op]
    assert len(cases) >= 40, f"the table hardly exercises {op}"
    refused = [rule for rule, _ in cases if condition_problems(rule)]
    assert refused == [], "the table holds only conditions a definition may use"
    differences = _differences(cases, server_answers(cases), browser_answers(logic_page, cases))
    assert differences == [], \
        f"{len(differences)} of {len(cases)} differ, e.g.\n" + "\n".join(differences[:20])


# rule, data, the answer both sides must give
EDGES: list[tuple[Any, Any, bool]] = [
    ({"!!": A}, {"a": ""}, False),
    ({"!!": A}, {"a": 0}, False),
    ({"!!": A}, {"a": 0.0}, False),
    ({"!!": A}, {"a": "0"}, True),
    ({"!!": A}, {"a": " "}, True),
    ({"!!": A}, {"a": []}, False),            # JSON Logic: an empty list is false (in JavaScript, true)
    ({"!!": A}, {"a": [0]}, True),
    ({"!!": A}, {"a": {}}, True),
    ({"!!": A}, {"a": None}, False),
    ({"!!": A}, {"a": False}, False),
    ({"!!": A}, {}, False),                   # a field not filled in
    ({"!": A}, {}, True),
    ({"!!": {"var": "new_details.new_phone"}}, {"new_details": {"new_phone": "13900139000"}}, True),
    ({"!!": {"var": "new_details.new_phone"}}, {"new_details": {}}, False),
    ({"!!": {"var": "new_details.new_phone"}}, {"new_details": "text"}, False),
    ({"!!": {"var": "new_details.new_phone"}}, {}, False),
    ({"==": [{"var": "rows.1.kind"}, "car"]}, {"rows": [{"kind": "bike"}, {"kind": "car"}]}, True),
    ({">": [{"var": "rows.length"}, 1]}, {"rows": [{}, {}]}, True),
    ({"==": [{"var": "delivery"}, "mail"]}, {"delivery": "mail"}, True),
    ({"==": [{"var": "by_agent"}, True]}, {"by_agent": True}, True),
    ({"==": [{"var": "by_agent"}, True]}, {}, False),
    ({"==": [{"var": "by_agent"}, False]}, {}, False),    # null == false is false in JavaScript
    ({"==": [{"var": "count"}, 0]}, {}, False),           # and so is null == 0
    ({"==": [{"var": "count"}, 0]}, {"count": ""}, True),  # "" == 0 holds in JavaScript
    ({"===": [{"var": "count"}, True]}, {"count": 1}, False),
    ({"in": ["name", {"var": "changed_items"}]}, {"changed_items": ["name", "phone"]}, True),
    ({"in": ["name", {"var": "changed_items"}]}, {"changed_items": []}, False),
    ({"in": ["name", {"var": "changed_items"}]}, {}, False),
    ({"in": [1, {"var": "picked"}]}, {"picked": [True]}, False),
    ({"in": ["", {"var": "text"}]}, {"text": ""}, False),
    ({"<": [1, {"var": "amount"}, {"var": "limit"}]}, {"amount": 2}, False),   # a missing bound: null
    ({"<": [{"var": "name"}, "z"]}, {}, False),
    ({"var": ["nickname", "none"]}, {"nickname": None}, False),  # a null field is null, not the default
    ({"!!": {"var": "constructor"}}, {}, False),         # never a JavaScript built-in
    ({"!!": {"var": "items.map"}}, {"items": [1]}, False),
    ({"missing": ["a", "b"]}, {"a": "", "b": 0}, True),
    ({"missing_some": [1, ["a", "b"]]}, {"b": "x"}, False),
    ({"some": [{"var": "rows"}, {">": [{"var": "n"}, 5]}]}, {"rows": [{"n": 1}, {"n": 9}]}, True),
    ({"all": [{"var": "rows"}, {">": [{"var": "n"}, 5]}]}, {"rows": []}, False),
    ({"none": [{"var": "rows"}, {">": [{"var": "n"}, 5]}]}, {"rows": []}, True),
    ({"in": ["x", {"var": "a"}]}, {"a": {"indexOf": "x"}}, False),  # the browser throws: both count it false
]


@pytest.mark.browser
def test_truthiness_edge_cases_answer_as_json_logic_says(logic_page: Any) -> None:
    cases = [(rule, data) for rule, data, _ in EDGES]
    assert [rule for rule, _ in cases if condition_problems(rule)] == []
    browser = browser_answers(logic_page, cases)
    server = server_answers(cases)
    wanted = [want for _, _, want in EDGES]
    assert [b["holds"] for b in browser] == wanted
    assert [s["holds"] for s in server] == wanted
    assert _differences(cases, server, browser) == []


# Where the Python package (panzi-json-logic) and json-logic-js part ways, as published; the product
# evaluates with forms.conditions, which answers as the browser does.
DIVERGENCES: list[tuple[Any, Any]] = [
    ({"==": [{"var": "by_agent"}, False]}, {}),        # python: null == false holds
    ({"==": [{"var": "count"}, 0]}, {}),               # python: null == 0 holds
    ({"==": [{"var": "count"}, 0]}, {"count": ""}),    # python: "" is not a number, so "" != 0
    ({"==": [{"var": "n"}, 1000]}, {"n": "1_000"}),    # python's float() reads "1_000"
    ({"===": [{"var": "flag"}, 1]}, {"flag": True}),   # python: True == 1
    ({"in": [1, {"var": "picked"}]}, {"picked": [True]}),
    ({"in": ["", {"var": "text"}]}, {"text": ""}),
    ({"var": ["nickname", "none"]}, {"nickname": None}),
    ({"<": [{"var": "name"}, "z"]}, {}),               # python compares "null" < "z"
    ({"<": [1, {"var": "amount"}, {"var": "limit"}]}, {"amount": 2}),
    ({"<=": [{"var": "n"}, ""]}, {}),                  # python compares "null" <= ""; javascript 0 <= 0
]


@pytest.mark.browser
def test_where_the_two_libraries_differ_the_server_answers_as_the_browser(logic_page: Any) -> None:
    from json_logic import jsonLogic

    stock_server = [bool(jsonLogic(rule, copy.deepcopy(data))) for rule, data in DIVERGENCES]
    stock_browser = [a["holds"] for a in browser_answers(logic_page, DIVERGENCES, stock=True)]
    assert all(s != b for s, b in zip(stock_server, stock_browser)), "each row is a real difference"
    ours = [holds(rule, data) for rule, data in DIVERGENCES]
    assert ours == stock_browser
    assert [a["holds"] for a in browser_answers(logic_page, DIVERGENCES)] == stock_browser

    # json-logic-js as published reads JavaScript built-ins through var; counterflow.js reads own fields only
    builtins = [({"!!": {"var": "constructor"}}, {}), ({"!!": {"var": "items.map"}}, {"items": [1]}),
                ({"!!": {"var": "name.toString"}}, {"name": "x"})]
    assert [a["holds"] for a in browser_answers(logic_page, builtins, stock=True)] == [True, True, True]
    assert [a["holds"] for a in browser_answers(logic_page, builtins)] == [False, False, False]
    assert [holds(rule, data) for rule, data in builtins] == [False, False, False]


def test_intake_demands_a_conditional_material_exactly_when_the_page_shows_it() -> None:
    """Before forms.conditions the server asked panzi-json-logic, for which null == false holds: it demanded
    the ID copy of an applicant who had not answered, while the page hid its upload field."""
    from counterflow.forms.validate import FormValidator

    schema: dict[str, Any] = {"type": "object", "properties": {
        "by_agent": {"type": "boolean", "title": "代办"},
        "id_copy": {"type": "string", "format": "attachment", "title": "本人身份证复印件", "x-material": True,
                    "x-show-if": {"==": [{"var": "by_agent"}, False]}},
        "letter": {"type": "string", "format": "attachment", "title": "授权书", "x-material": True,
                   "x-show-if": {"==": [{"var": "copies"}, 0]}},
        "copies": {"type": "string"}}}
    validator = FormValidator(schema)
    for data, wanted in (({}, []), ({"by_agent": True}, []), ({"by_agent": False}, ["/id_copy"]),
                         ({"copies": ""}, ["/letter"]), ({"copies": " 0 "}, ["/letter"]),
                         ({"copies": "1"}, [])):
        assert [p.path for p in validator.check_complete(data, "en")] == wanted, data
        conditions = {k: schema["properties"][k]["x-show-if"] for k in ("id_copy", "letter")}
        assert [f"/{k}" for k, rule in conditions.items() if holds(rule, data)] == wanted


# ---- refused when a form is defined --------------------------------------------------------------------

REFUSED: list[Any] = [
    {"+": [{"var": "a"}, 1]}, {"-": [2, 1]}, {"*": [2, 1]}, {"/": [2, 0]}, {"%": [-1, 3]}, {"min": [1, 2]},
    {"max": [1, 2]}, {"cat": ["a", None]}, {"substr": ["abc", 1]}, {"merge": [[1], [2]]}, {"log": "x"},
    {"map": [[1], 1]}, {"filter": [[1], True]}, {"reduce": [[1], 1, {"+": [1, 2]}]},
    {"method": ["a", "trim"]},
    {"unknown": [1]}, {"var.x": [1]},
    {">": [3, 2, 5]}, {">=": [3, 2, 5]},       # python reads a third value, json-logic-js ignores it
    {"==": [1]}, {"!": [1, 2]}, {"and": []}, {"var": {"cat": ["a", "b"]}}, {"var": 1.5}, {"var": -1},
    {"missing_some": ["1", ["a"]]}, {"missing": [1]},
    {}, {"==": [1, 1], "!=": [1, 2]}, {"==": [{"var": "a"}, {"x": 1, "y": 2}]}, True, "a", None,
    [{"var": "a"}],
]


def test_conditions_using_other_operators_are_refused() -> None:
    for rule in REFUSED:
        definition = permit()
        definition["schema"]["properties"]["amount"]["x-show-if"] = rule
        problems = check_form_definition(definition, "f.json")
        assert problems and all(p.startswith("f.json: /schema/properties/amount/x-show-if")
                                for p in problems), \
            (rule, problems)
        assert "x-show-if" in problems[0] and "fix:" in problems[0]
        definition = permit()
        definition["ui_schema"]["amount"] = {"ui:options": {"show_if": rule}}
        problems = check_form_definition(definition, "f.json")
        assert problems and all(p.startswith("f.json: /ui_schema/amount/ui:options/show_if")
                                for p in problems), \
            (rule, problems)
    # every accepted operator is accepted where it sits, nested too
    definition = permit()
    definition["schema"]["properties"]["amount"]["x-show-if"] = {"and": [
        {"if": [{"missing": ["plate"]}, False, {"!!": {"var": "plate"}}]}, {"?:": [True, True, False]},
        {"or": [{"!": {"var": "months"}}, {"<": [0, {"var": "months"}, 13]}, {"<=": [1, {"var": "months"}]}]},
        {"some": [{"var": "rows"}, {">": [{"var": "n"}, 1]}]}, {"all": [[1], {">=": [{"var": ""}, 1]}]},
        {"none": [[], True]}, {"==": [1, 1]}, {"!=": [1, 2]}, {"===": [1, 1]}, {"!==": [1, "1"]},
        {"in": ["a", ["a"]]}, {"missing_some": [0, ["plate"]]}, {"var": ["months", 0]}]}
    assert check_form_definition(definition, "f.json") == []
    rule = definition["schema"]["properties"]["amount"]["x-show-if"]
    used = set(re.findall(r'"([^"]+)": ', json.dumps(rule)))
    assert used == set(OPERATORS)


def test_the_api_refuses_a_form_whose_condition_uses_another_operator(api: Any) -> None:
    definition = permit()
    definition["schema"]["properties"]["amount"]["x-show-if"] = {"cat": [{"var": "plate"}, "x"]}
    r = api.post("/api/v1/forms", "admin", json=definition)
    assert r.status_code in (400, 422), r.get_json()
    assert "x-show-if" in json.dumps(r.get_json(), ensure_ascii=False)
    definition["schema"]["properties"]["amount"]["x-show-if"] = {"!!": {"var": "plate"}}
    assert api.post("/api/v1/forms", "admin", json=definition).status_code == 201


# ---- shipped with the package, loaded by every page ----------------------------------------------------

def test_json_logic_js_ships_with_its_licence_and_version(client: Any) -> None:
    vendor = STATIC / "vendor" / "json-logic-js"
    package = json.loads(vendor.joinpath("package.json").read_text("utf-8"))
    assert (package["name"], package["version"], package["license"]) == ("json-logic-js", "2.0.5", "MIT")
    assert "Permission is hereby granted" in vendor.joinpath("LICENSE").read_text("utf-8")
    assert "2.0.5" in (STATIC / "vendor" / "README.md").read_text("utf-8")
    source = vendor.joinpath("logic.js").read_bytes()
    served = client.get(f"/cf-static/{VENDOR}")
    assert served.status_code == 200 and served.data == source
    assert "javascript" in served.mimetype
    login = client.get("/login").get_data(as_text=True)
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', login)
    assert scripts == [f"/cf-static/{VENDOR}", "/cf-static/counterflow.js"]   # the library first
    assert re.search(r'<script defer src="/cf-static/vendor/json-logic-js/logic\.js">', login)


# ---- in the generated form -----------------------------------------------------------------------------

def _demo() -> dict[str, Any]:
    definition = permit(key="show-if-demo", title={"zh-CN": "条件字段", "en": "Conditional fields"})
    definition["schema"] = {
        "type": "object",
        "properties": {
            "delivery": {"type": "object", "title": "领取", "properties": {
                "method": {"type": "string", "title": "方式", "enum": ["pickup", "mail"]}}},
            "address": {"type": "string", "title": "邮寄地址",
                        "x-show-if": {"==": [{"var": "delivery.method"}, "mail"]}},
            "count": {"type": "integer", "title": "份数"},
            "bulk_reason": {"type": "string", "title": "多份理由", "x-show-if": {">": [{"var": "count"}, 10]}},
            "amount": {"type": "integer", "title": "金额"},
        },
    }
    definition["ui_schema"] = {"ui:order": ["delivery", "address", "count", "bulk_reason", "amount"]}
    return definition


@pytest.mark.browser
def test_a_conditional_field_follows_the_field_it_depends_on(live: LiveServer, staff: LiveApi,  # noqa: F811
                                                             browser: Any) -> None:
    publish(staff, _demo())
    context = browser.new_context(locale="zh-CN")
    context.set_default_timeout(T)
    try:
        page = context.new_page()
        loaded: list[tuple[str, int]] = []
        page.on("response", lambda r: loaded.append((r.url, r.status)) if "/cf-static/" in r.url else None)
        sign_in(page, live.url, "clerk")
        page.goto(live.url + "/forms/show-if-demo/new")
        address = page.locator(".cf-field:has(#cf-f-address)")
        reason = page.locator(".cf-field:has(#cf-f-bulk_reason)")
        expect(address).to_be_hidden()
        expect(page.locator("#cf-f-address")).to_be_disabled()
        assert (f"{live.url}/cf-static/{VENDOR}", 200) in loaded

        page.check("input[name='delivery.method'][value='mail']")    # nested: read as delivery.method
        expect(address).to_be_visible()
        expect(page.locator("#cf-f-address")).to_be_enabled()
        page.fill("#cf-f-address", "北京市东城区 1 号")
        page.check("input[name='delivery.method'][value='pickup']")
        expect(address).to_be_hidden()

        page.fill("#cf-f-count", "11")                                 # typed, read as a number
        expect(reason).to_be_visible()
        page.fill("#cf-f-bulk_reason", "单位办理")
        page.fill("#cf-f-count", "3")
        expect(reason).to_be_hidden()
        page.fill("#cf-f-count", "12")
        expect(reason).to_be_visible()

        page.locator("button[name=_action][value=save]").click()
        expect(page).to_have_url(re.compile(r"/records/[^/]+\?saved=1$"))
        data = stored_record(live.app, record_id_of(page))["data"]
        # the hidden field's value is not sent
        assert data == {"delivery": {"method": "pickup"}, "count": 12, "bulk_reason": "单位办理"}
        # the server's answer on the stored data is what the page shows after the reload
        schema = _demo()["schema"]["properties"]
        for name, shown in (("address", address), ("bulk_reason", reason)):
            if holds(schema[name]["x-show-if"], data):
                expect(shown).to_be_visible()
            else:
                expect(shown).to_be_hidden()
        assert not holds(schema["address"]["x-show-if"], data)
        assert holds(schema["bulk_reason"]["x-show-if"], data)

        # once accepted the record is shown read-only: the view shows what the record holds (the script
        # used to judge it on a page without inputs, as if every field were empty, and hid the reason)
        record_id = record_id_of(page)
        page.locator("button[name=_action][value=accept]").click()
        expect(page).to_have_url(re.compile(r"/receipt$"))
        page.goto(f"{live.url}/records/{record_id}")
        item = page.locator(".cf-view-item[data-show-if]", has_text="单位办理")
        expect(item).to_be_visible()
        assert item.evaluate("el => el.hidden") is False
        expect(page.locator("#cf-f-count")).to_have_count(0)
    finally:
        context.close()


@pytest.mark.browser
def test_shipped_forms_show_agent_fields_only_for_an_agent(live: LiveServer, staff: LiveApi,  # noqa: F811
                                                           browser: Any) -> None:
    context = browser.new_context(locale="zh-CN")
    context.set_default_timeout(T)
    try:
        page = context.new_page()
        sign_in(page, live.url, "clerk")
        page.goto(live.url + "/forms/certificate-application/new")
        agent = page.locator(".cf-field:has(#cf-f-agent_name)")
        expect(agent).to_be_hidden()
        page.check("#cf-f-by_agent")          # a boolean checkbox: {"==": [{"var": "by_agent"}, true]}
        expect(agent).to_be_visible()
        page.uncheck("#cf-f-by_agent")
        expect(agent).to_be_hidden()

        page.goto(live.url + "/forms/account-change/new")   # a checkbox group: {"in": ["name", {"var": ...}]}
        proof = page.locator("[data-show-if]:has([name=name_change_proof])")
        expect(proof).to_be_hidden()
        page.check("input[name=changed_items][value=name]")
        expect(proof).to_be_visible()
        page.uncheck("input[name=changed_items][value=name]")
        expect(proof).to_be_hidden()
    finally:
        context.close()


def test_every_accepted_operator_is_evaluated_the_browsers_way() -> None:
    from counterflow.forms.conditions import OPERATIONS

    handled_by_apply = {"if", "?:", "and", "or", "some", "all", "none"}   # panzi's apply, as json-logic-js's
    assert set(OPERATORS) - handled_by_apply <= {op for op, fn in OPERATIONS.items()
                                                 if fn.__module__ == "counterflow.forms.conditions"}
    assert "log" not in OPERATIONS
