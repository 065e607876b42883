// API key authentication, scopes, per-key source limits and the per-key token bucket; URL tokens
// (?token=) and inbound signature checks for the ingest routes.
// Key rows are cached by prefix (a point read on the WAL database was a tenth of the request
// thread's time under load) in a map guarded by the "keys" change counter (Store.guardedMap):
// revoke and rotate bump it, so a revoked key stops working on the next request when revoked
// through this process, and within 2 ms (SQLite) or CHECK_MS (PostgreSQL) when revoked by another
// one (the CLI, another replica). A cached key costs no round trip on either store.
// Everything that may read the database (the key, the tenant's caps, the source's signature
// setting) is read in the async steps, authenticate() and authorizeIngest(); authorize(),
// limit() and chargeWork() stay synchronous on what those loaded for the request.
// last_used_at is kept in memory and written in batches.
import { DEFAULT_HEADER, verifySignature, type SignatureSetting } from "../core/inbound-signatures";
import { hasScope, parseKey, type Scope } from "../core/keys";
import { keyLimits, newBucket, shareOf, takeAll, tenantLimits, type Bucket, type Draw, type LimitSettings, type Limits } from "../core/ratelimit";
import { parseSourceToken } from "../core/source-tokens";
import { safeEqual } from "../lib/crypto";
import type { GuardedMap, SignatureSettingsCache, Store } from "../store/contract";
import { KEYS_VERSION, type KeyRow } from "../store/keys";
import { TENANTS_VERSION } from "../store/tenants";
import { ApiError, forbidden, unauthorized } from "./errors";

export type Principal = {
  keyId: string;
  tenantId: string;
  scopes: string[];
  /** null = every source */
  sources: string[] | null;
};

export type AuthOptions = {
  defaultRate: number;
  defaultBurst: number;
  clock: () => number;
  /** signature defaults from the environment, by source (Config.sourceSecrets) */
  sourceSecrets?: Record<string, SignatureSetting>;
  /** what event, byte and tenant limits derive from (the Config); without it only requests per key are limited */
  limits?: LimitSettings;
  /**
   * How many replicas share the limits (the live replicas of the cluster, src/scheduler/replicas.ts):
   * each enforces 1/n of every rate and burst, so that the cluster admits about the limit, not n
   * times it. Undefined = 1 (one process).
   */
  share?: () => number;
};

/** A key's or a tenant's three buckets. */
type Buckets = { requests: Bucket; events: Bucket; bytes: Bucket };

const DUMMY_HASH = "0".repeat(64);
/** How long a cached key row is used before it is read again. */
const KEY_CACHE_MS = 10_000;

type Cached = { row: KeyRow; principal: Principal; at: number };

/** The tenant a request's key belongs to, once authorize() has seen it (read by the access log). */
export const tenantOfRequest = new WeakMap<Headers, string>();

export class Authenticator {
  /** per key (and URL token) and per tenant ("tenant:<id>") */
  private buckets = new Map<string, Buckets>();
  /** each key's limits as last seen by limit(), for charging its work once the body is read */
  private keyLimitsById = new Map<string, Limits | null>();
  /** the operator's caps per tenant, re-read when `keepwatch tenants limits` changes them */
  private tenantCaps: GuardedMap<Limits>;
  /** each tenant's caps as last loaded (authenticate, authorizeIngest), for the synchronous charges */
  private capsNow = new Map<string, Limits>();
  private lastUsed = new Map<string, number>();
  private keyCache: GuardedMap<Cached>;
  private tokenLastUsed = new Map<string, number>();
  /** requests whose key has been verified (authenticate) */
  private seen = new WeakMap<Headers, { row: KeyRow; principal: Principal }>();
  /** per-tenant source settings, read without a query per request */
  readonly sourceSettings: SignatureSettingsCache;

  constructor(
    private store: Store,
    private opts: AuthOptions,
  ) {
    this.sourceSettings = store.sourceSettingsCache(opts.clock);
    this.tenantCaps = store.guardedMap<Limits>(TENANTS_VERSION, 100_000);
    this.keyCache = store.guardedMap<Cached>(KEYS_VERSION);
  }

