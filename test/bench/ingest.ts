// Ingest benchmark: the built binary (synchronous=FULL) against a bare Bun.serve that parses the
// same JSON and answers 202, driven by the same wrk load (64 connections, a ~500-byte event).
// The two run alternately for several rounds and the medians are compared, because a shared VM's
// speed drifts by tens of percent from minute to minute. Then: 1,000-item array requests.
import { statSync } from "node:fs";
import { join } from "node:path";
import { openDatabase, type Db } from "../../src/db/client";
import { indexLagMs } from "../../src/store/search";
import { cpuMs, fmt, machine, median, peakRssMb, sampleEvent, startBare, startKeepwatch, wrk, type WrkResult } from "./lib";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

export async function benchIngest(): Promise<Record<string, number>> {
  const bodies = Array.from({ length: 16 }, (_, i) => JSON.stringify(sampleEvent(i)));
  console.log(`# ingest: wrk 64 connections, ${ROUNDS} alternating rounds of ${SECONDS}s, ${bodies[0].length}-byte event; machine: ${machine()}`);
  const bare = await startBare();
  const kw = await startKeepwatch();
  const kwHeaders = { "content-type": "application/json", "x-api-key": kw.ingestKey };
  const bareHeaders = { "content-type": "application/json" };
  await wrk(bare.url + "/api/v1/events", bodies, bareHeaders, { seconds: 2 });
  await wrk(kw.url + "/api/v1/events", bodies, kwHeaders, { seconds: 2 });
  const b: WrkResult[] = [];
  const k: WrkResult[] = [];
  // the WAL file's largest size over the run (the writer keeps it near 64 MiB under load)
  let walMax = 0;
  // how far the background full-text indexer lags (src/store/search.ts), sampled with the WAL size
  let lagMax = 0;
  let lagDb: Db | null = null;
  const walTimer = setInterval(() => {
    try {
      walMax = Math.max(walMax, statSync(join(kw.dir, "keepwatch.db-wal")).size);
      lagDb ??= openDatabase(join(kw.dir, "keepwatch.db"), { readonly: true });
      lagMax = Math.max(lagMax, indexLagMs(lagDb, Date.now()));
    } catch {} // a binary without the indexer: no lag to report
  }, 250);
  // keepwatch's own CPU time per request (all its threads): steadier than req/s on a shared VM
  const kwCpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    b.push(await wrk(bare.url + "/api/v1/events", bodies, bareHeaders, { seconds: SECONDS }));
    const c0 = cpuMs(kw.pid);
    k.push(await wrk(kw.url + "/api/v1/events", bodies, kwHeaders, { seconds: SECONDS }));
    kwCpu.push(cpuMs(kw.pid) - c0);
  }
  const bareRss = peakRssMb(bare.pid);
  bare.proc.kill();
  const kwRss = peakRssMb(kw.pid);

  // 1,000-item arrays, one at a time
  const big = JSON.stringify(Array.from({ length: 1000 }, (_, i) => sampleEvent(i)));
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const r = await fetch(kw.url + "/api/v1/events", { method: "POST", headers: kwHeaders, body: big });
    if (r.status !== 202) throw new Error(`1,000-item request answered ${r.status}: ${await r.text()}`);
    await r.arrayBuffer();
    times.push(performance.now() - t0);
  }
  clearInterval(walTimer);
  (lagDb as Db | null)?.$client.close();
  kw.proc.kill("SIGTERM");
  await kw.proc.exited;

  const ratios = k.map((x, i) => x.rps / b[i].rps);
  const m = (xs: WrkResult[], f: keyof WrkResult) => median(xs.map((x) => x[f]));
  console.log(`| target | req/s (median) | p50 ms | p99 ms | non-2xx | peak RSS MB |`);
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  console.log(`| bare Bun.serve | ${fmt(m(b, "rps"), 0)} | ${fmt(m(b, "p50"), 2)} | ${fmt(m(b, "p99"), 2)} | ${b.reduce((a, x) => a + x.non2xx, 0)} | ${fmt(bareRss)} |`);
  console.log(`| keepwatch (sync=FULL) | ${fmt(m(k, "rps"), 0)} | ${fmt(m(k, "p50"), 2)} | ${fmt(m(k, "p99"), 2)} | ${k.reduce((a, x) => a + x.non2xx, 0)} | ${fmt(kwRss)} |`);
  console.log(`per round keepwatch/bare: ${ratios.map((r) => fmt(r, 2)).join(", ")}`);
  console.log(`ingest ratio keepwatch/bare (median): ${fmt(median(ratios), 2)} (target ≥ 0.6); p99 ${fmt(m(k, "p99"), 2)} ms (target ≤ 10); RSS ${fmt(kwRss)} MB (target ≤ 150)`);
  console.log(`1,000-item array request: p50 ${fmt(median(times))} ms, max ${fmt(Math.max(...times))} ms over 20 (target ≤ 50 ms)`);
  console.log(`largest WAL file during the run: ${fmt(walMax / 2 ** 20, 0)} MiB`);
  console.log(`keepwatch CPU per request: ${kwCpu.map((c, i) => fmt((c * 1000) / k[i].requests, 0)).join(", ")} µs per round`);
  console.log(`full-text index lag (oldest unindexed event, sampled every 250 ms): max ${fmt(lagMax, 0)} ms`);
  return { ratio: median(ratios), rps: m(k, "rps"), bareRps: m(b, "rps"), p99: m(k, "p99"), rss: kwRss, bigP50: median(times) };
}

if (import.meta.main) await benchIngest();
