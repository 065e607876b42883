// The checkpointer thread: copies the WAL back into the database file with PASSIVE checkpoints on
// its own connection, so that neither the writer thread nor the HTTP thread ever pays for a
// checkpoint inside a commit (which is where latency spikes came from with SQLite's automatic
// checkpoints). PASSIVE never blocks readers or writers; SQLite restarts the WAL from its
// beginning once a checkpoint has caught up.
//
// It also runs the housekeeping that needs the write lock for a while, so that waiting for that
// lock (held by the ingest writer thread between its commits) never blocks the HTTP thread:
// - retention pruning, in small batches on a second connection (src/store/retention.ts);
// - the nightly TRUNCATE checkpoint, which resets the WAL file to zero bytes. Unlike PASSIVE it
//   waits for readers and writers and blocks writers while it runs; after a passive catch-up that
//   is a few milliseconds. When it cannot get its turn within 250 ms it reports "busy" (or an
//   error) and the passive checkpoints carry on as before.
// - the full-text indexer (src/store/search.ts): events committed by the ingest writer are indexed
//   here in short batches, so neither the writer thread nor the HTTP thread tokenizes anything.
//   It runs every INDEX_TICK_MS, not after every commit: FTS5 pays per transaction (each commit
//   writes a segment that later merges), so larger batches cost less per event (measured, CPU time
//   per ~500-byte event: 26-28 µs in transactions of 10 events, about what the old trigger paid
//   inside each group commit, 8-12 µs in batches of 500). A search asks it to catch up at once
//   ("sync": answered once everything committed before the question is indexed). Between two
//   batches it pauses at least as long as the batch held the write lock, so the ingest writer
//   always gets its turn (it never waits more than one batch).
import { openDatabase, type Db } from "./client";
import { pruneOld, type RetentionCutoffs, type RetentionOptions } from "../store/retention";
import { indexPending, indexState } from "../store/search";

declare var self: Worker;

export type ToCheckpointer =
  | { type: "init"; file: string; intervalMs: number; busyTimeoutMs?: number }
  | { type: "close" }
  | { type: "retention"; id: number; cutoffs: RetentionCutoffs; options?: RetentionOptions }
  | { type: "truncate"; id: number }
  | { type: "sync"; id: number };

/** How often the indexer looks for new events (the index lags ingest by about this much; a search wakes it at once). */
const INDEX_TICK_MS = 200;

let db: Db | null = null;
let file = "";
let busyTimeoutMs = 5000;
let timer: ReturnType<typeof setInterval> | null = null;

/** A second connection for pruning: it waits for the write lock (busy_timeout), the checkpoint one never does. */
let pruneDb: Db | null = null;
const pruner = () => (pruneDb ??= openDatabase(file, { busyTimeoutMs, autoCheckpoint: false }));

/** The indexer's connection (waits for the write lock like the pruner). */
let indexDb: Db | null = null;
let indexTimer: ReturnType<typeof setInterval> | null = null;
let indexing = false;
let again = false;
let closing = false;
/** searches waiting for the index to reach a rowid */
let waiters: { id: number; target: number }[] = [];

function answerWaiters(cursor: number, last: number) {
  if (!waiters.length) return;
  // a delete may have pulled the newest rowid below the target: then "all there is" is enough
  const keep: typeof waiters = [];
  for (const w of waiters) {
    if (cursor >= Math.min(w.target, last)) postMessage({ type: "done", id: w.id, result: { cursor } });
    else keep.push(w);
  }
  waiters = keep;
}

/** Indexes until caught up; one loop at a time (a wake-up during a loop makes it look again). */
async function runIndexer(): Promise<void> {
  if (indexing) {
    again = true;
    return;
  }
  indexing = true;
  try {
    do {
      again = false;
      for (;;) {
        if (closing || !indexDb) return;
        const st = indexState(indexDb);
        answerWaiters(st.cursor, st.last);
        if (st.cursor >= st.last) break;
        const t0 = performance.now();
        const r = indexPending(indexDb);
        answerWaiters(r.cursor, st.last);
        // yield the write lock to the ingest writer for at least as long as this batch held it
        await Bun.sleep(Math.max(1, performance.now() - t0));
      }
    } while (again);
  } catch {
    // busy past the timeout or a transient error: the next wake-up or tick tries again
  } finally {
    indexing = false;
  }
}

self.onmessage = async (e: MessageEvent<ToCheckpointer>) => {
  const m = e.data;
  if (m.type === "init") {
    file = m.file;
    busyTimeoutMs = m.busyTimeoutMs ?? 5000;
    db = openDatabase(m.file, { busyTimeoutMs: 0, autoCheckpoint: false });
    timer = setInterval(() => {
      try {
        db?.$client.exec("PRAGMA wal_checkpoint(PASSIVE)");
      } catch {
        // busy: the next tick tries again
      }
    }, m.intervalMs);
    // synchronous=NORMAL: an indexing batch adds no fsync of its own (the writer's next commit
    // syncs the WAL). Losing the last batches to a power cut is harmless: the cursor rolls back
    // with the index rows it covered, and the indexer does them again.
    indexDb = openDatabase(m.file, { busyTimeoutMs, durability: "normal", autoCheckpoint: false });
    indexTimer = setInterval(() => void runIndexer(), INDEX_TICK_MS);
    void runIndexer(); // catch up with what the last run left unindexed
    postMessage({ type: "ready" });
  } else if (m.type === "sync") {
    try {
      waiters.push({ id: m.id, target: indexState(indexDb!).last });
    } catch (err) {
      postMessage({ type: "done", id: m.id, error: String((err as Error)?.message ?? err) });
      return;
    }
    void runIndexer();
  } else if (m.type === "retention") {
    try {
      const result = await pruneOld(pruner(), m.cutoffs, m.options);
      postMessage({ type: "done", id: m.id, result });
    } catch (err) {
      postMessage({ type: "done", id: m.id, error: String((err as Error)?.message ?? err) });
    }
  } else if (m.type === "truncate") {
    const c = pruner().$client;
    try {
      // Catch up first without taking any lock, so that the TRUNCATE has (almost) nothing left to
      // copy. TRUNCATE takes the write lock and then waits for readers through the busy handler,
      // holding ingest up meanwhile: give it a short busy timeout, and skip this night when a
      // long reader is in the way.
      c.exec("PRAGMA wal_checkpoint(PASSIVE)");
      c.exec("PRAGMA busy_timeout = 250");
      let r: { busy: number; log: number; checkpointed: number };
      try {
        // busy = 1 when it could not finish (a reader or writer kept it out)
        r = c.query("PRAGMA wal_checkpoint(TRUNCATE)").get() as typeof r;
      } finally {
        c.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      }
      postMessage({ type: "done", id: m.id, result: { busy: r.busy === 1, log: r.log, checkpointed: r.checkpointed } });
    } catch (err) {
      // SQLITE_BUSY: someone held the write lock for the whole 250 ms
      postMessage({ type: "done", id: m.id, error: String((err as Error)?.message ?? err) });
    }
  } else if (m.type === "close") {
    if (timer) clearInterval(timer);
    if (indexTimer) clearInterval(indexTimer);
    closing = true;
    try {
      db?.$client.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch {}
    db?.$client.close();
    pruneDb?.$client.close();
    indexDb?.$client.close();
    db = pruneDb = indexDb = null;
    postMessage({ type: "closed" });
  }
};
