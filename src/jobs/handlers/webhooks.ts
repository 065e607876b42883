// Outbound webhooks on the job queue: the transactional outbox (messages for matching webhooks are
// written in the caller's transaction), the delivery handler (sign, send, record every attempt,
// decide retry/fail/disable) and the batch flush handler.
import type { Db } from "../../db/client";
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter, type RetryPolicy } from "../../core/backoff";
import type { NormalizedEvent } from "../../core/event";
import type { Cidr } from "../../core/netrange";
import { newBucket, take, type Bucket } from "../../core/ratelimit";
import type { Severity } from "../../core/severity";
import { maskSentHeaders, withDefaults } from "../../core/headers";
import { signatureHeaders } from "../../core/signing";
import { messageMatches, typeMatches, type Filters } from "../../core/triggers";
import { newId } from "../../lib/ids";
import type { Logger } from "../../lib/log";
import { iso } from "../../lib/time";
import {
  assignBatch,
  batchMembers,
  countReplay,
  getDelivery,
  heldMessages,
  lastBatchAt,
  insertAttempt,
  insertDelivery,
  markBatchMembers,
  markDelivery,
  openBatch,
  openHead,
  releaseBatch,
  setDeliveryJob,
  unbatched,
  unbatchForReplay,
  type DeliveryRow,
} from "../../store/deliveries";
import { storeBatch } from "../../store/events";
import { wakeJob } from "../../store/jobs";
import { addFailure, disableWebhook, getWebhookById, listWebhooks, resetFailures, WEBHOOKS_VERSION, type WebhookRow } from "../../store/webhooks";
import { VersionedCache } from "../../store/config-versions";
import { enqueue } from "../queue";
import type { Effects, Handler, Outcome } from "../worker";
import { MAX_RECORDED, send } from "./http";

export const WEBHOOK_QUEUE = "webhooks";
const SLOW_MS = 1_000;
const SLOW_FOR_MS = 60_000;

export type RetryJson = { max_attempts: number; initial_interval: number; max_interval: number };

/** A webhook with its JSON columns parsed, as the hot paths use it. */
export type CompiledWebhook = {
  row: WebhookRow;
  triggers: string[];
  filters: Filters;
  headers: Record<string, string>;
  policy: RetryPolicy;
};

export function compile(row: WebhookRow): CompiledWebhook {
  const r = JSON.parse(row.retry) as RetryJson;
  return {
    row,
    triggers: JSON.parse(row.triggers),
    filters: JSON.parse(row.filters),
    headers: JSON.parse(row.headers),
    policy: { maxAttempts: r.max_attempts, initialMs: r.initial_interval * 1000, maxMs: r.max_interval * 1000, jitter: DEFAULT_RETRY.jitter },
  };
}

export type DispatcherOptions = {
  allow: Cidr[];
  leaseMs: number;
  autoDisableAfter: number;
  /** deliveries in flight to one webhook at once */
  maxInflightPerWebhook?: number;
  clock: () => number;
  log: Logger;
  random?: () => number;
  /** after every delivery attempt (metrics): succeeded = 2xx, failed = another status, error = no answer (connection, timeout, refused target) */
  onAttempt?: (outcome: "succeeded" | "failed" | "error", seconds: number) => void;
};

/** What a message says about itself, for the trigger filters. */
export type MessageInput = {
  type: string;
  data: unknown;
  severity?: Severity | null;
  source?: string | null;
  tags?: string[];
};

export class WebhookDispatcher {
  /** webhooks per tenant, loaded on first use, rebuilt when any webhook changes (any thread) */
  private cache = new VersionedCache<CompiledWebhook[]>(WEBHOOKS_VERSION, (db, tenantId) => listWebhooks(db, tenantId).map(compile));
  private buckets = new Map<string, Bucket>();
  private inflight = new Map<string, number>();
  private slowUntil = new Map<string, number>();
  /** called after a commit that enqueued jobs (the worker looks at the table) */
  wake: () => void = () => {};
  readonly stats = { messages: 0, attempts: 0, succeeded: 0, failed: 0 };

