// Retention: old events and pings are pruned in batches (SQLite: on the checkpointer thread;
// PostgreSQL: each batch a short transaction through the store); events of alerts that are not
// closed stay; on SQLite the nightly TRUNCATE checkpoint empties the WAL (the WAL file and its
// checkpointer are SQLite's own: PostgreSQL manages its WAL itself).
import { afterEach, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { loadConfig } from "../../src/config";
import { newId } from "../../src/lib/ids";
import { runRetention } from "../../src/scheduler";
import { pruneOld, pruneOldWith, type RetentionCutoffs, type RetentionOptions } from "../../src/store/retention";
import { event, json, startTestServer, TEST_STORE, type TestServer } from "../helpers";

const DAY = 86_400_000;
let s: TestServer | null = null;
afterEach(async () => {
  await s?.close();
  s = null;
});

const count = async (sql: string, ...args: any[]) => Number((await s!.sql(sql, ...args))[0]!.n);
/** A prune on the server's store outside the scheduler: SQLite on the main connection, PostgreSQL through the store. */
const prune = (cut: RetentionCutoffs, opts: RetentionOptions) => (s!.deps.sqlite ? pruneOld(s!.deps.sqlite!.db, cut, opts) : pruneOldWith(s!.deps.store.retention, cut, opts));

/** A server whose clock starts 40 days ago: what it ingests then is past the 30-day retention. */
async function agedServer() {
  let now = Date.now() - 40 * DAY;
  s = await startTestServer({}, () => now);
  const ids = async (r: Promise<Response>) => {
    const res = await r;
    expect(res.status).toBe(202);
    return ((await res.json()) as { ids: string[] }).ids;
  };
  const oldPlain = await ids(s.post("/api/v1/events", [event(1, { indicators: [{ type: "ip", value: "10.1.2.3" }] }), event(2), event(3)]));
  const [closedEv] = await ids(s.post("/v1/ingest/generic", { title: "disk full on a", severity: "High" }));
  const [openEv] = await ids(s.post("/v1/ingest/generic", { title: "disk full on b", severity: "High" }));
  const alerts = (await json(s.admin("GET", "/v1/alerts"))).items as { id: string; title: string }[];
  const closing = alerts.find((a) => a.title.includes(" a"))!;
  expect((await s.admin("PATCH", `/v1/alerts/${closing.id}`, { status: "closed", classification: "false_positive" })).status).toBe(200);
  now = Date.now();
  const fresh = await ids(s.post("/api/v1/events", [event(4), event(5)]));
  // pings: a heartbeat with pings from 40 days ago and from now (inserted as the writer would)
  const hb = await json(s.admin("POST", "/v1/heartbeats", { name: "nightly", period: 60 }));
  const ins = (id: string, at: number) => s!.sql("INSERT INTO heartbeat_pings (id, heartbeat_id, at, kind) VALUES (?1, ?2, ?3, 'success')", id, hb.id, at);
  for (let i = 0; i < 5; i++) await ins(newId(Date.now() - 40 * DAY + i), Date.now() - 40 * DAY + i);
  for (let i = 0; i < 3; i++) await ins(newId(), Date.now());
  return { oldPlain, closedEv, openEv, fresh, closedAlert: closing.id, heartbeat: hb.id as string };
}

test("the scheduled prune deletes events and pings past 30 days, keeps those of open alerts, and the closed alert itself", async () => {
  const d = await agedServer();
  expect(await count("SELECT count(*) AS n FROM events")).toBe(7);
  expect(await count("SELECT count(*) AS n FROM event_indicators WHERE event_id = ?1", d.oldPlain[0])).toBeGreaterThan(0);
  const r = await runRetention(s!.deps); // as the cron job does (SQLite: through the checkpointer thread)
  expect(r).toMatchObject({ events: 4, pings: 5, complete: true });
  const left = (await s!.sql("SELECT id FROM events ORDER BY id")).map((x) => x.id as string);
  expect(left).toEqual([d.openEv, ...d.fresh].sort());
  // indicators and the closed alert's links went with their events; the alert stays
  expect(await count("SELECT count(*) AS n FROM event_indicators WHERE event_id = ?1", d.oldPlain[0])).toBe(0);
  expect(await count("SELECT count(*) AS n FROM alert_events WHERE event_id = ?1", d.closedEv)).toBe(0);
  expect(await count("SELECT count(*) AS n FROM alerts WHERE id = ?1", d.closedAlert)).toBe(1);
  expect(await count("SELECT count(*) AS n FROM heartbeat_pings WHERE heartbeat_id = ?1", d.heartbeat)).toBe(3);
  // the API still answers for what is left, and 404s what went
  expect((await s!.admin("GET", `/v1/events/${d.openEv}`)).status).toBe(200);
  expect((await s!.admin("GET", `/v1/events/${d.oldPlain[0]}`)).status).toBe(404);
  // a second run finds nothing
  expect(await runRetention(s!.deps)).toMatchObject({ events: 0, pings: 0 });
});

test("batches: a small batch size walks past held events and still deletes every old one; 0 days keeps everything", async () => {
  const d = await agedServer();
  // retention 0 = keep forever: nothing goes
  const keepAll = { ...s!.deps, config: { ...s!.deps.config, eventRetention: 0, pingRetention: 0 } };
  expect(await runRetention(keepAll)).toMatchObject({ events: 0, pings: 0 });
  expect(await count("SELECT count(*) AS n FROM events")).toBe(7);
  // batches of 1 (SQLite: on the main connection): each batch its own transaction
  const r = await prune({ eventsBefore: Date.now() - 30 * DAY, pingsBefore: Date.now() - 30 * DAY }, { batch: 1, pauseMs: 0 });
  expect(r).toMatchObject({ events: 4, pings: 5, complete: true });
  expect(await count("SELECT count(*) AS n FROM events")).toBe(3);
  expect(await count("SELECT count(*) AS n FROM events WHERE id = ?1", d.openEv)).toBe(1);
  // the open alert closes: its event goes with the next prune
  const open = ((await json(s!.admin("GET", "/v1/alerts"))).items as { id: string; status: string }[]).find((a) => a.status !== "closed")!;
  expect((await s!.admin("PATCH", `/v1/alerts/${open.id}`, { status: "closed", classification: "true_positive" })).status).toBe(200);
  expect(await runRetention(s!.deps)).toMatchObject({ events: 1 });
  expect(await count("SELECT count(*) AS n FROM events")).toBe(2);
});

test("ingest goes on while a large prune runs (SQLite: on the checkpointer thread; PostgreSQL: batches through the store)", async () => {
  let now = Date.now() - 40 * DAY;
  s = await startTestServer({}, () => now);
  const batch = Array.from({ length: 500 }, (_, i) => event(i));
  for (let i = 0; i < 8; i++) expect((await s.post("/api/v1/events", batch)).status).toBe(202);
  now = Date.now();
  const cut = { eventsBefore: now - 30 * DAY, pingsBefore: null };
  const pruning = s.deps.sqlite ? s.deps.sqlite!.checkpointer.retention(cut, { batch: 200, pauseMs: 5 }) : pruneOldWith(s.deps.bgStore.retention, cut, { batch: 200, pauseMs: 5 });
  const lat: number[] = [];
  let done = false;
  pruning.finally(() => (done = true));
  let i = 0;
  while (!done || i < 20) {
    const t0 = performance.now();
    expect((await s.post("/api/v1/events", event(i++))).status).toBe(202);
    lat.push(performance.now() - t0);
    if (i > 2000) break;
  }
  const r = await pruning;
  expect(r).toMatchObject({ events: 4000, complete: true });
  lat.sort((a, b) => a - b);
  // every request was answered while the prune ran; none waited anywhere near the busy timeout
  expect(lat[lat.length - 1]).toBeLessThan(1000);
  expect(await count("SELECT count(*) AS n FROM events")).toBe(i);
});

test("delivery history, its attempts and finished jobs go after --delivery-retention; deliveries still retrying stay", async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
  const okRecv = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(null, { status: 204 }) });
  const badRecv = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("no", { status: 500 }) });
  try {
    for (const port of [okRecv.port, badRecv.port])
      expect((await s.admin("POST", "/v1/webhooks", { url: `http://127.0.0.1:${port}/h`, retry: { max_attempts: 5, initial_interval: 600, max_interval: 600 } })).status).toBe(201);
    expect((await s.post("/api/v1/events", [event(1), event(2)])).status).toBe(202);
    // an attempt's row is written when it starts (outcome 'started') and completed with its outcome
    const done = "SELECT count(*) AS n FROM delivery_attempts WHERE outcome <> 'started'";
    for (let i = 0; i < 200 && (await count(done)) < 4; i++) await Bun.sleep(25);
    expect(await count(done)).toBe(4);
    expect(await count("SELECT count(*) AS n FROM delivery_attempts")).toBe(4);
    const deliveries = () => s!.sql("SELECT status, count(*) AS n FROM deliveries GROUP BY status ORDER BY status");
    expect(await deliveries()).toEqual([{ status: "pending", n: 2 }, { status: "succeeded", n: 2 }]);
    // 29 days on: everything stays
    expect(await runRetention(s.deps, Date.now() + 29 * DAY)).toMatchObject({ deliveries: 0, jobs: 0 });
    // 31 days on: the delivered ones go with their attempts and jobs; the pending ones keep their deliveries
    expect(await runRetention(s.deps, Date.now() + 31 * DAY)).toMatchObject({ deliveries: 2, jobs: 2, complete: true });
    expect(await deliveries()).toEqual([{ status: "pending", n: 2 }]);
    expect(await count("SELECT count(*) AS n FROM jobs WHERE state = 'succeeded'")).toBe(0);
    expect(await count("SELECT count(*) AS n FROM jobs WHERE state = 'available'")).toBe(2);
    // (their old attempts are past the retention too: history older than 30 days is not kept)
    expect(await count("SELECT count(*) AS n FROM delivery_attempts")).toBe(0);
  } finally {
    okRecv.stop(true);
    badRecv.stop(true);
  }
});

