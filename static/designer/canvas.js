// The designer's canvas: states and transitions drawn as SVG from the definition and a layout the server
// computed (core/diagram.py). Every state and transition is a focusable button: click, Enter or Space
// selects it (or, while connecting, picks it as source or destination). Text is set with textContent only.
import {sourcesOf} from "./model.js";

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

function textOf(value, lang) {
  if (typeof value === "string") return value;
  if (value && typeof value === "object") return value[lang] || value["zh-CN"] || value.en || "";
  return "";
}

function clip(c, toward, box) {
  const dx = toward[0] - c[0];
  const dy = toward[1] - c[1];
  if (!dx && !dy) return c;
  const scale = Math.min(dx ? box.w / 2 / Math.abs(dx) : Infinity, dy ? box.h / 2 / Math.abs(dy) : Infinity);
  return [c[0] + dx * scale, c[1] + dy * scale];
}

/** Boxes for every state: the server's layout, else a place in a row for states it has not seen yet. */
function boxesFor(def, layout) {
  const boxes = {};
  let x = 80;
  let maxY = 40;
  for (const b of Object.values((layout && layout.states) || {})) maxY = Math.max(maxY, b.y + b.h);
  for (const s of def.states || []) {
    const known = layout && layout.states && layout.states[s.name];
    if (known) {
      boxes[s.name] = known;
    } else {
      boxes[s.name] = {x, y: maxY + 60, w: 120, h: 44};
      x += 150;
    }
  }
  return boxes;
}

/**
 * Draw the definition into `svg`.
 * opts: {lang, selected: {kind, index}, connectFrom, bad: {states:Set, transitions:Set}, missing and
 *        missingTransitions: Sets of indexes with a missing translation, words, onPick(kind, index),
 *        onDelete(kind, index) (the Delete key; absent when read only)}
 */
