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
import type { KeysStore } from "./keys";
import type { TenantsStore } from "./tenants";
import type { SessionsStore } from "./sessions";
import type { SourceSettingsStore } from "./source-settings";
import type { ConfigVersionsStore } from "./config-versions";
import type { WatchlistsStore } from "./watchlists";
import type { EnrichmentLookupsStore } from "./enrichment-lookups";
import type { EventsStore } from "./events";
import type { SearchStore } from "./search";
import type { IndicatorsStore } from "./indicators";
import type { SourceActivityStore } from "./source-activity";
import type { JobsStore } from "./jobs";
import type { WebhooksStore } from "./webhooks";
import type { DeliveriesStore } from "./deliveries";
import type { AlertsStore } from "./alerts";
import type { RulesStore } from "./rules";
import type { HeartbeatsStore } from "./heartbeats";
import type { HeartbeatTransitionsStore } from "./heartbeat-transitions";
import type { EnrichmentStore } from "./enrichment";
import type { OverviewStore } from "./overview";
import type { RetentionStore } from "./retention";
import type { HealthStore } from "./health";
import type { BackupStore } from "./backup";
import type { LeasesStore } from "./leases";
import type { ReplicasStore } from "./replicas";
import type { SignatureSetting } from "../core/inbound-signatures";

/** A PostgreSQL connection: the pool, or the transaction a unit of work runs in. */
export type PgConn = postgres.Sql<{}>;

/** The database clock in epoch ms; clock_timestamp(), not now(): a long transaction still sees time pass. */
export const PG_NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

const poolOfTx = new WeakMap<PgConn, PgConn>();
/** a savepoint's transaction (inSavepoint) */
const txOfSavepoint = new WeakMap<PgConn, PgConn>();
/** what runs once a transaction opened by inTx has committed (afterCommit) */
const onCommit = new WeakMap<PgConn, (() => void)[]>();

/**
 * Runs `f` in a transaction: the caller's when `conn` already is one, else a new one on the pool.
 * Open every transaction through here: it remembers the pool of the transaction (rootOf), which
 * per-database state (the change-counter snapshot) is keyed by, and runs what afterCommit
 * registered once it has committed.
 */
export async function inTx<T>(conn: PgConn, f: (tx: PgConn) => Promise<T>): Promise<T> {
  if ("savepoint" in conn) return await f(conn);
  for (let attempt = 1; ; attempt++) {
    const after: (() => void)[] = [];
    let r: T;
    try {
      r = (await conn.begin((tx) => {
        poolOfTx.set(tx as unknown as PgConn, conn);
        onCommit.set(tx as unknown as PgConn, after);
        return f(tx as unknown as PgConn);
      })) as T;
    } catch (e) {
      // A deadlock victim or a serialization failure: the database rolled the whole unit back and
      // running it again succeeds. Units that write several webhooks' lanes (an ingest's outbox, a
      // settle's records, a webhook's deletion) can lock them in different orders, more so with
      // replicas; the victim is run again (a few times) rather than failing its caller.
      if (attempt < 3 && retryable(e)) continue;
      throw e;
    }
    for (const fn of after) fn();
    return r;
  }
}

/** 40P01 deadlock, 40001 serialization failure */
function retryable(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === "40P01" || code === "40001";
}

/** Runs `f` in a savepoint of the transaction `tx` (its failure undoes only what `f` wrote). */
export async function inSavepoint<T>(tx: PgConn, f: (sp: PgConn) => Promise<T>): Promise<T> {
  return (await (tx as any).savepoint((sp: PgConn) => {
    poolOfTx.set(sp, rootOf(tx));
    txOfSavepoint.set(sp, txOfSavepoint.get(tx) ?? tx);
    return f(sp);
  })) as T;
}

/**
 * Runs `fn` once what `conn` wrote is committed: after the commit of its transaction (never when
 * it rolls back), or at once on the pool (each statement commits itself). For in-memory follow-ups
 * such as waking a worker, which must not look at the table before the commit.
 */
