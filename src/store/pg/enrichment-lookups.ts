// HTTP lookup enrichers on PostgreSQL: the twin of src/store/enrichment-lookups.ts. `active` is a
// boolean column here; rows keep SQLite's 0/1 so that callers see one shape.
import type { EnricherDef } from "../../core/enrich";
import type { PgConn, PgTwin } from "../contract";
import { enricherDefOf, type EnricherRow, type enrichmentLookupsFns } from "../enrichment-lookups";

const COLS = `id, tenant_id AS "tenantId", name, indicator_types AS "indicatorTypes", url_template AS "urlTemplate", headers,
  timeout_ms AS "timeoutMs", active, created_at AS "createdAt", updated_at AS "updatedAt"`;
const row = (r: Record<string, unknown> | undefined): EnricherRow | null => (r ? ({ ...r, active: r.active ? 1 : 0 } as EnricherRow) : null);

async function insertEnricher(pg: PgConn, r: EnricherRow): Promise<void> {
  await pg`INSERT INTO enrichers (id, tenant_id, name, indicator_types, url_template, headers, timeout_ms, active, created_at, updated_at)
           VALUES (${r.id}, ${r.tenantId}, ${r.name}, ${r.indicatorTypes}, ${r.urlTemplate}, ${r.headers}, ${r.timeoutMs}, ${!!r.active}, ${r.createdAt}, ${r.updatedAt})`;
}

async function updateEnricher(pg: PgConn, r: EnricherRow): Promise<boolean> {
  const res = await pg`UPDATE enrichers SET name = ${r.name}, indicator_types = ${r.indicatorTypes}, url_template = ${r.urlTemplate}, headers = ${r.headers},
                         timeout_ms = ${r.timeoutMs}, active = ${!!r.active}, updated_at = ${r.updatedAt}
                       WHERE tenant_id = ${r.tenantId} AND id = ${r.id}`;
  return res.count === 1;
}

async function getEnricher(pg: PgConn, tenantId: string, id: string): Promise<EnricherRow | null> {
  return row((await pg.unsafe(`SELECT ${COLS} FROM enrichers WHERE tenant_id = $1 AND id = $2`, [tenantId, id]))[0]);
}

async function enricherByName(pg: PgConn, tenantId: string, name: string): Promise<EnricherRow | null> {
  return row((await pg.unsafe(`SELECT ${COLS} FROM enrichers WHERE tenant_id = $1 AND name = $2`, [tenantId, name]))[0]);
}

/** Ordered by name in byte order (COLLATE "C"), as SQLite orders text. */
async function listEnrichers(pg: PgConn, tenantId: string): Promise<EnricherRow[]> {
  return (await pg.unsafe(`SELECT ${COLS} FROM enrichers WHERE tenant_id = $1 ORDER BY name COLLATE "C"`, [tenantId])).map((r) => row(r)!);
}

async function deleteEnricher(pg: PgConn, tenantId: string, id: string): Promise<boolean> {
  return (await pg`DELETE FROM enrichers WHERE tenant_id = ${tenantId} AND id = ${id}`).count === 1;
}

async function activeEnrichers(pg: PgConn, tenantId: string): Promise<EnricherDef[]> {
  const rows = await pg.unsafe(`SELECT ${COLS} FROM enrichers WHERE tenant_id = $1 AND active ORDER BY name COLLATE "C"`, [tenantId]);
  return rows.map((r) => enricherDefOf(r as unknown as EnricherRow));
}

export const pgEnrichmentLookupsFns: PgTwin<typeof enrichmentLookupsFns> = { insertEnricher, updateEnricher, getEnricher, enricherByName, listEnrichers, deleteEnricher, activeEnrichers };
