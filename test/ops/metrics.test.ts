// /metrics after real traffic: deliveries by outcome and latency, queue depth by state, and every
// family docs/operations.md lists.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { event, json, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
let ok: ReturnType<typeof Bun.serve>;
let broken: ReturnType<typeof Bun.serve>;
let received = 0;
beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
  ok = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (received++, new Response(null, { status: 204 })) });
  broken = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("down", { status: 500 }) });
});
afterAll(async () => {
  await s.close();
  ok.stop(true);
  broken.stop(true);
});

const value = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};
const scrape = async () => (await fetch(s.url + "/metrics")).text();

test("delivery attempts by outcome with their latency, and the queue depth by state", async () => {
  const mk = async (url: string) => expect((await s.admin("POST", "/v1/webhooks", { url, triggers: ["event.received"], retry: { max_attempts: 5, initial_interval: 600, max_interval: 600 } })).status).toBe(201);
  await mk(`http://127.0.0.1:${ok.port}/hook`);
  await mk(`http://127.0.0.1:${broken.port}/hook`);
  expect((await s.post("/api/v1/events", [event(1), event(2), event(3)])).status).toBe(202);
  // 3 deliveries to each: 3 succeed; 3 fail once and wait 10 minutes for their next attempt
  let text = "";
  for (let i = 0; i < 200; i++) {
    text = await scrape();
    if ((value(text, 'keepwatch_delivery_attempts_total{outcome="failed"}') ?? 0) >= 3 && received >= 3) break;
    await Bun.sleep(25);
  }
  expect(value(text, 'keepwatch_delivery_attempts_total{outcome="succeeded"}')).toBe(3);
  expect(value(text, 'keepwatch_delivery_attempts_total{outcome="failed"}')).toBe(3);
  expect(value(text, 'keepwatch_delivery_attempt_duration_seconds_count{outcome="succeeded"}')).toBe(3);
  expect(value(text, 'keepwatch_delivery_attempt_duration_seconds_sum{outcome="failed"}')!).toBeGreaterThan(0);
  expect(value(text, 'keepwatch_delivery_attempt_duration_seconds_bucket{le="10",outcome="failed"}')).toBe(3);
  // the failed ones wait their turn in the queue; nothing is leased or dead
  for (let i = 0; i < 100 && value(text, 'keepwatch_jobs{queue="webhooks",state="running"}') !== 0; i++) {
    await Bun.sleep(25);
    text = await scrape();
  }
  expect(value(text, 'keepwatch_jobs{queue="webhooks",state="available"}')).toBe(3);
  expect(value(text, 'keepwatch_jobs{queue="webhooks",state="running"}')).toBe(0);
  expect(value(text, 'keepwatch_jobs{queue="webhooks",state="dead"}')).toBe(0);
  const d = await json(s.admin("GET", "/v1/webhooks"));
  expect(d.items.length).toBe(2);
});

test("every family listed in docs/operations.md is exported, and every exported family is listed there", async () => {
  await s.post("/api/v1/events", event(9));
  const text = await scrape();
  const doc = await Bun.file(`${import.meta.dir}/../../docs/operations.md`).text();
  const listed = [...doc.matchAll(/^\s*\| `(keepwatch_[a-z_]+)[{`]/gm)].map((m) => m[1]);
  expect(listed.length).toBeGreaterThan(20);
  for (const family of listed) expect(text).toContain(`# TYPE ${family} `);
  const exported = [...text.matchAll(/^# TYPE (keepwatch_[a-z_]+) /gm)].map((m) => m[1]);
  expect(exported.filter((f) => !listed.includes(f))).toEqual([]);
});

test("alerts by enrichment status, and the enrichment queue's depth", async () => {
  // an alert with an indicator waits for its enrichment job, then is enriched (no lookups configured)
  expect((await s.post("/v1/ingest/generic", { title: "login from 203.0.113.9", indicators: [{ type: "ip", value: "203.0.113.9" }] })).status).toBe(202);
  // and one without indicators is settled at once
  expect((await s.post("/v1/ingest/generic", { title: "no indicators here" })).status).toBe(202);
  let text = "";
  for (let i = 0; i < 200; i++) {
    text = await scrape();
    if (value(text, 'keepwatch_alert_enrichment{status="enriched"}') === 2) break;
    await Bun.sleep(25);
  }
  expect(value(text, 'keepwatch_alert_enrichment{status="enriched"}')).toBe(2);
  expect(value(text, 'keepwatch_alert_enrichment{status="pending"}')).toBe(0);
  expect(value(text, 'keepwatch_alert_enrichment{status="failed"}')).toBe(0);
  expect(value(text, 'keepwatch_jobs{queue="enrichment",state="available"}')).toBe(0);
  expect(value(text, 'keepwatch_jobs{queue="enrichment",state="dead"}')).toBe(0);
});
