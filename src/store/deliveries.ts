// Deliveries (one message to one webhook, or one batch of them) and their attempts.
//
// The backlog of a webhook (its pending messages) is counted in its lane row (job_lanes.backlog):
// every function here that moves a message into or out of `pending` adjusts it in the same
// transaction, so reading a backlog never counts rows.
import type { Bound } from "./contract";
import type { Db } from "../db/client";
import { insertJob, laneBacklog, noteLaneDrop } from "./jobs";

export type DeliveryStatus = "held" | "pending" | "succeeded" | "failed" | "dropped";

export type DeliveryRow = {
  id: string;
  tenant_id: string;
  webhook_id: string;
  kind: "message" | "batch";
  type: string;
  body: string;
  status: DeliveryStatus;
  attempts: number;
  batch_id: string | null;
  job_id: number | null;
  replays: number;
  last_status_code: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
};

export type AttemptRow = {
  id: number;
  delivery_id: string;
  webhook_id: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  url: string;
  request_headers: string;
  request_body: string;
  response_status: number | null;
  response_headers: string | null;
  response_body: string | null;
  error: string | null;
  /** started: in progress (or cut off by a crash until the next claim marks it interrupted) */
  outcome: "started" | "succeeded" | "failed" | "interrupted";
  /** bytes of the whole request body (null: recorded before sizes were kept) */
  request_body_size: number | null;
  /** bytes of the whole response body when known */
  response_body_size: number | null;
  /** 1: the response body was cut */
  response_truncated: number | null;
};

// bun:sqlite's query() compiles each statement once per connection and caches it.
const STMT = {
  insert: `INSERT INTO deliveries (id, tenant_id, webhook_id, kind, type, body, status, attempts, batch_id, job_id, replays, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, NULL, ?8, 0, ?9, ?9)`,
  setJob: "UPDATE deliveries SET job_id = ?2 WHERE id = ?1",
  get: "SELECT * FROM deliveries WHERE id = ?1",
  mark: `UPDATE deliveries SET status = ?2, attempts = attempts + ?3, last_status_code = coalesce(?4, last_status_code),
           last_error = ?5, updated_at = ?6 WHERE id = ?1`,
  insertAttempt: `INSERT INTO delivery_attempts (delivery_id, webhook_id, attempt, started_at, duration_ms, url, request_headers,
           request_body, response_status, response_headers, response_body, error, outcome, request_body_size, response_body_size, response_truncated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)`,
  head: `SELECT id, job_id FROM deliveries WHERE webhook_id = ?1 AND kind = 'message' AND status = 'pending' ORDER BY id LIMIT 2`,
  prior: "SELECT webhook_id, kind, status FROM deliveries WHERE id = ?1",
  backlog: "UPDATE job_lanes SET backlog = max(0, backlog + ?2) WHERE lane = ?1",
  members: "SELECT webhook_id, count(*) AS n, sum(status = 'pending') AS p FROM deliveries WHERE batch_id = ?1 GROUP BY webhook_id",
  interrupt: `UPDATE delivery_attempts SET outcome = 'interrupted', error = 'keepwatch stopped or lost the lease during this attempt'
         WHERE delivery_id = ?1 AND outcome = 'started'`,
  startCount: "UPDATE deliveries SET attempts = attempts + 1 WHERE id = ?1 AND status = 'pending' RETURNING attempts, webhook_id",
  startRow: `INSERT INTO delivery_attempts (delivery_id, webhook_id, attempt, started_at, duration_ms, url, request_headers, request_body, outcome)
         VALUES (?1, ?2, ?3, ?4, 0, coalesce((SELECT url FROM webhooks WHERE id = ?2), ''), '{}', '', 'started') RETURNING id`,
  complete: `UPDATE delivery_attempts SET started_at = ?2, duration_ms = ?3, url = ?4, request_headers = ?5, request_body = ?6,
           response_status = ?7, response_headers = ?8, response_body = ?9, error = ?10, outcome = ?11,
           request_body_size = ?12, response_body_size = ?13, response_truncated = ?14 WHERE id = ?1`,
};
const q = (db: Db, name: keyof typeof STMT) => db.$client.query(STMT[name]);

export type NewDelivery = {
  id: string;
  tenantId: string;
  webhookId: string;
  kind: "message" | "batch";
  type: string;
  body: string;
  status: DeliveryStatus;
  jobId?: number | null;
};

/** Adds `delta` to a webhook's backlog (its pending messages). */
function backlog(db: Db, webhookId: string, delta: number): void {
  if (delta) q(db, "backlog").run(webhookId, delta);
}

