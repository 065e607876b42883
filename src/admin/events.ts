// Events: a filtered, cursor-paged list (newest first; full-text search over title, summary and
// payload; quick time ranges) and a detail page with its alerts and the payload.
import { SEVERITIES, type Severity } from "../core/severity";
import { ApiError } from "../http/errors";
import { RawJson } from "../http/raw-json";
import * as events from "../modules/events/service";
import { pivotHref } from "./indicators";
import { html, qs } from "./html";
import type { Area, Ctx } from "./kit";
import { badge, pretty, severityOptions } from "./layout";
import { ago, timeFilter } from "./timefmt";

const FILTERS = ["source", "type", "severity", "since", "until", "q"] as const;
/** The quick ranges offered next to "since" (any "<n>m|h|d" is accepted too). */
const QUICK = [["1h", "last 1 h"], ["24h", "last 24 h"], ["7d", "last 7 d"]] as const;

/** The list's filters from the query string (empty ones dropped); a bad value is a 422. */
export function filtersOf(c: Ctx): Record<(typeof FILTERS)[number], string | undefined> {
  const get = (k: string) => c.url.searchParams.get(k)?.trim() || undefined;
  const f = Object.fromEntries(FILTERS.map((k) => [k, get(k)])) as Record<(typeof FILTERS)[number], string | undefined>;
  if (f.severity && !(SEVERITIES as readonly string[]).includes(f.severity))
    throw new ApiError(422, "invalid_query", `severity must be one of ${SEVERITIES.join(", ")}`);
  if (f.q && f.q.length > 256) throw new ApiError(422, "invalid_query", "the text filter is at most 256 characters");
  for (const k of ["since", "until"] as const)
    if (f[k] && (f[k]!.length > 64 || timeFilter(f[k], c.deps.clock()) === null))
      throw new ApiError(422, "invalid_query", `${k} must be a date and time (2026-01-01T00:00:00Z), epoch seconds, or a range such as 1h, 24h, 7d`);
  return f;
}

/** A time filter as the ISO string the service takes. */
const isoOf = (v: string | undefined, now: number) => (v ? new Date(timeFilter(v, now)!).toISOString() : undefined);

/** The payload equals the raw payload when both parse to the same JSON value (key order and spacing aside). */
function sameJson(payload: unknown, raw: unknown): boolean {
  try {
    const r = raw instanceof RawJson ? JSON.parse(raw.text) : raw;
    return Bun.deepEquals(payload, r, true);
  } catch {
    return false;
  }
}

const empty = (v: unknown) => v === null || v === undefined || v === "" || (Array.isArray(v) && v.length === 0);

