// Rules: list, create, edit (filter, threshold and action as JSON, the same documents the
// /v1/rules API takes), enable/disable, and a dry run over the last N stored events.
// Through src/modules/rules/service.ts; form bodies are checked against the API's typebox schemas.
import { Value } from "@sinclair/typebox/value";
import { ApiError } from "../http/errors";
import { RuleBody } from "../modules/rules/model";
import * as rules from "../modules/rules/service";
import { html } from "./html";
import { field, intField, see, type Area, type Ctx } from "./kit";
import { badge, csrfField, pretty } from "./layout";

function jsonField(c: Ctx, name: string, optional = false): unknown {
  const v = field(c, name, { optional, max: 50_000 });
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v);
  } catch (e) {
    throw new ApiError(422, "invalid_form", `${name} is not valid JSON: ${(e as Error).message}`, [{ path: `/${name}`, message: "not JSON" }]);
  }
}

/** The rule from the form, as the API's RuleBody. */
function ruleOf(c: Ctx) {
  const threshold = jsonField(c, "threshold", true);
  const body = { name: field(c, "name", { max: 200 }), enabled: c.form.get("enabled") === "on", filter: jsonField(c, "filter"), threshold: threshold ?? null, action: jsonField(c, "action") };
  const first = Value.Errors(RuleBody, body).First();
  if (first) throw new ApiError(422, "invalid_form", `${first.path.slice(1) || "rule"}: ${String(first.schema.error ?? first.message).toLowerCase()}`, [{ path: first.path, message: first.message }]);
  return body as Parameters<typeof rules.create>[2];
}

const EXAMPLE = {
  filter: JSON.stringify({ all: [{ field: "type", op: "eq", value: "deploy.failed" }, { field: "payload.env", op: "eq", value: "prod" }] }, null, 2),
  action: JSON.stringify({ kind: "alert", title: "{{payload.service}} deploy failed", severity: "high", fingerprint: ["payload.service"] }, null, 2),
};

const ruleForm = (c: Ctx, action: string, r: { name?: string; enabled?: boolean; filter?: unknown; threshold?: unknown; action?: unknown }, submit: string) =>
  html`<form class="stack" method="post" action="${action}">${csrfField(c.session)}
  <label>Name <input name="name" required maxlength="200" value="${r.name ?? ""}"></label>
  <label><span><input type="checkbox" name="enabled"${r.enabled === false ? "" : html` checked`}> enabled</span></label>
  <label>Filter (JSON) <textarea name="filter" rows="6">${r.filter !== undefined ? JSON.stringify(r.filter, null, 2) : EXAMPLE.filter}</textarea></label>
  <label>Threshold (JSON, optional: {"count": 5, "window": 60}) <textarea name="threshold" rows="2">${r.threshold ? JSON.stringify(r.threshold) : ""}</textarea></label>
  <label>Action (JSON: alert, suppress or tag) <textarea name="action" rows="4">${r.action !== undefined ? JSON.stringify(r.action, null, 2) : EXAMPLE.action}</textarea></label>
  <label>Test over the last N events <input name="last" inputmode="numeric" value="100"></label>
  <div><button type="submit" name="do" value="save">${submit}</button> <button type="submit" name="do" value="test" class="secondary">Test (stores nothing)</button></div>
</form>`;

/** Save or dry-run, by the button pressed. */
function saveOrTest(c: Ctx, id: string | null) {
  const rule = ruleOf(c);
  if (c.form.get("do") === "test") {
    const last = intField(c, "last", true) ?? 100;
    if (last < 1 || last > 1000) throw new ApiError(422, "invalid_form", "test over 1 to 1000 events");
    const result = rules.test(c.deps, c.tenantId, { rule, last }) as { evaluated: number; matched: number; alerts: unknown[] };
    return {
      title: "Rule test",
      current: "/admin/rules",
      body: html`<p><a href="${id ? `/admin/rules/${id}` : "/admin/rules"}">← Back</a></p><h1>Test of “${rule.name}”</h1>
<p id="test-summary">${result.matched} of ${result.evaluated} events matched; ${result.alerts.length} alert(s) would open.</p>
${pretty(result)}${ruleForm(c, id ? `/admin/rules/${id}` : "/admin/rules", rule, id ? "Save" : "Create")}`,
    };
  }
  const saved = id ? rules.update(c.deps, c.tenantId, id, rule) : rules.create(c.deps, c.tenantId, rule);
  return see(`/admin/rules/${saved.id}`, id ? "updated" : "created");
}

export const rulesArea: Area = {
  nav: { path: "/admin/rules", label: "Rules" },
  routes: [
    {
      method: "GET",
      path: "/admin/rules",
      handler: (c) => {
        const { items } = rules.list(c.deps, c.tenantId);
        const body = html`<h1>Rules</h1>
${items.length
  ? html`<div class="table-wrap"><table id="rules"><thead><tr><th>Name</th><th>State</th><th>Action</th><th>Filter</th></tr></thead><tbody>
  ${items.map((r) => html`<tr><td><a href="/admin/rules/${r.id}">${r.name}</a></td><td>${badge("st", r.enabled ? "active" : "inactive")}</td><td>${(r.action as { kind: string }).kind}</td><td><code>${JSON.stringify(r.filter)}</code></td></tr>`)}
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
      handler: (c) => {
        const r = rules.get(c.deps, c.tenantId, c.params.id);
        return {
          title: r.name,
          current: "/admin/rules",
          body: html`<p><a href="/admin/rules">← Rules</a></p><h1>${r.name} ${badge("st", r.enabled ? "active" : "inactive")}</h1>${ruleForm(c, `/admin/rules/${r.id}`, r, "Save")}
<p><form class="inline" method="post" action="/admin/rules/${r.id}/delete" data-confirm="Delete this rule? Events already tagged and alerts already opened stay as they are.">${csrfField(c.session)}<button type="submit" class="danger">Delete</button></form></p>`,
        };
      },
    },
    { method: "POST", path: "/admin/rules/:id", handler: (c) => saveOrTest(c, c.params.id) },
    {
      method: "POST",
      path: "/admin/rules/:id/delete",
      handler: (c) => {
        rules.remove(c.deps, c.tenantId, c.params.id);
        return see("/admin/rules", "deleted");
      },
    },
  ],
};
