// Match rules on the ingest path: alert actions with templates, thresholds across group-commit
// batches, suppress and tag, enable/disable, validation that points at the bad part, the dry run.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { event, json, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());


const deployRule = {
  name: "prod deploy failed",
  filter: {
    all: [
      { field: "type", op: "eq", value: "deploy.failed" },
      { field: "source", op: "eq", value: "github-actions" },
      { field: "payload.env", op: "eq", value: "prod" },
    ],
  },
  action: { kind: "alert", title: "{{payload.service}} deploy failed", severity: "critical", fingerprint: ["payload.service"] },
};

describe("alert rules", () => {
  let ruleId: string;
  test("create; a matching event opens one critical alert titled from the template; repeats join it", async () => {
    const r = await s.admin("POST", "/v1/rules", deployRule);
    expect(r.status).toBe(201);
    ruleId = ((await r.json()) as any).id;
    const deploy = (service: string, env = "prod") =>
      event(0, { type: "deploy.failed", source: "github-actions", severity: "warning", payload: { service, env } });
    await s.post("/api/v1/events", [deploy("api"), deploy("api", "staging"), deploy("web")]);
    await s.post("/api/v1/events", deploy("api"));
    const alerts = (await json(s.get(`/v1/alerts?rule=${ruleId}`))).items;
    expect(alerts.map((a: any) => `${a.title}|${a.severity}|${a.count}`).sort()).toEqual(["api deploy failed|critical|2", "web deploy failed|critical|1"]);
    const api = alerts.find((a: any) => a.title.startsWith("api"));
    expect(api.rule_id).toBe(ruleId);
    expect((await json(s.get(`/v1/alerts/${api.id}`))).events.length).toBe(2);
  });

  test("disabled rules do nothing; enabling takes effect on the next event", async () => {
    const d = await json(s.admin("PATCH", `/v1/rules/${ruleId}`, { enabled: false }));
    expect(d.enabled).toBe(false);
    await s.post("/api/v1/events", event(0, { type: "deploy.failed", source: "github-actions", payload: { service: "batch", env: "prod" } }));
    expect((await json(s.get(`/v1/alerts?rule=${ruleId}&q=batch`))).items.length).toBe(0);
    await s.admin("PATCH", `/v1/rules/${ruleId}`, { enabled: true });
    await s.post("/api/v1/events", event(0, { type: "deploy.failed", source: "github-actions", payload: { service: "batch", env: "prod" } }));
    expect((await json(s.get(`/v1/alerts?rule=${ruleId}&q=batch`))).items.length).toBe(1);
  });
});

describe("threshold rules", () => {
  test("5 auth.failed for the same account within a minute → one alert with all five events, across batches", async () => {
    const r = await json(
      s.admin("POST", "/v1/rules", {
        name: "brute force",
        filter: { field: "type", op: "eq", value: "auth.failed" },
        threshold: { count: 5, window: 60, group_by: ["payload.account"] },
        action: { kind: "alert", title: "brute force on {{payload.account}}", severity: "high" },
      }),
    );
    const fail = (account: string) => event(0, { type: "auth.failed", source: "vpn", payload: { account } });
    // 4 for alice in two batches, 4 for bob: nobody reaches 5 yet
    await s.post("/api/v1/events", [fail("alice"), fail("alice"), fail("bob")]);
    await Promise.all([s.post("/api/v1/events", [fail("alice"), fail("bob")]), s.post("/api/v1/events", [fail("alice"), fail("bob"), fail("bob")])]);
    expect((await json(s.get(`/v1/alerts?rule=${r.id}`))).items).toEqual([]);
    await s.post("/api/v1/events", fail("alice")); // the fifth
    const alerts = (await json(s.get(`/v1/alerts?rule=${r.id}`))).items;
    expect(alerts.length).toBe(1);
    expect(alerts[0].title).toBe("brute force on alice");
    expect(alerts[0].count).toBe(5);
    expect((await json(s.get(`/v1/alerts/${alerts[0].id}`))).events.length).toBe(5);
    await s.post("/api/v1/events", fail("alice")); // the sixth joins
    expect((await json(s.get(`/v1/alerts?rule=${r.id}`))).items[0].count).toBe(6);
    await s.admin("DELETE", `/v1/rules/${r.id}`);
  });
});

describe("suppress and tag", () => {
  test("suppress stops a source's alert; tag adds tags to the stored event", async () => {
    await s.admin("POST", "/v1/rules", { name: "mute test alerts", filter: { field: "title", op: "prefix", value: "[test]" }, action: { kind: "suppress" } });
    await s.admin("POST", "/v1/rules", { name: "tag vpn", filter: { field: "source", op: "eq", value: "vpn-gw" }, action: { kind: "tag", tags: ["network", "vpn"] } });
    await s.post("/v1/ingest/generic", { title: "[test] ignore me", source: "muted" });
    expect((await json(s.get("/v1/alerts?source=muted"))).items.length).toBe(0);
    expect((await json(s.get("/v1/events?source=muted"))).items.length).toBe(1); // stored all the same
    const id = (await json(s.post("/v1/ingest/generic", { title: "login failed", source: "vpn-gw", tags: ["auth"] }))).ids[0];
    expect((await json(s.get(`/v1/events/${id}`))).tags).toEqual(["auth", "network", "vpn"]);
  });
});

describe("validation and the dry run", () => {
  test("a bad rule is a 422 pointing at the bad part, and nothing is stored", async () => {
    const before = (await json(s.get("/v1/rules"))).items.length;
    const cases: [unknown, string][] = [
      [{ ...deployRule, filter: { all: [{ field: "type", op: "eq", value: "x" }, { field: "type", op: "matches", value: "x" }] } }, "/filter/all/1/op"],
      [{ ...deployRule, action: { kind: "page" } }, "/action"],
      [{ ...deployRule, threshold: { count: 1, window: 60 } }, "/threshold/count"],
      [{ ...deployRule, filter: { field: "payload.x", op: "regex", value: "[" } }, "/filter/value"],
    ];
    for (const [body, path] of cases) {
      const r = await s.admin("POST", "/v1/rules", body);
      expect({ path, status: r.status }).toEqual({ path, status: 422 });
      expect(JSON.stringify(((await r.json()) as any).error)).toContain(path);
    }
    expect((await json(s.get("/v1/rules"))).items.length).toBe(before);
  });

  test("test on a sample event and on the last N stored events; nothing is stored", async () => {
    const alertsBefore = (await json(s.get("/v1/alerts"))).items.length;
    const one = await json(
      s.admin("POST", "/v1/rules/test", { rule: deployRule, event: { type: "deploy.failed", source: "github-actions", payload: { env: "prod", service: "api" } } }),
    );
    expect(one).toMatchObject({ matched: true, action: "alert", title: "api deploy failed", severity: "critical" });
    const no = await json(s.admin("POST", "/v1/rules/test", { rule: deployRule, event: { type: "deploy.failed", source: "github-actions", payload: { env: "dev" } } }));
    expect(no.matched).toBe(false);
    const last = await json(s.admin("POST", "/v1/rules/test", { rule: deployRule, last: 200 }));
    expect(last.evaluated).toBeGreaterThan(10);
    expect(last.alerts.map((a: any) => a.title).sort()).toEqual(["api deploy failed", "batch deploy failed", "web deploy failed"]);
    expect((await json(s.get("/v1/alerts"))).items.length).toBe(alertsBefore);
  });
});
