// /metrics in the Prometheus text format, fed by what really happened.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { event, json, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const value = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test("ingest counts by route and status, latency, group-commit sizes, stored events, heartbeat and alert gauges, database size", async () => {
  await Promise.all(Array.from({ length: 20 }, (_, i) => s.post("/api/v1/events", event(i))));
  await s.post("/api/v1/events", "{broken");
  await s.post("/v1/ingest/generic", [{ title: "a", severity: "High" }, { title: "b", severity: "High" }]);
  await json(s.admin("POST", "/v1/heartbeats", { name: "m", period: 60 }));
  const r = await fetch(s.url + "/metrics");
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toContain("text/plain");
  const text = await r.text();
  expect(value(text, 'keepwatch_ingest_requests_total{route="/api/v1/events",status="202"}')).toBe(20);
  expect(value(text, 'keepwatch_ingest_requests_total{route="/api/v1/events",status="400"}')).toBe(1);
  expect(value(text, 'keepwatch_ingest_requests_total{route="/v1/ingest/generic",status="202"}')).toBe(1);
  expect(value(text, 'keepwatch_ingest_request_duration_seconds_count{route="/api/v1/events"}')).toBe(21);
  expect(value(text, "keepwatch_events_stored_total")).toBe(22);
  const commits = value(text, "keepwatch_group_commit_requests_count")!;
  expect(commits).toBeGreaterThan(0);
  expect(commits).toBeLessThanOrEqual(21);
  expect(value(text, 'keepwatch_heartbeats{state="new"}')).toBe(1);
  expect(value(text, 'keepwatch_heartbeats{state="down"}')).toBe(0);
  expect(value(text, 'keepwatch_alerts{status="open",severity="high"}')).toBe(2);
  expect(value(text, 'keepwatch_database_size_bytes{file="db"}')).toBeGreaterThan(0);
});
