// Webhooks (channels): list with health; detail with URL, masked secret (Reveal is a CSRF-checked
// POST whose answer shows the secret; Rotate and Create keep the new secret as a one-time message
// for the page they redirect to, never in a URL), health, the last delivery's request and
// response, the 100 latest deliveries (each opening its attempts' requests and responses), send a
// test message, replay, activate/deactivate, and a form that edits every setting the API has.
// Through src/modules/webhooks/service.ts; form bodies are checked against the API's own typebox
// schemas.
import { Value } from "@sinclair/typebox/value";
import { SEVERITIES } from "../core/severity";
import { ApiError } from "../http/errors";
import { WebhookCreate, WebhookUpdate } from "../modules/webhooks/model";
import * as webhooks from "../modules/webhooks/service";
import { html, type Html } from "./html";
import { field, see, type Area, type Ctx } from "./kit";
import { badge, csrfField, pretty, when } from "./layout";

function checked<T>(schema: Parameters<typeof Value.Check>[0], body: unknown): T {
  const first = Value.Errors(schema, body).First();
  if (first) throw new ApiError(422, "invalid_form", `${first.path.slice(1).replace(/\//g, ".") || "form"}: ${first.message.toLowerCase()}`, [{ path: first.path, message: first.message }]);
  return body as T;
}

const list = (v: string | undefined) => v?.split(/[\s,]+/).filter(Boolean);
const triggersOf = (c: Ctx) => list(field(c, "triggers", { optional: true, max: 5000 }));
/** A number field: empty → left out; a number → the number; anything else as typed (the schema names it). */
const num = (c: Ctx, name: string): number | string | undefined => {
  const v = field(c, name, { optional: true, max: 30 });
  return v === undefined ? undefined : /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
};

type WebhookView = Awaited<ReturnType<typeof webhooks.get>>;

/**
 * The truth about a webhook, by its state and its last attempt: disabled (with why), inactive,
 * never sent, sending, failing (attempts failed in a row, the last error), or succeeded.
 */
export function health(w: WebhookView, failedInARow: number): Html {
  if (w.state !== "active")
    return w.disabled_reason
      ? html`${badge("st", "disabled")} <span class="muted">${w.disabled_reason}</span>`
      : html`${badge("st", "inactive")} <span class="muted">turned off; messages are held</span>`;
  const a = w.last_attempt;
  if (!a) return html`${badge("st", "never", "never sent")}${w.backlog.count ? html` <span class="muted">${w.backlog.count} waiting</span>` : ""}`;
  if (a.outcome === "started") return html`${badge("st", "pending", "sending")} <span class="muted">since ${when(a.started_at)}</span>`;
  if (a.outcome === "succeeded")
    return html`${badge("st", "succeeded")} <span class="muted">last ${a.response_status === null ? "" : `HTTP ${a.response_status}, `}${when(a.started_at)}</span>`;
  return html`${badge("st", "failing")} <span class="muted">${failedInARow} attempt${failedInARow === 1 ? "" : "s"} failed in a row${w.consecutive_failures ? `, ${w.consecutive_failures} message${w.consecutive_failures === 1 ? "" : "s"} given up` : ""}; last: ${a.response_status !== null ? `HTTP ${a.response_status}` : (a.error ?? a.outcome)}</span> ${when(a.started_at)}`;
}

/** Says that a recorded body is only its start, and how long the whole was. */
function cut(b: { truncated: boolean; size: number | null }, id: string): Html | string {
  if (!b.truncated) return "";
  return html`<p class="muted" id="${id}">truncated: the first 16 KiB${b.size === null ? "" : ` of ${b.size} bytes`} are kept</p>`;
}

/** What waits for the webhook: count, age of the oldest, drops by the cap. */
function backlog(w: { backlog: { count: number; oldest_age_seconds: number; dropped: number }; backlog_cap: number; backlog_policy: string }): Html {
  const b = w.backlog;
  const age = b.oldest_age_seconds < 120 ? `${Math.round(b.oldest_age_seconds)} s` : b.oldest_age_seconds < 7200 ? `${Math.round(b.oldest_age_seconds / 60)} min` : `${Math.round(b.oldest_age_seconds / 3600)} h`;
  return html`<span class="backlog">${b.count}</span>${b.count ? html` <span class="muted">oldest ${age}</span>` : ""}${w.backlog_cap ? html` <span class="muted">cap ${w.backlog_cap} (${w.backlog_policy.replace("_", " ")}), ${b.dropped} dropped</span>` : ""}`;
}

