// Events: the group-commit write (hot path, raw prepared statements) and the read API queries.
import type { Bound } from "./contract";
import { and, asc, desc, eq, gt, gte, lt, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { eventIndicators, events } from "../db/schema";
import type { NormalizedEvent } from "../core/event";
import { SEVERITY_RANK } from "../core/severity";

/** How long an Idempotency-Key is remembered. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;

/** One ingest request as handed to the writer. */
export type IngestBatch = {
  tenantId: string;
  route: string;
  idempotencyKey: string | null;
  events: NormalizedEvent[];
  /** a heartbeat ping, committed in the same group as events (no events then) */
  ping?: PingWork;
};

export type PingWork = {
  heartbeatId: string;
  kind: "success" | "start" | "fail" | "log";
  exitCode: number | null;
  method: string;
  remote: string | null;
  body: string | null;
};

export type EventRow = typeof events.$inferSelect;

// Statements of the hot path; bun:sqlite's query() compiles each once per connection and caches it.
const STMT = {
  insertEvent: `INSERT INTO events (id, tenant_id, received_at, occurred_at, source_name, source, type, module, title, summary,
           severity, severity_rank, severity_raw, host, tags, payload, raw_payload, dedup_key, external_id, warnings)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
         ON CONFLICT DO NOTHING`,
  insertIndicator: "INSERT OR IGNORE INTO event_indicators (event_id, tenant_id, type, value, origin) VALUES (?1, ?2, ?3, ?4, ?5)",
  existingByExternal: "SELECT id FROM events WHERE tenant_id = ?1 AND source_name = ?2 AND external_id = ?3",
  getIdem: "SELECT ids FROM idempotency_keys WHERE tenant_id = ?1 AND route = ?2 AND key = ?3 AND created_at >= ?4",
  putIdem: "INSERT OR REPLACE INTO idempotency_keys (tenant_id, route, key, ids, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
};

/**
 * Stores one request's events (inside the caller's transaction). Returns the ids to answer with:
 * for an item the tenant already sent (same source and external id), the stored event's id; for a
 * repeated Idempotency-Key, the first request's ids.
 */
export function storeBatch(db: Db, b: IngestBatch, now: number): { ids: string[]; inserted: NormalizedEvent[] } {
  const q = (sql: string) => db.$client.query(sql);
  if (b.idempotencyKey) {
    const prev = q(STMT.getIdem).get(b.tenantId, b.route, b.idempotencyKey, now - IDEMPOTENCY_WINDOW_MS) as { ids: string } | null;
    if (prev) return { ids: JSON.parse(prev.ids), inserted: [] };
  }
  const ids: string[] = [];
  const inserted: NormalizedEvent[] = [];
  for (const e of b.events) {
    const r = q(STMT.insertEvent).run(
      e.id,
      e.tenantId,
      e.receivedAt,
      e.occurredAt,
      e.sourceName,
      e.source,
      e.type,
      e.module,
      e.title,
      e.summary,
      e.severity,
      SEVERITY_RANK[e.severity],
      e.severityRaw,
      e.host,
      JSON.stringify(e.tags),
      e.payloadJson,
      e.rawJson,
      e.dedupKey,
      e.externalId,
      e.warnings.length ? JSON.stringify(e.warnings) : null,
    );
    if (r.changes === 0) {
      // Only the external-id index can conflict (ids are fresh ULIDs): answer with the stored one.
      const row = q(STMT.existingByExternal).get(e.tenantId, e.sourceName, e.externalId) as { id: string } | null;
      if (!row) throw new Error(`event ${e.id} was neither inserted nor found by external id`);
      ids.push(row.id);
      continue;
    }
    for (const i of e.indicators) q(STMT.insertIndicator).run(e.id, e.tenantId, i.type, i.value, i.origin);
    ids.push(e.id);
    inserted.push(e);
  }
  if (b.idempotencyKey) q(STMT.putIdem).run(b.tenantId, b.route, b.idempotencyKey, JSON.stringify(ids), now);
  return { ids, inserted };
}

/** Deletes keys created before `olderThan`: all of them, or at most `limit` (a bounded batch). */
export function pruneIdempotencyKeys(db: Db, olderThan: number, limit?: number): number {
  if (limit === undefined) return db.$client.query("DELETE FROM idempotency_keys WHERE created_at < ?1").run(olderThan).changes;
  return db.$client
    .query("DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE created_at < ?1 LIMIT ?2)")
    .run(olderThan, limit).changes;
}

export type EventFilter = {
  sourceName?: string;
  source?: string;
  type?: string;
  minSeverityRank?: number;
  /** received at or after (ms) */
  since?: number;
  /** received before (ms) */
  until?: number;
  text?: string;
  /** id of the last row of the previous page */
  before?: string;
  /** id of the first row of the next (newer) page: walks upwards from it, answered newest first */
  after?: string;
  limit: number;
};

/**
 * The terms of a user's search text (both stores' queries: ftsQuery, ftsTsQuery): split on white
 * space and control characters (a NUL ends FTS5's query text early), only terms with a letter or a
 * digit, at most 16.
 */
export function searchTerms(text: string): string[] {
  return text
    .replace(/\p{Cc}/gu, " ")
    .split(/\s+/)
    .filter((t) => /[\p{L}\p{N}]/u.test(t))
    .slice(0, 16);
}

/**
 * The user's search text as an FTS5 query, or null when it has no word to look for. Every
 * whitespace-separated term must appear (AND); a term is quoted as a phrase, so FTS5 operators
 * and punctuation in it are plain text ("10.0.0.5" and "db-01" match those tokens in a row); the
 * last term also matches as a prefix ("nightl" finds "nightly"). Tokens are unicode61's: letters
 * and digits, case and diacritics folded.
 */
export function ftsQuery(text: string): string | null {
  const terms = searchTerms(text).map((t) => `"${t.replace(/"/g, '""')}"`);
  if (!terms.length) return null;
  terms[terms.length - 1] += "*";
  return terms.join(" ");
}

/** Newest first, keyset-paginated on the ULID primary key (which sorts by received time). */
export function listEvents(db: Db, tenantId: string, f: EventFilter): EventRow[] {
  const where: SQL[] = [eq(events.tenantId, tenantId)];
  if (f.sourceName) where.push(eq(events.sourceName, f.sourceName));
  if (f.source) where.push(eq(events.source, f.source));
  if (f.type) where.push(eq(events.type, f.type));
  if (f.minSeverityRank !== undefined) where.push(gte(events.severityRank, f.minSeverityRank));
  if (f.since !== undefined) where.push(gte(events.receivedAt, f.since));
  if (f.until !== undefined) where.push(lt(events.receivedAt, f.until));
  if (f.before) where.push(lt(events.id, f.before));
  if (f.after) where.push(gt(events.id, f.after));
  if (f.text) {
    // Full-text search (migrations/0009_events_fts.sql, filled in the background since 0011_events_fts_background: see
    // search.ts): the FTS5 index answers the matching rowids of every tenant, the outer query keeps
    // this tenant's stored events and pages them on (tenant_id, id). An event not yet indexed is
    // not found; a deleted one has left the index and the events table in the same transaction.
    const match = ftsQuery(f.text);
    if (match === null) return [];
    where.push(sql`${events}.rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ${match})`);
  }
  if (f.after) return db.select().from(events).where(and(...where)).orderBy(asc(events.id)).limit(f.limit).all().reverse();
  return db
    .select()
    .from(events)
    .where(and(...where))
    .orderBy(desc(events.id))
    .limit(f.limit)
    .all();
}

export function getEvent(db: Db, tenantId: string, id: string): EventRow | undefined {
  return db
    .select()
    .from(events)
    .where(and(eq(events.tenantId, tenantId), eq(events.id, id)))
    .get();
}

export function eventIndicatorsOf(db: Db, eventId: string): { type: string; value: string; origin: string }[] {
  return db
    .select({ type: eventIndicators.type, value: eventIndicators.value, origin: eventIndicators.origin })
    .from(eventIndicators)
    .where(eq(eventIndicators.eventId, eventId))
    .all();
}

export function countEvents(db: Db, tenantId?: string): number {
  const q = tenantId
    ? db.$client.query("SELECT count(*) AS n FROM events WHERE tenant_id = ?1").get(tenantId)
    : db.$client.query("SELECT count(*) AS n FROM events").get();
  return (q as { n: number }).n;
}


/** The alerts an event belongs to (alert_events_event index), newest first. */
export function alertsOfEvent(db: Db, tenantId: string, eventId: string): { id: string; title: string; status: string; severity: string }[] {
  return db.$client
    .query(
      `SELECT a.id, a.title, a.status, a.severity FROM alert_events ae JOIN alerts a ON a.id = ae.alert_id
        WHERE ae.event_id = ?1 AND a.tenant_id = ?2 ORDER BY a.id DESC LIMIT 20`,
    )
    .all(eventId, tenantId) as { id: string; title: string; status: string; severity: string }[];
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/events.ts. */
export const eventsFns = { storeBatch, pruneIdempotencyKeys, listEvents, getEvent, eventIndicatorsOf, countEvents, alertsOfEvent };
export type EventsStore = Bound<typeof eventsFns>;
