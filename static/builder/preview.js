// The live preview: the clerk's own page for the definition being built, rendered by the server's
// renderer (POST /admin/forms/builder/preview), with its conditions live as on the clerk's page, and
// "try it": the completeness check a clerk gets on accepting, every message at once.
// the clerk's page's own conditions (show-if, and the live "required" marker of x-required-if): one code path
import { applyConditions, formData } from "../counterflow.js";
import { el } from "./editor.js";

const csrf = () => document.querySelector("meta[name=cf-csrf]")?.content || "";

/** POST a JSON body to one of the page's endpoints; {status, body}. */
export async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf(), Accept: "application/json" },
    body: JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  return { status: response.status, body: data };
}

/** The id the renderer gives a field (forms/render.py field_id): unsafe characters as UTF-8 hex. */
export function fieldId(pointer) {
  const parts = pointer.split("/").slice(1).map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
  const encoder = new TextEncoder();
  const segment = (part) => (part === "" ? "." : [...part].map((c) => (/[A-Za-z0-9_]/.test(c) ? c
    : [...encoder.encode(c)].map((b) => `.${b.toString(16).padStart(2, "0")}`).join(""))).join(""));
  return ["cf-f", ...parts.map(segment)].join("-");
}

export class Preview {
  constructor({ root, form, gaps, status, url, t, onResult }) {
    Object.assign(this, { root, form, gapsRoot: gaps, statusRoot: status, url, t, onResult });
    this.timer = null;
    this.seq = 0;
    this.pending = false;
    form.addEventListener("submit", (e) => e.preventDefault());
    form.addEventListener("input", () => applyConditions(form));
    form.addEventListener("change", () => applyConditions(form));
  }

  /** The data typed into the preview, as the clerk's page would post it. */
  data() {
    const data = formData(this.form);
    // a file picked in the preview is not uploaded: it stands for an attachment being there
    for (const input of this.form.querySelectorAll("input[type=file]")) {
      if (!input.files || !input.files.length || input.disabled) continue;
      const parts = input.name.split(".");
      let at = data;
      for (const part of parts.slice(0, -1)) at = at[part] = at[part] && typeof at[part] === "object" ? at[part] : {};
      const stand = "att_PREV1EW0000000000000000000"; // shaped as an attachment id; never stored
      at[parts.at(-1)] = input.multiple ? [stand] : stand;
    }
    return data;
  }

  schedule(definition) {
    this.pending = true;
    this.statusRoot.textContent = this.t("checking");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(definition, false), 350);
  }

  async run(definition, tryIt) {
    clearTimeout(this.timer);
    const seq = ++this.seq;
    this.pending = true;
    let data = {};
    try { data = this.data(); } catch { data = {}; }
    let result;
    try {
      result = await postJSON(this.url, { definition, data, try: tryIt });
    } catch {
      result = { status: 0, body: null };
    }
    if (seq !== this.seq) return;           // a newer check is under way
    this.pending = false;
    const body = result.body || {};
    if (result.status !== 200) {
      const message = body.error ? body.error.message : this.t("preview_failed");
      this.statusRoot.textContent = message;
      this.onResult({ ok: false, problems: (body.error && body.error.details) || [{ path: "", message }] });
      return;
    }
    if (body.rendered) {
      this.form.innerHTML = body.html;        // the server's renderer escaped every admin-written text
      applyConditions(this.form);
    }
    this.statusRoot.textContent = body.problems.length
      ? this.t("preview_problems").replace("{n}", body.problems.length) : this.t("preview_ok");
    this.showGaps(body, tryIt);
    this.onResult({ ok: true, problems: body.problems, gaps: body.gaps });
  }

  showGaps(body, tryIt) {
    if (!tryIt) {
      this.gapsRoot.hidden = true;
      this.gapsRoot.replaceChildren();
      return;
    }
    this.gapsRoot.hidden = false;
    if (!body.tried) {
      this.gapsRoot.replaceChildren(el("p", { text: this.t("try_fix_first") }));
      return;
    }
    const items = body.gaps.map((gap) => {
      const id = gap.path ? fieldId(gap.path) : "";
      const target = id && this.form.querySelector(`#${CSS.escape(id)}`);
      const text = gap.message || gap.code;
      return el("li", { dataset: { path: gap.path, code: gap.code } }, target
        ? el("a", { href: `#${id}`, text, onclick: (e) => { e.preventDefault(); target.focus(); } })
        : text);
    });
    this.gapsRoot.replaceChildren(
      el("h3", { text: body.gaps.length ? this.t("try_gaps").replace("{n}", body.gaps.length) : this.t("try_none") }),
      el("ol", { className: "cf-b-gap-list" }, ...items));
    this.gapsRoot.focus();
  }
}
