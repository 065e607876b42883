// The webhooks API's logic: validation beyond the schema, CRUD, rotation, history, replay.
import type { Deps } from "../../deps";
import { DEFAULT_RETRY } from "../../core/backoff";
import { parseAllowList, refusedReason } from "../../core/netrange";
import { generateSecret, isSecret, maskSecret, RESERVED_HEADERS } from "../../core/signing";
import { headerProblem, maskHeaders, maskHeaderValue, maskSentHeaders } from "../../core/headers";
import { MESSAGE_TYPES, typeMatches } from "../../core/triggers";
import { ApiError, notFound } from "../../http/errors";
import { MAX_RECORDED } from "../../jobs/handlers/http";
import { compile, outboundOf, type RetryJson } from "../../jobs/handlers/webhooks";
import { newId } from "../../lib/ids";
import { iso, parseTime } from "../../lib/time";
import { isIP } from "node:net";
import type { AttemptRow, AttemptTiming, DeliveryRow, DeliveryStatus } from "../../store/deliveries";
import type { WebhookRow } from "../../store/webhooks";
import type { DeliveryQuery, WebhookCreate, WebhookUpdate } from "./model";

const invalid = (path: string, message: string) => new ApiError(422, "invalid_body", `${path.slice(1)}: ${message}`, [{ path, message }]);

/**
 * Custom headers as lines ("Name: value") or a map; names and values checked, reserved ones
 * refused. With `kept` (the stored headers), a value given in its masked form (as GET shows it)
 * keeps the stored value, so a GET-edit-PATCH round trip does not overwrite a credential.
 */
export function parseHeaders(h: string | Record<string, string>, kept: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const entries: [string, string][] =
    typeof h === "string"
      ? h
          .split(/\r?\n/)
          .map((l) => l.trim())
          .filter((l) => l !== "")
          .map((l, i) => {
            const c = l.indexOf(":");
            if (c <= 0) throw invalid("/headers", `line ${i + 1} is not "Name: value"`);
            return [l.slice(0, c).trim(), l.slice(c + 1).trim()];
          })
      : Object.entries(h);
  const seen = new Map<string, string>();
  const stored = new Map(Object.entries(kept).map(([k, v]) => [k.toLowerCase(), v]));
  for (const [name, given] of entries) {
    const old = stored.get(name.toLowerCase());
    const value = old !== undefined && given === maskHeaderValue(old) ? old : given;
    const problem = headerProblem(name, value);
    if (problem) throw invalid("/headers", problem);
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw invalid("/headers", `"${name}" is set by keepwatch and cannot be overridden`);
    const dup = seen.get(name.toLowerCase());
    if (dup !== undefined) throw invalid("/headers", `"${name}" is given twice (as "${dup}" too; header names ignore case)`);
    seen.set(name.toLowerCase(), name);
    out[name] = value;
  }
  if (Object.keys(out).length > 50) throw invalid("/headers", "at most 50 headers");
  return out;
}

/** Every trigger must be able to match a message type keepwatch sends, and appear once. */
export function checkTriggers(triggers: string[]): string[] {
  const seen = new Set<string>();
  triggers.forEach((p, i) => {
    if (seen.has(p)) throw invalid(`/triggers/${i}`, `"${p}" is listed twice`);
    seen.add(p);
    if (!MESSAGE_TYPES.some((type) => typeMatches(p, type)))
      throw invalid(`/triggers/${i}`, `"${p}" matches no message type; the types are ${MESSAGE_TYPES.join(", ")} (* matches any part)`);
  });
  return triggers;
}

/** A filter list is either left out (anything passes) or names at least one value, once each. */
export function checkFilters(f: WebhookCreate["filters"] & {}): NonNullable<WebhookCreate["filters"]> {
  for (const k of ["sources", "tags"] as const) {
    const list = f[k];
    if (list === undefined) continue;
    if (list.length === 0) throw invalid(`/filters/${k}`, `an empty list would match nothing; leave ${k} out to let every message through`);
    const dup = list.find((v, i) => list.indexOf(v) !== i);
    if (dup !== undefined) throw invalid(`/filters/${k}`, `"${dup}" is listed twice`);
  }
  return f;
}