/** Runs a status change of one delivery and keeps the backlog count. */
function change(db: Db, id: string, to: DeliveryStatus, run: () => void): void {
  const p = q(db, "prior").get(id) as { webhook_id: string; kind: string; status: string } | null;
  run();
  if (p && p.kind === "message") backlog(db, p.webhook_id, (to === "pending" ? 1 : 0) - (p.status === "pending" ? 1 : 0));
}

/** Runs a status change of a batch's members and keeps the backlog count. */
function changeMembers(db: Db, batchId: string, to: DeliveryStatus, run: () => void): void {
  const m = q(db, "members").get(batchId) as { webhook_id: string; n: number; p: number } | null;
  run();
  if (m) backlog(db, m.webhook_id, (to === "pending" ? m.n : 0) - m.p);
}

export function insertDelivery(db: Db, d: NewDelivery, now: number): void {
  q(db, "insert").run(d.id, d.tenantId, d.webhookId, d.kind, d.type, d.body, d.status, d.jobId ?? null, now);
  if (d.kind === "message" && d.status === "pending") backlog(db, d.webhookId, 1);
}

export function setDeliveryJob(db: Db, id: string, jobId: number): void {
  q(db, "setJob").run(id, jobId);
}

export function getDelivery(db: Db, id: string): DeliveryRow | null {
  return q(db, "get").get(id) as DeliveryRow | null;
}

/** Sets the status; `attempted` adds one to the attempt count. */
export function markDelivery(
  db: Db,
  id: string,
  status: DeliveryStatus,
  now: number,
  o: { attempted?: boolean; statusCode?: number | null; error?: string | null } = {},
): void {
  change(db, id, status, () => q(db, "mark").run(id, status, o.attempted ? 1 : 0, o.statusCode ?? null, o.error ?? null, now));
}

/** Members of a batch follow it. */
export function markBatchMembers(db: Db, batchId: string, status: DeliveryStatus, now: number, o: { statusCode?: number | null; error?: string | null } = {}): void {
  changeMembers(db, batchId, status, () =>
    db.$client
      .query(
        `UPDATE deliveries SET status = ?2, attempts = attempts + 1, last_status_code = coalesce(?3, last_status_code), last_error = ?4, updated_at = ?5
       WHERE batch_id = ?1`,
      )
      .run(batchId, status, o.statusCode ?? null, o.error ?? null, now),
  );
}

export type NewAttempt = Omit<AttemptRow, "id" | "request_body_size" | "response_body_size" | "response_truncated"> &
  Partial<Pick<AttemptRow, "request_body_size" | "response_body_size" | "response_truncated">>;

/**
 * An attempt starts (in the claim's transaction): the delivery counts it and its row is written
 * now, so an attempt cut off by kill -9 stays on record; an earlier attempt still `started` (its
 * process died or lost the lease) is marked interrupted. Null when the delivery is not pending.
 * Attempts of a delivery are numbered 1..n across retries, replays and restarts.
 */
export function startAttempt(db: Db, deliveryId: string, now: number): { id: number; attempt: number } | null {
  q(db, "interrupt").run(deliveryId);
  const r = q(db, "startCount").get(deliveryId) as { attempts: number; webhook_id: string } | null;
  if (!r) return null;
  const row = q(db, "startRow").get(deliveryId, r.webhook_id, r.attempts, now) as { id: number };
  return { id: row.id, attempt: r.attempts };
}

/** Completes a started attempt with its request and response. */
export function completeAttempt(db: Db, id: number, a: Omit<NewAttempt, "delivery_id" | "webhook_id" | "attempt">): void {
  q(db, "complete").run(id, ...attemptResult(a));
}

/** The columns an attempt's outcome fills, in the order of the `complete` and `insertAttempt` statements (both stores). */
export function attemptResult(a: Omit<NewAttempt, "delivery_id" | "webhook_id" | "attempt">) {
  return [
    a.started_at,
    a.duration_ms,
    a.url,
    a.request_headers,
    a.request_body,
    a.response_status,
    a.response_headers,
    a.response_body,
    a.error,
    a.outcome,
    a.request_body_size ?? null,
    a.response_body_size ?? null,
    a.response_truncated ?? null,
  ] as const;
}

