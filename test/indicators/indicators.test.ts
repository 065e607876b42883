// Indicators through real HTTP: the three passes (explicit, system, custom) merged and
// de-duplicated, invalid extracted values dropped, custom mapping CRUD and validation, the cache
// invalidated by every change, per-source vs global mappings, the dry run, and the pivot.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { json, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const SHA256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";

/** Sends one generic alert and returns its stored indicators (sorted, with origin). */
async function ingestGeneric(item: Record<string, unknown>, key?: string) {
  const r = await s.post("/v1/ingest/generic", item, key ? { key } : {});
  expect(r.status).toBe(202);
  const id = ((await r.json()) as any).ids[0] as string;
  const ev = await json(s.get(`/v1/events/${id}`));
  return { id, indicators: (ev.indicators as { type: string; value: string; origin: string }[]).sort((a, b) => (a.type + a.value).localeCompare(b.type + b.value)) };
}

const has = (list: { type: string; value: string; origin?: string }[], type: string, value: string, origin?: string) =>
  list.some((i) => i.type === type && i.value === value && (origin === undefined || i.origin === origin));

describe("passes on ingest", () => {
  test("explicit, system and custom passes merge; duplicates keep the first origin; invalid extracted values are dropped", async () => {
    const m = await s.admin("POST", "/v1/indicator-mappings", { name: "vendor addr", path: "vendor.peer.addr", type: "domain" });
    expect(m.status).toBe(201);
    const { indicators } = await ingestGeneric({
      title: "passes",
      host: "10.1.2.3",
      src_ip: "203.0.113.10",
      user: "jsmith",
      details: { dst_ip: "not-an-ip", file: { sha256: SHA256 }, email: "Bob@Example.COM" },
      "source.ip": "198.51.100.7",
      vendor: { peer: { addr: "Evil.Example.com" } },
      indicators: [{ type: "ip", value: "203.0.113.10" }],
    });
    expect(indicators).toEqual(
      [
        { type: "account", value: "jsmith", origin: "system" },
        { type: "domain", value: "evil.example.com", origin: "custom" },
        { type: "email", value: "bob@example.com", origin: "system" },
        { type: "hash_sha256", value: SHA256.toLowerCase(), origin: "system" },
        { type: "ip", value: "10.1.2.3", origin: "system" },
        { type: "ip", value: "198.51.100.7", origin: "system" },
        { type: "ip", value: "203.0.113.10", origin: "explicit" },
      ].sort((a, b) => (a.type + a.value).localeCompare(b.type + b.value)),
    );
    expect(indicators.some((i) => i.value.includes("not-an-ip"))).toBe(false);
    await s.admin("DELETE", `/v1/indicator-mappings/${((await m.json()) as any).id}`);
  });

  test("payload keys named like Object.prototype members are stored like any other (202)", async () => {
    const r = await s.post("/v1/ingest/generic", '{"title": "proto", "constructor": "x", "toString": "y", "valueOf": {"ip": "192.0.2.31"}}');
    expect(r.status).toBe(202);
    const ev = await json(s.get(`/v1/events/${((await r.json()) as any).ids[0]}`));
    expect(ev.indicators).toEqual([{ type: "ip", value: "192.0.2.31", origin: "system" }]);
  });

  test("an invalid explicit indicator is still a 422 and nothing is stored", async () => {
    const r = await s.post("/v1/ingest/generic", { title: "bad", indicators: [{ type: "ip", value: "999.1.1.1" }] });
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).error.details[0].path).toBe("/indicators/0/value");
  });

  test("system mappings apply to other sources too (alertmanager labels, the events envelope)", async () => {
    const r = await s.post("/api/v1/events", { type: "login.failed", source: "vpn", payload: { client_ip: "192.0.2.55", username: "alice" } });
    expect(r.status).toBe(202);
    const id = ((await r.json()) as any).ids[0];
    const ev = await json(s.get(`/v1/events/${id}`));
    expect(has(ev.indicators, "ip", "192.0.2.55", "system")).toBe(true);
    expect(has(ev.indicators, "account", "alice", "system")).toBe(true);
  });
});

