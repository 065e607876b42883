// Outbound webhooks on the job queue: the transactional outbox (messages for matching webhooks are
// written in the caller's transaction), the delivery handler (sign, send, record every attempt,
// decide retry/fail/disable) and the batch flush handler.
//
// Each webhook is a lane of the queue (store/jobs.ts): its rate limit, ordering and in-flight cap
// are applied by the claim, so a message is only claimed when it can be sent; nothing here snoozes
// a delivery. A backlog cap (drop_oldest | refuse_newest) bounds what may wait.
import type { Db } from "../../db/client";
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter, type RetryPolicy } from "../../core/backoff";
import type { NormalizedEvent } from "../../core/event";
import type { Cidr } from "../../core/netrange";
import type { Severity } from "../../core/severity";
import { maskSentHeaders, withDefaults } from "../../core/headers";
import { signatureHeaders } from "../../core/signing";
import { messageMatches, typeMatches, type Filters } from "../../core/triggers";
import { newId } from "../../lib/ids";
import type { Logger } from "../../lib/log";
import { iso } from "../../lib/time";
import {
  enqueueFlush,
  enqueueMessageIn,
  releaseHeld,
  requeueDeliveries,
  type DeliveryRow,
  type DropNote,
  type OutboundWebhook,
  type OutboxItem,
} from "../../store/deliveries";
import { storeBatch } from "../../store/events";
import { disableWebhook, listWebhooks, WEBHOOKS_VERSION, type WebhookRow } from "../../store/webhooks";
import { VersionedCache } from "../../store/config-versions";
import type { Effect } from "../../store/queue-contract";
import { disabledRecord, ownEvent, ownMessage, type OwnRecord, type WebhookRef } from "../../core/webhook-records";
import type { Handler, Outcome } from "../worker";
import { afterCommit, type PgConn, type Store } from "../../store/contract";
import type { PgMessage, PgOutbox } from "../../store/pg/hooks";
import { PgVersionedCache } from "../../store/pg/config-versions";
import { MAX_RECORDED, send } from "./http";

export const WEBHOOK_QUEUE = "webhooks";
/** at most one webhook.backlog_dropped record per webhook per this time */
const DROP_NOTE_EVERY_MS = 60_000;

/** An attempt whose row the claim wrote (startAttempt); null: the delivery was no longer pending. */
type Started = { id: number; attempt: number } | null;

