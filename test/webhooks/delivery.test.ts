// Outbound deliveries end to end: real keepwatch, real SQLite file, real receivers on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { event, startTestServer, TEST_STORE, type TestServer } from "../helpers";
import { startReceiver, until, type Receiver } from "./receiver";

let s: TestServer;
const receivers: Receiver[] = [];
beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8", jobLease: 30 });
});
afterAll(async () => {
  for (const r of receivers) r.stop();
  await s.close();
});

const admin = (path: string, method = "GET", body?: unknown) =>
  fetch(s.url + path, {
    method,
    headers: { authorization: `Bearer ${s.keys.admin}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
const adminJson = async (path: string, method = "GET", body?: unknown) => {
  const r = await admin(path, method, body);
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
};
const receiver = (answer?: Receiver["answer"]) => {
  const r = startReceiver(answer);
  receivers.push(r);
  return r;
};
const FAST = { max_attempts: 5, initial_interval: 0.2, max_interval: 1 };
const hook = (url: string, extra: Record<string, unknown> = {}) =>
  adminJson("/v1/webhooks", "POST", { url, retry: FAST, rate_limit: 0, ...extra });
const ingest = async (n = 0, extra: Record<string, unknown> = {}) => {
  const r = await s.post("/api/v1/events", event(n, extra));
  expect(r.status).toBe(202);
  return ((await r.json()) as any).ids[0] as string;
};
const deliveriesOf = async (id: string, q = "") => (await adminJson(`/v1/webhooks/${id}/deliveries${q}`)).items as any[];

describe("immediate delivery", () => {
  test("an ingested event reaches the receiver signed (standardwebhooks and openssl-style)", async () => {
    const r = receiver();
    const w = await hook(r.url, { headers: "Authorization: Bearer 123\nX-Foo: bar & baz" });
    expect(w.secret).not.toContain(w.secret_value.slice(6, 20));
    const eventId = await ingest(1);
    const [got] = await r.waitFor(1);
    expect(got.json.type).toBe("event.received");
    expect(got.json.data.id).toBe(eventId);
    expect(got.json.data.source).toBe("nightly-cron");
    expect(got.json.id).toBe(got.headers["webhook-id"]);
    expect(got.headers["authorization"]).toBe("Bearer 123");
    expect(got.headers["x-foo"]).toBe("bar & baz");
    const verified = new StandardWebhook(w.secret_value).verify(got.body, got.headers) as any;
    expect(verified.data.id).toBe(eventId);
    const hex = createHmac("sha256", w.secret_value).update(got.body).digest("hex");
    expect(got.headers["x-keepwatch-signature"]).toBe(`sha256=${hex}`);
    // the history shows the attempt with request and response
    const d = await until(async () => (await deliveriesOf(w.id)).find((x) => x.status === "succeeded"), 5000, "succeeded delivery");
    const detail = await adminJson(`/v1/deliveries/${d.id}`);
    expect(detail.id).toBe(got.json.id);
    expect(detail.attempts).toHaveLength(1);
    expect(detail.attempts[0].response.status).toBe(200);
    expect(detail.attempts[0].response.body).toBe("ok");
    expect(detail.attempts[0].request.headers["webhook-id"]).toBe(d.id);
    expect(detail.attempts[0].request.body).toBe(got.body);
    const wd = await adminJson(`/v1/webhooks/${w.id}`);
    expect(wd.last_attempt).toMatchObject({ delivery_id: d.id, attempt: 1, outcome: "succeeded", response_status: 200, error: null });
  });
});

describe("transactional outbox", () => {
  test("the message is committed with the event: present at the 202, gone with a rolled-back transaction", async () => {
    const r = receiver();
    const w = await hook(r.url, { state: "inactive", filters: { sources: ["outbox"] } });
    // a count, read raw from whichever store the server runs on (`?n` placeholders on both)
    const q = async (sql: string, ...args: any[]): Promise<number> =>
      TEST_STORE === "postgres"
        ? Number((await s.deps.pg!.unsafe(sql.replace(/\?(\d)/g, "$$$1"), args))[0]!.n)
        : ((s.deps.sqlite!.db.$client.query(sql).get(...args) as any).n as number);
    const id = await ingest(600, { source: "outbox" });
    // at the moment of the 202 the delivery exists (held: the webhook is inactive)
    expect(await q("SELECT count(*) AS n FROM deliveries WHERE webhook_id = ?1 AND body LIKE ?2", w.id, `%${id}%`)).toBe(1);
    const before = await q("SELECT count(*) AS n FROM deliveries WHERE webhook_id = ?1", w.id);
    const jobsBefore = await q("SELECT count(*) AS n FROM jobs");
    const { normalizeAll } = await import("../../src/ingest/normalize");
    const { getSource } = await import("../../src/sources/registry");
    const evs = normalizeAll({ mappings: [], maxItems: 1000, now: Date.now() }, getSource("events")!, event(601, { source: "outbox" }), s.tenantId);
    await adminJson(`/v1/webhooks/${w.id}`, "PATCH", { state: "active" });
    await r.waitFor(1);
    const batch = { tenantId: s.tenantId, route: "test", idempotencyKey: null, events: evs };
    if (TEST_STORE === "postgres") {
      // the PostgreSQL unit: the group commit's storing, whose hooks run the outbox in its transaction
      const { inTx } = await import("../../src/store/contract");
      const { pgStoreBatch } = await import("../../src/store/pg/events");
      await expect(
        inTx(s.deps.pg!, async (tx) => {
          await pgStoreBatch(tx, batch, Date.now());
          throw new Error("the ingest transaction fails after the outbox wrote");
        }),
      ).rejects.toThrow("after the outbox wrote");
    } else {
      const { storeBatch } = await import("../../src/store/events");
      expect(() =>
        s.deps.sqlite!.db.$client.transaction(() => {
          const res = storeBatch(s.deps.sqlite!.db, batch, Date.now());
          s.deps.webhooks.onEventsInserted(s.deps.sqlite!.db, res.inserted);
          throw new Error("the ingest transaction fails after the outbox wrote");
        })(),
      ).toThrow("after the outbox wrote");
    }
    expect(await q("SELECT count(*) AS n FROM deliveries WHERE webhook_id = ?1", w.id)).toBe(before);
    expect(await q("SELECT count(*) AS n FROM jobs")).toBe(jobsBefore + 1); // the release job only
    await Bun.sleep(100);
    expect(r.got).toHaveLength(1);
  });
});

describe("retries", () => {
  test("500 for the first k attempts then 200: one success, attempts spaced by the policy, same webhook-id", async () => {
    const k = 3;
    const r = receiver((n) => new Response(n < k ? "down" : "ok", { status: n < k ? 500 : 200 }));
    const w = await hook(r.url, { retry: { max_attempts: 6, initial_interval: 0.2, max_interval: 1 } });
    await ingest(2);
    const got = await r.waitFor(k + 1);
    await Bun.sleep(300);
    expect(r.got).toHaveLength(k + 1);
    expect(new Set(got.map((g) => g.headers["webhook-id"])).size).toBe(1);
    // timestamps are fresh each attempt, signatures verify each time
    const sw = new StandardWebhook(w.secret_value);
    for (const g of got) sw.verify(g.body, g.headers);
    // 0.2 s, 0.4 s, 0.8 s (± 20 % jitter). Never early; late only by scheduling delay, which on a
    // loaded 2-core CI machine can reach a few hundred ms (the 1 s idle poll would show as more).
    const gaps = got.slice(1).map((g, i) => g.at - got[i].at);
    const bad = [200, 400, 800].filter((nominal, i) => !(gaps[i] >= nominal * 0.8 - 5 && gaps[i] <= nominal * 1.2 + 600));
    expect(bad, `gaps ${gaps.join(", ")} ms`).toEqual([]);
    const [d] = await deliveriesOf(w.id);
    const detail = await adminJson(`/v1/deliveries/${d.id}`);
    expect(detail.status).toBe("succeeded");
    expect(detail.attempts.map((a: any) => a.outcome)).toEqual(["failed", "failed", "failed", "succeeded"]);
    expect(detail.attempts.filter((a: any) => a.outcome === "succeeded")).toHaveLength(1);
    expect(detail.attempts[0].response.status).toBe(500);
    expect(detail.attempts[0].error).toBe("HTTP 500");
  });

  test("after the last attempt the delivery is failed, and replay sends it again with the same webhook-id", async () => {
    let fail = true;
    const r = receiver(() => new Response(null, { status: fail ? 500 : 204 }));
    const w = await hook(r.url, { retry: { max_attempts: 2, initial_interval: 0.05, max_interval: 0.05 } });
    await ingest(3);
    await r.waitFor(2);
    const d = await until(async () => (await deliveriesOf(w.id, "?status=failed"))[0], 5000, "failed delivery");
    expect(d.attempt_count).toBe(2);
    fail = false;
    const replayed = await adminJson(`/v1/deliveries/${d.id}/replay`, "POST");
    expect(replayed.status).toBe("pending");
    await r.waitFor(3);
    expect(r.got[2].headers["webhook-id"]).toBe(d.id);
    await until(async () => (await adminJson(`/v1/deliveries/${d.id}`)).status === "succeeded", 5000, "replayed success");
    expect((await admin(`/v1/deliveries/${d.id}/replay`, "POST")).status).toBe(200);
  });

  test("bulk replay pages through every failed message since a time", async () => {
    let fail = true;
    const r = receiver(() => new Response(null, { status: fail ? 500 : 200 }));
    const w = await hook(r.url, { retry: { max_attempts: 1, initial_interval: 0.05, max_interval: 0.05 } });
    const since = new Date(Date.now() - 1000).toISOString();
    const n = 12;
    const body = Array.from({ length: n }, (_, i) => event(i));
    expect((await s.post("/api/v1/events", body)).status).toBe(202);
    await until(async () => (await deliveriesOf(w.id, "?status=failed&limit=500")).length === n, 8000, "all failed");
    fail = false;
    const before = r.got.length;
    const res = await adminJson(`/v1/webhooks/${w.id}/replay?since=${encodeURIComponent(since)}&status=failed`, "POST");
    expect(res.replayed).toBe(n);
    await r.waitFor(before + n);
    await until(async () => (await deliveriesOf(w.id, "?status=succeeded&limit=500")).length === n, 8000, "all replayed");
    // pagination of the history
    const p1 = await adminJson(`/v1/webhooks/${w.id}/deliveries?limit=5`);
    expect(p1.items).toHaveLength(5);
    const p2 = await adminJson(`/v1/webhooks/${w.id}/deliveries?limit=5&cursor=${p1.next_cursor}`);
    expect(p2.items).toHaveLength(5);
    expect(p2.items[0].id < p1.items[4].id).toBe(true);
  });

  test("429 with Retry-After is honoured (at least 1 s)", async () => {
    const r = receiver((n) => (n === 0 ? new Response("slow down", { status: 429, headers: { "retry-after": "0" } }) : new Response("ok")));
    await hook(r.url, { retry: { max_attempts: 3, initial_interval: 0.05, max_interval: 0.05 } });
    await ingest(4);
    const got = await r.waitFor(2, 5000);
    expect(got[1].at - got[0].at).toBeGreaterThanOrEqual(990);
  });

  test("a redirect is a failure and is not followed", async () => {
    const target = receiver();
    const r = receiver(() => new Response(null, { status: 302, headers: { location: target.url } }));
    const w = await hook(r.url, { retry: { max_attempts: 1, initial_interval: 0.05, max_interval: 0.05 } });
    await ingest(5);
    const d = await until(async () => (await deliveriesOf(w.id, "?status=failed"))[0], 5000, "failed");
    expect(d.last_status_code).toBe(302);
    expect(d.last_error).toContain("redirect");
    expect(target.got).toHaveLength(0);
  });
});

describe("rate limit and connection errors", () => {
  test("the per-webhook rate limit spaces messages without spending attempts", async () => {
    const r = receiver();
    const w = await hook(r.url, { rate_limit: 5, filters: { sources: ["rl"] } });
    const t0 = Date.now();
    expect((await s.post("/api/v1/events", Array.from({ length: 10 }, (_, i) => event(300 + i, { source: "rl" })))).status).toBe(202);
    const got = await r.waitFor(10, 8000);
    // a burst of 5, then 5 more at 5/s: the 10th send is claimed at least 5 × 200 ms after the first
    // claim, which came after the POST began. (Measured from the POST, not from the first arrival:
    // under load the first send can arrive late, which shortens the gap between arrivals without
    // any send being early.) 10 ms for the database clock's rounding.
    expect(got[9].at - t0).toBeGreaterThanOrEqual(990);
    const items = await until(async () => {
      const x = await deliveriesOf(w.id, "?status=succeeded");
      return x.length === 10 ? x : null;
    }, 3000, "10 succeeded");
    expect(items.every((d: any) => d.attempt_count === 1)).toBe(true);
  });

  test("a refused connection is recorded and retried", async () => {
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    const port = closed.port;
    closed.stop(true);
    const w = await hook(`http://127.0.0.1:${port}/nobody`, { filters: { sources: ["refused"] }, retry: { max_attempts: 2, initial_interval: 0.05, max_interval: 0.05 } });
    await ingest(400, { source: "refused" });
    const d = await until(async () => (await deliveriesOf(w.id, "?status=failed"))[0], 5000, "failed");
    const detail = await adminJson(`/v1/deliveries/${d.id}`);
    expect(detail.attempts).toHaveLength(2);
    expect(detail.attempts[0].response).toBeNull();
    expect(detail.attempts[0].error.length).toBeGreaterThan(0);
  });

  test("X-Keepwatch-Signature checks with openssl dgst -hmac, as the docs say", async () => {
    const r = receiver();
    const w = await hook(r.url, { filters: { sources: ["openssl"] } });
    await ingest(401, { source: "openssl" });
    const [got] = await r.waitFor(1);
    const p = Bun.spawn(["openssl", "dgst", "-sha256", "-hmac", w.secret_value], { stdin: new TextEncoder().encode(got.body), stdout: "pipe" });
    const out = (await new Response(p.stdout).text()).trim().split(/\s+/).pop();
    expect(await p.exited).toBe(0);
    expect(got.headers["x-keepwatch-signature"]).toBe(`sha256=${out}`);
  });
});

