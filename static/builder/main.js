// The form builder page: wires the model, the editors and the preview; saves, fires the approval steps
// the server offers, exports and imports. Loaded as an ES module by admin_form_builder.html.
import { Model, fieldOfProblem, isObject } from "./model.js";
import { Editor, el } from "./editor.js";
import { Preview, postJSON } from "./preview.js";

const data = JSON.parse(document.getElementById("cf-builder-data").textContent);
const t = (key) => (data.t && data.t[key]) || key;

// H-logic's editors (static/builder/logic.js, settings.js); the page still works with JSON boxes without them
let logic = null;
let settings = null;
try { logic = await import("./logic.js"); } catch { logic = null; }
try { settings = await import("./settings.js"); } catch { settings = null; }

const $ = (id) => document.getElementById(id);
const model = new Model(data.definition ? structuredClone(data.definition) : null);
let status = data.status;           // the saved version: key, version, revision, state, options
let problems = [];                  // what the server would refuse, from the last check
let checked = false;                // the last check is about the model as it is now

const editor = new Editor({
  model, data, t, logic, settings, onChange: () => changed(),
  tree: $("cf-b-tree"), field: $("cf-b-field"), form: $("cf-b-form"), palette: $("cf-b-palette"),
});
// a removed field can be brought back (the whole definition as it was just before, its conditions too), once;
// conditions elsewhere that name it are listed, with an offer to remove them as well (else the check blocks Save)
function conditionPlace(ref) {
  if (!ref.path) return t("second_level_rule");
  return `${t(ref.keyword === "x-required-if" ? "required_if" : "show_if")}: ${editor.labelOf(ref.path)}`;
}
editor.onRemoved = (before, label, naming = []) => {
  const box = $("cf-b-message");
  const undo = el("button", {
    type: "button", className: "cf-button cf-button--secondary", id: "cf-b-undo", text: t("undo"),
    onclick: () => {
      model.load(JSON.parse(before));
      editor.select(null, false);
      editor.renderTree();
      editor.renderForm(status && status.key);
      box.hidden = true;
      changed();
    },
  });
  const parts = [el("span", { text: `${t("removed")}: ${label} ` })];
  if (naming.length) {
    const list = el("ul", { id: "cf-b-naming" }, ...naming.map((ref) => el("li", {
      dataset: { keyword: ref.keyword, path: ref.path ? JSON.stringify(ref.path) : "" }, text: conditionPlace(ref) })));
    const drop = el("button", {
      type: "button", className: "cf-button", id: "cf-b-drop-conditions", text: t("drop_conditions"),
      onclick: () => {
        model.dropConditions(naming);
        editor.renderTree();
        editor.renderField();
        editor.renderForm(status && status.key);
        drop.remove();
        list.replaceWith(el("p", { text: t("conditions_dropped").replace("{n}", naming.length) }));
        changed();
        undo.focus();
      },
    });
    parts.push(el("p", { text: t("conditions_name_it").replace("{n}", naming.length) }), list, drop, " ");
  }
  box.className = "cf-notice";
  box.replaceChildren(...parts, undo);
  box.hidden = false;
};
const preview = new Preview({
  root: $("cf-b-preview"), form: $("cf-b-preview-form"), gaps: $("cf-b-gaps"), status: $("cf-b-preview-status"),
  url: data.endpoints.preview, t, onResult: (result) => checkedResult(result),
});

function definition() {
  const def = model.toJSON();
  if (status && status.key) def.key = status.key;
  return def;
}

function changed() {
  checked = false;
  updateToolbar();
  preview.schedule(structuredClone(definition()));
}

// A check's message without the source and place it starts with ("form 'x': /schema/...: "): the builder shows
// it beside the field it is about.
const plain = (p) => String(p.message || p.code || "").replace(/^form '[^']*': (\/[^:]*: )?/, "");