  constructor(
    private db: Db,
    private o: DispatcherOptions,
  ) {}

  invalidate(): void {
    this.cache.invalidate();
  }

  webhooksOf(db: Db, tenantId: string): CompiledWebhook[] {
    return this.cache.get(db, tenantId);
  }

  /** Whether any webhook of the tenant subscribes to this message type (filters aside). */
  wants(db: Db, tenantId: string, type: string): boolean {
    return this.webhooksOf(db, tenantId).some((h) => h.triggers.some((p) => typeMatches(p, type)));
  }

  /** The ingest outbox hook: `event.received` messages for the new events (inside the ingest transaction). */
  onEventsInserted = (db: Db, events: NormalizedEvent[]): void => {
    if (events.length === 0) return;
    const hooks = this.webhooksOf(db, events[0].tenantId);
    if (hooks.length === 0) return;
    let any = false;
    for (const e of events) {
      const tenantHooks = e.tenantId === events[0].tenantId ? hooks : this.webhooksOf(db, e.tenantId);
      const attrs = { type: "event.received", severity: e.severity, source: e.source, tags: e.tags };
      let data: string | null = null;
      for (const h of tenantHooks) {
        if (!messageMatches(h.triggers, h.filters, attrs)) continue;
        data ??= eventDataJson(e);
        this.enqueueMessage(db, h, "event.received", data, e.receivedAt);
        any = true;
      }
    }
    if (any) queueMicrotask(() => this.wake());
  };

  /** Emits a message of any type (alerts, heartbeats, ...) to every matching webhook of the tenant, in the caller's transaction. */
  emit(db: Db, tenantId: string, m: MessageInput, now: number, except?: string): number {
    let n = 0;
    let data: string | null = null;
    for (const h of this.webhooksOf(db, tenantId)) {
      if (h.row.id === except) continue;
      if (!messageMatches(h.triggers, h.filters, m)) continue;
      data ??= JSON.stringify(m.data ?? null);
      this.enqueueMessage(db, h, m.type, data, now);
      n++;
    }
    if (n) queueMicrotask(() => this.wake());
    return n;
  }

  private enqueueMessage(db: Db, h: CompiledWebhook, type: string, dataJson: string, now: number): void {
    const id = "msg_" + newId(now);
    const body = `{"id":${JSON.stringify(id)},"type":${JSON.stringify(type)},"timestamp":${JSON.stringify(iso(now))},"data":${dataJson}}`;
    this.stats.messages++;
    const w = h.row;
    if (w.state !== "active") {
      insertDelivery(db, { id, tenantId: w.tenantId, webhookId: w.id, kind: "message", type, body, status: "held" }, now);
      return;
    }
    if (w.mode === "batched") {
      insertDelivery(db, { id, tenantId: w.tenantId, webhookId: w.id, kind: "message", type, body, status: "pending" }, now);
      this.scheduleFlush(db, w, now);
      return;
    }
    const job = enqueue(db, { queue: WEBHOOK_QUEUE, kind: "deliver", payload: { d: id }, maxAttempts: h.policy.maxAttempts, idempotencyKey: id }, now);
    insertDelivery(db, { id, tenantId: w.tenantId, webhookId: w.id, kind: "message", type, body, status: "pending", jobId: job.id }, now);
  }

  /** One flush job per webhook per interval slot (the idempotency key makes repeats free). */
  scheduleFlush(db: Db, w: WebhookRow, now: number, immediate = false): void {
    const period = w.intervalS * 1000;
    const slot = Math.floor(now / period);
    const runAt = immediate ? now : (slot + 1) * period;
    enqueue(db, { queue: WEBHOOK_QUEUE, kind: "flush", payload: { w: w.id }, maxAttempts: 0, runAt, idempotencyKey: `flush:${w.id}:${immediate ? "now:" + now : slot}` }, now);
  }

