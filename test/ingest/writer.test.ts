// The writer thread failing: requests are answered (503 while it is replaced, never left hanging),
// a new thread takes over, and acknowledged events stay stored. SQLite only: on PostgreSQL there is
// no writer thread (the group commit runs on the event loop and a failed unit answers its group
// 503); the same class there, a store that fails under ingest, is test/ingest/writer-pg.test.ts
// (PostgreSQL stopped: 503 + Retry-After, never hanging, then 202s again) and
// test/pg/durability.test.ts.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { countEvents } from "../../src/store/events";
import { event, startTestServer, TEST_STORE, type TestServer } from "../helpers";

let srv: TestServer | undefined;
beforeAll(async () => {
  if (TEST_STORE !== "postgres") srv = await startTestServer();
});
afterAll(() => srv?.close());

test.skipIf(TEST_STORE === "postgres")("a writer thread that fails is replaced; no request hangs, none gets a 202 it did not earn (SQLite only: the writer thread; PostgreSQL's store failing under ingest: test/ingest/writer-pg.test.ts)", async () => {
  const s = srv!;
  const first = (await (await s.post("/api/v1/events", event(1))).json()) as any;
  expect(first.ids).toHaveLength(1);
  // a message the thread cannot read makes it throw, as any bug in it would
  (s.deps.writer as any).worker.postMessage("{not json");
  await Bun.sleep(50);
  const during = await Promise.race([s.post("/api/v1/events", event(2)), Bun.sleep(3000).then(() => null)]);
  expect(during).not.toBeNull(); // answered, not left hanging
  expect([202, 503]).toContain(during!.status);
  if (during!.status === 503) expect(during!.headers.get("retry-after")).toBe("1");
  // within a few seconds a new thread takes the writes
  let ok = false;
  for (let i = 0; i < 60 && !ok; i++) {
    ok = (await s.post("/api/v1/events", event(3))).status === 202;
    if (!ok) await Bun.sleep(100);
  }
  expect(ok).toBe(true);
  expect((await s.get(`/v1/events/${first.ids[0]}`)).status).toBe(200);
  expect(countEvents(s.deps.sqlite!.db, s.tenantId)).toBeGreaterThanOrEqual(2);
});
