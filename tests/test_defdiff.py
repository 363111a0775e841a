"""core.defdiff: the differences between two definition versions, field by field (issue 9, differences).

Property-style: a definition against itself has no change, and every single edit of a shipped sample (each
field, each setting, each state, each transition) is reported exactly once, at that place, with a sentence in
both languages."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from counterflow.core import defdiff
from counterflow.core import pointer as jp

ROOT = Path(__file__).resolve().parents[1]
FORMS = sorted((ROOT / "schemas").glob("*.json"))
FORMS = [p for p in FORMS if p.name != "destruction-list.json"]
WORKFLOWS = sorted((ROOT / "workflows").glob("*.yaml"))


def _form(name: str = "account-change") -> dict[str, Any]:
    return json.loads((ROOT / "schemas" / f"{name}.json").read_text("utf-8"))


def _workflow(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text("utf-8"))


def _bilingual(change: dict[str, Any]) -> None:
    assert change["message"]["zh-CN"] and change["message"]["en"]
    for aspect in change["aspects"]:
        assert aspect["message"]["zh-CN"] and aspect["message"]["en"]


@pytest.mark.parametrize("path", FORMS, ids=lambda p: p.stem)
def test_a_form_against_itself_has_no_change(path: Path) -> None:
    definition = json.loads(path.read_text("utf-8"))
    assert defdiff.diff_forms(definition, copy.deepcopy(definition)) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_a_workflow_against_itself_has_no_change(path: Path) -> None:
    definition = _workflow(path)
    assert defdiff.diff_workflows(definition, copy.deepcopy(definition)) == []


def _schema_at(definition: dict[str, Any], ptr: str) -> dict[str, Any]:
    """The field's own schema node (properties / items), for the samples, which use no $ref in fields."""
    node = definition["schema"]
    for part in jp.split(ptr):
        node = node["items"] if part == jp.WILDCARD else node["properties"][part]
    return node


def _leaf_pointers(definition: dict[str, Any]) -> list[str]:
    facets, _ = defdiff.form_fields(definition)
    out = []
    for ptr in facets:
        if not ptr:
            continue
        try:
            _schema_at(definition, ptr)
        except KeyError:                # declared in a conditional branch only
            continue
        out.append(ptr)
    return out


EDITS: dict[str, tuple[str, Callable[[dict[str, Any]], None]]] = {
    "pattern": ("pattern", lambda n: n.__setitem__("pattern", "^x$")),
    "maxLength": ("maxLength", lambda n: n.__setitem__("maxLength", 7)),
    "minimum": ("minimum", lambda n: n.__setitem__("minimum", -3)),
    "x-sensitive": ("x-sensitive", lambda n: n.__setitem__("x-sensitive", "phone")),
    "x-visible-to": ("x-visible-to", lambda n: n.__setitem__("x-visible-to", ["manager"])),
    "x-show-if": ("x-show-if", lambda n: n.__setitem__("x-show-if", {"==": [{"var": "zz"}, 1]})),
    "x-required-if": ("x-required-if", lambda n: n.__setitem__("x-required-if", {"!!": [{"var": "zz"}]})),
    "default": ("default", lambda n: n.__setitem__("default", "d")),
    "label_en": ("x-title-en", lambda n: n.__setitem__("x-title-en", "A new English label")),
    "label_zh": ("title", lambda n: n.__setitem__("title", "新的标签")),
    "help_en": ("x-description-en", lambda n: n.__setitem__("x-description-en", "New help")),
    "format": ("format", lambda n: n.__setitem__("format", "email")),
}


@pytest.mark.parametrize("sample", [p.stem for p in FORMS])
@pytest.mark.parametrize("edit", list(EDITS))
def test_every_rule_edit_of_every_field_is_reported_once_at_its_pointer(sample: str, edit: str) -> None:
    base = _form(sample)
    aspect, apply = EDITS[edit]
    checked = 0
    for ptr in _leaf_pointers(base):
        changed = copy.deepcopy(base)
        node = _schema_at(changed, ptr)
        before = copy.deepcopy(node)
        apply(node)
        if node == before:
            continue
        found = defdiff.diff_forms(base, changed)
        assert [(c["kind"], c["path"], c["area"]) for c in found] == [("changed", ptr, "field")], found
        assert [a["aspect"] for a in found[0]["aspects"]] == [aspect]
        _bilingual(found[0])
        checked += 1
    assert checked


