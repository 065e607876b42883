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
import { cpuMs, fmt, machine, sampleEvent, startKeepwatch } from "./lib";
import { countingReceiver, skipWithoutPostgres, statsCluster } from "./pglib";

const N = Number(process.env.BENCH_N ?? 3_000);

skipWithoutPostgres("pg-deliveries");
const pg = await statsCluster("bench");
try {
  console.log(`# pg-deliveries: ${N} messages, one webhook, one replica; machine: ${machine()}`);
  const { url, sql, counters } = pg;

  const receiver = countingReceiver();
  const kw = await startKeepwatch({ KEEPWATCH_OUTBOUND_ALLOW: "127.0.0.0/8", KEEPWATCH_WEBHOOK_CONCURRENCY: "64" }, { databaseUrl: url });
  const admin = { authorization: `Bearer ${kw.adminKey}`, "content-type": "application/json" };
  const ingestH = { "content-type": "application/json", "x-api-key": kw.ingestKey };
  const wh = await fetch(kw.url + "/v1/webhooks", { method: "POST", headers: admin, body: JSON.stringify({ url: receiver.url, rate_limit: 0 }) });
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
  const k0 = cpuMs(kw.pid), p0 = pg.cpuMs();
  await ingest(N, 0);
  const end = Date.now() + 180_000;
  while (receiver.got < N && Date.now() < end) await Bun.sleep(20);
  await Bun.sleep(300); // the last settle commits; the statistics are reported with a short delay
  const k1 = cpuMs(kw.pid), p1 = pg.cpuMs();
  const c1 = await counters();
  const d = Math.max(1, receiver.got);
  console.log(`deliveries: ${receiver.got}/${N} received, ${fmt(receiver.got / ((receiver.last - receiver.first) / 1000), 0)} deliveries/s (first to last arrival)`);
  console.log(
    `per delivery: ${fmt((c1.calls - c0.calls) / d, 2)} statements, ${fmt((c1.xacts - c0.xacts) / d, 2)} commits, ` +
      `${fmt(((k1 - k0) * 1000) / d, 0)} µs keepwatch CPU, ${fmt(((p1 - p0) * 1000) / d, 0)} µs PostgreSQL CPU`,
  );
  for (const t of await pg.top(14)) console.log(`  ${fmt(t.calls / d, 2).padStart(6)} /delivery  ${t.q}`);

  // 2. the release of held messages
  const held = Math.floor(N / 2);
  const patch = (state: string) => fetch(kw.url + `/v1/webhooks/${webhookId}`, { method: "PATCH", headers: admin, body: JSON.stringify({ state }) });
  if ((await patch("inactive")).status >= 300) throw new Error("deactivate failed");
  receiver.got = 0;
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
      `(deliveries already running included; ${receiver.got} received by then)`,
  );
  for (const t of await pg.top(6)) console.log(`  ${String(t.calls).padStart(6)} calls (cumulative)  ${t.q}`);
  const end2 = Date.now() + 180_000;
  while (receiver.got < held && Date.now() < end2) await Bun.sleep(20);
  console.log(`released messages received: ${receiver.got}/${held}`);

  receiver.stop();
  kw.proc.kill("SIGTERM");
  await kw.proc.exited;
} finally {
  await pg.stop();
}
