// The dry run (POST /v1/rules/test with `last`) and the ingest path share one decision
// (core/rules.ts alertIntent), so over the same stored events the dry run lists exactly the alerts
// the real rule opened, each with exactly its events: thresholds (one request per event, one
// batch, groups, a window that expires), no threshold, and a seeded random sequence.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { json, startTestServer, type TestServer, seededRandom } from "../helpers";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

let n = 0;
/** A rule on its own source, so that scenarios do not see each other's events. */
async function scenario(rule: { threshold?: unknown; action?: Record<string, unknown> }, send: (source: string) => Promise<void>) {
  const source = `dry-${++n}`;
  const body = {
    name: `dry run ${n}`,
    filter: { field: "source", op: "eq", value: source },
    ...(rule.threshold ? { threshold: rule.threshold } : {}),
    action: { kind: "alert", severity: "high", ...(rule.action ?? {}) },
  };
  const created = await json(s.admin("POST", "/v1/rules", body));
  await send(source);
  // what the rule really did
  const real = (await json(s.get(`/v1/alerts?rule=${created.id}&limit=500`))).items as any[];
  const realAlerts = await Promise.all(
    real.map(async (a) => {
      const d = await json(s.get(`/v1/alerts/${a.id}`));
      expect(d.count).toBe(d.events.length);
      return { key: a.fingerprint.split(":").pop(), events: (d.events as any[]).map((e) => e.id).sort() };
    }),
  );
  // what the dry run says over the same events
  const dry = await json(s.admin("POST", "/v1/rules/test", { rule: body, last: 1000 }));
  const dryAlerts = (dry.alerts as any[]).map((a) => ({ key: a.fingerprint.split(":").pop(), events: [...a.event_ids].sort() }));
  const order = (xs: { key: string; events: string[] }[]) => xs.map((x) => JSON.stringify(x)).sort();
  expect(order(dryAlerts)).toEqual(order(realAlerts));
  await s.admin("DELETE", `/v1/rules/${created.id}`);
  return { real: realAlerts, dry: dryAlerts };
}

const ev = (source: string, i: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: "job.failed", module: "ci", source, summary: `failure ${i}`, severity: "high", payload: { i }, ...extra });
const send = async (items: unknown) => expect((await s.post("/api/v1/events", items)).status).toBe(202);

test("threshold 5 in an hour, 7 events one request each: the alert carries all 7, and so does the dry run", async () => {
  const r = await scenario({ threshold: { count: 5, window: 3600 } }, async (src) => {
    for (let i = 0; i < 7; i++) await send(ev(src, i));
  });
  expect(r.real.map((a) => a.events.length)).toEqual([7]);
});

test("threshold 5, 7 events in one batch", async () => {
  const r = await scenario({ threshold: { count: 5, window: 3600 } }, async (src) => send(Array.from({ length: 7 }, (_, i) => ev(src, i))));
  expect(r.real.map((a) => a.events.length)).toEqual([7]);
});

test("threshold 3 grouped by host: one alert per host, each with its events", async () => {
  const r = await scenario({ threshold: { count: 3, window: 3600, group_by: ["host"] } }, async (src) => {
    for (let i = 0; i < 8; i++) await send(ev(src, i, { host: i % 2 ? "web-1" : "web-2" }));
  });
  expect(r.real.map((a) => a.events.length).sort()).toEqual([4, 4]);
});

test("a threshold window that runs out: hits older than the window do not count, nor join", async () => {
  const r = await scenario({ threshold: { count: 3, window: 1 } }, async (src) => {
    await send([ev(src, 0), ev(src, 1)]);
    await Bun.sleep(1100);
    for (let i = 2; i < 5; i++) await send(ev(src, i));
  });
  expect(r.real.map((a) => a.events.length)).toEqual([3]);
});

test("no threshold: every matching event joins the one alert", async () => {
  const r = await scenario({}, async (src) => {
    for (let i = 0; i < 3; i++) await send(ev(src, i));
  });
  expect(r.real.map((a) => a.events.length)).toEqual([3]);
});

test("seeded random sequences of batches, hosts and thresholds agree", async () => {
  const seed = Number(process.env.KW_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`rules dry-run seed: ${seed} (replay with KW_SEED=${seed})`);
  const rand = seededRandom(seed);
  for (let round = 0; round < 4; round++) {
    const count = 2 + Math.floor(rand() * 4);
    const grouped = rand() < 0.5;
    await scenario({ threshold: { count, window: 3600, ...(grouped ? { group_by: ["host"] } : {}) }, action: grouped ? {} : { fingerprint: ["host"] } }, async (src) => {
      const total = 5 + Math.floor(rand() * 20);
      let i = 0;
      while (i < total) {
        const size = 1 + Math.floor(rand() * 4);
        const batch = Array.from({ length: Math.min(size, total - i) }, () => ev(src, i++, { host: `h${Math.floor(rand() * 3)}` }));
        // some items the rule does not match, in the same batches
        if (rand() < 0.3) batch.push({ ...ev(`${src}-other`, i), host: "h0" });
        await send(batch);
      }
    });
  }
});
