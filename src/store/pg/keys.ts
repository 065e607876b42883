// API keys on PostgreSQL: the twin of src/store/keys.ts. Revoke, rotate and update bump the "keys"
// change counter in their own transaction (the Authenticator's key cache watches it).
import type { PgConn, PgTwin } from "../contract";
import { KEYS_VERSION, newKeyRow, rotationEnd, successorOf, type keysFns, type KeyRow, type NewKey } from "../keys";
import { withBumps } from "./config-versions";

const COLS = `id, tenant_id AS "tenantId", name, prefix, hash, scopes, sources, rate_limit AS "rateLimit",
  rate_burst AS "rateBurst", expires_at AS "expiresAt", revoked_at AS "revokedAt",
  last_used_at AS "lastUsedAt", rotated_from AS "rotatedFrom", created_at AS "createdAt"`;

/** A plain object (postgres.js rows carry list metadata; callers compare rows with SQLite's). */
const plain = (r: Record<string, unknown> | undefined): KeyRow | undefined => (r ? ({ ...r } as KeyRow) : undefined);

async function createKey(pg: PgConn, k: NewKey, now = Date.now()): Promise<{ key: string; row: KeyRow }> {
  const { key, row } = newKeyRow(k, now);
  await pg`INSERT INTO api_keys (id, tenant_id, name, prefix, hash, scopes, sources, rate_limit, rate_burst, expires_at, revoked_at, last_used_at, rotated_from, created_at)
           VALUES (${row.id}, ${row.tenantId}, ${row.name}, ${row.prefix}, ${row.hash}, ${row.scopes}, ${row.sources}, ${row.rateLimit},
                   ${row.rateBurst}, ${row.expiresAt}, NULL, NULL, ${row.rotatedFrom}, ${row.createdAt})`;
  return { key, row };
}

async function findKeyByPrefix(pg: PgConn, prefix: string): Promise<KeyRow | undefined> {
  const [r] = await pg.unsafe(`SELECT ${COLS} FROM api_keys WHERE prefix = $1`, [prefix]);
  return plain(r);
}

async function getKey(pg: PgConn, tenantId: string, id: string): Promise<KeyRow | undefined> {
  const [r] = await pg.unsafe(`SELECT ${COLS} FROM api_keys WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
  return plain(r);
}

async function findKey(pg: PgConn, idOrPrefix: string): Promise<KeyRow | undefined> {
  // by id first, as on SQLite (an id never looks like a prefix, but the order is the contract)
  const rows = await pg.unsafe(`SELECT ${COLS} FROM api_keys WHERE id = $1 OR prefix = $1 ORDER BY (id = $1) DESC LIMIT 1`, [idOrPrefix]);
  return plain(rows[0]);
}

async function listKeys(pg: PgConn, tenantId?: string): Promise<KeyRow[]> {
  const rows = tenantId
    ? await pg.unsafe(`SELECT ${COLS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id`, [tenantId])
    : await pg.unsafe(`SELECT ${COLS} FROM api_keys ORDER BY created_at, id`);
  return rows.map((r) => plain(r)!);
}

async function revokeKey(pg: PgConn, id: string, now = Date.now()): Promise<boolean> {
  return withBumps(pg, [KEYS_VERSION], async (tx) => (await tx`UPDATE api_keys SET revoked_at = ${now} WHERE id = ${id} AND revoked_at IS NULL`).count > 0, (changed) => changed);
}

async function rotateKey(pg: PgConn, old: KeyRow, overlapMs: number, now = Date.now()): Promise<{ key: string; row: KeyRow }> {
  return withBumps(pg, [KEYS_VERSION], async (tx) => {
    const created = await createKey(tx, successorOf(old), now);
    const until = rotationEnd(old, overlapMs, now);
    await tx`UPDATE api_keys SET expires_at = ${until} WHERE id = ${old.id}`;
    return created;
  });
}

/** One statement for the whole batch (unnest), never moving a time backwards. */
export async function touchRows(pg: PgConn, table: "api_keys" | "source_tokens", lastUsed: Map<string, number>): Promise<void> {
  if (lastUsed.size === 0) return;
  await pg.unsafe(
    `UPDATE ${table} t SET last_used_at = u.at FROM unnest($1::text[], $2::bigint[]) AS u(id, at)
      WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)`,
    [[...lastUsed.keys()], [...lastUsed.values()]] as any[],
  );
}

async function touchKeys(pg: PgConn, lastUsed: Map<string, number>): Promise<void> {
  await touchRows(pg, "api_keys", lastUsed);
}

async function updateKey(pg: PgConn, id: string, ch: { name?: string; sources?: string[] | null; rateLimit?: number | null; rateBurst?: number | null }): Promise<void> {
  const set: Record<string, unknown> = {};
  if (ch.name !== undefined) set.name = ch.name;
  if (ch.sources !== undefined) set.sources = ch.sources && ch.sources.length ? JSON.stringify(ch.sources) : null;
  if (ch.rateLimit !== undefined) set.rate_limit = ch.rateLimit;
  if (ch.rateBurst !== undefined) set.rate_burst = ch.rateBurst;
  if (Object.keys(set).length === 0) return;
  await withBumps(pg, [KEYS_VERSION], async (tx) => {
    await tx`UPDATE api_keys SET ${tx(set as Record<string, any>, Object.keys(set))} WHERE id = ${id}`;
  });
}

export const pgKeysFns: PgTwin<typeof keysFns> = { createKey, findKeyByPrefix, getKey, findKey, listKeys, revokeKey, rotateKey, touchKeys, updateKey };
