// Issue 12, deliveries with 3 replicas at a steady rate: every message the cluster accepted is
// delivered, once, and the lane's bookkeeping (job_lanes: full, next_at, backlog) ends in step
// with the jobs and deliveries however the replicas' enqueues, claims and settles interleaved.
// One event per request, round-robin over 3 replicas of the built binary, open loop (each request
// sent at its time whether the earlier ones were answered), to one webhook without a rate limit.
// The webhook is created 1.2 s before the first event: the other replicas' webhook caches see a
// new webhook within 250 ms (documented: 1 s); an event a replica takes before that is not matched
// to it (that, not a lost message, was the "not delivered within 240 s" of the replicas bench at
// 500 events/s: it sent the first events right after creating its webhook).
// Bounded: RATE × SECONDS events (300/s × 4 s), every one delivered within 30 s of the last 202.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { clonedDatabase } from "./cluster";
import { seedKeys, startReplicas, stopAllReplicas, testSql, until, withKey, type ReplicaGroup } from "./replicas";

const RATE = Number(process.env.KEEPWATCH_REPLICA_LAG_RATE ?? 300);
const SECONDS = 4;

let db: { url: string; drop(): Promise<void> };
let group: ReplicaGroup | null = null;
let server: import("bun").Server<unknown> | null = null;
beforeAll(async () => {
  db = await clonedDatabase("rep_lag");
});
afterAll(async () => {
  server?.stop(true);
  await stopAllReplicas();
  await db?.drop();
});

test(`${RATE} events/s for ${SECONDS} s over 3 replicas, one request each, to one webhook: every accepted event's message arrives exactly once, and the lane ends idle with a zero backlog`, async () => {
  const byEvent = new Map<string, Set<string>>(); // event id → webhook-ids received for it
  let requests = 0;
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const j = JSON.parse(await req.text());
      requests++;
      const id = j.data?.id as string;
      if (!byEvent.has(id)) byEvent.set(id, new Set());
      byEvent.get(id)!.add(req.headers.get("webhook-id") ?? "");
      return new Response("ok");
    },
  });
  const keys = await seedKeys(db.url);
  group = await startReplicas(db.url, 3, { pool: 4, env: { KEEPWATCH_WEBHOOK_CONCURRENCY: "32", KEEPWATCH_JOB_LEASE: "30" } });
  const urls = group.urls();
  const hook = await fetch(
    urls[0] + "/v1/webhooks",
    withKey(keys.admin, { url: `http://127.0.0.1:${server.port}/`, triggers: ["event.received"], filters: { sources: ["lag"] }, rate_limit: 0 }),
  );
  expect(hook.status).toBe(201);
  const webhookId = ((await hook.json()) as { id: string }).id;
  await Bun.sleep(1200); // every replica's webhook cache sees it (issue 12: within 1 s)

  const accepted: string[] = [];
  let refused = 0;
  const total = RATE * SECONDS;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let n = 0; n < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * RATE) / 1000) + 1);
    for (; n < due; n++) {
      const body = [{ type: "lag.test", module: "replicas", source: "lag", summary: `e${n}`, severity: "info", payload: { n } }];
      inflight.push(
        fetch(urls[n % urls.length] + "/api/v1/events", { ...withKey(keys.ingest, body), signal: AbortSignal.timeout(15_000) })
          .then(async (r) => {
            if (r.status !== 202) {
              refused++;
              await r.arrayBuffer();
              return;
            }
            accepted.push(((await r.json()) as { ids: string[] }).ids[0]!);
          })
          .catch(() => void refused++),
      );
    }
    await Bun.sleep(2);
  }
  await Promise.all(inflight);
  // a loaded machine may refuse a few (503: the database did not answer in time); most are taken
  expect(accepted.length).toBeGreaterThan(total * 0.9);
  const missing = () => accepted.filter((id) => !byEvent.has(id));
  try {
    await until(() => missing().length === 0, 30_000, "every accepted event's message", 50);
  } catch (e) {
    const sql = testSql(db.url, 1);
    try {
      const lane = await sql`SELECT lane, next_at, ready_at, "full", backlog FROM job_lanes WHERE lane = ${webhookId}`;
      const jobs = await sql`SELECT state, count(*)::int AS n, min(run_at) AS run_at FROM jobs WHERE lane = ${webhookId} GROUP BY state`;
      const [now] = await sql`SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS t`;
      throw new Error(`${missing().length} of ${accepted.length} not delivered (e.g. ${missing().slice(0, 3).join(", ")}); lane ${JSON.stringify(lane)}; jobs ${JSON.stringify(jobs)}; db now ${now!.t}: ${e}`);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  // once: one message per event, received once (a second delivery would only follow a lost lease: none here)
  await Bun.sleep(500);
  for (const id of accepted) expect(byEvent.get(id)!.size).toBe(1);
  expect(requests).toBe(accepted.length);
  // the bookkeeping in step: every job and delivery settled, the lane not full, its backlog zero
  const sql = testSql(db.url, 1);
  try {
    const settled = async () => {
      const [j] = await sql`SELECT count(*) FILTER (WHERE state <> 'succeeded')::int AS open, count(*)::int AS n FROM jobs WHERE lane = ${webhookId}`;
      return j!.open === 0 ? j : null;
    };
    const j = await until(settled, 10_000, "every job settled");
    expect(j.n).toBe(accepted.length);
    const [d] = await sql`SELECT count(*) FILTER (WHERE status <> 'succeeded')::int AS open, count(*)::int AS n FROM deliveries WHERE webhook_id = ${webhookId}`;
    expect(d).toEqual({ open: 0, n: accepted.length });
    const [l] = await sql`SELECT "full", backlog::int AS backlog FROM job_lanes WHERE lane = ${webhookId}`;
    expect(l).toEqual({ full: 0, backlog: 0 });
  } finally {
    await sql.end({ timeout: 5 });
  }
  console.error(`replicas-lag: ${accepted.length} accepted, ${refused} refused, all delivered once`);
}, 60_000);
