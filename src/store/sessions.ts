// Admin page sessions: the cookie value is random and only its SHA-256 is stored.
import type { Bound } from "./contract";
import type { Db } from "../db/client";
import { sha256Hex } from "../lib/crypto";
import { randomB64url } from "../lib/ids";

export type SessionRow = { id: string; tenantId: string; keyId: string; csrfToken: string; createdAt: number; expiresAt: number };

/** Creates a session; returns the plain cookie value (shown to the browser once) and the row. */
export function createSession(db: Db, s: { tenantId: string; keyId: string; ttlMs: number }, now: number): { token: string; row: SessionRow } {
  const token = randomB64url(32);
  const row: SessionRow = { id: sha256Hex(token), tenantId: s.tenantId, keyId: s.keyId, csrfToken: randomB64url(32), createdAt: now, expiresAt: now + s.ttlMs };
  db.$client
    .query("INSERT INTO admin_sessions (id, tenant_id, key_id, csrf_token, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
    .run(row.id, row.tenantId, row.keyId, row.csrfToken, row.createdAt, row.expiresAt);
  // keep the table small: every login sweeps the expired ones (indexed on expires_at)
  db.$client.query("DELETE FROM admin_sessions WHERE expires_at <= ?1").run(now);
  return { token, row };
}

/** The live session for a cookie value, or undefined (unknown or expired). */
export function findSession(db: Db, token: string, now: number): SessionRow | undefined {
  const r = db.$client
    .query(
      `SELECT id, tenant_id AS tenantId, key_id AS keyId, csrf_token AS csrfToken, created_at AS createdAt, expires_at AS expiresAt
         FROM admin_sessions WHERE id = ?1 AND expires_at > ?2`,
    )
    .get(sha256Hex(token), now) as SessionRow | null;
  return r ?? undefined;
}

export function deleteSession(db: Db, token: string): void {
  db.$client.query("DELETE FROM admin_sessions WHERE id = ?1").run(sha256Hex(token));
}

/** Sets (or with null clears) the session's one-time message; `sealed` is already encrypted by the caller. */
export function setSessionFlash(db: Db, token: string, sealed: string | null): void {
  db.$client.query("UPDATE admin_sessions SET flash = ?1 WHERE id = ?2").run(sealed, sha256Hex(token));
}

/** The session's one-time message, cleared in the same transaction (shown once), or null. */
export function takeSessionFlash(db: Db, token: string): string | null {
  const id = sha256Hex(token);
  return db.$client.transaction(() => {
    const r = db.$client.query("SELECT flash FROM admin_sessions WHERE id = ?1 AND flash IS NOT NULL").get(id) as { flash: string } | null;
    if (!r) return null;
    db.$client.query("UPDATE admin_sessions SET flash = NULL WHERE id = ?1").run(id);
    return r.flash;
  })();
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/sessions.ts. */
export const sessionsFns = { createSession, findSession, deleteSession, setSessionFlash, takeSessionFlash };
export type SessionsStore = Bound<typeof sessionsFns>;