describe("custom mappings", () => {
  test("a new mapping applies to the very next ingest; deactivating and deleting it apply at once too", async () => {
    const item = { title: "cache", x: { peer: "203.0.113.99" } };
    expect(has((await ingestGeneric(item)).indicators, "ip", "203.0.113.99")).toBe(false);
    const created = await json(s.admin("POST", "/v1/indicator-mappings", { path: "x.peer", type: "ip" }));
    expect(created).toMatchObject({ path: "x.peer", type: "ip", source: null, active: true, name: null });
    expect(has((await ingestGeneric(item)).indicators, "ip", "203.0.113.99", "custom")).toBe(true);
    const off = await s.admin("PATCH", `/v1/indicator-mappings/${created.id}`, { active: false });
    expect(off.status).toBe(200);
    expect(((await off.json()) as any).active).toBe(false);
    expect(has((await ingestGeneric(item)).indicators, "ip", "203.0.113.99")).toBe(false);
    await s.admin("PATCH", `/v1/indicator-mappings/${created.id}`, { active: true });
    expect(has((await ingestGeneric(item)).indicators, "ip", "203.0.113.99", "custom")).toBe(true);
    expect((await s.admin("DELETE", `/v1/indicator-mappings/${created.id}`)).status).toBe(204);
    expect(has((await ingestGeneric(item)).indicators, "ip", "203.0.113.99")).toBe(false);
    expect((await s.get(`/v1/indicator-mappings/${created.id}`)).status).toBe(404);
  });

  test("a change made outside this process's API (another process on the same file) is seen within a second", async () => {
    // written through another connection (another replica): its insert bumps the change counter,
    // and nothing invalidates this server's cache
    const other = await s.otherStore();
    const m = await other.indicators.createMapping({ tenantId: s.tenantId, name: null, source: null, path: "ext.peer", type: "ip", active: true }, Date.now());
    await Bun.sleep(1100);
    expect(has((await ingestGeneric({ title: "ext", ext: { peer: "192.0.2.77" } })).indicators, "ip", "192.0.2.77", "custom")).toBe(true);
    expect((await s.admin("DELETE", `/v1/indicator-mappings/${m.id}`)).status).toBe(204);
  });

  test("a per-source mapping applies only to its source; a global one to every source", async () => {
    const own = await json(s.admin("POST", "/v1/indicator-mappings", { source: "events", path: "payload.who", type: "account" }));
    const glob = await json(s.admin("POST", "/v1/indicator-mappings", { path: "payload.where", type: "domain" }));
    const g = await ingestGeneric({ title: "scoped", payload: { who: "carol", where: "db.example.org" } });
    expect(has(g.indicators, "account", "carol")).toBe(false);
    expect(has(g.indicators, "domain", "db.example.org", "custom")).toBe(true);
    const r = await s.post("/api/v1/events", { type: "x.y", source: "app", payload: { who: "carol", where: "db.example.org" } });
    const ev = await json(s.get(`/v1/events/${((await r.json()) as any).ids[0]}`));
    // the envelope's payload is the item's `payload`, but mappings look at the raw item
    expect(has(ev.indicators, "account", "carol", "custom")).toBe(true);
    expect(has(ev.indicators, "domain", "db.example.org", "custom")).toBe(true);
    await s.admin("DELETE", `/v1/indicator-mappings/${own.id}`);
    await s.admin("DELETE", `/v1/indicator-mappings/${glob.id}`);
  });

  test("array paths: key[] and * take every element; an index takes one; flat dotted keys are found", async () => {
    const ids: string[] = [];
    for (const b of [
      { path: "hits[].addr", type: "ip" },
      { path: "peers.*.node", type: "domain" },
      { path: "list.1", type: "account" },
      { path: "kibana.alert.rule.name", type: "account" },
    ])
      ids.push((await json(s.admin("POST", "/v1/indicator-mappings", b))).id);
    const { indicators } = await ingestGeneric({
      title: "arrays",
      hits: [{ addr: "192.0.2.1" }, { addr: "192.0.2.2" }, { addr: "bogus" }],
      peers: { a: { node: "a.example.net" }, b: { node: "b.example.net" } },
      list: ["first", "second"],
      "kibana.alert.rule.name": "rule-owner",
    });
    for (const [t, v] of [
      ["ip", "192.0.2.1"],
      ["ip", "192.0.2.2"],
      ["domain", "a.example.net"],
      ["domain", "b.example.net"],
      ["account", "second"],
      ["account", "rule-owner"],
    ])
      expect(has(indicators, t, v, "custom")).toBe(true);
    expect(has(indicators, "account", "first")).toBe(false);
    for (const id of ids) await s.admin("DELETE", `/v1/indicator-mappings/${id}`);
  });

  test("list and get need read; changes need admin", async () => {
    const m = await json(s.admin("POST", "/v1/indicator-mappings", { name: "n", path: "a.b", type: "email", source: "generic" }));
    const list = await json(s.get("/v1/indicator-mappings"));
    expect(list.items.map((i: any) => i.id)).toContain(m.id);
    expect((await s.get(`/v1/indicator-mappings/${m.id}`)).status).toBe(200);
    expect((await s.get("/v1/indicator-mappings", s.keys.ingest)).status).toBe(403);
    expect((await s.get("/v1/indicator-mappings", null)).status).toBe(401);
    const byRead = await s.post("/v1/indicator-mappings", { path: "a", type: "ip" }, { key: s.keys.read });
    expect(byRead.status).toBe(403);
    const patchByRead = await fetch(`${s.url}/v1/indicator-mappings/${m.id}`, {
      method: "PATCH",
      headers: { "x-api-key": s.keys.read, "content-type": "application/json" },
      body: JSON.stringify({ active: false }),
    });
    expect(patchByRead.status).toBe(403);
    expect((await json(s.get(`/v1/indicator-mappings/${m.id}`))).active).toBe(true);
    await s.admin("DELETE", `/v1/indicator-mappings/${m.id}`);
  });

  test("bad bodies are 422s pointing at the field, and change nothing", async () => {
    const before = (await json(s.get("/v1/indicator-mappings"))).items.length;
    const cases: [unknown, string, RegExp][] = [
      [{ path: "a.b", type: "ipv9" }, "/type", /one of/],
      [{ path: "a.b", type: "ip", source: "nosuch" }, "/source", /known sources: .*generic/],
      [{ path: "a..b", type: "ip" }, "/path", /segment/],
      [{ path: "", type: "ip" }, "/path", /path/],
      [{ type: "ip" }, "/path", /./],
      [{ path: "a", type: "ip", color: "red" }, "/color", /./],
      [{ path: "a", type: "ip", active: "yes" }, "/active", /./],
    ];
    for (const [body, path, msg] of cases) {
      const r = await s.admin("POST", "/v1/indicator-mappings", body);
      expect(r.status).toBe(422);
      const e = ((await r.json()) as any).error;
      const d = e.details.find((x: any) => x.path === path);
      expect(d).toBeDefined();
      expect(d.message + " " + e.message).toMatch(msg);
    }
    const m = await json(s.admin("POST", "/v1/indicator-mappings", { path: "ok", type: "ip" }));
    const bad = await s.admin("PATCH", `/v1/indicator-mappings/${m.id}`, { source: "nosuch" });
    expect(bad.status).toBe(422);
    expect((await s.admin("PATCH", `/v1/indicator-mappings/${m.id}`, {})).status).toBe(422);
    expect((await json(s.get(`/v1/indicator-mappings/${m.id}`))).source).toBe(null);
    expect((await json(s.admin("PATCH", `/v1/indicator-mappings/${m.id}`, { source: "grafana", name: "g" })))).toMatchObject({ source: "grafana", name: "g" });
    expect((await json(s.admin("PATCH", `/v1/indicator-mappings/${m.id}`, { source: null })))).toMatchObject({ source: null, name: "g" });
    expect((await s.admin("PATCH", `/v1/indicator-mappings/${m.id}`, { path: "a b[" })).status).toBe(422);
    expect((await s.admin("PATCH", "/v1/indicator-mappings/01JXXXXXXXXXXXXXXXXXXXXXXX", { active: false })).status).toBe(404);
    await s.admin("DELETE", `/v1/indicator-mappings/${m.id}`);
    expect((await json(s.get("/v1/indicator-mappings"))).items.length).toBe(before);
  });
});

