// The /v1/webhooks API: admin scope, CRUD, header validation, secret masking, reveal and rotation
// (verified with the standardwebhooks package during and after the overlap), history retention.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { pruneOutbound } from "../../src/scheduler";
import { event, startTestServer, type TestServer } from "../helpers";
import { startReceiver, until, type Receiver } from "./receiver";

let s: TestServer;
const receivers: Receiver[] = [];
beforeAll(async () => {
  // a rotated secret keeps signing for 1.5 s here (0.0004 h)
  s = await startTestServer({ outboundAllow: "127.0.0.0/8", secretOverlap: 0.0004 });
});
afterAll(async () => {
  for (const r of receivers) r.stop();
  await s.close();
});

const call = (path: string, method = "GET", body?: unknown, key = s.keys.admin) =>
  fetch(s.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
const ok = async (r: Response | Promise<Response>, status = 200) => {
  const res = await r;
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
};
const err = async (r: Response | Promise<Response>) => ((await (await r).json()) as any).error;

describe("CRUD", () => {
  test("create, list, get, update, delete; defaults as documented; secret masked in reads", async () => {
    const created = await ok(call("/v1/webhooks", "POST", { url: "https://example.com/hooks/1", headers: { "X-Team": "ops" } }), 201);
    expect(created.id).toMatch(/^wh_/);
    expect(created.secret_value).toMatch(/^whsec_/);
    expect(created).toMatchObject({
      url: "https://example.com/hooks/1",
      state: "active",
      triggers: ["event.received"],
      mode: "immediate",
      rate_limit: 50,
      timeout: 10,
      ordered: false,
      headers: { "X-Team": "…" }, // masked (GET /v1/webhooks/:id/headers reveals it)
      retry: { max_attempts: 13, initial_interval: 5, max_interval: 600 },
    });
    const got = await ok(call(`/v1/webhooks/${created.id}`));
    expect(got.secret).not.toBe(created.secret_value);
    expect(JSON.stringify(got)).not.toContain(created.secret_value.slice(6));
    expect(got.secret_value).toBeUndefined();
    expect(got.last_attempt).toBeNull();
    const list = await ok(call("/v1/webhooks"));
    expect(list.items.map((w: any) => w.id)).toContain(created.id);
    expect(JSON.stringify(list)).not.toContain(created.secret_value.slice(6));
    const upd = await ok(call(`/v1/webhooks/${created.id}`, "PATCH", { triggers: ["alert.*", "heartbeat.down"], filters: { min_severity: "high" }, state: "inactive" }));
    expect(upd.triggers).toEqual(["alert.*", "heartbeat.down"]);
    expect(upd.filters).toEqual({ min_severity: "high" });
    expect(upd.state).toBe("inactive");
    expect(upd.url).toBe(created.url);
    expect((await call(`/v1/webhooks/${created.id}`, "DELETE")).status).toBe(204);
    expect((await call(`/v1/webhooks/${created.id}`)).status).toBe(404);
    expect((await call(`/v1/webhooks/${created.id}`, "DELETE")).status).toBe(404);
  });

  test("batched webhooks retry until 2xx by default", async () => {
    const w = await ok(call("/v1/webhooks", "POST", { url: "https://example.com/b", mode: "batched", interval: 300, max_batch: 50 }), 201);
    expect(w.retry.max_attempts).toBe(0);
    expect(w.interval).toBe(300);
    expect(w.max_batch).toBe(50);
  });

  test("headers as lines or a map; bad names and reserved names are refused", async () => {
    const w = await ok(call("/v1/webhooks", "POST", { url: "https://example.com/h", headers: "Authorization: Bearer 123\nX-Foo: bar & baz\n" }), 201);
    expect(w.headers).toEqual({ Authorization: "…", "X-Foo": "…" });
    expect((await ok(call(`/v1/webhooks/${w.id}/headers`))).headers).toEqual({ Authorization: "Bearer 123", "X-Foo": "bar & baz" });
    for (const headers of ["Host: evil.example", "webhook-signature: v1,x", "X-Keepwatch-Signature: no", "Bad Name: x", "no colon here", { "Content-Type": "text/plain" }, { "X\nY": "z" }]) {
      const r = await call("/v1/webhooks", "POST", { url: "https://example.com/h", headers });
      expect(r.status).toBe(422);
      expect((await err(r)).details[0].path).toBe("/headers");
    }
  });

  test("schema errors follow the error contract", async () => {
    const cases: unknown[] = [
      {},
      { url: "not a url" },
      { url: "https://example.com", triggers: [] },
      { url: "https://example.com", triggers: ["Alert Opened"] },
      { url: "https://example.com", mode: "sometimes" },
      { url: "https://example.com", filters: { min_severity: "loud" } },
      { url: "https://example.com", timeout: 0 },
      { url: "https://example.com", secret: "hunter2" },
      { url: "https://example.com", retry: { initial_interval: 10, max_interval: 1 } },
    ];
    for (const body of cases) {
      const r = await call("/v1/webhooks", "POST", body);
      expect(r.status).toBe(422);
      const e = await err(r);
      expect(typeof e.code).toBe("string");
      expect(Array.isArray(e.details)).toBe(true);
    }
  });

  test("an unknown field is a 422 naming it, and nothing is created", async () => {
    const before = ((await (await call("/v1/webhooks", "GET")).json()) as any).items.length;
    const r = await call("/v1/webhooks", "POST", { url: "https://example.com/u", surprise: true });
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).error.details[0].path).toBe("/surprise");
    expect(((await (await call("/v1/webhooks", "GET")).json()) as any).items.length).toBe(before);
  });

  test("PATCH merges filters and retry the same way: what it names changes (null removes a filter), the rest stays", async () => {
    const w = await ok(
      call("/v1/webhooks", "POST", { url: "http://127.0.0.1:9/merge", filters: { min_severity: "high", sources: ["a"], tags: ["t"] }, retry: { max_attempts: 4, initial_interval: 2, max_interval: 60 } }),
      201,
    );
    const steps: [unknown, unknown][] = [
      [{ min_severity: "critical" }, { min_severity: "critical", sources: ["a"], tags: ["t"] }],
      [{ sources: ["b", "c"] }, { min_severity: "critical", sources: ["b", "c"], tags: ["t"] }],
      [{ tags: null }, { min_severity: "critical", sources: ["b", "c"] }],
      [{ min_severity: null, sources: null }, {}],
      [{}, {}],
      [{ tags: ["x"] }, { tags: ["x"] }],
    ];
    for (const [patch, after] of steps) {
      const got = await ok(call(`/v1/webhooks/${w.id}`, "PATCH", { filters: patch }));
      expect({ patch, filters: got.filters, retry: got.retry }).toEqual({ patch, filters: after, retry: w.retry });
    }
    // a bad filter is refused and changes nothing
    for (const bad of [{ tags: [] }, { sources: ["a", "a"] }, { min_severity: "loud" }, { nope: 1 }]) {
      expect((await call(`/v1/webhooks/${w.id}`, "PATCH", { filters: bad })).status).toBe(422);
      expect((await ok(call(`/v1/webhooks/${w.id}`))).filters).toEqual({ tags: ["x"] });
    }
    const r = await ok(call(`/v1/webhooks/${w.id}`, "PATCH", { retry: { max_attempts: 6 } }));
    expect(r.retry).toEqual({ ...w.retry, max_attempts: 6 });
    expect(r.filters).toEqual({ tags: ["x"] });
  });

  test("admin scope only, tenant of the key", async () => {
    expect((await call("/v1/webhooks", "GET", undefined, s.keys.read)).status).toBe(403);
    expect((await call("/v1/webhooks", "POST", { url: "https://example.com" }, s.keys.ingest)).status).toBe(403);
    expect((await fetch(s.url + "/v1/webhooks")).status).toBe(401);
    const w = await ok(call("/v1/webhooks", "POST", { url: "https://example.com/t" }), 201);
    const other = await s.deps.store.tenants.createTenant("t2");
    const otherAdmin = (await s.deps.store.keys.createKey({ tenantId: other.id, name: "x", scopes: ["admin"] })).key;
    expect((await call(`/v1/webhooks/${w.id}`, "GET", undefined, otherAdmin)).status).toBe(404);
    expect((await call(`/v1/webhooks/${w.id}/secret`, "GET", undefined, otherAdmin)).status).toBe(404);
    expect((await ok(call("/v1/webhooks", "GET", undefined, otherAdmin))).items).toEqual([]);
  });
});

