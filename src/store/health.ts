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
