// Issue 12: PostgreSQL stopped for 5 s under ingest load on 2 replicas of the built binary: only 202
// and 503 (with Retry-After) answers, none acknowledged while it is down, nothing answered 202 lost,
// and both replicas serve again by themselves (no restart) when it is back. Its own cluster: the
// stop takes the whole PostgreSQL server down.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startCluster, type Cluster } from "./cluster";
import { seedKeys, startReplicas, stopAllReplicas, testSql, type ReplicaGroup } from "./replicas";

let cluster: Cluster;
let group: ReplicaGroup | null = null;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await stopAllReplicas();
  await cluster?.stop();
});

test("PostgreSQL stopped for 5 s under load on 2 replicas: only 202/503 (Retry-After), nothing lost, both recover by themselves", async () => {
  const url = await cluster.createDatabase("outage");
  const { migratePg } = await import("../../src/db/pg-migrate");
  const m = testSql(url, 1);
  try {
    await migratePg(m as any);
  } finally {
    await m.end({ timeout: 5 });
  }
  const keys = await seedKeys(url);
  group = await startReplicas(url, 2, { pool: 3 });
  const urls = group.urls();
  // 8 clients per replica, posting 5-item batches until stopped; every status counted per replica
  const acked: string[] = [];
  const ackedAt: { replica: number; at: number }[] = [];
  const statuses = new Map<string, number>();
  let missingRetryAfter = 0;
  let stop = false;
  let batchNo = 0;
  const clients = Array.from({ length: 16 }, async (_, c) => {
    const replica = c % 2;
    while (!stop) {
      const b = batchNo++;
      const items = Array.from({ length: 5 }, (_, i) => ({ type: "outage.test", module: "replicas", source: "outage", summary: `b${b} i${i}`, severity: "info", payload: { b, i } }));
      let status = 0;
      try {
        const r = await fetch(urls[replica]! + "/api/v1/events", {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": keys.ingest },
          body: JSON.stringify(items),
          signal: AbortSignal.timeout(10_000),
        });
        status = r.status;
        if (r.status === 202) {
          acked.push(...((await r.json()) as any).ids);
          ackedAt.push({ replica, at: Date.now() });
        } else {
          if (r.status === 503 && !r.headers.get("retry-after")) missingRetryAfter++;
          await r.arrayBuffer();
        }
      } catch {
        status = 0; // a timeout or a dropped connection: counted, and a failure below
      }
      statuses.set(`${replica}:${status}`, (statuses.get(`${replica}:${status}`) ?? 0) + 1);
      if (status !== 202) await Bun.sleep(20);
    }
  });
  await Bun.sleep(1500);
  const before = acked.length;
  await cluster.pause();
  const downAt = Date.now();
  await Bun.sleep(1000);
  const during: number[] = [];
  for (const u of urls) during.push((await fetch(u + "/readyz")).status);
  const duringStart = acked.length;
  await Bun.sleep(Math.max(0, 5000 - (Date.now() - downAt)));
  const duringEnd = acked.length;
  await cluster.resume();
  const upAt = Date.now();
  // both recover without a restart: each replica answers 202 again
  const deadline = Date.now() + 20_000;
  const recovered = (r: number) => ackedAt.some((a) => a.replica === r && a.at > upAt);
  while (!(recovered(0) && recovered(1)) && Date.now() < deadline) await Bun.sleep(50);
  const recoveredAfter = [0, 1].map((r) => (ackedAt.find((a) => a.replica === r && a.at > upAt)?.at ?? NaN) - upAt);
  await Bun.sleep(500);
  stop = true;
  await Promise.all(clients);
  console.log(`replicas-outage: statuses (replica:status) ${JSON.stringify(Object.fromEntries(statuses))}; 202 again ${recoveredAfter.join(" and ")} ms after PostgreSQL was back`);
  expect(before).toBeGreaterThan(0);
  expect(during).toEqual([503, 503]);
  expect(duringEnd - duringStart).toBe(0); // nothing acknowledged while the database was down
  expect(recovered(0)).toBe(true);
  expect(recovered(1)).toBe(true);
  expect([...statuses.keys()].sort()).toEqual(["0:202", "0:503", "1:202", "1:503"]);
  expect(missingRetryAfter).toBe(0);
  for (const u of urls) expect((await fetch(u + "/readyz")).status).toBe(200);
  const sql = testSql(url);
  try {
    const ids = new Set((await sql`SELECT id FROM events WHERE source = 'outage'`).map((r) => r.id as string));
    expect(acked.filter((id) => !ids.has(id))).toEqual([]);
  } finally {
    await sql.end({ timeout: 5 });
  }
  expect(await group.stop()).toEqual([0, 0]);
}, 120_000);
