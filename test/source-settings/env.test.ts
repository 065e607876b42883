// Environment secrets (<SOURCE>_WEBHOOK_SECRET and friends): parsed and validated once by the
// config, applied to every tenant without a setting of its own; a tenant's setting wins.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { ConfigError, loadConfig, loadSourceSecrets } from "../../src/config";
import { json, startTestServer, type TestServer } from "../helpers";

const hex = (secret: string, ...parts: string[]) => {
  const h = createHmac("sha256", secret);
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

test("defaults per source: grafana's scheme for grafana, hmac-sha256-hex in X-Signature for the others; overrides", () => {
  const got = loadSourceSecrets({
    GRAFANA_WEBHOOK_SECRET: "grafana-env-secret-123",
    GENERIC_WEBHOOK_SECRET: "generic-env-secret-123",
    ALERTMANAGER_WEBHOOK_SECRET: "am-env-secret-12345678",
    ALERTMANAGER_WEBHOOK_SIGNATURE_HEADER: "X-AM-Signature",
    SYSLOG_WEBHOOK_SECRET: "syslog-shared-secret-1",
    SYSLOG_WEBHOOK_SCHEME: "shared-secret",
    // not a source: ignored, whatever its value
    GITHUB_WEBHOOK_SECRET: "x",
  });
  expect(got).toEqual({
    grafana: { scheme: "grafana", secret: "grafana-env-secret-123", header: null, timestampHeader: null, toleranceS: 300 },
    generic: { scheme: "hmac-sha256-hex", secret: "generic-env-secret-123", header: null, timestampHeader: null, toleranceS: 300 },
    alertmanager: { scheme: "hmac-sha256-hex", secret: "am-env-secret-12345678", header: "X-AM-Signature", timestampHeader: null, toleranceS: 300 },
    syslog: { scheme: "shared-secret", secret: "syslog-shared-secret-1", header: null, timestampHeader: null, toleranceS: 300 },
  });
  expect(
    loadSourceSecrets({ GRAFANA_WEBHOOK_SECRET: "grafana-env-secret-123", GRAFANA_WEBHOOK_TIMESTAMP_HEADER: "X-Ts", GRAFANA_WEBHOOK_TOLERANCE: "60" }).grafana,
  ).toMatchObject({ timestampHeader: "X-Ts", toleranceS: 60 });
  expect(loadConfig([], { GENERIC_WEBHOOK_SECRET: "generic-env-secret-123" }).config.sourceSecrets.generic.scheme).toBe("hmac-sha256-hex");
  expect(loadConfig([], {}).config.sourceSecrets).toEqual({});
});

test("a bad environment secret stops start-up with one line naming the variable, never echoing the secret", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ GENERIC_WEBHOOK_SECRET: "tooshort" }, /GENERIC_WEBHOOK_SECRET: must be at least 16 characters/],
    [{ GENERIC_WEBHOOK_SECRET: "generic-env-secret-123", GENERIC_WEBHOOK_SCHEME: "md5" }, /GENERIC_WEBHOOK_SCHEME="md5": must be one of none, hmac-sha256-hex/],
    [{ SYSLOG_WEBHOOK_SECRET: "not-whsec-secret-123456", SYSLOG_WEBHOOK_SCHEME: "standard-webhooks" }, /SYSLOG_WEBHOOK_SECRET: must be whsec_/],
    [{ GENERIC_WEBHOOK_SECRET: "generic-env-secret-123", GENERIC_WEBHOOK_SIGNATURE_HEADER: "bad header" }, /GENERIC_WEBHOOK_SIGNATURE_HEADER="bad header"/],
    [{ GRAFANA_WEBHOOK_SECRET: "grafana-env-secret-123", GRAFANA_WEBHOOK_TOLERANCE: "soon" }, /GRAFANA_WEBHOOK_TOLERANCE="soon"/],
    [{ GENERIC_WEBHOOK_SECRET: "generic-env-secret-123", GENERIC_WEBHOOK_TIMESTAMP_HEADER: "X-Ts" }, /GENERIC_WEBHOOK_TIMESTAMP_HEADER="X-Ts": only scheme "grafana"/],
    [{ GENERIC_WEBHOOK_SIGNATURE_HEADER: "X-Sig" }, /GENERIC_WEBHOOK_SIGNATURE_HEADER is set but GENERIC_WEBHOOK_SECRET is not/],
  ];
  for (const [env, re] of cases) {
    let err: unknown;
    try {
      loadConfig([], env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(re);
    expect(msg).not.toContain("\n");
    for (const [k, v] of Object.entries(env)) if (k.endsWith("_SECRET")) expect(msg).not.toContain(v);
  }
});

