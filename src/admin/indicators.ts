// Indicators: the pivot page of one (type, value) (every event and alert that carries it), and the
// tenant's custom indicator mappings (list, create, activate/deactivate, delete) with the test
// tool that runs the three passes on a sample payload. Through src/modules/indicators/service.ts.
import { INDICATOR_TYPES } from "../core/indicators";
import { ApiError } from "../http/errors";
import * as indicators from "../modules/indicators/service";
import { listSources } from "../sources/registry";
import { html, qs } from "./html";
import { field, see, type Area, type Ctx } from "./kit";
import { badge, csrfField, options, when } from "./layout";

const EVERY = "(every source)";

/** The pivot page's address for one indicator (linked from event and alert pages). */
export const pivotHref = (type: string, value: string) => `/admin/indicators/${encodeURIComponent(type)}/${encodeURIComponent(value)}`;

async function mappingsPage(c: Ctx, tested?: { source: string; payload: string; result: Awaited<ReturnType<typeof indicators.test>> | null; error?: string }) {
  const list = (await indicators.list(c.deps, c.tenantId)).items;
  const sourceNames = listSources().map((s) => s.name);
  const body = html`<h1>Indicators</h1>
<p>Indicators are found in three passes, merged by type and value: the item's explicit
<code>indicators</code>, the system mappings (well-known fields such as <code>src_ip</code>,
<code>user.name</code>, <code>url.full</code>, in every source), and the custom mappings below
(a dot path into the raw payload; <code>alerts[].ip</code> walks an array).</p>
<form class="inline" method="get" action="/admin/indicators/find">
  <label>Type <select name="type">${options(INDICATOR_TYPES, "ip")}</select></label>
  <label>Value <input name="value" maxlength="2048" required></label><button type="submit">Find</button>
</form>
<h2>Custom mappings</h2>
${list.length
  ? html`<div class="table-wrap"><table id="mappings"><thead><tr><th>Name</th><th>Source</th><th>Path</th><th>Type</th><th>State</th><th></th></tr></thead><tbody>
  ${list.map(
    (m) => html`<tr><td>${m.name ?? ""}</td><td>${m.source ?? EVERY}</td><td><code>${m.path}</code></td><td>${m.type}</td>
    <td>${badge("st", m.active ? "active" : "inactive")}</td>
    <td><form class="inline" method="post" action="/admin/indicators/mappings/${m.id}/${m.active ? "deactivate" : "activate"}"${m.active ? html` data-confirm="Deactivate this mapping? New events no longer get indicators from it."` : ""}>${csrfField(c.session)}<button type="submit" class="secondary">${m.active ? "Deactivate" : "Activate"}</button></form>
    <form class="inline" method="post" action="/admin/indicators/mappings/${m.id}/delete" data-confirm="Delete this mapping? Indicators already extracted stay.">${csrfField(c.session)}<button type="submit" class="danger">Delete</button></form></td></tr>`,
  )}</tbody></table></div>`
  : html`<p class="muted">No custom mappings.</p>`}
<form class="stack" id="mapping-form" method="post" action="/admin/indicators/mappings">${csrfField(c.session)}
  <label>Name (optional) <input name="name" maxlength="200"></label>
  <label>Source <select name="source">${options([EVERY, ...sourceNames], EVERY)}</select></label>
  <label>Path into the raw payload <input name="path" maxlength="500" required placeholder="details.client.addr"></label>
  <label>Type <select name="type">${options(INDICATOR_TYPES, "ip")}</select></label>
  <div><button type="submit">Add mapping</button></div>
</form>
<h2>Test</h2>
<p>Runs the three passes on a sample payload as ingest would, with the active mappings. Stores nothing.</p>
<form class="stack" id="test-form" method="post" action="/admin/indicators/test">${csrfField(c.session)}
  <label>Source <select name="source">${options(sourceNames, tested?.source ?? "generic")}</select></label>
  <label>Payload (one item, JSON) <textarea name="payload" rows="8" required>${tested?.payload ?? ""}</textarea></label>
  <div><button type="submit">Test</button></div>
</form>
${tested?.error ? html`<p class="error" role="alert" id="test-error">${tested.error}</p>` : ""}
${tested?.result
  ? html`<div id="test-result">${tested.result.events.map(
      (e, i) => html`<h3>Event ${i + 1}</h3>
<div class="table-wrap"><table class="test-found"><thead><tr><th>Pass</th><th>Type</th><th>Value</th><th>Path</th></tr></thead><tbody>
${(["explicit", "system", "custom"] as const).flatMap((pass) => e[pass].map((f) => html`<tr><td>${pass}</td><td>${f.type}</td><td><code>${f.value}</code></td><td><code>${f.path ?? ""}</code></td></tr>`))}
</tbody></table></div>
${e.dropped.length
  ? html`<p>Dropped as invalid:</p><ul>${e.dropped.map((d) => html`<li><code>${d.value}</code> (${d.type} at <code>${d.path}</code>): ${d.reason}</li>`)}</ul>`
  : ""}`,
    )}</div>`
  : ""}`;
  return { title: "Indicators", current: "/admin/indicators", body, status: tested?.error ? 422 : undefined };
}

