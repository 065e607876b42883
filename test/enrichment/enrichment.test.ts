// Alert enrichment end to end: real HTTP, a real SQLite file, real lookup receivers on 127.0.0.1.
// A new alert is `pending`, the enrichment job (its own queue) classifies its IPs, checks the
// tenant's watchlists (tags, severity raise) and calls the HTTP lookup enrichers, then sets
// `enriched`, or `failed` with the reason after its retries. Ingest never waits for any of it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers";
import { startReceiver, until, type Receiver } from "../webhooks/receiver";

let s: TestServer;
let intel: Receiver;
let broken: Receiver;
let hanging: Receiver;
let hooks: Receiver;
let gate: () => void;
const gated = new Promise<void>((r) => (gate = r));

beforeAll(async () => {
  // Two attempts, 50 ms apart (then 100 ms): the failure paths finish quickly.
  s = await startTestServer({ outboundAllow: "127.0.0.0/8", enrichAttempts: 2, enrichBackoff: 0.05 });
  intel = startReceiver(async (_n, req) => {
    await gated; // held until the test has seen the alert pending
    const u = new URL(req.url);
    return Response.json({ verdict: "malicious", path: u.pathname, method: req.method });
  });
  broken = startReceiver(() => new Response("upstream exploded", { status: 500 }));
  hanging = startReceiver(async () => {
    await Bun.sleep(8_000);
    return new Response("too late");
  });
  hooks = startReceiver();
});
afterAll(async () => {
  gate();
  await s.close();
  for (const r of [intel, broken, hanging, hooks]) r.stop();
});

const HASH = "d41d8cd98f00b204e9800998ecf8427e";
const alertOf = async (ids: string[]) => {
  const list = (await (await s.get(`/v1/alerts?limit=500`)).json()) as any;
  const details = await Promise.all(list.items.map(async (a: any) => (await s.get(`/v1/alerts/${a.id}`)).json() as Promise<any>));
  return details.find((d: any) => d.events.some((e: any) => ids.includes(e.id)));
};
const detail = async (id: string) => (await (await s.get(`/v1/alerts/${id}`)).json()) as any;
const settled = (id: string, status: string, ms = 15_000) =>
  until(async () => {
    const d = await detail(id);
    return d.enrichment_status === status ? d : null;
  }, ms, `alert ${id} ${status}`);
const ingest = async (item: unknown) => {
  const r = await s.post("/v1/ingest/generic", item);
  expect(r.status).toBe(202);
  const ids = (((await r.json()) as any) as any).ids as string[];
  const a = await alertOf(ids);
  expect(a).toBeTruthy();
  return a;
};
const byValue = (d: any, value: string) => d.enrichment.find((e: any) => e.value === value);
const req = (method: string, path: string, key: string) => fetch(s.url + path, { method, headers: { "x-api-key": key } });

