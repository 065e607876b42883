// Security of the admin page over real HTTP: headers on every response, the session cookie's
// attributes, login refusals, CSRF (no token, or another session's token: 403 and nothing
// changes), revoked keys, logout, and tenant isolation by page and by API.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { json, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
let alertId = "";
let heartbeatId = "";
let webhookId = "";
let watchlistId = "";
let enricherId = "";
let mappingId = "";
let tokenId = "";
const SOURCE_SECRET = "tenant-one-source-secret-0123456789";

const FORM = { "content-type": "application/x-www-form-urlencoded" };

async function login(key: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(s.url + "/admin/login", { method: "POST", redirect: "manual", headers: { ...FORM, ...headers }, body: new URLSearchParams({ key }).toString() });
}

/** A logged-in session: its cookie and the CSRF token its pages carry. */
async function session(key = s.keys.admin): Promise<{ cookie: string; csrf: string }> {
  const r = await login(key);
  expect(r.status).toBe(303);
  const cookie = r.headers.get("set-cookie")!.split(";")[0];
  const page = await (await fetch(s.url + "/admin/heartbeats", { headers: { cookie } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1];
  return { cookie, csrf };
}

const page = (path: string, cookie: string) => fetch(s.url + path, { headers: { cookie }, redirect: "manual" });
const post = (path: string, cookie: string, form: Record<string, string>) =>
  fetch(s.url + path, { method: "POST", redirect: "manual", headers: { ...FORM, cookie }, body: new URLSearchParams(form).toString() });

beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
  expect((await s.post("/v1/ingest/generic", { title: "Tenant one secret alert", source: "siem-one" })).status).toBe(202);
  expect((await s.post("/api/v1/events", { type: "t1.only", module: "m", source: "tenant-one-source", summary: "Tenant one event", severity: "info" })).status).toBe(202);
  alertId = (await json(s.get("/v1/alerts"))).items[0].id;
  heartbeatId = (await json(s.admin("POST", "/v1/heartbeats", { name: "tenant-one-hb", period: 3600 }))).id;
  webhookId = (await json(s.admin("POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook", name: "tenant-one-hook" }))).id;
  mappingId = (await json(s.admin("POST", "/v1/indicator-mappings", { source: "generic", path: "details.addr", type: "ip" }))).id;
  watchlistId = (await json(s.admin("POST", "/v1/watchlists", { name: "tenant-one-wl", entries: [{ kind: "domain", value: "tenant-one.example" }] }))).id;
  enricherId = (
    await json(s.admin("POST", "/v1/enrichers", { name: "tenant-one-enricher", indicator_types: ["ip"], url_template: "https://intel.example/{{value}}", headers: { "X-Key": "tenant-one-enricher-key-0123" } }))
  ).id;
  expect((await s.admin("PUT", "/v1/sources/sentinel/settings", { scheme: "shared-secret", secret: SOURCE_SECRET })).status).toBe(200);
  tokenId = (await json(s.admin("POST", "/v1/sources/generic/tokens", { name: "tenant-one-token" }))).id;
});

afterAll(async () => {
  await s?.close();
});

