// Change counters on PostgreSQL: the twin of src/store/config-versions.ts. Every change to cached
// settings bumps its counter (a config_versions row) in the change's own transaction; caches of
// this process see their own bumps at once, and everybody else's (the CLI, other replicas) within
// CHECK_MS: all caches of a process share one snapshot of the whole (tiny) table per database
// (keyed by the pool, rootOf: a test process serves many databases at once), read at most once per
// CHECK_MS, so a cache check costs no round trip on the hot path. Transactions must be opened with
// inTx for a bump made inside one to be attributed to its database. The snapshot's age is measured
// on the process's injected clock (deps.clock, given to pgStore by buildPgDeps; Date.now unless a
// test injects another), like SQLite's SourceSettingsCache: a test that moves a fake clock moves
// the caches with it. A clock that steps back (a wall-clock correction) makes the snapshot stale
// at once instead of young for as long as the step: the bound never stretches.
import { inTx, rootOf, type PgConn } from "../contract";
import type { configVersionsFns } from "../config-versions";
import type { PgTwin } from "../contract";

/** How stale a process's view of other processes' changes may be, at most (issue 12: ≤ 1 s). */
export const CHECK_MS = 250;

type Snapshot = {
  versions: Map<string, number>;
  /** when the read of `versions` started, on `clock` */
  at: number;
  /** the number of the read `versions` came from (reads are numbered as they start) */
  readNo: number;
  reads: number;
  reading: Promise<void> | null;
  bumps: Map<string, number>;
  clock: () => number;
};
const perDb = new WeakMap<PgConn, Snapshot>();
function stateOf(conn: PgConn): Snapshot {
  const root = rootOf(conn);
  let s = perDb.get(root);
  if (!s) perDb.set(root, (s = { versions: new Map(), at: -Infinity, readNo: 0, reads: 0, reading: null, bumps: new Map(), clock: Date.now }));
  return s;
}

/** The clock a database's counter snapshot ages on (pgStore with the process's clock sets it; Date.now by default). */
export function setVersionClock(pool: PgConn, clock: () => number): void {
  stateOf(pool).clock = clock;
}

export async function pgBumpVersion(tx: PgConn, name: string): Promise<void> {
  // bumps made by this process: its caches see them without waiting for the next snapshot
  noteBump(tx, name);
  await tx`INSERT INTO config_versions (name, version) VALUES (${name}, 1)
           ON CONFLICT (name) DO UPDATE SET version = config_versions.version + 1`;
}

/**
 * Tells this process's caches about a bump once its transaction has committed. pgBumpVersion
 * notes the bump before the commit; a cache that looks in between re-reads the counters, still
 * sees the old value and would then wait for the next snapshot (CHECK_MS). Units of work whose
 * changes must show on this process's next request (revoking a key) call this after their
 * transaction, so that the next look re-reads the committed counter.
 */
export function noteBump(conn: PgConn, name: string): void {
  const b = stateOf(conn).bumps;
  b.set(name, (b.get(name) ?? 0) + 1);
}

/** pgBumpVersion for each name inside `f`'s transaction, noted again once it has committed. */
export async function withBumps<T>(pg: PgConn, names: string[], f: (tx: PgConn) => Promise<T>, bump: (r: T) => boolean = () => true): Promise<T> {
  const r = await inTx(pg, async (tx) => {
    const out = await f(tx);
    if (bump(out)) for (const n of names) await pgBumpVersion(tx, n);
    return out;
  });
  if (bump(r)) for (const n of names) noteBump(pg, n);
  return r;
}

export const pgConfigVersionsFns: PgTwin<typeof configVersionsFns> = { bumpVersion: pgBumpVersion };

/**
 * The counters as of at most CHECK_MS ago (one shared read for every cache of the process). Past
 * half of CHECK_MS the next read starts in the background and the current snapshot still serves,
 * so that under steady traffic no request waits for it; only a snapshot older than CHECK_MS (an
 * idle process, or this process's own bump) makes the caller wait.
 */
