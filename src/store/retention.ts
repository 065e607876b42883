// Retention: deleting events and heartbeat pings older than their retention, in small batches.
//
// "Older than T" means received_at (events) or at (pings) before T. Event and ping ids are ULIDs
// made when keepwatch received them, so the primary key is also a time index: a prune walks the
// ids upwards from the oldest and stops at the first row that is new enough. No extra index is
// needed. (Should the clock ever step back, a few rows wait for a later run; nothing new is lost.)
//
// Every batch is its own short write transaction, and the caller pauses between batches, so the
// ingest writer thread (which needs the same write lock) never waits long. The server runs this on
// the checkpointer thread's own connection (see db/checkpoint-thread.ts), so waiting for the lock
// never blocks the HTTP thread's event loop either.
//
// Events linked to an alert that is not closed are kept whatever their age: the alert's detail
// page and its timeline point at them. Once the alert is closed they go with the next prune (the
// alert itself stays, with the raw payload of its first event).
import type { Bound } from "./contract";
import type { Db } from "../db/client";

const HELD = `EXISTS (SELECT 1 FROM alert_events ae JOIN alerts a ON a.id = ae.alert_id
                      WHERE ae.event_id = events.id AND a.status <> 'closed')`;

export type Batch = { deleted: number; /** the last id looked at, or null when the walk is over */ last: string | null };

/**
 * One batch of events: looks at up to `limit` events after id `after`, in id order, and deletes
 * those received before `before` that no open alert holds (their indicators and closed-alert links
 * go by cascade).
 */
export function pruneEventsBatch(db: Db, before: number, after: string, limit: number): Batch {
  // read outside the write lock (WAL readers never block the writer)
  const rows = db.$client
    .query(`SELECT id, received_at AS t, ${HELD} AS held FROM events WHERE id > ?1 ORDER BY id LIMIT ?2`)
    .all(after, limit) as { id: string; t: number; held: number }[];
  const old = rows.findIndex((r) => r.t >= before);
  const done = old >= 0 || rows.length < limit;
  const seen = old >= 0 ? rows.slice(0, old) : rows;
  const ids = seen.filter((r) => !r.held).map((r) => r.id);
  let deleted = 0;
  if (ids.length)
    // the checks again inside the write: an alert may have been linked or reopened since the read
    deleted = db.$client
      .query(`DELETE FROM events WHERE id IN (SELECT value FROM json_each(?1)) AND received_at < ?2 AND NOT ${HELD}`)
      .run(JSON.stringify(ids), before).changes;
  return { deleted, last: done || !seen.length ? null : seen[seen.length - 1].id };
}

/** One batch of heartbeat pings received before `before`, oldest first. */
export function prunePingsBatch(db: Db, before: number, limit: number): Batch {
  const rows = db.$client.query("SELECT id, at AS t FROM heartbeat_pings ORDER BY id LIMIT ?1").all(limit) as { id: string; t: number }[];
  const old = rows.findIndex((r) => r.t >= before);
  const seen = old >= 0 ? rows.slice(0, old) : rows;
  const deleted = seen.length
    ? db.$client
        .query("DELETE FROM heartbeat_pings WHERE id IN (SELECT value FROM json_each(?1)) AND at < ?2")
        .run(JSON.stringify(seen.map((r) => r.id)), before).changes
    : 0;
  return { deleted, last: old >= 0 || rows.length < limit || !seen.length ? null : seen[seen.length - 1].id };
}

/**
 * One batch of webhook delivery history created before `before`: deliveries that are no longer
 * pending (held messages included) with their attempts (by cascade). Returns how many went.
 */
export function pruneDeliveriesBatch(db: Db, before: number, limit: number): number {
  return db.$client
    .query("DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE created_at < ?1 AND status <> 'pending' LIMIT ?2)")
    .run(before, limit).changes;
}

/** Stray attempts older than `before` (those of deliveries still retrying are kept with them only until then). */
export function pruneAttemptsBatch(db: Db, before: number, limit: number): number {
  return db.$client
    .query("DELETE FROM delivery_attempts WHERE rowid IN (SELECT rowid FROM delivery_attempts WHERE started_at < ?1 LIMIT ?2)")
    .run(before, limit).changes;
}

/** Finished jobs (succeeded, failed, dead) that finished before `before`. */
export function pruneJobsBatch(db: Db, before: number, limit: number): number {
  return db.$client
    .query("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_at < ?1 AND state IN ('succeeded', 'failed', 'dead') LIMIT ?2)")
    .run(before, limit).changes;
}

export type RetentionCutoffs = {
  /** delete events received before this time (ms); null = keep every event */
  eventsBefore: number | null;
  /** delete heartbeat pings received before this time (ms); null = keep every ping */
  pingsBefore: number | null;
  /** delete webhook delivery history (deliveries, attempts, finished jobs) before this time; null or absent = keep */
  deliveriesBefore?: number | null;
};

