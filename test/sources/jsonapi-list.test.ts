// The jsonapi-list connector: batches of JSON:API resource objects (a bare array, or a JSON:API
// document {"data": [...]}), one event per element.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { json, startTestServer, type TestServer } from "../helpers";

const ROUTE = "/api/v1/webhooks/jsonapi-list";
const fixture = () => JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "jsonapi-list", "batch.json"), "utf8"));
const indicators = (e: any) => e.indicators.map((i: any) => `${i.type}:${i.value}`).sort();

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const count = async () => (await json(s.get("/v1/events?source_name=jsonapi-list&limit=500"))).items.length;

describe("documented shapes", () => {
  test("a JSON array of resources: one event per element, type from type and attributes.type", async () => {
    const r = await s.post(ROUTE, fixture());
    expect(r.status).toBe(202);
    const { ids } = (await r.json()) as any;
    expect(ids.length).toBe(3);
    const [a, b, c] = await Promise.all(ids.map((id: string) => json(s.get(`/v1/events/${id}`))));
    expect(a).toMatchObject({
      source_name: "jsonapi-list",
      source: "jsonapi-list",
      type: "alerts.malware_detected",
      module: "alerts",
      title: "Trojan.GenericKD detected on FIN-LT-031",
      summary: "Real-time scan quarantined invoice_8812.pdf.exe",
      severity: "high",
      severity_raw: "high",
      host: "fin-lt-031.corp.example.com",
      occurred_at: "2026-11-22T08:41:12.000Z",
      dedup_key: "alerts:8812",
      tags: ["endpoint", "quarantined", "device=devices/fin-lt-031", "policy=policies/7"],
      warnings: [],
    });
    expect(indicators(a)).toEqual([
      "account:mkeller",
      "domain:fin-lt-031.corp.example.com",
      "hash_sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      "ip:10.30.1.31",
    ]);
    expect(a.raw_payload.links.self).toBe("https://appliance.example.com/api/v2/alerts/8812");
    expect(b).toMatchObject({ type: "alerts.policy_violation", title: "USB mass storage blocked", severity: "medium", severity_raw: "4", occurred_at: "2025-11-22T09:41:12.000Z", host: "hr-pc-12", tags: ["device=devices/hr-pc-12"] });
    expect(indicators(b)).toEqual(["url:https://appliance.example.com/ui/alerts/8813"]);
    expect(c).toMatchObject({ type: "audit-events", title: "Admin login", summary: "Admin login\nfrom the web console", severity: "unknown", dedup_key: "audit-events:5531" });
    expect(c.warnings[0]).toMatch(/attributes.timestamp "not a time" is not a timestamp/);
    expect(indicators(c)).toEqual(["email:admin@example.com", "ip:192.0.2.200"]);
    // a connector: rules decide what becomes an alert, the elements open none by themselves
    expect((await json(s.get("/v1/alerts?source_name=jsonapi-list"))).items).toEqual([]);
  });

  test("a JSON:API document {data: [...]} and a single {data: {...}}", async () => {
    const r = await s.post(ROUTE, { data: fixture().slice(0, 2), meta: { page: 1 }, jsonapi: { version: "1.1" } });
    expect(r.status).toBe(202);
    const { ids } = (await r.json()) as any;
    expect(ids.length).toBe(2);
    expect((await json(s.get(`/v1/events/${ids[1]}`))).raw_payload.id).toBe("8813");
    const one = await json(s.post(ROUTE, { data: { id: 77, type: "heartbeats", attributes: { severity: 95 } } }));
    const e = await json(s.get(`/v1/events/${one.ids[0]}`));
    expect(e).toMatchObject({ type: "heartbeats", title: "heartbeats 77", severity: "critical", severity_raw: "95" });
  });
});

describe("bad input: 422 naming the field, nothing stored", () => {
  const cases: [string, () => unknown, number, string][] = [
    ["an element without id", () => [fixture()[0], { type: "alerts", attributes: {} }], 1, "/id"],
    ["an element without type", () => [{ id: "1", attributes: {} }], 0, "/type"],
    ["an id that is an object", () => [{ id: { n: 1 }, type: "alerts" }], 0, "/id"],
    ["attributes that are a string", () => [{ id: "1", type: "alerts", attributes: "x" }], 0, "/attributes"],
    ["a severity that is a boolean", () => [{ id: "1", type: "alerts", attributes: { severity: true } }], 0, "/attributes/severity"],
    ["attributes.type that is a number", () => [{ id: "1", type: "alerts", attributes: { type: 3 } }], 0, "/attributes/type"],
    ["a relationship whose data is a string", () => [{ id: "1", type: "alerts", relationships: { device: { data: "fin" } } }], 0, "/relationships/device/data"],
    ["an element that is not an object", () => [fixture()[0], "alerts"], 1, ""],
    ["an over-long title", () => [{ id: "1", type: "alerts", attributes: { title: "x".repeat(1025) } }], 0, "/attributes/title"],
    ["an over-long type", () => [{ id: "1", type: "x".repeat(300) }], 0, "/type"],
    ["an empty data array", () => ({ data: [] }), 0, "/data"],
    ["a bad resource inside data", () => ({ data: [{ id: "1", type: "a" }, { id: "2" }] }), 0, "/data/1/type"],
  ];
  for (const [name, make, index, path] of cases)
    test(name, async () => {
      const before = await count();
      const r = await s.post(ROUTE, make());
      expect(r.status).toBe(422);
      const err = ((await r.json()) as any).error;
      const d = err.details.find((x: any) => x.path === path && x.index === index);
      expect(d).toBeDefined();
      expect(d.message).not.toMatch(/union/i);
      expect(await count()).toBe(before);
    });

  test("an empty array is refused", async () => {
    const r = await s.post(ROUTE, []);
    expect(r.status).toBe(422);
  });

  test("extra unknown fields are kept, never an error", async () => {
    const r = await s.post(ROUTE, [{ id: "x1", type: "things", attributes: { whatever: { deep: [1] } }, included_by: "appliance-7" }]);
    expect(r.status).toBe(202);
    const e = await json(s.get(`/v1/events/${((await r.json()) as any).ids[0]}`));
    expect(e.raw_payload.included_by).toBe("appliance-7");
    expect(e.payload.attributes.whatever).toEqual({ deep: [1] });
  });

  test("a batch sent to an alert route is refused naming this connector; a Splunk body here names splunk", async () => {
    const r = await s.post("/v1/ingest/generic", fixture());
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).error.message).toContain(ROUTE);
    const sp = await s.post(ROUTE, { result: { a: "1" }, sid: "x" });
    expect(sp.status).toBe(422);
    expect(((await sp.json()) as any).error.message).toContain("/v1/ingest/splunk");
  });

  test("GET /v1/sources lists every new source with its route and fields", async () => {
    const list = (await json(s.get("/v1/sources"))).items;
    const by = Object.fromEntries(list.map((x: any) => [x.name, x]));
    expect(by.sentinel.route).toBe("/v1/ingest/sentinel");
    expect(by.elastic.route).toBe("/v1/ingest/elastic");
    expect(by.splunk.route).toBe("/v1/ingest/splunk");
    expect(by["jsonapi-list"]).toMatchObject({ kind: "connector", route: ROUTE });
    for (const n of ["sentinel", "elastic", "splunk", "jsonapi-list"]) {
      expect(by[n].fields.length).toBeGreaterThan(5);
      expect(by[n].fields.some((f: any) => f.maps_to.startsWith("title"))).toBe(true);
    }
  });
});