@pytest.mark.parametrize("sample", [p.stem for p in FORMS])
def test_required_on_and_off_and_removing_a_field_are_reported_at_its_pointer(sample: str) -> None:
    base = _form(sample)
    names = list(base["schema"]["properties"])
    for name in names:
        ptr = jp.join([name])
        changed = copy.deepcopy(base)
        required = changed["schema"].setdefault("required", [])
        if name in required:
            required.remove(name)
            word = "no longer required"
        else:
            required.append(name)
            word = "now required"
        found = defdiff.diff_forms(base, changed)
        assert [(c["kind"], c["path"]) for c in found] == [("changed", ptr)]
        assert found[0]["aspects"][0]["aspect"] == "required"
        assert word in found[0]["message"]["en"]
    # removing a leaf field (and its required entry, ui_schema and order) is one removal at its pointer
    leaf = next(n for n in names if base["schema"]["properties"][n].get("type") == "string")
    changed = copy.deepcopy(base)
    del changed["schema"]["properties"][leaf]
    changed["schema"]["required"] = [n for n in changed["schema"].get("required", []) if n != leaf]
    ui = changed.get("ui_schema") or {}
    ui.pop(leaf, None)
    if leaf in ui.get("ui:order", []):
        ui["ui:order"].remove(leaf)
    found = [c for c in defdiff.diff_forms(base, changed) if c["path"] == jp.join([leaf])]
    assert [c["kind"] for c in found] == ["removed"]
    assert "removed" in found[0]["message"]["en"] and "删除" in found[0]["message"]["zh-CN"]


def test_options_their_labels_material_and_layout_are_named() -> None:
    base = _form("account-change")
    changed = copy.deepcopy(base)
    node = changed["schema"]["properties"]["id_type"]
    node["enum"] = node["enum"] + ["military"]
    found = defdiff.diff_forms(base, changed)
    assert found[0]["path"] == "/id_type" and "military" in found[0]["message"]["en"]
    assert "新增选项" in found[0]["message"]["zh-CN"]
    changed = copy.deepcopy(base)
    changed["ui_schema"].setdefault("reason", {})["ui:widget"] = "radio"
    found = defdiff.diff_forms(base, changed)
    assert [(c["path"], c["aspects"][0]["aspect"], c["aspects"][0]["group"]) for c in found] == \
        [("/reason", "ui:widget", "layout")]
    changed = copy.deepcopy(base)
    changed["ui_schema"]["ui:order"] = list(reversed(base["ui_schema"].get("ui:order") or ["*", "reason"]))
    found = defdiff.diff_forms(base, changed)
    assert [(c["path"], c["area"], c["aspects"][0]["aspect"]) for c in found] == [("", "form", "ui:order")]
    assert found[0]["message"]["en"].startswith("Form 'as a whole (its root object)': field order:")
    changed = copy.deepcopy(base)
    del changed["schema"]["properties"]["id_copy"]["x-material"]
    found = defdiff.diff_forms(base, changed)
    assert found[0]["path"] == "/id_copy"
    assert found[0]["message"]["en"].endswith("no longer a required material")


def test_nested_fields_and_list_elements_have_their_own_pointers() -> None:
    base = _form("account-change")
    changed = copy.deepcopy(base)
    changed["schema"]["properties"]["new_details"]["properties"]["new_phone"]["maxLength"] = 5
    found = defdiff.diff_forms(base, changed)
    assert [c["path"] for c in found] == ["/new_details/new_phone"]
    base = {"key": "k", "title": {"zh-CN": "a", "en": "a"}, "settings": {},
            "schema": {"type": "object", "properties": {"rows": {"type": "array", "items": {
                "type": "object", "properties": {"a/b": {"type": "string"}}}}}}}
    changed = copy.deepcopy(base)
    changed["schema"]["properties"]["rows"]["items"]["properties"]["a/b"]["minLength"] = 2
    assert [c["path"] for c in defdiff.diff_forms(base, changed)] == ["/rows/*/a~1b"]


SETTINGS_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "numbering": lambda s: s.__setitem__("numbering", "X-{seq:03d}"),
    "time_limit": lambda s: s.__setitem__("time_limit", {"working_days": 99}),
    "retention": lambda s: s.__setitem__("retention", {"years": 50, "from": "archived"}),
    "processes": lambda s: s.__setitem__("processes", list(s["processes"]) + ["other_process"]),
    "review": lambda s: s.__setitem__("review", {"second_level_if": {"==": [1, 2]}}),
    "purpose": lambda s: s.__setitem__("purpose", {"zh-CN": "新目的", "en": "new purpose"}),
}


@pytest.mark.parametrize("sample", [p.stem for p in FORMS])
@pytest.mark.parametrize("name", list(SETTINGS_EDITS))
def test_every_setting_edit_is_reported_once(sample: str, name: str) -> None:
    base = _form(sample)
    changed = copy.deepcopy(base)
    SETTINGS_EDITS[name](changed["settings"])
    assert changed["settings"] != base["settings"]
    found = defdiff.diff_forms(base, changed)
    assert [(c["path"], c["area"]) for c in found] == [(f"/settings/{name}", "settings")]
    assert found[0]["kind"] == ("changed" if name in base["settings"] else "added")
    _bilingual(found[0])


