// Issue 12: 1,000 heartbeats going down while 3 replicas of the built binary race for their
// deadlines (every replica sweeps; the due rows are taken FOR UPDATE SKIP LOCKED): exactly 1,000
// down flips, 1,000 alerts and 1,000 `heartbeat.down` messages, each received once.
// KEEPWATCH_REPLICA_HEARTBEATS scales the count (default: the 1,000).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { clonedDatabase } from "./cluster";
import { seedKeys, spreader, startReplicas, stopAllReplicas, testSql, until, withKey, type ReplicaGroup } from "./replicas";

const N = Number(process.env.KEEPWATCH_REPLICA_HEARTBEATS ?? 1000);
const PERIOD_S = 3;

let db: { url: string; drop(): Promise<void> };
let group: ReplicaGroup | null = null;
let server: import("bun").Server<unknown> | null = null;
beforeAll(async () => {
  db = await clonedDatabase("rep_hb");
});
afterAll(async () => {
  server?.stop(true);
  await stopAllReplicas();
  await db?.drop();
});

/** Runs `f(i)` for i in [0, n) with `width` at a time. */
async function pool(n: number, width: number, f: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < n; i = next++) await f(i);
    }),
  );
}

test(`${N} heartbeats going down while 3 replicas race: exactly ${N} down flips, ${N} alerts, ${N} heartbeat.down messages`, async () => {
  const got: { webhookId: string; type: string; body: string }[] = [];
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const body = await req.text();
      got.push({ webhookId: req.headers.get("webhook-id") ?? "", type: JSON.parse(body).type, body });
      return new Response("ok");
    },
  });
  const keys = await seedKeys(db.url);
  // the default job lease (120 s): nothing is killed here, so every message is sent exactly once
  // (with the harness's 2 s lease a delivery whose outcome took longer to record on this loaded
  // machine was sent again, same webhook-id, as a lease that ran out allows)
  group = await startReplicas(db.url, 3, { pool: 3, env: { KEEPWATCH_JOB_LEASE: "120" } });
  const client = spreader(group, 15_000);
  const hook = await client.send(
    "/v1/webhooks",
    withKey(keys.admin, { url: `http://127.0.0.1:${server.port}/down`, triggers: ["heartbeat.down"], rate_limit: 0 }),
    group.replicas[0]!.url,
  );
  expect(hook.status).toBe(201);
  await Bun.sleep(1200); // every replica's webhook cache has it (≤ 1 s)

  // create them through all three replicas, then a first beat each (through all three): each is
  // due PERIOD_S after its beat, and down then (grace 0)
  const tokens: string[] = new Array(N);
  const started = Date.now();
  await pool(N, 8, async (i) => {
    const r = await client.send("/v1/heartbeats", withKey(keys.admin, { name: `hb-${i}`, period: PERIOD_S, grace: 0, severity: "high" }));
    if (r.status !== 201) throw new Error(`create hb-${i}: ${r.status} ${await r.res?.text()}`);
    tokens[i] = ((await r.res!.json()) as any).ping_url.split("/ping/")[1];
  });
  const created = Date.now();
  await pool(N, 8, async (i) => {
    const t = Date.now();
    const r = await client.send(`/ping/${tokens[i]}`);
    if (r.status === 0) {
      const q = testSql(db.url, 1);
      console.error(JSON.stringify([...(await q`SELECT pid, state, wait_event_type, wait_event, now() - xact_start AS xact, left(query, 200) AS q FROM pg_stat_activity WHERE datname = current_database()`)], null, 1));
      await q.end();
    }
    if (r.status !== 200 && r.status !== 202) throw new Error(`ping hb-${i} to ${r.url}: ${r.status} ${r.error ?? (await r.res?.text())} after ${Date.now() - t} ms`);
    await r.res!.arrayBuffer();
  });
  const pinged = Date.now();

  const sql = testSql(db.url);
  try {
    const downFlips = async () => (await sql`SELECT count(*)::int AS n FROM heartbeat_flips WHERE to_state = 'down'`)[0]!.n as number;
    await until(async () => (await downFlips()) >= N, 60_000, `${N} down flips`, 200);
    await until(() => got.length >= N, 60_000, `${N} heartbeat.down messages (have ${got.length})`, 100);
    // a little longer: a second flip, alert or message would show now
    await Bun.sleep(2000);
    console.log(
      `replicas-heartbeats: ${N} created in ${((created - started) / 1000).toFixed(1)} s, pinged in ${((pinged - created) / 1000).toFixed(1)} s, all down and delivered ${((Date.now() - 2000 - pinged) / 1000).toFixed(1)} s later`,
    );

    const flips = await sql`SELECT from_state || '>' || to_state AS f, count(*)::int AS n, count(DISTINCT heartbeat_id)::int AS hbs FROM heartbeat_flips GROUP BY 1 ORDER BY 1`;
    expect([...flips].map((r) => `${r.f} ${r.n} ${r.hbs}`)).toEqual([`new>up ${N} ${N}`, `up>down ${N} ${N}`]);
    const [states] = await sql`SELECT count(*) FILTER (WHERE state = 'down')::int AS down, count(*)::int AS n FROM heartbeats`;
    expect(states).toEqual({ down: N, n: N });
    const [alerts] = await sql`SELECT count(*)::int AS n, count(DISTINCT fingerprint)::int AS fps FROM alerts`;
    expect(alerts).toEqual({ n: N, fps: N });
    const [msgs] = await sql`SELECT count(*)::int AS n FROM deliveries WHERE type = 'heartbeat.down'`;
    expect(msgs!.n).toBe(N);
  } finally {
    await sql.end({ timeout: 5 });
  }
  const perId = new Map<string, number>();
  for (const g of got) perId.set(g.webhookId, (perId.get(g.webhookId) ?? 0) + 1);
  console.log(`replicas-heartbeats: ${got.length} requests for ${perId.size} messages`);
  expect(perId.size).toBe(N);
  expect(got.length).toBe(N);
  expect(got.every((g) => g.type === "heartbeat.down")).toBe(true);
  expect(new Set(got.map((g) => g.webhookId)).size).toBe(N);
  expect(await group.stop()).toEqual([0, 0, 0]);
}, 180_000);
