// Change counters for settings that the ingest path caches (rules, heartbeat filters). Every
// change bumps its counter in the same transaction; a cache reads the counter once per group
// commit and rebuilds when it moved, so a change is seen by the next commit on any thread.
import type { Db } from "../db/client";

export function bumpVersion(db: Db, name: string): void {
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

/** A per-tenant cache invalidated by a change counter, checked once per unit of work. */
export class VersionedCache<T> {
  private version = -1;
  private checkedIn = -1;
  private byTenant = new Map<string, T>();

  constructor(
    private name: string,
    private load: (db: Db, tenantId: string) => T,
  ) {}

  /** Forgets everything: the next get() re-reads the counter and reloads. */
  invalidate(): void {
    this.version = -1;
    this.checkedIn = -1;
    this.byTenant.clear();
  }

  /** The cached value, if any, without checking the counter. */
  peek(tenantId: string): T | undefined {
    return this.byTenant.get(tenantId);
  }

  get(db: Db, tenantId: string): T {
    if (this.checkedIn !== group) {
      this.checkedIn = group;
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
