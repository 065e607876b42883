// The worst case of wake-ups across replicas (issue 12, item 4): replica A's worker has one slot
// (--webhook-concurrency 1) and it is taken by a slow delivery; an event ingested on A then has to
// be delivered by replica B, which hears of it by polling (--db-wake poll: up to the worker's 1 s
// poll) or by NOTIFY (--db-wake notify). ROUNDS rounds: a "block" event (its webhook's receiver
// answers after 1 s) on A, 100 ms later a "probe" event on A; lag = probe's arrival − its send.
// `KEEPWATCH_DB_WAKE=poll|notify bun test/bench/replica-wake.ts [rounds]` (KEEPWATCH_BIN or dist/keepwatch).
import { killSpawned, startBinary, tempDir } from "../helpers";
import { benchCluster, skipWithoutPostgres } from "./pglib";

const ROUNDS = Number(process.argv[2] ?? 15);
skipWithoutPostgres("replica-wake");
const { cluster, url } = await benchCluster("wake");
try {
  const env: Record<string, string> = { KEEPWATCH_OUTBOUND_ALLOW: "127.0.0.0/8", KEEPWATCH_DB_WAKE: process.env.KEEPWATCH_DB_WAKE ?? "notify" };
  const a = await startBinary(tempDir("kw-wake-a-"), ["--database-url", url, "--webhook-concurrency", "1"], env);
  const b = await startBinary(tempDir("kw-wake-b-"), ["--database-url", url], env);
  const lags: number[] = [];
  const receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const body = await req.text();
      const at = Date.now();
      if (new URL(req.url).pathname === "/slow") await Bun.sleep(1000);
      else for (const m of body.matchAll(/\\?"sent\\?":(\d+)/g)) lags.push(at - Number(m[1]));
      return new Response("ok");
    },
  });
  const hook = (path: string, source: string) =>
    fetch(a.url + "/v1/webhooks", {
      method: "POST",
      headers: { authorization: `Bearer ${a.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ url: `http://127.0.0.1:${receiver.port}${path}`, rate_limit: 0, filters: { sources: [source] } }),
    }).then((r) => {
      if (r.status !== 201) throw new Error(`webhook ${r.status}`);
    });
  await hook("/slow", "block");
  await hook("/fast", "probe");
  await Bun.sleep(1500);
  const send = (source: string) =>
    fetch(a.url + "/api/v1/events", {
      method: "POST",
      headers: { "x-api-key": a.ingestKey, "content-type": "application/json" },
      body: JSON.stringify([{ type: "wake.test", module: "t", source, summary: source, severity: "info", payload: { sent: Date.now() } }]),
    }).then((r) => r.arrayBuffer());
  for (let i = 0; i < ROUNDS; i++) {
    await send("block");
    await Bun.sleep(100);
    await send("probe");
    await Bun.sleep(1300);
  }
  const end = Date.now() + 10_000;
  while (lags.length < ROUNDS && Date.now() < end) await Bun.sleep(50);
  lags.sort((x, y) => x - y);
  const q = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))];
  console.log(JSON.stringify({ wake: env.KEEPWATCH_DB_WAKE, rounds: ROUNDS, delivered: lags.length, lag_ms: { p50: q(0.5), p90: q(0.9), max: q(1) }, all: lags }));
  receiver.stop(true);
  a.proc.kill("SIGTERM");
  b.proc.kill("SIGTERM");
  await Promise.all([a.proc.exited, b.proc.exited]);
} finally {
  killSpawned();
  await cluster.stop();
}
