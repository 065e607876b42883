// The job queue's SQL. Claim takes available jobs that are due and running jobs whose lease ran
// out in one UPDATE ... RETURNING; finish/fail/snooze are fenced by (id, lease_token).
//
// Jobs with a lane (webhook deliveries: lane = webhook id) are claimed through job_lanes instead:
// a claim reads the lanes whose next_at has come (oldest first: round robin), and from each a
// bounded number of its oldest due jobs, as many as the lane's rate limit (GCRA on `tat`), its
// in-flight cap and a fair share of the free slots allow; then it writes the lane's next_at (the
// next token, the next due job, the earliest lease end, or null when the lane is empty). A lane that
// cannot send now is never read, so its waiting jobs are never touched: the cost of a claim does
// not depend on how many jobs wait. Every statement is a keyed lookup or a short index range, and
// ports to PostgreSQL as is (the lane rows and then the job rows with FOR UPDATE SKIP LOCKED).
import type { Bound } from "./contract";
import type { Db } from "../db/client";
import { laneAfterClaim, laneNextAt, planLane, type LaneRunning } from "../core/lanes";

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
  /** the replica holding the lease (ClaimRequest.owner), null when none is held or the claim named none */
  lease_owner: string | null;
  last_error: string | null;
  idempotency_key: string | null;
  created_at: number;
  finished_at: number | null;
  lane: string | null;
};

export type NewJob = {
  queue: string;
  kind: string;
  payload: unknown;
  /** attempts in all; 0 = unlimited */
  maxAttempts?: number;
  runAt?: number;
  idempotencyKey?: string | null;
  /** claimed through this lane of job_lanes (see syncLane) */
  lane?: string | null;
};

export type LaneRow = {
  lane: string;
  queue: string;
  next_at: number | null;
  ready_at: number;
  tat: number;
  hold_until: number;
  rate: number;
  burst: number;
  ordered: number;
  full: number;
  backlog: number;
  dropped: number;
  drop_noted_at: number | null;
  drop_noted_count: number;
};

// bun:sqlite's query() compiles each statement once per connection and caches it.
const STMT = {
  insert: `INSERT INTO jobs (queue, kind, payload, state, attempt, max_attempts, run_at, idempotency_key, created_at, lane)
         VALUES (?1, ?2, ?3, 'available', 0, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING RETURNING id`,
  byKey: "SELECT id FROM jobs WHERE queue = ?1 AND idempotency_key = ?2",
  claim: `UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_token = ?3, lease_until = ?4, lease_owner = ?6
         WHERE id IN (
           SELECT id FROM (
             SELECT id, run_at FROM jobs WHERE queue = ?1 AND state = 'available' AND run_at <= ?2 AND lane IS NULL
             UNION ALL
             SELECT id, lease_until FROM jobs WHERE queue = ?1 AND state = 'running' AND lease_until <= ?2 AND lane IS NULL
           ) ORDER BY run_at, id LIMIT ?5)
         RETURNING *`,
  finish: `UPDATE jobs SET state = ?3, finished_at = ?4, last_error = ?5, lease_token = NULL, lease_until = NULL, lease_owner = NULL
         WHERE id = ?1 AND lease_token = ?2 AND state = 'running'`,
  retry: `UPDATE jobs SET state = 'available', run_at = ?3, last_error = ?4, lease_token = NULL, lease_until = NULL, lease_owner = NULL
         WHERE id = ?1 AND lease_token = ?2 AND state = 'running'`,
  snooze: `UPDATE jobs SET state = 'available', run_at = ?3, attempt = attempt - 1, lease_token = NULL, lease_until = NULL, lease_owner = NULL
         WHERE id = ?1 AND lease_token = ?2 AND state = 'running'`,
  nextRunAt: `SELECT min(t) AS t FROM (
           SELECT min(run_at) AS t FROM jobs WHERE queue = ?1 AND state = 'available' AND lane IS NULL
           UNION ALL SELECT min(lease_until) FROM jobs WHERE queue = ?1 AND state = 'running' AND lane IS NULL
           UNION ALL SELECT min(next_at) FROM job_lanes WHERE queue = ?1 AND next_at IS NOT NULL)`,
  // lanes
  dueLanes: "SELECT * FROM job_lanes WHERE queue = ?1 AND next_at IS NOT NULL AND next_at <= ?2 ORDER BY next_at LIMIT ?3",
  laneRunning: "SELECT id, lease_until FROM jobs WHERE lane = ?1 AND state = 'running'",
  laneDue: "SELECT id FROM jobs WHERE lane = ?1 AND state = 'available' AND run_at <= ?2 ORDER BY run_at, id LIMIT ?3",
  laneNextRun: "SELECT min(run_at) AS t FROM jobs WHERE lane = ?1 AND state = 'available'",
  laneSet: "UPDATE job_lanes SET next_at = ?2, ready_at = ?3, tat = ?4, full = ?5 WHERE lane = ?1",
  // an enqueue wakes an idle (or later-scheduled) lane, never earlier than its next token or hold.
  // It writes only when the lane is idle or waits on a later time, so a busy lane costs ingest a
  // keyed read. (PostgreSQL: a plain conditional UPDATE, as ON CONFLICT DO UPDATE locks the row even
  // when its WHERE is false; and a lane parked as idle is re-checked every few seconds, as a claim
  // and an enqueue can pass each other there.)
  laneWake: `INSERT INTO job_lanes (lane, queue, next_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (lane) DO UPDATE SET next_at = max(excluded.next_at, ready_at)
         WHERE full = 0 AND (next_at IS NULL OR next_at > max(excluded.next_at, ready_at))`,
  // a finish frees a slot: look at the lane again from its next token on
  laneFreed: `UPDATE job_lanes SET full = 0, next_at = max(?2, ready_at)
         WHERE lane = ?1 AND (full = 1 OR next_at IS NULL OR next_at > max(?2, ready_at))`,
  laneHold: `UPDATE job_lanes SET full = 0, hold_until = ?2, ready_at = max(ready_at, ?2), next_at = max(ready_at, ?2) WHERE lane = ?1`,
  laneOrdered: "SELECT ordered FROM job_lanes WHERE lane = ?1",
  retryKeep: `UPDATE jobs SET state = 'available', last_error = ?3, lease_token = NULL, lease_until = NULL, lease_owner = NULL
         WHERE id = ?1 AND lease_token = ?2 AND state = 'running'`,
  wake: "UPDATE jobs SET run_at = ?2 WHERE id = ?1 AND state = 'available' AND run_at > ?2",
};
const q = (db: Db, name: keyof typeof STMT) => db.$client.query(STMT[name]);

