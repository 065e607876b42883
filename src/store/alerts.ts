// Alerts: opened and de-duplicated inside the ingest transaction (commit hook), and the
// triage API's queries.
import type { Bound } from "./contract";
import { and, desc, eq, gte, lt, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { alertEvents, alerts, alertTimeline, events } from "../db/schema";
import type { NormalizedEvent } from "../core/event";
import { planAlertPatch, sourceFingerprint, type AlertPatch, type AlertStatus } from "../core/alerts";
import { SEVERITY_RANK, type Severity } from "../core/severity";
import { newId } from "../lib/ids";
import { iso } from "../lib/time";
import { currentOutbox } from "../ingest/hooks";

export type AlertRow = typeof alerts.$inferSelect;
export type TimelineRow = typeof alertTimeline.$inferSelect;

// Statements of the ingest path; bun:sqlite's query() compiles each once per connection and caches it.
const STMT = {
  findOpen: `SELECT id, last_seen AS lastSeen, severity_rank AS severityRank FROM alerts
          WHERE tenant_id = ?1 AND fingerprint = ?2 AND status != 'closed' AND last_seen >= ?3
          ORDER BY last_seen DESC LIMIT 1`,
  insert: `INSERT INTO alerts (id, tenant_id, fingerprint, title, severity, severity_rank, status, classification, assignee,
           enrichment_status, tags, source_name, source, rule_id, first_seen, last_seen, count, suppress_until,
           first_event_id, created_at, updated_at, closed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', NULL, NULL, 'pending', ?7, ?8, ?9, NULL, ?10, ?10, 1, NULL, ?11, ?12, ?12, NULL)`,
  bump: `UPDATE alerts SET count = count + 1, last_seen = max(last_seen, ?2), updated_at = ?3,
           severity = CASE WHEN ?5 > severity_rank THEN ?4 ELSE severity END,
           severity_rank = max(severity_rank, ?5)
         WHERE id = ?1`,
  resolve: `UPDATE alerts SET status = 'closed', classification = 'resolved', closed_at = ?2, updated_at = ?2,
           last_seen = max(last_seen, ?2) WHERE id = ?1`,
  link: "INSERT OR IGNORE INTO alert_events (alert_id, event_id) VALUES (?1, ?2)",
  timeline: "INSERT INTO alert_timeline (id, alert_id, at, kind, actor, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
};

export type AlertChange = { alertId: string; change: "opened" | "updated" | "closed" };

export type AlertSignal = {
  fingerprint: string;
  title: string;
  severity: Severity;
  sourceName: string;
  source: string;
  ruleId: string | null;
  tags: string[];
  /** the event that raised it (linked to the alert) */
  event: NormalizedEvent;
  /** the sender said it is over */
  resolve: boolean;
};

/**
 * Opens an alert, joins an open one with the same fingerprint seen within `windowMs` (count,
 * last_seen, worse severity), or resolves it. Runs inside the caller's (ingest) transaction.
 */
export function raiseAlert(db: Db, tenantId: string, a: AlertSignal, now: number, windowMs: number): AlertChange | null {
  const q = (sql: string) => db.$client.query(sql);
  const e = a.event;
  const open = q(STMT.findOpen).get(tenantId, a.fingerprint, now - windowMs) as { id: string } | null;
  if (open) {
    q(STMT.link).run(open.id, e.id);
    if (a.resolve) {
      q(STMT.resolve).run(open.id, now);
      q(STMT.timeline).run(newId(now), open.id, now, "resolved", "system", JSON.stringify({ event_id: e.id, source: e.sourceName }));
      return { alertId: open.id, change: "closed" };
    }
    q(STMT.bump).run(open.id, e.occurredAt > now ? now : Math.max(e.occurredAt, e.receivedAt), now, a.severity, SEVERITY_RANK[a.severity]);
    return { alertId: open.id, change: "updated" };
  }
  if (a.resolve) return null; // a resolve for something we never saw open: the event is stored, no alert
  const id = newId(now);
  q(STMT.insert).run(id, tenantId, a.fingerprint, a.title, a.severity, SEVERITY_RANK[a.severity], JSON.stringify(a.tags), a.sourceName, a.source, e.receivedAt, e.id, now);
  if (a.ruleId) db.$client.query("UPDATE alerts SET rule_id = ?2 WHERE id = ?1").run(id, a.ruleId);
  q(STMT.link).run(id, e.id);
  q(STMT.timeline).run(newId(now), id, now, "opened", "system", JSON.stringify({ event_id: e.id, source: e.sourceName, ...(a.ruleId ? { rule_id: a.ruleId } : {}) }));
  return { alertId: id, change: "opened" };
}

/** The alert signal of an alert source's event (both stores): its fingerprint, title, severity and tags. */
export function sourceAlertSignal(e: NormalizedEvent): AlertSignal {
  return {
    fingerprint: sourceFingerprint(e.sourceName, e.dedupKey, e.source, e.title),
    title: e.title,
    severity: e.severity,
    sourceName: e.sourceName,
    source: e.source,
    ruleId: null,
    tags: e.tags,
    event: e,
    resolve: e.resolve,
  };
}

/** Alert sources: every item opens, joins or resolves the alert of its fingerprint. */
export function alertsFromEvents(db: Db, tenantId: string, evs: NormalizedEvent[], now: number, windowMs: number): AlertChange[] {
  const changes: AlertChange[] = [];
  for (const e of evs) {
    if (!e.opensAlert) continue;
    const c = raiseAlert(db, tenantId, sourceAlertSignal(e), now, windowMs);
    if (c) changes.push(c);
  }
  return changes;
}

const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/** An alert as the API shows it and as outbound `alert.*` messages carry it. */
export function alertView(a: AlertRow) {
  return {
    id: a.id,
    fingerprint: a.fingerprint,
    title: a.title,
    severity: a.severity,
    status: a.status,
    classification: a.classification,
    assignee: a.assignee,
    enrichment_status: a.enrichmentStatus,
    enrichment_error: a.enrichmentError,
    tags: JSON.parse(a.tags) as string[],
    source_name: a.sourceName,
    source: a.source,
    rule_id: a.ruleId,
    first_seen: iso(a.firstSeen),
    last_seen: iso(a.lastSeen),
    count: a.count,
    suppress_until: isoOrNull(a.suppressUntil),
    created_at: iso(a.createdAt),
    updated_at: iso(a.updatedAt),
    closed_at: isoOrNull(a.closedAt),
  };
}

export function alertById(db: Db, id: string): AlertRow | undefined {
  return db.select().from(alerts).where(eq(alerts.id, id)).get();
}

export type AlertFilter = {
  status?: AlertStatus;
  minSeverityRank?: number;
  sourceName?: string;
  source?: string;
  ruleId?: string;
  since?: number;
  /** last seen before (ms) */
  until?: number;
  /** only alerts that are not closed (open, triaging, escalated) */
  notClosed?: boolean;
  /** exact assignee; "" for unassigned */
  assignee?: string;
  text?: string;
  before?: string;
  limit: number;
};

export function listAlerts(db: Db, tenantId: string, f: AlertFilter): AlertRow[] {
  const where: SQL[] = [eq(alerts.tenantId, tenantId)];
  if (f.status) where.push(eq(alerts.status, f.status));
  if (f.minSeverityRank !== undefined) where.push(gte(alerts.severityRank, f.minSeverityRank));
  if (f.sourceName) where.push(eq(alerts.sourceName, f.sourceName));
  if (f.source) where.push(eq(alerts.source, f.source));
  if (f.ruleId) where.push(eq(alerts.ruleId, f.ruleId));
  if (f.since !== undefined) where.push(gte(alerts.lastSeen, f.since));
  if (f.until !== undefined) where.push(lt(alerts.lastSeen, f.until));
  if (f.notClosed) where.push(sql`${alerts.status} IN ('open', 'triaging', 'escalated')`);
  if (f.assignee !== undefined) where.push(f.assignee === "" ? sql`${alerts.assignee} IS NULL` : eq(alerts.assignee, f.assignee));
  if (f.before) where.push(lt(alerts.id, f.before));
  if (f.text) {
    const pat = `%${f.text.replace(/[\\%_]/g, (c) => "\\" + c)}%`;
    where.push(or(sql`${alerts.title} LIKE ${pat} ESCAPE '\\'`, sql`${alerts.fingerprint} = ${f.text}`)!);
  }
  return db.select().from(alerts).where(and(...where)).orderBy(desc(alerts.id)).limit(f.limit).all();
}

export function getAlert(db: Db, tenantId: string, id: string): AlertRow | undefined {
  return db.select().from(alerts).where(and(eq(alerts.tenantId, tenantId), eq(alerts.id, id))).get();
}

export function alertEventsOf(db: Db, alertId: string, limit = 100) {
  return db
    .select({ id: events.id, title: events.title, severity: events.severity, receivedAt: events.receivedAt, source: events.source, sourceName: events.sourceName, type: events.type })
    .from(alertEvents)
    .innerJoin(events, eq(events.id, alertEvents.eventId))
    .where(eq(alertEvents.alertId, alertId))
    .orderBy(desc(events.id))
    .limit(limit)
    .all();
}

export function rawPayloadOfEvent(db: Db, eventId: string): string | null {
  const r = db.$client.query("SELECT raw_payload AS raw FROM events WHERE id = ?1").get(eventId) as { raw: string } | null;
  return r?.raw ?? null;
}

export function timelineOf(db: Db, alertId: string): TimelineRow[] {
  return db.select().from(alertTimeline).where(eq(alertTimeline.alertId, alertId)).orderBy(alertTimeline.id).all();
}

export type { AlertPatch };

/**
 * Applies a triage change with a compare-and-set on the status the caller saw, and writes one
 * timeline entry per changed field, and the outbound alert.updated / alert.closed message (the
 * transactional outbox: it commits with the change). Returns false when the alert changed
 * underneath (retry).
 */
export function updateAlert(db: Db, a: AlertRow, p: AlertPatch, actor: string, now: number): boolean {
  return db.transaction(() => {
    const { after: v, entries } = planAlertPatch(a, p, now);
    if (!entries.length) return true;
    const r = db.$client
      .prepare(
        `UPDATE alerts SET status = ?2, classification = ?3, closed_at = ?4, assignee = ?5, updated_at = ?6
          WHERE id = ?1 AND status = ?7 AND updated_at = ?8`,
      )
      .run(
        a.id,
        v.status,
        v.classification,
        v.closedAt,
        v.assignee,
        now,
        a.status,
        a.updatedAt,
      );
    if (r.changes === 0) return false;
    const t = db.$client.query(STMT.timeline);
    for (const e of entries) t.run(newId(now), a.id, now, e.kind, actor, JSON.stringify(e.data));
    const after = alertById(db, a.id)!;
    currentOutbox()?.emit(db, a.tenantId, { type: after.status === "closed" ? "alert.closed" : "alert.updated", data: alertView(after), severity: after.severity as Severity, source: after.source, tags: JSON.parse(after.tags) }, now);
    return true;
  });
}

export function addComment(db: Db, alertId: string, body: string, actor: string, now: number): TimelineRow {
  const row = { id: newId(now), alertId, at: now, kind: "comment", actor, data: JSON.stringify({ body }) };
  db.$client.query(STMT.timeline).run(row.id, row.alertId, row.at, row.kind, row.actor, row.data);
  return row;
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/alerts.ts. */
export const alertsFns = { alertsFromEvents, alertById, listAlerts, getAlert, alertEventsOf, rawPayloadOfEvent, timelineOf, updateAlert, addComment };
export type AlertsStore = Bound<typeof alertsFns>;
