// counterflow: progressive enhancement for generated forms. The forms work without it.
//
// Conditions (`data-show-if`, from x-show-if / ui:options.show_if) are JSON Logic, evaluated by
// json-logic-js (static/vendor/json-logic-js, loaded by base.html before this module). The server
// evaluates the same rules in counterflow/forms/conditions.py, following json-logic-js's answers;
// tests/test_jsonlogic_browser.py holds the two to the same answers in Chromium.
const logic = globalThis.jsonLogic;

// json-logic-js's `var`, except that it reads only the data's own fields, as the server does: a field
// named "constructor" or a list's "map" is never a JavaScript built-in.
function ownVar(path, fallback) {
  const notFound = fallback === undefined ? null : fallback;
  let data = this; // eslint-disable-line no-invalid-this
  if (path === undefined || path === "" || path === null) return data;
  for (const part of String(path).split(".")) {
    if (data === null || data === undefined) return notFound;
    const own = (typeof data === "object" || typeof data === "string") && Object.hasOwn(data, part);
    data = own ? data[part] : undefined;
    if (data === undefined) return notFound;
  }
  return data;
}
if (logic) logic.add_operation("var", ownVar);

/** The rule's value on the data, as the server's `conditions.evaluate` computes it. */
export function evaluate(rule, data) {
  return logic.apply(rule, data);
}

/** Whether a condition holds; a rule that cannot apply counts as false, as on the server. */
export function holds(rule, data) {
  try { return logic.truthy(logic.apply(rule, data)); } catch { return false; }
}

const CONTROLS = new Set(["_present", "_remove", "_add_row"]); // posted with the fields, not data
const INDEX = /^(0|[1-9][0-9]*)$/;

