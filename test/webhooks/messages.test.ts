// Outbound messages beyond event.received: alerts opened, joined and closed (by the source or by
// triage), suppress_until, and heartbeat.down / heartbeat.up, delivered to a real local receiver.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { json, startTestServer, TEST_STORE, type TestServer } from "../helpers";
import { startReceiver, until, type Receiver } from "./receiver";

let s: TestServer;
let rx: Receiver;
beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
  rx = startReceiver();
});
afterAll(async () => {
  rx.stop();
  await s.close();
});

const types = () => rx.got.map((g) => g.json.type as string);
const ofType = (t: string) => rx.got.filter((g) => g.json.type === t).map((g) => g.json);

test("alert.opened, alert.updated on a repeat, alert.closed on triage, each signed and with the alert as data", async () => {
  const w = await json(s.admin("POST", "/v1/webhooks", { url: rx.url, triggers: ["alert.*"] }));
  expect(w.id).toBeDefined();
  await s.post("/v1/ingest/generic", { title: "VPN brute force", severity: "High", source: "siem" });
  const opened = (await until(() => ofType("alert.opened")[0], 10_000, "alert.opened")) as any;
  expect(opened.data).toMatchObject({ title: "VPN brute force", severity: "high", status: "open", count: 1, source_name: "generic" });
  await s.post("/v1/ingest/generic", { title: "VPN brute force", severity: "High", source: "siem" });
  const updated = (await until(() => ofType("alert.updated")[0], 10_000, "alert.updated")) as any;
  expect(updated.data.count).toBe(2);
  const r = await s.admin("PATCH", `/v1/alerts/${opened.data.id}`, { status: "closed", classification: "true_positive" });
  expect(r.status).toBe(200);
  const closed = (await until(() => ofType("alert.closed")[0], 10_000, "alert.closed")) as any;
  expect(closed.data).toMatchObject({ id: opened.data.id, status: "closed", classification: "true_positive" });
  // only alert.* was asked for
  expect(types().every((t) => t.startsWith("alert."))).toBe(true);
  const h = rx.got[0].headers;
  expect(h["webhook-id"]).toMatch(/^msg_/);
  expect(h["webhook-signature"]).toMatch(/^v1,/);
  await s.admin("DELETE", `/v1/webhooks/${w.id}`);
});

test("suppress_until silences repeats but not the opening or the close", async () => {
  rx.got.length = 0;
  const w = await json(s.admin("POST", "/v1/webhooks", { url: rx.url, triggers: ["alert.*"] }));
  await s.post("/v1/ingest/generic", { title: "noisy", source: "quiet-please" });
  const opened = (await until(() => ofType("alert.opened")[0], 10_000, "alert.opened")) as any;
  // no API sets suppress_until (match rules do): written raw on whichever store the server runs on
  if (TEST_STORE === "postgres") await s.deps.pg!.unsafe("UPDATE alerts SET suppress_until = $2 WHERE id = $1", [opened.data.id, Date.now() + 3_600_000]);
  else s.deps.sqlite!.db.$client.query("UPDATE alerts SET suppress_until = ?2 WHERE id = ?1").run(opened.data.id, Date.now() + 3_600_000);
  await s.post("/v1/ingest/generic", { title: "noisy", source: "quiet-please" });
  await s.admin("PATCH", `/v1/alerts/${opened.data.id}`, { status: "closed", classification: "benign_positive" });
  await until(() => ofType("alert.closed")[0], 10_000, "alert.closed");
  expect(ofType("alert.updated")).toEqual([]);
  expect((await json(s.get(`/v1/alerts/${opened.data.id}`))).count).toBe(2);
  await s.admin("DELETE", `/v1/webhooks/${w.id}`);
});

test("heartbeat.down when a heartbeat misses its deadline, heartbeat.up when it beats again", async () => {
  rx.got.length = 0;
  await json(s.admin("POST", "/v1/webhooks", { url: rx.url, triggers: ["heartbeat.*"] }));
  const h = await json(s.admin("POST", "/v1/heartbeats", { name: "cron-job", period: 1, grace: 0 }));
  await fetch(h.ping_url);
  const down = (await until(() => ofType("heartbeat.down")[0], 5000, "heartbeat.down")) as any;
  expect(down.data).toMatchObject({ heartbeat_id: h.id, name: "cron-job" });
  await s.admin("POST", `/v1/heartbeats/${h.id}/pause`); // no second down while we ping
  // pausing a down heartbeat resolves its alert, and says so
  const paused = (await until(() => ofType("heartbeat.paused")[0], 5000, "heartbeat.paused")) as any;
  expect(paused.data.heartbeat_id).toBe(h.id);
  await s.admin("POST", `/v1/heartbeats/${h.id}/resume`);
  const hb = await json(s.get(`/v1/heartbeats/${h.id}`));
  expect(hb.state).toBe("new");
  // resume from paused is not a recovery from down; a beat after a down is
  await s.admin("PATCH", `/v1/heartbeats/${h.id}`, { period: 3600 });
  await fetch(h.ping_url + "/fail");
  await fetch(h.ping_url);
  const up = (await until(() => ofType("heartbeat.up")[0], 5000, "heartbeat.up")) as any;
  expect(up.data.heartbeat_id).toBe(h.id);
  expect(types().filter((t) => !t.startsWith("heartbeat."))).toEqual([]);
});
