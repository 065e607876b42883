// Heartbeat transitions as transactional writes: the compare-and-set on the timing, the flip, and
// for down / back up the system event (heartbeat.down / heartbeat.up) that opens or resolves the
// heartbeat's alert through the same commit hooks as ingest (so outbound delivery sees it too).
import type { Bound } from "./contract";
import type { Db } from "../db/client";
import * as hb from "../core/heartbeats";
import { matchableOf, type NormalizedEvent } from "../core/event";
import { isSeverity } from "../core/severity";
import { matches, type Filter } from "../core/filter";
import { newId } from "../lib/ids";
import { iso } from "../lib/time";
import type { CommitHook } from "../ingest/commit";
import { storeOne } from "../ingest/commit";
import { startUnit } from "./config-versions";
import { commitHooks } from "../ingest/hooks";
import { inDowntime, type Downtime } from "./replicas";
import {
  casTiming,
  deleteHeartbeat,
  getHeartbeat,
  heartbeatById,
  heartbeatFilterCache,
  overdueHeartbeats,
  recordFlip,
  recordPing,
  updateHeartbeatSettings,
  type HeartbeatRow,
  type NewHeartbeat,
  type PingRow,
} from "./heartbeats";

export const HEARTBEAT_SOURCE = "heartbeat";

export function scheduleOf(h: HeartbeatRow): hb.Schedule {
  return h.scheduleKind === "cron" ? { kind: "cron", cron: h.cron!, tz: h.tz ?? "UTC" } : { kind: "period", periodS: h.periodS! };
}

export function timingOf(h: HeartbeatRow): hb.Timing {
  return { state: h.state as hb.HeartbeatState, dueAt: h.dueAt, downAt: h.downAt, nextDeadline: h.nextDeadline };
}

export type SystemKind = "down" | "up" | "paused" | "deleted";

const TITLE: Record<SystemKind, (name: string) => string> = {
  down: (n) => `${n} is down`,
  up: (n) => `${n} is up again`,
  paused: (n) => `${n} was paused`,
  deleted: (n) => `${n} was deleted`,
};

const SUMMARY: Record<SystemKind, (name: string, at: string) => string> = {
  down: (n, at) => `no beat from ${n} by ${at}`,
  up: (n, at) => `${n} beat again at ${at}`,
  paused: (n, at) => `heartbeat ${n} was paused while down at ${at}`,
  deleted: (n, at) => `heartbeat ${n} was deleted at ${at}`,
};

/** keepwatch's own event for a heartbeat change (shared with the PostgreSQL twin). */
export function systemEvent(h: HeartbeatRow, kind: SystemKind, at: number, now: number): NormalizedEvent {
  const payload = { heartbeat_id: h.id, name: h.name, at: iso(at), last_beat_at: h.lastBeatAt === null ? null : iso(h.lastBeatAt) };
  const json = JSON.stringify(payload);
  return {
    id: newId(now),
    tenantId: h.tenantId,
    receivedAt: now,
    occurredAt: at,
    sourceName: HEARTBEAT_SOURCE,
    source: h.name,
    type: `heartbeat.${kind}`,
    module: "heartbeat",
    title: TITLE[kind](h.name),
    summary: SUMMARY[kind](h.name, iso(at)),
    severity: kind === "down" && isSeverity(h.severity) ? h.severity : "info",
    severityRaw: null,
    host: null,
    tags: ["heartbeat"],
    payloadJson: json,
    rawJson: json,
    dedupKey: h.id,
    externalId: null,
    indicators: [],
    warnings: [],
    resolve: kind !== "down",
    opensAlert: true,
  };
}

/** The system event a flip makes: down opens the heartbeat's alert; leaving down (a beat, or a pause) resolves it. */
export function systemKindOf(flip: hb.Transition): SystemKind | null {
  return flip.to === "down" ? "down" : flip.from !== "down" ? null : flip.to === "up" ? "up" : flip.to === "paused" ? "paused" : null;
}

/** Applies a computed transition. Returns false when the row changed meanwhile (nothing written). */
export function applyTransition(
  db: Db,
  h: HeartbeatRow,
  next: hb.Timing,
  flip: hb.Transition | null,
  extra: Partial<Pick<HeartbeatRow, "lastBeatAt" | "lastStartAt">>,
  hooks: CommitHook[],
  now: number,
): boolean {
  if (!casTiming(db, h, next, extra, now)) return false;
  if (flip) {
    startUnit(); // caches used by the hooks re-check their change counters
    recordFlip(db, h.id, flip, now);
    const kind = systemKindOf(flip);
    if (kind) storeOne(db, { tenantId: h.tenantId, route: "heartbeat", idempotencyKey: null, events: [systemEvent(h, kind, flip.at, now)] }, hooks, now);
  }
  return true;
}

