// Alert enrichment on PostgreSQL: the twin of src/store/enrichment.ts. The job of a new alert is
// inserted in the transaction that opened it (transactional outbox), run_at from the database clock.
import { inTx, PG_NOW_MS, type PgConn, type PgTwin } from "../contract";
import { ENRICHMENT_QUEUE, type EnrichmentOutcome, type EnrichTarget, type enrichmentFns } from "../enrichment";
import type { Indicator } from "../../core/indicators";
import { SEVERITY_RANK, type Severity } from "../../core/severity";
import { newId } from "../../lib/ids";

/** One enrichment job (no lane; max_attempts 0: the handler decides when to give up); false when the key was taken. */
async function insertEnrichJob(tx: PgConn, alertId: string, key: string): Promise<boolean> {
  const r = await tx.unsafe(
    `INSERT INTO jobs (queue, kind, payload, state, attempt, max_attempts, run_at, idempotency_key, created_at, lane)
     VALUES ($1, 'enrich', $2, 'available', 0, 0, ${PG_NOW_MS}, $3, ${PG_NOW_MS}, NULL)
     ON CONFLICT DO NOTHING`,
    [ENRICHMENT_QUEUE, JSON.stringify({ alert: alertId }), key],
  );
  return r.count > 0;
}

async function enqueueEnrichment(tx: PgConn, alertId: string, _now: number): Promise<void> {
  await insertEnrichJob(tx, alertId, `enrich:${alertId}`);
}

async function alertHasIndicators(pg: PgConn, alertId: string): Promise<boolean> {
  const rows = await pg`SELECT 1 FROM alert_events ae JOIN event_indicators i ON i.event_id = ae.event_id WHERE ae.alert_id = ${alertId} LIMIT 1`;
  return rows.length > 0;
}

async function settleWithoutIndicators(tx: PgConn, alertId: string, now: number): Promise<void> {
  await saveEnrichment(
    tx,
    alertId,
    { status: "enriched", error: null, results: [], addTags: [], raiseTo: null, summary: { indicators: 0, watchlist_hits: [], lookups: 0, tags_added: [] } },
    now,
  );
}

/** enqueueEnrichment for several alerts, in order, in one statement. */
export async function pgEnqueueEnrichments(tx: PgConn, alertIds: string[]): Promise<void> {
  await tx.unsafe(
    `INSERT INTO jobs (queue, kind, payload, state, attempt, max_attempts, run_at, idempotency_key, created_at, lane)
     SELECT $1, 'enrich', u.payload, 'available', 0, 0, ${PG_NOW_MS}, u.key, ${PG_NOW_MS}, NULL
       FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(payload, key, ord) ORDER BY u.ord
     ON CONFLICT DO NOTHING`,
    [ENRICHMENT_QUEUE, alertIds.map((id) => JSON.stringify({ alert: id })), alertIds.map((id) => `enrich:${id}`)] as any[],
  );
}

/** Which of these alerts have an indicator among their events (alertHasIndicators for several, one statement). */
export async function pgAlertsWithIndicators(pg: PgConn, alertIds: string[]): Promise<Set<string>> {
  const rows = await pg.unsafe(
    `SELECT u.id FROM unnest($1::text[]) AS u(id)
      WHERE EXISTS (SELECT 1 FROM alert_events ae JOIN event_indicators i ON i.event_id = ae.event_id WHERE ae.alert_id = u.id)`,
    [alertIds] as any[],
  );
  return new Set(rows.map((r) => r.id as string));
}

/**
 * settleWithoutIndicators for several new alerts (two statements): nothing to look up, so no tag
 * or severity changes and updated_at stays; `enriched` and its timeline entry, as saveEnrichment
 * writes them for an empty outcome.
 */
export async function pgSettleWithoutIndicators(tx: PgConn, alertIds: string[], now: number): Promise<void> {
  await tx.unsafe(`UPDATE alerts SET enrichment_status = 'enriched', enrichment_error = NULL WHERE id = ANY($1::text[])`, [alertIds] as any[]);
  const data = JSON.stringify({ indicators: 0, watchlist_hits: [], lookups: 0, tags_added: [] });
  const ids = alertIds.map(() => newId(now));
  await tx.unsafe(
    `INSERT INTO alert_timeline (id, alert_id, at, kind, actor, data)
     SELECT u.id, u.alert_id, $1::bigint, 'enriched', 'system', $2 FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS u(id, alert_id, ord) ORDER BY u.ord`,
    [now, data, ids, alertIds] as any[],
  );
}

