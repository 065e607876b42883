import { statSync } from "node:fs";
import type { Bound } from "./contract";
import type { Db } from "../db/client";

/** null when the database can take a write lock now, else the reason. */
export function checkWritable(db: Db): string | null {
  try {
    db.$client.exec("BEGIN IMMEDIATE");
    db.$client.exec("ROLLBACK");
    return null;
  } catch (e) {
    return String((e as Error).message ?? e);
  }
}

/** One part of the database's size on disk: on SQLite the file ("db") and its write-ahead log ("wal"); on PostgreSQL the database ("db"). */
export type DatabaseSize = { part: "db" | "wal"; bytes: number };

/** The size of the database file and of its WAL (0 when absent, e.g. just after a TRUNCATE checkpoint). */
export function databaseSize(db: Db): DatabaseSize[] {
  const main = (db.$client.query("PRAGMA database_list").all() as { name: string; file: string }[]).find((d) => d.name === "main")?.file ?? "";
  const size = (path: string) => {
    try {
      return path ? statSync(path).size : 0;
    } catch {
      return 0;
    }
  };
  return [
    { part: "db", bytes: size(main) },
    { part: "wal", bytes: size(main && `${main}-wal`) },
  ];
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/health.ts. */
export const healthFns = { checkWritable, databaseSize };
export type HealthStore = Bound<typeof healthFns>;
