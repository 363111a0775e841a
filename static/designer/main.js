// The process designer (issue 9, item 2): draw a workflow on a canvas, edit each state and transition in the
// side panel, see the upload's checks live, save through the service (draft, new version), move a version
// through its approval with the buttons the server lists. No process, state or trigger name is known here:
// every choice comes from the page's data (the registry, the meta-schema's choices) or the definition.
import * as M from "./model.js";
import {draw} from "./canvas.js";

const data = JSON.parse(document.getElementById("cf-designer-data").textContent);
const LANG = data.lang === "en" ? "en" : "zh-CN";
const CSRF = (document.querySelector('meta[name="cf-csrf"]') || {}).content || "";

const WORDS = {
  toolbar: {"zh-CN": "设计工具", en: "Designer tools"},
  add_state: {"zh-CN": "添加环节", en: "Add state"},
  connect: {"zh-CN": "连线", en: "Connect"},
  connecting_source: {"zh-CN": "连线：请选择起点环节（点击或按 Enter），Esc 取消",
                      en: "Connect: pick the source state (click or Enter); Esc cancels"},
  connecting_dest: {"zh-CN": "连线：请选择终点环节", en: "Connect: now pick the destination state"},
  remove: {"zh-CN": "删除所选", en: "Delete selected"},
  save: {"zh-CN": "保存", en: "Save"},
  save_new: {"zh-CN": "保存为新流程（草稿）", en: "Save as a new process (draft)"},
  save_draft: {"zh-CN": "保存草稿", en: "Save the draft"},
  save_version: {"zh-CN": "保存为新版本（草稿）", en: "Save as a new version (draft)"},
  saved: {"zh-CN": "已保存：版本 {v}（{state}）", en: "Saved: version {v} ({state})"},
  export_yaml: {"zh-CN": "导出 YAML", en: "Export YAML"},
  export_json: {"zh-CN": "导出 JSON", en: "Export JSON"},
  import: {"zh-CN": "导入（YAML 或 JSON）", en: "Import (YAML or JSON)"},
  imported: {"zh-CN": "已导入，尚未保存", en: "Imported; not saved yet"},
  canvas: {"zh-CN": "流程图（环节与流转）", en: "Diagram (states and transitions)"},
  state: {"zh-CN": "环节", en: "State"},
  transition: {"zh-CN": "流转", en: "Transition"},
  process: {"zh-CN": "流程", en: "Process"},
  key: {"zh-CN": "流程标识（小写字母、数字、下划线）", en: "Key (lowercase letters, digits, _)"},
  title: {"zh-CN": "名称", en: "Title"},
  description: {"zh-CN": "说明", en: "Description"},
  zh: {"zh-CN": "中文", en: "Chinese"},
  en: {"zh-CN": "英文", en: "English"},
  missing: {"zh-CN": "缺少翻译：{langs}", en: "Missing translation: {langs}"},
  initial: {"zh-CN": "起始环节", en: "Initial state"},
  name: {"zh-CN": "标识（小写字母、数字、下划线）", en: "Name (lowercase letters, digits, _)"},
  trigger: {"zh-CN": "操作标识（小写字母、数字、下划线）", en: "Trigger (lowercase letters, digits, _)"},
  nothing_selected: {"zh-CN": "在流程图中选择一个环节或流转进行编辑。", en: "Select a state or a transition in the diagram to edit it."},
  checking: {"zh-CN": "检查中…", en: "Checking…"},
  no_problems: {"zh-CN": "检查通过：没有问题", en: "Checks passed: no problems"},
  problems: {"zh-CN": "{n} 个问题（修正后才能保存）", en: "{n} problem(s) (fix them to save)"},
  problems_here: {"zh-CN": "此处的问题", en: "Problems here"},
  flags: {"zh-CN": "环节属性", en: "Flags"},
  final: {"zh-CN": "结束环节（final）", en: "Final (the process ends here)"},
  ends_record: {"zh-CN": "业务单在此终结（ends_record）", en: "Ends the record (ends_record)"},
  editable: {"zh-CN": "草稿，可自由修改（editable）", en: "Draft, freely edited (editable)"},
  in_use: {"zh-CN": "使用中（in_use，仅用于定义审批）", en: "In use (in_use, definition approval only)"},
  grants_reading: {"zh-CN": "授予查阅（grants_reading）", en: "Grants reading (grants_reading)"},
  cooling_off: {"zh-CN": "冷静期（cooling_off）", en: "Cooling-off period (cooling_off)"},
  disposes: {"zh-CN": "执行销毁（disposes）", en: "Executes destruction (disposes)"},
  tombstone: {"zh-CN": "销毁后留存墓碑（tombstone）", en: "Tombstone after destruction (tombstone)"},
  acknowledges: {"zh-CN": "签收（acknowledges）", en: "Acknowledges (acknowledges)"},
  with_data: {"zh-CN": "在数据表单上提供（with_data）", en: "Offered on the data form (with_data)"},
  read_only: {"zh-CN": "只读", en: "Read only"},
  amendable_by: {"zh-CN": "可调整销毁清单的角色（amendable_by）", en: "Roles that may amend a destruction list (amendable_by)"},
  canvas_help: {"zh-CN": "Tab 键在环节与流转之间移动，Enter 选择，Delete 删除，Esc 取消连线。",
                en: "Tab moves between states and transitions, Enter selects, Delete removes, Esc cancels connecting."},
  reading: {"zh-CN": "查阅范围", en: "Who reads"},
  clock: {"zh-CN": "计时", en: "Clock"},
  default: {"zh-CN": "默认", en: "default"},
  yes: {"zh-CN": "是", en: "yes"},
  no: {"zh-CN": "否", en: "no"},
  none: {"zh-CN": "无", en: "none"},
  deadline: {"zh-CN": "时限（工作日）", en: "Deadline (working days)"},
  deadline_kind: {"zh-CN": "时限方式", en: "Kind of deadline"},
  deadline_days: {"zh-CN": "固定工作日数", en: "A number of working days"},
  deadline_setting: {"zh-CN": "按系统设置（补正告知时限）", en: "From the setting (the notice's limit)"},
  deadline_field: {"zh-CN": "按字段取值（见导出的定义）", en: "By a field's value (see the exported definition)"},
  timeout: {"zh-CN": "超时处理", en: "Timeout action"},
  timeout_trigger: {"zh-CN": "超时触发的流转", en: "Transition fired on timeout"},
  approval: {"zh-CN": "多人审批环节", en: "Approval step with several people"},
  approval_on: {"zh-CN": "此环节由多人审批", en: "Several people decide this state"},
  mode: {"zh-CN": "审批方式", en: "Mode"},
  ratio_approve: {"zh-CN": "通过票数", en: "Approvals needed"},
  ratio_of: {"zh-CN": "总票数", en: "Out of"},
  approvers: {"zh-CN": "审批人", en: "Approvers"},
  approver_kind: {"zh-CN": "审批人类型", en: "Kind of approver"},
  by_role: {"zh-CN": "按角色", en: "By role"},
  by_department: {"zh-CN": "按角色和部门", en: "By role in a department"},
  dept_head: {"zh-CN": "业务单所在部门负责人", en: "The record's department head"},
  by_users: {"zh-CN": "指定人员", en: "Named people"},
  role: {"zh-CN": "角色", en: "Role"},
  department: {"zh-CN": "部门（record 表示业务单所在部门）", en: "Department (record: the record's own)"},
  add_approver: {"zh-CN": "添加审批人", en: "Add approvers"},
  remove_approver: {"zh-CN": "移除此审批人", en: "Remove these approvers"},
  approve_with: {"zh-CN": "通过时触发的流转", en: "Transition when the step passes"},
  reject_with: {"zh-CN": "驳回时触发的流转", en: "Transition when the step is rejected"},
  step_opinion: {"zh-CN": "审批意见", en: "Opinion"},
  step_actions: {"zh-CN": "可用的审批操作", en: "Step actions offered"},
  urge_interval: {"zh-CN": "催办间隔（分钟）", en: "Urge interval (minutes)"},
  field_rights: {"zh-CN": "字段权限", en: "Field rights"},
  form_context: {"zh-CN": "参照表单（用于选择字段）", en: "Form for picking fields"},
  choose_form: {"zh-CN": "请先在流程属性中选择参照表单", en: "Choose a form in the process panel to pick fields"},
  hidden: {"zh-CN": "对本环节隐藏的字段", en: "Fields hidden from this step"},
  editable_fields: {"zh-CN": "本环节可修改的字段", en: "Fields this step may edit"},
  source: {"zh-CN": "起点环节", en: "From"},
  dest: {"zh-CN": "终点环节", en: "To"},
  roles: {"zh-CN": "可操作的角色", en: "Roles who may fire it"},
  guards: {"zh-CN": "检查条件（从登记表选择）", en: "Guards (from the registry)"},
  actions: {"zh-CN": "动作（从登记表选择）", en: "Actions (from the registry)"},
  requires: {"zh-CN": "必填输入", en: "Required inputs"},
  asks: {"zh-CN": "可选输入", en: "Optional inputs"},
  opinion_rule: {"zh-CN": "意见规则", en: "Opinion rule"},
  opinion_none: {"zh-CN": "不需要意见", en: "No opinion"},
  opinion_optional: {"zh-CN": "可填意见", en: "Opinion optional"},
  opinion_required: {"zh-CN": "必须填写意见", en: "Opinion required"},
  branch: {"zh-CN": "条件分支", en: "Branch"},
  branch_if: {"zh-CN": "当条件成立（从登记表选择）", en: "When (from the registry)"},
  branch_dest: {"zh-CN": "改为进入", en: "Go instead to"},
  duty: {"zh-CN": "本操作承担的职责", en: "Duty filled"},
  separate_from: {"zh-CN": "不得已承担的职责（职责分离）", en: "Parts the caller may not already play"},
  assignee_separate_from: {"zh-CN": "经办人不得已承担的职责", en: "Parts the assignee may not play"},
  notifies: {"zh-CN": "通知", en: "Notifies"},
  failed: {"zh-CN": "属于不利结果（告知原因）", en: "A refusal (say why)"},
  shows: {"zh-CN": "之后显示的凭证", en: "Printable page after it"},
  approval_actions: {"zh-CN": "审批", en: "Approval"},
  opinion: {"zh-CN": "意见", en: "Opinion"},
  versions: {"zh-CN": "版本（差异见版本页）", en: "Versions (differences on each version page)"},
  in_use_now: {"zh-CN": "使用中", en: "in use"},
  shipped_copy: {"zh-CN": "复制为新流程", en: "Make a copy"},
  copy_key: {"zh-CN": "副本的流程标识", en: "Key of the copy"},
  copied: {"zh-CN": "已复制为「{key}」，尚未保存", en: "Copied as '{key}'; not saved yet"},
  read_only_note: {"zh-CN": "此版本只读（已提交审批、已停用或不是最新版本）。",
                   en: "This version is read only (in approval, retired, or not the latest)."},
  error: {"zh-CN": "出错了：{message}", en: "Something went wrong: {message}"},
  unsaved: {"zh-CN": "有未保存的修改", en: "Unsaved changes"},
  described_missing: {"zh-CN": "（无说明）", en: "(no description)"},
};
const ROLE_TITLES = {
  admin: {"zh-CN": "管理员", en: "admin"}, clerk: {"zh-CN": "窗口人员", en: "clerk"},
  reviewer: {"zh-CN": "审核人员", en: "reviewer"}, dept_head: {"zh-CN": "部门负责人", en: "department head"},
  manager: {"zh-CN": "管理层", en: "manager"}, archivist: {"zh-CN": "档案管理员", en: "archivist"},
  supervisor: {"zh-CN": "监督人员", en: "supervisor"}, auditor: {"zh-CN": "审计人员", en: "auditor"},
};
const MODE_TITLES = {
  all: {"zh-CN": "会签（全部通过）", en: "会签: all approve"},
  any: {"zh-CN": "或签（任一人决定）", en: "或签: any one decides"},
  sequence: {"zh-CN": "依次（按顺序）", en: "依次: one after another"},
  ratio: {"zh-CN": "按比例表决", en: "A vote ratio"},
};
const CHOICE_TITLES = {
  opinion: {"zh-CN": "意见", en: "opinion"}, assignee: {"zh-CN": "经办人", en: "assignee"},
  authority: {"zh-CN": "依据", en: "authority"}, reason: {"zh-CN": "理由", en: "reason"},
  refer_to: {"zh-CN": "告知去处", en: "where else to go"}, items: {"zh-CN": "补正事项", en: "items"},
  running: {"zh-CN": "计时", en: "running"}, paused: {"zh-CN": "暂停计时", en: "paused"},
  stopped: {"zh-CN": "停止计时", en: "stopped"}, open: {"zh-CN": "按部门规则", en: "open"},
  granted: {"zh-CN": "仅授权人员", en: "granted only"}, required: {"zh-CN": "必须填写", en: "required"},
  optional: {"zh-CN": "可选", en: "optional"}, remind: {"zh-CN": "提醒", en: "remind"},
  escalate: {"zh-CN": "上报部门负责人", en: "escalate"}, fire: {"zh-CN": "自动触发流转", en: "fire a transition"},
  send_back: {"zh-CN": "退回", en: "send back"}, transfer: {"zh-CN": "转办", en: "transfer"},
  delegate: {"zh-CN": "委派", en: "delegate"}, add_approver: {"zh-CN": "加签", en: "add an approver"},
  withdraw: {"zh-CN": "撤回", en: "withdraw"}, copy: {"zh-CN": "抄送", en: "copy"}, urge: {"zh-CN": "催办", en: "urge"},
  notice: {"zh-CN": "一次性告知书", en: "notice"}, receipt: {"zh-CN": "受理回执", en: "receipt"},
  decision: {"zh-CN": "决定书", en: "decision"},
};
// timeout actions `approve`/`reject` are the format's own words (meta-schema), labelled by their meaning
const TIMEOUT_TITLES = {approve: {"zh-CN": "自动通过", en: "approve automatically"},
                        reject: {"zh-CN": "自动驳回", en: "reject automatically"}};

