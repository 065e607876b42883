// Sources: the source plugins (name, kind, route, what each reads); per source the fields mapping,
// the signature setting in force (secret masked, where it comes from), a form to set it (PUT
// semantics: an empty secret keeps the stored one) or remove the tenant's own, and the URL tokens
// (masked with last use; create shows the whole token and its URL once, in the answer to the POST;
// revoke). Through src/modules/sources/service.ts.
import { Value } from "@sinclair/typebox/value";
import { SCHEMES } from "../core/inbound-signatures";
import { SettingsBody } from "../modules/sources/model";
import { ApiError } from "../http/errors";
import * as sources from "../modules/sources/service";
import { listSources, routeOf } from "../sources/registry";
import { html, type Html } from "./html";
import { field, intField, see, type Area, type Ctx } from "./kit";
import { badge, csrfField, options, when } from "./layout";

const path = (name: string) => `/admin/sources/${encodeURIComponent(name)}`;

/** "3 min ago"-style age of an ISO time, with the time itself (UTC) on hover. */
function ago(isoTime: string | null, now: number): Html {
  if (!isoTime) return html`<span class="muted">never</span>`;
  const s = Math.max(0, Math.round((now - Date.parse(isoTime)) / 1000));
  const text = s < 60 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : s < 172_800 ? `${Math.round(s / 3600)} h ago` : `${Math.round(s / 86400)} days ago`;
  return html`<time datetime="${isoTime}" title="${isoTime.replace("T", " ").replace(/\.\d+Z$/, "Z")}">${text}</time>`;
}

/** The full URL a sender posts to (with the operator's public URL, src/http/public-url.ts). */
const fullUrl = (c: Ctx, route: string) => `${c.origin}${route}`;

async function detail(c: Ctx, name: string) {
  const src = sources.sourceOr404(name);
  const st = sources.getSettings(c.deps, c.tenantId, src.name);
  const tokens = sources.listTokens(c.deps, c.tenantId, src.name).items;
  const route = routeOf(src);
  const act = (await sources.activity(c.deps, c.tenantId, [src.name])).get(src.name)!;
  const body = html`<p><a href="/admin/sources">← Sources</a></p>
<h1 id="source-title">${src.name}</h1>
<p>${src.describe}</p>
<dl class="fields"><dt>kind</dt><dd>${src.kind}</dd><dt>URL</dt><dd><code id="source-url" class="url" data-copy>${fullUrl(c, route)}</code> <span class="muted">(POST)</span></dd>
<dt>last 24 h</dt><dd id="source-24h">${act.last_24h} event${act.last_24h === 1 ? "" : "s"}</dd><dt>last received</dt><dd id="source-last">${ago(act.last_received_at, c.deps.clock())}</dd></dl>
<h2>Fields</h2>
${src.fields.length
  ? html`<div class="table-wrap"><table id="fields"><thead><tr><th>Field</th><th>Becomes</th><th>Note</th></tr></thead><tbody>
  ${src.fields.map((f) => html`<tr><td><code>${f.path}</code></td><td>${f.maps_to}</td><td>${f.note ?? ""}</td></tr>`)}</tbody></table></div>`
  : html`<p class="muted">This source declares no field mapping.</p>`}
<h2>Signature</h2>
<dl class="fields" id="signature">
  <dt>scheme</dt><dd id="sig-scheme">${st.scheme}</dd>
  <dt>secret</dt><dd><code id="sig-secret" class="secret">${st.secret ?? "—"}</code></dd>
  <dt>header</dt><dd>${st.header ?? "—"}</dd>
  <dt>timestamp header</dt><dd>${st.timestamp_header ?? "—"}</dd>
  <dt>tolerance</dt><dd>${st.tolerance} s</dd>
  <dt>origin</dt><dd id="sig-origin">${st.origin}${st.updated_at ? html` <span class="muted">updated ${when(st.updated_at)}</span>` : ""}</dd>
</dl>
<form class="stack" id="signature-form" method="post" action="${path(src.name)}/settings">${csrfField(c.session)}
  <label>Scheme <select name="scheme">${options(SCHEMES, st.origin === "tenant" ? st.scheme : "none")}</select></label>
  <label>Secret (empty: keep the stored one) <input name="secret" type="password" autocomplete="off" maxlength="1024"></label>
  <label>Header (empty: the scheme's default; not for standard-webhooks) <input name="header" value="${st.origin === "tenant" && st.scheme !== "standard-webhooks" ? (st.header ?? "") : ""}"></label>
  <label>Timestamp header (grafana only) <input name="timestamp_header" value="${st.origin === "tenant" ? (st.timestamp_header ?? "") : ""}"></label>
  <label>Tolerance (seconds, empty: 300; grafana and standard-webhooks only) <input name="tolerance" inputmode="numeric" value="${st.origin === "tenant" && (st.scheme === "grafana" || st.scheme === "standard-webhooks") ? String(st.tolerance) : ""}"></label>
  <div><button type="submit">Save signature setting</button></div>
</form>
${st.origin === "tenant"
  ? html`<form class="inline" method="post" action="${path(src.name)}/settings/delete" data-confirm="Remove this tenant's signature setting? The environment's setting (or none) applies again.">${csrfField(c.session)}<button type="submit" class="danger">Remove this tenant's setting</button></form>`
  : ""}
