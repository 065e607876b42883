// Seeded fuzz through a real server. Every vendor fixture (test/fixtures/*) and a base item of
// every other source, mutated, posted to its ingest route (alert sources, connectors,
// /api/v1/events); heartbeat pings; read routes with chosen query strings and ids; and a sample of
// API routes: create and PATCH of rules, heartbeats, webhooks, watchlists, indicator mappings and
// enrichers, keys, alert triage and comments, PUT of source settings.
// Mutations: type swaps, Object.prototype names (as values and keys), huge / negative / NaN-like
// numbers (1e400, -0, 2^53+1), deep nesting, unicode and control characters, lone surrogates,
// empty arrays and objects, duplicated keys, long strings, cron expressions, byte-level slips.
// Passes when: no answer is a 5xx, the server answers /healthz throughout, and a refused ingest
// request stored nothing (events, indicators, alerts and alert counts compared before and after).
// Bounded: KEEPWATCH_FUZZ_REQUESTS requests (6000) or KEEPWATCH_FUZZ_SECONDS (25), whichever first.
// Replay a failure: KEEPWATCH_FUZZ_SEED=<the printed seed> bun test test/fuzz
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { event, json, startTestServer, type TestServer, seededRandom, FIXTURE_ROUTES } from "../helpers";
import { dbFile, openDatabase, type Db } from "../../src/db/client";

const SEED = Number(process.env.KEEPWATCH_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const REQUESTS = Number(process.env.KEEPWATCH_FUZZ_REQUESTS ?? 6000);
const SECONDS = Number(process.env.KEEPWATCH_FUZZ_SECONDS ?? 25);

// ---- a seeded PRNG (mulberry32) ----
function prng(seed: number) {
  const next = seededRandom(seed);
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof prng>;

// ---- values the serializer writes verbatim: numbers JSON.stringify cannot make, duplicated keys ----
class Tok {
  constructor(readonly text: string) {}
}
class Dup {
  constructor(readonly entries: [string, unknown][]) {}
}

function toText(v: unknown): string {
  if (v instanceof Tok) return v.text;
  if (v instanceof Dup) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${toText(x)}`).join(",")}}`;
  if (Array.isArray(v)) return `[${v.map(toText).join(",")}]`;
  if (v && typeof v === "object") return `{${Object.keys(v).map((k) => `${JSON.stringify(k)}:${toText((v as any)[k])}`).join(",")}}`;
  return JSON.stringify(v) ?? "null";
}

const PROTO = ["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString", "__defineGetter__", "__lookupGetter__", "prototype", "length", "then"];
const NUMBERS = ["1e400", "-1e400", "-0", "9007199254740993", "12345678901234567891", "1e-400", "-1", "0", "1.5", "2147483648", "-2147483649", "1e308", "4294967296", "0.1e1", "99999999999999999999999999"];
const NAN_LIKE = ["NaN", "Infinity", "-Infinity", "nan", "1e400", "0x10", "1_000", " 12 ", "", "١٢٣"];
const STRINGS = [
  "\u0000", "a\u0000b", "\u202e\u2066evil", "😀", "\ud800", "\udfff", "x\ud83dy", "\ufeff", "e\u0301", "\u0085\u2028\u2029",
  "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "%00", "{{payload.x}}", "${x}", "\r\n\t", "  ", "ǅ", "İ",
  "http://127.0.0.1:9/", "kw_x_y", "*", "a.b.c", "[]", "{}", "null", "true", "192.0.2.1", "::1", "a@b.c",
  // schedules and zones: one that never fires, bad ones, odd ones
  "0 2 30 2 *", "0 0 31 4 *", "61 * * * *", "* * * * * * *", "@yearly", "0 0 29 2 *", "Mars/Olympus", "Etc/GMT+14", "UTC",
];

function randomScalar(r: Rng): unknown {
  switch (r.int(8)) {
    case 0: return new Tok(r.pick(NUMBERS));
    case 1: return r.pick(NAN_LIKE);
    case 2: return r.pick(STRINGS);
    case 3: return r.pick(PROTO);
    case 4: return r.pick([true, false, null]);
    case 5: return r.chance(0.5) ? [] : {};
    case 6: return "x".repeat(r.pick([1, 255, 256, 1024, 1025, 70_000]));
    default: return r.int(2000) - 1000;
  }
}

function deep(r: Rng, inner: unknown): unknown {
  const n = r.pick([20, 60, 99, 101, 150]);
  let v = inner;
  for (let i = 0; i < n; i++) v = r.chance(0.5) ? [v] : { a: v };
  return v;
}

/** Every [container, key] in a JSON tree (bounded), so one can be replaced. */
function slots(v: unknown, out: [any, string | number][] = [], depth = 0): [any, string | number][] {
  if (depth > 12 || out.length > 400) return out;
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), slots(x, out, depth + 1)));
  else if (v && typeof v === "object" && !(v instanceof Tok) && !(v instanceof Dup))
    for (const k of Object.keys(v)) out.push([v, k]), slots((v as any)[k], out, depth + 1);
  return out;
}