export function afterCommit(conn: PgConn, fn: () => void): void {
  const list = onCommit.get(txOfSavepoint.get(conn) ?? conn);
  if (list) list.push(fn);
  else queueMicrotask(fn);
}

/** The pool a connection belongs to (itself for a pool; a transaction's pool when opened by inTx). */
export function rootOf(conn: PgConn): PgConn {
  return poolOfTx.get(conn) ?? conn;
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
 * A process-local map of request-path rows (key rows, tenant caps), emptied when its change counter
 * moves. On SQLite the counter is read at most every 2 ms (CounterGuardedMap); on PostgreSQL a
 * change through this process is seen at once and one through another process within CHECK_MS of
 * the clock pgStore was given (the process's clock; PgCounterGuardedMap). A hit costs no round
 * trip on either.
 */
export interface GuardedMap<V> {
  get(key: string): Promise<V | undefined>;
  set(key: string, value: V): void;
  delete(key: string): void;
}

/** The tenants' own signature settings by source, cached for the ingest path (SourceSettingsCache, PgSourceSettingsCache). */
export interface SignatureSettingsCache {
  /** the tenant's own setting for a source, or undefined when it has none */
  get(tenantId: string, source: string): Promise<SignatureSetting | undefined>;
  /** forget everything (after a change through this process) */
  invalidate(): void;
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
  /** a request-path cache guarded by the change counter `counter` (see GuardedMap) */
  guardedMap<V>(counter: string, max?: number): GuardedMap<V>;
  /** the ingest path's cache of signature settings; `clock` paces SQLite's counter checks */
  sourceSettingsCache(clock?: () => number): SignatureSettingsCache;
  // -- identity and configuration
  readonly keys: KeysStore;
  readonly tenants: TenantsStore;
  readonly sessions: SessionsStore;
  readonly sourceSettings: SourceSettingsStore;
  readonly configVersions: ConfigVersionsStore;
  readonly watchlists: WatchlistsStore;
  readonly enrichmentLookups: EnrichmentLookupsStore;
  // -- ingest and events
  readonly events: EventsStore;
  readonly search: SearchStore;
  readonly indicators: IndicatorsStore;
  readonly sourceActivity: SourceActivityStore;
  // -- outbound
  readonly jobs: JobsStore;
  readonly webhooks: WebhooksStore;
  readonly deliveries: DeliveriesStore;
  // -- alerting
  readonly alerts: AlertsStore;
  readonly rules: RulesStore;
  readonly heartbeats: HeartbeatsStore;
  readonly heartbeatTransitions: HeartbeatTransitionsStore;
  readonly enrichment: EnrichmentStore;
  // -- operations
  readonly overview: OverviewStore;
  readonly retention: RetentionStore;
  readonly health: HealthStore;
  readonly backup: BackupStore;
  /** one replica at a time for periodic housekeeping (src/store/leases.ts) */
  readonly leases: LeasesStore;
  /** the replica registry: liveness of the cluster's processes and its downtimes (src/store/replicas.ts) */
  readonly replicas: ReplicasStore;
}

/** What a notPorted domain answers to this key: its name (see unportedDomains in src/store/index.ts). */
export const NOT_PORTED = Symbol("notPorted");

/**
 * A domain whose PostgreSQL twin is not written yet: every call fails with a message naming it.
 * Scaffolding of the port only: `serve --database-url` refuses to start while any domain is one
 * (see PG_NOT_READY in src/main.ts), and none is left when PostgreSQL mode is done.
 */
export function notPorted<T extends object>(domain: string): T {
  return new Proxy({} as T, {
    get(_, fn) {
      if (fn === "then") return undefined;
      if (fn === NOT_PORTED) return domain;
      return () => Promise.reject(new Error(`PostgreSQL store: ${domain}.${String(fn)} is not ported yet`));
    },
  });
}