function checkUrl(deps: Deps, url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid("/url", "not a URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw invalid("/url", "must be http or https");
  if (u.username || u.password) throw invalid("/url", "credentials in the URL are not allowed; use a header");
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) {
    const why = refusedReason(host, parseAllowList(deps.config.outboundAllow));
    if (why) throw invalid("/url", `${why}; list it in KEEPWATCH_OUTBOUND_ALLOW to allow it`);
  }
  // Names are resolved and checked on every attempt (what a name points at can change).
  return u.toString();
}

function retryOf(mode: string, r: WebhookCreate["retry"], prev?: RetryJson): RetryJson {
  const base: RetryJson = prev ?? {
    max_attempts: mode === "batched" ? 0 : DEFAULT_RETRY.maxAttempts,
    initial_interval: DEFAULT_RETRY.initialMs / 1000,
    max_interval: DEFAULT_RETRY.maxMs / 1000,
  };
  const out = { ...base, ...(r ?? {}) };
  if (out.max_interval < out.initial_interval) throw invalid("/retry/max_interval", "must be at least initial_interval");
  return out;
}

/** What waits for a webhook: two keyed reads (the lane's count, the oldest pending message). */
export async function backlogView(deps: Deps, id: string, now: number) {
  const b = await deps.store.deliveries.backlogOf(id);
  return {
    count: b.count,
    oldest_at: b.oldest === null ? null : iso(b.oldest),
    oldest_age_seconds: b.oldest === null ? 0 : Math.max(0, (now - b.oldest) / 1000),
    dropped: b.dropped,
  };
}

export async function view(w: WebhookRow, now: number, deps?: Deps) {
  const rotating = w.previousSecret && w.previousSecretUntil && w.previousSecretUntil > now;
  return {
    id: w.id,
    name: w.name,
    url: w.url,
    state: w.state,
    disabled_reason: w.disabledReason,
    disabled_at: w.disabledAt === null ? null : iso(w.disabledAt),
    headers: maskHeaders(JSON.parse(w.headers)),
    triggers: JSON.parse(w.triggers),
    filters: JSON.parse(w.filters),
    mode: w.mode,
    interval: w.intervalS,
    max_batch: w.maxBatch,
    rate_limit: w.rateLimit,
    timeout: w.timeoutMs / 1000,
    retry: JSON.parse(w.retry),
    ordered: !!w.ordered,
    secret: maskSecret(w.secret),
    previous_secret_expires_at: rotating ? iso(w.previousSecretUntil!) : null,
    consecutive_failures: w.consecutiveFailures,
    backlog_cap: w.backlogCap,
    backlog_policy: w.backlogPolicy,
    backlog: deps ? await backlogView(deps, w.id, now) : { count: 0, oldest_at: null, oldest_age_seconds: 0, dropped: 0 },
    created_at: iso(w.createdAt),
    updated_at: iso(w.updatedAt),
  };
}

async function load(deps: Deps, tenantId: string, id: string): Promise<WebhookRow> {
  const w = await deps.store.webhooks.getWebhook(tenantId, id);
  if (!w) throw notFound(`no webhook ${id}`);
  return w;
}

export async function create(deps: Deps, tenantId: string, b: WebhookCreate) {
  const now = deps.clock();
  if (b.secret !== undefined && !isSecret(b.secret)) throw invalid("/secret", "must be whsec_ followed by the base64 of at least 24 bytes");
  const mode = b.mode ?? "immediate";
  const row: WebhookRow = {
    id: "wh_" + newId(now),
    tenantId,
    name: b.name ?? new URL(checkUrl(deps, b.url)).host,
    url: checkUrl(deps, b.url),
    state: b.state ?? "active",
    disabledReason: null,
    disabledAt: null,
    headers: JSON.stringify(parseHeaders(b.headers ?? {})),
    triggers: JSON.stringify(checkTriggers(b.triggers ?? ["event.received"])),
    filters: JSON.stringify(checkFilters(b.filters ?? {})),
    mode,
    intervalS: b.interval ?? 60,
    maxBatch: b.max_batch ?? 100,
    rateLimit: b.rate_limit ?? 50,
    timeoutMs: Math.round((b.timeout ?? 10) * 1000),
    retry: JSON.stringify(retryOf(mode, b.retry)),
    ordered: b.ordered ? 1 : 0,
    secret: b.secret ?? generateSecret(),
    previousSecret: null,
    previousSecretUntil: null,
    consecutiveFailures: 0,
    backlogCap: b.backlog_cap ?? 0,
    backlogPolicy: b.backlog_policy ?? "drop_oldest",
    createdAt: now,
    updatedAt: now,
  };
  await deps.store.webhooks.insertWebhook(row);
  deps.webhooks.invalidate();
  return { ...(await view(row, now)), secret_value: row.secret };
}

