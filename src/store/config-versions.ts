// Change counters for settings that the ingest path caches (rules, heartbeat filters). Every
// change bumps its counter in the same transaction; a cache reads the counter once per group
// commit and rebuilds when it moved, so a change is seen by the next commit on any thread.
import type { Bound } from "./contract";
import type { Db } from "../db/client";

/** Bumps made by this thread, per counter: seen by this thread's caches without a read. */
const localBumps = new Map<string, number>();

export function bumpVersion(db: Db, name: string): void {
  localBumps.set(name, (localBumps.get(name) ?? 0) + 1);
  db.$client
    .prepare("INSERT INTO config_versions (name, version) VALUES (?1, 1) ON CONFLICT (name) DO UPDATE SET version = version + 1")
    .run(name);
}

export function readVersion(db: Db, name: string): number {
  const r = db.$client.query("SELECT version FROM config_versions WHERE name = ?1").get(name) as { version: number } | null;
  return r?.version ?? 0;
}

let group = 0;

/** Marks the start of a unit of work (a group commit); caches re-check their counters once per unit. */
export function startUnit(): void {
  group++;
}

/** The current unit of work's number (changes with each startUnit on this thread). */
export function currentUnit(): number {
  return group;
}

/** A per-tenant cache invalidated by a change counter, checked once per unit of work. */
export class VersionedCache<T> {
  private version = -1;
  private checkedIn = -1;
  private local = -1;
  private byTenant = new Map<string, T>();

  constructor(
    private name: string,
    private load: (db: Db, tenantId: string) => T,
  ) {}

  /** Forgets everything: the next get() re-reads the counter and reloads. */
  invalidate(): void {
    this.version = -1;
    this.local = -1;
    this.checkedIn = -1;
    this.byTenant.clear();
  }

  /** The cached value, if any, without checking the counter. */
  peek(tenantId: string): T | undefined {
    return this.byTenant.get(tenantId);
  }

  get(db: Db, tenantId: string): T {
    // A bump made by this thread (an API change on the request thread) is seen at once; others
    // once per unit of work.
    const local = localBumps.get(this.name) ?? 0;
    if (this.checkedIn !== group || local !== this.local) {
      this.checkedIn = group;
      this.local = local;
      const v = readVersion(db, this.name);
      if (v !== this.version) {
        this.byTenant.clear();
        this.version = v;
      }
    }
    let x = this.byTenant.get(tenantId);
    if (x === undefined) {
      x = this.load(db, tenantId);
      this.byTenant.set(tenantId, x);
    }
    return x;
  }
}

/**
 * A cache for the request path (key rows, ping tokens): cleared when its change counter moves.
 * The counter is read at most every `everyMs` (a point read per request was a tenth of the
 * request thread's time under load), and a bump made by this thread clears it at once, so a
 * change through the API shows on the next request and one by another process (the CLI) within
 * a couple of milliseconds.
 */
export class CounterGuardedMap<V> {
  private map = new Map<string, V>();
  private version = -1;
  private local = -1;
  private checkedAt = -Infinity;

  constructor(
    private name: string,
    private everyMs = 2,
    private max = 10_000,
  ) {}

  get(db: Db, key: string): V | undefined {
    const local = localBumps.get(this.name) ?? 0;
    const t = performance.now();
    if (local !== this.local || t - this.checkedAt >= this.everyMs) {
      this.local = local;
      this.checkedAt = t;
      const v = readVersion(db, this.name);
      if (v !== this.version) {
        this.map.clear();
        this.version = v;
      }
    }
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

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/config-versions.ts. */
export const configVersionsFns = { bumpVersion };
export type ConfigVersionsStore = Bound<typeof configVersionsFns>;
