// The form builder's model: the definition itself (JSON Schema + ui_schema + settings), edited in place.
//
// Every operation touches only the keys it is about, so whatever the builder does not understand
// (keywords, ui options, $defs, allOf, …) stays exactly as it was: an imported definition exported
// again is the same JSON. A field is addressed by its path: the property names from the root, a
// repeatable group's rows (`items`) stepped over, e.g. ["shareholders", "name"].

export const RESIDENT_ID = "^[1-9]\\d{5}(18|19|20)\\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\\d|3[01])\\d{3}[0-9Xx]$";
export const MOBILE = "^1[3-9]\\d{9}$";
export const BANK_CARD = "^\\d{16,19}$";

/** The palette: every field type the clerk's renderer lays out, as JSON Schema + ui_schema. */
export const KINDS = [
  { kind: "text", make: () => ({ schema: { type: "string", maxLength: 200 }, ui: {} }) },
  { kind: "textarea", make: () => ({ schema: { type: "string", maxLength: 2000 }, ui: { "ui:widget": "textarea", "ui:options": { rows: 3 } } }) },
  { kind: "number", make: () => ({ schema: { type: "number" }, ui: {} }) },
  { kind: "integer", make: () => ({ schema: { type: "integer" }, ui: {} }) },
  { kind: "amount", make: () => ({ schema: { type: "number", minimum: 0, multipleOf: 0.01 }, ui: { "ui:placeholder": "0.00" } }) },
  { kind: "date", make: () => ({ schema: { type: "string", format: "date" }, ui: { "ui:widget": "date" } }) },
  { kind: "select", make: () => ({ schema: { type: "string", enum: ["option_1", "option_2"], "x-enum-titles": { "zh-CN": ["选项一", "选项二"], en: ["Option 1", "Option 2"] } }, ui: { "ui:widget": "select" } }) },
  { kind: "radio", make: () => ({ schema: { type: "string", enum: ["option_1", "option_2"], "x-enum-titles": { "zh-CN": ["选项一", "选项二"], en: ["Option 1", "Option 2"] } }, ui: { "ui:widget": "radio" } }) },
  { kind: "checkboxes", make: () => ({ schema: { type: "array", uniqueItems: true, items: { type: "string", enum: ["option_1", "option_2"], "x-enum-titles": { "zh-CN": ["选项一", "选项二"], en: ["Option 1", "Option 2"] } } }, ui: { "ui:widget": "checkboxes" } }) },
  { kind: "boolean", make: () => ({ schema: { type: "boolean" }, ui: {} }) },
  { kind: "email", make: () => ({ schema: { type: "string", format: "email", maxLength: 254 }, ui: { "ui:widget": "email", "ui:placeholder": "name@example.com" } }) },
  { kind: "phone", make: () => ({ schema: { type: "string", pattern: MOBILE, "x-sensitive": "phone" }, ui: { "ui:widget": "tel", "ui:placeholder": "13800138000" } }) },
  { kind: "id_number", make: () => ({ schema: { type: "string", pattern: RESIDENT_ID, "x-sensitive": "id_number" }, ui: { "ui:placeholder": "110101199003071234" } }) },
  { kind: "bank_card", make: () => ({ schema: { type: "string", pattern: BANK_CARD, "x-sensitive": "bank_card" }, ui: { "ui:placeholder": "6222020200112233445" } }) },
  { kind: "address", make: () => ({ schema: { type: "string", minLength: 5, maxLength: 200, "x-sensitive": "address" }, ui: { "ui:widget": "textarea", "ui:options": { rows: 2 } } }) },
  { kind: "attachment", make: () => ({ schema: { type: "string", format: "attachment" }, ui: {} }) },
  { kind: "section", make: () => ({ schema: { type: "object", properties: {} }, ui: {} }) },
  { kind: "group", make: () => ({ schema: { type: "array", minItems: 1, items: { type: "object", properties: {} } }, ui: {} }) },
];

