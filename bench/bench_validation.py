"""Validating one application: counterflow's FormValidator against pure-Python jsonschema (all errors)
and jsonschema-rs alone, side by side, on two forms and on valid data and data with 5 errors.

    python bench/bench_validation.py            # 15 interleaved rounds
    python bench/bench_validation.py --quick    # 5 rounds

The forms: the shipped schemas/account-change.json, and COUNTER_27 below, a 27-field counter form
(an account opening: 25 top-level fields and a nested object of 2, with `x-show-if` conditions,
conditional and unconditional `x-material`s, formats, patterns, enums and `allOf`/`if`/`then`).
For each form: complete valid data (what a clerk submits) and the same data with 5 mistakes.

Each round times every candidate of every case once (timeit, enough calls for about 0.1 s), in
turn, so a busy machine slows all of them alike; medians per call are reported. The ratio is
pure-Python jsonschema's time (Draft 2020-12, format checker on, every error listed) over ours:
the targets are >= 20x on valid data and >= 10x with 5 errors. `compile` is building a
FormValidator (done once per form version). Pure-Python jsonschema is only a yardstick:
`pip install jsonschema` to include it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import timeit
from functools import partial
from pathlib import Path
from typing import Any, Callable

import jsonschema_rs

from counterflow.forms.validate import FORMATS, FormValidator

FORM = Path(__file__).resolve().parent.parent / "schemas" / "account-change.json"
DATA = {
    "applicant_name": "王小明", "id_type": "resident_id", "id_number": "11010519491231002X",
    "bank_card": "6222020200112233445", "phone": "13800138000",
    "changed_items": ["name", "phone", "address", "daily_limit"],
    "new_details": {"new_name": "王晓明", "new_phone": "13912345678", "new_address": "北京市东城区某街道 1 号"},
    "amount": 80000, "reason": "更换手机号并更正姓名", "id_copy": "att_01J9Z3K4M5N6P7Q8R9S0T1V2W3",
    "name_change_proof": "att_01J9Z3K4M5N6P7Q8R9S0T1V2W4", "application_date": "2026-11-20",
}
# five mistakes: a resident ID number too short, a mobile number too short, a one-letter reason,
# a date in the wrong format, the ID copy (a material) not uploaded
DATA_5 = {**{k: v for k, v in DATA.items() if k != "id_copy"},
          "id_number": "12345", "phone": "12345", "reason": "x", "application_date": "2026/11/20"}


def _text(zh: str, en: str, **rules: Any) -> dict[str, Any]:
    return {"type": "string", "title": zh, "x-title-en": en, **rules}


def _choice(zh: str, en: str, options: list[str]) -> dict[str, Any]:
    return {"type": "string", "title": zh, "x-title-en": en, "enum": options}


_HAS_AGENT = {"==": [{"var": "has_agent"}, True]}
COUNTER_27: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "applicant_name": _text("申请人姓名", "Applicant's name", minLength=1, maxLength=50,
                                **{"x-sensitive": "name"}),
        "id_type": _choice("证件类型", "ID type", ["resident_id", "passport", "hk_macao_permit"]),
        "id_number": _text("证件号码", "ID number", pattern="^[A-Za-z0-9]{5,20}$",
                           **{"x-sensitive": "id_number"}),
        "phone": _text("手机号", "Mobile number", pattern="^1[3-9]\\d{9}$", **{"x-sensitive": "phone"}),
        "email": _text("电子邮箱", "Email", format="email", maxLength=254),
        "birth_date": _text("出生日期", "Date of birth", format="date"),
        "gender": _choice("性别", "Sex", ["female", "male"]),
        "nationality": _text("国籍", "Nationality", minLength=2, maxLength=40),
        "address": _text("联系地址", "Postal address", minLength=5, maxLength=200,
                         **{"x-sensitive": "address"}),
        "postcode": _text("邮政编码", "Postcode", pattern="^\\d{6}$"),
        "occupation": _choice("职业", "Occupation",
                              ["employee", "self_employed", "student", "retired", "other"]),
        "employer": _text("工作单位", "Employer", maxLength=100),
        "annual_income": {"type": "integer", "minimum": 0, "maximum": 100_000_000,
                          "title": "年收入（元）", "x-title-en": "Annual income (yuan)"},
        "account_type": _choice("账户类型", "Account type", ["debit", "savings", "payroll"]),
        "currency": _choice("币种", "Currency", ["CNY", "USD", "EUR", "HKD"]),
        "initial_deposit": {"type": "number", "minimum": 0, "title": "首次存入金额",
                            "x-title-en": "First deposit"},
        "purpose": _choice("开户用途", "Purpose", ["salary", "savings", "business", "other"]),
        "has_agent": {"type": "boolean", "title": "是否代理办理", "x-title-en": "Through an agent"},
        "agent_name": _text("代理人姓名", "Agent's name", minLength=1, maxLength=50,
                            **{"x-sensitive": "name", "x-show-if": _HAS_AGENT}),
        "agent_id_number": _text("代理人证件号码", "Agent's ID number", pattern="^[A-Za-z0-9]{5,20}$",
                                 **{"x-sensitive": "id_number", "x-show-if": _HAS_AGENT}),
        "contact": {
            "type": "object", "title": "紧急联系人", "x-title-en": "Emergency contact",
            "properties": {
                "name": _text("姓名", "Name", minLength=1, maxLength=50, **{"x-sensitive": "name"}),
                "phone": _text("电话", "Phone", pattern="^1[3-9]\\d{9}$", **{"x-sensitive": "phone"}),
            },
            "required": ["name", "phone"], "additionalProperties": False,
        },
        "tax_resident": _choice("税收居民身份", "Tax residence", ["china_only", "other_only", "both"]),
        "tax_id": _text("纳税人识别号", "Taxpayer ID", maxLength=40,
                        **{"x-show-if": {"!=": [{"var": "tax_resident"}, "china_only"]}}),
        "id_copy": _text("身份证件复印件", "Copy of the ID document", format="attachment",
                         **{"x-material": {"title": {"zh-CN": "申请人有效身份证件复印件",
                                                     "en": "Copy of the applicant's ID document"}}}),
        "agent_authorisation": _text("授权委托书", "Letter of authorisation", format="attachment",
                                     **{"x-material": {"title": {"zh-CN": "授权委托书原件",
                                                                 "en": "Signed letter of authorisation"}},
                                        "x-show-if": _HAS_AGENT}),
        "application_date": _text("申请日期", "Date of application", format="date"),
    },
    "required": ["applicant_name", "id_type", "id_number", "phone", "birth_date", "gender", "nationality",
                 "address", "occupation", "account_type", "currency", "purpose", "has_agent", "contact",
                 "tax_resident", "id_copy", "application_date"],
    "additionalProperties": False,
    "allOf": [
        {"if": {"properties": {"id_type": {"const": "resident_id"}}, "required": ["id_type"]},
         "then": {"properties": {"id_number": {"pattern": "^[1-9]\\d{16}[0-9Xx]$"}}}},
        {"if": {"properties": {"has_agent": {"const": True}}, "required": ["has_agent"]},
         "then": {"required": ["agent_name", "agent_id_number", "agent_authorisation"]}},
        {"if": {"properties": {"tax_resident": {"enum": ["other_only", "both"]}},
                "required": ["tax_resident"]},
         "then": {"required": ["tax_id"]}},
    ],
}
DATA_27 = {
    "applicant_name": "李华", "id_type": "resident_id", "id_number": "11010519491231002X",
    "phone": "13800138000", "email": "li.hua@example.com", "birth_date": "1949-12-31", "gender": "male",
    "nationality": "中国", "address": "北京市东城区某街道 1 号", "postcode": "100010",
    "occupation": "employee", "employer": "某某有限公司", "annual_income": 180000, "account_type": "debit",
    "currency": "CNY", "initial_deposit": 500.0, "purpose": "salary", "has_agent": True,
    "agent_name": "张伟", "agent_id_number": "110105198001010011",
    "contact": {"name": "李明", "phone": "13912345678"}, "tax_resident": "both", "tax_id": "US123456789",
    "id_copy": "att_01J9Z3K4M5N6P7Q8R9S0T1V2W3", "agent_authorisation": "att_01J9Z3K4M5N6P7Q8R9S0T1V2W4",
    "application_date": "2026-11-20",
}
# five mistakes: a mobile number too short, an e-mail address without @, a 5-digit postcode,
# a negative income, the letter of authorisation (a material the agent makes necessary) not uploaded
DATA_27_5 = {**{k: v for k, v in DATA_27.items() if k != "agent_authorisation"},
             "phone": "12345", "email": "li.hua.example.com", "postcode": "10001", "annual_income": -1}

CASES = [  # (name, form, data, number of problems FormValidator reports)
    ("account-change valid", "account-change", DATA, 0),
    ("account-change 5 errors", "account-change", DATA_5, 5),
    ("27-field valid", "counter-27", DATA_27, 0),
    ("27-field 5 errors", "counter-27", DATA_27_5, 5),
]


def forms() -> dict[str, tuple[dict[str, Any], dict[str, Any] | None]]:
    definition = json.loads(FORM.read_text("utf-8"))
    return {"account-change": (definition["schema"], definition.get("ui_schema")),
            "counter-27": (COUNTER_27, None)}


def _every_error(validator: Any, data: Any) -> list[Any]:
    return list(validator.iter_errors(data))


def candidates() -> dict[tuple[str, str], Callable[[], Any]]:
    """(case, candidate) -> one call."""
    try:
        import jsonschema
    except ImportError:
        jsonschema = None
        print("(pure-Python jsonschema is not installed: `pip install jsonschema` to compare with it)")
    found: dict[tuple[str, str], Callable[[], Any]] = {}
    compiled = {}
    for form, (schema, ui) in forms().items():
        compiled[form] = FormValidator(schema, ui)
        found[(form, "compile (once per version)")] = partial(FormValidator, schema, ui)
    for case, form, data, count in CASES:
        schema, ui = forms()[form]
        validator = compiled[form]
        problems = validator.check_complete(data, "zh-CN")
        assert len(problems) == count, (case, [p.to_dict() for p in problems])
        rs = jsonschema_rs.Draft202012Validator(schema, validate_formats=True, formats=FORMATS, offline=True)
        found[(case, "check_complete")] = partial(validator.check_complete, data, "zh-CN")
        found[(case, "check_draft")] = partial(validator.check_draft, data, "zh-CN")
        found[(case, "jsonschema-rs alone")] = partial(_every_error, rs, data)
        if jsonschema is not None:
            checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
            py = jsonschema.Draft202012Validator(schema, format_checker=checker)
            assert bool(list(py.iter_errors(data))) == bool(count), case
            found[(case, "jsonschema (pure Python)")] = partial(_every_error, py, data)
    return found


def _ratio(reference: float | None, ours: float) -> str:
    return f"{reference / ours:6.1f}x" if reference else "     -"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 15")
    args = parser.parse_args()
    rounds = 5 if args.quick else 15
    runs = candidates()
    numbers = {key: max(1, timeit.Timer(run).autorange()[0] // 2) for key, run in runs.items()}
    times: dict[tuple[str, str], list[float]] = {key: [] for key in runs}
    for _ in range(rounds):
        for key, run in runs.items():
            times[key].append(timeit.timeit(run, number=numbers[key]) / numbers[key])
    median = {key: statistics.median(values) for key, values in times.items()}
    print(f"{rounds} interleaved rounds, median per call in µs (python {sys.version.split()[0]}); "
          "ratio = pure-Python jsonschema / ours")
    print(f"  {'case':26s} {'jsonschema':>11s} {'rs alone':>9s} {'check_complete':>15s} {'ratio':>7s} "
          f"{'check_draft':>12s} {'ratio':>7s}")
    for case, _, _, _ in CASES:
        py = median.get((case, "jsonschema (pure Python)"))
        complete, draft = median[(case, "check_complete")], median[(case, "check_draft")]
        alone = median[(case, "jsonschema-rs alone")]
        print(f"  {case:26s} {py * 1e6 if py else float('nan'):11.1f} {alone * 1e6:9.1f} "
              f"{complete * 1e6:15.1f} {_ratio(py, complete):>7s} "
              f"{draft * 1e6:12.1f} {_ratio(py, draft):>7s}")
    for form in forms():
        built = median[(form, "compile (once per version)")]
        print(f"  compile {form}: {built * 1e6:.0f} µs (once per version)")


if __name__ == "__main__":
    main()
