// The persisted job queue API the rest of keepwatch uses: enqueue inside the caller's transaction.
// Workers (worker.ts) claim with a lease and finish fenced by the lease token.
import type { Db } from "../db/client";
import { insertJob, type NewJob } from "../store/jobs";

export type { JobRow, JobState, NewJob } from "../store/jobs";

/**
 * Enqueues a job. Call it inside the transaction that makes the job necessary, so that the job and
 * its cause commit together. Returns the job id (the existing one for a repeated idempotency key).
 */
export function enqueue(db: Db, job: NewJob, now: number): { id: number; created: boolean } {
  return insertJob(db, job, now);
}
