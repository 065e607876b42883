// `keepwatch migrate-to-postgres`, for real: a SQLite data directory filled through the HTTP API of a
// running server (events of every vendor fixture and the generic routes, alerts opened by rules and
// alert sources, heartbeats pinged, paused and new, webhooks with deliveries and attempts (one
// receiver answering 200, one 500), keys, URL tokens, source settings, mappings, rules, watchlists,
// enrichers, an admin session), then the built binary copies it into an empty PostgreSQL database.
// Checked: every table's count and every row, column by column (jsonb and booleans read back as
// what SQLite holds), identity sequences past the copied ids, the refusal of a non-empty target
// (exit 2, nothing changed), and, once every domain is ported, that the old keys, ping URL, URL
// token and session work against a PostgreSQL server.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { dbFile } from "../../src/db/client";
import { openPg } from "../../src/db/pg-client";
import { sqliteTables } from "../../src/store/migrate-to-pg";
import { unportedDomains } from "../../src/store/index";
import { FIXTURE_ROUTES, event, json, killSpawned, runBinary, startBinary, startTestServer, type TestServer } from "../helpers";
import { startReceiver, until, type Receiver } from "../webhooks/receiver";
import { sharedCluster } from "./cluster";

let s: TestServer;
let ok: Receiver;
let bad: Receiver;
const saved: Record<string, string> = {};
const FORM = { "content-type": "application/x-www-form-urlencoded" };

beforeAll(async () => {
  ok = startReceiver(() => new Response("thanks"));
  bad = startReceiver(() => new Response("no", { status: 500 }));
  // SQLite whatever the test pass: this is the data directory to move
  s = await startTestServer({ databaseUrl: "", outboundAllow: "127.0.0.0/8" });
  const created = async (r: Promise<Response>) => {
    const res = await r;
    if (res.status !== 201 && res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
    return (await res.json()) as any;
  };
  const retry = { max_attempts: 2, initial_interval: 0.05, max_interval: 0.05 };
  const hookOk = await created(s.admin("POST", "/v1/webhooks", { url: ok.url, name: "to-ok", triggers: ["event.received", "alert.*", "heartbeat.*"], retry }));
  await created(s.admin("POST", "/v1/webhooks", { url: bad.url, name: "to-bad", triggers: ["alert.*"], retry }));
  saved.webhookSecret = (await json(s.admin("GET", `/v1/webhooks/${hookOk.id}/secret`))).secret ?? "";
  await created(s.admin("POST", "/v1/rules", { name: "disk alerts", filter: { field: "type", op: "eq", value: "check.failed" }, action: { kind: "alert", title: "{{host}} failing", severity: "high", dedup_window: 600 } }));
  await created(s.admin("POST", "/v1/rules", { name: "deploys", filter: { field: "type", op: "eq", value: "deploy.failed" }, action: { kind: "tag", tags: ["deploy"] } }));
  await created(s.admin("POST", "/v1/watchlists", { name: "scanners", entries: [{ kind: "domain", value: "evil.example" }] }));
  await created(s.admin("POST", "/v1/enrichers", { name: "intel", indicator_types: ["ip"], url_template: "https://intel.example/{{value}}" }));
  await created(s.admin("POST", "/v1/indicator-mappings", { source: "generic", path: "details.addr", type: "ip" }));
  await created(s.admin("PUT", "/v1/sources/generic/settings", { scheme: "shared-secret", secret: "generic-secret-0123456789abcdef" }));
  const token = await created(s.admin("POST", "/v1/sources/splunk/tokens", { name: "splunk-prod" }));
  saved.token = token.token;
  const key = await created(s.admin("POST", "/v1/keys", { name: "ci deploy key", scopes: ["ingest", "read"] }));
  saved.key = key.key;
  const hbs = [];
  for (const name of ["nightly-backup", "hourly-sync", "paused-one", "never-pinged"]) hbs.push(await created(s.admin("POST", "/v1/heartbeats", { name, period: 3600 })));
  saved.pingUrl = hbs[0].ping_url;
  expect((await fetch(hbs[0].ping_url)).status).toBeLessThan(300);
  expect((await fetch(hbs[1].ping_url + "/fail", { method: "POST", body: "exit 1" })).status).toBeLessThan(300);
  expect((await s.admin("POST", `/v1/heartbeats/${hbs[2].id}/pause`)).status).toBeLessThan(300);
  // events: the generic routes, every vendor fixture, a URL token
  for (let i = 0; i < 25; i++) expect((await s.post("/api/v1/events", event(i, i % 5 === 0 ? { type: "deploy.failed" } : {}))).status).toBe(202);
  for (const [source, route] of Object.entries(FIXTURE_ROUTES))
    for (const f of readdirSync(join(import.meta.dir, "..", "fixtures", source))) {
      const r = await s.post(route, readFileSync(join(import.meta.dir, "..", "fixtures", source, f), "utf8"), { key: s.keys.ingest });
      expect({ source, f, status: r.status }).toEqual({ source, f, status: 202 });
    }
  const viaToken = await fetch(`${s.url}/v1/ingest/splunk?token=${token.token}`, { method: "POST", headers: { "content-type": "application/json" }, body: readFileSync(join(import.meta.dir, "..", "fixtures", "splunk", "brute-force.json"), "utf8") });
  expect(viaToken.status).toBe(202);
  // an admin session
  const login = await fetch(s.url + "/admin/login", { method: "POST", redirect: "manual", headers: FORM, body: new URLSearchParams({ key: s.keys.admin }).toString() });
  saved.cookie = login.headers.get("set-cookie")!.split(";")[0]!;
  // deliveries settle (the 500 receiver's after its retries)
  await until(async () => (await json(s.admin("GET", "/v1/webhooks"))).items.every((w: any) => w.backlog.count === 0), 20_000, "deliveries settled");
  saved.admin = s.keys.admin;
  // the server stops; the data directory stays (close() would remove it)
  await s.stop();
}, 120_000);

afterAll(async () => {
  killSpawned();
  ok?.stop();
  bad?.stop();
  if (s) rmSync(s.dir, { recursive: true, force: true });
});

/** A value as comparable JSON: objects with sorted keys (jsonb reorders them). */
function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as any)[k])]));
  return v;
}

