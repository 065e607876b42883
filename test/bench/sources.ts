// Sources benchmark, two parts:
//  1. in-process profile: validate, expand and normalize (indicator extraction included) per item
//     for each source over a few thousand items, in microseconds; shows whether the plugins are
//     where ingest time goes;
//  2. the built binary against the same bare Bun.serve baseline as ingest.ts (alternating rounds,
//     medians), under a wrk load that posts a mix of vendor payloads (Sentinel, Kibana, Splunk,
//     JSON:API batches, Alertmanager, Grafana; most with indicators) to their routes. Every request
//     gets fresh ids (a per-request counter replaces __N__), so nothing is a repeat that the store
//     could answer without writing.
// `bun test/bench/sources.ts --profile` runs only part 1 (no binary, no wrk needed);
// BENCH_SOURCES=elastic,splunk limits part 2 to those sources.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getSource } from "../../src/sources/registry";
import { fmt, machine, median, peakRssMb, startBare, startKeepwatch } from "./lib";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PROFILE_ITEMS = Number(process.env.BENCH_PROFILE_ITEMS ?? 5000);

const fx = (p: string) => readFileSync(join(import.meta.dir, "..", "fixtures", p), "utf8");

/** The mix: route, body template (__N__ becomes a per-request unique string). */
function mix(): { path: string; body: string }[] {
  const sentinel = JSON.parse(fx("sentinel/logicapp-incident.json"));
  sentinel.eventUniqueId = "__N__";
  sentinel.object.name = "inc-__N__";
  const sentinelFlat = JSON.parse(fx("sentinel/flat.json"));
  sentinelFlat.IncidentName = "flat-__N__";
  const elastic = JSON.parse(fx("elastic/security-alert-flat.json"));
  elastic["kibana.alert.uuid"] = "__N__";
  const kibanaBody = JSON.parse(fx("elastic/connector-body.json"));
  kibanaBody.context.alerts[0].kibana.alert.uuid = "a-__N__";
  kibanaBody.context.alerts[1]["kibana.alert.uuid"] = "b-__N__";
  const splunk = JSON.parse(fx("splunk/brute-force.json"));
  splunk.sid = "scheduler__admin__search_at___N__";
  splunk.search_name = "Brute force __N__";
  const jsonapi = JSON.parse(fx("jsonapi-list/batch.json"));
  jsonapi.forEach((r: any, i: number) => (r.id = `${i}-__N__`));
  const am = JSON.parse(fx("alertmanager/firing.json"));
  am.alerts.forEach((a: any, i: number) => (a.fingerprint = `${i}-__N__`));
  const grafana = JSON.parse(fx("grafana/firing.json"));
  grafana.alerts[0].fingerprint = "__N__";
  return [
    { path: "/v1/ingest/sentinel", body: JSON.stringify(sentinel) },
    { path: "/v1/ingest/elastic", body: JSON.stringify(elastic) },
    { path: "/v1/ingest/splunk", body: JSON.stringify(splunk) },
    { path: "/api/v1/webhooks/jsonapi-list", body: JSON.stringify(jsonapi) },
    { path: "/v1/ingest/sentinel", body: JSON.stringify(sentinelFlat) },
    { path: "/v1/ingest/elastic", body: JSON.stringify(kibanaBody) },
    { path: "/v1/ingest/alertmanager", body: JSON.stringify(am) },
    { path: "/v1/ingest/grafana", body: JSON.stringify(grafana) },
  ];
}