describe("the webhook goes away", () => {
  test("410 Gone disables the webhook with the reason, and a webhook.disabled event is in the events list", async () => {
    const r = receiver(() => new Response("gone", { status: 410 }));
    const watcher = receiver();
    const w = await hook(r.url);
    const wd = await hook(watcher.url, { triggers: ["webhook.disabled"] });
    await ingest(6);
    await r.waitFor(1);
    const got = await until(async () => {
      const x = await adminJson(`/v1/webhooks/${w.id}`);
      return x.state === "inactive" ? x : null;
    }, 5000, "disabled");
    expect(got.disabled_reason).toContain("410");
    const events = (await (await s.get("/v1/events?type=webhook.disabled")).json()) as any;
    expect(events.items.some((e: any) => e.summary.includes(w.id) || e.title.includes(w.name))).toBe(true);
    const [msg] = await watcher.waitFor(1);
    expect(msg.json.type).toBe("webhook.disabled");
    expect(msg.json.data.webhook_id).toBe(w.id);
    await adminJson(`/v1/webhooks/${wd.id}`, "DELETE");
    expect(r.got).toHaveLength(1);
  });

  test("after N consecutive failed messages the webhook is auto-disabled", async () => {
    const s2 = await startTestServer({ outboundAllow: "127.0.0.0/8", webhookAutoDisable: 3 });
    try {
      const r = startReceiver(() => new Response(null, { status: 500 }));
      receivers.push(r);
      const res = await fetch(s2.url + "/v1/webhooks", {
        method: "POST",
        headers: { authorization: `Bearer ${s2.keys.admin}`, "content-type": "application/json" },
        body: JSON.stringify({ url: r.url, rate_limit: 0, retry: { max_attempts: 1 } }),
      });
      const w = (await res.json()) as any;
      expect((await s2.post("/api/v1/events", [event(1), event(2), event(3), event(4)])).status).toBe(202);
      const got = await until(async () => {
        const x = (await (await fetch(s2.url + `/v1/webhooks/${w.id}`, { headers: { authorization: `Bearer ${s2.keys.admin}` } })).json()) as any;
        return x.state === "inactive" ? x : null;
      }, 5000, "auto-disabled");
      expect(got.disabled_reason).toContain("3 consecutive");
      const ev = (await (await s2.get("/v1/events?type=webhook.disabled")).json()) as any;
      expect(ev.items).toHaveLength(1);
    } finally {
      await s2.close();
    }
  });
});

