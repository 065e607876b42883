// What each source received: events in a time window and the newest event's time, per source
// (the route's source name), for the Sources page. Both read the (tenant_id, source_name, id)
// index: ids are ULIDs, so "since" is an id range and "newest" is the last id.
import type { Bound } from "./contract";
import type { Db } from "../db/client";
import { ulidFloor } from "../lib/ids";

export type SourceActivity = { count: number; lastAt: number | null };

export function sourceActivity(db: Db, tenantId: string, sourceNames: string[], since: number): Map<string, SourceActivity> {
  const count = db.$client.query("SELECT count(*) AS n FROM events WHERE tenant_id = ?1 AND source_name = ?2 AND id >= ?3");
  const last = db.$client.query("SELECT received_at AS at FROM events WHERE tenant_id = ?1 AND source_name = ?2 ORDER BY id DESC LIMIT 1");
  const floor = ulidFloor(since);
  const out = new Map<string, SourceActivity>();
  for (const name of sourceNames) {
    const n = (count.get(tenantId, name, floor) as { n: number }).n;
    const l = last.get(tenantId, name) as { at: number } | null;
    out.set(name, { count: n, lastAt: l?.at ?? null });
  }
  return out;
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/source-activity.ts. */
export const sourceActivityFns = { sourceActivity };
export type SourceActivityStore = Bound<typeof sourceActivityFns>;
