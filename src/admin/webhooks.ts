// Webhooks: list with health; detail with URL, masked secret (Reveal and Rotate are CSRF-checked
// POSTs whose answer shows the secret, never stored in a URL), the last delivery's request and
// response, the 100 latest deliveries, replay one or every failed one, activate/deactivate, edit
// headers and triggers. Through src/modules/webhooks/service.ts; form bodies are checked against
// the API's own typebox schemas.
import { Value } from "@sinclair/typebox/value";
import { ApiError } from "../http/errors";
import { WebhookCreate, WebhookUpdate } from "../modules/webhooks/model";
import * as webhooks from "../modules/webhooks/service";
import { html, type Html } from "./html";
import { field, see, type Area, type Ctx } from "./kit";
import { badge, csrfField, pretty, when } from "./layout";

function checked<T>(schema: Parameters<typeof Value.Check>[0], body: unknown): T {
  const first = Value.Errors(schema, body).First();
  if (first) throw new ApiError(422, "invalid_form", `${first.path.slice(1) || "form"}: ${first.message.toLowerCase()}`, [{ path: first.path, message: first.message }]);
  return body as T;
}

const triggersOf = (c: Ctx) => field(c, "triggers", { optional: true, max: 5000 })?.split(/[\s,]+/).filter(Boolean);