// defineProperty: a field called "__proto__" is a field like any other
const put = (object, key, value) => Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const clone = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));
export { clone, isObject };

function typeOf(schema) {
  const t = schema.type;
  if (Array.isArray(t)) return t.find((x) => x !== "null") || t[0];
  return t;
}

/** The palette kind a field's schema reads as ("advanced" for what only the JSON editor edits). */
/** `oneOf` (or `anyOf`) choices written as [{const, title?}, …]: the list, else null. */
export function constChoices(schema) {
  if (!isObject(schema)) return null;
  for (const key of ["oneOf", "anyOf"]) {
    const list = schema[key];
    if (Array.isArray(list) && list.length && list.every((c) => isObject(c) && Object.hasOwn(c, "const"))) return key;
  }
  return null;
}

export function kindOf(schema, ui) {
  if (!isObject(schema) || "$ref" in schema) return "advanced";
  ui = isObject(ui) ? ui : {};
  const widget = typeof ui["ui:widget"] === "string" ? ui["ui:widget"] : "";
  const type = typeOf(schema);
  if (type === "object") return isObject(schema.properties) ? "section" : "advanced";
  if (type === "array") {
    const items = schema.items;
    if (!isObject(items) || "$ref" in items) return "advanced";
    if (typeOf(items) === "object" && isObject(items.properties)) return "group";
    if (Array.isArray(items.enum) || constChoices(items)) return "checkboxes";
    if (items.format === "attachment") return "attachment";
    return "advanced";
  }
  if (Array.isArray(schema.enum) || constChoices(schema)) return widget === "radio" ? "radio" : "select";
  if (type === "boolean") return "boolean";
  if (type === "integer") return "integer";
  if (type === "number") return schema.multipleOf === 0.01 ? "amount" : "number";
  if (type === "string") {
    if (schema.format === "attachment") return "attachment";
    if (schema.format === "date") return "date";
    if (schema.format === "email") return "email";
    const sensitive = schema["x-sensitive"];
    if (sensitive === "id_number") return "id_number";
    if (sensitive === "bank_card") return "bank_card";
    if (sensitive === "phone") return "phone";
    if (sensitive === "address") return "address";
    return widget === "textarea" ? "textarea" : "text";
  }
  return "advanced";
}

/** react-jsonschema-form's `ui:order` (as the renderer's order_names): listed first, `*` the rest. */
export function orderNames(names, order) {
  if (!Array.isArray(order)) return names;
  const listed = order.filter((o) => o === "*" || names.includes(o));
  if (!listed.includes("*")) listed.push("*");
  const star = listed.indexOf("*");
  const before = listed.slice(0, star);
  const after = listed.slice(star + 1).filter((o) => o !== "*");
  const rest = names.filter((n) => !before.includes(n) && !after.includes(n));
  return [...before, ...rest, ...after];
}

/** A field name the server takes (docs/definitions.md "Field names"). */
export function nameProblem(name) {
  if (typeof name !== "string" || name.length < 1 || name.length > 64) return "length";
  if (name.startsWith("$")) return "dollar";
  if (name.includes(".")) return "dot";
  if (/[\u0000-\u001f\u007f]/.test(name)) return "control";
  return null;
}

/** A key made from a label: lowercase letters, digits and underscores. */
export function slug(label) {
  const s = String(label || "").normalize("NFKD").toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  return s.slice(0, 48);
}

export class Model {
  constructor(definition) {
    this.load(definition);
  }

  load(definition) {
    // nothing is added or tidied here: what was loaded is exported as it was until an edit touches it
    this.def = isObject(definition) ? definition : Model.blank();
  }

  static blank() {
    return {
      key: "", title: { "zh-CN": "", en: "" },
      schema: { $schema: "https://json-schema.org/draft/2020-12/schema", type: "object", properties: {} },
      ui_schema: {},
      settings: { processes: ["intake", "review", "archive", "destroy"], numbering: "F-{yyyy}{mm}{dd}-{seq:04d}",
        time_limit: { working_days: 5 }, retention: { years: 5, from: "archived" } },
    };
  }

