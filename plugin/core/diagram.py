"""A workflow definition drawn as SVG: states, transitions with their titles and roles, deadlines.

Pure: the layout is grandalf's Sugiyama (layered) layout, the drawing plain SVG text with inline
styles (it renders as an `<img>`, inline, or on its own). Every text that comes from a definition
(titles an admin wrote, names) is escaped, so a title such as `<script>` is shown, never run.
A record's progress is drawn on top: the states it passed, the one it is in and who holds it.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import SugiyamaLayout

from counterflow.core.i18n import message, text

WORDS = {
    "deadline": {"zh-CN": "时限 {n} 个工作日", "en": "{n} working days"},
    "paused": {"zh-CN": "计时暂停", "en": "clock paused"},
    "holder": {"zh-CN": "经办：{who}", "en": "held by {who}"},
    "here": {"zh-CN": "当前", "en": "now here"},
}
ROLE_TITLES = {
    "admin": {"zh-CN": "管理员", "en": "admin"},
    "clerk": {"zh-CN": "窗口人员", "en": "clerk"},
    "reviewer": {"zh-CN": "审核人员", "en": "reviewer"},
    "dept_head": {"zh-CN": "部门负责人", "en": "department head"},
    "manager": {"zh-CN": "管理层", "en": "manager"},
    "archivist": {"zh-CN": "档案管理员", "en": "archivist"},
    "supervisor": {"zh-CN": "监督人员", "en": "supervisor"},
    "auditor": {"zh-CN": "审计人员", "en": "auditor"},
}
# characters XML 1.0 cannot hold at all: dropped before escaping (the SVG must stay well-formed)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MAX_LABEL = 60                 # characters of one label line; longer titles are cut with an ellipsis
FONT = 13
LINE = 17
PAD_X, PAD_Y = 14, 8
GAP_X, GAP_Y = 40, 70          # between states of one layer, between layers
MARGIN = 20

COLOURS = {"fill": "#ffffff", "stroke": "#44546a", "passed": "#e3f1e6", "passed_stroke": "#2e7d32",
           "current": "#fff3cd", "current_stroke": "#c25e00", "edge": "#7a8696", "walked": "#2e7d32",
           "text": "#1f2933", "muted": "#52606d"}


def esc(value: Any) -> str:
    """Text for an SVG element or attribute: control characters dropped, markup and quotes escaped."""
    return html.escape(_NOT_XML.sub("", str(value)), quote=True)


def _cut(value: str) -> str:
    return value if len(value) <= MAX_LABEL else value[:MAX_LABEL - 1] + "…"


def text_width(value: str) -> float:
    """A width estimate at FONT size: wide (CJK) characters count about twice a Latin one."""
    return sum(FONT if ord(ch) > 0x2E80 else FONT * 0.58 for ch in value)


@dataclass
class _Box:
    """grandalf's view of a vertex: its size, and the centre the layout gives it."""

    w: float
    h: float
    xy: tuple[float, float] = (0.0, 0.0)


@dataclass
class _Route:
    """grandalf's view of an edge: the points the layout routes it through."""

    points: list[tuple[float, float]] = field(default_factory=list)

    def setpath(self, pts: list[Any]) -> None:
        self.points = [(float(x), float(y)) for x, y in pts]


@dataclass
class Progress:
    """Where one record stands: the states it passed, its state now, who holds it (None: not shown)."""

    passed: tuple[str, ...] = ()
    current: str | None = None
    holder: str | None = None
    walked: tuple[tuple[str, str], ...] = ()        # (source, dest) of the steps it took


def _state_lines(state: Mapping[str, Any], lang: str, progress: Progress | None) -> list[tuple[str, str]]:
    """The lines of a state's box: (text, kind)."""
    lines = [(_cut(text(state.get("title"), lang) or state["name"]), "title")]
    deadline = state.get("deadline")
    if isinstance(deadline, Mapping) and deadline.get("working_days"):
        lines.append((message(WORDS, "deadline", lang, n=deadline["working_days"]), "sub"))
    if state.get("clock") == "paused":
        lines.append((message(WORDS, "paused", lang), "sub"))
    if progress is not None and progress.current == state["name"]:
        here = message(WORDS, "holder", lang, who=progress.holder) if progress.holder else \
            message(WORDS, "here", lang)
        lines.append((_cut(here), "holder"))
    return lines


def _edge_label(transitions: list[Mapping[str, Any]], lang: str, public: bool) -> list[str]:
    out = []
    for t in transitions:
        title = _cut(text(t.get("title"), lang) or t["trigger"])
        if not public and t.get("roles"):
            names = [text(ROLE_TITLES.get(r, r), lang) for r in t["roles"]]
            title = f"{title}（{'、'.join(names)}）" if lang == "zh-CN" else f"{title} ({', '.join(names)})"
        if title not in out:
            out.append(title)
    return out


