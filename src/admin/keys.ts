// Keys: the tenant's API keys (prefix, scopes, state, last use); create (the key is shown once,
// in the answer to the POST), revoke, rotate. Through src/modules/keys/service.ts.
import { Value } from "@sinclair/typebox/value";
import { SCOPES } from "../core/keys";
import { ApiError } from "../http/errors";
import { KeyCreate } from "../modules/keys/model";
import * as keys from "../modules/keys/service";
import { html } from "./html";
import { field, intField, see, type Area, type Ctx } from "./kit";
import { badge, csrfField, when } from "./layout";

function listPage(c: Ctx, shown?: { key: string; note: string }) {
  const { items } = keys.list(c.deps, c.tenantId);
  const body = html`<h1>Keys</h1>
${shown ? html`<div class="flash" role="status"><p>${shown.note}</p><code id="new-key" class="secret" data-copy>${shown.key}</code></div>` : ""}
<div class="table-wrap"><table id="keys"><thead><tr><th>Name</th><th>Prefix</th><th>Scopes</th><th>State</th><th>Last used</th><th>Expires</th><th></th></tr></thead><tbody>
${items.map(
  (k) => html`<tr><td>${k.name}${k.id === c.session.keyId ? html` <span class="muted">(this session)</span>` : ""}</td><td><code>kw_${k.prefix}_…</code></td>
  <td>${k.scopes.join(", ")}${k.sources ? html`<br><span class="muted">sources: ${k.sources.join(", ")}</span>` : ""}</td>
  <td>${badge("st", k.state === "active" ? "active" : k.state === "rotated" ? "late" : "inactive")} ${k.state}</td><td>${when(k.last_used_at)}</td><td>${when(k.expires_at)}</td>
  <td>${k.state === "active" || k.state === "rotated"
    ? html`<form class="inline" method="post" action="/admin/keys/${k.id}/rotate">${csrfField(c.session)}<button type="submit" class="secondary">Rotate</button></form>
    ${k.id === c.session.keyId ? "" : html`<form class="inline" method="post" action="/admin/keys/${k.id}/revoke">${csrfField(c.session)}<button type="submit" class="danger">Revoke</button></form>`}`
    : ""}</td></tr>`,
)}
</tbody></table></div>
<h2>New key</h2>
<form class="stack" method="post" action="/admin/keys">${csrfField(c.session)}
  <label>Name <input name="name" required maxlength="200"></label>
  <fieldset><legend>Scopes</legend>${SCOPES.map((s) => html`<label><span><input type="checkbox" name="scopes" value="${s}"${s === "ingest" ? html` checked` : ""}> ${s}</span></label>`)}</fieldset>
  <label>Only these sources (comma separated, empty: every source) <input name="sources"></label>
  <label>Expires in (days, empty: never) <input name="expires_days" inputmode="numeric"></label>
  <div><button type="submit">Create key</button></div>
</form>`;
  return { title: "Keys", current: "/admin/keys", body };
}

export const keysArea: Area = {
  nav: { path: "/admin/keys", label: "Keys" },
  routes: [
    { method: "GET", path: "/admin/keys", handler: (c) => listPage(c) },
    {
      method: "POST",
      path: "/admin/keys",
      handler: (c) => {
        const days = intField(c, "expires_days", true);
        const sources = field(c, "sources", { optional: true, max: 5000 })?.split(",").map((x) => x.trim()).filter(Boolean);
        const body = { name: field(c, "name", { max: 200 })!, scopes: c.form.getAll("scopes"), ...(sources?.length ? { sources } : {}), ...(days ? { expires_in: days * 86400 } : {}) };
        const first = Value.Errors(KeyCreate, body).First();
        if (first) throw new ApiError(422, "invalid_form", `${first.path.slice(1) || "form"}: ${first.schema.error ?? first.message}`);
        const k = keys.create(c.deps, c.tenantId, body as KeyCreate);
        return { ...listPage(c, { key: k.key, note: `Key "${k.name}" created. Copy it now: it is shown only once.` }), status: 201 };
      },
    },
    {
      method: "POST",
      path: "/admin/keys/:id/revoke",
      handler: (c) => {
        keys.revoke(c.deps, c.tenantId, c.params.id, c.session.keyId);
        return see("/admin/keys", "revoked");
      },
    },
    {
      method: "POST",
      path: "/admin/keys/:id/rotate",
      handler: (c) => {
        const k = keys.rotate(c.deps, c.tenantId, c.params.id);
        return listPage(c, { key: k.key, note: `Key "${k.name}" rotated. The old key keeps working until ${k.previous.expires_at}. Copy the new one now: it is shown only once.` });
      },
    },
  ],
};
