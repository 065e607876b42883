// Deliveries and their attempts on PostgreSQL: the twin of src/store/deliveries.ts. The backlog of a
// webhook is its lane row's counter (job_lanes.backlog), adjusted in the transaction that moves a
// message into or out of `pending`; a status change locks the delivery row first (FOR UPDATE), so
// two replicas changing one delivery at once count it once.
import { inTx, type PgConn, type PgTwin } from "../contract";
import type {
  AttemptRow,
  AttemptTiming,
  DeliveryFilter,
  DeliveryRow,
  DeliveryStatus,
  DropNote,
  NewAttempt,
  NewDelivery,
  OutboundMessage,
  OutboundWebhook,
  OutboxItem,
  RequeueOptions,
  deliveriesFns,
} from "../deliveries";
import { attemptResult } from "../deliveries";
import { enqueueRows, insertJobRows, touchLanes } from "../queue-pg";
import { pgJobsFns } from "./jobs";

/** The queue deliveries and batch flushes go to (jobs/handlers/webhooks.ts: WEBHOOK_QUEUE). */
const QUEUE = "webhooks";

const asDelivery = (r: Record<string, unknown>) => r as unknown as DeliveryRow;
const asAttempt = (r: Record<string, unknown>) => r as unknown as AttemptRow;

/** Adds `delta` to a webhook's backlog (its pending messages). */
async function backlog(tx: PgConn, webhookId: string, delta: number): Promise<void> {
  if (delta) await tx`UPDATE job_lanes SET backlog = greatest(0, backlog + ${delta}) WHERE lane = ${webhookId}`;
}

/** Runs a status change of one delivery (its row locked) and keeps the backlog count. */
async function change<T>(pg: PgConn, id: string, to: DeliveryStatus, run: (tx: PgConn) => Promise<T>): Promise<T> {
  return await inTx(pg, async (tx) => {
    const [p] = await tx`SELECT webhook_id, kind, status FROM deliveries WHERE id = ${id} FOR UPDATE`;
    const out = await run(tx);
    if (p && p.kind === "message") await backlog(tx, p.webhook_id as string, (to === "pending" ? 1 : 0) - (p.status === "pending" ? 1 : 0));
    return out;
  });
}

/** Runs a status change of a batch's members (their rows locked) and keeps the backlog count. */
async function changeMembers(pg: PgConn, batchId: string, to: DeliveryStatus, run: (tx: PgConn) => Promise<void>): Promise<void> {
  await inTx(pg, async (tx) => {
    const rows = await tx`SELECT webhook_id, status FROM deliveries WHERE batch_id = ${batchId} ORDER BY id FOR UPDATE`;
    await run(tx);
    if (rows.length === 0) return;
    const pending = rows.filter((r) => r.status === "pending").length;
    await backlog(tx, rows[0]!.webhook_id as string, (to === "pending" ? rows.length : 0) - pending);
  });
}

async function insertDelivery(pg: PgConn, d: NewDelivery, now: number): Promise<void> {
  await inTx(pg, async (tx) => {
    await tx`INSERT INTO deliveries (id, tenant_id, webhook_id, kind, type, body, status, attempts, batch_id, job_id, replays, created_at, updated_at)
             VALUES (${d.id}, ${d.tenantId}, ${d.webhookId}, ${d.kind}, ${d.type}, ${d.body}, ${d.status}, 0, NULL, ${d.jobId ?? null}, 0, ${now}, ${now})`;
    if (d.kind === "message" && d.status === "pending") await backlog(tx, d.webhookId, 1);
  });
}

async function setDeliveryJob(pg: PgConn, id: string, jobId: number): Promise<void> {
  await pg`UPDATE deliveries SET job_id = ${jobId} WHERE id = ${id}`;
}

async function getDelivery(pg: PgConn, id: string): Promise<DeliveryRow | null> {
  const [r] = await pg`SELECT * FROM deliveries WHERE id = ${id}`;
  return r ? asDelivery(r) : null;
}

