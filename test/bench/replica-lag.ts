// Delivery lag across replicas (issue 12, item 4): N replicas (built binaries) on one throwaway
// PostgreSQL database, one webhook (plain or ordered) to a local receiver, events spread
// round-robin over the replicas at RATE events/s for SECONDS; lag = the receiver's clock at
// arrival − the client's clock when the ingest request was sent (same machine, one clock). Prints
// p50/p99/max. A measurement, not a test: `bun test/bench/replica-lag.ts [replicas] [rate] [seconds] [ordered]`
// (KEEPWATCH_BIN or dist/keepwatch; extra replica settings from the environment, e.g.
// KEEPWATCH_... variables, are passed to every replica).
import postgres from "postgres";
import { pgOptions } from "../../src/db/pg-client";
import { killSpawned, startBinary, tempDir } from "../helpers";
import { startCluster } from "../pg/cluster";
import { skipWithoutPostgres } from "./pglib";

const REPLICAS = Number(process.argv[2] ?? 3);
const RATE = Number(process.argv[3] ?? 500);
const SECONDS = Number(process.argv[4] ?? 10);
const ORDERED = (process.argv[5] ?? "plain") === "ordered";

skipWithoutPostgres("replica-lag");
// BENCH_STATEMENTS=1: the statements the run made, from pg_stat_statements (calls, ms, per message)
const STATEMENTS = process.env.BENCH_STATEMENTS === "1";
const cluster = await startCluster(STATEMENTS ? { settings: { shared_preload_libraries: "pg_stat_statements", "pg_stat_statements.track": "all" } } : {});
try {
  const url = await cluster.createDatabase("lag");
  if (STATEMENTS) {
    const { url: u0, options: o0 } = pgOptions(url, 1);
    const s0 = postgres(u0, o0);
    await s0`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
    await s0.end({ timeout: 5 });
  }
  const env: Record<string, string> = { KEEPWATCH_OUTBOUND_ALLOW: "127.0.0.0/8" };
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith("KEEPWATCH_") && k !== "KEEPWATCH_BIN" && v !== undefined) env[k] = v;
  const reps = [];
  for (let i = 0; i < REPLICAS; i++) reps.push(await startBinary(tempDir("kw-lag-"), ["--database-url", url], env));
  const { adminKey, ingestKey } = reps[0]!;
  const lags: number[] = [];
  // BENCH_STAGES=1: where each message's time went (send → 202 → job committed → claimed → receipt), from the rows
  const STAGES = process.env.BENCH_STAGES === "1";
  const arrival = new Map<string, number>();
  const accepted: number[] = [];
  const receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const body = await req.text();
      const at = Date.now();
      if (STAGES) arrival.set(req.headers.get("webhook-id") ?? "", at);
      for (const m of body.matchAll(/\\?"sent\\?":(\d+(?:\.\d+)?)/g)) lags.push(at - Number(m[1]));
      return new Response("ok");
    },
  });
  const hook = await fetch(reps[0]!.url + "/v1/webhooks", {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ url: `http://127.0.0.1:${receiver.port}/`, rate_limit: 0, ordered: ORDERED }),
  });
  if (hook.status !== 201) throw new Error(`webhook: ${hook.status} ${await hook.text()}`);
  await Bun.sleep(1500); // every replica's caches see the webhook (change counter, ≤ 1 s)
  const total = RATE * SECONDS;
  let sent = 0;
  let refused = 0;
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  while (sent < total) {
    const due = t0 + (sent * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await Bun.sleep(wait);
    const r = reps[sent % REPLICAS]!;
    const seq = sent;
    const body = JSON.stringify([{ type: "lag.test", module: "t", source: "lag", summary: `e${sent}`, severity: "info", payload: { sent: Date.now() } }]);
    sent++;
    inflight.push(
      fetch(r.url + "/api/v1/events", { method: "POST", headers: { "x-api-key": ingestKey, "content-type": "application/json" }, body })
        .then(async (res) => {
          if (res.status !== 202) refused++;
          accepted[seq] = Date.now();
          await res.arrayBuffer();
        })
        .catch(() => void refused++),
    );
  }
  await Promise.all(inflight);
  const sendMs = performance.now() - t0;
  const end = Date.now() + 30_000;
  while (lags.length < total - refused && Date.now() < end) await Bun.sleep(50);
  lags.sort((a, b) => a - b);
  const q = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))]!.toFixed(1);
  console.log(
    JSON.stringify({ replicas: REPLICAS, rate: RATE, seconds: SECONDS, ordered: ORDERED, sent: total, send_ms: Math.round(sendMs), refused, delivered: lags.length, lag_ms: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1) } }),
  );
  const { url: clean, options } = pgOptions(url, 1);
  const sql = postgres(clean, options);
  const [d] = await sql`SELECT count(*)::int AS n FROM deliveries WHERE status = 'succeeded'`;
  console.log(JSON.stringify({ deliveries_succeeded: d!.n }));
  if (STAGES) {
    // summary e<seq> → sent (payload), 202 (client), job created (db clock, in the ingest transaction), attempt started (claim), receipt
    const rows = await sql`SELECT d.body, j.created_at AS queued, a.started_at AS claimed, j.finished_at AS finished, d.id AS wid
                             FROM deliveries d JOIN jobs j ON j.id = d.job_id JOIN delivery_attempts a ON a.delivery_id = d.id AND a.attempt = 1`;
    const st: Record<string, number[]> = { send_202: [], send_queued: [], queued_claimed: [], claimed_receipt: [], receipt_settled: [], send_receipt: [] };
    for (const r of rows) {
      const seq = Number(/"summary":"e(\d+)"/.exec(r.body)?.[1]);
      const sentAt = Number(/"sent":(\d+)/.exec(r.body)?.[1]);
      const at = arrival.get(r.wid);
      if (at === undefined || accepted[seq] === undefined) continue;
      st.send_202!.push(accepted[seq]! - sentAt);
      st.send_queued!.push(Number(r.queued) - sentAt);
      st.queued_claimed!.push(Number(r.claimed) - Number(r.queued));
      st.claimed_receipt!.push(at - Number(r.claimed));
      st.receipt_settled!.push(Number(r.finished) - at);
      st.send_receipt!.push(at - sentAt);
    }
    // the worst lag of the messages sent in each 250 ms window: spread-out tails or one stall
    const win = new Map<number, number>();
    for (const r of rows) {
      const sentAt = Number(/"sent":(\d+)/.exec(r.body)?.[1]);
      const at = arrival.get(r.wid);
      if (at === undefined) continue;
      const w = Math.floor(sentAt / 250);
      win.set(w, Math.max(win.get(w) ?? 0, at - sentAt));
    }
    const ws = [...win.keys()].sort((a, b) => a - b);
    console.log(`worst lag per 250 ms of sending: ${ws.map((w) => win.get(w)).join(" ")}`);
    for (const [k, v] of Object.entries(st)) {
      v.sort((a, b) => a - b);
      const p = (x: number) => v[Math.min(v.length - 1, Math.floor(x * v.length))];
      console.log(`${k.padEnd(16)} n=${v.length} p50 ${p(0.5)} p90 ${p(0.9)} p99 ${p(0.99)} max ${p(1)}`);
    }
  }
  if (STATEMENTS) {
    const rows = await sql`SELECT calls::bigint AS calls, total_exec_time AS ms, left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 110) AS q
                             FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'lag') ORDER BY calls DESC LIMIT 30`;
    for (const r of rows) console.log(`${String(r.calls).padStart(7)} ${(Number(r.calls) / total).toFixed(2).padStart(6)}/msg ${Number(r.ms).toFixed(0).padStart(6)} ms  ${r.q}`);
  }
  await sql.end({ timeout: 5 });
  receiver.stop(true);
  for (const r of reps) r.proc.kill("SIGTERM");
  await Promise.all(reps.map((r) => r.proc.exited));
} finally {
  killSpawned();
  await cluster.stop();
}
