// Change counters on PostgreSQL: the twin of src/store/config-versions.ts. Every change to cached
// settings bumps its counter (a config_versions row) in the change's own transaction; caches of
// this process see their own bumps at once, and everybody else's (the CLI, other replicas) within
// CHECK_MS: all caches of a process share one snapshot of the whole (tiny) table, read at most
// once per CHECK_MS, so a cache check costs no round trip on the hot path.
import type { PgConn } from "../contract";
import type { configVersionsFns } from "../config-versions";
import type { PgTwin } from "../contract";

/** How stale a process's view of other processes' changes may be, at most (issue 12: ≤ 1 s). */
export const CHECK_MS = 250;

/** Bumps made by this process, per counter: its caches see them without a read. */
const localBumps = new Map<string, number>();

export async function pgBumpVersion(tx: PgConn, name: string): Promise<void> {
  localBumps.set(name, (localBumps.get(name) ?? 0) + 1);
  await tx`INSERT INTO config_versions (name, version) VALUES (${name}, 1)
           ON CONFLICT (name) DO UPDATE SET version = config_versions.version + 1`;
}

export const pgConfigVersionsFns: PgTwin<typeof configVersionsFns> = { bumpVersion: pgBumpVersion };

let snapshot = new Map<string, number>();
let snapshotAt = -Infinity;
let reading: Promise<void> | null = null;

/** The counters as of at most CHECK_MS ago (one shared read for every cache of the process). */
async function versions(conn: PgConn): Promise<Map<string, number>> {
  if (performance.now() - snapshotAt < CHECK_MS) return snapshot;
  reading ??= (async () => {
    try {
      const rows = await conn`SELECT name, version FROM config_versions`;
      snapshot = new Map(rows.map((r) => [r.name as string, Number(r.version)]));
      snapshotAt = performance.now();
    } finally {
      reading = null;
    }
  })();
  await reading;
  return snapshot;
}

/** Forgets the shared snapshot (tests that change counters behind the process's back). */
export function forgetVersionSnapshot(): void {
  snapshotAt = -Infinity;
}

/**
 * A cache cleared when its change counter moves (the twin of VersionedCache and CounterGuardedMap):
 * per-tenant derived settings (rules, heartbeat filters, webhooks) or request-path rows (keys,
 * tokens). A bump by this process clears it at once (the next read re-reads the counters).
 */
export class PgVersionedCache<T> {
  private version = -1;
  private local = -1;
  private byKey = new Map<string, T>();

  constructor(
    private name: string,
    private load: (conn: PgConn, key: string) => Promise<T>,
    private max = 10_000,
  ) {}

  invalidate(): void {
    this.version = -1;
    this.local = -1;
    this.byKey.clear();
  }

  private async check(conn: PgConn): Promise<void> {
    const local = localBumps.get(this.name) ?? 0;
    if (local !== this.local) {
      this.local = local;
      forgetVersionSnapshot(); // our own change: see it now, not after CHECK_MS
    }
    const v = (await versions(conn)).get(this.name) ?? 0;
    if (v !== this.version) {
      this.byKey.clear();
      this.version = v;
    }
  }

  /** The cached value, loaded through `load` when missing (undefined is cached as "none" too). */
  async get(conn: PgConn, key: string): Promise<T> {
    await this.check(conn);
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