export async function list(deps: Deps, tenantId: string) {
  const now = deps.clock();
  return { items: await Promise.all((await deps.store.webhooks.listWebhooks(tenantId)).map((w) => view(w, now, deps))) };
}

export async function get(deps: Deps, tenantId: string, id: string) {
  const w = await load(deps, tenantId, id);
  const a = await deps.store.deliveries.lastAttempt(w.id);
  return {
    ...(await view(w, deps.clock(), deps)),
    last_attempt: a
      ? {
          delivery_id: a.delivery_id,
          attempt: a.attempt,
          started_at: iso(a.started_at),
          outcome: a.outcome,
          response_status: a.response_status,
          duration_ms: a.duration_ms,
          error: a.error,
        }
      : null,
  };
}

export async function update(deps: Deps, tenantId: string, id: string, b: WebhookUpdate) {
  const now = deps.clock();
  // Read, change, write as one unit that applies only to the row read (its updatedAt); a change
  // made meanwhile (another request, an auto-disable) makes it read again and re-apply.
  for (let tries = 0; ; tries++) {
    const w = await load(deps, tenantId, id);
    const next: WebhookRow = { ...w, updatedAt: Math.max(now, w.updatedAt + 1) };
    if (b.name !== undefined) next.name = b.name;
    if (b.url !== undefined) next.url = checkUrl(deps, b.url);
    if (b.headers !== undefined) next.headers = JSON.stringify(parseHeaders(b.headers, JSON.parse(w.headers)));
    if (b.triggers !== undefined) next.triggers = JSON.stringify(checkTriggers(b.triggers));
    if (b.filters !== undefined) {
      // merged like retry: the filters it names change (null removes one), the others stay
      const merged: Record<string, unknown> = JSON.parse(w.filters);
      for (const [k, v] of Object.entries(b.filters)) {
        if (v === null) delete merged[k];
        else if (v !== undefined) merged[k] = v;
      }
      next.filters = JSON.stringify(checkFilters(merged as NonNullable<WebhookCreate["filters"]>));
    }
    if (b.mode !== undefined) next.mode = b.mode;
    if (b.interval !== undefined) next.intervalS = b.interval;
    if (b.max_batch !== undefined) next.maxBatch = b.max_batch;
    if (b.rate_limit !== undefined) next.rateLimit = b.rate_limit;
    if (b.timeout !== undefined) next.timeoutMs = Math.round(b.timeout * 1000);
    if (b.retry !== undefined) next.retry = JSON.stringify(retryOf(next.mode, b.retry, JSON.parse(w.retry)));
    if (b.ordered !== undefined) next.ordered = b.ordered ? 1 : 0;
    if (b.backlog_cap !== undefined) next.backlogCap = b.backlog_cap;
    if (b.backlog_policy !== undefined) next.backlogPolicy = b.backlog_policy;
    const reactivated = b.state === "active" && w.state !== "active";
    if (b.state !== undefined) next.state = b.state;
    if (reactivated) {
      next.disabledReason = null;
      next.disabledAt = null;
      next.consecutiveFailures = 0;
    }
    // One unit: the change, and (re-activated) what was held meanwhile sent, and (from batched to
    // immediate) what waited for the next batch given a job of its own. The row read above is
    // the one changed: a concurrent change to it makes this one fail (prior updatedAt), not merge.
    const changed = await deps.store.webhooks.applyWebhookUpdate(next, w.updatedAt, {
      release: reactivated ? outboundOf(compile(next)) : null,
      unbatch: w.mode === "batched" && next.mode === "immediate" && next.state === "active" ? outboundOf(compile(next)) : null,
    }, now);
    deps.webhooks.invalidate();
    if (!changed) {
      if (tries < 10) continue;
      throw new ApiError(409, "conflict", `webhook ${id} keeps changing; try again`);
    }
    if (reactivated || w.mode !== next.mode) deps.worker.notify();
    return await view(next, now, deps);
  }
}