async function pivotPage(c: Ctx, type: string, value: string) {
  const cursor = c.url.searchParams.get("cursor") ?? undefined;
  const p = await indicators.pivot(c.deps, c.tenantId, type, value, { cursor, limit: 50 });
  const body = html`<p><a href="/admin/indicators">← Indicators</a></p>
<h1 id="pivot-title">${p.type}: <code>${p.value}</code></h1>
<h2>Alerts</h2>
${p.alerts.length
  ? html`<div class="table-wrap"><table id="pivot-alerts"><thead><tr><th>Last seen</th><th>Severity</th><th>Status</th><th>Title</th></tr></thead><tbody>
  ${p.alerts.map((a) => html`<tr><td>${when(a.last_seen)}</td><td>${badge("sev", a.severity)}</td><td>${badge("st", a.status)}</td><td><a href="/admin/alerts/${a.id}">${a.title}</a></td></tr>`)}</tbody></table></div>`
  : html`<p class="muted">No alerts carry it.</p>`}
<h2>Events</h2>
${p.events.length
  ? html`<div class="table-wrap"><table id="pivot-events"><thead><tr><th>Received</th><th>Severity</th><th>Source</th><th>Title</th><th>From</th></tr></thead><tbody>
  ${p.events.map((e) => html`<tr><td>${when(e.received_at)}</td><td>${badge("sev", e.severity)}</td><td>${e.source}</td><td><a href="/admin/events/${e.id}">${e.title}</a></td><td>${e.origin}</td></tr>`)}</tbody></table></div>`
  : html`<p class="muted">No events carry it.</p>`}
${p.next_cursor ? html`<p><a href="${pivotHref(p.type, p.value)}${qs({ cursor: p.next_cursor })}">Older events →</a></p>` : ""}`;
  return { title: `${p.type} ${p.value}`, current: "/admin/indicators", body };
}

const toggle = (active: boolean) => async (c: Ctx) => {
  await indicators.update(c.deps, c.tenantId, c.params.id, { active });
  return see("/admin/indicators", "updated");
};

export const indicatorsArea: Area = {
  nav: { path: "/admin/indicators", label: "Indicators" },
  routes: [
    { method: "GET", path: "/admin/indicators", handler: (c) => mappingsPage(c) },
    {
      method: "GET",
      path: "/admin/indicators/find",
      handler: (c) => {
        const type = c.url.searchParams.get("type") ?? "";
        const value = (c.url.searchParams.get("value") ?? "").trim();
        if (!value) throw new ApiError(422, "invalid_form", "value is required", [{ path: "/value", message: "is required" }]);
        return see(pivotHref(type, value));
      },
    },
    { method: "GET", path: "/admin/indicators/:type/:value", handler: (c) => pivotPage(c, c.params.type, c.params.value) },
    {
      method: "POST",
      path: "/admin/indicators/mappings",
      handler: async (c) => {
        const source = field(c, "source", { max: 100 });
        await indicators.create(c.deps, c.tenantId, {
          name: field(c, "name", { optional: true, max: 200 }),
          source: source === EVERY ? null : source,
          path: field(c, "path", { max: 500 })!,
          type: field(c, "type", { max: 40 }) as (typeof INDICATOR_TYPES)[number],
        });
        return see("/admin/indicators", "created");
      },
    },
    { method: "POST", path: "/admin/indicators/mappings/:id/activate", handler: toggle(true) },
    { method: "POST", path: "/admin/indicators/mappings/:id/deactivate", handler: toggle(false) },
    {
      method: "POST",
      path: "/admin/indicators/mappings/:id/delete",
      handler: async (c) => {
        await indicators.remove(c.deps, c.tenantId, c.params.id);
        return see("/admin/indicators", "deleted");
      },
    },
    {
      method: "POST",
      path: "/admin/indicators/test",
      handler: async (c) => {
        const source = field(c, "source", { max: 100 })!;
        const text = field(c, "payload", { max: 60_000 })!;
        let payload: unknown;
        try {
          payload = JSON.parse(text);
        } catch (e) {
          // shown on the form, next to the payload, with what was typed (src/admin/form-errors.ts)
          throw new ApiError(422, "invalid_form", `payload: the payload is not JSON: ${(e as Error).message}`, [{ path: "/payload", message: "not JSON" }]);
        }
        try {
          return await mappingsPage(c, { source, payload: text, result: await indicators.test(c.deps, c.tenantId, { source, payload }) });
        } catch (e) {
          if (e instanceof ApiError && e.status === 422) throw new ApiError(422, "invalid_form", `payload: ${e.message}`, [{ path: "/payload", message: e.message }]);
          throw e;
        }
      },
    },
  ],
};

