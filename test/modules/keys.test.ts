// Keys: rotation with an overlap, last_used_at without a write per request, two tenants.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { event, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
let now = Date.now();
beforeAll(async () => {
  s = await startTestServer({}, () => now);
});
afterAll(() => s.close());

const rowOf = async (key: string) => (await s.deps.store.keys.findKeyByPrefix(key.slice(3, 15)))!;

test("a rotated key keeps working for the overlap, then stops; the new one works", async () => {
  const old = await s.key(["ingest"]);
  const { key: fresh } = await s.deps.store.keys.rotateKey(await rowOf(old), 24 * 3_600_000, now);
  expect((await s.post("/api/v1/events", event(), { key: old })).status).toBe(202);
  expect((await s.post("/api/v1/events", event(), { key: fresh })).status).toBe(202);
  expect((await rowOf(fresh)).rotatedFrom).toBe((await rowOf(old)).id);
  expect(JSON.parse((await rowOf(fresh)).scopes)).toEqual(["ingest"]);
  now += 24 * 3_600_000 + 1;
  const r = await s.post("/api/v1/events", event(), { key: old });
  expect(r.status).toBe(401);
  expect((await s.post("/api/v1/events", event(), { key: fresh })).status).toBe(202);
});

test("last_used_at is written in batches, not on every request", async () => {
  const k = await s.key(["ingest"]);
  expect((await rowOf(k)).lastUsedAt).toBeNull();
  for (let i = 0; i < 5; i++) expect((await s.post("/api/v1/events", event(i), { key: k })).status).toBe(202);
  expect((await rowOf(k)).lastUsedAt).toBeNull(); // nothing written yet
  await s.deps.auth.flushLastUsed();
  expect((await rowOf(k)).lastUsedAt).toBe(now);
});
