// The process designer's model: pure helpers over a workflow definition (docs/definitions.md).
// The definition is edited in place; keys the designer does not know are kept as they are.

export const NAME = /^[a-z][a-z0-9_]{0,63}$/;
export const KEY = /^[a-z][a-z0-9_]{1,63}$/;

export function emptyDefinition() {
  return {key: "", title: {"zh-CN": "", en: ""}, initial: "", states: [], transitions: []};
}

export function sourcesOf(t) {
  if (Array.isArray(t.source)) return t.source.filter((s) => typeof s === "string");
  return typeof t.source === "string" ? [t.source] : [];
}

export function setSources(t, list) {
  t.source = list.length === 1 ? list[0] : list.slice();
}

export function stateNames(def) {
  return (def.states || []).map((s) => s && s.name).filter((n) => typeof n === "string");
}

export function uniqueName(prefix, taken) {
  const used = new Set(taken);
  for (let i = 1; ; i += 1) {
    const name = `${prefix}_${i}`;
    if (!used.has(name)) return name;
  }
}

export function addState(def) {
  const name = uniqueName("state", stateNames(def));
  def.states = def.states || [];
  def.states.push({name, title: {"zh-CN": "", en: ""}});
  if (!def.initial) def.initial = name;
  return def.states.length - 1;
}

export function addTransition(def, source, dest) {
  def.transitions = def.transitions || [];
  const trigger = uniqueName("step", def.transitions.map((t) => t.trigger));
  def.transitions.push({trigger, title: {"zh-CN": "", en: ""}, source, dest, roles: []});
  return def.transitions.length - 1;
}

/** Outgoing triggers of a state (each once, in order). */
export function triggersFrom(def, state) {
  const out = [];
  for (const t of def.transitions || []) {
    if (sourcesOf(t).includes(state) && !out.includes(t.trigger)) out.push(t.trigger);
  }
  return out;
}

/** A state renamed everywhere the definition names it. */
export function renameState(def, old, name) {
  if (old === name) return;
  for (const s of def.states || []) if (s.name === old) s.name = name;
  if (def.initial === old) def.initial = name;
  for (const t of def.transitions || []) {
    const sources = sourcesOf(t);
    if (sources.includes(old)) setSources(t, sources.map((s) => (s === old ? name : s)));
    if (t.dest === old) t.dest = name;
    if (t.branch && t.branch.dest === old) t.branch.dest = name;
  }
}

/** A transition's trigger renamed; an approval step or timeout of its source states naming the old trigger
 *  follows when no other transition from that state keeps the old name. */
export function renameTrigger(def, index, name) {
  const t = def.transitions[index];
  const old = t.trigger;
  if (old === name) return;
  t.trigger = name;
  for (const s of def.states || []) {
    if (!sourcesOf(t).includes(s.name) || triggersFrom(def, s.name).includes(old)) continue;
    if (s.approval) {
      if (s.approval.approve === old) s.approval.approve = name;
      if (s.approval.reject === old) s.approval.reject = name;
    }
    if (s.timeout && s.timeout.trigger === old) s.timeout.trigger = name;
  }
}

export function deleteState(def, index) {
  const [gone] = def.states.splice(index, 1);
  if (!gone) return;
  const name = gone.name;
  def.transitions = (def.transitions || []).filter((t) => {
    if (t.dest === name) return false;
    const sources = sourcesOf(t).filter((s) => s !== name);
    if (!sources.length) return false;
    if (sources.length !== sourcesOf(t).length) setSources(t, sources);
    if (t.branch && t.branch.dest === name) delete t.branch;
    return true;
  });
  if (def.initial === name) def.initial = (def.states[0] && def.states[0].name) || "";
}

export function deleteTransition(def, index) {
  def.transitions.splice(index, 1);
}

function bilingualEmpty(value) {
  return value && typeof value === "object" && !Array.isArray(value) &&
    !(value["zh-CN"] || "").trim() && !(value.en || "").trim();
}

/** Which languages a bilingual text lacks (a plain text counts as both). */
export function missingLanguages(value) {
  if (typeof value === "string") return value.trim() ? [] : ["zh-CN", "en"];
  if (!value || typeof value !== "object") return ["zh-CN", "en"];
  return ["zh-CN", "en"].filter((l) => !(value[l] || "").trim());
}

const EMPTY_LISTS = ["guards", "actions", "requires", "asks", "separate_from", "assignee_separate_from"];

/** The definition to check and save: empty titles and empty optional lists left out, nothing else touched. */
export function clean(def) {
  const out = JSON.parse(JSON.stringify(def));
  for (const k of ["title", "description"]) if (bilingualEmpty(out[k])) delete out[k];
  for (const s of out.states || []) {
    if (bilingualEmpty(s.title)) delete s.title;
    if (s.approval && s.approval.fields) {
      for (const k of ["hidden", "editable"]) {
        if (Array.isArray(s.approval.fields[k]) && !s.approval.fields[k].length) delete s.approval.fields[k];
      }
      if (!Object.keys(s.approval.fields).length) delete s.approval.fields;
    }
  }
  for (const t of out.transitions || []) {
    if (bilingualEmpty(t.title)) delete t.title;
    for (const k of EMPTY_LISTS) if (Array.isArray(t[k]) && !t[k].length) delete t[k];
  }
  return out;
}

/** Where a problem's place points: {kind: "state"|"transition"|"process", index}. */
export function placeOf(path) {
  const found = /^\/(states|transitions)\/(\d+)/.exec(path || "");
  if (!found) return {kind: "process", index: -1};
  return {kind: found[1] === "states" ? "state" : "transition", index: Number(found[2])};
}
