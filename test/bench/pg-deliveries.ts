// What a delivery costs on PostgreSQL (issue 12), standalone:
//   KEEPWATCH_BIN=dist/keepwatch bun test/bench/pg-deliveries.ts      (BENCH_N messages, default 3,000)
// One replica on a throwaway cluster (fsync on, pg_stat_statements), one webhook to a local receiver:
// 1. deliveries: N messages ingested (500 per request) and delivered; deliveries/s (first to last
//    arrival), statements and commits per delivery (pg_stat_statements calls, xact_commit; the
//    ingest's few statements included), keepwatch and PostgreSQL CPU per delivery, and the
//    statements that ran most.
// 2. the release of held messages: the webhook deactivated, N/2 messages held, then activated:
//    statements of the activation (the release is set-based) and the time it took.
// Skipped, with a line saying so, when PostgreSQL is not installed.
import { readdirSync, readFileSync } from "node:fs";
import { findPgBin, startCluster } from "../pg/cluster";
import { cpuMs, fmt, machine, sampleEvent, startKeepwatch } from "./lib";

const N = Number(process.env.BENCH_N ?? 3_000);

if (!findPgBin()) {
  console.log("# pg-deliveries: skipped (PostgreSQL is not installed)");
  process.exit(0);
}

/** CPU ms of every postgres process of the cluster (the server and its backends) */
function pgCpuMs(): number {
  const msPerTick = 10;
  let sum = 0;
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (name !== "postgres") continue;
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      sum += (Number(f[11]) + Number(f[12])) * msPerTick;
    } catch {}
  }
  return sum;
}

const cluster = await startCluster({ settings: { shared_preload_libraries: "pg_stat_statements", "pg_stat_statements.track": "all", max_connections: "200" } });
try {
  console.log(`# pg-deliveries: ${N} messages, one webhook, one replica; machine: ${machine()}`);
  const url = await cluster.createDatabase("bench");
  const postgres = (await import("postgres")).default;
  const { pgOptions } = await import("../../src/db/pg-client");
  const o = pgOptions(cluster.urlFor("bench"), 2);
  const sql = postgres(o.url, o.options);
  await sql`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
  const counters = async () => {
    const [st] = await sql`SELECT coalesce(sum(calls), 0)::bigint AS calls FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bench')`;
    const [db] = await sql`SELECT xact_commit::bigint AS xacts FROM pg_stat_database WHERE datname = 'bench'`;
    return { calls: Number(st!.calls), xacts: Number(db!.xacts) };
  };

  let got = 0;
  let first = 0, last = 0;
  const receiver = Bun.serve({ port: 0, hostname: "127.0.0.1", async fetch(req) {
    await req.arrayBuffer();
    if (got++ === 0) first = performance.now();
    last = performance.now();
    return new Response("ok");
  } });
  const kw = await startKeepwatch({ KEEPWATCH_OUTBOUND_ALLOW: "127.0.0.0/8", KEEPWATCH_WEBHOOK_CONCURRENCY: "64" }, { databaseUrl: url });
  const admin = { authorization: `Bearer ${kw.adminKey}`, "content-type": "application/json" };
  const ingestH = { "content-type": "application/json", "x-api-key": kw.ingestKey };
  const wh = await fetch(kw.url + "/v1/webhooks", { method: "POST", headers: admin, body: JSON.stringify({ url: `http://127.0.0.1:${receiver.port}/bench`, rate_limit: 0 }) });
  if (wh.status >= 300) throw new Error(`webhook: ${wh.status} ${await wh.text()}`);
  const webhookId = ((await wh.json()) as { id: string }).id;
  const ingest = async (n: number, offset: number) => {
    for (let i = 0; i < n; i += 500) {
      const r = await fetch(kw.url + "/api/v1/events", { method: "POST", headers: ingestH, body: JSON.stringify(Array.from({ length: Math.min(500, n - i) }, (_, j) => sampleEvent(offset + i + j))) });
      if (r.status !== 202) throw new Error(`ingest: ${r.status} ${await r.text()}`);
    }
  };
  await sql`SELECT pg_stat_statements_reset()`;
  await Bun.sleep(300);

  // 1. deliveries
  const c0 = await counters();
  const k0 = cpuMs(kw.pid), p0 = pgCpuMs();
  await ingest(N, 0);
  const end = Date.now() + 180_000;
  while (got < N && Date.now() < end) await Bun.sleep(20);
  await Bun.sleep(300); // the last settle commits; the statistics are reported with a short delay
  const k1 = cpuMs(kw.pid), p1 = pgCpuMs();
  const c1 = await counters();
  const d = Math.max(1, got);
  console.log(`deliveries: ${got}/${N} received, ${fmt(got / ((last - first) / 1000), 0)} deliveries/s (first to last arrival)`);
  console.log(
    `per delivery: ${fmt((c1.calls - c0.calls) / d, 2)} statements, ${fmt((c1.xacts - c0.xacts) / d, 2)} commits, ` +
      `${fmt(((k1 - k0) * 1000) / d, 0)} µs keepwatch CPU, ${fmt(((p1 - p0) * 1000) / d, 0)} µs PostgreSQL CPU`,
  );
  const top = await sql`SELECT calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q FROM pg_stat_statements
                        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bench') ORDER BY calls DESC LIMIT 14`;
  for (const t of top) console.log(`  ${fmt(Number(t.calls) / d, 2).padStart(6)} /delivery  ${t.q}`);

  // 2. the release of held messages
  const held = Math.floor(N / 2);
  const patch = (state: string) => fetch(kw.url + `/v1/webhooks/${webhookId}`, { method: "PATCH", headers: admin, body: JSON.stringify({ state }) });
  if ((await patch("inactive")).status >= 300) throw new Error("deactivate failed");
  got = 0;
  await ingest(held, N);
  await Bun.sleep(300);
  await sql`SELECT pg_stat_statements_reset()`;
  const r0 = await counters();
  const t0 = performance.now();
  const act = await patch("active");
  const took = performance.now() - t0;
  if (act.status >= 300) throw new Error(`activate: ${act.status} ${await act.text()}`);
  await Bun.sleep(300);
  const r1 = await counters();
  console.log(
    `release of ${held} held messages: ${fmt(took, 0)} ms for the activation, ${r1.calls - r0.calls} statements until 300 ms after it ` +
      `(deliveries already running included; ${got} received by then)`,
  );
  const top2 = await sql`SELECT calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q FROM pg_stat_statements
                         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bench') ORDER BY calls DESC LIMIT 6`;
  for (const t of top2) console.log(`  ${String(t.calls).padStart(6)} calls (cumulative)  ${t.q}`);
  const end2 = Date.now() + 180_000;
  while (got < held && Date.now() < end2) await Bun.sleep(20);
  console.log(`released messages received: ${got}/${held}`);

  receiver.stop(true);
  kw.proc.kill("SIGTERM");
  await kw.proc.exited;
  await sql.end({ timeout: 5 });
} finally {
  await cluster.stop();
}