function w(key, params = {}) {
  const entry = WORDS[key];
  let out = entry ? entry[LANG] || entry["zh-CN"] : key;
  for (const [k, v] of Object.entries(params)) out = out.split(`{${k}}`).join(String(v));
  return out;
}
function bi(value) {
  if (typeof value === "string") return value;
  if (value && typeof value === "object") return value[LANG] || value["zh-CN"] || value.en || "";
  return "";
}
function choiceTitle(value, table = CHOICE_TITLES) {
  const found = table[value];
  return found ? `${found[LANG]} (${value})` : value;
}

// ---- state ----------------------------------------------------------------------------------------------

const ui = {
  def: data.definition ? JSON.parse(JSON.stringify(data.definition)) : M.emptyDefinition(),
  selected: {kind: "none", index: -1},
  connecting: false, connectFrom: -1,
  layout: null, problems: [], checkPending: false, dirty: false,
  form: "", notice: "", error: "",
};
let checkTimer = 0; let layoutTimer = 0; let checkSeq = 0; let layoutSeq = 0;
let idSeq = 0;
const nextId = (stem) => `cf-ds-${stem}-${(idSeq += 1)}`;

// ---- server calls -----------------------------------------------------------------------------------------

async function call(url, body) {
  const response = await fetch(url, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": CSRF, Accept: "application/json"},
    body: JSON.stringify(body)});
  let payload = null;
  try { payload = await response.json(); } catch (e) { payload = null; }
  if (!response.ok) {
    const error = (payload && payload.error) || {message: String(response.status), details: []};
    const failure = new Error(error.message);
    failure.details = error.details || [];
    failure.code = error.code;
    throw failure;
  }
  return payload;
}

