// Delivery benchmark, standalone: KEEPWATCH_BIN=dist/keepwatch bun test/bench/deliveries.ts
// 1. throughput: N messages queued (held by an inactive webhook), then the webhook is activated;
//    a bare receiver on 127.0.0.1 answers 200; deliveries/s until the last is received, then
//    checks that every attempt was recorded.
// 2. lag: events ingested at a steady RATE/s for SECONDS; time from the ingest 202 to receipt.
// Loopback only; bounded in count and time. Prints the machine so the figures mean something.
import { Database } from "bun:sqlite";
import { cpus } from "node:os";
import { startKeepwatch, wrk } from "./lib";

const N = Number(process.env.BENCH_N ?? 20_000);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const CONCURRENCY = process.env.BENCH_CONCURRENCY ?? "64";

const received = new Map<string, number>();
let count = 0;
let firstAt = 0;
let lastAt = 0;
const receiver = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    const body = await req.text();
    if (count++ === 0) firstAt = performance.now();
    lastAt = performance.now();
    // only the lag phase needs the event id: cheap substring search instead of a parse
    const at = performance.now();
    const m = /"data":\{"id":"([0-9A-Z]{26})"/.exec(body);
    if (m) received.set(m[1], at);
    return new Response("ok");
  },
});
const url = `http://127.0.0.1:${receiver.port}/bench`;

