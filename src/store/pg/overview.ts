// The admin overview on PostgreSQL: the twin of src/store/overview.ts, query for query (the index
// notes are there). The per-bucket counts are one statement: the bucket bounds come in as two
// arrays and each bucket is a count over a range of the (tenant_id, id) index.
import { encodeTime } from "ulid";
import type { PgConn, PgTwin } from "../contract";
import type { Overview, StateCounts, overviewFns } from "../overview";

const idFloor = (ms: number) => encodeTime(Math.max(0, Math.floor(ms)), 10) + "0".repeat(16);
const MINUTE = 60_000;
const HOUR = 3_600_000;

async function bucketCounts(pg: PgConn, table: "events" | "alerts", tenantId: string, start: number, size: number, n: number): Promise<number[]> {
  const lo = Array.from({ length: n }, (_, i) => idFloor(start + i * size));
  const hi = Array.from({ length: n }, (_, i) => idFloor(start + (i + 1) * size));
  const rows = await pg.unsafe(
    `SELECT b.i, (SELECT count(*) FROM ${table} WHERE tenant_id = $1 AND id >= b.lo AND id < b.hi) AS n
       FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS b(lo, hi, i)`,
    [tenantId, lo, hi] as any[],
  );
  const out = new Array<number>(n).fill(0);
  for (const r of rows) out[Number(r.i) - 1] = Number(r.n);
  return out;
}

async function overview(pg: PgConn, tenantId: string, now: number): Promise<Overview> {
  const minuteStart = Math.floor(now / MINUTE) * MINUTE - 1439 * MINUTE;
  const hourStart = Math.floor(now / HOUR) * HOUR - 23 * HOUR;
  const count = async (q: Promise<{ n: number }[]>) => Number((await q)[0]?.n ?? 0);
  // independent reads: sent together on the pool (no transaction: the page is a glance, not a ledger)
  const [eventsPerMinute, alertsPerHour, eventsLastHour, eventsLastDay, openAlerts, heartbeats, badHeartbeats, queueDepth, failingWebhooks, newestOpen] =
    await Promise.all([
      bucketCounts(pg, "events", tenantId, minuteStart, MINUTE, 1440),
      bucketCounts(pg, "alerts", tenantId, hourStart, HOUR, 24),
      count(pg`SELECT count(*) AS n FROM events WHERE tenant_id = ${tenantId} AND id >= ${idFloor(now - HOUR)}` as any),
      count(pg`SELECT count(*) AS n FROM events WHERE tenant_id = ${tenantId} AND id >= ${idFloor(now - 24 * HOUR)}` as any),
      pg`SELECT severity, count(*) AS n FROM alerts WHERE tenant_id = ${tenantId} AND status IN ('open', 'triaging', 'escalated')
          GROUP BY severity ORDER BY max(severity_rank) DESC`,
      pg`SELECT state, count(*) AS n FROM heartbeats WHERE tenant_id = ${tenantId} GROUP BY state`,
      pg`SELECT id, name, state, down_at AS "downAt", due_at AS "dueAt" FROM heartbeats WHERE tenant_id = ${tenantId} AND state IN ('down', 'late')
          ORDER BY state = 'down' DESC, coalesce(down_at, due_at), name LIMIT 50`,
      count(pg`SELECT coalesce(sum(l.backlog), 0)::bigint AS n FROM webhooks w JOIN job_lanes l ON l.lane = w.id WHERE w.tenant_id = ${tenantId}` as any),
      pg`SELECT w.id, w.name, w.state, w.consecutive_failures AS failures, w.disabled_reason AS "disabledReason", coalesce(l.backlog, 0) AS backlog
           FROM webhooks w LEFT JOIN job_lanes l ON l.lane = w.id
          WHERE w.tenant_id = ${tenantId} AND (w.state != 'active' OR w.consecutive_failures > 0) ORDER BY w.consecutive_failures DESC, w.name LIMIT 20`,
      pg`SELECT id, title, severity, status, source, last_seen AS "lastSeen", "count" FROM alerts
          WHERE tenant_id = ${tenantId} AND status IN ('open', 'triaging', 'escalated') ORDER BY id DESC LIMIT 10`,
    ]);
  const plain = <T>(rows: readonly unknown[]) => rows.map((r) => ({ ...(r as object) })) as T;
  return {
    minuteStart,
    eventsPerMinute,
    hourStart,
    alertsPerHour,
    eventsLastHour,
    eventsLastDay,
    openAlerts: plain(openAlerts),
    heartbeats: plain(heartbeats),
    badHeartbeats: plain(badHeartbeats),
    queueDepth,
    failingWebhooks: plain(failingWebhooks),
    newestOpen: plain(newestOpen),
  };
}

async function stateCounts(pg: PgConn): Promise<StateCounts> {
  const [heartbeats, alerts, enrichment] = await Promise.all([
    pg`SELECT state, count(*) AS n FROM heartbeats GROUP BY state`,
    pg`SELECT status, severity, count(*) AS n FROM alerts WHERE status != 'closed' GROUP BY status, severity`,
    pg`SELECT enrichment_status AS status, count(*) AS n FROM alerts WHERE status != 'closed' GROUP BY enrichment_status`,
  ]);
  const plain = <T>(rows: readonly unknown[]) => rows.map((r) => ({ ...(r as object) })) as T;
  return { heartbeats: plain(heartbeats), alerts: plain(alerts), enrichment: plain(enrichment) };
}

export const pgOverviewFns: PgTwin<typeof overviewFns> = { overview, stateCounts };
