// Opens the SQLite database with the pragmas keepwatch relies on.
import { Database } from "bun:sqlite";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import * as schema from "./schema";

export type Durability = "full" | "normal";
export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

export type OpenOptions = {
  /** busy_timeout in ms: how long a write waits for a lock before the store reports itself unavailable */
  busyTimeoutMs?: number;
  durability?: Durability;
  readonly?: boolean;
  /**
   * false: this connection never checkpoints on commit (the server's checkpointer thread does it;
   * see checkpoint-thread.ts). Default true (SQLite's automatic checkpoint at 1000 pages).
   */
  autoCheckpoint?: boolean;
};

export function openDatabase(file: string, opts: OpenOptions = {}): Db {
  if (!opts.readonly) mkdirSync(dirname(file), { recursive: true });
  const sqlite = new Database(file, opts.readonly ? { readonly: true } : { create: true, readwrite: true });
  sqlite.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
  if (!opts.readonly) {
    sqlite.exec("PRAGMA journal_mode = WAL");
    sqlite.exec(`PRAGMA synchronous = ${opts.durability === "normal" ? "NORMAL" : "FULL"}`);
  }
  if (opts.autoCheckpoint === false) sqlite.exec("PRAGMA wal_autocheckpoint = 0");
  // After a checkpoint has caught up, the WAL file is cut back to this size.
  if (!opts.readonly) sqlite.exec("PRAGMA journal_size_limit = 67108864");
  sqlite.exec("PRAGMA foreign_keys = ON");
  sqlite.exec("PRAGMA temp_store = MEMORY");
  if (!opts.readonly) immediateTransactions(sqlite);
  return drizzle({ client: sqlite, schema }) as Db;
}

/**
 * Every transaction on a read-write connection begins IMMEDIATE (drizzle's and bun:sqlite's default
 * is DEFERRED). Each of keepwatch's transactions writes, and most read first: a deferred one reads
 * a snapshot, and if another connection (the writer thread, the checkpointer's search indexer, the
 * CLI) commits before it writes, its write fails at once with SQLITE_BUSY_SNAPSHOT - the busy
 * timeout never applies - and an ordinary request answered 500. Taking the write lock at BEGIN
 * makes the transaction wait its turn (busy_timeout) instead. Nested calls stay savepoints.
 */
function immediateTransactions(sqlite: Database): void {
  const begin = sqlite.transaction.bind(sqlite);
  sqlite.transaction = ((fn: (...args: any[]) => unknown) => {
    const t = begin(fn);
    const run = (...args: any[]) => t.immediate(...args);
    return Object.assign(run, { immediate: t.immediate, deferred: t.immediate, exclusive: t.exclusive });
  }) as typeof sqlite.transaction;
}

/** SQLITE_BUSY and its extended codes: another connection holds the lock (busy_timeout 0 connections). */
export function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
}

export const dbFile = (dataDir: string) => `${dataDir.replace(/\/+$/, "")}/keepwatch.db`;
