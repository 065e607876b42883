// Scheduled housekeeping with croner: delivery history retention, finished jobs.
import { Cron } from "croner";
import type { Deps } from "../deps";
import { pruneDeliveries } from "../store/deliveries";
import { pruneJobs } from "../store/jobs";

/** Deletes delivery history (and held messages) and finished jobs past the retention. */
export function pruneOutbound(deps: Deps, now = deps.clock()): { deliveries: number; jobs: number } {
  const before = now - deps.config.deliveryRetention * 86_400_000;
  const deliveries = pruneDeliveries(deps.db, before);
  const jobs = pruneJobs(deps.db, before);
  return { deliveries, jobs };
}

export function startScheduler(deps: Deps): { stop: () => void } {
  const jobs = [
    new Cron("17 * * * *", { protect: true, catch: (e) => deps.log.error("prune failed", { error: String(e) }) }, () => {
      const r = pruneOutbound(deps);
      if (r.deliveries || r.jobs) deps.log.info("pruned outbound history", r);
    }),
  ];
  return { stop: () => jobs.forEach((j) => j.stop()) };
}
