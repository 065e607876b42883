// Keys: the tenant's API keys (prefix, scopes, state, last use); create, edit (name, sources,
// rate), revoke, rotate. Every form answers with a redirect; a new or rotated key is shown once
// on the page it lands on (src/admin/flash.ts). Through src/modules/keys/service.ts.
import { Value } from "@sinclair/typebox/value";
import { SCOPES } from "../core/keys";
import { ApiError } from "../http/errors";
import { KeyCreate, KeyUpdate } from "../modules/keys/model";
import * as keys from "../modules/keys/service";
import { html, type Html } from "./html";
import { field, intField, see, type Area, type Ctx } from "./kit";
import { badge, csrfField, when } from "./layout";

type KeyView = ReturnType<typeof keys.view>;

/** One badge per state, saying what it means (a rotated key still works until it expires). */
export function keyState(k: KeyView): Html {
  if (k.state === "rotated") return html`${badge("st", "rotated")} <span class="muted">works until ${when(k.expires_at)}</span>`;
  return badge("st", k.state === "active" || k.state === "revoked" || k.state === "expired" ? k.state : "x", k.state);
}

function checked<T>(schema: Parameters<typeof Value.Check>[0], body: unknown): T {
  const first = Value.Errors(schema, body).First();
  if (first) {
    const name = first.path.split("/")[1] || "form";
    throw new ApiError(422, "invalid_form", `${name}: ${first.schema.error ?? first.message}`, [{ path: first.path || "/", message: String(first.schema.error ?? first.message) }]);
  }
  return body as T;
}

const sourcesOf = (c: Ctx) => field(c, "sources", { optional: true, max: 5000 })?.split(",").map((x) => x.trim()).filter(Boolean);

/** A rate field: empty → null (the server default), else a number. */
function rateOf(c: Ctx, name: string): number | null {
  const v = field(c, name, { optional: true, max: 20 });
  if (v === undefined) return null;
  if (!/^\d+(\.\d+)?$/.test(v)) throw new ApiError(422, "invalid_form", `${name} must be a number (empty: the server default)`, [{ path: `/${name}`, message: "not a number" }]);
  return Number(v);
}

async function listPage(c: Ctx) {
  const { items } = await keys.list(c.deps, c.tenantId);
  const body = html`<h1>Keys</h1>
<div class="table-wrap"><table id="keys"><thead><tr><th>Name</th><th>Prefix</th><th>Scopes</th><th>State</th><th>Rate</th><th>Last used</th><th>Expires</th><th></th></tr></thead><tbody>
${items.map(
  (k) => html`<tr data-key="${k.id}"><td class="name"><a href="/admin/keys/${k.id}">${k.name}</a>${k.id === c.session.keyId ? html` <span class="muted">(this session)</span>` : ""}</td><td><code class="token">kw_${k.prefix}_…</code></td>
  <td>${k.scopes.join(", ")}${k.sources ? html`<br><span class="muted">sources: ${k.sources.join(", ")}</span>` : ""}</td>
  <td class="state">${keyState(k)}</td><td>${k.rate_limit === null ? html`<span class="muted">default</span>` : k.rate_limit === 0 ? "unlimited" : `${k.rate_limit}/s`}${k.rate_burst === null ? "" : ` (burst ${k.rate_burst})`}</td><td>${when(k.last_used_at)}</td><td>${when(k.expires_at)}</td>
  <td>${actions(c, k)}</td></tr>`,
)}
</tbody></table></div>
<h2>New key</h2>
<form class="stack" method="post" action="/admin/keys">${csrfField(c.session)}
  <label>Name <input name="name" required maxlength="200"></label>
  <fieldset><legend>Scopes</legend>${SCOPES.map((s) => html`<label><span><input type="checkbox" name="scopes" value="${s}"${s === "ingest" ? html` checked` : ""}> ${s}</span></label>`)}</fieldset>
  <label>Only these sources (comma separated, empty: every source) <input name="sources"></label>
  <label>Rate (requests/s, empty: the server default, 0: unlimited) <input name="rate_limit" inputmode="decimal"></label>
  <label>Burst (requests, empty: the server default) <input name="rate_burst" inputmode="numeric"></label>
  <label>Expires in (days, empty: never) <input name="expires_days" inputmode="numeric"></label>
  <div><button type="submit">Create key</button></div>
</form>`;
  return { title: "Keys", current: "/admin/keys", body };
}