async function requeueEnrichment(pg: PgConn, alertId: string, actor: string, now: number): Promise<boolean> {
  return await inTx(pg, async (tx) => {
    const r = await tx`UPDATE alerts SET enrichment_status = 'pending', enrichment_error = NULL WHERE id = ${alertId} AND enrichment_status <> 'pending'`;
    if (r.count === 0) return false;
    await insertEnrichJob(tx, alertId, `enrich:${alertId}:${now}`);
    await tx`INSERT INTO alert_timeline (id, alert_id, at, kind, actor, data) VALUES (${newId(now)}, ${alertId}, ${now}, 'enrichment_requested', ${actor}, '{}')`;
    return true;
  });
}

async function enrichTarget(pg: PgConn, alertId: string): Promise<EnrichTarget | null> {
  const [r] = await pg`SELECT id, tenant_id AS "tenantId", severity, tags, enrichment_status AS "enrichmentStatus" FROM alerts WHERE id = ${alertId}`;
  if (!r) return null;
  const tags = typeof r.tags === "string" ? JSON.parse(r.tags) : r.tags;
  return { id: r.id, tenantId: r.tenantId, severity: r.severity as Severity, tags: tags as string[], enrichmentStatus: r.enrichmentStatus };
}

async function alertIndicators(pg: PgConn, alertId: string, limit: number): Promise<Indicator[]> {
  // COLLATE "C": the order SQLite gives (bytewise), whatever the database's locale
  const rows = await pg`SELECT DISTINCT i.type COLLATE "C" AS type, i.value COLLATE "C" AS value
      FROM alert_events ae JOIN event_indicators i ON i.event_id = ae.event_id
     WHERE ae.alert_id = ${alertId} ORDER BY 1, 2 LIMIT ${limit}`;
  return rows.map((r) => ({ type: r.type, value: r.value }) as Indicator);
}

async function saveEnrichment(pg: PgConn, alertId: string, o: EnrichmentOutcome, now: number): Promise<{ changed: boolean }> {
  return await inTx(pg, async (tx) => {
    if (o.results.length)
      await tx.unsafe(
        `INSERT INTO alert_enrichments (alert_id, type, value, results, updated_at)
         SELECT $1, u.type, u.value, u.results, $5::bigint FROM unnest($2::text[], $3::text[], $4::text[]) AS u(type, value, results)
         ON CONFLICT (alert_id, type, value) DO UPDATE SET results = excluded.results, updated_at = excluded.updated_at`,
        [alertId, o.results.map((r) => r.type), o.results.map((r) => r.value), o.results.map((r) => JSON.stringify(r.results)), now] as any[],
      );
    // the row is locked while its tags and severity are merged (a concurrent merge waits)
    const [cur0] = await tx`SELECT severity, tags FROM alerts WHERE id = ${alertId} FOR UPDATE`;
    if (!cur0) return { changed: false };
    const curTags = (typeof cur0.tags === "string" ? JSON.parse(cur0.tags) : cur0.tags) as string[];
    const curSeverity = cur0.severity as Severity;
    const tags = [...curTags];
    for (const t of o.addTags) if (!tags.includes(t)) tags.push(t);
    const raise = o.raiseTo && SEVERITY_RANK[o.raiseTo] > SEVERITY_RANK[curSeverity] ? o.raiseTo : null;
    const changed = tags.length !== curTags.length || raise !== null;
    await tx`UPDATE alerts SET enrichment_status = ${o.status}, enrichment_error = ${o.error}, tags = ${JSON.stringify(tags)}::text::jsonb,
               severity = coalesce(${raise}::text, severity), severity_rank = coalesce(${raise ? SEVERITY_RANK[raise] : null}::int, severity_rank),
               updated_at = CASE WHEN ${changed}::boolean THEN ${now}::bigint ELSE updated_at END
             WHERE id = ${alertId}`;
    const data = { ...o.summary, ...(raise ? { severity: { from: curSeverity, to: raise } } : {}), ...(o.error ? { error: o.error } : {}) };
    await tx`INSERT INTO alert_timeline (id, alert_id, at, kind, actor, data)
             VALUES (${newId(now)}, ${alertId}, ${now}, ${o.status === "enriched" ? "enriched" : "enrichment_failed"}, 'system', ${JSON.stringify(data)})`;
    return { changed };
  });
}

async function enrichmentOf(pg: PgConn, alertId: string): Promise<{ type: string; value: string; results: unknown; updated_at: number }[]> {
  const rows = await pg`SELECT type, value, results, updated_at AS "updatedAt" FROM alert_enrichments WHERE alert_id = ${alertId}
                         ORDER BY type COLLATE "C", value COLLATE "C"`;
  return rows.map((r) => ({ type: r.type, value: r.value, results: JSON.parse(r.results), updated_at: r.updatedAt }));
}

export const pgEnrichmentFns: PgTwin<typeof enrichmentFns> = {
  enqueueEnrichment,
  alertHasIndicators,
  settleWithoutIndicators,
  requeueEnrichment,
  enrichTarget,
  alertIndicators,
  saveEnrichment,
  enrichmentOf,
};
