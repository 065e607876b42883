// PostgreSQL durability with the built binary (issue 11): kill -9 under ingest load loses no event
// answered 202; PostgreSQL stopped for 5 s under load gives only 503 (+ Retry-After) meanwhile,
// loses nothing answered 202, and keepwatch serves again by itself when the database is back.
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { rmSync } from "node:fs";
import { pgOptions } from "../../src/db/pg-client";
import { killSpawned, startBinary, tempDir } from "../helpers";
import { startCluster, type Cluster } from "./cluster";

let cluster: Cluster;
const dirs: string[] = [];
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  killSpawned();
  await cluster?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const sqlFor = (url: string) => {
  const o = pgOptions(url, 2);
  return postgres(o.url, o.options);
};

/** 16 clients posting 5-item batches until stopped; every status counted, every 202'd id kept. */
function load(url: string, key: string) {
  const acked: string[] = [];
  const statuses = new Map<number, number>();
  let missingRetryAfter = 0;
  let stop = false;
  let batchNo = 0;
  const clients = Array.from({ length: 16 }, async () => {
    while (!stop) {
      const b = batchNo++;
      const items = Array.from({ length: 5 }, (_, i) => ({ title: `batch ${b} item ${i}`, severity: "High", tags: [`batch-${b}`], indicators: [{ type: "ip", value: `10.${b % 250}.${i}.1` }] }));
      try {
        // bounded: a request that hangs is a failure of its own (status 0), not a stuck test
        const r = await fetch(url + "/v1/ingest/generic", { method: "POST", headers: { "content-type": "application/json", "x-api-key": key }, body: JSON.stringify(items), signal: AbortSignal.timeout(10_000) });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 202) acked.push(...((await r.json()) as any).ids);
        else {
          if (r.status === 503 && !r.headers.get("retry-after")) missingRetryAfter++;
          await r.arrayBuffer();
          await Bun.sleep(20);
        }
      } catch (e) {
        if ((e as Error)?.name === "TimeoutError") statuses.set(0, (statuses.get(0) ?? 0) + 1);
        await Bun.sleep(20); // connection refused after a kill: try again until stopped
      }
    }
  });
  return {
    acked,
    statuses,
    missingRetryAfter: () => missingRetryAfter,
    async stop() {
      stop = true;
      await Promise.all(clients);
    },
  };
}

test("kill -9 under ingest load on PostgreSQL loses no event answered 202, and leaves no partial batch", async () => {
  const url = await cluster.createDatabase("crash");
  const dir = tempDir("kw-pg-crash-");
  dirs.push(dir);
  const s = await startBinary(dir, ["--database-url", url]);
  const l = load(s.url, s.ingestKey);
  await Bun.sleep(1500);
  s.proc.kill("SIGKILL");
  await s.proc.exited;
  await l.stop();
  expect(l.acked.length).toBeGreaterThan(50);
  const sql = sqlFor(url);
  try {
    const ids = new Set((await sql`SELECT id FROM events`).map((r) => r.id as string));
    expect(l.acked.filter((id) => !ids.has(id))).toEqual([]);
    const partial = await sql`SELECT tags::text AS tags, count(*)::int AS n FROM events GROUP BY tags::text HAVING count(*) <> 5`;
    expect(partial.map((r) => r.tags)).toEqual([]);
  } finally {
    await sql.end({ timeout: 5 });
  }
  // and it starts again on the same database
  const again = await startBinary(dir, ["--database-url", url]);
  expect((await fetch(again.url + "/readyz")).status).toBe(200);
  again.proc.kill("SIGTERM");
  expect(await again.proc.exited).toBe(0);
}, 60_000);

test("PostgreSQL stopped for 5 s under load: only 202 and 503 (with Retry-After), nothing lost, keepwatch recovers by itself", async () => {
  const url = await cluster.createDatabase("outage");
  const dir = tempDir("kw-pg-outage-");
  dirs.push(dir);
  const s = await startBinary(dir, ["--database-url", url]);
  const l = load(s.url, s.ingestKey);
  await Bun.sleep(1000);
  const before = l.acked.length;
  await cluster.pause();
  await Bun.sleep(1000);
  // while the database is down: /readyz says so, ingest answers 503
  expect((await fetch(s.url + "/readyz")).status).toBe(503);
  const duringStart = l.acked.length;
  await Bun.sleep(4000);
  const duringEnd = l.acked.length;
  await cluster.resume();
  // recovers without a restart: 202s again within a few seconds
  const deadline = Date.now() + 15_000;
  while (l.acked.length === duringEnd && Date.now() < deadline) await Bun.sleep(100);
  await Bun.sleep(500);
  await l.stop();
  expect(before).toBeGreaterThan(0);
  expect(duringEnd - duringStart).toBe(0); // nothing acknowledged while the database was down
  expect(l.acked.length).toBeGreaterThan(duringEnd);
  expect([...l.statuses.keys()].sort()).toEqual([202, 503]);
  expect(l.missingRetryAfter()).toBe(0);
  expect((await fetch(s.url + "/readyz")).status).toBe(200);
  const sql = sqlFor(url);
  try {
    const ids = new Set((await sql`SELECT id FROM events`).map((r) => r.id as string));
    expect(l.acked.filter((id) => !ids.has(id))).toEqual([]);
  } finally {
    await sql.end({ timeout: 5 });
  }
  s.proc.kill("SIGTERM");
  expect(await s.proc.exited).toBe(0);
}, 90_000);
