// Rules: list (the filter as readable text, hit counts), create, edit, enable/disable, delete, and
// a dry run over the last N stored events shown as a table of the matching events. The filter is
// built from simple rows (field, operator, value; all or any) or, as the advanced option, written
// as JSON (the same document the /v1/rules API takes); threshold and action are JSON.
// Through src/modules/rules/service.ts; form bodies are checked against the API's typebox schemas.
import { Value } from "@sinclair/typebox/value";
import { FIELDS, OPS, validateFilter } from "../core/filter";
import { filterText, simpleFilter } from "../core/filter-text";
import { ApiError } from "../http/errors";
import { RuleBody } from "../modules/rules/model";
import * as rules from "../modules/rules/service";
import { html } from "./html";
import { field, intField, see, type Area, type Ctx, type PageResult } from "./kit";
import { badge, csrfField, when } from "./layout";

function jsonField(c: Ctx, name: string, optional = false): unknown {
  const v = field(c, name, { optional, max: 50_000 });
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v);
  } catch (e) {
    throw new ApiError(422, "invalid_form", `${name} is not valid JSON: ${(e as Error).message}`, [{ path: `/${name}`, message: "not JSON" }]);
  }
}

const OP_LABEL: Record<string, string> = { eq: "is", neq: "is not", in: "is one of (comma separated)", contains: "contains", prefix: "starts with", regex: "matches (RE2)", gte: "at least", lte: "at most", exists: "exists (value: empty or false)" };

/** The builder's rows as a filter: one condition alone, or all/any of them. */
export function builtFilter(form: URLSearchParams): unknown {
  const fields = form.getAll("cond_field");
  const ops = form.getAll("cond_op");
  const values = form.getAll("cond_value");
  const conds: unknown[] = [];
  fields.forEach((raw, i) => {
    const f = raw.trim();
    const v = (values[i] ?? "").trim();
    if (!f) {
      if (v) throw new ApiError(422, "invalid_form", `condition ${i + 1}: choose a field for the value "${v}"`, [{ path: `/cond_field/${i}`, message: "a field is required" }]);
      return;
    }
    const op = ops[i] ?? "eq";
    if (!OPS.includes(op as never)) throw new ApiError(422, "invalid_form", `condition ${i + 1}: unknown operator`, [{ path: `/cond_op/${i}`, message: "unknown operator" }]);
    let value: unknown = v;
    if (op === "in") value = v.split(",").map((x) => x.trim()).filter(Boolean);
    else if (op === "exists") value = v === "" || v === "true" ? undefined : v === "false" ? false : v;
    else if ((op === "gte" || op === "lte") && f !== "severity" && /^-?\d+(\.\d+)?$/.test(v)) value = Number(v);
    conds.push(value === undefined ? { field: f, op } : { field: f, op, value });
    const problems = validateFilter(conds[conds.length - 1]);
    if (problems.length) {
      const where = problems[0].path.endsWith("/field") ? "cond_field" : problems[0].path.endsWith("/op") ? "cond_op" : "cond_value";
      throw new ApiError(422, "invalid_form", `condition ${i + 1}: ${problems[0].path.split("/").pop()} ${problems[0].message}`, [{ path: `/${where}/${i}`, message: problems[0].message }]);
    }
  });
  if (conds.length === 0) throw new ApiError(422, "invalid_form", "add at least one condition (a field, an operator and a value)", [{ path: "/cond_field/0", message: "no condition" }]);
  if (conds.length === 1) return conds[0];
  return { [form.get("match") === "any" ? "any" : "all"]: conds };
}

/** The rule from the form, as the API's RuleBody. */
function ruleOf(c: Ctx) {
  const threshold = jsonField(c, "threshold", true);
  const filter = c.form.get("filter_mode") === "json" ? jsonField(c, "filter") : builtFilter(c.form);
  const body = { name: field(c, "name", { max: 200 }), enabled: c.form.get("enabled") === "on", filter, threshold: threshold ?? null, action: jsonField(c, "action") };
  const first = Value.Errors(RuleBody, body).First();
  if (first) throw new ApiError(422, "invalid_form", `${first.path.slice(1) || "rule"}: ${String(first.schema.error ?? first.message).toLowerCase()}`, [{ path: first.path, message: first.message }]);
  return body as Parameters<typeof rules.create>[2];
}

const EXAMPLE = {
  filter: { all: [{ field: "type", op: "eq", value: "deploy.failed" }, { field: "payload.env", op: "eq", value: "prod" }] },
  action: JSON.stringify({ kind: "alert", title: "{{payload.service}} deploy failed", severity: "high", fingerprint: ["payload.service"] }, null, 2),
};

