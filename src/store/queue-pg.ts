// The PostgreSQL implementation of the queue contract (src/store/queue-contract.ts; the design
// notes are there). Every unit is one transaction; every deadline is the database clock (NOW_MS).
// The lane planning (fair share, GCRA rate, in-flight cap, hold, next_at) is the pure arithmetic of
// src/core/lanes.ts, shared with claimLanePass in src/store/jobs.ts; the contract tests hold both to it.
import type postgres from "postgres";
import type { JobRow, JobState, LaneRow } from "./jobs";
import { laneAfterClaim, laneNextAt, planLane } from "../core/lanes";
import type { ClaimedJob, ClaimRequest, EnqueueJob, LanePolicy, Outcome, QueueStore } from "./queue-contract";
import { pgApplyEffects, pgStartAttempts } from "./pg/queue-effects";
import { inTx, type PgConn } from "./contract";
import { runsOf, settleRun } from "./pg/settle-batch";

/** the database clock in epoch ms; clock_timestamp(), not now(): a long transaction still sees time pass */
const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/** the unit's transaction (or, for a unit that is one statement, the pool) */
type Tx = PgConn;

export const JOB_COLS = "id, queue, kind, payload, state, attempt, max_attempts, run_at, lease_until, lease_token, last_error, idempotency_key, created_at, finished_at, lane, lease_owner";

const byAge = (a: JobRow, b: JobRow) => a.run_at - b.run_at || a.id - b.id;

export async function dbNow(tx: Tx): Promise<number> {
  const [r] = await tx.unsafe(`SELECT ${NOW_MS} AS t`);
  return Number(r!.t);
}

/** Inserts a batch with one multi-row statement (unnest), then wakes the lanes it touched. */
export async function enqueueRows(tx: Tx, jobs: EnqueueJob[]): Promise<{ id: number; created: boolean }[]> {
  const r = await insertJobRows(tx, jobs);
  await touchLanes(tx, r.wake);
  return r.out;
}

/** Where each lane of an enqueue is to be woken (its earliest new job) and what its backlog gains. */
export type LaneTouch = { lane: string; queue: string; at: number; backlog: number };

/**
 * The insert of enqueueRows without its lane wake-up: the caller runs touchLanes (with any backlog
 * change of the same lanes) later in the same transaction — as its last statement before the
 * commit, when it can: the lane rows are then locked only for the commit, not for the statements
 * in between (claims pass over a locked lane; settles wait for it).
 */
export async function insertJobRows(tx: Tx, jobs: EnqueueJob[]): Promise<{ out: { id: number; created: boolean }[]; wake: LaneTouch[] }> {
  if (jobs.length === 0) return { out: [], wake: [] };
  const now = await dbNow(tx);
  const col = <T>(f: (j: EnqueueJob) => T) => jobs.map(f);
  const inserted = await tx.unsafe(
    `INSERT INTO jobs (queue, kind, payload, state, attempt, max_attempts, run_at, idempotency_key, created_at, lane)
     SELECT u.queue, u.kind, u.payload, 'available', 0, u.max_attempts, $8::bigint + u.delay, u.ikey, $8::bigint, u.lane
       FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::text[], $7::text[])
            WITH ORDINALITY AS u(queue, kind, payload, max_attempts, delay, ikey, lane, ord)
      ORDER BY u.ord
     ON CONFLICT DO NOTHING
     RETURNING id, queue, idempotency_key, lane, run_at`,
    [
      col((j) => j.queue),
      col((j) => j.kind),
      col((j) => JSON.stringify(j.payload ?? null)),
      col((j) => j.maxAttempts ?? 0),
      col((j) => Math.max(0, Math.round(j.delayMs ?? 0))),
      col((j) => j.idempotencyKey ?? null),
      col((j) => j.lane ?? null),
      now,
    ] as any[],
  );
  // identities are drawn in insertion order (ORDER BY ord): the keyless rows come back by id order
  const rows = [...inserted].map((r) => ({ id: Number(r.id), queue: r.queue as string, key: r.idempotency_key as string | null, lane: r.lane as string | null, runAt: Number(r.run_at) }));
  rows.sort((a, b) => a.id - b.id);
  const keyed = new Map(rows.filter((r) => r.key !== null).map((r) => [`${r.queue}\u0000${r.key}`, r.id]));
  const keyless = rows.filter((r) => r.key === null);
  const out: { id: number; created: boolean }[] = [];
  const seen = new Set<string>();
  let k = 0;
  for (const j of jobs) {
    if (!j.idempotencyKey) {
      out.push({ id: keyless[k++]!.id, created: true });
      continue;
    }
    const name = `${j.queue}\u0000${j.idempotencyKey}`;
    const id = keyed.get(name);
    if (id !== undefined && !seen.has(name)) {
      seen.add(name);
      out.push({ id, created: true });
      continue;
    }
    const [prev] = await tx`SELECT id FROM jobs WHERE queue = ${j.queue} AND idempotency_key = ${j.idempotencyKey}`;
    if (!prev) throw new Error("job neither inserted nor found by idempotency key");
    out.push({ id: Number(prev.id), created: false });
  }
  // wake each lane once, at its earliest new job
  const wake = new Map<string, LaneTouch>();
  for (const r of rows) if (r.lane && (!wake.has(r.lane) || wake.get(r.lane)!.at > r.runAt)) wake.set(r.lane, { lane: r.lane, queue: r.queue, at: r.runAt, backlog: 0 });
  return { out, wake: [...wake.values()] };
}