function headerLines(h: Record<string, string>): string {
  return Object.entries(h).map(([k, v]) => `${k}: ${v}`).join("\n");
}

const sel = (name: string, values: readonly (readonly [string, string])[], current: string) =>
  html`<select name="${name}">${values.map(([v, label]) => html`<option value="${v}"${v === current ? html` selected` : ""}>${label}</option>`)}</select>`;

/** Every setting of PATCH /v1/webhooks/:id (state has its own button, the secret its Rotate). */
function editForm(c: Ctx, w: WebhookView, headers: Record<string, string>): Html {
  return html`<form class="stack" id="edit" method="post" action="/admin/webhooks/${w.id}">${csrfField(c.session)}
  <label>Name <input name="name" required maxlength="200" value="${w.name}"></label>
  <label>URL <input name="url" type="url" required maxlength="2048" value="${w.url}"></label>
  <label>Triggers (space or comma separated: event.received, alert.*, heartbeat.down, …) <input name="triggers" value="${w.triggers.join(" ")}"></label>
  <fieldset><legend>Filters</legend>
    <label>At least this severity ${sel("filters_min_severity", [["", "any"], ...SEVERITIES.map((s) => [s, s] as const)], w.filters.min_severity ?? "")}</label>
    <label>Only these sources (comma separated, empty: any) <input name="filters_sources" value="${(w.filters.sources ?? []).join(", ")}"></label>
    <label>Only with one of these tags (comma separated, empty: any) <input name="filters_tags" value="${(w.filters.tags ?? []).join(", ")}"></label>
  </fieldset>
  <fieldset><legend>Delivery</legend>
    <label>Mode ${sel("mode", [["immediate", "immediate: one POST per message"], ["batched", "batched: a JSON array every interval"]], w.mode)}</label>
    <label>Batch interval (seconds, batched mode) <input name="interval" inputmode="numeric" value="${String(w.interval)}"></label>
    <label>Messages per batch at most <input name="max_batch" inputmode="numeric" value="${String(w.max_batch)}"></label>
    <label>Rate (messages/s at most, 0: unlimited) <input name="rate_limit" inputmode="decimal" value="${String(w.rate_limit)}"></label>
    <label>Timeout (seconds per request) <input name="timeout" inputmode="decimal" value="${String(w.timeout)}"></label>
    <label><span><input type="checkbox" name="ordered"${w.ordered ? html` checked` : ""}> ordered (attempt messages in the order they were queued)</span></label>
  </fieldset>
  <fieldset><legend>Retry</legend>
    <label>Attempts in all (0: until a 2xx) <input name="retry_max_attempts" inputmode="numeric" value="${String(w.retry.max_attempts)}"></label>
    <label>First retry after (seconds; doubles each time) <input name="retry_initial_interval" inputmode="decimal" value="${String(w.retry.initial_interval)}"></label>
    <label>Longest wait between attempts (seconds) <input name="retry_max_interval" inputmode="decimal" value="${String(w.retry.max_interval)}"></label>
  </fieldset>
  <fieldset><legend>Backlog</legend>
    <label>Backlog cap (messages that may wait; 0 = none) <input name="backlog_cap" inputmode="numeric" value="${String(w.backlog_cap)}"></label>
    <label>At the cap ${sel("backlog_policy", [["drop_oldest", "drop the oldest waiting message"], ["refuse_newest", "refuse the new message"]], w.backlog_policy)}</label>
  </fieldset>
  <label>Headers ("Name: value" lines; a masked value keeps the stored one) <textarea name="headers">${headerLines(headers)}</textarea></label>
  <div><button type="submit">Save</button></div>
</form>`;
}

