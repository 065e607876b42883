// Custom indicator mappings (CRUD + the per-tenant cache the ingest path reads) and the pivot
// queries over event_indicators.
import type { Bound } from "./contract";
import { and, asc, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { alerts, indicatorMappings } from "../db/schema";
import { compileMapping, type CompiledMapping } from "../core/indicator-mappings";
import type { IndicatorType } from "../core/indicators";
import { newId } from "../lib/ids";
import { bumpVersion, currentUnit, readVersion } from "./config-versions";
import type { AlertRow } from "./alerts";

export type MappingRow = typeof indicatorMappings.$inferSelect;
export type NewMapping = Pick<MappingRow, "tenantId" | "name" | "source" | "path" | "type" | "active">;

export const INDICATOR_MAPPINGS_VERSION = "indicator_mappings";

export function createMapping(db: Db, m: NewMapping, now: number): MappingRow {
  const row: MappingRow = { ...m, id: newId(now), createdAt: now, updatedAt: now };
  db.transaction(() => {
    db.insert(indicatorMappings).values(row).run();
    bumpVersion(db, INDICATOR_MAPPINGS_VERSION);
  });
  mappingCacheOf(db).invalidate();
  return row;
}

export function getMapping(db: Db, tenantId: string, id: string): MappingRow | undefined {
  return db
    .select()
    .from(indicatorMappings)
    .where(and(eq(indicatorMappings.tenantId, tenantId), eq(indicatorMappings.id, id)))
    .get();
}

export function listMappings(db: Db, tenantId: string): MappingRow[] {
  return db.select().from(indicatorMappings).where(eq(indicatorMappings.tenantId, tenantId)).orderBy(asc(indicatorMappings.id)).all();
}

export function updateMapping(db: Db, tenantId: string, id: string, set: Partial<NewMapping>, now: number): void {
  db.transaction(() => {
    db.update(indicatorMappings)
      .set({ ...set, updatedAt: now })
      .where(and(eq(indicatorMappings.tenantId, tenantId), eq(indicatorMappings.id, id)))
      .run();
    bumpVersion(db, INDICATOR_MAPPINGS_VERSION);
  });
  mappingCacheOf(db).invalidate();
}

export function deleteMapping(db: Db, tenantId: string, id: string): boolean {
  const n = db.transaction(() => {
    const n = db.$client.query("DELETE FROM indicator_mappings WHERE tenant_id = ?1 AND id = ?2").run(tenantId, id).changes;
    if (n) bumpVersion(db, INDICATOR_MAPPINGS_VERSION);
    return n;
  });
  mappingCacheOf(db).invalidate();
  return n > 0;
}

/** A tenant's active mappings, compiled, split into global ones and ones per source. */
export type TenantMappings = { global: CompiledMapping[]; bySource: Map<string, CompiledMapping[]> };

function loadActive(db: Db, tenantId: string): TenantMappings {
  const rows = db
    .select()
    .from(indicatorMappings)
    .where(and(eq(indicatorMappings.tenantId, tenantId), eq(indicatorMappings.active, true)))
    .orderBy(asc(indicatorMappings.id))
    .all();
  const out: TenantMappings = { global: [], bySource: new Map() };
  for (const r of rows) {
    const c = compileMapping({ id: r.id, name: r.name, source: r.source, path: r.path, type: r.type as IndicatorType });
    if (!c) continue; // stored rows were validated; a row that no longer compiles is skipped
    if (r.source === null) out.global.push(c);
    else out.bySource.set(r.source, [...(out.bySource.get(r.source) ?? []), c]);
  }
  return out;
}

/**
 * The per-tenant mapping cache read on the ingest path (the writer thread, where normalization
 * runs: src/ingest/normalize.ts). Every change bumps the `indicator_mappings` change counter in its
 * transaction; the cache reads the counter once per unit of work (a group commit, startUnit), so a
 * mapping made through the API applies to the very next request. Elsewhere (the dry run on the
 * HTTP thread) it is read at most every RECHECK_MS, and changes made on that thread invalidate it at
 * once. The mappings table itself is read only when something changed.
 */
const RECHECK_MS = 1000;

export class MappingCache {
  private version = -1;
  private checkedAt = -Infinity;
  private checkedIn = -1;
  private byTenant = new Map<string, TenantMappings>();

  invalidate(): void {
    this.version = -1;
    this.checkedAt = -Infinity;
    this.byTenant.clear();
  }

  get(db: Db, tenantId: string): TenantMappings {
    const now = performance.now();
    const unit = currentUnit();
    if (unit !== this.checkedIn || now - this.checkedAt >= RECHECK_MS) {
      this.checkedIn = unit;
      this.checkedAt = now;
      const v = readVersion(db, INDICATOR_MAPPINGS_VERSION);
      if (v !== this.version) {
        this.byTenant.clear();
        this.version = v;
      }
    }
    let x = this.byTenant.get(tenantId);
    if (!x) {
      x = loadActive(db, tenantId);
      this.byTenant.set(tenantId, x);
    }
    return x;
  }

  /** The active mappings that apply to one source: the global ones and the source's own. */
  forSource(db: Db, tenantId: string, source: string): CompiledMapping[] {
    const m = this.get(db, tenantId);
    const own = m.bySource.get(source);
    return own ? [...m.global, ...own] : m.global;
  }
}

// One cache per database handle (a test process runs several servers, each on its own file).
const caches = new WeakMap<Db, MappingCache>();
export function mappingCacheOf(db: Db): MappingCache {
  let c = caches.get(db);
  if (!c) caches.set(db, (c = new MappingCache()));
  return c;
}

/** The active mappings of a tenant that apply to one source (from this connection's cache): what normalize reads. */
export function mappingsForSource(db: Db, tenantId: string, source: string): CompiledMapping[] {
  return mappingCacheOf(db).forSource(db, tenantId, source);
}

// ---- pivot ----

export type IndicatorEventRow = {
  id: string;
  receivedAt: number;
  occurredAt: number;
  sourceName: string;
  source: string;
  type: string;
  title: string;
  severity: string;
  host: string | null;
  origin: string;
};

/** Events of a tenant carrying (type, value), newest first, keyset-paged on the event id. */
export function eventsWithIndicator(db: Db, tenantId: string, type: string, value: string, before: string | undefined, limit: number): IndicatorEventRow[] {
  return db.$client
    .query(
      `SELECT e.id, e.received_at AS receivedAt, e.occurred_at AS occurredAt, e.source_name AS sourceName, e.source,
              e.type, e.title, e.severity, e.host, i.origin
         FROM event_indicators i JOIN events e ON e.id = i.event_id
        WHERE i.tenant_id = ?1 AND i.type = ?2 AND i.value = ?3 AND (?4 IS NULL OR i.event_id < ?4)
        ORDER BY i.event_id DESC LIMIT ?5`,
    )
    .all(tenantId, type, value, before ?? null, limit) as IndicatorEventRow[];
}

/** Alerts of a tenant linked to an event carrying (type, value), newest first. */
export function alertsWithIndicator(db: Db, tenantId: string, type: string, value: string, limit: number): AlertRow[] {
  return db
    .select()
    .from(alerts)
    .where(
      and(
        eq(alerts.tenantId, tenantId),
        sql`${alerts.id} IN (SELECT ae.alert_id FROM event_indicators i JOIN alert_events ae ON ae.event_id = i.event_id
                              WHERE i.tenant_id = ${tenantId} AND i.type = ${type} AND i.value = ${value})`,
      ),
    )
    .orderBy(desc(alerts.id))
    .limit(limit)
    .all();
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/indicators.ts. */
export const indicatorsFns = { createMapping, getMapping, listMappings, updateMapping, deleteMapping, mappingsForSource, eventsWithIndicator, alertsWithIndicator };
export type IndicatorsStore = Bound<typeof indicatorsFns>;
