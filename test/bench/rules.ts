// Ingest with 1,000 active match rules, against the same bare baseline (alternating rounds,
// medians): most rules are indexed by event type or source, a few are checked on every event,
// and a handful match the benchmark's event.
import { fmt, machine, median, sampleEvent, startBare, startKeepwatch, wrk, type WrkResult } from "./lib";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function rule(i: number) {
  if (i < 900)
    return { name: `svc ${i}`, filter: { all: [{ field: "type", op: "eq", value: `svc${i}.failed` }, { field: "payload.env", op: "eq", value: "prod" }] }, action: { kind: "alert", severity: "high" } };
  if (i < 950) return { name: `src ${i}`, filter: { field: "source", op: "eq", value: `sender-${i}` }, action: { kind: "tag", tags: ["x"] } };
  if (i < 995) return { name: `any ${i}`, filter: { field: "payload.region", op: "eq", value: `region-${i}` }, action: { kind: "alert" } };
  // five rules that match the benchmark event (one alert action joins the same alert every time)
  return { name: `disk ${i}`, filter: { all: [{ field: "type", op: "eq", value: "check.failed" }, { field: "payload.pct", op: "gte", value: 90 }] }, action: i === 999 ? { kind: "alert", title: "disk on {{payload.host}}" } : { kind: "tag", tags: [`t${i}`] } };
}

const bodies = Array.from({ length: 16 }, (_, i) => JSON.stringify(sampleEvent(i)));
console.log(`# ingest with 1,000 match rules: wrk 64 connections, ${ROUNDS} alternating rounds of ${SECONDS}s per phase; machine: ${machine()}`);
const bare = await startBare();
const kw = await startKeepwatch();
const h = { "content-type": "application/json", "x-api-key": kw.ingestKey };
const bh = { "content-type": "application/json" };
await wrk(bare.url + "/api/v1/events", bodies, bh, { seconds: 2 });
await wrk(kw.url + "/api/v1/events", bodies, h, { seconds: 2 });

async function addRules(from: number, to: number) {
  for (let i = from; i < to; i++) {
    const r = await fetch(kw.url + "/v1/rules", { method: "POST", headers: { "content-type": "application/json", "x-api-key": kw.adminKey }, body: JSON.stringify(rule(i)) });
    if (r.status !== 201) throw new Error(`rule ${i}: ${r.status} ${await r.text()}`);
  }
}
async function phase(name: string) {
  const b: WrkResult[] = [];
  const k: WrkResult[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    b.push(await wrk(bare.url + "/api/v1/events", bodies, bh, { seconds: SECONDS }));
    k.push(await wrk(kw.url + "/api/v1/events", bodies, h, { seconds: SECONDS }));
  }
  const ratios = k.map((x, i) => x.rps / b[i].rps);
  console.log(`| ${name} | ${fmt(median(b.map((x) => x.rps)), 0)} | ${fmt(median(k.map((x) => x.rps)), 0)} | ${fmt(median(k.map((x) => x.p50)), 2)} | ${fmt(median(k.map((x) => x.p99)), 2)} | ${fmt(median(ratios), 2)} (${ratios.map((r) => fmt(r, 2)).join(", ")}) |`);
  return median(ratios);
}
console.log(`| phase | bare req/s | keepwatch req/s | p50 ms | p99 ms | ratio (median, per round) |`);
console.log(`| --- | ---: | ---: | ---: | ---: | --- |`);
await phase("no rules");
await addRules(0, 995);
const quiet = await phase("995 rules, none matching the traffic");
await addRules(995, 1000);
const busy = await phase("1,000 rules, 5 matching every event (4 tag, 1 alert joined each time)");
const alerts = (await (await fetch(kw.url + "/v1/alerts?limit=5", { headers: { "x-api-key": kw.adminKey } })).json()) as any;
if (!alerts.items.some((a: any) => a.title.startsWith("disk on"))) throw new Error("the matching rule opened no alert");
bare.proc.kill();
kw.proc.kill("SIGTERM");
await kw.proc.exited;
console.log(`ingest ratio with 1,000 rules keepwatch/bare: ${fmt(quiet, 2)} when none match, ${fmt(busy, 2)} when five match every event (target ≥ 0.5)`);