function typeSwap(r: Rng, x: unknown): unknown {
  if (typeof x === "string") return r.pick([new Tok(r.pick(NUMBERS)), true, null, [x], { x }, r.pick(PROTO)]);
  if (typeof x === "number") return r.pick([String(x), new Tok(r.pick(NUMBERS)), null, [x], r.pick(NAN_LIKE)]);
  if (typeof x === "boolean") return r.pick([String(x), 1, 0, null]);
  if (x === null) return r.pick(["null", 0, {}, []]);
  if (Array.isArray(x)) return r.pick([{}, x[0] ?? null, "[]", [], [x]]);
  return r.pick([[x], "object", null, 1, {}]);
}

/** How many mutations: mostly one, so that most bodies get past the first check and reach deeper code. */
const howMany = (r: Rng) => (r.chance(0.6) ? 1 : r.chance(0.75) ? 2 : 3);

/** One mutation of a (cloned) JSON value; returns the new root (may be a Tok/Dup-bearing tree). */
function mutate(r: Rng, root: unknown): unknown {
  const ss = slots(root);
  if (!ss.length) return r.chance(0.5) ? randomScalar(r) : deep(r, root);
  const [c, k] = r.pick(ss);
  const cur = c[k];
  switch (r.int(11)) {
    case 0: c[k] = typeSwap(r, cur); break;
    case 1: c[k] = r.pick(PROTO); break;
    case 2: {
      // a prototype name as a key, an own property even for __proto__
      const target = cur && typeof cur === "object" && !Array.isArray(cur) ? cur : c;
      if (!Array.isArray(target)) Object.defineProperty(target, r.pick(PROTO), { value: randomScalar(r), enumerable: true, writable: true, configurable: true });
      break;
    }
    case 3: c[k] = new Tok(r.pick(NUMBERS)); break;
    case 4: c[k] = r.pick(NAN_LIKE); break;
    case 5: c[k] = deep(r, cur); break;
    case 6: c[k] = typeof cur === "string" ? cur + r.pick(STRINGS) : r.pick(STRINGS); break;
    case 7: c[k] = r.chance(0.5) ? [] : {}; break;
    case 8: {
      // a duplicated key: the same key twice with different values
      if (cur && typeof cur === "object" && !Array.isArray(cur) && !(cur instanceof Tok) && !(cur instanceof Dup)) {
        const entries = Object.keys(cur).map((kk) => [kk, (cur as any)[kk]] as [string, unknown]);
        const dk = entries.length ? r.pick(entries)[0] : "k";
        entries.push([dk, randomScalar(r)]);
        c[k] = new Dup(r.chance(0.5) ? entries : entries.reverse());
      } else c[k] = randomScalar(r);
      break;
    }
    case 9: if (Array.isArray(c)) c.splice(Number(k), 1); else delete c[k]; break;
    default: c[k] = randomScalar(r);
  }
  return root;
}