/** The claimed jobs of this kind get their delivery attempt started by the claim (WorkerOptions.startAttempt). */
export const DELIVER_KIND = "deliver";

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
  /** PostgreSQL: the outbox's webhook cache and the pool it reads through (set by pgOutbox) */
  private pgCached: { pool: PgConn; cache: PgVersionedCache<CompiledWebhook[]> } | null = null;
  /** called after a commit that enqueued jobs (the worker looks at the table) */
  wake: () => void = () => {};
  readonly stats = { messages: 0, attempts: 0, succeeded: 0, failed: 0 };

  /**
   * `store`: what the delivery and flush handlers read (the HTTP thread's store contract); null for
   * a dispatcher that only enqueues (the writer thread's outbox).
   */
  constructor(
    private store: Store | null,
    private o: DispatcherOptions,
  ) {}

  invalidate(): void {
    this.cache.invalidate();
    this.pgCached?.cache.invalidate();
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

  /**
   * A `webhook.test` message to this one webhook whatever its triggers and filters, queued and
   * recorded like any delivery (held while the webhook is inactive). Its id, or null when the
   * tenant has no such webhook.
   */
  async sendTest(store: Store, w: WebhookRow, data: unknown, now: number): Promise<string> {
    const id = await this.enqueueVia(store, compile(w), "webhook.test", JSON.stringify(data), now);
    queueMicrotask(() => this.wake());
    return id;
  }

  /**
   * enqueueMessage through the store contract, in a transaction of its own (for messages that
   * no other write causes: a test message, and keepwatch's records of what the outbox did).
   */
  private async enqueueVia(store: Store, h: CompiledWebhook, type: string, dataJson: string, now: number): Promise<string> {
    const id = "msg_" + newId(now);
    this.stats.messages++;
    const drop = await store.deliveries.enqueueMessage(outboundOf(h), { id, type, body: messageBody(id, type, dataJson, now) }, now, DROP_NOTE_EVERY_MS);
    if (drop && drop.report > 0) {
      const r = this.dropRecord(h.row, drop, now);
      await this.recordVia(store, h.row, r, now);
    }
    return id;
  }

  /** record() through the store contract: the event, then a message to the tenant's other webhooks that take it. */
  private async recordVia(store: Store, w: WebhookRow, r: OwnRecord, now: number): Promise<void> {
    await store.events.storeBatch({ tenantId: w.tenantId, route: "internal", idempotencyKey: null, events: [ownEvent(w, r, now)] }, now);
    const m = ownMessage(r);
    let data: string | null = null;
    for (const row of await store.webhooks.listWebhooks(w.tenantId)) {
      const h = compile(row);
      if (row.id === w.id || !messageMatches(h.triggers, h.filters, m)) continue;
      data ??= JSON.stringify(m.data ?? null);
      await this.enqueueVia(store, h, r.type, data, now);
    }
  }

  private get reader(): Store {
    if (!this.store) throw new Error("this webhook dispatcher only enqueues (no store to deliver with)");
    return this.store;
  }

  private enqueueMessage(db: Db, h: CompiledWebhook, type: string, dataJson: string, now: number): string {
    const id = "msg_" + newId(now);
    this.stats.messages++;
    const drop = enqueueMessageIn(db, outboundOf(h), { id, type, body: messageBody(id, type, dataJson, now) }, now, DROP_NOTE_EVERY_MS);
    if (drop) this.dropped(db, h.row, drop, now);
    return id;
  }

  /** A message was dropped by the backlog cap: counted, and recorded as `webhook.backlog_dropped` at most once a minute. */
  private dropped(db: Db, w: WebhookRow, n: DropNote, now: number): void {
    if (n.report === 0) return;
    this.record(db, w, this.dropRecord(w, n, now), now);
  }

  /** The `webhook.backlog_dropped` record of a drop note (and its log line). */
  private dropRecord(w: WebhookRow, n: DropNote, now: number): OwnRecord {
    const data = {
      webhook_id: w.id,
      name: w.name,
      url: w.url,
      policy: w.backlogPolicy,
      backlog_cap: w.backlogCap,
      dropped: n.report,
      dropped_total: n.total,
      last_dropped_message: n.messageId,
      at: iso(now),
    };
    const what = w.backlogPolicy === "refuse_newest" ? "refused new messages" : "dropped its oldest messages";
    this.o.log.warn("webhook backlog cap: messages dropped", { webhook: w.id, dropped: n.report, policy: w.backlogPolicy });
    return {
      type: "webhook.backlog_dropped",
      severity: "medium",
      title: `Webhook ${w.name} ${what}`,
      summary: `webhook ${w.name} (${w.url}) reached its backlog cap of ${w.backlogCap} and ${what} (${n.report} since the last record)`,
      data,
    };
  }

  /** One flush job per webhook per interval slot (the idempotency key makes repeats free). */
  scheduleFlush(db: Db, w: WebhookRow, now: number, immediate = false): void {
    enqueueFlush(db, w, now, immediate);
  }

  /** Sends the held messages of a webhook that became active again (in the caller's transaction). */
  release(db: Db, w: WebhookRow, now: number): number {
    const n = releaseHeld(db, outboundOf(compile(w)), now);
    if (n) queueMicrotask(() => this.wake());
    return n;
  }

  /** Puts a delivery back in the queue (replay, release). Same message id, so the same webhook-id. */
  requeue(db: Db, h: CompiledWebhook, d: DeliveryRow, now: number): void {
    requeueDeliveries(db, outboundOf(h), [d.id], now);
  }

  /**
   * The PostgreSQL twin of this outbox (PgOutbox, src/store/pg/hooks.ts), registered with
   * setPgOutbox when keepwatch runs on PostgreSQL: the same matching as wants, onEventsInserted and
   * emit above, written through the store bound to the caller's transaction (`storeOf(tx)`), a
   * commit's messages in one multi-row unit (enqueueMessages). Its webhook cache is checked
   * against the webhooks' change counter (PgVersionedCache): a change on any replica is seen
   * within CHECK_MS, one made by this process at once. `pool`: the delivery handler reads its
   * webhook from the same cache (see webhook()), so a delivery costs no webhook read.
   */
  pgOutbox(storeOf: (tx: PgConn) => Store, pool?: PgConn): PgOutbox {
    const cache = new PgVersionedCache<CompiledWebhook[]>(WEBHOOKS_VERSION, async (conn, tenantId) =>
      (await storeOf(conn).webhooks.listWebhooks(tenantId)).map(compile),
    );
    if (pool) this.pgCached = { pool, cache };
    /** writes the messages, records the drops their caps made (in the same transaction) */
    const write = async (tx: PgConn, items: OutboxItem[], hooks: CompiledWebhook[]): Promise<void> => {
      if (items.length === 0) return;
      const store = storeOf(tx);
      // counted once committed: a unit that rolls back, or that inTx runs again, counts nothing twice
      afterCommit(tx, () => void (this.stats.messages += items.length));
      const drops = await store.deliveries.enqueueMessages(items, DROP_NOTE_EVERY_MS);
      for (let i = 0; i < drops.length; i++) {
        const drop = drops[i];
        if (drop && drop.report > 0) await this.recordVia(store, hooks[i]!.row, this.dropRecord(hooks[i]!.row, drop, items[i]!.at), items[i]!.at);
      }
      // the worker looks at the table once the messages are committed (API emits, heartbeat flips,
      // settles; the group commit wakes it as well)
      afterCommit(tx, () => this.wake());
    };
    /** the messages of `m` for the webhooks that take it, appended to items/hooks (emit's matching) */
    const messagesOf = (whs: CompiledWebhook[], m: PgMessage, now: number, except: string | undefined, items: OutboxItem[], hooks: CompiledWebhook[]): void => {
      let data: string | null = null;
      for (const h of whs) {
        if (h.row.id === except) continue;
        if (!messageMatches(h.triggers, h.filters, m)) continue;
        data ??= JSON.stringify(m.data ?? null);
        const id = "msg_" + newId(now);
        items.push({ w: outboundOf(h), m: { id, type: m.type, body: messageBody(id, m.type, data, now) }, at: now });
        hooks.push(h);
      }
    };
    /** the event.received messages of stored events, appended to items/hooks (onEventsInserted's matching) */
    const eventMessages = async (tx: PgConn, events: NormalizedEvent[], items: OutboxItem[], hooks: CompiledWebhook[]): Promise<void> => {
      for (const e of events) {
        const attrs = { type: "event.received", severity: e.severity, source: e.source, tags: e.tags };
        let data: string | null = null;
        for (const h of await cache.get(tx, e.tenantId)) {
          if (!messageMatches(h.triggers, h.filters, attrs)) continue;
          data ??= eventDataJson(e);
          const id = "msg_" + newId(e.receivedAt);
          items.push({ w: outboundOf(h), m: { id, type: "event.received", body: messageBody(id, "event.received", data, e.receivedAt) }, at: e.receivedAt });
          hooks.push(h);
        }
      }
    };
    return {
      wants: async (tx, tenantId, type) => (await cache.get(tx, tenantId)).some((h) => h.triggers.some((p) => typeMatches(p, type))),
      onEventsInserted: async (tx, events) => {
        const items: OutboxItem[] = [];
        const hooks: CompiledWebhook[] = [];
        await eventMessages(tx, events, items, hooks);
        await write(tx, items, hooks);
      },
      emit: async (tx, tenantId, m, now, except) => {
        const items: OutboxItem[] = [];
        const hooks: CompiledWebhook[] = [];
        messagesOf(await cache.get(tx, tenantId), m, now, except, items, hooks);
        await write(tx, items, hooks);
        return items.length;
      },
      emitMany: async (tx, tenantId, ms, now) => {
        const items: OutboxItem[] = [];
        const hooks: CompiledWebhook[] = [];
        const whs = await cache.get(tx, tenantId);
        for (const m of ms) messagesOf(whs, m, now, undefined, items, hooks);
        await write(tx, items, hooks);
        return items.length;
      },
      batch: (tx) => {
        let items: OutboxItem[] = [];
        let hooks: CompiledWebhook[] = [];
        return {
          emitMany: async (tenantId, ms, now) => {
            const whs = await cache.get(tx, tenantId);
            for (const m of ms) messagesOf(whs, m, now, undefined, items, hooks);
          },
          events: (events) => eventMessages(tx, events, items, hooks),
          flush: async () => {
            const [i, h] = [items, hooks];
            [items, hooks] = [[], []];
            await write(tx, i, h);
          },
        };
      },
    };
  }

  handlers(): Record<string, Handler> {
    return {
      [DELIVER_KIND]: (ctx) => this.deliver(ctx.job.attempt, ctx.payload.d, ctx.now, ctx.started, ctx.delivery),
      flush: (ctx) => this.flush(ctx.payload.w, ctx.now),
    };
  }

  /**
   * A webhook as the handlers use it. SQLite: read per delivery (a local read), the compiled form
   * reused while the row is unchanged. PostgreSQL (with the pool given to pgOutbox): from the
   * outbox's webhook cache of the tenant, which follows the webhooks' change counter — a change
   * through this process applies to its next delivery, one through another replica or the CLI
   * within CHECK_MS (250 ms), like every cache across replicas (issue 12: ≤ 1 s) — and read from
   * the table only when the cache does not have it (created elsewhere in the last CHECK_MS, deleted).
   */
  private async webhook(id: string, tenantId?: string): Promise<CompiledWebhook | null> {
    if (this.pgCached && tenantId) {
      const hit = (await this.pgCached.cache.get(this.pgCached.pool, tenantId)).find((h) => h.row.id === id);
      if (hit) return hit;
    }
    const row = await this.reader.webhooks.getWebhookById(id);
    if (!row) return null;
    const cached = this.cache.peek(row.tenantId)?.find((h) => h.row.id === id);
    return cached && cached.row.updatedAt === row.updatedAt && cached.row.state === row.state ? cached : compile(row);
  }

  private async flush(webhookId: string, clock: () => number): Promise<Outcome> {
    const h = await this.webhook(webhookId);
    if (!h || h.row.mode !== "batched" || h.row.state !== "active") return { result: "success" };
    const deliveries = this.reader.deliveries;
    // One batch at a time: while one is being retried, the next waits (this keeps batches in order).
    if (await deliveries.openBatch(webhookId)) return { result: "success" };
    // At most one POST per interval.
    const last = await deliveries.lastBatchAt(webhookId);
    const wait = last === null ? 0 : last + h.row.intervalS * 1000 - clock();
    if (wait > 0) return { result: "snooze", delayMs: wait };
    const members = await deliveries.unbatched(webhookId, h.row.maxBatch);
    if (members.length === 0) return { result: "success" };
    return {
      result: "success",
      effects: [{ type: "makeBatch", webhook: outboundOf(h), id: "msg_" + newId(clock()), memberIds: members.map((m) => m.id) }],
      settled: () => this.wake(),
    };
  }

  /**
   * One attempt of a delivery. `jobAttempt` (the job's own count) paces the backoff; the attempt is
   * recorded under the number the claim gave it (`started`), 1..n across replays and restarts.
   * The lane already applied the rate limit, the ordering and the in-flight cap.
   */
  private async deliver(jobAttempt: number, deliveryId: string, clock: () => number, started?: Started, claimed?: DeliveryRow): Promise<Outcome> {
    // the row as the claim left it when the store read it there (PostgreSQL: one read less per delivery)
    const d = claimed?.id === deliveryId ? claimed : await this.reader.deliveries.getDelivery(deliveryId);
    if (!d || d.status !== "pending") return { result: "success" }; // deleted, pruned or already settled
    const h = await this.webhook(d.webhook_id, d.tenant_id);
    if (!h) return { result: "fail", error: "webhook deleted" };
    const w = h.row;
    if (w.state !== "active") {
      const effects: Effect[] = [];
      if (started) effects.push({ type: "discardAttempt", attemptId: started.id, deliveryId: d.id });
      if (d.kind === "batch")
        effects.push({ type: "releaseBatch", batchId: d.id, status: "held" }, { type: "markDelivery", id: d.id, status: "failed", error: "webhook inactive; its messages are held" });
      else effects.push({ type: "markDelivery", id: d.id, status: "held" });
      return { result: "success", effects };
    }
    const now = clock();
    const attempt = started?.attempt ?? jobAttempt;
    let body: string;
    let members: DeliveryRow[] = [];
    if (d.kind === "batch") {
      members = await this.reader.deliveries.batchMembers(d.id);
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
    const result = {
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
      outcome: ok ? ("succeeded" as const) : ("failed" as const),
    };
    const record: Effect = started
      ? { type: "completeAttempt", attemptId: started.id, result }
      : { type: "insertAttempt", attempt: { delivery_id: d.id, webhook_id: w.id, attempt, ...result } };
    const settle = (status: "succeeded" | "failed" | "pending"): Effect[] => {
      const o = { statusCode: res.status, error: ok ? null : error };
      // the claim counted the attempt (started); count it here only when it did not
      const out: Effect[] = [{ type: "markDelivery", id: d.id, status, attempted: !started, ...o }];
      if (d.kind === "batch") out.push({ type: "markBatchMembers", batchId: d.id, status, ...o });
      return out;
    };
    // the next batch goes one interval after this one was made (flush waits for that)
    const next: Effect[] = d.kind === "batch" ? [{ type: "enqueueFlush", webhook: { id: w.id, intervalS: w.intervalS }, immediate: true }] : [];
    // a batch's flush, or an ordered lane's next head (one at a time): the worker looks again now
    const wakeNext = d.kind === "batch" || !!w.ordered;
    const ref: WebhookRef = { id: w.id, tenantId: w.tenantId, name: w.name, url: w.url };
    if (ok) {
      this.stats.succeeded++;
      return {
        result: "success",
        effects: [record, ...settle("succeeded"), { type: "resetFailures", webhookId: w.id }, ...next],
        settled: () => wakeNext && this.wake(),
      };
    }
    if (res.status === 410) {
      this.stats.failed++;
      const reason = `the receiver answered 410 Gone at ${iso(now)}`;
      return {
        result: "fail",
        error: error ?? "410 Gone",
        effects: [record, ...settle("failed"), { type: "disableWebhook", webhook: ref, reason }],
        settled: () => this.disabled(w, reason),
      };
    }
    let delayMs: number | undefined;
    if (res.status === 429 || res.status === 503) delayMs = parseRetryAfter(res.headers?.["retry-after"], now) ?? undefined;
    delayMs ??= backoffDelay(h.policy, jobAttempt, this.o.random);
    const disableAfter = this.o.autoDisableAfter;
    return {
      result: "retry",
      error: error ?? "failed",
      delayMs,
      effects: (fate) =>
        fate === "retry"
          ? [record, ...settle("pending")]
          : // the streak's end (auto-disable) is decided in the settle, on the stored count; a
            // webhook still on gets its next batch
            [record, ...settle("failed"), { type: "addFailure", webhook: ref, disableAfter, lastError: error ?? "failed", otherwise: next }],
      settled: (fate) => {
        if (fate === "retry") return;
        this.stats.failed++;
        // the webhook may have been disabled by this failure: drop the cached list either way
        if (disableAfter > 0) this.invalidate();
        if (wakeNext) this.wake();
      },
    };
  }

  /** A webhook this process disabled (the settle stored why): the cache forgets it, the log says so. */
  private disabled(w: WebhookRow, reason: string): void {
    this.invalidate();
    this.o.log.warn("webhook disabled", { webhook: w.id, reason });
  }

  /** Turns a webhook off, records why, and says so with a `webhook.disabled` event (and messages). */
  disable(db: Db, w: WebhookRow, reason: string, now: number): void {
    if (!disableWebhook(db, w.id, reason, now)) return;
    this.invalidate();
    this.record(db, w, disabledRecord(w, reason, now), now);
    this.o.log.warn("webhook disabled", { webhook: w.id, reason });
  }

  /** keepwatch's own record about a webhook: an event, and a message to the tenant's other webhooks. */
  private record(db: Db, w: WebhookRow, r: OwnRecord, now: number): void {
    storeBatch(db, { tenantId: w.tenantId, route: "internal", idempotencyKey: null, events: [ownEvent(w, r, now)] }, now);
    this.emit(db, w.tenantId, ownMessage(r), now, w.id);
  }
}

/** What the store's outbox units need of a webhook. */
export function outboundOf(h: CompiledWebhook): OutboundWebhook {
  const w = h.row;
  return { id: w.id, tenantId: w.tenantId, state: w.state, mode: w.mode, intervalS: w.intervalS, backlogCap: w.backlogCap, backlogPolicy: w.backlogPolicy, maxAttempts: h.policy.maxAttempts };
}

/** A message's body: its id, type, time and data (already JSON). */
export function messageBody(id: string, type: string, dataJson: string, now: number): string {
  return `{"id":${JSON.stringify(id)},"type":${JSON.stringify(type)},"timestamp":${JSON.stringify(iso(now))},"data":${dataJson}}`;
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