function scheduleCheck() {
  ui.checkPending = true;
  renderStatus();
  clearTimeout(checkTimer);
  checkTimer = setTimeout(runCheck, 350);
}

async function runCheck() {
  const seq = (checkSeq += 1);
  try {
    const body = {definition: M.clean(ui.def)};
    if (data.key) body.key = data.key;
    const result = await call(data.urls.check, body);
    if (seq !== checkSeq) return;
    ui.problems = result.problems || [];
    ui.error = "";
  } catch (e) {
    if (seq !== checkSeq) return;
    ui.problems = (e.details && e.details.length) ? e.details : [{path: "", message: e.message}];
  }
  ui.checkPending = false;
  renderCanvas();
  renderStatus();
  renderPanelProblems();
}

function scheduleLayout() {
  clearTimeout(layoutTimer);
  layoutTimer = setTimeout(async () => {
    const seq = (layoutSeq += 1);
    try {
      const found = await call(data.urls.layout, {definition: M.clean(ui.def)});
      if (seq === layoutSeq) { ui.layout = found; renderCanvas(); }
    } catch (e) { /* the canvas keeps its row layout */ }
  }, 150);
}

function changed(structural = false) {
  ui.dirty = true;
  ui.notice = "";
  if (structural) scheduleLayout();
  renderCanvas();
  scheduleCheck();
}

// ---- small builders (DOM only; every text through textContent) -------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "className") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) if (child) node.appendChild(child);
  return node;
}

function field(label, control, help = null) {
  if (!control.id) control.id = nextId("f");
  return h("div", {className: "cf-field cf-ds-field"},
    h("label", {className: "cf-label", for: control.id, text: label}), control,
    help ? h("div", {className: "cf-help", text: help}) : null);
}

function textInput(value, onInput, attrs = {}) {
  const input = h("input", {className: "cf-input", type: "text", value: value || "", ...attrs});
  input.value = value || "";
  input.addEventListener("input", () => onInput(input.value));
  return input;
}

function numberInput(value, onInput, attrs = {}) {
  const input = h("input", {className: "cf-input cf-ds-number", type: "number", ...attrs});
  input.value = value === undefined || value === null ? "" : String(value);
  input.addEventListener("input", () => onInput(input.value === "" ? null : Number(input.value)));
  return input;
}

function select(options, value, onChange, attrs = {}) {
  const node = h("select", {className: "cf-input", ...attrs});
  for (const [v, label] of options) {
    const option = h("option", {value: v, text: label});
    if (v === (value === undefined || value === null ? "" : String(value))) option.selected = true;
    node.appendChild(option);
  }
  node.addEventListener("change", () => onChange(node.value));
  return node;
}

function checkbox(label, checked, onChange, attrs = {}) {
  const input = h("input", {type: "checkbox", id: attrs.id || nextId("c"), ...attrs});
  input.checked = Boolean(checked);
  input.addEventListener("change", () => onChange(input.checked));
  return h("div", {className: "cf-ds-check"}, input, h("label", {for: input.id, text: label}));
}

function checkGroup(legend, given, selected, onChange, attrs = {}) {
  const chosen = new Set(selected || []);
  // a value the definition holds but no option offers (an inactive user, a name not registered) stays shown
  const known = new Set(given.map((o) => (Array.isArray(o) ? o[0] : o)));
  const options = given.concat([...chosen].filter((v) => !known.has(v)).map((v) => [v, `${v} ⚠`]));
  const box = h("fieldset", {className: "cf-ds-group", ...attrs}, h("legend", {text: legend}));
  for (const opt of options) {
    const [value, label, help] = Array.isArray(opt) ? opt : [opt, opt, null];
    const row = checkbox(label, chosen.has(value), (on) => {
      if (on) chosen.add(value); else chosen.delete(value);
      onChange(options.map((o) => (Array.isArray(o) ? o[0] : o)).filter((v) => chosen.has(v))
        .concat([...chosen].filter((v) => !options.some((o) => (Array.isArray(o) ? o[0] : o) === v))));
    }, {"data-value": value});
    if (help) row.appendChild(h("div", {className: "cf-help", text: help}));
    box.appendChild(row);
  }
  return box;
}

/** A bilingual text: one input per language, and a mark for each missing translation. */
function bilingual(label, holder, key, idStem, onChange) {
  const value = holder[key];
  if (typeof value === "string") holder[key] = {"zh-CN": value, en: value};
  if (!holder[key] || typeof holder[key] !== "object") holder[key] = {"zh-CN": "", en: ""};
  const mark = h("p", {className: "cf-ds-missing", role: "status"});
  const refresh = () => {
    const lacking = M.missingLanguages(holder[key]);
    const some = lacking.length === 1;
    mark.textContent = some ? w("missing", {langs: lacking.map((l) => (l === "en" ? w("en") : w("zh"))).join("、")}) : "";
    mark.hidden = !some;
  };
  const box = h("fieldset", {className: "cf-ds-group cf-ds-bilingual"}, h("legend", {text: label}));
  for (const [code, name] of [["zh-CN", w("zh")], ["en", w("en")]]) {
    const input = textInput(holder[key][code], (v) => { holder[key][code] = v; refresh(); onChange(); },
      {id: `${idStem}-${code}`, lang: code, maxlength: 500});
    box.appendChild(field(name, input));
  }
  refresh();
  box.appendChild(mark);
  return box;
}

