// The alerting domains on both stores (alerts, rules, heartbeats, heartbeat transitions, enrichment)
// and the commit hook chain: every contract function walked once per store; alert dedup within the
// window; thresholds; rule tags and suppress; the heartbeat lifecycle (new → up → late → down → up,
// pause, resume) with its flips and alert; a seeded mix of events through the hook chain gives the
// same alerts on PostgreSQL as on SQLite; and on PostgreSQL two stores racing over many due
// heartbeats make exactly one flip and one alert each.
//
// Time: the PostgreSQL heartbeat units take their clock from the database (deadlines replicas agree
// on), so the heartbeat tests run on the real clock on both stores (periods of one second).
import { describe, expect, test } from "bun:test";
import type postgres from "postgres";
import { commitGroup } from "../../src/ingest/commit";
import { commitHooks, enrichmentStats, setOutbox, type Outbox } from "../../src/ingest/hooks";
import { pgEnrichmentStats } from "../../src/store/pg/alerting";
import type { NormalizedEvent } from "../../src/core/event";
import { SEVERITIES, SEVERITY_RANK, type Severity } from "../../src/core/severity";
import { openPg } from "../../src/db/pg-client";
import { migratePg } from "../../src/db/pg-migrate";
import { inTx, type PgConn, type Store } from "../../src/store/contract";
import { pgStore } from "../../src/store/index";
import { pgCommitHooks, setPgOutbox, type PgOutbox } from "../../src/store/pg/hooks";
import { pgStoreMany } from "../../src/store/pg/events";
import { newId } from "../../src/lib/ids";
import { seededRandom } from "../helpers";
import { makePgStore, makeSqliteStore, sharedCluster } from "./both";

type Raw = (q: string, args?: unknown[]) => Promise<Record<string, any>[]>;
type H = {
  kind: "sqlite" | "postgres";
  store: Store;
  /** a raw query; $1.. placeholders on both */
  raw: Raw;
  /** stores events as ingest does: the whole hook chain, in one transaction */
  commit(tenantId: string, evs: NormalizedEvent[], now: number): Promise<void>;
  /** stores several requests' events as one group commit does (the hook chain per request on SQLite, for the group at once on PostgreSQL) */
  commitMany(tenantId: string, reqs: NormalizedEvent[][], now: number): Promise<void>;
  /** stores events without hooks (for calling the domain functions by hand) */
  insert(evs: NormalizedEvent[]): Promise<void>;
};

const EVENT_SQL = `INSERT INTO events (id, tenant_id, received_at, occurred_at, source_name, source, type, module, title, summary,
  severity, severity_rank, severity_raw, host, tags, payload, raw_payload, dedup_key, external_id, warnings)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`;
const eventArgs = (e: NormalizedEvent) => [
  e.id, e.tenantId, e.receivedAt, e.occurredAt, e.sourceName, e.source, e.type, e.module, e.title, e.summary,
  e.severity, SEVERITY_RANK[e.severity], e.severityRaw, e.host, JSON.stringify(e.tags), e.payloadJson, e.rawJson, e.dedupKey, e.externalId, null,
];

function sqliteH(): H {
  const { store, db } = makeSqliteStore();
  const raw: Raw = async (q, args = []) => db.$client.query(q.replace(/\$(\d+)/g, "?$1")).all(...(args as any[])) as Record<string, any>[];
  return {
    kind: "sqlite",
    store,
    raw,
    async commit(tenantId, evs, now) {
      const r = commitGroup(db, [{ tenantId, route: "test", idempotencyKey: null, events: evs }], commitHooks, now);
      if (!r[0].ok) throw new Error(r[0].message);
    },
    async commitMany(tenantId, reqs, now) {
      const r = commitGroup(db, reqs.map((events) => ({ tenantId, route: "test", idempotencyKey: null, events })), commitHooks, now);
      for (const x of r) if (!x.ok) throw new Error(x.message);
    },
    async insert(evs) {
      for (const e of evs) {
        db.$client.query(EVENT_SQL.replace(/\$(\d+)/g, "?$1")).run(...(eventArgs(e) as any[]));
        for (const i of e.indicators) db.$client.query("INSERT INTO event_indicators (event_id, tenant_id, type, value, origin) VALUES (?1, ?2, ?3, ?4, ?5)").run(e.id, e.tenantId, i.type, i.value, i.origin);
      }
    },
  };
}

async function pgInsert(tx: PgConn, evs: NormalizedEvent[]) {
  for (const e of evs) {
    const a = eventArgs(e);
    a[14] = JSON.stringify(e.tags);
    await tx.unsafe(EVENT_SQL.replace("$15", "$15::text::jsonb"), a as any[]);
    for (const i of e.indicators)
      await tx`INSERT INTO event_indicators (event_id, tenant_id, type, value, origin) VALUES (${e.id}, ${e.tenantId}, ${i.type}, ${i.value}, ${i.origin})`;
  }
}

function pgH(store: Store, sql: postgres.Sql<{}>): H {
  return {
    kind: "postgres",
    store,
    raw: async (q, args = []) => [...(await sql.unsafe(q, args as any[]))] as Record<string, any>[],
    // the shape of the PostgreSQL group commit: before-hooks, insert, after-hooks, one transaction
    async commit(tenantId, evs, now) {
      await inTx(sql, async (tx) => {
        for (const h of pgCommitHooks) await h.before?.(tx, tenantId, evs, now);
        await pgInsert(tx, evs);
        for (const h of pgCommitHooks) await h(tx, tenantId, evs, now);
      });
    },
    async commitMany(tenantId, reqs, now) {
      await inTx(sql, (tx) => pgStoreMany(tx, reqs.map((events) => ({ tenantId, route: "test", idempotencyKey: null, events })), pgCommitHooks, now));
    },
    insert: (evs) => inTx(sql, (tx) => pgInsert(tx, evs)),
  };
}

const makers: [string, () => Promise<H>][] = [
  ["sqlite", async () => sqliteH()],
  [
    "postgres",
    async () => {
      const { store, sql } = await makePgStore();
      return pgH(store, sql);
    },
  ],
];

// a fresh tenant id per test: the process's rule and heartbeat-filter caches are keyed by tenant
// (one database per server in real life; here many databases share the test process)
let tenantSeq = 0;
async function tenant(h: H, id = `t${process.pid}x${++tenantSeq}`) {
  await h.raw("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)", [id, id, 1]);
  return id;
}