const valueText = (v: unknown) => (Array.isArray(v) ? v.join(", ") : v === undefined ? "" : String(v));

const ruleForm = (c: Ctx, action: string, r: { name?: string; enabled?: boolean; filter?: unknown; threshold?: unknown; action?: unknown }, submit: string) => {
  const filter = r.filter !== undefined ? r.filter : EXAMPLE.filter;
  const simple = simpleFilter(filter);
  const rows = [...(simple?.conditions ?? []), ...Array.from({ length: Math.max(2, 3 - (simple?.conditions.length ?? 0)) }, () => ({ field: "", op: "eq", value: "" as unknown }))];
  return html`<form class="stack rule-form" method="post" action="${action}">${csrfField(c.session)}
  <label>Name <input name="name" required maxlength="200" value="${r.name ?? ""}"></label>
  <label><span><input type="checkbox" name="enabled"${r.enabled === false ? "" : html` checked`}> enabled</span></label>
  <fieldset id="builder"><legend><label><span><input type="radio" name="filter_mode" value="builder"${simple ? html` checked` : ""}> Filter: events where</span></label></legend>
    <label>Match <select name="match"><option value="all"${simple?.match !== "any" ? html` selected` : ""}>all of these conditions</option><option value="any"${simple?.match === "any" ? html` selected` : ""}>any of these conditions</option></select></label>
    <datalist id="rule-fields">${FIELDS.map((f) => html`<option value="${f}"></option>`)}<option value="payload."></option></datalist>
    <div class="table-wrap"><table class="conditions"><thead><tr><th>Field (or payload.path)</th><th>Operator</th><th>Value</th></tr></thead><tbody>
    ${rows.map(
      (row, i) => html`<tr><td><input name="cond_field" list="rule-fields" aria-label="field ${String(i + 1)}" value="${row.field}" placeholder="type, severity, payload.env"></td>
      <td><select name="cond_op" aria-label="operator ${String(i + 1)}">${OPS.map((o) => html`<option value="${o}"${o === row.op ? html` selected` : ""}>${OP_LABEL[o]}</option>`)}</select></td>
      <td><input name="cond_value" aria-label="value ${String(i + 1)}" value="${valueText(row.value)}"></td></tr>`,
    )}</tbody></table></div>
    <p class="muted">Empty rows are ignored. Severity compares on the scale (unknown &lt; info &lt; low &lt; medium &lt; high &lt; critical).</p>
  </fieldset>
  <fieldset id="advanced"><legend><label><span><input type="radio" name="filter_mode" value="json"${simple ? "" : html` checked`}> Advanced: the filter as JSON (all / any / not, nested)</span></label></legend>
    <label>Filter (JSON) <textarea name="filter" rows="6">${JSON.stringify(filter, null, 2)}</textarea></label>
  </fieldset>
  <label>Threshold (JSON, optional: {"count": 5, "window": 60}) <textarea name="threshold" rows="2">${r.threshold ? JSON.stringify(r.threshold) : ""}</textarea></label>
  <label>Action (JSON: alert, suppress or tag) <textarea name="action" rows="4">${r.action !== undefined ? JSON.stringify(r.action, null, 2) : EXAMPLE.action}</textarea></label>
  <label>Test over the last N events <input name="last" inputmode="numeric" value="100"></label>
  <div><button type="submit" name="do" value="save">${submit}</button> <button type="submit" name="do" value="test" class="secondary">Test (stores nothing)</button></div>
</form>`;
};

type DryRun = { evaluated: number; matched: number; alerts: unknown[]; events: { id: string; received_at: string; type: string; source: string; title: string; severity: string; alert: string | null }[] };

