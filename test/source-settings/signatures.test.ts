// Inbound signatures through real HTTP: every scheme good, bad, missing, stale, over another body;
// tenant isolation; nothing stored on a refusal; the signature is required in addition to the key.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { json, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
let t2: { admin: string; ingest: string };

beforeAll(async () => {
  s = await startTestServer();
  const t = await s.deps.store.tenants.createTenant("t2");
  t2 = {
    admin: (await s.deps.store.keys.createKey({ tenantId: t.id, name: "a", scopes: ["admin"] })).key,
    ingest: (await s.deps.store.keys.createKey({ tenantId: t.id, name: "i", scopes: ["ingest"] })).key,
  };
});
afterAll(() => s.close());

const hexHmac = (secret: string, ...parts: string[]) => {
  const h = createHmac("sha256", secret);
  for (const p of parts) h.update(p);
  return h.digest("hex");
};
const nowS = () => Math.floor(Date.now() / 1000);

async function put(source: string, body: unknown, key = s.keys.admin) {
  const r = await fetch(`${s.url}/v1/sources/${source}/settings`, {
    method: "PUT",
    headers: { "x-api-key": key, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(r.status).toBe(200);
  return r.json() as Promise<any>;
}

/** Posts the exact bytes given (so the signature covers what is sent). */
const send = (path: string, raw: string, headers: Record<string, string> = {}, key: string | null = s.keys.ingest) =>
  s.post(path, raw, { key, headers });

/** How many events the tenant of `key` has from a route's source. */
const count = async (source: string, key = s.keys.admin) => (await json(s.get(`/v1/events?source_name=${source}&limit=500`, key))).items.length;

async function refused(r: Response, code: string, re?: RegExp) {
  expect(r.status).toBe(401);
  expect(r.headers.get("www-authenticate")).toMatch(/realm="keepwatch"/);
  const e = ((await r.json()) as any).error;
  expect(e.code).toBe(code);
  if (re) expect(e.message).toMatch(re);
  return e;
}

test("hmac-sha256-hex: good (with and without sha256=, any hex case), bad, missing, malformed, over another body; nothing stored", async () => {
  const secret = "generic-secret-0123456789";
  const v = await put("generic", { scheme: "hmac-sha256-hex", secret, header: "X-Hub-Signature-256" });
  expect(v).toMatchObject({ scheme: "hmac-sha256-hex", header: "X-Hub-Signature-256", origin: "tenant" });
  const body = JSON.stringify({ title: "signed alert", severity: "High" });
  const sig = hexHmac(secret, body);

  expect((await send("/v1/ingest/generic", body, { "X-Hub-Signature-256": `sha256=${sig}` })).status).toBe(202);
  expect((await send("/v1/ingest/generic", body, { "x-hub-signature-256": sig.toUpperCase() })).status).toBe(202);
  expect(await count("generic")).toBe(2);

  await refused(await send("/v1/ingest/generic", body, { "X-Hub-Signature-256": `sha256=${hexHmac("another-secret-0123456789", body)}` }), "invalid_signature");
  await refused(await send("/v1/ingest/generic", body), "missing_signature", /X-Hub-Signature-256 header is required/);
  await refused(await send("/v1/ingest/generic", body, { "X-Hub-Signature-256": "sha256=not-hex" }), "invalid_signature", /not a hex HMAC-SHA256/);
  // a valid signature of another body
  const other = JSON.stringify({ title: "signed alert", severity: "Low" });
  await refused(await send("/v1/ingest/generic", other, { "X-Hub-Signature-256": sig }), "invalid_signature", /does not match the body/);
  // the same JSON with other bytes (whitespace) is another body: the check is on the raw bytes
  await refused(await send("/v1/ingest/generic", body.replace(":", ": "), { "X-Hub-Signature-256": sig }), "invalid_signature");
  expect(await count("generic")).toBe(2);
});

test("the signature is checked before the body is parsed, and in addition to the key", async () => {
  const secret = "generic-secret-0123456789";
  // not JSON: a bad signature is refused as such, before any 400 about the body
  await refused(await send("/v1/ingest/generic", "{not json", { "X-Hub-Signature-256": hexHmac("x".repeat(20), "{not json") }), "invalid_signature");
  // correctly signed but not JSON: now the body's problem is reported
  expect((await send("/v1/ingest/generic", "{not json", { "X-Hub-Signature-256": hexHmac(secret, "{not json") })).status).toBe(400);
  // a good signature is no substitute for a key
  const body = JSON.stringify({ title: "no key" });
  const r = await send("/v1/ingest/generic", body, { "X-Hub-Signature-256": hexHmac(secret, body) }, null);
  expect(r.status).toBe(401);
  expect(((await r.json()) as any).error.code).toBe("unauthorized");
});

test("tenant isolation: tenant A's secret does not verify tenant B, and B's own settings are its own", async () => {
  const secretA = "generic-secret-0123456789";
  const body = JSON.stringify({ title: "from tenant b" });
  // t2 has no setting for generic: unsigned is accepted there while t1 refuses it
  expect((await send("/v1/ingest/generic", body, {}, t2.ingest)).status).toBe(202);
  await refused(await send("/v1/ingest/generic", body), "missing_signature");
  // t2 sets its own secret: t1's signature is refused for t2, t2's for t1
  const secretB = "tenant-b-secret-abcdefghij";
  await put("generic", { scheme: "hmac-sha256-hex", secret: secretB, header: "X-Hub-Signature-256" }, t2.admin);
  const before = await count("generic", t2.admin);
  await refused(await send("/v1/ingest/generic", body, { "X-Hub-Signature-256": hexHmac(secretA, body) }, t2.ingest), "invalid_signature");
  await refused(await send("/v1/ingest/generic", body, { "X-Hub-Signature-256": hexHmac(secretB, body) }), "invalid_signature");
  expect((await send("/v1/ingest/generic", body, { "X-Hub-Signature-256": hexHmac(secretB, body) }, t2.ingest)).status).toBe(202);
  expect(await count("generic", t2.admin)).toBe(before + 1);
});

test("grafana: body-only HMAC in X-Grafana-Alerting-Signature by default", async () => {
  const secret = "grafana-contact-point-secret";
  const v = await put("grafana", { scheme: "grafana", secret });
  expect(v.header).toBe("X-Grafana-Alerting-Signature");
  const body = readFileSync(join(import.meta.dir, "..", "fixtures", "grafana", "firing.json"), "utf8");
  const before = await count("grafana");
  expect((await send("/v1/ingest/grafana", body, { "X-Grafana-Alerting-Signature": hexHmac(secret, body) })).status).toBe(202);
  await refused(await send("/v1/ingest/grafana", body, { "X-Grafana-Alerting-Signature": hexHmac("wrong-secret-0123456789", body) }), "invalid_signature");
  await refused(await send("/v1/ingest/grafana", body), "missing_signature", /X-Grafana-Alerting-Signature/);
  expect(await count("grafana")).toBe(before + 1);
});

test("grafana with a timestamp header: HMAC of \"<ts>:<body>\", fresh within the tolerance, stale and future refused", async () => {
  const secret = "grafana-contact-point-secret";
  await put("grafana", { scheme: "grafana", secret, timestamp_header: "X-Grafana-Alerting-Signature-Timestamp", tolerance: 120 });
  const body = readFileSync(join(import.meta.dir, "..", "fixtures", "grafana", "firing.json"), "utf8");
  const signed = (ts: number, over = body) => ({
    "X-Grafana-Alerting-Signature": hexHmac(secret, `${ts}:`, over),
    "X-Grafana-Alerting-Signature-Timestamp": String(ts),
  });
  const before = await count("grafana");
  expect((await send("/v1/ingest/grafana", body, signed(nowS()))).status).toBe(202);
  expect((await send("/v1/ingest/grafana", body, signed(nowS() - 100))).status).toBe(202); // inside the 120 s tolerance
  await refused(await send("/v1/ingest/grafana", body, signed(nowS() - 600)), "stale_signature", /old .*replay/);
  await refused(await send("/v1/ingest/grafana", body, signed(nowS() + 600)), "stale_signature", /in the future/);
  // the timestamp is part of what is signed: changing it breaks the signature
  const h = signed(nowS());
  h["X-Grafana-Alerting-Signature-Timestamp"] = String(nowS() + 1);
  await refused(await send("/v1/ingest/grafana", body, h), "invalid_signature");
  // a body-only signature is not enough once a timestamp header is configured
  await refused(
    await send("/v1/ingest/grafana", body, { "X-Grafana-Alerting-Signature": hexHmac(secret, body), "X-Grafana-Alerting-Signature-Timestamp": String(nowS()) }),
    "invalid_signature",
  );
  await refused(await send("/v1/ingest/grafana", body, { "X-Grafana-Alerting-Signature": hexHmac(secret, `${nowS()}:`, body) }), "missing_signature", /Timestamp header is required/);
  await refused(await send("/v1/ingest/grafana", body, { ...signed(nowS()), "X-Grafana-Alerting-Signature-Timestamp": "yesterday" }), "invalid_signature", /Unix timestamp/);
  await refused(await send("/v1/ingest/grafana", body.replace("us-1", "us-2"), signed(nowS())), "invalid_signature");
  expect(await count("grafana")).toBe(before + 2);
});

test("standard-webhooks on a connector: signed with the standardwebhooks package; rotation lists, bad, missing, stale", async () => {
  const secret = "whsec_" + randomBytes(32).toString("base64");
  const v = await put("syslog", { scheme: "standard-webhooks", secret });
  expect(v.secret).toBe("whsec_…" + secret.slice(-4));
  const wh = new Webhook(secret);
  const body = JSON.stringify({ source: "billing-api", severity: "err", message: "payment provider timed out", host: "app-3" });
  const headers = (id: string, at: Date, over = body, sig?: string) => ({
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": sig ?? wh.sign(id, at, over),
  });
  const before = await count("syslog");
  expect((await send("/api/v1/webhooks/syslog", body, headers("msg_1", new Date()))).status).toBe(202);
  // a sender rotating its secret sends two signatures; one valid is enough
  const other = new Webhook("whsec_" + randomBytes(32).toString("base64"));
  const now = new Date();
  const both = `${other.sign("msg_2", now, body)} ${wh.sign("msg_2", now, body)}`;
  expect((await send("/api/v1/webhooks/syslog", body, headers("msg_2", now, body, both))).status).toBe(202);

  await refused(await send("/api/v1/webhooks/syslog", body, headers("msg_3", now, body, other.sign("msg_3", now, body))), "invalid_signature");
  await refused(await send("/api/v1/webhooks/syslog", body, headers("msg_4", now, body.replace("err", "info"))), "invalid_signature");
  // the id is signed: another id with the same signature fails
  await refused(await send("/api/v1/webhooks/syslog", body, { ...headers("msg_5", now), "webhook-id": "msg_6" }), "invalid_signature");
  const old = new Date(Date.now() - 10 * 60_000);
  await refused(await send("/api/v1/webhooks/syslog", body, headers("msg_7", old)), "stale_signature", /replay/);
  await refused(await send("/api/v1/webhooks/syslog", body, headers("msg_8", new Date(Date.now() + 10 * 60_000))), "stale_signature");
  for (const missing of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
    const h: Record<string, string> = headers("msg_9", new Date());
    delete h[missing];
    await refused(await send("/api/v1/webhooks/syslog", body, h), "missing_signature", new RegExp(missing));
  }
  expect(await count("syslog")).toBe(before + 2);
  // the reference implementation accepts the same kind of headers keepwatch accepted above
  expect(() => wh.verify(body, headers("msg_10", new Date()))).not.toThrow();
});

test("shared-secret: the header must equal the secret", async () => {
  const secret = "a-long-shared-secret-value";
  await put("alertmanager", { scheme: "shared-secret", secret, header: "X-Alertmanager-Token" });
  const body = readFileSync(join(import.meta.dir, "..", "fixtures", "alertmanager", "firing.json"), "utf8");
  const before = await count("alertmanager");
  expect((await send("/v1/ingest/alertmanager", body, { "X-Alertmanager-Token": secret })).status).toBe(202);
  await refused(await send("/v1/ingest/alertmanager", body, { "X-Alertmanager-Token": secret + "x" }), "invalid_signature", /does not match/);
  await refused(await send("/v1/ingest/alertmanager", body, { "X-Alertmanager-Token": secret.slice(0, -1) }), "invalid_signature");
  await refused(await send("/v1/ingest/alertmanager", body), "missing_signature", /X-Alertmanager-Token/);
  expect(await count("alertmanager")).toBeGreaterThan(before);
  const after = await count("alertmanager");
  // a change is seen by the next request (no stale cache): scheme none turns the check off
  await put("alertmanager", { scheme: "none" });
  expect((await send("/v1/ingest/alertmanager", body)).status).toBe(202);
  expect(await count("alertmanager")).toBeGreaterThan(after);
});

test("the envelope route honours a setting for source \"events\" too", async () => {
  const secret = "events-secret-0123456789";
  await put("events", { scheme: "hmac-sha256-hex", secret });
  const body = JSON.stringify({ type: "deploy.failed", source: "ci" });
  await refused(await send("/api/v1/events", body), "missing_signature", /X-Signature/);
  expect((await send("/api/v1/events", body, { "X-Signature": hexHmac(secret, body) })).status).toBe(202);
});
