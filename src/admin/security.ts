// Security of the admin page: sessions (cookie), CSRF tokens, and the headers on every response.
//
// - Login takes an admin-scope key, checked by the same Authenticator as the API. The session
//   remembers the tenant and the key: a revoked or expired key ends its sessions at once.
// - The cookie holds 32 random bytes; the database holds only their SHA-256. HttpOnly,
//   SameSite=Strict, Path=/admin, Secure when the request came over TLS (directly or per
//   X-Forwarded-Proto), and a Max-Age equal to the session's life.
// - Every POST form carries the session's CSRF token, compared in constant time. SameSite=Strict
//   already keeps the cookie off cross-site posts; the token is the second lock.
import type { Deps } from "../deps";
import { hasScope } from "../core/keys";
import { newBucket, take, type Bucket } from "../core/ratelimit";
import { safeEqual } from "../lib/crypto";
import { PAGE_HEADERS } from "../http/headers";
import type { SessionRow } from "../store/sessions";

export const COOKIE = "kw_admin";
/** How long a login lasts. */
export const SESSION_TTL_MS = 12 * 3_600_000;

/** No inline script or style anywhere: everything comes from /admin/assets/ (src/http/headers.ts). */
export const SECURITY_HEADERS: Record<string, string> = PAGE_HEADERS;

export type Session = SessionRow & { token: string };

export function isTls(request: Request): boolean {
  if (new URL(request.url).protocol === "https:") return true;
  const xf = request.headers.get("x-forwarded-proto");
  return !!xf && xf.split(",")[0].trim().toLowerCase() === "https";
}

function cookieValue(request: Request): string | null {
  const header = request.headers.get("cookie");
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/** The request's live session, or null (no cookie, unknown, expired, or its key no longer valid). */
export async function currentSession(deps: Deps, request: Request): Promise<Session | null> {
  const token = cookieValue(request);
  if (!token || token.length > 100) return null;
  const now = deps.clock();
  const s = await deps.store.sessions.findSession(token, now);
  if (!s) return null;
  const key = await deps.store.keys.getKey(s.tenantId, s.keyId);
  if (!key || (key.revokedAt !== null && key.revokedAt <= now) || (key.expiresAt !== null && key.expiresAt <= now)) return null;
  if (!hasScope(JSON.parse(key.scopes), "admin")) return null;
  return { ...s, token };
}

export function sessionCookie(request: Request, token: string, maxAgeS: number): string {
  return `${COOKIE}=${token}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${isTls(request) ? "; Secure" : ""}`;
}

/**
 * Logs in with a key: throws (via the Authenticator) 401 on a bad key; returns null when the key
 * lacks the admin scope.
 */
export async function login(deps: Deps, key: string): Promise<{ token: string; row: SessionRow } | null> {
  const { row, principal } = await deps.auth.verify(key.trim());
  if (!hasScope(principal.scopes, "admin")) return null;
  return await deps.store.sessions.createSession({ tenantId: row.tenantId, keyId: row.id, ttlMs: SESSION_TTL_MS }, deps.clock());
}

export async function logout(deps: Deps, s: Session): Promise<void> {
  await deps.store.sessions.deleteSession(s.token);
}

export function csrfOk(s: Session, presented: string | null | undefined): boolean {
  return typeof presented === "string" && safeEqual(s.csrfToken, presented);
}

/**
 * A cross-site login post is refused by the browser's own word (Sec-Fetch-Site / Origin) since
 * there is no session yet whose token it could carry.
 */
export function sameOrigin(request: Request): boolean {
  const site = request.headers.get("sec-fetch-site");
  if (site && site !== "same-origin" && site !== "none") return false;
  const origin = request.headers.get("origin");
  // "null": an opaque origin (sandboxed frame, data: URL, file:, a cross-site redirect) is never our form
  if (origin === "null") return false;
  if (origin) {
    const host = request.headers.get("host");
    try {
      if (host && new URL(origin).host !== host) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Failed admin logins per client address: LOGIN_FAILURE_BURST in a row, then one more every
 * LOGIN_FAILURE_EVERY_S seconds; past that, every login from the address is refused (429) until
 * its bucket has refilled a little, a right key included. Keys are 256-bit secrets, so this is not
 * what keeps them safe: it keeps a guessing script from filling the log and the CPU. Behind a
 * reverse proxy every client shares the proxy's address.
 */
export const LOGIN_FAILURE_BURST = 10;
export const LOGIN_FAILURE_EVERY_S = 6;

export class LoginThrottle {
  private buckets = new Map<string, Bucket>();
  private rate = 1 / LOGIN_FAILURE_EVERY_S;

  /** Milliseconds until this address may try again (0: it may now). */
  waitMs(address: string, now: number): number {
    const b = this.buckets.get(address);
    if (!b) return 0;
    const tokens = Math.min(LOGIN_FAILURE_BURST, b.tokens + (Math.max(0, now - b.at) / 1000) * this.rate);
    if (tokens >= LOGIN_FAILURE_BURST) {
      this.buckets.delete(address); // full again: forget it
      return 0;
    }
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / this.rate) * 1000);
  }

  /** Counts one failed login from this address. */
  failed(address: string, now: number): void {
    let b = this.buckets.get(address);
    if (!b) {
      if (this.buckets.size >= 10_000) this.buckets.clear();
      this.buckets.set(address, (b = newBucket(LOGIN_FAILURE_BURST, now)));
    }
    take(b, now, this.rate, LOGIN_FAILURE_BURST);
  }
}

