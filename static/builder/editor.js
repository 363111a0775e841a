// The form builder's editors: the palette, the field tree (drag and drop, buttons and keys), the field
// editor and the form's own title and settings. Everything is built with DOM calls and textContent:
// no admin-written text ever goes through innerHTML.
import { KINDS, clone, constChoices, isObject, nameProblem, slug } from "./model.js";

const LANGS = ["zh-CN", "en"];

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
}

const pathKey = (path) => JSON.stringify(path);
const same = (a, b) => a && b && pathKey(a) === pathKey(b);

/** A label/help value in one language: `title` is the Chinese one, `x-title-en` the English one. */
const LABEL_KEYS = { label: { "zh-CN": "title", en: "x-title-en" }, help: { "zh-CN": "description", en: "x-description-en" } };

export class Editor {
  constructor({ model, data, t, logic, settings, onChange, tree, field, form, palette }) {
    Object.assign(this, { model, data, t, logic, settings, onChange });
    this.treeRoot = tree;
    this.fieldRoot = field;
    this.formRoot = form;
    this.paletteRoot = palette;
    this.selected = null;
    this.fresh = new Set(); // fields added here whose key still follows the English label
    this.problems = new Map(); // pathKey -> [message]
    this.missing = new Map(); // pathKey -> [{what, lang}]
    this.sortables = [];
    this.renderPalette();
  }

  lang() {
    return this.data.lang;
  }

  text(value) {
    if (isObject(value)) return value[this.lang()] || value["zh-CN"] || value.en || "";
    return value === undefined || value === null ? "" : String(value);
  }

  changed(structure = false) {
    this.onChange();
    this.refreshMarkers();
    if (structure) this.renderTree();
  }

  // ---- palette -------------------------------------------------------------------------------------------

  renderPalette() {
    const list = el("ul", { className: "cf-b-palette-list" });
    for (const { kind } of KINDS) {
      list.append(el("li", {}, el("button", {
        type: "button", className: "cf-button cf-button--secondary cf-b-add", dataset: { kind },
        text: this.t(`kind_${kind}`), onclick: () => this.addField(kind),
      })));
    }
    this.paletteRoot.replaceChildren(el("h3", { text: this.t("palette") }), el("p", { className: "cf-help", text: this.t("palette_help") }), list);
  }

  addField(kind) {
    let parent = [];
    let index = this.model.children([]).length;
    if (this.selected && this.model.schema(this.selected) !== undefined) {
      if (this.model.isContainer(this.selected)) {
        parent = this.selected;
        index = this.model.children(parent).length;
      } else {
        parent = this.selected.slice(0, -1);
        index = this.model.children(parent).indexOf(this.selected.at(-1)) + 1;
      }
    }
    const path = this.model.add(parent, index, kind, `field_${this.model.walk().length + 1}`);
    this.fresh.add(pathKey(path));
    this.select(path, false);
    this.changed(true);
    const first = this.fieldRoot.querySelector("#cf-b-title-zh");
    if (first) first.focus();
  }

  // ---- tree ----------------------------------------------------------------------------------------------

  renderTree() {
    const focused = document.activeElement && this.treeRoot.contains(document.activeElement)
      ? { path: document.activeElement.closest("[data-path]")?.dataset.path, cls: [...document.activeElement.classList].find((c) => c.startsWith("cf-b-")) }
      : null;
    for (const s of this.sortables) s.destroy();
    this.sortables = [];
    const top = this.list([]);
    this.treeRoot.replaceChildren(top);
    if (!this.model.children([]).length) this.treeRoot.append(el("p", { className: "cf-help cf-b-empty", text: this.t("empty_form") }));
    if (focused && focused.path) {
      const item = this.treeRoot.querySelector(`li[data-path="${CSS.escape(focused.path)}"]`);
      const target = item && (item.querySelector(`:scope > .cf-b-row .${focused.cls}`) || item.querySelector(":scope > .cf-b-row .cf-b-select"));
      if (target) target.focus();
    }
    this.refreshMarkers();
  }

  list(parent) {
    const ol = el("ol", { className: "cf-b-list", dataset: { parent: pathKey(parent) } });
    for (const name of this.model.children(parent)) ol.append(this.item([...parent, name]));
    const Sortable = globalThis.Sortable;
    if (Sortable) {
      this.sortables.push(new Sortable(ol, {
        group: "cf-fields", handle: ".cf-b-handle", animation: 0, forceFallback: true, fallbackOnBody: true,
        swapThreshold: 0.6, ghostClass: "cf-b-sortable-ghost",
        onEnd: (evt) => {
          const path = JSON.parse(evt.item.dataset.path);
          const to = JSON.parse(evt.to.dataset.parent);
          if (evt.from === evt.to && evt.oldIndex === evt.newIndex) return;
          setTimeout(() => this.moveTo(path, to, evt.newIndex), 0); // after Sortable has tidied up its drag
        },
      }));
    }
    return ol;
  }

