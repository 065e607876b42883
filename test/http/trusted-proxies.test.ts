// Behind a load balancer (several replicas): with --trusted-proxies the client's address comes from
// X-Forwarded-For, so the admin login throttle counts each client, not the balancer, and a ping
// records who sent it; without it the header is ignored and a client cannot dodge the throttle by
// writing one. Real HTTP; the test process is the "proxy" (its peer address is 127.0.0.1).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { LOGIN_FAILURE_BURST } from "../../src/admin/security";
import { startTestServer, type TestServer } from "../helpers";

let behind: TestServer; // trusts 127.0.0.0/8
let direct: TestServer; // trusts nobody
const now = Date.parse("2026-11-23T10:00:00Z"); // a stopped clock: the throttle's bucket does not refill

beforeAll(async () => {
  behind = await startTestServer({ trustedProxies: "127.0.0.0/8, ::1/128" }, () => now);
  direct = await startTestServer({}, () => now);
});
afterAll(async () => {
  await behind?.close();
  await direct?.close();
});

const WRONG = "kw_000000000000_" + "x".repeat(43);
const login = (s: TestServer, key: string, xff?: string) =>
  fetch(s.url + "/admin/login", {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(xff ? { "x-forwarded-for": xff } : {}) },
    body: new URLSearchParams({ key }).toString(),
  });

test("behind a trusted proxy the login throttle counts each client: one client blocked, the next one not", async () => {
  for (let i = 0; i < LOGIN_FAILURE_BURST; i++) expect((await login(behind, WRONG, "198.51.100.1")).status).toBe(401);
  expect((await login(behind, behind.keys.admin, "198.51.100.1")).status).toBe(429);
  // a spoofed entry on the left does not make it someone else: the proxy appended the real one
  expect((await login(behind, behind.keys.admin, "203.0.113.50, 198.51.100.1")).status).toBe(429);
  // another client behind the same balancer logs in
  expect((await login(behind, behind.keys.admin, "198.51.100.2")).status).toBe(303);
  expect((await login(behind, WRONG, "198.51.100.3")).status).toBe(401);
});

test("without trusted proxies X-Forwarded-For changes nothing: a new header every try is still one client", async () => {
  for (let i = 0; i < LOGIN_FAILURE_BURST; i++) expect((await login(direct, WRONG, `198.51.100.${i + 10}`)).status).toBe(401);
  expect((await login(direct, direct.keys.admin, "198.51.100.99")).status).toBe(429);
  expect((await login(direct, direct.keys.admin)).status).toBe(429);
});

test("a ping records the client's address: from X-Forwarded-For behind a trusted proxy, the peer otherwise", async () => {
  for (const [s, expected] of [[behind, "198.51.100.7"], [direct, "127.0.0.1"]] as const) {
    const h = (await (await s.admin("POST", "/v1/heartbeats", { name: "via-proxy", period: 60, grace: 60 })).json()) as any;
    expect((await fetch(h.ping_url, { headers: { "x-forwarded-for": "198.51.100.7" } })).status).toBe(200);
    const { items } = (await (await s.get(`/v1/heartbeats/${h.id}/pings`)).json()) as any;
    expect(items).toHaveLength(1);
    expect(items[0].remote).toBe(expected);
  }
});
