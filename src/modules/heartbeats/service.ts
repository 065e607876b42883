import type { Static } from "elysia";
import type { Deps } from "../../deps";
import { validateFilter } from "../../core/filter";
import * as hb from "../../core/heartbeats";
import { ApiError, notFound, type ErrorDetail } from "../../http/errors";
import { iso } from "../../lib/time";
import {
  casTiming,
  createHeartbeat,
  deleteHeartbeat,
  getHeartbeat,
  listFlips,
  listHeartbeats,
  listPings,
  recordFlip,
  updateHeartbeatSettings,
  type HeartbeatRow,
  type NewHeartbeat,
} from "../../store/heartbeats";
import { applyTransition, resolveDeleted, scheduleOf, timingOf } from "../../store/heartbeat-transitions";
import { commitHooks } from "../../ingest/hooks";
import type { HeartbeatCreate, HeartbeatPatch } from "./model";

const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export function view(h: HeartbeatRow, origin: string) {
  return {
    id: h.id,
    name: h.name,
    state: h.state as hb.HeartbeatState,
    period: h.periodS,
    cron: h.cron,
    tz: h.tz,
    grace: h.graceS,
    max_runtime: h.maxRuntimeS,
    severity: h.severity,
    filter: h.filter ? JSON.parse(h.filter) : null,
    ping_url: `${origin}/ping/${h.token}`,
    last_beat_at: isoOrNull(h.lastBeatAt),
    last_start_at: isoOrNull(h.lastStartAt),
    due_at: isoOrNull(h.dueAt),
    down_at: isoOrNull(h.downAt),
    created_at: iso(h.createdAt),
    updated_at: iso(h.updatedAt),
  };
}

const invalid = (message: string, details: ErrorDetail[]) => new ApiError(422, "invalid_body", message, details);

/** Turns a create/patch body into row fields, checking what the schema cannot. */
function settingsFrom(body: Static<typeof HeartbeatPatch>, current: HeartbeatRow | null): Partial<NewHeartbeat> {
  const out: Partial<NewHeartbeat> = {};
  if (body.name !== undefined) out.name = body.name;
  if (body.period !== undefined && body.cron !== undefined)
    throw invalid("give either period or cron, not both", [{ path: "/cron", message: "not with period" }]);
  if (body.period !== undefined) Object.assign(out, { scheduleKind: "period", periodS: body.period, cron: null, tz: null });
  if (body.cron !== undefined || (body.tz !== undefined && current?.scheduleKind === "cron")) {
    const cron = body.cron ?? current!.cron!;
    const tz = body.tz ?? current?.tz ?? "UTC";
    if (!hb.isTimeZone(tz)) throw invalid(`unknown time zone "${tz}"`, [{ path: "/tz", message: "not an IANA time zone" }]);
    const err = hb.validateCron(cron, tz);
    if (err) throw invalid(`invalid cron expression: ${err}`, [{ path: "/cron", message: err }]);
    Object.assign(out, { scheduleKind: "cron", cron, tz, periodS: null });
  } else if (body.tz !== undefined) throw invalid("tz goes with cron", [{ path: "/tz", message: "only with a cron schedule" }]);
  if (!current && out.scheduleKind === undefined)
    throw invalid("a heartbeat needs a schedule: period (seconds) or cron (+ tz)", [{ path: "/period", message: "period or cron is required" }]);
  if (body.grace !== undefined) out.graceS = body.grace;
  if (body.max_runtime !== undefined) out.maxRuntimeS = body.max_runtime;
  if (body.severity !== undefined) out.severity = body.severity;
  if (body.filter !== undefined) {
    if (body.filter === null) out.filter = null;
    else {
      const problems = validateFilter(body.filter, "/filter");
      if (problems.length) throw invalid(`invalid filter at ${problems[0].path}: ${problems[0].message}`, problems);
      out.filter = JSON.stringify(body.filter);
    }
  }
  return out;
}