<h2>URL tokens</h2>
${tokens.length
  ? html`<div class="table-wrap"><table id="tokens"><thead><tr><th>Name</th><th>Token</th><th>Created</th><th>Last used</th><th>State</th><th></th></tr></thead><tbody>
  ${tokens.map(
    (t) => html`<tr><td>${t.name}</td><td><code>${t.token}</code></td><td>${when(t.created_at)}</td><td>${when(t.last_used_at)}</td>
    <td>${t.revoked_at ? html`${badge("st", "revoked")} ${when(t.revoked_at)}` : badge("st", "active")}</td>
    <td>${t.revoked_at ? "" : html`<form class="inline" method="post" action="${path(src.name)}/tokens/${t.id}/revoke" data-confirm="Revoke this URL token? Senders using it are refused from now on.">${csrfField(c.session)}<button type="submit" class="danger">Revoke</button></form>`}</td></tr>`,
  )}</tbody></table></div>`
  : html`<p class="muted">No URL tokens.</p>`}
<form class="inline" method="post" action="${path(src.name)}/tokens">${csrfField(c.session)}
  <label>Name <input name="name" maxlength="200" placeholder="${src.name}-prod"></label><button type="submit">Create URL token</button></form>`;
  return { title: src.name, current: "/admin/sources", body };
}

export const sourcesArea: Area = {
  nav: { path: "/admin/sources", label: "Sources" },
  routes: [
    {
      method: "GET",
      path: "/admin/sources",
      handler: async (c) => {
        const all = listSources();
        const act = await sources.activity(c.deps, c.tenantId, all.map((s) => s.name));
        const now = c.deps.clock();
        const body = html`<h1>Sources</h1>
<div class="table-wrap"><table id="sources"><thead><tr><th>Name</th><th>Kind</th><th>URL (POST)</th><th>Last 24 h</th><th>Last received</th><th>What it is</th></tr></thead><tbody>
${all.map((s) => {
  const a = act.get(s.name)!;
  return html`<tr data-source="${s.name}"><td><a href="${path(s.name)}">${s.name}</a></td><td>${s.kind}</td><td><code class="url" data-copy>${fullUrl(c, routeOf(s))}</code></td><td class="count-24h">${a.last_24h}</td><td class="last-received">${ago(a.last_received_at, now)}</td><td>${s.describe}</td></tr>`;
})}
</tbody></table></div>`;
        return { title: "Sources", current: "/admin/sources", body };
      },
    },
    { method: "GET", path: "/admin/sources/:name", handler: (c) => detail(c, c.params.name) },
    {
      method: "POST",
      path: "/admin/sources/:name/settings",
      handler: (c) => {
        const scheme = field(c, "scheme", { max: 40 })!;
        const b: Record<string, unknown> = { scheme };
        if (scheme !== "none") {
          const secret = c.form.get("secret") ?? ""; // not trimmed: a secret is taken as typed
          if (secret !== "") b.secret = secret;
          // the fields a scheme does not take are left out (the labels say which take them), so
          // that switching the scheme does not trip over a value kept from the previous one
          // The form shows every field, so it replaces them: an empty one goes back to the default
          // (null), as PUT /v1/sources/:name/settings merges what it is not given.
          const header = field(c, "header", { optional: true, max: 200 });
          if (scheme !== "standard-webhooks") b.header = header || null;
          const ts = field(c, "timestamp_header", { optional: true, max: 200 });
          if (scheme === "grafana") b.timestamp_header = ts || null;
          const tol = intField(c, "tolerance", true);
          if (scheme === "grafana" || scheme === "standard-webhooks") b.tolerance = tol ?? null;
        }
        const first = Value.Errors(SettingsBody, b).First();
        if (first) throw new ApiError(422, "invalid_form", `${first.path.slice(1) || "form"}: ${first.message.toLowerCase()}; nothing was changed`, [{ path: first.path, message: first.message }]);
        sources.putSettings(c.deps, c.tenantId, c.params.name, b as SettingsBody);
        return see(path(c.params.name), "updated");
      },
    },
    {
      method: "POST",
      path: "/admin/sources/:name/settings/delete",
      handler: (c) => {
        sources.deleteSettings(c.deps, c.tenantId, c.params.name);
        return see(path(c.params.name), "setting_removed");
      },
    },
    {
      method: "POST",
      path: "/admin/sources/:name/tokens",
      handler: (c) => {
        const t = sources.createToken(c.deps, c.tenantId, c.params.name, { name: field(c, "name", { optional: true, max: 200 }) }, c.origin);
        c.once({
          note: `URL token "${t.name}" created. Copy it now: it is shown only once.`,
          items: [{ id: "new-token", label: "Token", value: t.token }, { id: "new-token-url", label: "URL", value: t.url }],
        });
        return see(path(c.params.name), "created");
      },
    },
    {
      method: "POST",
      path: "/admin/sources/:name/tokens/:id/revoke",
      handler: (c) => {
        sources.revokeToken(c.deps, c.tenantId, c.params.name, c.params.id);
        return see(path(c.params.name), "token_revoked");
      },
    },
  ],
};