async function markDelivery(
  pg: PgConn,
  id: string,
  status: DeliveryStatus,
  now: number,
  o: { attempted?: boolean; statusCode?: number | null; error?: string | null } = {},
): Promise<void> {
  await change(pg, id, status, async (tx) => {
    await tx`UPDATE deliveries SET status = ${status}, attempts = attempts + ${o.attempted ? 1 : 0},
               last_status_code = coalesce(${o.statusCode ?? null}::int, last_status_code), last_error = ${o.error ?? null}, updated_at = ${now}
             WHERE id = ${id}`;
  });
}

async function markBatchMembers(pg: PgConn, batchId: string, status: DeliveryStatus, now: number, o: { statusCode?: number | null; error?: string | null } = {}): Promise<void> {
  await changeMembers(pg, batchId, status, async (tx) => {
    await tx`UPDATE deliveries SET status = ${status}, attempts = attempts + 1, last_status_code = coalesce(${o.statusCode ?? null}::int, last_status_code),
               last_error = ${o.error ?? null}, updated_at = ${now}
             WHERE batch_id = ${batchId}`;
  });
}

export async function pgStartAttempt(pg: PgConn, deliveryId: string, now: number): Promise<{ id: number; attempt: number } | null> {
  return await inTx(pg, async (tx) => {
    await tx`UPDATE delivery_attempts SET outcome = 'interrupted', error = 'keepwatch stopped or lost the lease during this attempt'
             WHERE delivery_id = ${deliveryId} AND outcome = 'started'`;
    const [r] = await tx`UPDATE deliveries SET attempts = attempts + 1 WHERE id = ${deliveryId} AND status = 'pending' RETURNING attempts, webhook_id`;
    if (!r) return null;
    const [row] = await tx`INSERT INTO delivery_attempts (delivery_id, webhook_id, attempt, started_at, duration_ms, url, request_headers, request_body, outcome)
                           VALUES (${deliveryId}, ${r.webhook_id as string}, ${r.attempts as number}, ${now}, 0,
                                   coalesce((SELECT url FROM webhooks WHERE id = ${r.webhook_id as string}), ''), '{}', '', 'started')
                           RETURNING id`;
    return { id: Number(row!.id), attempt: Number(r.attempts) };
  });
}

async function completeAttempt(pg: PgConn, id: number, a: Omit<NewAttempt, "delivery_id" | "webhook_id" | "attempt">): Promise<void> {
  await pg.unsafe(
    `UPDATE delivery_attempts SET started_at = $2, duration_ms = $3, url = $4, request_headers = $5, request_body = $6,
       response_status = $7, response_headers = $8, response_body = $9, error = $10, outcome = $11,
       request_body_size = $12, response_body_size = $13, response_truncated = $14 WHERE id = $1`,
    [id, ...attemptResult(a)] as any[],
  );
}

async function discardAttempt(pg: PgConn, id: number, deliveryId: string): Promise<void> {
  await inTx(pg, async (tx) => {
    await tx`DELETE FROM delivery_attempts WHERE id = ${id} AND outcome = 'started'`;
    await tx`UPDATE deliveries SET attempts = greatest(0, attempts - 1) WHERE id = ${deliveryId}`;
  });
}

async function backlogOf(pg: PgConn, webhookId: string): Promise<{ count: number; oldest: number | null; dropped: number }> {
  const [r] = await pg`SELECT (SELECT backlog FROM job_lanes WHERE lane = ${webhookId}) AS count,
                              (SELECT dropped FROM job_lanes WHERE lane = ${webhookId}) AS dropped,
                              (SELECT created_at FROM deliveries WHERE webhook_id = ${webhookId} AND status = 'pending' AND kind = 'message'
                                ORDER BY id LIMIT 1) AS oldest`;
  return { count: Number(r!.count ?? 0), oldest: r!.oldest === null ? null : Number(r!.oldest), dropped: Number(r!.dropped ?? 0) };
}

