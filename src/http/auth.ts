// API key authentication, scopes, per-key source limits and the per-key token bucket.
// One indexed lookup per request; last_used_at is kept in memory and written in batches.
import type { Db } from "../db/client";
import { hasScope, parseKey, type Scope } from "../core/keys";
import { newBucket, take, type Bucket } from "../core/ratelimit";
import { safeEqual } from "../lib/crypto";
import { findKeyByPrefix, touchKeys, type KeyRow } from "../store/keys";
import { ApiError, forbidden, unauthorized } from "./errors";

export type Principal = {
  keyId: string;
  tenantId: string;
  scopes: string[];
  /** null = every source */
  sources: string[] | null;
};

export type AuthOptions = { defaultRate: number; defaultBurst: number; clock: () => number };

const DUMMY_HASH = "0".repeat(64);

/** The tenant a request's key belongs to, once authorize() has seen it (read by the access log). */
export const tenantOfRequest = new WeakMap<Headers, string>();

export class Authenticator {
  private buckets = new Map<string, Bucket>();
  private lastUsed = new Map<string, number>();

  constructor(
    private db: Db,
    private opts: AuthOptions,
  ) {}

  /** The key presented in Authorization: Bearer or X-API-Key, or null. */
  static presented(headers: Headers): string | null {
    const auth = headers.get("authorization");
    if (auth) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (m) return m[1];
    }
    return headers.get("x-api-key")?.trim() || null;
  }

  /** Verifies a key string: throws 401 when it is missing, unknown, revoked or expired. */
  verify(key: string | null): { row: KeyRow; principal: Principal } {
    if (!key) throw unauthorized("an API key is required (Authorization: Bearer <key> or X-API-Key: <key>)");
    const parsed = parseKey(key);
    const row = parsed ? findKeyByPrefix(this.db, parsed.prefix) : undefined;
    // Compare in constant time whether or not a row was found.
    const ok = safeEqual(row?.hash ?? DUMMY_HASH, parsed?.hash ?? "x".repeat(64)) && !!row;
    if (!ok || !row) throw unauthorized("unknown API key");
    const now = this.opts.clock();
    if (row.revokedAt !== null && row.revokedAt <= now) throw unauthorized("this API key has been revoked");
    if (row.expiresAt !== null && row.expiresAt <= now) throw unauthorized("this API key has expired");
    this.lastUsed.set(row.id, now);
    return {
      row,
      principal: {
        keyId: row.id,
        tenantId: row.tenantId,
        scopes: JSON.parse(row.scopes),
        sources: row.sources ? JSON.parse(row.sources) : null,
      },
    };
  }

  /**
   * Authenticates a request for a scope (and, for ingest, a source), then takes a token from the
   * key's bucket. Throws the matching ApiError (401, 403, 429).
   */
  authorize(headers: Headers, scope: Scope, source?: string): Principal {
    const { row, principal } = this.verify(Authenticator.presented(headers));
    tenantOfRequest.set(headers, principal.tenantId);
    if (!hasScope(principal.scopes, scope))
      throw forbidden(`this key lacks the "${scope}" scope (it has: ${principal.scopes.join(", ") || "none"})`);
    if (source !== undefined && principal.sources && !principal.sources.includes(source))
      throw forbidden(`this key may not send to source "${source}" (allowed: ${principal.sources.join(", ")})`);
    this.limit(row);
    return principal;
  }

  /** Takes one token from the key's bucket or throws 429 with Retry-After. */
  limit(row: Pick<KeyRow, "id" | "rateLimit" | "rateBurst">): void {
    const rate = row.rateLimit ?? this.opts.defaultRate;
    if (rate <= 0) return;
    const burst = row.rateBurst ?? this.opts.defaultBurst;
    const now = this.opts.clock();
    let b = this.buckets.get(row.id);
    if (!b) this.buckets.set(row.id, (b = newBucket(burst, now)));
    const r = take(b, now, rate, burst);
    if (!r.ok) {
      const secs = Math.max(1, Math.ceil(r.retryAfterMs / 1000));
      throw new ApiError(429, "rate_limited", `rate limit of ${rate} requests/s (burst ${burst}) exceeded for this key`, [], {
        "retry-after": String(secs),
      });
    }
  }

  /** Writes last_used_at for every key used since the last call. */
  flushLastUsed(): void {
    if (this.lastUsed.size === 0) return;
    const snapshot = this.lastUsed;
    this.lastUsed = new Map();
    try {
      touchKeys(this.db, snapshot);
    } catch {
      // A busy database must not lose the times: merge them back for the next flush.
      for (const [k, v] of snapshot) if ((this.lastUsed.get(k) ?? 0) < v) this.lastUsed.set(k, v);
    }
  }
}
