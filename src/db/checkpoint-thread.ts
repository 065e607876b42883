// The checkpointer thread: copies the WAL back into the database file with PASSIVE checkpoints on
// its own connection, so that neither the writer thread nor the HTTP thread ever pays for a
// checkpoint inside a commit (which is where latency spikes came from with SQLite's automatic
// checkpoints). PASSIVE never blocks readers or writers; SQLite restarts the WAL from its
// beginning once a checkpoint has caught up.
import { openDatabase, type Db } from "./client";

declare var self: Worker;

export type ToCheckpointer = { type: "init"; file: string; intervalMs: number } | { type: "close" };

let db: Db | null = null;
let timer: ReturnType<typeof setInterval> | null = null;

self.onmessage = (e: MessageEvent<ToCheckpointer>) => {
  const m = e.data;
  if (m.type === "init") {
    db = openDatabase(m.file, { busyTimeoutMs: 0, autoCheckpoint: false });
    timer = setInterval(() => {
      try {
        db?.$client.exec("PRAGMA wal_checkpoint(PASSIVE)");
      } catch {
        // busy: the next tick tries again
      }
    }, m.intervalMs);
    postMessage({ type: "ready" });
  } else if (m.type === "close") {
    if (timer) clearInterval(timer);
    try {
      db?.$client.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch {}
    db?.$client.close();
    db = null;
    postMessage({ type: "closed" });
  }
};