let s: TestServer;
let t2: { admin: string; ingest: string };
const ENV_SECRET = "generic-env-secret-123";
const GRAFANA_SECRET = "grafana-env-secret-123";

beforeAll(async () => {
  s = await startTestServer({ sourceSecrets: loadSourceSecrets({ GENERIC_WEBHOOK_SECRET: ENV_SECRET, GRAFANA_WEBHOOK_SECRET: GRAFANA_SECRET }) });
  const t = await s.deps.store.tenants.createTenant("t2");
  t2 = {
    admin: (await s.deps.store.keys.createKey({ tenantId: t.id, name: "a", scopes: ["admin"] })).key,
    ingest: (await s.deps.store.keys.createKey({ tenantId: t.id, name: "i", scopes: ["ingest"] })).key,
  };
});
afterAll(() => s.close());

const send = (path: string, raw: string, headers: Record<string, string> = {}, key = s.keys.ingest) => s.post(path, raw, { key, headers });

test("an environment secret applies to every tenant without a setting of its own", async () => {
  const body = JSON.stringify({ title: "env signed" });
  for (const key of [s.keys.ingest, t2.ingest]) {
    const r = await send("/v1/ingest/generic", body, {}, key);
    expect(r.status).toBe(401);
    expect(((await r.json()) as any).error.message).toContain("X-Signature header is required");
    expect((await send("/v1/ingest/generic", body, { "X-Signature": hex("wrong-secret-123456789", body) }, key)).status).toBe(401);
    expect((await send("/v1/ingest/generic", body, { "X-Signature": "sha256=" + hex(ENV_SECRET, body) }, key)).status).toBe(202);
  }
  const v = await json(s.admin("GET", "/v1/sources/generic/settings"));
  expect(v).toEqual({
    source: "generic",
    scheme: "hmac-sha256-hex",
    secret: "…" + ENV_SECRET.slice(-4),
    header: "X-Signature",
    timestamp_header: null,
    tolerance: 300,
    origin: "environment",
    updated_at: null,
  });
  // grafana's environment secret uses grafana's scheme and header
  const g = JSON.stringify({ receiver: "x" });
  const r = await send("/v1/ingest/grafana", g);
  expect(r.status).toBe(401);
  expect(((await r.json()) as any).error.message).toContain("X-Grafana-Alerting-Signature");
  // a source without an environment secret is not checked
  expect((await send("/api/v1/webhooks/syslog", JSON.stringify({ source: "a", message: "b" }))).status).toBe(202);
});

test("a tenant's setting wins over the environment, for that tenant only; deleting it brings the environment back", async () => {
  const body = JSON.stringify({ title: "tenant setting wins" });
  const own = "t1-own-shared-secret-99";
  expect((await s.admin("PUT", "/v1/sources/generic/settings", { scheme: "shared-secret", secret: own })).status).toBe(200);
  // t1: the environment's HMAC no longer does, its own shared secret does
  expect((await send("/v1/ingest/generic", body, { "X-Signature": hex(ENV_SECRET, body) })).status).toBe(401);
  expect((await send("/v1/ingest/generic", body, { "X-Webhook-Secret": own })).status).toBe(202);
  // t2 still follows the environment
  expect((await send("/v1/ingest/generic", body, { "X-Webhook-Secret": own }, t2.ingest)).status).toBe(401);
  expect((await send("/v1/ingest/generic", body, { "X-Signature": hex(ENV_SECRET, body) }, t2.ingest)).status).toBe(202);
  // scheme none turns the environment's check off for this tenant
  expect((await s.admin("PUT", "/v1/sources/generic/settings", { scheme: "none" })).status).toBe(200);
  expect((await send("/v1/ingest/generic", body)).status).toBe(202);
  expect((await send("/v1/ingest/generic", body, {}, t2.ingest)).status).toBe(401);
  expect((await s.admin("DELETE", "/v1/sources/generic/settings")).status).toBe(204);
  expect((await json(s.admin("GET", "/v1/sources/generic/settings"))).origin).toBe("environment");
  expect((await send("/v1/ingest/generic", body)).status).toBe(401);
});