/**
 * Inserts a job (call it inside the caller's transaction). With an idempotency key already used in
 * this queue, nothing is inserted and the existing job's id is returned with created = false.
 */
export function insertJob(db: Db, j: NewJob, now: number): { id: number; created: boolean } {
  const key = j.idempotencyKey ?? null;
  const runAt = j.runAt ?? now;
  const row = q(db, "insert").get(j.queue, j.kind, JSON.stringify(j.payload ?? null), j.maxAttempts ?? 0, runAt, key, now, j.lane ?? null) as
    | { id: number }
    | null;
  if (row) {
    if (j.lane) q(db, "laneWake").run(j.lane, j.queue, runAt);
    return { id: row.id, created: true };
  }
  const prev = q(db, "byKey").get(j.queue, key) as { id: number } | null;
  if (!prev) throw new Error("job neither inserted nor found by idempotency key");
  return { id: prev.id, created: false };
}

export function claimJobs(db: Db, queue: string, now: number, leaseMs: number, token: string, limit: number, owner: string | null = null): JobRow[] {
  const rows = q(db, "claim").all(queue, now, token, now + leaseMs, limit, owner) as JobRow[];
  // RETURNING does not promise an order: hand them out oldest first.
  return rows.sort((a, b) => a.run_at - b.run_at || a.id - b.id);
}

export { LANE_TICK_MS } from "../core/lanes";

export type LaneClaimOptions = {
  /** jobs in flight per lane at most (an ordered lane: 1) */
  maxInflight: number;
  /** written on the claimed jobs as lease_owner (the claiming replica) */
  owner?: string | null;
};

/**
 * Claims up to `limit` due jobs of the queue's lanes (see the top of this file). Run it in a
 * transaction (the worker does, with the plain claim and the claim hooks).
 */
export function claimLaneJobs(db: Db, queue: string, now: number, leaseMs: number, token: string, limit: number, o: LaneClaimOptions): JobRow[] {
  // Fair share first; slots a lane left unused go round again to the lanes that could take more.
  const out: JobRow[] = [];
  for (let pass = 0; pass < 3 && out.length < limit; pass++) {
    const got = claimLanePass(db, queue, now, leaseMs, token, limit - out.length, o);
    if (got.length === 0) break;
    out.push(...got);
  }
  // RETURNING does not promise an order: hand them out oldest first.
  return out.sort((a, b) => a.run_at - b.run_at || a.id - b.id);
}

