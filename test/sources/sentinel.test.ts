// The sentinel source with payloads shaped like Microsoft's documented Logic App incident trigger
// body, the REST incident resource, and a flat SecurityIncident/SecurityAlert-style JSON.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { json, startTestServer, type TestServer } from "../helpers";

const fixture = (name: string) => JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "sentinel", name), "utf8"));
const indicators = (e: any) => e.indicators.map((i: any) => `${i.type}:${i.value}:${i.origin}`).sort();

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const count = async () => (await json(s.get("/v1/events?source_name=sentinel&limit=500"))).items.length;

describe("documented shapes", () => {
  test("Logic App incident trigger: normalized, entities become indicators, the REST shape of the same incident closing it", async () => {
    const r = await s.post("/v1/ingest/sentinel", fixture("logicapp-incident.json"));
    expect(r.status).toBe(202);
    const id = ((await r.json()) as any).ids[0];
    const e = await json(s.get(`/v1/events/${id}`));
    expect(e).toMatchObject({
      source_name: "sentinel",
      source: "soc-workspace",
      type: "sentinel.new",
      module: "security",
      title: "Multiple failed sign-ins followed by a success from a rare country",
      summary: "A user had 25 failed sign-ins and then signed in from an IP never seen for this tenant.",
      severity: "high",
      severity_raw: "High",
      host: "wks-042",
      occurred_at: "2026-11-22T08:14:05.123Z",
      dedup_key: "3f9e8d7c-6b5a-4938-8271-605f4e3d2c1b",
      warnings: [],
    });
    expect(e.tags).toEqual(["identity", "auto-triage", "tactic=InitialAccess", "tactic=CredentialAccess"]);
    expect(indicators(e)).toEqual([
      "account:jdoe@contoso.com:system",
      "domain:c2.example-bad.org:system",
      "domain:wks-042.corp.contoso.com:system",
      "email:jdoe@contoso.com:system",
      "hash_md5:d41d8cd98f00b204e9800998ecf8427e:system",
      "hash_sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855:system",
      "ip:203.0.113.54:system",
      "url:https://login.example-phish.net/owa/auth:system",
    ]); // "not-an-ip" is dropped, the CloudApplication carries no indicator
    expect(e.payload.incidentNumber).toBe(4711);
    expect(e.raw_payload.workspaceInfo.WorkspaceName).toBe("soc-workspace");

    // the same trigger delivered twice (same eventUniqueId) is stored once
    const again = await json(s.post("/v1/ingest/sentinel", fixture("logicapp-incident.json")));
    expect(again.ids[0]).toBe(id);

    const open = (await json(s.get("/v1/alerts?source_name=sentinel"))).items;
    expect(open.length).toBe(1);
    expect(open[0]).toMatchObject({ status: "open", severity: "high", fingerprint: "sentinel:3f9e8d7c-6b5a-4938-8271-605f4e3d2c1b" });

    // the REST incident of the same incident, now Closed: a resolve signal for the same alert
    const closed = await json(s.post("/v1/ingest/sentinel", fixture("rest-incident.json")));
    const c = await json(s.get(`/v1/events/${closed.ids[0]}`));
    expect(c).toMatchObject({ type: "sentinel.closed", severity: "high", occurred_at: "2026-11-22T08:14:05.000Z", dedup_key: "3f9e8d7c-6b5a-4938-8271-605f4e3d2c1b" });
    expect(c.payload.classification).toBe("TruePositive");
    const after = (await json(s.get("/v1/alerts?source_name=sentinel"))).items;
    expect(after.length).toBe(1);
    expect(after[0]).toMatchObject({ status: "closed", classification: "resolved" });
  });

  test("a user's flat JSON, any key case, Entities as the SecurityAlert table's JSON text", async () => {
    const r = await s.post("/v1/ingest/sentinel", fixture("flat.json"));
    expect(r.status).toBe(202);
    const e = await json(s.get(`/v1/events/${((await r.json()) as any).ids[0]}`));
    expect(e).toMatchObject({
      title: "Impossible travel for svc-backup",
      summary: "Sign-ins from two countries 40 minutes apart.",
      severity: "medium",
      severity_raw: "Medium",
      type: "sentinel.active",
      host: "db-7",
      occurred_at: "2025-11-22T08:26:40.000Z",
      dedup_key: "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
      source: "sentinel",
    });
    expect(e.tags).toEqual(["identity", "travel", "tactic=InitialAccess"]);
    expect(indicators(e)).toEqual([
      "account:CONTOSO\\svc-backup:system",
      "domain:db-7.prod.contoso.com:system",
      "email:billing@example-invoices.biz:system",
      "email:svc-backup@contoso.com:system",
      "hash_sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709:system",
      "ip:198.51.100.7:system",
      "url:http://example-invoices.biz/pay:system",
    ]);
    expect(e.raw_payload.CustomerField).toEqual({ ticket: "SOC-1234" });
  });

  test("flat JSON with entities as objects and AlertDisplayName as the title; no severity is unknown", async () => {
    const r = await s.post("/v1/ingest/sentinel", {
      AlertDisplayName: "Suspicious PowerShell",
      entities: [{ kind: "Ip", properties: { address: "2001:DB8::1" } }, { Type: "url", Url: "https://x.example.org/a" }],
    });
    expect(r.status).toBe(202);
    const e = await json(s.get(`/v1/events/${((await r.json()) as any).ids[0]}`));
    expect(e).toMatchObject({ title: "Suspicious PowerShell", severity: "unknown", severity_raw: null });
    expect(indicators(e)).toEqual(["ip:2001:db8::1:system", "url:https://x.example.org/a:system"]);
  });

  test("an unparseable time and an unknown severity are stored with a warning, never silently", async () => {
    const f = fixture("logicapp-incident.json");
    f.eventUniqueId = "warn-1";
    f.object.name = "warn-incident";
    f.object.properties.firstActivityTimeUtc = "last tuesday";
    f.object.properties.severity = "Spicy";
    const before = Date.now();
    const id = (await json(s.post("/v1/ingest/sentinel", f))).ids[0];
    const e = await json(s.get(`/v1/events/${id}`));
    expect(new Date(e.occurred_at).getTime()).toBeGreaterThanOrEqual(before - 5);
    expect(e.severity).toBe("unknown");
    expect(e.severity_raw).toBe("Spicy");
    expect(e.warnings.join("\n")).toMatch(/firstActivityTimeUtc "last tuesday" is not a timestamp/);
    expect(e.warnings.join("\n")).toMatch(/severity "Spicy" is not a severity we know/);
  });
});

