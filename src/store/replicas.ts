// The replica registry (issue 12): which keepwatch processes run on this database, since when, and
// when each was last seen. On PostgreSQL a table shared by every replica (src/store/pg/replicas.ts);
// on SQLite the data-directory lock makes this process the only replica, so its registry is this
// process's own row, kept in memory (nothing to share, nothing to migrate).
//
// Liveness: each replica moves its `seen_at` every REPLICA_REFRESH_MS (the database clock on
// PostgreSQL); a replica not seen for REPLICA_DEAD_MS is dead; a clean stop marks it stopped at
// once. Rows of dead or stopped replicas are pruned after REPLICA_PRUNE_MS, except the newest one
// (it holds the cluster's last-seen time while no replica runs).
//
// Downtime: a replica that starts while no other is alive records the cluster's downtime it ends,
// (down_since, started_at]; heartbeat deadlines inside it do not count (the heartbeat gets a fresh
// period instead of a down flip), whichever replica sweeps them. On SQLite nothing is known of the
// time before this process started (down_since 0: every deadline before the start is downtime), as
// keepwatch always did.
//
// What each replica is doing (replicaWork): the jobs it holds leases on, by queue and kind (jobs.
// lease_owner, written by its claims and cleared by the settles: the same column on both stores), the
// housekeeping leases it holds (housekeeping_leases.holder is the replica id), and the counters it
// published with its last refresh (stats: on PostgreSQL a column written by the refresh itself, no
// round trip of its own; on SQLite this process's row in memory).
import type { Bound } from "./contract";
import type { Db } from "../db/client";

/** How often a replica moves its seen_at. */
export const REPLICA_REFRESH_MS = 1000;
/** A replica not seen for this long is dead (five missed refreshes). */
export const REPLICA_DEAD_MS = 5000;
/** Rows of dead or stopped replicas are deleted after this long (the newest row stays). */
export const REPLICA_PRUNE_MS = 24 * 3600_000;
/** At most this many recent downtimes are looked at by a heartbeat sweep. */
export const DOWNTIME_GAPS = 20;

/** What a replica says about itself when it registers (and on every refresh). */
export type ReplicaInfo = { id: string; host: string; pid: number; version: string; listen: string };

export type ReplicaState = "alive" | "dead" | "stopped";

/** What a replica counted since its start, published with each refresh (no round trip of its own). */
export type ReplicaStats = {
  /** ingest requests answered, any status */
  ingestRequests: number;
  /** events committed by its group commits */
  eventsStored: number;
  /** outbound webhook attempts made */
  deliveryAttempts: number;
};

export type ReplicaRow = ReplicaInfo & {
  startedAt: number;
  seenAt: number;
  stoppedAt: number | null;
  /** the start of the cluster downtime this replica's start ended; null when another was alive */
  downSince: number | null;
  state: ReplicaState;
  /** its counters as of its last refresh (null before the first) */
  stats: ReplicaStats | null;
};

/** Jobs leased by one owner, of one queue and kind (replicaWork). */
export type LeasedJobs = {
  /** the replica holding them (jobs.lease_owner); null: claimed by a keepwatch that did not record it */
  owner: string | null;
  queue: string;
  kind: string;
  count: number;
  /** how many of them are past their lease end (another replica may take them over) */
  expired: number;
  /** the earliest lease end among them */
  firstLeaseEnd: number;
};

/** A housekeeping lease being held now (housekeeping_leases: lease_until still ahead). */
export type HeldHousekeeping = { name: string; holder: string; leaseUntil: number };

/** What the replicas are doing at `now` (the store's clock; PostgreSQL: the database's). */
export type ReplicaWork = { now: number; jobs: LeasedJobs[]; housekeeping: HeldHousekeeping[] };

/** A time the cluster was not running: heartbeat deadlines in (from, to] do not count. */
export type Downtime = { from: number; to: number };

export type Registration = { startedAt: number; downtime: Downtime | null; alive: number };

/** The state of a row at `now` (both stores). */
export function stateAt(seenAt: number, stoppedAt: number | null, now: number): ReplicaState {
  if (stoppedAt !== null) return "stopped";
  return seenAt >= now - REPLICA_DEAD_MS ? "alive" : "dead";
}

/** Whether a deadline fell in one of the downtimes (both stores' heartbeat sweeps). */
export function inDowntime(deadline: number, gaps: Downtime[]): boolean {
  return gaps.some((g) => deadline > g.from && deadline <= g.to);
}

// -- SQLite: this process's rows, in memory, per database file (a test process serves several).

type Memory = { rows: Map<string, Omit<ReplicaRow, "state">> };
const memory = new Map<string, Memory>();
function memOf(db: Db): Memory {
  const file = (db.$client as unknown as { filename: string }).filename;
  let m = memory.get(file);
  if (!m) memory.set(file, (m = { rows: new Map() }));
  return m;
}

/**
 * Registers this process. On SQLite no other process can run on the data directory (its lock), so
 * an earlier row of this process (an in-process restart) is stopped, and the downtime before the
 * start is unknown: (0, now], as keepwatch has always counted it.
 */
