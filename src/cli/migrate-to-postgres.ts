// keepwatch migrate-to-postgres: moves a SQLite data directory into an empty PostgreSQL database
// (the copy itself, all its SQL, is src/store/migrate-to-pg.ts).
import { existsSync } from "node:fs";
import type { Config } from "../config";
import { dbFile } from "../db/client";
import { openPg } from "../db/pg-client";
import { migratePg } from "../db/pg-migrate";
import { redactDatabaseUrl } from "../lib/database-url";
import { copySqliteToPg, CountMismatch, MigrateRefused, openSqliteSource } from "../store/migrate-to-pg";
import { noExtra } from "./args";
import { CliError } from "./ops";

export const MIGRATE_TO_POSTGRES_HELP = `usage: keepwatch migrate-to-postgres --data-dir DIR --database-url postgres://user:password@host:5432/db

Copies every table of the SQLite database in DIR into the PostgreSQL database, which must be empty
(its schema is applied first when missing). Ids and hashes are copied unchanged: API keys, ping
URLs, URL tokens, webhook secrets and admin sessions keep working against the PostgreSQL server.
The copy reads one consistent snapshot, so the SQLite server may keep running meanwhile, but what
it stores after the snapshot is not copied: stop it first for a clean cut-over. PostgreSQL gets
everything in one transaction (all or nothing), then prints the rows of each table and checks
them against SQLite. The SQLite full-text index and bookkeeping tables are not copied.
  --batch N     rows per insert statement (default 1000)
Exit codes: 0 copied and verified, 1 failed (nothing kept; e.g. counts differ, database
unreachable), 2 refused (the target is not empty, no SQLite database in DIR, usage).
`;

export async function migrateToPostgres(config: Config, args: string[], explicit: Set<string>): Promise<number> {
  const i = args.findIndex((a) => a === "--batch" || a.startsWith("--batch="));
  let batch = 1000;
  if (i >= 0) {
    const raw = args[i].includes("=") ? args[i].slice(args[i].indexOf("=") + 1) : args[i + 1];
    args.splice(i, args[i].includes("=") ? 1 : 2);
    batch = Number(raw);
    if (!Number.isInteger(batch) || batch < 1 || batch > 100_000) throw new CliError("--batch must be an integer from 1 to 100000", 2);
  }
  noExtra(args);
  if (!config.databaseUrl) throw new CliError("--database-url (or KEEPWATCH_DATABASE_URL) is required: the PostgreSQL database to fill", 2);
  if (!explicit.has("dataDir")) throw new CliError("--data-dir (or KEEPWATCH_DATA_DIR) is required: the SQLite data directory to copy", 2);
  const file = dbFile(config.dataDir);
  if (!existsSync(file)) throw new CliError(`no keepwatch database in ${config.dataDir} (${file} does not exist)`, 2);
  const where = redactDatabaseUrl(config.databaseUrl);
  const src = openSqliteSource(file);
  const pg = openPg(config.databaseUrl, { pool: 2 });
  const t0 = performance.now();
  try {
    const applied = await migratePg(pg.$client);
    if (applied) process.stdout.write(`applied ${applied} PostgreSQL migration(s) to ${where}\n`);
    process.stdout.write(`copying ${file} into ${where}\n`);
    const w = 24;
    process.stdout.write(`${"table".padEnd(w)}${"sqlite".padStart(10)}${"postgres".padStart(10)}\n`);
    const res = await copySqliteToPg(src, pg.$client, {
      batch,
      onTable: (c) => process.stdout.write(`${c.table.padEnd(w)}${String(c.source).padStart(10)}${String(c.target).padStart(10)}${c.source === c.target ? "" : "  MISMATCH"}\n`),
    });
    for (const s of res.skipped) process.stdout.write(`skipped ${s.table}: ${s.why}\n`);
    if (res.sequences.length) process.stdout.write(`identity sequences set past the copied ids: ${res.sequences.join(", ")}\n`);
    const rows = res.tables.reduce((a, c) => a + c.target, 0);
    process.stdout.write(`verified: ${res.tables.length} tables, ${rows} rows, every count matches (${Math.round(performance.now() - t0)} ms)\n`);
    process.stdout.write(`next: keepwatch serve --database-url ${where}\n`);
    return 0;
  } catch (e) {
    if (e instanceof MigrateRefused) throw new CliError(e.message, 2);
    if (e instanceof CountMismatch) throw new CliError(`${e.message}; the PostgreSQL database was left empty`, 1);
    throw new CliError(`copy into ${where} failed, nothing was kept: ${String((e as Error)?.message ?? e).split("\n")[0]}`, 1);
  } finally {
    src.close(false);
    await pg.$client.end({ timeout: 5 });
  }
}