/** Save or dry-run, by the button pressed. */
async function saveOrTest(c: Ctx, id: string | null): Promise<PageResult> {
  const rule = ruleOf(c);
  if (c.form.get("do") === "test") {
    const last = intField(c, "last", true) ?? 100;
    if (last < 1 || last > 1000) throw new ApiError(422, "invalid_form", "last: test over 1 to 1000 events", [{ path: "/last", message: "1 to 1000" }]);
    const result = (await rules.test(c.deps, c.tenantId, { rule, last })) as DryRun;
    return {
      title: "Rule test",
      current: "/admin/rules",
      body: html`<p><a href="${id ? `/admin/rules/${id}` : "/admin/rules"}">← Back</a></p><h1>Test of “${rule.name}”</h1>
<p id="test-summary">${result.matched} of ${result.evaluated} events matched; ${result.alerts.length} alert(s) would open.</p>
<p class="muted">Filter: <code id="test-filter">${filterText(rule.filter)}</code></p>
${result.events.length
  ? html`<div class="table-wrap"><table id="test-events"><thead><tr><th>Received</th><th>Severity</th><th>Type</th><th>Source</th><th>Title</th><th>Alert it would open or join</th></tr></thead><tbody>
  ${result.events.map((e) => html`<tr><td>${when(e.received_at)}</td><td>${badge("sev", e.severity)}</td><td><code class="token">${e.type}</code></td><td>${e.source}</td><td><a href="/admin/events/${e.id}">${e.title}</a></td><td>${e.alert ?? html`<span class="muted">—</span>`}</td></tr>`)}
  </tbody></table></div>${result.matched > result.events.length ? html`<p class="muted">the first ${result.events.length} are listed</p>` : ""}`
  : html`<p class="muted">No stored event matched.</p>`}
<h2>Edit and test again</h2>
${ruleForm(c, id ? `/admin/rules/${id}` : "/admin/rules", rule, id ? "Save" : "Create")}`,
    };
  }
  const saved = id ? await rules.update(c.deps, c.tenantId, id, rule) : await rules.create(c.deps, c.tenantId, rule);
  return see(`/admin/rules/${saved.id}`, id ? "updated" : "created");
}

const hitsCell = (r: { hits: number; last_hit_at: string | null }) => html`<span class="hits">${r.hits}</span>${r.last_hit_at ? html` <span class="muted">last ${when(r.last_hit_at)}</span>` : ""}`;

export const rulesArea: Area = {
  nav: { path: "/admin/rules", label: "Rules" },
  routes: [
    {
      method: "GET",
      path: "/admin/rules",
      handler: async (c) => {
        const { items } = await rules.list(c.deps, c.tenantId);
        const body = html`<h1>Rules</h1>
${items.length
  ? html`<div class="table-wrap"><table id="rules"><thead><tr><th>Name</th><th>State</th><th>Action</th><th>Filter</th><th>Hits</th></tr></thead><tbody>
  ${items.map((r) => html`<tr><td><a href="/admin/rules/${r.id}">${r.name}</a></td><td>${badge("st", r.enabled ? "active" : "inactive", r.enabled ? "enabled" : "disabled")}</td><td>${(r.action as { kind: string }).kind}</td><td><code class="filter-text">${filterText(r.filter)}</code>${r.threshold ? html` <span class="muted">(${(r.threshold as { count: number }).count} within ${(r.threshold as { window: number }).window} s)</span>` : ""}</td><td>${hitsCell(r)}</td></tr>`)}
  </tbody></table></div>`
  : html`<p class="muted">No rules yet.</p>`}
<h2>New rule</h2>${ruleForm(c, "/admin/rules", {}, "Create")}`;
        return { title: "Rules", current: "/admin/rules", body };
      },
    },
    { method: "POST", path: "/admin/rules", handler: (c) => saveOrTest(c, null) },
    {
      method: "GET",
      path: "/admin/rules/:id",
      handler: async (c) => {
        const r = await rules.get(c.deps, c.tenantId, c.params.id);
        return {
          title: r.name,
          current: "/admin/rules",
          body: html`<p><a href="/admin/rules">← Rules</a></p><h1>${r.name} ${badge("st", r.enabled ? "active" : "inactive", r.enabled ? "enabled" : "disabled")}</h1>
<dl class="fields"><dt>filter</dt><dd><code class="filter-text">${filterText(r.filter)}</code></dd><dt>hits</dt><dd id="hits">${hitsCell(r)}</dd></dl>
${ruleForm(c, `/admin/rules/${r.id}`, r, "Save")}
<p><form class="inline" method="post" action="/admin/rules/${r.id}/delete" data-confirm="Delete this rule? Events already tagged and alerts already opened stay as they are.">${csrfField(c.session)}<button type="submit" class="danger">Delete</button></form></p>`,
        };
      },
    },
    { method: "POST", path: "/admin/rules/:id", handler: (c) => saveOrTest(c, c.params.id) },
    {
      method: "POST",
      path: "/admin/rules/:id/delete",
      handler: async (c) => {
        await rules.remove(c.deps, c.tenantId, c.params.id);
        return see("/admin/rules", "deleted");
      },
    },
  ],
};
