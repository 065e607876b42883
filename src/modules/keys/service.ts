// The keys API's logic: list, create (the key is returned once), revoke, rotate. Tenant-scoped.
import type { Deps } from "../../deps";
import type { Scope } from "../../core/keys";
import { ApiError, notFound } from "../../http/errors";
import { iso } from "../../lib/time";
import type { KeyRow } from "../../store/keys";
import type { KeyCreate, KeyUpdate } from "./model";

const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/** `rotated`: a newer key replaced this one (it still works until expires_at). */
export function view(k: KeyRow, now: number, rotated = false) {
  const state =
    k.revokedAt !== null && k.revokedAt <= now ? "revoked" : k.expiresAt !== null && k.expiresAt <= now ? "expired" : rotated ? "rotated" : "active";
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: JSON.parse(k.scopes) as string[],
    sources: k.sources ? (JSON.parse(k.sources) as string[]) : null,
    state,
    rate_limit: k.rateLimit,
    rate_burst: k.rateBurst,
    expires_at: isoOrNull(k.expiresAt),
    revoked_at: isoOrNull(k.revokedAt),
    last_used_at: isoOrNull(k.lastUsedAt),
    rotated_from: k.rotatedFrom,
    created_at: iso(k.createdAt),
  };
}

export async function list(deps: Deps, tenantId: string) {
  const now = deps.clock();
  const rows = await deps.store.keys.listKeys(tenantId);
  const replaced = new Set(rows.map((r) => r.rotatedFrom).filter((id) => id !== null));
  return { items: rows.map((k) => view(k, now, replaced.has(k.id))) };
}

export async function create(deps: Deps, tenantId: string, b: KeyCreate) {
  const now = deps.clock();
  const { key, row } = await deps.store.keys.createKey(
    {
      tenantId,
      name: b.name,
      scopes: b.scopes as Scope[],
      sources: b.sources ?? null,
      rateLimit: b.rate_limit ?? null,
      rateBurst: b.rate_burst ?? null,
      expiresAt: b.expires_in !== undefined ? now + b.expires_in * 1000 : null,
    },
    now,
  );
  return { ...view(row, now), key };
}

/** One key, as the list shows it (`rotated` when a newer key replaced it). */
export async function get(deps: Deps, tenantId: string, id: string) {
  const k = await load(deps, tenantId, id);
  const replaced = (await deps.store.keys.listKeys(tenantId)).some((r) => r.rotatedFrom === k.id);
  return view(k, deps.clock(), replaced);
}

/** Changes the fields the body names (name, sources, rate); nothing else. */
export async function update(deps: Deps, tenantId: string, id: string, b: KeyUpdate) {
  const k = await load(deps, tenantId, id);
  await deps.store.keys.updateKey(k.id, { name: b.name, sources: b.sources, rateLimit: b.rate_limit, rateBurst: b.rate_burst });
  return get(deps, tenantId, id);
}

async function load(deps: Deps, tenantId: string, id: string): Promise<KeyRow> {
  const k = await deps.store.keys.getKey(tenantId, id);
  if (!k) throw notFound(`no key ${id}`);
  return k;
}

/** Revokes a key at once. The key making the request cannot revoke itself (no lock-out by accident). */
export async function revoke(deps: Deps, tenantId: string, id: string, callerKeyId: string) {
  const k = await load(deps, tenantId, id);
  if (k.id === callerKeyId) throw new ApiError(409, "conflict", "this is the key you are using; revoke it with another admin key or the CLI");
  const now = deps.clock();
  if (k.revokedAt !== null) throw new ApiError(409, "conflict", `key ${id} is already revoked`);
  await deps.store.keys.revokeKey(k.id, now);
  return view(await load(deps, tenantId, id), now);
}

/** A new key with the same settings; the old one keeps working for the key overlap (KEEPWATCH_KEY_OVERLAP hours). */
export async function rotate(deps: Deps, tenantId: string, id: string) {
  const k = await load(deps, tenantId, id);
  const now = deps.clock();
  if (k.revokedAt !== null || (k.expiresAt !== null && k.expiresAt <= now)) throw new ApiError(409, "conflict", `key ${id} is no longer valid; create a new one`);
  if ((await deps.store.keys.listKeys(tenantId)).some((r) => r.rotatedFrom === k.id)) throw new ApiError(409, "conflict", `key ${id} was already rotated; rotate its newer key instead`);
  const { key, row } = await deps.store.keys.rotateKey(k, deps.config.keyOverlap * 3_600_000, now);
  return { ...view(row, now), key, previous: view(await load(deps, tenantId, id), now, true) };
}
