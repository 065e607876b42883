// Admin page sessions on PostgreSQL: the twin of src/store/sessions.ts.
import { sha256Hex } from "../../lib/crypto";
import { randomB64url } from "../../lib/ids";
import { inTx, type PgConn, type PgTwin } from "../contract";
import type { SessionRow, sessionsFns } from "../sessions";

async function createSession(pg: PgConn, s: { tenantId: string; keyId: string; ttlMs: number }, now: number): Promise<{ token: string; row: SessionRow }> {
  const token = randomB64url(32);
  const row: SessionRow = { id: sha256Hex(token), tenantId: s.tenantId, keyId: s.keyId, csrfToken: randomB64url(32), createdAt: now, expiresAt: now + s.ttlMs };
  await pg`INSERT INTO admin_sessions (id, tenant_id, key_id, csrf_token, created_at, expires_at)
           VALUES (${row.id}, ${row.tenantId}, ${row.keyId}, ${row.csrfToken}, ${row.createdAt}, ${row.expiresAt})`;
  // keep the table small: every login sweeps the expired ones (indexed on expires_at)
  await pg`DELETE FROM admin_sessions WHERE expires_at <= ${now}`;
  return { token, row };
}

async function findSession(pg: PgConn, token: string, now: number): Promise<SessionRow | undefined> {
  const [r] = await pg`SELECT id, tenant_id AS "tenantId", key_id AS "keyId", csrf_token AS "csrfToken", created_at AS "createdAt", expires_at AS "expiresAt"
                         FROM admin_sessions WHERE id = ${sha256Hex(token)} AND expires_at > ${now}`;
  return r ? ({ ...r } as SessionRow) : undefined;
}

async function deleteSession(pg: PgConn, token: string): Promise<void> {
  await pg`DELETE FROM admin_sessions WHERE id = ${sha256Hex(token)}`;
}

async function setSessionFlash(pg: PgConn, token: string, sealed: string | null): Promise<void> {
  await pg`UPDATE admin_sessions SET flash = ${sealed} WHERE id = ${sha256Hex(token)}`;
}

/** Read and cleared under the row's lock: two pages of one session never both show the message. */
async function takeSessionFlash(pg: PgConn, token: string): Promise<string | null> {
  const id = sha256Hex(token);
  return inTx(pg, async (tx) => {
    const [r] = await tx`SELECT flash FROM admin_sessions WHERE id = ${id} AND flash IS NOT NULL FOR UPDATE`;
    if (!r) return null;
    await tx`UPDATE admin_sessions SET flash = NULL WHERE id = ${id}`;
    return r.flash as string;
  });
}

export const pgSessionsFns: PgTwin<typeof sessionsFns> = { createSession, findSession, deleteSession, setSessionFlash, takeSessionFlash };
