// counterflow: progressive enhancement for generated forms. The forms work without it.
const OPS = {
  "==": (a, b) => a == b, // eslint-disable-line eqeqeq
  "!=": (a, b) => a != b, // eslint-disable-line eqeqeq
  "===": (a, b) => a === b,
  "!==": (a, b) => a !== b,
  ">": (a, b) => a > b,
  ">=": (a, b) => a >= b,
  "<": (a, b, c) => (c === undefined ? a < b : a < b && b < c),
  "<=": (a, b, c) => (c === undefined ? a <= b : a <= b && b <= c),
  "!": (a) => !truthy(a),
  in: (a, b) => (Array.isArray(b) || typeof b === "string" ? b.includes(a) : false),
};

function truthy(value) {
  return Array.isArray(value) ? value.length > 0 : Boolean(value);
}

function readField(form, name) {
  const fields = [...form.querySelectorAll(`[name="${CSS.escape(name)}"]`)].filter((el) => !el.disabled);
  if (!fields.length) return null;
  const first = fields[0];
  const convert = (raw) => typed(raw, first.dataset.cfType);
  if (first.type === "radio") {
    const checked = fields.find((el) => el.checked);
    return checked ? convert(checked.value) : null;
  }
  if (first.type === "checkbox") {
    if (first.dataset.cfType === "boolean") return first.checked;
    return fields.filter((el) => el.checked).map((el) => convert(el.value));
  }
  if (first.type === "hidden" && (first.value === "true" || first.value === "false")) return first.value === "true";
  return first.value === "" ? null : convert(first.value);
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

export function evaluate(rule, read) {
  if (rule === null || typeof rule !== "object") return rule;
  if (Array.isArray(rule)) return rule.map((item) => evaluate(item, read));
  const [op] = Object.keys(rule);
  let args = rule[op];
  if (!Array.isArray(args)) args = [args];
  if (op === "var") {
    const [name, fallback = null] = args.map((a) => evaluate(a, read));
    const value = name === "" || name === null ? null : read(String(name));
    return value === null || value === undefined ? fallback : value;
  }
  if (op === "and") {
    let value = true;
    for (const arg of args) { value = evaluate(arg, read); if (!truthy(value)) return value; }
    return value;
  }
  if (op === "or") {
    let value = false;
    for (const arg of args) { value = evaluate(arg, read); if (truthy(value)) return value; }
    return value;
  }
  if (op === "!!") return truthy(evaluate(args[0], read));
  const fn = OPS[op];
  if (!fn) throw new Error("unknown operator " + op); // caught below: the field stays shown
  return fn(...args.map((arg) => evaluate(arg, read)));
}

function applyConditions(form) {
  const read = (name) => readField(form, name);
  for (const wrapper of form.querySelectorAll("[data-show-if]")) {
    let show = true;
    try { show = truthy(evaluate(JSON.parse(wrapper.dataset.showIf), read)); } catch { show = true; }
    wrapper.hidden = !show;
    // A hidden field is not posted, so its stale value does not count.
    for (const el of wrapper.querySelectorAll("input, select, textarea")) {
      if (!show && !el.disabled) { el.disabled = true; el.dataset.cfHidden = "1"; }
      if (show && el.dataset.cfHidden) { el.disabled = false; delete el.dataset.cfHidden; }
    }
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
  const forms = new Set([...root.querySelectorAll("[data-show-if]")].map((el) => el.closest("form") || document));
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
