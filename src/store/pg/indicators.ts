// Indicator mappings and the indicator pivot on PostgreSQL: the twin of src/store/indicators.ts.
// Every change bumps the `indicator_mappings` change counter in its transaction; the mapping cache
// the ingest path reads (mappingsForSource) is a PgVersionedCache per database, so a change made by
// this process applies to the next request at once and one made elsewhere within CHECK_MS.
import { compileMapping } from "../../core/indicator-mappings";
import type { IndicatorType } from "../../core/indicators";
import { newId } from "../../lib/ids";
import type { AlertRow } from "../alerts";
import { inTx, rootOf, type PgConn, type PgTwin } from "../contract";
import { INDICATOR_MAPPINGS_VERSION, type indicatorsFns, type IndicatorEventRow, type MappingRow, type NewMapping, type TenantMappings } from "../indicators";
import { pgBumpVersion, PgVersionedCache } from "./config-versions";

const MAPPING_COLS = `id, tenant_id AS "tenantId", name, source, path, type, active, created_at AS "createdAt", updated_at AS "updatedAt"`;

const toMapping = (r: Record<string, unknown>): MappingRow => ({
  id: r.id as string,
  tenantId: r.tenantId as string,
  name: (r.name as string | null) ?? null,
  source: (r.source as string | null) ?? null,
  path: r.path as string,
  type: r.type as string,
  active: r.active as boolean,
  createdAt: Number(r.createdAt),
  updatedAt: Number(r.updatedAt),
});

/** The alerts columns as drizzle's SQLite AlertRow (camelCase; tags as JSON text). */
export const ALERT_COLS = `a.id, a.tenant_id AS "tenantId", a.fingerprint, a.title, a.severity, a.severity_rank AS "severityRank", a.status,
  a.classification, a.assignee, a.enrichment_status AS "enrichmentStatus", a.enrichment_error AS "enrichmentError", a.tags::text AS tags,
  a.source_name AS "sourceName", a.source, a.rule_id AS "ruleId", a.first_seen AS "firstSeen", a.last_seen AS "lastSeen", a.count,
  a.suppress_until AS "suppressUntil", a.first_event_id AS "firstEventId", a.created_at AS "createdAt", a.updated_at AS "updatedAt",
  a.closed_at AS "closedAt"`;

const caches = new WeakMap<PgConn, PgVersionedCache<TenantMappings>>();
function cacheOf(conn: PgConn): PgVersionedCache<TenantMappings> {
  const root = rootOf(conn);
  let c = caches.get(root);
  if (!c) caches.set(root, (c = new PgVersionedCache(INDICATOR_MAPPINGS_VERSION, loadActive)));
  return c;
}

async function loadActive(conn: PgConn, tenantId: string): Promise<TenantMappings> {
  const rows = await conn.unsafe(`SELECT ${MAPPING_COLS} FROM indicator_mappings WHERE tenant_id = $1 AND active ORDER BY id`, [tenantId]);
  const out: TenantMappings = { global: [], bySource: new Map() };
  for (const r of rows.map(toMapping)) {
    const c = compileMapping({ id: r.id, name: r.name, source: r.source, path: r.path, type: r.type as IndicatorType });
    if (!c) continue; // stored rows were validated; a row that no longer compiles is skipped
    if (r.source === null) out.global.push(c);
    else out.bySource.set(r.source, [...(out.bySource.get(r.source) ?? []), c]);
  }
  return out;
}

export const pgIndicatorsFns: PgTwin<typeof indicatorsFns> = {
  async createMapping(conn, m: NewMapping, now: number) {
    const row: MappingRow = { ...m, id: newId(now), createdAt: now, updatedAt: now };
    await inTx(conn, async (tx) => {
      await tx`INSERT INTO indicator_mappings (id, tenant_id, name, source, path, type, active, created_at, updated_at)
               VALUES (${row.id}, ${row.tenantId}, ${row.name}, ${row.source}, ${row.path}, ${row.type}, ${row.active}, ${now}, ${now})`;
      await pgBumpVersion(tx, INDICATOR_MAPPINGS_VERSION);
    });
    return row;
  },
  async getMapping(conn, tenantId, id) {
    const [r] = await conn.unsafe(`SELECT ${MAPPING_COLS} FROM indicator_mappings WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
    return r ? toMapping(r) : undefined;
  },
  async listMappings(conn, tenantId) {
    return (await conn.unsafe(`SELECT ${MAPPING_COLS} FROM indicator_mappings WHERE tenant_id = $1 ORDER BY id`, [tenantId])).map(toMapping);
  },
  async updateMapping(conn, tenantId, id, set: Partial<NewMapping>, now) {
    // exactly the fields named (a PATCH), never the tenant
    const cols: [string, unknown][] = [];
    for (const k of ["name", "source", "path", "type", "active"] as const) if (set[k] !== undefined) cols.push([k, set[k]]);
    cols.push(["updated_at", now]);
    await inTx(conn, async (tx) => {
      await tx.unsafe(
        `UPDATE indicator_mappings SET ${cols.map(([c], i) => `${c} = $${i + 3}`).join(", ")} WHERE tenant_id = $1 AND id = $2`,
        [tenantId, id, ...cols.map(([, v]) => v)] as any[],
      );
      await pgBumpVersion(tx, INDICATOR_MAPPINGS_VERSION);
    });
  },
  async deleteMapping(conn, tenantId, id) {
    return inTx(conn, async (tx) => {
      const n = (await tx`DELETE FROM indicator_mappings WHERE tenant_id = ${tenantId} AND id = ${id}`).count;
      if (n) await pgBumpVersion(tx, INDICATOR_MAPPINGS_VERSION);
      return n > 0;
    });
  },
  async mappingsForSource(conn, tenantId, source) {
    const m = await cacheOf(conn).get(conn, tenantId);
    const own = m.bySource.get(source);
    return own ? [...m.global, ...own] : m.global;
  },
  async eventsWithIndicator(conn, tenantId, type, value, before, limit): Promise<IndicatorEventRow[]> {
    const rows = await conn.unsafe(
      `SELECT e.id, e.received_at AS "receivedAt", e.occurred_at AS "occurredAt", e.source_name AS "sourceName", e.source,
              e.type, e.title, e.severity, e.host, i.origin
         FROM event_indicators i JOIN events e ON e.id = i.event_id
        WHERE i.tenant_id = $1 AND i.type = $2 AND i.value = $3 AND ($4::text IS NULL OR i.event_id < $4::text)
        ORDER BY i.event_id DESC LIMIT $5`,
      [tenantId, type, value, before ?? null, limit],
    );
    return rows.map((r) => ({ ...(r as unknown as IndicatorEventRow) }));
  },
  async alertsWithIndicator(conn, tenantId, type, value, limit): Promise<AlertRow[]> {
    const rows = await conn.unsafe(
      `SELECT ${ALERT_COLS} FROM alerts a
        WHERE a.tenant_id = $1
          AND a.id IN (SELECT ae.alert_id FROM event_indicators i JOIN alert_events ae ON ae.event_id = i.event_id
                        WHERE i.tenant_id = $1 AND i.type = $2 AND i.value = $3)
        ORDER BY a.id DESC LIMIT $4`,
      [tenantId, type, value, limit],
    );
    return rows.map((r) => ({ ...(r as unknown as AlertRow) }));
  },
};
