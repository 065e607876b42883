// The splunk source with bodies shaped like Splunk's documented webhook alert action payload.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { json, startTestServer, type TestServer } from "../helpers";

const fixture = (name: string) => JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "splunk", name), "utf8"));
const indicators = (e: any) => e.indicators.map((i: any) => `${i.type}:${i.value}`).sort();

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const count = async () => (await json(s.get("/v1/events?source_name=splunk&limit=500"))).items.length;

describe("documented shapes", () => {
  test("Splunk's documentation example (an ad-hoc search: search_name null)", async () => {
    const r = await s.post("/v1/ingest/splunk", fixture("docs-example.json"));
    expect(r.status).toBe(202);
    const e = await json(s.get(`/v1/events/${((await r.json()) as any).ids[0]}`));
    expect(e).toMatchObject({
      source_name: "splunk",
      source: "splunk",
      type: "splunk.alert",
      title: "Splunk search scheduler_admin_search_W2_at_14232356_132",
      severity: "unknown",
      severity_raw: null,
      host: null,
      dedup_key: "scheduler_admin_search_W2_at_14232356_132",
      tags: ["app=search", "owner=admin", "sourcetype=mongod"],
      warnings: [],
    });
    expect(e.payload.result.count).toBe("8");
  });

  test("a saved search with CIM fields: urgency, _time in epoch seconds, indicators, repeats joining one alert", async () => {
    const r = await s.post("/v1/ingest/splunk", fixture("brute-force.json"));
    expect(r.status).toBe(202);
    const id = ((await r.json()) as any).ids[0];
    const e = await json(s.get(`/v1/events/${id}`));
    expect(e).toMatchObject({
      title: "Brute force against VPN",
      summary: "57 failed logins for admin from 203.0.113.99 in 10 minutes",
      severity: "high",
      severity_raw: "high",
      host: "vpn-gw-1",
      occurred_at: "2025-11-22T11:03:05.000Z",
      dedup_key: "Brute force against VPN@vpn-gw-1",
      tags: ["app=search", "owner=admin", "sourcetype=cisco:asa", "index=auth"],
    });
    expect(indicators(e)).toEqual([
      "account:admin",
      "email:soc@example.com",
      "hash_md5:44d88612fea8a8f36de82e1278abb02f",
      "ip:10.20.0.5",
      "ip:203.0.113.99",
      "url:https://vpn.example.com/+CSCOE+/logon.html",
    ]);
    // the same notification again is the same event; the next run (new sid) joins the alert
    expect((await json(s.post("/v1/ingest/splunk", fixture("brute-force.json")))).ids[0]).toBe(id);
    const next = fixture("brute-force.json");
    next.sid = "scheduler__admin__search__RMD5a1b2c3d4e5f6a7b8_at_1763810100_1240";
    next.result.count = "61";
    const n = await json(s.post("/v1/ingest/splunk", next));
    expect(n.ids[0]).not.toBe(id);
    const alerts = (await json(s.get("/v1/alerts?source_name=splunk&limit=100"))).items.filter((a: any) => a.fingerprint === "splunk:Brute force against VPN@vpn-gw-1");
    expect(alerts.length).toBe(1);
    expect(alerts[0].count).toBe(2);
  });

  test("numeric alert severities, ISO _time, multivalue fields; an unparseable _time warns", async () => {
    const mk = (result: Record<string, unknown>) => ({ result, sid: `sid-${Math.random()}`, search_name: "levels" });
    const fatal = await json(s.post("/v1/ingest/splunk", mk({ severity: "6", _time: "2026-11-22T10:23:05.000+01:00", src: ["192.0.2.1", "files.example.org"] })));
    const e = await json(s.get(`/v1/events/${fatal.ids[0]}`));
    expect(e).toMatchObject({ severity: "critical", severity_raw: "6", occurred_at: "2026-11-22T09:23:05.000Z" });
    expect(indicators(e)).toEqual(["domain:files.example.org", "ip:192.0.2.1"]);
    const before = Date.now();
    const bad = await json(s.post("/v1/ingest/splunk", mk({ urgency: "informational", _time: "22/11/2026 10:23" })));
    const b = await json(s.get(`/v1/events/${bad.ids[0]}`));
    expect(b.severity).toBe("info");
    expect(new Date(b.occurred_at).getTime()).toBeGreaterThanOrEqual(before - 5);
    expect(b.warnings[0]).toMatch(/result._time "22\/11\/2026 10:23" is not a timestamp/);
  });
});

describe("bad input: 422 naming the field, nothing stored", () => {
  const cases: [string, (f: any) => unknown, string][] = [
    ["no result", (f) => (delete f.result, f), "/result"],
    ["no sid", (f) => (delete f.sid, f), "/sid"],
    ["result is a string", (f) => ({ ...f, result: "x" }), "/result"],
    ["sid is a number", (f) => ({ ...f, sid: 132 }), "/sid"],
    ["search_name is an array", (f) => ({ ...f, search_name: ["a"] }), "/search_name"],
    ["an empty sid", (f) => ({ ...f, sid: "" }), "/sid"],
    ["an over-long search_name", (f) => ({ ...f, search_name: "x".repeat(1025) }), "/search_name"],
    ["an over-long result value", (f) => ((f.result._raw = "x".repeat(70_000)), f), "/result/_raw"],
    ["a result value that is an object", (f) => ((f.result.nested = { a: 1 }), f), "/result/nested"],
    ["the Sentinel shape instead", () => JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "sentinel", "rest-incident.json"), "utf8")), "/result"],
  ];
  for (const [name, make, path] of cases)
    test(name, async () => {
      const before = await count();
      const r = await s.post("/v1/ingest/splunk", make(fixture("brute-force.json")));
      expect(r.status).toBe(422);
      const err = ((await r.json()) as any).error;
      const d = err.details.find((x: any) => x.path === path);
      expect(d).toBeDefined();
      expect(d.index).toBe(0);
      expect(await count()).toBe(before);
    });

  test("the Sentinel shape is refused naming the sentinel route", async () => {
    const r = await s.post("/v1/ingest/splunk", JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "sentinel", "rest-incident.json"), "utf8")));
    expect(((await r.json()) as any).error.message).toContain("/v1/ingest/sentinel");
    const back = await s.post("/v1/ingest/generic", fixture("docs-example.json"));
    expect(back.status).toBe(422);
    expect(((await back.json()) as any).error.message).toContain("/v1/ingest/splunk");
  });

  test("an empty body array is refused; an empty result is accepted", async () => {
    expect((await s.post("/v1/ingest/splunk", [])).status).toBe(422);
    const r = await s.post("/v1/ingest/splunk", { result: {}, sid: "empty-result", search_name: "nothing" });
    expect(r.status).toBe(202);
  });

  test("extra unknown fields are kept, never an error", async () => {
    const f = fixture("docs-example.json");
    f.sid = "extra-fields";
    f.server_uri = "https://127.0.0.1:8089";
    f.result.custom_number = 5;
    const r = await s.post("/v1/ingest/splunk", f);
    expect(r.status).toBe(202);
    const e = await json(s.get(`/v1/events/${((await r.json()) as any).ids[0]}`));
    expect(e.raw_payload.server_uri).toBe("https://127.0.0.1:8089");
    expect(e.raw_payload.result.custom_number).toBe(5);
  });
});