  item(path) {
    const kind = this.model.kind(path);
    const schema = this.model.schema(path) || {};
    const key = pathKey(path);
    const label = this.labelOf(path);
    const name = path.at(-1);
    const tool = (cls, textKey, action, symbol) => el("button", {
      type: "button", className: `cf-b-tool ${cls}`, "aria-label": `${this.t(textKey)}: ${label}`, title: this.t(textKey),
      text: symbol, onclick: action,
    });
    const select = el("button", {
      type: "button", className: "cf-b-select", "aria-pressed": same(path, this.selected) ? "true" : "false",
      "aria-keyshortcuts": "Alt+ArrowUp Alt+ArrowDown Alt+ArrowRight Alt+ArrowLeft Delete",
      onclick: () => this.select(path), onkeydown: (e) => this.treeKey(e, path),
    },
    el("span", { className: "cf-b-label", text: label }), " ",
    el("code", { className: "cf-b-key", text: name }), " ",
    el("span", { className: "cf-b-kind", text: this.t(`kind_${kind}`) }),
    this.model.required(path) ? el("span", { className: "cf-b-badge cf-b-required", text: this.t("required_short") }) : null,
    schema["x-sensitive"] ? el("span", { className: "cf-b-badge cf-b-sensitive", text: this.t("sensitive_short") }) : null,
    schema["x-material"] ? el("span", { className: "cf-b-badge cf-b-material", text: this.t("material_short") }) : null,
    schema["x-show-if"] ? el("span", { className: "cf-b-badge cf-b-conditional", text: this.t("conditional_short") }) : null,
    el("span", { className: "cf-b-badge cf-b-missing", hidden: true }),
    el("span", { className: "cf-b-badge cf-b-problem", hidden: true }));
    const row = el("div", { className: "cf-b-row" },
      el("span", { className: "cf-b-handle", "aria-hidden": "true", title: this.t("drag"), text: "⠿" }),
      select,
      el("span", { className: "cf-b-tools" },
        tool("cf-b-up", "move_up", () => this.step(path, -1), "↑"),
        tool("cf-b-down", "move_down", () => this.step(path, 1), "↓"),
        tool("cf-b-in", "move_in", () => this.indent(path), "→"),
        tool("cf-b-out", "move_out", () => this.outdent(path), "←"),
        tool("cf-b-duplicate", "duplicate", () => this.duplicate(path), "⊕"),
        tool("cf-b-remove", "remove", () => this.remove(path), "✕")));
    const li = el("li", { className: `cf-b-item${same(path, this.selected) ? " cf-b-item--selected" : ""}`, dataset: { path: key, kind } }, row);
    if (kind === "section" || kind === "group") {
      li.append(el("p", { className: "cf-help cf-b-nest-help", text: this.t(kind === "group" ? "group_help" : "section_help") }));
      li.append(this.list(path));
    }
    return li;
  }

  labelOf(path) {
    const schema = this.model.schema(path) || {};
    const en = this.lang() === "en" && schema["x-title-en"];
    return String(en || this.text(schema.title) || path.at(-1));
  }

  treeKey(event, path) {
    const keys = { ArrowUp: () => this.step(path, -1), ArrowDown: () => this.step(path, 1),
      ArrowRight: () => this.indent(path), ArrowLeft: () => this.outdent(path) };
    if (event.altKey && keys[event.key]) {
      event.preventDefault();
      keys[event.key]();
    } else if (event.key === "Delete") {
      event.preventDefault();
      this.remove(path);
    } else if (!event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      const all = [...this.treeRoot.querySelectorAll(".cf-b-select")];
      const at = all.indexOf(event.currentTarget);
      const next = all[at + (event.key === "ArrowUp" ? -1 : 1)];
      if (next) { event.preventDefault(); next.focus(); }
    }
  }

  focusItem(path) {
    const item = this.treeRoot.querySelector(`li[data-path="${CSS.escape(pathKey(path))}"] > .cf-b-row .cf-b-select`);
    if (item) item.focus();
  }

  moveTo(path, parent, index) {
    const moved = this.model.move(path, parent, index);
    if (same(this.selected, path)) this.selected = moved;
    this.renameFresh(path, moved);
    this.changed(true);
    this.focusItem(moved);
    this.announce(this.t("moved"));
  }

  step(path, delta) {
    const parent = path.slice(0, -1);
    const names = this.model.children(parent);
    const at = names.indexOf(path.at(-1));
    const to = at + delta;
    if (to < 0 || to >= names.length) return;
    this.moveTo(path, parent, to);
  }

  indent(path) {
    const parent = path.slice(0, -1);
    const names = this.model.children(parent);
    const before = names.slice(0, names.indexOf(path.at(-1))).reverse().find((n) => this.model.isContainer([...parent, n]));
    if (!before) return;
    const into = [...parent, before];
    this.moveTo(path, into, this.model.children(into).length);
  }

  outdent(path) {
    if (path.length < 2) return;
    const parent = path.slice(0, -1);
    const grand = parent.slice(0, -1);
    this.moveTo(path, grand, this.model.children(grand).indexOf(parent.at(-1)) + 1);
  }

  duplicate(path) {
    const copy = this.model.duplicate(path);
    this.select(copy, false);
    this.changed(true);
    this.focusItem(copy);
  }

