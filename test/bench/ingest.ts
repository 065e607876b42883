// Ingest benchmark: the built binary (synchronous=FULL) against a bare Bun.serve in the same run,
// same load generator (wrk, 64 connections), same ~500-byte event. Prints req/s, p50/p99, peak
// RSS and the ratio keepwatch/bare; then the latency of 1,000-item array requests.
import { fmt, machine, peakRssMb, sampleEvent, startBare, startKeepwatch, wrk } from "./lib";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

export async function benchIngest(): Promise<Record<string, number>> {
  const bodies = Array.from({ length: 16 }, (_, i) => JSON.stringify(sampleEvent(i)));
  console.log(`# ingest: wrk 64 connections, ${SECONDS}s, ${bodies[0].length}-byte event; machine: ${machine()}`);

  const bare = await startBare();
  await wrk(bare.url + "/api/v1/events", bodies, { "content-type": "application/json" }, { seconds: 2 });
  const b = await wrk(bare.url + "/api/v1/events", bodies, { "content-type": "application/json" }, { seconds: SECONDS });
  const bareRss = peakRssMb(bare.pid);
  bare.proc.kill();

  const kw = await startKeepwatch();
  const headers = { "content-type": "application/json", "x-api-key": kw.ingestKey };
  await wrk(kw.url + "/api/v1/events", bodies, headers, { seconds: 2 });
  const k = await wrk(kw.url + "/api/v1/events", bodies, headers, { seconds: SECONDS });
  const kwRss = peakRssMb(kw.pid);

  // 1,000-item arrays, one at a time
  const big = JSON.stringify(Array.from({ length: 1000 }, (_, i) => sampleEvent(i)));
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const r = await fetch(kw.url + "/api/v1/events", { method: "POST", headers, body: big });
    if (r.status !== 202) throw new Error(`1,000-item request answered ${r.status}: ${await r.text()}`);
    await r.arrayBuffer();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const bigP50 = times[Math.floor(times.length / 2)];
  const bigMax = times[times.length - 1];
  const stored = await fetch(kw.url + "/v1/events?limit=1", { headers: { "x-api-key": kw.adminKey } });
  if (stored.status !== 200) throw new Error("read-back failed");
  kw.proc.kill("SIGTERM");
  await kw.proc.exited;

  const ratio = k.rps / b.rps;
  console.log(`| target | req/s | p50 ms | p99 ms | non-2xx | peak RSS MB |`);
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  console.log(`| bare Bun.serve | ${fmt(b.rps, 0)} | ${fmt(b.p50, 2)} | ${fmt(b.p99, 2)} | ${b.non2xx} | ${fmt(bareRss)} |`);
  console.log(`| keepwatch (sync=FULL) | ${fmt(k.rps, 0)} | ${fmt(k.p50, 2)} | ${fmt(k.p99, 2)} | ${k.non2xx} | ${fmt(kwRss)} |`);
  console.log(`ingest ratio keepwatch/bare: ${fmt(ratio, 2)} (target ≥ 0.6); p99 ${fmt(k.p99, 2)} ms (target ≤ 10); RSS ${fmt(kwRss)} MB (target ≤ 150)`);
  console.log(`1,000-item array request: p50 ${fmt(bigP50)} ms, max ${fmt(bigMax)} ms over 20 (target ≤ 50 ms)`);
  if (k.non2xx || k.errors) console.log(`WARNING: keepwatch had ${k.non2xx} non-2xx answers and ${k.errors} socket errors`);
  return { ratio, rps: k.rps, bareRps: b.rps, p99: k.p99, rss: kwRss, bigP50, bigMax };
}

if (import.meta.main) await benchIngest();