  /** The ?token= of a URL, or null (no URL parsing when there is no query string). */
  static urlToken(url: string): string | null {
    const q = url.indexOf("?");
    if (q < 0) return null;
    return new URLSearchParams(url.slice(q + 1)).get("token");
  }

  /**
   * Authenticates an ingest request for one source: by the URL token when the URL carries
   * ?token= (headers are then not consulted), else by an API key with the ingest scope.
   */
  async authorizeIngest(req: Request, source: string): Promise<Principal> {
    const token = Authenticator.urlToken(req.url);
    if (token === null) {
      await this.authenticate(req.headers);
      return this.authorize(req.headers, "ingest", source);
    }
    const parsed = parseSourceToken(token);
    const row = parsed ? await this.store.sourceSettings.findSourceTokenByPrefix(parsed.prefix) : undefined;
    const ok = safeEqual(row?.hash ?? DUMMY_HASH, parsed?.hash ?? "x".repeat(64)) && !!row;
    if (!ok || !row) throw unauthorized("unknown URL token");
    const now = this.opts.clock();
    if (row.revokedAt !== null && row.revokedAt <= now) throw unauthorized("this URL token has been revoked");
    if (row.source !== source) throw forbidden(`this URL token may only send to source "${row.source}"`);
    this.tokenLastUsed.set(row.id, now);
    await this.loadCaps(row.tenantId);
    this.limit({ id: `token:${row.id}`, rateLimit: null, rateBurst: null, tenantId: row.tenantId });
    return { keyId: `token:${row.id}`, tenantId: row.tenantId, scopes: ["ingest"], sources: [row.source] };
  }

  /** The signature setting in force for a tenant's source: its own, else the environment's, else none. */
  async signatureSetting(tenantId: string, source: string): Promise<SignatureSetting | undefined> {
    return (await this.sourceSettings.get(tenantId, source)) ?? this.opts.sourceSecrets?.[source];
  }

  /**
   * Verifies the raw body's signature (before any parsing) when the tenant's source has a scheme;
   * throws 401 with WWW-Authenticate when it is missing, wrong or stale.
   */
  async checkSignature(tenantId: string, source: string, headers: Headers, body: Uint8Array): Promise<void> {
    const s = await this.signatureSetting(tenantId, source);
    if (!s || s.scheme === "none") return;
    const r = verifySignature(s, (n) => headers.get(n), body, this.opts.clock());
    if (r.ok) return;
    const code = r.reason === "stale" ? "stale_signature" : r.reason === "missing" ? "missing_signature" : "invalid_signature";
    throw new ApiError(401, code, `request signature refused for source "${source}": ${r.message}; nothing was stored`, [{ path: "", message: r.message }], {
      "www-authenticate": `Signature realm="keepwatch", scheme="${s.scheme}", header="${s.header ?? DEFAULT_HEADER[s.scheme]}"`,
    });
  }

