import { asc, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { tenants } from "../db/schema";
import { newId } from "../lib/ids";

export type Tenant = typeof tenants.$inferSelect;

export function createTenant(db: Db, name: string, now = Date.now()): Tenant {
  const row = { id: newId(now), name, createdAt: now };
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
