// Scheduled housekeeping, all on croner: pruning (idempotency keys, rule hits, delivery history,
// finished jobs) and the periodic write of key last-used times.
// Later stages add heartbeat sweeps, retention and the nightly WAL checkpoint here.
import { Cron } from "croner";
import type { Deps } from "../deps";
import { IDEMPOTENCY_WINDOW_MS, pruneIdempotencyKeys } from "../store/events";
import { pruneDeliveries } from "../store/deliveries";
import { pruneJobs } from "../store/jobs";
import { pruneRuleHits } from "../store/rules";

export type Scheduler = { stop(): void; jobs: Cron[] };

/** Deletes delivery history (and held messages) and finished jobs past the retention. */
export function pruneOutbound(deps: Deps, now = deps.clock()): { deliveries: number; jobs: number } {
  const before = now - deps.config.deliveryRetention * 86_400_000;
  const deliveries = pruneDeliveries(deps.db, before);
  const jobs = pruneJobs(deps.db, before);
  return { deliveries, jobs };
}

export function startScheduler(deps: Deps): Scheduler {
  const guard = (name: string, f: () => void) => () => {
    try {
      f();
    } catch (e) {
      deps.log.warn("scheduled job failed", { job: name, error: String(e) });
    }
  };
  const jobs = [
    new Cron("*/30 * * * * *", { protect: true }, guard("keys.last-used", () => deps.auth.flushLastUsed())),
    new Cron("17 * * * *", { protect: true }, guard("idempotency.prune", () => {
      const n = pruneIdempotencyKeys(deps.db, deps.clock() - IDEMPOTENCY_WINDOW_MS);
      if (n) deps.log.info("pruned idempotency keys", { count: n });
    })),
    new Cron("23 * * * *", { protect: true }, guard("outbound.prune", () => {
      const r = pruneOutbound(deps);
      if (r.deliveries || r.jobs) deps.log.info("pruned outbound history", r);
    })),
    new Cron("*/5 * * * *", { protect: true }, guard("rule-hits.prune", () => {
      pruneRuleHits(deps.db, deps.clock());
    })),
  ];
  return { jobs, stop: () => jobs.forEach((j) => j.stop()) };
}
