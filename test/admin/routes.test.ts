// Every HTML route of the admin is hidden from the API description (OpenAPI documents the JSON
// twins under /v1/), and every admin route but the login, its assets and the logout needs a session.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createApp } from "../../src/app";
import { startTestServer, type TestServer } from "../helpers";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

test("admin HTML routes are hidden from the API description; /v1/keys is documented", () => {
  const routes = createApp(s.deps).routes.filter((r) => r.method !== "OPTIONS");
  const admin = routes.filter((r) => r.path.startsWith("/admin"));
  expect(admin.length).toBeGreaterThan(25);
  for (const r of admin) expect({ route: `${r.method} ${r.path}`, hidden: (r.hooks as any)?.detail?.hide }).toEqual({ route: `${r.method} ${r.path}`, hidden: true });
  const keys = routes.filter((r) => r.path.startsWith("/v1/keys"));
  expect(keys.map((r) => `${r.method} ${r.path}`).sort()).toEqual(["GET /v1/keys", "GET /v1/keys/:id", "PATCH /v1/keys/:id", "POST /v1/keys", "POST /v1/keys/:id/revoke", "POST /v1/keys/:id/rotate"]);
  for (const r of keys) expect(typeof (r.hooks as any)?.detail?.summary).toBe("string");
});

test("without a session every page redirects to the login and every form post is refused", async () => {
  const open = new Set(["/admin/login", "/admin/assets/admin.css", "/admin/assets/admin.js", "/admin/assets/favicon.svg", "/admin/logout"]);
  const routes = createApp(s.deps).routes.filter((r) => r.path.startsWith("/admin") && !open.has(r.path) && (r.method === "GET" || r.method === "POST"));
  for (const r of routes) {
    const path = r.path.replace(/:id/g, "01J0000000000000000000000").replace("*", "anything");
    const res = await fetch(s.url + path, { method: r.method, redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded" }, body: r.method === "POST" ? "csrf=x" : undefined });
    expect({ route: `${r.method} ${r.path}`, status: res.status }).toEqual({ route: `${r.method} ${r.path}`, status: r.method === "GET" ? 303 : 401 });
    if (r.method === "GET") expect(res.headers.get("location")).toStartWith("/admin/login?next=");
  }
});