/** The edit form as PATCH /v1/webhooks/:id's body: it shows every setting, so it sends every one. */
function updateOf(c: Ctx): WebhookUpdate {
  const sev = field(c, "filters_min_severity", { optional: true, max: 20 });
  const sources = list(field(c, "filters_sources", { optional: true, max: 5000 })?.replace(/,/g, " "));
  const tags = list(field(c, "filters_tags", { optional: true, max: 5000 })?.replace(/,/g, " "));
  const retry = { max_attempts: num(c, "retry_max_attempts"), initial_interval: num(c, "retry_initial_interval"), max_interval: num(c, "retry_max_interval") };
  const body = {
    name: field(c, "name", { max: 200 }),
    url: field(c, "url", { max: 2048 }),
    triggers: triggersOf(c) ?? [],
    // an empty field removes its filter (PATCH merges filters; null removes one)
    filters: { min_severity: sev || null, sources: sources?.length ? sources : null, tags: tags?.length ? tags : null },
    mode: field(c, "mode", { max: 20 }),
    interval: num(c, "interval"),
    max_batch: num(c, "max_batch"),
    rate_limit: num(c, "rate_limit"),
    timeout: num(c, "timeout"),
    retry: JSON.parse(JSON.stringify(retry)),
    ordered: c.form.get("ordered") === "on",
    headers: c.form.get("headers") ?? "",
    backlog_cap: num(c, "backlog_cap"),
    backlog_policy: field(c, "backlog_policy", { max: 20 }),
  };
  return checked<WebhookUpdate>(WebhookUpdate, JSON.parse(JSON.stringify(body)));
}

/**
 * The detail page; `shown` (the secret and the custom headers in full) only in the answer to
 * Reveal. Elsewhere header values are masked; the edit form sends a masked value back
 * unchanged, which keeps the stored one.
 */