function checkedResult(result) {
  // a condition naming a field the form no longer has: never saved (the server's check does not look)
  const dangling = model.danglingConditions().map((d) => ({
    path: d.pointer, code: "condition_names_no_field",
    message: t("dangling_condition").replace("{names}", d.names.join(", ")),
  }));
  problems = [...(result.problems || []), ...(result.ok ? dangling : [])];
  checked = result.ok;
  const byField = new Map();
  const formMessages = [];
  for (const p of problems) {
    const path = fieldOfProblem(model, p.path);
    const message = plain(p);
    if (path) {
      const key = JSON.stringify(path);
      if (!byField.has(key)) byField.set(key, []);
      byField.get(key).push(message);
    } else {
      formMessages.push(message);
    }
  }
  editor.setProblems(byField);
  editor.setFormProblems(formMessages);
  const list = $("cf-b-problems");
  list.replaceChildren(...problems.map((p) => {
    const path = fieldOfProblem(model, p.path);
    const text = plain(p);
    if (!path) return el("li", { dataset: { path: p.path || "" }, text });
    return el("li", { dataset: { path: p.path || "" } }, el("button", {
      type: "button", className: "cf-link", text,
      onclick: () => { showTab("fields"); editor.select(path); editor.focusItem(path); },
    }));
  }));
  $("cf-b-problem-box").hidden = !problems.length;
  updateToolbar();
}

function updateToolbar() {
  const missing = model.missingTranslations().length;
  $("cf-b-missing-count").textContent = t("missing_count").replace("{n}", missing);
  $("cf-b-missing-count").dataset.count = String(missing);
  $("cf-b-problem-count").textContent = t("problem_count").replace("{n}", problems.length);
  $("cf-b-problem-count").dataset.count = String(problems.length);
  const editable = !status || status.editable || !status.open;
  const save = $("cf-b-save");
  save.textContent = status && !status.editable && !status.open ? t("save_new_version") : t("save");
  save.disabled = !checked || problems.length > 0 || !editable;
  save.title = !editable ? t("in_approval_short") : (problems.length ? t("fix_first") : (!checked ? t("checking") : ""));
  $("cf-b-save-why").textContent = save.title;
}

// ---- save and the approval steps -----------------------------------------------------------------------

async function save() {
  if ($("cf-b-save").disabled) return;
  const body = { definition: definition() };
  if (status) { body.key = status.key; body.version = status.version; body.revision = status.revision; }
  $("cf-b-save").disabled = true;
  const result = await postJSON(data.endpoints.save, body);
  if (result.status === 200 || result.status === 201) {
    setStatus(result.body, t(result.status === 201 ? "saved_new" : "saved"));
    if (location.pathname !== result.body.builder_url) history.replaceState(null, "", result.body.builder_url);
  } else {
    const error = (result.body && result.body.error) || { message: t("save_failed"), details: [] };
    message(error.message, true);
    if (Array.isArray(error.details) && error.details.length) checkedResult({ ok: true, problems: error.details });
  }
  updateToolbar();
}

function message(text, isError = false) {
  const box = $("cf-b-message");
  box.textContent = text;
  box.className = isError ? "cf-error-summary" : "cf-notice";
  box.hidden = !text;
  if (text) box.focus();
}

function setStatus(next, note) {
  status = next;
  renderStatus();
  editor.renderForm(status.key);
  if (note) message(note);
}

function renderStatus() {
  const box = $("cf-b-status");
  if (!status) { box.replaceChildren(el("p", { className: "cf-help", text: t("not_saved") })); return; }
  const actions = el("div", { className: "cf-b-actions", id: "cf-b-actions" });
  for (const option of status.options) {
    if (!option.allowed) continue;
    const wantsOpinion = option.requires.includes("opinion") || option.asks.includes("opinion");
    const id = `cf-b-opinion-${status.options.indexOf(option)}`;
    const opinion = wantsOpinion ? el("textarea", { id, className: "cf-input", rows: "2" }) : null;
    actions.append(el("div", { className: "cf-b-action" },
      opinion ? el("label", { for: id, className: "cf-label", text: t("opinion") }) : null, opinion,
      el("button", {
        type: "button", className: "cf-button cf-button--primary", dataset: { trigger: option.trigger }, text: option.title,
        onclick: () => fire(option, opinion ? opinion.value : ""),
      })));
  }
  box.replaceChildren(
    el("p", {}, el("span", { text: `${t("version")} ${status.version} · ` }),
      el("strong", { id: "cf-b-state", dataset: { state: status.state }, text: status.state_title }), " · ",
      el("a", { href: status.url, id: "cf-b-version-link", text: t("open_version") })),
    actions);
}