  /** Sends the held messages of a webhook that became active again (in the caller's transaction). */
  release(db: Db, w: WebhookRow, now: number): number {
    const h = compile(w);
    const held = heldMessages(db, w.id);
    for (const d of held) {
      if (w.mode === "batched") markDelivery(db, d.id, "pending", now);
      else this.requeue(db, h, d, now);
    }
    if (w.mode === "batched" && held.length) this.scheduleFlush(db, w, now, true);
    if (held.length) queueMicrotask(() => this.wake());
    return held.length;
  }

  /** Puts a delivery back in the queue (replay, release). Same message id, so the same webhook-id. */
  requeue(db: Db, h: CompiledWebhook, d: DeliveryRow, now: number): void {
    if (h.row.mode === "batched" && d.kind === "message") {
      unbatchForReplay(db, d.id, now);
      this.scheduleFlush(db, h.row, now, true);
      return;
    }
    const replays = countReplay(db, d.id, now);
    const job = enqueue(
      db,
      { queue: WEBHOOK_QUEUE, kind: "deliver", payload: { d: d.id }, maxAttempts: h.policy.maxAttempts, idempotencyKey: `${d.id}#${replays}` },
      now,
    );
    setDeliveryJob(db, d.id, job.id);
  }

  handlers(): Record<string, Handler> {
    return { deliver: (ctx) => this.deliverBounded(ctx.job.attempt, ctx.payload.d, ctx.now), flush: (ctx) => this.flush(ctx.payload.w, ctx.now) };
  }

  private webhook(id: string): CompiledWebhook | null {
    const row = getWebhookById(this.db, id);
    if (!row) return null;
    const cached = this.cache.peek(row.tenantId)?.find((h) => h.row.id === id);
    return cached && cached.row.updatedAt === row.updatedAt && cached.row.state === row.state ? cached : compile(row);
  }

  private async flush(webhookId: string, clock: () => number): Promise<Outcome> {
    const h = this.webhook(webhookId);
    if (!h || h.row.mode !== "batched" || h.row.state !== "active") return { result: "success" };
    // One batch at a time: while one is being retried, the next waits (this keeps batches in order).
    if (openBatch(this.db, webhookId)) return { result: "success" };
    // At most one POST per interval.
    const last = lastBatchAt(this.db, webhookId);
    const wait = last === null ? 0 : last + h.row.intervalS * 1000 - clock();
    if (wait > 0) return { result: "snooze", delayMs: wait };
    const members = unbatched(this.db, webhookId, h.row.maxBatch);
    if (members.length === 0) return { result: "success" };
    return {
      result: "success",
      effects: (db, _fate, now) => {
        if (openBatch(db, webhookId)) return;
        const id = "msg_" + newId(now);
        const job = enqueue(db, { queue: WEBHOOK_QUEUE, kind: "deliver", payload: { d: id }, maxAttempts: h.policy.maxAttempts, idempotencyKey: id }, now);
        insertDelivery(db, { id, tenantId: h.row.tenantId, webhookId, kind: "batch", type: "batch", body: "", status: "pending", jobId: job.id }, now);
        assignBatch(db, id, members.map((m) => m.id));
        queueMicrotask(() => this.wake());
      },
    };
  }

  /**
   * A slow receiver (an attempt took over SLOW_MS or timed out in the last SLOW_FOR_MS) may hold at
   * most maxInflightPerWebhook worker slots; its other messages wait. Fast receivers are not capped.
   */
  private async deliverBounded(attempt: number, deliveryId: string, clock: () => number): Promise<Outcome> {
    const d = getDelivery(this.db, deliveryId);
    const key = d?.webhook_id ?? "";
    const n = this.inflight.get(key) ?? 0;
    const cap = this.o.maxInflightPerWebhook ?? Infinity;
    const started = clock();
    if (d && n >= cap && (this.slowUntil.get(key) ?? 0) > started) return { result: "snooze", delayMs: 500 };
    this.inflight.set(key, n + 1);
    try {
      return await this.deliver(attempt, deliveryId, clock);
    } finally {
      const m = (this.inflight.get(key) ?? 1) - 1;
      if (m <= 0) this.inflight.delete(key);
      else this.inflight.set(key, m);
      const end = clock();
      if (end - started > SLOW_MS) this.slowUntil.set(key, end + SLOW_FOR_MS);
    }
  }

