// Tenant watchlists' SQL (the enrichment job reads the active ones).
import type { Bound } from "./contract";
import type { Db } from "../db/client";
import type { WatchlistDef, WatchlistEntry } from "../core/enrich";
import type { Severity } from "../core/severity";

export type WatchlistRow = {
  id: string;
  tenantId: string;
  name: string;
  label: string;
  severity: string | null;
  active: number;
  entries: string;
  createdAt: number;
  updatedAt: number;
};

const COLS = "id, tenant_id AS tenantId, name, label, severity, active, entries, created_at AS createdAt, updated_at AS updatedAt";

export function insertWatchlist(db: Db, r: WatchlistRow): void {
  db.$client
    .query("INSERT INTO watchlists (id, tenant_id, name, label, severity, active, entries, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
    .run(r.id, r.tenantId, r.name, r.label, r.severity, r.active, r.entries, r.createdAt, r.updatedAt);
}

export function updateWatchlist(db: Db, r: WatchlistRow): boolean {
  return (
    db.$client
      .query("UPDATE watchlists SET name = ?3, label = ?4, severity = ?5, active = ?6, entries = ?7, updated_at = ?8 WHERE tenant_id = ?1 AND id = ?2")
      .run(r.tenantId, r.id, r.name, r.label, r.severity, r.active, r.entries, r.updatedAt).changes === 1
  );
}

export function getWatchlist(db: Db, tenantId: string, id: string): WatchlistRow | null {
  return db.$client.query(`SELECT ${COLS} FROM watchlists WHERE tenant_id = ?1 AND id = ?2`).get(tenantId, id) as WatchlistRow | null;
}

export function watchlistByName(db: Db, tenantId: string, name: string): WatchlistRow | null {
  return db.$client.query(`SELECT ${COLS} FROM watchlists WHERE tenant_id = ?1 AND name = ?2`).get(tenantId, name) as WatchlistRow | null;
}

export function listWatchlists(db: Db, tenantId: string): WatchlistRow[] {
  return db.$client.query(`SELECT ${COLS} FROM watchlists WHERE tenant_id = ?1 ORDER BY name`).all(tenantId) as WatchlistRow[];
}

export function deleteWatchlist(db: Db, tenantId: string, id: string): boolean {
  return db.$client.query("DELETE FROM watchlists WHERE tenant_id = ?1 AND id = ?2").run(tenantId, id).changes === 1;
}

/** The tenant's active watchlists as the matcher takes them. */
export function activeWatchlists(db: Db, tenantId: string): WatchlistDef[] {
  const rows = db.$client.query(`SELECT ${COLS} FROM watchlists WHERE tenant_id = ?1 AND active = 1 ORDER BY name`).all(tenantId) as WatchlistRow[];
  return rows.map((r) => ({ id: r.id, name: r.name, label: r.label, severity: r.severity as Severity | null, entries: JSON.parse(r.entries) as WatchlistEntry[] }));
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/watchlists.ts. */
export const watchlistsFns = { insertWatchlist, updateWatchlist, getWatchlist, watchlistByName, listWatchlists, deleteWatchlist, activeWatchlists };
export type WatchlistsStore = Bound<typeof watchlistsFns>;