/**
 * A heartbeat that is deleted while down: its open alert is closed as resolved, through the same
 * hooks (a `heartbeat.deleted` event, which outbound webhooks with heartbeat.* triggers also get).
 * Call inside the transaction that deletes it.
 */
export function resolveDeleted(db: Db, h: HeartbeatRow, hooks: CommitHook[], now: number): void {
  if (h.state !== "down") return; // only a down heartbeat has an open alert
  startUnit();
  storeOne(db, { tenantId: h.tenantId, route: "heartbeat", idempotencyKey: null, events: [systemEvent(h, "deleted", now, now)] }, hooks, now);
}

export type PingKind = "success" | "start" | "fail" | "log" | "event";

/**
 * A ping (or an event counted as a beat) for one heartbeat, in one transaction: the ping is kept
 * (last 100), the state moves. Retries its compare-and-set against a concurrent sweep.
 */
export function receivePing(
  db: Db,
  heartbeatId: string,
  p: { kind: PingKind; exitCode?: number | null; method?: string | null; remote?: string | null; body?: string | null; eventId?: string | null },
  hooks: CommitHook[],
  now: number,
): HeartbeatRow | null {
  return db.$client.transaction(() => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const h = heartbeatById(db, heartbeatId);
      if (!h) return null;
      if (attempt === 0) {
        recordPing(db, pingRowOf(h.id, p, now), now);
      }
      const t = timingOf(h);
      let ok = true;
      if (p.kind === "success" || p.kind === "event") {
        const r = hb.beat(t, scheduleOf(h), h.graceS, now);
        ok = applyTransition(db, h, r.timing, r.flip, { lastBeatAt: h.state === "paused" ? h.lastBeatAt : now }, hooks, now);
      } else if (p.kind === "start") {
        ok = applyTransition(db, h, hb.started(t, h.maxRuntimeS, now), null, { lastStartAt: now }, hooks, now);
      } else if (p.kind === "fail") {
        const r = hb.failed(t, now);
        ok = applyTransition(db, h, r.timing, r.flip, {}, hooks, now);
      }
      if (ok) return heartbeatById(db, heartbeatId) ?? null;
    }
    throw new Error(`heartbeat ${heartbeatId} kept changing`);
  })();
}

/** The scheduler's work for one overdue heartbeat (inside the caller's transaction). */
export function passDeadline(db: Db, h: HeartbeatRow, hooks: CommitHook[], now: number): boolean {
  const r = hb.deadlinePassed(timingOf(h), now);
  if (!r) return false;
  return applyTransition(db, h, r.timing, r.flip, {}, hooks, now);
}

/**
 * Commit hook: events that match a heartbeat's filter are beats. Runs inside the ingest
 * transaction; keepwatch's own heartbeat events never count.
 */
export function beatsFromEvents(db: Db, tenantId: string, events: NormalizedEvent[], hooks: CommitHook[], now: number): void {
  const candidates = events.filter((e) => e.sourceName !== HEARTBEAT_SOURCE);
  if (!candidates.length) return;
  const rules = heartbeatFilterCache.get(db, tenantId);
  if (!rules.length) return;
  const views = candidates.map(matchableOf);
  for (const h of rules) {
    const f = JSON.parse(h.filter) as Filter;
    let last = -1;
    views.forEach((v, i) => {
      if (matches(f, v)) last = i;
    });
    if (last >= 0) receivePing(db, h.id, { kind: "event", eventId: candidates[last].id }, hooks, now);
  }
}

// -- Units of work for callers outside the store (API, admin, scheduler). They run the process's
// commit hooks (src/ingest/hooks.ts); the writer's group commit calls receivePing with its own.

export type PingInput = { kind: PingKind; exitCode?: number | null; method?: string | null; remote?: string | null; body?: string | null; eventId?: string | null };

/** The stored row of a ping (both stores). */
export function pingRowOf(heartbeatId: string, p: PingInput, at: number): Omit<PingRow, "id"> {
  return {
    heartbeatId,
    at,
    kind: p.kind,
    exitCode: p.exitCode ?? null,
    method: p.method ?? null,
    remote: p.remote ?? null,
    body: p.body ?? null,
    eventId: p.eventId ?? null,
  };
}

/** A ping outside the group-commit writer (tools, tests): receivePing with the process's hooks. */
export function ping(db: Db, heartbeatId: string, p: PingInput, now: number): HeartbeatRow | null {
  return receivePing(db, heartbeatId, p, commitHooks, now);
}

/** "deadline": the scheduler's sweep (up → late → down); "afterStart": downtime does not count (afterDowntime). */
export type SweepMode = "deadline" | "afterStart";

