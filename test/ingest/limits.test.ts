// Rate limits count work, not only requests: each key has token buckets in requests, events (the
// items of a request) and bytes, and each tenant has caps over all its keys together, which the
// operator sets and a tenant admin cannot lift (a key made with rate_limit 0 stays under them).
// The server's clock is a fake one here, so refills are exact.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { alertSourceNames, connectorNames } from "../../src/sources/registry";
import { countItems } from "../../src/ingest/work";
import { loadConfig } from "../../src/config";
import { keyLimits, tenantLimits } from "../../src/core/ratelimit";
import { json, startTestServer, type TestServer } from "../helpers";

let now = 1_800_000_000_000;
const clock = () => now;
let s: TestServer;

// the shipped defaults: 10 requests/s burst 50 per key, 1,000 items, 1 MiB bodies
beforeAll(async () => {
  s = await startTestServer({ rateLimit: 10, rateBurst: 50 }, clock);
});
afterAll(() => s.close());

const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ type: "load.test", source: "flood", summary: `item ${i}` }));
const newTenant = async (name: string) => {
  const t = await s.deps.store.tenants.createTenant(name);
  return { id: t.id, key: async (extra: Record<string, unknown> = {}) => (await s.deps.store.keys.createKey({ tenantId: t.id, name: "k", scopes: ["ingest", "admin"], ...extra })).key };
};
const send = (key: string, body: unknown, path = "/api/v1/events") => s.post(path, body, { key });

describe("per key: events and bytes", () => {
  test("a key at the defaults sending 1,000-item batches: one burst, then 100 events/s, with Retry-After", async () => {
    const key = await (await newTenant("flood-1")).key();
    expect((await send(key, batch(1000))).status).toBe(202);
    const r = await send(key, batch(1000));
    expect(r.status).toBe(429);
    expect(r.headers.get("retry-after")).toBe("10");
    const body = (await r.json()) as any;
    expect(body.error.code).toBe("rate_limited");
    expect(body.error.message).toContain("this key's limit: 100 events/s (burst 1,000)");
    // over a simulated minute at full speed, what is accepted never exceeds burst + rate × time
    let accepted = 1000;
    const t0 = now;
    for (let step = 0; step < 60; step++) {
      now += 1000;
      const a = await send(key, batch(250));
      if (a.status === 202) accepted += 250;
      else {
        expect(a.status).toBe(429);
        expect(Number(a.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      }
      expect(accepted).toBeLessThanOrEqual(1000 + 100 * ((now - t0) / 1000) + 1000);
    }
    expect(accepted).toBeGreaterThanOrEqual(1000 + 100 * 55);
    expect(accepted).toBeLessThanOrEqual(1000 + 100 * 60);
  });

  test("waiting the Retry-After is enough", async () => {
    const key = await (await newTenant("flood-2")).key();
    expect((await send(key, batch(1000))).status).toBe(202);
    const r = await send(key, batch(300));
    expect(r.status).toBe(429);
    now += Number(r.headers.get("retry-after")) * 1000;
    expect((await send(key, batch(300))).status).toBe(202);
  });

  test("every ingest route charges the items of a request, valid or not", async () => {
    const routes = ["/api/v1/events", ...alertSourceNames().map((n) => `/v1/ingest/${n}`), ...connectorNames().map((n) => `/api/v1/webhooks/${n}`)];
    expect(routes.length).toBeGreaterThanOrEqual(9);
    for (const path of routes) {
      const key = await (await newTenant(`route-${path.replace(/\W+/g, "-")}`)).key();
      // 600 items (refused or not, the writer parsed them), then 600 more: over the 1,000 burst
      const first = await send(key, Array.from({ length: 600 }, () => ({})), path);
      expect({ path, status: first.status }).toEqual({ path, status: first.status === 202 ? 202 : 422 });
      const second = await send(key, Array.from({ length: 600 }, () => ({})), path);
      expect({ path, status: second.status, retry: second.headers.get("retry-after") }).toEqual({ path, status: 429, retry: "2" });
      // one item still fits
      expect([202, 422]).toContain((await send(key, {}, path)).status);
    }
    now += 60_000;
  });

  test("bytes: single big events are limited by the byte bucket (1 MiB/s, burst 5 MiB)", async () => {
    const key = await (await newTenant("bytes")).key();
    const big = { type: "big.event", source: "x", payload: { blob: "x".repeat(900 * 1024) } };
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await send(key, big)).status);
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429, 429]);
    const r = await send(key, big);
    expect(((await r.json()) as any).error.message).toMatch(/this key's limit: 1,048,576 bytes\/s \(burst 5,242,880\)/);
    now += Number(r.headers.get("retry-after")) * 1000;
    expect((await send(key, big)).status).toBe(202);
  });

  test("a key's own rate scales its event and byte rates", async () => {
    const key = await (await newTenant("scaled")).key({ rateLimit: 1, rateBurst: 5 });
    // 1 request/s → 10 events/s, burst still one full batch (1,000)
    expect((await send(key, batch(1000))).status).toBe(202);
    const r = await send(key, batch(10));
    expect(r.status).toBe(429);
    expect(((await r.json()) as any).error.message).toContain("10 events/s");
  });
});