let evSeq = 0;
function ev(tenantId: string, now: number, o: Partial<NormalizedEvent> = {}): NormalizedEvent {
  const id = o.id ?? newId(now);
  const payload = JSON.stringify({ n: ++evSeq, ...(o.host ? { host: o.host } : {}) });
  return {
    id,
    tenantId,
    receivedAt: now,
    occurredAt: now,
    sourceName: "generic",
    source: "app",
    type: "alert",
    module: "generic",
    title: "disk full",
    summary: "",
    severity: "high",
    severityRaw: null,
    host: null,
    tags: [],
    payloadJson: payload,
    rawJson: ` ${payload} `,
    dedupKey: null,
    externalId: null,
    indicators: [],
    warnings: [],
    resolve: false,
    opensAlert: true,
    ...o,
  };
}
const clone = (e: NormalizedEvent): NormalizedEvent => structuredClone(e);

for (const [kind, make] of makers) {
  describe(`alerting store (${kind})`, () => {
    test("alerts: open, dedup within the window, worse severity, resolve; list filters, detail, triage, comments", async () => {
      const h = await make();
      const s = h.store;
      const t = await tenant(h);
      const T0 = 1_700_000_000_000;
      const e1 = ev(t, T0, { severity: "medium", dedupKey: "k1", tags: ["x"] });
      const e2 = ev(t, T0 + 1000, { severity: "critical", dedupKey: "k1" });
      const e3 = ev(t, T0 + 2000, { dedupKey: "k2", title: "CPU Hot" });
      await h.insert([e1, e2, e3]);
      const c1 = await s.alerts.alertsFromEvents(t, [e1], T0, 60_000);
      expect(c1.map((c) => c.change)).toEqual(["opened"]);
      const c2 = await s.alerts.alertsFromEvents(t, [e2, e3], T0 + 1000, 60_000);
      expect(c2.map((c) => c.change)).toEqual(["updated", "opened"]);
      expect(c2[0].alertId).toBe(c1[0].alertId);
      const a1 = (await s.alerts.alertById(c1[0].alertId))!;
      expect(a1).toMatchObject({ count: 2, severity: "critical", severityRank: SEVERITY_RANK.critical, status: "open", tags: '["x"]', firstEventId: e1.id, tenantId: t });
      expect(await s.alerts.alertById("nope")).toBeUndefined();
      // outside the window: a new alert with the same fingerprint
      const e4 = ev(t, T0 + 120_000, { dedupKey: "k1" });
      await h.insert([e4]);
      const c4 = await s.alerts.alertsFromEvents(t, [e4], T0 + 120_000, 60_000);
      expect(c4[0].change).toBe("opened");
      expect(c4[0].alertId).not.toBe(c1[0].alertId);
      // a resolve closes the open one; a resolve for nothing opens nothing
      const e5 = ev(t, T0 + 121_000, { dedupKey: "k1", resolve: true });
      const e6 = ev(t, T0 + 121_000, { dedupKey: "never", resolve: true });
      await h.insert([e5, e6]);
      const c5 = await s.alerts.alertsFromEvents(t, [e5, e6], T0 + 121_000, 60_000);
      expect(c5).toEqual([{ alertId: c4[0].alertId, change: "closed" }]);
      expect(await s.alerts.getAlert(t, c4[0].alertId)).toMatchObject({ status: "closed", classification: "resolved", closedAt: T0 + 121_000 });
      expect(await s.alerts.getAlert("other", c4[0].alertId)).toBeUndefined();
      // events not opening alerts are skipped
      const e7 = ev(t, T0 + 122_000, { opensAlert: false });
      await h.insert([e7]);
      expect(await s.alerts.alertsFromEvents(t, [e7], T0 + 122_000, 60_000)).toEqual([]);

      const ids = async (f: Partial<Parameters<Store["alerts"]["listAlerts"]>[1]>) => (await s.alerts.listAlerts(t, { limit: 50, ...f })).map((a) => a.id);
      const all = await ids({});
      expect(all).toEqual([c4[0].alertId, c2[1].alertId, c1[0].alertId]); // newest first
      expect(await ids({ status: "closed" })).toEqual([c4[0].alertId]);
      expect(await ids({ notClosed: true })).toEqual([c2[1].alertId, c1[0].alertId]);
      expect(await ids({ minSeverityRank: SEVERITY_RANK.critical })).toEqual([c1[0].alertId]);
      expect(await ids({ text: "cPu" })).toEqual([c2[1].alertId]); // case-insensitive (ASCII), like SQLite's LIKE
      expect(await ids({ text: "100%" })).toEqual([]);
      expect(await ids({ text: a1.fingerprint })).toEqual([c4[0].alertId, c1[0].alertId]); // the same source fingerprint
      expect(await ids({ before: all[0], limit: 1 })).toEqual([all[1]]);
      expect(await ids({ since: T0 + 120_000 })).toEqual([c4[0].alertId]);
      expect(await ids({ until: T0 + 120_000 })).toEqual([c2[1].alertId, c1[0].alertId]);
      expect(await ids({ sourceName: "generic", source: "app" })).toEqual(all);
      expect(await ids({ sourceName: "other" })).toEqual([]);
      expect(await ids({ assignee: "" })).toEqual(all);
      expect(await ids({ ruleId: "r" })).toEqual([]);

      expect((await s.alerts.alertEventsOf(a1.id)).map((e) => e.id)).toEqual([e2.id, e1.id]);
      expect((await s.alerts.alertEventsOf(a1.id))[0]).toEqual({ id: e2.id, title: e2.title, severity: "critical", receivedAt: e2.receivedAt, source: "app", sourceName: "generic", type: "alert" });
      expect(await s.alerts.rawPayloadOfEvent(e1.id)).toBe(e1.rawJson); // byte for byte
      expect(await s.alerts.rawPayloadOfEvent("none")).toBeNull();
      expect((await s.alerts.timelineOf(a1.id)).map((x) => x.kind)).toEqual(["opened"]);

      // triage: compare-and-set on what the caller saw
      const now = T0 + 200_000;
      expect(await s.alerts.updateAlert(a1, { status: "triaging", assignee: "ann" }, "key:1", now)).toBe(true);
      expect(await s.alerts.updateAlert(a1, { status: "escalated" }, "key:1", now + 1)).toBe(false); // stale
      const a2 = (await s.alerts.alertById(a1.id))!;
      expect(a2).toMatchObject({ status: "triaging", assignee: "ann", updatedAt: now });
      expect(await s.alerts.updateAlert(a2, {}, "key:1", now + 2)).toBe(true); // nothing to change
      expect(await s.alerts.updateAlert(a2, { status: "closed", classification: "false_positive" }, "key:2", now + 3)).toBe(true);
      const a3 = (await s.alerts.alertById(a1.id))!;
      expect(a3).toMatchObject({ status: "closed", classification: "false_positive", closedAt: now + 3 });
      expect(await s.alerts.updateAlert(a3, { status: "open" }, "key:2", now + 4)).toBe(true);
      expect(await s.alerts.alertById(a1.id)).toMatchObject({ status: "open", classification: null, closedAt: null });
      const c = await s.alerts.addComment(a1.id, "looks bad", "key:3", now + 5);
      expect(c).toMatchObject({ alertId: a1.id, kind: "comment", actor: "key:3", data: JSON.stringify({ body: "looks bad" }) });
      const tl = await s.alerts.timelineOf(a1.id);
      expect(tl.map((x) => [x.kind, x.actor])).toEqual([
        ["opened", "system"],
        ["status", "key:1"],
        ["assigned", "key:1"],
        ["status", "key:2"],
        ["reopened", "key:2"],
        ["comment", "key:3"],
      ]);
      expect(JSON.parse(tl[3].data)).toEqual({ from: "triaging", to: "closed", classification: "false_positive" });
    });

    test("rules: CRUD; tags, suppress, alert rules, thresholds through the hook chain; hit counts; pruning", async () => {
      const h = await make();
      const s = h.store;
      const t = await tenant(h);
      const T0 = 1_700_000_000_000;
      const f = (type: string) => JSON.stringify({ field: "type", op: "eq", value: type });
      const tag = await s.rules.createRule({ tenantId: t, name: "tag", enabled: true, filter: f("login"), threshold: null, action: JSON.stringify({ kind: "tag", tags: ["auth", "x"] }) }, T0);
      const sup = await s.rules.createRule({ tenantId: t, name: "sup", enabled: true, filter: f("noise"), threshold: null, action: JSON.stringify({ kind: "suppress" }) }, T0);
      const thr = await s.rules.createRule(
        { tenantId: t, name: "thr", enabled: true, filter: f("login"), threshold: JSON.stringify({ count: 3, window: 60, group_by: ["host"] }), action: JSON.stringify({ kind: "alert", title: "brute force", severity: "critical" }) },
        T0,
      );
      const off = await s.rules.createRule({ tenantId: t, name: "off", enabled: false, filter: f("login"), threshold: null, action: JSON.stringify({ kind: "alert" }) }, T0);
      expect(await s.rules.getRule(t, tag.id)).toEqual(tag);
      expect(await s.rules.getRule("other", tag.id)).toBeUndefined();
      expect((await s.rules.listRules(t)).map((r) => r.name)).toEqual(["tag", "sup", "thr", "off"]);
      expect(JSON.parse((await s.rules.getRule(t, thr.id))!.threshold!)).toEqual({ count: 3, window: 60, group_by: ["host"] });
      await s.rules.updateRule(off.id, { name: "off2", threshold: JSON.stringify({ count: 2, window: 5 }) }, T0 + 1);
      expect(await s.rules.getRule(t, off.id)).toMatchObject({ name: "off2", enabled: false, updatedAt: T0 + 1 });
      expect(await s.rules.deleteRule(t, off.id)).toBe(true);
      expect(await s.rules.deleteRule(t, off.id)).toBe(false);

      // a noise event from an alert source: suppressed (no alert); a login tagged
      const noise = ev(t, T0 + 10, { type: "noise", dedupKey: "n" });
      await h.commit(t, [noise], T0 + 10);
      expect(await s.alerts.listAlerts(t, { limit: 10 })).toEqual([]);
      // logins from two hosts: the threshold (3 per host within 60 s) opens one alert, for host a
      const logins = [1, 2, 3, 4].map((i) => ev(t, T0 + 100 * i, { type: "login", opensAlert: false, host: i % 2 ? "a" : "b", tags: ["seen"] }));
      for (const e of logins) await h.commit(t, [e], e.receivedAt);
      expect(await s.alerts.listAlerts(t, { limit: 10 })).toEqual([]); // a has 2 so far
      const fifth = ev(t, T0 + 500, { type: "login", opensAlert: false, host: "a" });
      await h.commit(t, [fifth], T0 + 500);
      const [a] = await s.alerts.listAlerts(t, { limit: 10 });
      expect(a).toMatchObject({ title: "brute force", severity: "critical", ruleId: thr.id, count: 3, firstSeen: T0 + 100, tags: '["auth","x"]' }); // the tags of the event that made it
      // the later hit of host a joins it (dedup); the threshold is counted again
      const sixth = ev(t, T0 + 600, { type: "login", opensAlert: false, host: "a" });
      await h.commit(t, [sixth], T0 + 600);
      const [a2] = await s.alerts.listAlerts(t, { limit: 10 });
      expect(a2.id).toBe(a.id);
      expect(a2.count).toBe(4);
      expect((await s.alerts.alertEventsOf(a.id)).map((e) => e.id).sort()).toEqual([logins[0].id, logins[2].id, fifth.id, sixth.id].sort());
      expect(await s.alerts.listAlerts(t, { limit: 10, ruleId: thr.id })).toHaveLength(1);
      const tags = await h.raw("SELECT tags FROM events WHERE id = $1", [sixth.id]);
      expect(typeof tags[0].tags === "string" ? JSON.parse(tags[0].tags) : tags[0].tags).toEqual(["auth", "x"]);
      const hits = await h.raw("SELECT name, hits, last_hit_at FROM rules ORDER BY id");
      expect(hits.map((r) => [r.name, Number(r.hits), r.last_hit_at === null ? null : Number(r.last_hit_at)])).toEqual([
        ["tag", 6, T0 + 600],
        ["sup", 1, T0 + 10],
        ["thr", 6, T0 + 600],
      ]);
      // an alert opened by a rule has its enrichment settled (no indicators)
      expect((await s.enrichment.enrichTarget(a.id))!.enrichmentStatus).toBe("enriched");
      // rule hits older than the window go
      expect(Number((await h.raw("SELECT count(*) AS n FROM rule_hits"))[0].n)).toBe(6);
      expect(await s.rules.pruneRuleHits(T0 + 60_000 + 350)).toBe(3);
      expect(await s.rules.pruneRuleHits(T0 + 10 * 60_000)).toBe(3);
    });

    test("enrichment: enqueue, indicators, settle, requeue, save (tags, severity never lowered), results", async () => {
      const h = await make();
      const s = h.store;
      const t = await tenant(h);
      const T0 = 1_700_000_000_000;
      const e1 = ev(t, T0, { indicators: [{ type: "ip", value: "10.0.0.2", origin: "auto" }, { type: "domain", value: "b.example", origin: "auto" }] as any, dedupKey: "e" });
      const e2 = ev(t, T0, { dedupKey: "f" });
      await h.insert([e1, e2]);
      const [c1, c2] = await s.alerts.alertsFromEvents(t, [e1, e2], T0, 60_000);
      expect(await s.enrichment.alertHasIndicators(c1.alertId)).toBe(true);
      expect(await s.enrichment.alertHasIndicators(c2.alertId)).toBe(false);
      expect(await s.enrichment.alertIndicators(c1.alertId, 10)).toEqual([
        { type: "domain", value: "b.example" },
        { type: "ip", value: "10.0.0.2" },
      ]);
      expect(await s.enrichment.alertIndicators(c1.alertId, 1)).toHaveLength(1);
      await s.enrichment.enqueueEnrichment(c1.alertId, T0);
      await s.enrichment.enqueueEnrichment(c1.alertId, T0); // idempotent
      const jobs = await h.raw("SELECT queue, kind, payload, state, max_attempts, idempotency_key FROM jobs ORDER BY id");
      expect(jobs.map((j) => ({ ...j, max_attempts: Number(j.max_attempts) })) as unknown[]).toEqual([
        { queue: "enrichment", kind: "enrich", payload: JSON.stringify({ alert: c1.alertId }), state: "available", max_attempts: 0, idempotency_key: `enrich:${c1.alertId}` },
      ]);
      await s.enrichment.settleWithoutIndicators(c2.alertId, T0 + 1);
      expect(await s.enrichment.enrichTarget(c2.alertId)).toEqual({ id: c2.alertId, tenantId: t, severity: "high", tags: [], enrichmentStatus: "enriched" });
      expect(await s.enrichment.enrichTarget("none")).toBeNull();
      // a requeue while pending does nothing; after an outcome, a new job and a timeline entry
      expect(await s.enrichment.requeueEnrichment(c1.alertId, "key:1", T0 + 2)).toBe(false);
      const out = {
        status: "enriched" as const,
        error: null,
        results: [
          { type: "ip", value: "10.0.0.2", results: { b: 1, a: [2] } },
          { type: "domain", value: "b.example", results: null },
        ],
        addTags: ["watch", "watch"],
        raiseTo: "critical" as Severity,
        summary: { indicators: 2 },
      };
      expect(await s.enrichment.saveEnrichment(c1.alertId, out, T0 + 3)).toEqual({ changed: true });
      expect(await s.alerts.alertById(c1.alertId)).toMatchObject({ severity: "critical", severityRank: SEVERITY_RANK.critical, tags: '["watch"]', enrichmentStatus: "enriched", updatedAt: T0 + 3 });
      // again: nothing new (no tag added, severity never lowered)
      expect(await s.enrichment.saveEnrichment(c1.alertId, { ...out, raiseTo: "low", status: "failed", error: "boom", results: [{ type: "ip", value: "10.0.0.2", results: { c: 3 } }] }, T0 + 4)).toEqual({ changed: false });
      expect(await s.alerts.alertById(c1.alertId)).toMatchObject({ severity: "critical", enrichmentStatus: "failed", enrichmentError: "boom", updatedAt: T0 + 3 });
      expect(await s.enrichment.enrichmentOf(c1.alertId)).toEqual([
        { type: "domain", value: "b.example", results: null, updated_at: T0 + 3 },
        { type: "ip", value: "10.0.0.2", results: { c: 3 }, updated_at: T0 + 4 },
      ]);
      expect(await s.enrichment.saveEnrichment("none", { ...out, results: [] }, T0)).toEqual({ changed: false });
      expect(await s.enrichment.requeueEnrichment(c1.alertId, "key:1", T0 + 5)).toBe(true);
      expect((await s.enrichment.enrichTarget(c1.alertId))!.enrichmentStatus).toBe("pending");
      expect((await h.raw("SELECT idempotency_key AS k FROM jobs ORDER BY id")).map((r) => r.k)).toEqual([`enrich:${c1.alertId}`, `enrich:${c1.alertId}:${T0 + 5}`]);
      const tl = await s.alerts.timelineOf(c1.alertId);
      expect(tl.map((x) => x.kind)).toEqual(["opened", "enriched", "enrichment_failed", "enrichment_requested"]);
      expect(JSON.parse(tl[1].data)).toEqual({ indicators: 2, severity: { from: "high", to: "critical" } });
      expect(JSON.parse(tl[2].data)).toEqual({ indicators: 2, error: "boom" });
    });

    test("heartbeats: settings, lifecycle new → up → late → down → up, pause, resume, with flips and one alert; ping target; delete", async () => {
      const h = await make();
      const s = h.store;
      const t = await tenant(h);
      const base = { tenantId: t, scheduleKind: "period", cron: null, tz: null, maxRuntimeS: null, severity: "critical", filter: null };
      // grace 2 s: a loaded machine may sweep late, and "late" must still be seen before "down"
      const hb = await s.heartbeats.createHeartbeat({ ...base, name: "job", periodS: 1, graceS: 2 }, Date.now());
      const other = await s.heartbeats.createHeartbeat({ ...base, name: "another", periodS: 3600, graceS: 0 }, Date.now());
      expect(await s.heartbeats.getHeartbeat(t, hb.id)).toEqual(hb);
      expect(await s.heartbeats.getHeartbeat("x", hb.id)).toBeUndefined();
      expect((await s.heartbeats.listHeartbeats(t)).map((x) => x.name)).toEqual(["another", "job"]);
      expect(await s.heartbeats.pingTarget(hb.token)).toEqual({ id: hb.id, tenantId: t });
      expect(await s.heartbeats.pingTarget("nope")).toBeUndefined();
      expect(await s.heartbeats.earliestDeadline()).toBeNull();
      expect(await s.heartbeatTransitions.ping("missing", { kind: "success" }, Date.now())).toBeNull();

      const sweep = async () => {
        let moved = 0;
        for (;;) {
          const r = await s.heartbeatTransitions.sweepOverdue("deadline", Date.now(), 100);
          moved += r.moved;
          if (r.seen < 100 || r.moved === 0) return moved;
        }
      };
      // the outbound messages of the flips (each in the flip's transaction)
      const rec = recorders();
      const sent = kind === "sqlite" ? rec.sqlite : rec.pg;
      setOutbox(rec.so);
      setPgOutbox(rec.po);
      const up = (await s.heartbeatTransitions.ping(hb.id, { kind: "success", method: "GET", remote: "1.2.3.4", body: "hello" }, Date.now()))!;
      expect(up.state).toBe("up");
      expect(up.nextDeadline).toBe(up.dueAt);
      expect(await s.heartbeats.earliestDeadline()).toBe(up.dueAt);
      expect(await sweep()).toBe(0); // not due yet
      await Bun.sleep(up.dueAt! - Date.now() + 150);
      expect(await sweep()).toBe(1);
      expect((await s.heartbeats.getHeartbeat(t, hb.id))!.state).toBe("late");
      await Bun.sleep(up.downAt! - Date.now() + 150);
      expect(await sweep()).toBe(1);
      const down = (await s.heartbeats.getHeartbeat(t, hb.id))!;
      expect(down.state).toBe("down");
      let alerts = await s.alerts.listAlerts(t, { limit: 10 });
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ sourceName: "heartbeat", source: "job", status: "open", severity: "critical", title: "job is down" });
      // a failure while down changes nothing; a beat brings it up and resolves the alert
      await s.heartbeatTransitions.ping(hb.id, { kind: "fail", exitCode: 3 }, Date.now());
      await s.heartbeatTransitions.ping(hb.id, { kind: "start" }, Date.now());
      const back = (await s.heartbeatTransitions.ping(hb.id, { kind: "success" }, Date.now()))!;
      expect(back.state).toBe("up");
      alerts = await s.alerts.listAlerts(t, { limit: 10 });
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ status: "closed", classification: "resolved" });
      setOutbox(null);
      setPgOutbox(null);
      expect(sent.map((x) => (x.kind === "emit" ? [x.type, x.type.startsWith("alert.") ? x.data.status : x.data.name] : [x.kind]))).toEqual([
        ["alert.opened", "open"],
        ["heartbeat.down", "job"],
        ["alert.closed", "closed"],
        ["heartbeat.up", "job"],
      ]);
      // pause / resume
      expect(await s.heartbeatTransitions.pauseOrResume(t, hb.id, "pause", Date.now())).toMatchObject({ state: "paused", nextDeadline: null });
      expect(await s.heartbeatTransitions.pauseOrResume(t, hb.id, "pause", Date.now())).toMatchObject({ state: "paused" });
      expect((await s.heartbeatTransitions.ping(hb.id, { kind: "success" }, Date.now()))!.state).toBe("paused"); // a beat never ends a pause
      expect(await s.heartbeatTransitions.pauseOrResume(t, hb.id, "resume", Date.now())).toMatchObject({ state: "new" });
      expect(await s.heartbeatTransitions.pauseOrResume("x", hb.id, "resume", Date.now())).toBeNull();
      const flips = (await s.heartbeats.listFlips(hb.id)).reverse();
      expect(flips.map((f) => `${f.fromState}>${f.toState}`)).toEqual(["new>up", "up>late", "late>down", "down>up", "up>paused", "paused>new"]);
      expect(flips[1].at).toBe(up.dueAt!); // dated at the deadline, not when the sweep noticed
      expect(flips[2].at).toBe(up.downAt!);
      const recent = await s.heartbeats.recentFlipsByHeartbeat(t, 2);
      expect([...recent.keys()]).toEqual([hb.id]);
      expect(recent.get(hb.id)!.map((f) => `${f.from}>${f.to}`).sort()).toEqual(["paused>new", "up>paused"]);
      const pings = await s.heartbeats.listPings(hb.id);
      expect(pings.map((p) => p.kind)).toEqual(["success", "success", "start", "fail", "success"]);
      expect(pings[4]).toMatchObject({ heartbeatId: hb.id, method: "GET", remote: "1.2.3.4", body: "hello", exitCode: null, eventId: null });
      expect(pings[3].exitCode).toBe(3);
      expect(await s.heartbeats.listPings(hb.id, 2)).toHaveLength(2);
      const types = await h.raw("SELECT type FROM events WHERE source_name = 'heartbeat' ORDER BY id");
      expect(types.map((r) => r.type)).toEqual(["heartbeat.down", "heartbeat.up"]);

      // settings: a new schedule moves a running heartbeat's deadlines, counted from its last beat
      await s.heartbeatTransitions.ping(hb.id, { kind: "success" }, Date.now());
      const before = (await s.heartbeats.getHeartbeat(t, hb.id))!;
      const changed = (await s.heartbeatTransitions.updateHeartbeat(t, hb.id, { periodS: 3600, name: "job2" }, Date.now()))!;
      expect(changed).toMatchObject({ name: "job2", periodS: 3600, state: "up", dueAt: before.lastBeatAt! + 3_600_000 });
      expect(await s.heartbeatTransitions.updateHeartbeat("x", hb.id, { name: "no" }, Date.now())).toBeUndefined();

      // an event matching a heartbeat's filter is a beat
      const byEvent = await s.heartbeats.createHeartbeat({ ...base, name: "by-event", periodS: 60, graceS: 0, filter: JSON.stringify({ field: "type", op: "eq", value: "backup.done" }) }, Date.now());
      const e = ev(t, Date.now(), { type: "backup.done", opensAlert: false });
      await h.commit(t, [e], Date.now());
      expect((await s.heartbeats.getHeartbeat(t, byEvent.id))!.state).toBe("up");
      expect((await s.heartbeats.listPings(byEvent.id))[0]).toMatchObject({ kind: "event", eventId: e.id });

      // delete: a down heartbeat's alert closes as resolved (heartbeat.deleted); its ping URL is gone
      await s.heartbeatTransitions.ping(other.id, { kind: "fail" }, Date.now());
      expect(await s.alerts.listAlerts(t, { limit: 10, notClosed: true })).toHaveLength(1);
      expect(await s.heartbeatTransitions.removeHeartbeat(t, other.id, Date.now())).toBe(true);
      expect(await s.heartbeatTransitions.removeHeartbeat(t, other.id, Date.now())).toBe(false);
      expect(await s.alerts.listAlerts(t, { limit: 10, notClosed: true })).toHaveLength(0);
      expect(await s.heartbeats.pingTarget(other.token)).toBeUndefined();
      expect((await h.raw("SELECT type FROM events WHERE source_name = 'heartbeat' ORDER BY id")).map((r) => r.type).slice(-2)).toEqual(["heartbeat.down", "heartbeat.deleted"]);
    });

    test("heartbeat system events are searched like any event: a name with accents is found without them, in any case", async () => {
      const h = await make();
      const s = h.store;
      const t = await tenant(h);
      const base = { tenantId: t, scheduleKind: "period", cron: null, tz: null, maxRuntimeS: null, severity: "high", filter: null };
      const names = ["Sauvegarde réseau été", "Çron naïve Ωmega", "plain nightly"];
      const hbs = [];
      for (const name of names) hbs.push(await s.heartbeats.createHeartbeat({ ...base, name, periodS: 3600, graceS: 0 }, Date.now()));
      // a failure while new: down (heartbeat.down); deleted while down: heartbeat.deleted
      for (const hb of hbs) await s.heartbeatTransitions.ping(hb.id, { kind: "fail" }, Date.now());
      expect(await s.heartbeatTransitions.removeHeartbeat(t, hbs[1]!.id, Date.now())).toBe(true);
      while ((await s.search.indexPending(100_000)).pending);
      const q = async (text: string) => (await s.events.listEvents(t, { text, limit: 100 })).map((r) => `${r.type} ${r.title}`).sort();
      expect(await q("reseau ete")).toEqual(["heartbeat.down Sauvegarde réseau été is down"]);
      expect(await q("RESEAU")).toEqual(["heartbeat.down Sauvegarde réseau été is down"]);
      expect(await q("réseau")).toEqual(["heartbeat.down Sauvegarde réseau été is down"]);
      expect(await q("cron naive ωmega")).toEqual(["heartbeat.deleted Çron naïve Ωmega was deleted", "heartbeat.down Çron naïve Ωmega is down"]);
      expect(await q("naive deleted")).toEqual(["heartbeat.deleted Çron naïve Ωmega was deleted"]);
      expect(await q("nightly down")).toEqual(["heartbeat.down plain nightly is down"]);
      expect(await q("is down")).toHaveLength(3);
    });

    test("after a restart: a heartbeat whose deadline passed meanwhile gets a fresh period (late → up), no alert", async () => {
      const h = await make();
      const s = h.store;
      const t = await tenant(h);
      const base = { tenantId: t, scheduleKind: "period", cron: null, tz: null, maxRuntimeS: null, severity: "high", filter: null };
      const a = await s.heartbeats.createHeartbeat({ ...base, name: "a", periodS: 1, graceS: 5 }, Date.now());
      const up = (await s.heartbeatTransitions.ping(a.id, { kind: "success" }, Date.now()))!;
      await Bun.sleep(up.dueAt! - Date.now() + 100);
      expect((await s.heartbeatTransitions.sweepOverdue("deadline", Date.now(), 10)).moved).toBe(1); // late
      // keepwatch was "down" past the down deadline: pretend by moving the deadlines back
      await h.raw("UPDATE heartbeats SET down_at = down_at - 10000, next_deadline = next_deadline - 10000");
      expect(await s.heartbeatTransitions.sweepOverdue("afterStart", Date.now(), 10)).toEqual({ seen: 1, moved: 1 });
      expect((await s.heartbeats.getHeartbeat(t, a.id))!.state).toBe("up");
      expect((await s.heartbeats.listFlips(a.id)).map((f) => `${f.fromState}>${f.toState}`)).toEqual(["late>up", "up>late", "new>up"]);
      expect(await s.alerts.listAlerts(t, { limit: 10 })).toEqual([]);
    });
  });
}