async function dropOldest(pg: PgConn, webhookId: string, now: number, reason: string): Promise<string | null> {
  return await inTx(pg, async (tx) => {
    const rows = await tx`SELECT d.id, d.job_id, j.state FROM deliveries d LEFT JOIN jobs j ON j.id = d.job_id
                          WHERE d.webhook_id = ${webhookId} AND d.status = 'pending' AND d.kind = 'message' AND d.batch_id IS NULL
                          ORDER BY d.id LIMIT 64`;
    // messages in flight are skipped (at most the lane's in-flight cap of them)
    const victim = rows.find((r) => r.state !== "running");
    if (!victim) return null;
    if (victim.job_id !== null) await tx`DELETE FROM jobs WHERE id = ${victim.job_id as number} AND state = 'available'`;
    await markDelivery(tx, victim.id as string, "dropped", now, { error: reason });
    return victim.id as string;
  });
}

async function insertAttempt(pg: PgConn, a: NewAttempt): Promise<void> {
  await pg.unsafe(
    `INSERT INTO delivery_attempts (delivery_id, webhook_id, attempt, started_at, duration_ms, url, request_headers,
       request_body, response_status, response_headers, response_body, error, outcome, request_body_size, response_body_size, response_truncated)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
    [a.delivery_id, a.webhook_id, a.attempt, ...attemptResult(a)] as any[],
  );
}

async function attemptTimings(pg: PgConn, deliveryIds: string[]): Promise<AttemptTiming[]> {
  if (deliveryIds.length === 0) return [];
  const rows = await pg`SELECT delivery_id, attempt, started_at, duration_ms, response_status, outcome FROM delivery_attempts
                        WHERE delivery_id = ANY(${deliveryIds}::text[]) ORDER BY id`;
  return rows as unknown as AttemptTiming[];
}

async function heldMessages(pg: PgConn, webhookId: string): Promise<DeliveryRow[]> {
  return (await pg`SELECT * FROM deliveries WHERE webhook_id = ${webhookId} AND status = 'held' AND kind = 'message' ORDER BY id`).map(asDelivery);
}

async function unbatched(pg: PgConn, webhookId: string, limit: number): Promise<DeliveryRow[]> {
  return (
    await pg`SELECT * FROM deliveries WHERE webhook_id = ${webhookId} AND status = 'pending' AND kind = 'message' AND batch_id IS NULL
             ORDER BY id LIMIT ${limit}`
  ).map(asDelivery);
}

async function openBatch(pg: PgConn, webhookId: string): Promise<DeliveryRow | null> {
  const [r] = await pg`SELECT * FROM deliveries WHERE webhook_id = ${webhookId} AND kind = 'batch' AND status = 'pending' ORDER BY id LIMIT 1`;
  return r ? asDelivery(r) : null;
}

async function assignBatch(pg: PgConn, batchId: string, ids: string[]): Promise<void> {
  if (ids.length) await pg`UPDATE deliveries SET batch_id = ${batchId} WHERE id = ANY(${ids}::text[])`;
}

async function releaseBatch(pg: PgConn, batchId: string, status: DeliveryStatus, now: number): Promise<void> {
  await changeMembers(pg, batchId, status, async (tx) => {
    await tx`UPDATE deliveries SET batch_id = NULL, status = ${status}, updated_at = ${now} WHERE batch_id = ${batchId}`;
  });
}

async function batchMembers(pg: PgConn, batchId: string): Promise<DeliveryRow[]> {
  return (await pg`SELECT * FROM deliveries WHERE batch_id = ${batchId} ORDER BY id`).map(asDelivery);
}

async function listDeliveries(pg: PgConn, webhookId: string, f: DeliveryFilter): Promise<DeliveryRow[]> {
  const where = ["webhook_id = $1"];
  const args: (string | number)[] = [webhookId];
  if (f.status) {
    args.push(f.status);
    where.push(`status = $${args.length}`);
  }
  if (f.before) {
    args.push(f.before);
    where.push(`id < $${args.length}`);
  }
  if (f.since !== undefined) {
    args.push(f.since);
    where.push(`created_at >= $${args.length}`);
  }
  args.push(f.limit);
  // ids are a fixed prefix and a ULID (digits and capitals): any collation orders them as SQLite does
  return (await pg.unsafe(`SELECT * FROM deliveries WHERE ${where.join(" AND ")} ORDER BY id DESC LIMIT $${args.length}`, args)).map(asDelivery);
}

async function scanDeliveries(pg: PgConn, webhookId: string, f: { status?: DeliveryStatus; since: number; after: string | null; limit: number }): Promise<DeliveryRow[]> {
  return (
    await pg`SELECT * FROM deliveries WHERE webhook_id = ${webhookId} AND kind = 'message' AND created_at >= ${f.since}
               AND id > ${f.after ?? ""} AND (${f.status ?? null}::text IS NULL OR status = ${f.status ?? null})
             ORDER BY id LIMIT ${f.limit}`
  ).map(asDelivery);
}

async function listAttempts(pg: PgConn, deliveryId: string): Promise<AttemptRow[]> {
  return (await pg`SELECT * FROM delivery_attempts WHERE delivery_id = ${deliveryId} ORDER BY id`).map(asAttempt);
}

async function lastAttempt(pg: PgConn, webhookId: string): Promise<AttemptRow | null> {
  const [r] = await pg`SELECT * FROM delivery_attempts WHERE webhook_id = ${webhookId} ORDER BY id DESC LIMIT 1`;
  return r ? asAttempt(r) : null;
}

async function attemptsFailedInARow(pg: PgConn, webhookId: string, cap = 1000): Promise<number> {
  const rows = await pg`SELECT outcome FROM delivery_attempts WHERE webhook_id = ${webhookId} AND outcome != 'started' ORDER BY id DESC LIMIT ${cap}`;
  const i = rows.findIndex((r) => r.outcome === "succeeded");
  return i === -1 ? rows.length : i;
}

async function countReplay(pg: PgConn, id: string, now: number): Promise<number> {
  return await change(pg, id, "pending", async (tx) => {
    const [r] = await tx`UPDATE deliveries SET replays = replays + 1, status = 'pending', updated_at = ${now} WHERE id = ${id} RETURNING replays`;
    return Number(r!.replays);
  });
}

async function pruneDeliveries(pg: PgConn, before: number, chunk = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const n = (
      await pg`DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE created_at < ${before} AND status <> 'pending' LIMIT ${chunk})`
    ).count;
    total += n;
    if (n < chunk) break;
  }
  // attempts of deliveries still retrying are kept with them; stray old attempts go too
  await pg`DELETE FROM delivery_attempts WHERE started_at < ${before}`;
  return total;
}

async function lastBatchAt(pg: PgConn, webhookId: string): Promise<number | null> {
  const [r] = await pg`SELECT max(created_at) AS t FROM deliveries WHERE webhook_id = ${webhookId} AND kind = 'batch'`;
  return r!.t === null ? null : Number(r!.t);
}

async function unbatchForReplay(pg: PgConn, id: string, now: number): Promise<void> {
  await change(pg, id, "pending", async (tx) => {
    await tx`UPDATE deliveries SET status = 'pending', batch_id = NULL, updated_at = ${now} WHERE id = ${id}`;
  });
}

// -- units of work of the outbox, replay and release (see deliveries.ts)

async function enqueueFlush(pg: PgConn, w: Pick<OutboundWebhook, "id" | "intervalS">, now: number, immediate = false): Promise<void> {
  const period = w.intervalS * 1000;
  const slot = Math.floor(now / period);
  const runAt = immediate ? now : (slot + 1) * period;
  await inTx(pg, (tx) =>
    enqueueRows(tx, [{ queue: QUEUE, kind: "flush", payload: { w: w.id }, maxAttempts: 0, delayMs: runAt - now, idempotencyKey: `flush:${w.id}:${immediate ? "now:" + now : slot}` }]),
  );
}

/** A message that only needs a delivery row and its job (an active immediate webhook without a backlog cap). */
const plain = (w: OutboundWebhook) => w.state === "active" && w.mode !== "batched" && !(w.backlogCap > 0);

/**
 * The outbox's writes of many messages in one transaction (the PostgreSQL outbox, per commit):
 * the plain ones with two multi-row statements (their jobs, their delivery rows) and one backlog
 * update per webhook; the others (held, capped, batched) one at a time, as on SQLite.
 */
async function enqueueMessages(pg: PgConn, items: OutboxItem[], dropNoteEveryMs: number): Promise<(DropNote | null)[]> {
  return await inTx(pg, async (tx) => {
    const out: (DropNote | null)[] = items.map(() => null);
    const simple: OutboxItem[] = [];
    for (let i = 0; i < items.length; i++) {
      const { w, m, at } = items[i]!;
      if (plain(w)) simple.push(items[i]!);
      else out[i] = await enqueueOne(tx, w, m, at, dropNoteEveryMs);
    }
    if (simple.length === 0) return out;
    const { out: jobs, wake } = await insertJobRows(
      tx,
      simple.map(({ w, m }) => ({ queue: QUEUE, kind: "deliver", payload: { d: m.id }, maxAttempts: w.maxAttempts, idempotencyKey: m.id, lane: w.id })),
    );
    const col = <T>(f: (x: OutboxItem, i: number) => T) => simple.map(f);
    await tx.unsafe(
      `INSERT INTO deliveries (id, tenant_id, webhook_id, kind, type, body, status, attempts, batch_id, job_id, replays, created_at, updated_at)
       SELECT u.id, u.tenant, u.webhook, 'message', u.type, u.body, 'pending', 0, NULL, u.job, 0, u.at, u.at
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[]) AS u(id, tenant, webhook, type, body, job, at)`,
      [col((x) => x.m.id), col((x) => x.w.tenantId), col((x) => x.w.id), col((x) => x.m.type), col((x) => x.m.body), col((_, i) => jobs[i]!.id), col((x) => x.at)] as any[],
    );
    // the lanes last: woken and their backlog counted in one statement, their rows locked from
    // here to the commit only (the group commit has nothing after its outbox flush)
    const n = new Map<string, number>();
    for (const x of simple) n.set(x.w.id, (n.get(x.w.id) ?? 0) + 1);
    await touchLanes(tx, wake.map((t) => ({ ...t, backlog: n.get(t.lane) ?? 0 })));
    // (every message id is new, so every lane above got a job; a lane that did not is counted alone)
    const rest = [...n].filter(([lane]) => !wake.some((t) => t.lane === lane));
    if (rest.length)
      await tx.unsafe(`UPDATE job_lanes l SET backlog = greatest(0, l.backlog + u.n) FROM unnest($1::text[], $2::bigint[]) AS u(lane, n) WHERE l.lane = u.lane`, [
        rest.map((r) => r[0]),
        rest.map((r) => r[1]),
      ] as any[]);
    return out;
  });
}

async function enqueueOne(tx: PgConn, w: OutboundWebhook, m: OutboundMessage, now: number, dropNoteEveryMs: number): Promise<DropNote | null> {
  const d = { id: m.id, tenantId: w.tenantId, webhookId: w.id, kind: "message" as const, type: m.type, body: m.body };
  if (w.state !== "active") {
    await insertDelivery(tx, { ...d, status: "held" }, now);
    return null;
  }
  let drop: DropNote | null = null;
  if (w.backlogCap > 0) {
    // the lane row locked: concurrent commits of two replicas apply the cap one after the other
    const [l] = await tx`SELECT backlog FROM job_lanes WHERE lane = ${w.id} FOR UPDATE`;
    if (l && Number(l.backlog) >= w.backlogCap) {
      const reason = `backlog cap ${w.backlogCap} reached (${w.backlogPolicy})`;
      if (w.backlogPolicy === "refuse_newest") {
        await insertDelivery(tx, { ...d, status: "dropped" }, now);
        await markDelivery(tx, m.id, "dropped", now, { error: reason });
        return { messageId: m.id, ...(await pgJobsFns.noteLaneDrop(tx, w.id, now, dropNoteEveryMs)) };
      }
      const victim = await dropOldest(tx, w.id, now, reason);
      if (victim) drop = { messageId: victim, ...(await pgJobsFns.noteLaneDrop(tx, w.id, now, dropNoteEveryMs)) };
    }
  }
  if (w.mode === "batched") {
    await insertDelivery(tx, { ...d, status: "pending" }, now);
    await enqueueFlush(tx, w, now);
    return drop;
  }
  const [job] = await enqueueRows(tx, [{ queue: QUEUE, kind: "deliver", payload: { d: m.id }, maxAttempts: w.maxAttempts, idempotencyKey: m.id, lane: w.id }]);
  await insertDelivery(tx, { ...d, status: "pending", jobId: job!.id }, now);
  return drop;
}

async function enqueueMessage(pg: PgConn, w: OutboundWebhook, m: OutboundMessage, now: number, dropNoteEveryMs: number): Promise<DropNote | null> {
  return (await enqueueMessages(pg, [{ w, m, at: now }], dropNoteEveryMs))[0]!;
}

/**
 * pgRequeueIn for distinct ids, set-based (a release of many held messages): the rows locked in id
 * order, their status changes and replay counts in two UPDATEs, the backlog once per webhook, the
 * jobs in one insert. The same writes as requeueing them one at a time.
 */
async function requeueMany(tx: PgConn, w: OutboundWebhook, ids: string[], now: number, o: RequeueOptions): Promise<number> {
  const rows = await tx`SELECT id, webhook_id, kind, status FROM deliveries WHERE id = ANY(${ids}::text[]) ORDER BY id FOR UPDATE`;
  const found = new Map(rows.map((r) => [r.id as string, r]));
  const chosen = ids.filter((id) => found.has(id) && !(o.unlessPending && found.get(id)!.status === "pending"));
  if (chosen.length === 0) return 0;
  const unbatch = chosen.filter((id) => w.mode === "batched" && found.get(id)!.kind === "message");
  const replay = chosen.filter((id) => !(w.mode === "batched" && found.get(id)!.kind === "message"));
  if (unbatch.length) await tx`UPDATE deliveries SET status = 'pending', batch_id = NULL, updated_at = ${now} WHERE id = ANY(${unbatch}::text[])`;
  const replays = new Map<string, number>();
  if (replay.length) {
    const r = await tx`UPDATE deliveries SET replays = replays + 1, status = 'pending', updated_at = ${now} WHERE id = ANY(${replay}::text[]) RETURNING id, replays`;
    for (const x of r) replays.set(x.id as string, Number(x.replays));
  }
  // every chosen message that was not pending is now: +1 on its webhook's backlog
  const delta = new Map<string, number>();
  for (const id of chosen) {
    const r = found.get(id)!;
    if (r.kind === "message" && r.status !== "pending") delta.set(r.webhook_id as string, (delta.get(r.webhook_id as string) ?? 0) + 1);
  }
  if (delta.size) {
    const lanes = [...delta.keys()].sort();
    await tx.unsafe(
      `UPDATE job_lanes l SET backlog = greatest(0, l.backlog + u.n) FROM unnest($1::text[], $2::bigint[]) AS u(lane, n) WHERE l.lane = u.lane`,
      [lanes, lanes.map((l) => delta.get(l)!)] as any[],
    );
  }
  if (replay.length) {
    const jobs = await enqueueRows(
      tx,
      replay.map((id) => ({ queue: QUEUE, kind: "deliver", payload: { d: id }, maxAttempts: w.maxAttempts, idempotencyKey: `${id}#${replays.get(id)}`, lane: w.id })),
    );
    await tx.unsafe(`UPDATE deliveries d SET job_id = u.job FROM unnest($1::text[], $2::bigint[]) AS u(id, job) WHERE d.id = u.id`, [replay, jobs.map((j) => j.id)] as any[]);
  }
  if (unbatch.length) await enqueueFlush(tx, w, now, true);
  return chosen.length;
}

