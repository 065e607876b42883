// Alert enrichment's SQL: the job enqueued with a new alert (transactional outbox), the alert's
// indicators, and the outcome (per-indicator results, status, tags, severity raise, timeline).
import type { Bound } from "./contract";
import type { Db } from "../db/client";
import type { Indicator } from "../core/indicators";
import { SEVERITY_RANK, type Severity } from "../core/severity";
import { newId } from "../lib/ids";
import { insertJob } from "./jobs";

export const ENRICHMENT_QUEUE = "enrichment";

/**
 * Enqueues the enrichment of a new alert, in the transaction that opened it. max_attempts is 0:
 * the handler decides when to give up (the retry policy is the server's config, which the writer
 * thread that enqueues does not have).
 */
export function enqueueEnrichment(db: Db, alertId: string, now: number): void {
  insertJob(db, { queue: ENRICHMENT_QUEUE, kind: "enrich", payload: { alert: alertId }, maxAttempts: 0, idempotencyKey: `enrich:${alertId}` }, now);
}

/** True when any event of the alert carries an indicator (one probe on the two primary keys). */
export function alertHasIndicators(db: Db, alertId: string): boolean {
  return (
    db.$client
      .query("SELECT 1 FROM alert_events ae JOIN event_indicators i ON i.event_id = ae.event_id WHERE ae.alert_id = ?1 LIMIT 1")
      .get(alertId) !== null
  );
}

/**
 * Settles the enrichment of a new alert that has no indicators, in the transaction that opened it:
 * nothing to look up, so no job (a flood of heartbeat or rule alerts must not become a flood of
 * jobs on the worker). The outcome and timeline entry are the ones a job would have written.
 */
export function settleWithoutIndicators(db: Db, alertId: string, now: number): void {
  saveEnrichment(
    db,
    alertId,
    { status: "enriched", error: null, results: [], addTags: [], raiseTo: null, summary: { indicators: 0, watchlist_hits: [], lookups: 0, tags_added: [] } },
    now,
  );
}

/**
 * Runs enrichment again (after an enricher or watchlist was fixed): back to `pending` with a new
 * job, in one transaction. False when it is pending already (a job is on it).
 */
export function requeueEnrichment(db: Db, alertId: string, actor: string, now: number): boolean {
  return db.$client.transaction(() => {
    const r = db.$client
      .query("UPDATE alerts SET enrichment_status = 'pending', enrichment_error = NULL WHERE id = ?1 AND enrichment_status <> 'pending'")
      .run(alertId);
    if (r.changes === 0) return false;
    insertJob(db, { queue: ENRICHMENT_QUEUE, kind: "enrich", payload: { alert: alertId }, maxAttempts: 0, idempotencyKey: `enrich:${alertId}:${now}` }, now);
    db.$client
      .query("INSERT INTO alert_timeline (id, alert_id, at, kind, actor, data) VALUES (?1, ?2, ?3, 'enrichment_requested', ?4, '{}')")
      .run(newId(now), alertId, now, actor);
    return true;
  }).immediate();
}

export type EnrichTarget = { id: string; tenantId: string; severity: Severity; tags: string[]; enrichmentStatus: string };

export function enrichTarget(db: Db, alertId: string): EnrichTarget | null {
  const r = db.$client
    .query("SELECT id, tenant_id AS tenantId, severity, tags, enrichment_status AS enrichmentStatus FROM alerts WHERE id = ?1")
    .get(alertId) as (Omit<EnrichTarget, "tags"> & { tags: string }) | null;
  return r ? { ...r, tags: JSON.parse(r.tags) } : null;
}

/** Every indicator of every event of the alert (de-duplicated), at most `limit`. */
export function alertIndicators(db: Db, alertId: string, limit: number): Indicator[] {
  return db.$client
    .query(
      `SELECT DISTINCT i.type AS type, i.value AS value FROM alert_events ae JOIN event_indicators i ON i.event_id = ae.event_id
        WHERE ae.alert_id = ?1 ORDER BY i.type, i.value LIMIT ?2`,
    )
    .all(alertId, limit) as Indicator[];
}

export type EnrichmentOutcome = {
  status: "enriched" | "failed";
  error: string | null;
  results: { type: string; value: string; results: unknown }[];
  addTags: string[];
  raiseTo: Severity | null;
  /** the timeline entry's data */
  summary: Record<string, unknown>;
};

/**
 * Writes an enrichment outcome: results per indicator, status and error, watchlist tags, severity
 * raise (never lowers), one timeline entry. Returns whether the alert's tags or severity changed.
 */
export function saveEnrichment(db: Db, alertId: string, o: EnrichmentOutcome, now: number): { changed: boolean } {
  const up = db.$client.query(
    `INSERT INTO alert_enrichments (alert_id, type, value, results, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (alert_id, type, value) DO UPDATE SET results = excluded.results, updated_at = excluded.updated_at`,
  );
  for (const r of o.results) up.run(alertId, r.type, r.value, JSON.stringify(r.results), now);
  const cur = enrichTarget(db, alertId);
  if (!cur) return { changed: false };
  const tags = [...cur.tags];
  for (const t of o.addTags) if (!tags.includes(t)) tags.push(t);
  const raise = o.raiseTo && SEVERITY_RANK[o.raiseTo] > SEVERITY_RANK[cur.severity] ? o.raiseTo : null;
  const changed = tags.length !== cur.tags.length || raise !== null;
  db.$client
    .query(
      `UPDATE alerts SET enrichment_status = ?2, enrichment_error = ?3, tags = ?4,
         severity = coalesce(?5, severity), severity_rank = coalesce(?6, severity_rank),
         updated_at = CASE WHEN ?7 THEN ?8 ELSE updated_at END
       WHERE id = ?1`,
    )
    .run(alertId, o.status, o.error, JSON.stringify(tags), raise, raise ? SEVERITY_RANK[raise] : null, changed ? 1 : 0, now);
  const data = { ...o.summary, ...(raise ? { severity: { from: cur.severity, to: raise } } : {}), ...(o.error ? { error: o.error } : {}) };
  db.$client
    .query("INSERT INTO alert_timeline (id, alert_id, at, kind, actor, data) VALUES (?1, ?2, ?3, ?4, 'system', ?5)")
    .run(newId(now), alertId, now, o.status === "enriched" ? "enriched" : "enrichment_failed", JSON.stringify(data));
  return { changed };
}

/** The stored per-indicator results of an alert, for the API. */
export function enrichmentOf(db: Db, alertId: string): { type: string; value: string; results: unknown; updated_at: number }[] {
  const rows = db.$client
    .query("SELECT type, value, results, updated_at AS updatedAt FROM alert_enrichments WHERE alert_id = ?1 ORDER BY type, value")
    .all(alertId) as { type: string; value: string; results: string; updatedAt: number }[];
  return rows.map((r) => ({ type: r.type, value: r.value, results: JSON.parse(r.results), updated_at: r.updatedAt }));
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/enrichment.ts. */
export const enrichmentFns = { enqueueEnrichment, alertHasIndicators, settleWithoutIndicators, requeueEnrichment, enrichTarget, alertIndicators, saveEnrichment, enrichmentOf };
export type EnrichmentStore = Bound<typeof enrichmentFns>;
