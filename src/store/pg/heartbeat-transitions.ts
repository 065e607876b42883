// Heartbeat transitions on PostgreSQL: the twin of src/store/heartbeat-transitions.ts. Each unit
// is one transaction: the compare-and-set on the timing, the flip, and for down / back up the
// system event with its alert and outbox messages (through the PostgreSQL commit hooks).
//
// Time: every timing here (deadlines, flips, pings) is the database clock, read once per unit, so
// that replicas agree on deadlines whatever their own clocks say; the `now` argument of the
// contract is ignored for them.
//
// Races: a unit takes the heartbeat's row (FOR UPDATE) before it computes; a sweep takes the due
// rows with FOR UPDATE SKIP LOCKED, so of several racing sweeps (replicas) one moves each row, and
// a ping waits for a sweep that holds its row (then sees the swept state), never a lost update.
import { inTx, PG_NOW_MS, type PgConn, type PgTwin } from "../contract";
import * as hb from "../../core/heartbeats";
import { matchableOf, type NormalizedEvent } from "../../core/event";
import { matches, type Filter } from "../../core/filter";
import { SEVERITY_RANK } from "../../core/severity";
import type { HeartbeatRow, NewHeartbeat, PingRow } from "../heartbeats";
import {
  HEARTBEAT_SOURCE,
  overdueMode,
  pingRowOf,
  retime,
  scheduleOf,
  systemEvent,
  systemKindOf,
  timingOf,
  type heartbeatTransitionsFns,
  type PingInput,
  type SweepMode,
} from "../heartbeat-transitions";
import { pgCommitHooks, type PgCommitHook } from "./hooks";
import { ftsDoc } from "./fts";
import type { Downtime } from "../replicas";
import {
  pgCasTiming,
  pgDeleteHeartbeat,
  pgGetHeartbeat,
  pgHeartbeatById,
  pgHeartbeatFilterCache,
  pgRecordFlip,
  pgRecordPing,
  pgTakeOverdue,
  pgUpdateHeartbeatSettings,
} from "./heartbeats";

export async function pgDbNow(conn: PgConn): Promise<number> {
  const [r] = await conn.unsafe(`SELECT ${PG_NOW_MS} AS t`);
  return Number(r!.t);
}

/**
 * Stores keepwatch's own event and runs the hooks on it, inside the caller's transaction (the
 * twin of storeOne for one system event: no idempotency key, no external id, no indicators).
 */
async function storeSystemEvent(tx: PgConn, e: NormalizedEvent, hooks: PgCommitHook[], now: number): Promise<void> {
  const evs = [e];
  for (const h of hooks) await h.before?.(tx, e.tenantId, evs, now);
  // the words of full-text search made here, as for every other event (fts.ts: accents folded like
  // SQLite's unicode61; the trigger's fallback in migrations-pg/0002 does not fold them)
  await tx`INSERT INTO events (id, tenant_id, received_at, occurred_at, source_name, source, type, module, title, summary, severity,
             severity_rank, severity_raw, host, tags, payload, raw_payload, dedup_key, external_id, warnings, fts)
           VALUES (${e.id}, ${e.tenantId}, ${e.receivedAt}, ${e.occurredAt}, ${e.sourceName}, ${e.source}, ${e.type}, ${e.module}, ${e.title},
             ${e.summary}, ${e.severity}, ${SEVERITY_RANK[e.severity]}, ${e.severityRaw}, ${e.host}, ${JSON.stringify(e.tags)}::text::jsonb,
             ${e.payloadJson}, ${e.rawJson}, ${e.dedupKey}, ${e.externalId}, ${e.warnings.length ? JSON.stringify(e.warnings) : null},
             ${ftsDoc(e.title, e.summary, e.payloadJson)}::tsvector)`;
  for (const h of hooks) await h(tx, e.tenantId, evs, now);
}

/** The twin of applyTransition (inside the caller's transaction). False when the row changed meanwhile. */
export async function pgApplyTransition(
  tx: PgConn,
  h: HeartbeatRow,
  next: hb.Timing,
  flip: hb.Transition | null,
  extra: Partial<Pick<HeartbeatRow, "lastBeatAt" | "lastStartAt">>,
  hooks: PgCommitHook[],
  now: number,
): Promise<boolean> {
  if (!(await pgCasTiming(tx, h, next, extra, now))) return false;
  if (flip) {
    await pgRecordFlip(tx, h.id, flip, now);
    const kind = systemKindOf(flip);
    if (kind) await storeSystemEvent(tx, systemEvent(h, kind, flip.at, now), hooks, now);
  }
  return true;
}

/**
 * The twin of receivePing, called by the PostgreSQL group commit with its hooks (and by the beats
 * hook): the ping is kept, the state moves, in the caller's transaction (or a new one). The row is
 * locked first, so the compare-and-set cannot lose; `now` is replaced by the database clock.
 */
async function receivePing(tx0: PgConn, heartbeatId: string, p: PingInput, hooks: PgCommitHook[], _now: number): Promise<HeartbeatRow | null> {
  return await inTx(tx0, async (tx) => {
    const now = await pgDbNow(tx);
    const h = await pgHeartbeatById(tx, heartbeatId, true);
    if (!h) return null;
    await pgRecordPing(tx, pingRowOf(h.id, p, now), now);
    const t = timingOf(h);
    let ok = true;
    if (p.kind === "success" || p.kind === "event") {
      const r = hb.beat(t, scheduleOf(h), h.graceS, now);
      ok = await pgApplyTransition(tx, h, r.timing, r.flip, { lastBeatAt: h.state === "paused" ? h.lastBeatAt : now }, hooks, now);
    } else if (p.kind === "start") {
      ok = await pgApplyTransition(tx, h, hb.started(t, h.maxRuntimeS, now), null, { lastStartAt: now }, hooks, now);
    } else if (p.kind === "fail") {
      const r = hb.failed(t, now);
      ok = await pgApplyTransition(tx, h, r.timing, r.flip, {}, hooks, now);
    }
    if (!ok) throw new Error(`heartbeat ${heartbeatId} changed under its row lock`);
    return (await pgHeartbeatById(tx, heartbeatId)) ?? null;
  });
}