describe("POST /v1/indicator-mappings/test", () => {
  test("shows what each pass found, the merged list, and what was dropped with the reason; stores nothing", async () => {
    const saved = await json(s.admin("POST", "/v1/indicator-mappings", { path: "peer.ip", type: "ip", source: "generic" }));
    const r = await s.post(
      "/v1/indicator-mappings/test",
      {
        source: "generic",
        payload: { title: "t", host: "web.example.com", dst_ip: "300.1.1.1", peer: { ip: "192.0.2.9" }, extra: { who: "dave" }, indicators: [{ type: "domain", value: "WEB.example.com" }] },
        mapping: { path: "extra.who", type: "account" },
      },
      { key: s.keys.read },
    );
    expect(r.status).toBe(200);
    const b = (await r.json()) as any;
    expect(b.events.length).toBe(1);
    const e = b.events[0];
    expect(e.explicit).toEqual([{ type: "domain", value: "web.example.com", path: "indicators" }]);
    expect(has(e.system, "domain", "web.example.com")).toBe(true);
    expect(has(e.custom, "ip", "192.0.2.9")).toBe(true);
    expect(has(e.custom, "account", "dave")).toBe(true);
    expect(e.dropped).toEqual([{ origin: "system", path: "dst_ip", type: "ip", value: "300.1.1.1", reason: expect.stringContaining("not an IPv4 or IPv6") }]);
    // merged: the domain once, with the first origin
    expect(e.indicators.filter((i: any) => i.value === "web.example.com")).toEqual([{ type: "domain", value: "web.example.com", origin: "explicit" }]);
    expect(b.mappings_applied.map((m: any) => m.path).sort()).toEqual(["extra.who", "peer.ip"]);
    // nothing stored: the unsaved mapping is not listed
    expect((await json(s.get("/v1/indicator-mappings"))).items.map((m: any) => m.path)).toEqual(["peer.ip"]);
    await s.admin("DELETE", `/v1/indicator-mappings/${saved.id}`);
  });

  test("one result per event for sources that expand (alertmanager)", async () => {
    const payload = {
      version: "4",
      status: "firing",
      receiver: "kw",
      groupLabels: {},
      commonLabels: {},
      commonAnnotations: {},
      externalURL: "http://am",
      groupKey: "g",
      alerts: [
        { status: "firing", labels: { alertname: "A", instance: "10.0.0.1:9100", src_ip: "10.0.0.5" }, annotations: {}, startsAt: "2025-01-01T00:00:00Z", fingerprint: "f1" },
        { status: "firing", labels: { alertname: "B", hostname: "b.example.com" }, annotations: {}, startsAt: "2025-01-01T00:00:00Z", fingerprint: "f2" },
      ],
    };
    const b = await json(s.post("/v1/indicator-mappings/test", { source: "alertmanager", payload }, { key: s.keys.read }));
    expect(b.events.length).toBe(2);
    expect(has(b.events[0].indicators, "ip", "10.0.0.5", "system")).toBe(true);
    // the host is labels.instance without its port
    expect(has(b.events[0].indicators, "ip", "10.0.0.1", "system")).toBe(true);
    expect(has(b.events[1].indicators, "domain", "b.example.com", "system")).toBe(true);
  });

  test("bad requests: unknown source, invalid payload, bad unsaved mapping", async () => {
    const r1 = await s.post("/v1/indicator-mappings/test", { source: "nosuch", payload: {} }, { key: s.keys.read });
    expect(r1.status).toBe(422);
    expect(((await r1.json()) as any).error.message).toContain("known sources");
    const r2 = await s.post("/v1/indicator-mappings/test", { source: "generic", payload: { severity: "High" } }, { key: s.keys.read });
    expect(r2.status).toBe(422);
    expect(((await r2.json()) as any).error.details[0].path).toBe("/payload/title");
    const r3 = await s.post("/v1/indicator-mappings/test", { source: "generic", payload: { title: "x" }, mapping: { path: "a[", type: "ip" } }, { key: s.keys.read });
    expect(r3.status).toBe(422);
    expect(((await r3.json()) as any).error.details[0].path).toBe("/mapping/path");
    expect((await s.post("/v1/indicator-mappings/test", { source: "generic", payload: { title: "x" } }, { key: s.keys.ingest })).status).toBe(403);
  });
});

