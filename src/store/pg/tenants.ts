// Tenants on PostgreSQL: the twin of src/store/tenants.ts.
import { newId } from "../../lib/ids";
import { inTx, type PgConn, type PgTwin } from "../contract";
import { TENANTS_VERSION, type Tenant, type TenantCaps, type tenantsFns } from "../tenants";
import { withBumps } from "./config-versions";
import { pgKeysFns } from "./keys";

const COLS = `id, name, created_at AS "createdAt", limits`;
const plain = (r: Record<string, unknown> | undefined): Tenant | undefined => (r ? ({ ...r } as Tenant) : undefined);

async function createTenant(pg: PgConn, name: string, now = Date.now()): Promise<Tenant> {
  const row: Tenant = { id: newId(now), name, createdAt: now, limits: null };
  await pg`INSERT INTO tenants (id, name, created_at, limits) VALUES (${row.id}, ${row.name}, ${row.createdAt}, NULL)`;
  return row;
}

async function listTenants(pg: PgConn): Promise<Tenant[]> {
  return (await pg.unsafe(`SELECT ${COLS} FROM tenants ORDER BY created_at, id`)).map((r) => plain(r)!);
}

async function getTenantByName(pg: PgConn, name: string): Promise<Tenant | undefined> {
  return plain((await pg.unsafe(`SELECT ${COLS} FROM tenants WHERE name = $1`, [name]))[0]);
}

async function getTenant(pg: PgConn, id: string): Promise<Tenant | undefined> {
  return plain((await pg.unsafe(`SELECT ${COLS} FROM tenants WHERE id = $1`, [id]))[0]);
}

async function countTenants(pg: PgConn): Promise<number> {
  const [r] = await pg`SELECT count(*) AS n FROM tenants`;
  return Number(r!.n);
}

async function getTenantLimits(pg: PgConn, tenantId: string): Promise<TenantCaps | null> {
  const [r] = await pg`SELECT limits FROM tenants WHERE id = ${tenantId}`;
  return r?.limits ? (JSON.parse(r.limits) as TenantCaps) : null;
}

async function setTenantLimits(pg: PgConn, tenantId: string, caps: TenantCaps | null): Promise<void> {
  const empty = !caps || Object.keys(caps).length === 0;
  await withBumps(pg, [TENANTS_VERSION], async (tx) => {
    await tx`UPDATE tenants SET limits = ${empty ? null : JSON.stringify(caps)} WHERE id = ${tenantId}`;
  });
}

async function bootstrap(pg: PgConn, now = Date.now()): Promise<{ admin: string; ingest: string } | null> {
  return inTx(pg, async (tx) => {
    // several processes starting at once on an empty database: one creates, the others wait here
    // and then see its tenant (the lock is released at commit)
    await tx`SELECT pg_advisory_xact_lock(hashtext('keepwatch.bootstrap'))`;
    if ((await countTenants(tx)) > 0) return null;
    const t = await createTenant(tx, "default", now);
    const admin = (await pgKeysFns.createKey(tx, { tenantId: t.id, name: "admin (first start)", scopes: ["admin"] }, now)).key;
    const ingest = (await pgKeysFns.createKey(tx, { tenantId: t.id, name: "ingest (first start)", scopes: ["ingest"] }, now)).key;
    return { admin, ingest };
  });
}

async function createTenantWithAdminKey(pg: PgConn, name: string, keyName: string, now = Date.now()): Promise<{ tenant: Tenant; key: string }> {
  return inTx(pg, async (tx) => {
    const tenant = await createTenant(tx, name, now);
    return { tenant, key: (await pgKeysFns.createKey(tx, { tenantId: tenant.id, name: keyName, scopes: ["admin"] }, now)).key };
  });
}

export const pgTenantsFns: PgTwin<typeof tenantsFns> = {
  createTenant,
  bootstrap,
  createTenantWithAdminKey,
  listTenants,
  getTenantByName,
  getTenant,
  countTenants,
  getTenantLimits,
  setTenantLimits,
};