// ---- layout of the page -----------------------------------------------------------------------------------

const root = document.getElementById("cf-designer");
const editable = () => Boolean(data.editable);

const bar = h("div", {className: "cf-ds-toolbar", role: "toolbar", "aria-label": w("toolbar")});
const statusLine = h("p", {className: "cf-ds-status", id: "cf-ds-status", role: "status", "aria-live": "polite"});
const noticeLine = h("p", {className: "cf-ds-notice", id: "cf-ds-notice", role: "status", "aria-live": "polite"});
const problemsBox = h("div", {className: "cf-ds-problems", id: "cf-ds-problems"});
const canvasWrap = h("div", {className: "cf-ds-canvas"});
const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
svg.setAttribute("id", "cf-ds-svg");
svg.setAttribute("role", "group");
svg.setAttribute("aria-label", w("canvas"));
canvasWrap.appendChild(svg);
svg.setAttribute("aria-describedby", "cf-ds-canvas-help");
canvasWrap.addEventListener("click", () => pick("none", -1));
const processPanel = h("section", {className: "cf-card cf-ds-panel", id: "cf-ds-process", "aria-label": w("process")});
const panel = h("section", {className: "cf-card cf-ds-panel", id: "cf-ds-panel", "aria-live": "off"});
const approvalBox = h("section", {className: "cf-card", id: "cf-ds-approval"});
const versionsBox = h("section", {className: "cf-card", id: "cf-ds-versions"});
const banner = h("div", {className: "cf-ds-banner", id: "cf-ds-banner"});

root.append(banner, bar, statusLine, noticeLine,
  h("div", {className: "cf-ds-main"}, h("div", {className: "cf-ds-left"}, canvasWrap,
    h("p", {className: "cf-help", id: "cf-ds-canvas-help", text: w("canvas_help")}), problemsBox),
    h("div", {className: "cf-ds-right"}, panel, processPanel)),
  approvalBox, versionsBox);

function button(label, onClick, attrs = {}) {
  return h("button", {type: "button", className: "cf-button", onclick: onClick, text: label, ...attrs});
}

function renderToolbar() {
  bar.replaceChildren();
  if (editable()) {
    bar.append(
      button(w("add_state"), () => {
        const index = M.addState(ui.def);
        ui.selected = {kind: "state", index};
        changed(true); renderPanel(); focusSelected();
      }, {id: "cf-ds-add-state"}),
      button(w("connect"), () => startConnect(), {id: "cf-ds-connect", "aria-pressed": ui.connecting ? "true" : "false"}),
      button(w("remove"), () => removeSelected(), {id: "cf-ds-remove", disabled: ui.selected.kind === "none"}),
      button(saveLabel(), () => save(), {id: "cf-ds-save", className: "cf-button cf-button--primary"}));
  }
  bar.append(button(w("export_yaml"), () => exportAs("yaml"), {id: "cf-ds-export-yaml"}),
    button(w("export_json"), () => exportAs("json"), {id: "cf-ds-export-json"}));
  if (editable()) {
    const file = h("input", {type: "file", id: "cf-ds-import", accept: ".yaml,.yml,.json,application/json,text/yaml"});
    file.addEventListener("change", () => importFile(file));
    bar.append(h("label", {for: "cf-ds-import", className: "cf-ds-import", text: w("import")}), file);
  }
}

function saveLabel() {
  if (!data.key) return w("save_new");
  return data.is_draft && data.latest ? w("save_draft") : w("save_version");
}

function renderBanner() {
  banner.replaceChildren();
  if (editable() || !data.is_admin) {
    if (!editable() && data.definition) banner.append(h("p", {className: "cf-ds-readonly", text: w("read_only_note")}));
    return;
  }
  const text = data.shipped ? data.messages.shipped : w("read_only_note");
  const input = textInput("", () => {}, {id: "cf-ds-copy-key", maxlength: 64, pattern: "[a-z][a-z0-9_]{1,63}"});
  banner.append(h("p", {className: "cf-ds-readonly", text}),
    h("div", {className: "cf-ds-copy"}, field(w("copy_key"), input),
      button(w("shipped_copy"), () => makeCopy(input.value.trim()), {id: "cf-ds-copy"})));
}

function makeCopy(key) {
  ui.def = JSON.parse(JSON.stringify(ui.def));
  ui.def.key = key;
  Object.assign(data, {key: null, version: null, revision: null, state: null, is_draft: false, latest: true,
                       shipped: false, editable: true, options: [], versions: []});
  ui.notice = w("copied", {key});
  renderAll();
  changed(true);
}

function renderStatus() {
  let text;
  if (ui.checkPending) text = w("checking");
  else if (ui.problems.length) text = w("problems", {n: ui.problems.length});
  else text = w("no_problems");
  statusLine.textContent = text + (ui.dirty ? ` · ${w("unsaved")}` : "");
  statusLine.dataset.problems = String(ui.problems.length);
  statusLine.dataset.pending = ui.checkPending ? "1" : "0";
  statusLine.className = "cf-ds-status" + (ui.problems.length ? " cf-ds-status--bad" : "");
  noticeLine.textContent = ui.error || ui.notice;
  noticeLine.className = "cf-ds-notice" + (ui.error ? " cf-ds-notice--bad" : "");
  const saveButton = document.getElementById("cf-ds-save");
  if (saveButton) saveButton.disabled = ui.checkPending || ui.problems.length > 0;
  problemsBox.replaceChildren();
  if (!ui.problems.length) return;
  const list = h("ul", {});
  for (const p of ui.problems) {
    const place = M.placeOf(p.path);
    const where = describePlace(place);
    list.appendChild(h("li", {"data-path": p.path || ""},
      place.kind === "process" ? h("span", {text: where}) :
        button(where, () => { pick(place.kind, place.index, true); }, {className: "cf-link"}),
      h("span", {text: ` ${p.message}`})));
  }
  problemsBox.append(h("h2", {text: w("problems", {n: ui.problems.length})}), list);
}

function describePlace(place) {
  if (place.kind === "state") {
    const s = ui.def.states[place.index];
    return `${w("state")} ${s ? bi(s.title) || s.name : place.index}:`;
  }
  if (place.kind === "transition") {
    const t = ui.def.transitions[place.index];
    return `${w("transition")} ${t ? bi(t.title) || t.trigger : place.index}:`;
  }
  return `${w("process")}:`;
}

function badSets() {
  const states = new Set(); const transitions = new Set();
  for (const p of ui.problems) {
    const place = M.placeOf(p.path);
    if (place.kind === "state") states.add(place.index);
    if (place.kind === "transition") transitions.add(place.index);
  }
  return {states, transitions};
}

function renderCanvas() {
  // a redraw replaces the elements: the one that had the keyboard focus gets it back
  const active = svg.contains(document.activeElement) ? document.activeElement : null;
  const again = active && (active.hasAttribute("data-index") ? `[data-index="${active.getAttribute("data-index")}"]` :
    active.hasAttribute("data-transition") ? `[data-transition="${active.getAttribute("data-transition")}"]` : null);
  drawCanvas();
  const target = again && svg.querySelector(again);
  if (target) target.focus();
}

