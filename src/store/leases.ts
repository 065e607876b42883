// Leases of periodic housekeeping (table housekeeping_leases): a job named `name` runs on one
// process at a time, and not again within `minGapMs` of its last finished run, whichever process
// asks (issue 12: replicas on one PostgreSQL). SQLite has one process per data directory (the
// data-directory lock), so here the lease always goes to that process's scheduler unless a run is
// still going or was done within the gap; the PostgreSQL twin (src/store/pg/leases.ts) does the
// same against the database clock, for replicas racing.
import type { Bound } from "./contract";
import type { Db } from "../db/client";

/**
 * Takes the lease of `name` for `holder` until now + leaseMs, unless another holder's lease has not
 * lapsed yet or the last run finished less than minGapMs ago. True when taken.
 */
export function tryLease(db: Db, name: string, holder: string, leaseMs: number, minGapMs: number, now: number): boolean {
  const r = db.$client
    .query(
      `INSERT INTO housekeeping_leases (name, holder, lease_until, done_at) VALUES (?1, ?2, ?3 + ?4, NULL)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
        WHERE housekeeping_leases.lease_until <= ?3 AND (housekeeping_leases.done_at IS NULL OR housekeeping_leases.done_at <= ?3 - ?5)
       RETURNING name`,
    )
    .get(name, holder, now, leaseMs, minGapMs);
  return r !== null;
}

/** Gives the lease up (if `holder` still has it); `done`: the run finished (the gap starts now). */
export function endLease(db: Db, name: string, holder: string, done: boolean, now: number): void {
  db.$client
    .query(`UPDATE housekeeping_leases SET lease_until = ?3, done_at = CASE WHEN ?4 THEN ?3 ELSE done_at END WHERE name = ?1 AND holder = ?2`)
    .run(name, holder, now, done ? 1 : 0);
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/leases.ts. */
export const leasesFns = { tryLease, endLease };
export type LeasesStore = Bound<typeof leasesFns>;