def _sources(t: Mapping[str, Any]) -> list[str]:
    return list(t["source"]) if isinstance(t["source"], list) else [t["source"]]


def layout(definition: Mapping[str, Any], lang: str, progress: Progress | None = None,
           public: bool = False) -> dict[str, Any]:
    """Positions of states and routes of transitions (the drawing's geometry, before any SVG)."""
    states = [s for s in definition.get("states", []) if isinstance(s, Mapping) and "name" in s]
    lines = {s["name"]: _state_lines(s, lang, progress) for s in states}
    vertices = {}
    for s in states:
        width = max(text_width(t) for t, _ in lines[s["name"]]) + 2 * PAD_X
        vertices[s["name"]] = Vertex(s["name"])
        vertices[s["name"]].view = _Box(max(width, 80.0), len(lines[s["name"]]) * LINE + 2 * PAD_Y)
    pairs: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for t in definition.get("transitions", []):
        dests = [t["dest"]] + ([t["branch"]["dest"]] if isinstance(t.get("branch"), Mapping) else [])
        for source in _sources(t):
            for dest in dests:
                if source in vertices and dest in vertices:
                    pairs.setdefault((source, dest), []).append(t)
    edges = {}
    for (source, dest) in pairs:
        if source != dest:
            edge = Edge(vertices[source], vertices[dest])
            edge.view = _Route()
            edges[(source, dest)] = edge
    graph = Graph(list(vertices.values()), list(edges.values()))
    offset = 0.0
    for component in graph.C:
        sug = SugiyamaLayout(component)
        sug.xspace, sug.yspace = GAP_X, GAP_Y
        initial = [v for v in component.sV if v.data == definition.get("initial")]
        sug.init_all(roots=initial or None)
        sug.draw()
        xs = [v.view.xy[0] - v.view.w / 2 for v in component.sV]
        shift = offset - min(xs)
        for v in component.sV:
            v.view.xy = (v.view.xy[0] + shift, v.view.xy[1])
        for e in component.sE:
            e.view.points = [(x + shift, y) for x, y in e.view.points]
        offset = max(v.view.xy[0] + v.view.w / 2 for v in component.sV) + GAP_X * 2
    boxes = {name: v.view for name, v in vertices.items()}
    routes = {pair: e.view.points or [boxes[pair[0]].xy, boxes[pair[1]].xy] for pair, e in edges.items()}
    return {"states": states, "lines": lines, "boxes": boxes, "routes": routes,
            "labels": {pair: _edge_label(ts, lang, public) for pair, ts in pairs.items()}}


def _clip(point: tuple[float, float], toward: tuple[float, float], box: _Box) -> tuple[float, float]:
    """Where the line from the box's centre `point` toward `toward` leaves the box."""
    (x, y), (tx, ty) = point, toward
    dx, dy = tx - x, ty - y
    if dx == 0 and dy == 0:
        return point
    scale = min(box.w / 2 / abs(dx) if dx else float("inf"), box.h / 2 / abs(dy) if dy else float("inf"))
    return (x + dx * scale, y + dy * scale)


