// Alerts on PostgreSQL: the twin of src/store/alerts.ts (same names, same results). Rows come back
// in the SQLite row shape (camelCase, tags as the JSON text SQLite stores): the API and outbound
// messages read one shape whatever the store.
import { inTx, type PgConn, type PgTwin } from "../contract";
import type { alertsFns, AlertChange, AlertFilter, AlertPatch, AlertRow, AlertSignal, TimelineRow } from "../alerts";
import { sourceFingerprint } from "../../core/alerts";
import type { NormalizedEvent } from "../../core/event";
import { SEVERITY_RANK, type Severity } from "../../core/severity";
import { newId } from "../../lib/ids";
import { alertView } from "../alerts";
import { pgOutbox } from "./hooks";
import { pgLockFingerprints } from "./dedup-locks";

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
  const e = a.event;
  // one alert per fingerprint across replicas: see dedup-locks.ts
  await pgLockFingerprints(tx, tenantId, [a.fingerprint]);
  const [open] = await tx`SELECT id FROM alerts
     WHERE tenant_id = ${tenantId} AND fingerprint = ${a.fingerprint} AND status <> 'closed' AND last_seen >= ${now - windowMs}
     ORDER BY last_seen DESC LIMIT 1`;
  if (open) {
    const id = open.id as string;
    await tx`INSERT INTO alert_events (alert_id, event_id) VALUES (${id}, ${e.id}) ON CONFLICT DO NOTHING`;
    if (a.resolve) {
      await tx`UPDATE alerts SET status = 'closed', classification = 'resolved', closed_at = ${now}, updated_at = ${now},
                 last_seen = greatest(last_seen, ${now}) WHERE id = ${id}`;
      await pgTimeline(tx, id, now, "resolved", "system", { event_id: e.id, source: e.sourceName }, now);
      return { alertId: id, change: "closed" };
    }
    const seen = e.occurredAt > now ? now : Math.max(e.occurredAt, e.receivedAt);
    const rank = SEVERITY_RANK[a.severity];
    await tx`UPDATE alerts SET count = count + 1, last_seen = greatest(last_seen, ${seen}), updated_at = ${now},
               severity = CASE WHEN ${rank}::int > severity_rank THEN ${a.severity} ELSE severity END,
               severity_rank = greatest(severity_rank, ${rank}::int)
             WHERE id = ${id}`;
    return { alertId: id, change: "updated" };
  }
  if (a.resolve) return null; // a resolve for something we never saw open: the event is stored, no alert
  const id = newId(now);
  await tx`INSERT INTO alerts (id, tenant_id, fingerprint, title, severity, severity_rank, status, classification, assignee,
             enrichment_status, tags, source_name, source, rule_id, first_seen, last_seen, count, suppress_until,
             first_event_id, created_at, updated_at, closed_at)
           VALUES (${id}, ${tenantId}, ${a.fingerprint}, ${a.title}, ${a.severity}, ${SEVERITY_RANK[a.severity]}, 'open', NULL, NULL,
             'pending', ${JSON.stringify(a.tags)}::text::jsonb, ${a.sourceName}, ${a.source}, ${a.ruleId}, ${e.receivedAt}, ${e.receivedAt}, 1, NULL,
             ${e.id}, ${now}, ${now}, NULL)`;
  await tx`INSERT INTO alert_events (alert_id, event_id) VALUES (${id}, ${e.id}) ON CONFLICT DO NOTHING`;
  await pgTimeline(tx, id, now, "opened", "system", { event_id: e.id, source: e.sourceName, ...(a.ruleId ? { rule_id: a.ruleId } : {}) }, now);
  return { alertId: id, change: "opened" };
}

async function alertsFromEvents(tx: PgConn, tenantId: string, evs: NormalizedEvent[], now: number, windowMs: number): Promise<AlertChange[]> {
  const changes: AlertChange[] = [];
  const fp = (e: NormalizedEvent) => sourceFingerprint(e.sourceName, e.dedupKey, e.source, e.title);
  // every fingerprint of the request locked at once, in a fixed order (dedup-locks.ts): two
  // replicas committing the same fingerprints in other orders wait for each other, never deadlock
  await pgLockFingerprints(tx, tenantId, evs.filter((e) => e.opensAlert).map(fp));
  // one at a time, in order: a later item joins (or resolves) the alert an earlier one opened
  for (const e of evs) {
    if (!e.opensAlert) continue;
    const c = await pgRaiseAlert(
      tx,
      tenantId,
      {
        fingerprint: fp(e),
        title: e.title,
        severity: e.severity,
        sourceName: e.sourceName,
        source: e.source,
        ruleId: null,
        tags: e.tags,
        event: e,
        resolve: e.resolve,
      },
      now,
      windowMs,
    );
    if (c) changes.push(c);
  }
  return changes;
}

export async function pgAlertById(pg: PgConn, id: string): Promise<AlertRow | undefined> {
  const [r] = await pg.unsafe(`SELECT ${ALERT_COLS} FROM alerts WHERE id = $1`, [id]);
  return r ? toAlertRow(r) : undefined;
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
  const set: Record<string, unknown> = {};
  const entries: { kind: string; data: unknown }[] = [];
  if (p.status !== undefined && p.status !== a.status) {
    set.status = p.status;
    if (p.status === "closed") {
      set.closedAt = now;
      set.classification = p.classification;
    } else {
      set.closedAt = null;
      if (a.status === "closed") set.classification = null;
    }
    entries.push({
      kind: a.status === "closed" ? "reopened" : "status",
      data: { from: a.status, to: p.status, ...(p.status === "closed" ? { classification: p.classification } : {}) },
    });
  } else if (p.classification !== undefined && a.status === "closed" && p.classification !== a.classification) {
    set.classification = p.classification;
    entries.push({ kind: "status", data: { from: a.status, to: a.status, classification: p.classification } });
  }
  if (p.assignee !== undefined && p.assignee !== a.assignee) {
    set.assignee = p.assignee;
    entries.push({ kind: "assigned", data: { from: a.assignee, to: p.assignee } });
  }
  if (!entries.length) return true;
  return await inTx(pg, async (tx) => {
    const r = await tx`UPDATE alerts SET status = ${(set.status as string) ?? a.status},
          classification = ${"classification" in set ? ((set.classification as string | null) ?? null) : a.classification},
          closed_at = ${"closedAt" in set ? (set.closedAt as number | null) : a.closedAt},
          assignee = ${"assignee" in set ? (set.assignee as string | null) : a.assignee}, updated_at = ${now}
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