function claimLanePass(db: Db, queue: string, now: number, leaseMs: number, token: string, limit: number, o: LaneClaimOptions): JobRow[] {
  if (limit <= 0) return [];
  const lanes = q(db, "dueLanes").all(queue, now, limit) as LaneRow[];
  const out: JobRow[] = [];
  let room = limit;
  for (let i = 0; i < lanes.length && room > 0; i++) {
    const l = lanes[i];
    // running jobs of one lane are few (at most its cap, plus leases that ran out)
    const running = q(db, "laneRunning").all(l.lane) as LaneRunning[];
    // fair share, cap, tokens, hold: the arithmetic both stores share (src/core/lanes.ts)
    const plan = planLane(l, now, room, lanes.length - i, o.maxInflight, running);
    let ids: number[] = [];
    if (plan.slots > 0) {
      ids = plan.retake;
      if (ids.length < plan.slots) ids = ids.concat((q(db, "laneDue").all(l.lane, now, plan.slots - ids.length) as { id: number }[]).map((r) => r.id));
    }
    let claimed: JobRow[] = [];
    if (ids.length) {
      claimed = db.$client
        .query(
          `UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_token = ?1, lease_until = ?2, lease_owner = ?3
           WHERE id IN (${ids.map((id) => Number(id)).join(",")}) RETURNING *`,
        )
        .all(token, now + leaseMs, o.owner ?? null) as JobRow[];
      out.push(...claimed);
      room -= claimed.length;
    }
    const after = laneAfterClaim(l, plan, now, claimed.length, running, leaseMs);
    const oldest = after.full ? null : (q(db, "laneNextRun").get(l.lane) as { t: number | null }).t;
    q(db, "laneSet").run(l.lane, laneNextAt(after, now, oldest), after.ready_at, after.tat, after.full);
  }
  return out;
}

/** A lane's job ended or went back: its slot is free, look at the lane again. */
function freed(db: Db, lane: string | null | undefined, now: number): void {
  if (lane) q(db, "laneFreed").run(lane, now);
}

/** Ends a job (succeeded | failed | dead) if the caller still holds its lease. */
export function finishJob(
  db: Db,
  id: number,
  token: string,
  state: "succeeded" | "failed" | "dead",
  now: number,
  error: string | null = null,
  lane?: string | null,
): boolean {
  const held = q(db, "finish").run(id, token, state, now, error).changes === 1;
  if (held) freed(db, lane, now);
  return held;
}

/**
 * Puts a failed attempt back to run again at `runAt` if the caller still holds its lease. In an
 * ordered lane the job keeps its place at the head and the whole lane waits (hold_until) instead.
 */
export function retryJob(db: Db, id: number, token: string, runAt: number, error: string, lane?: string | null, now = 0): boolean {
  if (lane && (q(db, "laneOrdered").get(lane) as { ordered: number } | null)?.ordered) {
    const held = q(db, "retryKeep").run(id, token, error).changes === 1;
    if (held) q(db, "laneHold").run(lane, runAt);
    return held;
  }
  const held = q(db, "retry").run(id, token, runAt, error).changes === 1;
  if (held) freed(db, lane, now);
  return held;
}

/** Puts a job back without counting the attempt (flush spacing). */
export function snoozeJob(db: Db, id: number, token: string, runAt: number, lane?: string | null, now = 0): boolean {
  const held = q(db, "snooze").run(id, token, runAt).changes === 1;
  if (held) freed(db, lane, now);
  return held;
}

export type LanePolicy = { queue: string; rate: number; ordered: boolean };

/** Creates or updates a lane's policy (the webhook's rate limit and ordering) and wakes it. */
export function syncLane(db: Db, lane: string, p: LanePolicy, now: number): void {
  const burst = Math.max(1, Math.ceil(p.rate));
  db.$client
    .query(
      `INSERT INTO job_lanes (lane, queue, rate, burst, ordered, next_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
       ON CONFLICT (lane) DO UPDATE SET rate = excluded.rate, burst = excluded.burst, ordered = excluded.ordered,
         tat = CASE WHEN excluded.rate = rate THEN tat ELSE 0 END,
         ready_at = CASE WHEN excluded.rate = rate THEN ready_at ELSE hold_until END, full = 0, next_at = max(excluded.next_at, hold_until)`,
    )
    .run(lane, p.queue, p.rate, burst, p.ordered ? 1 : 0, now);
}

