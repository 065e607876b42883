// The operations domains (overview, retention, health, backup) on both stores. A seeded fuzz fills a
// SQLite database with raw rows of every table these domains read (events of two tenants over three
// days, alerts open and closed holding events, heartbeats in every state, webhooks with lanes,
// deliveries and attempts, jobs, pings); the PostgreSQL store gets the very same rows through
// migrate-to-postgres's copy. Then every function of the domains runs on both, and each answer is
// checked against the other store's and against figures computed here from the seed.
import { describe, expect, test } from "bun:test";
import { ulid } from "ulid";
import type { Db } from "../../src/db/client";
import { copySqliteToPg, openSqliteSource } from "../../src/store/migrate-to-pg";
import { pruneOldWith } from "../../src/store/retention";
import type { Store } from "../../src/store/contract";
import { seededRandom } from "../helpers";
import { makePgStore, makeSqliteStore } from "./both";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 10, 20, 12, 34, 56, 789);

type Seed = {
  rnd: () => number;
  events: { id: string; tenant: string; t: number }[];
  alerts: { id: string; tenant: string; status: string; severity: string; events: string[]; t: number }[];
  heartbeats: { tenant: string; state: string }[];
  pings: { id: string; at: number }[];
  deliveries: { id: string; status: string; t: number }[];
  attempts: { t: number }[];
  jobs: { state: string; finished: number | null }[];
};

const SEVERITIES: [string, number][] = [["info", 1], ["warning", 2], ["error", 3], ["critical", 4]];
const pick = <T>(rnd: () => number, xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;

/** Fills a SQLite database with a seeded set of rows; returns what it put there. */
function fill(db: Db, seedNo: number): Seed {
  const rnd = seededRandom(seedNo);
  const q = db.$client;
  const ins = (table: string, row: Record<string, unknown>) => {
    const cols = Object.keys(row);
    q.query(`INSERT INTO ${table} (${cols.join(", ")}) VALUES (${cols.map((_, i) => `?${i + 1}`).join(", ")})`).run(...(Object.values(row) as any[]));
  };
  const s: Seed = { rnd, events: [], alerts: [], heartbeats: [], pings: [], deliveries: [], attempts: [], jobs: [] };
  q.exec("BEGIN");
  for (const t of ["ta", "tb"]) ins("tenants", { id: t, name: `tenant-${t}`, created_at: NOW - 10 * DAY });
  const nEvents = 50 + Math.floor(rnd() * 250);
  for (let i = 0; i < nEvents; i++) {
    const t = NOW - Math.floor(rnd() * 3 * DAY);
    const [sev, rank] = pick(rnd, SEVERITIES);
    const e = { id: ulid(t), tenant: pick(rnd, ["ta", "ta", "tb"]), t };
    s.events.push(e);
    ins("events", {
      id: e.id, tenant_id: e.tenant, received_at: t, occurred_at: t - 1000, source_name: "generic", source: "fuzz", type: "check.failed", module: "custom",
      title: `e${i}`, summary: `event ${i}`, severity: sev, severity_rank: rank, tags: JSON.stringify(["a", `n${i % 3}`]), payload: "{}", raw_payload: `{"i":${i}}`,
    });
  }
  const nAlerts = Math.floor(rnd() * 30);
  for (let i = 0; i < nAlerts; i++) {
    const t = NOW - Math.floor(rnd() * 2 * DAY);
    const [sev, rank] = pick(rnd, SEVERITIES);
    const tenant = pick(rnd, ["ta", "tb"]);
    const mine = s.events.filter((e) => e.tenant === tenant);
    if (!mine.length) continue;
    const linked = [...new Set(Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => pick(rnd, mine).id))];
    const a = { id: ulid(t), tenant, status: pick(rnd, ["open", "triaging", "escalated", "closed", "closed"]), severity: sev, events: linked, t };
    s.alerts.push(a);
    ins("alerts", {
      id: a.id, tenant_id: tenant, fingerprint: `fp${i}`, title: `alert ${i}`, severity: sev, severity_rank: rank, status: a.status,
      enrichment_status: pick(rnd, ["pending", "enriched", "failed"]), tags: "[]", source_name: "generic", source: "fuzz",
      first_seen: t, last_seen: t + 5, count: 1 + i, first_event_id: linked[0], created_at: t, updated_at: t,
    });
    for (const ev of linked) ins("alert_events", { alert_id: a.id, event_id: ev });
  }
  const nHb = Math.floor(rnd() * 12);
  for (let i = 0; i < nHb; i++) {
    const h = { id: `hb${i}`, tenant: pick(rnd, ["ta", "tb"]), state: pick(rnd, ["new", "up", "late", "down", "paused"]) };
    s.heartbeats.push(h);
    ins("heartbeats", {
      id: h.id, tenant_id: h.tenant, name: `job-${String.fromCharCode(97 + ((i * 7) % 26))}${i}`, token: `tok${i}`, schedule_kind: "period", period_s: 60, grace_s: 30,
      severity: "error", state: h.state, due_at: h.state === "late" ? NOW - i * MIN : null, down_at: h.state === "down" ? NOW - i * HOUR : null,
      created_at: NOW - DAY, updated_at: NOW - DAY,
    });
    const pings = Math.floor(rnd() * 6);
    for (let k = 0; k < pings; k++) {
      const at = NOW - Math.floor(rnd() * 3 * DAY);
      const p = { id: ulid(at), at };
      s.pings.push(p);
      ins("heartbeat_pings", { id: p.id, heartbeat_id: h.id, at, kind: "success" });
    }
  }
  const nHooks = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < nHooks; i++) {
    const id = `wh${i}`;
    ins("webhooks", {
      id, tenant_id: pick(rnd, ["ta", "tb"]), name: `hook-${i}`, url: "https://example.test/", state: pick(rnd, ["active", "active", "disabled"]),
      disabled_reason: null, headers: "{}", triggers: '["*"]', filters: "{}", mode: "single", interval_s: 0, max_batch: 1, rate_limit: 0.5 * i,
      timeout_ms: 5000, retry: "{}", ordered: i % 2, secret: `whsec_${i}`, consecutive_failures: Math.floor(rnd() * 3), created_at: NOW - DAY, updated_at: NOW - DAY,
    });
    ins("job_lanes", { lane: id, queue: "webhooks", backlog: Math.floor(rnd() * 9), tat: 1.5 * i, dropped: i });
    const nd = Math.floor(rnd() * 8);
    for (let k = 0; k < nd; k++) {
      const t = NOW - Math.floor(rnd() * 40 * DAY);
      const d = { id: ulid(t), status: pick(rnd, ["pending", "succeeded", "failed", "held"]), t };
      s.deliveries.push(d);
      ins("deliveries", { id: d.id, tenant_id: "ta", webhook_id: id, kind: "message", type: "event.received", body: "{}", status: d.status, created_at: t, updated_at: t });
      const na = Math.floor(rnd() * 3);
      for (let a = 0; a < na; a++) {
        const st = t + a * HOUR;
        s.attempts.push({ t: st });
        ins("delivery_attempts", {
          delivery_id: d.id, webhook_id: id, attempt: a + 1, started_at: st, duration_ms: 12, url: "https://example.test/", request_headers: "{}",
          request_body: "{}", outcome: "failed",
        });
      }
    }
  }
  const nJobs = Math.floor(rnd() * 20);
  for (let i = 0; i < nJobs; i++) {
    const state = pick(rnd, ["available", "running", "succeeded", "failed", "dead"]);
    const finished = ["succeeded", "failed", "dead"].includes(state) ? NOW - Math.floor(rnd() * 40 * DAY) : null;
    s.jobs.push({ state, finished });
    ins("jobs", { queue: "enrichment", kind: "enrich", payload: "{}", state, max_attempts: 3, run_at: NOW - DAY, created_at: NOW - 41 * DAY, finished_at: finished });
  }
  q.exec("COMMIT");
  return s;
}

