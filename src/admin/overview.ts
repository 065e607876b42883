// Overview: the picture first. Events per minute (24 h) and alerts opened per hour as small uPlot
// bar charts (uPlot from npm, pinned, served from the binary under /admin/assets/; the data rides
// in data- attributes and a same-origin script draws it, so the CSP stays strict), then open alerts
// by severity, heartbeats down or late by name, failing channels with their backlog, the newest
// open alerts, and the replicas of the cluster (alive, since when, last seen, what each is doing:
// the jobs it holds leases on, the housekeeping it runs, its counters). The page reloads
// itself every 60 s (a meta refresh: no JavaScript needed).
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import oncallCss from "./assets/oncall.css" with { type: "text" };
import overviewJs from "./assets/overview.js" with { type: "text" };
import { html, qs } from "./html";
import type { Area, Route } from "./kit";
import { badge } from "./layout";
import { ago } from "./timefmt";
import { replicaActivity, type ReplicaActivity } from "../modules/health/service";

/** `n` jobs of a kind in words: "1 delivery", "3 enrichments". */
function jobsLabel(n: number, kind: string): string {
  const [one, many] = kind === "deliver" ? ["delivery", "deliveries"] : kind === "flush" ? ["batch flush", "batch flushes"] : kind === "enrich" ? ["enrichment", "enrichments"] : [kind, kind];
  return `${n} ${n === 1 ? one : many}`;
}

/** What a replica is doing: the jobs it holds leases on (and how many of them ran past their lease), its housekeeping. */
function doing(r: ReplicaActivity, now: number) {
  if (!r.jobs.length && !r.housekeeping.length) return html`<span class="muted">${r.state === "alive" ? "idle" : "-"}</span>`;
  const expired = r.jobs.reduce((a, j) => a + j.expired, 0);
  const first = Math.min(...r.jobs.map((j) => j.firstLeaseEnd));
  return html`${r.jobs.map((j) => html`<span class="leased" data-kind="${j.kind}">${jobsLabel(j.count, j.kind)}</span> `)}${
    r.jobs.length
      ? expired
        ? html`<span class="muted">(${expired} past their lease: another replica takes them over)</span>`
        : html`<span class="muted">(first lease ends ${ago(first, now)})</span>`
      : ""
  }${r.housekeeping.map((h) => html` <span class="housekeeping">${h.name}</span>`)}`;
}

/** Seconds between the overview's reloads. */
export const OVERVIEW_REFRESH_S = 60;

/** The on-call pages' static files, embedded in the binary (text imports) and served behind the session. */
const ASSETS: Record<string, { body: string; type: string }> = {
  "uplot.js": { body: uplotJs, type: "text/javascript; charset=utf-8" },
  "uplot.css": { body: uplotCss, type: "text/css; charset=utf-8" },
  "overview.js": { body: overviewJs, type: "text/javascript; charset=utf-8" },
  "oncall.css": { body: oncallCss, type: "text/css; charset=utf-8" },
};

export const assetRoutes: Route[] = Object.entries(ASSETS).map(([name, a]) => ({
  method: "GET" as const,
  path: `/admin/assets/${name}`,
  handler: () => new Response(a.body, { headers: { "content-type": a.type, "cache-control": "max-age=300" } }),
}));

/** The on-call stylesheet (a <link> in the page body; the layout's head is shared with other pages). */
export const oncallStyles = html`<link rel="stylesheet" href="/admin/assets/oncall.css">`;

