// The job queue's SQL. Claim takes available jobs that are due and running jobs whose lease ran
// out in one UPDATE ... RETURNING; finish/fail/snooze are fenced by (id, lease_token).
import type { Db } from "../db/client";

export type JobState = "available" | "running" | "succeeded" | "failed" | "dead";

export type JobRow = {
  id: number;
  queue: string;
  kind: string;
  payload: string;
  state: JobState;
  attempt: number;
  max_attempts: number;
  run_at: number;
  lease_until: number | null;
  lease_token: string | null;
  last_error: string | null;
  idempotency_key: string | null;
  created_at: number;
  finished_at: number | null;
};

export type NewJob = {
  queue: string;
  kind: string;
  payload: unknown;
  /** attempts in all; 0 = unlimited */
  maxAttempts?: number;
  runAt?: number;
  idempotencyKey?: string | null;
};

// bun:sqlite's query() compiles each statement once per connection and caches it.
const STMT = {
  insert: `INSERT INTO jobs (queue, kind, payload, state, attempt, max_attempts, run_at, idempotency_key, created_at)
         VALUES (?1, ?2, ?3, 'available', 0, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING RETURNING id`,
  byKey: "SELECT id FROM jobs WHERE queue = ?1 AND idempotency_key = ?2",
  claim: `UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_token = ?3, lease_until = ?4
         WHERE id IN (
           SELECT id FROM (
             SELECT id, run_at FROM jobs WHERE queue = ?1 AND state = 'available' AND run_at <= ?2
             UNION ALL
             SELECT id, lease_until FROM jobs WHERE queue = ?1 AND state = 'running' AND lease_until <= ?2
           ) ORDER BY run_at, id LIMIT ?5)
         RETURNING *`,
  finish: `UPDATE jobs SET state = ?3, finished_at = ?4, last_error = ?5, lease_token = NULL, lease_until = NULL
         WHERE id = ?1 AND lease_token = ?2 AND state = 'running'`,
  retry: `UPDATE jobs SET state = 'available', run_at = ?3, last_error = ?4, lease_token = NULL, lease_until = NULL
         WHERE id = ?1 AND lease_token = ?2 AND state = 'running'`,
  snooze: `UPDATE jobs SET state = 'available', run_at = ?3, attempt = attempt - 1, lease_token = NULL, lease_until = NULL
         WHERE id = ?1 AND lease_token = ?2 AND state = 'running'`,
  nextRunAt: `SELECT min(t) AS t FROM (
           SELECT min(run_at) AS t FROM jobs WHERE queue = ?1 AND state = 'available'
           UNION ALL SELECT min(lease_until) FROM jobs WHERE queue = ?1 AND state = 'running')`,
  wake: "UPDATE jobs SET run_at = ?2 WHERE id = ?1 AND state = 'available' AND run_at > ?2",
};
const q = (db: Db, name: keyof typeof STMT) => db.$client.query(STMT[name]);

/**
 * Inserts a job (call it inside the caller's transaction). With an idempotency key already used in
 * this queue, nothing is inserted and the existing job's id is returned with created = false.
 */
export function insertJob(db: Db, j: NewJob, now: number): { id: number; created: boolean } {
  const key = j.idempotencyKey ?? null;
  const row = q(db, "insert").get(j.queue, j.kind, JSON.stringify(j.payload ?? null), j.maxAttempts ?? 0, j.runAt ?? now, key, now) as
    | { id: number }
    | null;
  if (row) return { id: row.id, created: true };
  const prev = q(db, "byKey").get(j.queue, key) as { id: number } | null;
  if (!prev) throw new Error("job neither inserted nor found by idempotency key");
  return { id: prev.id, created: false };
}

export function claimJobs(db: Db, queue: string, now: number, leaseMs: number, token: string, limit: number): JobRow[] {
  const rows = q(db, "claim").all(queue, now, token, now + leaseMs, limit) as JobRow[];
  // RETURNING does not promise an order: hand them out oldest first.
  return rows.sort((a, b) => a.run_at - b.run_at || a.id - b.id);
}

/** Ends a job (succeeded | failed | dead) if the caller still holds its lease. */
export function finishJob(db: Db, id: number, token: string, state: "succeeded" | "failed" | "dead", now: number, error: string | null = null): boolean {
  return q(db, "finish").run(id, token, state, now, error).changes === 1;
}

/** Puts a failed attempt back to run again at `runAt` if the caller still holds its lease. */
export function retryJob(db: Db, id: number, token: string, runAt: number, error: string): boolean {
  return q(db, "retry").run(id, token, runAt, error).changes === 1;
}

/** Puts a job back without counting the attempt (rate limits, ordering). */
export function snoozeJob(db: Db, id: number, token: string, runAt: number): boolean {
  return q(db, "snooze").run(id, token, runAt).changes === 1;
}

/** The earliest time something in the queue becomes claimable, or null when nothing will. */
export function nextDue(db: Db, queue: string): number | null {
  return (q(db, "nextRunAt").get(queue) as { t: number | null }).t;
}

/** Makes an available job due now (used to wake the next message of an ordered webhook). */
export function wakeJob(db: Db, id: number, now: number): void {
  q(db, "wake").run(id, now);
}

export function getJob(db: Db, id: number): JobRow | null {
  return db.$client.query("SELECT * FROM jobs WHERE id = ?1").get(id) as JobRow | null;
}

export function countJobsByState(db: Db, queue?: string): Record<JobState, number> {
  const rows = (
    queue
      ? db.$client.query("SELECT state, count(*) AS n FROM jobs WHERE queue = ?1 GROUP BY state").all(queue)
      : db.$client.query("SELECT state, count(*) AS n FROM jobs GROUP BY state").all()
  ) as { state: JobState; n: number }[];
  const out = { available: 0, running: 0, succeeded: 0, failed: 0, dead: 0 };
  for (const r of rows) out[r.state] = r.n;
  return out;
}

/** Deletes finished jobs older than `before`. */
export function pruneJobs(db: Db, before: number): number {
  return db.$client
    .query("DELETE FROM jobs WHERE state IN ('succeeded', 'failed', 'dead') AND finished_at < ?1")
    .run(before).changes;
}
