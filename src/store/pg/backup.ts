// `keepwatch backup` on PostgreSQL: the twin of src/store/backup.ts. keepwatch does not copy a
// PostgreSQL database itself: pg_dump makes a consistent copy of a live database (one snapshot),
// and the database's operators usually have their own backups (base backups, WAL archiving) too.
import type { PgConn, PgTwin } from "../contract";
import type { backupFns } from "../backup";

/** The message `keepwatch backup` gives on PostgreSQL, with the command to use instead. */
export const PG_BACKUP_ADVICE =
  "keepwatch backup copies the SQLite database only; on PostgreSQL use pg_dump, which takes a consistent snapshot while keepwatch serves:\n" +
  "  pg_dump --format=custom --file=keepwatch-$(date -u +%F).dump \"$KEEPWATCH_DATABASE_URL\"\n" +
  "and restore into an empty database with:\n" +
  "  pg_restore --no-owner --dbname=\"postgres://…/keepwatch_new\" keepwatch-YYYY-MM-DD.dump";

async function backupTo(_pg: PgConn, _file: string): Promise<void> {
  throw new Error(PG_BACKUP_ADVICE);
}

export const pgBackupFns: PgTwin<typeof backupFns> = { backupTo };