  remove(path) {
    const parent = path.slice(0, -1);
    const names = this.model.children(parent);
    const at = names.indexOf(path.at(-1));
    const before = JSON.stringify(this.model.def);
    const label = this.labelOf(path);
    const naming = this.model.conditionsNaming(path);    // conditions elsewhere that would be left naming nothing
    this.model.remove(path);
    if (this.onRemoved) this.onRemoved(before, label, naming);
    if (this.selected && pathKey(this.selected).startsWith(pathKey(path).slice(0, -1))) this.select(null, false);
    this.changed(true);
    const rest = this.model.children(parent);
    if (rest.length) this.focusItem([...parent, rest[Math.min(at, rest.length - 1)]]);
    this.announce(this.t("removed"));
  }

  renameFresh(from, to) {
    if (this.fresh.delete(pathKey(from))) this.fresh.add(pathKey(to));
  }

  announce(message) {
    const live = document.getElementById("cf-b-live");
    if (live) live.textContent = message;
  }

  select(path, render = true) {
    this.selected = path;
    for (const li of this.treeRoot.querySelectorAll("li.cf-b-item")) {
      const on = path && li.dataset.path === pathKey(path);
      li.classList.toggle("cf-b-item--selected", !!on);
      li.querySelector(":scope > .cf-b-row .cf-b-select").setAttribute("aria-pressed", on ? "true" : "false");
    }
    this.renderField();
    if (render) {
      const heading = this.fieldRoot.querySelector("h3");
      if (heading) heading.scrollIntoView({ block: "nearest" });
    }
  }

  // ---- markers -------------------------------------------------------------------------------------------

  setProblems(byPath) {
    this.problems = byPath;
    this.refreshMarkers();
  }

  refreshMarkers() {
    this.missing = new Map();
    for (const m of this.model.missingTranslations()) {
      const key = m.path ? pathKey(m.path) : "form";
      if (!this.missing.has(key)) this.missing.set(key, []);
      this.missing.get(key).push(m);
    }
    for (const li of this.treeRoot.querySelectorAll("li.cf-b-item")) {
      const row = li.querySelector(":scope > .cf-b-row");
      const missing = this.missing.get(li.dataset.path) || [];
      const badge = row.querySelector(".cf-b-missing");
      badge.hidden = !missing.length;
      badge.textContent = missing.length ? this.t("missing_short").replace("{n}", missing.length) : "";
      badge.title = missing.map((m) => `${this.t(`what_${m.what}`)} (${m.lang})`).join(", ");
      const problems = this.problems.get(li.dataset.path) || [];
      const mark = row.querySelector(".cf-b-problem");
      mark.hidden = !problems.length;
      mark.textContent = problems.length ? this.t("problem_short").replace("{n}", problems.length) : "";
      mark.title = problems.join("\n");
      li.classList.toggle("cf-b-item--problem", problems.length > 0);
    }
    for (const input of document.querySelectorAll("[data-cf-missing]")) {
      const [key, what, lang] = JSON.parse(input.dataset.cfMissing);
      const on = (this.missing.get(key) || []).some((m) => m.what === what && m.lang === lang);
      input.classList.toggle("cf-b-input--missing", on);
      const note = document.getElementById(`${input.id}--missing`);
      if (note) note.hidden = !on;
    }
    const list = this.fieldRoot.querySelector(".cf-b-field-problems");
    if (list && this.selected) {
      const problems = this.problems.get(pathKey(this.selected)) || [];
      list.replaceChildren(...problems.map((p) => el("li", { text: p })));
      list.hidden = !problems.length;
    }
  }

  // ---- the field editor ----------------------------------------------------------------------------------

  input(id, label, value, onInput, attrs = {}, missing = null) {
    const input = el("input", { id, className: "cf-input", value: value ?? "", ...attrs });
    if (attrs.type === "checkbox") {
      input.checked = !!value;
      input.addEventListener("change", () => onInput(input.checked, input));
      return el("div", { className: "cf-field cf-b-check" }, input, " ", el("label", { for: id, className: "cf-label", text: label }));
    }
    input.value = value ?? "";
    input.addEventListener("input", () => onInput(input.value, input));
    const parts = [el("label", { for: id, className: "cf-label", text: label }), input];
    if (missing) {
      input.dataset.cfMissing = JSON.stringify(missing);
      parts.push(el("p", { id: `${id}--missing`, className: "cf-b-missing-note", text: this.t("missing_translation"), hidden: true }));
      input.setAttribute("aria-describedby", `${id}--missing`);
    }
    return el("div", { className: "cf-field" }, ...parts);
  }

  textarea(id, label, value, onInput, missing = null) {
    const area = el("textarea", { id, className: "cf-input", rows: "2" });
    area.value = value ?? "";
    area.addEventListener("input", () => onInput(area.value, area));
    const parts = [el("label", { for: id, className: "cf-label", text: label }), area];
    if (missing) {
      area.dataset.cfMissing = JSON.stringify(missing);
      parts.push(el("p", { id: `${id}--missing`, className: "cf-b-missing-note", text: this.t("missing_translation"), hidden: true }));
      area.setAttribute("aria-describedby", `${id}--missing`);
    }
    return el("div", { className: "cf-field" }, ...parts);
  }

