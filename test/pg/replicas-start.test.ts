// Issue 12: 10 replicas of the built binary started at once against an empty PostgreSQL database:
// one applies the migrations (the others wait on its advisory lock and find nothing to do), one
// creates the first tenant and prints its keys, and all ten serve with those keys.
import { afterAll, expect, test } from "bun:test";
import { embeddedJournal } from "../../src/db/pg-migrations.gen";
import { sharedCluster } from "./cluster";
import { startReplicas, stopAllReplicas, testSql, withKey } from "./replicas";

const N = 10;
let drop: (() => Promise<void>) | null = null;
afterAll(async () => {
  await stopAllReplicas();
  await drop?.();
});

test(`${N} replicas started at once against an empty database: one migrates, one bootstraps, all serve`, async () => {
  const cluster = await sharedCluster();
  const name = `rep_start_${process.pid}`;
  const url = await cluster.createDatabase(name);
  drop = async () => {
    const sql = testSql(cluster.url, 1);
    try {
      await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await sql.end({ timeout: 5 });
    }
  };
  const started = Date.now();
  const group = await startReplicas(url, N, { pool: 2, startTimeoutMs: 90_000 });
  console.log(`replicas-start: ${N} replicas listening ${((Date.now() - started) / 1000).toFixed(1)} s after the spawn`);
  const outputs = group.replicas.map((r) => r.output());
  // one migrated, and the schema was migrated once
  expect(outputs.filter((o) => o.includes("database schema migrated")).length).toBe(1);
  // one bootstrapped: the first-start keys are printed by exactly one replica
  const printers = outputs.filter((o) => /^admin key: kw_/m.test(o));
  expect(printers.length).toBe(1);
  const admin = /^admin key: (kw_\S+)$/m.exec(printers[0]!)![1]!;
  const ingest = /^ingest key: (kw_\S+)$/m.exec(printers[0]!)![1]!;
  const sql = testSql(url);
  try {
    const migrations = await sql`SELECT hash FROM drizzle.__drizzle_migrations`;
    expect(migrations.length).toBe(embeddedJournal.entries.length);
    expect(new Set(migrations.map((m) => m.hash)).size).toBe(migrations.length);
    expect((await sql`SELECT count(*)::int AS n FROM tenants`)[0]!.n).toBe(1);
    expect((await sql`SELECT count(*)::int AS n FROM api_keys`)[0]!.n).toBe(2);
  } finally {
    await sql.end({ timeout: 5 });
  }
  // all serve: ready, ingest with the printed key on every one, and read it back from every one
  const ids: string[] = [];
  for (const r of group.replicas) {
    expect((await fetch(r.url + "/readyz")).status).toBe(200);
    const res = await fetch(r.url + "/api/v1/events", withKey(ingest, { type: "start.test", module: "replicas", source: "start", summary: `via ${r.index}`, severity: "info", payload: {} }));
    expect(res.status).toBe(202);
    ids.push(...((await res.json()) as any).ids);
  }
  for (const r of group.replicas) {
    const res = await fetch(r.url + "/v1/events?source=start&limit=100", withKey(admin));
    expect(res.status).toBe(200);
    expect((((await res.json()) as any).items as any[]).map((e) => e.id).sort()).toEqual([...ids].sort());
  }
  expect(await group.stop()).toEqual(Array(N).fill(0));
}, 180_000);