/** A started attempt that sent nothing (the webhook went inactive): gone, and not counted. */
export function discardAttempt(db: Db, id: number, deliveryId: string): void {
  db.$client.query("DELETE FROM delivery_attempts WHERE id = ?1 AND outcome = 'started'").run(id);
  db.$client.query("UPDATE deliveries SET attempts = max(0, attempts - 1) WHERE id = ?1").run(deliveryId);
}

/** The webhook's backlog: pending messages and when the oldest was made (null when none). */
export function backlogOf(db: Db, webhookId: string): { count: number; oldest: number | null; dropped: number } {
  const l = db.$client.query("SELECT backlog, dropped FROM job_lanes WHERE lane = ?1").get(webhookId) as { backlog: number; dropped: number } | null;
  const o = db.$client
    .query("SELECT created_at FROM deliveries WHERE webhook_id = ?1 AND status = 'pending' AND kind = 'message' ORDER BY id LIMIT 1")
    .get(webhookId) as { created_at: number } | null;
  return { count: l?.backlog ?? 0, oldest: o?.created_at ?? null, dropped: l?.dropped ?? 0 };
}

/**
 * The backlog cap with drop-oldest: the oldest pending message that is not in flight nor in a
 * batch is dropped (status dropped, its job deleted). Returns its id, or null when none could be.
 */
export function dropOldest(db: Db, webhookId: string, now: number, reason: string): string | null {
  const rows = db.$client
    .query(
      `SELECT d.id, d.job_id, j.state FROM deliveries d LEFT JOIN jobs j ON j.id = d.job_id
       WHERE d.webhook_id = ?1 AND d.status = 'pending' AND d.kind = 'message' AND d.batch_id IS NULL ORDER BY d.id LIMIT 64`,
    )
    .all(webhookId) as { id: string; job_id: number | null; state: string | null }[];
  // messages in flight are skipped (at most the lane's in-flight cap of them)
  const victim = rows.find((r) => r.state !== "running");
  if (!victim) return null;
  if (victim.job_id !== null) db.$client.query("DELETE FROM jobs WHERE id = ?1 AND state = 'available'").run(victim.job_id);
  markDelivery(db, victim.id, "dropped", now, { error: reason });
  return victim.id;
}

export function insertAttempt(db: Db, a: NewAttempt): void {
  q(db, "insertAttempt").run(a.delivery_id, a.webhook_id, a.attempt, ...attemptResult(a));
}

export type AttemptTiming = { delivery_id: string; attempt: number; started_at: number; duration_ms: number; response_status: number | null; outcome: string };

/** The attempts of these deliveries (timings only), oldest first: one query for a page of the list. */
export function attemptTimings(db: Db, deliveryIds: string[]): AttemptTiming[] {
  if (deliveryIds.length === 0) return [];
  const out: AttemptTiming[] = [];
  for (let i = 0; i < deliveryIds.length; i += 500) {
    const ids = deliveryIds.slice(i, i + 500);
    out.push(
      ...(db.$client
        .query(
          `SELECT delivery_id, attempt, started_at, duration_ms, response_status, outcome FROM delivery_attempts
            WHERE delivery_id IN (${ids.map((_, j) => `?${j + 1}`).join(",")}) ORDER BY id`,
        )
        .all(...ids) as AttemptTiming[]),
    );
  }
  return out;
}

/** The oldest open messages of a webhook (ordered mode: only the head may be attempted). */
export function openHead(db: Db, webhookId: string): { id: string; job_id: number | null }[] {
  return q(db, "head").all(webhookId) as { id: string; job_id: number | null }[];
}

export function heldMessages(db: Db, webhookId: string): DeliveryRow[] {
  return db.$client
    .query("SELECT * FROM deliveries WHERE webhook_id = ?1 AND status = 'held' AND kind = 'message' ORDER BY id")
    .all(webhookId) as DeliveryRow[];
}

/** Messages of a batched webhook waiting for the next batch, oldest first. */
export function unbatched(db: Db, webhookId: string, limit: number): DeliveryRow[] {
  return db.$client
    .query("SELECT * FROM deliveries WHERE webhook_id = ?1 AND status = 'pending' AND kind = 'message' AND batch_id IS NULL ORDER BY id LIMIT ?2")
    .all(webhookId, limit) as DeliveryRow[];
}

export function openBatch(db: Db, webhookId: string): DeliveryRow | null {
  return db.$client
    .query("SELECT * FROM deliveries WHERE webhook_id = ?1 AND kind = 'batch' AND status = 'pending' ORDER BY id LIMIT 1")
    .get(webhookId) as DeliveryRow | null;
}

