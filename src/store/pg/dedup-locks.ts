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
//
// Threshold rules need no lock of their own: a unit that records a rule's hit first adds to the
// rule's hit count (the UPDATE rules SET hits of the group in src/store/pg/rules.ts), whose row lock makes a second unit
// matching the same rule wait for the first's commit; its count of the window then includes the
// first's hit (test/store/dedup-races.test.ts races it). Keep that update ahead of the rule_hits
// insert and count, or lock the (rule, group) here.
import type { PgConn } from "../contract";

/** The advisory-lock key space of alert fingerprints (hashed with the tenant and the fingerprint). */
const FINGERPRINT_NS = "kw.alert.fingerprint";

/**
 * The locks of (tenant, fingerprint) pairs (a group commit's alert signals, of any tenants), in one
 * statement, in a fixed order (by the 64-bit hash): two units locking several keys wait rather than
 * deadlock; two keys that collide only wait for each other. Call inside the unit's transaction,
 * before looking for the open alert.
 */
export async function pgLockFingerprintPairs(tx: PgConn, pairs: [tenantId: string, fingerprint: string][]): Promise<void> {
  if (!pairs.length) return;
  await tx.unsafe(
    `SELECT count(pg_advisory_xact_lock(h)) FROM (
       SELECT DISTINCT hashtextextended($1 || ':' || t || ':' || k, 0) AS h FROM unnest($2::text[], $3::text[]) AS u(t, k) ORDER BY 1
     ) AS x`,
    [FINGERPRINT_NS, pairs.map((p) => p[0]), pairs.map((p) => p[1])] as any[],
  );
}