describe("slow and huge receivers", () => {
  test("a hanging receiver times out and does not hold up other webhooks", async () => {
    const hang = receiver(() => new Promise<Response>(() => {}));
    const fine = receiver();
    // a 2 s timeout: the other webhook's message must arrive well before it (not after it)
    const wh = await hook(hang.url, { timeout: 2, retry: { max_attempts: 1 } });
    await hook(fine.url);
    const t0 = Date.now();
    await ingest(7);
    await fine.waitFor(1);
    expect(Date.now() - t0).toBeLessThan(1500);
    const d = await until(async () => (await deliveriesOf(wh.id, "?status=failed"))[0], 8000, "timed out delivery");
    expect(d.last_error).toContain("timed out");
    const detail = await adminJson(`/v1/deliveries/${d.id}`);
    expect(detail.attempts[0].duration_ms).toBeGreaterThanOrEqual(1950);
    expect(detail.attempts[0].duration_ms).toBeLessThan(5000);
  });

  test("many messages to a hanging receiver: once it is known slow it gets at most its share of the worker", async () => {
    const s2 = await startTestServer({ outboundAllow: "127.0.0.0/8", webhookConcurrency: 4, webhookMaxInflight: 2 });
    try {
      const hang = startReceiver(() => new Promise<Response>(() => {}));
      const fine = startReceiver();
      receivers.push(hang, fine);
      const mk = (url: string, extra: object) =>
        fetch(s2.url + "/v1/webhooks", {
          method: "POST",
          headers: { authorization: `Bearer ${s2.keys.admin}`, "content-type": "application/json" },
          body: JSON.stringify({ url, rate_limit: 0, ...extra }),
        });
      expect((await mk(hang.url, { timeout: 1.2, retry: { max_attempts: 1 }, filters: { sources: ["slow"] } })).status).toBe(201);
      expect((await mk(fine.url, { filters: { sources: ["fast"] } })).status).toBe(201);
      expect((await s2.post("/api/v1/events", Array.from({ length: 12 }, (_, i) => event(i, { source: "slow" })))).status).toBe(202);
      // the first round takes every slot until it times out; after that the receiver is known slow
      await hang.waitFor(5, 5000);
      await Bun.sleep(100);
      expect(hang.got.length).toBeLessThanOrEqual(6);
      const t0 = Date.now();
      expect((await s2.post("/api/v1/events", event(99, { source: "fast" }))).status).toBe(202);
      await fine.waitFor(1, 3000);
      expect(Date.now() - t0).toBeLessThan(700);
    } finally {
      await s2.close();
    }
  });

  test("a 50 MB response body is read only up to 16 KiB", async () => {
    const big = receiver(() => {
      let sent = 0;
      const chunk = new Uint8Array(64 * 1024).fill(97);
      return new Response(
        new ReadableStream({
          pull(c) {
            if (sent >= 50 * 1024 * 1024) return c.close();
            sent += chunk.length;
            c.enqueue(chunk);
          },
        }),
        { headers: { "content-type": "text/plain" } },
      );
    });
    const w = await hook(big.url);
    await ingest(8);
    const d = await until(async () => (await deliveriesOf(w.id, "?status=succeeded"))[0], 10_000, "delivered");
    const detail = await adminJson(`/v1/deliveries/${d.id}`);
    expect(detail.attempts[0].response.status).toBe(200);
    expect(detail.attempts[0].response.body.length).toBe(16 * 1024);
    expect(detail.attempts[0].duration_ms).toBeLessThan(5000);
  });
});