async function fire(option, opinion) {
  const url = `${location.origin}/admin/forms/${encodeURIComponent(status.key)}/versions/${status.version}/builder-action`;
  const body = { trigger: option.trigger, revision: status.revision };
  if (opinion) body.opinion = opinion;
  const result = await postJSON(url, body);
  if (result.status === 200) {
    setStatus(result.body, `${option.title}: ${t("done")}`);
  } else {
    message((result.body && result.body.error && result.body.error.message) || t("save_failed"), true);
  }
  updateToolbar();
}

// ---- export, import, raw JSON --------------------------------------------------------------------------

function exportDefinition() {
  const text = JSON.stringify(definition(), null, 2);
  const link = el("a", { href: URL.createObjectURL(new Blob([text], { type: "application/json" })), download: `${definition().key || "form"}.json` });
  document.body.append(link);
  link.click();
  setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
}

function replaceModel(text, where) {
  let parsed;
  try { parsed = JSON.parse(text); } catch (err) {
    where.textContent = `${t("bad_json")}: ${err.message}`;
    where.hidden = false;
    return false;
  }
  if (!isObject(parsed)) {
    where.textContent = t("not_an_object");
    where.hidden = false;
    return false;
  }
  where.hidden = true;
  model.load(parsed);
  editor.select(null, false);
  editor.renderTree();
  editor.renderForm(status && status.key);
  changed();
  return true;
}

async function importFile() {
  const file = $("cf-b-import-file").files[0];
  if (!file) return;
  const text = await file.text();
  $("cf-b-import-text").value = text;
  if (replaceModel(text, $("cf-b-import-error"))) { showTab("fields"); message(t("imported")); }
}

// ---- tabs ----------------------------------------------------------------------------------------------

function showTab(name) {
  for (const tab of document.querySelectorAll("[data-cf-tab]")) {
    const on = tab.dataset.cfTab === name;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !on;
  }
  if (name === "json") $("cf-b-json").value = JSON.stringify(definition(), null, 2);
  if (name === "form") editor.renderForm(status && status.key);
}

function tabKeys(event) {
  const tabs = [...document.querySelectorAll("[data-cf-tab]")];
  const at = tabs.indexOf(event.currentTarget);
  const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (to === undefined) return;
  event.preventDefault();
  const next = tabs[(to + tabs.length) % tabs.length];
  next.focus();
  showTab(next.dataset.cfTab);
}

for (const tab of document.querySelectorAll("[data-cf-tab]")) {
  tab.addEventListener("click", () => showTab(tab.dataset.cfTab));
  tab.addEventListener("keydown", tabKeys);
}
$("cf-b-save").addEventListener("click", save);
$("cf-b-export").addEventListener("click", exportDefinition);
$("cf-b-import-apply").addEventListener("click", () => {
  if (replaceModel($("cf-b-import-text").value, $("cf-b-import-error"))) { showTab("fields"); message(t("imported")); }
});
$("cf-b-import-file").addEventListener("change", importFile);
$("cf-b-json-apply").addEventListener("click", () => { if (replaceModel($("cf-b-json").value, $("cf-b-json-error"))) message(t("applied")); });
$("cf-b-try").addEventListener("click", () => preview.run(structuredClone(definition()), true));
$("cf-b-recheck").addEventListener("click", () => preview.run(structuredClone(definition()), false));

// A template from the gallery (?template=KEY): its definition as a new form's start.
const template = new URLSearchParams(location.search).get("template");
if (!data.definition && template && /^[a-z][a-z0-9-]{1,63}$/.test(template)) {
  try {
    const response = await fetch(`${data.endpoints.templates}${template}.json`, { headers: { Accept: "application/json" } });
    if (response.ok) {
      const found = await response.json();
      const def = isObject(found.definition) ? found.definition : found;
      if (isObject(def)) model.load(def);          // under a key no form has yet (the gallery's choice)
    }
  } catch { /* the gallery is not there: a blank form */ }
}

if (status) setStatus(status, "");
else renderStatus();
editor.renderTree();
editor.renderField();
editor.renderForm(status && status.key);
showTab("fields");
$("cf-builder").dataset.ready = "1";
changed();
