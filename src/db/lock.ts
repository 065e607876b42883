// One keepwatch per data directory. The server holds an exclusive SQLite lock on
// <data-dir>/keepwatch.lock for as long as it runs; the operating system drops it when the
// process ends, however it ends. `restore` takes the same lock, so it can never replace the
// database under a running server, and a second server on the same directory refuses to start.
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export class DataDirBusy extends Error {}

export type DataDirLock = { release(): void };

export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, "keepwatch.lock");
  const db = new Database(file, { create: true, readwrite: true });
  try {
    db.exec("PRAGMA busy_timeout = 0");
    db.exec("PRAGMA journal_mode = MEMORY"); // no journal file beside the lock
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER, since INTEGER)");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("DELETE FROM holder");
    db.run("INSERT INTO holder VALUES (?1, ?2)", [process.pid, Date.now()]);
    db.exec("COMMIT"); // in EXCLUSIVE locking mode the lock is kept after the commit
  } catch (e) {
    db.close();
    if (String((e as Error).message).includes("locked") || (e as { code?: string }).code?.startsWith("SQLITE_BUSY"))
      throw new DataDirBusy(`another keepwatch is running on ${dataDir}`);
    throw e;
  }
  return { release: () => db.close(false) };
}
