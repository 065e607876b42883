// Alerts: filtered list, detail (events, timeline, raw payload), and triage: status (closing asks
// for a classification), assignee, comments. All through src/modules/alerts/service.ts.
import { ALERT_STATUSES, CLASSIFICATIONS, allowedNext, type AlertStatus, type Classification } from "../core/alerts";
import { SEVERITIES, type Severity } from "../core/severity";
import { ApiError } from "../http/errors";
import * as alerts from "../modules/alerts/service";
import { pivotHref } from "./indicators";
import { html, qs } from "./html";
import { field, see, type Area, type Ctx } from "./kit";
import { badge, csrfField, options, pretty, severityOptions, when } from "./layout";

const actor = (c: Ctx) => `key:${c.session.keyId}`;

function oneOf<T extends string>(values: readonly T[], v: string | undefined, name: string): T | undefined {
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v)) throw new ApiError(422, "invalid_form", `${name} must be one of ${values.join(", ")}`);
  return v as T;
}

export const alertsArea: Area = {
  nav: { path: "/admin/alerts", label: "Alerts" },
  routes: [
    {
      method: "GET",
      path: "/admin/alerts",
      handler: (c) => {
        const get = (k: string) => c.url.searchParams.get(k)?.trim() || undefined;
        const f = { status: oneOf(ALERT_STATUSES, get("status"), "status"), severity: oneOf(SEVERITIES, get("severity"), "severity") as Severity | undefined, source: get("source"), q: get("q") };
        if (f.q && f.q.length > 256) throw new ApiError(422, "invalid_query", "the text filter is at most 256 characters");
        const page = alerts.list(c.deps, c.tenantId, { ...f, cursor: get("cursor"), limit: 50 });
        const body = html`<h1>Alerts</h1>
<form class="filters" method="get" action="/admin/alerts">
  <label>Status <select name="status"><option value="">any</option>${options(ALERT_STATUSES, f.status)}</select></label>
  <label>Severity at least <select name="severity">${severityOptions(f.severity)}</select></label>
  <label>Source <input name="source" value="${f.source ?? ""}"></label>
  <label>Text or fingerprint <input type="search" name="q" value="${f.q ?? ""}"></label>
  <button type="submit">Filter</button>
</form>
${page.items.length === 0
  ? html`<p class="muted">No alerts match.</p>`
  : html`<div class="table-wrap"><table id="alerts"><thead><tr><th>Last seen</th><th>Severity</th><th>Status</th><th>Title</th><th>Count</th><th>Assignee</th></tr></thead><tbody>
  ${page.items.map(
    (a) => html`<tr><td>${when(a.last_seen)}</td><td>${badge("sev", a.severity)}</td><td>${badge("st", a.status)}</td>
    <td><a href="/admin/alerts/${a.id}">${a.title}</a><br><span class="muted">${a.source}</span></td><td>${a.count}</td><td>${a.assignee ?? ""}</td></tr>`,
  )}</tbody></table></div>`}
${page.next_cursor ? html`<p class="pager"><a rel="next" href="/admin/alerts${qs({ ...f, cursor: page.next_cursor })}">Older alerts →</a></p>` : ""}`;
        return { title: "Alerts", current: "/admin/alerts", body };
      },
    },
    {
      method: "GET",
      path: "/admin/alerts/:id",
      handler: (c) => {
        const a = alerts.detail(c.deps, c.tenantId, c.params.id);
        const next = allowedNext(a.status as AlertStatus);
        const body = html`<p><a href="/admin/alerts">← Alerts</a></p>
<h1 id="alert-title">${a.title}</h1>
<p>${badge("sev", a.severity)} ${badge("st", a.status)} ${a.classification ? html`<span id="classification">${a.classification}</span>` : ""}</p>
<dl class="fields">
  <dt>first seen</dt><dd>${when(a.first_seen)}</dd><dt>last seen</dt><dd>${when(a.last_seen)}</dd><dt>count</dt><dd>${a.count}</dd>
  <dt>source</dt><dd>${a.source} <span class="muted">(${a.source_name})</span></dd><dt>assignee</dt><dd>${a.assignee ?? "—"}</dd>
  <dt>enrichment</dt><dd>${a.enrichment_status}</dd><dt>tags</dt><dd>${a.tags.join(", ")}</dd><dt>fingerprint</dt><dd><code>${a.fingerprint}</code></dd>
</dl>
<h2>Triage</h2>
<form class="inline" method="post" action="/admin/alerts/${a.id}/status">${csrfField(c.session)}
  <label>Status <select name="status">${options(next, next.includes("closed") ? "closed" : next[0])}</select></label>
  <label>Classification (when closing) <select name="classification"><option value="">—</option>${options(CLASSIFICATIONS, null)}</select></label>
  <button type="submit">Change status</button>
</form>
<form class="inline" method="post" action="/admin/alerts/${a.id}/assign">${csrfField(c.session)}
  <label>Assignee <input name="assignee" value="${a.assignee ?? ""}" maxlength="256"></label><button type="submit" class="secondary">Assign</button>
</form>
<form class="stack" method="post" action="/admin/alerts/${a.id}/comment">${csrfField(c.session)}
  <label>Comment <textarea name="body" maxlength="10000" required></textarea></label><div><button type="submit" class="secondary">Add comment</button></div>
</form>
<h2>Indicators and enrichment</h2>
${a.enrichment_error ? html`<p class="error" id="enrichment-error">${a.enrichment_error}</p>` : ""}
${a.enrichment.length
  ? html`<div class="table-wrap"><table id="enrichment"><thead><tr><th>Type</th><th>Value</th><th>Results</th></tr></thead><tbody>
  ${a.enrichment.map((e) => html`<tr><td>${e.type}</td><td><a href="${pivotHref(e.type, e.value)}"><code>${e.value}</code></a></td><td><code>${JSON.stringify(e.results)}</code></td></tr>`)}</tbody></table></div>`
  : html`<p class="muted">No enrichment results (${a.enrichment_status}).</p>`}
<h2>Timeline</h2>
<div class="table-wrap"><table id="timeline"><thead><tr><th>At</th><th>What</th><th>Who</th><th>Details</th></tr></thead><tbody>
${a.timeline.map((t) => html`<tr><td>${when(t.at)}</td><td>${t.kind}</td><td>${t.actor}</td><td>${t.kind === "comment" && t.data && typeof (t.data as any).body === "string" ? (t.data as any).body : JSON.stringify(t.data)}</td></tr>`)}
</tbody></table></div>
<h2>Events</h2>
<div class="table-wrap"><table><thead><tr><th>Received</th><th>Severity</th><th>Title</th><th>Type</th></tr></thead><tbody>
${a.events.map((e) => html`<tr><td>${when(e.received_at)}</td><td>${badge("sev", e.severity)}</td><td><a href="/admin/events/${e.id}">${e.title}</a></td><td>${e.type}</td></tr>`)}
</tbody></table></div>
<h2>Raw payload of the first event</h2>${pretty(a.raw_payload)}`;
        return { title: a.title, current: "/admin/alerts", body };
      },
    },
    {
      method: "POST",
      path: "/admin/alerts/:id/status",
      handler: (c) => {
        const status = oneOf(ALERT_STATUSES, field(c, "status"), "status")!;
        const classification = oneOf(CLASSIFICATIONS, field(c, "classification", { optional: true }), "classification") as Classification | undefined;
        alerts.patch(c.deps, c.tenantId, c.params.id, { status, classification: status === "closed" ? classification : undefined }, actor(c));
        return see(`/admin/alerts/${encodeURIComponent(c.params.id)}`, "updated");
      },
    },
    {
      method: "POST",
      path: "/admin/alerts/:id/assign",
      handler: (c) => {
        const assignee = field(c, "assignee", { optional: true, max: 256 }) ?? null;
        alerts.patch(c.deps, c.tenantId, c.params.id, { assignee }, actor(c));
        return see(`/admin/alerts/${encodeURIComponent(c.params.id)}`, "updated");
      },
    },
    {
      method: "POST",
      path: "/admin/alerts/:id/comment",
      handler: (c) => {
        alerts.comment(c.deps, c.tenantId, c.params.id, field(c, "body")!, actor(c));
        return see(`/admin/alerts/${encodeURIComponent(c.params.id)}`, "commented");
      },
    },
  ],
};