  private async deliver(attempt: number, deliveryId: string, clock: () => number): Promise<Outcome> {
    const d = getDelivery(this.db, deliveryId);
    if (!d || d.status !== "pending") return { result: "success" }; // deleted, pruned or already settled
    const h = this.webhook(d.webhook_id);
    if (!h) return { result: "fail", error: "webhook deleted" };
    const w = h.row;
    if (w.state !== "active") {
      return {
        result: "success",
        effects: (db, _f, now) => {
          if (d.kind === "batch") {
            releaseBatch(db, d.id, "held", now);
            markDelivery(db, d.id, "failed", now, { error: "webhook inactive; its messages are held" });
          } else markDelivery(db, d.id, "held", now);
        },
      };
    }
    const now = clock();
    if (w.ordered && d.kind === "message") {
      const head = openHead(this.db, w.id);
      if (head.length && head[0].id !== d.id) return { result: "snooze", delayMs: 2_000 };
    }
    if (w.rateLimit > 0) {
      let b = this.buckets.get(w.id);
      if (!b) this.buckets.set(w.id, (b = newBucket(Math.max(1, Math.ceil(w.rateLimit)), now)));
      const r = take(b, now, w.rateLimit, Math.max(1, Math.ceil(w.rateLimit)));
      if (!r.ok) return { result: "snooze", delayMs: r.retryAfterMs };
    }
    let body: string;
    let members: DeliveryRow[] = [];
    if (d.kind === "batch") {
      members = batchMembers(this.db, d.id);
      body = "[" + members.map((m) => m.body).join(",") + "]";
    } else body = d.body;
    const secrets = [w.secret];
    if (w.previousSecret && w.previousSecretUntil && w.previousSecretUntil > now) secrets.push(w.previousSecret);
    const headers: Record<string, string> = {
      ...withDefaults({ "user-agent": "keepwatch-webhooks/1" }, h.headers),
      "content-type": "application/json",
      ...signatureHeaders(secrets, d.id, Math.floor(now / 1000), body),
    };
    const timeoutMs = this.o.leaseMs > 3000 ? Math.min(w.timeoutMs, this.o.leaseMs - 1000) : w.timeoutMs;
    const res = await send(w.url, headers, body, { timeoutMs, allow: this.o.allow });
    this.stats.attempts++;
    const ok = res.status !== null && res.status >= 200 && res.status < 300;
    this.o.onAttempt?.(ok ? "succeeded" : res.status === null ? "error" : "failed", res.durationMs / 1000);
    const error =
      res.error ?? (ok ? null : res.status !== null && res.status >= 300 && res.status < 400 ? `redirect ${res.status} not followed` : `HTTP ${res.status}`);
    const record = (db: Db) =>
      insertAttempt(db, {
        delivery_id: d.id,
        webhook_id: w.id,
        attempt,
        started_at: now,
        duration_ms: res.durationMs,
        url: w.url,
        request_headers: JSON.stringify(maskSentHeaders(headers)), // custom values may be credentials
        request_body: body.length > MAX_RECORDED ? body.slice(0, MAX_RECORDED) : body,
        request_body_size: Buffer.byteLength(body),
        response_status: res.status,
        response_headers: res.headers ? JSON.stringify(res.headers) : null,
        response_body: res.body,
        response_body_size: res.status === null ? null : (res.bodySize ?? null),
        response_truncated: res.status === null ? null : res.bodyTruncated ? 1 : 0,
        error: ok ? null : error,
        outcome: ok ? "succeeded" : "failed",
      });
    const settle = (db: Db, status: "succeeded" | "failed" | "pending", t: number) => {
      markDelivery(db, d.id, status, t, { attempted: true, statusCode: res.status, error: ok ? null : error });
      if (d.kind === "batch") markBatchMembers(db, d.id, status, t, { statusCode: res.status, error: ok ? null : error });
    };
    const next = (db: Db, t: number) => {
      if (d.kind === "batch") {
        // the next batch goes one interval after this one was made (flush waits for that)
        this.scheduleFlush(db, w, t, true);
        queueMicrotask(() => this.wake());
      } else if (w.ordered) {
        const head = openHead(db, w.id);
        if (head[0]?.job_id) wakeJob(db, head[0].job_id, t);
        queueMicrotask(() => this.wake());
      }
    };
    if (ok) {
      this.stats.succeeded++;
      const effects: Effects = (db, _f, t) => {
        record(db);
        settle(db, "succeeded", t);
        resetFailures(db, w.id);
        next(db, t);
      };
      return { result: "success", effects };
    }
    if (res.status === 410) {
      this.stats.failed++;
      return {
        result: "fail",
        error: error ?? "410 Gone",
        effects: (db, _f, t) => {
          record(db);
          settle(db, "failed", t);
          this.disable(db, w, `the receiver answered 410 Gone at ${iso(t)}`, t);
        },
      };
    }
    let delayMs: number | undefined;
    if (res.status === 429 || res.status === 503) delayMs = parseRetryAfter(res.headers?.["retry-after"], now) ?? undefined;
    delayMs ??= backoffDelay(h.policy, attempt, this.o.random);
    const effects: Effects = (db, fate, t) => {
      record(db);
      if (fate === "retry") {
        settle(db, "pending", t);
        return;
      }
      this.stats.failed++;
      settle(db, "failed", t);
      const streak = addFailure(db, w.id);
      if (this.o.autoDisableAfter > 0 && streak >= this.o.autoDisableAfter)
        this.disable(db, w, `${streak} consecutive messages failed (last: ${error})`, t);
      else next(db, t);
    };
    return { result: "retry", error: error ?? "failed", delayMs, effects };
  }

