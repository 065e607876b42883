// An edit changes only what it names. For every PATCH and PUT route of /openapi.json: a resource
// is made with a non-default value in every field, then each field of the route's body schema is
// sent alone (and `{}`), and the resource read back before and after must differ only in that
// field (and the fields it documents as following it). A route or a body field this table does
// not know fails the test, so a new one has to be added here. A second check: no request body
// schema of any route fills in a default (Elysia fills a missing field with it, which is how
// `PATCH {}` used to reset a webhook's mode and state and a watchlist's severity).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { createApp } from "../../src/app";
import { json, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
let doc: any;
beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
  doc = await json(fetch(s.url + "/openapi.json"));
});
afterAll(() => s.close());

type Walk = {
  /** makes the resource with non-default values everywhere; returns the path to GET (and to edit) */
  create: () => Promise<string>;
  /** the body that changes one field: another non-default value */
  change: Record<string, unknown>;
  /** fields of the view that follow a body field (besides the one of the same name) */
  follows?: Record<string, string[]>;
  /** what PUT needs in every body (its required fields) */
  base?: Record<string, unknown>;
  /** view fields that change on every write */
  volatile?: string[];
};

const created = async (r: Promise<Response>) => {
  const res = await r;
  const body = (await res.json()) as any;
  if (res.status !== 201 && res.status !== 200) throw new Error(`setup failed (${res.status}): ${JSON.stringify(body)}`);
  return body;
};