/**
 * Wakes lanes that got new jobs, at their earliest new job but never before their next token or
 * hold, nor while they are full (the settle that frees them wakes them), and adds to their
 * backlog counters: one statement for all of them, the rows locked in lane order. The upsert
 * locks each row and decides on its latest version (ON CONFLICT DO UPDATE), so a claim that held
 * the row and saw none of these (uncommitted) jobs cannot leave the lane asleep after it.
 */
export async function touchLanes(tx: Tx, touches: LaneTouch[]): Promise<void> {
  if (touches.length === 0) return;
  const ts = [...touches].sort((a, b) => (a.lane < b.lane ? -1 : a.lane > b.lane ? 1 : 0));
  await tx.unsafe(
    `INSERT INTO job_lanes (lane, queue, next_at, backlog)
     SELECT u.lane, u.queue, u.at, u.n FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS u(lane, queue, at, n, ord) ORDER BY u.ord
     ON CONFLICT (lane) DO UPDATE SET
       backlog = greatest(0, job_lanes.backlog + excluded.backlog),
       next_at = CASE WHEN job_lanes."full" = 0 AND (job_lanes.next_at IS NULL OR job_lanes.next_at > greatest(excluded.next_at, job_lanes.ready_at))
                      THEN greatest(excluded.next_at, job_lanes.ready_at) ELSE job_lanes.next_at END`,
    [ts.map((t) => t.lane), ts.map((t) => t.queue), ts.map((t) => t.at), ts.map((t) => t.backlog)] as any[],
  );
}

/** Plain jobs (no lane): due ones and ones whose lease ran out, oldest first, in one statement. */
async function claimPlain(tx: Tx, queue: string, r: ClaimRequest): Promise<JobRow[]> {
  if (r.limit <= 0) return [];
  const rows = await tx.unsafe(
    `WITH t AS (SELECT ${NOW_MS} AS now),
     picked AS (
       SELECT j.id FROM jobs j, t
        WHERE j.queue = $1 AND j.lane IS NULL
          AND ((j.state = 'available' AND j.run_at <= t.now) OR (j.state = 'running' AND j.lease_until <= t.now))
        ORDER BY CASE WHEN j.state = 'available' THEN j.run_at ELSE j.lease_until END, j.id
        LIMIT $2
        FOR UPDATE OF j SKIP LOCKED)
     UPDATE jobs SET state = 'running', attempt = jobs.attempt + 1, lease_token = $3, lease_until = t.now + $4::bigint, lease_owner = $5
       FROM picked, t WHERE jobs.id = picked.id
     RETURNING ${JOB_COLS.split(", ").map((c) => `jobs.${c}`).join(", ")}`,
    [queue, r.limit, r.token, r.leaseMs, r.owner ?? null],
  );
  return rows.map(toJob).sort(byAge);
}

