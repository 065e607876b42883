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
import { oncallStyles } from "./overview";
import { ago, timeFilter } from "./timefmt";
import { kvList } from "./readable";
import type { KeyRow } from "../store/keys";
import { HEARTBEAT_SOURCE } from "../store/heartbeat-transitions";
import { RawJson } from "../http/raw-json";

/** The keys named by the "key:<id>" actors of a timeline, read through the store before the page renders. */
async function keysOf(c: Ctx, actors: string[]): Promise<Map<string, KeyRow | undefined>> {
  const ids = [...new Set(actors.map((a) => /^key:(.+)$/.exec(a)?.[1]).filter((id): id is string => !!id))];
  return new Map(await Promise.all(ids.map(async (id) => [id, await c.deps.store.keys.getKey(c.tenantId, id)] as const)));
}

/** "key:<id>" as the key's name (a link to the keys page), "system" as keepwatch. */
function who(keys: Map<string, KeyRow | undefined>, actor: string) {
  if (actor === "system") return html`<span class="muted">keepwatch</span>`;
  const m = /^key:(.+)$/.exec(actor);
  if (!m) return actor;
  const k = keys.get(m[1]);
  return k ? html`<a href="/admin/keys" title="key ${k.prefix}">${k.name}</a>` : html`<span class="muted">a deleted key</span>`;
}

const str = (v: unknown) => (typeof v === "string" ? v : undefined);

/** A timeline entry's data as words and links, not JSON. */
function timelineDetails(kind: string, data: unknown) {
  const d = (data && typeof data === "object" ? data : {}) as Record<string, unknown>;
  const ev = str(d.event_id);
  const evLink = ev ? html`<a href="/admin/events/${ev}">event</a>` : "";
  switch (kind) {
    case "comment":
      return str(d.body) ?? "";
    case "opened":
      return html`from an ${evLink || "event"}${str(d.source) ? html` of ${d.source as string}` : ""}${str(d.rule_id) ? html` by <a href="/admin/rules/${d.rule_id as string}">a rule</a>` : ""}`;
    case "resolved":
      return html`resolved by an ${evLink || "event"}${str(d.source) ? html` of ${d.source as string}` : ""}`;
    case "status":
    case "reopened":
      return html`${str(d.from) ?? "?"} → ${str(d.to) ?? "?"}${str(d.classification) ? html` (${d.classification as string})` : ""}`;
    case "assigned":
      return html`${str(d.from) ?? "nobody"} → ${str(d.to) ?? "nobody"}`;
    default:
      return kvList(data);
  }
}