export async function pgRequeueIn(tx: PgConn, w: OutboundWebhook, ids: string[], now: number, o: RequeueOptions = {}): Promise<number> {
  if (ids.length > 1 && new Set(ids).size === ids.length) return await requeueMany(tx, w, ids, now, o);
  // rows locked in id order (two replays of overlapping pages cannot deadlock), read as they are now
  const rows = await tx`SELECT id, kind, status FROM deliveries WHERE id = ANY(${ids}::text[]) ORDER BY id FOR UPDATE`;
  const found = new Map(rows.map((r) => [r.id as string, { kind: r.kind as string, status: r.status as string }]));
  let n = 0;
  let flush = false;
  const again: { id: string; key: string }[] = [];
  for (const id of ids) {
    const d = found.get(id);
    if (!d || (o.unlessPending && d.status === "pending")) continue;
    const kind = d.kind;
    // requeued: pending from now on (an id listed twice sees it, as on SQLite)
    d.status = "pending";
    n++;
    if (w.mode === "batched" && kind === "message") {
      await unbatchForReplay(tx, id, now);
      flush = true;
      continue;
    }
    again.push({ id, key: `${id}#${await countReplay(tx, id, now)}` });
  }
  if (again.length) {
    const jobs = await enqueueRows(
      tx,
      again.map((a) => ({ queue: QUEUE, kind: "deliver", payload: { d: a.id }, maxAttempts: w.maxAttempts, idempotencyKey: a.key, lane: w.id })),
    );
    await tx.unsafe(`UPDATE deliveries d SET job_id = u.job FROM unnest($1::text[], $2::bigint[]) AS u(id, job) WHERE d.id = u.id`, [
      again.map((a) => a.id),
      jobs.map((j) => j.id),
    ] as any[]);
  }
  if (flush) await enqueueFlush(tx, w, now, true);
  return n;
}