/** A byte-level slip: cut short, a stray character, a lone surrogate escape (the body may no longer be JSON). */
function textMutation(r: Rng, text: string): string {
  const at = r.int(text.length + 1);
  switch (r.int(4)) {
    case 0: return text.slice(0, at);
    case 1: return text.slice(0, at) + r.pick(["}", "]", ",", '"', "\\", "\\u12", "\\ud800", "\\u0000", "\u0000", "\ufeff", "[", "{"]) + text.slice(at);
    case 2: return "\ufeff" + text;
    default: return text + r.pick(["", " ", "\n", "x", ",", "]", "}"]);
  }
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

// ---- targets ----
const FIXTURES = join(import.meta.dir, "..", "fixtures");
const ROUTE = FIXTURE_ROUTES;
type Target = { route: string; base: unknown };
function ingestTargets(): Target[] {
  const out: Target[] = [];
  for (const dir of readdirSync(FIXTURES))
    for (const f of readdirSync(join(FIXTURES, dir)).filter((f) => f.endsWith(".json")))
      out.push({ route: ROUTE[dir], base: JSON.parse(readFileSync(join(FIXTURES, dir, f), "utf8")) });
  out.push(
    { route: "/api/v1/events", base: event(1, { occurred_at: "2026-11-22T10:00:00Z", host: "db-1", tags: ["a"], id: "e-1", indicators: [{ type: "ip", value: "192.0.2.1" }] }) },
    { route: "/v1/ingest/generic", base: { title: "t", severity: "high", occurred_at: 1763800000, description: "d", tags: ["x"], source: "s", host: "h", id: 7, indicators: [{ type: "domain", value: "example.com" }] } },
    { route: "/api/v1/webhooks/syslog", base: { source: "app", message: "m\nline2", severity: "err", timestamp: "2026-11-22T10:28:00+01:00", host: "h", facility: 3, details: { a: 1 }, tags: ["t"], id: "x" } },
  );
  return out;
}

let s: TestServer;
/** another connection to the server's SQLite file (on PostgreSQL the server's pool answers: see stored) */
let db: Db | null = null;
const ids: Record<string, string> = {};
let pingToken = "";
beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
  if (!s.deps.pg) db = openDatabase(dbFile(s.dir));
  const created = async (path: string, body: unknown) => {
    const r = await s.admin("POST", path, body);
    expect({ path, status: r.status }).toEqual({ path, status: 201 });
    return (await r.json()) as any;
  };
  ids.rule = (await created("/v1/rules", RULE)).id;
  const hb = await created("/v1/heartbeats", HEARTBEAT);
  ids.heartbeat = hb.id;
  pingToken = new URL(hb.ping_url).pathname.split("/")[2];
  ids.webhook = (await created("/v1/webhooks", WEBHOOK)).id;
  ids.watchlist = (await created("/v1/watchlists", WATCHLIST)).id;
  ids.mapping = (await created("/v1/indicator-mappings", MAPPING)).id;
  ids.enricher = (await created("/v1/enrichers", ENRICHER)).id;
  // an alert to triage and comment on
  const opened = await s.post("/v1/ingest/generic", { title: "fuzz alert", severity: "high" });
  expect(opened.status).toBe(202);
  const eventId = ((await opened.json()) as any).ids[0];
  const list = ((await s.get("/v1/alerts?limit=10")).json() as Promise<any>);
  ids.alert = (await list).items.find((a: any) => a.title === "fuzz alert").id;
  expect(eventId).toBeTruthy();
});
afterAll(async () => {
  db?.$client.close();
  await s?.close();
});

