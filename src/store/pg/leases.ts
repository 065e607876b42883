// Leases of periodic housekeeping on PostgreSQL: the twin of src/store/leases.ts. Every time here
// is the database clock (replicas' clocks may differ); the `now` argument is ignored. One
// statement each, no session state: works through PgBouncer in transaction mode. Of replicas
// racing for a lapsed lease, the upsert's row lock lets one take it; the others see it held.
import { PG_NOW_MS, type PgConn, type PgTwin } from "../contract";
import type { leasesFns } from "../leases";

async function tryLease(pg: PgConn, name: string, holder: string, leaseMs: number, minGapMs: number, _now: number): Promise<boolean> {
  const rows = await pg.unsafe(
    `INSERT INTO housekeeping_leases AS l (name, holder, lease_until, done_at) VALUES ($1, $2, ${PG_NOW_MS} + $3::bigint, NULL)
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
      WHERE l.lease_until <= ${PG_NOW_MS} AND (l.done_at IS NULL OR l.done_at <= ${PG_NOW_MS} - $4::bigint)
     RETURNING name`,
    [name, holder, leaseMs, minGapMs],
  );
  return rows.length > 0;
}

async function endLease(pg: PgConn, name: string, holder: string, done: boolean, _now: number): Promise<void> {
  await pg.unsafe(
    `UPDATE housekeeping_leases SET lease_until = ${PG_NOW_MS}, done_at = CASE WHEN $3::boolean THEN ${PG_NOW_MS} ELSE done_at END
      WHERE name = $1 AND holder = $2`,
    [name, holder, done],
  );
}

export const pgLeasesFns: PgTwin<typeof leasesFns> = { tryLease, endLease };