export function toJob(r: Record<string, unknown>): JobRow {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: Number(r.id),
    queue: r.queue as string,
    kind: r.kind as string,
    payload: r.payload as string,
    state: r.state as JobState,
    attempt: Number(r.attempt),
    max_attempts: Number(r.max_attempts),
    run_at: Number(r.run_at),
    lease_until: n(r.lease_until),
    lease_token: (r.lease_token as string | null) ?? null,
    last_error: (r.last_error as string | null) ?? null,
    idempotency_key: (r.idempotency_key as string | null) ?? null,
    created_at: Number(r.created_at),
    finished_at: n(r.finished_at),
    lane: (r.lane as string | null) ?? null,
    lease_owner: (r.lease_owner as string | null) ?? null,
  };
}

/** One pass over the due lanes (claimLanePass of jobs.ts, with the lane rows locked SKIP LOCKED). */
async function claimLanePass(tx: Tx, queue: string, r: ClaimRequest, limit: number): Promise<{ jobs: JobRow[]; lanes: number; now: number }> {
  const now = await dbNow(tx);
  if (limit <= 0) return { jobs: [], lanes: 0, now };
  const lanes = (await tx`SELECT * FROM job_lanes WHERE queue = ${queue} AND next_at IS NOT NULL AND next_at <= ${now}
                          ORDER BY next_at LIMIT ${limit} FOR UPDATE SKIP LOCKED`).map((l) => ({
    ...(l as any),
    next_at: l.next_at === null ? null : Number(l.next_at),
    ready_at: Number(l.ready_at),
    tat: Number(l.tat),
    hold_until: Number(l.hold_until),
    rate: Number(l.rate),
    burst: Number(l.burst),
    ordered: Number(l.ordered),
    full: Number(l.full),
  })) as LaneRow[];
  const out: JobRow[] = [];
  let room = limit;
  for (let i = 0; i < lanes.length && room > 0; i++) {
    const l = lanes[i]!;
    const running = (await tx`SELECT id, lease_until FROM jobs WHERE lane = ${l.lane} AND state = 'running'`).map((x) => ({ id: Number(x.id), lease_until: Number(x.lease_until) }));
    // fair share, cap, tokens, hold: the arithmetic both stores share (src/core/lanes.ts)
    const plan = planLane(l, now, room, lanes.length - i, r.laneMaxInflight, running);
    let claimed: JobRow[] = [];
    if (plan.slots > 0) {
      const rows = await tx.unsafe(
        `UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_token = $3, lease_until = $4::bigint, lease_owner = $7
          WHERE id = ANY($5::bigint[])
             OR id IN (SELECT id FROM jobs WHERE lane = $1 AND state = 'available' AND run_at <= $2::bigint
                        ORDER BY run_at, id LIMIT $6 FOR UPDATE SKIP LOCKED)
          RETURNING ${JOB_COLS}`,
        [l.lane, now, r.token, now + r.leaseMs, plan.retake, plan.slots - plan.retake.length, r.owner ?? null],
      );
      claimed = rows.map(toJob);
      out.push(...claimed);
      room -= claimed.length;
    }
    const after = laneAfterClaim(l, plan, now, claimed.length, running, r.leaseMs);
    let oldest: number | null = null;
    if (!after.full) {
      const [m] = await tx`SELECT min(run_at) AS t FROM jobs WHERE lane = ${l.lane} AND state = 'available'`;
      oldest = m!.t === null ? null : Number(m!.t);
    }
    await tx`UPDATE job_lanes SET next_at = ${laneNextAt(after, now, oldest)}, ready_at = ${after.ready_at}, tat = ${after.tat}, "full" = ${after.full} WHERE lane = ${l.lane}`;
  }
  return { jobs: out, lanes: lanes.length, now };
}