  toJSON() {
    return this.def;
  }

  // ---- finding things -------------------------------------------------------------------------------------

  /** The object schema whose `properties` hold the children of `path` (the root for []), or null. */
  holder(path, create = false) {
    if (!path.length && create && !isObject(this.def.schema)) this.def.schema = { type: "object" };
    let node = this.def.schema;
    for (const name of path) {
      const props = isObject(node) && isObject(node.properties) ? node.properties : null;
      const child = props && Object.hasOwn(props, name) ? props[name] : undefined;
      if (!isObject(child)) return null;
      const kind = kindOf(child, {});
      if (kind === "section") node = child;
      else if (kind === "group") node = child.items;
      else return null;
    }
    if (create && isObject(node) && node.properties === undefined) node.properties = {};
    return isObject(node) && isObject(node.properties) ? node : null;
  }

  /** The ui_schema object for the children of `path`; created on the way when `create`. */
  uiHolder(path, create = false) {
    if (!isObject(this.def.ui_schema)) {
      if (!create) return null;
      this.def.ui_schema = {};
    }
    let ui = this.def.ui_schema;
    for (let i = 0; i < path.length; i += 1) {
      const name = path[i];
      if (!Object.hasOwn(ui, name) || !isObject(ui[name])) {
        if (!create) return null;
        put(ui, name, {});
      }
      ui = ui[name];
      if (kindOf(this.schema(path.slice(0, i + 1)), {}) === "group") {
        if (!isObject(ui.items)) {
          if (!create) return null;
          ui.items = {};
        }
        ui = ui.items;
      }
    }
    return ui;
  }

  schema(path) {
    if (!path.length) return this.def.schema;
    const holder = this.holder(path.slice(0, -1));
    return holder && Object.hasOwn(holder.properties, path.at(-1)) ? holder.properties[path.at(-1)] : undefined;
  }

  ui(path) {
    const holder = this.uiHolder(path.slice(0, -1));
    const ui = holder && Object.hasOwn(holder, path.at(-1)) ? holder[path.at(-1)] : undefined;
    return isObject(ui) ? ui : {};
  }

  kind(path) {
    return kindOf(this.schema(path), this.ui(path));
  }

  /** The children's names of a section, a group or the root, in the order the clerk sees them. */
  children(path) {
    const holder = this.holder(path);
    if (!holder) return [];
    const ui = this.uiHolder(path);
    return orderNames(Object.keys(holder.properties), ui ? ui["ui:order"] : undefined);
  }

  isContainer(path) {
    const kind = this.kind(path);
    return kind === "section" || kind === "group";
  }

  /** Every field: [{path, schema, ui, kind, inGroup}] depth first, in order. */
  walk(path = [], inGroup = false, out = []) {
    for (const name of this.children(path)) {
      const child = [...path, name];
      const kind = this.kind(child);
      out.push({ path: child, schema: this.schema(child), ui: this.ui(child), kind, inGroup });
      if (kind === "section" || kind === "group") this.walk(child, inGroup || kind === "group", out);
    }
    return out;
  }

  required(path) {
    const holder = this.holder(path.slice(0, -1));
    return !!holder && Array.isArray(holder.required) && holder.required.includes(path.at(-1));
  }

  // ---- changing things ------------------------------------------------------------------------------------

  /** Set a schema keyword of a field (undefined, null or "" removes it). */
  set(path, key, value) {
    const schema = this.schema(path);
    if (!isObject(schema)) return;
    if (value === undefined || value === null || value === "") delete schema[key];
    else schema[key] = value;
  }