export const eventsArea: Area = {
  nav: { path: "/admin/events", label: "Events" },
  routes: [
    {
      method: "GET",
      path: "/admin/events",
      handler: async (c) => {
        const f = filtersOf(c);
        const now = c.deps.clock();
        const cursor = c.url.searchParams.get("cursor") || undefined;
        const after = c.url.searchParams.get("after") || undefined;
        const page = await events.list(c.deps, c.tenantId, {
          ...f,
          since: isoOf(f.since, now),
          until: isoOf(f.until, now),
          severity: f.severity as Severity | undefined,
          cursor,
          after,
          limit: 50,
        });
        const first = page.items[0]?.id;
        const last = page.items[page.items.length - 1]?.id;
        const paged = !!(cursor || after);
        const older = page.next_cursor ?? (after && last ? last : null);
        const body = html`<h1>Events</h1>
<form class="filters" method="get" action="/admin/events">
  <label>Search <input name="q" value="${f.q ?? ""}" type="search" placeholder="words in title, summary or payload"></label>
  <label>Source <input name="source" value="${f.source ?? ""}"></label>
  <label>Type <input name="type" value="${f.type ?? ""}"></label>
  <label>Severity at least <select name="severity">${severityOptions(f.severity)}</select></label>
  <label>Since <input name="since" value="${f.since ?? ""}" list="quick-ranges" placeholder="24h, 7d or 2026-01-01T00:00Z"></label>
  <label>Until <input name="until" value="${f.until ?? ""}" placeholder="2026-01-02T00:00Z"></label>
  <datalist id="quick-ranges">${QUICK.map(([v, label]) => html`<option value="${v}">${label}</option>`)}</datalist>
  <button type="submit">Filter</button>
</form>
<p class="quick">Received in the ${QUICK.map(([v, label], i) => html`${i ? " · " : ""}<a href="/admin/events${qs({ ...f, since: v, until: undefined })}"${f.since === v && !f.until ? html` aria-current="true"` : ""}>${label}</a>`)}${f.since || f.until ? html` · <a href="/admin/events${qs({ ...f, since: undefined, until: undefined })}">any time</a>` : ""}</p>
${page.items.length === 0
  ? html`<p class="muted">No events match.</p>`
  : html`<div class="table-wrap"><table id="events"><thead><tr><th>Received</th><th>Severity</th><th>Title</th><th>Source</th><th>Host</th><th>Type</th><th>Tags</th></tr></thead><tbody>
  ${page.items.map(
    (e) => html`<tr>
    <td>${ago(e.received_at, now)}</td><td>${badge("sev", e.severity)}</td>
    <td><a href="/admin/events/${e.id}">${e.title || e.summary || e.id}</a></td>
    <td>${e.source}<br><span class="muted">${e.source_name}</span></td><td class="host">${e.host ?? ""}</td><td>${e.type}</td>
    <td class="tags">${e.tags.map((t) => html`<span class="tag">${t}</span> `)}</td></tr>`,
  )}
  </tbody></table></div>`}
<p class="pager">
${paged ? html`<a id="first-page" href="/admin/events${qs(f)}">« First page</a> ` : ""}
${paged && first ? html`<a id="newer" rel="prev" href="/admin/events${qs({ ...f, after: first })}">← Newer events</a> ` : ""}
${older ? html`<a id="older" rel="next" href="/admin/events${qs({ ...f, cursor: older })}">Older events →</a>` : ""}
</p>`;
        return { title: "Events", current: "/admin/events", body };
      },
    },
    {
      method: "GET",
      path: "/admin/events/:id",
      handler: async (c) => {
        const e = await events.detail(c.deps, c.tenantId, c.params.id);
        const now = c.deps.clock();
        const linked = await c.deps.store.events.alertsOfEvent(c.tenantId, e.id);
        const fields: [string, unknown][] = [
          ["id", e.id],
          ["received", ago(e.received_at, now)],
          ...(e.occurred_at !== e.received_at ? ([["occurred", ago(e.occurred_at, now)]] as [string, unknown][]) : []),
          ["severity", html`${badge("sev", e.severity)}${e.severity_raw && e.severity_raw !== e.severity ? html` <span class="muted">${e.severity_raw}</span>` : ""}`],
          ["type", e.type], ["module", e.module], ["source", e.source], ["source plugin", e.source_name], ["host", e.host],
          ["summary", e.summary !== e.title ? e.summary : ""], ["tags", e.tags.length ? e.tags.join(", ") : ""], ["dedup key", e.dedup_key], ["warnings", e.warnings.join("; ")],
        ];
        const same = sameJson(e.payload, e.raw_payload);
        const body = html`<p><a href="/admin/events">← Events</a></p>
<h1 id="event-title">${e.title || e.summary || e.id}</h1>
${linked.length
  ? html`<p id="event-alerts">Alert: ${linked.map((a, i) => html`${i ? ", " : ""}<a href="/admin/alerts/${a.id}">${a.title}</a> ${badge("st", a.status)}`)}</p>`
  : html`<p id="event-alerts" class="muted">Not part of an alert.</p>`}
<dl class="fields">${fields.filter(([, v]) => !empty(v)).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
${e.indicators.length
  ? html`<h2>Indicators</h2><div class="table-wrap"><table id="indicators"><thead><tr><th>Type</th><th>Value</th><th>From</th></tr></thead><tbody>
    ${e.indicators.map((i) => html`<tr><td>${i.type}</td><td><a href="${pivotHref(i.type, i.value)}"><code>${i.value}</code></a></td><td>${i.origin}</td></tr>`)}</tbody></table></div>`
  : ""}
${same
  ? html`<h2>Payload <span class="muted">(as received)</span></h2>${pretty(e.raw_payload)}`
  : html`<h2>Payload</h2>${pretty(e.payload)}
<h2>Raw payload</h2>${pretty(e.raw_payload)}`}`;
        return { title: e.title || "Event", current: "/admin/events", body };
      },
    },
  ],
};