export function assignBatch(db: Db, batchId: string, ids: string[]): void {
  const st = db.$client.query("UPDATE deliveries SET batch_id = ?1 WHERE id = ?2");
  for (const id of ids) st.run(batchId, id);
}

/** Takes the members out of a batch again (the webhook went inactive): they are held. */
export function releaseBatch(db: Db, batchId: string, status: DeliveryStatus, now: number): void {
  changeMembers(db, batchId, status, () =>
    db.$client.query("UPDATE deliveries SET batch_id = NULL, status = ?2, updated_at = ?3 WHERE batch_id = ?1").run(batchId, status, now),
  );
}

export function batchMembers(db: Db, batchId: string): DeliveryRow[] {
  return db.$client.query("SELECT * FROM deliveries WHERE batch_id = ?1 ORDER BY id").all(batchId) as DeliveryRow[];
}

export type DeliveryFilter = { status?: DeliveryStatus; before?: string; since?: number; limit: number };

/** Newest first; keyset on id (ULID-based, so time-ordered). Batches are listed with the messages. */
export function listDeliveries(db: Db, webhookId: string, f: DeliveryFilter): DeliveryRow[] {
  const where = ["webhook_id = ?1"];
  const args: (string | number)[] = [webhookId];
  if (f.status) {
    args.push(f.status);
    where.push(`status = ?${args.length}`);
  }
  if (f.before) {
    args.push(f.before);
    where.push(`id < ?${args.length}`);
  }
  if (f.since !== undefined) {
    args.push(f.since);
    where.push(`created_at >= ?${args.length}`);
  }
  args.push(f.limit);
  return db.$client
    .query(`SELECT * FROM deliveries WHERE ${where.join(" AND ")} ORDER BY id DESC LIMIT ?${args.length}`)
    .all(...args) as DeliveryRow[];
}

/** Oldest first from `after` (replay pages through with this). */
export function scanDeliveries(db: Db, webhookId: string, f: { status?: DeliveryStatus; since: number; after: string | null; limit: number }): DeliveryRow[] {
  return db.$client
    .query(
      `SELECT * FROM deliveries WHERE webhook_id = ?1 AND kind = 'message' AND created_at >= ?2 AND id > ?3
         AND (?4 IS NULL OR status = ?4) ORDER BY id LIMIT ?5`,
    )
    .all(webhookId, f.since, f.after ?? "", f.status ?? null, f.limit) as DeliveryRow[];
}

export function listAttempts(db: Db, deliveryId: string): AttemptRow[] {
  return db.$client.query("SELECT * FROM delivery_attempts WHERE delivery_id = ?1 ORDER BY id").all(deliveryId) as AttemptRow[];
}

export function lastAttempt(db: Db, webhookId: string): AttemptRow | null {
  return db.$client.query("SELECT * FROM delivery_attempts WHERE webhook_id = ?1 ORDER BY id DESC LIMIT 1").get(webhookId) as AttemptRow | null;
}

/** Attempts that failed in a row, newest first, up to `cap` (0 when the latest succeeded or none was made). */
export function attemptsFailedInARow(db: Db, webhookId: string, cap = 1000): number {
  const rows = db.$client
    .query("SELECT outcome FROM delivery_attempts WHERE webhook_id = ?1 AND outcome != 'started' ORDER BY id DESC LIMIT ?2")
    .all(webhookId, cap) as { outcome: string }[];
  const i = rows.findIndex((r) => r.outcome === "succeeded");
  return i === -1 ? rows.length : i;
}

export function countReplay(db: Db, id: string, now: number): number {
  let r!: { replays: number };
  change(db, id, "pending", () => {
    r = db.$client
      .query("UPDATE deliveries SET replays = replays + 1, status = 'pending', updated_at = ?2 WHERE id = ?1 RETURNING replays")
      .get(id, now) as { replays: number };
  });
  return r.replays;
}

/** Deletes deliveries (and by cascade their attempts) created before `before`, in chunks. */
export function pruneDeliveries(db: Db, before: number, chunk = 5000): number {
  let total = 0;
  for (;;) {
    const n = db.$client
      .query("DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE created_at < ?1 AND status <> 'pending' LIMIT ?2)")
      .run(before, chunk).changes;
    total += n;
    if (n < chunk) break;
  }
  // attempts of deliveries still retrying are kept with them; stray old attempts go too
  db.$client.query("DELETE FROM delivery_attempts WHERE started_at < ?1").run(before);
  return total;
}