  renderField() {
    const path = this.selected;
    if (!path || this.model.schema(path) === undefined) {
      this.fieldRoot.replaceChildren(el("h3", { text: this.t("field") }), el("p", { className: "cf-help", text: this.t("pick_field") }));
      return;
    }
    const m = this.model;
    const kind = m.kind(path);
    const schema = m.schema(path);
    const ui = m.ui(path);
    const key = pathKey(path);
    const set = (k, v, structure = false) => { m.set(this.selected, k, v); this.changed(structure); };
    const parts = [el("h3", { text: `${this.t("field")}: ${this.t(`kind_${kind}`)}` })];
    parts.push(el("ul", { className: "cf-b-field-problems cf-error", hidden: true }));

    // key
    const keyError = el("p", { className: "cf-error", id: "cf-b-key--error", hidden: true });
    const keyBox = this.input("cf-b-key", this.t("key"), path.at(-1), () => {}, { autocomplete: "off", spellcheck: "false", "aria-describedby": "cf-b-key--help cf-b-key--error" });
    const keyInput = keyBox.querySelector("input");
    const applyKey = () => {
      const wanted = keyInput.value.trim();
      const problem = this.keyProblem(this.selected, wanted);
      keyError.hidden = !problem;
      keyError.textContent = problem || "";
      keyInput.setAttribute("aria-invalid", problem ? "true" : "false");
      if (problem || wanted === this.selected.at(-1)) return;
      const renamed = m.rename(this.selected, wanted);
      this.fresh.delete(pathKey(this.selected));
      this.selected = renamed;
      this.changed(true);
    };
    keyInput.addEventListener("change", applyKey);
    keyInput.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); applyKey(); } });
    keyBox.append(el("p", { className: "cf-help", id: "cf-b-key--help", text: this.t("key_help") }), keyError);
    parts.push(keyBox);

    // labels and help, both languages
    for (const lang of LANGS) {
      const suffix = lang === "en" ? "en" : "zh";
      parts.push(this.input(`cf-b-title-${suffix}`, `${this.t("label")} (${lang})`, schema[LABEL_KEYS.label[lang]], (v) => {
        m.set(this.selected, LABEL_KEYS.label[lang], v.trim() ? v : undefined);
        if (lang === "en" && this.fresh.has(pathKey(this.selected)) && slug(v)) this.followLabel(slug(v));
        this.changed();
        this.relabel();
      }, {}, [key, "label", lang]));
    }
    for (const lang of LANGS) {
      const suffix = lang === "en" ? "en" : "zh";
      parts.push(this.textarea(`cf-b-help-${suffix}`, `${this.t("help")} (${lang})`, schema[LABEL_KEYS.help[lang]], (v) => {
        m.set(this.selected, LABEL_KEYS.help[lang], v.trim() ? v : undefined);
        this.changed();
      }, [key, "help", lang]));
    }
    if (!["section", "group", "boolean", "checkboxes", "radio", "attachment", "advanced"].includes(kind)) {
      const placeholder = ui["ui:placeholder"];
      for (const lang of LANGS) {
        const suffix = lang === "en" ? "en" : "zh";
        const current = isObject(placeholder) ? placeholder[lang] : (lang === "zh-CN" ? placeholder : "");
        parts.push(this.input(`cf-b-placeholder-${suffix}`, `${this.t("placeholder")} (${lang})`, current, () => {
          const zh = document.getElementById("cf-b-placeholder-zh").value;
          const en = document.getElementById("cf-b-placeholder-en").value;
          m.setUi(this.selected, "ui:placeholder", en ? { "zh-CN": zh, en } : zh || undefined);
          this.changed();
        }));
      }
    }
    parts.push(this.input("cf-b-required", this.t("required"), m.required(path), (v) => { m.setRequired(this.selected, v); this.changed(true); }, { type: "checkbox" }));

    if (kind !== "section" && kind !== "group" && kind !== "advanced") parts.push(this.defaultEditor(kind, schema));
    if (["text", "textarea", "email", "phone", "id_number", "bank_card", "address"].includes(kind)) {
      parts.push(this.numberPair("Length", "minLength", "maxLength", schema, true));
      parts.push(this.patternEditor(schema));
    }
    if (["number", "integer", "amount"].includes(kind)) parts.push(this.numberPair("Range", "minimum", "maximum", schema, kind === "integer"));
    if (["group", "checkboxes"].includes(kind) || (kind === "attachment" && schema.type === "array")) parts.push(this.numberPair("Items", "minItems", "maxItems", schema, true));
    if (["select", "radio", "checkboxes"].includes(kind)) parts.push(this.optionsEditor(kind));
    if (schema.type === "string" && kind !== "attachment") parts.push(this.sensitiveEditor(schema));
    if (kind === "attachment") parts.push(this.materialEditor(schema));
    parts.push(this.visibleEditor(schema));
    parts.push(this.conditionBox("show_if", "x-show-if"));
    parts.push(this.conditionBox("required_if", "x-required-if"));
    if (kind === "advanced") parts.push(el("p", { className: "cf-help", text: this.t("advanced_help") }));
    this.fieldRoot.replaceChildren(...parts);
    this.refreshMarkers();
  }

  relabel() {
    const li = this.treeRoot.querySelector(`li[data-path="${CSS.escape(pathKey(this.selected))}"] > .cf-b-row .cf-b-label`);
    if (li) li.textContent = this.labelOf(this.selected);
  }

  followLabel(wanted) {
    const name = this.model.uniqueName(this.selected.slice(0, -1), wanted);
    if (this.selected.at(-1) === name || wanted === this.selected.at(-1)) return;
    const old = this.selected;
    this.selected = this.model.rename(old, name);
    this.renameFresh(old, this.selected);
    const keyInput = document.getElementById("cf-b-key");
    if (keyInput) keyInput.value = name;
    this.renderTree();
  }

  keyProblem(path, wanted) {
    const problem = nameProblem(wanted);
    if (problem) return this.t(`key_${problem}`);
    const holder = this.model.holder(path.slice(0, -1));
    if (wanted !== path.at(-1) && holder && Object.hasOwn(holder.properties, wanted)) return this.t("key_taken");
    return null;
  }

  numberPair(label, low, high, schema, integer) {
    const box = el("fieldset", { className: "cf-b-pair" }, el("legend", { text: this.t(`limits_${label.toLowerCase()}`) }));
    for (const [k, id] of [[low, `cf-b-${low}`], [high, `cf-b-${high}`]]) {
      box.append(this.input(id, this.t(k), schema[k], (v, input) => {
        const n = Number(v);
        const ok = v.trim() === "" || (Number.isFinite(n) && (!integer || Number.isInteger(n)) && (!k.endsWith("Length") && !k.endsWith("Items") || n >= 0));
        input.setAttribute("aria-invalid", ok ? "false" : "true");
        if (!ok) return;
        this.model.set(this.selected, k, v.trim() === "" ? undefined : n);
        this.changed();
      }, { type: "number", step: integer ? "1" : "any", inputmode: "decimal" }));
    }
    return box;
  }

  defaultEditor(kind, schema) {
    const id = "cf-b-default";
    const current = schema.default;
    const choicesOf = kind === "checkboxes" ? schema.items : schema;
    if (kind === "boolean" || (isObject(choicesOf) && Array.isArray(choicesOf.enum) && kind !== "checkboxes")) {
      const select = el("select", { id, className: "cf-input" }, el("option", { value: "", text: this.t("no_default") }));
      const values = kind === "boolean" ? [true, false] : choicesOf.enum;
      values.forEach((v, i) => {
        const label = kind === "boolean" ? this.t(v ? "yes" : "no") : this.optionLabel(choicesOf, i);
        const option = el("option", { value: String(i), text: label });
        if (current !== undefined && JSON.stringify(current) === JSON.stringify(v)) option.selected = true;
        select.append(option);
      });
      select.addEventListener("change", () => {
        this.model.set(this.selected, "default", select.value === "" ? undefined : clone(values[Number(select.value)]));
        this.changed();
      });
      return el("div", { className: "cf-field" }, el("label", { for: id, className: "cf-label", text: this.t("default") }), select);
    }
    if (kind === "checkboxes" || kind === "attachment") return el("span");
    const numeric = ["number", "integer", "amount"].includes(kind);
    return this.input(id, this.t("default"), current === undefined ? "" : String(current), (v, input) => {
      if (numeric) {
        const n = Number(v);
        const ok = v.trim() === "" || Number.isFinite(n);
        input.setAttribute("aria-invalid", ok ? "false" : "true");
        if (!ok) return;
        this.model.set(this.selected, "default", v.trim() === "" ? undefined : n);
      } else {
        this.model.set(this.selected, "default", v === "" ? undefined : v);
      }
      this.changed();
    }, numeric ? { type: "number", step: "any" } : { type: kind === "date" ? "date" : "text" });
  }

  optionLabel(schema, i) {
    const titles = isObject(schema["x-enum-titles"]) ? schema["x-enum-titles"] : {};
    const list = titles[this.lang()] || titles["zh-CN"] || titles.en;
    return Array.isArray(list) && list[i] !== undefined ? String(list[i]) : JSON.stringify(schema.enum[i]);
  }

  patternEditor(schema) {
    const result = el("p", { className: "cf-help cf-b-pattern-result", id: "cf-b-pattern-result", role: "status" });
    const test = () => {
      const pattern = document.getElementById("cf-b-pattern").value;
      const sample = document.getElementById("cf-b-pattern-test").value;
      if (!pattern) { result.textContent = ""; return; }
      let re;
      try { re = new RegExp(pattern, "u"); } catch (err) {
        result.textContent = `${this.t("pattern_invalid")}: ${err.message}`;
        result.dataset.result = "invalid";
        return;
      }
      if (!sample) { result.textContent = ""; delete result.dataset.result; return; }
      const ok = re.test(sample);
      result.textContent = this.t(ok ? "pattern_matches" : "pattern_no_match");
      result.dataset.result = ok ? "match" : "no-match";
    };
    const box = el("fieldset", { className: "cf-b-pattern" }, el("legend", { text: this.t("pattern") }),
      this.input("cf-b-pattern", this.t("pattern_rule"), schema.pattern, (v) => {
        let valid = true;
        try { new RegExp(v, "u"); } catch { valid = false; }
        if (valid || !v) { this.model.set(this.selected, "pattern", v || undefined); this.changed(); }
        test();
      }, { spellcheck: "false", autocomplete: "off" }),
      this.input("cf-b-pattern-test", this.t("pattern_try"), "", test, { autocomplete: "off" }),
      result);
    return box;
  }

  /** Where a choice field keeps its options, edited in that shape (never converted): "enum" (+ x-enum-titles),
   * "enumNames" (enum + react-jsonschema-form's ui:enumNames, one label each), "oneOf"/"anyOf" ([{const,
   * title, x-title-en}]); null when the builder cannot edit them (the JSON tab can). */
  optionsShape(kind) {
    const holder = kind === "checkboxes" ? this.model.schema(this.selected).items : this.model.schema(this.selected);
    if (!isObject(holder)) return null;
    if (Array.isArray(holder.enum)) return !isObject(holder["x-enum-titles"]) && this.enumNames(kind) ? "enumNames" : "enum";
    return constChoices(holder);
  }

  /** The ui object holding ui:enumNames for the selected field (on the field, or on its items), or null. */
  enumNames(kind) {
    const names = (ui) => isObject(ui) && (Array.isArray(ui["ui:enumNames"]) || isObject(ui["ui:enumNames"]));
    const ui = this.model.ui(this.selected);
    if (names(ui)) return ui;
    if (kind === "checkboxes" && names(ui.items)) return ui.items;
    return null;
  }

  optionsEditor(kind) {
    const box = el("fieldset", { className: "cf-b-options", id: "cf-b-options" }, el("legend", { text: this.t("options") }));
    const target = () => (kind === "checkboxes" ? this.model.schema(this.selected).items : this.model.schema(this.selected));
    const shape = this.optionsShape(kind);
    if (!shape) {
      box.append(el("p", { className: "cf-help", text: this.t("advanced_help") }));
      return box;
    }
    box.dataset.shape = shape;
    const rows = el("ol", { className: "cf-b-option-list" });
    // every shape is read as parallel lists: values, zh labels, en labels (null: the shape has none), the
    // choice objects themselves (oneOf/anyOf: their other keywords are kept), and written back in that shape
    const write = (values, zh, en, items) => {
      const schema = target();
      if (shape === "enum") {
        schema.enum = values;
        schema["x-enum-titles"] = { "zh-CN": zh, en };
      } else if (shape === "enumNames") {
        schema.enum = values;
        const ui = this.enumNames(kind);
        // a list stays a list; a map {value: label} (newer react-jsonschema-form) stays a map
        ui["ui:enumNames"] = Array.isArray(ui["ui:enumNames"]) ? zh
          : Object.fromEntries(values.map((v, i) => [String(v), zh[i]]));
      } else {
        schema[shape] = values.map((value, i) => {
          const choice = { ...(items[i] || {}), const: value };
          if (zh[i]) choice.title = zh[i]; else delete choice.title;
          if (en[i]) choice["x-title-en"] = en[i]; else delete choice["x-title-en"];
          return choice;
        });
      }
      this.changed();
    };
    const read = () => {
      const schema = target();
      const pad = (list, n) => Array.from({ length: n }, (_, i) => (Array.isArray(list) && list[i] !== undefined ? String(list[i]) : ""));
      if (shape === "enum") {
        const titles = isObject(schema["x-enum-titles"]) ? schema["x-enum-titles"] : {};
        const n = schema.enum.length;
        return { values: [...schema.enum], zh: pad(titles["zh-CN"], n), en: pad(titles.en, n), items: Array(n).fill(null) };
      }
      if (shape === "enumNames") {
        const n = schema.enum.length;
        const names = this.enumNames(kind)["ui:enumNames"];
        const zh = Array.isArray(names) ? pad(names, n)
          : schema.enum.map((v) => (Object.hasOwn(names, String(v)) ? String(names[String(v)]) : ""));
        return { values: [...schema.enum], zh, en: null, items: Array(n).fill(null) };
      }
      const list = schema[shape];
      return { values: list.map((c) => c.const), zh: list.map((c) => String(c.title ?? "")),
        en: list.map((c) => String(c["x-title-en"] ?? "")), items: list.map((c) => ({ ...c })) };
    };
    const lists = (cur) => [cur.values, cur.zh, ...(cur.en ? [cur.en] : []), cur.items];
    const save = (cur) => write(cur.values, cur.zh, cur.en, cur.items);
    const draw = () => {
      const { values, zh, en } = read();
      rows.replaceChildren();
      values.forEach((value, i) => {
        const n = i + 1;
        const cell = (id, label, v, onInput, missing) => this.input(id, label, v, onInput, {}, missing);
        const keyOf = [pathKey(this.selected), "options", null];
        const zhLabel = en ? `${this.t("option_label")} ${n} (zh-CN)` : `${this.t("option_label")} ${n}`;
        rows.append(el("li", { className: "cf-b-option", dataset: { index: String(i) } },
          cell(`cf-b-option-${i}-value`, `${this.t("option_value")} ${n}`, typeof value === "string" ? value : JSON.stringify(value), (v) => {
            const cur = read();
            cur.values[i] = typeof value === "string" ? v : (() => { try { return JSON.parse(v); } catch { return v; } })();
            save(cur);
          }),
          cell(`cf-b-option-${i}-zh`, zhLabel, zh[i], (v) => {
            const cur = read(); cur.zh[i] = v; save(cur);
          }, zh[i] || !en ? null : [keyOf[0], "options", "zh-CN"]),
          en ? cell(`cf-b-option-${i}-en`, `${this.t("option_label")} ${n} (en)`, en[i], (v) => {
            const cur = read(); cur.en[i] = v; save(cur);
          }, en[i] ? null : [keyOf[0], "options", "en"]) : el("span"),
          el("span", { className: "cf-b-tools" },
            el("button", { type: "button", className: "cf-b-tool", "aria-label": `${this.t("move_up")} ${n}`, text: "↑", onclick: () => swap(i, i - 1) }),
            el("button", { type: "button", className: "cf-b-tool", "aria-label": `${this.t("move_down")} ${n}`, text: "↓", onclick: () => swap(i, i + 1) }),
            el("button", { type: "button", className: "cf-b-tool cf-b-option-remove", "aria-label": `${this.t("remove")} ${n}`, text: "✕", onclick: () => drop(i) }))));
      });
    };
    const swap = (i, j) => {
      const cur = read();
      if (j < 0 || j >= cur.values.length) return;
      for (const list of lists(cur)) [list[i], list[j]] = [list[j], list[i]];
      save(cur);
      draw();
      document.getElementById(`cf-b-option-${j}-value`)?.focus();
    };
    const drop = (i) => {
      const cur = read();
      if (cur.values.length <= 1) return;
      for (const list of lists(cur)) list.splice(i, 1);
      save(cur);
      draw();
    };
    const add = el("button", { type: "button", className: "cf-button cf-button--secondary", id: "cf-b-option-add", text: this.t("option_add"), onclick: () => {
      const cur = read();
      let n = cur.values.length + 1;
      while (cur.values.includes(`option_${n}`)) n += 1;
      cur.values.push(`option_${n}`); cur.zh.push(""); if (cur.en) cur.en.push(""); cur.items.push(null);
      save(cur);
      draw();
      document.getElementById(`cf-b-option-${cur.values.length - 1}-value`)?.focus();
    } });
    draw();
    box.append(el("p", { className: "cf-help", text: this.t("options_help") }), rows, add);
    return box;
  }

  sensitiveEditor(schema) {
    const id = "cf-b-sensitive";
    const select = el("select", { id, className: "cf-input" }, el("option", { value: "", text: this.t("not_sensitive") }));
    for (const kind of this.data.sensitive_kinds) {
      const option = el("option", { value: JSON.stringify(kind.value), text: this.text(kind.title) });
      if (schema["x-sensitive"] !== undefined && JSON.stringify(schema["x-sensitive"]) === JSON.stringify(kind.value)) option.selected = true;
      select.append(option);
    }
    select.addEventListener("change", () => {
      this.model.set(this.selected, "x-sensitive", select.value ? JSON.parse(select.value) : undefined);
      this.changed(true);
    });
    return el("div", { className: "cf-field" }, el("label", { for: id, className: "cf-label", text: this.t("sensitive") }), select,
      el("p", { className: "cf-help", text: this.t("sensitive_help") }));
  }

  materialEditor(schema) {
    const material = schema["x-material"];
    const title = isObject(material) && isObject(material.title) ? material.title : {};
    const box = el("fieldset", { className: "cf-b-material" }, el("legend", { text: this.t("material") }));
    const write = () => {
      const on = document.getElementById("cf-b-material").checked;
      const zh = document.getElementById("cf-b-material-zh").value;
      const en = document.getElementById("cf-b-material-en").value;
      this.model.set(this.selected, "x-material", on ? (zh || en ? { title: { "zh-CN": zh, en } } : true) : undefined);
      this.changed(true);
    };
    box.append(this.input("cf-b-material", this.t("material_on"), !!material, write, { type: "checkbox" }),
      this.input("cf-b-material-zh", `${this.t("material_title")} (zh-CN)`, title["zh-CN"], write),
      this.input("cf-b-material-en", `${this.t("material_title")} (en)`, title.en, write),
      el("p", { className: "cf-help", text: this.t("material_help") }));
    return box;
  }

  visibleEditor(schema) {
    const chosen = Array.isArray(schema["x-visible-to"]) ? schema["x-visible-to"] : [];
    const box = el("fieldset", { className: "cf-b-visible" }, el("legend", { text: this.t("visible_to") }),
      el("p", { className: "cf-help", text: this.t("visible_help") }));
    for (const role of this.data.roles) {
      const id = `cf-b-visible-${role.value}`;
      box.append(this.input(id, this.text(role.title), chosen.includes(role.value), () => {
        const picked = this.data.roles.map((r) => r.value).filter((r) => document.getElementById(`cf-b-visible-${r}`).checked);
        this.model.set(this.selected, "x-visible-to", picked.length ? picked : undefined);
        this.changed();
      }, { type: "checkbox", dataset: undefined }));
    }
    return box;
  }

  conditionBox(which, keyword) {
    const schema = this.model.schema(this.selected);
    const uiRule = which === "show_if" && isObject(this.model.ui(this.selected)["ui:options"]) ? this.model.ui(this.selected)["ui:options"].show_if : undefined;
    const value = schema[keyword] ?? uiRule ?? null;
    // conditionEditor draws its own fieldset and legend; the JSON box fallback gets a heading here
    const box = el("div", { className: `cf-b-condition cf-b-${which}`, id: `cf-b-${which.replace("_", "-")}` });
    const write = (rule) => {
      this.model.set(this.selected, keyword, rule === null ? undefined : clone(rule));
      if (which === "show_if" && uiRule !== undefined) this.model.setUiOption(this.selected, "show_if", rule === null ? undefined : clone(rule));
      this.changed(true);
    };
    const fields = this.model.conditionFields(this.selected);
    if (this.logic && this.logic.conditionEditor) {
      box.append(this.logic.conditionEditor({ fields, value, lang: this.lang(), onChange: write, label: this.t(which) }));
    } else {
      box.append(this.jsonBox(`cf-b-${which}-json`, `${this.t(which)}: ${this.t("rule_json")}`, value, write));
    }
    return box;
  }

  /** A JSON text box (for what no picker edits yet): written only while it parses. */
  jsonBox(id, label, value, write) {
    const area = el("textarea", { id, className: "cf-input cf-code", rows: "3", spellcheck: "false" });
    area.value = value === null || value === undefined ? "" : JSON.stringify(value);
    const error = el("p", { className: "cf-error", hidden: true, id: `${id}--error` });
    area.addEventListener("input", () => {
      if (!area.value.trim()) { error.hidden = true; write(null); return; }
      try { write(JSON.parse(area.value)); error.hidden = true; } catch { error.hidden = false; error.textContent = this.t("bad_json"); }
    });
    return el("div", { className: "cf-field" }, el("label", { for: id, className: "cf-label", text: label }), area, error);
  }

  // ---- the form itself -----------------------------------------------------------------------------------

  renderForm(existingKey) {
    const def = this.model.def;
    const parts = [];
    const keyBox = this.input("cf-b-form-key", this.t("form_key"), existingKey || def.key || "", (v) => {
      def.key = v.trim();
      this.changed();
    }, { autocomplete: "off", spellcheck: "false", pattern: "[a-z][a-z0-9-]{1,63}", readonly: existingKey ? true : undefined });
    keyBox.append(el("p", { className: "cf-help", text: this.t("form_key_help") }));
    parts.push(keyBox);
    for (const what of ["title", "description"]) {
      for (const lang of LANGS) {
        const suffix = lang === "en" ? "en" : "zh";
        const current = isObject(def[what]) ? def[what][lang] : (lang === "zh-CN" ? def[what] : "");
        const make = what === "title" ? this.input.bind(this) : this.textarea.bind(this);
        const args = [`cf-b-form-${what}-${suffix}`, `${this.t(`form_${what}`)} (${lang})`, current, (v) => {
          const value = isObject(def[what]) ? { ...def[what] } : {};
          value[lang] = v;
          if (what === "title" && lang === "en" && !existingKey && (!def.key || def.key === this.autoFormKey)) {
            const made = slug(v).replaceAll("_", "-").replace(/^[^a-z]+/, "").slice(0, 64);
            this.autoFormKey = made.length >= 2 ? made : "";
            def.key = this.autoFormKey;
            const keyInput = document.getElementById("cf-b-form-key");
            if (keyInput) keyInput.value = def.key;
          }
          if (what === "description" && !Object.values(value).some((x) => String(x || "").trim())) delete def[what];
          else def[what] = value;
          this.changed();
        }];
        if (what === "title") parts.push(make(...args, {}, ["form", "title", lang]));
        else parts.push(make(...args, ["form", "description", lang]));
      }
    }
    const settingsBox = el("section", { className: "cf-b-settings", id: "cf-b-settings", "aria-labelledby": "cf-b-settings-title" },
      el("h3", { id: "cf-b-settings-title", text: this.t("settings") }));
    const onSettings = (settings) => { def.settings = settings; this.changed(); };
    if (this.settings && this.settings.settingsEditor) {
      settingsBox.append(this.settings.settingsEditor({ settings: isObject(def.settings) ? def.settings : {}, fields: this.model.conditionFields(null), processes: this.data.processes, lang: this.lang(), onChange: onSettings }));
    } else {
      settingsBox.append(this.jsonBox("cf-b-settings-json", this.t("settings_json"), def.settings ?? {}, (v) => onSettings(v ?? {})));
    }
    parts.push(settingsBox);
    parts.push(el("ul", { className: "cf-b-form-problems cf-error", hidden: true }));
    this.formRoot.replaceChildren(...parts);
    this.refreshMarkers();
  }

  setFormProblems(messages) {
    const list = this.formRoot.querySelector(".cf-b-form-problems");
    if (!list) return;
    list.replaceChildren(...messages.map((m) => el("li", { text: m })));
    list.hidden = !messages.length;
  }
}