async function claimIn(tx: Tx, queue: string, r: ClaimRequest): Promise<ClaimedJob[]> {
  const jobs = await claimPlain(tx, queue, r);
  const lane: JobRow[] = [];
  let now: number | null = null;
  for (let pass = 0; pass < 3 && jobs.length + lane.length < r.limit; pass++) {
    const got = await claimLanePass(tx, queue, r, r.limit - jobs.length - lane.length);
    now = got.now;
    lane.push(...got.jobs);
    // a pass over one lane gave it all it could take (its fair share was the whole room): another
    // pass would only read the due lanes again (one webhook's claims: two statements less each)
    if (got.jobs.length === 0 || got.lanes <= 1) break;
  }
  const claimed = jobs.concat(lane.sort(byAge));
  // the attempts start at the claim's time (the last pass's database clock)
  return r.startAttempt && claimed.length ? pgStartAttempts(tx, claimed, r.startAttempt, now ?? (await dbNow(tx))) : claimed;
}

export async function freed(tx: Tx, lane: string | null | undefined): Promise<void> {
  if (!lane) return;
  await tx.unsafe(
    `UPDATE job_lanes SET "full" = 0, next_at = greatest(${NOW_MS}, ready_at)
      WHERE lane = $1 AND ("full" = 1 OR next_at IS NULL OR next_at > greatest(${NOW_MS}, ready_at))`,
    [lane],
  );
}

async function applyOutcome(tx: Tx, o: Outcome): Promise<boolean> {
  const fence = "WHERE id = $1 AND lease_token = $2 AND state = 'running'";
  if (o.action === "finish") {
    const r = await tx.unsafe(
      `UPDATE jobs SET state = $3, finished_at = ${NOW_MS}, last_error = $4, lease_token = NULL, lease_until = NULL, lease_owner = NULL ${fence}`,
      [o.id, o.token, o.state, o.error ?? null],
    );
    if (r.count === 1) await freed(tx, o.lane);
    return r.count === 1;
  }
  if (o.action === "retry") {
    if (o.lane) {
      const [l] = await tx`SELECT ordered FROM job_lanes WHERE lane = ${o.lane}`;
      if (l && Number(l.ordered)) {
        // an ordered lane keeps the job at its head; the whole lane waits instead
        const r = await tx.unsafe(`UPDATE jobs SET state = 'available', last_error = $3, lease_token = NULL, lease_until = NULL, lease_owner = NULL ${fence}`, [o.id, o.token, o.error]);
        if (r.count === 1) {
          await tx.unsafe(
            `UPDATE job_lanes SET "full" = 0, hold_until = h.t, ready_at = greatest(ready_at, h.t), next_at = greatest(ready_at, h.t)
               FROM (SELECT ${NOW_MS} + $2::bigint AS t) h WHERE lane = $1`,
            [o.lane, o.delayMs],
          );
        }
        return r.count === 1;
      }
    }
    const r = await tx.unsafe(
      `UPDATE jobs SET state = 'available', run_at = ${NOW_MS} + $3::bigint, last_error = $4, lease_token = NULL, lease_until = NULL, lease_owner = NULL ${fence}`,
      [o.id, o.token, o.delayMs, o.error],
    );
    if (r.count === 1) await freed(tx, o.lane);
    return r.count === 1;
  }
  const r = await tx.unsafe(
    `UPDATE jobs SET state = 'available', run_at = ${NOW_MS} + $3::bigint, attempt = attempt - 1, lease_token = NULL, lease_until = NULL, lease_owner = NULL ${fence}`,
    [o.id, o.token, o.delayMs],
  );
  if (r.count === 1) await freed(tx, o.lane);
  return r.count === 1;
}

/** Creates or updates a lane's policy and wakes it (next_at: the database clock). */
export async function syncLaneIn(tx: Tx, lane: string, p: LanePolicy): Promise<void> {
  const burst = Math.max(1, Math.ceil(p.rate));
  await tx.unsafe(
    `INSERT INTO job_lanes (lane, queue, rate, burst, ordered, next_at) VALUES ($1, $2, $3, $4, $5, ${NOW_MS})
     ON CONFLICT (lane) DO UPDATE SET rate = excluded.rate, burst = excluded.burst, ordered = excluded.ordered,
       tat = CASE WHEN excluded.rate = job_lanes.rate THEN job_lanes.tat ELSE 0 END,
       ready_at = CASE WHEN excluded.rate = job_lanes.rate THEN job_lanes.ready_at ELSE job_lanes.hold_until END,
       "full" = 0, next_at = greatest(excluded.next_at, job_lanes.hold_until)`,
    [lane, p.queue, p.rate, burst, p.ordered ? 1 : 0],
  );
}

