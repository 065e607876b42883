// Scheduled housekeeping, all on croner: pruning (idempotency keys, rule hits, delivery history,
// finished jobs), retention of events and pings, the nightly TRUNCATE checkpoint, and the
// periodic write of key last-used times. (Heartbeat deadlines have their own timer: heartbeats.ts.)
// The pruning jobs run on one replica at a time, in bounded batches (exclusive.ts: a lease row on
// the database clock); the last-used write is each process's own (it writes what it saw).
// Retention and the checkpoint run on the checkpointer thread, which may wait for the write lock
// without blocking this thread's event loop.
import { Cron } from "croner";
import type { Deps } from "../deps";
import { IDEMPOTENCY_WINDOW_MS } from "../store/events";
import { pruneOldWith } from "../store/retention";
import { exclusively, type LeaseTerms } from "./exclusive";

export type Scheduler = { stop(): void; jobs: Cron[] };

/** idempotency keys deleted per statement by the scheduled prune */
export const IDEMPOTENCY_BATCH = 5000;

/**
 * Deletes delivery history (and held messages) and finished jobs past the retention, at once (no
 * pauses between batches). The scheduled prune does the same in paced batches (runRetention);
 * this form is for tests and tools.
 */
export async function pruneOutbound(deps: Deps, now = deps.clock()): Promise<{ deliveries: number; jobs: number }> {
  const before = now - deps.config.deliveryRetention * 86_400_000;
  const r = await pruneOldWith(deps.store.retention, { eventsBefore: null, pingsBefore: null, deliveriesBefore: before }, { batch: 5000, pauseMs: 0 });
  return { deliveries: r.deliveries, jobs: r.jobs };
}

/**
 * Prunes events, pings and delivery history past their retention, in batches: on SQLite on the
 * checkpointer thread (which may wait for the write lock without blocking this thread's event
 * loop), on PostgreSQL through the store (each batch its own short transaction).
 */
export async function runRetention(deps: Deps, now = deps.clock()) {
  const day = 86_400_000;
  const { eventRetention, pingRetention, deliveryRetention } = deps.config;
  const cut = {
    eventsBefore: eventRetention > 0 ? now - eventRetention * day : null,
    pingsBefore: pingRetention > 0 ? now - pingRetention * day : null,
    deliveriesBefore: now - deliveryRetention * day,
  };
  return deps.sqlite ? deps.sqlite.checkpointer.retention(cut) : pruneOldWith(deps.bgStore.retention, cut);
}

export function startScheduler(deps: Deps): Scheduler {
  const guard = (name: string, f: () => void) => () => {
    try {
      f();
    } catch (e) {
      deps.log.warn("scheduled job failed", { job: name, error: String(e) });
    }
  };
  const guardAsync = (name: string, f: () => Promise<void>) => () =>
    f().catch((e) => deps.log.warn("scheduled job failed", { job: name, error: String(e) }));
  // the housekeeping leases name this replica (its id in the registry), so /v1/replicas can say
  // which replica runs which housekeeping job
  const holder = deps.replicas.info.id;
  /** a housekeeping job on one replica at a time (exclusive.ts) */
  const once = <T>(name: string, terms: LeaseTerms, f: () => Promise<T>) => exclusively(deps.store, name, holder, terms, deps.clock, f);
  const MIN = 60_000;
  const jobs = [
    new Cron("*/30 * * * * *", { protect: true }, guardAsync("keys.last-used", () => deps.auth.flushLastUsed())),
    new Cron("17 * * * *", { protect: true }, guardAsync("idempotency.prune", async () => {
      // batches of IDEMPOTENCY_BATCH, for at most 4 minutes (the next run carries on)
      const r = await once("idempotency.prune", { leaseMs: 5 * MIN, minGapMs: 30 * MIN }, async () => {
        const t0 = performance.now();
        let count = 0;
        for (;;) {
          const n = await deps.store.events.pruneIdempotencyKeys(deps.clock() - IDEMPOTENCY_WINDOW_MS, IDEMPOTENCY_BATCH);
          count += n;
          if (n < IDEMPOTENCY_BATCH) return { count, complete: true };
          if (performance.now() - t0 > 4 * MIN) return { count, complete: false };
          await Bun.sleep(20);
        }
      });
      if (r?.count) deps.log.info("pruned idempotency keys", { count: r.count });
    })),
    new Cron("*/5 * * * *", { protect: true }, guardAsync("rule-hits.prune", async () => {
      await once("rule-hits.prune", { leaseMs: 2 * MIN, minGapMs: 2 * MIN }, () => deps.store.rules.pruneRuleHits(deps.clock()));
    })),
    // hourly, so that each run has at most an hour's worth of rows to delete; a run stops after
    // 10 minutes (runRetention's bound), inside its 15-minute lease
    new Cron("41 * * * *", { protect: true }, guardAsync("retention.prune", async () => {
      const r = await once("retention.prune", { leaseMs: 15 * MIN, minGapMs: 30 * MIN }, () => runRetention(deps));
      if (r && (r.events || r.pings || r.deliveries || r.jobs || !r.complete)) deps.log.info("pruned by retention", r);
    })),
    // nightly (server's local time): reset the WAL file to zero bytes
    new Cron("30 3 * * *", { protect: true }, guardAsync("wal.truncate", async () => {
      if (!deps.sqlite) return; // PostgreSQL manages its own WAL
      const r = await deps.sqlite.checkpointer.truncate();
      deps.log.info(r.busy ? "nightly checkpoint could not truncate the WAL (busy); passive checkpoints go on" : "nightly checkpoint", r);
    })),
  ];
  return { jobs, stop: () => jobs.forEach((j) => j.stop()) };
}
