// The writer thread failing: requests are answered (503 while it is replaced, never left hanging),
// a new thread takes over, and acknowledged events stay stored.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { countEvents } from "../../src/store/events";
import { event, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

test("a writer thread that fails is replaced; no request hangs, none gets a 202 it did not earn", async () => {
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
