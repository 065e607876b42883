// The grafana source with a payload shaped like Grafana Alerting's documented webhook contact point.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { json, startTestServer, type TestServer } from "../helpers";

const fixture = () => JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "grafana", "firing.json"), "utf8"));

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

test("one event per alert, normalized, with Grafana's extras in the payload; resolved closes the alert", async () => {
  const r = await s.post("/v1/ingest/grafana", fixture());
  expect(r.status).toBe(202);
  const id = ((await r.json()) as any).ids[0];
  const e = await json(s.get(`/v1/events/${id}`));
  expect(e).toMatchObject({
    source_name: "grafana",
    source: "keepwatch",
    type: "grafana.firing",
    title: "This alert was triggered for zone us-1",
    summary: "The system has high memory usage",
    severity: "unknown",
    host: "web-7",
    occurred_at: "2026-11-22T07:51:03.157Z",
    dedup_key: "c6eadffa33fcdf37",
  });
  expect(e.payload.values).toEqual({ B: 44.23943737541908, C: 1 });
  expect(e.payload.dashboardURL).toBe("https://grafana.example.com/d/mem");
  expect(e.raw_payload.orgId).toBe(1);
  const alert = (await json(s.get("/v1/alerts?source_name=grafana"))).items[0];
  expect(alert).toMatchObject({ status: "open", fingerprint: "grafana:c6eadffa33fcdf37" });

  const resolved = fixture();
  resolved.status = "resolved";
  resolved.alerts[0].status = "resolved";
  await s.post("/v1/ingest/grafana", resolved);
  expect((await json(s.get(`/v1/alerts/${alert.id}`))).status).toBe("closed");
});

test("bad input: 422 naming the field; an Alertmanager payload is pointed to its route", async () => {
  const noOrg = fixture();
  delete noOrg.orgId;
  const r1 = await s.post("/v1/ingest/grafana", noOrg);
  expect(r1.status).toBe(422);
  const e1 = ((await r1.json()) as any).error;
  expect(e1.details.map((d: any) => d.path)).toContain("/orgId");
  expect(e1.message).toMatch(/send it to \/v1\/ingest\/alertmanager/);
  const badValues = fixture();
  badValues.alerts[0].values = { B: "high" };
  const r2 = await s.post("/v1/ingest/grafana", badValues);
  expect(r2.status).toBe(422);
  expect(JSON.stringify(((await r2.json()) as any).error.details)).toContain("/alerts/0/values");
  const r3 = await s.post("/v1/ingest/grafana", { ...fixture(), alerts: [] });
  expect(r3.status).toBe(422);
  // sent to the alertmanager route, a Grafana notification is accepted: its envelope is Alertmanager's
  const r4 = await s.post("/v1/ingest/alertmanager", fixture());
  expect(r4.status).toBe(202); // Grafana's payload is a valid Alertmanager payload too
});