/** Whether pgBeatsFromEvents may do anything for these events (the tenant has heartbeats with a filter). */
export async function pgMayBeat(tx: PgConn, tenantId: string, events: NormalizedEvent[]): Promise<boolean> {
  if (!events.some((e) => e.sourceName !== HEARTBEAT_SOURCE)) return false;
  return (await pgHeartbeatFilterCache.get(tx, tenantId)).length > 0;
}

/** Commit hook: events that match a heartbeat's filter are beats (keepwatch's own heartbeat events never count). */
export async function pgBeatsFromEvents(tx: PgConn, tenantId: string, events: NormalizedEvent[], hooks: PgCommitHook[], now: number): Promise<void> {
  const candidates = events.filter((e) => e.sourceName !== HEARTBEAT_SOURCE);
  if (!candidates.length) return;
  const rules = await pgHeartbeatFilterCache.get(tx, tenantId);
  if (!rules.length) return;
  const views = candidates.map(matchableOf);
  for (const h of rules) {
    const f = JSON.parse(h.filter) as Filter;
    let last = -1;
    views.forEach((v, i) => {
      if (matches(f, v)) last = i;
    });
    if (last >= 0) await receivePing(tx, h.id, { kind: "event", eventId: candidates[last].id }, hooks, now);
  }
}

async function ping(pg: PgConn, heartbeatId: string, p: PingInput, now: number): Promise<HeartbeatRow | null> {
  return await receivePing(pg, heartbeatId, p, pgCommitHooks, now);
}

/**
 * One batch of due heartbeats moved a step, in one transaction (each flip commits with its alert
 * and outbox messages). The rows are taken FOR UPDATE SKIP LOCKED: a racing sweep of another
 * replica skips them, and once this one commits they are no longer due; one flip per deadline.
 */
async function sweepOverdue(pg: PgConn, sweep: SweepMode, _now: number, limit: number, downtimes: Downtime[] = []): Promise<{ seen: number; moved: number }> {
  return await inTx(pg, async (tx) => {
    const now = await pgDbNow(tx);
    const rows = await pgTakeOverdue(tx, now, limit);
    let moved = 0;
    for (const h of rows) {
      let ok = false;
      const mode = overdueMode(h, sweep, downtimes);
      if (mode === "deadline") {
        const r = hb.deadlinePassed(timingOf(h), now);
        ok = !!r && (await pgApplyTransition(tx, h, r.timing, r.flip, {}, pgCommitHooks, now));
      } else {
        const r = hb.afterDowntime(timingOf(h), scheduleOf(h), h.graceS, now);
        ok = !!r && (await pgApplyTransition(tx, h, r.timing, r.flip, {}, pgCommitHooks, now));
      }
      if (ok) moved++;
    }
    return { seen: rows.length, moved };
  });
}

async function pauseOrResume(pg: PgConn, tenantId: string, id: string, action: "pause" | "resume", _now: number): Promise<HeartbeatRow | null | "conflict"> {
  return await inTx(pg, async (tx) => {
    const now = await pgDbNow(tx);
    const h = await pgGetHeartbeat(tx, tenantId, id, true);
    if (!h) return null;
    const r = action === "pause" ? hb.pause(timingOf(h), now) : hb.resume(timingOf(h), now);
    if (!(await pgApplyTransition(tx, h, r.timing, r.flip, {}, pgCommitHooks, now))) return "conflict" as const;
    return (await pgGetHeartbeat(tx, tenantId, id)) ?? null;
  });
}

async function removeHeartbeat(pg: PgConn, tenantId: string, id: string, _now: number): Promise<boolean> {
  return await inTx(pg, async (tx) => {
    const now = await pgDbNow(tx);
    const h = await pgGetHeartbeat(tx, tenantId, id, true);
    if (!h) return false;
    // a down heartbeat's open alert closes as resolved (only a down one has an open alert)
    if (h.state === "down") await storeSystemEvent(tx, systemEvent(h, "deleted", now, now), pgCommitHooks, now);
    return await pgDeleteHeartbeat(tx, tenantId, id);
  });
}

async function updateHeartbeat(pg: PgConn, tenantId: string, id: string, set: Partial<NewHeartbeat>, _now: number): Promise<HeartbeatRow | undefined> {
  return await inTx(pg, async (tx) => {
    const now = await pgDbNow(tx);
    const h = await pgGetHeartbeat(tx, tenantId, id, true);
    if (!h) return undefined;
    await pgUpdateHeartbeatSettings(tx, h.id, set, now);
    const fresh = (await pgGetHeartbeat(tx, tenantId, id))!;
    const re = retime(fresh, now);
    if (re && (await pgCasTiming(tx, fresh, re.timing, {}, now)) && re.flip) await pgRecordFlip(tx, fresh.id, re.flip, now);
    return await pgGetHeartbeat(tx, tenantId, id);
  });
}

/**
 * The contract units, plus `receivePing` with the PostgreSQL commit hooks for the group commit
 * (src/store/pg/events.ts): the same arguments as the SQLite receivePing, PgCommitHook[] for CommitHook[].
 */
export const pgHeartbeatTransitionsFns: PgTwin<typeof heartbeatTransitionsFns> & { receivePing: typeof receivePing } = {
  ping,
  sweepOverdue,
  pauseOrResume,
  removeHeartbeat,
  updateHeartbeat,
  receivePing,
};
