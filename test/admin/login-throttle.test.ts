// Failed admin logins are throttled per client address: ten in a row are answered (401/403), then
// every login from that address is refused with 429 and Retry-After (a right key too) until the
// bucket refills (one more try every 6 s); each refusal is logged without the key. A clock under
// the test's control stands in for the waiting.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { LOGIN_FAILURE_BURST, LOGIN_FAILURE_EVERY_S } from "../../src/admin/security";
import { startTestServer, type TestServer } from "../helpers";

let s: TestServer;
let restore = () => {};
let now = Date.parse("2026-11-23T10:00:00Z");
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  s = await startTestServer({}, () => now);
  // the server's logger, listened to: every refused login is a warning naming the address
  // (the test server's logger is the shared silent one: put its warn back afterwards)
  const log = s.deps.log;
  const warn = log.warn;
  log.warn = (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ msg, ...fields });
    warn(msg, fields);
  };
  restore = () => void (log.warn = warn);
});
afterAll(async () => {
  restore();
  await s.close();
});

const login = (key: string) =>
  fetch(s.url + "/admin/login", {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ key }).toString(),
  });

const WRONG = "kw_000000000000_" + "x".repeat(43);

test("ten failures are answered, the eleventh try is 429 with Retry-After even with the right key, and the bucket refills", async () => {
  const statuses: number[] = [];
  for (let i = 0; i < LOGIN_FAILURE_BURST - 1; i++) statuses.push((await login(WRONG)).status);
  statuses.push((await login(s.keys.read)).status); // a key without the admin scope counts too
  expect(statuses).toEqual([...Array(LOGIN_FAILURE_BURST - 1).fill(401), 403]);

  const blocked = await login(s.keys.admin);
  expect(blocked.status).toBe(429);
  expect(blocked.headers.get("retry-after")).toBe(String(LOGIN_FAILURE_EVERY_S));
  expect(blocked.headers.get("set-cookie")).toBeNull();
  expect(await blocked.text()).toContain(`try again in ${LOGIN_FAILURE_EVERY_S} s`);
  expect((await login(WRONG)).status).toBe(429); // refused before the key is even looked at

  // one more try after the interval: a wrong key spends it at once
  now += LOGIN_FAILURE_EVERY_S * 1000;
  expect((await login(WRONG)).status).toBe(401);
  expect((await login(s.keys.admin)).status).toBe(429);

  // after the next interval the right key logs in
  now += LOGIN_FAILURE_EVERY_S * 1000;
  const ok = await login(s.keys.admin);
  expect(ok.status).toBe(303);
  expect(ok.headers.get("set-cookie")).toContain("kw_admin=");

  // every refusal was logged with the address and the reason, never the key
  const refused = lines.filter((l) => l.msg === "admin login refused");
  expect(refused).toHaveLength(LOGIN_FAILURE_BURST + 1);
  expect(refused[0]).toMatchObject({ address: "127.0.0.1", reason: "unknown API key" });
  expect(refused[LOGIN_FAILURE_BURST - 1]).toMatchObject({ reason: "key without the admin scope" });
  expect(JSON.stringify(lines)).not.toContain(WRONG.slice(16));
  expect(JSON.stringify(lines)).not.toContain(s.keys.read);
});

test("successful logins are not counted, and an empty form is not a failure", async () => {
  now += 10 * LOGIN_FAILURE_EVERY_S * 1000; // the bucket is full again
  for (let i = 0; i < LOGIN_FAILURE_BURST + 5; i++) expect((await login(s.keys.admin)).status).toBe(303);
  for (let i = 0; i < LOGIN_FAILURE_BURST + 5; i++) expect((await login("")).status).toBe(401);
  expect((await login(s.keys.admin)).status).toBe(303);
});