describe("secrets", () => {
  test("reveal, rotate; both secrets sign during the overlap, then only the new one", async () => {
    const r = startReceiver();
    receivers.push(r);
    const w = await ok(call("/v1/webhooks", "POST", { url: r.url, rate_limit: 0, filters: { sources: ["rot"] } }), 201);
    const revealed = await ok(call(`/v1/webhooks/${w.id}/secret`));
    expect(revealed).toEqual({ secret: w.secret_value, previous_secret: null, previous_secret_expires_at: null });
    const rotated = await ok(call(`/v1/webhooks/${w.id}/rotate-secret`, "POST"));
    expect(rotated.secret).not.toBe(w.secret_value);
    expect(rotated.previous_secret).toBe(w.secret_value);
    expect(Date.parse(rotated.previous_secret_expires_at)).toBeGreaterThan(Date.now());
    expect((await ok(call(`/v1/webhooks/${w.id}`))).previous_secret_expires_at).toBe(rotated.previous_secret_expires_at);

    expect((await s.post("/api/v1/events", event(1, { source: "rot" }))).status).toBe(202);
    const [during] = await r.waitFor(1);
    expect(during.headers["webhook-signature"].split(" ")).toHaveLength(2);
    expect((new StandardWebhook(rotated.secret).verify(during.body, during.headers) as any).type).toBe("event.received");
    expect((new StandardWebhook(w.secret_value).verify(during.body, during.headers) as any).type).toBe("event.received");

    await Bun.sleep(1600); // past the overlap
    expect((await ok(call(`/v1/webhooks/${w.id}/secret`))).previous_secret).toBeNull();
    expect((await s.post("/api/v1/events", event(2, { source: "rot" }))).status).toBe(202);
    const [, after] = await r.waitFor(2);
    expect(after.headers["webhook-signature"].split(" ")).toHaveLength(1);
    expect((new StandardWebhook(rotated.secret).verify(after.body, after.headers) as any).type).toBe("event.received");
    expect(() => new StandardWebhook(w.secret_value).verify(after.body, after.headers)).toThrow();
  });
});

describe("history retention", () => {
  test("the scheduled prune deletes deliveries and attempts older than the retention", async () => {
    const r = startReceiver();
    receivers.push(r);
    const w = await ok(call("/v1/webhooks", "POST", { url: r.url, rate_limit: 0, filters: { sources: ["prune"] } }), 201);
    expect((await s.post("/api/v1/events", event(1, { source: "prune" }))).status).toBe(202);
    await until(async () => (await ok(call(`/v1/webhooks/${w.id}/deliveries?status=succeeded`))).items.length === 1, 5000, "delivered");
    const count = async () => Number((await s.sql("SELECT count(*) AS n FROM delivery_attempts WHERE webhook_id = ?1", w.id))[0]!.n);
    expect(await count()).toBe(1);
    await pruneOutbound(s.deps, Date.now() + 29 * 86_400_000);
    expect(await count()).toBe(1);
    await pruneOutbound(s.deps, Date.now() + 31 * 86_400_000);
    expect(await count()).toBe(0);
    expect((await ok(call(`/v1/webhooks/${w.id}/deliveries`))).items).toEqual([]);
  });
});