const RULE = { name: "fuzz rule", filter: { all: [{ field: "type", op: "eq", value: "deploy.failed" }, { field: "payload.env", op: "in", value: ["prod", "stage"] }, { field: "severity", op: "gte", value: "medium" }] }, action: { kind: "alert", title: "{{payload.service}} failed", severity: "high", fingerprint: ["payload.service"] }, threshold: { count: 2, window: 60 } };
const HEARTBEAT = { name: "fuzz hb", period: 3600, grace: 60, max_runtime: 600, severity: "high", filter: { all: [{ field: "type", op: "eq", value: "heartbeat" }, { field: "source", op: "eq", value: "fuzz" }] } };
const WEBHOOK = { url: "http://127.0.0.1:9/hook", name: "fuzz", state: "inactive", headers: { "X-Team": "blue" }, triggers: ["alert.*", "heartbeat.down"], filters: { min_severity: "low", sources: ["s"], tags: ["t"] }, mode: "batched", interval: 60, max_batch: 10, rate_limit: 5, timeout: 2, retry: { max_attempts: 3, initial_interval: 1, max_interval: 10 }, ordered: true };
const WATCHLIST = { name: "fuzz wl", label: "fuzz", severity: "high", active: true, entries: [{ kind: "domain", value: "evil.example", comment: "c" }, { kind: "cidr", value: "203.0.113.0/24" }] };
const MAPPING = { name: "fuzz map", source: "generic", path: "details.addr", type: "ip", active: true };
const ENRICHER = { name: "fuzz enricher", indicator_types: ["ip", "domain"], url_template: "http://127.0.0.1:9/lookup/{{value}}", headers: { "X-Key": "k" }, timeout: 2, active: false };
const KEY = { name: "fuzz key", scopes: ["ingest"], sources: ["events", "generic"], expires_in: 86400, rate_limit: 0, rate_burst: 10 };
const SETTINGS = { scheme: "shared-secret", secret: "s3cr3t-value-long-enough", header: "X-Secret" };
const SIGNED = ["generic", "grafana", "sentinel", "splunk", "elastic"];

type ApiTarget = { method: string; path: (r: Rng) => string; base: unknown; after?: (res: Response) => Promise<void> };
const API: ApiTarget[] = [
  { method: "POST", path: () => "/v1/rules", base: RULE },
  { method: "PATCH", path: () => `/v1/rules/${ids.rule}`, base: RULE },
  { method: "POST", path: () => "/v1/rules/test", base: { rule: RULE, event: event(1, { type: "deploy.failed", payload: { env: "prod", service: "api" } }) } },
  { method: "POST", path: () => "/v1/heartbeats", base: HEARTBEAT },
  { method: "PATCH", path: () => `/v1/heartbeats/${ids.heartbeat}`, base: { ...HEARTBEAT, period: undefined, cron: "0 2 * * *", tz: "Europe/Berlin" } },
  { method: "POST", path: () => "/v1/webhooks", base: WEBHOOK },
  { method: "PATCH", path: () => `/v1/webhooks/${ids.webhook}`, base: WEBHOOK },
  { method: "POST", path: () => "/v1/watchlists", base: WATCHLIST },
  { method: "PATCH", path: () => `/v1/watchlists/${ids.watchlist}`, base: WATCHLIST },
  { method: "POST", path: () => "/v1/indicator-mappings", base: MAPPING },
  { method: "PATCH", path: () => `/v1/indicator-mappings/${ids.mapping}`, base: MAPPING },
  { method: "POST", path: () => "/v1/indicator-mappings/test", base: { source: "generic", payload: { title: "t", details: { addr: "192.0.2.1", list: ["192.0.2.2", "x"] } }, mapping: { path: "details.list[]", type: "ip" } } },
  { method: "POST", path: () => "/v1/keys", base: KEY },
  { method: "POST", path: () => "/v1/enrichers", base: ENRICHER },
  { method: "PATCH", path: () => `/v1/enrichers/${ids.enricher}`, base: ENRICHER },
  { method: "PATCH", path: () => `/v1/alerts/${ids.alert}`, base: { status: "triaging", assignee: "ops" } },
  { method: "POST", path: () => `/v1/alerts/${ids.alert}/comments`, base: { body: "looked at it" } },
  {
    method: "PUT",
    path: (r) => `/v1/sources/${r.pick(SIGNED)}/settings`,
    base: SETTINGS,
    // a settings change that took would make later unsigned ingests 401: take it back
    after: async (res) => {
      if (res.status === 200) for (const n of SIGNED) expect((await s.admin("DELETE", `/v1/sources/${n}/settings`)).status).toBeLessThan(500);
    },
  },
];

