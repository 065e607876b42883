// Every answer carries the security headers it needs (issue 10, section 6): walked over every GET
// route of /openapi.json, the HTML pages (/openapi, the admin login), the assets, answers made
// by the handlers (202, 200 ping) and by the error mapping (401, 404, 415, 422). The admin login
// refuses Origin: null, and its `next` falls back to /admin for every control character and for
// hostile values, without a 500 (a CR, LF or NUL used to make one, after creating a session).
// Errors Bun raises before keepwatch sees the request are the documented exceptions.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers";
import { countRows } from "../rows";
import { rawRequest } from "./raw";

let s: TestServer;
let pingPath = "";
beforeAll(async () => {
  s = await startTestServer();
  const hb = (await (await s.admin("POST", "/v1/heartbeats", { name: "h", period: 3600 })).json()) as { ping_url: string };
  pingPath = new URL(hb.ping_url).pathname;
});
afterAll(() => s.close());

const FORM = { "content-type": "application/x-www-form-urlencoded" };
const DUMMY = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

function expectSecure(at: string, r: Response) {
  const h = r.headers;
  const got = {
    at,
    nosniff: h.get("x-content-type-options"),
    frames: h.get("x-frame-options"),
    ancestors: /frame-ancestors 'none'/.test(h.get("content-security-policy") ?? ""),
  };
  expect(got).toEqual({ at, nosniff: "nosniff", frames: "DENY", ancestors: true });
  const csp = h.get("content-security-policy")!;
  if ((h.get("content-type") ?? "").startsWith("text/html")) {
    // a page: its own origin only, nothing inline
    expect({ at, csp: /script-src 'self'/.test(csp) && !csp.includes("unsafe-inline") && /default-src 'self'/.test(csp) }).toEqual({ at, csp: true });
  } else expect({ at, csp }).toEqual({ at, csp: expect.stringMatching(/^default-src 'none'|default-src 'self'/) });
}

describe("security headers on every answer", () => {
  test("every GET route of /openapi.json, with a key and without", async () => {
    const doc = (await (await fetch(s.url + "/openapi.json")).json()) as { paths: Record<string, Record<string, unknown>> };
    let n = 0;
    for (const [p, ops] of Object.entries(doc.paths))
      if ("get" in ops) {
        const path = p.replace(/\{token\}/, pingPath.split("/")[2]).replace(/\{action\}/, "start").replace(/\{source\}|\{name\}/, "generic").replace(/\{\w+\}/g, DUMMY);
        for (const key of [s.keys.admin, null]) {
          const r = await fetch(s.url + path, { headers: key ? { "x-api-key": key } : {} });
          await r.arrayBuffer();
          expect(r.status).toBeLessThan(500);
          expectSecure(`GET ${path} ${key ? "key" : "no key"} → ${r.status}`, r);
          n++;
        }
      }
    expect(n).toBeGreaterThan(40);
  });

  test("/openapi (HTML), its script and stylesheet, the admin login page and assets", async () => {
    for (const path of ["/openapi", "/openapi/viewer.js", "/openapi/viewer.css", "/openapi.json", "/admin/login", "/admin/assets/admin.css", "/admin/assets/admin.js"]) {
      const r = await fetch(s.url + path);
      await r.arrayBuffer();
      expect(r.status).toBe(200);
      expectSecure(path, r);
    }
    const page = await fetch(s.url + "/openapi");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
  });

  test("answers of the handlers and of the error mapping", async () => {
    const cases: [string, Promise<Response>][] = [
      ["202 ingest", s.post("/api/v1/events", { type: "a.b", source: "s" })],
      ["200 ping", fetch(s.url + pingPath)],
      ["201 create", s.admin("POST", "/v1/rules", { name: "r", filter: { field: "type", op: "eq", value: "x.y" }, action: { kind: "alert", title: "t", severity: "high" } })],
      ["401", fetch(s.url + "/v1/events")],
      ["401 ingest", s.post("/api/v1/events", { type: "a.b", source: "s" }, { key: null })],
      ["404", fetch(s.url + "/nowhere")],
      ["404 api", s.get(`/v1/events/${DUMMY}`)],
      ["415", fetch(s.url + "/v1/webhooks", { method: "POST", headers: { "x-api-key": s.keys.admin, "content-type": "text/plain" }, body: "x" })],
      ["422", s.admin("POST", "/v1/keys", { zz: 1 })],
      ["400", fetch(s.url + "/v1/webhooks", { method: "POST", headers: { "x-api-key": s.keys.admin, "content-type": "application/json" }, body: "{" })],
      ["303", fetch(s.url + "/admin", { redirect: "manual" })],
    ];
    for (const [at, p] of cases) {
      const r = await p;
      await r.arrayBuffer();
      expect({ at, status: r.status }).toEqual({ at, status: Number(at.split(" ")[0]) });
      expectSecure(`${at} (${r.status})`, r);
    }
  });

  test("errors Bun raises itself (headers over ~60 KB: 431; broken framing: 400) are the documented exceptions: no body, connection closed, server fine", async () => {
    const port = s.server.port!;
    const big = await rawRequest({ port, method: "GET", path: "/healthz", headers: { "x-big": "a".repeat(70_000) }, waitMs: 3000 });
    expect(big.status).toBe(431);
    expect(big.closedMs).toBeGreaterThan(0);
    const framing = await rawRequest({ port, method: "POST", path: "/api/v1/events", headers: { "content-length": "5", "transfer-encoding": "chunked" }, waitMs: 3000 });
    expect(framing.status).toBe(400);
    expect(framing.closedMs).toBeGreaterThan(0);
    // what keepwatch decides itself has the JSON body: over the body limit (it was Bun's empty 413 past 8 MiB)
    const huge = await rawRequest({ port, method: "POST", path: "/api/v1/events", headers: { "x-api-key": s.keys.ingest, "content-type": "application/json", "content-length": String(64 * 1024 * 1024) }, body: "[", waitMs: 3000 });
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.body).error.code).toBe("body_too_large");
    expect((await fetch(s.url + "/healthz")).status).toBe(200);
  });
});

