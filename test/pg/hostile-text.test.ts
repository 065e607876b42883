// Hostile text on both stores at once (DESIGN.md "Hostile input", src/core/text.ts): a SQLite
// server and a PostgreSQL server side by side get the same requests, every string (value and
// object key) of every JSON route that stores text replaced in turn by a NUL, an unpaired high or
// low surrogate, U+FFFE and a 70,000-character string; the ingest routes likewise over a vendor
// fixture of every source; pings with such bodies; query strings and ids with %00. Holds when: no
// answer is a 5xx, both stores answer the same status, configuration text with a NUL or an unpaired
// surrogate is a 422 naming its field, event and ping text is stored with U+FFFD in its place, and
// what was accepted reads back the same from both stores. Its own PostgreSQL (the shared cluster of
// the test process), so it runs in the first pass of `make test`, whatever KEEPWATCH_TEST_STORE says.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { event, FIXTURE_ROUTES, startTestServer, type TestServer } from "../helpers";
import { clonedDatabase } from "./cluster";
import { isUnstorable } from "../../src/core/text";
import { startReceiver, until } from "../webhooks/receiver";

const NUL = "a\u0000b";
const HIGH = "x\ud83dy";
const LOW = "\udfffz";
const NONCHAR = "a\ufffeb";
const LONG = "y".repeat(70_000);
/** what PostgreSQL cannot store: refused in configuration, U+FFFD in event text */
const UNSTORABLE = [NUL, HIGH, LOW];
const HOSTILE = [...UNSTORABLE, NONCHAR, LONG];

type Side = { s: TestServer; ids: Record<string, string>; pingToken: string };
let sq: Side;
let pg: Side;
let pgDb: { url: string; drop(): Promise<void> };

const RULE = { name: "hostile rule", filter: { all: [{ field: "type", op: "eq", value: "deploy.failed" }, { field: "payload.env", op: "in", value: ["prod"] }] }, action: { kind: "alert", title: "{{payload.service}} failed", severity: "high", fingerprint: ["payload.service"] }, threshold: { count: 2, window: 60, group_by: ["payload.service"] } };
const HEARTBEAT = { name: "hostile hb", period: 3600, grace: 60, severity: "high", filter: { all: [{ field: "source", op: "eq", value: "cron" }] } };
const WEBHOOK = { url: "http://127.0.0.1:9/hook", name: "hostile", state: "inactive", headers: { "X-Team": "blue" }, triggers: ["alert.*"], filters: { min_severity: "low", sources: ["s"], tags: ["t"] } };
const WATCHLIST = { name: "hostile wl", label: "lbl", severity: "high", active: true, entries: [{ kind: "domain", value: "evil.example", comment: "c" }] };
const MAPPING = { name: "hostile map", source: "generic", path: "details.addr", type: "ip", active: true };
const ENRICHER = { name: "hostile enricher", indicator_types: ["ip"], url_template: "http://127.0.0.1:9/lookup/{{value}}", headers: { "X-Key": "k" }, timeout: 2, active: false };
const KEY = { name: "hostile key", scopes: ["ingest"], sources: ["generic"] };
const SETTINGS = { scheme: "shared-secret", secret: "s3cr3t-value-long-enough", header: "X-Secret" };