describe("headers and cookie", () => {
  test("every admin response carries CSP without inline script, DENY framing, a referrer policy and nosniff", async () => {
    const { cookie } = await session();
    const responses = [
      await page("/admin/login", ""),
      await page("/admin", ""), // redirect to login
      await page("/admin", cookie),
      await page("/admin/events", cookie),
      await page(`/admin/webhooks/${webhookId}`, cookie),
      await page("/admin/no-such-page", cookie),
      await page("/admin/assets/admin.css", ""),
      await page("/admin/assets/admin.js", ""),
      await post("/admin/alerts/x/comment", cookie, {}), // a CSRF refusal
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 303, 200, 200, 200, 404, 200, 200, 403]);
    for (const r of responses) {
      const csp = r.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe-inline");
      expect(r.headers.get("x-frame-options")).toBe("DENY");
      expect(r.headers.get("x-content-type-options")).toBe("nosniff");
      expect(r.headers.get("referrer-policy")).toBe("same-origin");
    }
    // pages are never cached (a revealed secret must not stay in a cache)
    expect(responses[2].headers.get("cache-control")).toBe("no-store");
    expect(responses[6].headers.get("content-type")).toStartWith("text/css");
    // no inline script or style in the markup
    const body = await (await page("/admin", cookie)).text();
    expect(body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(body).not.toMatch(/\sstyle=|<style/);
  });

  test("the on-call pages and their assets (uPlot, the chart script, oncall.css) carry the same headers and no inline script or style", async () => {
    const { cookie } = await session();
    const paths = ["/admin", "/admin/alerts", "/admin/alerts?status=any&since=7d", `/admin/alerts/${alertId}`, "/admin/events?q=tenant&since=24h", "/admin/heartbeats"];
    const assets = ["/admin/assets/uplot.js", "/admin/assets/uplot.css", "/admin/assets/overview.js", "/admin/assets/oncall.css"];
    for (const path of [...paths, ...assets]) {
      const r = await page(path, cookie);
      expect({ path, status: r.status }).toEqual({ path, status: 200 });
      const csp = r.headers.get("content-security-policy") ?? "";
      expect({ path, csp: csp.includes("script-src 'self'") && !csp.includes("unsafe-inline") }).toEqual({ path, csp: true });
      expect(r.headers.get("x-content-type-options")).toBe("nosniff");
      const text = await r.text();
      if (paths.includes(path)) {
        expect({ path, inlineScript: /<script(?![^>]*\bsrc=)[^>]*>/.test(text), inlineStyle: /\sstyle=|<style/.test(text) }).toEqual({ path, inlineScript: false, inlineStyle: false });
      } else expect(r.headers.get("content-type")).toMatch(/^text\/(javascript|css)/);
    }
    // behind the session like the pages
    for (const path of assets) expect((await page(path, "")).status).toBe(303);
  });

  test("the session cookie is HttpOnly, SameSite=Strict, scoped to /admin, expires, and is Secure behind TLS", async () => {
    const plain = (await login(s.keys.admin)).headers.get("set-cookie")!;
    expect(plain).toMatch(/^kw_admin=[A-Za-z0-9_-]{43}; /);
    for (const attr of ["HttpOnly", "SameSite=Strict", "Path=/admin", "Max-Age=43200"]) expect(plain).toContain(attr);
    expect(plain).not.toContain("Secure");
    const tls = (await login(s.keys.admin, { "x-forwarded-proto": "https" })).headers.get("set-cookie")!;
    expect(tls).toContain("; Secure");
  });
});

describe("login", () => {
  test("an unknown key, a non-admin key and a cross-site post are refused without a session", async () => {
    const bad = await login("kw_000000000000_" + "x".repeat(43));
    expect(bad.status).toBe(401);
    expect(await bad.text()).toContain("unknown API key");
    const read = await login(s.keys.read);
    expect(read.status).toBe(403);
    expect(await read.text()).toContain("lacks the admin scope");
    const cross = await login(s.keys.admin, { "sec-fetch-site": "cross-site" });
    expect(cross.status).toBe(403);
    const foreignOrigin = await login(s.keys.admin, { origin: "https://evil.example" });
    expect(foreignOrigin.status).toBe(403);
    for (const r of [bad, read, cross, foreignOrigin]) expect(r.headers.get("set-cookie")).toBeNull();
  });

  test("after login, next= only leads inside /admin", async () => {
    const r = await fetch(s.url + "/admin/login", { method: "POST", redirect: "manual", headers: FORM, body: new URLSearchParams({ key: s.keys.admin, next: "https://evil.example/" }).toString() });
    expect(r.headers.get("location")).toBe("/admin");
    const ok = await fetch(s.url + "/admin/login", { method: "POST", redirect: "manual", headers: FORM, body: new URLSearchParams({ key: s.keys.admin, next: "/admin/events?q=x" }).toString() });
    expect(ok.headers.get("location")).toBe("/admin/events?q=x");
  });

  test("revoking the key that logged in ends its sessions", async () => {
    const key = await s.key(["admin"]);
    const { cookie } = await session(key);
    expect((await page("/admin", cookie)).status).toBe(200);
    const id = (await s.deps.auth.verify(key)).row.id;
    expect(await s.deps.store.keys.revokeKey(id)).toBe(true);
    const r = await page("/admin", cookie);
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toStartWith("/admin/login");
  });
});

