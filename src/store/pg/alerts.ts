// Alerts on PostgreSQL: the twin of src/store/alerts.ts (same names, same results). Rows come back
// in the SQLite row shape (camelCase, tags as the JSON text SQLite stores): the API and outbound
// messages read one shape whatever the store.
import { inTx, type PgConn, type PgTwin } from "../contract";
import type { alertsFns, AlertChange, AlertFilter, AlertPatch, AlertRow, AlertSignal, TimelineRow } from "../alerts";
import { planAlertPatch } from "../../core/alerts";
import type { NormalizedEvent } from "../../core/event";
import { SEVERITY_RANK, type Severity } from "../../core/severity";
import { newId } from "../../lib/ids";
import { alertView, sourceAlertSignal } from "../alerts";
import { pgOutbox } from "./hooks";
import { pgLockFingerprintPairs } from "./dedup-locks";

export const ALERT_COLS = `id, tenant_id AS "tenantId", fingerprint, title, severity, severity_rank AS "severityRank", status,
  classification, assignee, enrichment_status AS "enrichmentStatus", enrichment_error AS "enrichmentError", tags,
  source_name AS "sourceName", source, rule_id AS "ruleId", first_seen AS "firstSeen", last_seen AS "lastSeen", count,
  suppress_until AS "suppressUntil", first_event_id AS "firstEventId", created_at AS "createdAt", updated_at AS "updatedAt",
  closed_at AS "closedAt"`;

/** jsonb comes back parsed; the row shape carries the JSON text (as SQLite stores it). */
export const jsonText = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));

export function toAlertRow(r: Record<string, unknown>): AlertRow {
  return { ...(r as AlertRow), tags: jsonText(r.tags) };
}

export async function pgTimeline(tx: PgConn, alertId: string, at: number, kind: string, actor: string, data: unknown, now: number): Promise<void> {
  await tx`INSERT INTO alert_timeline (id, alert_id, at, kind, actor, data) VALUES (${newId(now)}, ${alertId}, ${at}, ${kind}, ${actor}, ${JSON.stringify(data)})`;
}

/** The twin of raiseAlert: opens, joins (within windowMs) or resolves, inside the caller's transaction. */
export async function pgRaiseAlert(tx: PgConn, tenantId: string, a: AlertSignal, now: number, windowMs: number): Promise<AlertChange | null> {
  return (await pgRaiseAlerts(tx, [{ ...a, tenantId, windowMs }], now))[0]!.change;
}

/** A signal of pgRaiseAlerts: raiseAlert's arguments; `carry`: events a threshold alert it opens counts besides its own. */
export type RaiseSignal = AlertSignal & { tenantId: string; windowMs: number; carry?: number };

/** The fields of an alert row the signals of a batch change, as one signal left them. */
export type AlertSnap = Pick<AlertRow, "count" | "lastSeen" | "severity" | "severityRank" | "status" | "classification" | "closedAt">;

/** An alert a batch of signals may open, join or resolve. */
type Candidate = {
  id: string;
  /** the row as the signals so far left it */
  st: AlertSnap;
  /** opened by this batch (inserted with its final values), by this signal */
  fresh: RaiseSignal | null;
  /** an alert of an earlier commit: what the batch adds to it */
  joins: number;
  maxRank: number | null;
  maxSeverity: Severity | null;
  closed: boolean;
};

/**
 * raiseAlert for many signals (of any tenants), in order, with a fixed number of statements (not
 * per signal): the open alerts of every (tenant, fingerprint) read once, each signal decided in
 * memory in order exactly as pgRaiseAlert one after the other would (a later signal joins or
 * resolves the alert an earlier one opened; a resolve closes it and the next signal opens a new
 * one), then one multi-row statement per kind of write (new alerts, changes to existing ones, alert
 * events, timeline entries). Per signal: what raiseAlert answers, and the changed fields of its
 * alert as that signal left them (`snap`; the outbox messages of a request carry that state).
 *
 * Replicas: new alerts are inserted with ON CONFLICT DO NOTHING; if any was not inserted (a unique
 * guard on open alerts per fingerprint, and another replica opened one first), the unit fails as a
 * serialization failure (40001) and inTx runs it again, which then joins that alert.
 */