describe("state, triggers, modes", () => {
  test("an inactive webhook holds messages; re-activating sends them", async () => {
    const r = receiver();
    const w = await hook(r.url, { state: "inactive" });
    await ingest(9);
    await ingest(10);
    await Bun.sleep(200);
    expect(r.got).toHaveLength(0);
    expect((await deliveriesOf(w.id, "?status=held")).length).toBe(2);
    await adminJson(`/v1/webhooks/${w.id}`, "PATCH", { state: "active" });
    await r.waitFor(2);
    expect(r.got.map((g) => g.json.data.host).sort()).toEqual(["backup-10", "backup-9"]);
  });

  test("filters: severity at least, source, tags; non-matching triggers get nothing", async () => {
    const r = receiver();
    const other = receiver();
    await hook(r.url, { filters: { min_severity: "high", sources: ["ci"] } });
    await hook(other.url, { triggers: ["alert.*"] });
    await ingest(11, { severity: "critical", source: "cron" });
    await ingest(12, { severity: "info", source: "ci" });
    await ingest(13, { severity: "critical", source: "ci" });
    const [got] = await r.waitFor(1);
    await Bun.sleep(200);
    expect(r.got).toHaveLength(1);
    expect(got.json.data.host).toBe("backup-13");
    expect(other.got).toHaveLength(0);
  });

  test("batched: one POST of a JSON array per interval, at most max_batch, signed", async () => {
    const r = receiver();
    const w = await hook(r.url, { mode: "batched", interval: 1, max_batch: 3, filters: { sources: ["batch-src"] }, retry: undefined });
    expect(w.retry.max_attempts).toBe(0); // until 2xx
    expect((await s.post("/api/v1/events", [0, 1, 2, 3, 4].map((i) => event(100 + i, { source: "batch-src" })))).status).toBe(202);
    const got = await r.waitFor(2, 5000);
    expect(Array.isArray(got[0].json)).toBe(true);
    expect(got[0].json).toHaveLength(3);
    expect(got[1].json).toHaveLength(2);
    // one POST per interval: the batches are made an interval apart (arrival times also carry
    // each POST's own latency, which a loaded machine stretches or shrinks)
    const batches = (await deliveriesOf(w.id)).filter((d) => d.kind === "batch").map((d) => Date.parse(d.created_at)).sort();
    expect(batches).toHaveLength(2);
    expect(batches[1] - batches[0]).toBeGreaterThanOrEqual(1000);
    const hosts = [...got[0].json, ...got[1].json].map((m: any) => m.data.host);
    expect(hosts).toEqual(["backup-100", "backup-101", "backup-102", "backup-103", "backup-104"]);
    new StandardWebhook(w.secret_value).verify(got[0].body, got[0].headers);
    // the second batch's outcome is committed just after its POST was answered: wait for all five
    const members = await until(
      async () => {
        const m = (await deliveriesOf(w.id, "?status=succeeded")).filter((d) => d.kind === "message");
        return m.length >= 5 ? m : null;
      },
      5000,
      "five succeeded members",
    );
    expect(members.length).toBe(5);
  });

  test("switching from batched to immediate sends what waited for the next batch", async () => {
    const r = receiver();
    const w = await hook(r.url, { mode: "batched", interval: 3600, filters: { sources: ["switch"] } });
    expect((await s.post("/api/v1/events", [event(500, { source: "switch" }), event(501, { source: "switch" })])).status).toBe(202);
    await Bun.sleep(150);
    expect(r.got).toHaveLength(0);
    await adminJson(`/v1/webhooks/${w.id}`, "PATCH", { mode: "immediate" });
    const got = await r.waitFor(2);
    expect(got.every((g) => !Array.isArray(g.json))).toBe(true);
  });

  test("ordered: a failing head blocks the rest, which then follow in order", async () => {
    const r = receiver((n) => new Response(null, { status: n < 2 ? 500 : 200 }));
    await hook(r.url, { ordered: true, filters: { sources: ["ordered-src"] }, retry: { max_attempts: 5, initial_interval: 0.1, max_interval: 0.1 } });
    expect((await s.post("/api/v1/events", [0, 1, 2, 3].map((i) => event(200 + i, { source: "ordered-src" })))).status).toBe(202);
    const got = await r.waitFor(6, 8000);
    const hosts = got.map((g) => g.json.data.host);
    expect(hosts).toEqual(["backup-200", "backup-200", "backup-200", "backup-201", "backup-202", "backup-203"]);
  });
});

