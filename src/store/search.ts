// The full-text index of events (events_fts, migrations 0009_events_fts and 0011_events_fts_background), filled in the background.
//
// Why not a trigger: indexing inside the ingest writer's group commit cost 23-43 µs per event on
// the writer thread and halved the single-event ingest rate (docs/api.md, Search). FTS5 pays most of that
// per transaction (each commit flushes its pending terms as a new segment and merges segments), so
// the index is now filled after the events are committed, by indexPending() on the checkpointer
// thread (db/checkpoint-thread.ts), in batches of up to INDEX_BATCH rows per short transaction:
// - a cursor row (events_fts_cursor.last_rowid) says how far the index goes; each batch inserts the
//   rows after it and moves it in the same transaction, so a crash loses nothing and indexes
//   nothing twice, and a restart resumes from it (existing data included: the migration starts it
//   at the rowid 0009 had indexed);
// - SQLite serializes writers, and events rowids only grow within a write (no AUTOINCREMENT, so a
//   rowid is reused only once the newest rows were deleted: the delete trigger then pulls the
//   cursor back, see 0011_events_fts_background), so "rowid > cursor" is exactly the set of committed, unindexed events;
// - deletes stay a trigger on events (retention and tenant deletion, never the ingest path): an
//   indexed row leaves the index in the transaction that deletes the event;
// - a search joins the index back to events on rowid and the tenant, so it can never return a
//   deleted event or another tenant's; what it can miss is only the not yet indexed tail, which the
//   read path narrows by asking the indexer to catch up first (Checkpointer.searchReady).
import type { Bound } from "./contract";
import type { Db } from "../db/client";

/**
 * Rows per indexing transaction: large enough that FTS5's per-transaction cost is spread thin
 * (8-12 µs CPU per ~500-byte event at 500 rows, 6-7 µs at 2,000), small enough that a batch holds
 * the write lock for ~10-20 ms at most.
 */
export const INDEX_BATCH = 1000;

export type IndexResult = { indexed: number; cursor: number; pending: boolean };

/** How far the index goes and the newest stored event's rowid. */
export function indexState(db: Db): { cursor: number; last: number } {
  const r = db.$client
    .query("SELECT (SELECT last_rowid FROM events_fts_cursor WHERE id = 1) AS cursor, (SELECT coalesce(max(rowid), 0) FROM events) AS last")
    .get() as { cursor: number | null; last: number };
  return { cursor: r.cursor ?? 0, last: r.last };
}

/**
 * Indexes up to `limit` events past the cursor in one immediate transaction and moves the cursor
 * to the last of them (in the same transaction). `pending` tells whether more are waiting.
 */
export function indexPending(db: Db, limit = INDEX_BATCH): IndexResult {
  const c = db.$client;
  return c
    .transaction((): IndexResult => {
      const cursor = (c.query("SELECT last_rowid FROM events_fts_cursor WHERE id = 1").get() as { last_rowid: number } | null)?.last_rowid ?? 0;
      // the batch's last rowid first (FTS5, a virtual table, has no RETURNING)
      const b = c
        .query("SELECT count(*) AS n, max(rowid) AS last FROM (SELECT rowid FROM events WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)")
        .get(cursor, limit) as { n: number; last: number | null };
      if (!b.n || b.last === null) return { indexed: 0, cursor, pending: false };
      c.query("INSERT INTO events_fts (rowid, title, summary, payload) SELECT rowid, title, summary, payload FROM events WHERE rowid > ?1 AND rowid <= ?2").run(cursor, b.last);
      c.query("UPDATE events_fts_cursor SET last_rowid = ?1 WHERE id = 1").run(b.last);
      return { indexed: b.n, cursor: b.last, pending: b.n === limit };
    })
    .immediate();
}

/** How long the oldest event not yet in the index has been waiting (ms; 0 when the index is caught up). */
export function indexLagMs(db: Db, now: number): number {
  const r = db.$client
    .query("SELECT received_at AS t FROM events WHERE rowid > (SELECT last_rowid FROM events_fts_cursor WHERE id = 1) ORDER BY rowid LIMIT 1")
    .get() as { t: number } | null;
  return r ? Math.max(0, now - r.t) : 0;
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/search.ts. */
export const searchFns = { indexState, indexPending, indexLagMs };
export type SearchStore = Bound<typeof searchFns>;
