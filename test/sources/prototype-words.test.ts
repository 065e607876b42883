// User text is never a key into a plain object: every source, every field whose value is looked
// up in a table (severity words, urgency, syslog levels, ...) and every key a source reads by name,
// with every name Object.prototype (and Function.prototype) carries. Each must be a 202 (stored as
// an unknown word, with the raw value kept) or a 422 naming the field: never a 5xx.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const fixture = (src: string, name: string) => JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", src, name), "utf8"));

// every property name an object or a function inherits, plus spellings that trim/lower-case onto them
const BASE = [...new Set([...Object.getOwnPropertyNames(Object.prototype), ...Object.getOwnPropertyNames(Function.prototype), "prototype"])];
export const PROTO_WORDS = [...BASE, ...["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty"].flatMap((w) => [w.toUpperCase(), ` ${w} `])];

type Case = {
  /** route the body goes to */
  route: string;
  /** where in the body the word goes (a label, so a failure names it) */
  field: string;
  /** a valid body with `w` in that field */
  body: (w: string) => unknown;
  /** our own contract (unknown words are a 422) or a vendor's (unknown words are kept as unknown) */
  own: boolean;
};

const set = (o: any, path: string[], v: unknown) => {
  let x = o;
  for (const k of path.slice(0, -1)) x = x[k];
  // an own property even for "__proto__" (plain assignment would set the prototype instead)
  Object.defineProperty(x, path[path.length - 1], { value: v, enumerable: true, writable: true, configurable: true });
  return o;
};
const withField = (src: string, file: string, path: string[]) => (w: string) => set(fixture(src, file), path, w);

const CASES: Case[] = [
  { route: "/api/v1/events", field: "severity", own: true, body: (w) => ({ type: "t.x", source: "s", severity: w }) },
  { route: "/v1/ingest/generic", field: "severity", own: true, body: (w) => ({ title: "t", severity: w }) },
  { route: "/api/v1/webhooks/syslog", field: "severity", own: true, body: (w) => ({ source: "s", message: "m", severity: w }) },
  { route: "/v1/ingest/alertmanager", field: "alerts[0].labels.severity", own: false, body: withField("alertmanager", "firing.json", ["alerts", "0", "labels", "severity"]) },
  { route: "/v1/ingest/grafana", field: "alerts[0].labels.severity", own: false, body: withField("grafana", "firing.json", ["alerts", "0", "labels", "severity"]) },
  { route: "/v1/ingest/sentinel", field: "Severity (flat)", own: false, body: withField("sentinel", "flat.json", ["Severity"]) },
  { route: "/v1/ingest/sentinel", field: "properties.severity (REST)", own: false, body: (w) => set(withField("sentinel", "rest-incident.json", ["properties", "severity"])(w), ["etag"], crypto.randomUUID()) },
  { route: "/v1/ingest/sentinel", field: "object.properties.severity (Logic App)", own: false, body: (w) => set(withField("sentinel", "logicapp-incident.json", ["object", "properties", "severity"])(w), ["eventUniqueId"], crypto.randomUUID()) },
  { route: "/v1/ingest/sentinel", field: "Status (flat)", own: false, body: withField("sentinel", "flat.json", ["Status"]) },
  { route: "/v1/ingest/elastic", field: "kibana.alert.severity", own: false, body: withField("elastic", "security-alert-flat.json", ["kibana.alert.severity"]) },
  { route: "/v1/ingest/elastic", field: "kibana.alert.rule.severity", own: false, body: (w) => { const d = fixture("elastic", "security-alert-flat.json"); delete d["kibana.alert.severity"]; d["kibana.alert.rule.severity"] = w; return d; } },
  { route: "/v1/ingest/elastic", field: "context.alerts[0].kibana.alert.severity", own: false, body: withField("elastic", "connector-body.json", ["context", "alerts", "0", "kibana", "alert", "severity"]) },
  { route: "/v1/ingest/splunk", field: "result.urgency", own: false, body: (w) => ({ ...fixture("splunk", "brute-force.json"), result: { ...fixture("splunk", "brute-force.json").result, urgency: w } }) },
  { route: "/v1/ingest/splunk", field: "result.severity", own: false, body: (w) => ({ sid: "x", result: { severity: w } }) },
  { route: "/v1/ingest/splunk", field: "result.priority", own: false, body: (w) => ({ sid: "x", result: { priority: w } }) },
  { route: "/api/v1/webhooks/jsonapi-list", field: "attributes.severity", own: false, body: (w) => set(fixture("jsonapi-list", "batch.json"), ["0", "attributes", "severity"], w) },
  { route: "/api/v1/webhooks/jsonapi-list", field: "attributes.level", own: false, body: (w) => [{ id: "1", type: "alerts", attributes: { title: "t", level: w } }] },
  { route: "/api/v1/webhooks/jsonapi-list", field: "attributes.priority", own: false, body: (w) => [{ id: "1", type: "alerts", attributes: { title: "t", priority: w } }] },
];

describe("prototype names as values", () => {
  for (const c of CASES)
    test(`${c.route} ${c.field}: every prototype name is a 202 (unknown) or 422, never 5xx`, async () => {
      for (const w of PROTO_WORDS) {
        const r = await s.post(c.route, c.body(w));
        const body = (await r.json()) as any;
        const expected = c.own ? 422 : 202;
        expect({ w, status: r.status }).toEqual({ w, status: expected });
        if (c.own) {
          expect(body.error.code).toBe("invalid_body");
          expect(body.error.details[0].path).toBe("/severity");
          continue;
        }
        if (c.field.startsWith("Status")) continue;
        const e = (await (await s.get(`/v1/events/${body.ids[0]}`)).json()) as any;
        expect({ w, severity: e.severity, raw: e.severity_raw }).toEqual({ w, severity: "unknown", raw: w });
      }
    });
});