  /** Turns a webhook off, records why, and says so with a `webhook.disabled` event (and messages). */
  disable(db: Db, w: WebhookRow, reason: string, now: number): void {
    if (!disableWebhook(db, w.id, reason, now)) return;
    this.invalidate();
    const data = { webhook_id: w.id, name: w.name, url: w.url, reason, disabled_at: iso(now) };
    const ev: NormalizedEvent = {
      id: newId(now),
      tenantId: w.tenantId,
      receivedAt: now,
      occurredAt: now,
      sourceName: "keepwatch",
      source: "keepwatch",
      type: "webhook.disabled",
      module: "webhooks",
      title: `Webhook ${w.name} disabled`,
      summary: `webhook ${w.name} (${w.url}) was disabled: ${reason}`,
      severity: "high",
      severityRaw: null,
      host: null,
      tags: ["webhook"],
      payloadJson: JSON.stringify(data),
      rawJson: JSON.stringify(data),
      dedupKey: null,
      externalId: null,
      indicators: [],
      warnings: [],
      resolve: false,
      opensAlert: false,
    };
    storeBatch(db, { tenantId: w.tenantId, route: "internal", idempotencyKey: null, events: [ev] }, now);
    this.emit(db, w.tenantId, { type: "webhook.disabled", data, severity: "high", source: "keepwatch", tags: ["webhook"] }, now, w.id);
    this.o.log.warn("webhook disabled", { webhook: w.id, reason });
  }
}

/** The `data` of an `event.received` message, as JSON (the payload is already serialized). */
export function eventDataJson(e: NormalizedEvent): string {
  const head = JSON.stringify({
    id: e.id,
    received_at: iso(e.receivedAt),
    occurred_at: iso(e.occurredAt),
    source_name: e.sourceName,
    source: e.source,
    type: e.type,
    module: e.module,
    title: e.title,
    summary: e.summary,
    severity: e.severity,
    severity_raw: e.severityRaw,
    host: e.host,
    tags: e.tags,
    indicators: e.indicators.map((i) => ({ type: i.type, value: i.value })),
  });
  return `${head.slice(0, -1)},"payload":${e.payloadJson}}`;
}
