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

export type ReplicaRow = ReplicaInfo & {
  startedAt: number;
  seenAt: number;
  stoppedAt: number | null;
  /** the start of the cluster downtime this replica's start ended; null when another was alive */
  downSince: number | null;
  state: ReplicaState;
};

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
  m.rows.set(r.id, { ...r, startedAt: now, seenAt: now, stoppedAt: null, downSince: 0 });
  return { startedAt: now, downtime, alive: 1 };
}

/** Moves this replica's seen_at (re-registering it without a downtime if its row is gone); returns how many replicas are alive. */
export function refresh(db: Db, r: ReplicaInfo, now: number): number {
  const m = memOf(db);
  const row = m.rows.get(r.id);
  if (row) Object.assign(row, { seenAt: now, stoppedAt: null });
  else m.rows.set(r.id, { ...r, startedAt: now, seenAt: now, stoppedAt: null, downSince: null });
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

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/replicas.ts. */
export const replicasFns = { register, refresh, deregister, markDead, listReplicas, downtimes, pruneReplicas };
export type ReplicasStore = Bound<typeof replicasFns>;
