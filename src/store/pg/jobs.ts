// The job queue's reads and housekeeping on PostgreSQL: the twin of jobsFns in src/store/jobs.ts.
// Enqueue, claim and settle are the queue contract (src/store/queue-pg.ts).
import { inTx, type PgConn, type PgTwin } from "../contract";
import type { JobRow, JobState, LaneRow, jobsFns } from "../jobs";
import { JOB_COLS, toJob } from "../queue-pg";

function toLane(l: Record<string, unknown>): LaneRow {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    lane: l.lane as string,
    queue: l.queue as string,
    next_at: n(l.next_at),
    ready_at: Number(l.ready_at),
    tat: Number(l.tat),
    hold_until: Number(l.hold_until),
    rate: Number(l.rate),
    burst: Number(l.burst),
    ordered: Number(l.ordered),
    full: Number(l.full),
    backlog: Number(l.backlog),
    dropped: Number(l.dropped),
    drop_noted_at: n(l.drop_noted_at),
    drop_noted_count: Number(l.drop_noted_count),
  };
}

async function getJob(pg: PgConn, id: number): Promise<JobRow | null> {
  const [r] = await pg.unsafe(`SELECT ${JOB_COLS} FROM jobs WHERE id = $1`, [id]);
  return r ? toJob(r) : null;
}

async function getLane(pg: PgConn, lane: string): Promise<LaneRow | null> {
  const [r] = await pg`SELECT * FROM job_lanes WHERE lane = ${lane}`;
  return r ? toLane(r) : null;
}

async function countJobsByState(pg: PgConn, queue?: string): Promise<Record<JobState, number>> {
  const rows = queue
    ? await pg`SELECT state, count(*) AS n FROM jobs WHERE queue = ${queue} GROUP BY state`
    : await pg`SELECT state, count(*) AS n FROM jobs GROUP BY state`;
  const out = { available: 0, running: 0, succeeded: 0, failed: 0, dead: 0 };
  for (const r of rows) out[r.state as JobState] = Number(r.n);
  return out;
}

/** See countQueueState in jobs.ts: a lane's waiting jobs are read off its backlog counter. */
async function countQueueState(pg: PgConn, queue: string, state: JobState): Promise<number> {
  const [r] = await pg`SELECT
      (SELECT count(*) FROM jobs WHERE queue = ${queue} AND state = ${state} AND lane IS NULL) AS plain,
      (SELECT count(*) FROM job_lanes l JOIN jobs j ON j.lane = l.lane AND j.state = ${state} WHERE l.queue = ${queue}) AS lane,
      (SELECT count(*) FROM job_lanes l JOIN jobs j ON j.lane = l.lane AND j.state = 'running' WHERE l.queue = ${queue}) AS running,
      (SELECT coalesce(sum(backlog), 0) FROM job_lanes WHERE queue = ${queue}) AS waiting`;
  const plain = Number(r!.plain);
  if (state !== "available") return plain + Number(r!.lane);
  return plain + Math.max(0, Number(r!.waiting) - Number(r!.running));
}

async function listLanes(pg: PgConn, queue: string): Promise<LaneRow[]> {
  return (await pg`SELECT * FROM job_lanes WHERE queue = ${queue} ORDER BY lane`).map(toLane);
}

async function laneBacklog(pg: PgConn, lane: string): Promise<number> {
  const [r] = await pg`SELECT backlog FROM job_lanes WHERE lane = ${lane}`;
  return r ? Number(r.backlog) : 0;
}

/** See noteLaneDrop in jobs.ts; the lane row is locked by the first update, so replicas report once. */
async function noteLaneDrop(pg: PgConn, lane: string, now: number, everyMs: number): Promise<{ report: number; total: number }> {
  return await inTx(pg, async (tx) => {
    const [r] = await tx`UPDATE job_lanes SET dropped = dropped + 1 WHERE lane = ${lane}
                         RETURNING dropped, drop_noted_at AS at, drop_noted_count AS noted`;
    if (!r) return { report: 0, total: 0 };
    const dropped = Number(r.dropped);
    if (r.at !== null && now - Number(r.at) < everyMs) return { report: 0, total: dropped };
    await tx`UPDATE job_lanes SET drop_noted_at = ${now}, drop_noted_count = dropped WHERE lane = ${lane}`;
    return { report: dropped - Number(r.noted), total: dropped };
  });
}

async function pruneJobs(pg: PgConn, before: number): Promise<number> {
  return (await pg`DELETE FROM jobs WHERE state IN ('succeeded', 'failed', 'dead') AND finished_at < ${before}`).count;
}

async function deleteLane(pg: PgConn, lane: string): Promise<void> {
  await pg`DELETE FROM job_lanes WHERE lane = ${lane}`;
}

export const pgJobsFns: PgTwin<typeof jobsFns> = { getJob, getLane, countJobsByState, countQueueState, listLanes, laneBacklog, noteLaneDrop, pruneJobs, deleteLane };
