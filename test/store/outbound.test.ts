// The outbound domains (webhooks, deliveries, the queue's housekeeping) written once, run on both
// stores:
// - a seeded differential walk drives a SQLite store and a PostgreSQL store in lockstep through
//   every function of webhooks and deliveries (inserts, status changes, attempts started,
//   completed and discarded, replays, batches and their members, held messages, drop-oldest,
//   drop notes, pruning) with enqueues, claims and settles of the lanes' jobs in between: every
//   answer and, after every step, every row (deliveries, attempts, lanes' counters, webhooks, jobs)
//   are the same on both, and the backlog counter equals the pending messages;
// - on PostgreSQL, two stores (two pools, as two replicas) claim one queue at once: every delivery
//   job is claimed by exactly one (SKIP LOCKED), its attempt started once, and an outcome fenced by
//   a stale lease token changes nothing.
// The seed is printed: OUTBOUND_SEED=… bun test test/store/outbound.test.ts replays a failure.
import { describe, expect, test } from "bun:test";
import type { Db } from "../../src/db/client";
import type { Store } from "../../src/store/contract";
import type { DeliveryStatus } from "../../src/store/deliveries";
import type { JobState } from "../../src/store/jobs";
import type { ClaimRequest } from "../../src/store/queue-contract";
import { pgStore } from "../../src/store/index";
import { inTx } from "../../src/store/contract";
import { WebhookDispatcher } from "../../src/jobs/handlers/webhooks";
import { silentLogger } from "../../src/lib/log";
import type { NormalizedEvent } from "../../src/core/event";
import type { Severity } from "../../src/core/severity";
import type { WebhookRow } from "../../src/store/webhooks";
import { openPg } from "../../src/db/pg-client";
import { migratePg } from "../../src/db/pg-migrate";
import { makePgStore, makeSqliteStore, sharedCluster } from "./both";

function mulberry32(a: number) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Raw = (q: string) => Promise<Record<string, unknown>[]>;
const sqliteRaw =
  (db: Db): Raw =>
  async (q) =>
    db.$client.query(q).all() as Record<string, unknown>[];
const pgRaw =
  (sql: import("postgres").Sql<{}>): Raw =>
  async (q) =>
    [...(await sql.unsafe(q))] as Record<string, unknown>[];

function webhookRow(id: string, tenantId: string, now: number, o: Partial<WebhookRow> = {}): WebhookRow {
  return {
    id,
    tenantId,
    name: id,
    url: "http://127.0.0.1:9/x",
    state: "active",
    disabledReason: null,
    disabledAt: null,
    headers: "{}",
    triggers: '["*"]',
    filters: "{}",
    mode: "immediate",
    intervalS: 60,
    maxBatch: 100,
    rateLimit: 0,
    timeoutMs: 1000,
    retry: '{"max_attempts":3,"initial_interval":1,"max_interval":1}',
    ordered: 0,
    secret: "whsec_x",
    previousSecret: null,
    previousSecretUntil: null,
    consecutiveFailures: 0,
    backlogCap: 0,
    backlogPolicy: "drop_oldest",
    createdAt: now,
    updatedAt: now,
    ...o,
  };
}

/** Rows that must be equal on both stores (times the PostgreSQL store takes from its own clock left out: run_at, leases, a lane's next_at and hold_until). */
async function snapshot(raw: Raw) {
  return {
    deliveries: (await raw("SELECT d.*, j.idempotency_key AS job_key FROM deliveries d LEFT JOIN jobs j ON j.id = d.job_id ORDER BY d.id")).map(({ job_id, ...d }) => d),
    attempts: await raw("SELECT * FROM delivery_attempts ORDER BY id"),
    lanes: await raw("SELECT lane, queue, tat, rate, burst, ordered, backlog, dropped, drop_noted_at, drop_noted_count FROM job_lanes ORDER BY lane"),
    webhooks: await raw(
      "SELECT id, state, disabled_reason, disabled_at, consecutive_failures, rate_limit, ordered, backlog_cap, updated_at FROM webhooks ORDER BY id",
    ),
    jobs: await raw("SELECT queue, kind, payload, state, attempt, max_attempts, lane, lease_token, last_error, idempotency_key FROM jobs ORDER BY idempotency_key"),
  };
}

