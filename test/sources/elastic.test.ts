// The elastic source with Kibana alert documents shaped like the alerts-as-data index documents
// (flat dotted kibana.* keys, nested ECS objects, and fully nested), and a Webhook connector body
// carrying context.alerts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { json, startTestServer, type TestServer } from "../helpers";

const fixture = (name: string) => JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "elastic", name), "utf8"));
const indicators = (e: any) => e.indicators.map((i: any) => `${i.type}:${i.value}`).sort();

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const count = async () => (await json(s.get("/v1/events?source_name=elastic&limit=500"))).items.length;

describe("documented shapes", () => {
  test("a security alert document with flat dotted keys and nested ECS objects", async () => {
    const r = await s.post("/v1/ingest/elastic", fixture("security-alert-flat.json"));
    expect(r.status).toBe(202);
    const e = await json(s.get(`/v1/events/${((await r.json()) as any).ids[0]}`));
    expect(e).toMatchObject({
      source_name: "elastic",
      source: "kibana",
      type: "elastic.active",
      module: "security",
      title: "Outbound connection to known C2",
      severity: "high",
      severity_raw: "high",
      host: "web-01.prod.example.com",
      occurred_at: "2026-11-22T11:02:33.418Z",
      dedup_key: "6b3c1e0f4a9d8c7b2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d",
      tags: ["c2", "network"],
      warnings: [],
    });
    expect(e.summary).toStartWith("network event with source 192.0.2.10");
    expect(indicators(e)).toEqual([
      "account:jdoe",
      "domain:c2.example-bad.org",
      "domain:web-01.prod.example.com",
      "hash_sha1:a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
      "hash_sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
      "ip:10.0.4.17",
      "ip:192.0.2.10",
      "ip:198.51.100.23",
      "ip:fe80::1c2b:3aff:fe4d:5e6f",
      "url:https://c2.example-bad.org/beacon?id=42",
    ]); // the invalid md5 is dropped
    expect(e.indicators.every((i: any) => i.origin === "system")).toBe(true);
    expect(e.raw_payload["kibana.alert.ancestors"][0].depth).toBe(0);
  });

  test("a nested observability alert; recovered resolves the alert its active twin opened", async () => {
    const active = fixture("observability-recovered-nested.json");
    active.kibana.alert.status = "active";
    active.kibana.alert.action_group = "metrics.threshold.fired";
    const a = await json(s.post("/v1/ingest/elastic", active));
    const e = await json(s.get(`/v1/events/${a.ids[0]}`));
    expect(e).toMatchObject({
      title: "High CPU on database hosts",
      summary: "CPU usage is 42.1% in the last 5 mins for db-2. Alert when > 90%.",
      severity: "unknown",
      module: "monitoring",
      host: "db-2",
      occurred_at: "2026-11-22T10:20:00.000Z",
      dedup_key: "e7d6c5b4-a392-4817-b6f5-e4d3c2b1a098",
      tags: ["db", "prod"],
    });
    expect(e.indicators).toEqual([]); // "db-2" is not a fully qualified name
    const fp = "elastic:e7d6c5b4-a392-4817-b6f5-e4d3c2b1a098";
    const find = async () => (await json(s.get("/v1/alerts?source_name=elastic&limit=100"))).items.find((x: any) => x.fingerprint === fp);
    expect((await find()).status).toBe("open");
    const r = await json(s.post("/v1/ingest/elastic", fixture("observability-recovered-nested.json")));
    expect((await json(s.get(`/v1/events/${r.ids[0]}`))).type).toBe("elastic.recovered");
    expect(await find()).toMatchObject({ status: "closed", classification: "resolved" });
  });

  test("a connector body with context.alerts: one event per alert, the body's rule name where an alert has none", async () => {
    const r = await s.post("/v1/ingest/elastic", fixture("connector-body.json"));
    expect(r.status).toBe(202);
    const { ids } = (await r.json()) as any;
    expect(ids.length).toBe(2);
    const [a, b] = await Promise.all(ids.map((id: string) => json(s.get(`/v1/events/${id}`))));
    expect(a).toMatchObject({
      title: "Credential access from unusual process",
      severity: "critical",
      host: "dc-1.corp.example.com",
      occurred_at: "2026-11-22T11:59:58.120Z",
      tags: ["credential-access", "windows"],
    });
    expect(indicators(a)).toEqual([
      "account:svc-admin",
      "domain:dc-1.corp.example.com",
      "email:svc-admin@corp.example.com",
      "hash_md5:5d41402abc4b2a76b9719d911017c592",
      "ip:10.1.2.3",
    ]);
    expect(a.raw_payload.rule.id).toBe("a4f1e2d3-c4b5-4a69-8870-1f2e3d4c5b6a");
    expect(a.payload.kibana.alert.uuid).toStartWith("1111aaaa");
    expect(b).toMatchObject({ title: "Credential access from unusual process", severity: "medium", host: "dc-2.corp.example.com", occurred_at: "2025-11-22T11:59:58.120Z" });
    expect(indicators(b)).toEqual(["domain:dc-2.corp.example.com", "ip:10.1.2.4"]);
  });

  test("the per-alert template of docs/sources.md: the recovered action group closes the alert", async () => {
    const body = (group: string) => ({
      "@timestamp": "2026-11-22T12:30:00.000Z",
      "kibana.alert.rule.name": "Disk almost full",
      "kibana.alert.rule.uuid": "5d1c2b3a-0000-4000-8000-00000000abcd",
      "kibana.alert.instance.id": "db-9",
      "kibana.alert.uuid": "",
      "kibana.alert.action_group": group,
      "kibana.alert.reason": "disk 97% on db-9",
    });
    const a = await json(s.post("/v1/ingest/elastic", body("threshold met")));
    const e = await json(s.get(`/v1/events/${a.ids[0]}`));
    expect(e).toMatchObject({ type: "elastic.active", dedup_key: "5d1c2b3a-0000-4000-8000-00000000abcd:db-9", summary: "disk 97% on db-9" });
    const fp = "elastic:5d1c2b3a-0000-4000-8000-00000000abcd:db-9";
    const find = async () => (await json(s.get("/v1/alerts?source_name=elastic&limit=100"))).items.find((x: any) => x.fingerprint === fp);
    expect((await find()).status).toBe("open");
    const r = await json(s.post("/v1/ingest/elastic", body("recovered")));
    expect((await json(s.get(`/v1/events/${r.ids[0]}`))).type).toBe("elastic.recovered");
    expect((await find()).status).toBe("closed");
  });

  test("risk score bands when there is no severity word; an unparseable @timestamp warns", async () => {
    const before = Date.now();
    const r = await json(s.post("/v1/ingest/elastic", { "kibana.alert.rule.name": "scored", "kibana.alert.risk_score": 95, "@timestamp": "yesterday-ish" }));
    const e = await json(s.get(`/v1/events/${r.ids[0]}`));
    expect(e).toMatchObject({ severity: "critical", severity_raw: "95" });
    expect(new Date(e.occurred_at).getTime()).toBeGreaterThanOrEqual(before - 5);
    expect(e.warnings[0]).toMatch(/@timestamp "yesterday-ish" is not a timestamp/);
  });
});