/** Part 1: microseconds per item for validate, and for expand + normalize, per source. */
export function profile(): Record<string, { validateUs: number; normalizeUs: number; events: number }> {
  const out: Record<string, { validateUs: number; normalizeUs: number; events: number }> = {};
  const bySource = new Map<string, string[]>();
  for (const m of mix()) {
    const name = m.path.split("/").pop()!;
    bySource.set(name, [...(bySource.get(name) ?? []), m.body]);
  }
  console.log(`# normalize + extract, in process: ${PROFILE_ITEMS} items per source (after 500 warm-up), µs per item; machine: ${machine()}`);
  console.log(`| source | validate µs | expand + normalize µs | events per item | indicators per item |`);
  console.log(`| --- | ---: | ---: | ---: | ---: |`);
  for (const [name, bodies] of bySource) {
    const plugin = getSource(name)!;
    // distinct parsed items, as the HTTP path would have them
    const items = Array.from({ length: PROFILE_ITEMS + 500 }, (_, i) => {
      const v = JSON.parse(bodies[i % bodies.length].replaceAll("__N__", String(i)));
      return Array.isArray(v) ? v : [v];
    }).flat();
    let t0 = 0;
    let tv = 0;
    let tn = 0;
    let events = 0;
    let indicators = 0;
    items.forEach((item, i) => {
      const measure = i >= items.length - PROFILE_ITEMS;
      t0 = performance.now();
      const issues = plugin.validate(item);
      const t1 = performance.now();
      if (issues.length) throw new Error(`${name}: fixture item invalid: ${JSON.stringify(issues[0])}`);
      const units = plugin.expand ? plugin.expand(item) : [item];
      for (const u of units) {
        const n = plugin.normalize(u, Date.now());
        if (measure) indicators += n.indicators.length;
      }
      const t2 = performance.now();
      if (measure) {
        tv += t1 - t0;
        tn += t2 - t1;
        events += units.length;
      }
    });
    const per = (ms: number) => (ms * 1000) / PROFILE_ITEMS;
    out[name] = { validateUs: per(tv), normalizeUs: per(tn), events: events / PROFILE_ITEMS };
    console.log(`| ${name} | ${fmt(per(tv), 2)} | ${fmt(per(tn), 2)} | ${fmt(events / PROFILE_ITEMS, 2)} | ${fmt(indicators / PROFILE_ITEMS, 1)} |`);
  }
  return out;
}

type MixResult = { rps: number; p50: number; p99: number; non2xx: number; requests: number };

/** wrk over the mix: each request takes the next (path, body), with __N__ made unique. */
async function wrkMix(base: string, reqs: { path: string; body: string }[], headers: Record<string, string>, seconds: number): Promise<MixResult> {
  const dir = mkdtempSync(join(tmpdir(), "kw-wrk-sources-"));
  const script = join(dir, "mix.lua");
  const esc = (s: string) => JSON.stringify(s); // ASCII JSON: a JSON string literal is a valid Lua one
  writeFileSync(
    script,
    `wrk.method = "POST"
${Object.entries(headers).map(([k, v]) => `wrk.headers[${esc(k)}] = ${esc(v)}`).join("\n")}
local paths = { ${reqs.map((r) => esc(r.path)).join(", ")} }
local bodies = { ${reqs.map((r) => esc(r.body)).join(", ")} }
local i = 0
local counter = 0
-- setup runs in the main Lua state; each thread gets its own global tid, so ids never collide
setup = function(thread) counter = counter + 1; thread:set("tid", counter) end
request = function()
  i = i + 1
  local k = (i % #bodies) + 1
  local body = string.gsub(bodies[k], "__N__", tostring(tid or 0) .. "x" .. tostring(i))
  return wrk.format(nil, paths[k], nil, body)
end
local non2xx = 0
response = function(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d\\n", summary.requests, non2xx, latency:percentile(50), latency:percentile(99)))
end
`,
  );
  const p = Bun.spawn(["wrk", "-t", "2", "-c", "64", "-d", `${seconds}s`, "--timeout", "5s", "-s", script, base], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const m = /RESULT (\d+) (\d+) (\d+) (\d+)/.exec(out);
  if (!m) throw new Error("wrk gave no result:\n" + out);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), requests: Number(m[1]), non2xx: Number(m[2]), p50: Number(m[3]) / 1000, p99: Number(m[4]) / 1000 };
}