describe("CSRF", () => {
  test("a form post without the token, or with another session's token, is refused and changes nothing", async () => {
    const a = await session();
    const b = await session();
    expect(a.csrf).not.toBe(b.csrf);
    const before = {
      alert: await json(s.admin("GET", `/v1/alerts/${alertId}`)),
      heartbeat: await json(s.admin("GET", `/v1/heartbeats/${heartbeatId}`)),
      secret: (await json(s.admin("GET", `/v1/webhooks/${webhookId}/secret`))).secret,
      // (last_used_at moves on its own as the API is used here)
      keys: (await json(s.admin("GET", "/v1/keys"))).items.map((k: any) => [k.id, k.state, k.expires_at, k.revoked_at]),
    };
    const config = async () => ({
      setting: await json(s.admin("GET", "/v1/sources/sentinel/settings")),
      generic: await json(s.admin("GET", "/v1/sources/generic/settings")),
      tokens: (await json(s.admin("GET", "/v1/sources/generic/tokens"))).items.map((t: any) => [t.id, t.name, t.revoked_at]),
      watchlist: await json(s.admin("GET", `/v1/watchlists/${watchlistId}`)),
      watchlists: (await json(s.admin("GET", "/v1/watchlists"))).items.length,
      enrichers: (await json(s.admin("GET", "/v1/enrichers"))).items,
      mappings: (await json(s.admin("GET", "/v1/indicator-mappings"))).items,
    });
    const configBefore = await config();
    const readKeyId = (await s.deps.auth.verify(s.keys.read)).row.id;
    const attempts: [string, Record<string, string>][] = [
      [`/admin/alerts/${alertId}/status`, { status: "closed", classification: "false_positive" }],
      [`/admin/alerts/${alertId}/assign`, { assignee: "mallory" }],
      [`/admin/alerts/${alertId}/comment`, { body: "forged" }],
      [`/admin/heartbeats/${heartbeatId}/pause`, {}],
      [`/admin/heartbeats/${heartbeatId}`, { name: "renamed", period: "5" }],
      [`/admin/webhooks/${webhookId}/rotate`, {}],
      [`/admin/webhooks/${webhookId}/reveal`, {}],
      [`/admin/webhooks/${webhookId}/state`, { state: "inactive" }],
      ["/admin/heartbeats", { name: "forged", period: "60" }],
      ["/admin/keys", { name: "forged", scopes: "admin" }],
      [`/admin/keys/${readKeyId}/revoke`, {}],
      [`/admin/keys/${readKeyId}/rotate`, {}],
      [`/admin/keys/${readKeyId}`, { name: "forged", sources: "generic", rate_limit: "1" }],
      [`/admin/webhooks/${webhookId}/test`, {}],
      ["/admin/sources/sentinel/settings", { scheme: "none" }],
      ["/admin/sources/generic/settings", { scheme: "shared-secret", secret: "forged-secret-0123456789" }],
      ["/admin/sources/sentinel/settings/delete", {}],
      ["/admin/sources/generic/tokens", { name: "forged" }],
      [`/admin/sources/generic/tokens/${tokenId}/revoke`, {}],
      ["/admin/watchlists", { name: "forged", entries: "domain forged.example", active: "on" }],
      [`/admin/watchlists/${watchlistId}`, { name: "forged", entries: "domain forged.example" }],
      [`/admin/watchlists/${watchlistId}/state`, { active: "off" }],
      [`/admin/watchlists/${watchlistId}/delete`, {}],
      ["/admin/enrichers", { name: "forged", indicator_types: "ip", url_template: "https://forged.example/{{value}}" }],
      [`/admin/enrichers/${enricherId}`, { name: "forged", indicator_types: "ip", url_template: "https://forged.example/{{value}}", clear_headers: "on" }],
      [`/admin/enrichers/${enricherId}/delete`, {}],
      ["/admin/indicators/mappings", { source: "generic", path: "forged.addr", type: "ip" }],
      [`/admin/indicators/mappings/${mappingId}/deactivate`, {}],
      [`/admin/indicators/mappings/${mappingId}/delete`, {}],
      ["/admin/rules", { name: "forged", enabled: "on", filter: '{"field":"type","op":"eq","value":"x"}', action: '{"kind":"suppress"}', do: "save" }],
      [`/admin/heartbeats/${heartbeatId}/delete`, {}],
      [`/admin/webhooks/${webhookId}/delete`, {}],
      ["/admin/rules/01J00000000000000000000000/delete", {}],
    ];
    for (const [path, form] of attempts) {
      for (const csrf of [undefined, b.csrf, "", "x".repeat(43)]) {
        const r = await post(path, a.cookie, csrf === undefined ? form : { ...form, csrf });
        expect({ path, csrf, status: r.status }).toEqual({ path, csrf, status: 403 });
        const text = await r.text();
        expect(text).toContain("CSRF");
        expect(text).not.toContain(before.secret); // reveal refused: the secret is not in the answer
      }
    }
    const after = {
      alert: await json(s.admin("GET", `/v1/alerts/${alertId}`)),
      heartbeat: await json(s.admin("GET", `/v1/heartbeats/${heartbeatId}`)),
      secret: (await json(s.admin("GET", `/v1/webhooks/${webhookId}/secret`))).secret,
      // (last_used_at moves on its own as the API is used here)
      keys: (await json(s.admin("GET", "/v1/keys"))).items.map((k: any) => [k.id, k.state, k.expires_at, k.revoked_at]),
    };
    expect(after).toEqual(before);
    expect(await config()).toEqual(configBefore);
    expect((await json(s.admin("GET", "/v1/heartbeats"))).items.length).toBe(1);
    expect((await json(s.admin("GET", "/v1/rules"))).items).toEqual([]);
    expect((await json(s.admin("GET", `/v1/webhooks/${webhookId}`))).state).toBe("active");
    expect((await json(s.admin("GET", `/v1/webhooks/${webhookId}/deliveries`))).items).toEqual([]); // no test message went out
    // logout without the token does not end the session either
    expect((await post("/admin/logout", a.cookie, {})).status).toBe(403);
    expect((await page("/admin", a.cookie)).status).toBe(200);
    // the session's own token works
    const ok = await post(`/admin/alerts/${alertId}/assign`, a.cookie, { assignee: "alice", csrf: a.csrf });
    expect(ok.status).toBe(303);
    expect((await json(s.admin("GET", `/v1/alerts/${alertId}`))).assignee).toBe("alice");
  });

  test("a post without a session is refused and changes nothing", async () => {
    const r = await post(`/admin/alerts/${alertId}/assign`, "", { assignee: "nobody", csrf: "x" });
    expect(r.status).toBe(401);
    expect((await json(s.admin("GET", `/v1/alerts/${alertId}`))).assignee).toBe("alice");
  });

  test("bad form input gets a clear error and changes nothing", async () => {
    const a = await session();
    const r = await post(`/admin/heartbeats/${heartbeatId}`, a.cookie, { name: "x", period: "soon", csrf: a.csrf });
    expect(r.status).toBe(422);
    expect(await r.text()).toContain("period must be a whole number");
    const bad = await post(`/admin/webhooks/${webhookId}`, a.cookie, { triggers: "NOT A TRIGGER!", csrf: a.csrf });
    expect(bad.status).toBe(422);
    const w = await json(s.admin("GET", `/v1/webhooks/${webhookId}`));
    expect(w.triggers).toEqual(["event.received"]);
    expect((await json(s.admin("GET", `/v1/heartbeats/${heartbeatId}`))).name).toBe("tenant-one-hb");
  });
});

