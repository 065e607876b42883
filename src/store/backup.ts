// Online backup and the checks restore relies on.
import type { Bound } from "./contract";
import { Database } from "bun:sqlite";
import type { Db } from "../db/client";

/**
 * A consistent copy of the live database into `file` (VACUUM INTO reads one snapshot, so writes
 * that go on meanwhile are either wholly in the copy or not at all).
 */
export function backupTo(db: Db, file: string): void {
  db.$client.query("VACUUM INTO ?1").run(file);
}

/** Opens a candidate database file read-only and says whether it is a sound keepwatch database. */
export function inspectDatabase(file: string): { ok: true; events: number; tenants: number } | { ok: false; reason: string } {
  let d: Database | null = null;
  try {
    d = new Database(file, { readonly: true });
    const integrity = (d.query("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check;
    if (integrity !== "ok") return { ok: false, reason: `integrity check failed: ${integrity}` };
    const tables = new Set((d.query("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    for (const t of ["tenants", "api_keys", "events", "__drizzle_migrations"])
      if (!tables.has(t)) return { ok: false, reason: `not a keepwatch database (no ${t} table)` };
    const n = (q: string) => (d!.query(q).get() as { n: number }).n;
    return { ok: true, events: n("SELECT count(*) AS n FROM events"), tenants: n("SELECT count(*) AS n FROM tenants") };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    d?.close(false);
  }
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/backup.ts. */
export const backupFns = { backupTo };
export type BackupStore = Bound<typeof backupFns>;