/** A JSON route that stores text, and where what it stored is read back (null: it stores nothing). */
type Target = { method: string; path: (x: Side) => string; base: unknown; read: ((x: Side, answer: any) => string) | null; after?: (x: Side) => Promise<void> };
const TARGETS: Target[] = [
  { method: "PATCH", path: (x) => `/v1/alerts/${x.ids.alert}`, base: { status: "triaging", assignee: "ops" }, read: (x) => `/v1/alerts/${x.ids.alert}` },
  { method: "POST", path: (x) => `/v1/alerts/${x.ids.alert}/comments`, base: { body: "looked at it" }, read: (x) => `/v1/alerts/${x.ids.alert}` },
  { method: "POST", path: () => "/v1/heartbeats", base: HEARTBEAT, read: (_x, a) => `/v1/heartbeats/${a.id}` },
  { method: "PATCH", path: (x) => `/v1/heartbeats/${x.ids.heartbeat}`, base: HEARTBEAT, read: (x) => `/v1/heartbeats/${x.ids.heartbeat}` },
  { method: "POST", path: () => "/v1/rules", base: RULE, read: (_x, a) => `/v1/rules/${a.id}` },
  { method: "PATCH", path: (x) => `/v1/rules/${x.ids.rule}`, base: RULE, read: (x) => `/v1/rules/${x.ids.rule}` },
  { method: "POST", path: () => "/v1/rules/test", base: { rule: RULE, event: event(1, { type: "deploy.failed", payload: { env: "prod", service: "api" } }) }, read: null },
  {
    method: "PUT",
    path: () => "/v1/sources/generic/settings",
    base: SETTINGS,
    read: () => "/v1/sources/generic/settings",
    // unsigned ingests stay possible
    after: async (x) => void (await x.s.admin("DELETE", "/v1/sources/generic/settings")).arrayBuffer(),
  },
  { method: "POST", path: () => "/v1/sources/generic/tokens", base: { name: "hostile token" }, read: () => "/v1/sources/generic/tokens" },
  { method: "POST", path: () => "/v1/webhooks", base: WEBHOOK, read: (_x, a) => `/v1/webhooks/${a.id}` },
  { method: "PATCH", path: (x) => `/v1/webhooks/${x.ids.webhook}`, base: WEBHOOK, read: (x) => `/v1/webhooks/${x.ids.webhook}/headers` },
  { method: "POST", path: () => "/v1/watchlists", base: WATCHLIST, read: (_x, a) => `/v1/watchlists/${a.id}` },
  { method: "PATCH", path: (x) => `/v1/watchlists/${x.ids.watchlist}`, base: WATCHLIST, read: (x) => `/v1/watchlists/${x.ids.watchlist}` },
  { method: "POST", path: () => "/v1/enrichers", base: ENRICHER, read: (_x, a) => `/v1/enrichers/${a.id}` },
  { method: "PATCH", path: (x) => `/v1/enrichers/${x.ids.enricher}`, base: ENRICHER, read: (x) => `/v1/enrichers/${x.ids.enricher}` },
  { method: "POST", path: () => "/v1/indicator-mappings", base: MAPPING, read: (_x, a) => `/v1/indicator-mappings/${a.id}` },
  { method: "PATCH", path: (x) => `/v1/indicator-mappings/${x.ids.mapping}`, base: MAPPING, read: (x) => `/v1/indicator-mappings/${x.ids.mapping}` },
  { method: "POST", path: () => "/v1/indicator-mappings/test", base: { source: "generic", payload: { details: { addr: "192.0.2.1" } }, mapping: { path: "details.addr", type: "ip" } }, read: null },
  { method: "POST", path: () => "/v1/keys", base: KEY, read: (_x, a) => `/v1/keys/${a.id}` },
  { method: "PATCH", path: (x) => `/v1/keys/${x.ids.key}`, base: { name: "hostile key" }, read: (x) => `/v1/keys/${x.ids.key}` },
];

async function side(s: TestServer): Promise<Side> {
  const created = async (path: string, body: unknown) => {
    const r = await s.admin("POST", path, body);
    expect({ path, status: r.status }).toEqual({ path, status: 201 });
    return (await r.json()) as any;
  };
  const hb = await created("/v1/heartbeats", HEARTBEAT);
  const ids: Record<string, string> = {
    heartbeat: hb.id,
    rule: (await created("/v1/rules", RULE)).id,
    webhook: (await created("/v1/webhooks", WEBHOOK)).id,
    watchlist: (await created("/v1/watchlists", WATCHLIST)).id,
    mapping: (await created("/v1/indicator-mappings", MAPPING)).id,
    enricher: (await created("/v1/enrichers", ENRICHER)).id,
    key: (await created("/v1/keys", KEY)).id,
  };
  expect((await s.post("/v1/ingest/generic", { title: "hostile alert", severity: "high" })).status).toBe(202);
  ids.alert = ((await (await s.get("/v1/alerts?limit=10")).json()) as any).items[0].id;
  return { s, ids, pingToken: new URL(hb.ping_url).pathname.split("/")[2] };
}

