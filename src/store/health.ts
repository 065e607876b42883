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

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/health.ts. */
export const healthFns = { checkWritable };
export type HealthStore = Bound<typeof healthFns>;
