// Builds a Store (src/store/contract.ts) on either database. Each domain appears in both
// builders under the same name; the compiler holds the PostgreSQL twins to the SQLite signatures.
import type postgres from "postgres";
import type { Db } from "../db/client";
import type { Store } from "./contract";
import { pgQueue } from "./queue-pg";
import { sqliteQueue } from "./queue-sqlite";

/** The SQLite store on one connection (the server opens one per role: API, background, jobs). */
export function sqliteStore(db: Db, clock: () => number = Date.now): Store {
  return {
    kind: "sqlite",
    queue: sqliteQueue(db, clock),
    async ping() {
      db.$client.query("SELECT 1").get();
    },
    // -- identity and configuration
    // -- ingest and events
    // -- outbound
    // -- alerting
    // -- operations
  };
}

/** The PostgreSQL store on a pool (every role shares it). */
export function pgStore(sql: postgres.Sql<{}>): Store {
  return {
    kind: "postgres",
    queue: pgQueue(sql),
    async ping() {
      await sql`SELECT 1`;
    },
    // -- identity and configuration
    // -- ingest and events
    // -- outbound
    // -- alerting
    // -- operations
  };
}
