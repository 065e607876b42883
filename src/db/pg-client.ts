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
    // When the database goes away, queries wait for the pool to reconnect. postgres.js's default
    // backoff grows to 20 s between attempts (3^n/100 s), so after a 5 s outage keepwatch stayed
    // unavailable for up to 20 s more, and every request waited for it; here attempts are at most
    // 1 s apart (jittered), so service resumes within about a second of the database, and a
    // connect that hangs (an unreachable host) fails after 5 s instead of 30: a 503, not a hang.
    backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1),
    connect_timeout: 5,
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