def test_title_and_description_are_form_changes() -> None:
    base = _form()
    changed = copy.deepcopy(base)
    changed["title"] = {"zh-CN": "新标题", "en": "New title"}
    found = defdiff.diff_forms(base, changed)
    assert [(c["path"], c["area"]) for c in found] == [("/title", "form")]
    assert "New title" in found[0]["message"]["en"] and "新标题" in found[0]["message"]["zh-CN"]


def test_added_field_and_rules_of_an_added_field() -> None:
    base = _form()
    changed = copy.deepcopy(base)
    changed["schema"]["properties"]["extra"] = {"type": "string", "title": "附加", "x-title-en": "Extra"}
    found = defdiff.diff_forms(base, changed)
    assert [(c["kind"], c["path"]) for c in found] == [("added", "/extra")]
    assert "Extra" in found[0]["message"]["en"] and "附加" in found[0]["message"]["zh-CN"]


STATE_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "title": lambda s: s.__setitem__("title", {"zh-CN": "改名", "en": "Renamed"}),
    "deadline": lambda s: s.__setitem__("deadline", {"working_days": 42}),
    "clock": lambda s: s.__setitem__("clock", "paused" if s.get("clock") != "paused" else "running"),
    "editable": lambda s: s.__setitem__("editable", not s.get("editable")),
}
TRANSITION_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "roles": lambda t: t.__setitem__("roles", list(t.get("roles") or []) + ["auditor"]),
    "guards": lambda t: t.__setitem__("guards", list(t.get("guards") or []) + ["is_assignee"]),
    "requires": lambda t: t.__setitem__("requires", list(t.get("requires") or []) + ["authority"]),
    "dest": lambda t: t.__setitem__("dest", "zz_elsewhere"),
    "actions": lambda t: t.__setitem__("actions", [] if t.get("actions") else ["x"]),
}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_every_single_state_and_transition_edit_is_reported_once(path: Path) -> None:
    base = _workflow(path)
    for i, state in enumerate(base["states"]):
        for aspect, apply in STATE_EDITS.items():
            changed = copy.deepcopy(base)
            apply(changed["states"][i])
            found = defdiff.diff_workflows(base, changed)
            assert [(c["kind"], c["path"], c["area"]) for c in found] == \
                [("changed", jp.join(["states", state["name"]]), "state")], (aspect, found)
            assert [a["aspect"] for a in found[0]["aspects"]] == [aspect]
            _bilingual(found[0])
    for i, transition in enumerate(base["transitions"]):
        where = defdiff.transition_path(transition)
        for aspect, apply in TRANSITION_EDITS.items():
            changed = copy.deepcopy(base)
            apply(changed["transitions"][i])
            found = defdiff.diff_workflows(base, changed)
            assert [(c["kind"], c["path"], c["area"]) for c in found] == [("changed", where, "transition")]
            assert [a["aspect"] for a in found[0]["aspects"]] == [aspect]


def test_states_and_transitions_added_removed_and_moved() -> None:
    base = _workflow(ROOT / "workflows" / "intake.yaml")
    changed = copy.deepcopy(base)
    changed["states"].append({"name": "parked", "title": {"zh-CN": "搁置", "en": "Parked"}})
    changed["transitions"].append({"trigger": "park", "source": "draft", "dest": "parked",
                                   "roles": ["clerk"]})
    found = defdiff.diff_workflows(base, changed)
    assert [(c["kind"], c["path"]) for c in found] == [("added", "/states/parked"),
                                                       ("added", "/transitions/park/draft")]
    assert "Parked" in found[0]["message"]["en"]
    removed = defdiff.diff_workflows(changed, base)
    assert [c["kind"] for c in removed] == ["removed", "removed"]
    # a transition whose sources change is one change (its sources), at its new place
    moved = copy.deepcopy(base)
    first = moved["transitions"][0]
    sources = first["source"] if isinstance(first["source"], list) else [first["source"]]
    first["source"] = sources[:1]
    found = defdiff.diff_workflows(base, moved)
    if len(sources) > 1:
        assert [(c["kind"], c["area"], c["aspects"][0]["aspect"]) for c in found] == \
            [("changed", "transition", "source")]
    changed = copy.deepcopy(base)
    changed["initial"] = "submitted"
    found = defdiff.diff_workflows(base, changed)
    assert [(c["path"], c["area"]) for c in found] == [("/initial", "workflow")]


def test_values_in_sentences_are_clipped() -> None:
    base = _form()
    changed = copy.deepcopy(base)
    changed["schema"]["properties"]["reason"]["pattern"] = "a" * 500
    found = defdiff.diff_forms(base, changed)
    assert len(found[0]["message"]["en"]) < 300
