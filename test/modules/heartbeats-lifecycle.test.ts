// Two heartbeat lifecycle edges, real clock and real HTTP: deleting a down heartbeat closes its
// open alert as resolved; a schedule change that puts a late heartbeat back to up records the flip.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { json, startTestServer, type TestServer } from "../helpers";
import { startReceiver, until, type Receiver } from "../webhooks/receiver";

let s: TestServer;
let hooks: Receiver;
beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
  hooks = startReceiver();
});
afterAll(async () => {
  await s.close();
  hooks.stop();
});

const state = async (id: string) => (await json(s.get(`/v1/heartbeats/${id}`))).state as string;

test("deleting a down heartbeat closes its open alert as resolved (and says heartbeat.deleted)", async () => {
  expect((await s.admin("POST", "/v1/webhooks", { url: hooks.url, triggers: ["heartbeat.*"], rate_limit: 0 })).status).toBe(201);
  const h = await json(s.admin("POST", "/v1/heartbeats", { name: "doomed", period: 1, grace: 0 }));
  await fetch(h.ping_url);
  await until(async () => (await state(h.id)) === "down", 10_000, "down");
  const open = (await json(s.get("/v1/alerts?source_name=heartbeat&source=doomed"))).items;
  expect(open.length).toBe(1);
  expect(open[0].status).toBe("open");

  expect((await s.admin("DELETE", `/v1/heartbeats/${h.id}`)).status).toBe(204);
  expect((await s.get(`/v1/heartbeats/${h.id}`)).status).toBe(404);
  const a = await json(s.get(`/v1/alerts/${open[0].id}`));
  expect(a.status).toBe("closed");
  expect(a.classification).toBe("resolved");
  expect(a.timeline.map((t: any) => t.kind)).toContain("resolved");
  const msg = await until(() => hooks.got.find((g) => g.json?.type === "heartbeat.deleted"), 10_000, "heartbeat.deleted");
  expect(msg.json.data).toMatchObject({ heartbeat_id: h.id, name: "doomed" });
  // a heartbeat that is not down leaves no trace when deleted
  const quiet = await json(s.admin("POST", "/v1/heartbeats", { name: "quiet", period: 60 }));
  expect((await s.admin("DELETE", `/v1/heartbeats/${quiet.id}`)).status).toBe(204);
  expect((await json(s.get("/v1/events?source=quiet"))).items).toEqual([]);
}, 20_000);

test("a schedule change that moves a late heartbeat back to up records a late → up flip", async () => {
  const h = await json(s.admin("POST", "/v1/heartbeats", { name: "slowpoke", period: 1, grace: 60 }));
  await fetch(h.ping_url);
  await until(async () => (await state(h.id)) === "late", 10_000, "late");
  const before = Date.now();
  const p = await json(s.admin("PATCH", `/v1/heartbeats/${h.id}`, { period: 3600 }));
  expect(p.state).toBe("up");
  const flips = (await json(s.get(`/v1/heartbeats/${h.id}/flips`))).items;
  expect(flips[0]).toMatchObject({ from: "late", to: "up" });
  expect(Date.parse(flips[0].at)).toBeGreaterThanOrEqual(before - 5);
  expect(flips[1]).toMatchObject({ from: "up", to: "late" });
  // an up heartbeat whose schedule changes stays up with no flip
  await s.admin("PATCH", `/v1/heartbeats/${h.id}`, { period: 7200 });
  expect((await json(s.get(`/v1/heartbeats/${h.id}/flips`))).items.length).toBe(flips.length);
}, 20_000);
