"""Validating one complete application: counterflow's FormValidator against jsonschema-rs alone and
pure-Python jsonschema (all errors), side by side.

    python bench/bench_validation.py            # 15 interleaved rounds
    python bench/bench_validation.py --quick    # 5 rounds

The form is the shipped schemas/account-change.json; the data is complete and valid (what a clerk
submits). Each round times every candidate once (timeit, enough calls for about 0.2 s), in turn,
so a busy machine slows all of them alike; medians per call are reported, with each one's ratio
to jsonschema-rs alone. `compile` is building a FormValidator (done once per form version).
Pure-Python jsonschema is only a yardstick: `pip install jsonschema` to include it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import timeit
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


def candidates(definition: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    schema, ui = definition["schema"], definition.get("ui_schema")
    validator = FormValidator(schema, ui)
    assert validator.check_complete(DATA, "zh-CN") == [], validator.check_complete(DATA, "zh-CN")
    rs = jsonschema_rs.Draft202012Validator(schema, validate_formats=True, formats=FORMATS, offline=True)
    found: dict[str, Callable[[], Any]] = {
        "jsonschema-rs alone": lambda: list(rs.iter_errors(DATA)),
        "check_complete": lambda: validator.check_complete(DATA, "zh-CN"),
        "check_draft": lambda: validator.check_draft(DATA, "zh-CN"),
        "compile (once per version)": lambda: FormValidator(schema, ui),
    }
    try:
        import jsonschema
    except ImportError:
        print("(pure-Python jsonschema is not installed: `pip install jsonschema` to compare with it)")
    else:
        checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
        py = jsonschema.Draft202012Validator(schema, format_checker=checker)
        assert not list(py.iter_errors(DATA))
        found["jsonschema (pure Python)"] = lambda: list(py.iter_errors(DATA))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 15")
    args = parser.parse_args()
    rounds = 5 if args.quick else 15
    runs = candidates(json.loads(FORM.read_text("utf-8")))
    numbers = {name: max(1, timeit.Timer(run).autorange()[0] // 2) for name, run in runs.items()}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            times[name].append(timeit.timeit(run, number=numbers[name]) / numbers[name])
    base = statistics.median(times["jsonschema-rs alone"])
    print(f"{FORM.name}, complete data, {rounds} interleaved rounds, median per call "
          f"(python {sys.version.split()[0]})")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:28s} {median * 1e6:10.1f} µs   x{median / base:6.1f} jsonschema-rs")


if __name__ == "__main__":
    main()