beforeAll(async () => {
  pgDb = await clonedDatabase("hostile");
  const [a, b] = await Promise.all([startTestServer({ databaseUrl: "", outboundAllow: "127.0.0.0/8" }), startTestServer({ databaseUrl: pgDb.url, outboundAllow: "127.0.0.0/8" })]);
  expect(a.deps.pg).toBeFalsy();
  expect(b.deps.pg).toBeTruthy();
  sq = await side(a);
  pg = await side(b);
});

afterAll(async () => {
  await sq?.s.close();
  await pg?.s.close();
  await pgDb?.drop();
});

/** Every string slot of a JSON value: a value (replace it) or an object key (rename it), with its JSON pointer. */
type Slot = { pointer: string; set: (root: unknown, h: string) => unknown };
function slots(v: unknown, at: string[] = [], out: Slot[] = []): Slot[] {
  const ptr = (p: string[]) => p.map((x) => "/" + x.replace(/~/g, "~0").replace(/\//g, "~1")).join("");
  if (typeof v === "string") {
    const path = [...at];
    out.push({ pointer: ptr(path), set: (root, h) => edit(root, path, () => h) });
  } else if (Array.isArray(v)) v.forEach((x, i) => slots(x, [...at, String(i)], out));
  else if (v && typeof v === "object")
    for (const k of Object.keys(v)) {
      const path = [...at];
      out.push({ pointer: ptr([...at, k + "\u2400"]), set: (root, h) => edit(root, path, (o: any) => Object.fromEntries(Object.entries(o).map(([kk, vv]) => [kk === k ? k + h : kk, vv]))) });
      slots((v as any)[k], [...at, k], out);
    }
  return out;
}
/** A copy of `root` with the value at `path` replaced by `f(value)`. */
function edit(root: unknown, path: string[], f: (x: any) => unknown): unknown {
  if (!path.length) return f(root);
  const copy: any = Array.isArray(root) ? [...root] : { ...(root as object) };
  copy[path[0]] = edit(copy[path[0]], path.slice(1), f);
  return copy;
}

/** A read-back with what differs by nature between two servers taken out: ids, times, secrets, tokens. */
function canonical(v: unknown): unknown {
  if (typeof v === "string") return v.replace(/(\w+_)?01[0-9A-HJKMNP-TV-Z]{24}/g, "<id>").replace(/kw_[A-Za-z0-9]+_[A-Za-z0-9_-]+/g, "<key>").replace(/kwt_[A-Za-z0-9_-]+/g, "<token>");
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => !/(_at|^at|^id|secret|ping_url|token|prefix|^key|last_|next_|due|_ms|^seen|^since|^until|^time|_seen)$/i.test(k) && !/^(created|updated|expires)/.test(k))
        .map(([k, x]) => [k, canonical(x)]),
    );
  return v;
}

/** Every string (value or key) outside the sender's own JSON (payload, raw payload) that PostgreSQL could not store. */
function unstorableOutsidePayload(v: unknown, at = ""): string[] {
  if (typeof v === "string") return isUnstorable(v) ? [at] : [];
  if (Array.isArray(v)) return v.flatMap((x, i) => unstorableOutsidePayload(x, `${at}/${i}`));
  if (v && typeof v === "object")
    return Object.entries(v).flatMap(([k, x]) => (/payload|^raw/.test(k) ? [] : [...(isUnstorable(k) ? [`${at}/${k} (key)`] : []), ...unstorableOutsidePayload(x, `${at}/${k}`)]));
  return [];
}

