// Tenant watchlists on PostgreSQL: the twin of src/store/watchlists.ts. `active` is a boolean
// column here; rows keep SQLite's 0/1 so that callers see one shape.
import type { WatchlistDef, WatchlistEntry } from "../../core/enrich";
import type { Severity } from "../../core/severity";
import type { PgConn, PgTwin } from "../contract";
import type { WatchlistRow, watchlistsFns } from "../watchlists";

const COLS = `id, tenant_id AS "tenantId", name, label, severity, active, entries, created_at AS "createdAt", updated_at AS "updatedAt"`;
const row = (r: Record<string, unknown> | undefined): WatchlistRow | null => (r ? ({ ...r, active: r.active ? 1 : 0 } as WatchlistRow) : null);

async function insertWatchlist(pg: PgConn, r: WatchlistRow): Promise<void> {
  await pg`INSERT INTO watchlists (id, tenant_id, name, label, severity, active, entries, created_at, updated_at)
           VALUES (${r.id}, ${r.tenantId}, ${r.name}, ${r.label}, ${r.severity}, ${!!r.active}, ${r.entries}, ${r.createdAt}, ${r.updatedAt})`;
}

async function updateWatchlist(pg: PgConn, r: WatchlistRow): Promise<boolean> {
  const res = await pg`UPDATE watchlists SET name = ${r.name}, label = ${r.label}, severity = ${r.severity}, active = ${!!r.active}, entries = ${r.entries},
                         updated_at = ${r.updatedAt} WHERE tenant_id = ${r.tenantId} AND id = ${r.id}`;
  return res.count === 1;
}

async function getWatchlist(pg: PgConn, tenantId: string, id: string): Promise<WatchlistRow | null> {
  return row((await pg.unsafe(`SELECT ${COLS} FROM watchlists WHERE tenant_id = $1 AND id = $2`, [tenantId, id]))[0]);
}

async function watchlistByName(pg: PgConn, tenantId: string, name: string): Promise<WatchlistRow | null> {
  return row((await pg.unsafe(`SELECT ${COLS} FROM watchlists WHERE tenant_id = $1 AND name = $2`, [tenantId, name]))[0]);
}

/** Ordered by name in byte order (COLLATE "C"), as SQLite orders text. */
async function listWatchlists(pg: PgConn, tenantId: string): Promise<WatchlistRow[]> {
  return (await pg.unsafe(`SELECT ${COLS} FROM watchlists WHERE tenant_id = $1 ORDER BY name COLLATE "C"`, [tenantId])).map((r) => row(r)!);
}

async function deleteWatchlist(pg: PgConn, tenantId: string, id: string): Promise<boolean> {
  return (await pg`DELETE FROM watchlists WHERE tenant_id = ${tenantId} AND id = ${id}`).count === 1;
}

async function activeWatchlists(pg: PgConn, tenantId: string): Promise<WatchlistDef[]> {
  const rows = await pg.unsafe(`SELECT ${COLS} FROM watchlists WHERE tenant_id = $1 AND active ORDER BY name COLLATE "C"`, [tenantId]);
  return rows.map((r) => ({ id: r.id, name: r.name, label: r.label, severity: r.severity as Severity | null, entries: JSON.parse(r.entries) as WatchlistEntry[] }));
}

export const pgWatchlistsFns: PgTwin<typeof watchlistsFns> = { insertWatchlist, updateWatchlist, getWatchlist, watchlistByName, listWatchlists, deleteWatchlist, activeWatchlists };