async function requeueDeliveries(pg: PgConn, w: OutboundWebhook, ids: string[], now: number, o: RequeueOptions = {}): Promise<number> {
  return await inTx(pg, (tx) => pgRequeueIn(tx, w, ids, now, o));
}

export async function pgReleaseHeld(pg: PgConn, w: OutboundWebhook, now: number): Promise<number> {
  return await inTx(pg, async (tx) => {
    const held = await heldMessages(tx, w.id);
    if (w.mode === "batched") {
      // markDelivery(id, "pending") for all of them: rows locked in id order, one UPDATE, the backlog once
      if (held.length) {
        const ids = held.map((d) => d.id);
        const prior = await tx`SELECT webhook_id, kind, status FROM deliveries WHERE id = ANY(${ids}::text[]) ORDER BY id FOR UPDATE`;
        await tx`UPDATE deliveries SET status = 'pending', last_error = NULL, updated_at = ${now} WHERE id = ANY(${ids}::text[])`;
        const delta = new Map<string, number>();
        for (const p of prior) if (p.kind === "message" && p.status !== "pending") delta.set(p.webhook_id as string, (delta.get(p.webhook_id as string) ?? 0) + 1);
        for (const [lane, n] of [...delta].sort()) await backlog(tx, lane, n);
        await enqueueFlush(tx, w, now, true);
      }
    } else await pgRequeueIn(tx, w, held.map((d) => d.id), now);
    return held.length;
  });
}