describe("enrichment of new alerts", () => {
  test("pending → enriched: IP classes, watchlist hits (tags, severity raise), HTTP lookups; an alert.updated goes out", async () => {
    expect((await s.admin("POST", "/v1/webhooks", { url: hooks.url, triggers: ["alert.*"], rate_limit: 0 })).status).toBe(201);
    const w1 = await s.admin("POST", "/v1/watchlists", { name: "bad nets", label: "bad-net", severity: "critical", entries: [{ kind: "cidr", value: "203.0.113.0/24" }] });
    expect(w1.status).toBe(201);
    const w2 = await s.admin("POST", "/v1/watchlists", {
      name: "iocs",
      label: "ioc",
      entries: [
        { kind: "domain", value: "evil.example" },
        { kind: "hash", value: HASH.toUpperCase() },
        { kind: "account", value: "jsmith@company.com", comment: "left in May" },
      ],
    });
    expect(w2.status).toBe(201);
    const e = await s.admin("POST", "/v1/enrichers", {
      name: "intel",
      indicator_types: ["ip"],
      url_template: `${intel.url.replace("/hook", "")}/ip/{{value}}?t={{type}}`,
      headers: { "X-Intel-Key": "k1" },
      timeout: 5,
    });
    expect(e.status).toBe(201);

    const a = await ingest({
      title: "Beacon to C2",
      severity: "Medium",
      source: "edr",
      indicators: [
        { type: "ip", value: "203.0.113.7" },
        { type: "ip", value: "10.0.0.42" },
        { type: "ip", value: "2001:db8::1" },
        { type: "domain", value: "c2.evil.example" },
        { type: "hash_md5", value: HASH },
        { type: "account", value: "JSmith@company.com" },
      ],
    });
    // The lookups are held: the alert is pending, with nothing enriched yet.
    await intel.waitFor(1);
    let d = await detail(a.id);
    expect(d.enrichment_status).toBe("pending");
    expect(d.enrichment).toEqual([]);
    expect(d.severity).toBe("medium");
    gate();
    d = await settled(a.id, "enriched");
    expect(d.enrichment_error).toBeNull();
    expect(d.severity).toBe("critical");
    expect(d.tags).toContain("watchlist:bad-net");
    expect(d.tags).toContain("watchlist:ioc");
    expect(d.enrichment.length).toBe(6);

    const doc = byValue(d, "203.0.113.7").results;
    expect(doc.ip_class).toMatchObject({ version: 4, class: "documentation", range: "203.0.113.0/24" });
    expect(doc.watchlists).toEqual([{ watchlist_id: ((await w1.json()) as any).id, name: "bad nets", label: "bad-net", severity: "critical", kind: "cidr", entry: "203.0.113.0/24" }]);
    expect(doc.lookups.length).toBe(1);
    expect(doc.lookups[0]).toMatchObject({ enricher: "intel", status: 200, body_format: "json", error: null });
    expect(doc.lookups[0].body).toEqual({ verdict: "malicious", path: "/ip/203.0.113.7", method: "GET" });
    expect(byValue(d, "10.0.0.42").results.ip_class.class).toBe("private");
    expect(byValue(d, "10.0.0.42").results.watchlists).toBeUndefined();
    const v6 = byValue(d, "2001:db8::1").results;
    expect(v6.ip_class).toMatchObject({ version: 6, class: "documentation" });
    expect(v6.lookups[0].body.path).toBe("/ip/2001%3Adb8%3A%3A1"); // URL-encoded value
    expect(byValue(d, "c2.evil.example").results.watchlists[0]).toMatchObject({ label: "ioc", kind: "domain", entry: "evil.example" });
    expect(byValue(d, HASH).results.watchlists[0]).toMatchObject({ label: "ioc", kind: "hash" });
    expect(byValue(d, "JSmith@company.com").results.watchlists[0]).toMatchObject({ label: "ioc", kind: "account" });
    expect(byValue(d, "c2.evil.example").results.lookups).toBeUndefined(); // the enricher takes IPs only

    // the lookup requests: GET, the tenant's header, one per IP
    expect(intel.got.length).toBe(3);
    for (const g of intel.got) expect(g.headers["x-intel-key"]).toBe("k1");
    const tl = d.timeline.find((t: any) => t.kind === "enriched");
    expect(tl.actor).toBe("system");
    expect(tl.data).toMatchObject({ indicators: 6, lookups: 3, severity: { from: "medium", to: "critical" } });
    expect(tl.data.watchlist_hits.sort()).toEqual(["bad-net", "ioc"]);
    // the change went out as alert.updated (after alert.opened, which said pending)
    const got = await until(() => hooks.got.find((g) => g.json?.type === "alert.updated" && g.json.data.id === a.id), 10_000, "alert.updated");
    expect(got.json.data).toMatchObject({ severity: "critical", enrichment_status: "enriched" });
    const opened = hooks.got.find((g) => g.json?.type === "alert.opened" && g.json.data.id === a.id)!;
    expect(opened.json.data.enrichment_status).toBe("pending");
  });

  test("every opener enqueues enrichment: a match rule's alert (its events' indicators) and a heartbeat's", async () => {
    const rule = await s.admin("POST", "/v1/rules", {
      name: "suspicious logins",
      filter: { field: "type", op: "eq", value: "login.suspicious" },
      action: { kind: "alert", title: "suspicious login by {{payload.user}}", severity: "low" },
    });
    expect(rule.status).toBe(201);
    const wl = await s.admin("POST", "/v1/watchlists", { name: "vpn abusers", severity: "high", label: "vpn-abuse", entries: [{ kind: "cidr", value: "198.51.100.0/24" }] });
    expect(wl.status).toBe(201);
    const r = await s.post("/api/v1/events", { type: "login.suspicious", source: "vpn", payload: { user: "bob" }, indicators: [{ type: "ip", value: "198.51.100.99" }] });
    expect(r.status).toBe(202);
    const a = await alertOf(((await r.json()) as any).ids);
    expect(a.rule_id).toBe(((await rule.json()) as any).id);
    const d = await settled(a.id, "enriched");
    expect(d.severity).toBe("high"); // raised from low by the watchlist
    expect(d.tags).toContain("watchlist:vpn-abuse");
    expect(byValue(d, "198.51.100.99").results.ip_class.class).toBe("documentation");

    // a heartbeat that goes down opens its alert on the scheduler's thread
    const hb = await s.admin("POST", "/v1/heartbeats", { name: "enrich-me", period: 1, grace: 1 });
    expect(hb.status).toBe(201);
    expect((await fetch(((await hb.json()) as any).ping_url)).status).toBe(200); // up; down 2 s later
    const down = await until(async () => {
      const list = (await (await s.get("/v1/alerts?source_name=heartbeat")).json()) as any;
      return list.items.find((x: any) => x.source === "enrich-me");
    }, 15_000, "heartbeat alert");
    await settled(down.id, "enriched");
  }, 30_000);

  test("a watchlist hit never lowers the severity; an alert without indicators is enriched too", async () => {
    const w = await s.admin("POST", "/v1/watchlists", { name: "service accounts", label: "svc", severity: "low", entries: [{ kind: "account", value: "svc-backup" }] });
    expect(w.status).toBe(201);
    const a = await ingest({ title: "svc-backup logged in from abroad", severity: "Critical", source: "idp", indicators: [{ type: "account", value: "svc-backup" }] });
    const d = await settled(a.id, "enriched");
    expect(d.severity).toBe("critical");
    expect(d.tags).toContain("watchlist:svc");
    expect(d.timeline.find((t: any) => t.kind === "enriched").data.severity).toBeUndefined();

    const bare = await ingest({ title: "no indicators at all", source: "idp" });
    const b = await settled(bare.id, "enriched");
    expect(b.enrichment).toEqual([]);
    expect(b.timeline.find((t: any) => t.kind === "enriched").data.indicators).toBe(0);
  });

  test("an enricher answering 500 leaves the alert failed after its retries, with what was learned", async () => {
    const e = await s.admin("POST", "/v1/enrichers", { name: "broken", indicator_types: ["domain"], url_template: `${broken.url}?d={{value}}` });
    expect(e.status).toBe(201);
    try {
      const a = await ingest({ title: "Phish", severity: "Low", source: "mail", indicators: [{ type: "domain", value: "login.evil.example" }] });
      const d = await settled(a.id, "failed");
      expect(d.enrichment_error).toContain("broken (domain login.evil.example): HTTP 500");
      expect(d.enrichment_error).toContain("after 2 attempts");
      expect(broken.got.length).toBe(2); // enrichAttempts = 2
      expect(broken.got[1].at - broken.got[0].at).toBeGreaterThanOrEqual(35); // backoff 50 ms ± 20 % jitter
      const r = byValue(d, "login.evil.example").results;
      expect(r.lookups[0]).toMatchObject({ enricher: "broken", status: 500, body: "upstream exploded", body_format: "text", error: "HTTP 500" });
      expect(r.watchlists[0].label).toBe("ioc"); // the offline results still count
      expect(d.tags).toContain("watchlist:ioc");
      const tl = d.timeline.find((t: any) => t.kind === "enrichment_failed");
      expect(tl.data.error).toBe(d.enrichment_error);

      // fixed upstream: run it again by hand; while it is pending a second request is a 409
      broken.answer = () => Response.json({ ok: true });
      const again = await req("POST", `/v1/alerts/${a.id}/enrich`, s.keys.admin);
      expect(again.status).toBe(202);
      expect((await again.json()) as any).toEqual({ id: a.id, enrichment_status: "pending" });
      const d2 = await settled(a.id, "enriched");
      expect(d2.enrichment_error).toBeNull();
      expect(byValue(d2, "login.evil.example").results.lookups[0]).toMatchObject({ status: 200, body: { ok: true } });
      expect(d2.timeline.map((t: any) => t.kind).slice(-2)).toEqual(["enrichment_requested", "enriched"]);
      expect((await req("POST", `/v1/alerts/${a.id}/enrich`, s.keys.read)).status).toBe(403);
      expect((await req("POST", `/v1/alerts/nope/enrich`, s.keys.admin)).status).toBe(404);
    } finally {
      expect((await s.admin("DELETE", `/v1/enrichers/${((await e.json()) as any).id}`)).status).toBe(204);
    }
  });

  test("a lookup that hangs: ingest keeps answering 202 meanwhile, the alert fails after its timeouts", async () => {
    const e = await s.admin("POST", "/v1/enrichers", { name: "slow", indicator_types: ["url"], url_template: `${hanging.url}/{{value}}`, timeout: 1.5 });
    expect(e.status).toBe(201);
    try {
      const a = await ingest({ title: "Drive-by", source: "proxy", indicators: [{ type: "url", value: "https://cdn.example.org/x.js" }] });
      await hanging.waitFor(1);
      // While the lookup hangs, events keep being accepted, each promptly.
      const times: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        const r = await s.post("/api/v1/events", { type: "test.tick", source: "ticker", summary: `tick ${i}` });
        times.push(performance.now() - t0);
        expect(r.status).toBe(202);
      }
      expect(Math.max(...times)).toBeLessThan(1_000);
      expect((await detail(a.id)).enrichment_status).toBe("pending"); // ...and all that while the lookup was still out
      expect((await req("POST", `/v1/alerts/${a.id}/enrich`, s.keys.admin)).status).toBe(409); // a job is on it
      const d = await settled(a.id, "failed", 20_000);
      expect(d.enrichment_error).toContain("slow (url https://cdn.example.org/x.js): timed out after 1500 ms");
      expect(d.enrichment_error).toContain("after 2 attempts");
      expect(hanging.got.length).toBe(2);
      expect(hanging.got[0].body).toBe(""); // a GET
    } finally {
      await s.admin("DELETE", `/v1/enrichers/${((await e.json()) as any).id}`);
    }
  });
});