describe("admin login", () => {
  const sessions = () => countRows(s.deps, "admin_sessions");
  const login = (form: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(s.url + "/admin/login", { method: "POST", redirect: "manual", headers: { ...FORM, ...headers }, body: new URLSearchParams(form).toString() });

  test("Origin: null is refused, and no session is made", async () => {
    const before = await sessions();
    const r = await login({ key: s.keys.admin }, { origin: "null" });
    expect(r.status).toBe(403);
    expect(r.headers.get("set-cookie")).toBeNull();
    expect(await sessions()).toBe(before);
    // the same post from this origin logs in
    const ok = await login({ key: s.keys.admin }, { origin: s.url });
    expect(ok.status).toBe(303);
  });

  test("every control character in next (and DEL): 303 to /admin, never a 500", async () => {
    const codes = [...Array.from({ length: 32 }, (_, i) => i), 0x7f];
    for (const c of codes) {
      const ch = String.fromCharCode(c);
      for (const next of [`/admin/events${ch}x`, `/admin${ch}`, `${ch}/admin`, `/admin/events?q=${ch}`]) {
        const r = await login({ key: s.keys.admin, next });
        const at = { code: c, next: JSON.stringify(next) };
        expect({ ...at, status: r.status, location: r.headers.get("location") }).toEqual({ ...at, status: 303, location: "/admin" });
        // and the login page renders it as /admin too
        const page = await fetch(s.url + `/admin/login?next=${encodeURIComponent(next)}`);
        expect({ ...at, status: page.status, hidden: (await page.text()).includes('name="next" value="/admin"') }).toEqual({ ...at, status: 200, hidden: true });
      }
    }
  });

  test("hostile next values fall back to /admin; paths inside /admin are kept", async () => {
    const hostile = [
      "https://evil.example/",
      "http://evil.example/admin",
      "//evil.example/admin",
      "///evil.example",
      "/\\evil.example",
      "\\\\evil.example",
      "/admin\\..\\..\\evil",
      "/admin/../v1/keys",
      "/admin/%2e%2e/v1/keys",
      "javascript:alert(1)",
      "JaVaScRiPt:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "/administrator",
      "/admin@evil.example",
      "/admin:80",
      "admin",
      " /admin",
      "/admin/\u2028",
      "/admin/é",
      "",
    ];
    for (const next of hostile) {
      const r = await login({ key: s.keys.admin, next });
      expect({ next, status: r.status, location: r.headers.get("location") }).toEqual({ next, status: 303, location: "/admin" });
    }
    for (const next of ["/admin", "/admin/events?q=x&severity=high", "/admin/alerts/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/admin?done=x"]) {
      const r = await login({ key: s.keys.admin, next });
      expect({ next, location: r.headers.get("location") }).toEqual({ next, location: next });
    }
  });
});