describe("bad input: 422 naming the field, nothing stored", () => {
  const cases: [string, (f: any) => unknown, string][] = [
    ["no title in the Logic App body", (f) => (delete f.object.properties.title, f), "/object/properties/title"],
    ["no properties in the Logic App body", (f) => (delete f.object.properties, f), "/object/properties"],
    ["object is not an object", (f) => ({ ...f, object: "incident" }), "/object"],
    ["severity is a number", (f) => ((f.object.properties.severity = 3), f), "/object/properties/severity"],
    ["relatedEntities is a string", (f) => ((f.object.properties.relatedEntities = "ip"), f), "/object/properties/relatedEntities"],
    ["an entity that is not an object", (f) => ((f.object.properties.relatedEntities = [5]), f), "/object/properties/relatedEntities/0"],
    ["a label without labelName", (f) => ((f.object.properties.labels = [{ labelType: "User" }]), f), "/object/properties/labels/0/labelName"],
    ["an over-long title", (f) => ((f.object.properties.title = "x".repeat(1025)), f), "/object/properties/title"],
    ["incidentNumber is text", (f) => ((f.object.properties.incidentNumber = "4711"), f), "/object/properties/incidentNumber"],
    ["REST shape without severity", () => ({ name: "n", properties: { title: "t" } }), "/properties/severity"],
    ["flat JSON without any title", () => ({ severity: "High", status: "New" }), "/title"],
    ["flat JSON whose Title is a number", () => ({ Title: 5 }), "/Title"],
    ["flat JSON with an over-long description", () => ({ title: "t", description: "x".repeat(70_000) }), "/description"],
    ["flat JSON whose entities are a number", () => ({ title: "t", entities: 7 }), "/entities"],
  ];
  for (const [name, make, path] of cases)
    test(name, async () => {
      const before = await count();
      const r = await s.post("/v1/ingest/sentinel", make(fixture("logicapp-incident.json")));
      expect(r.status).toBe(422);
      const err = ((await r.json()) as any).error;
      expect(err.code).toBeString();
      const d = err.details.find((x: any) => x.path === path);
      expect(d).toBeDefined();
      expect(d.index).toBe(0);
      expect(d.message.length).toBeGreaterThan(3);
      expect(await count()).toBe(before);
    });

  test("an empty body array is refused; an empty relatedEntities list is fine", async () => {
    const before = await count();
    const r = await s.post("/v1/ingest/sentinel", []);
    expect(r.status).toBe(422);
    expect(await count()).toBe(before);
    const f = fixture("logicapp-incident.json");
    f.eventUniqueId = "empty-entities";
    f.object.properties.relatedEntities = [];
    const ok = await s.post("/v1/ingest/sentinel", f);
    expect(ok.status).toBe(202);
    const e = await json(s.get(`/v1/events/${((await ok.json()) as any).ids[0]}`));
    expect(e.indicators).toEqual([]);
  });

  test("one bad item in a batch refuses the batch, naming its index", async () => {
    const before = await count();
    const good = fixture("logicapp-incident.json");
    const r = await s.post("/v1/ingest/sentinel", [good, { Title: 5 }]);
    expect(r.status).toBe(422);
    const err = ((await r.json()) as any).error;
    expect(err.details).toContainEqual(expect.objectContaining({ index: 1, path: "/Title" }));
    expect(await count()).toBe(before);
  });

  test("extra unknown fields are kept, never an error", async () => {
    const f = fixture("logicapp-incident.json");
    f.eventUniqueId = "extra-1";
    f.somethingNew = { x: 1 };
    f.object.properties.futureField = ["a"];
    const r = await s.post("/v1/ingest/sentinel", f);
    expect(r.status).toBe(202);
    const e = await json(s.get(`/v1/events/${((await r.json()) as any).ids[0]}`));
    expect(e.raw_payload.somethingNew).toEqual({ x: 1 });
    expect(e.payload.futureField).toEqual(["a"]);
  });

  test("a payload meant for another source names the right route", async () => {
    const am = JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "alertmanager", "firing.json"), "utf8"));
    const r = await s.post("/v1/ingest/sentinel", am);
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).error.message).toContain("/v1/ingest/alertmanager");
    // and the other way round: a Logic App body sent to generic
    const g = await s.post("/v1/ingest/generic", fixture("logicapp-incident.json"));
    expect(g.status).toBe(422);
    expect(((await g.json()) as any).error.message).toContain("/v1/ingest/sentinel");
  });
});
