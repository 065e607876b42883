import type { Bound } from "./contract";
import { asc, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { tenants } from "../db/schema";
import { newId } from "../lib/ids";
import { bumpVersion } from "./config-versions";
import { createKey } from "./keys";

export type Tenant = typeof tenants.$inferSelect;

export function createTenant(db: Db, name: string, now = Date.now()): Tenant {
  const row = { id: newId(now), name, createdAt: now, limits: null };
  db.insert(tenants).values(row).run();
  return row;
}

export function listTenants(db: Db): Tenant[] {
  return db.select().from(tenants).orderBy(asc(tenants.createdAt)).all();
}

export function getTenantByName(db: Db, name: string): Tenant | undefined {
  return db.select().from(tenants).where(eq(tenants.name, name)).get();
}

export function getTenant(db: Db, id: string): Tenant | undefined {
  return db.select().from(tenants).where(eq(tenants.id, id)).get();
}

export function countTenants(db: Db): number {
  return (db.$client.query("SELECT count(*) AS n FROM tenants").get() as { n: number }).n;
}

/** The change counter of tenants' caps (read by the request path's cache, see http/auth.ts). */
export const TENANTS_VERSION = "tenants";

/** An operator's caps on a tenant, per second; a missing figure = the server's setting, 0 = no cap. */
export type TenantCaps = { rate?: number; events?: number; bytes?: number };

export function getTenantLimits(db: Db, tenantId: string): TenantCaps | null {
  const r = db.$client.query("SELECT limits FROM tenants WHERE id = ?1").get(tenantId) as { limits: string | null } | null;
  return r?.limits ? (JSON.parse(r.limits) as TenantCaps) : null;
}

/** Sets (or with null clears) a tenant's caps; running servers see it within milliseconds. */
export function setTenantLimits(db: Db, tenantId: string, caps: TenantCaps | null): void {
  db.transaction(() => {
    const empty = !caps || Object.keys(caps).length === 0;
    db.update(tenants).set({ limits: empty ? null : JSON.stringify(caps) }).where(eq(tenants.id, tenantId)).run();
    bumpVersion(db, TENANTS_VERSION);
  });
}

/** On an empty database: tenant `default` with an admin key and an ingest key (one transaction), the keys returned once; null when a tenant exists. */
export function bootstrap(db: Db, now = Date.now()): { admin: string; ingest: string } | null {
  return db.transaction(() => {
    if (countTenants(db) > 0) return null;
    const t = createTenant(db, "default", now);
    const admin = createKey(db, { tenantId: t.id, name: "admin (first start)", scopes: ["admin"] }, now).key;
    const ingest = createKey(db, { tenantId: t.id, name: "ingest (first start)", scopes: ["ingest"] }, now).key;
    return { admin, ingest };
  });
}

/** A new tenant and its first admin key, in one transaction (`keepwatch tenants create`); the key is returned once. */
export function createTenantWithAdminKey(db: Db, name: string, keyName: string, now = Date.now()): { tenant: Tenant; key: string } {
  return db.transaction(() => {
    const tenant = createTenant(db, name, now);
    return { tenant, key: createKey(db, { tenantId: tenant.id, name: keyName, scopes: ["admin"] }, now).key };
  });
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/tenants.ts. */
export const tenantsFns = { createTenant, bootstrap, createTenantWithAdminKey, listTenants, getTenantByName, getTenant, countTenants, getTenantLimits, setTenantLimits };
export type TenantsStore = Bound<typeof tenantsFns>;
