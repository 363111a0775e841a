// counterflow builder: a form's settings without code (docs/definitions.md, "settings").
//
// `settingsEditor` edits the processes a record goes through (in order), the acceptance-number pattern
// with a preview of the next numbers the server would issue (POST /admin/forms/numbering-preview), the time
// limit, the retention, the second-level review rule (built by picking, static/builder/logic.js) and the
// purpose of collection. Keys it does not know are kept as they are. Every control has a label and works
// with the keyboard; definition text reaches the page through textContent only.
import { addStyles, conditionEditor } from "./logic.js";

const TEXT = {
  "zh-CN": {
    processes: "记录依次经过的流程",
    processesHelp: "勾选要经过的流程，用“上移”“下移”调整顺序；第一个须为受理流程。",
    up: "上移",
    down: "下移",
    numbering: "受理编号规则",
    numberingHelp: "可用：{yyyy} 年、{yy} 两位年、{mm} 月、{dd} 日、{seq} 序号或 {seq:05d}（补足 5 位）；"
      + "其余只能是字母、数字、-、_、/。须恰好一个序号。",
    preview: "接下来的编号（新表单、今天）",
    previewWait: "正在计算……",
    previewFailed: "无法预览编号：{message}",
    timeLimit: "办理时限（工作日，1–365）",
    retention: "保存期限（年，5–100，自归档起算）",
    review: "何时需要二级审核（经理复核）",
    purpose: "收集目的（中文）",
    purposeEn: "收集目的（英文）",
    none: "（无）",
  },
  en: {
    processes: "Processes every record goes through, in order",
    processesHelp: "Tick the processes to run and order them with “Move up” and “Move down”; intake comes first.",
    up: "Move up",
    down: "Move down",
    numbering: "Acceptance-number pattern",
    numberingHelp: "Tokens: {yyyy} year, {yy} two-digit year, {mm} month, {dd} day, {seq} the sequence or "
      + "{seq:05d} (padded to 5 digits); other text only letters, digits, -, _ and /. Exactly one sequence.",
    preview: "The next numbers (a new form, today)",
    previewWait: "Working them out…",
    previewFailed: "The numbers cannot be previewed: {message}",
    timeLimit: "Time limit (working days, 1–365)",
    retention: "Retention (years, 5–100, from archiving)",
    review: "When a second-level review (by a manager) is needed",
    purpose: "Purpose of collection (Chinese)",
    purposeEn: "Purpose of collection (English)",
    none: "(none)",
  },
};

function langOf(lang) {
  return lang === "en" ? "en" : "zh-CN";
}