export async function benchSources(): Promise<Record<string, number>> {
  // BENCH_SOURCES=sentinel,splunk narrows the mix (to see one source's cost on its own)
  const only = process.env.BENCH_SOURCES?.split(",").filter(Boolean);
  const reqs = mix().filter((r) => !only || only.includes(r.path.split("/").pop()!));
  const eventsPerRound = reqs.reduce((a, r) => {
    const v = JSON.parse(r.body);
    return a + (Array.isArray(v) ? v.length : Array.isArray(v.alerts) ? v.alerts.length : Array.isArray(v.context?.alerts) ? v.context.alerts.length : 1);
  }, 0);
  const avgBytes = reqs.reduce((a, r) => a + r.body.length, 0) / reqs.length;
  console.log(`\n# sources: wrk 64 connections, ${ROUNDS} alternating rounds of ${SECONDS}s, a mix of ${reqs.length} vendor payloads (avg ${Math.round(avgBytes)} bytes, ${fmt(eventsPerRound / reqs.length, 2)} events per request); machine: ${machine()}`);
  const bare = await startBare();
  const kw = await startKeepwatch();
  try {
    // a key restricted to nothing: the ingest key of the first start works for every source
    const kwHeaders = { "content-type": "application/json", "x-api-key": kw.ingestKey };
    const bareHeaders = { "content-type": "application/json" };
    // check the mix is accepted before measuring
    for (const r of reqs) {
      const res = await fetch(kw.url + r.path, { method: "POST", headers: kwHeaders, body: r.body.replaceAll("__N__", "check") });
      if (res.status !== 202) throw new Error(`${r.path} answered ${res.status}: ${await res.text()}`);
    }
    await wrkMix(bare.url, reqs, bareHeaders, 2);
    await wrkMix(kw.url, reqs, kwHeaders, 2);
    const b: MixResult[] = [];
    const k: MixResult[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      b.push(await wrkMix(bare.url, reqs, bareHeaders, SECONDS));
      k.push(await wrkMix(kw.url, reqs, kwHeaders, SECONDS));
    }
    const kwRss = peakRssMb(kw.pid);
    const ratios = k.map((x, i) => x.rps / b[i].rps);
    const m = (xs: MixResult[], f: keyof MixResult) => median(xs.map((x) => x[f]));
    console.log(`| target | req/s (median) | events/s | p50 ms | p99 ms | non-2xx |`);
    console.log(`| --- | ---: | ---: | ---: | ---: | ---: |`);
    console.log(`| bare Bun.serve | ${fmt(m(b, "rps"), 0)} | | ${fmt(m(b, "p50"), 2)} | ${fmt(m(b, "p99"), 2)} | ${b.reduce((a, x) => a + x.non2xx, 0)} |`);
    console.log(`| keepwatch (sync=FULL) | ${fmt(m(k, "rps"), 0)} | ${fmt((m(k, "rps") * eventsPerRound) / reqs.length, 0)} | ${fmt(m(k, "p50"), 2)} | ${fmt(m(k, "p99"), 2)} | ${k.reduce((a, x) => a + x.non2xx, 0)} |`);
    console.log(`per round keepwatch/bare: ${ratios.map((r) => fmt(r, 2)).join(", ")}`);
    console.log(`sources ratio keepwatch/bare (median): ${fmt(median(ratios), 2)} (target ≥ 0.5); RSS ${fmt(kwRss)} MB`);
    if (k.some((x) => x.non2xx > 0)) throw new Error("keepwatch answered non-2xx under the mix");
    return { ratio: median(ratios), rps: m(k, "rps"), bareRps: m(b, "rps"), p99: m(k, "p99"), rss: kwRss };
  } finally {
    bare.proc.kill();
    kw.proc.kill("SIGTERM");
    await kw.proc.exited;
  }
}

if (import.meta.main) {
  profile();
  if (!process.argv.includes("--profile")) await benchSources();
}