const send = (x: Side, method: string, path: string, body: string | Uint8Array, key?: string) =>
  fetch(x.s.url + path, { method, headers: { "content-type": "application/json", "x-api-key": key ?? x.s.keys.admin }, body });
const readBack = async (x: Side, path: string) => {
  const r = await x.s.get(path, x.s.keys.admin);
  return { status: r.status, body: r.status === 200 ? canonical(await r.json()) : null };
};

describe("configuration text: the same answer from both stores, NUL and unpaired surrogates refused naming the field", () => {
  test("every string of every JSON route that stores text × NUL, surrogates, U+FFFE, 70,000 characters", async () => {
    const problems: string[] = [];
    let walked = 0;
    let accepted = 0;
    let n = 0;
    for (const t of TARGETS) {
      for (const slot of slots(t.base)) {
        for (const h of HOSTILE) {
          // a fresh name per request, so creates do not collide (the same on both sides)
          const body = JSON.stringify(slot.set(t.base, h)).replace(/"hostile /g, `"hostile ${++n} `);
          const at = `${t.method} ${t.path(sq).replace(/(\w+_)?01[0-9A-Z]{24}/, ":id")} ${slot.pointer} ← ${h === LONG ? "70,000 × y" : JSON.stringify(h)}`;
          const [a, b] = await Promise.all([send(sq, t.method, t.path(sq), body), send(pg, t.method, t.path(pg), body)]);
          const [ja, jb]: any[] = [await a.json().catch(() => null), await b.json().catch(() => null)];
          walked++;
          if (a.status >= 500 || b.status >= 500) problems.push(`${at}: ${a.status} / ${b.status} ${JSON.stringify(jb)?.slice(0, 200)}`);
          else if (a.status !== b.status) problems.push(`${at}: SQLite ${a.status}, PostgreSQL ${b.status}: ${JSON.stringify([ja, jb]).slice(0, 300)}`);
          else if (UNSTORABLE.includes(h) && !slot.pointer.includes("\u2400")) {
            // a value: 422 naming it
            if (a.status !== 422 || ja?.error?.details?.[0]?.path !== slot.pointer) problems.push(`${at}: ${a.status} ${JSON.stringify(ja?.error?.details ?? ja).slice(0, 200)} (want 422 naming ${slot.pointer})`);
          } else if (UNSTORABLE.includes(h) && a.status !== 422) problems.push(`${at}: ${a.status} (want 422 for a field name)`);
          if (a.status < 300 && t.read) {
            accepted++;
            const [ra, rb] = await Promise.all([readBack(sq, t.read(sq, ja)), readBack(pg, t.read(pg, jb))]);
            expect({ at, sqlite: ra }).toEqual({ at, sqlite: rb });
          }
          if (a.status < 300 || b.status < 300) await Promise.all([t.after?.(sq), t.after?.(pg)]);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(walked).toBeGreaterThan(400);
    expect(accepted).toBeGreaterThan(20);
  }, 240_000);

  test("the walk covers every JSON route with a request body (a new one must be added here)", async () => {
    const doc = (await (await fetch(sq.s.url + "/openapi.json")).json()) as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
    const withBody = Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).filter(([, op]) => op.requestBody).map(([m]) => `${m.toUpperCase()} ${p}`));
    const walkedRoutes = new Set(TARGETS.map((t) => `${t.method} ${t.path(sq).replace(/(\w+_)?01[0-9A-Z]{24}/, "{id}").replace("/sources/generic/", "/sources/{name}/")}`));
    expect(withBody.filter((r) => !walkedRoutes.has(r))).toEqual([]);
  });

  test("query strings and ids with %00: the same answer from both stores, never a 5xx", async () => {
    const paths = (x: Side) => [
      "/v1/events?q=a%00b",
      "/v1/events?source=%00",
      "/v1/alerts?assignee=a%00",
      "/v1/events/%00",
      `/v1/heartbeats/${x.ids.heartbeat}%00`,
      "/v1/indicators/ip/192.0.2.1%00",
      "/v1/rules/x%00y",
      `/v1/webhooks/${x.ids.webhook}/deliveries?status=%00`,
    ];
    for (let i = 0; i < paths(sq).length; i++) {
      const [a, b] = await Promise.all([sq.s.get(paths(sq)[i], sq.s.keys.admin), pg.s.get(paths(pg)[i], pg.s.keys.admin)]);
      const at = paths(sq)[i];
      expect({ at, a: a.status < 500, same: a.status === b.status }).toEqual({ at, a: true, same: true });
      await Promise.all([a.arrayBuffer(), b.arrayBuffer()]);
    }
  });
});

describe("event and ping text: U+FFFD in place of NUL and unpaired surrogates, the raw payload as sent, the same on both stores", () => {
  const FIXTURES = join(import.meta.dir, "..", "fixtures");
  const ingest: { route: string; base: unknown }[] = [
    { route: "/api/v1/events", base: event(1, { host: "db-1", tags: ["a"], id: "e-1", indicators: [{ type: "account", value: "jdoe" }] }) },
    { route: "/v1/ingest/generic", base: { title: "t", severity: "high", description: "d", tags: ["x"], source: "s", host: "h", id: "g-1", details: { addr: "192.0.2.1" } } },
    { route: "/api/v1/webhooks/syslog", base: { source: "app", message: "m", severity: "err", host: "h", details: { a: "b" }, tags: ["t"], id: "x" } },
    // one vendor fixture of every source
    ...readdirSync(FIXTURES).map((dir) => {
      const f = readdirSync(join(FIXTURES, dir)).filter((x) => x.endsWith(".json")).sort()[0];
      return { route: FIXTURE_ROUTES[dir], base: JSON.parse(readFileSync(join(FIXTURES, dir, f), "utf8")) };
    }),
  ];

  test("every string of an item of every source × NUL, surrogates, U+FFFE", async () => {
    const problems: string[] = [];
    let stored = 0;
    for (const t of ingest) {
      // bounded: at most 30 strings of each item, spread over it
      const all = slots(t.base);
      const step = Math.max(1, Math.ceil(all.length / 30));
      for (const slot of all.filter((_, i) => i % step === 0)) {
        for (const h of [...UNSTORABLE, NONCHAR]) {
          const body = JSON.stringify(slot.set(t.base, h));
          const at = `POST ${t.route} ${slot.pointer} ← ${JSON.stringify(h)}`;
          const [a, b] = await Promise.all([send(sq, "POST", t.route, body, sq.s.keys.ingest), send(pg, "POST", t.route, body, pg.s.keys.ingest)]);
          const [ja, jb] = [(await a.json()) as any, (await b.json()) as any];
          if (a.status >= 500 || b.status >= 500 || a.status !== b.status) {
            problems.push(`${at}: SQLite ${a.status}, PostgreSQL ${b.status} ${JSON.stringify(jb).slice(0, 200)}`);
            continue;
          }
          if (a.status !== 202) continue;
          expect(ja.ids.length).toBe(jb.ids.length);
          for (let i = 0; i < ja.ids.length; i++) {
            const [ra, rb] = await Promise.all([sq.s.get(`/v1/events/${ja.ids[i]}`, sq.s.keys.admin), pg.s.get(`/v1/events/${jb.ids[i]}`, pg.s.keys.admin)]);
            const [ea, eb] = [await ra.json(), await rb.json()];
            expect({ at, sqlite: canonical(ea) }).toEqual({ at, sqlite: canonical(eb) });
            const bad = unstorableOutsidePayload(eb);
            if (bad.length) problems.push(`${at}: stored text with NUL or an unpaired surrogate at ${bad.join(", ")}`);
            stored++;
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(stored).toBeGreaterThan(100);
    // the alerts those events opened read the same too
    const alerts = async (x: Side) => canonical(((await (await x.s.get("/v1/alerts?limit=500", x.s.keys.admin)).json()) as any).items.map((a: any) => [a.title, a.severity, a.count]).sort());
    expect(await alerts(sq)).toEqual(await alerts(pg));
  }, 240_000);

  test("a NUL in the title becomes U+FFFD, the raw payload keeps the sender's escape byte for byte", async () => {
    const text = '{"title":"a\\u0000b","tags":["x\\ud83dy"],"severity":"high"}';
    for (const x of [sq, pg]) {
      const r = await send(x, "POST", "/v1/ingest/generic", text, x.s.keys.ingest);
      expect(r.status).toBe(202);
      const id = ((await r.json()) as any).ids[0];
      const e = (await (await x.s.get(`/v1/events/${id}`, x.s.keys.admin)).json()) as any;
      expect(e.title).toBe("a\ufffdb");
      expect(e.tags).toEqual(["x\ufffdy"]);
      const raw = await (await x.s.get(`/v1/events/${id}`, x.s.keys.admin)).text();
      expect(raw).toContain(text);
    }
  });

  test("a body with a raw NUL byte (not the escape) is a 400 on both stores, nothing stored", async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('{"title":"a'), 0, ...new TextEncoder().encode('b"}')]);
    for (const route of ["/v1/ingest/generic", "/api/v1/events", "/api/v1/webhooks/syslog"]) {
      const [a, b] = await Promise.all([send(sq, "POST", route, bytes, sq.s.keys.ingest), send(pg, "POST", route, bytes, pg.s.keys.ingest)]);
      expect({ route, a: a.status, b: b.status }).toEqual({ route, a: 400, b: 400 });
    }
  });

  test("a URL token, a source or a connector with %00 on the ingest routes: the same answer from both stores, never a 5xx", async () => {
    for (const path of ["/v1/ingest/generic?token=kwt_a%00b", "/v1/ingest/generic?token=%00", "/v1/ingest/gen%00eric", "/api/v1/webhooks/sys%00log", "/api/v1/events?token=%ED%A0%80%00"]) {
      const [a, b] = await Promise.all([sq, pg].map((x) => fetch(x.s.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: '{"title":"t"}' })));
      expect({ path, a: a.status < 500, same: a.status === b.status }).toEqual({ path, a: true, same: true });
      await Promise.all([a.arrayBuffer(), b.arrayBuffer()]);
    }
  });

  test("ping bodies: NUL, bytes that are not UTF-8, a surrogate: 200 on both, kept with U+FFFD, read back the same", async () => {
    const bodies: (string | Uint8Array)[] = [NUL, HIGH, new Uint8Array([0x61, 0xff, 0x00, 0xed, 0xa0, 0x80, 0x62]), LONG];
    for (const body of bodies)
      for (const suffix of ["", "/log", "/fail"]) {
        const [a, b] = await Promise.all([sq, pg].map((x) => fetch(`${x.s.url}/ping/${x.pingToken}${suffix}`, { method: "POST", body })));
        expect({ suffix, a: a.status, b: b.status }).toEqual({ suffix, a: 200, b: 200 });
      }
    const pings = async (x: Side) => ((await (await x.s.get(`/v1/heartbeats/${x.ids.heartbeat}/pings`, x.s.keys.admin)).json()) as any).items;
    const [pa, pb] = [await pings(sq), await pings(pg)];
    expect(canonical(pa.map((p: any) => ({ ...p, remote: null })))).toEqual(canonical(pb.map((p: any) => ({ ...p, remote: null }))));
    expect(unstorableOutsidePayload(pb)).toEqual([]);
    expect(pb.some((p: any) => typeof p.body === "string" && p.body.includes("a\ufffdb"))).toBe(true);
    // a token with a NUL is no ping URL: 404 on both
    const [a, b] = await Promise.all([sq, pg].map((x) => fetch(`${x.s.url}/ping/${x.pingToken}%00`, { method: "POST", body: "x" })));
    expect([a.status, b.status]).toEqual([404, 404]);
  });
});

describe("a webhook receiver's answer", () => {
  test("a response body holding a NUL or bytes that are not UTF-8 is recorded with U+FFFD, the same on both stores", async () => {
    const rx = startReceiver(() => new Response(new Uint8Array([0x6f, 0x6b, 0x00, 0xff, 0x21])));
    try {
      const detailOf = async (x: Side, source: string) => {
        const w = (await (await x.s.admin("POST", "/v1/webhooks", { url: rx.url, triggers: ["event.received"], filters: { sources: [source] }, rate_limit: 0 })).json()) as any;
        expect((await x.s.post("/api/v1/events", event(1, { source }))).status).toBe(202);
        return until(async () => {
          const items = ((await (await x.s.get(`/v1/webhooks/${w.id}/deliveries`, x.s.keys.admin)).json()) as any).items;
          if (!items.length) return null;
          const d = (await (await x.s.get(`/v1/deliveries/${items[0].id}`, x.s.keys.admin)).json()) as any;
          return d.attempts.length && d.attempts.every((a: any) => a.outcome !== "started") ? d : null;
        }, 20_000, "an attempt on record");
      };
      const [da, db] = await Promise.all([detailOf(sq, "rx-sqlite"), detailOf(pg, "rx-postgres")]);
      expect(da.attempts[0].response.body).toBe("ok\ufffd\ufffd!");
      expect(db.attempts[0].response.body).toBe("ok\ufffd\ufffd!");
      expect(db.attempts[0].outcome).toBe(da.attempts[0].outcome);
    } finally {
      rx.stop();
    }
  }, 60_000);
});

describe("admin forms", () => {
  const FORM = { "content-type": "application/x-www-form-urlencoded" };
  async function session(x: Side): Promise<{ cookie: string; csrf: string }> {
    const r = await fetch(x.s.url + "/admin/login", { method: "POST", redirect: "manual", headers: FORM, body: new URLSearchParams({ key: x.s.keys.admin }).toString() });
    expect(r.status).toBe(303);
    const cookie = r.headers.get("set-cookie")!.split(";")[0];
    const page = await (await fetch(x.s.url + "/admin/heartbeats", { headers: { cookie } })).text();
    return { cookie, csrf: /name="csrf" value="([^"]+)"/.exec(page)![1] };
  }

  test("every admin form with a field holding %00: refused (422) on both stores, nothing stored", async () => {
    const { createApp } = await import("../../src/app");
    const forms = createApp(sq.s.deps).routes.filter((r) => r.method === "POST" && r.path.startsWith("/admin/") && r.path !== "/admin/login" && r.path !== "/admin/logout");
    expect(forms.length).toBeGreaterThan(20);
    const [ca, cb] = [await session(sq), await session(pg)];
    const names = async (x: Side) => JSON.stringify(((await (await x.s.get("/v1/watchlists", x.s.keys.admin)).json()) as any).items.map((w: any) => w.name));
    const before = [await names(sq), await names(pg)];
    const path = (x: Side, p: string) => p.replace(/:(\w+)/g, (_m, n: string) => x.ids[n === "id" ? "watchlist" : n] ?? x.ids.watchlist);
    for (const f of forms) {
      const [a, b] = await Promise.all(
        ([[sq, ca], [pg, cb]] as const).map(([x, c]) =>
          fetch(x.s.url + path(x, f.path), { method: "POST", redirect: "manual", headers: { ...FORM, cookie: c.cookie }, body: `csrf=${encodeURIComponent(c.csrf)}&name=a%00b&label=x%00&value=%00` }),
        ),
      );
      const at = f.path;
      expect({ at, sqlite: a.status, postgres: b.status }).toEqual({ at, sqlite: 422, postgres: 422 });
      await Promise.all([a.arrayBuffer(), b.arrayBuffer()]);
    }
    expect([await names(sq), await names(pg)]).toEqual(before);
  }, 60_000);
});
