// Issue 12: 3 replicas of the built binary on one PostgreSQL database; a client spreads 20,000 events
// over them while one replica is killed with -9 and restarted. Every item answered 202 is stored
// exactly once: a 503 or a connection error is retried on another replica with the same
// Idempotency-Key (half of the batches) or the same item ids (the other half), and neither kind of
// retry may store anything twice; every 10th batch is also sent again after its 202 and must be
// answered with the same ids. KEEPWATCH_REPLICA_EVENTS scales the count (default: the issue's).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { clonedDatabase } from "./cluster";
import { seedKeys, spreader, startReplicas, stopAllReplicas, testSql, type ReplicaGroup } from "./replicas";

const EVENTS = Number(process.env.KEEPWATCH_REPLICA_EVENTS ?? 20_000);
const BATCH = 50;
const CLIENTS = 12;

let db: { url: string; drop(): Promise<void> };
let group: ReplicaGroup | null = null;
beforeAll(async () => {
  db = await clonedDatabase("rep_ingest");
});
afterAll(async () => {
  await stopAllReplicas();
  await db?.drop();
});

test(`3 replicas, ${EVENTS} events spread over them, one killed -9 and restarted: every 202'd item stored exactly once`, async () => {
  const keys = await seedKeys(db.url);
  group = await startReplicas(db.url, 3, { pool: 3 });
  const client = spreader(group, 10_000);
  const batches = Math.ceil(EVENTS / BATCH);
  const acked = new Map<number, string[]>(); // batch -> ids of its 202
  const statuses = new Map<number, number>();
  let retries = 0;
  const resent: { b: number; headers: Record<string, string>; body: string; ids: string[] }[] = [];
  let next = 0;
  const run = async () => {
    for (;;) {
      const b = next++;
      if (b >= batches) return;
      const byKey = b % 2 === 0; // even batches: Idempotency-Key; odd: item ids
      const items = Array.from({ length: Math.min(BATCH, EVENTS - b * BATCH) }, (_, i) => {
        const seq = b * BATCH + i;
        return {
          type: "replica.test",
          module: "replicas",
          source: "replica-load",
          summary: `seq-${seq}`,
          severity: "info",
          payload: { seq },
          ...(byKey ? {} : { id: `item-${seq}` }),
        };
      });
      const body = JSON.stringify(items);
      const headers: Record<string, string> = { "content-type": "application/json", "x-api-key": keys.ingest };
      if (byKey) headers["idempotency-key"] = `batch-${b}`;
      for (let attempt = 0; ; attempt++) {
        if (attempt > 200) throw new Error(`batch ${b} never got a 202`);
        if (attempt > 0) retries++;
        const r = await client.send("/api/v1/events", { method: "POST", headers, body });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 202) {
          const ids = ((await r.res!.json()) as any).ids as string[];
          acked.set(b, ids);
          // every 10th batch is sent once more after its 202 (to the next replica): a client that
          // retries although it was answered gets the same ids, and nothing is stored twice
          if (b % 10 === 3) resent.push({ b, headers, body, ids });
          break;
        }
        await r.res?.arrayBuffer();
        // only a refusal to serve (503) or a dead connection (0) is expected here
        if (r.status !== 503 && r.status !== 0) throw new Error(`batch ${b}: unexpected ${r.status}`);
        await Bun.sleep(50);
      }
    }
  };
  const started = Date.now();
  const clients = Array.from({ length: CLIENTS }, run);
  // the kill mid-way: replica 1 dies with requests in flight, and comes back a second later
  while (acked.size < batches / 3) await Bun.sleep(20);
  await group.kill(1);
  const killedAt = acked.size;
  await Bun.sleep(1000);
  await group.restart(1);
  await Promise.all(clients);
  // the repeats of answered batches (see above): same ids, whichever replica answers
  const mismatched: string[] = [];
  for (const x of resent) {
    for (let attempt = 0; ; attempt++) {
      const r = await client.send("/api/v1/events", { method: "POST", headers: x.headers, body: x.body });
      if (r.status === 202) {
        const ids = ((await r.res!.json()) as any).ids as string[];
        if (JSON.stringify(ids) !== JSON.stringify(x.ids)) mismatched.push(`batch ${x.b} (${x.headers["idempotency-key"] ? "Idempotency-Key" : "item ids"})`);
        break;
      }
      await r.res?.arrayBuffer();
      if (attempt > 50) throw new Error(`repeat of batch ${x.b}: ${r.status}`);
      await Bun.sleep(50);
    }
  }
  expect(resent.length).toBe(Math.floor((batches + 6) / 10));
  expect(mismatched).toEqual([]);
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `replicas-ingest: ${EVENTS} events in ${batches} batches over 3 replicas in ${seconds.toFixed(1)} s (${Math.round(EVENTS / seconds)} events/s); killed at batch ${killedAt}; statuses ${JSON.stringify(Object.fromEntries(statuses))}; ${retries} retries`,
  );
  expect(acked.size).toBe(batches);
  expect([...statuses.keys()].filter((s) => s !== 202 && s !== 503 && s !== 0)).toEqual([]);

  const sql = testSql(db.url);
  try {
    const ackedIds = [...acked.values()].flat();
    expect(ackedIds.length).toBe(EVENTS);
    expect(new Set(ackedIds).size).toBe(EVENTS); // no two items answered with one id
    const rows = await sql`SELECT id, summary FROM events WHERE source = 'replica-load'`;
    const stored = new Map(rows.map((r) => [r.id as string, r.summary as string]));
    // every 202'd id is there, and it is the item it was answered for
    const missing: string[] = [];
    const wrong: string[] = [];
    for (const [b, ids] of acked)
      ids.forEach((id, i) => {
        const s = stored.get(id);
        if (s === undefined) missing.push(id);
        else if (s !== `seq-${b * BATCH + i}`) wrong.push(`${id}: ${s} ≠ seq-${b * BATCH + i}`);
      });
    expect(missing).toEqual([]);
    expect(wrong).toEqual([]);
    // stored once: no item twice (a retry with the same Idempotency-Key or item id stores nothing)
    const dup = await sql`SELECT summary, count(*)::int AS n FROM events WHERE source = 'replica-load' GROUP BY summary HAVING count(*) > 1 LIMIT 20`;
    expect(dup.map((r) => `${r.summary}×${r.n}`)).toEqual([]);
    expect(rows.length).toBe(EVENTS);
  } finally {
    await sql.end({ timeout: 5 });
  }
  // the restarted replica serves, and every replica stops cleanly
  for (const u of group.urls()) expect((await fetch(u + "/readyz")).status).toBe(200);
  expect(await group.stop()).toEqual([0, 0, 0]);
}, 180_000);