export async function pgRaiseAlerts(tx: PgConn, signals: RaiseSignal[], now: number): Promise<{ change: AlertChange | null; snap: AlertSnap | null }[]> {
  if (!signals.length) return [];
  const key = (t: string, fp: string) => `${t}\u0000${fp}`;
  const keys = new Map<string, [string, string]>();
  for (const s of signals) keys.set(key(s.tenantId, s.fingerprint), [s.tenantId, s.fingerprint]);
  // one alert per fingerprint across replicas: the batch's fingerprints locked in one statement,
  // in a fixed order, before the look-up (see dedup-locks.ts)
  await pgLockFingerprintPairs(tx, [...keys.values()]);
  const since = now - Math.max(...signals.map((s) => s.windowMs));
  // every open alert of these fingerprints still joinable by one of the signals
  const rows = await tx.unsafe(
    `SELECT a.id, a.tenant_id, a.fingerprint, a.last_seen, a.count, a.severity, a.severity_rank, a.status, a.classification, a.closed_at
       FROM alerts a JOIN unnest($1::text[], $2::text[]) AS u(tenant_id, fingerprint) ON a.tenant_id = u.tenant_id AND a.fingerprint = u.fingerprint
      WHERE a.status <> 'closed' AND a.last_seen >= $3::bigint
      ORDER BY a.tenant_id, a.fingerprint, a.last_seen DESC`,
    [[...keys.values()].map((k) => k[0]), [...keys.values()].map((k) => k[1]), since] as any[],
  );
  const open = new Map<string, Candidate[]>();
  for (const r of rows) {
    const k = key(r.tenant_id, r.fingerprint);
    let l = open.get(k);
    if (!l) open.set(k, (l = []));
    const st: AlertSnap = {
      count: Number(r.count),
      lastSeen: Number(r.last_seen),
      severity: r.severity,
      severityRank: Number(r.severity_rank),
      status: r.status,
      classification: r.classification,
      closedAt: r.closed_at === null ? null : Number(r.closed_at),
    };
    l.push({ id: r.id, st, fresh: null, joins: 0, maxRank: null, maxSeverity: null, closed: false });
  }
  const touched: Candidate[] = [];
  const links: [string, string][] = [];
  const timeline: [string, string, string, string][] = []; // id, alert, kind, data
  const out: { change: AlertChange | null; snap: AlertSnap | null }[] = [];
  for (const a of signals) {
    const e = a.event;
    const k = key(a.tenantId, a.fingerprint);
    let list = open.get(k);
    if (!list) open.set(k, (list = []));
    // the newest open alert of the fingerprint, if last seen within the window (findOpen)
    let cur: Candidate | undefined;
    for (const c of list) if (!cur || c.st.lastSeen > cur.st.lastSeen) cur = c;
    if (cur && cur.st.lastSeen < now - a.windowMs) cur = undefined;
    if (cur) {
      links.push([cur.id, e.id]);
      if (!touched.includes(cur)) touched.push(cur);
      if (a.resolve) {
        cur.st.lastSeen = Math.max(cur.st.lastSeen, now);
        cur.st.status = "closed";
        cur.st.classification = "resolved";
        cur.st.closedAt = now;
        cur.closed = true;
        list.splice(list.indexOf(cur), 1);
        timeline.push([newId(now), cur.id, "resolved", JSON.stringify({ event_id: e.id, source: e.sourceName })]);
        out.push({ change: { alertId: cur.id, change: "closed" }, snap: { ...cur.st } });
        continue;
      }
      const seen = e.occurredAt > now ? now : Math.max(e.occurredAt, e.receivedAt);
      const rank = SEVERITY_RANK[a.severity];
      cur.st.lastSeen = Math.max(cur.st.lastSeen, seen);
      cur.st.count++;
      if (rank > cur.st.severityRank) (cur.st.severityRank = rank), (cur.st.severity = a.severity);
      cur.joins++;
      if (cur.maxRank === null || rank > cur.maxRank) (cur.maxRank = rank), (cur.maxSeverity = a.severity);
      out.push({ change: { alertId: cur.id, change: "updated" }, snap: { ...cur.st } });
      continue;
    }
    if (a.resolve) {
      out.push({ change: null, snap: null }); // a resolve for something we never saw open: the event is stored, no alert
      continue;
    }
    const id = newId(now);
    const st: AlertSnap = { count: 1 + (a.carry ?? 0), lastSeen: e.receivedAt, severity: a.severity, severityRank: SEVERITY_RANK[a.severity], status: "open", classification: null, closedAt: null };
    const c: Candidate = { id, st, fresh: a, joins: 0, maxRank: null, maxSeverity: null, closed: false };
    list.push(c);
    touched.push(c);
    links.push([id, e.id]);
    timeline.push([newId(now), id, "opened", JSON.stringify({ event_id: e.id, source: e.sourceName, ...(a.ruleId ? { rule_id: a.ruleId } : {}) })]);
    out.push({ change: { alertId: id, change: "opened" }, snap: { ...st } });
  }
  const fresh = touched.filter((c) => c.fresh);
  if (fresh.length) {
    const col = <T>(f: (c: Candidate, a: RaiseSignal) => T) => fresh.map((c) => f(c, c.fresh!));
    const ins = await tx.unsafe(
      `INSERT INTO alerts (id, tenant_id, fingerprint, title, severity, severity_rank, status, classification, assignee,
              enrichment_status, tags, source_name, source, rule_id, first_seen, last_seen, count, suppress_until,
              first_event_id, created_at, updated_at, closed_at)
       SELECT u.id, u.tenant_id, u.fingerprint, u.title, u.severity, u.rank, u.status, u.classification, NULL, 'pending', u.tags::jsonb,
              u.source_name, u.source, u.rule_id, u.first_seen, u.last_seen, u.count, NULL, u.first_event_id, $1::bigint, $1::bigint, u.closed_at
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[],
                     $11::text[], $12::text[], $13::text[], $14::bigint[], $15::bigint[], $16::int[], $17::text[], $18::bigint[]) WITH ORDINALITY
              AS u(id, tenant_id, fingerprint, title, severity, rank, status, classification, tags, source_name, source, rule_id,
                   first_seen, last_seen, count, first_event_id, closed_at, ord)
        ORDER BY u.ord
       ON CONFLICT DO NOTHING
       RETURNING id`,
      [
        now,
        col((c) => c.id),
        col((_, a) => a.tenantId),
        col((_, a) => a.fingerprint),
        col((_, a) => a.title),
        col((c) => c.st.severity),
        col((c) => c.st.severityRank),
        col((c) => c.st.status),
        col((c) => c.st.classification),
        col((_, a) => JSON.stringify(a.tags)),
        col((_, a) => a.sourceName),
        col((_, a) => a.source),
        col((_, a) => a.ruleId),
        col((_, a) => a.event.receivedAt),
        col((c) => c.st.lastSeen),
        col((c) => c.st.count),
        col((_, a) => a.event.id),
        col((c) => c.st.closedAt),
      ] as any[],
    );
    if (ins.length !== fresh.length)
      // another writer opened an alert of one of these fingerprints first (a unique guard on open
      // alerts): run the unit again, which joins it
      throw Object.assign(new Error("an open alert of the same fingerprint was opened concurrently"), { code: "40001" });
  }
  const old = touched.filter((c) => !c.fresh);
  if (old.length)
    await tx.unsafe(
      `UPDATE alerts a SET count = a.count + u.n, last_seen = greatest(a.last_seen, u.seen), updated_at = $1::bigint,
              severity = CASE WHEN u.rank > a.severity_rank THEN u.severity ELSE a.severity END,
              severity_rank = greatest(a.severity_rank, u.rank),
              status = CASE WHEN u.closed = 1 THEN 'closed' ELSE a.status END,
              classification = CASE WHEN u.closed = 1 THEN 'resolved' ELSE a.classification END,
              closed_at = CASE WHEN u.closed = 1 THEN $1::bigint ELSE a.closed_at END
         FROM unnest($2::text[], $3::int[], $4::bigint[], $5::int[], $6::text[], $7::int[]) AS u(id, n, seen, rank, severity, closed)
        WHERE a.id = u.id`,
      [now, old.map((c) => c.id), old.map((c) => c.joins), old.map((c) => c.st.lastSeen), old.map((c) => c.maxRank), old.map((c) => c.maxSeverity), old.map((c) => (c.closed ? 1 : 0))] as any[],
    );
  if (links.length)
    await tx.unsafe(
      `INSERT INTO alert_events (alert_id, event_id) SELECT u.a, u.e FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(a, e, ord) ORDER BY u.ord
       ON CONFLICT DO NOTHING`,
      [links.map((l) => l[0]), links.map((l) => l[1])] as any[],
    );
  if (timeline.length)
    await tx.unsafe(
      `INSERT INTO alert_timeline (id, alert_id, at, kind, actor, data)
       SELECT u.id, u.alert_id, $1::bigint, u.kind, 'system', u.data FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(id, alert_id, kind, data, ord)
        ORDER BY u.ord`,
      [now, ...[0, 1, 2, 3].map((k) => timeline.map((t) => t[k]))] as any[],
    );
  return out;
}

