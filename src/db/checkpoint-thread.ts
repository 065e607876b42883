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
import { openDatabase, type Db } from "./client";
import { pruneOld, type RetentionCutoffs, type RetentionOptions } from "../store/retention";

declare var self: Worker;

export type ToCheckpointer =
  | { type: "init"; file: string; intervalMs: number; busyTimeoutMs?: number }
  | { type: "close" }
  | { type: "retention"; id: number; cutoffs: RetentionCutoffs; options?: RetentionOptions }
  | { type: "truncate"; id: number };

let db: Db | null = null;
let file = "";
let busyTimeoutMs = 5000;
let timer: ReturnType<typeof setInterval> | null = null;

/** A second connection for pruning: it waits for the write lock (busy_timeout), the checkpoint one never does. */
let pruneDb: Db | null = null;
const pruner = () => (pruneDb ??= openDatabase(file, { busyTimeoutMs, autoCheckpoint: false }));

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
    postMessage({ type: "ready" });
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
    try {
      db?.$client.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch {}
    db?.$client.close();
    pruneDb?.$client.close();
    db = pruneDb = null;
    postMessage({ type: "closed" });
  }
};