describe("bad input: 422 naming the field, nothing stored", () => {
  const cases: [string, () => unknown, string][] = [
    ["no rule name", () => ({ "@timestamp": "2026-11-22T11:02:33Z", "kibana.alert.severity": "high" }), "/kibana.alert.rule.name"],
    ["a nested rule name that is a number", () => ({ kibana: { alert: { rule: { name: 5 } } } }), "/kibana/alert/rule/name"],
    ["an over-long rule name", () => ({ "kibana.alert.rule.name": "x".repeat(1025) }), "/kibana.alert.rule.name"],
    ["an over-long reason", () => ({ "kibana.alert.rule.name": "r", kibana: { alert: { reason: "x".repeat(70_000) } } }), "/kibana/alert/reason"],
    ["a risk score that is text", () => ({ "kibana.alert.rule.name": "r", "kibana.alert.risk_score": "73" }), "/kibana.alert.risk_score"],
    ["an @timestamp that is an object", () => ({ "kibana.alert.rule.name": "r", "@timestamp": { at: 1 } }), "/@timestamp"],
    ["tags that are not strings", () => ({ "kibana.alert.rule.name": "r", "kibana.alert.rule.tags": [1, 2] }), "/kibana.alert.rule.tags"],
    ["context.alerts that is not an array", () => ({ rule: { name: "r" }, context: { alerts: "many" } }), "/context/alerts"],
    ["an empty context.alerts", () => ({ rule: { name: "r" }, context: { alerts: [] } }), "/context/alerts"],
    ["an alert of context.alerts that is not an object", () => ({ rule: { name: "r" }, context: { alerts: [{}, 7] } }), "/context/alerts/1"],
    ["an alert without a rule name in a body without one", () => ({ context: { alerts: [{ "kibana.alert.uuid": "u" }] } }), "/context/alerts/0/kibana.alert.rule.name"],
  ];
  for (const [name, make, path] of cases)
    test(name, async () => {
      const before = await count();
      const r = await s.post("/v1/ingest/elastic", make());
      expect(r.status).toBe(422);
      const err = ((await r.json()) as any).error;
      const d = err.details.find((x: any) => x.path === path);
      expect(d).toBeDefined();
      expect(d.index).toBe(0);
      expect(err.message).toContain(path);
      expect(await count()).toBe(before);
    });

  test("an empty body array is refused", async () => {
    const r = await s.post("/v1/ingest/elastic", []);
    expect(r.status).toBe(422);
  });

  test("extra unknown fields are kept, never an error", async () => {
    const f = fixture("security-alert-flat.json");
    f["kibana.alert.uuid"] = "extra-fields";
    f["vendor.custom"] = { nested: [1, 2] };
    const r = await s.post("/v1/ingest/elastic", f);
    expect(r.status).toBe(202);
    const e = await json(s.get(`/v1/events/${((await r.json()) as any).ids[0]}`));
    expect(e.raw_payload["vendor.custom"]).toEqual({ nested: [1, 2] });
  });

  test("a payload meant for another source names the right route, both ways", async () => {
    const am = JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "alertmanager", "firing.json"), "utf8"));
    const r = await s.post("/v1/ingest/elastic", am);
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).error.message).toContain("/v1/ingest/alertmanager");
    const g = await s.post("/v1/ingest/alertmanager", fixture("security-alert-flat.json"));
    expect(g.status).toBe(422);
    expect(((await g.json()) as any).error.message).toContain("/v1/ingest/elastic");
  });
});
