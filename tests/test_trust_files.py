"""Hostile files and a careless operator at the `counterflow` command (issue 6, items 16 and 17).

Item 16: definition files are refused before they are parsed into objects when they are too big,
nest too deep or (YAML) use anchors and aliases; every such error, and a data folder or port that
cannot be used, is one line saying what and how to fix, exit code 2, no traceback. Each runs the
real command as a child process with a memory and CPU limit, so a regression cannot eat the machine.

Item 17: field names are matched against `patternProperties` by the validator's own linear-time
regex engine (jsonschema-rs with the Rust `regex` crate), and a pattern it cannot run is refused
when the form is defined.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from counterflow.core.errors import DefinitionError
from counterflow.forms.check import check_form_definition
from counterflow.forms.validate import FormValidator
from counterflow.store.embedded import PID_FILE
from test_cli import _alive, _command, _env, _free_port

MEMORY_LIMIT = 1536 * 1024 * 1024          # the command needs ~150 MB; the alias bomb needed 24 GB
CPU_SECONDS = 60


def _limited() -> None:
    """In the child, before exec: a bounded address space and CPU time, whatever the command does."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def bounded(*args: str, cwd: Path, limit_memory: bool = True) -> subprocess.CompletedProcess[str]:
    """The installed command, killed after 90 s (the store a serve starts inherits no memory limit)."""
    return subprocess.run([_command(), *args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=90, stdin=subprocess.DEVNULL, preexec_fn=_limited if limit_memory else None)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    line = lines[0]
    assert line.startswith("counterflow: ") and "fix: " in line, line
    for word in words:
        assert word in line, (word, line)
    return line


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    found = tmp_path / "work"
    found.mkdir()
    return found


def _form() -> dict[str, Any]:
    text = resources.files("counterflow.schemas").joinpath("account-change.json").read_text("utf-8")
    form = json.loads(text)
    form["key"] = "hostile-form"
    return dict(form)


# -- item 16: hostile definition files -------------------------------------------------------------

def _alias_bomb(levels: int = 9) -> str:
    """The billion laughs: each level lists the one before nine times (9**9 strings once expanded)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_check_refuses_a_yaml_alias_bomb_before_expanding_it(folder: Path) -> None:
    (folder / "bomb.yaml").write_text(_alias_bomb(), "utf-8")
    line = assert_one_line_error(bounded("check", "bomb.yaml", cwd=folder), "bomb.yaml", "aliases")
    assert "line 1" in line


def test_check_refuses_a_yaml_anchor_and_deep_yaml(folder: Path) -> None:
    (folder / "anchor.yaml").write_text("key: &k broken\ntitle: x\n", "utf-8")
    assert_one_line_error(bounded("check", "anchor.yaml", cwd=folder), "anchor.yaml", "anchors")
    (folder / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n", "utf-8")
    assert_one_line_error(bounded("check", "deep.yaml", cwd=folder), "deep.yaml", "nests deeper than 64")


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000,
                                  '{"key": "x", "schema": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001])
def test_check_refuses_deeply_nested_json(folder: Path, text: str) -> None:
    (folder / "deep.json").write_text(text, "utf-8")
    assert_one_line_error(bounded("check", "deep.json", cwd=folder), "deep.json", "nests deeper than 64")


def test_json_depth_skips_brackets_inside_strings(folder: Path) -> None:
    form = _form()
    form["description"] = {"zh-CN": "[[[[{{{{" * 40 + '\\"[', "en": "\\\\" + "[" * 200}
    (folder / "brackets.json").write_text(json.dumps(form, ensure_ascii=False), "utf-8")
    result = bounded("check", "brackets.json", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "all definitions are valid" in result.stdout


def test_check_refuses_an_oversize_file_and_an_endless_one(folder: Path) -> None:
    (folder / "big.json").write_text('{"key": "x", "pad": "' + "x" * (2 * 1024 * 1024) + '"}', "utf-8")
    assert_one_line_error(bounded("check", "big.json", cwd=folder), "big.json", "larger than 1024 KiB")
    assert_one_line_error(bounded("check", "/dev/zero", cwd=folder), "/dev/zero", "larger than 1024 KiB")


def test_check_names_a_yaml_syntax_error_with_its_line(folder: Path) -> None:
    (folder / "bad.yaml").write_text("key: x\nstates: [1, 2\n", "utf-8")
    assert_one_line_error(bounded("check", "bad.yaml", cwd=folder), "bad.yaml", "not valid YAML", "line 3")


def _kill_store(data_dir: Path) -> None:
    pid_file = data_dir / PID_FILE
    if pid_file.exists() and _alive(int(pid_file.read_text())):
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_forms_import_refuses_deep_json_before_starting_a_store(folder: Path) -> None:
    deep = '{"key": "x", "schema": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (folder / "deep.json").write_text(deep, "utf-8")
    data_dir = folder / "data"
    try:
        result = bounded("forms", "import", "deep.json", "--data-dir", str(data_dir), cwd=folder)
        assert_one_line_error(result, "deep.json", "nests deeper than 64")
        assert not data_dir.exists()
    finally:
        _kill_store(data_dir)


def test_forms_import_refuses_unknown_top_level_keys_naming_them(folder: Path) -> None:
    form = _form()
    form["sttings"] = form.pop("settings")
    form["owner"] = "someone"
    (folder / "typo.json").write_text(json.dumps(form, ensure_ascii=False), "utf-8")
    data_dir = folder / "data"
    try:
        result = bounded("forms", "import", "typo.json", "--data-dir", str(data_dir), cwd=folder)
        line = assert_one_line_error(result, "typo.json", "'sttings'", "'owner'", "unknown top-level key")
        assert "'key'" not in line.split("fix:")[0]             # only the unknown ones are named
        assert not data_dir.exists()                            # refused before any store was started
    finally:
        _kill_store(data_dir)


# -- item 16: a data folder or a port that cannot be used --------------------------------------------

def _uncreatable(folder: Path) -> Path:
    """A data folder that cannot be created by this user (root may write anywhere but /sys)."""
    if os.geteuid() != 0:
        locked = folder / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        return locked / "missing" / "data"
    if not Path("/sys").is_dir():
        pytest.skip("no /sys to stand for a folder root may not write")
    return Path("/sys/counterflow-test/data")


@pytest.mark.parametrize("kind", ["a file", "below a file", "uncreatable"])
def test_serve_on_a_data_folder_it_cannot_use_says_so_in_one_line(folder: Path, kind: str) -> None:
    (folder / "afile").write_text("not a folder", "utf-8")
    data_dir = {"a file": folder / "afile", "below a file": folder / "afile" / "data",
                "uncreatable": _uncreatable(folder)}[kind]
    result = bounded("serve", "--port", str(_free_port()), "--data-dir", str(data_dir),
                     "--wait-for-store", "5", cwd=folder, limit_memory=False)
    line = assert_one_line_error(result, "data folder", "--data-dir")
    if kind == "a file":
        assert "a file is in the way" in line


def test_serve_on_a_port_in_use_says_so_in_one_line_and_starts_no_store(folder: Path) -> None:
    data_dir = folder / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            result = bounded("serve", "--port", str(port), "--data-dir", str(data_dir),
                             "--wait-for-store", "5", cwd=folder, limit_memory=False)
        finally:
            _kill_store(data_dir)
    assert_one_line_error(result, f"127.0.0.1:{port}", "--port")
    assert not (data_dir / PID_FILE).exists()


# -- item 17: patternProperties matched by the validator's linear-time engine ------------------------

HOSTILE = "^(x+)+$"


def test_a_backtracking_pattern_matches_a_long_field_name_at_once() -> None:
    """In a child process with a deadline: Python's `re` needed 1.4 s at 24 characters, four times more
    for every two more, so 40 would take about a day."""
    program = textwrap.dedent(f"""
        import json, time
        from counterflow.forms import walker
        from counterflow.forms.validate import FormValidator
        schema = {{"type": "object", "patternProperties": {{{HOSTILE!r}: {{"type": "string"}}}},
                  "additionalProperties": False}}
        validator = FormValidator(schema)
        started = time.monotonic()
        hostile = "x" * 40 + "y"
        refused, _ = validator.check_draft({{hostile: "v"}}, "en")
        accepted, _ = validator.check_draft({{"x" * 40: "v"}}, "en")
        _, allowed = walker.property_schemas([schema], "x" * 4000 + "y")
        print(json.dumps({{"refused": [[p.path, p.code] for p in refused],
                          "accepted": [[p.path, p.code] for p in accepted],
                          "long_allowed": allowed, "seconds": time.monotonic() - started}}))
    """)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60,
                          preexec_fn=_limited)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout)
    assert found["refused"] == [["/" + "x" * 40 + "y", "unknown_field"]]
    assert found["accepted"] == []
    assert found["long_allowed"] is False
    assert found["seconds"] < 5.0, found                      # a generous bound: it takes milliseconds


def test_field_names_match_patterns_as_the_validator_does() -> None:
    """ECMA-262 `\\d` is [0-9] for the validator; Python's `re` let Arabic-Indic digits through the draft
    check that the complete check then refused."""
    schema = {"type": "object", "patternProperties": {"^\\d+$": {"type": "string"}},
              "additionalProperties": False}
    validator = FormValidator(schema)
    for name in ("12", "١٢"):
        refused, _ = validator.check_draft({name: "v"}, "en")
        complete = validator.check_complete({name: "v"}, "en")
        assert [p.code for p in refused] == [p.code for p in complete], name
    assert validator.check_complete({"12": "v"}, "en") == []


@pytest.mark.parametrize("place, pattern", [
    ("patternProperties", "^(?!admin).*$"),                     # look-ahead
    ("pattern", "^(a)\\1$"),                                    # a back-reference
    ("propertyNames", "(?<=x)y"),                               # look-behind, under propertyNames
])
def test_a_pattern_the_engine_cannot_run_is_refused_at_definition(place: str, pattern: str) -> None:
    form = _form()
    if place == "patternProperties":
        field = {"type": "object", "patternProperties": {pattern: {"type": "string"}}}
        expected = f"/schema/properties/extra/patternProperties/{pattern}"
    elif place == "pattern":
        field = {"type": "string", "pattern": pattern}
        expected = "/schema/properties/extra/pattern"
    else:
        field = {"type": "object", "propertyNames": {"pattern": pattern}}
        expected = "/schema/properties/extra/propertyNames/pattern"
    form["schema"]["properties"]["extra"] = field
    problems = check_form_definition(form, "hostile.json")
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"hostile.json: {expected}: pattern "), problems
    assert "fix: write it without look-around" in problems[0]
    with pytest.raises(DefinitionError):      # a stored version with one compiles no validator
        FormValidator(form["schema"])


def test_check_names_the_place_and_fix_of_a_pattern_it_cannot_run(folder: Path) -> None:
    form = _form()
    form["schema"]["properties"]["extra"] = {"type": "object", "patternProperties": {"^(?=x)": {}}}
    (folder / "lookahead.json").write_text(json.dumps(form, ensure_ascii=False), "utf-8")
    result = bounded("check", "lookahead.json", cwd=folder)
    assert result.returncode == 1, result.stderr
    assert "lookahead.json: /schema/properties/extra/patternProperties/^(?=x): pattern" in result.stderr
    assert "fix: write it without look-around" in result.stderr
    assert "Traceback" not in result.stderr


# -- both items through the definition check itself: a definition posted, not read from a file ----------

def test_the_definition_check_refuses_a_deep_definition_instead_of_failing() -> None:
    """The meta-schema check recursed: a ui_schema 400 levels deep raised ValueError, not a problem."""
    form = _form()
    form["ui_schema"] = {"extra": json.loads("[" * 400 + "]" * 400)}
    assert check_form_definition(form, "deep.json") == [
        "deep.json: /: the definition nests deeper than 64 levels; fix: flatten the nested groups"]


def test_the_api_refuses_a_pattern_it_cannot_run_naming_the_place(api: Any) -> None:
    lookahead = _form()
    lookahead["schema"]["properties"]["extra"] = {"type": "object",
                                                  "patternProperties": {"^(?!admin)": {"type": "string"}}}
    r = api.post("/api/v1/forms", "admin", json=lookahead)
    assert r.status_code == 422, r.get_data(as_text=True)[:500]
    details = r.get_json()["error"]["details"]
    assert [d["path"] for d in details] == ["/schema/properties/extra/patternProperties/^(?!admin)"], details
    assert "fix: write it without look-around" in details[0]["message"]