async function makeBatch(pg: PgConn, w: OutboundWebhook, id: string, memberIds: string[], now: number): Promise<string | null> {
  return await inTx(pg, async (tx) => {
    // the webhook's lane row locked: two replicas flushing at once make one batch
    await tx`SELECT 1 FROM job_lanes WHERE lane = ${w.id} FOR UPDATE`;
    if (await openBatch(tx, w.id)) return null;
    const [job] = await enqueueRows(tx, [{ queue: QUEUE, kind: "deliver", payload: { d: id }, maxAttempts: w.maxAttempts, idempotencyKey: id, lane: w.id }]);
    await insertDelivery(tx, { id, tenantId: w.tenantId, webhookId: w.id, kind: "batch", type: "batch", body: "", status: "pending", jobId: job!.id }, now);
    await assignBatch(tx, id, memberIds);
    return id;
  });
}

export const pgDeliveriesFns: PgTwin<typeof deliveriesFns> = {
  insertDelivery,
  setDeliveryJob,
  getDelivery,
  markDelivery,
  markBatchMembers,
  startAttempt: pgStartAttempt,
  completeAttempt,
  discardAttempt,
  backlogOf,
  dropOldest,
  insertAttempt,
  attemptTimings,
  heldMessages,
  unbatched,
  openBatch,
  assignBatch,
  releaseBatch,
  batchMembers,
  listDeliveries,
  scanDeliveries,
  listAttempts,
  lastAttempt,
  attemptsFailedInARow,
  countReplay,
  pruneDeliveries,
  lastBatchAt,
  unbatchForReplay,
  enqueueFlush,
  enqueueMessage,
  enqueueMessages,
  requeueDeliveries,
  releaseHeld: pgReleaseHeld,
  makeBatch,
};