function tr(lang, key, params = {}) {
  const text = TEXT[langOf(lang)][key] ?? TEXT["zh-CN"][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

let counter = 0;
function uid() {
  counter += 1;
  return `cf-set-${counter}`;
}

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "for" || key === "role") {
      node.setAttribute(key, value);
    } else node[key] = value;
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function field(labelText, control, help) {
  control.id = control.id || uid();
  const box = el("div", { className: "cf-field" });
  box.append(el("label", { className: "cf-label", for: control.id, text: labelText }));
  if (help) {
    const helpId = `${control.id}--help`;
    control.setAttribute("aria-describedby", helpId);
    box.append(control, el("p", { className: "cf-help", id: helpId, text: help }));
  } else box.append(control);
  return box;
}

function titleOf(process, lang) {
  const title = process && process.title;
  if (isObject(title)) return title[langOf(lang)] || title["zh-CN"] || title.en || process.key;
  return typeof title === "string" && title ? title : process.key;
}

function csrf() {
  const meta = document.querySelector('meta[name="cf-csrf"]');
  return meta ? meta.content : "";
}

function defaultEndpoint() {
  try {
    const data = JSON.parse(document.getElementById("cf-builder-data").textContent);
    if (data && data.endpoints && typeof data.endpoints.numbering === "string") return data.endpoints.numbering;
  } catch { /* not on the builder page */ }
  return "/admin/forms/numbering-preview";
}

/**
 * An editor for a form's `settings`. `processes`: [{key, title: {"zh-CN","en"}}] the processes a form may
 * run; `fields`: as for conditionEditor (for the second-level rule); `onChange(settings)` after every change,
 * with a copy of the whole settings object (unknown keys kept). Returns the element.
 */
export function settingsEditor({ settings = {}, fields = [], processes = [], lang = "zh-CN",
  onChange = () => {}, endpoint = null } = {}) {
  addStyles();
  const current = isObject(settings) ? clone(settings) : {};
  const root = el("div", { className: "cf-settings", "data-cf-settings": "" });
  const emit = () => onChange(clone(current));

  // ---- processes, in order ----
  const known = Array.isArray(processes) ? processes.filter((p) => p && typeof p.key === "string") : [];
  const chosen = Array.isArray(current.processes) ? current.processes.filter((k) => typeof k === "string") : [];
  const order = [...chosen, ...known.map((p) => p.key).filter((k) => !chosen.includes(k))];
  const byKey = new Map(known.map((p) => [p.key, p]));
  const set = el("fieldset", { className: "cf-settings-processes" });
  set.append(el("legend", { className: "cf-label", text: tr(lang, "processes") }));
  const helpId = uid();
  set.setAttribute("aria-describedby", helpId);
  set.append(el("p", { className: "cf-help", id: helpId, text: tr(lang, "processesHelp") }));
  const list = el("ol", { className: "cf-settings-process-list" });
  set.append(list);

  function processesChanged() {
    current.processes = [...list.children].filter((li) => li.querySelector("input").checked)
      .map((li) => li.dataset.cfProcess);
    emit();
  }

  function move(li, by) {
    const items = [...list.children];
    const index = items.indexOf(li);
    const target = items[index + by];
    if (!target) return;
    if (by < 0) list.insertBefore(li, target);
    else list.insertBefore(target, li);
    refreshMoves();
    processesChanged();
    const same = li.querySelector(by < 0 ? "[data-cf-up]" : "[data-cf-down]");
    (same.disabled ? li.querySelector(by < 0 ? "[data-cf-down]" : "[data-cf-up]") : same).focus();
  }

  function refreshMoves() {
    const items = [...list.children];
    items.forEach((li, i) => {
      li.querySelector("[data-cf-up]").disabled = i === 0;
      li.querySelector("[data-cf-down]").disabled = i === items.length - 1;
    });
  }

  for (const key of order) {
    const process = byKey.get(key) || { key, title: key };
    const name = `${titleOf(process, lang)} (${key})`;
    const box = el("input", { type: "checkbox", id: uid() });
    box.checked = chosen.includes(key);
    box.addEventListener("change", processesChanged);
    const up = el("button", { type: "button", className: "cf-button cf-button--secondary", text: tr(lang, "up"),
      "aria-label": `${tr(lang, "up")}: ${name}`, "data-cf-up": "" });
    const down = el("button", { type: "button", className: "cf-button cf-button--secondary", text: tr(lang, "down"),
      "aria-label": `${tr(lang, "down")}: ${name}`, "data-cf-down": "" });
    const li = el("li", { className: "cf-option", "data-cf-process": key }, [box,
      el("label", { for: box.id, text: name }), up, down]);
    up.addEventListener("click", () => move(li, -1));
    down.addEventListener("click", () => move(li, 1));
    list.append(li);
  }
  refreshMoves();
  root.append(set);

  // ---- numbering, with the next numbers ----
  const pattern = el("input", { type: "text", className: "cf-input cf-code", spellcheck: false,
    autocomplete: "off", maxLength: 64, "data-cf-numbering": "" });
  pattern.value = typeof current.numbering === "string" ? current.numbering : "";
  const numberingBox = field(tr(lang, "numbering"), pattern, tr(lang, "numberingHelp"));
  const previewTitle = el("p", { className: "cf-label", id: uid(), text: tr(lang, "preview") });
  const preview = el("div", { className: "cf-settings-preview", role: "status", "aria-live": "polite",
    "aria-labelledby": previewTitle.id, "data-cf-numbers": "" });
  numberingBox.append(previewTitle, preview);
  root.append(numberingBox);
  const url = endpoint || defaultEndpoint();
  let timer = null;
  let asked = 0;

  async function showNumbers() {
    const mine = ++asked;
    preview.replaceChildren(el("p", { className: "cf-help", text: tr(lang, "previewWait") }));
    preview.dataset.cfState = "waiting";
    let answer;
    try {
      const response = await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ pattern: pattern.value }),
      });
      answer = await response.json();
      if (!response.ok) {
        const message = answer && answer.error ? answer.error.message : String(response.status);
        answer = { numbers: [], problems: [{ message }] };
      }
    } catch (error) {
      answer = { numbers: [], problems: [{ message: tr(lang, "previewFailed", { message: String(error) }) }] };
    }
    if (mine !== asked) return;                  // a later pattern was typed meanwhile
    const numbers = Array.isArray(answer.numbers) ? answer.numbers : [];
    const problems = Array.isArray(answer.problems) ? answer.problems : [];
    const parts = [];
    if (numbers.length) {
      parts.push(el("ol", { className: "cf-settings-numbers" },
        numbers.map((n) => el("li", {}, [el("code", { text: String(n) })]))));
    }
    if (problems.length) {
      parts.push(el("ul", { className: "cf-error" }, problems.map((p) => el("li", { text: String(p.message || p) }))));
    }
    if (!parts.length) parts.push(el("p", { text: tr(lang, "none") }));
    preview.replaceChildren(...parts);
    preview.dataset.cfState = problems.length ? "problems" : "numbers";
    if (problems.length) pattern.setAttribute("aria-invalid", "true");
    else pattern.removeAttribute("aria-invalid");
  }

  pattern.addEventListener("input", () => {
    current.numbering = pattern.value;
    emit();
    clearTimeout(timer);
    timer = setTimeout(showNumbers, 250);
  });
  if (typeof fetch === "function") showNumbers();

  // ---- time limit and retention ----
  const days = el("input", { type: "number", className: "cf-input", min: 1, max: 365, step: 1,
    inputMode: "numeric", "data-cf-days": "" });
  const limit = isObject(current.time_limit) ? current.time_limit : {};
  days.value = Number.isInteger(limit.working_days) ? String(limit.working_days) : "";
  days.addEventListener("input", () => {
    const value = isObject(current.time_limit) ? { ...current.time_limit } : {};
    const n = days.value.trim() === "" ? NaN : Number(days.value);
    if (Number.isNaN(n)) delete value.working_days;
    else value.working_days = n;
    current.time_limit = value;
    emit();
  });
  root.append(field(tr(lang, "timeLimit"), days));

  const years = el("input", { type: "number", className: "cf-input", min: 5, max: 100, step: 1,
    inputMode: "numeric", "data-cf-years": "" });
  const kept = isObject(current.retention) ? current.retention : {};
  years.value = Number.isInteger(kept.years) ? String(kept.years) : "";
  years.addEventListener("input", () => {
    const n = years.value.trim() === "" ? NaN : Number(years.value);
    if (Number.isNaN(n)) {
      if (isObject(current.retention)) {
        const rest = { ...current.retention };
        delete rest.years;
        if (Object.keys(rest).filter((k) => k !== "from").length) current.retention = rest;
        else delete current.retention;          // optional: 5 years from archiving
      }
    } else {
      current.retention = { from: "archived", ...(isObject(current.retention) ? current.retention : {}), years: n };
    }
    emit();
  });
  root.append(field(tr(lang, "retention"), years));

  // ---- the second-level review rule ----
  const review = isObject(current.review) ? current.review : {};
  const reviewBox = el("div", { className: "cf-settings-review", "data-cf-review": "" });
  reviewBox.append(conditionEditor({
    fields, lang, label: tr(lang, "review"),
    value: review.second_level_if === undefined ? null : review.second_level_if,
    onChange: (rule) => {
      const value = isObject(current.review) ? { ...current.review } : {};
      if (rule === null) delete value.second_level_if;
      else value.second_level_if = rule;
      if (Object.keys(value).length) current.review = value;
      else delete current.review;
      emit();
    },
  }));
  root.append(reviewBox);

  // ---- purpose of collection ----
  const purpose = current.purpose;
  const boxes = {};
  for (const [code, key] of [["zh-CN", "purpose"], ["en", "purposeEn"]]) {
    const area = el("textarea", { className: "cf-input", rows: 2, "data-cf-purpose": code });
    area.value = isObject(purpose) ? String(purpose[code] ?? "") : (code === "zh-CN" && typeof purpose === "string" ? purpose : "");
    boxes[code] = area;
    area.addEventListener("input", () => {
      const value = isObject(current.purpose) ? { ...current.purpose }
        : typeof current.purpose === "string" ? { "zh-CN": current.purpose } : {};
      value["zh-CN"] = boxes["zh-CN"].value;
      value.en = boxes.en.value;
      if (!value["zh-CN"].trim() && !value.en.trim()) delete current.purpose;
      else current.purpose = value;
      emit();
    });
    root.append(field(tr(lang, key), area));
  }
  return root;
}