export function countDeliveries(db: Db, webhookId: string, status?: DeliveryStatus): number {
  return (
    db.$client
      .query("SELECT count(*) AS n FROM deliveries WHERE webhook_id = ?1 AND kind = 'message' AND (?2 IS NULL OR status = ?2)")
      .get(webhookId, status ?? null) as { n: number }
  ).n;
}

/** When the webhook's latest batch was made (batched mode spaces POSTs by the interval). */
export function lastBatchAt(db: Db, webhookId: string): number | null {
  return (
    db.$client.query("SELECT max(created_at) AS t FROM deliveries WHERE webhook_id = ?1 AND kind = 'batch'").get(webhookId) as { t: number | null }
  ).t;
}

/** A batched webhook's message goes back to wait for the next batch. */
export function unbatchForReplay(db: Db, id: string, now: number): void {
  change(db, id, "pending", () => db.$client.query("UPDATE deliveries SET status = 'pending', batch_id = NULL, updated_at = ?2 WHERE id = ?1").run(id, now));
}

// -- units of work of the outbox, replay and release (each in the caller's transaction on SQLite;
// the PostgreSQL twins open one when called on the pool)

/** The queue deliveries and batch flushes go to (jobs/handlers/webhooks.ts: WEBHOOK_QUEUE). */
const QUEUE = "webhooks";

/** One transaction (a savepoint inside the caller's: bun:sqlite nests them). */
const unit = <T>(db: Db, f: () => T): T => db.$client.transaction(f).immediate();

/** What the units below need of a webhook (its settings, as the outbox's cache holds them). */
export type OutboundWebhook = {
  id: string;
  tenantId: string;
  state: string;
  mode: string;
  intervalS: number;
  backlogCap: number;
  backlogPolicy: string;
  /** the retry policy's attempts (0: until a 2xx) */
  maxAttempts: number;
};

/**
 * One flush job per webhook per interval slot (the idempotency key makes repeats free);
 * `immediate`: one now (after a batch or a replay).
 */
export function enqueueFlush(db: Db, w: Pick<OutboundWebhook, "id" | "intervalS">, now: number, immediate = false): void {
  const period = w.intervalS * 1000;
  const slot = Math.floor(now / period);
  const runAt = immediate ? now : (slot + 1) * period;
  insertJob(db, { queue: QUEUE, kind: "flush", payload: { w: w.id }, maxAttempts: 0, runAt, idempotencyKey: `flush:${w.id}:${immediate ? "now:" + now : slot}` }, now);
}

/** A message dropped by a backlog cap: which one, and the lane's drop note (see noteLaneDrop). */
export type DropNote = { messageId: string; report: number; total: number };

/**
 * The outbox's write of one message to one webhook: held while the webhook is inactive; the
 * backlog cap applied (refuse_newest: this one is dropped; drop_oldest: the oldest waiting one);
 * batched: pending until the next flush; immediate: a delivery job in the webhook's lane. Returns
 * the drop, if any, for the caller to record (at most one record a minute: `report` > 0).
 */
export function enqueueMessage(db: Db, w: OutboundWebhook, m: OutboundMessage, now: number, dropNoteEveryMs: number): DropNote | null {
  return unit(db, () => enqueueMessageIn(db, w, m, now, dropNoteEveryMs));
}

export type OutboundMessage = { id: string; type: string; body: string };

/** One message of an outbox batch: to this webhook, made at `at`. */
export type OutboxItem = { w: OutboundWebhook; m: OutboundMessage; at: number };

/** enqueueMessage for many messages in one unit (a commit's outbox); the drops, item by item. */
export function enqueueMessages(db: Db, items: OutboxItem[], dropNoteEveryMs: number): (DropNote | null)[] {
  return unit(db, () => items.map((x) => enqueueMessageIn(db, x.w, x.m, x.at, dropNoteEveryMs)));
}

