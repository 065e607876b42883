// Periodic housekeeping on one replica at a time (issue 12). Every replica's scheduler fires the
// same cron jobs; before running one it takes the job's lease (housekeeping_leases, through the
// store: src/store/leases.ts, src/store/pg/leases.ts). Of replicas firing together one gets it;
// the others skip this tick. A run that finished sets done_at, and no replica runs the job again
// within `minGapMs` of it (replicas whose clocks or cron ticks differ a little do not repeat
// it). A holder that dies keeps the lease until it lapses (`leaseMs`, longer than the run's own
// time bound); the next tick of any replica after that takes the job over, and since every job
// works in bounded batches that start from what is left, nothing is lost by the interruption.
//
// Why a lease row and not an advisory lock: a run is many short transactions (bounded batches, so
// that no delete holds locks or bloats a transaction), which a transaction-scoped advisory lock
// cannot span, and a session-scoped advisory lock does not survive PgBouncer in transaction mode
// (the session is not ours between transactions). The row is one upsert on the database clock.
//
// The holder is the replica's id in the registry (src/store/replicas.ts: a random UUID per process,
// so several servers in one test process differ): GET /v1/replicas shows which replica holds which
// housekeeping lease.
import type { Store } from "../store/contract";

export type LeaseTerms = {
  /** how long a holder keeps the job without finishing it (longer than the run's own time bound) */
  leaseMs: number;
  /** no replica runs the job again this soon after a finished run */
  minGapMs: number;
};

/**
 * Runs `run` if this holder gets the job's lease, then gives the lease up (with done_at set when
 * `run` says it finished: true, or an object without `complete: false`). Null when another holder
 * has the job or it ran recently.
 */
export async function exclusively<T>(store: Store, name: string, holder: string, terms: LeaseTerms, now: () => number, run: () => Promise<T>): Promise<T | null> {
  if (!(await store.leases.tryLease(name, holder, terms.leaseMs, terms.minGapMs, now()))) return null;
  let done = false;
  try {
    const r = await run();
    done = !(typeof r === "object" && r !== null && (r as { complete?: unknown }).complete === false);
    return r;
  } finally {
    // a failed release leaves the lease to lapse by itself
    await store.leases.endLease(name, holder, done, now()).catch(() => {});
  }
}
