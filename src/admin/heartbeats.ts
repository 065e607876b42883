// Heartbeats (dead-man's switches): list with state badges, create, detail with the ping URL and
// a cron one-liner, flips and pings, edit, pause/resume, delete. Through src/modules/heartbeats/service.ts.
import { SEVERITIES, type Severity } from "../core/severity";
import { ApiError } from "../http/errors";
import * as heartbeats from "../modules/heartbeats/service";
import { html } from "./html";
import { field, intField, see, type Area, type Ctx } from "./kit";
import { badge, csrfField, options, when } from "./layout";
import { periodBar } from "../core/heartbeat-bars";
import { nextDue } from "../core/heartbeats";
import { oncallStyles } from "./overview";
import { ago, durationWords, everyWords } from "./timefmt";

type HbView = ReturnType<typeof heartbeats.view>;

/** The schedule in words ("every day", "*\/5 * * * * (Europe/Berlin)"), its next run, and the length of one period. */
function scheduleWords(h: HbView, now: number): { text: string; next: number | null; periodMs: number } {
  if (h.period !== null) return { text: everyWords(h.period), next: h.state === "paused" ? null : Date.parse(h.due_at ?? "") || null, periodMs: h.period * 1000 };
  const s = { kind: "cron" as const, cron: h.cron ?? "", tz: h.tz ?? "UTC" };
  const next = nextDue(s, now);
  const after = next !== null ? nextDue(s, next) : null;
  return { text: `${h.cron} (${h.tz ?? "UTC"})`, next, periodMs: next !== null && after !== null ? after - next : 86_400_000 };
}

/** Under the badge: "down since …", "late: down in …", "due in …" (never a past deadline). */
function stateLine(h: HbView, now: number) {
  if (h.state === "down") return html`<span class="muted">down since ${ago(h.down_at, now)}</span>`;
  if (h.state === "late") return html`<span class="muted">late, down ${ago(h.down_at, now)}</span>`;
  if (h.state === "up" && h.due_at) return html`<span class="muted">due ${ago(h.due_at, now)}</span>`;
  if (h.state === "new") return html`<span class="muted">waiting for the first ping</span>`;
  return "";
}

/** The create/edit form's fields as a service body (period or cron + tz). */
function settingsFrom(c: Ctx, creating: boolean) {
  const severity = field(c, "severity", { optional: true });
  if (severity && !(SEVERITIES as readonly string[]).includes(severity)) throw new ApiError(422, "invalid_form", `severity must be one of ${SEVERITIES.join(", ")}`);
  const cron = field(c, "cron", { optional: true, max: 200 });
  const period = intField(c, "period", true);
  if (period !== undefined && period < 1) throw new ApiError(422, "invalid_form", "period must be 1 second or more");
  if (creating && period === undefined && cron === undefined) throw new ApiError(422, "invalid_form", "give a period (seconds) or a cron expression");
  if (period !== undefined && cron !== undefined) throw new ApiError(422, "invalid_form", "give either a period or a cron expression, not both");
  return {
    name: field(c, "name", { max: 200 })!,
    ...(period !== undefined ? { period } : {}),
    ...(cron !== undefined ? { cron, tz: field(c, "tz", { optional: true, max: 64 }) ?? "UTC" } : {}),
    grace: intField(c, "grace", true) ?? (creating ? 60 : undefined),
    severity: severity as Severity | undefined,
  };
}

const form = (c: Ctx, action: string, h: { name?: string; period?: number | null; cron?: string | null; tz?: string | null; grace?: number; severity?: string }, submit: string) =>
  html`<form class="stack" method="post" action="${action}">${csrfField(c.session)}
  <label>Name <input name="name" required maxlength="200" value="${h.name ?? ""}"></label>
  <label>Period (seconds between beats) <input name="period" inputmode="numeric" value="${h.period ?? ""}"></label>
  <label>or cron expression <input name="cron" value="${h.cron ?? ""}" placeholder="0 3 * * *"></label>
  <label>Time zone of the cron expression <input name="tz" value="${h.tz ?? ""}" placeholder="UTC"></label>
  <label>Grace (seconds) <input name="grace" inputmode="numeric" value="${h.grace ?? 60}"></label>
  <label>Alert severity <select name="severity">${options(SEVERITIES, h.severity ?? "high")}</select></label>
  <div><button type="submit">${submit}</button></div>
</form>`;

