// Heartbeats on PostgreSQL: the twin of src/store/heartbeats.ts (settings, pings, flips, deadline
// lookups). The transitions (compare-and-set, flips with their alerts) are in heartbeat-transitions.ts.
import { inTx, type PgConn, type PgTwin } from "../contract";
import { flipsByHeartbeat, HEARTBEAT_FILTERS_VERSION, KEEP_PINGS, newHeartbeatRow, type FlipRow, type HeartbeatRow, type heartbeatsFns, type NewHeartbeat, type PingRow } from "../heartbeats";
import type { Timing, Transition } from "../../core/heartbeats";
import { newId } from "../../lib/ids";
import { pgBumpVersion, PgVersionedCache } from "./config-versions";

export const HB_COLS = `id, tenant_id AS "tenantId", name, token, schedule_kind AS "scheduleKind", period_s AS "periodS", cron, tz,
  grace_s AS "graceS", max_runtime_s AS "maxRuntimeS", severity, filter, state, due_at AS "dueAt", down_at AS "downAt",
  next_deadline AS "nextDeadline", last_beat_at AS "lastBeatAt", last_start_at AS "lastStartAt", alert_id AS "alertId",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

const PRUNE_EVERY = 16;
let pingsSincePrune = 0;

async function createHeartbeat(pg: PgConn, h: NewHeartbeat, now: number): Promise<HeartbeatRow> {
  const row = newHeartbeatRow(h, now);
  await inTx(pg, async (tx) => {
    await tx`INSERT INTO heartbeats (id, tenant_id, name, token, schedule_kind, period_s, cron, tz, grace_s, max_runtime_s, severity, filter,
               state, due_at, down_at, next_deadline, last_beat_at, last_start_at, alert_id, created_at, updated_at)
             VALUES (${row.id}, ${row.tenantId}, ${row.name}, ${row.token}, ${row.scheduleKind}, ${row.periodS}, ${row.cron}, ${row.tz},
               ${row.graceS}, ${row.maxRuntimeS}, ${row.severity}, ${row.filter}, 'new', NULL, NULL, NULL, NULL, NULL, NULL, ${now}, ${now})`;
    if (row.filter) await pgBumpVersion(tx, HEARTBEAT_FILTERS_VERSION);
  });
  return row;
}

export async function pgGetHeartbeat(pg: PgConn, tenantId: string, id: string, lock = false): Promise<HeartbeatRow | undefined> {
  const [r] = await pg.unsafe(`SELECT ${HB_COLS} FROM heartbeats WHERE tenant_id = $1 AND id = $2${lock ? " FOR UPDATE" : ""}`, [tenantId, id]);
  return (r as unknown as HeartbeatRow | undefined) ?? undefined;
}

/** By id; `lock` takes the row (FOR UPDATE) for the rest of the caller's transaction. */
export async function pgHeartbeatById(pg: PgConn, id: string, lock = false): Promise<HeartbeatRow | undefined> {
  const [r] = await pg.unsafe(`SELECT ${HB_COLS} FROM heartbeats WHERE id = $1${lock ? " FOR UPDATE" : ""}`, [id]);
  return (r as unknown as HeartbeatRow | undefined) ?? undefined;
}

/** Ping URL → heartbeat, cached (a token never changes; a deletion bumps the counter). Misses are not cached. */
const pingTargets = new PgVersionedCache<{ id: string; tenantId: string } | undefined>(HEARTBEAT_FILTERS_VERSION, async (conn, token) => {
  const [r] = await conn`SELECT id, tenant_id AS "tenantId" FROM heartbeats WHERE token = ${token}`;
  return r ? { id: r.id as string, tenantId: r.tenantId as string } : undefined;
});
async function pingTarget(pg: PgConn, token: string): Promise<{ id: string; tenantId: string } | undefined> {
  const hit = await pingTargets.get(pg, token);
  if (!hit) pingTargets.delete(token); // a heartbeat created later must be found at once
  return hit;
}

async function listHeartbeats(pg: PgConn, tenantId: string): Promise<HeartbeatRow[]> {
  // COLLATE "C": SQLite's (bytewise) order whatever the database's locale
  return (await pg.unsafe(`SELECT ${HB_COLS} FROM heartbeats WHERE tenant_id = $1 ORDER BY name COLLATE "C"`, [tenantId])) as unknown as HeartbeatRow[];
}

const SETTABLE: Record<keyof NewHeartbeat, string> = {
  tenantId: "tenant_id",
  name: "name",
  scheduleKind: "schedule_kind",
  periodS: "period_s",
  cron: "cron",
  tz: "tz",
  graceS: "grace_s",
  maxRuntimeS: "max_runtime_s",
  severity: "severity",
  filter: "filter",
};

/** Settings a user may change (the twin of updateHeartbeatSettings; call inside the unit's transaction). */
export async function pgUpdateHeartbeatSettings(tx: PgConn, id: string, set: Partial<NewHeartbeat>, now: number): Promise<void> {
  const cols: string[] = [];
  const args: unknown[] = [id, now];
  for (const [k, col] of Object.entries(SETTABLE) as [keyof NewHeartbeat, string][]) {
    if (set[k] === undefined) continue;
    args.push(set[k]);
    cols.push(`${col} = $${args.length}`);
  }
  await tx.unsafe(`UPDATE heartbeats SET ${[...cols, "updated_at = $2"].join(", ")} WHERE id = $1`, args as any[]);
  await pgBumpVersion(tx, HEARTBEAT_FILTERS_VERSION);
}

export async function pgDeleteHeartbeat(tx: PgConn, tenantId: string, id: string): Promise<boolean> {
  const r = await tx`DELETE FROM heartbeats WHERE tenant_id = ${tenantId} AND id = ${id}`;
  if (r.count) await pgBumpVersion(tx, HEARTBEAT_FILTERS_VERSION);
  return r.count > 0;
}

/** Id and filter of each heartbeat of a tenant that counts events as beats, cached per change. */
export const pgHeartbeatFilterCache = new PgVersionedCache<{ id: string; filter: string }[]>(HEARTBEAT_FILTERS_VERSION, async (conn, tenantId) => {
  const rows = await conn`SELECT id, filter FROM heartbeats WHERE tenant_id = ${tenantId} AND filter IS NOT NULL ORDER BY id`;
  return rows.map((r) => ({ id: r.id as string, filter: r.filter as string }));
});

/** Compare-and-set of the timing (the twin of casTiming). */
export async function pgCasTiming(
  tx: PgConn,
  h: HeartbeatRow,
  t: Timing,
  extra: Partial<Pick<HeartbeatRow, "lastBeatAt" | "lastStartAt" | "alertId">>,
  now: number,
): Promise<boolean> {
  const r = await tx`UPDATE heartbeats SET state = ${t.state}, due_at = ${t.dueAt}, down_at = ${t.downAt}, next_deadline = ${t.nextDeadline},
        last_beat_at = ${extra.lastBeatAt !== undefined ? extra.lastBeatAt : h.lastBeatAt},
        last_start_at = ${extra.lastStartAt !== undefined ? extra.lastStartAt : h.lastStartAt},
        alert_id = ${extra.alertId !== undefined ? extra.alertId : h.alertId}, updated_at = ${now}
      WHERE id = ${h.id} AND state = ${h.state} AND next_deadline IS NOT DISTINCT FROM ${h.nextDeadline}::bigint AND updated_at = ${h.updatedAt}`;
  return r.count > 0;
}

export async function pgRecordFlip(tx: PgConn, heartbeatId: string, f: Transition, now: number): Promise<void> {
  await tx`INSERT INTO heartbeat_flips (id, heartbeat_id, at, from_state, to_state) VALUES (${newId(now)}, ${heartbeatId}, ${f.at}, ${f.from}, ${f.to})`;
}

export async function pgRecordPing(tx: PgConn, p: Omit<PingRow, "id">, now: number): Promise<void> {
  await tx`INSERT INTO heartbeat_pings (id, heartbeat_id, at, kind, exit_code, method, remote, body, event_id)
           VALUES (${newId(now)}, ${p.heartbeatId}, ${p.at}, ${p.kind}, ${p.exitCode}, ${p.method}, ${p.remote}, ${p.body}, ${p.eventId})`;
  // keep the latest KEEP_PINGS (pruned every PRUNE_EVERY pings of this process)
  if (++pingsSincePrune < PRUNE_EVERY) return;
  pingsSincePrune = 0;
  await tx`DELETE FROM heartbeat_pings WHERE heartbeat_id = ${p.heartbeatId} AND id < (
             SELECT id FROM heartbeat_pings WHERE heartbeat_id = ${p.heartbeatId} ORDER BY id DESC LIMIT 1 OFFSET ${KEEP_PINGS - 1})`;
}

async function listPings(pg: PgConn, heartbeatId: string, limit = KEEP_PINGS): Promise<PingRow[]> {
  return (await pg`SELECT id, heartbeat_id AS "heartbeatId", at, kind, exit_code AS "exitCode", method, remote, body, event_id AS "eventId"
                   FROM heartbeat_pings WHERE heartbeat_id = ${heartbeatId} ORDER BY id DESC LIMIT ${limit}`) as unknown as PingRow[];
}

async function listFlips(pg: PgConn, heartbeatId: string, limit = 100): Promise<FlipRow[]> {
  return (await pg`SELECT id, heartbeat_id AS "heartbeatId", at, from_state AS "fromState", to_state AS "toState"
                   FROM heartbeat_flips WHERE heartbeat_id = ${heartbeatId} ORDER BY id DESC LIMIT ${limit}`) as unknown as FlipRow[];
}

async function earliestDeadline(pg: PgConn): Promise<number | null> {
  const [r] = await pg`SELECT min(next_deadline) AS d FROM heartbeats WHERE next_deadline IS NOT NULL`;
  return (r?.d as number | null) ?? null;
}

/**
 * The due heartbeats, oldest deadline first, locked for the caller's transaction; rows another
 * transaction holds are skipped (SKIP LOCKED): of several racing sweeps, one takes each row.
 * `now` is the database clock.
 */
export async function pgTakeOverdue(tx: PgConn, now: number, limit: number): Promise<HeartbeatRow[]> {
  return (await tx.unsafe(
    `SELECT ${HB_COLS} FROM heartbeats WHERE next_deadline IS NOT NULL AND next_deadline <= $1
      ORDER BY next_deadline LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [now, limit],
  )) as unknown as HeartbeatRow[];
}

async function recentFlipsByHeartbeat(pg: PgConn, tenantId: string, perHeartbeat = 100): Promise<Map<string, { at: number; from: string; to: string }[]>> {
  const rows = await pg`SELECT h.id AS hb, f.at, f.from_state AS "from", f.to_state AS "to"
      FROM heartbeats h CROSS JOIN LATERAL (
        SELECT at, from_state, to_state, id FROM heartbeat_flips WHERE heartbeat_id = h.id ORDER BY id DESC LIMIT ${perHeartbeat}) f
     WHERE h.tenant_id = ${tenantId} ORDER BY h.id, f.id`;
  return flipsByHeartbeat(rows as unknown as { hb: string; at: number; from: string; to: string }[]);
}

export const pgHeartbeatsFns: PgTwin<typeof heartbeatsFns> = {
  createHeartbeat,
  getHeartbeat: (pg, tenantId, id) => pgGetHeartbeat(pg, tenantId, id),
  pingTarget,
  listHeartbeats,
  listPings,
  listFlips,
  earliestDeadline,
  recentFlipsByHeartbeat,
};