  /** Set a ui_schema key of a field (undefined, null or "" removes it; an emptied entry goes too). */
  setUi(path, key, value) {
    const remove = value === undefined || value === null || value === "";
    const holder = this.uiHolder(path.slice(0, -1), !remove);
    if (!holder) return;
    const name = path.at(-1);
    if (remove) {
      if (!Object.hasOwn(holder, name) || !isObject(holder[name])) return;
      delete holder[name][key];
      if (!Object.keys(holder[name]).length) delete holder[name];
      return;
    }
    if (!Object.hasOwn(holder, name) || !isObject(holder[name])) put(holder, name, {});
    holder[name][key] = value;
  }

  setUiOption(path, key, value) {
    const options = { ...(isObject(this.ui(path)["ui:options"]) ? this.ui(path)["ui:options"] : {}) };
    if (value === undefined || value === null || value === "") delete options[key];
    else options[key] = value;
    this.setUi(path, "ui:options", Object.keys(options).length ? options : undefined);
  }

  setRequired(path, on) {
    const holder = this.holder(path.slice(0, -1));
    if (!holder) return;
    const name = path.at(-1);
    const list = Array.isArray(holder.required) ? holder.required.filter((n) => n !== name) : [];
    if (on) list.push(name);
    if (list.length) holder.required = list;
    else delete holder.required;
  }

  uniqueName(parent, wanted) {
    const holder = this.holder(parent);
    const taken = holder ? holder.properties : {};
    let name = wanted || "field";
    for (let n = 2; Object.hasOwn(taken, name); n += 1) name = `${wanted}_${n}`;
    return name;
  }

  /** Put the children of `parent` in `names`' order: the properties, and `ui:order` when there is one. */
  _order(parent, names) {
    const holder = this.holder(parent);
    const props = holder.properties;
    const reordered = {};
    for (const name of names) if (Object.hasOwn(props, name)) put(reordered, name, props[name]);
    for (const name of Object.keys(props)) if (!Object.hasOwn(reordered, name)) put(reordered, name, props[name]);
    holder.properties = reordered;
    const ui = this.uiHolder(parent);
    if (ui && Array.isArray(ui["ui:order"])) {
      const star = ui["ui:order"].includes("*");
      ui["ui:order"] = [...names, ...(star ? ["*"] : [])];
    }
  }

  _insert(parent, index, name, schema, ui, required) {
    const holder = this.holder(parent, true);
    const names = this.children(parent).filter((n) => n !== name);
    put(holder.properties, name, schema);
    if (isObject(ui) && Object.keys(ui).length) put(this.uiHolder(parent, true), name, ui);
    names.splice(Math.max(0, Math.min(index, names.length)), 0, name);
    this._order(parent, names);
    if (required) this.setRequired([...parent, name], true);
  }

  _take(path) {
    const parent = path.slice(0, -1);
    const name = path.at(-1);
    const holder = this.holder(parent);
    const schema = holder.properties[name];
    const ui = this.uiHolder(parent);
    const uiNode = ui ? ui[name] : undefined;
    const required = this.required(path);
    this.setRequired(path, false);
    delete holder.properties[name];
    if (ui) {
      delete ui[name];
      if (Array.isArray(ui["ui:order"])) ui["ui:order"] = ui["ui:order"].filter((n) => n !== name);
    }
    return { schema, ui: uiNode, required };
  }

  /** Conditions naming a field by its old path (`{"var": "a.b"}`, or something under it) follow it to the new
   * path: the schema's x-show-if / x-required-if, ui_schema show_if and the settings' rules. */
  _repoint(from, to) {
    const old = from.join(".");
    const now = to.join(".");
    if (old === now) return;
    const fix = (node) => {
      if (Array.isArray(node)) { node.forEach(fix); return; }
      if (!isObject(node)) return;
      if (Object.keys(node).length === 1 && "var" in node) {
        const v = node.var;
        const name = Array.isArray(v) ? v[0] : v;
        if (typeof name === "string" && (name === old || name.startsWith(old + "."))) {
          const moved = now + name.slice(old.length);
          node.var = Array.isArray(v) ? [moved, ...v.slice(1)] : moved;
        }
        return;
      }
      Object.values(node).forEach(fix);
    };
    for (const part of [this.def.schema, this.def.ui_schema, this.def.settings]) fix(part);
  }

