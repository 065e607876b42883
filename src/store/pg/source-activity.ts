// What each source received, on PostgreSQL: the twin of src/store/source-activity.ts, one
// statement for every source (a LATERAL pair of index reads per name on (tenant_id, source_name, id)).
import { ulidFloor } from "../../lib/ids";
import type { PgConn, PgTwin } from "../contract";
import type { SourceActivity, sourceActivityFns } from "../source-activity";

export async function pgSourceActivity(conn: PgConn, tenantId: string, sourceNames: string[], since: number): Promise<Map<string, SourceActivity>> {
  const out = new Map<string, SourceActivity>();
  if (!sourceNames.length) return out;
  const rows = await conn.unsafe(
    `SELECT s.name,
            (SELECT count(*) FROM events e WHERE e.tenant_id = $1 AND e.source_name = s.name AND e.id >= $3) AS n,
            (SELECT e.received_at FROM events e WHERE e.tenant_id = $1 AND e.source_name = s.name ORDER BY e.id DESC LIMIT 1) AS at
       FROM unnest($2::text[]) AS s(name)`,
    [tenantId, sourceNames, ulidFloor(since)] as any[],
  );
  for (const r of rows) out.set(r.name as string, { count: Number(r.n), lastAt: r.at === null ? null : Number(r.at) });
  // the order of the names asked for, as on SQLite
  return new Map(sourceNames.map((n) => [n, out.get(n) ?? { count: 0, lastAt: null }]));
}

export const pgSourceActivityFns: PgTwin<typeof sourceActivityFns> = { sourceActivity: pgSourceActivity };