export const overviewArea: Area = {
  nav: { path: "/admin", label: "Overview" },
  routes: [
    ...assetRoutes,
    {
      method: "GET",
      path: "/admin",
      handler: async (c) => {
        const now = c.deps.clock();
        const [o, reps] = await Promise.all([c.deps.store.overview.overview(c.tenantId, now), replicaActivity(c.deps.store, now)]);
        const self = c.deps.replicas.info.id;
        const aliveReps = reps.replicas.filter((r) => r.state === "alive").length;
        const hb = new Map(o.heartbeats.map((h) => [h.state, h.n]));
        const openTotal = o.openAlerts.reduce((a, r) => a + r.n, 0);
        const alertsDay = o.alertsPerHour.reduce((a, n) => a + n, 0);
        const peak = Math.max(0, ...o.eventsPerMinute);
        const body = html`<meta http-equiv="refresh" content="${OVERVIEW_REFRESH_S}">
${oncallStyles}<link rel="stylesheet" href="/admin/assets/uplot.css">
<script src="/admin/assets/uplot.js" defer></script><script src="/admin/assets/overview.js" defer></script>
<h1>Overview</h1>
<div class="charts">
  <div class="card"><div class="muted">Events per minute, last 24 h <span class="summary">(peak ${peak}/min)</span></div>
    <div class="chart" id="chart-events" data-label="events/min" data-color="#1f5fbf" data-start="${o.minuteStart}" data-step="60000" data-series="${JSON.stringify(o.eventsPerMinute)}"></div></div>
  <div class="card"><div class="muted">Alerts opened per hour, last 24 h <span class="summary">(${alertsDay} in all)</span></div>
    <div class="chart" id="chart-alerts" data-label="alerts/h" data-color="#c0392b" data-start="${o.hourStart}" data-step="3600000" data-series="${JSON.stringify(o.alertsPerHour)}"></div></div>
</div>
<div class="grid">
  <div class="card"><div class="muted">Open alerts</div><div class="n" id="alerts-open">${openTotal}</div>
    <div id="alerts-by-severity">${o.openAlerts.map((r) => html`<a href="/admin/alerts${qs({ severity: r.severity })}">${badge("sev", r.severity)} ${r.n}</a> `)}</div></div>
  <div class="card cards-bad"><div class="muted">Heartbeats down / late</div><div class="n" id="heartbeats-bad">${hb.get("down") ?? 0} / ${hb.get("late") ?? 0}</div>
    <div id="heartbeats-bad-names">${o.badHeartbeats.map((h) => html`<a href="/admin/heartbeats/${h.id}">${badge("st", h.state)} ${h.name}</a>`)}</div></div>
  <div class="card"><div class="muted">Events, last hour</div><div class="n" id="events-hour">${o.eventsLastHour}</div>
    <div class="muted">last 24 h: <span id="events-day">${o.eventsLastDay}</span></div></div>
  <div class="card"><div class="muted">Deliveries waiting</div><div class="n" id="queue-depth">${o.queueDepth}</div></div>
</div>
<h2>Heartbeats down or late</h2>
${o.badHeartbeats.length
  ? html`<div class="table-wrap"><table id="bad-heartbeats"><thead><tr><th>Heartbeat</th><th>State</th><th>Since</th></tr></thead><tbody>
    ${o.badHeartbeats.map((h) => html`<tr><td><a href="/admin/heartbeats/${h.id}">${h.name}</a></td><td>${badge("st", h.state)}</td>
      <td>${h.state === "down" ? html`down since ${ago(h.downAt, now)}` : html`late since ${ago(h.dueAt, now)}, down ${ago(h.downAt, now)}`}</td></tr>`)}
    </tbody></table></div>`
  : html`<p class="muted">All heartbeats are up (or paused).</p>`}
<h2>Failing channels</h2>
${o.failingWebhooks.length
  ? html`<div class="table-wrap"><table id="failing-webhooks"><thead><tr><th>Webhook</th><th>State</th><th>Failures in a row</th><th>Waiting</th></tr></thead><tbody>
    ${o.failingWebhooks.map((w) => html`<tr><td><a href="/admin/webhooks/${w.id}">${w.name}</a></td><td>${badge("st", w.state)}${w.disabledReason ? html` <span class="muted">${w.disabledReason}</span>` : ""}</td><td>${w.failures}</td><td>${w.backlog}</td></tr>`)}
    </tbody></table></div>`
  : html`<p class="muted">None.</p>`}
<h2>Newest open alerts</h2>
${o.newestOpen.length
  ? html`<div class="table-wrap"><table id="newest-alerts"><thead><tr><th>Last seen</th><th>Severity</th><th>Status</th><th>Title</th><th>Count</th></tr></thead><tbody>
    ${o.newestOpen.map((a) => html`<tr><td>${ago(a.lastSeen, now)}</td><td>${badge("sev", a.severity)}</td><td>${badge("st", a.status)}</td>
      <td><a href="/admin/alerts/${a.id}">${a.title}</a><br><span class="muted">${a.source}</span></td><td>${a.count}</td></tr>`)}
    </tbody></table></div>
    <p><a href="/admin/alerts">All open alerts →</a></p>`
  : html`<p class="muted">No open alerts.</p>`}
<h2>Replicas</h2>
<p class="muted" id="replicas-summary">${aliveReps} alive of ${reps.replicas.length} on record; a replica not seen for 5 s is dead.</p>
<div class="table-wrap"><table id="replicas"><thead><tr><th>Replica</th><th>State</th><th>Host</th><th>Listens on</th><th>Version</th><th>Up since</th><th>Last seen</th><th>Doing</th><th>Since start</th></tr></thead><tbody>
  ${reps.replicas.map((r) => html`<tr data-replica="${r.id}"><td><code>${r.id.slice(0, 8)}</code>${r.id === self ? html` <span class="muted">(this page)</span>` : ""}</td>
    <td>${badge("st", r.state)}</td><td>${r.host} <span class="muted">pid ${r.pid}</span></td><td>${r.listen}</td><td>${r.version}</td>
    <td>${ago(r.startedAt, reps.now)}</td><td>${r.state === "stopped" ? html`stopped ${ago(r.stoppedAt, reps.now)}` : ago(r.seenAt, reps.now)}</td>
    <td class="replica-doing">${doing(r, reps.now)}</td>
    <td class="replica-counters">${r.stats ? html`requests ${r.stats.ingestRequests}, events ${r.stats.eventsStored}, deliveries ${r.stats.deliveryAttempts}` : html`<span class="muted">-</span>`}</td></tr>`)}
</tbody></table></div>
${reps.unattributed.length ? html`<p class="muted" id="replicas-unattributed">Leased by no replica on record: ${reps.unattributed.map((j) => html`${jobsLabel(j.count, j.kind)} `)}</p>` : ""}`;
        return { title: "Overview", current: "/admin", body };
      },
    },
  ],
};