test("migrate-to-postgres copies every table, row for row; refuses a non-empty target; sequences go on past the copied ids", async () => {
  const c = await sharedCluster();
  const url = await c.createDatabase(`m2pg_${process.pid}`);
  const r = await runBinary(["migrate-to-postgres", "--data-dir", s.dir, "--database-url", url, "--batch", "7"]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  expect(r.stdout).toMatch(/^verified: \d+ tables, \d+ rows, every count matches/m);
  expect(r.stdout).toMatch(/^skipped events_fts: SQLite full-text index/m);
  expect(r.stdout).toMatch(/identity sequences set past the copied ids: .*jobs\.id/);

  const lite = new Database(dbFile(s.dir), { readonly: true });
  const pg = openPg(url, { pool: 2 });
  try {
    const { copy } = sqliteTables(lite);
    const types = new Map<string, string>();
    for (const row of await pg.$client`SELECT table_name AS t, column_name AS c, udt_name AS u FROM information_schema.columns WHERE table_schema = 'public'`)
      types.set(`${row.t}.${row.c}`, row.u);
    const nonEmpty: string[] = [];
    for (const t of copy) {
      const cols = (lite.query("SELECT name FROM pragma_table_info(?1)").all(t) as { name: string }[]).map((x) => x.name);
      const want = (lite.query(`SELECT * FROM "${t}"`).all() as Record<string, unknown>[]).map((row) =>
        JSON.stringify(canon(Object.fromEntries(cols.map((col) => {
          const u = types.get(`${t}.${col}`);
          const v = row[col];
          if (v === null) return [col, null];
          if (u === "jsonb") return [col, JSON.parse(v as string)];
          if (u === "bool") return [col, v === 1];
          return [col, v];
        })))),
      );
      const got = (await pg.$client.unsafe(`SELECT ${cols.map((x) => `"${x}"`).join(", ")} FROM "${t}"`)).map((row) => JSON.stringify(canon({ ...row })));
      // the count printed, and the rows themselves
      expect(r.stdout).toMatch(new RegExp(`^${t}\\s+${want.length}\\s+${want.length}$`, "m"));
      expect({ table: t, rows: got.sort() }).toEqual({ table: t, rows: want.sort() });
      if (want.length) nonEmpty.push(t);
    }
    // the fill reached every table that matters for the move
    for (const t of ["tenants", "api_keys", "events", "alerts", "alert_events", "alert_timeline", "heartbeats", "heartbeat_pings", "heartbeat_flips", "webhooks", "job_lanes", "deliveries", "delivery_attempts", "jobs", "rules", "watchlists", "enrichers", "indicator_mappings", "source_settings", "source_tokens", "admin_sessions", "event_indicators", "config_versions"])
      expect({ t, filled: nonEmpty.includes(t) }).toEqual({ t, filled: true });
    // identity: the next job drawn is past every copied id
    const [{ max }] = await pg.$client`SELECT max(id) AS max FROM jobs`;
    const [{ id }] = await pg.$client`INSERT INTO jobs (queue, kind, payload, state, max_attempts, run_at, created_at) VALUES ('x', 'x', '{}', 'succeeded', 1, 0, 0) RETURNING id`;
    expect(id).toBeGreaterThan(max);
    await pg.$client`DELETE FROM jobs WHERE id = ${id}`;
    // a second run: the target is not empty, refused with why, exit 2, nothing added
    const before = Number((await pg.$client`SELECT count(*) AS n FROM events`)[0]!.n);
    const again = await runBinary(["migrate-to-postgres", "--data-dir", s.dir, "--database-url", url]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^keepwatch: the target database is not empty \(rows in .*events.*\); migrate-to-postgres only fills an empty database/);
    expect(Number((await pg.$client`SELECT count(*) AS n FROM events`)[0]!.n)).toBe(before);
  } finally {
    lite.close();
    await pg.$client.end({ timeout: 5 });
  }

  // once every domain is ported, the old credentials work against a PostgreSQL server
  if (unportedDomains().length === 0) {
    const b = await startBinary(s.dir, [], { KEEPWATCH_DATABASE_URL: url });
    const base = b.url;
    expect((await fetch(`${base}/v1/keys`, { headers: { "x-api-key": saved.admin! } })).status).toBe(200);
    expect((await fetch(`${base}/v1/events`, { headers: { authorization: `Bearer ${saved.key}` } })).status).toBe(200);
    expect((await fetch(saved.pingUrl!.replace(s.url, base))).status).toBeLessThan(300);
    const viaToken = await fetch(`${base}/v1/ingest/splunk?token=${saved.token}`, { method: "POST", headers: { "content-type": "application/json" }, body: readFileSync(join(import.meta.dir, "..", "fixtures", "splunk", "brute-force.json"), "utf8") });
    expect(viaToken.status).toBe(202);
    expect((await fetch(`${base}/admin`, { headers: { cookie: saved.cookie! }, redirect: "manual" })).status).toBe(200);
    b.proc.kill("SIGTERM");
    await b.proc.exited;
  }
}, 120_000);

test("migrate-to-postgres refuses without its two settings, and a directory with no database: exit 2, nothing written", async () => {
  const c = await sharedCluster();
  const url = await c.createDatabase(`m2pg_refuse_${process.pid}`);
  const noUrl = await runBinary(["migrate-to-postgres", "--data-dir", s.dir]);
  expect(noUrl.code).toBe(2);
  expect(noUrl.stderr).toMatch(/--database-url .* is required/);
  const noDir = await runBinary(["migrate-to-postgres", "--database-url", url]);
  expect(noDir.code).toBe(2);
  expect(noDir.stderr).toMatch(/--data-dir .* is required/);
  const empty = await runBinary(["migrate-to-postgres", "--database-url", url, "--data-dir", join(s.dir, "nothing-here")]);
  expect(empty.code).toBe(2);
  expect(empty.stderr).toMatch(/no keepwatch database in/);
  const pg = openPg(url, { pool: 1 });
  const [{ n }] = await pg.$client`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname IN ('public', 'drizzle')`;
  await pg.$client.end();
  expect(n).toBe(0);
}, 60_000);

test("migrate-to-postgres reads one snapshot while the SQLite server keeps ingesting: counts verified, nothing torn", async () => {
  const live = await startTestServer({ databaseUrl: "" });
  const c = await sharedCluster();
  const url = await c.createDatabase(`m2pg_live_${process.pid}`);
  let stop = false;
  let sent = 0;
  const load = (async () => {
    while (!stop) {
      const r = await live.post("/api/v1/events", Array.from({ length: 20 }, (_, j) => event(sent + j)));
      expect(r.status).toBe(202);
      sent += 20;
    }
  })();
  try {
    await until(async () => sent >= 200, 10_000, "some events in");
    const r = await runBinary(["migrate-to-postgres", "--data-dir", live.dir, "--database-url", url, "--batch", "50"]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/every count matches/);
    const copied = Number(/^events\s+(\d+)\s+(\d+)$/m.exec(r.stdout)![1]);
    stop = true;
    await load;
    const pg = openPg(url, { pool: 1 });
    try {
      const [{ n }] = await pg.$client`SELECT count(*) AS n FROM events`;
      expect(n).toBe(copied);
      expect(copied).toBeGreaterThanOrEqual(200);
      expect(copied).toBeLessThanOrEqual(sent);
      // one snapshot: no indicator row without its event (a group commit is wholly in the copy or not at all)
      const [{ orphans }] = await pg.$client`SELECT count(*) AS orphans FROM event_indicators i WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = i.event_id)`;
      expect(orphans).toBe(0);
    } finally {
      await pg.$client.end({ timeout: 5 });
    }
  } finally {
    stop = true;
    await load.catch(() => {});
    await live.close();
  }
}, 90_000);