/** The alerts a seeded mix of events leaves, in a store-independent shape (rule ids by name, events by id). */
async function alertShape(h: H, t: string) {
  const rules = new Map((await h.store.rules.listRules(t)).map((r) => [r.id, r.name]));
  const out = [];
  for (const a of (await h.store.alerts.listAlerts(t, { limit: 10_000 })).reverse()) {
    out.push({
      fingerprint: a.fingerprint.replace(/^rule:([^:]+)/, (_, id) => `rule:${rules.get(id)}`),
      title: a.title,
      severity: a.severity,
      status: a.status,
      classification: a.classification,
      count: a.count,
      firstSeen: a.firstSeen,
      lastSeen: a.lastSeen,
      tags: JSON.parse(a.tags),
      rule: a.ruleId ? rules.get(a.ruleId) : null,
      enrichment: a.enrichmentStatus,
      events: (await h.store.alerts.alertEventsOf(a.id, 10_000)).map((e) => e.id).sort(),
      timeline: (await h.store.alerts.timelineOf(a.id)).map((x) => x.kind),
    });
  }
  const hits = (await h.raw("SELECT name, hits, last_hit_at FROM rules ORDER BY name")).map((r) => [r.name, Number(r.hits), r.last_hit_at === null ? null : Number(r.last_hit_at)]);
  const jobs = (await h.raw("SELECT payload FROM jobs ORDER BY payload")).map((r) => r.payload);
  const tags = (await h.raw("SELECT id, tags FROM events ORDER BY id")).map((r) => [r.id, typeof r.tags === "string" ? JSON.parse(r.tags) : r.tags]);
  return { alerts: out, hits, jobs: jobs.length, tags };
}