type Pair = { seed: Seed; stores: { kind: string; store: Store; count: (table: string) => Promise<number>; ids: (table: string) => Promise<string[]> }[] };

/** The same seeded rows in a SQLite store and (through the copy) in a PostgreSQL store. */
async function seeded(seedNo: number): Promise<Pair> {
  const lite = makeSqliteStore();
  const seed = fill(lite.db, seedNo);
  const pg = await makePgStore();
  const file = (lite.db.$client.query("PRAGMA database_list").all() as { name: string; file: string }[]).find((d) => d.name === "main")!.file;
  const src = openSqliteSource(file);
  try {
    await copySqliteToPg(src, pg.sql);
  } finally {
    src.close();
  }
  return {
    seed,
    stores: [
      {
        kind: "sqlite",
        store: lite.store,
        count: async (t) => (lite.db.$client.query(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n,
        ids: async (t) => (lite.db.$client.query(`SELECT id FROM ${t} ORDER BY id`).all() as { id: unknown }[]).map((r) => String(r.id)),
      },
      {
        kind: "postgres",
        store: pg.store,
        count: async (t) => Number((await pg.sql.unsafe(`SELECT count(*) AS n FROM ${t}`))[0]!.n),
        ids: async (t) => (await pg.sql.unsafe(`SELECT id FROM ${t} ORDER BY id`)).map((r) => String(r.id)),
      },
    ],
  };
}

const bySorted = <T>(xs: T[]) => [...xs].map((x) => JSON.stringify(x)).sort();

describe("operations domains on both stores (seeded fuzz)", () => {
  for (const seedNo of [1, 2, 3, 4]) {
    test(`seed ${seedNo}: overview, stateCounts, health, backup, retention agree with each other and with the seed`, async () => {
      const { seed, stores } = await seeded(seedNo);
      const answers: Record<string, unknown>[] = [];
      // retention cut-offs drawn from the seed, the same for both stores
      const c = { eventsBefore: NOW - Math.floor(seed.rnd() * 3 * DAY), pingsBefore: NOW - Math.floor(seed.rnd() * 3 * DAY), deliveriesBefore: NOW - 30 * DAY };
      for (const { kind, store, count, ids } of stores) {
        const o = await store.overview.overview("ta", NOW);
        // figures computed from the seed
        const ta = seed.events.filter((e) => e.tenant === "ta");
        expect({ kind, seedNo, lastHour: o.eventsLastHour, lastDay: o.eventsLastDay }).toEqual({
          kind, seedNo, lastHour: ta.filter((e) => e.t >= NOW - HOUR).length, lastDay: ta.filter((e) => e.t >= NOW - DAY).length,
        });
        expect(o.eventsPerMinute).toHaveLength(1440);
        expect(o.eventsPerMinute.reduce((a, n) => a + n, 0)).toBe(ta.filter((e) => e.t >= o.minuteStart).length);
        expect(o.alertsPerHour.reduce((a, n) => a + n, 0)).toBe(seed.alerts.filter((a) => a.tenant === "ta" && a.t >= o.hourStart).length);
        const open = seed.alerts.filter((a) => a.tenant === "ta" && a.status !== "closed");
        expect(o.openAlerts.reduce((a, r) => a + r.n, 0)).toBe(open.length);
        expect(o.newestOpen.map((a) => a.id)).toEqual(open.map((a) => a.id).sort().reverse().slice(0, 10));
        expect(o.heartbeats.reduce((a, r) => a + r.n, 0)).toBe(seed.heartbeats.filter((h) => h.tenant === "ta").length);
        const sc = await store.overview.stateCounts();
        expect(sc.heartbeats.reduce((a, r) => a + r.n, 0)).toBe(seed.heartbeats.length);
        expect(sc.alerts.reduce((a, r) => a + r.n, 0)).toBe(seed.alerts.filter((a) => a.status !== "closed").length);
        // health
        expect(await store.health.checkWritable()).toBeNull();
        const size = await store.health.databaseSize();
        expect(size.find((p) => p.part === "db")!.bytes).toBeGreaterThan(0);
        expect(size.map((p) => p.part)).toEqual(kind === "sqlite" ? ["db", "wal"] : ["db"]);
        answers.push({ ...o, openAlerts: bySorted(o.openAlerts), heartbeats: bySorted(o.heartbeats), stateCounts: { h: bySorted(sc.heartbeats), a: bySorted(sc.alerts), e: bySorted(sc.enrichment) } });
        // backup: SQLite copies (backup.test covers it); PostgreSQL points to pg_dump
        if (kind === "postgres") await expect(store.backup.backupTo("/tmp/never.db")).rejects.toThrow(/pg_dump --format=custom/);
        // retention in small batches, so that every walk takes several
        const r = await pruneOldWith(store.retention, c, { batch: 7, pauseMs: 0 });
        const held = new Set(seed.alerts.filter((a) => a.status !== "closed").flatMap((a) => a.events));
        const goneEvents = seed.events.filter((e) => e.t < c.eventsBefore! && !held.has(e.id));
        const goneDeliveries = seed.deliveries.filter((d) => d.t < c.deliveriesBefore && d.status !== "pending");
        const goneJobs = seed.jobs.filter((j) => j.finished !== null && j.finished < c.deliveriesBefore);
        expect({ kind, seedNo, events: r.events, pings: r.pings, deliveries: r.deliveries, jobs: r.jobs, complete: r.complete }).toEqual({
          kind, seedNo, events: goneEvents.length, pings: seed.pings.filter((p) => p.at < c.pingsBefore!).length, deliveries: goneDeliveries.length, jobs: goneJobs.length, complete: true,
        });
        expect(await count("events")).toBe(seed.events.length - goneEvents.length);
        // stray attempts older than the cut-off go too: none is left
        expect(seed.attempts.length === 0 || (await count("delivery_attempts")) <= seed.attempts.filter((a) => a.t >= c.deliveriesBefore).length).toBe(true);
        answers[answers.length - 1]!.left = { events: await ids("events"), pings: await ids("heartbeat_pings"), deliveries: await ids("deliveries"), attempts: await count("delivery_attempts"), jobs: await count("jobs") };
      }
      // the two stores answered alike, to the row
      expect(answers[1]).toEqual(answers[0]!);
    }, 60_000);
  }

  test("retention batches one at a time: the walk resumes after the last id looked at, and stops at the first new-enough event", async () => {
    const { seed, stores } = await seeded(9);
    const sorted = [...seed.events].sort((a, b) => (a.id < b.id ? -1 : 1));
    const before = sorted[Math.floor(sorted.length / 2)]!.t;
    for (const { kind, store } of stores) {
      let after = "";
      let deleted = 0;
      let steps = 0;
      for (;;) {
        const b = await store.retention.pruneEventsBatch(before, after, 5);
        deleted += b.deleted;
        steps++;
        if (b.last === null) break;
        expect(b.last > after).toBe(true);
        after = b.last;
      }
      const held = new Set(seed.alerts.filter((a) => a.status !== "closed").flatMap((a) => a.events));
      expect({ kind, deleted }).toEqual({ kind, deleted: seed.events.filter((e) => e.t < before && !held.has(e.id)).length });
      expect(steps).toBeGreaterThan(1);
    }
  }, 60_000);
});
