// Events: a filtered, cursor-paged list (newest first) and a detail page with the raw payload.
import { SEVERITIES, type Severity } from "../core/severity";
import { ApiError } from "../http/errors";
import * as events from "../modules/events/service";
import { pivotHref } from "./indicators";
import { html, qs } from "./html";
import type { Area, Ctx } from "./kit";
import { badge, pretty, severityOptions, when } from "./layout";

const FILTERS = ["source", "type", "severity", "since", "until", "q"] as const;

/** The list's filters from the query string (empty ones dropped); a bad severity is a 422. */
export function filtersOf(c: Ctx): Record<(typeof FILTERS)[number], string | undefined> {
  const get = (k: string) => c.url.searchParams.get(k)?.trim() || undefined;
  const f = Object.fromEntries(FILTERS.map((k) => [k, get(k)])) as Record<(typeof FILTERS)[number], string | undefined>;
  if (f.severity && !(SEVERITIES as readonly string[]).includes(f.severity))
    throw new ApiError(422, "invalid_query", `severity must be one of ${SEVERITIES.join(", ")}`);
  if (f.q && f.q.length > 256) throw new ApiError(422, "invalid_query", "the text filter is at most 256 characters");
  return f;
}

export const eventsArea: Area = {
  nav: { path: "/admin/events", label: "Events" },
  routes: [
    {
      method: "GET",
      path: "/admin/events",
      handler: (c) => {
        const f = filtersOf(c);
        const cursor = c.url.searchParams.get("cursor") || undefined;
        const page = events.list(c.deps, c.tenantId, { ...f, severity: f.severity as Severity | undefined, cursor, limit: 50 });
        const body = html`<h1>Events</h1>
<form class="filters" method="get" action="/admin/events">
  <label>Source <input name="source" value="${f.source ?? ""}"></label>
  <label>Type <input name="type" value="${f.type ?? ""}"></label>
  <label>Severity at least <select name="severity">${severityOptions(f.severity)}</select></label>
  <label>Since (UTC) <input name="since" value="${f.since ?? ""}" placeholder="2026-01-01T00:00:00Z"></label>
  <label>Until (UTC) <input name="until" value="${f.until ?? ""}"></label>
  <label>Text <input name="q" value="${f.q ?? ""}" type="search"></label>
  <button type="submit">Filter</button>
</form>
${page.items.length === 0
  ? html`<p class="muted">No events match.</p>`
  : html`<div class="table-wrap"><table id="events"><thead><tr><th>Received</th><th>Severity</th><th>Title</th><th>Source</th><th>Type</th><th>Tags</th></tr></thead><tbody>
  ${page.items.map(
    (e) => html`<tr>
    <td>${when(e.received_at)}</td><td>${badge("sev", e.severity)}</td>
    <td><a href="/admin/events/${e.id}">${e.title || e.summary || e.id}</a></td>
    <td>${e.source}<br><span class="muted">${e.source_name}</span></td><td>${e.type}</td><td>${e.tags.join(", ")}</td></tr>`,
  )}
  </tbody></table></div>`}
${page.next_cursor ? html`<p class="pager"><a rel="next" href="/admin/events${qs({ ...f, cursor: page.next_cursor })}">Older events →</a></p>` : ""}`;
        return { title: "Events", current: "/admin/events", body };
      },
    },
    {
      method: "GET",
      path: "/admin/events/:id",
      handler: (c) => {
        const e = events.detail(c.deps, c.tenantId, c.params.id);
        const fields: [string, unknown][] = [
          ["id", e.id], ["received", when(e.received_at)], ["occurred", when(e.occurred_at)], ["severity", html`${badge("sev", e.severity)} <span class="muted">${e.severity_raw ?? ""}</span>`],
          ["type", e.type], ["module", e.module], ["source", e.source], ["source plugin", e.source_name], ["host", e.host ?? ""],
          ["summary", e.summary], ["tags", e.tags.join(", ")], ["dedup key", e.dedup_key ?? ""], ["warnings", e.warnings.join("; ")],
        ];
        const body = html`<p><a href="/admin/events">← Events</a></p>
<h1 id="event-title">${e.title || e.summary || e.id}</h1>
<dl class="fields">${fields.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
<h2>Indicators</h2>
${e.indicators.length
  ? html`<div class="table-wrap"><table id="indicators"><thead><tr><th>Type</th><th>Value</th><th>From</th></tr></thead><tbody>
    ${e.indicators.map((i) => html`<tr><td>${i.type}</td><td><a href="${pivotHref(i.type, i.value)}"><code>${i.value}</code></a></td><td>${i.origin}</td></tr>`)}</tbody></table></div>`
  : html`<p class="muted">None.</p>`}
<h2>Payload</h2>${pretty(e.payload)}
<h2>Raw payload</h2>${pretty(e.raw_payload)}`;
        return { title: e.title || "Event", current: "/admin/events", body };
      },
    },
  ],
};