function put(object, key, value) {
  // defineProperty: a field called "__proto__" is a field like any other
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

function toPointer(parts) {
  return parts.map((p) => "/" + p.replaceAll("~", "~0").replaceAll("/", "~1")).join("");
}

/** The form's data as the server would read it from a post: typed, nested, blanks left out. */
export function formData(form) {
  const byName = new Map();
  const jsonFields = new Set();
  for (const el of form.elements) {
    if (!el.name || el.disabled || !el.closest(".cf-fields") || el.closest("template")) continue;
    if (el.name === "_json") { jsonFields.add(el.value); continue; }
    if (CONTROLS.has(el.name) || ["submit", "button", "reset", "image"].includes(el.type)) continue;
    if (!byName.has(el.name)) byName.set(el.name, []);
    byName.get(el.name).push(el);
  }
  const data = {};
  for (const [name, fields] of byName) {
    const parts = name.split(".");
    let value = readField(fields, jsonFields.has(toPointer(parts)) || parts.at(-1) === "*");
    if (value === null || (Array.isArray(value) && !value.length)) continue;
    let at = data;
    for (const part of parts.slice(0, -1)) {
      if (!Object.hasOwn(at, part) || typeof at[part] !== "object" || at[part] === null) put(at, part, {});
      at = at[part];
    }
    const last = parts.at(-1);
    if (last === "*" && value && typeof value === "object" && !Array.isArray(value)) {
      for (const [key, extra] of Object.entries(value)) if (!Object.hasOwn(at, key)) put(at, key, extra);
    } else {
      put(at, last, value);
    }
  }
  return rowsToLists(data);
}

function rowsToLists(value) {
  if (!value || typeof value !== "object" || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  for (const key of keys) value[key] = rowsToLists(value[key]);
  if (!keys.length || !keys.every((k) => INDEX.test(k))) return value;
  return keys.map(Number).sort((a, b) => a - b).map((i) => value[i]); // rows, in order, without gaps
}

function readField(fields, json) {
  const first = fields[0];
  const convert = (raw) => typed(raw, json ? "json" : first.dataset.cfType);
  if (first.type === "radio") {
    const checked = fields.find((el) => el.checked);
    return checked ? convert(checked.value) : null;
  }
  if (first.type === "checkbox") {
    if (first.dataset.cfType === "boolean") return first.checked;
    return fields.filter((el) => el.checked).map((el) => convert(el.value));
  }
  if (first.type === "hidden" && (first.value === "true" || first.value === "false")) return first.value === "true";
  return first.value.trim() === "" ? null : convert(first.value);
}

function typed(raw, type) {
  if (type === "integer" || type === "number") {
    const number = Number(raw);
    return raw === "" || Number.isNaN(number) ? raw : number;
  }
  if (type === "json") {
    try { return JSON.parse(raw); } catch { return raw; }
  }
  if (type === "boolean") return raw === "true" || raw === "on";
  return raw;
}

// What the server's _input_attrs marks aria-required: text-like inputs, selects and text areas.
const ARIA_REQUIRED = "input:not([type=checkbox]):not([type=radio]):not([type=file]):not([type=hidden]), select, textarea";

// x-required-if: the "required" marker and aria-required follow the rule; a hidden field is never required
// (the server's completeness check says the same: forms/validate.py).
// A row left blank is not posted (the server never sees it), so nothing in it is required.
function rowHasData(row) {
  const byName = new Map();
  for (const el of row.querySelectorAll("input, select, textarea")) {
    if (!el.name || el.disabled || el.name.startsWith("_") || el.closest("template")) continue;
    if (["submit", "button", "reset", "image"].includes(el.type)) continue;
    if (!byName.has(el.name)) byName.set(el.name, []);
    byName.get(el.name).push(el);
  }
  for (const fields of byName.values()) {
    const value = readField(fields, false);
    if (value !== null && !(Array.isArray(value) && !value.length)) return true;
  }
  return false;
}

function inFilledRows(wrapper) {
  for (let row = wrapper.closest("[data-cf-row]"); row; row = row.parentElement.closest("[data-cf-row]")) {
    if (!rowHasData(row)) return false;
  }
  return true;
}

function applyRequired(form, data) {
  for (const wrapper of form.querySelectorAll("[data-required-if]")) {
    let rule;
    try { rule = JSON.parse(wrapper.dataset.requiredIf); } catch { continue; }
    const on = holds(rule, data) && !wrapper.closest("[hidden]") && inFilledRows(wrapper);
    const own = (el) => el.closest("[data-required-if]") === wrapper;
    for (const mark of wrapper.querySelectorAll("[data-cf-required-if]")) if (own(mark)) mark.hidden = !on;
    const targets = [...wrapper.querySelectorAll(ARIA_REQUIRED)].filter(own);
    if (wrapper.getAttribute("role") === "radiogroup") targets.push(wrapper);
    for (const el of targets) {
      if (on) el.setAttribute("aria-required", "true");
      else el.removeAttribute("aria-required");
    }
  }
}

/** Show and hide the form's conditional fields, and mark its conditionally required ones, as the data
 *  stands now (the clerk's page runs this on every input; the builder's preview may too). */
export function applyConditions(form) {
  applyShown(form);
  if (form.querySelector("[data-required-if]")) applyRequired(form, formData(form));
}

function applyShown(form) {
  // Hiding a field can change a later condition (its value no longer counts): repeat until nothing moves.
  for (let round = 0; round < 5; round += 1) {
    const data = formData(form);
    let changed = false;
    for (const wrapper of form.querySelectorAll("[data-show-if]")) {
      let rule;
      try { rule = JSON.parse(wrapper.dataset.showIf); } catch { continue; }
      const show = holds(rule, data);
      if (wrapper.hidden !== !show) changed = true;
      wrapper.hidden = !show;
      // A hidden field is not posted, so its stale value does not count.
      for (const el of wrapper.querySelectorAll("input, select, textarea")) {
        if (!show && !el.disabled) { el.disabled = true; el.dataset.cfHidden = "1"; }
        if (show && el.dataset.cfHidden) { el.disabled = false; delete el.dataset.cfHidden; }
      }
    }
    if (!changed) return;
  }
}

function addRow(button) {
  const rows = button.closest("[data-cf-rows]");
  const template = rows && rows.querySelector(`:scope > template[data-cf-template]`);
  if (!template) return false;
  const index = Number(template.dataset.cfNext || 0);
  template.dataset.cfNext = String(index + 1);
  const token = template.dataset.cfToken;
  const number = token.replace("__i", "__n");
  const html = template.innerHTML.split(token).join(String(index)).split(number).join(String(index + 1));
  const holder = document.createElement("div");
  holder.innerHTML = html;
  const row = holder.firstElementChild;
  rows.querySelector(":scope > .cf-rows-list").append(row);
  enhanceRemove(row);
  if (logic && button.form) applyConditions(button.form);   // the new row's conditions, as the others'
  const first = row.querySelector("input:not([type=hidden]), select, textarea");
  if (first) first.focus();
  return true;
}

function enhanceRemove(root) {
  for (const box of root.querySelectorAll(".cf-row-remove input[name=_remove]")) {
    const holder = box.closest(".cf-row-remove");
    if (holder.dataset.cfEnhanced) continue;
    holder.dataset.cfEnhanced = "1";
    const label = holder.querySelector("label");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "cf-button cf-button--secondary cf-remove-row";
    button.innerHTML = label.innerHTML;
    button.addEventListener("click", () => {
      const row = holder.closest("[data-cf-row]");
      const add = row.closest("[data-cf-rows]")?.querySelector(":scope > .cf-add-row");
      row.remove();
      if (add) add.focus();
    });
    box.remove();
    label.remove();
    holder.append(button);
  }
}

function enhance(root = document) {
  for (const rows of root.querySelectorAll("[data-cf-rows]")) enhanceRemove(rows);
  root.addEventListener("click", (event) => {
    const button = event.target.closest("button[name=_add_row]");
    if (button && addRow(button)) event.preventDefault();
  });
  // Only fields being filled in: a read-only view shows what the record holds, as the server rendered it.
  const conditional = root.querySelectorAll("form [data-show-if], form [data-required-if]");
  const forms = logic ? new Set([...conditional].map((el) => el.closest("form"))) : [];
  for (const form of forms) {
    applyConditions(form);
    form.addEventListener("input", () => applyConditions(form));
    form.addEventListener("change", () => applyConditions(form));
  }
  const summary = root.querySelector(".cf-error-summary");
  if (summary) summary.focus();
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => enhance());
  else enhance();
}

// Print buttons on the receipt and the notice.
for (const button of document.querySelectorAll("[data-cf-print]")) {
  button.addEventListener("click", () => window.print());
}
