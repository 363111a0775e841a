"""The layers hold: a pure core, one home for MongoDB writes, and no process named in code or templates."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugin"
WEB_FRAMEWORKS = ("flask", "werkzeug", "jinja2.ext")
STORE_DRIVERS = ("pymongo", "mongoengine", "gridfs", "bson", "nx_27017")
# which layers each layer may import (top-level modules: settings is configuration, read by all)
ALLOWED = {
    "core": {"core"},
    "forms": {"core", "forms"},
    "security": {"core", "security"},
    "store": {"core", "store"},
    "service": {"core", "forms", "security", "store", "service", "settings"},
    "web": {"core", "forms", "security", "service", "web", "settings"},
}
WRITES = {"insert_one", "insert_many", "update_one", "update_many", "replace_one", "delete_one",
          "delete_many", "find_one_and_update", "find_one_and_replace", "find_one_and_delete", "bulk_write",
          "drop", "drop_collection", "drop_database", "create_index", "create_indexes", "save", "put"}


def _modules() -> list[Path]:
    return sorted(p for p in PLUGIN.rglob("*.py") if "__pycache__" not in p.parts)


def _layer(path: Path) -> str:
    rel = path.relative_to(PLUGIN)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_every_package_says_what_it_is_in_one_line() -> None:
    for init in PLUGIN.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text("utf-8")))
        assert doc and "\n" not in doc.strip(), f"{init.relative_to(ROOT)} needs a one-line docstring"


@pytest.mark.parametrize("layer", ["core", "forms"])
def test_the_core_and_forms_import_no_web_framework_and_no_store_driver(layer: str) -> None:
    bad = [f"{p.relative_to(ROOT)}:{line}: {name}" for p in _modules() if _layer(p) == layer
           for line, name in _imports(p) if name.split(".")[0] in WEB_FRAMEWORKS + STORE_DRIVERS]
    assert bad == []


def test_each_layer_imports_only_the_layers_below_it() -> None:
    bad = []
    for path in _modules():
        layer = _layer(path)
        for line, name in _imports(path):
            parts = name.split(".")
            if parts[0] != "counterflow" or len(parts) < 2 or layer not in ALLOWED:
                continue
            if parts[1] not in ALLOWED[layer]:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {layer} imports {name}")
    assert bad == []


def test_only_the_store_layer_talks_to_the_driver_and_writes() -> None:
    bad = []
    for path in _modules():
        if _layer(path) == "store":
            continue
        for line, name in _imports(path):
            if name.split(".")[0] in STORE_DRIVERS and name != "pymongo.errors":
                bad.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in WRITES and _collection_like(node.func.value)):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.func.attr}() on a collection")
    assert bad == []


def _collection_like(node: ast.AST) -> bool:
    """`store.records`, `self.store.forms`, `db[...]`, `client...`: what a write to MongoDB is called on."""
    text = ast.unparse(node)
    return bool(re.search(r"(\bstore\.\w+|\bdb\b|\bclient\b|\bcollection\b|\bcounters\b|\bevents\b)", text))


def test_the_write_guard_sees_a_write_outside_the_store() -> None:
    call = ast.parse("self.store.records.update_one({'_id': 1}, {'$set': {'a': 1}})", mode="eval").body
    assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
    assert call.func.attr in WRITES and _collection_like(call.func.value)


# -- processes are data ------------------------------------------------------------------------------------

def _shipped_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "workflows").glob("*.yaml"):
        wf = yaml.safe_load(path.read_text("utf-8"))
        names.add(wf["key"])
        names.update(s["name"] for s in wf["states"])
        names.update(t["trigger"] for t in wf["transitions"])
    return names


# words that are also ordinary words of another concept, each with where and why it may appear
NOT_A_PROCESS = {
    ("service/tick.py", "escalated"): "the notify kind of tick's escalation, agreed with service/notify.py",
    ("store/client.py", "returned"): "the numbering counter's count of numbers given back",
    ("forms/render.py", "accept"): "the HTML attribute of a file input",
    ("core/rules.py", "review"):
        "the form settings' section for review rules (settings.review.second_level_if)",
    ("forms/check.py", "review"): "the same form settings section, checked",
    # the approval step's own vocabulary, fixed by the format (docs/definitions.md, "Approval steps"): the
    # actions of POST /records/{id}/approval/{action}, the two decisions a vote is, and a task's states; a
    # definition names its own triggers in the block (`approve: <trigger>`), never these words
    **{(module, word): "an approval step's action, decision or task state, not a definition's name"
       for module in ("core/approval.py", "service/approvals.py")
       for word in ("approve", "reject", "send_back", "withdraw", "pending")},
    **{("web/api/approvals.py", word): "the same approval actions, as the API's path words"
       for word in ("approve", "reject", "send_back", "withdraw")},
    # the notify kinds, fixed by the meta-schema's `notify_kind` enum (what the applicant or staff are told),
    # which share words with shipped states; a transition says which it sends with `notifies: <kind>`
    **{(module, word): "a notify kind (meta-schema notify_kind), not a state"
       for module in ("service/notify.py", "service/status.py", "service/approvals.py")
       for word in ("accepted", "returned", "declined", "decided", "urged", "copied", "delegated")},
    # the events a form's retention may count from (form meta-schema `settings.retention.from`)
    ("service/reading.py", "archived"): "a form's retention event (settings.retention.from), not a state",
    ("service/reading.py", "accepted"): "a form's retention event (settings.retention.from), not a state",
    ("service/notify.py", "pending"): "a notification's delivery state in the outbox, not a record's",
    ("service/worklists.py", "acknowledge"):
        "the worklist's name in GET /worklists/{name}; which transitions count is the `acknowledges` flag",
    ("core/definitions.py", "review"): "the same form settings section, checked",
    ("core/defdiff.py", "review"): "the same form settings section, named in a version's differences",
}


def _docstring_ids(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def test_no_process_state_or_trigger_name_is_tested_in_python() -> None:
    names = _shipped_names()
    bad = []
    for path in _modules():
        tree = ast.parse(path.read_text("utf-8"))
        docs = _docstring_ids(tree)
        rel = str(path.relative_to(PLUGIN))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
                    and id(node) not in docs and (rel, node.value) not in NOT_A_PROCESS):
                bad.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert bad == [], "decide by a flag in the workflow definition instead:\n" + "\n".join(bad)


def test_no_process_state_or_trigger_name_is_tested_in_a_template() -> None:
    names = _shipped_names()
    bad = []
    for path in sorted(PLUGIN.rglob("*.html")):
        for line_no, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            for expr in re.findall(r"{[{%](.*?)[%}]}", line):
                for word in re.findall(r"""["']([a-z_]+)["']""", expr):
                    if word in names:
                        bad.append(f"{path.relative_to(PLUGIN)}:{line_no}: {word!r}")
    assert bad == [], "decide by a flag in the workflow definition instead:\n" + "\n".join(bad)
