// Counts for the admin overview, all of one tenant.
import { encodeTime } from "ulid";
import type { Db } from "../db/client";

/** The smallest ULID of a millisecond: event ids are ULIDs of their receipt time, so a time range
 *  becomes a range on the (tenant_id, id) index instead of a scan of the tenant's events. */
const idFloor = (ms: number) => encodeTime(ms, 10) + "0".repeat(16);

export type Overview = {
  eventsLastHour: number;
  eventsLastDay: number;
  openAlerts: { severity: string; n: number }[];
  heartbeats: { state: string; n: number }[];
  /** deliveries waiting to be sent (pending or in flight) */
  queueDepth: number;
  /** webhooks that are off, or whose latest messages failed */
  failingWebhooks: { id: string; name: string; state: string; failures: number }[];
};

export function overview(db: Db, tenantId: string, now: number): Overview {
  const q = db.$client;
  const count = (sql: string, ...args: (string | number)[]) => (q.query(sql).get(...args) as { n: number }).n;
  return {
    eventsLastHour: count("SELECT count(*) AS n FROM events WHERE tenant_id = ?1 AND id >= ?2 AND received_at >= ?3", tenantId, idFloor(now - 3_600_000), now - 3_600_000),
    eventsLastDay: count("SELECT count(*) AS n FROM events WHERE tenant_id = ?1 AND id >= ?2 AND received_at >= ?3", tenantId, idFloor(now - 86_400_000), now - 86_400_000),
    openAlerts: q
      .query("SELECT severity, count(*) AS n FROM alerts WHERE tenant_id = ?1 AND status != 'closed' GROUP BY severity ORDER BY max(severity_rank) DESC")
      .all(tenantId) as { severity: string; n: number }[],
    heartbeats: q.query("SELECT state, count(*) AS n FROM heartbeats WHERE tenant_id = ?1 GROUP BY state").all(tenantId) as { state: string; n: number }[],
    queueDepth: count("SELECT count(*) AS n FROM deliveries WHERE tenant_id = ?1 AND status IN ('pending', 'delivering')", tenantId),
    failingWebhooks: q
      .query(
        `SELECT id, name, state, consecutive_failures AS failures FROM webhooks
          WHERE tenant_id = ?1 AND (state != 'active' OR consecutive_failures > 0) ORDER BY consecutive_failures DESC LIMIT 20`,
      )
      .all(tenantId) as Overview["failingWebhooks"],
  };
}