describe("tenants", () => {
  test("another tenant's admin sees none of this tenant's data, by page or by API", async () => {
    const t2 = await s.deps.store.tenants.createTenant("t2");
    const key2 = await s.key(["admin"], { tenantId: t2.id });
    const { cookie } = await session(key2);
    const secrets = [
      "Tenant one secret alert",
      "Tenant one event",
      "tenant-one-source",
      "tenant-one-hb",
      "tenant-one-hook",
      "siem-one",
      "tenant-one-wl",
      "tenant-one-enricher",
      "tenant-one-token",
      "…" + SOURCE_SECRET.slice(-4),
    ];
    const pages = ["/admin", "/admin/events", "/admin/alerts", "/admin/heartbeats", "/admin/webhooks", "/admin/events?q=Tenant"];
    pages.push("/admin/alerts?status=any", "/admin/events?q=siem", "/admin/events?since=7d");
    pages.push("/admin/sources", "/admin/sources/sentinel", "/admin/sources/generic", "/admin/watchlists", "/admin/enrichers", "/admin/keys", "/admin/rules");
    for (const path of pages) {
      const r = await page(path, cookie);
      expect(r.status).toBe(200);
      const text = await r.text();
      for (const x of secrets) expect({ path, leaked: text.includes(x) }).toEqual({ path, leaked: false });
    }
    // the overview counts only its own tenant
    expect(await (await page("/admin", cookie)).text()).toContain('id="events-hour">0<');
    // direct links to tenant one's things are 404 for tenant two, and its forms cannot touch them
    expect(await (await page("/admin/sources/sentinel", cookie)).text()).toContain('id="sig-origin">default')
    const oneKey = (await json(s.admin("GET", "/v1/keys"))).items[0].id;
    for (const path of [`/admin/keys/${oneKey}`, `/admin/alerts/${alertId}`, `/admin/heartbeats/${heartbeatId}`, `/admin/webhooks/${webhookId}`, `/admin/watchlists/${watchlistId}`, `/admin/enrichers/${enricherId}`])
      expect((await page(path, cookie)).status).toBe(404);
    const session2 = await session(key2);
    const forged = await post(`/admin/alerts/${alertId}/assign`, session2.cookie, { assignee: "t2", csrf: session2.csrf });
    expect(forged.status).toBe(404);
    for (const action of ["acknowledge", "close", "assign"])
      expect((await post("/admin/alerts/bulk", session2.cookie, { id: alertId, action, assignee: "t2", csrf: session2.csrf })).status).toBe(404);
    const reveal = await post(`/admin/webhooks/${webhookId}/reveal`, session2.cookie, { csrf: session2.csrf });
    expect(reveal.status).toBe(404);
    for (const path of [
      `/admin/watchlists/${watchlistId}/delete`,
      `/admin/enrichers/${enricherId}/delete`,
      `/admin/sources/generic/tokens/${tokenId}/revoke`,
      `/admin/heartbeats/${heartbeatId}/delete`,
      `/admin/webhooks/${webhookId}/delete`,
      `/admin/webhooks/${webhookId}/test`,
      `/admin/keys/${oneKey}/rotate`,
      `/admin/keys/${oneKey}/revoke`,
    ])
      expect({ path, status: (await post(path, session2.cookie, { csrf: session2.csrf })).status }).toEqual({ path, status: 404 });
    // a key edit of tenant one's key from tenant two: 404, and the key keeps its name
    const keyBefore = await json(s.admin("GET", `/v1/keys/${oneKey}`));
    expect((await post(`/admin/keys/${oneKey}`, session2.cookie, { csrf: session2.csrf, name: "t2-was-here" })).status).toBe(404);
    expect((await json(s.admin("GET", `/v1/keys/${oneKey}`))).name).toBe(keyBefore.name);
    expect((await json(s.admin("GET", `/v1/webhooks/${webhookId}/deliveries`))).items).toEqual([]);
    // a delivery of tenant one (a test message sent by its own admin): its page and replay are 404 for tenant two
    const one = await session();
    expect((await post(`/admin/webhooks/${webhookId}/test`, one.cookie, { csrf: one.csrf })).status).toBe(303);
    const delivery = (await json(s.admin("GET", `/v1/webhooks/${webhookId}/deliveries`))).items[0].id;
    expect((await page(`/admin/deliveries/${delivery}`, one.cookie)).status).toBe(200);
    expect((await page(`/admin/deliveries/${delivery}`, cookie)).status).toBe(404);
    expect((await post(`/admin/deliveries/${delivery}/replay`, session2.cookie, { csrf: session2.csrf })).status).toBe(404);
    // tenant two's own setting and tokens do not touch tenant one's
    expect((await post("/admin/sources/sentinel/settings/delete", session2.cookie, { csrf: session2.csrf })).status).toBe(404);
    expect((await json(s.admin("GET", "/v1/sources/sentinel/settings"))).origin).toBe("tenant");
    expect((await json(s.admin("GET", `/v1/watchlists/${watchlistId}`))).name).toBe("tenant-one-wl");
    expect((await json(s.admin("GET", "/v1/enrichers"))).items.length).toBe(1);
    expect((await json(s.admin("GET", "/v1/sources/generic/tokens"))).items[0].revoked_at).toBeNull();
    expect((await json(s.admin("GET", `/v1/alerts/${alertId}`))).assignee).toBe("alice");
    expect((await s.admin("GET", `/v1/heartbeats/${heartbeatId}`)).status).toBe(200);
    expect((await s.admin("GET", `/v1/webhooks/${webhookId}`)).status).toBe(200);
    // and by API
    const api = (path: string) => fetch(s.url + path, { headers: { authorization: `Bearer ${key2}` } });
    expect((await json(api("/v1/events"))).items).toEqual([]);
    expect((await json(api("/v1/alerts"))).items).toEqual([]);
    expect((await json(api("/v1/heartbeats"))).items).toEqual([]);
    expect((await json(api("/v1/webhooks"))).items).toEqual([]);
    expect((await api(`/v1/alerts/${alertId}`)).status).toBe(404);
    expect((await api(`/v1/webhooks/${webhookId}/secret`)).status).toBe(404);
  });
});
