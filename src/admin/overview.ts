// Overview: what is happening now, for the session's tenant.
import { HEARTBEAT_STATES } from "../core/heartbeats";
import { overview } from "../store/overview";
import { html, qs } from "./html";
import type { Area } from "./kit";
import { badge } from "./layout";

export const overviewArea: Area = {
  nav: { path: "/admin", label: "Overview" },
  routes: [
    {
      method: "GET",
      path: "/admin",
      handler: (c) => {
        const o = overview(c.deps.db, c.tenantId, c.deps.clock());
        const hb = Object.fromEntries(o.heartbeats.map((h) => [h.state, h.n]));
        const openTotal = o.openAlerts.reduce((a, r) => a + r.n, 0);
        const body = html`<h1>Overview</h1>
<div class="grid">
  <div class="card"><div class="muted">Events, last hour</div><div class="n" id="events-hour">${o.eventsLastHour}</div></div>
  <div class="card"><div class="muted">Events, last 24 h</div><div class="n" id="events-day">${o.eventsLastDay}</div></div>
  <div class="card"><div class="muted">Open alerts</div><div class="n" id="alerts-open">${openTotal}</div>
    ${o.openAlerts.map((r) => html`<a href="/admin/alerts${qs({ severity: r.severity })}">${badge("sev", r.severity)} ${r.n}</a> `)}</div>
  <div class="card"><div class="muted">Heartbeats down / late</div><div class="n" id="heartbeats-bad">${hb.down ?? 0} / ${hb.late ?? 0}</div>
    ${HEARTBEAT_STATES.filter((s) => hb[s]).map((s) => html`${badge("st", s)} ${hb[s]} `)}</div>
  <div class="card"><div class="muted">Deliveries queued</div><div class="n" id="queue-depth">${o.queueDepth}</div></div>
</div>
<h2>Failing webhooks</h2>
${o.failingWebhooks.length
  ? html`<div class="table-wrap"><table><thead><tr><th>Webhook</th><th>State</th><th>Failures in a row</th></tr></thead><tbody>
    ${o.failingWebhooks.map((w) => html`<tr><td><a href="/admin/webhooks/${w.id}">${w.name}</a></td><td>${badge("st", w.state)}</td><td>${w.failures}</td></tr>`)}
    </tbody></table></div>`
  : html`<p class="muted">None.</p>`}`;
        return { title: "Overview", current: "/admin", body };
      },
    },
  ],
};
