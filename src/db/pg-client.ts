// Opens PostgreSQL through postgres.js and drizzle-orm/postgres-js (PostgreSQL mode, issue 11).
// URLs are libpq-style: postgres://user:pass@host:port/db, or a Unix socket as
// postgres://user@localhost/db?host=/var/run/postgresql (postgres.js itself takes the socket only
// as an option; the `host` query parameter is turned into it here).
import postgres from "postgres";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import * as schema from "./pg-schema";

import { parseDatabaseUrl } from "../lib/database-url";
export { databaseUrlIssue } from "../lib/database-url";

export type PgDb = PostgresJsDatabase<typeof schema> & { $client: postgres.Sql };

/** postgres.js options for a URL: a `?host=/dir` becomes the socket path. */
export function pgOptions(raw: string, pool: number): { url: string; options: postgres.Options<{}> } {
  const u = parseDatabaseUrl(raw);
  const socket = u.searchParams.get("host");
  const options: postgres.Options<{}> = {
    max: pool,
    onnotice: () => {},
    // a 202 means committed: whatever the server's default, this session waits for the WAL flush
    connection: { application_name: "keepwatch", synchronous_commit: "on" },
    // int8 (bigint columns, count(*)) as JS numbers, like bun:sqlite's integers: every bigint keepwatch
    // stores is epoch milliseconds, an identity or a counter, far below 2^53
    types: {
      int8: { to: 20, from: [20], serialize: (x: number | bigint | string) => String(x), parse: (x: string) => Number(x) },
    } as any,
  };
  if (socket) {
    u.searchParams.delete("host");
    options.path = `${socket.replace(/\/+$/, "")}/.s.PGSQL.${u.port || "5432"}`;
  }
  return { url: u.toString(), options };
}

export function openPg(url: string, opts: { pool?: number } = {}): PgDb {
  const { url: clean, options } = pgOptions(url, opts.pool ?? 10);
  const client = postgres(clean, options);
  return drizzle({ client, schema }) as PgDb;
}

/**
 * Whether a PostgreSQL error means "the database is unavailable right now" (retry later: 503 +
 * Retry-After) rather than "this request is wrong": no connection (refused, reset, timed out,
 * closed), the server shutting down or starting up (57P01-57P03), a connection-level failure
 * (class 08), or a database that refuses writes (25006: read-only transaction, e.g. a standby or
 * default_transaction_read_only during a failover).
 */
export function pgUnavailable(e: unknown): boolean {
  const code = String((e as { code?: unknown })?.code ?? "");
  if (/^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|ENOENT|EHOSTUNREACH|ENETUNREACH)$/.test(code)) return true;
  // postgres.js's own codes for a connection it lost or could not make
  if (/^(CONNECTION_CLOSED|CONNECTION_ENDED|CONNECTION_DESTROYED|CONNECT_TIMEOUT)$/.test(code)) return true;
  if (/^(57P01|57P02|57P03|53300|25006)$/.test(code) || code.startsWith("08")) return true;
  return false;
}