test.skipIf(TEST_STORE === "postgres")("the nightly TRUNCATE checkpoint empties the WAL file (SQLite only: the WAL file)", async () => {
  s = await startTestServer();
  for (let i = 0; i < 5; i++) expect((await s.post("/api/v1/events", Array.from({ length: 50 }, (_, j) => event(j)))).status).toBe(202);
  const r = await s.deps.sqlite!.checkpointer.truncate();
  expect(r.busy).toBe(false);
  expect(statSync(`${s.dir}/keepwatch.db-wal`).size).toBe(0);
  expect((await s.post("/api/v1/events", event(1))).status).toBe(202);
});

test.skipIf(TEST_STORE === "postgres")("a long reader makes the TRUNCATE give up within a moment instead of holding ingest up (SQLite only: the WAL checkpoint)", async () => {
  s = await startTestServer();
  expect((await s.post("/api/v1/events", Array.from({ length: 50 }, (_, j) => event(j)))).status).toBe(202);
  const { Database } = await import("bun:sqlite");
  const reader = new Database(`${s.dir}/keepwatch.db`, { readonly: true });
  try {
    reader.exec("BEGIN");
    reader.query("SELECT count(*) FROM events").get(); // a read transaction holding its snapshot
    expect((await s.post("/api/v1/events", event(1))).status).toBe(202); // the WAL moves past the reader's snapshot
    const t0 = performance.now();
    const [r, ingest] = await Promise.all([s.deps.sqlite!.checkpointer.truncate(), s.post("/api/v1/events", event(2))]);
    expect(r.busy).toBe(true);
    expect(ingest.status).toBe(202);
    expect(performance.now() - t0).toBeLessThan(3000);
  } finally {
    reader.exec("COMMIT");
    reader.close();
  }
  expect((await s.deps.sqlite!.checkpointer.truncate()).busy).toBe(false);
});

test("retention settings are validated like the others", () => {
  expect(loadConfig([], {}).config).toMatchObject({ eventRetention: 30, pingRetention: 30, deliveryRetention: 30 });
  expect(loadConfig(["--event-retention", "7"], { KEEPWATCH_PING_RETENTION: "0" }).config).toMatchObject({ eventRetention: 7, pingRetention: 0 });
  expect(() => loadConfig([], { KEEPWATCH_EVENT_RETENTION: "-1" })).toThrow(/KEEPWATCH_EVENT_RETENTION="?-1"?.*days of events/);
  expect(() => loadConfig(["--ping-retention", "soon"], {})).toThrow(/--ping-retention/);
});