async function detail(c: Ctx, id: string, shown?: { secret: string; previous_secret: string | null; note: string; headers?: Record<string, string> }) {
  const w = await webhooks.get(c.deps, c.tenantId, id);
  const headers = shown?.headers ?? w.headers;
  const items = (await webhooks.deliveries(c.deps, c.tenantId, id, { limit: 100 })).items;
  const last = w.last_attempt ? await webhooks.delivery(c.deps, c.tenantId, w.last_attempt.delivery_id) : null;
  const streak = await webhooks.failuresInARow(c.deps, c.tenantId, w.id);
  const lastTry = last?.attempts[last.attempts.length - 1];
  const failed = items.filter((d) => d.status === "failed").length;
  const body = html`<p><a href="/admin/webhooks">← Webhooks</a></p>
<h1>${w.name} ${w.state !== "active" && w.disabled_reason ? badge("st", "disabled") : badge("st", w.state)}</h1>
${shown ? html`<p class="flash" role="status">${shown.note}</p>` : ""}
<dl class="fields">
  <dt>URL</dt><dd><code>${w.url}</code></dd>
  <dt>secret</dt><dd><code id="secret" class="secret"${shown ? html` data-copy` : ""}>${shown ? shown.secret : w.secret}</code>
    ${shown?.previous_secret ? html`<br><span class="muted">previous (still signing until ${w.previous_secret_expires_at}):</span> <code class="secret">${shown.previous_secret}</code>` : ""}</dd>
  <dt>health</dt><dd id="health">${health(w, streak)}</dd>
  <dt>headers</dt><dd id="headers">${Object.keys(headers).length ? html`<pre class="secret">${headerLines(headers)}</pre>` : html`<span class="muted">none</span>`}</dd>
  <dt>triggers</dt><dd>${w.triggers.join(", ")}</dd>
  <dt>filters</dt><dd>${[w.filters.min_severity ? `severity ≥ ${w.filters.min_severity}` : "", w.filters.sources?.length ? `source in ${w.filters.sources.join(", ")}` : "", w.filters.tags?.length ? `tag in ${w.filters.tags.join(", ")}` : ""].filter(Boolean).join("; ") || "none"}</dd>
  <dt>mode</dt><dd>${w.mode}${w.mode === "batched" ? ` (every ${w.interval} s, up to ${w.max_batch})` : ""}, ${w.rate_limit ? `${w.rate_limit}/s at most` : "no rate limit"}, timeout ${w.timeout} s${w.ordered ? ", ordered" : ""}</dd>
  <dt>retry</dt><dd>${w.retry.max_attempts ? `${w.retry.max_attempts} attempts` : "until a 2xx"}, from ${w.retry.initial_interval} s up to ${w.retry.max_interval} s apart</dd>
  <dt>waiting</dt><dd id="backlog">${backlog(w)}</dd>
</dl>
<p>
<form class="inline" method="post" action="/admin/webhooks/${w.id}/test">${csrfField(c.session)}<button type="submit">Send test</button></form>
<form class="inline" method="post" action="/admin/webhooks/${w.id}/reveal">${csrfField(c.session)}<button type="submit" class="secondary">Reveal secret and headers</button></form>
<form class="inline" method="post" action="/admin/webhooks/${w.id}/rotate" data-confirm="Rotate the signing secret? Receivers must switch to the new one before the overlap ends.">${csrfField(c.session)}<button type="submit" class="danger">Rotate secret</button></form>
<form class="inline" method="post" action="/admin/webhooks/${w.id}/state"${w.state === "active" ? html` data-confirm="Deactivate this webhook? Messages are held until it is active again."` : ""}>${csrfField(c.session)}<input type="hidden" name="state" value="${w.state === "active" ? "inactive" : "active"}"><button type="submit" class="secondary">${w.state === "active" ? "Deactivate" : "Activate"}</button></form>
${failed && w.state === "active" ? html`<form class="inline" method="post" action="/admin/webhooks/${w.id}/replay-failed">${csrfField(c.session)}<button type="submit">Replay every failed delivery</button></form>` : ""}
<form class="inline" method="post" action="/admin/webhooks/${w.id}/delete" data-confirm="Delete this webhook? Messages not yet delivered are dropped, and its delivery history goes with it.">${csrfField(c.session)}<button type="submit" class="danger">Delete</button></form>
</p>
<h2>Last delivery</h2>
${last && lastTry
  ? html`<p>${badge("st", last.status)} attempt ${lastTry.attempt}, ${when(lastTry.started_at)}, ${lastTry.duration_ms} ms ${lastTry.error ? html`<span class="muted">${lastTry.error}</span>` : ""} <a href="/admin/deliveries/${last.id}">details</a></p>
<div class="grid"><div class="card"><h3>Request</h3>${pretty(lastTry.request.headers)}${cut(lastTry.request, "request-cut")}<pre id="last-request">${lastTry.request.body}</pre></div>
<div class="card"><h3>Response</h3>${lastTry.response ? html`<p id="last-status">HTTP ${lastTry.response.status}</p>${pretty(lastTry.response.headers)}${cut(lastTry.response, "response-cut")}<pre id="last-response">${lastTry.response.body}</pre>` : html`<p class="muted">no response</p>`}</div></div>`
  : html`<p class="muted">Nothing sent yet.</p>`}
<h2>Latest deliveries</h2>
${items.length
  ? html`<div class="table-wrap"><table id="deliveries"><thead><tr><th>Created</th><th>Type</th><th>Status</th><th>Attempts</th><th>HTTP</th><th>Last attempt</th><th>Duration</th><th></th></tr></thead><tbody>
  ${items.map(
    (d) => html`<tr><td><a href="/admin/deliveries/${d.id}">${when(d.created_at)}</a></td><td><code class="token">${d.type}</code></td><td>${badge("st", d.status)}</td><td title="${d.timings.map((a) => `#${a.attempt} ${a.started_at} ${a.duration_ms} ms ${a.status ?? a.outcome}`).join("\n")}">${d.attempt_count}</td>
    <td class="status-code">${d.last_status_code ?? ""} ${d.last_error ? html`<span class="muted">${d.last_error}</span>` : ""}</td><td>${d.last_attempt_at ? when(d.last_attempt_at) : ""}</td><td class="duration">${d.last_duration_ms === null ? "" : `${d.last_duration_ms} ms`}</td>
    <td>${(d.status === "failed" || d.status === "succeeded") && w.state === "active" ? html`<form class="inline" method="post" action="/admin/deliveries/${d.id}/replay">${csrfField(c.session)}<button type="submit" class="secondary">Replay</button></form>` : ""}</td></tr>`,
  )}</tbody></table></div>`
  : html`<p class="muted">No deliveries yet.</p>`}
<h2>Edit</h2>
${editForm(c, w, headers)}`;
  return { title: w.name, current: "/admin/webhooks", body };
}

/** One delivery: its message and every attempt's request and response. */
async function deliveryPage(c: Ctx, id: string) {
  const d = await webhooks.delivery(c.deps, c.tenantId, id);
  const active = (await webhooks.get(c.deps, c.tenantId, d.webhook_id)).state === "active";
  const body = html`<p><a href="/admin/webhooks/${d.webhook_id}">← Webhook</a></p>
<h1>Delivery <code class="token">${d.type}</code> ${badge("st", d.status)}</h1>
<dl class="fields"><dt>id</dt><dd><code>${d.id}</code></dd><dt>created</dt><dd>${when(d.created_at)}</dd><dt>attempts</dt><dd>${d.attempts.length}</dd></dl>
${d.attempts.length
  ? d.attempts.map(
      (a) => html`<h2 id="attempt-${String(a.attempt)}">Attempt ${a.attempt} ${badge("st", a.outcome === "succeeded" ? "succeeded" : a.outcome === "started" ? "pending" : "failed", a.outcome)}</h2>
<p>${when(a.started_at)}, ${a.duration_ms} ms${a.response ? `, HTTP ${a.response.status}` : ""}${a.error ? html` <span class="muted">${a.error}</span>` : ""}</p>
<div class="grid"><div class="card"><h3>Request</h3>${pretty(a.request.headers)}${cut(a.request, `request-cut-${a.attempt}`)}<pre class="request-body">${a.request.body}</pre></div>
<div class="card"><h3>Response</h3>${a.response ? html`<p>HTTP ${a.response.status}</p>${pretty(a.response.headers)}${cut(a.response, `response-cut-${a.attempt}`)}<pre class="response-body">${a.response.body}</pre>` : html`<p class="muted">no response</p>`}</div></div>`,
    )
  : html`<p class="muted">Not attempted yet.</p><h2>Message</h2>${pretty(d.body)}`}
${(d.status === "failed" || d.status === "succeeded") && active ? html`<form class="inline" method="post" action="/admin/deliveries/${d.id}/replay">${csrfField(c.session)}<button type="submit" class="secondary">Replay</button></form>` : ""}`;
  return { title: "Delivery", current: "/admin/webhooks", body };
}

export const webhooksArea: Area = {
  nav: { path: "/admin/webhooks", label: "Webhooks" },
  routes: [
    {
      method: "GET",
      path: "/admin/webhooks",
      handler: async (c) => {
        const items = await Promise.all((await webhooks.list(c.deps, c.tenantId)).items.map((w) => webhooks.get(c.deps, c.tenantId, w.id)));
        const streaks = new Map(await Promise.all(items.map(async (w) => [w.id, await webhooks.failuresInARow(c.deps, c.tenantId, w.id)] as const)));
        const body = html`<h1>Webhooks</h1>
${items.length === 0
  ? html`<p class="muted">No webhooks yet.</p>`
  : html`<div class="table-wrap"><table id="webhooks"><thead><tr><th>Name</th><th>URL</th><th>Health</th><th>Waiting</th><th>Triggers</th></tr></thead><tbody>
  ${items.map((w) => html`<tr data-webhook="${w.id}"><td><a href="/admin/webhooks/${w.id}">${w.name}</a></td><td><code>${w.url}</code></td><td class="health">${health(w, streaks.get(w.id) ?? 0)}</td><td>${backlog(w)}</td><td>${w.triggers.map((t: string) => html`<code class="token">${t}</code> `)}</td></tr>`)}
  </tbody></table></div>`}
<h2>New webhook</h2>
<form class="stack" method="post" action="/admin/webhooks">${csrfField(c.session)}
  <label>URL <input name="url" type="url" required placeholder="https://hooks.example.com/keepwatch"></label>
  <label>Name <input name="name" placeholder="the URL's host"></label>
  <label>Triggers (space or comma separated) <input name="triggers" value="event.received alert.*"></label>
  <label>Mode ${sel("mode", [["immediate", "immediate: one POST per message"], ["batched", "batched: a JSON array every interval"]], "immediate")}</label>
  <div><button type="submit">Create</button></div>
</form>
<p class="muted">Filters, retry, rate, ordering, headers and the backlog cap are on the webhook's page once it exists.</p>`;
        return { title: "Webhooks", current: "/admin/webhooks", body };
      },
    },
    {
      method: "POST",
      path: "/admin/webhooks",
      handler: async (c) => {
        const b = checked<WebhookCreate>(WebhookCreate, JSON.parse(JSON.stringify({ url: field(c, "url", { max: 2048 })!, name: field(c, "name", { optional: true, max: 200 }), triggers: triggersOf(c), mode: field(c, "mode", { optional: true, max: 20 }) })));
        const w = await webhooks.create(c.deps, c.tenantId, b);
        c.once({ note: "Webhook created. Copy its signing secret now: it is shown in full only here (Reveal shows it again).", items: [{ id: "secret-once", label: "Signing secret", value: w.secret_value }] });
        return see(`/admin/webhooks/${encodeURIComponent(w.id)}`, "created");
      },
    },
    { method: "GET", path: "/admin/webhooks/:id", handler: (c) => detail(c, c.params.id) },
    { method: "GET", path: "/admin/deliveries/:id", handler: (c) => deliveryPage(c, c.params.id) },
    {
      method: "POST",
      path: "/admin/webhooks/:id/delete",
      handler: async (c) => {
        await webhooks.remove(c.deps, c.tenantId, c.params.id);
        return see("/admin/webhooks", "deleted");
      },
    },
    {
      method: "POST",
      path: "/admin/webhooks/:id",
      handler: async (c) => {
        await webhooks.update(c.deps, c.tenantId, c.params.id, updateOf(c));
        return see(`/admin/webhooks/${encodeURIComponent(c.params.id)}`, "updated");
      },
    },
    {
      method: "POST",
      path: "/admin/webhooks/:id/test",
      handler: async (c) => {
        const t = await webhooks.sendTest(c.deps, c.tenantId, c.params.id);
        return see(`/admin/webhooks/${encodeURIComponent(c.params.id)}`, t.state === "active" ? "test_sent" : "test_held");
      },
    },
    {
      method: "POST",
      path: "/admin/webhooks/:id/reveal",
      handler: async (c) =>
        detail(c, c.params.id, {
          ...(await webhooks.secret(c.deps, c.tenantId, c.params.id)),
          ...(await webhooks.headers(c.deps, c.tenantId, c.params.id)),
          note: "The secret and the header values are shown on this page only.",
        }),
    },
    {
      method: "POST",
      path: "/admin/webhooks/:id/rotate",
      handler: async (c) => {
        const r = await webhooks.rotate(c.deps, c.tenantId, c.params.id);
        c.once({
          note: `Secret rotated. The previous secret keeps signing until ${r.previous_secret_expires_at ?? "now"}. Copy the new one now.`,
          items: [{ id: "secret-once", label: "New signing secret", value: r.secret }],
        });
        return see(`/admin/webhooks/${encodeURIComponent(c.params.id)}`);
      },
    },
    {
      method: "POST",
      path: "/admin/webhooks/:id/state",
      handler: async (c) => {
        const state = field(c, "state");
        if (state !== "active" && state !== "inactive") throw new ApiError(422, "invalid_form", "state must be active or inactive", [{ path: "/state", message: "active or inactive" }]);
        await webhooks.update(c.deps, c.tenantId, c.params.id, { state });
        return see(`/admin/webhooks/${encodeURIComponent(c.params.id)}`, "updated");
      },
    },
    {
      method: "POST",
      path: "/admin/webhooks/:id/replay-failed",
      handler: async (c) => {
        await webhooks.replayMany(c.deps, c.tenantId, c.params.id, { since: "1970-01-01T00:00:00Z", status: "failed" });
        return see(`/admin/webhooks/${encodeURIComponent(c.params.id)}`, "replayed");
      },
    },
    {
      method: "POST",
      path: "/admin/deliveries/:id/replay",
      handler: async (c) => {
        const d = await webhooks.replayOne(c.deps, c.tenantId, c.params.id);
        return see(`/admin/webhooks/${encodeURIComponent(d.webhook_id)}`, "replayed");
      },
    },
  ],
};