export const heartbeatsArea: Area = {
  nav: { path: "/admin/heartbeats", label: "Heartbeats" },
  routes: [
    {
      method: "GET",
      path: "/admin/heartbeats",
      handler: async (c) => {
        const { items } = await heartbeats.list(c.deps, c.tenantId, c.origin);
        const now = c.deps.clock();
        const flips = await c.deps.store.heartbeats.recentFlipsByHeartbeat(c.tenantId);
        const body = html`${oncallStyles}<h1>Heartbeats</h1>
${items.length === 0
  ? html`<p class="muted">No heartbeats yet.</p>`
  : html`<div class="table-wrap"><table id="heartbeats"><thead><tr><th>Name</th><th>State</th><th>Last 30 periods</th><th>Schedule</th><th>Last ping</th><th>Ping URL</th><th></th></tr></thead><tbody>
  ${items.map((h) => {
    const sched = scheduleWords(h, now);
    const cells = periodBar(flips.get(h.id) ?? [], h.state, Date.parse(h.created_at), sched.periodMs, now);
    return html`<tr id="hb-${h.id}"><td><a href="/admin/heartbeats/${h.id}">${h.name}</a></td>
    <td class="state">${badge("st", h.state)}${stateLine(h, now)}</td>
    <td><span class="hbar" role="img" aria-label="last 30 periods, oldest first: ${cells.join(" ")}">${cells.map((x) => html`<span class="p-${x}" title="${x}"></span>`)}</span></td>
    <td>${sched.text}${sched.next !== null && sched.next > now && h.state !== "down" && h.state !== "paused" ? html`<br><span class="muted">next ${ago(sched.next, now)}</span>` : ""}<br><span class="muted">grace ${durationWords(h.grace)}</span></td>
    <td>${h.last_beat_at ? html`last ping ${ago(h.last_beat_at, now)}` : html`<span class="muted">never</span>`}</td>
    <td><span class="ping-url"><code data-copy>${h.ping_url}</code></span></td>
    <td>${h.state === "paused"
      ? html`<form class="inline" method="post" action="/admin/heartbeats/${h.id}/resume">${csrfField(c.session)}<input type="hidden" name="back" value="list"><button type="submit">Resume</button></form>`
      : html`<form class="inline" method="post" action="/admin/heartbeats/${h.id}/pause" data-confirm="Pause this heartbeat? It is not watched until it is resumed, and an open alert of it is closed as resolved.">${csrfField(c.session)}<input type="hidden" name="back" value="list"><button type="submit" class="secondary">Pause</button></form>`}</td></tr>`;
  })}</tbody></table></div>`}
<h2>New heartbeat</h2>
${form(c, "/admin/heartbeats", {}, "Create")}`;
        return { title: "Heartbeats", current: "/admin/heartbeats", body };
      },
    },
    {
      method: "POST",
      path: "/admin/heartbeats",
      handler: async (c) => {
        const s = settingsFrom(c, true);
        const h = await heartbeats.create(c.deps, c.tenantId, { ...s, grace: s.grace ?? 60 }, c.origin);
        c.deps.heartbeats.arm();
        return see(`/admin/heartbeats/${h.id}`, "created");
      },
    },
    {
      method: "GET",
      path: "/admin/heartbeats/:id",
      handler: async (c) => {
        const h = heartbeats.view(await heartbeats.mustGet(c.deps, c.tenantId, c.params.id), c.origin);
        const flips = (await heartbeats.flips(c.deps, c.tenantId, h.id)).items;
        const pings = (await heartbeats.pings(c.deps, c.tenantId, h.id)).items;
        const body = html`<p><a href="/admin/heartbeats">← Heartbeats</a></p>
<h1>${h.name} <span id="hb-state">${badge("st", h.state)}</span></h1>
<dl class="fields">
  <dt>ping URL</dt><dd><code id="ping-url" data-copy>${h.ping_url}</code></dd>
  <dt>from cron</dt><dd><code id="cron-line" data-copy>curl -fsS -m 10 --retry 5 ${h.ping_url}</code></dd>
  <dt>schedule</dt><dd>${h.period !== null ? `every ${h.period} s` : `${h.cron} (${h.tz})`}, grace ${h.grace} s</dd>
  <dt>last beat</dt><dd>${when(h.last_beat_at)}</dd>
  <dt>next due</dt><dd>${when(h.due_at)}</dd><dt>down at</dt><dd>${when(h.down_at)}</dd>
</dl>
<p>
${h.state === "paused"
  ? html`<form class="inline" method="post" action="/admin/heartbeats/${h.id}/resume">${csrfField(c.session)}<button type="submit">Resume</button></form>`
  : html`<form class="inline" method="post" action="/admin/heartbeats/${h.id}/pause" data-confirm="Pause this heartbeat? It is not watched until it is resumed, and an open alert of it is closed as resolved.">${csrfField(c.session)}<button type="submit" class="secondary">Pause</button></form>`}
<form class="inline" method="post" action="/admin/heartbeats/${h.id}/delete" data-confirm="Delete this heartbeat? Its ping URL stops working and an open alert of it is closed as resolved.">${csrfField(c.session)}<button type="submit" class="danger">Delete</button></form>
</p>
<h2>Flips</h2>
${flips.length ? html`<div class="table-wrap"><table id="flips"><thead><tr><th>At</th><th>From</th><th>To</th></tr></thead><tbody>
  ${flips.map((f) => html`<tr><td>${when(f.at)}</td><td>${badge("st", f.from)}</td><td>${badge("st", f.to)}</td></tr>`)}</tbody></table></div>` : html`<p class="muted">None yet.</p>`}
<h2>Last pings</h2>
${pings.length ? html`<div class="table-wrap"><table id="pings"><thead><tr><th>At</th><th>Kind</th><th>From</th><th>Body</th></tr></thead><tbody>
  ${pings.map((p) => html`<tr><td>${when(p.at)}</td><td>${p.kind}${p.exit_code !== null ? ` (exit ${p.exit_code})` : ""}</td><td>${p.method ?? ""} ${p.remote ?? ""}</td><td>${p.body ? html`<pre>${p.body}</pre>` : ""}</td></tr>`)}
  </tbody></table></div>` : html`<p class="muted">No pings yet.</p>`}
<h2>Edit</h2>
${form(c, `/admin/heartbeats/${h.id}`, h, "Save")}`;
        return { title: h.name, current: "/admin/heartbeats", body };
      },
    },
    {
      method: "POST",
      path: "/admin/heartbeats/:id",
      handler: async (c) => {
        await heartbeats.update(c.deps, c.tenantId, c.params.id, settingsFrom(c, false), c.origin);
        return see(`/admin/heartbeats/${encodeURIComponent(c.params.id)}`, "updated");
      },
    },
    {
      method: "POST",
      path: "/admin/heartbeats/:id/delete",
      handler: async (c) => {
        await heartbeats.remove(c.deps, c.tenantId, c.params.id);
        return see("/admin/heartbeats", "deleted");
      },
    },
    ...(["pause", "resume"] as const).map((action) => ({
      method: "POST" as const,
      path: `/admin/heartbeats/:id/${action}`,
      handler: async (c: Ctx) => {
        await heartbeats.pauseOrResume(c.deps, c.tenantId, c.params.id, action, c.origin);
        const to = c.form.get("back") === "list" ? "/admin/heartbeats" : `/admin/heartbeats/${encodeURIComponent(c.params.id)}`;
        return see(to, action === "pause" ? "paused" : "resumed");
      },
    })),
  ],
};
