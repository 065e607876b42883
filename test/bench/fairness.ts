// Fairness benchmark: tenant B's single-event ingest latency alone, then while tenant A floods with
// 1,000-item batches on 8 connections, first at A's limits (the default tenant caps, over a key A's
// admin made with rate_limit 0), then with A's caps lifted by the operator (only the writer's
// sharing between tenants protects B then). Printed as ratios of B's p99 against B alone, measured
// in the same run on the built binary. The flood runs in its own process, so that its uploads do
// not compete with B's client for one event loop. Loopback only, bounded in time.
import { fmt, machine, median, sampleEvent, startKeepwatch, BIN } from "./lib";

const SECONDS = Number(process.env.BENCH_FAIRNESS_SECONDS ?? 15);
const B_RATE = 40; // B's requests per second (its key allows 100)
const A_CONNECTIONS = 8;

type FloodResult = { requests: number; accepted: number; events: number; limited: number; seconds: number };

/** The flood (in a child process): 1,000-item batches as fast as the limits let through. */
async function flood(url: string, key: string, seconds: number, connections: number): Promise<FloodResult> {
  const body = JSON.stringify(Array.from({ length: 1000 }, (_, i) => sampleEvent(i)));
  const end = performance.now() + seconds * 1000;
  const r: FloodResult = { requests: 0, accepted: 0, events: 0, limited: 0, seconds };
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const res = await fetch(url + "/api/v1/events", { method: "POST", headers: { "content-type": "application/json", "x-api-key": key }, body });
        await res.arrayBuffer();
        r.requests++;
        if (res.status === 202) {
          r.accepted++;
          r.events += 1000;
        } else if (res.status === 429) {
          r.limited++;
          // at its limit: come back soon, not after the whole Retry-After (a flood, not a polite client)
          await Bun.sleep(50);
        } else throw new Error(`flood answered ${res.status}`);
      }
    }),
  );
  return r;
}

if (process.argv[2] === "--flood") {
  const [url, key, seconds, connections] = process.argv.slice(3);
  console.log(JSON.stringify(await flood(url, key, Number(seconds), Number(connections))));
  process.exit(0);
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** B: one event at a time, paced at B_RATE/s, for `seconds`; latencies in ms. */
async function tenantB(url: string, key: string, seconds: number): Promise<number[]> {
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  let n = 0;
  let next = performance.now();
  while (performance.now() < end) {
    const body = JSON.stringify(sampleEvent(n++));
    const t0 = performance.now();
    const r = await fetch(url + "/api/v1/events", { method: "POST", headers: { "content-type": "application/json", "x-api-key": key }, body });
    await r.arrayBuffer();
    if (r.status !== 202) throw new Error(`tenant B answered ${r.status}`);
    lat.push(performance.now() - t0);
    next += 1000 / B_RATE;
    const wait = next - performance.now();
    if (wait > 0) await Bun.sleep(wait);
  }
  return lat;
}

async function cli(args: string[], dataDir: string): Promise<string> {
  const p = Bun.spawn([BIN, ...args, "--data-dir", dataDir], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "" } });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if ((await p.exited) !== 0) throw new Error(`keepwatch ${args.join(" ")} failed: ${out}${err}`);
  return out;
}

export async function benchFairness(): Promise<Record<string, number>> {
  console.log(
    `# fairness: tenant B sends single ~500-byte events at ${B_RATE}/s for ${SECONDS}s, alone and while tenant A floods with 1,000-item batches on ${A_CONNECTIONS} connections; machine: ${machine()}`,
  );
  // the shipped defaults (10 requests/s per key, tenant caps 100 requests, 1,000 events, 10 MiB a second)
  const kw = await startKeepwatch({ KEEPWATCH_RATE_LIMIT: "10" });
  const bKey = /^key: (\S+)$/m.exec(await cli(["keys", "create", "--tenant", "default", "--scopes", "ingest", "--name", "tenant-b", "--rate", "100", "--burst", "200"], kw.dir))![1];
  const aAdmin = /^admin key: (\S+)$/m.exec(await cli(["tenants", "create", "flooder"], kw.dir))![1];
  // A's admin makes itself an "unlimited" key: its tenant's caps still hold
  const made = (await (
    await fetch(kw.url + "/v1/keys", { method: "POST", headers: { "content-type": "application/json", "x-api-key": aAdmin }, body: JSON.stringify({ name: "flood", scopes: ["ingest"], rate_limit: 0 }) })
  ).json()) as { key: string };
  const aKey = made.key;

  const startFlood = () => {
    const p = Bun.spawn([process.execPath, import.meta.path, "--flood", kw.url, aKey, String(SECONDS + 1), String(A_CONNECTIONS)], { stdout: "pipe", stderr: "inherit" });
    return (async () => {
      const out = await new Response(p.stdout).text();
      if ((await p.exited) !== 0) throw new Error("flood failed: " + out);
      return JSON.parse(out.trim().split("\n").pop()!) as FloodResult;
    })();
  };

  await tenantB(kw.url, bKey, 2); // warm-up
  const alone = await tenantB(kw.url, bKey, SECONDS);

  const f1 = startFlood();
  await Bun.sleep(1000);
  const capped = await tenantB(kw.url, bKey, SECONDS);
  const a1 = await f1;

  await cli(["tenants", "limits", "flooder", "--rate", "0", "--events", "0", "--bytes", "0"], kw.dir);
  const f2 = startFlood();
  await Bun.sleep(1000);
  const uncapped = await tenantB(kw.url, bKey, SECONDS);
  const a2 = await f2;
  kw.proc.kill("SIGTERM");
  await kw.proc.exited;

  const row = (name: string, l: number[], a?: FloodResult) =>
    `| ${name} | ${l.length} | ${fmt(median(l), 1)} | ${fmt(pct(l, 99), 1)} | ${fmt(Math.max(...l), 1)} | ${a ? fmt(a.events / a.seconds, 0) : "-"} | ${a ? a.limited : "-"} |`;
  console.log(`| tenant B's requests | n | p50 ms | p99 ms | max ms | A's events/s stored | A's 429s |`);
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: | ---: |`);
  console.log(row("alone", alone));
  console.log(row("A flooding at its caps (1,000 events/s)", capped, a1));
  console.log(row("A flooding, caps lifted (writer sharing only)", uncapped, a2));
  const r1 = pct(capped, 99) / pct(alone, 99);
  const r2 = pct(uncapped, 99) / pct(alone, 99);
  console.log(`fairness: tenant B's p99 with A flooding at its limit / B alone: ${fmt(r1, 2)}; with A's caps lifted: ${fmt(r2, 2)}`);
  return { aloneP99: pct(alone, 99), cappedP99: pct(capped, 99), uncappedP99: pct(uncapped, 99), ratioCapped: r1, ratioUncapped: r2 };
}

if (import.meta.main) await benchFairness();
