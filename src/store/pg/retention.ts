// Retention on PostgreSQL: the twin of src/store/retention.ts (the notes on batches and on events
// held by open alerts are there). Each batch is one statement or one short transaction; row locks
// taken by a delete never block ingest (inserts of new rows), so no pacing for a lock is needed,
// only the pause between batches that keeps the load even.
import { inTx, type PgConn, type PgTwin } from "../contract";
import type { Batch, retentionFns } from "../retention";

const HELD = `EXISTS (SELECT 1 FROM alert_events ae JOIN alerts a ON a.id = ae.alert_id
                      WHERE ae.event_id = events.id AND a.status <> 'closed')`;

async function pruneEventsBatch(pg: PgConn, before: number, after: string, limit: number): Promise<Batch> {
  return inTx(pg, async (tx) => {
    const rows = await tx.unsafe(`SELECT id, received_at AS t, ${HELD} AS held FROM events WHERE id > $1 ORDER BY id LIMIT $2`, [after, limit]);
    const old = rows.findIndex((r) => Number(r.t) >= before);
    const done = old >= 0 || rows.length < limit;
    const seen = old >= 0 ? rows.slice(0, old) : [...rows];
    const ids = seen.filter((r) => !r.held).map((r) => r.id as string);
    let deleted = 0;
    if (ids.length)
      // the checks again in the delete: an alert may have been linked or reopened since the read
      deleted = (await tx.unsafe(`DELETE FROM events WHERE id = ANY($1::text[]) AND received_at < $2 AND NOT ${HELD}`, [ids, before] as any[])).count;
    return { deleted, last: done || !seen.length ? null : (seen[seen.length - 1]!.id as string) };
  });
}

async function prunePingsBatch(pg: PgConn, before: number, limit: number): Promise<Batch> {
  const rows = await pg`SELECT id, at AS t FROM heartbeat_pings ORDER BY id LIMIT ${limit}`;
  const old = rows.findIndex((r) => Number(r.t) >= before);
  const seen = old >= 0 ? rows.slice(0, old) : [...rows];
  const ids = seen.map((r) => r.id as string);
  const deleted = ids.length ? (await pg`DELETE FROM heartbeat_pings WHERE id = ANY(${ids}::text[]) AND at < ${before}`).count : 0;
  return { deleted, last: old >= 0 || rows.length < limit || !seen.length ? null : ids[ids.length - 1]! };
}

async function pruneDeliveriesBatch(pg: PgConn, before: number, limit: number): Promise<number> {
  return (await pg`DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE created_at < ${before} AND status <> 'pending' LIMIT ${limit})`).count;
}

async function pruneAttemptsBatch(pg: PgConn, before: number, limit: number): Promise<number> {
  return (await pg`DELETE FROM delivery_attempts WHERE id IN (SELECT id FROM delivery_attempts WHERE started_at < ${before} LIMIT ${limit})`).count;
}

async function pruneJobsBatch(pg: PgConn, before: number, limit: number): Promise<number> {
  return (
    await pg`DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_at < ${before} AND state IN ('succeeded', 'failed', 'dead') LIMIT ${limit})`
  ).count;
}

export const pgRetentionFns: PgTwin<typeof retentionFns> = { pruneEventsBatch, prunePingsBatch, pruneDeliveriesBatch, pruneAttemptsBatch, pruneJobsBatch };