describe("per tenant: caps over all keys, set by the operator", () => {
  test("a key created through the API with rate_limit 0 stays under the tenant's default cap (1,000 events/s, burst 5,000)", async () => {
    const t = await newTenant("unlimited-key");
    const admin = await t.key();
    const created = await json(fetch(s.url + "/v1/keys", { method: "POST", headers: { "x-api-key": admin, "content-type": "application/json" }, body: JSON.stringify({ name: "no limit", scopes: ["ingest"], rate_limit: 0 }) }));
    expect(created.rate_limit).toBe(0);
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await send(created.key, batch(1000))).status);
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429, 429]);
    const r = await send(created.key, batch(1000));
    expect(((await r.json()) as any).error.message).toContain("this tenant's cap: 1,000 events/s (burst 5,000)");
    expect(r.headers.get("retry-after")).toBe("1");
    now += 60_000;
  });

  test("the operator's cap holds for every key of the tenant together, unlimited ones included, and not for other tenants", async () => {
    const t = await newTenant("capped");
    await s.deps.store.tenants.setTenantLimits(t.id, { events: 100 });
    const admin = await t.key();
    const mk = async () =>
      (await json(fetch(s.url + "/v1/keys", { method: "POST", headers: { "x-api-key": admin, "content-type": "application/json" }, body: JSON.stringify({ name: "k", scopes: ["ingest"], rate_limit: 0 }) }))).key as string;
    const keys = [await mk(), await mk(), await mk()];
    // the tenant's bucket: 100 events/s, burst 1,000 (one full batch)
    expect((await send(keys[0], batch(1000))).status).toBe(202);
    for (const k of keys) {
      const r = await send(k, batch(10));
      expect(r.status).toBe(429);
      expect(((await r.json()) as any).error.message).toContain("this tenant's cap: 100 events/s");
    }
    // another tenant is not touched
    const other = await (await newTenant("neighbour")).key();
    expect((await send(other, batch(1000))).status).toBe(202);
    // the cap refills at its rate, shared by the keys
    now += 5000;
    expect((await send(keys[1], batch(200))).status).toBe(202);
    expect((await send(keys[2], batch(200))).status).toBe(202);
    expect((await send(keys[0], batch(200))).status).toBe(429);
    // the operator lifts it: the server default (1,000 events/s) applies at once, so a second of
    // refill is enough for 300 more (under the cap of 100/s it would not be)
    await s.deps.store.tenants.setTenantLimits(t.id, null);
    now += 1000;
    expect((await send(keys[0], batch(300))).status).toBe(202);
    // a request cap, too
    await s.deps.store.tenants.setTenantLimits(t.id, { rate: 1 });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await send(keys[i % 3], batch(1))).status);
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429, 429, 429]);
  });
});

