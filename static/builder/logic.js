// counterflow builder: conditions without code.
//
// `conditionEditor` builds a JSON Logic rule by picking: "when [field] [operator] [value]" rows, joined by
// "all of" / "any of", with one level of nested groups. It produces only operators the server accepts
// (forms/conditions.py OPERATORS; docs/definitions.md "Conditional fields"): var, and, or, ==, !=, in, !!,
// !, >, >=, <, <=. A rule it cannot show as rows (written by hand) is kept exactly as it is and shown
// read-only with its JSON. `describeCondition` says a rule in words.
//
// Every control is a native <select>, <input> or <button> with a <label>: usable by keyboard alone.
// Definition text (field titles, options) only ever reaches the page through textContent.

const TEXT = {
  "zh-CN": {
    condition: "条件",
    when: "当",
    field: "字段",
    operator: "条件",
    value: "值",
    values: "值（可多选）",
    valuesText: "值（多个值用逗号分隔）",
    all: "满足以下全部条件",
    any: "满足以下任一条件",
    mode: "组合方式",
    addRow: "添加条件",
    addGroup: "添加条件组",
    removeRow: "删除此条件",
    removeGroup: "删除此条件组",
    group: "条件组",
    row: "第 {n} 条条件",
    none: "没有条件：始终适用",
    noFields: "表单中还没有可用作条件的字段",
    incomplete: "请填写完整，未填完的条件不会生效",
    custom: "这是手工编写的条件，无法在这里逐项编辑；保存时会原样保留。",
    replace: "删除此条件并重新设置",
    yes: "是",
    no: "否",
    choose: "请选择",
    eq: "等于",
    ne: "不等于",
    oneOf: "是以下之一",
    contains: "包含",
    filled: "已填写",
    empty: "未填写",
    gt: "大于",
    ge: "大于或等于",
    lt: "小于",
    le: "小于或等于",
    dateGt: "晚于",
    dateGe: "不早于",
    dateLt: "早于",
    dateLe: "不晚于",
    always: "始终",
    and: "并且",
    or: "或者",
    list: "、",
    quote: "「{x}」",
    customRule: "自定义条件 {json}",
  },
  en: {
    condition: "Condition",
    when: "When",
    field: "Field",
    operator: "Condition",
    value: "Value",
    values: "Values (pick one or more)",
    valuesText: "Values (separate them with commas)",
    all: "All of the following hold",
    any: "Any of the following holds",
    mode: "Combine",
    addRow: "Add a condition",
    addGroup: "Add a group",
    removeRow: "Remove this condition",
    removeGroup: "Remove this group",
    group: "Group of conditions",
    row: "Condition {n}",
    none: "No condition: always applies",
    noFields: "The form has no field a condition can use yet",
    incomplete: "Fill this in: an incomplete condition has no effect",
    custom: "This rule was written by hand and cannot be edited here row by row; it is saved exactly as it is.",
    replace: "Remove this rule and build a new one",
    yes: "Yes",
    no: "No",
    choose: "Choose…",
    eq: "is",
    ne: "is not",
    oneOf: "is one of",
    contains: "contains",
    filled: "is filled in",
    empty: "is empty",
    gt: "is more than",
    ge: "is at least",
    lt: "is less than",
    le: "is at most",
    dateGt: "is after",
    dateGe: "is on or after",
    dateLt: "is before",
    dateLe: "is on or before",
    always: "always",
    and: "and",
    or: "or",
    list: ", ",
    quote: "“{x}”",
    customRule: "a custom rule {json}",
  },
};

function langOf(lang) {
  return lang === "en" ? "en" : "zh-CN";
}