const WALKS: Record<string, Walk> = {
  "PATCH /v1/webhooks/{id}": {
    create: async () => {
      const w = await created(
        s.admin("POST", "/v1/webhooks", {
          url: "http://127.0.0.1:9/one",
          name: "wh-one",
          state: "inactive",
          headers: { "X-Team": "ops-team-token-0001" },
          triggers: ["alert.*", "heartbeat.down"],
          filters: { min_severity: "high", sources: ["a"], tags: ["t"] },
          mode: "batched",
          interval: 30,
          max_batch: 10,
          rate_limit: 5,
          timeout: 3,
          retry: { max_attempts: 4, initial_interval: 2, max_interval: 60 },
          ordered: true,
          backlog_cap: 500,
          backlog_policy: "refuse_newest",
        }),
      );
      return `/v1/webhooks/${w.id}`;
    },
    change: {
      name: "wh-two",
      url: "http://127.0.0.1:9/two",
      state: "active",
      headers: { "X-Team": "sre-team-token-0002" },
      triggers: ["alert.opened"],
      filters: { min_severity: "critical" },
      mode: "immediate",
      interval: 45,
      max_batch: 20,
      rate_limit: 7,
      timeout: 4,
      retry: { max_attempts: 6 },
      ordered: false,
      backlog_cap: 1000,
      backlog_policy: "drop_oldest",
    },
    follows: { state: ["disabled_reason", "disabled_at", "consecutive_failures"] },
  },
  "PATCH /v1/keys/{id}": {
    create: async () => {
      const k = await created(s.admin("POST", "/v1/keys", { name: "key-one", scopes: ["ingest"], sources: ["generic"], rate_limit: 5, rate_burst: 20 }));
      return `/v1/keys/${k.id}`;
    },
    change: { name: "key-two", sources: ["grafana", "splunk"], rate_limit: 7.5, rate_burst: 30 },
  },
  "PATCH /v1/watchlists/{id}": {
    create: async () => {
      const w = await created(
        s.admin("POST", "/v1/watchlists", { name: "wl-one", label: "bad-ips", severity: "high", active: false, entries: [{ kind: "cidr", value: "203.0.113.0/24" }] }),
      );
      return `/v1/watchlists/${w.id}`;
    },
    change: { name: "wl-two", label: "worse", severity: "critical", active: true, entries: [{ kind: "domain", value: "evil.example" }, { kind: "account", value: "mallory" }] },
    follows: { label: ["tag"], entries: ["entry_count"] },
  },
  "PATCH /v1/rules/{id}": {
    create: async () => {
      const r = await created(
        s.admin("POST", "/v1/rules", {
          name: "r-one",
          enabled: false,
          filter: { field: "type", op: "eq", value: "deploy.failed" },
          threshold: { count: 3, window: 60, group_by: ["host"] },
          action: { kind: "alert", title: "{{host}} failing", severity: "high", dedup_window: 600 },
        }),
      );
      return `/v1/rules/${r.id}`;
    },
    change: {
      name: "r-two",
      enabled: true,
      filter: { field: "source", op: "eq", value: "ci" },
      threshold: { count: 5, window: 120 },
      action: { kind: "tag", tags: ["noisy"] },
    },
  },
  "PATCH /v1/heartbeats/{id}": {
    create: async () => {
      const h = await created(
        s.admin("POST", "/v1/heartbeats", {
          name: "hb-one",
          cron: "0 3 * * *",
          tz: "Europe/Berlin",
          grace: 120,
          max_runtime: 600,
          severity: "critical",
          filter: { field: "source", op: "eq", value: "nightly" },
        }),
      );
      return `/v1/heartbeats/${h.id}`;
    },
    change: {
      name: "hb-two",
      period: 3600,
      cron: "30 4 * * *",
      tz: "America/New_York",
      grace: 300,
      max_runtime: 900,
      severity: "medium",
      filter: { field: "source", op: "eq", value: "weekly" },
    },
    // period and cron are one schedule: setting one clears the other (and a cron without a tz is UTC)
    follows: { period: ["cron", "tz"], cron: ["period", "tz"] },
  },
  "PATCH /v1/enrichers/{id}": {
    create: async () => {
      const e = await created(
        s.admin("POST", "/v1/enrichers", {
          name: "e-one",
          indicator_types: ["ip", "domain"],
          url_template: "http://127.0.0.1:9/ip/{{value}}",
          headers: { "X-Key": "abc-secret-1" },
          timeout: 2,
          active: false,
        }),
      );
      return `/v1/enrichers/${e.id}`;
    },
    change: { name: "e-two", indicator_types: ["hash_sha256"], url_template: "http://127.0.0.1:9/v2/{{value}}", headers: { "X-Key": "def-secret-2" }, timeout: 3, active: true },
  },
  "PATCH /v1/indicator-mappings/{id}": {
    create: async () => {
      const m = await created(s.admin("POST", "/v1/indicator-mappings", { name: "m-one", source: "generic", path: "user.name", type: "account", active: false }));
      return `/v1/indicator-mappings/${m.id}`;
    },
    change: { name: "m-two", source: "alertmanager", path: "user.mail", type: "email", active: true },
  },
  "PATCH /v1/alerts/{id}": {
    create: async () => {
      const r = await s.post("/v1/ingest/generic", { title: "walk alert", severity: "high" });
      expect(r.status).toBe(202);
      const a = (await json(s.get("/v1/alerts?q=walk%20alert"))).items[0];
      const closed = await s.admin("PATCH", `/v1/alerts/${a.id}`, { status: "closed", classification: "true_positive", assignee: "alice" });
      expect(closed.status).toBe(200);
      return `/v1/alerts/${a.id}`;
    },
    // a closed alert: its classification can be corrected, and it can be reopened
    change: { classification: "benign_positive", assignee: "bob", status: "open" },
    follows: { status: ["closed_at", "classification"] },
    volatile: ["timeline"],
  },
  "PUT /v1/sources/{name}/settings": {
    create: async () => {
      await created(
        s.admin("PUT", "/v1/sources/grafana/settings", {
          scheme: "grafana",
          secret: "a-long-random-secret-1",
          header: "X-Sig",
          timestamp_header: "X-Ts",
          tolerance: 600,
        }),
      );
      return "/v1/sources/grafana/settings";
    },
    base: { scheme: "grafana" },
    change: { scheme: "grafana", secret: "another-long-secret-2", header: "X-Sig-2", timestamp_header: "X-Ts-2", tolerance: 120 },
  },
};

const resolve = (schema: any): any => (schema?.$ref ? resolve(doc.components.schemas[schema.$ref.split("/").pop()]) : schema);

function editRoutes(): { key: string; fields: string[] }[] {
  const out: { key: string; fields: string[] }[] = [];
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>))
    for (const [method, op] of Object.entries(ops)) {
      if (method !== "patch" && method !== "put") continue;
      const schema = resolve(op.requestBody?.content?.["application/json"]?.schema);
      out.push({ key: `${method.toUpperCase()} ${path}`, fields: Object.keys(schema?.properties ?? {}) });
    }
  return out;
}