describe("counting items on the raw bytes", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  test("edge cases", () => {
    const cases: [string, number][] = [
      ["[]", 0],
      ["  [ ]  ", 0],
      ["[1]", 1],
      ['[{"a":[1,2,3]},{"b":"x,y]"},"q\\"],[",[[]]]', 4],
      ['\ufeff[{"a":1} , {"b":2}]', 2],
      ['{"a":[1,2]}', 1],
      ['"x"', 1],
      ["", 1],
      ["[1,2,", 2],
      ['[{"é,ü":"日本,語"},2]', 2],
    ];
    for (const [text, n] of cases) expect({ text, n: countItems(enc(text)) }).toEqual({ text, n });
  });
  test("seeded fuzz: agrees with JSON.parse on random arrays", () => {
    const seed = Number(process.env.KEEPWATCH_FUZZ_SEED ?? Date.now() % 1_000_000);
    console.log(`countItems fuzz seed: ${seed}`);
    let x = seed || 1;
    const rnd = (n: number) => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return x % n;
    };
    const chars = ['"', "\\", ",", "[", "]", "{", "}", ":", " ", "a", "é", "\n", "😀"];
    const str = () => Array.from({ length: rnd(8) }, () => chars[rnd(chars.length)]).join("");
    const val = (d: number): unknown => {
      const k = rnd(d > 0 ? 6 : 4);
      return k === 0 ? rnd(1000) : k === 1 ? str() : k === 2 ? null : k === 3 ? rnd(2) === 1 : k === 4 ? Array.from({ length: rnd(4) }, () => val(d - 1)) : Object.fromEntries(Array.from({ length: rnd(4) }, () => [str(), val(d - 1)]));
    };
    for (let i = 0; i < 2000; i++) {
      const arr = Array.from({ length: rnd(20) }, () => val(3));
      const text = rnd(2) ? JSON.stringify(arr) : JSON.stringify(arr, null, rnd(4));
      expect({ seed, text, n: countItems(enc(text)) }).toEqual({ seed, text, n: arr.length });
    }
  });
});

describe("settings", () => {
  test("flags and variables, sizes for bytes; bad values stop start-up naming the setting", () => {
    const { config } = loadConfig(["--event-rate", "50", "--byte-rate", "2MiB", "--tenant-rate-limit=7"], { KEEPWATCH_TENANT_EVENT_RATE: "300", KEEPWATCH_TENANT_BYTE_RATE: "512KiB" });
    expect([config.eventRate, config.byteRate, config.tenantRateLimit, config.tenantEventRate, config.tenantByteRate]).toEqual([50, 2 * 2 ** 20, 7, 300, 512 * 1024]);
    for (const [flag, v] of [["--event-rate", "-1"], ["--byte-rate", "lots"], ["--tenant-byte-rate", "-5"], ["--tenant-rate-limit", "x"]])
      expect(() => loadConfig([flag, v], {})).toThrow(new RegExp(`invalid setting ${flag}`));
  });
  test("derived defaults: per key from the request rate, per tenant ten keys' worth; --rate-limit 0 turns them off", () => {
    const d = loadConfig([], {}).config;
    expect(keyLimits(d, null, null)).toEqual({ requests: { rate: 10, burst: 50 }, events: { rate: 100, burst: 1000 }, bytes: { rate: 2 ** 20, burst: 5 * 2 ** 20 } });
    expect(keyLimits(d, 50, 100)).toEqual({ requests: { rate: 50, burst: 100 }, events: { rate: 500, burst: 2500 }, bytes: { rate: 5 * 2 ** 20, burst: 25 * 2 ** 20 } });
    expect(keyLimits(d, 0, null)).toBeNull();
    expect(tenantLimits(d, null)).toEqual({ requests: { rate: 100, burst: 500 }, events: { rate: 1000, burst: 5000 }, bytes: { rate: 10 * 2 ** 20, burst: 50 * 2 ** 20 } });
    expect(tenantLimits(d, { events: 0, rate: 3 }).events.rate).toBe(0);
    expect(tenantLimits(d, { events: 0, rate: 3 }).requests).toEqual({ rate: 3, burst: 15 });
    const off = loadConfig(["--rate-limit", "0"], {}).config;
    expect(keyLimits(off, null, null)).toBeNull();
    expect(tenantLimits(off, null)).toEqual({ requests: { rate: 0, burst: 1 }, events: { rate: 0, burst: 1000 }, bytes: { rate: 0, burst: 2 ** 20 } });
    // explicit figures win, and scale for keys with their own rate
    const own = loadConfig(["--event-rate", "40", "--tenant-event-rate", "0"], {}).config;
    expect(keyLimits(own, null, null)!.events.rate).toBe(40);
    expect(keyLimits(own, 20, null)!.events.rate).toBe(80);
    expect(tenantLimits(own, null).events.rate).toBe(0);
  });
});