/** The alert signals of alert-source events (alertsFromEvents' signals), in order. */
export function sourceSignals(tenantId: string, evs: NormalizedEvent[], windowMs: number): RaiseSignal[] {
  return evs
    .filter((e) => e.opensAlert)
    .map((e) => ({ tenantId, ...sourceAlertSignal(e), windowMs }));
}

async function alertsFromEvents(tx: PgConn, tenantId: string, evs: NormalizedEvent[], now: number, windowMs: number): Promise<AlertChange[]> {
  // in order: a later item joins (or resolves) the alert an earlier one opened (pgRaiseAlerts)
  return (await pgRaiseAlerts(tx, sourceSignals(tenantId, evs, windowMs), now)).flatMap((r) => (r.change ? [r.change] : []));
}

export async function pgAlertById(pg: PgConn, id: string): Promise<AlertRow | undefined> {
  const [r] = await pg.unsafe(`SELECT ${ALERT_COLS} FROM alerts WHERE id = $1`, [id]);
  return r ? toAlertRow(r) : undefined;
}

/** Several alerts by id (the ones that exist), in one statement. */
export async function pgAlertsById(pg: PgConn, ids: string[]): Promise<Map<string, AlertRow>> {
  const rows = ids.length ? await pg.unsafe(`SELECT ${ALERT_COLS} FROM alerts WHERE id = ANY($1::text[])`, [ids] as any[]) : [];
  return new Map(rows.map((r) => [r.id as string, toAlertRow(r)]));
}