test("the walk covers every PATCH and PUT route of /openapi.json and every field of their bodies", () => {
  const routes = editRoutes();
  expect(routes.length).toBeGreaterThanOrEqual(8);
  expect(routes.map((r) => r.key).sort()).toEqual(Object.keys(WALKS).sort());
  for (const r of routes) expect({ route: r.key, fields: r.fields.sort() }).toEqual({ route: r.key, fields: Object.keys(WALKS[r.key].change).sort() });
});

test("no request body schema fills in a value the body left out (Elysia applies a body schema's defaults before the handler)", () => {
  const found: string[] = [];
  // every object schema reachable from a body: filled with its defaults from {}, it must stay {}
  const walk = (schema: any, where: string, seen: Set<unknown>) => {
    if (!schema || typeof schema !== "object" || seen.has(schema)) return;
    seen.add(schema);
    if (schema.type === "object" && schema.properties) {
      const filled = Value.Default(schema, {}) as Record<string, unknown>;
      for (const k of Object.keys(filled)) found.push(`${where}/${k}`);
      for (const [k, v] of Object.entries(schema.properties)) walk(v, `${where}/${k}`, seen);
    }
    for (const k of ["anyOf", "oneOf", "allOf"]) (schema[k] ?? []).forEach((v: any) => walk(v, where, seen));
    if (schema.items) walk(schema.items, `${where}/[]`, seen);
    if (schema.additionalProperties && typeof schema.additionalProperties === "object") walk(schema.additionalProperties, `${where}/*`, seen);
    if (schema.patternProperties) for (const v of Object.values(schema.patternProperties)) walk(v, `${where}/*`, seen);
  };
  let bodies = 0;
  for (const rt of createApp(s.deps).routes) {
    const body = (rt.hooks as any)?.body;
    if (!body || typeof body !== "object") continue;
    bodies++;
    walk(body, `${rt.method} ${rt.path}`, new Set());
  }
  expect(bodies).toBeGreaterThan(15);
  expect(found.join("\n")).toBe("");
});

for (const [route, w] of Object.entries(WALKS)) {
  test(`${route}: each field alone (and {}) changes that field and nothing else`, async () => {
    const path = await w.create();
    const method = route.split(" ")[0];
    const ignore = new Set(["updated_at", ...(w.volatile ?? [])]);
    const read = async () => {
      const r = await s.admin("GET", path);
      expect(r.status).toBe(200);
      const v = (await r.json()) as Record<string, unknown>;
      for (const k of ignore) delete v[k];
      return v;
    };
    const first = await read();
    // every field was created with a value other than the one the walk will set
    for (const [f, value] of Object.entries(w.change)) if (f in first && !(w.base && f in w.base)) expect({ f, v: first[f] }).not.toEqual({ f, v: value });
    const bodies: [string | null, Record<string, unknown>][] = [[null, { ...(w.base ?? {}) }], ...Object.entries(w.change).map(([f, v]) => [f, { ...(w.base ?? {}), [f]: v }] as [string, Record<string, unknown>])];
    for (const [field, body] of bodies) {
      const before = await read();
      const r = await s.admin(method, path, body);
      // an empty edit may be refused as "nothing to change" (changing nothing, as the walk checks)
      const ok = r.status === 200 || (field === null && r.status === 422 && (await r.json() as any).error.code === "invalid_body");
      expect({ body, status: r.status, ok }).toEqual({ body, status: r.status, ok: true });
      const after = await read();
      const allowed = new Set(field === null || (w.base && field in w.base) ? [] : [field, ...(w.follows?.[field] ?? [])]);
      const changed = Object.keys({ ...before, ...after }).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
      expect({ body, changed: changed.filter((k) => !allowed.has(k)) }).toEqual({ body, changed: [] });
      // and the named field did change
      if (field !== null && !(w.base && field in w.base)) expect({ body, changed: changed.includes(field) || (w.follows?.[field] ?? []).some((k) => changed.includes(k)) }).toEqual({ body, changed: true });
    }
    // a second {} after all that still changes nothing
    const before = await read();
    expect([200, 422]).toContain((await s.admin(method, path, { ...(w.base ?? {}) })).status);
    expect(await read()).toEqual(before);
  });
}
