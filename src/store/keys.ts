import type { Bound } from "./contract";
import { and, asc, eq, sql } from "drizzle-orm";
import type { Statement } from "bun:sqlite";
import type { Db } from "../db/client";
import { apiKeys } from "../db/schema";
import { newId } from "../lib/ids";
import { generateKey, type Scope } from "../core/keys";
import { bumpVersion } from "./config-versions";

export type KeyRow = typeof apiKeys.$inferSelect;

export type NewKey = {
  tenantId: string;
  name: string;
  scopes: Scope[];
  sources?: string[] | null;
  rateLimit?: number | null;
  rateBurst?: number | null;
  expiresAt?: number | null;
  rotatedFrom?: string | null;
};

/** A new key and its row (both stores): the plain key, and the row that stores only its prefix and hash. */
export function newKeyRow(k: NewKey, now: number): { key: string; row: KeyRow } {
  const g = generateKey();
  const row: KeyRow = {
    id: newId(now),
    tenantId: k.tenantId,
    name: k.name,
    prefix: g.prefix,
    hash: g.hash,
    scopes: JSON.stringify(k.scopes),
    sources: k.sources && k.sources.length ? JSON.stringify(k.sources) : null,
    rateLimit: k.rateLimit ?? null,
    rateBurst: k.rateBurst ?? null,
    expiresAt: k.expiresAt ?? null,
    revokedAt: null,
    lastUsedAt: null,
    rotatedFrom: k.rotatedFrom ?? null,
    createdAt: now,
  };
  return { key: g.key, row };
}

/** Creates a key; the plain key is returned once and never stored. */
export function createKey(db: Db, k: NewKey, now = Date.now()): { key: string; row: KeyRow } {
  const { key, row } = newKeyRow(k, now);
  db.insert(apiKeys).values(row).run();
  return { key, row };
}

const byPrefix = new WeakMap<Db, Statement>();

/**
 * Every change to a key that can alter what it grants (revoke, rotate) bumps the "keys" change
 * counter, which request-path caches of key rows watch (CounterGuardedMap).
 */
export const KEYS_VERSION = "keys";
const keysChanged = (db: Db) => bumpVersion(db, KEYS_VERSION);

/** The key with this prefix. Hot path (every request): one indexed lookup on a raw prepared statement. */
export function findKeyByPrefix(db: Db, prefix: string): KeyRow | undefined {
  let st = byPrefix.get(db);
  if (!st) {
    st = db.$client.query(
      `SELECT id, tenant_id AS tenantId, name, prefix, hash, scopes, sources, rate_limit AS rateLimit,
              rate_burst AS rateBurst, expires_at AS expiresAt, revoked_at AS revokedAt,
              last_used_at AS lastUsedAt, rotated_from AS rotatedFrom, created_at AS createdAt
         FROM api_keys WHERE prefix = ?1`,
    );
    byPrefix.set(db, st);
  }
  return (st.get(prefix) as KeyRow | null) ?? undefined;
}

export function getKey(db: Db, tenantId: string, id: string): KeyRow | undefined {
  return db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, id)))
    .get();
}

/** Finds a key by id or by prefix (the CLI accepts either). */
export function findKey(db: Db, idOrPrefix: string): KeyRow | undefined {
  return (
    db.select().from(apiKeys).where(eq(apiKeys.id, idOrPrefix)).get() ??
    db.select().from(apiKeys).where(eq(apiKeys.prefix, idOrPrefix)).get()
  );
}

export function listKeys(db: Db, tenantId?: string): KeyRow[] {
  const q = db.select().from(apiKeys);
  return (tenantId ? q.where(eq(apiKeys.tenantId, tenantId)) : q).orderBy(asc(apiKeys.createdAt)).all();
}

export function revokeKey(db: Db, id: string, now = Date.now()): boolean {
  return db.$client.transaction(() => {
    const changed = db.$client.query("UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL").run(now, id).changes > 0;
    if (changed) keysChanged(db);
    return changed;
  })();
}

/** The new key of a rotation (both stores): the old key's tenant, name, scopes, sources and limits. */
export function successorOf(old: KeyRow): NewKey {
  return {
    tenantId: old.tenantId,
    name: old.name,
    scopes: JSON.parse(old.scopes),
    sources: old.sources ? JSON.parse(old.sources) : null,
    rateLimit: old.rateLimit,
    rateBurst: old.rateBurst,
    expiresAt: old.expiresAt,
    rotatedFrom: old.id,
  };
}

/** When a rotated key stops working: after the overlap, or at its own earlier expiry. */
export function rotationEnd(old: KeyRow, overlapMs: number, now: number): number {
  return Math.min(now + overlapMs, old.expiresAt ?? Infinity);
}

/**
 * Rotation: a new key with the same tenant, scopes, sources and limits; the old key keeps working
 * until `now + overlapMs` (or its own earlier expiry). Both happen in one transaction.
 */
export function rotateKey(db: Db, old: KeyRow, overlapMs: number, now = Date.now()): { key: string; row: KeyRow } {
  return db.transaction(() => {
    keysChanged(db);
    const created = createKey(db, successorOf(old), now);
    const until = rotationEnd(old, overlapMs, now);
    db.update(apiKeys).set({ expiresAt: until }).where(eq(apiKeys.id, old.id)).run();
    return created;
  });
}

/** Writes the batched last-used times (keys used since the last flush). */
export function touchKeys(db: Db, lastUsed: Map<string, number>): void {
  if (lastUsed.size === 0) return;
  const stmt = db.$client.query(
    "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)",
  );
  db.$client.transaction(() => {
    for (const [id, at] of lastUsed) stmt.run(at, id);
  })();
}

/** Changes a key's name, sources and rate (only the fields given); bumps the keys counter so caches reload it. */
export function updateKey(db: Db, id: string, ch: { name?: string; sources?: string[] | null; rateLimit?: number | null; rateBurst?: number | null }): void {
  const set: Partial<KeyRow> = {};
  if (ch.name !== undefined) set.name = ch.name;
  if (ch.sources !== undefined) set.sources = ch.sources && ch.sources.length ? JSON.stringify(ch.sources) : null;
  if (ch.rateLimit !== undefined) set.rateLimit = ch.rateLimit;
  if (ch.rateBurst !== undefined) set.rateBurst = ch.rateBurst;
  if (Object.keys(set).length === 0) return;
  db.transaction(() => {
    keysChanged(db);
    db.update(apiKeys).set(set).where(eq(apiKeys.id, id)).run();
  });
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/keys.ts. */
export const keysFns = { createKey, findKeyByPrefix, getKey, findKey, listKeys, revokeKey, rotateKey, touchKeys, updateKey };
export type KeysStore = Bound<typeof keysFns>;