/** The rule or heartbeat that opened an alert, as a link; null for alerts from alert sources. */
function openedBy(a: Awaited<ReturnType<typeof alerts.detail>>) {
  if (a.rule_id) return html`<a href="/admin/rules/${a.rule_id}">rule</a>`;
  if (a.source_name === HEARTBEAT_SOURCE) {
    try {
      const raw = a.raw_payload instanceof RawJson ? JSON.parse(a.raw_payload.text) : a.raw_payload;
      const id = typeof raw?.heartbeat_id === "string" ? raw.heartbeat_id : null;
      if (id) return html`<a href="/admin/heartbeats/${id}">heartbeat ${a.source}</a>`;
    } catch {}
  }
  return null;
}

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
      handler: async (c) => {
        const get = (k: string) => c.url.searchParams.get(k)?.trim() || undefined;
        const now = c.deps.clock();
        // no status chosen: the alerts that are not closed; "any" shows every one
        const st = get("status") ?? "active";
        if (st !== "active" && st !== "any") oneOf(ALERT_STATUSES, st, "status");
        const status = st === "active" || st === "any" ? undefined : (st as AlertStatus);
        const f = { severity: oneOf(SEVERITIES, get("severity"), "severity") as Severity | undefined, source: get("source"), q: get("q"), assignee: get("assignee"), since: get("since") };
        if (f.q && f.q.length > 256) throw new ApiError(422, "invalid_query", "the text filter is at most 256 characters");
        if (f.assignee && f.assignee.length > 256) throw new ApiError(422, "invalid_query", "the assignee filter is at most 256 characters");
        const since = f.since ? timeFilter(f.since, now) : undefined;
        if (since === null) throw new ApiError(422, "invalid_query", "since must be a date and time, epoch seconds, or a range such as 1h, 24h, 7d");
        const page = await alerts.list(
          c.deps,
          c.tenantId,
          { status, severity: f.severity, source: f.source, q: f.q, since: since !== undefined ? new Date(since).toISOString() : undefined, cursor: get("cursor"), limit: 50 },
          { notClosed: st === "active", assignee: f.assignee === "-" ? "" : f.assignee },
        );
        const filters = { status: st === "active" ? undefined : st, ...f };
        const body = html`${oncallStyles}<h1>Alerts</h1>
<form class="filters" method="get" action="/admin/alerts">
  <label>Status <select name="status"><option value="active"${st === "active" ? html` selected` : ""}>not closed</option><option value="any"${st === "any" ? html` selected` : ""}>any</option>${options(ALERT_STATUSES, status)}</select></label>
  <label>Severity at least <select name="severity">${severityOptions(f.severity)}</select></label>
  <label>Source <input name="source" value="${f.source ?? ""}"></label>
  <label>Assignee <input name="assignee" value="${f.assignee ?? ""}" placeholder="- for unassigned"></label>
  <label>Last seen since <input name="since" value="${f.since ?? ""}" list="alert-ranges" placeholder="1h, 24h, 7d or a date"></label>
  <datalist id="alert-ranges"><option value="1h">last 1 h</option><option value="24h">last 24 h</option><option value="7d">last 7 d</option></datalist>
  <label>Text or fingerprint <input type="search" name="q" value="${f.q ?? ""}"></label>
  <button type="submit">Filter</button>
</form>
${page.items.length === 0
  ? html`<p class="muted">No alerts match.</p>`
  : html`<form class="bulk" id="bulk" method="post" action="/admin/alerts/bulk">${csrfField(c.session)}
<input type="hidden" name="back" value="${c.url.search}">
<div class="bulk-actions">
  <span class="muted">With the selected alerts:</span>
  <fieldset><button type="submit" name="action" value="acknowledge" class="secondary">Acknowledge</button></fieldset>
  <fieldset><label>Classification <select name="classification">${options(CLASSIFICATIONS, "resolved")}</select></label><button type="submit" name="action" value="close">Close</button></fieldset>
  <fieldset><label>Assignee <input name="assignee" maxlength="256"></label><button type="submit" name="action" value="assign" class="secondary">Assign</button></fieldset>
</div>
<div class="table-wrap"><table id="alerts"><thead><tr><th><span class="muted">Pick</span></th><th>Last seen</th><th>Severity</th><th>Status</th><th>Title</th><th>Count</th><th>Assignee</th></tr></thead><tbody>
  ${page.items.map(
    (a) => html`<tr><td class="pick"><input type="checkbox" name="id" value="${a.id}" aria-label="select ${a.title}"></td><td>${ago(a.last_seen, now)}</td><td>${badge("sev", a.severity)}</td><td>${badge("st", a.status)}</td>
    <td><a href="/admin/alerts/${a.id}">${a.title}</a><br><span class="muted">${a.source}</span></td><td>${a.count}</td><td>${a.assignee ?? ""}</td></tr>`,
  )}</tbody></table></div>
</form>`}
${page.next_cursor ? html`<p class="pager"><a rel="next" href="/admin/alerts${qs({ ...filters, cursor: page.next_cursor })}">Older alerts →</a></p>` : ""}`;
        return { title: "Alerts", current: "/admin/alerts", body };
      },
    },
    {
      method: "POST",
      path: "/admin/alerts/bulk",
      handler: async (c) => {
        const ids = [...new Set(c.form.getAll("id").map((v) => v.trim()).filter(Boolean))];
        if (!ids.length) throw new ApiError(422, "invalid_form", "select at least one alert", [{ path: "/id", message: "none selected" }]);
        if (ids.length > 500) throw new ApiError(422, "invalid_form", "at most 500 alerts at once", [{ path: "/id", message: "too many" }]);
        const action = oneOf(["acknowledge", "close", "assign"] as const, field(c, "action"), "action")!;
        const classification = action === "close" ? (oneOf(CLASSIFICATIONS, field(c, "classification", { optional: true }) ?? "resolved", "classification") as Classification) : undefined;
        const assignee = action === "assign" ? (field(c, "assignee", { optional: true, max: 256 }) ?? null) : undefined;
        // every id must be this tenant's before anything changes (a foreign or unknown id is a 404)
        for (const id of ids) await alerts.detail(c.deps, c.tenantId, id);
        for (const id of ids) {
          const a = await alerts.detail(c.deps, c.tenantId, id);
          if (action === "acknowledge") {
            if (a.status === "open") await alerts.patch(c.deps, c.tenantId, id, { status: "triaging" }, actor(c));
          } else if (action === "close") {
            if (a.status !== "closed") await alerts.patch(c.deps, c.tenantId, id, { status: "closed", classification }, actor(c));
          } else await alerts.patch(c.deps, c.tenantId, id, { assignee }, actor(c));
        }
        const back = c.form.get("back") ?? "";
        return see(`/admin/alerts${/^\?[\x21-\x7e]{0,2000}$/.test(back) ? back.replace(/&?done=[a-z_]*/g, "") : ""}`, "updated");
      },
    },
    {
      method: "GET",
      path: "/admin/alerts/:id",
      handler: async (c) => {
        const a = await alerts.detail(c.deps, c.tenantId, c.params.id);
        const now = c.deps.clock();
        const next = allowedNext(a.status as AlertStatus);
        const opener = openedBy(a);
        const actors = await keysOf(c, a.timeline.map((t) => t.actor));
        const body = html`${oncallStyles}<p><a href="/admin/alerts">← Alerts</a></p>
<h1 id="alert-title">${a.title}</h1>
<p>${badge("sev", a.severity)} ${badge("st", a.status)} ${a.classification ? html`<span id="classification">${a.classification}</span>` : ""}</p>
<dl class="fields">
  <dt>first seen</dt><dd>${when(a.first_seen)}</dd><dt>last seen</dt><dd>${when(a.last_seen)}</dd><dt>count</dt><dd>${a.count}</dd>
  <dt>source</dt><dd>${a.source} <span class="muted">(${a.source_name})</span></dd>
  ${opener ? html`<dt>opened by</dt><dd id="opened-by">${opener}</dd>` : ""}<dt>assignee</dt><dd>${a.assignee ?? "—"}</dd>
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
  ${a.enrichment.map((e) => html`<tr><td>${e.type}</td><td><a href="${pivotHref(e.type, e.value)}"><code>${e.value}</code></a></td><td>${kvList(e.results)}</td></tr>`)}</tbody></table></div>`
  : html`<p class="muted">No enrichment results (${a.enrichment_status}).</p>`}
<h2>Timeline</h2>
<div class="table-wrap"><table id="timeline"><thead><tr><th>At</th><th>What</th><th>Who</th><th>Details</th></tr></thead><tbody>
${a.timeline.map((t) => html`<tr><td>${ago(t.at, now)}</td><td>${t.kind}</td><td>${who(actors, t.actor)}</td><td>${timelineDetails(t.kind, t.data)}</td></tr>`)}
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
      handler: async (c) => {
        const status = oneOf(ALERT_STATUSES, field(c, "status"), "status")!;
        const classification = oneOf(CLASSIFICATIONS, field(c, "classification", { optional: true }), "classification") as Classification | undefined;
        await alerts.patch(c.deps, c.tenantId, c.params.id, { status, classification: status === "closed" ? classification : undefined }, actor(c));
        return see(`/admin/alerts/${encodeURIComponent(c.params.id)}`, "updated");
      },
    },
    {
      method: "POST",
      path: "/admin/alerts/:id/assign",
      handler: async (c) => {
        const assignee = field(c, "assignee", { optional: true, max: 256 }) ?? null;
        await alerts.patch(c.deps, c.tenantId, c.params.id, { assignee }, actor(c));
        return see(`/admin/alerts/${encodeURIComponent(c.params.id)}`, "updated");
      },
    },
    {
      method: "POST",
      path: "/admin/alerts/:id/comment",
      handler: async (c) => {
        await alerts.comment(c.deps, c.tenantId, c.params.id, field(c, "body")!, actor(c));
        return see(`/admin/alerts/${encodeURIComponent(c.params.id)}`, "commented");
      },
    },
  ],
};
