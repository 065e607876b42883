// Enrichers (HTTP lookups): list, create, edit, delete. Header values are secrets in practice
// (API keys): pages show them masked, and the edit form replaces them only when new ones are
// typed. Through src/modules/enrichers/service.ts; bodies are checked against the API's schemas.
import { Value } from "@sinclair/typebox/value";
import { INDICATOR_TYPES } from "../core/indicators";
import { ApiError } from "../http/errors";
import { EnricherCreate, EnricherUpdate } from "../modules/enrichers/model";
import * as enrichers from "../modules/enrichers/service";
import { parseHeaders } from "../modules/webhooks/service";
import { html } from "./html";
import { field, see, type Area, type Ctx } from "./kit";
import { badge, csrfField, when } from "./layout";

const path = (id: string) => `/admin/enrichers/${encodeURIComponent(id)}`;

/** A header value as pages show it: never the whole; the last four characters of a long one. */
const mask = (v: string) => (v.length >= 16 ? `…${v.slice(-4)}` : "…");

const maskedHeaders = (h: Record<string, string>) => {
  const e = Object.entries(h);
  return e.length ? e.map(([k, v]) => html`<code>${k}: ${mask(v)}</code><br>`) : html`<span class="muted">none</span>`;
};

function checked(schema: Parameters<typeof Value.Check>[0], body: unknown): void {
  const first = Value.Errors(schema, body).First();
  if (first) throw new ApiError(422, "invalid_form", `${first.path.slice(1) || "form"}: ${(first.schema.error as string | undefined) ?? first.message.toLowerCase()}; nothing was changed`);
}

function timeoutOf(c: Ctx): number | undefined {
  const v = field(c, "timeout", { optional: true, max: 10 });
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ApiError(422, "invalid_form", "timeout must be a number of seconds");
  return n;
}

function formBody(c: Ctx): Record<string, unknown> {
  const headersText = c.form.get("headers") ?? "";
  const b: Record<string, unknown> = {
    name: field(c, "name", { max: 200 })!,
    indicator_types: c.form.getAll("indicator_types"),
    url_template: field(c, "url_template", { max: 2048 })!,
    timeout: timeoutOf(c),
    active: c.form.get("active") === "on",
  };
  if (headersText.trim()) b.headers = parseHeaders(headersText);
  if (b.timeout === undefined) delete b.timeout;
  return b;
}

function fields(e?: { name: string; indicator_types: string[]; url_template: string; timeout: number; active: boolean; headers: Record<string, string> }) {
  return html`<label>Name <input name="name" required maxlength="200" value="${e?.name ?? ""}"></label>
  <fieldset><legend>Indicator types</legend>${INDICATOR_TYPES.map(
    (t) => html`<label><span><input type="checkbox" name="indicator_types" value="${t}"${e?.indicator_types.includes(t) ? html` checked` : ""}> ${t}</span></label>`,
  )}</fieldset>
  <label><span>URL template (GET; <code>{{value}}</code>, optionally <code>{{type}}</code>)</span> <input name="url_template" required maxlength="2048" value="${e?.url_template ?? ""}" placeholder="https://intel.example/ip/{{value}}"></label>
  <label>${e ? html`Replace headers ("Name: value" lines; empty: keep the current ones)` : html`Headers ("Name: value" lines, e.g. an API key)`} <textarea name="headers" autocomplete="off"></textarea></label>
  ${e && Object.keys(e.headers).length ? html`<label><span><input type="checkbox" name="clear_headers"> remove every header</span></label>` : ""}
  <label>Timeout (seconds, empty: 5) <input name="timeout" inputmode="decimal" value="${e ? String(e.timeout) : ""}"></label>
  <label><span><input type="checkbox" name="active"${!e || e.active ? html` checked` : ""}> active</span></label>`;
}

export const enrichersArea: Area = {
  nav: { path: "/admin/enrichers", label: "Enrichers" },
  routes: [
    {
      method: "GET",
      path: "/admin/enrichers",
      handler: async (c) => {
        const { items } = await enrichers.list(c.deps, c.tenantId);
        const body = html`<h1>Enrichers</h1>
${items.length === 0
  ? html`<p class="muted">No enrichers yet.</p>`
  : html`<div class="table-wrap"><table id="enrichers"><thead><tr><th>Name</th><th>Types</th><th>URL template</th><th>Headers</th><th>State</th><th>Updated</th></tr></thead><tbody>
  ${items.map((e) => html`<tr><td><a href="${path(e.id)}">${e.name}</a></td><td>${e.indicator_types.join(", ")}</td><td><code>${e.url_template}</code></td>
  <td>${maskedHeaders(e.headers)}</td><td>${badge("st", e.active ? "active" : "inactive")}</td><td>${when(e.updated_at)}</td></tr>`)}
  </tbody></table></div>`}
<h2>New enricher</h2>
<form class="stack" method="post" action="/admin/enrichers">${csrfField(c.session)}
  ${fields()}
  <div><button type="submit">Create</button></div>
</form>`;
        return { title: "Enrichers", current: "/admin/enrichers", body };
      },
    },
    {
      method: "POST",
      path: "/admin/enrichers",
      handler: async (c) => {
        const b = formBody(c);
        checked(EnricherCreate, b);
        const e = await enrichers.create(c.deps, c.tenantId, b as EnricherCreate);
        return see(path(e.id), "created");
      },
    },
    {
      method: "GET",
      path: "/admin/enrichers/:id",
      handler: async (c) => {
        const e = await enrichers.get(c.deps, c.tenantId, c.params.id);
        const body = html`<p><a href="/admin/enrichers">← Enrichers</a></p>
<h1><span id="enricher-title">${e.name}</span> ${badge("st", e.active ? "active" : "inactive")}</h1>
<dl class="fields"><dt>types</dt><dd>${e.indicator_types.join(", ")}</dd><dt>URL template</dt><dd><code>${e.url_template}</code></dd>
<dt>headers</dt><dd id="headers">${maskedHeaders(e.headers)}</dd><dt>timeout</dt><dd>${e.timeout} s</dd><dt>updated</dt><dd>${when(e.updated_at)}</dd></dl>
<p><form class="inline" method="post" action="${path(e.id)}/delete" data-confirm="Delete this enricher? Alerts keep the results it already added.">${csrfField(c.session)}<button type="submit" class="danger">Delete</button></form></p>
<h2>Edit</h2>
<form class="stack" method="post" action="${path(e.id)}">${csrfField(c.session)}
  ${fields(e)}
  <div><button type="submit">Save</button></div>
</form>`;
        return { title: e.name, current: "/admin/enrichers", body };
      },
    },
    {
      method: "POST",
      path: "/admin/enrichers/:id",
      handler: async (c) => {
        const b = formBody(c);
        if (b.headers === undefined && c.form.get("clear_headers") === "on") b.headers = {};
        checked(EnricherUpdate, b);
        await enrichers.update(c.deps, c.tenantId, c.params.id, b as EnricherUpdate);
        return see(path(c.params.id), "updated");
      },
    },
    {
      method: "POST",
      path: "/admin/enrichers/:id/delete",
      handler: async (c) => {
        await enrichers.remove(c.deps, c.tenantId, c.params.id);
        return see("/admin/enrichers", "deleted");
      },
    },
  ],
};