  /** Every condition that names the field at `path` or something under it, outside the field itself:
   * [{path, keyword}] for a field's x-show-if / x-required-if (path: the field holding the condition) and
   * {path: null, keyword: "second_level_if"} for settings.review.second_level_if. */
  conditionsNaming(path) {
    const name = path.join(".");
    const names = (rule) => varsOf(rule).some((v) => v === name || v.startsWith(name + "."));
    const out = [];
    for (const f of this.walk()) {
      if (f.path.length >= path.length && path.every((p, i) => f.path[i] === p)) continue;   // it, or inside it
      for (const keyword of CONDITION_KEYWORDS) {
        if (isObject(f.schema) && Object.hasOwn(f.schema, keyword) && names(f.schema[keyword])) out.push({ path: f.path, keyword });
      }
      const options = f.ui["ui:options"];
      if (isObject(options) && Object.hasOwn(options, "show_if") && names(options.show_if)) out.push({ path: f.path, keyword: UI_SHOW_IF });
    }
    const review = isObject(this.def.settings) ? this.def.settings.review : null;
    if (isObject(review) && Object.hasOwn(review, "second_level_if") && names(review.second_level_if)) {
      out.push({ path: null, keyword: "second_level_if" });
    }
    return out;
  }

  /** Remove the conditions `conditionsNaming` found (the whole condition: a half rule would change its meaning). */
  dropConditions(list) {
    for (const { path, keyword } of list) {
      if (path && keyword === UI_SHOW_IF) {
        const options = this.ui(path)["ui:options"];
        if (isObject(options)) delete options.show_if;
      } else if (path) {
        const schema = this.schema(path);
        if (isObject(schema)) delete schema[keyword];
      } else if (isObject(this.def.settings) && isObject(this.def.settings.review)) {
        delete this.def.settings.review[keyword];
      }
    }
  }

  /** Whether a condition's `{"var": name}` names nothing in the form: no field at its top, or a section that
   * has no such child. Under a field that is not a section (a list, a value) the rest is not judged. */
  _dangling(name) {
    let node = this.def.schema;
    for (const part of name.split(".")) {
      if (!isObject(node) || !isObject(node.properties) || node.type === "array") return false;
      if (!Object.hasOwn(node.properties, part)) return true;
      node = node.properties[part];
    }
    return false;
  }

  /** Conditions naming a field the form does not have (removed or renamed by hand): [{path, keyword, pointer,
   * names}], path null for the second-level rule. Fields in a repeatable group's rows are not judged. */
  danglingConditions() {
    const out = [];
    const lost = (rule) => [...new Set(varsOf(rule).filter((v) => v !== "" && this._dangling(v)))];
    const escape = (p) => p.replaceAll("~", "~0").replaceAll("/", "~1");
    for (const f of this.walk()) {
      if (f.inGroup || !isObject(f.schema)) continue;
      for (const keyword of CONDITION_KEYWORDS) {
        if (!Object.hasOwn(f.schema, keyword)) continue;
        const names = lost(f.schema[keyword]);
        const pointer = "/schema" + f.path.map((p) => `/properties/${escape(p)}`).join("") + `/${keyword}`;
        if (names.length) out.push({ path: f.path, keyword, pointer, names });
      }
      const options = f.ui["ui:options"];
      const names = isObject(options) && Object.hasOwn(options, "show_if") ? lost(options.show_if) : [];
      const pointer = "/ui_schema" + f.path.map((p) => `/${escape(p)}`).join("") + "/ui:options/show_if";
      if (names.length) out.push({ path: f.path, keyword: UI_SHOW_IF, pointer, names });
    }
    const review = isObject(this.def.settings) ? this.def.settings.review : null;
    if (isObject(review) && Object.hasOwn(review, "second_level_if")) {
      const names = lost(review.second_level_if);
      if (names.length) out.push({ path: null, keyword: "second_level_if", pointer: "/settings/review/second_level_if", names });
    }
    return out;
  }

