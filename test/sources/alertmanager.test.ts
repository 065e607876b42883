// The alertmanager source with payloads shaped like Alertmanager's documented webhook (v4).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { json, startTestServer, type TestServer } from "../helpers";

const fixture = (name: string) => JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "alertmanager", name), "utf8"));

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

describe("firing and resolved", () => {
  test("one event per alert, normalized; the fingerprint is the dedup key; a resolved notification closes the alert", async () => {
    const r = await s.post("/v1/ingest/alertmanager", fixture("firing.json"));
    expect(r.status).toBe(202);
    const { ids } = (await r.json()) as any;
    expect(ids.length).toBe(2);
    const e = await json(s.get(`/v1/events/${ids[0]}`));
    expect(e).toMatchObject({
      source_name: "alertmanager",
      source: "keepwatch",
      type: "alertmanager.firing",
      title: "Disk usage above 90% on backup-1",
      summary: "/var/lib is 93% full",
      severity: "medium",
      severity_raw: "warning",
      host: "backup-1:9100",
      occurred_at: "2026-11-22T10:28:00.123Z",
      dedup_key: "8f2b7c1d9e0a4b3c",
    });
    expect(e.tags.slice(0, 4)).toEqual(["alertname=HighDiskUsage", "severity=warning", "job=node", "instance=backup-1:9100"]);
    expect(e.raw_payload.alert.fingerprint).toBe("8f2b7c1d9e0a4b3c");
    expect(e.raw_payload.receiver).toBe("keepwatch");
    const second = await json(s.get(`/v1/events/${ids[1]}`));
    expect(second).toMatchObject({ title: "HighDiskUsage", severity: "critical", severity_raw: "page", occurred_at: "2026-11-22T09:29:00.000Z" });

    // a repeat of the same notification joins the same alerts
    await s.post("/v1/ingest/alertmanager", fixture("firing.json"));
    const alerts = (await json(s.get("/v1/alerts?source_name=alertmanager"))).items;
    expect(alerts.length).toBe(2);
    expect(alerts.every((a: any) => a.count === 2 && a.status === "open")).toBe(true);

    await s.post("/v1/ingest/alertmanager", fixture("resolved.json"));
    const after = (await json(s.get("/v1/alerts?source_name=alertmanager"))).items;
    const disk = after.find((a: any) => a.fingerprint === "alertmanager:8f2b7c1d9e0a4b3c");
    expect(disk).toMatchObject({ status: "closed", classification: "resolved" });
    expect(after.find((a: any) => a.fingerprint === "alertmanager:1a2b3c4d5e6f7a8b").status).toBe("open");
  });

  test("an unparseable startsAt keeps the received time and says so", async () => {
    const f = fixture("firing.json");
    f.alerts = [{ ...f.alerts[0], startsAt: "sometime", fingerprint: "badtime" }];
    const before = Date.now();
    const id = (await json(s.post("/v1/ingest/alertmanager", f))).ids[0];
    const e = await json(s.get(`/v1/events/${id}`));
    expect(new Date(e.occurred_at).getTime()).toBeGreaterThanOrEqual(before - 5);
    expect(e.warnings[0]).toMatch(/startsAt "sometime" is not a timestamp/);
  });

  test("the Watchdog alert can be a heartbeat's beat", async () => {
    const h = await json(
      s.admin("POST", "/v1/heartbeats", {
        name: "alerting pipeline",
        period: 300,
        filter: { all: [{ field: "source_name", op: "eq", value: "alertmanager" }, { field: "payload.labels.alertname", op: "eq", value: "Watchdog" }] },
      }),
    );
    await s.post("/v1/ingest/alertmanager", fixture("watchdog.json"));
    expect((await json(s.get(`/v1/heartbeats/${h.id}`))).state).toBe("up");
  });
});

describe("bad input: 422 naming the field, nothing stored", () => {
  const cases: [string, (f: any) => unknown, string][] = [
    ["the event envelope instead", () => ({ type: "x", source: "y" }), "/status"],
    ["no alerts", (f) => ({ ...f, alerts: undefined }), "/alerts"],
    ["an empty alerts array", (f) => ({ ...f, alerts: [] }), "/alerts"],
    ["labels of the wrong type", (f) => ({ ...f, alerts: [{ ...f.alerts[0], labels: "x" }] }), "/alerts/0/labels"],
    ["a label value that is a number", (f) => ({ ...f, alerts: [{ ...f.alerts[0], labels: { a: 1 } }] }), "/alerts/0/labels/a"],
    ["an unknown status", (f) => ({ ...f, status: "burning" }), "/status"],
    ["an over-long label", (f) => ({ ...f, alerts: [{ ...f.alerts[0], labels: { a: "x".repeat(5000) } }] }), "/alerts/0/labels/a"],
  ];
  for (const [name, make, path] of cases)
    test(name, async () => {
      const before = (await json(s.get("/v1/events?source_name=alertmanager&limit=500"))).items.length;
      const r = await s.post("/v1/ingest/alertmanager", make(fixture("firing.json")));
      expect(r.status).toBe(422);
      const err = ((await r.json()) as any).error;
      expect(err.details.map((d: any) => d.path)).toContain(path);
      expect((await json(s.get("/v1/events?source_name=alertmanager&limit=500"))).items.length).toBe(before);
    });

  test("extra unknown fields are kept, never an error", async () => {
    const f = fixture("firing.json");
    f.somethingNew = { x: 1 };
    f.alerts[0].extra = "kept";
    const r = await s.post("/v1/ingest/alertmanager", f);
    expect(r.status).toBe(202);
    const e = await json(s.get(`/v1/events/${((await r.json()) as any).ids[0]}`));
    expect(e.raw_payload.alert.extra).toBe("kept");
  });
});

test("GET /v1/sources lists each source with the fields it reads", async () => {
  const list = (await json(s.get("/v1/sources"))).items;
  const am = list.find((x: any) => x.name === "alertmanager");
  expect(am.route).toBe("/v1/ingest/alertmanager");
  expect(am.fields.map((f: any) => f.maps_to)).toContain("title");
  expect(list.map((x: any) => x.name)).toEqual(expect.arrayContaining(["generic", "events", "alertmanager"]));
});