async function versions(conn: PgConn): Promise<Map<string, number>> {
  const s = stateOf(conn);
  const age = s.clock() - s.at;
  // age < 0: the clock stepped back since the read; stale (see the top of this file)
  if (age >= 0 && age < CHECK_MS / 2) return s.versions;
  // The shared read runs on the pool, never on a caller's transaction, and a caller inside a
  // transaction never waits for it: a transaction that holds locks (a webhook lane's row, say) and
  // waited for a read queued on another transaction's connection, itself blocked on those locks,
  // would deadlock across connections where PostgreSQL cannot see it (seen with 3 replicas racing
  // heartbeat sweeps: test/pg/replicas-heartbeats.test.ts). Such a caller reads on its own connection.
  const root = rootOf(conn);
  const shared = () =>
    (s.reading ??= (async () => {
      try {
        await readInto(s, root);
      } finally {
        s.reading = null;
      }
    })());
  if (age >= 0 && age < CHECK_MS) {
    shared().catch(() => {}); // a failed background read: the next caller past CHECK_MS waits for (and sees) the error
    return s.versions;
  }
  if (conn !== root) {
    await readInto(s, conn);
    return s.versions;
  }
  await shared();
  return s.versions;
}

/**
 * Reads the counters on `conn` into the snapshot, unless a read that started later got there first.
 * The snapshot is as old as the moment its read started; reads are ordered by number, not by the
 * clock (which may step back).
 */
async function readInto(s: Snapshot, conn: PgConn): Promise<void> {
  const no = ++s.reads;
  const started = s.clock();
  const rows = await conn`SELECT name, version FROM config_versions`;
  if (no < s.readNo) return;
  s.versions = new Map(rows.map((r) => [r.name as string, Number(r.version)]));
  s.at = started;
  s.readNo = no;
}

/** Forgets a database's snapshot: the next check reads the counters. */
export function forgetVersionSnapshot(conn: PgConn): void {
  stateOf(conn).at = -Infinity;
}

/**
 * Whether a change counter moved since the last look: a bump by this process is seen at once (the
 * next look re-reads the counters), one by another process within CHECK_MS. No round trip while
 * the process's snapshot is fresh.
 */
class CounterWatch {
  private version = -1;
  private local = -1;

  constructor(private name: string) {}

  reset(): void {
    this.version = -1;
    this.local = -1;
  }

  async moved(conn: PgConn): Promise<boolean> {
    const local = stateOf(conn).bumps.get(this.name) ?? 0;
    if (local !== this.local) {
      this.local = local;
      forgetVersionSnapshot(conn); // our own change: see it now, not after CHECK_MS
    }
    const v = (await versions(conn)).get(this.name) ?? 0;
    if (v === this.version) return false;
    this.version = v;
    return true;
  }
}

/**
 * A cache cleared when its change counter moves (the twin of VersionedCache and CounterGuardedMap):
 * per-tenant derived settings (rules, heartbeat filters, webhooks) or request-path rows (keys,
 * tokens). A bump by this process clears it at once (the next read re-reads the counters).
 */
export class PgVersionedCache<T> {
  private watch: CounterWatch;
  private byKey = new Map<string, T>();

  constructor(
    name: string,
    private load: (conn: PgConn, key: string) => Promise<T>,
    private max = 10_000,
  ) {
    this.watch = new CounterWatch(name);
  }

  invalidate(): void {
    this.watch.reset();
    this.byKey.clear();
  }

  /** The cached value, loaded through `load` when missing (undefined is cached as "none" too). */
  async get(conn: PgConn, key: string): Promise<T> {
    if (await this.watch.moved(conn)) this.byKey.clear();
    if (this.byKey.has(key)) return this.byKey.get(key) as T;
    const x = await this.load(conn, key);
    if (this.byKey.size >= this.max) this.byKey.clear();
    this.byKey.set(key, x);
    return x;
  }

  delete(key: string): void {
    this.byKey.delete(key);
  }
}

/**
 * The twin of CounterGuardedMap (src/store/config-versions.ts) for the request path: the caller
 * decides what to cache (the Authenticator never caches an unknown key prefix) and sets it; the
 * map is emptied when its counter moves. A hit costs no round trip (see CounterWatch).
 */
export class PgCounterGuardedMap<V> {
  private watch: CounterWatch;
  private map = new Map<string, V>();

  constructor(
    private pg: PgConn,
    name: string,
    private max = 10_000,
  ) {
    this.watch = new CounterWatch(name);
  }

  async get(key: string): Promise<V | undefined> {
    if (await this.watch.moved(this.pg)) this.map.clear();
    return this.map.get(key);
  }

  set(key: string, value: V): void {
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(key, value);
  }

  delete(key: string): void {
    this.map.delete(key);
  }
}