  /** Whether a path can be named by a condition (not inside a repeatable group's rows). */
  _named(path) {
    return path.every((_, i) => i === path.length - 1 || this.kind(path.slice(0, i + 1)) !== "group");
  }

  add(parent, index, kind, name) {
    const made = KINDS.find((k) => k.kind === kind).make();
    const unique = this.uniqueName(parent, name || kind);
    this._insert(parent, index, unique, made.schema, made.ui, false);
    return [...parent, unique];
  }

  remove(path) {
    this._take(path);
  }

  duplicate(path) {
    const parent = path.slice(0, -1);
    const name = this.uniqueName(parent, `${path.at(-1)}_copy`);
    const index = this.children(parent).indexOf(path.at(-1)) + 1;
    this._insert(parent, index, name, clone(this.schema(path)), clone(this.ui(path)), this.required(path));
    return [...parent, name];
  }

  /** Move a field to `parent` at `index`; a name already there gets a suffix. Returns the new path. */
  move(path, parent, index) {
    const from = path.slice(0, -1);
    if (parent.length >= path.length && path.every((p, i) => parent[i] === p)) return path; // into itself
    if (!this.holder(parent, true)) return path;
    const sameParent = from.length === parent.length && from.every((p, i) => parent[i] === p);
    if (sameParent) {
      const names = this.children(parent).filter((n) => n !== path.at(-1));
      names.splice(Math.max(0, Math.min(index, names.length)), 0, path.at(-1));
      this._order(parent, names);
      return path;
    }
    const named = this._named(path);
    const taken = this._take(path);
    const name = this.uniqueName(parent, path.at(-1));
    this._insert(parent, index, name, taken.schema, taken.ui, taken.required);
    if (named && this._named([...parent, name])) this._repoint(path, [...parent, name]);
    return [...parent, name];
  }

  rename(path, name) {
    const parent = path.slice(0, -1);
    const old = path.at(-1);
    if (name === old) return path;
    const holder = this.holder(parent);
    const names = this.children(parent).map((n) => (n === old ? name : n));
    const props = {};
    for (const [k, v] of Object.entries(holder.properties)) put(props, k === old ? name : k, v);
    holder.properties = props;
    if (Array.isArray(holder.required)) holder.required = holder.required.map((n) => (n === old ? name : n));
    const ui = this.uiHolder(parent);
    if (ui && Object.hasOwn(ui, old)) {
      const renamed = {};
      for (const [k, v] of Object.entries(ui)) put(renamed, k === old ? name : k, v);
      for (const k of Object.keys(ui)) delete ui[k];
      Object.assign(ui, renamed);
    }
    this._order(parent, names);
    if (this._named(path)) this._repoint(path, [...parent, name]);
    return [...parent, name];
  }

  // ---- what is missing ------------------------------------------------------------------------------------