describe("outbound target safety", () => {
  let s2: TestServer;
  beforeAll(async () => {
    s2 = await startTestServer({ enrichAttempts: 3, enrichBackoff: 0.05 }); // no KEEPWATCH_OUTBOUND_ALLOW
  });
  afterAll(() => s2.close());

  test("a loopback IP is refused when the enricher is made; a name resolving to it fails the alert at once, with the reason", async () => {
    const bad = await s2.admin("POST", "/v1/enrichers", { name: "lo", indicator_types: ["ip"], url_template: "http://127.0.0.1:9/{{value}}" });
    expect(bad.status).toBe(422);
    const body = ((await bad.json()) as any) as any;
    expect(body.error.details[0].path).toBe("/url_template");
    expect(body.error.message).toContain("loopback");
    const meta = await s2.admin("POST", "/v1/enrichers", { name: "md", indicator_types: ["ip"], url_template: "http://169.254.169.254/latest/{{value}}" });
    expect(meta.status).toBe(422);
    expect((((await meta.json()) as any) as any).error.message).toContain("link-local");

    expect((await s2.admin("POST", "/v1/enrichers", { name: "named", indicator_types: ["ip"], url_template: "http://localhost:9/ip/{{value}}" })).status).toBe(201);
    const r = await s2.post("/v1/ingest/generic", { title: "x", source: "s", indicators: [{ type: "ip", value: "8.8.8.8" }] });
    expect(r.status).toBe(202);
    const list = (await (await s2.get("/v1/alerts")).json()) as any;
    const id = list.items[0].id;
    const d = await until(async () => {
      const x = (await (await s2.get(`/v1/alerts/${id}`)).json()) as any;
      return x.enrichment_status === "failed" ? x : null;
    }, 10_000, "failed");
    expect(d.enrichment_error).toContain("refused");
    expect(d.enrichment_error).toContain("KEEPWATCH_OUTBOUND_ALLOW");
    expect(d.enrichment_error).not.toContain("attempts"); // not retried: refused stays refused
    expect(d.enrichment[0].results.ip_class.class).toBe("public");
    const job = (await s2.sql("SELECT state, attempt FROM jobs WHERE queue = 'enrichment'"))[0] as any;
    expect(job).toEqual({ state: "failed", attempt: 1 });
  });
});