// read routes with query strings and path values the sender chooses
const READS: ((r: Rng) => string)[] = [
  (r) => `/v1/events?${q(r, ["source_name", "source", "type", "severity", "since", "until", "q", "cursor", "limit"])}`,
  (r) => `/v1/alerts?${q(r, ["status", "severity", "source_name", "source", "rule", "since", "q", "cursor", "limit"])}`,
  (r) => `/v1/webhooks/${ids.webhook}/deliveries?${q(r, ["status", "cursor", "limit"])}`,
  (r) => `/v1/indicators/${encodeURIComponent(r.pick(["ip", "domain", "url", "email", "account", "hash_md5", ...PROTO]))}/${enc(String(fuzzValue(r)))}?${q(r, ["cursor", "limit"])}`,
  (r) => `/v1/${r.pick(["events", "alerts", "heartbeats", "rules", "webhooks", "watchlists", "enrichers", "indicator-mappings", "deliveries", "sources"])}/${enc(String(fuzzValue(r)))}`,
];
/** Percent-encodes a path segment; a lone surrogate goes as the invalid UTF-8 bytes %ED%A0%80. */
const enc = (x: string) => Array.from(x, (c) => (/[\ud800-\udfff]/.test(c) ? "%ED%A0%80" : encodeURIComponent(c))).join("");
const fuzzValue = (r: Rng): unknown => {
  const v = randomScalar(r);
  return v instanceof Tok ? v.text : typeof v === "object" ? JSON.stringify(v) : v;
};
function q(r: Rng, names: string[]): string {
  const p = new URLSearchParams();
  for (let i = 1 + r.int(3); i > 0; i--) p.append(r.pick(names), String(fuzzValue(r)).slice(0, 2000));
  return p.toString();
}

const PING_SUFFIX = ["", "/start", "/fail", "/log", "/0", "/1", "/255", "/256", "/-1", "/99999999999999999999", "/%00", "/constructor", "/__proto__", "/%F0%9F%98%80", "/start/x"];

/** Rows an ingest request stores: events, their indicators, and the alerts they open or join (count and last_seen). */
const STORED_SQL = `SELECT (SELECT count(*) FROM events WHERE tenant_id = $1) AS events, (SELECT count(*) FROM event_indicators) AS indicators,
       (SELECT count(*) FROM alerts WHERE tenant_id = $1) AS alerts, (SELECT coalesce(sum(count), 0) FROM alerts WHERE tenant_id = $1) AS joined`;
const stored = async () => {
  if (s.deps.pg) return JSON.stringify({ ...(await s.deps.pg.unsafe(STORED_SQL, [s.tenantId]))[0] });
  return JSON.stringify(db!.$client.query(STORED_SQL.replaceAll("$1", "?1")).get(s.tenantId));
};

