// Readiness and size on PostgreSQL: the twin of src/store/health.ts.
import type { PgConn, PgTwin } from "../contract";
import type { DatabaseSize, healthFns } from "../health";

/**
 * null when the database takes a write now, else the reason: unreachable (the query fails), a
 * standby (in recovery), or read-only (default_transaction_read_only, as a failover in progress or
 * a full disk's runbook sets it). One round trip; nothing is written.
 */
async function checkWritable(pg: PgConn): Promise<string | null> {
  try {
    const [r] = await pg`SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS ro`;
    if (r!.standby) return "the database is a standby (in recovery): it takes no writes";
    if (r!.ro === "on") return "the database is read-only (default_transaction_read_only)";
    return null;
  } catch (e) {
    return String((e as Error)?.message ?? e);
  }
}

/** The database's size on disk (pg_database_size: tables, indexes, TOAST; the WAL is the cluster's, not counted). */
async function databaseSize(pg: PgConn): Promise<DatabaseSize[]> {
  const [r] = await pg`SELECT pg_database_size(current_database()) AS n`;
  return [{ part: "db", bytes: Number(r!.n) }];
}

export const pgHealthFns: PgTwin<typeof healthFns> = { checkWritable, databaseSize };