/** What the hooks hand the outbox, in order (the outbound engineer's outbox stores it; here it is kept in memory). */
type Sent = { kind: "events"; ids: string[] } | { kind: "emit"; type: string; data: any; severity: unknown; source: unknown; tags: unknown };
function recorders() {
  const sqlite: Sent[] = [];
  const pg: Sent[] = [];
  const emit = (to: Sent[], m: { type: string; data: unknown; severity?: unknown; source?: unknown; tags?: unknown }) => {
    to.push({ kind: "emit", type: m.type, data: m.data, severity: m.severity, source: m.source, tags: m.tags });
    return 1;
  };
  const so: Outbox = { wants: () => true, onEventsInserted: (_db, evs) => void sqlite.push({ kind: "events", ids: evs.map((e) => e.id) }), emit: (_db, _t, m) => emit(sqlite, m) };
  const po: PgOutbox = {
    wants: async () => true,
    onEventsInserted: async (_tx, evs) => void pg.push({ kind: "events", ids: evs.map((e) => e.id) }),
    emit: async (_tx, _t, m) => emit(pg, m),
    emitMany: async (_tx, _t, ms) => ms.reduce((n, m) => n + emit(pg, m), 0),
  };
  return { sqlite, pg, so, po };
}

/** An outbox message without what differs between two stores by design (generated ids, rule ids). */
function sentShape(x: Sent, rules: Map<string, string>) {
  if (x.kind === "events") return x;
  const d = x.data;
  return {
    ...x,
    data: { ...d, id: undefined, rule_id: d.rule_id ? rules.get(d.rule_id) : d.rule_id, fingerprint: String(d.fingerprint).replace(/^rule:([^:]+)/, (_, id) => `rule:${rules.get(id)}`) },
  };
}

