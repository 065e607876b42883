// The syslog connector (POST /api/v1/webhooks/syslog) and hints when a payload went to the wrong route.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { json, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const rec = (extra: Record<string, unknown> = {}) => ({
  source: "billing-api",
  timestamp: "2026-11-22T10:28:00+01:00",
  severity: "err",
  message: "payment provider timed out\nretrying in 30s",
  host: "app-3",
  details: { order: 1234, provider: "acme-pay" },
  ...extra,
});

describe("syslog", () => {
  test("one object or an array; severities by name and number; details become the payload", async () => {
    const r = await s.post("/api/v1/webhooks/syslog", [rec(), rec({ severity: 4, message: "disk 80%" }), rec({ severity: undefined })]);
    expect(r.status).toBe(202);
    const ids = ((await r.json()) as any).ids;
    const e = await json(s.get(`/v1/events/${ids[0]}`));
    expect(e).toMatchObject({
      source_name: "syslog",
      source: "billing-api",
      type: "syslog.message",
      title: "payment provider timed out",
      summary: "payment provider timed out\nretrying in 30s",
      severity: "high",
      severity_raw: "err",
      host: "app-3",
      occurred_at: "2026-11-22T09:28:00.000Z",
      payload: { order: 1234, provider: "acme-pay" },
    });
    expect((await json(s.get(`/v1/events/${ids[1]}`))).severity).toBe("medium");
    expect((await json(s.get(`/v1/events/${ids[2]}`))).severity).toBe("info");
    // connectors do not open alerts by themselves
    expect((await json(s.get("/v1/alerts?source=billing-api"))).items).toEqual([]);
  });

  test("bad input is a 422 naming the field", async () => {
    const cases: [unknown, string][] = [
      [rec({ message: undefined }), "/message"],
      [rec({ severity: "loud" }), "/severity"],
      [rec({ severity: 9 }), "/severity"],
      [rec({ timestamp: "yesterday" }), "/timestamp"],
      [rec({ details: "not an object" }), "/details"],
      [rec({ message: "x".repeat(70_000) }), "/message"],
      [[], ""],
    ];
    for (const [body, path] of cases) {
      const r = await s.post("/api/v1/webhooks/syslog", body);
      expect({ path, status: r.status }).toEqual({ path, status: 422 });
      expect(((await r.json()) as any).error.details[0].path).toBe(path);
    }
  });

  test("an unknown connector is a 404 naming the known ones", async () => {
    const r = await s.post("/api/v1/webhooks/nosuch", rec());
    expect(r.status).toBe(404);
    expect(((await r.json()) as any).error.message).toMatch(/known connectors: syslog/);
  });
});

describe("a payload sent to the wrong route is refused with the right one named", () => {
  test("an event envelope sent to the syslog connector", async () => {
    const r = await s.post("/api/v1/webhooks/syslog", { type: "deploy.failed", source: "ci", summary: "x" });
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).error.message).toMatch(/looks like a payload for the "events" source: send it to \/api\/v1\/events/);
  });
  test("a syslog record sent to the events route", async () => {
    const r = await s.post("/api/v1/events", rec());
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).error.message).toMatch(/send it to \/api\/v1\/webhooks\/syslog/);
  });
  test("an Alertmanager notification sent to generic", async () => {
    const r = await s.post("/v1/ingest/generic", { status: "firing", alerts: [{ status: "firing", labels: {} }] });
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).error.message).toMatch(/send it to \/v1\/ingest\/alertmanager/);
  });
});