export function deleteLane(db: Db, lane: string): void {
  db.$client.query("DELETE FROM job_lanes WHERE lane = ?1").run(lane);
}

export function getLane(db: Db, lane: string): LaneRow | null {
  return db.$client.query("SELECT * FROM job_lanes WHERE lane = ?1").get(lane) as LaneRow | null;
}

/**
 * At start-up, with the data-directory lock held (no other process can hold a lease): every job
 * left running by the previous process is available again at once instead of after its lease,
 * and every lane is looked at again. Its attempt stays counted. Returns the jobs it released.
 */
export function reclaimAtStart(db: Db, now: number): JobRow[] {
  const rows = db.$client
    .query("UPDATE jobs SET state = 'available', lease_token = NULL, lease_until = NULL, lease_owner = NULL WHERE state = 'running' RETURNING *")
    .all() as JobRow[];
  db.$client.query("UPDATE job_lanes SET full = 0, next_at = max(?1, ready_at)").run(now);
  return rows;
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

/** A lane's backlog count (one keyed read). */
export function laneBacklog(db: Db, lane: string): number {
  return (db.$client.query("SELECT backlog FROM job_lanes WHERE lane = ?1").get(lane) as { backlog: number } | null)?.backlog ?? 0;
}

/**
 * Counts a message dropped by a lane's backlog cap. `report` is how many were dropped since the
 * last report when one is due (at most one per `everyMs`), else 0.
 */
export function noteLaneDrop(db: Db, lane: string, now: number, everyMs: number): { report: number; total: number } {
  const r = db.$client
    .query("UPDATE job_lanes SET dropped = dropped + 1 WHERE lane = ?1 RETURNING dropped, drop_noted_at AS at, drop_noted_count AS noted")
    .get(lane) as { dropped: number; at: number | null; noted: number } | null;
  if (!r) return { report: 0, total: 0 };
  if (r.at !== null && now - r.at < everyMs) return { report: 0, total: r.dropped };
  db.$client.query("UPDATE job_lanes SET drop_noted_at = ?2, drop_noted_count = dropped WHERE lane = ?1").run(lane, now);
  return { report: r.dropped - r.noted, total: r.dropped };
}

/**
 * Jobs of a queue in a state, for /metrics: the plain ones counted (index ranges), plus those of
 * its lanes. A lane's running and dead jobs are counted (a few: in-flight caps; dead ones until
 * pruned); its available ones are not (they may be millions): they are read off the lanes'
 * backlog counters (waiting messages) less the running ones, so a scrape never walks a backlog.
 */
export function countQueueState(db: Db, queue: string, state: JobState): number {
  const plain = (db.$client.query("SELECT count(*) AS n FROM jobs WHERE queue = ?1 AND state = ?2 AND lane IS NULL").get(queue, state) as { n: number }).n;
  const laneCount = (st: JobState) =>
    (
      db.$client
        .query("SELECT count(*) AS n FROM job_lanes l CROSS JOIN jobs j ON j.lane = l.lane AND j.state = ?2 WHERE l.queue = ?1")
        .get(queue, st) as { n: number }
    ).n;
  if (state !== "available") return plain + laneCount(state);
  const waiting = (db.$client.query("SELECT coalesce(sum(backlog), 0) AS n FROM job_lanes WHERE queue = ?1").get(queue) as { n: number }).n;
  return plain + Math.max(0, waiting - laneCount("running"));
}

/** Every lane of a queue with its backlog (metrics). */
export function listLanes(db: Db, queue: string): LaneRow[] {
  return db.$client.query("SELECT * FROM job_lanes WHERE queue = ?1 ORDER BY lane").all(queue) as LaneRow[];
}

/**
 * This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is
 * src/store/pg/jobs.ts. Enqueue, claim, settle, reclaim and lane policies are the queue contract
 * (store.queue, src/store/queue-contract.ts: units with deadlines from the store's clock); these
 * are the reads and housekeeping around it (metrics, backlog caps, pruning, deleted lanes).
 */
export const jobsFns = { getJob, getLane, countJobsByState, countQueueState, listLanes, laneBacklog, noteLaneDrop, pruneJobs, deleteLane };
export type JobsStore = Bound<typeof jobsFns>;