describe("the commit hook chain gives the same alerts on PostgreSQL as on SQLite", () => {
  for (const seed of [11, 2026, 90210]) {
    test(`seeded mix of events, seed ${seed}`, async () => {
      const rec = recorders();
      const enq0 = [enrichmentStats.enqueued, pgEnrichmentStats.enqueued];
      const rnd = seededRandom(seed);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
      const T0 = 1_700_000_000_000;
      const stores = [sqliteH(), await (async () => {
        const { store, sql } = await makePgStore();
        return pgH(store, sql);
      })()];
      const t = `seed${seed}x${process.pid}`;
      for (const h of stores) await tenant(h, t);
      const f = (field: string, value: string) => JSON.stringify({ field, op: "eq", value });
      const ruleDefs = [
        { name: "tag-login", filter: f("type", "login"), threshold: null, action: { kind: "tag", tags: ["auth"] } },
        { name: "tag-db", filter: f("host", "db"), threshold: null, action: { kind: "tag", tags: ["db", "auth"] } },
        { name: "suppress-noise", filter: f("type", "noise"), threshold: null, action: { kind: "suppress" } },
        { name: "alert-error", filter: f("type", "error"), threshold: null, action: { kind: "alert", title: "error on {{host}}", fingerprint: ["host"], dedup_window: 30 } },
        { name: "thr-login", filter: f("type", "login"), threshold: { count: 3, window: 20, group_by: ["host"] }, action: { kind: "alert", severity: "critical", dedup_window: 15 } },
      ];
      for (const h of stores)
        for (const r of ruleDefs)
          await h.store.rules.createRule({ tenantId: t, name: r.name, enabled: true, filter: r.filter, threshold: r.threshold ? JSON.stringify(r.threshold) : null, action: JSON.stringify(r.action) }, T0);
      let now = T0;
      for (let batch = 0; batch < 40; batch++) {
        now += Math.floor(rnd() * 6000);
        const evs: NormalizedEvent[] = [];
        const n = 1 + Math.floor(rnd() * 4);
        for (let i = 0; i < n; i++) {
          const alertSource = rnd() < 0.5;
          evs.push(
            ev(t, now, {
              type: pick(["login", "error", "noise", "info"]),
              host: pick(["db", "web", "cache", null]),
              severity: pick(SEVERITIES),
              sourceName: alertSource ? pick(["generic", "sentinel"]) : "syslog",
              opensAlert: alertSource,
              dedupKey: pick(["a", "b", null]),
              title: pick(["disk", "cpu"]),
              resolve: alertSource && rnd() < 0.15,
              occurredAt: now - Math.floor(rnd() * 3000),
              indicators: rnd() < 0.3 ? ([{ type: "ip", value: `10.0.0.${Math.floor(rnd() * 3)}`, origin: "auto" }] as any) : [],
            }),
          );
        }
        setOutbox(rec.so);
        setPgOutbox(rec.po);
        try {
          for (const h of stores) await h.commit(t, evs.map(clone), now);
        } finally {
          setOutbox(null);
          setPgOutbox(null);
        }
      }
      const [a, b] = [await alertShape(stores[0], t), await alertShape(stores[1], t)];
      expect(a.alerts.length).toBeGreaterThan(3);
      expect(b).toEqual(a);
      // as many enrichment jobs counted for the worker's wake-up as there are jobs
      expect([enrichmentStats.enqueued - enq0[0], pgEnrichmentStats.enqueued - enq0[1]]).toEqual([a.jobs, b.jobs]);
      // the same outbound messages, in the same order (alert.* with the alert as the API shows it)
      const names = async (h: H) => new Map((await h.store.rules.listRules(t)).map((r) => [r.id, r.name]));
      const [ra, rb] = [await names(stores[0]), await names(stores[1])];
      expect(rec.sqlite.length).toBeGreaterThan(40);
      expect(new Set(rec.sqlite.map((x) => (x.kind === "emit" ? x.type : x.kind)))).toEqual(new Set(["events", "alert.opened", "alert.updated", "alert.closed"]));
      expect(rec.pg.map((x) => sentShape(x, rb))).toEqual(rec.sqlite.map((x) => sentShape(x, ra)));
    });
  }
});

