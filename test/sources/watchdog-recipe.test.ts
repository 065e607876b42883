// The Alertmanager Watchdog recipe of docs/sources.md: a heartbeat on the Watchdog's events and a suppress
// rule on the same filter. The notifications beat the heartbeat and open no alert.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { json, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const filter = { all: [{ field: "source_name", op: "eq", value: "alertmanager" }, { field: "payload.labels.alertname", op: "eq", value: "Watchdog" }] };
const watchdog = readFileSync(join(import.meta.dir, "..", "fixtures", "alertmanager", "watchdog.json"), "utf8");

test("Watchdog notifications beat the heartbeat; the suppress rule keeps them from opening an alert", async () => {
  const hb = await json(s.admin("POST", "/v1/heartbeats", { name: "alertmanager-watchdog", period: 300, filter }));
  expect((await s.admin("POST", "/v1/rules", { name: "Watchdog is a heartbeat, not an alert", filter, action: { kind: "suppress" } })).status).toBe(201);
  for (let i = 0; i < 3; i++) expect((await s.post("/v1/ingest/alertmanager", watchdog)).status).toBe(202);
  const h = await json(s.get(`/v1/heartbeats/${hb.id}`));
  expect(h.state).toBe("up");
  expect((await json(s.get(`/v1/heartbeats/${hb.id}/pings`))).items.filter((p: any) => p.kind === "event").length).toBe(3);
  expect((await json(s.get("/v1/events?source_name=alertmanager"))).items.length).toBe(3);
  expect((await json(s.get("/v1/alerts?source_name=alertmanager"))).items).toEqual([]);
  // without the rule the same notification opens a Watchdog alert (what the recipe avoids)
  const other = await startTestServer();
  try {
    expect((await other.post("/v1/ingest/alertmanager", watchdog)).status).toBe(202);
    expect((await json(other.get("/v1/alerts?source_name=alertmanager"))).items.map((a: any) => a.title)).toEqual(["Watchdog"]);
  } finally {
    await other.close();
  }
});