function drawCanvas() {
  const missing = new Set();
  (ui.def.states || []).forEach((s, i) => { if (M.missingLanguages(s.title).length) missing.add(i); });
  const missingTransitions = new Set();
  (ui.def.transitions || []).forEach((t, i) => { if (M.missingLanguages(t.title).length) missingTransitions.add(i); });
  const modes = {};
  for (const [k, v] of Object.entries(MODE_TITLES)) modes[k] = v[LANG].split(/[（:]/)[0];
  draw(svg, ui.def, ui.layout, {lang: LANG, selected: ui.selected, connectFrom: ui.connectFrom, bad: badSets(),
    missing, missingTransitions, words: {state: w("state"), transition: w("transition"), modes}, onPick: pick,
    onDelete: editable() ? (kind, index) => { ui.selected = {kind, index}; removeSelected(); } : null});
}

function focusSelected() {
  const {kind, index} = ui.selected;
  const node = kind === "state" ? svg.querySelector(`[data-index="${index}"]`) :
    kind === "transition" ? svg.querySelector(`[data-transition="${index}"]`) : null;
  if (node) node.focus();
}

// ---- picking and connecting ----------------------------------------------------------------------------------

function startConnect() {
  ui.connecting = true;
  ui.connectFrom = -1;
  ui.notice = w("connecting_source");
  renderToolbar(); renderStatus(); renderCanvas();
  const first = svg.querySelector(".cf-ds-state");
  if (first) first.focus();
}

function pick(kind, index, fromProblem = false) {
  if (ui.connecting && editable()) {
    if (kind === "none") { ui.connecting = false; ui.connectFrom = -1; ui.notice = ""; renderToolbar(); renderStatus(); renderCanvas(); return; }
    if (kind !== "state") return;
    if (ui.connectFrom < 0) {
      ui.connectFrom = index;
      ui.notice = w("connecting_dest");
      renderStatus(); renderCanvas();
      const node = svg.querySelector(`[data-index="${index}"]`);
      if (node) node.focus();
      return;
    }
    const source = ui.def.states[ui.connectFrom].name;
    const dest = ui.def.states[index].name;
    const made = M.addTransition(ui.def, source, dest);
    ui.connecting = false; ui.connectFrom = -1;
    ui.selected = {kind: "transition", index: made};
    renderToolbar(); changed(true); renderPanel(); focusSelected();
    return;
  }
  ui.selected = {kind, index};
  renderToolbar(); renderCanvas(); renderPanel();
  if (fromProblem) {
    const firstInput = panel.querySelector("input, select, textarea");
    if (firstInput) firstInput.focus();
  } else {
    focusSelected();
  }
}

function removeSelected() {
  const {kind, index} = ui.selected;
  if (kind === "state") M.deleteState(ui.def, index);
  else if (kind === "transition") M.deleteTransition(ui.def, index);
  else return;
  ui.selected = {kind: "none", index: -1};
  renderToolbar(); changed(true); renderPanel();
}

// ---- the side panel ----------------------------------------------------------------------------------------

function renderPanelProblems() {
  const box = panel.querySelector(".cf-ds-here");
  if (!box) return;
  box.replaceChildren();
  const {kind, index} = ui.selected;
  const mine = ui.problems.filter((p) => {
    const place = M.placeOf(p.path);
    return place.kind === kind && place.index === index;
  });
  if (!mine.length) return;
  box.append(h("h3", {text: w("problems_here")}), h("ul", {}, mine.map((p) => h("li", {text: p.message}))));
}

function disableIfReadOnly(container) {
  if (editable()) return;
  for (const node of container.querySelectorAll("input, select, textarea, button")) node.disabled = true;
}

function renderPanel() {
  panel.replaceChildren();
  const {kind, index} = ui.selected;
  if (kind === "state" && ui.def.states[index]) statePanel(ui.def.states[index], index);
  else if (kind === "transition" && ui.def.transitions[index]) transitionPanel(ui.def.transitions[index], index);
  else panel.append(h("p", {className: "cf-help", text: w("nothing_selected")}));
  renderPanelProblems();
  disableIfReadOnly(panel);
}

function roleOptions() {
  return data.choices.roles.map((r) => [r, choiceTitle(r, ROLE_TITLES)]);
}

function stateOptions(withNone = false) {
  const out = withNone ? [["", w("none")]] : [];
  for (const s of ui.def.states) out.push([s.name, `${bi(s.title) || s.name} (${s.name})`]);
  return out;
}

function statePanel(s, index) {
  panel.dataset.kind = "state";
  panel.append(h("h2", {text: `${w("state")}: ${bi(s.title) || s.name}`}), h("div", {className: "cf-ds-here"}));
  const name = textInput(s.name, () => {}, {id: "cf-ds-state-name", maxlength: 64, pattern: "[a-z][a-z0-9_]{0,63}"});
  name.addEventListener("change", () => {
    const value = name.value.trim();
    if (!value || M.stateNames(ui.def).includes(value)) { name.value = s.name; return; }
    M.renameState(ui.def, s.name, value);
    changed(true); renderPanel(); renderProcess();
  });
  panel.append(field(w("name"), name),
    bilingual(w("title"), s, "title", "cf-ds-state-title", () => changed(true)));
  panel.append(checkbox(w("initial"), ui.def.initial === s.name, (on) => {
    if (on) ui.def.initial = s.name; changed(); renderProcess();
  }, {id: "cf-ds-state-initial"}));
  const flags = h("fieldset", {className: "cf-ds-group"}, h("legend", {text: w("flags")}));
  for (const flag of ["final", "ends_record", "editable", "in_use", "grants_reading", "cooling_off", "disposes",
    "tombstone"]) {
    flags.appendChild(checkbox(w(flag), s[flag], (on) => {
      if (on) s[flag] = true; else delete s[flag];
      changed();
    }, {id: `cf-ds-state-${flag}`}));
  }
  panel.append(flags);
  const yesNo = [["", w("default")], ["true", w("yes")], ["false", w("no")]];
  panel.append(field(w("read_only"), select(yesNo, s.read_only === undefined ? "" : String(s.read_only), (v) => {
    if (v === "") delete s.read_only; else s.read_only = v === "true"; changed();
  }, {id: "cf-ds-state-read_only"})));
  for (const [key, list] of [["reading", data.choices.reading], ["clock", data.choices.clock]]) {
    panel.append(field(w(key), select([["", w("default")], ...list.map((v) => [v, choiceTitle(v)])], s[key], (v) => {
      if (v) s[key] = v; else delete s[key]; changed();
    }, {id: `cf-ds-state-${key}`})));
  }
  panel.append(checkGroup(w("amendable_by"), roleOptions(), s.amendable_by || [], (v) => {
    if (v.length) s.amendable_by = v; else delete s.amendable_by; changed();
  }, {id: "cf-ds-state-amendable"}));
  panel.append(deadlineEditor(s));
  panel.append(timeoutEditor(s));
  panel.append(approvalEditor(s));
}