function health(w: { state: string; consecutive_failures: number }): Html {
  if (w.state !== "active") return badge("st", "inactive");
  return w.consecutive_failures > 0 ? html`${badge("st", "failed")} <span class="muted">${w.consecutive_failures} in a row</span>` : badge("st", "succeeded");
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

/**
 * The detail page; `secret` (and the custom headers in full) are shown only in the answer to
 * Reveal or Rotate. Elsewhere header values are masked; the edit form sends a masked value back
 * unchanged, which keeps the stored one.
 */
function detail(c: Ctx, id: string, shown?: { secret: string; previous_secret: string | null; note: string; headers?: Record<string, string> }) {
  const w = webhooks.get(c.deps, c.tenantId, id);
  const headers = shown?.headers ?? w.headers;
  const list = webhooks.deliveries(c.deps, c.tenantId, id, { limit: 100 }).items;
  const last = w.last_attempt ? webhooks.delivery(c.deps, c.tenantId, w.last_attempt.delivery_id) : null;
  const lastTry = last?.attempts[last.attempts.length - 1];
  const failed = list.filter((d) => d.status === "failed").length;
  const body = html`<p><a href="/admin/webhooks">← Webhooks</a></p>
<h1>${w.name} ${badge("st", w.state)}</h1>
${shown ? html`<p class="flash" role="status">${shown.note}</p>` : ""}
<dl class="fields">
  <dt>URL</dt><dd><code>${w.url}</code></dd>
  <dt>secret</dt><dd><code id="secret" class="secret"${shown ? html` data-copy` : ""}>${shown ? shown.secret : w.secret}</code>
    ${shown?.previous_secret ? html`<br><span class="muted">previous (still signing until ${w.previous_secret_expires_at}):</span> <code class="secret">${shown.previous_secret}</code>` : ""}</dd>
  <dt>health</dt><dd id="health">${health(w)}${w.disabled_reason ? html` <span class="muted">${w.disabled_reason}</span>` : ""}</dd>
  <dt>headers</dt><dd id="headers">${Object.keys(headers).length ? html`<pre class="secret">${headerLines(headers)}</pre>` : html`<span class="muted">none</span>`}</dd>
  <dt>triggers</dt><dd>${w.triggers.join(", ")}</dd><dt>mode</dt><dd>${w.mode}</dd>
  <dt>waiting</dt><dd id="backlog">${backlog(w)}</dd>
</dl>
<p>
<form class="inline" method="post" action="/admin/webhooks/${w.id}/reveal">${csrfField(c.session)}<button type="submit" class="secondary">Reveal secret and headers</button></form>
<form class="inline" method="post" action="/admin/webhooks/${w.id}/rotate">${csrfField(c.session)}<button type="submit" class="danger">Rotate secret</button></form>
<form class="inline" method="post" action="/admin/webhooks/${w.id}/state">${csrfField(c.session)}<input type="hidden" name="state" value="${w.state === "active" ? "inactive" : "active"}"><button type="submit" class="secondary">${w.state === "active" ? "Deactivate" : "Activate"}</button></form>
${failed ? html`<form class="inline" method="post" action="/admin/webhooks/${w.id}/replay-failed">${csrfField(c.session)}<button type="submit">Replay every failed delivery</button></form>` : ""}
<form class="inline" method="post" action="/admin/webhooks/${w.id}/delete" data-confirm="Delete this webhook? Messages not yet delivered are dropped, and its delivery history goes with it.">${csrfField(c.session)}<button type="submit" class="danger">Delete</button></form>
</p>
<h2>Last delivery</h2>
${last && lastTry
  ? html`<p>${badge("st", last.status)} attempt ${lastTry.attempt}, ${when(lastTry.started_at)}, ${lastTry.duration_ms} ms ${lastTry.error ? html`<span class="muted">${lastTry.error}</span>` : ""}</p>
<div class="grid"><div class="card"><h3>Request</h3>${pretty(lastTry.request.headers)}${cut(lastTry.request, "request-cut")}<pre id="last-request">${lastTry.request.body}</pre></div>
<div class="card"><h3>Response</h3>${lastTry.response ? html`<p id="last-status">HTTP ${lastTry.response.status}</p>${pretty(lastTry.response.headers)}${cut(lastTry.response, "response-cut")}<pre id="last-response">${lastTry.response.body}</pre>` : html`<p class="muted">no response</p>`}</div></div>`
  : html`<p class="muted">Nothing sent yet.</p>`}
<h2>Latest deliveries</h2>
${list.length
  ? html`<div class="table-wrap"><table id="deliveries"><thead><tr><th>Created</th><th>Type</th><th>Status</th><th>Attempts</th><th>Last answer</th><th>Last attempt</th><th>Duration</th><th></th></tr></thead><tbody>
  ${list.map(
    (d) => html`<tr><td>${when(d.created_at)}</td><td>${d.type}</td><td>${badge("st", d.status)}</td><td title="${d.timings.map((a) => `#${a.attempt} ${a.started_at} ${a.duration_ms} ms ${a.status ?? a.outcome}`).join("\n")}">${d.attempt_count}</td>
    <td>${d.last_status_code ?? ""} ${d.last_error ? html`<span class="muted">${d.last_error}</span>` : ""}</td><td>${d.last_attempt_at ? when(d.last_attempt_at) : ""}</td><td class="duration">${d.last_duration_ms === null ? "" : `${d.last_duration_ms} ms`}</td>
    <td>${d.status === "failed" || d.status === "succeeded" ? html`<form class="inline" method="post" action="/admin/deliveries/${d.id}/replay">${csrfField(c.session)}<button type="submit" class="secondary">Replay</button></form>` : ""}</td></tr>`,
  )}</tbody></table></div>`
  : html`<p class="muted">No deliveries yet.</p>`}
<h2>Edit</h2>
<form class="stack" method="post" action="/admin/webhooks/${w.id}">${csrfField(c.session)}
  <label>Triggers (space or comma separated) <input name="triggers" value="${w.triggers.join(" ")}"></label>
  <label>Headers ("Name: value" lines) <textarea name="headers">${headerLines(headers)}</textarea></label>
  <label>Backlog cap (messages that may wait; 0 = none) <input name="backlog_cap" type="number" min="0" value="${String(w.backlog_cap)}"></label>
  <label>At the cap <select name="backlog_policy"><option value="drop_oldest"${w.backlog_policy === "drop_oldest" ? html` selected` : ""}>drop the oldest waiting message</option><option value="refuse_newest"${w.backlog_policy === "refuse_newest" ? html` selected` : ""}>refuse the new message</option></select></label>
  <div><button type="submit">Save</button></div>
</form>`;
  return { title: w.name, current: "/admin/webhooks", body };
}

export const webhooksArea: Area = {
  nav: { path: "/admin/webhooks", label: "Webhooks" },
  routes: [
    {
      method: "GET",
      path: "/admin/webhooks",
      handler: (c) => {
        const { items } = webhooks.list(c.deps, c.tenantId);
        const body = html`<h1>Webhooks</h1>
${items.length === 0
  ? html`<p class="muted">No webhooks yet.</p>`
  : html`<div class="table-wrap"><table id="webhooks"><thead><tr><th>Name</th><th>URL</th><th>Health</th><th>Waiting</th><th>Triggers</th></tr></thead><tbody>
  ${items.map((w) => html`<tr><td><a href="/admin/webhooks/${w.id}">${w.name}</a></td><td><code>${w.url}</code></td><td>${health(w)}</td><td>${backlog(w)}</td><td>${w.triggers.join(", ")}</td></tr>`)}
  </tbody></table></div>`}
<h2>New webhook</h2>
<form class="stack" method="post" action="/admin/webhooks">${csrfField(c.session)}
  <label>URL <input name="url" type="url" required placeholder="https://hooks.example.com/keepwatch"></label>
  <label>Name <input name="name" placeholder="the URL's host"></label>
  <label>Triggers (space or comma separated) <input name="triggers" value="event.received alert.*"></label>
  <div><button type="submit">Create</button></div>
</form>`;
        return { title: "Webhooks", current: "/admin/webhooks", body };
      },
    },
    {
      method: "POST",
      path: "/admin/webhooks",
      handler: (c) => {
        const b = checked<WebhookCreate>(WebhookCreate, { url: field(c, "url", { max: 2048 })!, name: field(c, "name", { optional: true, max: 200 }), triggers: triggersOf(c) });
        const w = webhooks.create(c.deps, c.tenantId, JSON.parse(JSON.stringify(b)));
        // the answer to a create shows the secret once, like the API's 201
        return { ...detail(c, w.id, { secret: w.secret_value, previous_secret: null, note: "Webhook created. Its signing secret is shown below." }), status: 201 };
      },
    },
    { method: "GET", path: "/admin/webhooks/:id", handler: (c) => detail(c, c.params.id) },
    {
      method: "POST",
      path: "/admin/webhooks/:id/delete",
      handler: (c) => {
        webhooks.remove(c.deps, c.tenantId, c.params.id);
        return see("/admin/webhooks", "deleted");
      },
    },
    {
      method: "POST",
      path: "/admin/webhooks/:id",
      handler: (c) => {
        const cap = field(c, "backlog_cap", { optional: true, max: 12 });
        const b = checked<WebhookUpdate>(
          WebhookUpdate,
          JSON.parse(
            JSON.stringify({
              triggers: triggersOf(c),
              headers: c.form.get("headers") ?? undefined,
              backlog_cap: cap === undefined || cap === null || cap === "" ? undefined : /^\d+$/.test(cap) ? Number(cap) : cap,
              backlog_policy: field(c, "backlog_policy", { optional: true, max: 20 }) || undefined,
            }),
          ),
        );
        webhooks.update(c.deps, c.tenantId, c.params.id, b);
        return see(`/admin/webhooks/${encodeURIComponent(c.params.id)}`, "updated");
      },
    },
    {
      method: "POST",
      path: "/admin/webhooks/:id/reveal",
      handler: (c) =>
        detail(c, c.params.id, {
          ...webhooks.secret(c.deps, c.tenantId, c.params.id),
          ...webhooks.headers(c.deps, c.tenantId, c.params.id),
          note: "The secret and the header values are shown on this page only.",
        }),
    },
    {
      method: "POST",
      path: "/admin/webhooks/:id/rotate",
      handler: (c) => detail(c, c.params.id, { ...webhooks.rotate(c.deps, c.tenantId, c.params.id), note: "Secret rotated. The previous secret keeps signing during the overlap." }),
    },
    {
      method: "POST",
      path: "/admin/webhooks/:id/state",
      handler: (c) => {
        const state = field(c, "state");
        if (state !== "active" && state !== "inactive") throw new ApiError(422, "invalid_form", "state must be active or inactive");
        webhooks.update(c.deps, c.tenantId, c.params.id, { state });
        return see(`/admin/webhooks/${encodeURIComponent(c.params.id)}`, "updated");
      },
    },
    {
      method: "POST",
      path: "/admin/webhooks/:id/replay-failed",
      handler: (c) => {
        webhooks.replayMany(c.deps, c.tenantId, c.params.id, { since: "1970-01-01T00:00:00Z", status: "failed" });
        return see(`/admin/webhooks/${encodeURIComponent(c.params.id)}`, "replayed");
      },
    },
    {
      method: "POST",
      path: "/admin/deliveries/:id/replay",
      handler: (c) => {
        const d = webhooks.replayOne(c.deps, c.tenantId, c.params.id);
        return see(`/admin/webhooks/${encodeURIComponent(d.webhook_id)}`, "replayed");
      },
    },
  ],
};