export function create(deps: Deps, tenantId: string, body: Static<typeof HeartbeatCreate>, origin: string) {
  const s = settingsFrom(body, null);
  const row = createHeartbeat(
    deps.db,
    {
      tenantId,
      name: s.name!,
      scheduleKind: s.scheduleKind!,
      periodS: s.periodS ?? null,
      cron: s.cron ?? null,
      tz: s.tz ?? null,
      graceS: s.graceS ?? 60,
      maxRuntimeS: s.maxRuntimeS ?? null,
      severity: s.severity ?? "high",
      filter: s.filter ?? null,
    },
    deps.clock(),
  );
  return view(row, origin);
}

export function mustGet(deps: Deps, tenantId: string, id: string): HeartbeatRow {
  const h = getHeartbeat(deps.db, tenantId, id);
  if (!h) throw notFound(`no heartbeat ${id}`);
  return h;
}

export function update(deps: Deps, tenantId: string, id: string, body: Static<typeof HeartbeatPatch>, origin: string) {
  const h = mustGet(deps, tenantId, id);
  const s = settingsFrom(body, h);
  const now = deps.clock();
  deps.db.$client.transaction(() => {
    updateHeartbeatSettings(deps.db, h.id, s, now);
    // a running heartbeat's deadlines follow its new schedule, counted from its last beat
    const fresh = getHeartbeat(deps.db, tenantId, id)!;
    if ((fresh.state === "up" || fresh.state === "late") && fresh.lastBeatAt !== null) {
      const r = hb.beat({ ...timingOf(fresh), state: "up" }, scheduleOf(fresh), fresh.graceS, fresh.lastBeatAt);
      // a late heartbeat that the new schedule puts back to up flips late → up (now)
      if (casTiming(deps.db, fresh, { ...r.timing, state: "up" }, {}, now) && fresh.state === "late") recordFlip(deps.db, fresh.id, { from: "late", to: "up", at: now }, now);
    }
  })();
  deps.heartbeats.arm();
  return view(mustGet(deps, tenantId, id), origin);
}

export function remove(deps: Deps, tenantId: string, id: string) {
  const gone = deps.db.$client.transaction(() => {
    const h = getHeartbeat(deps.db, tenantId, id);
    if (!h) return false;
    resolveDeleted(deps.db, h, commitHooks, deps.clock()); // its open alert closes as resolved
    return deleteHeartbeat(deps.db, tenantId, id);
  })();
  if (!gone) throw notFound(`no heartbeat ${id}`);
  deps.heartbeats.arm();
}

export function pauseOrResume(deps: Deps, tenantId: string, id: string, action: "pause" | "resume", origin: string) {
  for (let i = 0; i < 5; i++) {
    const h = mustGet(deps, tenantId, id);
    const now = deps.clock();
    const r = action === "pause" ? hb.pause(timingOf(h), now) : hb.resume(timingOf(h), now);
    const ok = deps.db.$client.transaction(() => applyTransition(deps.db, h, r.timing, r.flip, {}, commitHooks, now))();
    if (ok) {
      deps.heartbeats.arm();
      return view(mustGet(deps, tenantId, id), origin);
    }
  }
  throw new ApiError(409, "conflict", "the heartbeat kept changing; retry");
}

export function list(deps: Deps, tenantId: string, origin: string) {
  return { items: listHeartbeats(deps.db, tenantId).map((h) => view(h, origin)) };
}

export function pings(deps: Deps, tenantId: string, id: string) {
  const h = mustGet(deps, tenantId, id);
  return {
    items: listPings(deps.db, h.id).map((p) => ({
      id: p.id,
      at: iso(p.at),
      kind: p.kind,
      exit_code: p.exitCode,
      method: p.method,
      remote: p.remote,
      body: p.body,
      event_id: p.eventId,
    })),
  };
}

export function flips(deps: Deps, tenantId: string, id: string) {
  const h = mustGet(deps, tenantId, id);
  return { items: listFlips(deps.db, h.id).map((f) => ({ id: f.id, at: iso(f.at), from: f.fromState, to: f.toState })) };
}