export type RetentionOptions = {
  /** rows per transaction */
  batch?: number;
  /** pause between transactions (ms), when the writer gets the lock */
  pauseMs?: number;
  /** stop after this long (ms); the next run carries on */
  maxMs?: number;
};

export type RetentionResult = { events: number; pings: number; deliveries: number; jobs: number; ms: number; complete: boolean };

/** The batch functions a prune walks with: SQLite's (synchronous) or any store's (async). */
type PruneCalls = {
  events(before: number, after: string, limit: number): Batch | Promise<Batch>;
  pings(before: number, limit: number): Batch | Promise<Batch>;
  deliveries(before: number, limit: number): number | Promise<number>;
  attempts(before: number, limit: number): number | Promise<number>;
  jobs(before: number, limit: number): number | Promise<number>;
};

/**
 * Prunes in batches until nothing old is left (or maxMs runs out). `retryable` says whether a
 * failed batch may be tried again after a pause (SQLite: the write lock was busy).
 */
async function pruneLoop(calls: PruneCalls, cut: RetentionCutoffs, opts: RetentionOptions, retryable: (e: unknown) => boolean): Promise<RetentionResult> {
  const batch = opts.batch ?? 500;
  const pause = opts.pauseMs ?? 20;
  const t0 = performance.now();
  const deadline = t0 + (opts.maxMs ?? 10 * 60_000);
  const res: RetentionResult = { events: 0, pings: 0, deliveries: 0, jobs: 0, ms: 0, complete: true };
  const outOfTime = () => performance.now() > deadline && ((res.complete = false), true);
  const retry = async <T>(f: () => T | Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await f();
      } catch (e) {
        if (!retryable(e) || outOfTime()) throw e;
        await Bun.sleep(pause * 5);
      }
    }
  };
  if (cut.eventsBefore !== null) {
    let after = "";
    const before = cut.eventsBefore;
    for (;;) {
      const r = await retry(() => calls.events(before, after, batch));
      res.events += r.deleted;
      if (r.last === null || outOfTime()) break;
      after = r.last;
      await Bun.sleep(pause);
    }
  }
  if (cut.pingsBefore !== null && res.complete) {
    const before = cut.pingsBefore;
    for (;;) {
      const r = await retry(() => calls.pings(before, batch));
      res.pings += r.deleted;
      if (r.last === null || outOfTime()) break;
      await Bun.sleep(pause);
    }
  }
  const d = cut.deliveriesBefore;
  if (d !== null && d !== undefined && res.complete) {
    // delivery history, then stray attempts, then finished jobs: each in batches
    for (const [f, into] of [
      [calls.deliveries, "deliveries"],
      [calls.attempts, null],
      [calls.jobs, "jobs"],
    ] as const) {
      for (;;) {
        const n = await retry(() => f(d, batch));
        if (into) res[into] += n;
        if (n < batch || outOfTime()) break;
        await Bun.sleep(pause);
      }
      if (!res.complete) break;
    }
  }
  res.ms = Math.round(performance.now() - t0);
  return res;
}

/** Prunes a SQLite database in batches until nothing old is left (or maxMs runs out): the checkpointer thread runs this. */
export async function pruneOld(db: Db, cut: RetentionCutoffs, opts: RetentionOptions = {}): Promise<RetentionResult> {
  // The write lock was not to be had within the connection's busy_timeout: try the same batch again.
  const busy = (e: unknown) => /SQLITE_BUSY|database is locked/i.test(String((e as Error)?.message ?? e) + String((e as { code?: string })?.code));
  return pruneLoop(
    {
      events: (b, a, l) => pruneEventsBatch(db, b, a, l),
      pings: (b, l) => prunePingsBatch(db, b, l),
      deliveries: (b, l) => pruneDeliveriesBatch(db, b, l),
      attempts: (b, l) => pruneAttemptsBatch(db, b, l),
      jobs: (b, l) => pruneJobsBatch(db, b, l),
    },
    cut,
    opts,
    busy,
  );
}

/**
 * The same prune through the store contract (PostgreSQL mode, where no thread of ours holds a
 * lock: each batch is one short transaction of its own and row locks never wait on ingest).
 */
export async function pruneOldWith(store: RetentionStore, cut: RetentionCutoffs, opts: RetentionOptions = {}): Promise<RetentionResult> {
  return pruneLoop(
    {
      events: store.pruneEventsBatch,
      pings: store.prunePingsBatch,
      deliveries: store.pruneDeliveriesBatch,
      attempts: store.pruneAttemptsBatch,
      jobs: store.pruneJobsBatch,
    },
    cut,
    opts,
    () => false,
  );
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/retention.ts. */
export const retentionFns = { pruneEventsBatch, prunePingsBatch, pruneDeliveriesBatch, pruneAttemptsBatch, pruneJobsBatch };
export type RetentionStore = Bound<typeof retentionFns>;