/** the earliest time something of queue $1 becomes claimable (null: nothing will) */
const DUE_SQL = `(SELECT min(t) FROM (
   SELECT min(run_at) AS t FROM jobs WHERE queue = $1 AND state = 'available' AND lane IS NULL
   UNION ALL SELECT min(lease_until) FROM jobs WHERE queue = $1 AND state = 'running' AND lane IS NULL
   UNION ALL SELECT min(next_at) FROM job_lanes WHERE queue = $1 AND next_at IS NOT NULL) x)`;

export function pgQueue(sql: postgres.Sql<{}>): QueueStore {
  const begin = <T>(f: (tx: Tx) => Promise<T>): Promise<T> => inTx(sql, f);
  return {
    kind: "postgres",
    now: () => dbNow(sql),
    enqueue: (jobs) => begin((tx) => enqueueRows(tx, jobs)),
    claim: (queue, req) => begin((tx) => claimIn(tx, queue, req)),
    settle: (outcomes, next) =>
      begin(async (tx) => {
        const held: boolean[] = outcomes.map(() => false);
        const errors: (string | null)[] = outcomes.map(() => null);
        const now = outcomes.some((o) => o.effects?.length) ? await dbNow(tx) : 0;
        // runs of outcomes settled with multi-row statements, the others one at a time (pg/settle-batch.ts)
        for (const run of runsOf(outcomes)) {
          if (run.fast) {
            const r = await settleRun(tx, run.items.map((x) => x.o), now);
            run.items.forEach((x, k) => {
              held[x.i] = r.held[k]!;
              errors[x.i] = r.errors[k]!;
            });
            continue;
          }
          const { o, i } = run.items[0]!;
          held[i] = await applyOutcome(tx, o);
          // a settle whose lease was lost changes nothing: its effects are not applied either
          errors[i] = held[i] ? await pgApplyEffects(tx, o.effects, now) : null;
        }
        return { held, errors, claimed: next ? await claimIn(tx, next.queue, next.req) : [] };
      }),
    reclaim: () =>
      begin(async (tx) => {
        // replicas: only leases that ran out by the database clock; a live replica keeps its own
        const rows = await tx.unsafe(
          `UPDATE jobs SET state = 'available', lease_token = NULL, lease_until = NULL, lease_owner = NULL
            WHERE state = 'running' AND lease_until <= ${NOW_MS} RETURNING ${JOB_COLS}`,
        );
        const lanes = [...new Set(rows.map((r) => r.lane as string | null).filter((l): l is string => !!l))];
        for (const l of lanes) await freed(tx, l);
        return rows.map(toJob);
      }),
    syncLane: (lane, p) => begin((tx) => syncLaneIn(tx, lane, p)),
    async counts(queue) {
      const rows = await sql`SELECT state, count(*)::int AS n FROM jobs WHERE queue = ${queue} GROUP BY state`;
      const out = { available: 0, running: 0, succeeded: 0, failed: 0, dead: 0 };
      for (const r of rows) out[r.state as JobState] = Number(r.n);
      return out;
    },
    async nextDue(queue) {
      const [r] = await sql.unsafe(`SELECT ${DUE_SQL} AS t`, [queue]);
      return r!.t === null ? null : Number(r!.t);
    },
    async dueIn(queue) {
      const [r] = await sql.unsafe(`SELECT ${DUE_SQL} - ${NOW_MS} AS t`, [queue]);
      return r!.t === null ? null : Number(r!.t);
    },
    async get(id) {
      const [r] = await sql.unsafe(`SELECT ${JOB_COLS} FROM jobs WHERE id = $1`, [id]);
      return r ? toJob(r) : null;
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}