test(`seeded fuzz of ingest, pings and API routes: no 5xx, server up, refused batches store nothing (seed ${SEED})`, async () => {
  console.log(`fuzz seed: ${SEED} (replay: KEEPWATCH_FUZZ_SEED=${SEED} bun test test/fuzz)`);
  const r = prng(SEED);
  const targets = ingestTargets();
  expect(targets.map((t) => t.route).filter((x) => !x)).toEqual([]);
  const failures: string[] = [];
  const tally: Record<string, number> = {};
  const end = Date.now() + SECONDS * 1000;
  let n = 0;
  for (; n < REQUESTS && Date.now() < end && failures.length < 20; n++) {
    const kind = r.next();
    let label = "";
    let res: Response;
    let body = "";
    if (kind < 0.6) {
      // an ingest request: one item or a batch, 1-4 mutations each
      const t = r.pick(targets);
      let item: unknown = clone(t.base);
      for (let m = howMany(r); m > 0; m--) item = mutate(r, item);
      const batch = r.chance(0.25) ? [item, clone(t.base), r.chance(0.3) ? mutate(r, clone(t.base)) : clone(t.base)] : item;
      body = toText(batch);
      if (r.chance(0.05)) body = textMutation(r, body);
      const before = await stored();
      // now and then an Idempotency-Key (a repeat is answered with the first answer), odd ones too
      const headers: Record<string, string> = r.chance(0.1) ? { "idempotency-key": r.pick(["k1", "k2", " ", "x".repeat(256), "é", "a\tb", "constructor", "__proto__"]) } : {};
      res = await s.post(t.route, body, { headers });
      label = `POST ${t.route}`;
      if (res.status >= 500) failures.push(`${label} → ${res.status} ${(await res.text()).slice(0, 200)}\n  body: ${body.slice(0, 600)}`);
      else if (res.status !== 202) {
        const after = await stored();
        if (after !== before) failures.push(`${label} → ${res.status} but rows changed: ${before} → ${after}\n  body: ${body.slice(0, 600)}`);
        await res.arrayBuffer();
      } else await res.arrayBuffer();
    } else if (kind < 0.66) {
      const path = r.pick(READS)(r);
      label = `GET ${path.split("?")[0].split("/").slice(0, 3).join("/")}`;
      res = await s.get(path, s.keys.admin);
      if (res.status >= 500) failures.push(`GET ${path.slice(0, 300)} → ${res.status} ${(await res.text()).slice(0, 200)}`);
      else await res.arrayBuffer();
    } else if (kind < 0.74) {
      const suffix = r.pick(PING_SUFFIX);
      const method = r.pick(["GET", "POST", "HEAD"]);
      body = method === "POST" ? (r.chance(0.5) ? toText(mutate(r, { exit: 0, log: "ok" })) : r.pick(STRINGS)) : "";
      label = `${method} /ping/<token>${suffix ? "/…" : ""}`;
      res = await fetch(`${s.url}/ping/${r.chance(0.9) ? pingToken : r.pick(PROTO)}${suffix}`, { method, body: method === "POST" ? body : undefined });
      if (res.status >= 500) failures.push(`${label} → ${res.status} ${(await res.text()).slice(0, 200)}\n  body: ${body.slice(0, 300)}`);
      else await res.arrayBuffer();
    } else {
      const a = r.pick(API);
      let b: unknown = clone(a.base);
      for (let m = howMany(r); m > 0; m--) b = mutate(r, b);
      body = toText(b);
      const path = a.path(r);
      label = `${a.method} ${path}`;
      res = await fetch(s.url + path, { method: a.method, headers: { "x-api-key": s.keys.admin, "content-type": "application/json" }, body });
      if (res.status >= 500) failures.push(`${label} → ${res.status} ${(await res.text()).slice(0, 200)}\n  body: ${body.slice(0, 600)}`);
      else await a.after?.(res);
      if (!res.bodyUsed) await res.arrayBuffer().catch(() => {});
    }
    const key = `${label.replace(/\/(\w+_)?01[0-9A-Z]{24}/g, "/:id").split(" ").slice(0, 2).join(" ")} ${res.status}`;
    tally[key] = (tally[key] ?? 0) + 1;
    if (n % 100 === 99) {
      const h = await fetch(s.url + "/healthz");
      if (h.status !== 200) failures.push(`/healthz → ${h.status} after request ${n}`);
    }
  }
  // one line per route: its statuses and how often each came
  const byRoute = new Map<string, string[]>();
  for (const [k, v] of Object.entries(tally).sort()) {
    const at = k.lastIndexOf(" ");
    const route = k.slice(0, at);
    byRoute.set(route, [...(byRoute.get(route) ?? []), `${k.slice(at + 1)}×${v}`]);
  }
  console.log(`fuzz: ${n} requests in ${SECONDS - Math.max(0, Math.round((end - Date.now()) / 1000))} s; answers by route:\n` + [...byRoute].map(([r, v]) => `  ${r}: ${v.join(" ")}`).join("\n"));
  if (failures.length) console.log(`fuzz failures (seed ${SEED}):\n` + failures.join("\n"));
  expect(failures).toEqual([]);
  expect((await fetch(s.url + "/healthz")).status).toBe(200);
  expect(n).toBeGreaterThan(200);
  // the server still ingests and reads normally
  const ok = await json(s.post("/api/v1/events", event(1)));
  expect((await s.get(`/v1/events/${ok.ids[0]}`)).status).toBe(200);
}, 120_000);
