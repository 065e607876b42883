// Scheduled housekeeping, all on croner: pruning and the periodic write of key last-used times.
// Later stages add heartbeat sweeps, retention and the nightly WAL checkpoint here.
import { Cron } from "croner";
import type { Deps } from "../deps";
import { IDEMPOTENCY_WINDOW_MS, pruneIdempotencyKeys } from "../store/events";
import { pruneRuleHits } from "../store/rules";

export type Scheduler = { stop(): void; jobs: Cron[] };

export function startScheduler(deps: Deps): Scheduler {
  const guard = (name: string, f: () => void) => () => {
    try {
      f();
    } catch (e) {
      deps.log.warn("scheduled job failed", { job: name, error: String(e) });
    }
  };
  const jobs = [
    new Cron("*/30 * * * * *", { name: "keys.last-used", protect: true }, guard("keys.last-used", () => deps.auth.flushLastUsed())),
    new Cron("17 * * * *", { name: "idempotency.prune", protect: true }, guard("idempotency.prune", () => {
      const n = pruneIdempotencyKeys(deps.db, deps.clock() - IDEMPOTENCY_WINDOW_MS);
      if (n) deps.log.info("pruned idempotency keys", { count: n });
    })),
    new Cron("*/5 * * * *", { name: "rule-hits.prune", protect: true }, guard("rule-hits.prune", () => {
      pruneRuleHits(deps.db, deps.clock());
    })),
  ];
  return { jobs, stop: () => jobs.forEach((j) => j.stop()) };
}