export async function remove(deps: Deps, tenantId: string, id: string) {
  if (!(await deps.store.webhooks.deleteWebhook(tenantId, id))) throw notFound(`no webhook ${id}`);
  deps.webhooks.invalidate();
}

/** Queues a `webhook.test` message to this webhook (recorded like any delivery); the delivery's id. */
export async function sendTest(deps: Deps, tenantId: string, id: string) {
  const w = await load(deps, tenantId, id);
  const now = deps.clock();
  const data = { webhook_id: w.id, name: w.name, message: "A test message sent from keepwatch. No action is needed.", sent_at: iso(now) };
  const delivery = await deps.webhooks.sendTest(deps.store, w, data, now);
  return { delivery_id: delivery, state: w.state };
}

/** Attempts that failed in a row (all of a never-succeeding webhook's, up to 1000). */
export async function failuresInARow(deps: Deps, tenantId: string, id: string): Promise<number> {
  return await deps.store.deliveries.attemptsFailedInARow((await load(deps, tenantId, id)).id);
}

export async function rotate(deps: Deps, tenantId: string, id: string) {
  const now = deps.clock();
  const w = await load(deps, tenantId, id);
  const next: WebhookRow = {
    ...w,
    secret: generateSecret(),
    previousSecret: w.secret,
    previousSecretUntil: now + deps.config.secretOverlap * 3_600_000,
    updatedAt: Math.max(now, w.updatedAt + 1),
  };
  await deps.store.webhooks.updateWebhook(next);
  deps.webhooks.invalidate();
  return secretView(next, now);
}

function secretView(w: WebhookRow, now: number) {
  const rotating = !!(w.previousSecret && w.previousSecretUntil && w.previousSecretUntil > now);
  return {
    secret: w.secret,
    previous_secret: rotating ? w.previousSecret : null,
    previous_secret_expires_at: rotating ? iso(w.previousSecretUntil!) : null,
  };
}

/** The custom headers in full (GET, list and history show them masked). */
export async function headers(deps: Deps, tenantId: string, id: string) {
  return { headers: JSON.parse((await load(deps, tenantId, id)).headers) as Record<string, string> };
}

export async function secret(deps: Deps, tenantId: string, id: string) {
  return secretView(await load(deps, tenantId, id), deps.clock());
}

/** How many attempts a delivery row of the list shows. */
export const LIST_TIMINGS = 10;

function deliveryView(d: DeliveryRow, timings: AttemptTiming[]) {
  const last = timings.at(-1);
  return {
    id: d.id,
    webhook_id: d.webhook_id,
    kind: d.kind,
    type: d.type,
    status: d.status,
    attempt_count: d.attempts,
    batch_id: d.batch_id,
    last_status_code: d.last_status_code,
    last_error: d.last_error,
    first_attempt_at: timings.length ? iso(timings[0].started_at) : null,
    last_attempt_at: last ? iso(last.started_at) : null,
    last_duration_ms: last ? last.duration_ms : null,
    timings: timings.slice(-LIST_TIMINGS).map((a) => ({ attempt: a.attempt, started_at: iso(a.started_at), duration_ms: a.duration_ms, status: a.response_status, outcome: a.outcome })),
    created_at: iso(d.created_at),
    updated_at: iso(d.updated_at),
  };
}

/** Each delivery with its attempts' timings (one query for the lot). */
async function withTimings(deps: Deps, rows: DeliveryRow[]) {
  const by = new Map<string, AttemptTiming[]>();
  for (const a of await deps.store.deliveries.attemptTimings(rows.map((d) => d.id))) {
    const l = by.get(a.delivery_id);
    if (l) l.push(a);
    else by.set(a.delivery_id, [a]);
  }
  return rows.map((d) => deliveryView(d, by.get(d.id) ?? []));
}