async function listAlerts(pg: PgConn, tenantId: string, f: AlertFilter): Promise<AlertRow[]> {
  const where: string[] = ["tenant_id = $1"];
  const args: unknown[] = [tenantId];
  const add = (cond: (p: string) => string, v: unknown) => {
    args.push(v);
    where.push(cond(`$${args.length}`));
  };
  if (f.status) add((p) => `status = ${p}`, f.status);
  if (f.minSeverityRank !== undefined) add((p) => `severity_rank >= ${p}::int`, f.minSeverityRank);
  if (f.sourceName) add((p) => `source_name = ${p}`, f.sourceName);
  if (f.source) add((p) => `source = ${p}`, f.source);
  if (f.ruleId) add((p) => `rule_id = ${p}`, f.ruleId);
  if (f.since !== undefined) add((p) => `last_seen >= ${p}::bigint`, f.since);
  if (f.until !== undefined) add((p) => `last_seen < ${p}::bigint`, f.until);
  if (f.notClosed) where.push("status IN ('open', 'triaging', 'escalated')");
  if (f.assignee !== undefined) {
    if (f.assignee === "") where.push("assignee IS NULL");
    else add((p) => `assignee = ${p}`, f.assignee);
  }
  if (f.before) add((p) => `id < ${p}`, f.before);
  if (f.text) {
    // SQLite's LIKE ignores ASCII case: ILIKE here
    args.push(`%${f.text.replace(/[\\%_]/g, (c) => "\\" + c)}%`, f.text);
    where.push(`(title ILIKE $${args.length - 1} ESCAPE '\\' OR fingerprint = $${args.length})`);
  }
  args.push(f.limit);
  const rows = await pg.unsafe(`SELECT ${ALERT_COLS} FROM alerts WHERE ${where.join(" AND ")} ORDER BY id DESC LIMIT $${args.length}`, args as any[]);
  return rows.map(toAlertRow);
}