export function register(db: Db, r: ReplicaInfo, now: number): Registration {
  const m = memOf(db);
  for (const row of m.rows.values()) if (row.stoppedAt === null) row.stoppedAt = row.seenAt;
  const downtime = { from: 0, to: now };
  m.rows.set(r.id, { ...r, startedAt: now, seenAt: now, stoppedAt: null, downSince: 0, stats: null });
  return { startedAt: now, downtime, alive: 1 };
}

/**
 * Moves this replica's seen_at (re-registering it without a downtime if its row is gone) and, when
 * given, publishes its counters; returns how many replicas are alive.
 */
export function refresh(db: Db, r: ReplicaInfo, now: number, stats: ReplicaStats | null = null): number {
  const m = memOf(db);
  const row = m.rows.get(r.id);
  if (row) Object.assign(row, { seenAt: now, stoppedAt: null }, stats ? { stats } : {});
  else m.rows.set(r.id, { ...r, startedAt: now, seenAt: now, stoppedAt: null, downSince: null, stats });
  return [...m.rows.values()].filter((x) => stateAt(x.seenAt, x.stoppedAt, now) === "alive").length;
}

/** A clean stop: the row is stopped now (kept: it holds the cluster's last-seen time). */
export function deregister(db: Db, id: string, now: number): void {
  const row = memOf(db).rows.get(id);
  if (row) Object.assign(row, { seenAt: now, stoppedAt: now });
}

/** A replica that did not stop cleanly and is known gone: stopped as of its last refresh (its seen_at stays). */
export function markDead(db: Db, id: string): void {
  const row = memOf(db).rows.get(id);
  if (row && row.stoppedAt === null) row.stoppedAt = row.seenAt;
}

/** Every replica on record, newest start first, with its state at `now`. */
export function listReplicas(db: Db, now: number): { now: number; replicas: ReplicaRow[] } {
  const rows = [...memOf(db).rows.values()].sort((a, b) => b.startedAt - a.startedAt || b.id.localeCompare(a.id));
  return { now, replicas: rows.map((r) => ({ ...r, state: stateAt(r.seenAt, r.stoppedAt, now) })) };
}

/** The recent downtimes of the cluster (newest first, at most DOWNTIME_GAPS). */
export function downtimes(db: Db): Downtime[] {
  return [...memOf(db).rows.values()]
    .filter((r) => r.downSince !== null)
    .sort((a, b) => b.startedAt - a.startedAt)
    .slice(0, DOWNTIME_GAPS)
    .map((r) => ({ from: r.downSince!, to: r.startedAt }));
}

/** Deletes rows of replicas dead or stopped for REPLICA_PRUNE_MS, except the newest; returns how many. */
export function pruneReplicas(db: Db, now: number): number {
  const m = memOf(db);
  const newest = Math.max(...[...m.rows.values()].map((r) => r.seenAt));
  let n = 0;
  for (const [id, r] of m.rows)
    if (r.seenAt < now - REPLICA_PRUNE_MS && r.seenAt < newest && stateAt(r.seenAt, r.stoppedAt, now) !== "alive") {
      m.rows.delete(id);
      n++;
    }
  return n;
}

type LeaseGroup = { owner: string | null; queue: string; kind: string; n: number; expired: number; first: number };

/**
 * What the replicas are doing: the running jobs of `queues` by lease owner, queue and kind (index
 * ranges: the plain jobs on jobs_claim, the lanes' through job_lanes on jobs_lane, as
 * countQueueState reads them; running jobs are few), and the housekeeping leases held now.
 */
export function replicaWork(db: Db, queues: string[], now: number): ReplicaWork {
  const stmt = db.$client.query(
    `SELECT owner, queue, kind, count(*) AS n, coalesce(sum(lease_until <= ?2), 0) AS expired, min(lease_until) AS first FROM (
       SELECT lease_owner AS owner, queue, kind, lease_until FROM jobs WHERE queue = ?1 AND state = 'running' AND lane IS NULL
       UNION ALL
       SELECT j.lease_owner, j.queue, j.kind, j.lease_until FROM job_lanes l CROSS JOIN jobs j ON j.lane = l.lane AND j.state = 'running' WHERE l.queue = ?1)
     GROUP BY owner, queue, kind ORDER BY owner, queue, kind`,
  );
  const jobs = queues.flatMap((q) =>
    (stmt.all(q, now) as LeaseGroup[]).map((g) => ({ owner: g.owner, queue: g.queue, kind: g.kind, count: g.n, expired: g.expired, firstLeaseEnd: g.first })),
  );
  const housekeeping = (
    db.$client.query("SELECT name, holder, lease_until FROM housekeeping_leases WHERE lease_until > ?1 ORDER BY name").all(now) as { name: string; holder: string; lease_until: number }[]
  ).map((h) => ({ name: h.name, holder: h.holder, leaseUntil: h.lease_until }));
  return { now, jobs, housekeeping };
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/replicas.ts. */
export const replicasFns = { register, refresh, deregister, markDead, listReplicas, downtimes, pruneReplicas, replicaWork };
export type ReplicasStore = Bound<typeof replicasFns>;
