// Readiness and size on PostgreSQL: the twin of src/store/health.ts.
import type { PgConn, PgTwin } from "../contract";
import type { DatabaseSize, healthFns } from "../health";

/**
 * null when the database takes a write now, else the reason: a transaction that asks for a
 * transaction id (txid_current) fails on a read-only server (a standby, default_transaction_read_only)
 * as any write would, and on an unreachable one; nothing is written.
 */
async function checkWritable(pg: PgConn): Promise<string | null> {
  try {
    await pg.begin(async (tx) => {
      await tx`SELECT txid_current()`;
    });
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