/**
 * One batch of the heartbeats whose deadline has passed, each moved one step, in one transaction
 * (flips, their alerts and outbox messages commit together); in a "deadline" sweep a deadline that
 * fell in one of `downtimes` (the cluster was not running) counts as after a start. `seen`: how many were due;
 * `moved`: how many moved (the caller sweeps again while a full batch made progress).
 */
export function sweepOverdue(db: Db, mode: SweepMode, now: number, limit: number, downtimes: Downtime[] = []): { seen: number; moved: number } {
  return db.$client.transaction(() => {
    const rows = overdueHeartbeats(db, now, limit);
    const moved = rows.filter((h) => stepOverdue(db, h, overdueMode(h, mode, downtimes), commitHooks, now)).length;
    return { seen: rows.length, moved };
  })();
}

/**
 * How a due heartbeat moves (both stores): in a deadline sweep, one whose deadline fell while the
 * cluster was down (`downtimes`, src/store/replicas.ts) gets a fresh period as after a start; one
 * whose deadline passed while a replica ran (even one about to die) passes it.
 */
export function overdueMode(h: Pick<HeartbeatRow, "nextDeadline">, mode: SweepMode, downtimes: Downtime[]): SweepMode {
  return mode === "deadline" && h.nextDeadline !== null && inDowntime(h.nextDeadline, downtimes) ? "afterStart" : mode;
}

/** One overdue heartbeat, one step (shared by both stores' sweeps through the core's arithmetic). */
function stepOverdue(db: Db, h: HeartbeatRow, mode: SweepMode, hooks: CommitHook[], now: number): boolean {
  if (mode === "deadline") return passDeadline(db, h, hooks, now);
  const r = hb.afterDowntime(timingOf(h), scheduleOf(h), h.graceS, now);
  return !!r && applyTransition(db, h, r.timing, r.flip, {}, hooks, now);
}

/**
 * Pause or resume, in one transaction (the flip, and the resolve of the alert of a down heartbeat
 * that is paused). The heartbeat after it; null when there is none; "conflict" when it kept changing.
 */
export function pauseOrResume(db: Db, tenantId: string, id: string, action: "pause" | "resume", now: number): HeartbeatRow | null | "conflict" {
  return db.$client.transaction(() => {
    for (let i = 0; i < 5; i++) {
      const h = getHeartbeat(db, tenantId, id);
      if (!h) return null;
      const r = action === "pause" ? hb.pause(timingOf(h), now) : hb.resume(timingOf(h), now);
      if (applyTransition(db, h, r.timing, r.flip, {}, commitHooks, now)) return getHeartbeat(db, tenantId, id) ?? null;
    }
    return "conflict" as const;
  })();
}

/** Deletes a heartbeat; a down one's open alert closes as resolved first, in the same transaction. */
export function removeHeartbeat(db: Db, tenantId: string, id: string, now: number): boolean {
  return db.$client.transaction(() => {
    const h = getHeartbeat(db, tenantId, id);
    if (!h) return false;
    resolveDeleted(db, h, commitHooks, now);
    return deleteHeartbeat(db, tenantId, id);
  })();
}

/**
 * Changes a heartbeat's settings in one transaction; a running heartbeat's deadlines follow its
 * new schedule, counted from its last beat (a late one the new schedule puts back flips late → up).
 * The heartbeat after it, or undefined when there is none.
 */
export function updateHeartbeat(db: Db, tenantId: string, id: string, set: Partial<NewHeartbeat>, now: number): HeartbeatRow | undefined {
  return db.$client.transaction(() => {
    const h = getHeartbeat(db, tenantId, id);
    if (!h) return undefined;
    updateHeartbeatSettings(db, h.id, set, now);
    const fresh = getHeartbeat(db, tenantId, id)!;
    const re = retime(fresh, now);
    if (re && casTiming(db, fresh, re.timing, {}, now) && re.flip) recordFlip(db, fresh.id, re.flip, now);
    return getHeartbeat(db, tenantId, id);
  })();
}

/** The new timing of a heartbeat whose schedule changed (both stores), or null when it keeps its own. */
export function retime(h: HeartbeatRow, now: number): { timing: hb.Timing; flip: hb.Transition | null } | null {
  if ((h.state !== "up" && h.state !== "late") || h.lastBeatAt === null) return null;
  const r = hb.beat({ ...timingOf(h), state: "up" }, scheduleOf(h), h.graceS, h.lastBeatAt);
  return { timing: { ...r.timing, state: "up" }, flip: h.state === "late" ? { from: "late", to: "up", at: now } : null };
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/heartbeat-transitions.ts. */
export const heartbeatTransitionsFns = { ping, sweepOverdue, pauseOrResume, removeHeartbeat, updateHeartbeat };
export type HeartbeatTransitionsStore = Bound<typeof heartbeatTransitionsFns>;