describe("GET /v1/indicators/:type/:value", () => {
  test("events paged newest first, the alerts linked to them, canonical value, tenant isolation", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await ingestGeneric({ title: `pivot ${i}`, event_id: `pv-${i}`, hostname: "Pivot.Example.COM" })).id);
    // an event of another tenant carrying the same value
    const t2 = await s.deps.store.tenants.createTenant("t2-pivot");
    const k2 = (await s.deps.store.keys.createKey({ tenantId: t2.id, name: "t2", scopes: ["admin"] })).key;
    expect((await s.post("/v1/ingest/generic", { title: "other tenant", hostname: "pivot.example.com" }, { key: k2 })).status).toBe(202);

    const p1 = await json(s.get("/v1/indicators/domain/PIVOT.example.com.?limit=2"));
    expect(p1.type).toBe("domain");
    expect(p1.value).toBe("pivot.example.com");
    expect(p1.events.map((e: any) => e.id)).toEqual([ids[2], ids[1]]);
    expect(p1.events[0]).toMatchObject({ source_name: "generic", title: "pivot 2", origin: "system" });
    expect(p1.next_cursor).toBe(ids[1]);
    const p2 = await json(s.get(`/v1/indicators/domain/pivot.example.com?limit=2&cursor=${p1.next_cursor}`));
    expect(p2.events.map((e: any) => e.id)).toEqual([ids[0]]);
    expect(p2.next_cursor).toBe(null);
    // generic items each open an alert linked to their event
    expect(p1.alerts.length).toBe(3);
    expect(p1.alerts.map((a: any) => a.title).sort()).toEqual(["pivot 0", "pivot 1", "pivot 2"]);

    const other = await json(s.get("/v1/indicators/domain/pivot.example.com", k2));
    expect(other.events.length).toBe(1);
    expect(other.events[0].title).toBe("other tenant");
    expect(other.alerts.map((a: any) => a.title)).toEqual(["other tenant"]);
  });

  test("a URL value (percent-encoded) and a hash in upper case find their events", async () => {
    const url = "https://evil.example.com/a/b?x=1";
    const { id } = await ingestGeneric({ title: "url", indicators: [{ type: "url", value: url }, { type: "hash_sha256", value: SHA256 }] });
    const u = await json(s.get(`/v1/indicators/url/${encodeURIComponent(url)}`));
    expect(u.events.map((e: any) => e.id)).toContain(id);
    const h = await json(s.get(`/v1/indicators/hash_sha256/${SHA256}`));
    expect(h.value).toBe(SHA256.toLowerCase());
    expect(h.events.map((e: any) => e.id)).toContain(id);
    expect(h.events.find((e: any) => e.id === id).origin).toBe("explicit");
  });

  test("invalid type or value is a 422; an unknown value is an empty result; scopes", async () => {
    const r1 = await s.get("/v1/indicators/ipv9/1.2.3.4");
    expect(r1.status).toBe(422);
    expect(((await r1.json()) as any).error.message).toContain("hash_sha256");
    const r2 = await s.get("/v1/indicators/ip/1.2.3.400");
    expect(r2.status).toBe(422);
    expect(((await r2.json()) as any).error.details[0].path).toBe("/value");
    expect((await s.get("/v1/indicators/hash_md5/abc")).status).toBe(422);
    expect((await s.get("/v1/indicators/ip/1.2.3.4?cursor=nope")).status).toBe(422);
    const none = await json(s.get("/v1/indicators/ip/192.0.2.254"));
    expect(none).toMatchObject({ events: [], alerts: [], next_cursor: null });
    expect((await s.get("/v1/indicators/ip/192.0.2.254", s.keys.ingest)).status).toBe(403);
    expect((await s.get("/v1/indicators/ip/192.0.2.254", null)).status).toBe(401);
  });
});