export function draw(svg, def, layout, opts) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const defs = el("defs", {}, svg);
  const marker = el("marker", {id: "cf-ds-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 9,
                               markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse"}, defs);
  el("path", {d: "M0,0 L10,5 L0,10 z", class: "cf-ds-arrowhead"}, marker);
  const boxes = boxesFor(def, layout);
  let minX = Infinity; let minY = Infinity; let maxX = -Infinity; let maxY = -Infinity;
  for (const b of Object.values(boxes)) {
    minX = Math.min(minX, b.x - b.w / 2); maxX = Math.max(maxX, b.x + b.w / 2);
    minY = Math.min(minY, b.y - b.h / 2); maxY = Math.max(maxY, b.y + b.h / 2);
  }
  if (!Number.isFinite(minX)) { minX = 0; minY = 0; maxX = 400; maxY = 120; }
  const routes = {};
  for (const r of (layout && layout.routes) || []) routes[`${r.source}\u0000${r.dest}`] = r.points;
  const edges = el("g", {class: "cf-ds-edges"}, svg);
  const pairCount = {};
  (def.transitions || []).forEach((t, index) => {
    const selected = opts.selected && opts.selected.kind === "transition" && opts.selected.index === index;
    const group = el("g", {class: "cf-ds-transition" + (selected ? " cf-ds-selected" : "") +
                           (opts.bad.transitions.has(index) ? " cf-ds-bad" : ""),
                           "data-transition": index, "data-trigger": t.trigger || "", tabindex: 0,
                           role: "button"}, edges);
    const label = (textOf(t.title, opts.lang) || t.trigger || "?") + (opts.missingTransitions.has(index) ? " *" : "") +
      (opts.bad.transitions.has(index) ? " ⚠" : "");
    group.setAttribute("aria-label", `${opts.words.transition}: ${label}`);
    if (selected) group.setAttribute("aria-pressed", "true");
    for (const source of sourcesOf(t)) {
      const a = boxes[source];
      const b = boxes[t.dest];
      if (!a || !b) continue;
      const pair = `${source}\u0000${t.dest}`;
      const nth = pairCount[pair] = (pairCount[pair] || 0) + 1;
      let d;
      let lx; let ly;
      if (source === t.dest) {
        const x = a.x + a.w / 2; const y = a.y;
        d = `M${x},${y - 6} c${28 + nth * 8},-18 ${28 + nth * 8},30 0,12`;
        lx = x + 30 + nth * 8; ly = y + (nth - 1) * 16;
      } else {
        const pts = (routes[pair] || [[a.x, a.y], [b.x, b.y]]).map((p) => p.slice());
        pts[0] = clip([a.x, a.y], pts[1] || [b.x, b.y], a);
        pts[pts.length - 1] = clip([b.x, b.y], pts[pts.length - 2] || [a.x, a.y], b);
        d = "M" + pts.map((p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join(" L");
        const mid = Math.floor(pts.length / 2);
        const p = pts[mid - 1] || pts[0]; const q = pts[mid];
        lx = (p[0] + q[0]) / 2 + 6; ly = (p[1] + q[1]) / 2 + (nth - 1) * 16;
      }
      el("path", {d, class: "cf-ds-edge-hit"}, group);
      el("path", {d, class: "cf-ds-edge", "marker-end": "url(#cf-ds-arrow)"}, group);
      const tx = el("text", {x: lx, y: ly, class: "cf-ds-edge-label"}, group);
      tx.textContent = label;
      maxX = Math.max(maxX, lx + label.length * 13);
    }
    hook(group, "transition", index, opts);
  });
  const nodes = el("g", {class: "cf-ds-states"}, svg);
  (def.states || []).forEach((s, index) => {
    const b = boxes[s.name];
    if (!b) return;
    const selected = opts.selected && opts.selected.kind === "state" && opts.selected.index === index;
    const classes = ["cf-ds-state"];
    if (selected) classes.push("cf-ds-selected");
    if (opts.connectFrom === index) classes.push("cf-ds-source");
    if (opts.bad.states.has(index)) classes.push("cf-ds-bad");
    if (s.final) classes.push("cf-ds-final");
    if (s.name === def.initial) classes.push("cf-ds-initial");
    if (s.approval) classes.push("cf-ds-approval");
    const group = el("g", {class: classes.join(" "), "data-state": s.name, "data-index": index, tabindex: 0,
                           role: "button"}, nodes);
    const title = textOf(s.title, opts.lang) || s.name;
    group.setAttribute("aria-label", `${opts.words.state}: ${title} (${s.name})`);
    if (selected) group.setAttribute("aria-pressed", "true");
    el("rect", {x: b.x - b.w / 2, y: b.y - b.h / 2, width: b.w, height: b.h, rx: 8}, group);
    if (s.final) el("rect", {x: b.x - b.w / 2 + 3, y: b.y - b.h / 2 + 3, width: b.w - 6, height: b.h - 6, rx: 6,
                             class: "cf-ds-inner"}, group);
    const t1 = el("text", {x: b.x, y: b.y - 2, "text-anchor": "middle", class: "cf-ds-title"}, group);
    t1.textContent = title + (opts.missing.has(index) ? " *" : "");
    const marks = [];
    if (s.name === def.initial) marks.push("▶");
    if (s.approval) marks.push(opts.words.modes[s.approval.mode] || s.approval.mode || "");
    if (opts.bad.states.has(index)) marks.push("⚠");
    const t2 = el("text", {x: b.x, y: b.y + 13, "text-anchor": "middle", class: "cf-ds-sub"}, group);
    t2.textContent = [s.name, ...marks].join(" · ");
    hook(group, "state", index, opts);
  });
  const pad = 30;
  svg.setAttribute("viewBox", `${minX - pad} ${minY - pad} ${maxX - minX + 2 * pad} ${maxY - minY + 2 * pad}`);
  const scale = 1.25;                       // a little larger than the server's drawing: easier to hit
  svg.setAttribute("width", Math.max(320, (maxX - minX + 2 * pad) * scale));
  svg.setAttribute("height", Math.max(160, (maxY - minY + 2 * pad) * scale));
}

function hook(group, kind, index, opts) {
  group.addEventListener("click", (event) => { event.stopPropagation(); opts.onPick(kind, index); });
  group.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      opts.onPick(kind, index);
    } else if (event.key === "Escape") {
      opts.onPick("none", -1);
    } else if (event.key === "Delete" && opts.onDelete) {
      event.preventDefault();
      opts.onDelete(kind, index);
    }
  });
}