  /** The key presented in Authorization: Bearer or X-API-Key, or null. */
  static presented(headers: Headers): string | null {
    const auth = headers.get("authorization");
    if (auth) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (m) return m[1];
    }
    return headers.get("x-api-key")?.trim() || null;
  }

  /**
   * The key of a request's headers, verified once per request: the request gate (src/http/gate.ts)
   * calls it before the body is read, and authorize() in the handler finds the result here.
   * Throws 401 like verify(). Loads the tenant's caps for the synchronous charges of the request.
   */
  async authenticate(headers: Headers): Promise<{ row: KeyRow; principal: Principal }> {
    const seen = this.seen.get(headers);
    if (seen) return seen;
    const r = await this.verify(Authenticator.presented(headers));
    await this.loadCaps(r.principal.tenantId);
    this.seen.set(headers, r);
    return r;
  }

  /** Verifies a key string: throws 401 when it is missing, unknown, revoked or expired. */
  async verify(key: string | null): Promise<{ row: KeyRow; principal: Principal }> {
    if (!key) throw unauthorized("an API key is required (Authorization: Bearer <key> or X-API-Key: <key>)");
    const parsed = parseKey(key);
    const hit = parsed ? await this.lookup(parsed.prefix) : undefined;
    const row = hit?.row;
    // Compare in constant time whether or not a row was found.
    const ok = safeEqual(row?.hash ?? DUMMY_HASH, parsed?.hash ?? "x".repeat(64)) && !!row;
    if (!ok || !hit) throw unauthorized("unknown API key");
    const now = this.opts.clock();
    if (hit.row.revokedAt !== null && hit.row.revokedAt <= now) throw unauthorized("this API key has been revoked");
    if (hit.row.expiresAt !== null && hit.row.expiresAt <= now) throw unauthorized("this API key has expired");
    this.lastUsed.set(hit.row.id, now);
    return { row: hit.row, principal: hit.principal };
  }

  /** The key row with this prefix, from the cache while it is fresh (unknown prefixes are never cached). */
  private async lookup(prefix: string): Promise<Cached | undefined> {
    const t = performance.now();
    const c = await this.keyCache.get(prefix);
    if (c && t - c.at < KEY_CACHE_MS) return c;
    const row = await this.store.keys.findKeyByPrefix(prefix);
    if (!row) {
      this.keyCache.delete(prefix);
      return undefined;
    }
    const principal: Principal = {
      keyId: row.id,
      tenantId: row.tenantId,
      scopes: JSON.parse(row.scopes),
      sources: row.sources ? JSON.parse(row.sources) : null,
    };
    const fresh = { row, principal, at: t };
    this.keyCache.set(prefix, fresh);
    return fresh;
  }

  /**
   * Authorizes an authenticated request for a scope (and, for ingest, a source), then takes a token
   * from the key's bucket. Throws the matching ApiError (403, 429). The key must have been verified
   * by authenticate() (the request gate does it for /v1, authorizeIngest for the ingest routes).
   */
  authorize(headers: Headers, scope: Scope, source?: string): Principal {
    const seen = this.seen.get(headers);
    if (!seen) throw new Error("authorize() before authenticate(): the request's key was not verified (the request gate does it)");
    const { row, principal } = seen;
    tenantOfRequest.set(headers, principal.tenantId);
    if (!hasScope(principal.scopes, scope))
      throw forbidden(`this key lacks the "${scope}" scope (it has: ${principal.scopes.join(", ") || "none"})`);
    if (source !== undefined && principal.sources && !principal.sources.includes(source))
      throw forbidden(`this key may not send to source "${source}" (allowed: ${principal.sources.join(", ")})`);
    this.limit(row);
    return principal;
  }

  /** Takes one token from the key's request bucket and its tenant's, or throws 429 with Retry-After. */
  limit(row: Pick<KeyRow, "id" | "rateLimit" | "rateBurst"> & { tenantId?: string }): void {
    const s = this.settings();
    const kl = keyLimits(s, row.rateLimit, row.rateBurst);
    this.keyLimitsById.set(row.id, kl);
    if (this.keyLimitsById.size > 100_000) this.keyLimitsById.clear();
    this.charge(row.id, kl, row.tenantId, { requests: 1, events: 0, bytes: 0 });
  }

  /**
   * Charges a request's work once its body is read: `events` items and `bytes` bytes, to its key's
   * buckets and its tenant's; throws 429 with Retry-After when either is short (nothing is taken then).
   */
  chargeWork(p: Pick<Principal, "keyId" | "tenantId">, events: number, bytes: number): void {
    const kl = this.keyLimitsById.has(p.keyId) ? this.keyLimitsById.get(p.keyId)! : keyLimits(this.settings(), null, null);
    this.charge(p.keyId, kl, p.tenantId, { requests: 0, events, bytes });
  }

  private settings(): LimitSettings {
    return this.opts.limits ?? { rateLimit: this.opts.defaultRate, rateBurst: this.opts.defaultBurst, maxItems: 0, bodyLimit: 0, eventRate: 0, byteRate: 0, tenantRateLimit: 0, tenantEventRate: 0, tenantByteRate: 0 };
  }

  /** Loads the tenant's caps (the operator's own for it, else the server's settings) for tenantLimitsOf. */
  private async loadCaps(tenantId: string): Promise<void> {
    let l = await this.tenantCaps.get(tenantId);
    if (!l) this.tenantCaps.set(tenantId, (l = tenantLimits(this.settings(), await this.store.tenants.getTenantLimits(tenantId))));
    if (this.capsNow.size > 100_000) this.capsNow.clear();
    this.capsNow.set(tenantId, l);
  }

  /** The tenant's caps as loaded for this request (the server's settings if they were not). */
  private tenantLimitsOf(tenantId: string): Limits {
    return this.capsNow.get(tenantId) ?? tenantLimits(this.settings(), null);
  }

  private bucketsOf(id: string, l: Limits | null, now: number): Buckets {
    let b = this.buckets.get(id);
    if (!b) {
      if (this.buckets.size > 200_000) this.buckets.clear();
      this.buckets.set(id, (b = { requests: newBucket(l?.requests.burst ?? 0, now), events: newBucket(l?.events.burst ?? 0, now), bytes: newBucket(l?.bytes.burst ?? 0, now) }));
    }
    return b;
  }

  private charge(keyId: string, kl: Limits | null, tenantId: string | undefined, cost: { requests: number; events: number; bytes: number }): void {
    const now = this.opts.clock();
    const draws: (Draw & { what: string })[] = [];
    const n = this.opts.share?.() ?? 1;
    const add = (id: string, cluster: Limits | null, who: string) => {
      if (!cluster) return;
      const l = shareOf(cluster, n);
      const b = this.bucketsOf(id, l, now);
      for (const k of ["requests", "events", "bytes"] as const)
        if (cost[k] > 0 && l[k].rate > 0) draws.push({ bucket: b[k], rate: l[k].rate, burst: l[k].burst, cost: cost[k], what: `${who}: ${fmt(cluster[k].rate)} ${k}/s (burst ${fmt(cluster[k].burst)})${n > 1 ? ` across ${n} replicas` : ""}` });
    };
    add(keyId, kl, "this key's limit");
    if (tenantId !== undefined) add(`tenant:${tenantId}`, this.tenantLimitsOf(tenantId), "this tenant's cap");
    if (!draws.length) return;
    const r = takeAll(draws, now);
    if (!r.ok) {
      const secs = Math.max(1, Math.ceil(r.retryAfterMs / 1000));
      const d = draws[r.short ?? 0];
      const size = cost.requests ? "" : ` (this request: ${fmt(cost.events)} events, ${fmt(cost.bytes)} bytes)`;
      throw new ApiError(429, "rate_limited", `rate limit exceeded, ${d.what}${size}; retry after ${secs} s`, [], {
        "retry-after": String(secs),
      });
    }
  }

  /** Writes last_used_at for every key and URL token used since the last call. */
  async flushLastUsed(): Promise<void> {
    if (this.tokenLastUsed.size) {
      const tokens = this.tokenLastUsed;
      this.tokenLastUsed = new Map();
      try {
        await this.store.sourceSettings.touchSourceTokens(tokens);
      } catch {
        for (const [k, v] of tokens) if ((this.tokenLastUsed.get(k) ?? 0) < v) this.tokenLastUsed.set(k, v);
      }
    }
    if (this.lastUsed.size === 0) return;
    const snapshot = this.lastUsed;
    this.lastUsed = new Map();
    try {
      await this.store.keys.touchKeys(snapshot);
    } catch {
      // A busy database must not lose the times: merge them back for the next flush.
      for (const [k, v] of snapshot) if ((this.lastUsed.get(k) ?? 0) < v) this.lastUsed.set(k, v);
    }
  }
}

const fmt = (n: number) => (Number.isInteger(n) ? n.toLocaleString("en-US") : n.toFixed(1));