describe("several requests in one group commit: the PostgreSQL group path (one pass for the whole group) gives what SQLite gives request by request", () => {
  for (const seed of [7, 4242, 31337]) {
    test(`seeded mix of events, seed ${seed}`, async () => {
      const rec = recorders();
      const enq0 = [enrichmentStats.enqueued, pgEnrichmentStats.enqueued];
      const rnd = seededRandom(seed);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
      const T0 = 1_700_000_000_000;
      const stores = [sqliteH(), await (async () => {
        const { store, sql } = await makePgStore();
        return pgH(store, sql);
      })()];
      const t = `seed${seed}x${process.pid}`;
      for (const h of stores) await tenant(h, t);
      const f = (field: string, value: string) => JSON.stringify({ field, op: "eq", value });
      const ruleDefs = [
        { name: "tag-login", filter: f("type", "login"), threshold: null, action: { kind: "tag", tags: ["auth"] } },
        { name: "tag-db", filter: f("host", "db"), threshold: null, action: { kind: "tag", tags: ["db", "auth"] } },
        { name: "suppress-noise", filter: f("type", "noise"), threshold: null, action: { kind: "suppress" } },
        { name: "alert-error", filter: f("type", "error"), threshold: null, action: { kind: "alert", title: "error on {{host}}", fingerprint: ["host"], dedup_window: 30 } },
        { name: "thr-login", filter: f("type", "login"), threshold: { count: 3, window: 20, group_by: ["host"] }, action: { kind: "alert", severity: "critical", dedup_window: 15 } },
      ];
      for (const h of stores)
        for (const r of ruleDefs)
          await h.store.rules.createRule({ tenantId: t, name: r.name, enabled: true, filter: r.filter, threshold: r.threshold ? JSON.stringify(r.threshold) : null, action: JSON.stringify(r.action) }, T0);
      let now = T0;
      for (let batch = 0; batch < 40; batch++) {
        now += Math.floor(rnd() * 6000);
        const evs: NormalizedEvent[] = [];
        const n = 1 + Math.floor(rnd() * 4);
        for (let i = 0; i < n; i++) {
          const alertSource = rnd() < 0.5;
          evs.push(
            ev(t, now, {
              type: pick(["login", "error", "noise", "info"]),
              host: pick(["db", "web", "cache", null]),
              severity: pick(SEVERITIES),
              sourceName: alertSource ? pick(["generic", "sentinel"]) : "syslog",
              opensAlert: alertSource,
              dedupKey: pick(["a", "b", null]),
              title: pick(["disk", "cpu"]),
              resolve: alertSource && rnd() < 0.15,
              occurredAt: now - Math.floor(rnd() * 3000),
              indicators: rnd() < 0.3 ? ([{ type: "ip", value: `10.0.0.${Math.floor(rnd() * 3)}`, origin: "auto" }] as any) : [],
            }),
          );
        }
        setOutbox(rec.so);
        setPgOutbox(rec.po);
        try {
          // cut into 1..4 requests of one group (the same cut on both stores)
          const cuts: number[] = [];
          for (let i = 1; i < evs.length; i++) if (rnd() < 0.6) cuts.push(i);
          const bounds = [0, ...cuts, evs.length];
          const reqs = bounds.slice(1).map((to, k) => evs.slice(bounds[k], to));
          for (const h of stores) await h.commitMany(t, reqs.map((r) => r.map(clone)), now);
        } finally {
          setOutbox(null);
          setPgOutbox(null);
        }
      }
      const [a, b] = [await alertShape(stores[0], t), await alertShape(stores[1], t)];
      expect(a.alerts.length).toBeGreaterThan(3);
      expect(b).toEqual(a);
      // as many enrichment jobs counted for the worker's wake-up as there are jobs
      expect([enrichmentStats.enqueued - enq0[0], pgEnrichmentStats.enqueued - enq0[1]]).toEqual([a.jobs, b.jobs]);
      // the same outbound messages, in the same order (alert.* with the alert as the API shows it)
      const names = async (h: H) => new Map((await h.store.rules.listRules(t)).map((r) => [r.id, r.name]));
      const [ra, rb] = [await names(stores[0]), await names(stores[1])];
      expect(rec.sqlite.length).toBeGreaterThan(40);
      expect(new Set(rec.sqlite.map((x) => (x.kind === "emit" ? x.type : x.kind)))).toEqual(new Set(["events", "alert.opened", "alert.updated", "alert.closed"]));
      expect(rec.pg.map((x) => sentShape(x, rb))).toEqual(rec.sqlite.map((x) => sentShape(x, ra)));
    });
  }
});