function deadlineEditor(s) {
  const box = h("fieldset", {className: "cf-ds-group"}, h("legend", {text: w("deadline")}));
  const d = s.deadline || {};
  const kind = d.working_days ? "days" : d.setting ? "setting" : d.by_field ? "field" : "";
  const days = numberInput(d.working_days, (n) => {
    if (n) s.deadline = {working_days: Math.trunc(n)}; else delete s.deadline;
    changed(true);
  }, {id: "cf-ds-state-deadline", min: 1, max: 365, step: 1});
  const kinds = [["", w("none")], ["days", w("deadline_days")], ["setting", w("deadline_setting")]];
  if (kind === "field") kinds.push(["field", w("deadline_field")]);
  const chooser = select(kinds, kind, (v) => {
    if (v === "") delete s.deadline;
    else if (v === "days") s.deadline = {working_days: Number(days.value) || 5};
    else if (v === "setting") s.deadline = {setting: "notice_days"};
    changed(true); renderPanel();
  }, {id: "cf-ds-state-deadline-kind"});
  box.append(field(w("deadline_kind"), chooser));
  if (kind === "days" || kind === "") box.append(field(w("deadline_days"), days));
  if (kind === "field") box.append(h("pre", {className: "cf-code", text: JSON.stringify(d.by_field, null, 1)}));
  return box;
}

function timeoutEditor(s) {
  const box = h("fieldset", {className: "cf-ds-group"}, h("legend", {text: w("timeout")}));
  const actions = data.choices.timeout_actions.map((a) => [a, TIMEOUT_TITLES[a] ? choiceTitle(a, TIMEOUT_TITLES) : choiceTitle(a)]);
  box.append(field(w("timeout"), select([["", w("default")], ...actions], s.timeout && s.timeout.action, (v) => {
    if (!v) delete s.timeout;
    else s.timeout = Object.assign(s.timeout || {}, {action: v});
    changed(); renderPanel();
  }, {id: "cf-ds-state-timeout"})));
  if (s.timeout) {
    const triggers = M.triggersFrom(ui.def, s.name).map((t) => [t, t]);
    box.append(field(w("timeout_trigger"), select([["", w("none")], ...triggers], s.timeout.trigger, (v) => {
      if (v) s.timeout.trigger = v; else delete s.timeout.trigger; changed();
    }, {id: "cf-ds-state-timeout-trigger"})));
  }
  return box;
}

function approvalEditor(s) {
  const box = h("fieldset", {className: "cf-ds-group", id: "cf-ds-approval-step"}, h("legend", {text: w("approval")}));
  box.append(checkbox(w("approval_on"), Boolean(s.approval), (on) => {
    if (on) {
      const out = M.triggersFrom(ui.def, s.name);
      s.approval = {mode: data.choices.modes[0], approvers: [{role: data.choices.roles[0]}], approve: out[0] || ""};
    } else {
      delete s.approval;
    }
    changed(); renderPanel();
  }, {id: "cf-ds-approval-on"}));
  const a = s.approval;
  if (!a) return box;
  box.append(field(w("mode"), select(data.choices.modes.map((m) => [m, choiceTitle(m, MODE_TITLES)]), a.mode, (v) => {
    a.mode = v;
    if (v === "ratio" && !a.ratio) a.ratio = {approve: 2, of: 3};
    if (v !== "ratio") delete a.ratio;
    changed(); renderPanel();
  }, {id: "cf-ds-approval-mode"})));
  if (a.mode === "ratio") {
    // `2/3` or {approve: 2, of: 3}: shown as two numbers; written as an object only once one is edited
    const shown = typeof a.ratio === "string" ? (([x, y]) => ({approve: x, of: y}))(a.ratio.split("/").map(Number)) :
      (a.ratio || {approve: 2, of: 3});
    const set = (k, n) => { a.ratio = Object.assign({}, shown, {[k]: n}); shown[k] = n; changed(); };
    box.append(field(w("ratio_approve"), numberInput(shown.approve, (n) => set("approve", n),
      {id: "cf-ds-ratio-approve", min: 1, max: 99})),
    field(w("ratio_of"), numberInput(shown.of, (n) => set("of", n), {id: "cf-ds-ratio-of", min: 1, max: 99})));
  }
  const list = h("ol", {className: "cf-ds-approvers", id: "cf-ds-approvers"});
  (a.approvers || []).forEach((entry, i) => list.appendChild(h("li", {}, approverEditor(a, entry, i))));
  box.append(h("h3", {text: w("approvers")}), list,
    button(w("add_approver"), () => { a.approvers = a.approvers || []; a.approvers.push({role: data.choices.roles[0]}); changed(); renderPanel(); },
      {id: "cf-ds-add-approver"}));
  const out = M.triggersFrom(ui.def, s.name).map((t) => [t, t]);
  box.append(field(w("approve_with"), select([["", w("none")], ...out], a.approve, (v) => { a.approve = v; changed(); },
    {id: "cf-ds-approval-approve"})));
  box.append(field(w("reject_with"), select([["", w("none")], ...out], a.reject, (v) => {
    if (v) a.reject = v; else delete a.reject; changed();
  }, {id: "cf-ds-approval-reject"})));
  box.append(field(w("step_opinion"), select([["", w("default")], ...data.choices.opinion.map((o) => [o, choiceTitle(o)])],
    a.opinion, (v) => { if (v) a.opinion = v; else delete a.opinion; changed(); }, {id: "cf-ds-approval-opinion"})));
  box.append(checkGroup(w("step_actions"), data.choices.step_actions.map((x) => [x, choiceTitle(x)]),
    a.actions || data.choices.step_actions, (v) => {
      if (v.length === data.choices.step_actions.length) delete a.actions; else a.actions = v;
      changed();
    }, {id: "cf-ds-step-actions"}));
  box.append(field(w("urge_interval"), numberInput(a.urge_interval_minutes, (n) => {
    if (n) a.urge_interval_minutes = Math.trunc(n); else delete a.urge_interval_minutes; changed();
  }, {id: "cf-ds-urge", min: 1, max: 10080})));
  box.append(fieldRights(a));
  return box;
}

function approverEditor(a, entry, i) {
  const kind = entry.department_head ? "head" : entry.users ? "users" : entry.department !== undefined ? "department" : "role";
  const wrap = h("div", {className: "cf-ds-approver", "data-kind": kind});
  wrap.append(field(w("approver_kind"), select([["role", w("by_role")], ["department", w("by_department")],
    ["head", w("dept_head")], ["users", w("by_users")]], kind, (v) => {
    const role = entry.role || data.choices.roles[0];
    a.approvers[i] = v === "role" ? {role} : v === "department" ? {role, department: "record"} :
      v === "head" ? {department_head: true} : {users: []};
    changed(); renderPanel();
  }, {id: `cf-ds-approver-${i}-kind`})));
  if (kind === "role" || kind === "department") {
    wrap.append(field(w("role"), select(roleOptions(), entry.role, (v) => { entry.role = v; changed(); },
      {id: `cf-ds-approver-${i}-role`})));
  }
  if (kind === "department") {
    const list = nextId("departments");
    const input = textInput(entry.department, (v) => { entry.department = v; changed(); },
      {id: `cf-ds-approver-${i}-department`, list, maxlength: 100});
    wrap.append(field(w("department"), input),
      h("datalist", {id: list}, ["record", ...data.departments].map((d) => h("option", {value: d}))));
  }
  if (kind === "users") {
    const people = data.users.map((u) => [u.username, `${u.name} (${u.username})`]);
    wrap.append(checkGroup(w("by_users"), people, entry.users, (v) => {
      entry.users = v; changed();
    }, {id: `cf-ds-approver-${i}-users`}));
  }
  wrap.append(button(w("remove_approver"), () => { a.approvers.splice(i, 1); changed(); renderPanel(); },
    {className: "cf-button cf-ds-small"}));
  return wrap;
}