  /** Labels, help and choices lacking Chinese or English: [{path, what, lang}]. */
  missingTranslations() {
    const out = [];
    const title = this.def.title;
    for (const lang of ["zh-CN", "en"]) {
      if (!isObject(title) || !String(title[lang] || "").trim()) out.push({ path: null, what: "title", lang });
      const desc = this.def.description;
      if (isObject(desc) && Object.values(desc).some((v) => String(v || "").trim()) && !String(desc[lang] || "").trim()) {
        out.push({ path: null, what: "description", lang });
      }
    }
    for (const field of this.walk()) {
      const s = field.schema;
      if (!isObject(s)) continue;
      if (!String(s.title || "").trim()) out.push({ path: field.path, what: "label", lang: "zh-CN" });
      if (!String(s["x-title-en"] || "").trim()) out.push({ path: field.path, what: "label", lang: "en" });
      const hasHelp = String(s.description || "").trim() || String(s["x-description-en"] || "").trim();
      if (hasHelp && !String(s.description || "").trim()) out.push({ path: field.path, what: "help", lang: "zh-CN" });
      if (hasHelp && !String(s["x-description-en"] || "").trim()) out.push({ path: field.path, what: "help", lang: "en" });
      const choices = field.kind === "checkboxes" ? s.items : s;
      if (isObject(choices) && Array.isArray(choices.enum)) {
        const titles = isObject(choices["x-enum-titles"]) ? choices["x-enum-titles"] : {};
        for (const lang of ["zh-CN", "en"]) {
          const list = titles[lang];
          if (!Array.isArray(list) || list.length !== choices.enum.length || list.some((x) => !String(x || "").trim())) {
            out.push({ path: field.path, what: "options", lang });
          }
        }
      }
    }
    return out;
  }

  /** The fields a condition may name (JSON Logic `var`: the path joined with "."), as logic.js wants them. */
  conditionFields(except) {
    const skip = except ? except.join("/") : null;
    return this.walk().filter((f) => !f.inGroup && f.kind !== "section" && f.kind !== "group"
        && f.path.join("/") !== skip && f.path.every((p) => !p.includes("."))).map((f) => {
      const s = f.schema;
      const choices = f.kind === "checkboxes" ? s.items : s;
      const entry = {
        var: f.path.join("."), pointer: "/" + f.path.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/"),
        title: { "zh-CN": s.title || f.path.at(-1), en: s["x-title-en"] || s.title || f.path.at(-1) },
        type: typeOf(s) || "string",
      };
      if (typeof s.format === "string") entry.format = s.format;
      if (isObject(choices) && Array.isArray(choices.enum)) {
        entry.enum = choices.enum;
        if (isObject(choices["x-enum-titles"])) entry.enumTitles = choices["x-enum-titles"];
      }
      return entry;
    });
  }
}

const CONDITION_KEYWORDS = ["x-show-if", "x-required-if"];
const UI_SHOW_IF = "ui:options.show_if";            // the older place of a show-if rule, in ui_schema

/** The field names a JSON Logic rule reads (`{"var": "a.b"}` or `{"var": ["a.b", default]}`). */
export function varsOf(rule, out = []) {
  if (Array.isArray(rule)) { rule.forEach((r) => varsOf(r, out)); return out; }
  if (!isObject(rule)) return out;
  if (Object.keys(rule).length === 1 && Object.hasOwn(rule, "var")) {
    const v = Array.isArray(rule.var) ? rule.var[0] : rule.var;
    if (typeof v === "string") out.push(v);
    else varsOf(rule.var, out);
    return out;
  }
  Object.values(rule).forEach((r) => varsOf(r, out));
  return out;
}

/** The field a definition problem's JSON pointer is about (its path), or null for the form itself. */
export function fieldOfProblem(model, pointer) {
  const parts = String(pointer || "").split("/").slice(1).map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
  let found = null;
  if (parts[0] === "schema") {
    const path = [];
    let i = 1;
    while (i < parts.length) {
      if (parts[i] === "properties" && i + 1 < parts.length) {
        path.push(parts[i + 1]);
        if (model.schema(path) === undefined) return found;
        found = [...path];
        i += 2;
      } else if (parts[i] === "items") {
        i += 1;
      } else if (parts[i] === "required" && i + 1 < parts.length) {
        return found;
      } else {
        return found;
      }
    }
    return found;
  }
  if (parts[0] === "ui_schema") {
    const path = [];
    for (const part of parts.slice(1)) {
      if (part === "items") continue;
      if (model.schema([...path, part]) === undefined) break;
      path.push(part);
      found = [...path];
    }
  }
  return found;
}