describe("PostgreSQL: two stores racing over many due heartbeats", () => {
  test("each due heartbeat flips exactly once, with exactly one alert and one heartbeat.down event", async () => {
    const c = await sharedCluster();
    const url = await c.createDatabase(`race_${process.pid}_${Date.now() % 100000}`);
    const p1 = openPg(url, { pool: 4 });
    const p2 = openPg(url, { pool: 4 });
    try {
      await migratePg(p1.$client);
      const s1 = pgStore(p1.$client);
      const s2 = pgStore(p2.$client);
      const h = pgH(s1, p1.$client);
      const t = await tenant(h);
      const N = 80;
      const base = { tenantId: t, scheduleKind: "period", cron: null, tz: null, maxRuntimeS: null, severity: "high", filter: null, periodS: 60, graceS: 0 };
      for (let i = 0; i < N; i++) {
        const x = await s1.heartbeats.createHeartbeat({ ...base, name: `hb${i}` }, Date.now());
        await s1.heartbeatTransitions.ping(x.id, { kind: "success" }, Date.now());
      }
      // every deadline passed a minute ago
      await h.raw("UPDATE heartbeats SET due_at = due_at - 120000, down_at = down_at - 120000, next_deadline = next_deadline - 120000");
      const sweeper = async (s: Store) => {
        let moved = 0;
        for (;;) {
          const r = await s.heartbeatTransitions.sweepOverdue("deadline", Date.now(), 7);
          moved += r.moved;
          if (r.seen === 0) return moved;
        }
      };
      await s2.heartbeats.earliestDeadline(); // both pools connected before the race starts
      const [m1, m2] = await Promise.all([sweeper(s1), sweeper(s2)]);
      expect(m1 + m2).toBe(N);
      expect(m1).toBeGreaterThan(0);
      expect(m2).toBeGreaterThan(0); // both took part
      const flips = await h.raw("SELECT heartbeat_id, count(*) AS n FROM heartbeat_flips WHERE to_state = 'down' GROUP BY heartbeat_id");
      expect(flips).toHaveLength(N);
      expect(flips.every((f) => Number(f.n) === 1)).toBe(true);
      const alerts = await h.raw("SELECT source, count(*) AS n FROM alerts WHERE source_name = 'heartbeat' AND status = 'open' GROUP BY source");
      expect(alerts).toHaveLength(N);
      expect(alerts.every((a) => Number(a.n) === 1)).toBe(true);
      expect(Number((await h.raw("SELECT count(*) AS n FROM events WHERE type = 'heartbeat.down'"))[0].n)).toBe(N);
      expect(Number((await h.raw("SELECT count(*) AS n FROM heartbeats WHERE state = 'down'"))[0].n)).toBe(N);
    } finally {
      await p1.$client.end({ timeout: 5 });
      await p2.$client.end({ timeout: 5 });
    }
  });
});
