// Outbound deliveries end to end: real keepwatch, real SQLite file, real receivers on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { event, startTestServer, type TestServer } from "../helpers";
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
  });
});