async function getAlert(pg: PgConn, tenantId: string, id: string): Promise<AlertRow | undefined> {
  const [r] = await pg.unsafe(`SELECT ${ALERT_COLS} FROM alerts WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
  return r ? toAlertRow(r) : undefined;
}

async function alertEventsOf(pg: PgConn, alertId: string, limit = 100) {
  const rows = await pg`SELECT e.id, e.title, e.severity, e.received_at AS "receivedAt", e.source, e.source_name AS "sourceName", e.type
      FROM alert_events ae JOIN events e ON e.id = ae.event_id
     WHERE ae.alert_id = ${alertId} ORDER BY e.id DESC LIMIT ${limit}`;
  return rows.map((r) => ({ id: r.id as string, title: r.title as string, severity: r.severity as string, receivedAt: r.receivedAt as number, source: r.source as string, sourceName: r.sourceName as string, type: r.type as string }));
}

async function rawPayloadOfEvent(pg: PgConn, eventId: string): Promise<string | null> {
  const [r] = await pg`SELECT raw_payload AS raw FROM events WHERE id = ${eventId}`;
  return (r?.raw as string | undefined) ?? null;
}

async function timelineOf(pg: PgConn, alertId: string): Promise<TimelineRow[]> {
  const rows = await pg`SELECT id, alert_id AS "alertId", at, kind, actor, data FROM alert_timeline WHERE alert_id = ${alertId} ORDER BY id`;
  return rows.map((r) => ({ id: r.id, alertId: r.alertId, at: r.at, kind: r.kind, actor: r.actor, data: r.data }) as TimelineRow);
}

/** The twin of updateAlert: compare-and-set on the status and updated_at the caller saw, timeline, outbox. */
async function updateAlert(pg: PgConn, a: AlertRow, p: AlertPatch, actor: string, now: number): Promise<boolean> {
  const { after: v, entries } = planAlertPatch(a, p, now);
  if (!entries.length) return true;
  return await inTx(pg, async (tx) => {
    const r = await tx`UPDATE alerts SET status = ${v.status}, classification = ${v.classification}, closed_at = ${v.closedAt},
          assignee = ${v.assignee}, updated_at = ${now}
        WHERE id = ${a.id} AND status = ${a.status} AND updated_at = ${a.updatedAt}`;
    if (r.count === 0) return false;
    for (const e of entries) await pgTimeline(tx, a.id, now, e.kind, actor, e.data, now);
    const after = (await pgAlertById(tx, a.id))!;
    await pgOutbox()?.emit(
      tx,
      a.tenantId,
      { type: after.status === "closed" ? "alert.closed" : "alert.updated", data: alertView(after), severity: after.severity as Severity, source: after.source, tags: JSON.parse(after.tags) },
      now,
    );
    return true;
  });
}

async function addComment(pg: PgConn, alertId: string, body: string, actor: string, now: number): Promise<TimelineRow> {
  const row = { id: newId(now), alertId, at: now, kind: "comment", actor, data: JSON.stringify({ body }) };
  await pg`INSERT INTO alert_timeline (id, alert_id, at, kind, actor, data) VALUES (${row.id}, ${row.alertId}, ${row.at}, ${row.kind}, ${row.actor}, ${row.data})`;
  return row;
}

export const pgAlertsFns: PgTwin<typeof alertsFns> = {
  alertsFromEvents,
  alertById: pgAlertById,
  listAlerts,
  getAlert,
  alertEventsOf,
  rawPayloadOfEvent,
  timelineOf,
  updateAlert,
  addComment,
};