/** enqueueMessage for a caller already in a transaction (the SQLite outbox, on the ingest hot path: no savepoint per message). */
export function enqueueMessageIn(db: Db, w: OutboundWebhook, m: OutboundMessage, now: number, dropNoteEveryMs: number): DropNote | null {
  const d = { id: m.id, tenantId: w.tenantId, webhookId: w.id, kind: "message" as const, type: m.type, body: m.body };
  if (w.state !== "active") {
    insertDelivery(db, { ...d, status: "held" }, now);
    return null;
  }
  let drop: DropNote | null = null;
  // The backlog cap: one keyed read of the lane's count, no counting of rows.
  if (w.backlogCap > 0 && laneBacklog(db, w.id) >= w.backlogCap) {
    const reason = `backlog cap ${w.backlogCap} reached (${w.backlogPolicy})`;
    if (w.backlogPolicy === "refuse_newest") {
      insertDelivery(db, { ...d, status: "dropped" }, now);
      markDelivery(db, m.id, "dropped", now, { error: reason });
      return { messageId: m.id, ...noteLaneDrop(db, w.id, now, dropNoteEveryMs) };
    }
    const victim = dropOldest(db, w.id, now, reason);
    if (victim) drop = { messageId: victim, ...noteLaneDrop(db, w.id, now, dropNoteEveryMs) };
  }
  if (w.mode === "batched") {
    insertDelivery(db, { ...d, status: "pending" }, now);
    enqueueFlush(db, w, now);
    return drop;
  }
  const job = insertJob(db, { queue: QUEUE, kind: "deliver", payload: { d: m.id }, maxAttempts: w.maxAttempts, idempotencyKey: m.id, lane: w.id }, now);
  insertDelivery(db, { ...d, status: "pending", jobId: job.id }, now);
  return drop;
}

/**
 * Puts deliveries back in the queue (replay, release, a switch from batched to immediate); same
 * message ids, so the same webhook-id. A batched webhook's message waits for an immediate flush;
 * anything else gets a new delivery job (keyed by its replay count). Returns how many.
 */
export function requeueDeliveries(db: Db, w: OutboundWebhook, ids: string[], now: number, o: RequeueOptions = {}): number {
  return unit(db, () => requeueIn(db, w, ids, now, o));
}

export type RequeueOptions = {
  /** leave out deliveries that are pending (queued or being attempted) at the time of the write */
  unlessPending?: boolean;
};

function requeueIn(db: Db, w: OutboundWebhook, ids: string[], now: number, o: RequeueOptions = {}): number {
  let n = 0;
  let flush = false;
  for (const id of ids) {
    const d = q(db, "prior").get(id) as { kind: string; status: string } | null;
    if (!d || (o.unlessPending && d.status === "pending")) continue;
    n++;
    if (w.mode === "batched" && d.kind === "message") {
      unbatchForReplay(db, id, now);
      flush = true;
      continue;
    }
    const replays = countReplay(db, id, now);
    const job = insertJob(db, { queue: QUEUE, kind: "deliver", payload: { d: id }, maxAttempts: w.maxAttempts, idempotencyKey: `${id}#${replays}`, lane: w.id }, now);
    setDeliveryJob(db, id, job.id);
  }
  if (flush) enqueueFlush(db, w, now, true);
  return n;
}

/** Sends the held messages of a webhook that became active again. Returns how many. */
export function releaseHeld(db: Db, w: OutboundWebhook, now: number): number {
  return unit(db, () => {
    const held = heldMessages(db, w.id);
    if (w.mode === "batched") {
      for (const d of held) markDelivery(db, d.id, "pending", now);
      if (held.length) enqueueFlush(db, w, now, true);
    } else requeueIn(db, w, held.map((d) => d.id), now);
    return held.length;
  });
}

/**
 * A flush of a batched webhook: its next batch (a delivery of kind batch, with its job) out of
 * these waiting messages, unless a batch is still open. The batch's id, or null.
 */
export function makeBatch(db: Db, w: OutboundWebhook, id: string, memberIds: string[], now: number): string | null {
  return unit(db, () => {
    if (openBatch(db, w.id)) return null;
    const job = insertJob(db, { queue: QUEUE, kind: "deliver", payload: { d: id }, maxAttempts: w.maxAttempts, idempotencyKey: id, lane: w.id }, now);
    insertDelivery(db, { id, tenantId: w.tenantId, webhookId: w.id, kind: "batch", type: "batch", body: "", status: "pending", jobId: job.id }, now);
    assignBatch(db, id, memberIds);
    return id;
  });
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/deliveries.ts. */
export const deliveriesFns = { insertDelivery, setDeliveryJob, getDelivery, markDelivery, markBatchMembers, startAttempt, completeAttempt, discardAttempt, backlogOf, dropOldest, insertAttempt, attemptTimings, heldMessages, unbatched, openBatch, assignBatch, releaseBatch, batchMembers, listDeliveries, scanDeliveries, listAttempts, lastAttempt, attemptsFailedInARow, countReplay, pruneDeliveries, lastBatchAt, unbatchForReplay, enqueueFlush, enqueueMessage, enqueueMessages, requeueDeliveries, releaseHeld, makeBatch };
export type DeliveriesStore = Bound<typeof deliveriesFns>;
