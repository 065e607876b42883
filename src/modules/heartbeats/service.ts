import type { Static } from "elysia";
import type { Deps } from "../../deps";
import { validateFilter } from "../../core/filter";
import * as hb from "../../core/heartbeats";
import { ApiError, notFound, type ErrorDetail } from "../../http/errors";
import { iso } from "../../lib/time";
import type { HeartbeatRow, NewHeartbeat } from "../../store/heartbeats";
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

export async function create(deps: Deps, tenantId: string, body: Static<typeof HeartbeatCreate>, origin: string) {
  const s = settingsFrom(body, null);
  const row = await deps.store.heartbeats.createHeartbeat(
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

export async function mustGet(deps: Deps, tenantId: string, id: string): Promise<HeartbeatRow> {
  const h = await deps.store.heartbeats.getHeartbeat(tenantId, id);
  if (!h) throw notFound(`no heartbeat ${id}`);
  return h;
}

export async function update(deps: Deps, tenantId: string, id: string, body: Static<typeof HeartbeatPatch>, origin: string) {
  const h = await mustGet(deps, tenantId, id);
  // settings and the deadlines that follow a new schedule, in one unit of work
  const after = await deps.store.heartbeatTransitions.updateHeartbeat(tenantId, id, settingsFrom(body, h), deps.clock());
  if (!after) throw notFound(`no heartbeat ${id}`);
  deps.heartbeats.arm();
  return view(after, origin);
}

export async function remove(deps: Deps, tenantId: string, id: string) {
  // its open alert closes as resolved, in the transaction that deletes it
  const gone = await deps.store.heartbeatTransitions.removeHeartbeat(tenantId, id, deps.clock());
  if (!gone) throw notFound(`no heartbeat ${id}`);
  deps.heartbeats.arm();
}

export async function pauseOrResume(deps: Deps, tenantId: string, id: string, action: "pause" | "resume", origin: string) {
  const r = await deps.store.heartbeatTransitions.pauseOrResume(tenantId, id, action, deps.clock());
  if (r === null) throw notFound(`no heartbeat ${id}`);
  if (r === "conflict") throw new ApiError(409, "conflict", "the heartbeat kept changing; retry");
  deps.heartbeats.arm();
  return view(r, origin);
}

export async function list(deps: Deps, tenantId: string, origin: string) {
  return { items: (await deps.store.heartbeats.listHeartbeats(tenantId)).map((h) => view(h, origin)) };
}

export async function pings(deps: Deps, tenantId: string, id: string) {
  const h = await mustGet(deps, tenantId, id);
  return {
    items: (await deps.store.heartbeats.listPings(h.id)).map((p) => ({
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

export async function flips(deps: Deps, tenantId: string, id: string) {
  const h = await mustGet(deps, tenantId, id);
  return { items: (await deps.store.heartbeats.listFlips(h.id)).map((f) => ({ id: f.id, at: iso(f.at), from: f.fromState, to: f.toState })) };
}
