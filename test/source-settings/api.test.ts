// The source settings and URL token APIs through real HTTP: validation, masking, 404s, scopes;
// URL tokens grant ingest to one source of one tenant and nothing else, until revoked.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { redactToken } from "../../src/core/source-tokens";
import { json, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
let other: { admin: string; ingest: string };

beforeAll(async () => {
  s = await startTestServer();
  const t = await s.deps.store.tenants.createTenant("other");
  other = {
    admin: (await s.deps.store.keys.createKey({ tenantId: t.id, name: "a", scopes: ["admin"] })).key,
    ingest: (await s.deps.store.keys.createKey({ tenantId: t.id, name: "i", scopes: ["ingest"] })).key,
  };
});
afterAll(() => s.close());

const req = (method: string, path: string, body?: unknown, key: string | null = s.keys.admin) =>
  fetch(s.url + path, {
    method,
    headers: { ...(key ? { "x-api-key": key } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });

test("a source without a setting: scheme none, origin default", async () => {
  const r = await req("GET", "/v1/sources/generic/settings");
  expect(r.status).toBe(200);
  expect(await r.json()).toEqual({
    source: "generic",
    scheme: "none",
    secret: null,
    header: null,
    timestamp_header: null,
    tolerance: 300,
    origin: "default",
    updated_at: null,
  });
});

test("PUT validates the scheme and its fields; a refusal changes nothing", async () => {
  const cases: [unknown, string, RegExp][] = [
    [{ scheme: "md5", secret: "x".repeat(20) }, "/scheme", /must be one of none, hmac-sha256-hex, grafana, standard-webhooks, shared-secret/],
    [{ scheme: "hmac-sha256-hex", secret: "short" }, "/secret", /at least 16 characters/],
    [{ scheme: "hmac-sha256-hex" }, "/secret", /required/],
    [{ scheme: "standard-webhooks", secret: "not-a-whsec-secret-at-all" }, "/secret", /whsec_/],
    [{ scheme: "standard-webhooks", secret: "whsec_" + Buffer.alloc(8).toString("base64") }, "/secret", /24 to 64 bytes/],
    [{ scheme: "standard-webhooks", secret: "whsec_" + Buffer.alloc(32).toString("base64"), header: "X-Sig" }, "/header", /always reads webhook-id/],
    [{ scheme: "hmac-sha256-hex", secret: "x".repeat(20), header: "bad header" }, "/header", /.+/],
    [{ scheme: "hmac-sha256-hex", secret: "x".repeat(20), timestamp_header: "X-Ts" }, "/timestamp_header", /only scheme "grafana"/],
    [{ scheme: "shared-secret", secret: "x".repeat(20), tolerance: 30 }, "/tolerance", /timestamped schemes/],
    [{ scheme: "grafana", secret: "x".repeat(20), tolerance: 0 }, "/tolerance", /.+/],
    [{ scheme: "grafana", secret: "x".repeat(20), header: "X-A", timestamp_header: "x-a" }, "/timestamp_header", /differ/],
    [{ scheme: "none", secret: "x".repeat(20) }, "/secret", /takes no secret/],
    [{ scheme: "hmac-sha256-hex", secret: "x".repeat(20), colour: "blue" }, "/colour", /.+/],
  ];
  for (const [body, path, re] of cases) {
    const r = await req("PUT", "/v1/sources/generic/settings", body);
    expect(r.status).toBe(422);
    const e = ((await r.json()) as any).error;
    expect(e.details.length).toBeGreaterThan(0);
    const d = e.details.find((x: any) => x.path === path);
    if (!d) throw new Error(`no detail at ${path} for ${JSON.stringify(body)}: ${JSON.stringify(e)}`);
    expect(d.message).toMatch(re);
  }
  const notJson = await req("PUT", "/v1/sources/generic/settings", "{nope");
  expect(notJson.status).toBe(400);
  expect((await json(req("GET", "/v1/sources/generic/settings"))).origin).toBe("default");
});

test("the secret is never answered whole; a PUT without secret keeps the stored one", async () => {
  const secret = "hmac-secret-value-WXYZ";
  const r = await req("PUT", "/v1/sources/generic/settings", { scheme: "hmac-sha256-hex", secret, header: "X-Sig" });
  expect(r.status).toBe(200);
  const text = await r.text();
  expect(text).not.toContain(secret);
  expect(JSON.parse(text)).toMatchObject({ scheme: "hmac-sha256-hex", secret: "…WXYZ", header: "X-Sig", origin: "tenant", tolerance: 300 });
  const got = await (await req("GET", "/v1/sources/generic/settings")).text();
  expect(got).not.toContain(secret);
  expect(JSON.parse(got).secret).toBe("…WXYZ");
  // change only the header: the secret stays and still verifies
  const r2 = await json(req("PUT", "/v1/sources/generic/settings", { scheme: "hmac-sha256-hex", header: "X-Other-Sig" }));
  expect(r2).toMatchObject({ secret: "…WXYZ", header: "X-Other-Sig" });
  const body = JSON.stringify({ title: "kept secret" });
  const sig = createHmac("sha256", secret).update(body).digest("hex");
  expect((await s.post("/v1/ingest/generic", body, { headers: { "X-Other-Sig": sig } })).status).toBe(202);
  // a kept secret is checked against the new scheme
  const r3 = await req("PUT", "/v1/sources/generic/settings", { scheme: "standard-webhooks" });
  expect(r3.status).toBe(422);
  expect(((await r3.json()) as any).error.details[0].path).toBe("/secret");
  // DELETE goes back to the default; a second DELETE is a 404
  expect((await req("DELETE", "/v1/sources/generic/settings")).status).toBe(204);
  expect((await json(req("GET", "/v1/sources/generic/settings"))).origin).toBe("default");
  expect((await req("DELETE", "/v1/sources/generic/settings")).status).toBe(404);
  expect((await s.post("/v1/ingest/generic", body)).status).toBe(202);
});

test("unknown source: 404 naming the known ones, on every settings and tokens route", async () => {
  for (const [method, path, body] of [
    ["GET", "/v1/sources/nosuch/settings"],
    ["PUT", "/v1/sources/nosuch/settings", { scheme: "none" }],
    ["DELETE", "/v1/sources/nosuch/settings"],
    ["POST", "/v1/sources/nosuch/tokens", {}],
    ["GET", "/v1/sources/nosuch/tokens"],
    ["DELETE", "/v1/sources/nosuch/tokens/01ABC"],
  ] as [string, string, unknown?][]) {
    const r = await req(method, path, body);
    expect(r.status).toBe(404);
    const e = ((await r.json()) as any).error;
    expect(e.message).toMatch(/unknown source "nosuch"; known sources: .*generic.*grafana.*syslog/);
  }
});

test("scopes: ingest and read keys are refused (403), no key is 401", async () => {
  for (const key of [s.keys.ingest, s.keys.read]) {
    for (const [method, path, body] of [
      ["GET", "/v1/sources/generic/settings"],
      ["PUT", "/v1/sources/generic/settings", { scheme: "none" }],
      ["DELETE", "/v1/sources/generic/settings"],
      ["POST", "/v1/sources/generic/tokens", {}],
      ["GET", "/v1/sources/generic/tokens"],
      ["DELETE", "/v1/sources/generic/tokens/01ABC"],
    ] as [string, string, unknown?][]) {
      const r = await req(method, path, body, key);
      expect(r.status).toBe(403);
      expect(((await r.json()) as any).error.message).toMatch(/lacks the "admin" scope/);
    }
  }
  const r = await req("GET", "/v1/sources/generic/settings", undefined, null);
  expect(r.status).toBe(401);
  expect(r.headers.get("www-authenticate")).toBeTruthy();
  // nothing was changed by the refused PUTs
  expect((await json(req("GET", "/v1/sources/generic/settings"))).origin).toBe("default");
});

test("URL tokens: shown once, listed masked, grant ingest to one source of one tenant only, until revoked", async () => {
  const r = await req("POST", "/v1/sources/generic/tokens", { name: "splunk-prod" });
  expect(r.status).toBe(201);
  const created = (await r.json()) as any;
  expect(created.token).toMatch(/^kwt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  expect(created).toMatchObject({ source: "generic", name: "splunk-prod", last_used_at: null, revoked_at: null });
  expect(created.url).toBe(`${s.url}/v1/ingest/generic?token=${created.token}`);
  const token: string = created.token;
  expect((await req("POST", "/v1/sources/generic/tokens", { name: "" })).status).toBe(422);
  expect((await req("POST", "/v1/sources/generic/tokens", { label: "x" })).status).toBe(422);

  // ingest with the token alone (no header): stored in this tenant
  const sent = await fetch(created.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ title: "from splunk via token" }),
  });
  expect(sent.status).toBe(202);
  const id = ((await sent.json()) as any).ids[0];
  expect((await json(s.get(`/v1/events/${id}`))).title).toBe("from splunk via token");
  expect((await s.get(`/v1/events/${id}`, other.admin)).status).toBe(404);

  // listed masked, with its last use
  const listText = await (await req("GET", "/v1/sources/generic/tokens")).text();
  expect(listText).not.toContain(token);
  const listed = JSON.parse(listText).items.find((x: any) => x.id === created.id);
  expect(listed.token).toBe(token.slice(0, 17) + "…");
  expect(listed.last_used_at).not.toBeNull();
  // another source's list does not show it; another tenant's neither
  expect((await json(req("GET", "/v1/sources/grafana/tokens"))).items).toEqual([]);
  expect((await json(req("GET", "/v1/sources/generic/tokens", undefined, other.admin))).items).toEqual([]);

  // refused on every other source and connector
  for (const path of ["/v1/ingest/grafana", "/v1/ingest/alertmanager", "/api/v1/webhooks/syslog", "/api/v1/events"]) {
    const x = await fetch(`${s.url}${path}?token=${token}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(x.status).toBe(403);
    expect(((await x.json()) as any).error.message).toContain('may only send to source "generic"');
  }
  // and on every read and admin route: they never take a token (401, also where the route's
  // query schema would refuse "token" as an unknown parameter); never data
  for (const [method, path] of [
    ["GET", "/v1/events"],
    ["GET", `/v1/events/${id}`],
    ["GET", "/v1/alerts"],
    ["GET", "/v1/sources"],
    ["GET", "/v1/sources/generic/settings"],
    ["PUT", "/v1/sources/generic/settings"],
    ["GET", "/v1/sources/generic/tokens"],
    ["POST", "/v1/sources/generic/tokens"],
    ["DELETE", `/v1/sources/generic/tokens/${created.id}`],
    ["GET", "/v1/rules"],
    ["GET", "/v1/webhooks"],
    ["GET", "/v1/heartbeats"],
  ]) {
    const x = await fetch(`${s.url}${path}?token=${token}`, {
      method,
      headers: { "content-type": "application/json" },
      body: method === "GET" || method === "DELETE" ? undefined : JSON.stringify(path.endsWith("settings") ? { scheme: "none" } : {}),
    });
    expect([method, path, x.status]).toEqual([method, path, 401]);
    expect(Object.keys((await x.json()) as object)).toEqual(["error"]);
  }
  // as a bearer key it is no key either
  expect((await s.get("/v1/events", token)).status).toBe(401);
  expect((await s.post("/v1/ingest/generic", { title: "x" }, { key: token })).status).toBe(401);

  // another tenant's admin cannot revoke it
  expect((await req("DELETE", `/v1/sources/generic/tokens/${created.id}`, undefined, other.admin)).status).toBe(404);
  // nor can it be revoked through another source's path
  expect((await req("DELETE", `/v1/sources/grafana/tokens/${created.id}`)).status).toBe(404);

  // revoked: refused on the next request, listed as revoked
  expect((await req("DELETE", `/v1/sources/generic/tokens/${created.id}`)).status).toBe(204);
  const after = await fetch(created.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ title: "after revoke" }) });
  expect(after.status).toBe(401);
  expect(after.headers.get("www-authenticate")).toBeTruthy();
  expect(((await after.json()) as any).error.message).toMatch(/revoked/);
  expect((await json(req("GET", "/v1/sources/generic/tokens"))).items.find((x: any) => x.id === created.id).revoked_at).not.toBeNull();
  expect((await req("DELETE", "/v1/sources/generic/tokens/01NOSUCHTOKEN")).status).toBe(404);

  // garbage and forged tokens
  for (const bad of ["nope", token.slice(0, -1) + (token.endsWith("A") ? "B" : "A"), ""]) {
    const x = await fetch(`${s.url}/v1/ingest/generic?token=${encodeURIComponent(bad)}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(x.status).toBe(401);
  }
  expect((await json(s.get("/v1/events?q=after%20revoke"))).items).toEqual([]);
});

test("a URL token for a connector; a source's signature is still required with a token", async () => {
  const created = await json(req("POST", "/v1/sources/syslog/tokens", {}));
  expect(created.url).toBe(`${s.url}/api/v1/webhooks/syslog?token=${created.token}`);
  const body = JSON.stringify({ source: "appliance-7", severity: "warning", message: "fan speed low" });
  const post = (headers: Record<string, string> = {}) =>
    fetch(created.url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  expect((await post()).status).toBe(202);
  const secret = "syslog-shared-secret-123";
  expect((await req("PUT", "/v1/sources/syslog/settings", { scheme: "shared-secret", secret })).status).toBe(200);
  const r = await post();
  expect(r.status).toBe(401);
  expect(((await r.json()) as any).error.code).toBe("missing_signature");
  expect((await post({ "X-Webhook-Secret": secret })).status).toBe(202);
});

test("a token in a URL is redacted before it could be logged", () => {
  expect(redactToken("http://h/v1/ingest/splunk?token=kwt_abc_secret&x=1")).toBe("http://h/v1/ingest/splunk?token=[redacted]&x=1");
  expect(redactToken("http://h/v1/ingest/splunk?a=1&TOKEN=kwt_abc")).toBe("http://h/v1/ingest/splunk?a=1&TOKEN=[redacted]");
  expect(redactToken("http://h/v1/events")).toBe("http://h/v1/events");
});
