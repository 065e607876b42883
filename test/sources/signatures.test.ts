// Each vendor source behind an inbound signature and a URL token, through real HTTP: good, bad,
// missing and stale signatures (Standard Webhooks, which signs a timestamp), nothing stored on a
// refusal; Splunk, whose webhook action cannot set headers, with its URL token alone.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { json, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const fixture = (source: string, file: string) => readFileSync(join(import.meta.dir, "..", "fixtures", source, file), "utf8");
const count = async (source: string) => (await json(s.get(`/v1/events?source_name=${source}&limit=500`, s.keys.admin))).items.length;

const cases = [
  { source: "sentinel", route: "/v1/ingest/sentinel", body: fixture("sentinel", "logicapp-incident.json") },
  { source: "elastic", route: "/v1/ingest/elastic", body: fixture("elastic", "security-alert-flat.json") },
  { source: "splunk", route: "/v1/ingest/splunk", body: fixture("splunk", "docs-example.json") },
  { source: "jsonapi-list", route: "/api/v1/webhooks/jsonapi-list", body: fixture("jsonapi-list", "batch.json") },
];

describe("signatures on every vendor source", () => {
  for (const c of cases)
    test(`${c.source}: good, bad, missing, stale`, async () => {
      const secret = "whsec_" + randomBytes(32).toString("base64");
      const put = await s.admin("PUT", `/v1/sources/${c.source}/settings`, { scheme: "standard-webhooks", secret });
      expect(put.status).toBe(200);
      const wh = new Webhook(secret);
      const signed = (id: string, at: Date, key = secret) => ({
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
        "webhook-signature": key === secret ? wh.sign(id, at, c.body) : new Webhook(key).sign(id, at, c.body),
      });
      const before = await count(c.source);
      const refusals: [Record<string, string>, string][] = [
        [signed("msg_bad", new Date(), "whsec_" + randomBytes(32).toString("base64")), "invalid_signature"],
        [{}, "missing_signature"],
        [signed("msg_stale", new Date(Date.now() - 3600_000)), "stale_signature"],
      ];
      for (const [headers, code] of refusals) {
        const r = await s.post(c.route, c.body, { headers });
        expect(r.status).toBe(401);
        expect(((await r.json()) as any).error.code).toBe(code);
      }
      expect(await count(c.source)).toBe(before);
      const ok = await s.post(c.route, c.body, { headers: signed("msg_good", new Date()) });
      expect(ok.status).toBe(202);
      const accepted = ((await ok.json()) as any).accepted as number;
      expect(accepted).toBeGreaterThan(0);
      expect(await count(c.source)).toBe(before + accepted);
      expect((await s.admin("DELETE", `/v1/sources/${c.source}/settings`)).status).toBeLessThan(300);
    });
});

test("splunk with its URL token only (no headers at all); the token opens no other source", async () => {
  const created = await json(s.admin("POST", "/v1/sources/splunk/tokens", { name: "splunk-prod" }));
  expect(created.token).toMatch(/^kwt_/);
  const body = fixture("splunk", "brute-force.json");
  const before = await count("splunk");
  const r = await fetch(`${s.url}/v1/ingest/splunk?token=${created.token}`, { method: "POST", headers: { "content-type": "application/json" }, body });
  expect(r.status).toBe(202);
  expect(await count("splunk")).toBe(before + 1);
  const other = await fetch(`${s.url}/v1/ingest/sentinel?token=${created.token}`, { method: "POST", headers: { "content-type": "application/json" }, body: fixture("sentinel", "flat.json") });
  expect(other.status).toBe(403);
});