test("differential walk: every outbound function answers and writes the same on SQLite and PostgreSQL", async () => {
  const seed = Number(process.env.OUTBOUND_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`outbound walk: OUTBOUND_SEED=${seed}`);
  const rnd = mulberry32(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const now0 = 1_800_000_000_000;
  let now = now0;
  const lite = makeSqliteStore(() => now);
  const pg = await makePgStore();
  const stores: [string, Store, Raw][] = [
    ["sqlite", lite.store, sqliteRaw(lite.db)],
    ["postgres", pg.store, pgRaw(pg.sql)],
  ];
  for (const [, , raw] of stores) await raw(`INSERT INTO tenants (id, name, created_at) VALUES ('t1', 'walk', ${now0})`);
  /** runs `f` on both stores and expects the same answer */
  const both = async <T>(what: string, f: (s: Store) => Promise<T>): Promise<T> => {
    const a = await f(lite.store);
    const b = await f(pg.store);
    // job ids may differ (see "insert" below): a delivery's job_id is compared by the job's key in the snapshots
    const same = (x: unknown) => JSON.stringify(x, (k, v) => (k === "job_id" ? undefined : v));
    if (same(a) !== same(b)) expect({ seed, what, pg: JSON.parse(same(b) ?? "null") }).toEqual({ seed, what, pg: JSON.parse(same(a) ?? "null") });
    return a;
  };
  const hooks = ["wh_a", "wh_b", "wh_c"];
  /** the outbox units' view of a webhook, as it is now */
  const outboundOf = async (id: string) => {
    const w = (await both("getWebhookById", (s) => s.webhooks.getWebhookById(id)))!;
    return { id, tenantId: w.tenantId, state: w.state, mode: w.mode, intervalS: w.intervalS, backlogCap: w.backlogCap, backlogPolicy: w.backlogPolicy, maxAttempts: 3 };
  };
  for (const id of hooks) await both("insertWebhook", (s) => s.webhooks.insertWebhook(webhookRow(id, "t1", now)));
  const messages: string[] = [];
  const batches: string[] = [];
  const started: { id: number; delivery: string }[] = [];
  let n = 0;
  const statuses: DeliveryStatus[] = ["held", "pending", "succeeded", "failed", "dropped"];
  const claimReq = (token: string): ClaimRequest => ({ limit: 1000, leaseMs: 3_600_000, token, laneMaxInflight: 1000 });
  const attemptOf = (status: number | null) => ({
    started_at: now,
    duration_ms: 12,
    url: "http://127.0.0.1:9/x",
    request_headers: '{"content-type":"application/json"}',
    request_body: '{"a":1}',
    request_body_size: 7,
    response_status: status,
    response_headers: status === null ? null : "{}",
    response_body: status === null ? null : "ok",
    response_body_size: status === null ? null : 2,
    response_truncated: status === null ? null : 0,
    error: status === 200 ? null : "HTTP " + status,
    outcome: status === 200 ? ("succeeded" as const) : ("failed" as const),
  });
  const ops: [string, () => Promise<unknown>][] = [
    [
      "insert",
      async () => {
        const w = pick(hooks);
        const id = `msg_${String(++n).padStart(8, "0")}`;
        const status = pick<DeliveryStatus>(["pending", "pending", "pending", "held", "dropped"]);
        const withJob = status === "pending" && rnd() < 0.7;
        // job ids may differ between the stores (PostgreSQL spends an identity on a conflicting
        // insert): each store links its own; rows are compared by the jobs' idempotency keys
        await both("enqueue+insertDelivery", async (s) => {
          const jobId = withJob ? (await s.queue.enqueue([{ queue: "webhooks", kind: "deliver", payload: { d: id }, lane: w, idempotencyKey: id, maxAttempts: 3 }]))[0]!.id : null;
          await s.deliveries.insertDelivery({ id, tenantId: "t1", webhookId: w, kind: "message", type: "event.received", body: `{"n":${n}}`, status, jobId }, now);
        });
        messages.push(id);
      },
    ],
    [
      "outbox",
      async () => {
        const w = pick(hooks);
        const target = await outboundOf(w);
        const id = `msg_${String(++n).padStart(8, "0")}`;
        const m = { id, type: "event.received", body: `{"n":${n},"raw":"  \u00e9"}` };
        messages.push(id);
        if (rnd() < 0.5) return void (await both("enqueueMessage", (s) => s.deliveries.enqueueMessage(target, m, now, 20)));
        // a commit's outbox: several messages, to several webhooks, in one unit
        const items = [{ w: target, m, at: now }];
        for (let k = Math.floor(rnd() * 4); k > 0; k--) {
          const more = `msg_${String(++n).padStart(8, "0")}`;
          items.push({ w: await outboundOf(pick(hooks)), m: { id: more, type: "alert.opened", body: `{"k":${k}}` }, at: now });
          messages.push(more);
        }
        await both("enqueueMessages", (s) => s.deliveries.enqueueMessages(items, 20));
      },
    ],
    [
      "requeue",
      async () => {
        if (!messages.length) return;
        const w = pick(hooks);
        const target = await outboundOf(w);
        const ids = [pick(messages), pick(messages), ...batches.slice(-1)];
        const unlessPending = rnd() < 0.5;
        await both("requeueDeliveries", (s) => s.deliveries.requeueDeliveries(target, ids, now, { unlessPending }));
      },
    ],
    ["release", async () => {
      const target = await outboundOf(pick(hooks));
      await both("releaseHeld", (s) => s.deliveries.releaseHeld(target, now));
    }],
    ["flush", async () => {
      const target = await outboundOf(pick(hooks));
      const immediate = rnd() < 0.5;
      await both("enqueueFlush", (s) => s.deliveries.enqueueFlush(target, now, immediate));
    }],
    [
      "mark",
      async () => {
        if (!messages.length) return;
        const [m, st, o] = [pick(messages), pick(statuses), { attempted: rnd() < 0.5, statusCode: rnd() < 0.5 ? 500 : null, error: "e" }];
        await both("markDelivery", (s) => s.deliveries.markDelivery(m, st, now, o));
      },
    ],
    [
      "replay",
      async () => {
        if (!messages.length) return;
        const m = pick(messages);
        await both("countReplay", (s) => s.deliveries.countReplay(m, now));
      },
    ],
    [
      "unbatch",
      async () => {
        if (!messages.length) return;
        const m = pick(messages);
        await both("unbatchForReplay", (s) => s.deliveries.unbatchForReplay(m, now));
      },
    ],
    [
      "batch",
      async () => {
        const w = pick(hooks);
        const size = 1 + Math.floor(rnd() * 4);
        const free = await both("unbatched", (s) => s.deliveries.unbatched(w, size));
        const id = `msg_b${String(++n).padStart(7, "0")}`;
        if (rnd() < 0.5) {
          const target = await outboundOf(w);
          if ((await both("makeBatch", (s) => s.deliveries.makeBatch(target, id, free.map((f) => f.id), now))) === null) return;
        } else {
          await both("enqueue+insertDelivery batch", async (s) => {
            const job = (await s.queue.enqueue([{ queue: "webhooks", kind: "deliver", payload: { d: id }, lane: w, idempotencyKey: id }]))[0]!.id;
            await s.deliveries.insertDelivery({ id, tenantId: "t1", webhookId: w, kind: "batch", type: "batch", body: "", status: "pending", jobId: job }, now);
          });
          await both("assignBatch", (s) => s.deliveries.assignBatch(id, free.map((f) => f.id)));
        }
        batches.push(id);
      },
    ],
    [
      "batch outcome",
      async () => {
        if (!batches.length) return;
        const [b, st] = [pick(batches), pick(statuses)];
        await both("markBatchMembers", (s) => s.deliveries.markBatchMembers(b, st, now, { statusCode: 200 }));
      },
    ],
    [
      "batch release",
      async () => {
        if (!batches.length) return;
        const [b, st] = [pick(batches), pick<DeliveryStatus>(["held", "pending"])];
        await both("releaseBatch", (s) => s.deliveries.releaseBatch(b, st, now));
      },
    ],
    [
      "drop oldest",
      async () => {
        const w = pick(hooks);
        await both("dropOldest", (s) => s.deliveries.dropOldest(w, now, "walk"));
      },
    ],
    [
      "drop note",
      async () => {
        const w = pick(hooks);
        await both("noteLaneDrop", (s) => s.jobs.noteLaneDrop(w, now, 20));
      },
    ],
    [
      "attempt start",
      async () => {
        if (!messages.length) return;
        const m = pick(messages);
        const a = await both("startAttempt", (s) => s.deliveries.startAttempt(m, now));
        if (a) started.push({ id: a.id, delivery: m });
      },
    ],
    [
      "attempt end",
      async () => {
        if (!started.length) return;
        const a = started.splice(Math.floor(rnd() * started.length), 1)[0]!;
        if (rnd() < 0.3) await both("discardAttempt", (s) => s.deliveries.discardAttempt(a.id, a.delivery));
        else {
          const status = pick([200, 500, null]);
          await both("completeAttempt", (s) => s.deliveries.completeAttempt(a.id, attemptOf(status)));
        }
      },
    ],
    [
      "attempt insert",
      async () => {
        if (!messages.length) return;
        const a = { delivery_id: pick(messages), webhook_id: pick(hooks), attempt: 1, ...attemptOf(pick([200, 410])) };
        await both("insertAttempt", (s) => s.deliveries.insertAttempt(a));
      },
    ],
    ["claim", async () => both("claim", async (s) => (await s.queue.claim("webhooks", claimReq("tok" + n))).map((j) => j.idempotency_key).sort())],
    [
      "settle",
      async () => {
        const running = (await both("running jobs", async (s) => (await s.jobs.countQueueState("webhooks", "running")) as number)) as number;
        if (!running) return;
        const fate = pick(["finish", "retry"] as const);
        await both("settle", async (s) => {
          const raw = stores.find((x) => x[1] === s)![2];
          const rows = await raw("SELECT id, lane, lease_token FROM jobs WHERE state = 'running' ORDER BY idempotency_key LIMIT 3");
          const outcomes = rows.map((r) =>
            fate === "finish"
              ? { id: r.id as number, token: r.lease_token as string, lane: r.lane as string, action: "finish" as const, state: "succeeded" as const }
              : { id: r.id as number, token: r.lease_token as string, lane: r.lane as string, action: "retry" as const, delayMs: 0, error: "e" },
          );
          // one stale token: fenced on both
          outcomes.push({ id: rows[0]!.id as number, token: "stale", lane: rows[0]!.lane as string, action: "finish", state: "succeeded" });
          return (await s.queue.settle(outcomes)).held;
        });
      },
    ],
    [
      "webhook change",
      async () => {
        const id = pick(hooks);
        const w = (await both("getWebhookById", (s) => s.webhooks.getWebhookById(id)))!;
        const r = rnd();
        if (r < 0.25) await both("addFailure", (s) => s.webhooks.addFailure(id));
        else if (r < 0.4) await both("resetFailures", (s) => s.webhooks.resetFailures(id));
        else if (r < 0.55) await both("disableWebhook", (s) => s.webhooks.disableWebhook(id, "walk", now));
        else {
          // no rate limit here: a lane's tokens follow each store's clock (virtual here, the
          // database's there); the rate arithmetic is held to one by the queue contract tests
          const next = {
            ...w,
            state: pick(["active", "inactive"]),
            mode: pick(["immediate", "batched"]),
            rateLimit: 0,
            ordered: pick([0, 1]),
            backlogCap: pick([0, 3]),
            backlogPolicy: pick(["drop_oldest", "refuse_newest"]),
            updatedAt: now,
          };
          if (rnd() < 0.5) await both("updateWebhook", (s) => s.webhooks.updateWebhook(next));
          else {
            const target = { id, tenantId: "t1", state: next.state, mode: next.mode, intervalS: 60, backlogCap: next.backlogCap, backlogPolicy: next.backlogPolicy, maxAttempts: 3 };
            const effects = { release: rnd() < 0.5 ? target : null, unbatch: rnd() < 0.5 ? target : null };
            const prior = rnd() < 0.8 ? w.updatedAt : w.updatedAt - 1;
            await both("applyWebhookUpdate", (s) => s.webhooks.applyWebhookUpdate(next, prior, effects, now));
          }
        }
      },
    ],
    [
      "prune",
      async () => {
        if (rnd() > 0.05) return;
        await both("pruneDeliveries", (s) => s.deliveries.pruneDeliveries(now - 40, 7));
        const alive = new Set((await stores[0]![2]("SELECT id FROM deliveries")).map((r) => r.id as string));
        messages.splice(0, messages.length, ...messages.filter((m) => alive.has(m)));
        batches.splice(0, batches.length, ...batches.filter((b) => alive.has(b)));
        started.splice(0, started.length, ...started.filter((a) => alive.has(a.delivery)));
      },
    ],
  ];
  /** every read of the domains, for one webhook */
  const reads = async (w: string) => {
    await both("backlogOf", (s) => s.deliveries.backlogOf(w));
    await both("heldMessages", (s) => s.deliveries.heldMessages(w));
    await both("unbatched", (s) => s.deliveries.unbatched(w, 5));
    await both("openBatch", (s) => s.deliveries.openBatch(w));
    await both("listDeliveries", (s) => s.deliveries.listDeliveries(w, { limit: 7 }));
    const st = pick(statuses);
    await both("listDeliveries filtered", (s) => s.deliveries.listDeliveries(w, { status: st, before: messages.at(-3), since: now - 30, limit: 5 }));
    const scan = { status: rnd() < 0.5 ? st : undefined, since: now - 100, after: messages.at(-10) ?? null, limit: 6 };
    await both("scanDeliveries", (s) => s.deliveries.scanDeliveries(w, scan));
    await both("lastAttempt", (s) => s.deliveries.lastAttempt(w));
    await both("attemptsFailedInARow", (s) => s.deliveries.attemptsFailedInARow(w, 5));
    await both("attemptTimings", (s) => s.deliveries.attemptTimings(messages.slice(-8)));
    await both("lastBatchAt", (s) => s.deliveries.lastBatchAt(w));
    if (messages.length) {
      const m = pick(messages);
      await both("getDelivery", (s) => s.deliveries.getDelivery(m));
      await both("listAttempts", (s) => s.deliveries.listAttempts(m));
    }
    if (batches.length) {
      const b = pick(batches);
      await both("batchMembers", (s) => s.deliveries.batchMembers(b));
    }
    await both("laneBacklog", (s) => s.jobs.laneBacklog(w));
    for (const state of ["available", "running", "succeeded", "failed", "dead"] as JobState[]) await both(`countQueueState ${state}`, (s) => s.jobs.countQueueState("webhooks", state));
    await both("countJobsByState", (s) => s.jobs.countJobsByState("webhooks"));
    await both("listWebhooks", (s) => s.webhooks.listWebhooks("t1"));
    await both("getWebhook", (s) => s.webhooks.getWebhook("t1", w));
  };
  const visited = new Set<string>();
  for (let step = 0; step < 600; step++) {
    now += 1;
    const [name, op] = pick(ops);
    await op();
    const [a, b] = [await snapshot(stores[0]![2]), await snapshot(stores[1]![2])];
    if (JSON.stringify(a) !== JSON.stringify(b)) expect({ seed, step, name, rows: b }).toEqual({ seed, step, name, rows: a as any });
    // the backlog counter is the pending messages, for every webhook
    for (const w of hooks) {
      const pending = a.deliveries.filter((d) => d.webhook_id === w && d.kind === "message" && d.status === "pending").length;
      expect({ seed, step, w, backlog: a.lanes.find((l) => l.lane === w)!.backlog }).toEqual({ seed, step, w, backlog: pending });
    }
    for (const d of a.deliveries) visited.add(d.status as string);
    if (step % 10 === 0) await reads(pick(hooks));
  }
  expect([...visited].sort()).toEqual(["dropped", "failed", "held", "pending", "succeeded"]);
  // start-up housekeeping: lanes that went missing come back with their backlog counted
  for (const [, , raw] of stores) await raw("DELETE FROM job_lanes WHERE lane = 'wh_b'");
  await both("ensureWebhookLanes", (s) => s.webhooks.ensureWebhookLanes(now));
  await both("backlogOf after ensure", (s) => s.deliveries.backlogOf("wh_b"));
  await both("listLanes", async (s) => (await s.jobs.listLanes("webhooks")).map((l) => [l.lane, l.backlog, l.rate, l.ordered]));
  // the end of a webhook: its deliveries, attempts and lane go with it
  await both("deleteWebhook", (s) => s.webhooks.deleteWebhook("t1", "wh_a"));
  await both("deleteWebhook twice", (s) => s.webhooks.deleteWebhook("t1", "wh_a"));
  await both("getLane deleted", (s) => s.jobs.getLane("wh_a"));
  const [a, b] = [await snapshot(stores[0]![2]), await snapshot(stores[1]![2])];
  expect(b).toEqual(a);
  expect(a.deliveries.some((d) => d.webhook_id === "wh_a")).toBe(false);
}, 180_000);

/** Both stores, each with a raw handle for the rows of other domains (a tenant) and for assertions. */
const KINDS: Record<"sqlite" | "postgres", () => Promise<{ store: Store; raw: Raw }>> = {
  sqlite: async () => {
    const { store, db } = makeSqliteStore();
    return { store, raw: sqliteRaw(db) };
  },
  postgres: async () => {
    const { store, sql } = await makePgStore();
    return { store, raw: pgRaw(sql) };
  },
};

for (const [kind, make] of Object.entries(KINDS)) {
  describe(`outbound on ${kind}`, () => {
    test("jobs housekeeping: lanes, backlog counts for metrics, drop notes at most once per interval, pruning finished jobs", async () => {
      const { store: s } = await make();
      await s.queue.syncLane("wh_1", { queue: "webhooks", rate: 5, ordered: false });
      const lane = (await s.jobs.getLane("wh_1"))!;
      expect([lane.rate, lane.burst, lane.ordered, lane.full, lane.backlog]).toEqual([5, 5, 0, 0, 0]);
      expect(await s.jobs.getLane("nope")).toBeNull();
      const ids = await s.queue.enqueue([
        { queue: "webhooks", kind: "deliver", payload: { d: 1 }, lane: "wh_1" },
        { queue: "webhooks", kind: "deliver", payload: { d: 2 }, lane: "wh_1" },
        { queue: "webhooks", kind: "flush", payload: {} },
      ]);
      const claimed = await s.queue.claim("webhooks", { limit: 10, leaseMs: 60_000, token: "t", laneMaxInflight: 10 });
      expect(claimed.map((j) => j.id).sort()).toEqual(ids.map((i) => i.id).sort());
      const { held } = await s.queue.settle(claimed.map((j) => ({ id: j.id, token: "t", lane: j.lane, action: "finish" as const, state: "succeeded" as const })));
      expect(held).toEqual([true, true, true]);
      expect(await s.jobs.countJobsByState("webhooks")).toEqual({ available: 0, running: 0, succeeded: 3, failed: 0, dead: 0 });
      expect(await s.jobs.countJobsByState()).toEqual({ available: 0, running: 0, succeeded: 3, failed: 0, dead: 0 });
      expect(await s.jobs.countQueueState("webhooks", "succeeded")).toBe(3);
      expect((await s.jobs.listLanes("webhooks")).map((l) => l.lane)).toEqual(["wh_1"]);
      const t = await s.queue.now();
      expect(await s.jobs.noteLaneDrop("wh_1", t, 60_000)).toEqual({ report: 1, total: 1 });
      expect(await s.jobs.noteLaneDrop("wh_1", t + 1, 60_000)).toEqual({ report: 0, total: 2 });
      expect(await s.jobs.noteLaneDrop("wh_1", t + 60_001, 60_000)).toEqual({ report: 2, total: 3 });
      expect(await s.jobs.noteLaneDrop("nope", t, 60_000)).toEqual({ report: 0, total: 0 });
      expect(await s.jobs.pruneJobs(t - 3_600_000)).toBe(0);
      expect(await s.jobs.pruneJobs((await s.queue.now()) + 1)).toBe(3);
      expect(await s.queue.get(ids[0]!.id)).toBeNull();
      await s.jobs.deleteLane("wh_1");
      expect(await s.jobs.getLane("wh_1")).toBeNull();
    });

    test("a raw payload is stored and returned byte for byte (bodies, request and response bodies)", async () => {
      const { store: s, raw } = await make();
      const t = await s.queue.now();
      const body = '{"z":1,  "a":"é\\u0000\u2028", "n":1.0e3}';
      // a delivery needs its webhook, a webhook its tenant (another domain's table: written raw)
      await raw(`INSERT INTO tenants (id, name, created_at) VALUES ('t1', 't1', ${t})`);
      await s.webhooks.insertWebhook(webhookRow("wh_raw", "t1", t));
      await s.deliveries.insertDelivery({ id: "msg_raw", tenantId: "t1", webhookId: "wh_raw", kind: "message", type: "x", body, status: "pending" }, t);
      expect((await s.deliveries.getDelivery("msg_raw"))!.body).toBe(body);
      const a = await s.deliveries.startAttempt("msg_raw", t);
      expect(a).toEqual({ id: expect.any(Number), attempt: 1 });
      await s.deliveries.completeAttempt(a!.id, {
        started_at: t,
        duration_ms: 1,
        url: "http://x/",
        request_headers: "{}",
        request_body: body,
        response_status: 200,
        response_headers: "{}",
        response_body: "  \u00e9 raw\r\n",
        error: null,
        outcome: "succeeded",
      });
      const [row] = await s.deliveries.listAttempts("msg_raw");
      expect([row!.request_body, row!.response_body, row!.outcome]).toEqual([body, "  \u00e9 raw\r\n", "succeeded"]);
      // a start marks an earlier attempt still `started` interrupted, even when the delivery is no longer pending
      const b = await s.deliveries.startAttempt("msg_raw", t + 1);
      expect(b!.attempt).toBe(2);
      await s.deliveries.markDelivery("msg_raw", "succeeded", t + 2);
      expect(await s.deliveries.startAttempt("msg_raw", t + 3)).toBeNull();
      const c = await s.deliveries.startAttempt("msg_raw", t + 4);
      expect(c).toBeNull();
      expect((await s.deliveries.listAttempts("msg_raw")).map((x) => x.outcome)).toEqual(["succeeded", "interrupted"]);
    });
  });
}

describe("outbound on postgres: replicas", () => {
  test("two stores claiming one queue at once: each delivery job is claimed by one, its attempt started once; a stale token is fenced", async () => {
    // two pools on one database: two replicas
    const url = await (await sharedCluster()).createDatabase(`outbound_replicas_${process.pid}`);
    const pools = [openPg(url, { pool: 4 }), openPg(url, { pool: 4 })];
    await migratePg(pools[0]!.$client);
    const a = { store: pgStore(pools[0]!.$client), sql: pools[0]!.$client };
    const b = { store: pgStore(pools[1]!.$client) };
    const now = Date.now();
    await a.sql`INSERT INTO tenants (id, name, created_at) VALUES ('t1', 't1', ${now})`;
    const hooks = ["wh_1", "wh_2", "wh_3"];
    for (const h of hooks) await a.store.webhooks.insertWebhook(webhookRow(h, "t1", now));
    const N = 300;
    const jobs = await a.store.queue.enqueue(Array.from({ length: N }, (_, i) => ({ queue: "webhooks", kind: "deliver", payload: { d: `msg_${i}` }, lane: hooks[i % 3], idempotencyKey: `msg_${i}` })));
    for (let i = 0; i < N; i++)
      await a.store.deliveries.insertDelivery({ id: `msg_${String(i).padStart(4, "0")}`, tenantId: "t1", webhookId: hooks[i % 3]!, kind: "message", type: "x", body: "{}", status: "pending", jobId: jobs[i]!.id }, now);
    const claims = new Map<number, string>();
    const claimer = async (s: Store, name: string) => {
      for (let round = 0; round < 200; round++) {
        const got = await s.queue.claim("webhooks", { limit: 7, leaseMs: 60_000, token: `${name}${round}`, laneMaxInflight: 1000 });
        if (got.length === 0 && claims.size >= N) return;
        for (const j of got) {
          if (claims.has(j.id)) throw new Error(`job ${j.id} claimed twice (${claims.get(j.id)} and ${name})`);
          claims.set(j.id, j.lease_token!);
        }
        for (const j of got) await s.deliveries.startAttempt(`msg_${String(Number(jobs.findIndex((x) => x.id === j.id))).padStart(4, "0")}`, now);
      }
    };
    await Promise.all([claimer(a.store, "a"), claimer(b.store, "b"), claimer(a.store, "c"), claimer(b.store, "d")]);
    expect(claims.size).toBe(N);
    const [{ n }] = await a.sql`SELECT count(*) AS n FROM delivery_attempts`;
    expect(n).toBe(N);
    const [{ m }] = await a.sql`SELECT count(*) AS m FROM deliveries WHERE attempts <> 1`;
    expect(m).toBe(0);
    // both claimers got work (SKIP LOCKED lets them pass each other instead of waiting)
    const by = new Set([...claims.values()].map((t) => t[0]));
    expect(by.size).toBeGreaterThan(1);
    // fencing: a stale token changes nothing; the holder's outcome wins
    const [first] = jobs;
    const { held } = await b.store.queue.settle([
      { id: first!.id, token: "stale", lane: "wh_1", action: "finish", state: "failed", error: "lost lease" },
      { id: first!.id, token: claims.get(first!.id)!, lane: "wh_1", action: "finish", state: "succeeded" },
      { id: first!.id, token: claims.get(first!.id)!, lane: "wh_1", action: "finish", state: "failed" },
    ]);
    expect(held).toEqual([false, true, false]);
    expect((await a.store.jobs.getJob(first!.id))!.state).toBe("succeeded");
    for (const p of pools) await p.$client.end({ timeout: 5 });
  }, 120_000);
});

// -- the outbox: the SQLite one (WebhookDispatcher as Outbox, in the caller's transaction) and its
// PostgreSQL twin (pgOutbox, in the caller's transaction through the store bound to it) write the
// same messages for the same commits.
const OUTBOX_KINDS = {
  sqlite: () => {
    const { store, db } = makeSqliteStore();
    const d = new WebhookDispatcher(null, { allow: [], leaseMs: 30_000, autoDisableAfter: 0, clock: Date.now, log: silentLogger });
    return {
      store,
      raw: sqliteRaw(db),
      inserted: async (events: NormalizedEvent[]) => db.$client.transaction(() => d.onEventsInserted(db, events))(),
      emit: async (tenantId: string, m: { type: string; data: unknown; severity?: Severity }, now: number, fail = false) =>
        db.$client.transaction(() => {
          const n = d.emit(db, tenantId, m, now);
          if (fail) throw new Error("rolled back");
          return n;
        })(),
      wants: async (tenantId: string, type: string) => d.wants(db, tenantId, type),
    };
  },
  postgres: async () => {
    const { store, sql } = await makePgStore();
    const d = new WebhookDispatcher(null, { allow: [], leaseMs: 30_000, autoDisableAfter: 0, clock: Date.now, log: silentLogger });
    const outbox = d.pgOutbox((tx) => pgStore(tx));
    return {
      store,
      raw: pgRaw(sql),
      inserted: (events: NormalizedEvent[]) => inTx(sql, (tx) => outbox.onEventsInserted(tx, events)),
      emit: (tenantId: string, m: { type: string; data: unknown; severity?: Severity }, now: number, fail = false) =>
        inTx(sql, async (tx) => {
          const n = await outbox.emit(tx, tenantId, m, now);
          if (fail) throw new Error("rolled back");
          return n;
        }),
      wants: (tenantId: string, type: string) => inTx(sql, (tx) => outbox.wants(tx, tenantId, type)),
    };
  },
};

function event(i: number, now: number, o: Partial<NormalizedEvent> = {}): NormalizedEvent {
  return {
    id: `ev_${i}`,
    tenantId: "t1",
    receivedAt: now,
    occurredAt: now,
    sourceName: "generic",
    source: "app",
    type: "x",
    module: "m",
    title: "t",
    summary: "s",
    severity: "high",
    severityRaw: null,
    host: null,
    tags: ["a"],
    payloadJson: `{ "n" :${i},  "raw":"\\u00e9 é" }`,
    rawJson: "{}",
    dedupKey: null,
    externalId: null,
    indicators: [],
    warnings: [],
    resolve: false,
    opensAlert: false,
    ...o,
  };
}

for (const [kind, make] of Object.entries(OUTBOX_KINDS)) {
  test(`outbox on ${kind}: a commit's messages to every matching webhook (held while inactive, batched ones wait for a flush), in the caller's transaction`, async () => {
    const o = await make();
    const now = Date.now();
    await o.raw(`INSERT INTO tenants (id, name, created_at) VALUES ('t1', 't1', ${now})`);
    await o.store.webhooks.insertWebhook(webhookRow("wh_all", "t1", now, { triggers: '["*"]' }));
    await o.store.webhooks.insertWebhook(webhookRow("wh_alert", "t1", now, { triggers: '["alert.*"]' }));
    await o.store.webhooks.insertWebhook(webhookRow("wh_off", "t1", now, { triggers: '["*"]', state: "inactive" }));
    await o.store.webhooks.insertWebhook(webhookRow("wh_batch", "t1", now, { triggers: '["event.received"]', mode: "batched", intervalS: 60 }));
    await o.store.webhooks.insertWebhook(webhookRow("wh_low", "t1", now, { triggers: '["event.received"]', filters: '{"tags":["zzz"]}' }));
    expect(await o.wants("t1", "event.received")).toBe(true);
    expect(await o.wants("t1", "heartbeat.down")).toBe(true);
    expect(await o.wants("t2", "event.received")).toBe(false);
    await o.inserted([event(1, now), event(2, now + 1), event(3, now + 2)]);
    const count = async (w: string, status: string) =>
      Number((await o.raw(`SELECT count(*) AS n FROM deliveries WHERE webhook_id = '${w}' AND status = '${status}'`))[0]!.n);
    expect([await count("wh_all", "pending"), await count("wh_alert", "pending"), await count("wh_off", "held"), await count("wh_batch", "pending"), await count("wh_low", "pending")]).toEqual([3, 0, 3, 3, 0]);
    // immediate ones have their job in the webhook's lane; batched ones wait for one flush job
    expect(Number((await o.raw("SELECT count(*) AS n FROM jobs WHERE kind = 'deliver' AND lane = 'wh_all'"))[0]!.n)).toBe(3);
    expect(Number((await o.raw("SELECT count(*) AS n FROM jobs WHERE kind = 'flush'"))[0]!.n)).toBe(1);
    expect((await o.store.deliveries.backlogOf("wh_all")).count).toBe(3);
    // the body: the message envelope around the event's payload, byte for byte
    const [body] = await o.raw("SELECT body FROM deliveries WHERE webhook_id = 'wh_all' ORDER BY created_at, id LIMIT 1");
    expect(body!.body as string).toContain(`"payload":{ "n" :1,  "raw":"\\u00e9 é" }}}`);
    // emit: alert messages to the webhooks that take them; a rolled-back transaction leaves nothing
    expect(await o.emit("t1", { type: "alert.opened", data: { id: "al_1" }, severity: "high" }, now + 3)).toBe(3);
    expect(await count("wh_alert", "pending")).toBe(1);
    await expect(o.emit("t1", { type: "alert.closed", data: { id: "al_1" } }, now + 4, true)).rejects.toThrow("rolled back");
    expect(Number((await o.raw("SELECT count(*) AS n FROM deliveries WHERE type = 'alert.closed'"))[0]!.n)).toBe(0);
    expect((await o.store.deliveries.backlogOf("wh_alert")).count).toBe(1);
    // the claim takes the lane jobs
    const got = await o.store.queue.claim("webhooks", { limit: 100, leaseMs: 30_000, token: "t", laneMaxInflight: 100 });
    expect(got.filter((j) => j.kind === "deliver").length).toBe(5);
  });
}