function tr(lang, key, params = {}) {
  const text = TEXT[langOf(lang)][key] ?? TEXT["zh-CN"][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

// operator key -> [JSON Logic operator, how many values the row takes: 0, 1 or "many"]
const OPERATIONS = {
  eq: ["==", 1], ne: ["!=", 1], oneOf: ["in", "many"], contains: ["in", 1],
  filled: ["!!", 0], empty: ["!", 0], gt: [">", 1], ge: [">=", 1], lt: ["<", 1], le: ["<=", 1],
};
const COMPARE = { ">": "gt", ">=": "ge", "<": "lt", "<=": "le" };

function isDate(field) {
  return field.type === "string" && field.format === "date";
}

function numeric(field) {
  return field.type === "number" || field.type === "integer";
}

/** The operators offered for a field, by its type. */
export function operatorsFor(field) {
  if (!field) return [];
  if (field.type === "array") return ["contains", "filled", "empty"];
  if (field.type === "boolean") return ["eq", "filled", "empty"];
  const ops = ["eq", "ne", "oneOf"];
  if (numeric(field) || isDate(field)) ops.push("gt", "ge", "lt", "le");
  return [...ops, "filled", "empty"];
}

function opLabel(lang, op, field) {
  if (field && isDate(field) && COMPARE[OPERATIONS[op][0]] === op) {
    return tr(lang, "date" + op[0].toUpperCase() + op.slice(1));
  }
  return tr(lang, op);
}

function titleOf(field, lang) {
  const title = field && field.title;
  if (title && typeof title === "object") return title[langOf(lang)] || title["zh-CN"] || title.en || field.var;
  return typeof title === "string" && title ? title : field ? field.var : "";
}

function options(field) {
  if (!field || !Array.isArray(field.enum)) return null;
  return field.enum;
}

function optionLabel(field, value, lang) {
  if (field && field.type === "boolean" && !options(field)) return tr(lang, value ? "yes" : "no");
  const values = options(field);
  const index = values ? values.findIndex((v) => same(v, value)) : -1;
  const titles = field && field.enumTitles;
  if (index >= 0 && titles) {
    const list = titles[langOf(lang)] || titles["zh-CN"] || titles.en;
    if (Array.isArray(list) && list[index] !== undefined && list[index] !== null) return String(list[index]);
  }
  return typeof value === "string" ? value : JSON.stringify(value);
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function isLiteral(value) {
  return value === null || ["string", "number", "boolean"].includes(typeof value);
}

// "empty" in JSON Logic's sense (falsy) is what a blank text or list is; a number 0 or a "no" is filled in
function blankIsFalsy(field) {
  return field.type === "string" || field.type === "array";
}

// ---- the model: a group {mode: "and"|"or", items: [row|group], explicit}, a row {field, op, value} ----

function fieldByVar(fields, name) {
  return fields.find((f) => f.var === name) || null;
}

function varOf(value, fields) {
  if (!value || typeof value !== "object" || Array.isArray(value)) return null;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== "var" || typeof value.var !== "string") return null;
  return fieldByVar(fields, value.var);
}

function valueFits(field, value) {
  if (!isLiteral(value) || value === null) return false;
  const values = options(field);
  if (values) return values.some((v) => same(v, value));
  if (field.type === "boolean") return typeof value === "boolean";
  if (numeric(field)) return typeof value === "number";
  return typeof value === "string";
}

function parseRow(rule, fields) {
  if (!rule || typeof rule !== "object" || Array.isArray(rule)) return null;
  const keys = Object.keys(rule);
  if (keys.length !== 1) return null;
  const op = keys[0];
  const args = rule[op];
  const list = Array.isArray(args) ? args : [args];
  let row = null;
  if ((op === "!!" || op === "!") && list.length === 1 && !Array.isArray(args)) {
    const field = varOf(args, fields);
    if (field && blankIsFalsy(field)) row = { field: field.var, op: op === "!!" ? "filled" : "empty" };
  } else if ((op === "==" || op === "!=") && list.length === 2) {
    const field = varOf(list[0], fields);
    if (field && list[1] === null && !blankIsFalsy(field)) {
      row = { field: field.var, op: op === "!=" ? "filled" : "empty" };
    } else if (field && valueFits(field, list[1])) {
      row = { field: field.var, op: op === "==" ? "eq" : "ne", value: list[1] };
    }
  } else if (op === "in" && list.length === 2) {
    const field = varOf(list[0], fields);
    const arrayField = varOf(list[1], fields);
    if (field && Array.isArray(list[1]) && list[1].length && list[1].every((v) => valueFits(field, v))) {
      row = { field: field.var, op: "oneOf", value: list[1] };
    } else if (arrayField && arrayField.type === "array" && isLiteral(list[0]) && list[0] !== null
               && (!options(arrayField) || options(arrayField).some((v) => same(v, list[0])))) {
      row = { field: arrayField.var, op: "contains", value: list[0] };
    }
  } else if (op in COMPARE && list.length === 2) {
    const field = varOf(list[0], fields);
    if (field && valueFits(field, list[1])) row = { field: field.var, op: COMPARE[op], value: list[1] };
  }
  if (!row) return null;
  const field = fieldByVar(fields, row.field);
  return operatorsFor(field).includes(row.op) ? row : null;
}

function parseGroup(rule, fields, depth) {
  const op = rule && typeof rule === "object" && !Array.isArray(rule) && Object.keys(rule).length === 1
    ? Object.keys(rule)[0] : null;
  if ((op === "and" || op === "or") && Array.isArray(rule[op]) && rule[op].length) {
    const items = [];
    for (const item of rule[op]) {
      const row = parseRow(item, fields);
      const inner = row || depth > 0 ? null : parseGroup(item, fields, depth + 1);
      if (!row && !(inner && inner.explicit)) return null;
      items.push(row || inner);
    }
    return { mode: op, items, explicit: true };
  }
  const row = parseRow(rule, fields);
  return row ? { mode: "and", items: [row], explicit: false } : null;
}

/** The editor's rows for a rule, or null when the rule cannot be shown as rows (kept as it is). */
export function parseCondition(rule, fields) {
  if (rule === null || rule === undefined) return { mode: "and", items: [], explicit: false };
  const group = parseGroup(rule, fields, 0);
  // only rules that come back exactly as written: nothing written by hand is ever changed unasked
  return group && same(groupRule(group, fields), rule) ? group : null;
}

function complete(row, field) {
  if (!field || !operatorsFor(field).includes(row.op)) return false;
  const count = OPERATIONS[row.op][1];
  if (count === 0) return true;
  if (count === "many") return Array.isArray(row.value) && row.value.length > 0;
  return row.value !== undefined && row.value !== null && row.value !== "" && !Number.isNaN(row.value);
}

function rowRule(row, fields) {
  const field = fieldByVar(fields, row.field);
  if (!complete(row, field)) return null;
  const v = { var: field.var };
  switch (row.op) {
    case "filled": return blankIsFalsy(field) ? { "!!": v } : { "!=": [v, null] };
    case "empty": return blankIsFalsy(field) ? { "!": v } : { "==": [v, null] };
    case "contains": return { in: [row.value, v] };
    case "oneOf": return { in: [v, row.value] };
    default: return { [OPERATIONS[row.op][0]]: [v, row.value] };
  }
}

function groupRule(group, fields) {
  const rules = group.items.map((item) => ("items" in item ? groupRule(item, fields) : rowRule(item, fields)))
    .filter((r) => r !== null);
  if (!rules.length) return null;
  if (rules.length === 1 && !group.explicit) return rules[0];
  return { [group.mode]: rules };
}

/** The JSON Logic rule for the editor's rows (null when there is none). */
export function buildCondition(group, fields) {
  return groupRule(group, fields);
}

// ---- in words ------------------------------------------------------------------------------------

function quote(lang, text) {
  return tr(lang, "quote", { x: text });
}

function describeRow(row, fields, lang) {
  const field = fieldByVar(fields, row.field);
  const name = quote(lang, titleOf(field, lang));
  const op = opLabel(lang, row.op, field);
  const count = OPERATIONS[row.op][1];
  const sep = langOf(lang) === "en" ? " " : "";
  if (count === 0) return name + sep + op;
  const values = count === "many" ? row.value : [row.value];
  const shown = values.map((v) => quote(lang, optionLabel(field, v, lang))).join(tr(lang, "list"));
  return name + sep + op + sep + shown;
}

function describeGroup(group, fields, lang, nested) {
  const sep = langOf(lang) === "en" ? ` ${tr(lang, group.mode)} ` : tr(lang, group.mode);
  const parts = group.items.map((item) => ("items" in item ? describeGroup(item, fields, lang, true)
    : describeRow(item, fields, lang)));
  const text = parts.join(langOf(lang) === "en" ? sep : `，${sep}`);
  const [open, close] = langOf(lang) === "en" ? ["(", ")"] : ["（", "）"];
  return nested && parts.length > 1 ? open + text + close : text;
}

/** A rule in words: "「申请原因」等于「挂失」" / "“Reason” is “Lost”" (the caller adds "shown when" etc.).
 *  No rule reads "始终" / "always"; a hand-written rule is quoted as its JSON. */
export function describeCondition(rule, fields, lang) {
  fields = Array.isArray(fields) ? fields : [];
  if (rule === null || rule === undefined) return tr(lang, "always");
  const group = parseCondition(rule, fields);
  if (!group || !group.items.length) return tr(lang, "customRule", { json: JSON.stringify(rule) });
  return describeGroup(group, fields, lang, false);
}

// ---- the editor ----------------------------------------------------------------------------------

// the editors' own styles, once per page (a stylesheet from 'self', as the pages' CSP allows)
export function addStyles() {
  if (typeof document === "undefined" || document.querySelector("link[data-cf-logic-css]")) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = new URL("./logic.css", import.meta.url).href;
  link.dataset.cfLogicCss = "";
  document.head.append(link);
}

let counter = 0;
function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "for" || key === "role") {
      node.setAttribute(key, value);
    } else node[key] = value;
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function labelled(control, text, hidden = true) {
  if (!control.id) control.id = uid("cf-cond");
  const label = el("label", { for: control.id, text, className: hidden ? "cf-visually-hidden" : "cf-cond-label" });
  return [label, control];
}

function button(text, onClick, className = "cf-button cf-button--secondary") {
  const b = el("button", { type: "button", className, text });
  b.addEventListener("click", onClick);
  return b;
}

function defaultValue(field, op) {
  const count = OPERATIONS[op][1];
  if (count === 0) return undefined;
  if (count === "many") return [];
  const values = options(field);
  if (values && values.length) return values[0];
  if (field.type === "boolean") return true;
  return "";
}

/**
 * An editor for one condition. `fields`: [{var, pointer, title: {"zh-CN","en"}, type, enum?, enumTitles?,
 * format?}]; `value`: a JSON Logic rule or null; `onChange(rule | null)` after every change; `label`:
 * the editor's heading ("显示条件"). Returns the element.
 */
export function conditionEditor({ fields = [], value = null, lang = "zh-CN", onChange = () => {}, label = "" } = {}) {
  addStyles();
  fields = Array.isArray(fields) ? fields.filter((f) => f && typeof f.var === "string") : [];
  const root = el("fieldset", { className: "cf-cond" });
  root.append(el("legend", { className: "cf-cond-legend", text: label || tr(lang, "condition") }));
  const body = el("div", { className: "cf-cond-body" });
  root.append(body);
  let model = parseCondition(value, fields);
  let last = value === undefined ? null : value;

  function emit() {
    const rule = buildCondition(model, fields);
    if (same(rule, last)) return;
    last = rule;
    onChange(rule);
  }

  function showCustom(rule) {
    body.replaceChildren();
    const box = el("div", { className: "cf-cond-custom", "data-cf-custom": "" });
    box.append(el("p", { text: tr(lang, "custom") }));
    box.append(el("pre", { className: "cf-json", text: JSON.stringify(rule, null, 2) }));
    box.append(button(tr(lang, "replace"), () => {
      model = { mode: "and", items: [], explicit: false };
      showRows();
      emit();
      const add = body.querySelector("[data-cf-add-row]");
      if (add) add.focus();
    }));
    body.append(box);
  }

  function newRow() {
    const field = fields[0];
    const op = operatorsFor(field)[0];
    return { field: field.var, op, value: defaultValue(field, op) };
  }

  function rowElement(row, group, container) {
    const box = el("div", { className: "cf-cond-row", role: "group", "data-cf-row": "" });
    const fieldSelect = el("select", { className: "cf-cond-field", "data-cf-field": "" });
    for (const f of fields) {
      const option = el("option", { value: f.var, text: titleOf(f, lang) });
      option.selected = f.var === row.field;
      fieldSelect.append(option);
    }
    const opSelect = el("select", { className: "cf-cond-op", "data-cf-op": "" });
    const valueBox = el("span", { className: "cf-cond-value" });
    const hint = el("span", { className: "cf-cond-hint", text: tr(lang, "incomplete") });

    function refreshOps() {
      const field = fieldByVar(fields, row.field);
      opSelect.replaceChildren(...operatorsFor(field).map((op) => {
        const option = el("option", { value: op, text: opLabel(lang, op, field) });
        option.selected = op === row.op;
        return option;
      }));
    }

    function refreshHint() {
      hint.hidden = complete(row, fieldByVar(fields, row.field));
    }

    function refreshValue() {
      const field = fieldByVar(fields, row.field);
      valueBox.replaceChildren(...valueControls(row, field, () => { refreshHint(); emit(); }));
      refreshHint();
    }

    fieldSelect.addEventListener("change", () => {
      const field = fieldByVar(fields, fieldSelect.value);
      row.field = field.var;
      if (!operatorsFor(field).includes(row.op)) row.op = operatorsFor(field)[0];
      row.value = defaultValue(field, row.op);
      refreshOps();
      refreshValue();
      emit();
    });
    opSelect.addEventListener("change", () => {
      const field = fieldByVar(fields, row.field);
      const before = OPERATIONS[row.op][1];
      row.op = opSelect.value;
      if (OPERATIONS[row.op][1] !== before) row.value = defaultValue(field, row.op);
      refreshValue();
      emit();
    });
    const remove = button(tr(lang, "removeRow"), () => {
      const index = group.items.indexOf(row);
      group.items.splice(index, 1);
      box.remove();
      renumber();
      emit();
      const rows = container.querySelectorAll(":scope > [data-cf-row] [data-cf-field]");
      const next = rows[Math.min(index, rows.length - 1)];
      const add = container.parentElement.querySelector(":scope > .cf-cond-actions [data-cf-add-row]");
      (next || add)?.focus();
      if (!group.items.length && group !== model) {
        // an emptied nested group goes too
        model.items.splice(model.items.indexOf(group), 1);
        const groupBox = container.closest("[data-cf-group]");
        const add = root.querySelector(":scope > .cf-cond-body > .cf-cond-actions [data-cf-add-row]");
        groupBox.remove();
        renumber();
        if (add) add.focus();
      }
    });
    remove.dataset.cfRemoveRow = "";
    refreshOps();
    refreshValue();
    const when = el("span", { className: "cf-cond-when", text: tr(lang, "when"), "aria-hidden": "true" });
    box.append(when, ...labelled(fieldSelect, tr(lang, "field")), ...labelled(opSelect, tr(lang, "operator")),
      valueBox, remove, hint);
    return box;
  }

  function valueControls(row, field, changed) {
    const count = OPERATIONS[row.op][1];
    if (count === 0) return [];
    const values = options(field);
    if (count === "many" && values) {
      const set = el("fieldset", { className: "cf-cond-values" });
      set.append(el("legend", { className: "cf-visually-hidden", text: tr(lang, "values") }));
      const boxes = values.map(() => el("input", { type: "checkbox", id: uid("cf-cond") }));
      values.forEach((v, i) => {
        const box = boxes[i];
        box.checked = row.value.some((x) => same(x, v));
        box.addEventListener("change", () => {
          row.value = values.filter((x, j) => boxes[j].checked);
          changed();
        });
        set.append(el("span", { className: "cf-option" }, [box,
          el("label", { for: box.id, text: optionLabel(field, v, lang) })]));
      });
      return [set];
    }
    if (count === "many") {
      const input = el("input", { type: "text", className: "cf-cond-input", "data-cf-value": "" });
      input.value = (row.value || []).map(String).join(", ");
      input.addEventListener("input", () => {
        const parts = input.value.split(/[,，、]/).map((s) => s.trim()).filter(Boolean);
        row.value = numeric(field) ? parts.map(Number).filter((n) => !Number.isNaN(n)) : parts;
        changed();
      });
      return labelled(input, tr(lang, "valuesText"));
    }
    if (values || (field.type === "boolean")) {
      const list = values || [true, false];
      const select = el("select", { className: "cf-cond-input", "data-cf-value": "" });
      list.forEach((v, i) => {
        const option = el("option", { value: String(i), text: optionLabel(field, v, lang) });
        option.selected = same(v, row.value);
        select.append(option);
      });
      select.addEventListener("change", () => { row.value = list[Number(select.value)]; changed(); });
      return labelled(select, tr(lang, "value"));
    }
    const input = el("input", { className: "cf-cond-input", "data-cf-value": "" });
    input.type = numeric(field) ? "number" : isDate(field) ? "date" : "text";
    if (numeric(field)) input.step = field.type === "integer" ? "1" : "any";
    input.value = row.value === undefined || row.value === null ? "" : String(row.value);
    input.addEventListener("input", () => {
      const raw = input.value.trim();
      row.value = numeric(field) ? (raw === "" ? "" : Number(raw)) : input.value;
      changed();
    });
    return labelled(input, tr(lang, "value"));
  }

  function modeSelect(group) {
    const select = el("select", { className: "cf-cond-mode", "data-cf-mode": "" });
    for (const mode of ["and", "or"]) {
      const option = el("option", { value: mode, text: tr(lang, mode === "and" ? "all" : "any") });
      option.selected = group.mode === mode;
      select.append(option);
    }
    select.addEventListener("change", () => {
      group.mode = select.value;
      emit();
    });
    return select;
  }

  function renumber() {
    root.querySelectorAll("[data-cf-row]").forEach((row, i) => {
      row.setAttribute("aria-label", tr(lang, "row", { n: i + 1 }));
    });
    const top = root.querySelector(":scope > .cf-cond-body > .cf-cond-top");
    if (top) top.hidden = model.items.length < 2;
    const none = root.querySelector(":scope > .cf-cond-body > .cf-cond-none");
    if (none) none.hidden = model.items.length > 0;
  }

  function groupElement(group) {
    const box = el("fieldset", { className: "cf-cond-group", "data-cf-group": "" });
    box.append(el("legend", { text: tr(lang, "group") }));
    box.append(el("div", { className: "cf-cond-top" }, labelled(modeSelect(group), tr(lang, "mode"), false)));
    const list = el("div", { className: "cf-cond-list" });
    for (const row of group.items) list.append(rowElement(row, group, list));
    box.append(list);
    const actions = el("div", { className: "cf-cond-actions" });
    const add = button(tr(lang, "addRow"), () => {
      const row = newRow();
      group.items.push(row);
      const made = rowElement(row, group, list);
      list.append(made);
      renumber();
      emit();
      made.querySelector("[data-cf-field]").focus();
    });
    add.dataset.cfAddRow = "";
    const remove = button(tr(lang, "removeGroup"), () => {
      model.items.splice(model.items.indexOf(group), 1);
      box.remove();
      renumber();
      emit();
      root.querySelector(":scope > .cf-cond-body > .cf-cond-actions [data-cf-add-group]")?.focus();
    });
    remove.dataset.cfRemoveGroup = "";
    actions.append(add, remove);
    box.append(actions);
    return box;
  }

  function showRows() {
    body.replaceChildren();
    if (!fields.length) {
      body.append(el("p", { className: "cf-cond-none", text: tr(lang, "noFields") }));
      return;
    }
    body.append(el("p", { className: "cf-cond-none", text: tr(lang, "none") }));
    body.append(el("div", { className: "cf-cond-top" }, labelled(modeSelect(model), tr(lang, "mode"), false)));
    const list = el("div", { className: "cf-cond-list" });
    for (const item of model.items) list.append("items" in item ? groupElement(item) : rowElement(item, model, list));
    body.append(list);
    const actions = el("div", { className: "cf-cond-actions" });
    const addRow = button(tr(lang, "addRow"), () => {
      const row = newRow();
      model.items.push(row);
      const made = rowElement(row, model, list);
      list.append(made);
      renumber();
      emit();
      made.querySelector("[data-cf-field]").focus();
    });
    addRow.dataset.cfAddRow = "";
    const addGroup = button(tr(lang, "addGroup"), () => {
      const group = { mode: model.mode === "and" ? "or" : "and", items: [newRow()], explicit: true };
      model.items.push(group);
      const made = groupElement(group);
      list.append(made);
      renumber();
      emit();
      made.querySelector("[data-cf-mode]").focus();
    });
    addGroup.dataset.cfAddGroup = "";
    actions.append(addRow, addGroup);
    body.append(actions);
    renumber();
  }

  if (model) showRows();
  else showCustom(value);
  return root;
}
