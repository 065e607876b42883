// The replica registry on PostgreSQL: the twin of src/store/replicas.ts, one `replicas` table shared
// by every replica (migrations-pg/0003_replicas.sql). Every time is the database clock (PG_NOW_MS),
// so replicas on machines whose clocks disagree still agree on who is alive.
import { inTx, PG_NOW_MS, type PgConn, type PgTwin } from "../contract";
import {
  DOWNTIME_GAPS,
  REPLICA_DEAD_MS,
  REPLICA_PRUNE_MS,
  stateAt,
  type Downtime,
  type Registration,
  type ReplicaInfo,
  type ReplicaRow,
  type ReplicaStats,
  type ReplicaWork,
  type replicasFns,
} from "../replicas";

/** pg_advisory_xact_lock key of registrations ("kw" "rp"): one replica at a time decides whether the cluster was down. */
export const REGISTER_LOCK = 0x6b77_7270;

const NOW = (pg: PgConn) => pg.unsafe(PG_NOW_MS);

/**
 * Registers a replica in one transaction. Registrations take turns (an advisory lock), so of
 * replicas starting together after the whole cluster was down, the first records the downtime and
 * the others find it alive; every replica's sweeps then read that downtime (downtimes).
 */
async function register(pg: PgConn, r: ReplicaInfo, _now: number): Promise<Registration> {
  return await inTx(pg, async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${REGISTER_LOCK})`;
    const [x] = await tx`
      SELECT ${NOW(tx)} AS now,
             max(seen_at) AS last,
             count(*) FILTER (WHERE stopped_at IS NULL AND seen_at >= ${NOW(tx)} - ${REPLICA_DEAD_MS}) AS alive
        FROM replicas WHERE id <> ${r.id}`;
    const now = Number(x!.now);
    const alive = Number(x!.alive);
    const downSince = alive > 0 ? null : x!.last === null ? 0 : Math.min(Number(x!.last), now);
    await tx`
      INSERT INTO replicas (id, host, pid, version, listen, started_at, seen_at, stopped_at, down_since)
      VALUES (${r.id}, ${r.host}, ${r.pid}, ${r.version}, ${r.listen}, ${now}, ${now}, NULL, ${downSince})
      ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, version = EXCLUDED.version, listen = EXCLUDED.listen,
        started_at = EXCLUDED.started_at, seen_at = EXCLUDED.seen_at, stopped_at = NULL, down_since = EXCLUDED.down_since`;
    return { startedAt: now, downtime: downSince === null ? null : { from: downSince, to: now }, alive: alive + 1 };
  });
}

/**
 * One round trip: this replica's seen_at moves to the database's now (its row is put back, without
 * a downtime, if it was pruned while this replica could not reach the database), its counters are
 * published when given (the same statement), and the answer is how many replicas are alive, this
 * one included.
 */
async function refresh(pg: PgConn, r: ReplicaInfo, _now: number, stats: ReplicaStats | null = null): Promise<number> {
  const json = stats ? JSON.stringify(stats) : null;
  const [x] = await pg`
    WITH up AS (
      INSERT INTO replicas (id, host, pid, version, listen, started_at, seen_at, stopped_at, down_since, stats)
      VALUES (${r.id}, ${r.host}, ${r.pid}, ${r.version}, ${r.listen}, ${NOW(pg)}, ${NOW(pg)}, NULL, NULL, ${json})
      ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at, stopped_at = NULL, stats = coalesce(EXCLUDED.stats, replicas.stats)
      RETURNING seen_at)
    SELECT 1 + (SELECT count(*) FROM replicas WHERE id <> ${r.id} AND stopped_at IS NULL AND seen_at >= (SELECT seen_at FROM up) - ${REPLICA_DEAD_MS}) AS alive`;
  return Number(x!.alive);
}

async function deregister(pg: PgConn, id: string, _now: number): Promise<void> {
  await pg`UPDATE replicas SET seen_at = ${NOW(pg)}, stopped_at = ${NOW(pg)} WHERE id = ${id}`;
}

async function markDead(pg: PgConn, id: string): Promise<void> {
  await pg`UPDATE replicas SET stopped_at = seen_at WHERE id = ${id} AND stopped_at IS NULL`;
}

type Row = {
  id: string;
  host: string;
  pid: number;
  version: string;
  listen: string;
  started_at: string;
  seen_at: string;
  stopped_at: string | null;
  down_since: string | null;
  stats: string | null;
};
const num = (v: string | null) => (v === null ? null : Number(v));

/** The published counters (a row written by another version may hold other fields: only numbers are taken). */
function parseStats(text: string | null): ReplicaStats | null {
  if (text === null) return null;
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    const n = (k: keyof ReplicaStats) => (typeof o[k] === "number" ? (o[k] as number) : 0);
    return { ingestRequests: n("ingestRequests"), eventsStored: n("eventsStored"), deliveryAttempts: n("deliveryAttempts") };
  } catch {
    return null;
  }
}

async function listReplicas(pg: PgConn, _now: number): Promise<{ now: number; replicas: ReplicaRow[] }> {
  const [n] = await pg`SELECT ${NOW(pg)} AS now`;
  const now = Number(n!.now);
  const rows = await pg<Row[]>`SELECT * FROM replicas ORDER BY started_at DESC, id DESC LIMIT 1000`;
  return {
    now,
    replicas: rows.map((r) => {
      const seenAt = Number(r.seen_at);
      const stoppedAt = num(r.stopped_at);
      return {
        id: r.id,
        host: r.host,
        pid: r.pid,
        version: r.version,
        listen: r.listen,
        startedAt: Number(r.started_at),
        seenAt,
        stoppedAt,
        downSince: num(r.down_since),
        state: stateAt(seenAt, stoppedAt, now),
        stats: parseStats(r.stats),
      };
    }),
  };
}

async function downtimes(pg: PgConn): Promise<Downtime[]> {
  const rows = await pg`SELECT down_since, started_at FROM replicas WHERE down_since IS NOT NULL ORDER BY started_at DESC LIMIT ${DOWNTIME_GAPS}`;
  return rows.map((r) => ({ from: Number(r.down_since), to: Number(r.started_at) }));
}

async function pruneReplicas(pg: PgConn, _now: number): Promise<number> {
  const r = await pg`
    DELETE FROM replicas
     WHERE seen_at < ${NOW(pg)} - ${REPLICA_PRUNE_MS}
       AND seen_at < (SELECT max(seen_at) FROM replicas)`;
  return r.count;
}

/**
 * What the replicas are doing (the twin of replicaWork in src/store/replicas.ts): running jobs by
 * lease owner, queue and kind on the partial index jobs_lease (running jobs only: few), and the
 * housekeeping leases held now, both against the database clock.
 */
async function replicaWork(pg: PgConn, queues: string[], _now: number): Promise<ReplicaWork> {
  const [t] = await pg`SELECT ${NOW(pg)} AS now`;
  const now = Number(t!.now);
  const jobs = await pg`
    SELECT lease_owner AS owner, queue, kind, count(*)::int AS n, (count(*) FILTER (WHERE lease_until <= ${now}))::int AS expired, min(lease_until) AS first
      FROM jobs WHERE state = 'running' AND queue = ANY(${queues}::text[])
     GROUP BY lease_owner, queue, kind ORDER BY lease_owner, queue, kind`;
  const hk = await pg`SELECT name, holder, lease_until FROM housekeeping_leases WHERE lease_until > ${now} ORDER BY name`;
  return {
    now,
    jobs: jobs.map((g) => ({
      owner: (g.owner as string | null) ?? null,
      queue: g.queue as string,
      kind: g.kind as string,
      count: Number(g.n),
      expired: Number(g.expired),
      firstLeaseEnd: Number(g.first),
    })),
    housekeeping: hk.map((h) => ({ name: h.name as string, holder: h.holder as string, leaseUntil: Number(h.lease_until) })),
  };
}

export const pgReplicasFns: PgTwin<typeof replicasFns> = { register, refresh, deregister, markDead, listReplicas, downtimes, pruneReplicas, replicaWork };
