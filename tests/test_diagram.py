"""Workflow diagrams: server-side SVG from the definition, laid out by grandalf, every admin text escaped."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from importlib import resources

import pytest
import yaml

from counterflow.core.diagram import Progress, esc, layout, progress_of, render_svg

SVG = "{http://www.w3.org/2000/svg}"


def shipped(key: str) -> dict:
    return yaml.safe_load(resources.files("counterflow.workflows").joinpath(f"{key}.yaml").read_text("utf-8"))


def _texts(svg: str) -> list[str]:
    return ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")]


@pytest.mark.parametrize("key", ["intake", "review", "archive", "destroy", "form_approval"])
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_shipped_process_draws_as_well_formed_svg_with_every_state_and_transition(
        key: str, lang: str) -> None:
    definition = shipped(key)
    svg = render_svg(definition, lang)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    states = {g.get("data-state") for g in root.iter(f"{SVG}g") if g.get("data-state")}
    assert states == {s["name"] for s in definition["states"]}
    texts = _texts(svg)
    for s in definition["states"]:
        assert s["title"][lang] in texts
    for t in definition["transitions"]:
        assert any(line.startswith(t["title"][lang]) for line in texts), t["trigger"]
    pairs = {(g.get("data-source"), g.get("data-dest")) for g in root.iter(f"{SVG}g") if g.get("data-dest")}
    expected = {(s, t["dest"]) for t in definition["transitions"]
                for s in (t["source"] if isinstance(t["source"], list) else [t["source"]])}
    assert pairs >= expected


def test_roles_and_deadlines_are_shown_in_the_language_asked() -> None:
    definition = shipped("review")
    zh = _texts(render_svg(definition, "zh-CN"))
    en = _texts(render_svg(definition, "en"))
    with_deadline = [s for s in definition["states"] if s.get("deadline")]
    assert with_deadline
    days = with_deadline[0]["deadline"]["working_days"]
    assert f"时限 {days} 个工作日" in zh and f"{days} working days" in en
    assert any("部门负责人" in t for t in zh) and any("department head" in t for t in en)


def test_states_do_not_overlap_and_layers_go_downwards() -> None:
    geo = layout(shipped("review"), "en")
    boxes = list(geo["boxes"].values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart_x = abs(a.xy[0] - b.xy[0]) >= (a.w + b.w) / 2
            apart_y = abs(a.xy[1] - b.xy[1]) >= (a.h + b.h) / 2
            assert apart_x or apart_y
    initial = geo["boxes"][shipped("review")["initial"]]
    assert all(initial.xy[1] <= b.xy[1] for b in boxes)


def test_admin_text_is_escaped_never_markup() -> None:
    definition = shipped("intake")
    definition["title"] = {"zh-CN": "</title><script>x()</script>", "en": "t"}
    definition["states"][0]["title"] = {"zh-CN": "<script>alert('x')</script>", "en": "<b onload=x>"}
    definition["transitions"][0]["title"] = {"zh-CN": "a\x00\x07 & \"q\" <img src=x onerror=y>", "en": "e"}
    svg = render_svg(definition, "zh-CN")
    assert "<script" not in svg and "<img" not in svg and "<b " not in svg
    root = ET.fromstring(svg)
    assert not list(root.iter(f"{SVG}script"))
    texts = _texts(svg)
    assert "<script>alert('x')</script>" in texts
    assert any(t.startswith('a & "q" <img src=x onerror=y>') for t in texts)
    assert root.find(f"{SVG}title").text == "</title><script>x()</script>"  # type: ignore[union-attr]
    assert esc('"<&>\'') == "&quot;&lt;&amp;&gt;&#x27;"


def test_a_records_progress_is_highlighted_and_the_public_view_names_nobody() -> None:
    definition = shipped("review")
    states = [s["name"] for s in definition["states"]]
    first, then = states[0], states[1]
    step = next(t for t in definition["transitions"] if t["source"] == first)
    events = [{"process": definition["key"], "source": "", "dest": first, "outcome": "done"},
              {"process": definition["key"], "source": first, "dest": step["dest"], "outcome": "done"},
              {"process": definition["key"], "source": step["dest"], "dest": step["dest"],
               "outcome": "refused"},
              {"process": "other", "source": then, "dest": first, "outcome": "done"}]
    progress = progress_of(events, definition["key"], step["dest"], holder="王五")
    assert progress.passed == (first,) and progress.walked == ((first, step["dest"]),)
    svg = render_svg(definition, "zh-CN", progress)
    root = ET.fromstring(svg)
    groups = {g.get("data-state"): (g.get("class") or "").split() for g in root.iter(f"{SVG}g")
              if g.get("data-state")}
    assert "passed" in groups[first] and "current" in groups[step["dest"]]
    assert sum("current" in c for c in groups.values()) == 1
    assert "经办：王五" in _texts(svg)
    walked = [g for g in root.iter(f"{SVG}g") if "walked" in (g.get("class") or "")]
    assert [(g.get("data-source"), g.get("data-dest")) for g in walked] == [(first, step["dest"])]
    public = render_svg(definition, "zh-CN", progress, public=True)
    assert "王五" not in public and "（" not in "".join(_texts(public))     # no holder, no roles
    assert "current" in public


def test_a_definition_with_a_self_loop_and_two_separate_parts_still_draws() -> None:
    definition = {"key": "odd", "title": "Odd", "initial": "a",
                  "states": [{"name": n, "title": n.upper()} for n in "abcd"],
                  "transitions": [{"trigger": "stay", "source": "a", "dest": "a", "roles": ["clerk"]},
                                  {"trigger": "go", "source": "a", "dest": "b", "roles": ["clerk"]},
                                  {"trigger": "other", "source": "c", "dest": "d", "roles": ["clerk"]}]}
    root = ET.fromstring(render_svg(definition, "en", Progress(current="a")))
    assert {g.get("data-state") for g in root.iter(f"{SVG}g") if g.get("data-state")} == set("abcd")
    assert any("loop" in (g.get("class") or "") for g in root.iter(f"{SVG}g"))
