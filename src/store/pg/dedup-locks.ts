// "One per X" across replicas where a unique index cannot say it (issue 12).
//
// Alert fingerprints. An event joins the newest not-closed alert of its fingerprint seen within the
// dedup window, else opens a new one (pgRaiseAlert). Several not-closed alerts of one fingerprint
// are legitimate (one left open past its window, and the one opened after it), so no unique index
// on open alerts can hold the rule; the window is a time predicate, which an index predicate cannot
// name. Instead the unit that raises an alert first takes a transaction-scoped advisory lock on
// (tenant, fingerprint): a second transaction (another replica, another pool) raising the same
// fingerprint waits until the first commits, then its look-up sees the alert the first opened and
// joins it. Transaction-scoped: released by the commit or rollback, nothing to clean up after a
// crash, and it works through PgBouncer in transaction mode (session-scoped locks do not).
import type { PgConn } from "../contract";

/** The advisory-lock key space of alert fingerprints (hashed with the tenant and fingerprint). */
const FINGERPRINT_NS = "kw.alert.fingerprint";

/**
 * Takes the transaction-scoped advisory locks of these (tenant, fingerprint) pairs, in one statement,
 * in a fixed order (two units locking several fingerprints wait rather than deadlock). Call inside
 * the unit's transaction, before looking for the open alert. A 64-bit hash: two fingerprints that
 * collide only wait for each other.
 */
export async function pgLockFingerprints(tx: PgConn, tenantId: string, fingerprints: string[]): Promise<void> {
  const fps = [...new Set(fingerprints)];
  if (!fps.length) return;
  await tx.unsafe(
    `SELECT count(pg_advisory_xact_lock(h)) FROM (
       SELECT DISTINCT hashtextextended($1 || ':' || $2 || ':' || fp, 0) AS h FROM unnest($3::text[]) AS fp ORDER BY 1
     ) AS x`,
    [FINGERPRINT_NS, tenantId, fps] as any[],
  );
}