def render_svg(definition: Mapping[str, Any], lang: str, progress: Progress | None = None, *,
               public: bool = False) -> str:
    """The definition as a standalone SVG document. `progress` highlights a record's way through it;
    `public` leaves out roles and holders (the applicant's view)."""
    if public and progress is not None:
        progress = Progress(progress.passed, progress.current, None, progress.walked)
    geo = layout(definition, lang, progress, public)
    boxes: dict[str, _Box] = geo["boxes"]
    out: list[str] = []
    min_x = min_y = 0.0
    max_x = max_y = 0.0
    if boxes:
        min_x = min(b.xy[0] - b.w / 2 for b in boxes.values())
        max_x = max(b.xy[0] + b.w / 2 for b in boxes.values())
        min_y = min(b.xy[1] - b.h / 2 for b in boxes.values())
        max_y = max(b.xy[1] + b.h / 2 for b in boxes.values())
    walked = set(progress.walked) if progress else set()
    label_spots: list[tuple[float, float, float]] = []
    for (source, dest), points in geo["routes"].items():
        pts = list(points)
        pts[0] = _clip(boxes[source].xy, pts[1] if len(pts) > 1 else boxes[dest].xy, boxes[source])
        pts[-1] = _clip(boxes[dest].xy, pts[-2] if len(pts) > 1 else boxes[source].xy, boxes[dest])
        colour = COLOURS["walked"] if (source, dest) in walked else COLOURS["edge"]
        width = 2.2 if (source, dest) in walked else 1.3
        d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(f'<g class="transition{" walked" if (source, dest) in walked else ""}" '
                   f'data-source="{esc(source)}" data-dest="{esc(dest)}">'
                   f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{width}" '
                   f'marker-end="url(#cf-arrow)"/>')
        mid = len(pts) // 2
        (ax, ay), (bx, by) = pts[mid - 1] if mid else pts[0], pts[mid]
        lx, ly = (ax + bx) / 2 + 6, (ay + by) / 2
        labels = geo["labels"][(source, dest)]
        while any(abs(lx - x) < 40 and abs(ly - y) < h for x, y, h in label_spots):
            ly += LINE
        label_spots.append((lx, ly, LINE * len(labels)))
        for i, label in enumerate(labels):
            y = ly + i * LINE - (len(labels) - 1) * LINE / 2
            out.append(f'<text x="{lx:.1f}" y="{y:.1f}" font-size="{FONT - 2}" fill="{COLOURS["muted"]}" '
                       f'stroke="#ffffff" stroke-width="3" paint-order="stroke">{esc(label)}</text>')
            max_x = max(max_x, lx + text_width(label))
        out.append("</g>")
    for (source, dest), labels in geo["labels"].items():       # a transition that stays in its state
        if source != dest:
            continue
        box = boxes[source]
        x, y = box.xy[0] + box.w / 2, box.xy[1]
        out.append(f'<g class="transition loop" data-source="{esc(source)}" data-dest="{esc(dest)}">'
                   f'<path d="M{x:.1f},{y - 6:.1f} c28,-18 28,30 0,12" fill="none" '
                   f'stroke="{COLOURS["edge"]}" stroke-width="1.3" marker-end="url(#cf-arrow)"/>')
        for i, label in enumerate(labels):
            out.append(f'<text x="{x + 26:.1f}" y="{y + i * LINE:.1f}" font-size="{FONT - 2}" '
                       f'fill="{COLOURS["muted"]}">{esc(label)}</text>')
            max_x = max(max_x, x + 26 + text_width(label))
        out.append("</g>")
    passed = set(progress.passed) if progress else set()
    for state in geo["states"]:
        name = state["name"]
        box = boxes[name]
        x, y = box.xy[0] - box.w / 2, box.xy[1] - box.h / 2
        classes = ["state"]
        fill, stroke, width = COLOURS["fill"], COLOURS["stroke"], 1.3
        if name in passed:
            classes.append("passed")
            fill, stroke, width = COLOURS["passed"], COLOURS["passed_stroke"], 1.6
        if progress is not None and progress.current == name:
            classes.append("current")
            fill, stroke, width = COLOURS["current"], COLOURS["current_stroke"], 3.0
        if state.get("final"):
            classes.append("final")
        if name == definition.get("initial"):
            classes.append("initial")
        current = ' aria-current="step"' if "current" in classes else ""
        out.append(f'<g class="{" ".join(classes)}" data-state="{esc(name)}"{current}>')
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" rx="8" '
                   f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>')
        if state.get("final"):
            out.append(f'<rect x="{x + 3:.1f}" y="{y + 3:.1f}" width="{box.w - 6:.1f}" '
                       f'height="{box.h - 6:.1f}" rx="6" fill="none" stroke="{stroke}" stroke-width="0.8"/>')
        for i, (line, kind) in enumerate(geo["lines"][name]):
            size = FONT if kind == "title" else FONT - 2
            weight = ' font-weight="bold"' if kind in ("title", "holder") and "current" in classes else ""
            colour = COLOURS["text"] if kind == "title" else COLOURS["muted"]
            out.append(f'<text x="{box.xy[0]:.1f}" y="{y + PAD_Y + (i + 0.8) * LINE:.1f}" '
                       f'text-anchor="middle" font-size="{size}" fill="{colour}"{weight} class="{kind}">'
                       f'{esc(line)}</text>')
        out.append("</g>")
    width = max_x - min_x + 2 * MARGIN
    height = max_y - min_y + 2 * MARGIN
    title = text(definition.get("title"), lang) or str(definition.get("key", ""))
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="cf-diagram" role="img" '
            f'viewBox="{min_x - MARGIN:.1f} {min_y - MARGIN:.1f} {width:.1f} {height:.1f}" '
            f'width="{width:.0f}" height="{height:.0f}" '
            f'font-family="system-ui, \'Noto Sans CJK SC\', \'Microsoft YaHei\', sans-serif">'
            f'<title>{esc(title)}</title>'
            f'<defs><marker id="cf-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" '
            f'markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{COLOURS["edge"]}"/></marker></defs>')
    return head + "".join(out) + "</svg>"


def progress_of(events: Iterable[Mapping[str, Any]], process: str, current: str,
                holder: str | None = None) -> Progress:
    """A record's progress in `process` from its history: the states it left and the steps it took."""
    passed: list[str] = []
    walked: list[tuple[str, str]] = []
    for e in events:
        if e.get("outcome", "done") != "done" or e.get("process") != process:
            continue
        source, dest = e.get("source") or "", e.get("dest") or ""
        if source and source not in passed:
            passed.append(source)
        if source and dest and (source, dest) not in walked:
            walked.append((source, dest))
    return Progress(tuple(p for p in passed if p != current), current, holder, tuple(walked))