function fieldRights(a) {
  const box = h("fieldset", {className: "cf-ds-group", id: "cf-ds-field-rights"}, h("legend", {text: w("field_rights")}));
  const form = data.forms.find((f) => f.key === ui.form);
  const fields = a.fields || {};
  if (!form) {
    box.append(h("p", {className: "cf-help", text: w("choose_form")}));
    for (const k of ["hidden", "editable"]) {
      if (fields[k] && fields[k].length) box.append(h("p", {text: `${w(k === "hidden" ? "hidden" : "editable_fields")}: ${fields[k].join(", ")}`}));
    }
    return box;
  }
  const options = form.fields.map((f) => [f.pointer, `${bi(f.title)} (${f.pointer})`]);
  for (const [k, label] of [["hidden", w("hidden")], ["editable", w("editable_fields")]]) {
    box.append(checkGroup(label, options, fields[k] || [], (v) => {
      a.fields = a.fields || {};
      a.fields[k] = v;
      changed();
    }, {id: `cf-ds-fields-${k}`}));
  }
  return box;
}

function transitionPanel(t, index) {
  panel.dataset.kind = "transition";
  panel.append(h("h2", {text: `${w("transition")}: ${bi(t.title) || t.trigger}`}), h("div", {className: "cf-ds-here"}));
  const trigger = textInput(t.trigger, () => {}, {id: "cf-ds-trigger", maxlength: 64, pattern: "[a-z][a-z0-9_]{0,63}"});
  trigger.addEventListener("change", () => {
    const value = trigger.value.trim();
    if (!value) { trigger.value = t.trigger; return; }
    M.renameTrigger(ui.def, index, value);
    changed(true); renderPanel();
  });
  panel.append(field(w("trigger"), trigger),
    bilingual(w("title"), t, "title", "cf-ds-transition-title", () => changed(true)));
  panel.append(checkGroup(w("source"), stateOptions(), M.sourcesOf(t), (v) => {
    if (v.length) M.setSources(t, v); changed(true);
  }, {id: "cf-ds-sources"}));
  panel.append(field(w("dest"), select(stateOptions(), t.dest, (v) => { t.dest = v; changed(true); },
    {id: "cf-ds-dest"})));
  panel.append(checkGroup(w("roles"), roleOptions(), t.roles || [], (v) => { t.roles = v; changed(true); },
    {id: "cf-ds-roles"}));
  const requires = t.requires || [];
  const asks = t.asks || [];
  const rule = requires.includes("opinion") ? "required" : asks.includes("opinion") ? "optional" : "";
  panel.append(field(w("opinion_rule"), select([["", w("opinion_none")], ["optional", w("opinion_optional")],
    ["required", w("opinion_required")]], rule, (v) => {
    t.requires = (t.requires || []).filter((x) => x !== "opinion");
    t.asks = (t.asks || []).filter((x) => x !== "opinion");
    if (v === "required") t.requires.push("opinion");
    if (v === "optional") t.asks.push("opinion");
    changed(); renderPanel();
  }, {id: "cf-ds-opinion"})));
  panel.append(checkGroup(w("requires"), data.choices.requires.filter((x) => x !== "opinion").map((x) => [x, choiceTitle(x)]),
    requires.filter((x) => x !== "opinion"), (v) => {
      t.requires = (requires.includes("opinion") ? ["opinion"] : []).concat(v); changed(); renderPanel();
    }, {id: "cf-ds-requires"}));
  panel.append(checkGroup(w("asks"), data.choices.asks.filter((x) => x !== "opinion").map((x) => [x, choiceTitle(x)]),
    asks.filter((x) => x !== "opinion"), (v) => {
      t.asks = (asks.includes("opinion") ? ["opinion"] : []).concat(v); changed();
    }, {id: "cf-ds-asks"}));
  const described = (entry) => [entry.name, entry.name, entry.described ? bi(entry.description) : w("described_missing")];
  panel.append(checkGroup(w("guards"), data.registry.guards.map(described), t.guards || [], (v) => { t.guards = v; changed(); },
    {id: "cf-ds-guards"}));
  panel.append(checkGroup(w("actions"), data.registry.actions.map(described), t.actions || [], (v) => { t.actions = v; changed(); },
    {id: "cf-ds-actions"}));
  const branch = h("fieldset", {className: "cf-ds-group"}, h("legend", {text: w("branch")}));
  const conditions = data.registry.conditions.map((c) => [c.name, `${c.name}: ${bi(c.description)}`]);
  branch.append(field(w("branch_if"), select([["", w("none")], ...conditions], t.branch && t.branch.if, (v) => {
    if (!v) delete t.branch;
    else t.branch = {if: v, dest: (t.branch && t.branch.dest) || t.dest};
    changed(true); renderPanel();
  }, {id: "cf-ds-branch-if"})));
  if (t.branch) {
    branch.append(field(w("branch_dest"), select(stateOptions(), t.branch.dest, (v) => { t.branch.dest = v; changed(true); },
      {id: "cf-ds-branch-dest"})));
  }
  panel.append(branch);
  panel.append(field(w("duty"), select([["", w("none")], ...data.choices.duties.map((d) => [d, d])], t.duty, (v) => {
    if (v) t.duty = v; else delete t.duty; changed();
  }, {id: "cf-ds-duty"})));
  panel.append(checkGroup(w("separate_from"), data.choices.duties, t.separate_from || [], (v) => { t.separate_from = v; changed(); },
    {id: "cf-ds-separate"}));
  if ((t.requires || []).includes("assignee")) {
    panel.append(checkGroup(w("assignee_separate_from"), data.choices.duties, t.assignee_separate_from || [],
      (v) => { t.assignee_separate_from = v; changed(); }, {id: "cf-ds-assignee-separate"}));
  }
  const kind = typeof t.notifies === "string" ? t.notifies : t.notifies && t.notifies.kind;
  panel.append(field(w("notifies"), select([["", w("none")], ...data.choices.notify_kinds.map((k) => [k, k])], kind, (v) => {
    const failed = t.notifies && typeof t.notifies === "object" && t.notifies.failed;
    if (!v) delete t.notifies; else t.notifies = failed ? {kind: v, failed: true} : v;
    changed(); renderPanel();
  }, {id: "cf-ds-notifies"})));
  if (kind) {
    panel.append(checkbox(w("failed"), typeof t.notifies === "object" && t.notifies.failed, (on) => {
      t.notifies = on ? {kind, failed: true} : kind; changed();
    }, {id: "cf-ds-notifies-failed"}));
  }
  panel.append(field(w("shows"), select([["", w("none")], ...data.choices.shows.map((x) => [x, choiceTitle(x)])], t.shows, (v) => {
    if (v) t.shows = v; else delete t.shows; changed();
  }, {id: "cf-ds-shows"})));
  for (const flag of ["with_data", "acknowledges"]) {
    panel.append(checkbox(w(flag), t[flag], (on) => { if (on) t[flag] = true; else delete t[flag]; changed(); },
      {id: `cf-ds-${flag}`}));
  }
}