describe("target safety", () => {
  test("with the range allowed, a name is resolved once and the checked address is the one connected to", async () => {
    const s3 = await startTestServer({ outboundAllow: "127.0.0.0/8, ::1/128" });
    try {
      const r = startReceiver();
      receivers.push(r);
      const url = r.url.replace("127.0.0.1", "localhost");
      const res = await fetch(s3.url + "/v1/webhooks", {
        method: "POST",
        headers: { authorization: `Bearer ${s3.keys.admin}`, "content-type": "application/json" },
        body: JSON.stringify({ url, rate_limit: 0 }),
      });
      expect(res.status).toBe(201);
      expect((await s3.post("/api/v1/events", event(1))).status).toBe(202);
      const [got] = await r.waitFor(1);
      // the request went to the resolved address with the original Host
      expect(got.headers["host"]).toBe(new URL(url).host);
    } finally {
      await s3.close();
    }
  });

  test("a hostname resolving to loopback is refused unless allowed; metadata IPs are refused at creation", async () => {
    const s2 = await startTestServer({ outboundAllow: "" });
    try {
      const r = startReceiver();
      receivers.push(r);
      const post = (body: unknown) =>
        fetch(s2.url + "/v1/webhooks", { method: "POST", headers: { authorization: `Bearer ${s2.keys.admin}`, "content-type": "application/json" }, body: JSON.stringify(body) });
      for (const url of ["http://169.254.169.254/latest/meta-data", "http://127.0.0.1:9/x", "http://[::1]/x", "http://10.0.0.1/", "ftp://example.com/", "http://user:pw@example.com/"]) {
        const res = await post({ url });
        expect(res.status).toBe(422);
      }
      // a name is checked when it is resolved, on each attempt: localhost resolves to loopback
      const res = await post({ url: r.url.replace("127.0.0.1", "localhost"), retry: { max_attempts: 1 }, rate_limit: 0 });
      expect(res.status).toBe(201);
      const w = (await res.json()) as any;
      expect((await s2.post("/api/v1/events", event(1))).status).toBe(202);
      const d = await until(async () => {
        const x = (await (await fetch(s2.url + `/v1/webhooks/${w.id}/deliveries?status=failed`, { headers: { authorization: `Bearer ${s2.keys.admin}` } })).json()) as any;
        return x.items[0];
      }, 5000, "refused delivery");
      expect(d.last_error).toContain("refused");
      expect(d.last_error).toContain("loopback");
      expect(r.got).toHaveLength(0);
    } finally {
      await s2.close();
    }
  });
});