const kw = await startKeepwatch({
  KEEPWATCH_OUTBOUND_ALLOW: "127.0.0.0/8",
  KEEPWATCH_WEBHOOK_CONCURRENCY: CONCURRENCY,
  ...(process.env.KEEPWATCH_DURABILITY ? { KEEPWATCH_DURABILITY: process.env.KEEPWATCH_DURABILITY } : {}),
  ...(process.env.KEEPWATCH_WEBHOOK_MAX_INFLIGHT ? { KEEPWATCH_WEBHOOK_MAX_INFLIGHT: process.env.KEEPWATCH_WEBHOOK_MAX_INFLIGHT } : {}),
});
const dir = kw.dir;
const admin = (path: string, method: string, body?: unknown) =>
  fetch(kw.url + path, {
    method,
    headers: { authorization: `Bearer ${kw.adminKey}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(async (r) => {
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r.json() as Promise<any>;
  });
const ingest = (events: unknown[]) =>
  fetch(kw.url + "/api/v1/events", { method: "POST", headers: { "x-api-key": kw.ingestKey, "content-type": "application/json" }, body: JSON.stringify(events) });
const ev = (i: number, source: string) => ({ type: "bench.event", module: "bench", source, summary: `event ${i}`, severity: "info", payload: { i, host: `h${i % 50}` } });

async function deadline<T>(p: () => boolean, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!p()) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await Bun.sleep(2);
  }
}

try {
  // ---- throughput
  const w1 = await admin("/v1/webhooks", "POST", { url, state: "inactive", rate_limit: 0, filters: { sources: ["tput"] } });
  for (let i = 0; i < N; i += 1000) {
    const r = await ingest(Array.from({ length: Math.min(1000, N - i) }, (_, k) => ev(i + k, "tput")));
    if (r.status !== 202) throw new Error(`ingest: ${r.status}`);
  }
  const t0 = performance.now();
  await admin(`/v1/webhooks/${w1.id}`, "PATCH", { state: "active" });
  const releaseMs = performance.now() - t0;
  await deadline(() => count >= N, 120_000, "throughput deliveries");
  const secs = (performance.now() - t0) / 1000;
  const sendSecs = (lastAt - firstAt) / 1000;
  // every attempt recorded (the outcome commit trails the receipt by a few ms)
  const db = new Database(`${dir}/keepwatch.db`, { readonly: true });
  const recorded = () => (db.query("SELECT count(*) AS n FROM delivery_attempts WHERE webhook_id = ?1").get(w1.id) as { n: number }).n;
  await deadline(() => recorded() >= N, 30_000, "attempts recorded");
  const recordedSecs = (performance.now() - t0) / 1000;
  await admin(`/v1/webhooks/${w1.id}`, "PATCH", { state: "inactive" });

  // ---- lag at a steady rate
  await admin("/v1/webhooks", "POST", { url, rate_limit: 0, filters: { sources: ["lag"] } });
  received.clear();
  const accepted = new Map<string, number>();
  const tickMs = 20;
  const perTick = Math.max(1, Math.round((RATE * tickMs) / 1000));
  const ticks = Math.round((SECONDS * 1000) / tickMs);
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let t = 0; t < ticks; t++) {
    const due = start + t * tickMs;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    for (let k = 0; k < perTick; k++) {
      // one event per request, as independent senders would
      inflight.push(
        ingest([ev(t * perTick + k, "lag")]).then(async (r) => {
          const at = performance.now();
          const id = ((await r.json()) as any).ids[0];
          accepted.set(id, at);
        }),
      );
    }
  }
  await Promise.all(inflight);
  await deadline(() => [...accepted.keys()].every((id) => received.has(id)), 30_000, "lag deliveries");
  const lags = [...accepted].map(([id, at]) => Math.max(0, received.get(id)! - at)).sort((a, b) => a - b);
  const pct = (p: number) => lags[Math.min(lags.length - 1, Math.floor((p / 100) * lags.length))];
  db.close();

  // ---- ingest with and without deliveries running: the same closed loop (wrk, 32 connections, one
  // event per request, in its own process so that this process's receiver does not slow the
  // load generator), alternating rounds; only the source differs
  const INGEST_SECONDS = Number(process.env.BENCH_INGEST_SECONDS ?? 6);
  const bodies = (source: string) => Array.from({ length: 50 }, (_, i) => JSON.stringify([ev(i, source)]));
  const hdrs = { "content-type": "application/json", "x-api-key": kw.ingestKey };
  const quietRounds: number[] = [];
  const busyRounds: number[] = [];
  let busyRequests = 0;
  const before = count;
  for (let r = 0; r < 2; r++) {
    const q = await wrk(kw.url + "/api/v1/events", bodies("nohook"), hdrs, { connections: 32, seconds: INGEST_SECONDS }); // matches no webhook
    const b = await wrk(kw.url + "/api/v1/events", bodies("lag"), hdrs, { connections: 32, seconds: INGEST_SECONDS }); // every event is also a signed delivery
    if (q.non2xx || b.non2xx) throw new Error(`ingest: ${q.non2xx + b.non2xx} non-2xx answers`);
    quietRounds.push(q.rps);
    busyRounds.push(b.rps);
    busyRequests += b.requests;
    // let the deliveries of this round drain before the next quiet round
    await deadline(() => count - before >= busyRequests, 60_000, "ingest-phase deliveries");
  }
  const quiet = quietRounds.reduce((a, b) => a + b, 0) / quietRounds.length;
  const busy = busyRounds.reduce((a, b) => a + b, 0) / busyRounds.length;

  const cpu = cpus();
  console.log(`machine: ${cpu.length} × ${cpu[0]?.model ?? "cpu"}, bun ${Bun.version}`);
  console.log(`throughput: ${N} signed deliveries, first to last receipt ${sendSecs.toFixed(2)} s = ${Math.round(N / sendSecs)} deliveries/s (concurrency ${CONCURRENCY})`);
  console.log(`  from activation, incl. queueing the ${N} held messages (${Math.round(releaseMs)} ms): ${secs.toFixed(2)} s = ${Math.round(N / secs)}/s; every attempt recorded after ${recordedSecs.toFixed(2)} s = ${Math.round(N / recordedSecs)}/s`);
  console.log(`ingest (wrk, 32 connections, 1 event/request, 2 alternating rounds of ${INGEST_SECONDS}s): ${Math.round(quiet)} req/s with no matching webhook, ${Math.round(busy)} req/s with a delivery per event = ${(busy / quiet).toFixed(2)}× (rounds: ${quietRounds.map(Math.round).join(", ")} / ${busyRounds.map(Math.round).join(", ")})`);
  console.log(`lag ingest 202 → receipt at ${RATE} events/s for ${SECONDS} s (${lags.length} events): p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${lags[lags.length - 1].toFixed(1)} ms`);
} finally {
  kw.proc.kill("SIGTERM");
  await kw.proc.exited;
  receiver.stop(true);
}