// ---- the process panel ---------------------------------------------------------------------------------

function renderProcess() {
  processPanel.replaceChildren(h("h2", {text: w("process")}));
  const key = textInput(ui.def.key, (v) => { ui.def.key = v; changed(); }, {id: "cf-ds-key", maxlength: 64});
  if (data.key) key.readOnly = true;
  processPanel.append(field(w("key"), key),
    bilingual(w("title"), ui.def, "title", "cf-ds-title", () => changed()));
  if (ui.def.description !== undefined || editable()) {
    processPanel.append(bilingual(w("description"), ui.def, "description", "cf-ds-description", () => changed()));
  }
  processPanel.append(field(w("initial"), select(stateOptions(true), ui.def.initial, (v) => {
    ui.def.initial = v; changed(true);
  }, {id: "cf-ds-initial"})));
  const forms = [["", w("none")], ...data.forms.map((f) => [f.key, `${bi(f.title)} (${f.key})`])];
  processPanel.append(field(w("form_context"), select(forms, ui.form, (v) => { ui.form = v; renderPanel(); },
    {id: "cf-ds-form"})));
  disableIfReadOnly(processPanel);
  const formSelect = processPanel.querySelector("#cf-ds-form");
  if (formSelect) formSelect.disabled = !data.forms.length;
}

// ---- approval of the saved version, versions ---------------------------------------------------------------

function renderApproval() {
  approvalBox.replaceChildren();
  if (!data.version || !data.urls.fire) { approvalBox.hidden = true; return; }
  approvalBox.hidden = false;
  approvalBox.append(h("h2", {text: `${w("approval_actions")} · v${data.version} · ${bi(data.state_title) || data.state || ""}`}));
  approvalBox.dataset.state = data.state || "";
  for (const o of data.options || []) {
    const needs = (o.requires || []).includes("opinion");
    const offers = needs || (o.asks || []).includes("opinion");
    const opinion = offers ? h("textarea", {className: "cf-input", rows: 2, id: `cf-ds-opinion-${o.trigger}`, maxlength: 2000}) : null;
    const go = button(o.title || o.trigger, async () => {
      go.disabled = true;
      try {
        const result = await call(data.urls.fire, {trigger: o.trigger, revision: data.revision,
                                                  opinion: opinion ? opinion.value : undefined});
        applySaved(result);
        ui.error = "";
      } catch (e) {
        ui.error = w("error", {message: [e.message, ...(e.details || []).map((d) => d.message)].join(" ")});
        go.disabled = false;
      }
      renderStatus();
    }, {className: "cf-button" + (o.allowed ? " cf-button--primary" : ""), "data-trigger": o.trigger,
        "data-needs-opinion": needs ? "1" : null});
    const row = h("div", {className: "cf-ds-option"});
    if (opinion) row.append(field(w("opinion") + (needs ? " *" : ""), opinion));
    row.append(go);
    if (!o.allowed) row.append(h("ul", {className: "cf-help"}, (o.reasons || []).map((r) => h("li", {text: r.message}))));
    approvalBox.append(row);
  }
}

function renderVersions() {
  versionsBox.replaceChildren();
  if (!data.versions || !data.versions.length) { versionsBox.hidden = true; return; }
  versionsBox.hidden = false;
  const list = h("ul", {id: "cf-ds-version-list"});
  for (const v of data.versions) {
    list.appendChild(h("li", {"data-version": v.version},
      h("a", {href: v.url, text: `v${v.version}`}),
      h("span", {text: ` · ${bi(v.state_title) || w("in_use_now")}${v.in_use ? ` · ${w("in_use_now")}` : ""} · ${v.author}`})));
  }
  versionsBox.append(h("h2", {text: w("versions")}), list);
}

function applySaved(result) {
  Object.assign(data, {key: result.key, version: result.version, revision: result.revision, state: result.state,
    state_title: result.state_title, is_draft: result.is_draft, editable: result.editable, latest: true,
    options: result.options, versions: result.versions});
  data.urls.fire = result.fire;
  if (window.location.pathname !== result.designer) window.history.replaceState(null, "", result.designer);
  renderAll();
}

async function save() {
  if (ui.checkPending || ui.problems.length) return;
  const body = {definition: M.clean(ui.def)};
  if (data.key) Object.assign(body, {key: data.key, version: data.version, revision: data.revision});
  try {
    const result = await call(data.urls.save, body);
    ui.dirty = false;
    ui.error = "";
    applySaved(result);
    ui.notice = w("saved", {v: result.version, state: bi(result.state_title) || result.state});
  } catch (e) {
    if (e.details && e.details.length && e.details.every((d) => d.path !== undefined)) ui.problems = e.details;
    ui.error = w("error", {message: e.message});
  }
  renderStatus(); renderCanvas();
}

// ---- export and import ---------------------------------------------------------------------------------

async function exportAs(format) {
  const definition = M.clean(ui.def);
  let text = JSON.stringify(definition, null, 2);
  if (format === "yaml") {
    try { text = (await call(data.urls.yaml, {definition})).text; } catch (e) {
      ui.error = w("error", {message: e.message}); renderStatus(); return;
    }
  }
  const blob = new Blob([text], {type: format === "yaml" ? "application/yaml" : "application/json"});
  const link = h("a", {href: URL.createObjectURL(blob), download: `${definition.key || "process"}.${format}`});
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

async function importFile(input) {
  const file = input.files && input.files[0];
  if (!file) return;
  try {
    const text = await file.text();
    const result = await call(data.urls.parse, {text});
    ui.def = result.definition;
    ui.def.states = Array.isArray(ui.def.states) ? ui.def.states : [];
    ui.def.transitions = Array.isArray(ui.def.transitions) ? ui.def.transitions : [];
    ui.selected = {kind: "none", index: -1};
    ui.notice = w("imported");
    ui.error = "";
    renderAll();
    changed(true);
  } catch (e) {
    ui.error = w("error", {message: e.message});
    renderStatus();
  }
  input.value = "";
}

// ---- start -------------------------------------------------------------------------------------------

function renderAll() {
  renderBanner(); renderToolbar(); renderProcess(); renderPanel(); renderCanvas(); renderStatus();
  renderApproval(); renderVersions();
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && ui.connecting) pick("none", -1);
});
if (!Array.isArray(ui.def.states)) ui.def.states = [];
if (!Array.isArray(ui.def.transitions)) ui.def.transitions = [];
renderAll();
scheduleLayout();
scheduleCheck();
ui.dirty = false;
root.dataset.ready = "1";