// Keys named like prototype properties inside the objects sources read by name: they are data
// like any other key (kept in the payload), never a way to reach a prototype.
const KEY_CASES: { route: string; where: string; body: (k: string) => unknown }[] = [
  { route: "/api/v1/events", where: "payload", body: (k) => ({ type: "t.x", source: "s", payload: JSON.parse(`{"${k}": "v", "n": {"${k}": {"${k}": 1}}}`) }) },
  { route: "/api/v1/events", where: "top level", body: (k) => JSON.parse(`{"type": "t.x", "source": "s", "${k}": "high"}`) },
  { route: "/v1/ingest/generic", where: "top level", body: (k) => JSON.parse(`{"title": "t", "${k}": {"severity": "high"}}`) },
  { route: "/api/v1/webhooks/syslog", where: "details", body: (k) => JSON.parse(`{"source": "s", "message": "m", "details": {"${k}": "x"}}`) },
  { route: "/v1/ingest/alertmanager", where: "labels", body: (k) => set(fixture("alertmanager", "firing.json"), ["alerts", "0", "labels", k], "critical") },
  { route: "/v1/ingest/grafana", where: "labels", body: (k) => set(fixture("grafana", "firing.json"), ["alerts", "0", "labels", k], "critical") },
  { route: "/v1/ingest/sentinel", where: "flat top level", body: (k) => JSON.parse(`{"Title": "t", "${k}": "High"}`) },
  { route: "/v1/ingest/elastic", where: "document", body: (k) => JSON.parse(`{"kibana.alert.rule.name": "r", "${k}": {"alert": 1}, "kibana": {"${k}": "x"}}`) },
  { route: "/v1/ingest/splunk", where: "result", body: (k) => JSON.parse(`{"sid": "s", "result": {"${k}": "high"}}`) },
  { route: "/api/v1/webhooks/jsonapi-list", where: "attributes", body: (k) => JSON.parse(`[{"id": "1", "type": "alerts", "attributes": {"title": "t", "${k}": "high"}}]`) },
];

describe("prototype names as keys", () => {
  for (const c of KEY_CASES)
    test(`${c.route} ${c.where}: a key named like a prototype property is plain data`, async () => {
      for (const k of BASE) {
        const r = await s.post(c.route, c.body(k));
        expect({ k, status: r.status }).toEqual({ k, status: 202 });
        const body = (await r.json()) as any;
        const e = await s.get(`/v1/events/${body.ids[0]}`);
        expect({ k, status: e.status }).toEqual({ k, status: 200 });
      }
    });
});

// Prototype names in the fields rules and heartbeats are indexed or matched by (type, source,
// payload paths, group_by), with such rules and heartbeats in place: stored, matched like any word.
describe("prototype names in indexed and matched fields", () => {
  test("events of type/source \"constructor\", \"__proto__\", ... are stored and matched by their rules, threshold groups and heartbeats", async () => {
    for (const w of BASE) {
      const filter = { all: [{ field: "type", op: "eq", value: w }, { field: "source", op: "eq", value: w }, { field: `payload.${w}`, op: "exists" }] };
      const rule = await s.admin("POST", "/v1/rules", { name: `r-${w}`, filter, threshold: { count: 2, window: 60, group_by: [`payload.${w}`] }, action: { kind: "alert", title: `{{payload.${w}}}` } });
      expect({ w, status: rule.status }).toEqual({ w, status: 201 });
      const hb = await s.admin("POST", "/v1/heartbeats", { name: `hb-${w}`, period: 3600, filter });
      expect({ w, status: hb.status }).toEqual({ w, status: 201 });
      const hbId = ((await hb.json()) as any).id;
      const item = JSON.parse(`{"type": ${JSON.stringify(w)}, "source": ${JSON.stringify(w)}, "payload": {${JSON.stringify(w)}: ${JSON.stringify(w)}}}`);
      for (let i = 0; i < 2; i++) {
        const r = await s.post("/api/v1/events", item);
        expect({ w, status: r.status }).toEqual({ w, status: 202 });
      }
      // the same words with no such key in the payload: no match (nothing inherited is found)
      const miss = await s.post("/api/v1/events", { type: w, source: w, payload: { other: 1 } });
      expect({ w, status: miss.status }).toEqual({ w, status: 202 });
      const alerts = ((await (await s.get(`/v1/alerts?source=${encodeURIComponent(w)}`)).json()) as any).items;
      expect({ w, titles: alerts.map((a: any) => a.title) }).toEqual({ w, titles: [w] });
      expect({ w, state: ((await (await s.get(`/v1/heartbeats/${hbId}`)).json()) as any).state }).toEqual({ w, state: "up" });
      const dry = await s.admin("POST", "/v1/rules/test", { rule: { name: "dry", filter, threshold: { count: 2, window: 60, group_by: [`payload.${w}`] }, action: { kind: "alert", title: "t" } }, last: 50 });
      expect({ w, status: dry.status }).toEqual({ w, status: 200 });
    }
  });

  test("Sentinel entities whose kind is a prototype name are skipped, the incident stored", async () => {
    for (const w of BASE) {
      const r = await s.post("/v1/ingest/sentinel", { Title: `entity ${w}`, Entities: [{ Type: w, Address: "192.0.2.1" }, { kind: w, properties: { address: "192.0.2.2" } }] });
      expect({ w, status: r.status }).toEqual({ w, status: 202 });
    }
  });
});