/** Rotate only an active key (a rotated one already has its successor); never revoke the session's own key. */
function actions(c: Ctx, k: KeyView): Html | string {
  if (k.state !== "active" && k.state !== "rotated") return "";
  return html`<div class="actions">${k.state === "active" ? html`<form class="inline" method="post" action="/admin/keys/${k.id}/rotate" data-confirm="Rotate “${k.name}”? A new key replaces it; the old one keeps working for the overlap, then stops.">${csrfField(c.session)}<button type="submit" class="secondary">Rotate</button></form>` : ""}
    ${k.id === c.session.keyId ? "" : html`<form class="inline" method="post" action="/admin/keys/${k.id}/revoke" data-confirm="Revoke “${k.name}” now? Everything using it is refused from this moment.">${csrfField(c.session)}<button type="submit" class="danger">Revoke</button></form>`}</div>`;
}

async function detailPage(c: Ctx, id: string) {
  const k = await keys.get(c.deps, c.tenantId, id);
  const body = html`<p><a href="/admin/keys">← Keys</a></p>
<h1 class="name">${k.name} ${keyState(k)}</h1>
<dl class="fields"><dt>prefix</dt><dd><code>kw_${k.prefix}_…</code></dd><dt>scopes</dt><dd>${k.scopes.join(", ")}</dd>
<dt>created</dt><dd>${when(k.created_at)}</dd><dt>last used</dt><dd>${when(k.last_used_at)}</dd><dt>expires</dt><dd>${when(k.expires_at)}</dd></dl>
<p>${actions(c, k)}</p>
<h2>Edit</h2>
<form class="stack" method="post" action="/admin/keys/${k.id}">${csrfField(c.session)}
  <label>Name <input name="name" required maxlength="200" value="${k.name}"></label>
  <label>Only these sources (comma separated, empty: every source) <input name="sources" value="${(k.sources ?? []).join(", ")}"></label>
  <label>Rate (requests/s, empty: the server default, 0: unlimited) <input name="rate_limit" inputmode="decimal" value="${k.rate_limit === null ? "" : String(k.rate_limit)}"></label>
  <label>Burst (requests, empty: the server default) <input name="rate_burst" inputmode="numeric" value="${k.rate_burst === null ? "" : String(k.rate_burst)}"></label>
  <div><button type="submit">Save</button></div>
</form>`;
  return { title: k.name, current: "/admin/keys", body };
}

export const keysArea: Area = {
  nav: { path: "/admin/keys", label: "Keys" },
  routes: [
    { method: "GET", path: "/admin/keys", handler: (c) => listPage(c) },
    { method: "GET", path: "/admin/keys/:id", handler: (c) => detailPage(c, c.params.id) },
    {
      method: "POST",
      path: "/admin/keys",
      handler: async (c) => {
        const days = intField(c, "expires_days", true);
        const sources = sourcesOf(c);
        const rate = rateOf(c, "rate_limit");
        const burst = intField(c, "rate_burst", true);
        const body = checked<KeyCreate>(KeyCreate, {
          name: field(c, "name", { max: 200 })!,
          scopes: c.form.getAll("scopes"),
          ...(sources?.length ? { sources } : {}),
          ...(days ? { expires_in: days * 86400 } : {}),
          ...(rate !== null ? { rate_limit: rate } : {}),
          ...(burst !== undefined ? { rate_burst: burst } : {}),
        });
        const k = await keys.create(c.deps, c.tenantId, body);
        c.once({ note: `Key "${k.name}" created. Copy it now: it is shown only once.`, items: [{ id: "new-key", label: "Key", value: k.key }] });
        return see("/admin/keys");
      },
    },
    {
      method: "POST",
      path: "/admin/keys/:id",
      handler: async (c) => {
        const sources = sourcesOf(c) ?? [];
        const burst = intField(c, "rate_burst", true);
        const body = checked<KeyUpdate>(KeyUpdate, { name: field(c, "name", { max: 200 })!, sources: sources.length ? sources : null, rate_limit: rateOf(c, "rate_limit"), rate_burst: burst ?? null });
        await keys.update(c.deps, c.tenantId, c.params.id, body);
        return see(`/admin/keys/${encodeURIComponent(c.params.id)}`, "updated");
      },
    },
    {
      method: "POST",
      path: "/admin/keys/:id/revoke",
      handler: async (c) => {
        await keys.revoke(c.deps, c.tenantId, c.params.id, c.session.keyId);
        return see("/admin/keys", "revoked");
      },
    },
    {
      method: "POST",
      path: "/admin/keys/:id/rotate",
      handler: async (c) => {
        const k = await keys.rotate(c.deps, c.tenantId, c.params.id);
        c.once({ note: `Key "${k.name}" rotated. The old key keeps working until ${k.previous.expires_at}. Copy the new one now: it is shown only once.`, items: [{ id: "new-key", label: "New key", value: k.key }] });
        return see("/admin/keys");
      },
    },
  ],
};