const bodyView = (body: string, size: number | null, truncated: boolean | null) => ({
  body,
  size,
  // rows recorded before sizes were kept: cut when the stored text is at the bound
  truncated: truncated ?? (size === null ? Buffer.byteLength(body) >= MAX_RECORDED : size > Buffer.byteLength(body)),
});

function attemptView(a: AttemptRow) {
  return {
    attempt: a.attempt,
    started_at: iso(a.started_at),
    duration_ms: a.duration_ms,
    url: a.url,
    outcome: a.outcome,
    request: { headers: maskSentHeaders(JSON.parse(a.request_headers)), ...bodyView(a.request_body, a.request_body_size, null) },
    response:
      a.response_status === null
        ? null
        : {
            status: a.response_status,
            headers: a.response_headers ? JSON.parse(a.response_headers) : {},
            ...bodyView(a.response_body ?? "", a.response_body_size, a.response_truncated === null ? null : a.response_truncated === 1),
          },
    error: a.error,
  };
}

export async function deliveries(deps: Deps, tenantId: string, id: string, q: DeliveryQuery) {
  await load(deps, tenantId, id);
  const limit = q.limit ?? 100;
  const rows = await deps.store.deliveries.listDeliveries(id, { status: q.status as DeliveryStatus | undefined, before: q.cursor, limit: limit + 1 });
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  return { items: await withTimings(deps, page), next_cursor: more ? page[page.length - 1].id : null };
}

async function loadDelivery(deps: Deps, tenantId: string, id: string): Promise<DeliveryRow> {
  const d = await deps.store.deliveries.getDelivery(id);
  if (!d || d.tenant_id !== tenantId) throw notFound(`no delivery ${id}`);
  return d;
}

export async function delivery(deps: Deps, tenantId: string, id: string) {
  const d = await loadDelivery(deps, tenantId, id);
  const members = d.kind === "batch" ? await deps.store.deliveries.batchMembers(d.id) : [];
  return {
    ...(await withTimings(deps, [d]))[0],
    body: d.kind === "batch" ? members.map((m) => JSON.parse(m.body)) : JSON.parse(d.body),
    members: members.map((m) => m.id),
    attempts: (await deps.store.deliveries.listAttempts(d.id)).map(attemptView),
  };
}

export async function replayOne(deps: Deps, tenantId: string, id: string) {
  const now = deps.clock();
  const d = await loadDelivery(deps, tenantId, id);
  if (d.kind === "batch") throw new ApiError(409, "conflict", "replay the messages of a batch, not the batch");
  if (d.status === "pending") throw new ApiError(409, "conflict", `delivery ${id} is already queued`);
  const w = await load(deps, tenantId, d.webhook_id);
  if (w.state !== "active") throw new ApiError(409, "conflict", `webhook ${w.id} is inactive; activate it first`);
  // the unit skips a delivery that became pending since it was read (a concurrent replay)
  if ((await deps.store.deliveries.requeueDeliveries(outboundOf(compile(w)), [d.id], now, { unlessPending: true })) === 0)
    throw new ApiError(409, "conflict", `delivery ${id} is already queued`);
  deps.worker.notify();
  return await delivery(deps, tenantId, id);
}

/** Replays every matching message since a time, a page at a time (no cap). */
export async function replayMany(deps: Deps, tenantId: string, id: string, q: { since: string; status?: string }) {
  const since = parseTime(q.since);
  if (!since) throw new ApiError(422, "invalid_query", "since is not a timestamp", [{ path: "/since", message: "expected ISO 8601 or epoch" }]);
  const w = await load(deps, tenantId, id);
  if (w.state !== "active") throw new ApiError(409, "conflict", `webhook ${w.id} is inactive; activate it first`);
  const target = outboundOf(compile(w));
  const status = (q.status ?? "failed") as DeliveryStatus;
  const now = deps.clock();
  let after: string | null = null;
  let n = 0;
  for (;;) {
    const page = await deps.store.deliveries.scanDeliveries(id, { status, since: since.ms, after, limit: 500 });
    if (page.length === 0) break;
    await deps.store.deliveries.requeueDeliveries(target, page.map((d) => d.id), now);
    n += page.length;
    after = page[page.length - 1].id;
  }
  deps.worker.notify();
  return { replayed: n };
}
