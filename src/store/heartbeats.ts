// Heartbeats: rules, their pings and flips, and the deadline queries of the scheduler.
import type { Bound } from "./contract";
import { and, asc, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { heartbeatFlips, heartbeatPings, heartbeats } from "../db/schema";
import type { Timing, Transition } from "../core/heartbeats";
import { newId, randomB64url } from "../lib/ids";
import { bumpVersion, CounterGuardedMap, VersionedCache } from "./config-versions";

export type HeartbeatRow = typeof heartbeats.$inferSelect;
export type PingRow = typeof heartbeatPings.$inferSelect;
export type FlipRow = typeof heartbeatFlips.$inferSelect;

export const KEEP_PINGS = 100;
const PRUNE_EVERY = 16;
let pingsSincePrune = 0;

export type NewHeartbeat = Pick<HeartbeatRow, "tenantId" | "name" | "scheduleKind" | "periodS" | "cron" | "tz" | "graceS" | "maxRuntimeS" | "severity" | "filter">;

export const HEARTBEAT_FILTERS_VERSION = "heartbeat-filters";

/** A new heartbeat's row (both stores): state new, a fresh ping token, no deadline yet. */
export function newHeartbeatRow(h: NewHeartbeat, now: number): HeartbeatRow {
  return {
    ...h,
    id: newId(now),
    token: randomB64url(18),
    state: "new",
    dueAt: null,
    downAt: null,
    nextDeadline: null,
    lastBeatAt: null,
    lastStartAt: null,
    alertId: null,
    createdAt: now,
    updatedAt: now,
  };
}

export function createHeartbeat(db: Db, h: NewHeartbeat, now: number): HeartbeatRow {
  const row = newHeartbeatRow(h, now);
  db.transaction(() => {
    db.insert(heartbeats).values(row).run();
    if (row.filter) bumpVersion(db, HEARTBEAT_FILTERS_VERSION);
  });
  return row;
}

export function getHeartbeat(db: Db, tenantId: string, id: string): HeartbeatRow | undefined {
  return db.select().from(heartbeats).where(and(eq(heartbeats.tenantId, tenantId), eq(heartbeats.id, id))).get();
}

const COLUMNS = `id, tenant_id AS tenantId, name, token, schedule_kind AS scheduleKind, period_s AS periodS, cron, tz,
  grace_s AS graceS, max_runtime_s AS maxRuntimeS, severity, filter, state, due_at AS dueAt, down_at AS downAt,
  next_deadline AS nextDeadline, last_beat_at AS lastBeatAt, last_start_at AS lastStartAt, alert_id AS alertId,
  created_at AS createdAt, updated_at AS updatedAt`;

/** Hot path (every ping): a cached raw statement. */
export function heartbeatById(db: Db, id: string): HeartbeatRow | undefined {
  return (db.$client.query(`SELECT ${COLUMNS} FROM heartbeats WHERE id = ?1`).get(id) as HeartbeatRow | null) ?? undefined;
}

/** Hot path (every ping): a cached raw statement. */
/**
 * The heartbeat a ping URL belongs to, for the ping route: cached (a ping token never changes;
 * a deletion bumps the counter the cache watches, so a deleted heartbeat's URL is 404 at once).
 */
const pingTargets = new CounterGuardedMap<{ id: string; tenantId: string }>(HEARTBEAT_FILTERS_VERSION);
export function pingTarget(db: Db, token: string): { id: string; tenantId: string } | undefined {
  const hit = pingTargets.get(db, token);
  if (hit) return hit;
  const row = db.$client.query("SELECT id, tenant_id AS tenantId FROM heartbeats WHERE token = ?1").get(token) as { id: string; tenantId: string } | null;
  if (row) pingTargets.set(token, row);
  return row ?? undefined;
}


export function listHeartbeats(db: Db, tenantId: string): HeartbeatRow[] {
  return db.select().from(heartbeats).where(eq(heartbeats.tenantId, tenantId)).orderBy(asc(heartbeats.name)).all();
}

/** Settings a user may change (not the timing, which only transitions change). */
export function updateHeartbeatSettings(db: Db, id: string, set: Partial<NewHeartbeat>, now: number): void {
  db.update(heartbeats).set({ ...set, updatedAt: now }).where(eq(heartbeats.id, id)).run();
  bumpVersion(db, HEARTBEAT_FILTERS_VERSION);
}

export function deleteHeartbeat(db: Db, tenantId: string, id: string): boolean {
  return db.transaction(() => {
    const n = db.$client.query("DELETE FROM heartbeats WHERE tenant_id = ?1 AND id = ?2").run(tenantId, id).changes;
    if (n) bumpVersion(db, HEARTBEAT_FILTERS_VERSION);
    return n > 0;
  });
}

/** Id and filter of each heartbeat of a tenant that counts events as beats, cached per change. */
export const heartbeatFilterCache = new VersionedCache<{ id: string; filter: string }[]>(HEARTBEAT_FILTERS_VERSION, (db, tenantId) =>
  db.$client.query("SELECT id, filter FROM heartbeats WHERE tenant_id = ?1 AND filter IS NOT NULL").all(tenantId) as { id: string; filter: string }[],
);

/**
 * Compare-and-set of the timing: applies only if the row still has the timing the caller read,
 * so a beat that lands while the scheduler sweeps wins and the sweep's stale flip is dropped.
 */
export function casTiming(db: Db, h: HeartbeatRow, t: Timing, extra: Partial<Pick<HeartbeatRow, "lastBeatAt" | "lastStartAt" | "alertId">>, now: number): boolean {
  const r = db.$client
    .prepare(
      `UPDATE heartbeats SET state = ?2, due_at = ?3, down_at = ?4, next_deadline = ?5,
              last_beat_at = ?6, last_start_at = ?7, alert_id = ?8, updated_at = ?9
        WHERE id = ?1 AND state = ?10 AND next_deadline IS ?11 AND updated_at = ?12`,
    )
    .run(
      h.id,
      t.state,
      t.dueAt,
      t.downAt,
      t.nextDeadline,
      extra.lastBeatAt !== undefined ? extra.lastBeatAt : h.lastBeatAt,
      extra.lastStartAt !== undefined ? extra.lastStartAt : h.lastStartAt,
      extra.alertId !== undefined ? extra.alertId : h.alertId,
      now,
      h.state,
      h.nextDeadline,
      h.updatedAt,
    );
  return r.changes > 0;
}

export function recordFlip(db: Db, heartbeatId: string, f: Transition, now: number): void {
  db.$client.query("INSERT INTO heartbeat_flips (id, heartbeat_id, at, from_state, to_state) VALUES (?1, ?2, ?3, ?4, ?5)").run(newId(now), heartbeatId, f.at, f.from, f.to);
}

export function recordPing(db: Db, p: Omit<PingRow, "id">, now: number): void {
  db.$client
    .query("INSERT INTO heartbeat_pings (id, heartbeat_id, at, kind, exit_code, method, remote, body, event_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
    .run(newId(now), p.heartbeatId, p.at, p.kind, p.exitCode, p.method, p.remote, p.body, p.eventId);
  // keep the latest KEEP_PINGS (pruned every PRUNE_EVERY pings; lists show the latest KEEP_PINGS)
  if (++pingsSincePrune < PRUNE_EVERY) return;
  pingsSincePrune = 0;
  db.$client
    .prepare(
      `DELETE FROM heartbeat_pings WHERE heartbeat_id = ?1 AND id < (
         SELECT id FROM heartbeat_pings WHERE heartbeat_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)`,
    )
    .run(p.heartbeatId, KEEP_PINGS - 1);
}

export function listPings(db: Db, heartbeatId: string, limit = KEEP_PINGS): PingRow[] {
  return db.select().from(heartbeatPings).where(eq(heartbeatPings.heartbeatId, heartbeatId)).orderBy(desc(heartbeatPings.id)).limit(limit).all();
}

export function listFlips(db: Db, heartbeatId: string, limit = 100): FlipRow[] {
  return db.select().from(heartbeatFlips).where(eq(heartbeatFlips.heartbeatId, heartbeatId)).orderBy(desc(heartbeatFlips.id)).limit(limit).all();
}

/** The earliest deadline over every heartbeat (one indexed lookup), or null. */
export function earliestDeadline(db: Db): number | null {
  const r = db.$client.query("SELECT min(next_deadline) AS d FROM heartbeats WHERE next_deadline IS NOT NULL").get() as { d: number | null };
  return r.d;
}

/** Heartbeats whose deadline has passed, oldest deadline first. */
export function overdueHeartbeats(db: Db, now: number, limit: number): HeartbeatRow[] {
  return db
    .select()
    .from(heartbeats)
    .where(sql`${heartbeats.nextDeadline} IS NOT NULL AND ${heartbeats.nextDeadline} <= ${now}`)
    .orderBy(asc(heartbeats.nextDeadline))
    .limit(limit)
    .all();
}

/** The newest flips of each of a tenant's heartbeats (heartbeat_flips_hb index, `perHeartbeat` each). */
export function recentFlipsByHeartbeat(db: Db, tenantId: string, perHeartbeat = 100): Map<string, { at: number; from: string; to: string }[]> {
  const rows = db.$client
    .query(
      `SELECT h.id AS hb, f.at, f.from_state AS "from", f.to_state AS "to"
         FROM heartbeats h JOIN heartbeat_flips f ON f.id IN (SELECT id FROM heartbeat_flips WHERE heartbeat_id = h.id ORDER BY id DESC LIMIT ?2)
        WHERE h.tenant_id = ?1`,
    )
    .all(tenantId, perHeartbeat) as { hb: string; at: number; from: string; to: string }[];
  return flipsByHeartbeat(rows);
}

/** Flip rows grouped by heartbeat, in the rows' order (both stores). */
export function flipsByHeartbeat(rows: { hb: string; at: number; from: string; to: string }[]): Map<string, { at: number; from: string; to: string }[]> {
  const out = new Map<string, { at: number; from: string; to: string }[]>();
  for (const r of rows) {
    const l = out.get(r.hb) ?? [];
    l.push({ at: r.at, from: r.from, to: r.to });
    out.set(r.hb, l);
  }
  return out;
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/heartbeats.ts. */
// (settings changes, deletion, flips and the overdue sweep are units in heartbeat-transitions.ts)
export const heartbeatsFns = { createHeartbeat, getHeartbeat, pingTarget, listHeartbeats, listPings, listFlips, earliestDeadline, recentFlipsByHeartbeat };
export type HeartbeatsStore = Bound<typeof heartbeatsFns>;
