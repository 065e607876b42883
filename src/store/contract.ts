// THE STORE CONTRACT (issue 11): what the rest of keepwatch may ask of a database. Two
// implementations pass one test suite: SQLite (bun:sqlite, the default, in --data-dir) and
// PostgreSQL (--database-url). No code outside src/store and src/db knows which one it talks to.
//
// Shape. Every domain module of src/store (keys.ts, events.ts, ...) is the SQLite implementation:
// synchronous functions `f(db, ...args)`, each a statement or a whole unit of work in one
// `BEGIN IMMEDIATE` transaction (no await inside a SQLite transaction, ever). At its end each module
// exports the list of functions that form its part of the contract (`keysFns`, ...), and the type
// `XxxStore = Bound<typeof xxxFns>`. Its PostgreSQL twin, src/store/pg/<domain>.ts, exports the
// same names as async functions `f(pg, ...args)` (`PgTwin<typeof xxxFns>` makes the compiler hold
// the two to one signature). A `Store` binds one set to its connection: callers write
// `await store.keys.findKeyByPrefix(prefix)` and never see a connection, a transaction or SQL.
//
// Units of work. When a caller needs several writes to be atomic (a key and its tenant; a flip, its
// alert and its outbox messages), that is one contract function doing the whole unit in one
// transaction, not a transaction opened by the caller. On PostgreSQL a unit is one `sql.begin`
// (READ COMMITTED, row locks, FOR UPDATE SKIP LOCKED where replicas race) whose statements are
// multi-row where the unit is (unnest arrays, never a statement per row); `inTx` lets a unit call
// another unit's function inside its own transaction.
//
// Time. SQLite mode uses the injected process clock (tests use a fake one). PostgreSQL mode takes
// deadlines that replicas must agree on (leases, run_at, heartbeat deadlines) from the database
// clock: see PG_NOW_MS.
import type postgres from "postgres";
import type { Db } from "../db/client";
import type { QueueStore } from "./queue-contract";

/** A PostgreSQL connection: the pool, or the transaction a unit of work runs in. */
export type PgConn = postgres.Sql<{}>;

/** The database clock in epoch ms; clock_timestamp(), not now(): a long transaction still sees time pass. */
export const PG_NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/** Runs `f` in a transaction: the caller's when `conn` already is one, else a new one on the pool. */
export async function inTx<T>(conn: PgConn, f: (tx: PgConn) => Promise<T>): Promise<T> {
  if ("savepoint" in conn) return await f(conn);
  return (await conn.begin((tx) => f(tx as unknown as PgConn))) as T;
}

type AnyFn = (c: any, ...a: any[]) => any;

/** A module's contract functions with the connection bound: `f(db, ...a): R` becomes `(...a) => Promise<R>`. */
export type Bound<M extends Record<string, AnyFn>> = {
  [K in keyof M]: M[K] extends (c: any, ...a: infer A) => infer R ? (...a: A) => Promise<Awaited<R>> : never;
};

/** The PostgreSQL twin of a SQLite module's contract functions: same names, same arguments after the connection, async. */
export type PgTwin<M extends Record<string, AnyFn>> = {
  [K in keyof M]: M[K] extends (c: any, ...a: infer A) => infer R ? (pg: PgConn, ...a: A) => Promise<Awaited<R>> : never;
};

/** Binds SQLite functions to a connection; a throw becomes a rejected promise (callers see one kind of failure). */
export function bindSqlite<M extends Record<string, AnyFn>>(db: Db, fns: M): Bound<M> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(fns))
    out[name] = (...a: unknown[]) => {
      try {
        return Promise.resolve(f(db, ...a));
      } catch (e) {
        return Promise.reject(e);
      }
    };
  return out as Bound<M>;
}

/** Binds PostgreSQL twins to the pool. */
export function bindPg<M extends Record<string, AnyFn>>(pg: PgConn, fns: PgTwin<M>): Bound<M> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(fns as Record<string, AnyFn>)) out[name] = (...a: unknown[]) => f(pg, ...a);
  return out as Bound<M>;
}

/**
 * One store. Domains are added here as they are routed through the contract (see the list in
 * src/store/index.ts, which builds both implementations).
 */
export interface Store {
  readonly kind: "sqlite" | "postgres";
  /** the job queue (src/store/queue-contract.ts) */
  readonly queue: QueueStore;
  /** one round trip to the database (readiness) */
  ping(): Promise<void>;
  // -- identity and configuration
  // -- ingest and events
  // -- outbound
  // -- alerting
  // -- operations
}
