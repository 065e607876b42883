// Opens PostgreSQL through postgres.js and drizzle-orm/postgres-js (PostgreSQL mode, issue 11).
// URLs are libpq-style: postgres://user:pass@host:port/db, or a Unix socket as
// postgres://user@localhost/db?host=/var/run/postgresql (postgres.js itself takes the socket only
// as an option; the `host` query parameter is turned into it here).
import postgres from "postgres";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import * as schema from "./pg-schema";

export type PgDb = PostgresJsDatabase<typeof schema> & { $client: postgres.Sql };

/** Why a database URL is unusable, or null when it is fine. Never echoes the password. */
export function databaseUrlIssue(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return "must be a URL such as postgres://user:password@host:5432/keepwatch";
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") return "must start with postgres:// or postgresql://";
  const socket = u.searchParams.get("host");
  if (!u.hostname && !socket) return "must name a host (or a socket directory as ?host=/path)";
  if (socket !== null && !socket.startsWith("/")) return "?host= must be an absolute socket directory such as /var/run/postgresql";
  if (u.port && !(Number(u.port) >= 1 && Number(u.port) <= 65535)) return "the port must be 1-65535";
  if (!decodeURIComponent(u.pathname.replace(/^\//, ""))) return "must name a database (postgres://…/keepwatch)";
  return null;
}

/** postgres.js options for a URL: a `?host=/dir` becomes the socket path. */
export function pgOptions(raw: string, pool: number): { url: string; options: postgres.Options<{}> } {
  const u = new URL(raw);
  const socket = u.searchParams.get("host");
  const options: postgres.Options<{}> = {
    max: pool,
    onnotice: () => {},
    // a 202 means committed: whatever the server's default, this session waits for the WAL flush
    connection: { application_name: "keepwatch", synchronous_commit: "on" },
  };
  if (socket) {
    u.searchParams.delete("host");
    options.path = `${socket.replace(/\/+$/, "")}/.s.PGSQL.${u.port || "5432"}`;
    if (!u.hostname) u.hostname = "localhost";
  }
  return { url: u.toString(), options };
}

export function openPg(url: string, opts: { pool?: number } = {}): PgDb {
  const { url: clean, options } = pgOptions(url, opts.pool ?? 10);
  const client = postgres(clean, options);
  return drizzle({ client, schema }) as PgDb;
}
