// HTTP lookup enrichers' SQL (per tenant).
import type { Bound } from "./contract";
import type { Db } from "../db/client";
import type { EnricherDef } from "../core/enrich";
import type { IndicatorType } from "../core/indicators";

export type EnricherRow = {
  id: string;
  tenantId: string;
  name: string;
  indicatorTypes: string;
  urlTemplate: string;
  headers: string;
  timeoutMs: number;
  active: number;
  createdAt: number;
  updatedAt: number;
};

const COLS = `id, tenant_id AS tenantId, name, indicator_types AS indicatorTypes, url_template AS urlTemplate, headers,
  timeout_ms AS timeoutMs, active, created_at AS createdAt, updated_at AS updatedAt`;

export function insertEnricher(db: Db, r: EnricherRow): void {
  db.$client
    .query(
      `INSERT INTO enrichers (id, tenant_id, name, indicator_types, url_template, headers, timeout_ms, active, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)`,
    )
    .run(r.id, r.tenantId, r.name, r.indicatorTypes, r.urlTemplate, r.headers, r.timeoutMs, r.active, r.createdAt, r.updatedAt);
}

export function updateEnricher(db: Db, r: EnricherRow): boolean {
  return (
    db.$client
      .query(
        `UPDATE enrichers SET name = ?3, indicator_types = ?4, url_template = ?5, headers = ?6, timeout_ms = ?7, active = ?8, updated_at = ?9
         WHERE tenant_id = ?1 AND id = ?2`,
      )
      .run(r.tenantId, r.id, r.name, r.indicatorTypes, r.urlTemplate, r.headers, r.timeoutMs, r.active, r.updatedAt).changes === 1
  );
}

export function getEnricher(db: Db, tenantId: string, id: string): EnricherRow | null {
  return db.$client.query(`SELECT ${COLS} FROM enrichers WHERE tenant_id = ?1 AND id = ?2`).get(tenantId, id) as EnricherRow | null;
}

export function enricherByName(db: Db, tenantId: string, name: string): EnricherRow | null {
  return db.$client.query(`SELECT ${COLS} FROM enrichers WHERE tenant_id = ?1 AND name = ?2`).get(tenantId, name) as EnricherRow | null;
}

export function listEnrichers(db: Db, tenantId: string): EnricherRow[] {
  return db.$client.query(`SELECT ${COLS} FROM enrichers WHERE tenant_id = ?1 ORDER BY name`).all(tenantId) as EnricherRow[];
}

export function deleteEnricher(db: Db, tenantId: string, id: string): boolean {
  return db.$client.query("DELETE FROM enrichers WHERE tenant_id = ?1 AND id = ?2").run(tenantId, id).changes === 1;
}

/** What enrichment runs from a stored enricher (both stores). */
export function enricherDefOf(r: Pick<EnricherRow, "id" | "name" | "indicatorTypes" | "urlTemplate" | "headers" | "timeoutMs">): EnricherDef {
  return {
    id: r.id,
    name: r.name,
    types: JSON.parse(r.indicatorTypes) as IndicatorType[],
    urlTemplate: r.urlTemplate,
    headers: JSON.parse(r.headers) as Record<string, string>,
    timeoutMs: r.timeoutMs,
  };
}

export function activeEnrichers(db: Db, tenantId: string): EnricherDef[] {
  const rows = db.$client.query(`SELECT ${COLS} FROM enrichers WHERE tenant_id = ?1 AND active = 1 ORDER BY name`).all(tenantId) as EnricherRow[];
  return rows.map(enricherDefOf);
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/enrichment-lookups.ts. */
export const enrichmentLookupsFns = { insertEnricher, updateEnricher, getEnricher, enricherByName, listEnrichers, deleteEnricher, activeEnrichers };
export type EnrichmentLookupsStore = Bound<typeof enrichmentLookupsFns>;
