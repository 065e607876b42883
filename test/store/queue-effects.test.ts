// The worker's claim hook and outcome effects as units of the queue contract
// (src/store/queue-contract.ts: ClaimRequest.startAttempt, Outcome.effects), written once and run
// on both stores: a delivery claimed with its attempt started, settled with its effects; a settle
// whose lease was lost changes nothing; every effect kind; and, on PostgreSQL, two workers on two
// pools delivering 500 messages to a local receiver, each exactly once.
import { describe, expect, test } from "bun:test";
import type { Db } from "../../src/db/client";
import { openPg } from "../../src/db/pg-client";
import { parseAllowList } from "../../src/core/netrange";
import { DELIVER_KIND, WebhookDispatcher, compile, outboundOf } from "../../src/jobs/handlers/webhooks";
import { Worker } from "../../src/jobs/worker";
import { silentLogger } from "../../src/lib/log";
import type { Store } from "../../src/store/contract";
import { pgStore } from "../../src/store/index";
import type { ClaimRequest, Effect } from "../../src/store/queue-contract";
import type { WebhookRow } from "../../src/store/webhooks";
import { makePgStore, makeSqliteStore, sharedCluster } from "./both";

type Raw = (q: string) => Promise<Record<string, unknown>[]>;
const sqliteRaw =
  (db: Db): Raw =>
  async (q) =>
    db.$client.query(q).all() as Record<string, unknown>[];
const pgRaw =
  (sql: import("postgres").Sql<{}>): Raw =>
  async (q) =>
    [...(await sql.unsafe(q))].map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v])));

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

const req = (token: string, o: Partial<ClaimRequest> = {}): ClaimRequest => ({ limit: 10, leaseMs: 60_000, token, laneMaxInflight: 32, startAttempt: DELIVER_KIND, ...o });

/** A tenant, a webhook, and `n` messages queued for it. */
async function seed(s: Store, raw: Raw, n: number, o: Partial<WebhookRow> = {}, tenantSql = true): Promise<{ w: WebhookRow; ids: string[]; t: number }> {
  const t = await s.queue.now();
  if (tenantSql) await raw(`INSERT INTO tenants (id, name, created_at) VALUES ('t1', 't1', ${t})`);
  const w = webhookRow(o.id ?? "wh_1", "t1", t, o);
  await s.webhooks.insertWebhook(w);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `msg_${w.id}_${String(i).padStart(4, "0")}`;
    await s.deliveries.enqueueMessage(outboundOf(compile(w)), { id, type: "x.y", body: `{"n":${i}}` }, t, 60_000);
    ids.push(id);
  }
  return { w, ids, t };
}

const result = (status: number) => ({
  started_at: 1,
  duration_ms: 2,
  url: "http://127.0.0.1:9/x",
  request_headers: "{}",
  request_body: "{}",
  response_status: status,
  response_headers: "{}",
  response_body: "ok",
  error: status === 200 ? null : `HTTP ${status}`,
  outcome: status === 200 ? ("succeeded" as const) : ("failed" as const),
});

for (const [kind, make] of Object.entries(KINDS)) {
  describe(`queue effects on ${kind}`, () => {
    test("a delivery is claimed with its attempt started, and settled with its effects in the same unit", async () => {
      const { store: s, raw } = await make();
      const { w, ids } = await seed(s, raw, 2);
      const claimed = await s.queue.claim("webhooks", req("tok", { limit: 1 }));
      expect(claimed.length).toBe(1);
      const job = claimed[0]!;
      expect(JSON.parse(job.payload).d).toBe(ids[0]);
      expect(job.started).toEqual({ id: expect.any(Number), attempt: 1 });
      // the claim counted the attempt and wrote its row (`started`)
      expect((await s.deliveries.getDelivery(ids[0]!))!.attempts).toBe(1);
      expect((await s.deliveries.listAttempts(ids[0]!)).map((a) => a.outcome)).toEqual(["started"]);
      const effects: Effect[] = [
        { type: "completeAttempt", attemptId: job.started!.id, result: result(200) },
        { type: "markDelivery", id: ids[0]!, status: "succeeded", attempted: false, statusCode: 200, error: null },
        { type: "resetFailures", webhookId: w.id },
      ];
      // with `next`: the second message is claimed in the same unit, its attempt started too
      const r = await s.queue.settle([{ id: job.id, token: "tok", lane: job.lane, action: "finish", state: "succeeded", effects }], { queue: "webhooks", req: req("tok2") });
      expect(r.held).toEqual([true]);
      expect(r.errors).toEqual([null]);
      expect(r.claimed.map((j) => JSON.parse(j.payload).d)).toEqual([ids[1]]);
      expect(r.claimed[0]!.started).toEqual({ id: expect.any(Number), attempt: 1 });
      const d = (await s.deliveries.getDelivery(ids[0]!))!;
      expect([d.status, d.attempts, d.last_status_code]).toEqual(["succeeded", 1, 200]);
      const [a] = await s.deliveries.listAttempts(ids[0]!);
      expect([a!.outcome, a!.response_status, a!.response_body, a!.attempt]).toEqual(["succeeded", 200, "ok", 1]);
      // a plain job (not of the hook's kind) gets no attempt
      await s.queue.enqueue([{ queue: "webhooks", kind: "flush", payload: { w: w.id } }]);
      const [flush] = await s.queue.claim("webhooks", req("tok3"));
      expect(flush!.kind).toBe("flush");
      expect(flush!.started).toBeUndefined();
    });

    test("a settle whose lease was lost changes nothing: neither the job nor its effects", async () => {
      const { store: s, raw } = await make();
      const { w, ids } = await seed(s, raw, 1);
      const [job] = await s.queue.claim("webhooks", req("mine", { leaseMs: 150 }));
      await Bun.sleep(250);
      // the lease ran out: another claim takes the job (its attempt: the first is marked interrupted)
      const [again] = await s.queue.claim("webhooks", req("theirs"));
      expect(again!.id).toBe(job!.id);
      expect(again!.started!.attempt).toBe(2);
      const effects: Effect[] = [
        { type: "completeAttempt", attemptId: job!.started!.id, result: result(200) },
        { type: "markDelivery", id: ids[0]!, status: "succeeded", statusCode: 200 },
        { type: "addFailure", webhook: { id: w.id, tenantId: "t1", name: w.name, url: w.url }, disableAfter: 1, lastError: "x" },
      ];
      const r = await s.queue.settle([{ id: job!.id, token: "mine", lane: job!.lane, action: "finish", state: "succeeded", effects }]);
      expect(r.held).toEqual([false]);
      expect((await s.deliveries.getDelivery(ids[0]!))!.status).toBe("pending");
      expect((await s.deliveries.listAttempts(ids[0]!)).map((a) => a.outcome).sort()).toEqual(["interrupted", "started"]);
      expect((await s.webhooks.getWebhookById(w.id))!.consecutiveFailures).toBe(0);
      expect((await s.queue.get(job!.id))!.state).toBe("running");
    });

    test("every effect kind: attempts, batches, flushes, failure streak with auto-disable and its record", async () => {
      const { store: s, raw } = await make();
      const { w, ids } = await seed(s, raw, 3, { mode: "batched", intervalS: 1 });
      const ref = { id: w.id, tenantId: "t1", name: w.name, url: w.url };
      const flushes = async () => (await raw("SELECT count(*) AS n FROM jobs WHERE kind = 'flush' AND state = 'available'"))[0]!.n as number;
      // the batched messages scheduled their flush at the next 1 s slot (two when the seed crossed
      // a slot's end): one coming due mid-test was claimed by a claim below that expects one job
      // (failed once under load). Wait until they are due, and take them out first.
      const scheduled = await flushes();
      expect(scheduled).toBeGreaterThanOrEqual(1);
      const deadline = Date.now() + 15_000;
      for (let taken = 0; taken < scheduled; ) {
        expect(Date.now()).toBeLessThan(deadline);
        const due = await s.queue.claim("webhooks", req("seeded"));
        expect(due.every((j) => j.kind === "flush")).toBe(true);
        if (due.length) await s.queue.settle(due.map((j) => ({ id: j.id, token: "seeded", lane: j.lane, action: "finish" as const, state: "succeeded" as const })));
        else await Bun.sleep(50);
        taken += due.length;
      }
      expect(await flushes()).toBe(0);
      // batched messages wait for a flush: nothing claimable yet but the jobs we add
      await s.queue.enqueue([{ queue: "webhooks", kind: "flush", payload: { w: w.id } }]);
      let [job] = await s.queue.claim("webhooks", req("a"));
      const outbound = outboundOf(compile(w));
      let r = await s.queue.settle([
        { id: job!.id, token: "a", action: "finish", state: "succeeded", effects: [{ type: "makeBatch", webhook: outbound, id: "msg_batch1", memberIds: ids }] },
      ]);
      expect(r).toEqual({ held: [true], errors: [null], claimed: [] });
      expect((await s.deliveries.batchMembers("msg_batch1")).map((m) => m.id)).toEqual(ids);
      expect((await s.deliveries.openBatch(w.id))!.id).toBe("msg_batch1");
      // the batch's delivery job: attempt started by the claim, then a failure: pending, members follow
      [job] = await s.queue.claim("webhooks", req("b"));
      expect(JSON.parse(job!.payload).d).toBe("msg_batch1");
      const flushesBefore = await flushes();
      r = await s.queue.settle([
        {
          id: job!.id,
          token: "b",
          lane: job!.lane,
          action: "retry",
          delayMs: 60_000,
          error: "HTTP 500",
          effects: [
            { type: "completeAttempt", attemptId: job!.started!.id, result: result(500) },
            { type: "markDelivery", id: "msg_batch1", status: "pending", statusCode: 500, error: "HTTP 500" },
            { type: "markBatchMembers", batchId: "msg_batch1", status: "pending", statusCode: 500, error: "HTTP 500" },
            { type: "addFailure", webhook: ref, disableAfter: 2, lastError: "HTTP 500", otherwise: [{ type: "enqueueFlush", webhook: { id: w.id, intervalS: 1 }, immediate: true }] },
          ],
        },
      ]);
      expect(r.held).toEqual([true]);
      expect((await s.deliveries.getDelivery(ids[0]!))!.last_status_code).toBe(500);
      expect((await s.webhooks.getWebhookById(w.id))!.consecutiveFailures).toBe(1);
      // below the streak: `otherwise` ran (a flush job)
      expect(await flushes()).toBe(flushesBefore + 1);
      // the batch goes back: released to held, the batch row failed; an attempt recorded without a claim; one discarded
      const { ids: more } = await seed(s, raw, 1, { id: "wh_2" }, false);
      const got = await s.queue.claim("webhooks", req("c"));
      job = got.find((j) => j.kind === DELIVER_KIND)!;
      expect(JSON.parse(job!.payload).d).toBe(more[0]);
      // the flush jobs claimed with it are settled first, plainly
      r = await s.queue.settle(got.filter((j) => j !== job).map((j) => ({ id: j.id, token: "c", lane: j.lane, action: "finish" as const, state: "succeeded" as const })));
      expect(r.held.every(Boolean)).toBe(true);
      r = await s.queue.settle([
        {
          id: job!.id,
          token: "c",
          lane: job!.lane,
          action: "finish",
          state: "succeeded",
          effects: [
            { type: "discardAttempt", attemptId: job!.started!.id, deliveryId: more[0]! },
            { type: "insertAttempt", attempt: { delivery_id: more[0]!, webhook_id: "wh_2", attempt: 7, ...result(200) } },
            { type: "markDelivery", id: more[0]!, status: "held" },
            { type: "releaseBatch", batchId: "msg_batch1", status: "held" },
            { type: "markDelivery", id: "msg_batch1", status: "failed", error: "webhook inactive; its messages are held" },
          ],
        },
      ]);
      expect(r.errors).toEqual([null]);
      expect((await s.deliveries.listAttempts(more[0]!)).map((a) => [a.attempt, a.outcome])).toEqual([[7, "succeeded"]]);
      expect((await s.deliveries.getDelivery(more[0]!))!.status).toBe("held");
      expect((await s.deliveries.getDelivery("msg_batch1"))!.status).toBe("failed");
      expect((await s.deliveries.heldMessages(w.id)).map((m) => m.id)).toEqual(ids);
      // the streak reaches 2: the webhook is disabled, `webhook.disabled` stored, `otherwise` not applied
      const flushesLeft = await flushes();
      await s.queue.enqueue([{ queue: "webhooks", kind: "noop", payload: {} }]);
      [job] = await s.queue.claim("webhooks", req("d"));
      r = await s.queue.settle([
        { id: job!.id, token: "d", action: "finish", state: "failed", error: "x", effects: [{ type: "addFailure", webhook: ref, disableAfter: 2, lastError: "HTTP 500", otherwise: [{ type: "enqueueFlush", webhook: { id: w.id, intervalS: 1 } }] }] },
      ]);
      expect(r.errors).toEqual([null]);
      const off = (await s.webhooks.getWebhookById(w.id))!;
      expect([off.state, off.disabledReason]).toEqual(["inactive", "2 consecutive messages failed (last: HTTP 500)"]);
      const evs = await raw("SELECT type, title FROM events WHERE type = 'webhook.disabled'");
      expect(evs).toEqual([{ type: "webhook.disabled", title: `Webhook ${w.name} disabled` }]);
      expect(await flushes()).toBe(flushesLeft);
      // disabling again (already off) records nothing more; success resets the streak
      await s.queue.enqueue([{ queue: "webhooks", kind: "noop", payload: {} }]);
      [job] = await s.queue.claim("webhooks", req("e"));
      await s.queue.settle([
        { id: job!.id, token: "e", action: "finish", state: "succeeded", effects: [{ type: "disableWebhook", webhook: ref, reason: "again" }, { type: "resetFailures", webhookId: w.id }] },
      ]);
      expect((await raw("SELECT count(*) AS n FROM events WHERE type = 'webhook.disabled'"))[0]!.n).toBe(1);
      expect((await s.webhooks.getWebhookById(w.id))!.consecutiveFailures).toBe(0);
    }, 30_000);

    test("an effect that fails is undone alone and reported; the outcome and the other outcomes' effects stay", async () => {
      const { store: s, raw } = await make();
      const { ids } = await seed(s, raw, 2);
      const jobs = await s.queue.claim("webhooks", req("t"));
      expect(jobs.length).toBe(2);
      const [a, b] = jobs;
      const r = await s.queue.settle([
        {
          id: a!.id,
          token: "t",
          lane: a!.lane,
          action: "finish",
          state: "succeeded",
          effects: [
            { type: "markDelivery", id: ids[0]!, status: "succeeded" },
            // no such delivery: the attempt's foreign key fails
            { type: "insertAttempt", attempt: { delivery_id: "msg_nope", webhook_id: "wh_nope", attempt: 1, ...result(200) } },
          ],
        },
        { id: b!.id, token: "t", lane: b!.lane, action: "finish", state: "succeeded", effects: [{ type: "markDelivery", id: ids[1]!, status: "succeeded" }] },
      ]);
      expect(r.held).toEqual([true, true]);
      expect(typeof r.errors[0]).toBe("string");
      expect(r.errors[1]).toBeNull();
      expect((await s.deliveries.getDelivery(ids[0]!))!.status).toBe("pending");
      expect((await s.deliveries.getDelivery(ids[1]!))!.status).toBe("succeeded");
      expect((await s.queue.get(a!.id))!.state).toBe("succeeded");
    });

    test("a claim of many deliveries starts their attempts: cut-off ones interrupted, ones no longer pending get none", async () => {
      const { store: s, raw } = await make();
      const { ids } = await seed(s, raw, 4);
      const first = await s.queue.claim("webhooks", req("a", { leaseMs: 150 }));
      expect(first.map((j) => j.started!.attempt)).toEqual([1, 1, 1, 1]);
      expect(new Set(first.map((j) => j.started!.id)).size).toBe(4);
      await Bun.sleep(250);
      // meanwhile message 1 was settled elsewhere; the leases ran out: the next claim takes all four again
      await s.deliveries.markDelivery(ids[1]!, "succeeded", await s.queue.now());
      const again = await s.queue.claim("webhooks", req("b"));
      expect(again.map((j) => JSON.parse(j.payload).d)).toEqual(ids);
      expect(again.map((j) => j.started?.attempt ?? null)).toEqual([2, null, 2, 2]);
      for (const [i, id] of ids.entries()) {
        const attempts = await s.deliveries.listAttempts(id);
        expect(attempts.map((a) => [a.attempt, a.outcome])).toEqual(i === 1 ? [[1, "interrupted"]] : [[1, "interrupted"], [2, "started"]]);
        if (i !== 1) expect(attempts[1]!.id).toBe(again[i]!.started!.id);
        // the row as the claim left it, when the store read it there (PostgreSQL): what a read after the claim gives
        if (kind === "postgres" && i !== 1) expect(again[i]!.delivery).toEqual((await s.deliveries.getDelivery(id))!);
        if (kind === "sqlite" || i === 1) expect(again[i]!.delivery).toBeUndefined();
        expect(attempts[0]!.url).toBe("http://127.0.0.1:9/x");
      }
      expect((await s.deliveries.getDelivery(ids[1]!))!.attempts).toBe(1);
      expect((await s.deliveries.getDelivery(ids[0]!))!.attempts).toBe(2);
    });

    test("one settle of many outcomes (fenced ones, slow ones between fast ones) gives what settling them one by one gives", async () => {
      const { store: s, raw } = await make();
      const { w, ids } = await seed(s, raw, 8);
      const jobs = await s.queue.claim("webhooks", req("t"));
      expect(jobs.length).toBe(8);
      // jobs 2 and 5 were taken over meanwhile: their settles must change nothing
      await raw(`UPDATE jobs SET lease_token = 'other' WHERE id IN (${jobs[2]!.id}, ${jobs[5]!.id})`);
      const ref = { id: w.id, tenantId: "t1", name: w.name, url: w.url };
      const done = (i: number, status: number): Effect[] => [
        { type: "completeAttempt", attemptId: jobs[i]!.started!.id, result: result(status) },
        { type: "markDelivery", id: ids[i]!, status: status === 200 ? "succeeded" : "failed", statusCode: status, error: status === 200 ? null : `HTTP ${status}` },
      ];
      const base = (i: number) => ({ id: jobs[i]!.id, token: "t", lane: jobs[i]!.lane });
      const r = await s.queue.settle([
        { ...base(0), action: "finish", state: "succeeded", effects: [...done(0, 200), { type: "resetFailures", webhookId: w.id }] },
        {
          ...base(1),
          action: "retry",
          delayMs: 60_000,
          error: "HTTP 500",
          effects: [
            { type: "completeAttempt", attemptId: jobs[1]!.started!.id, result: result(500) },
            { type: "markDelivery", id: ids[1]!, status: "pending", statusCode: 500, error: "HTTP 500" },
          ],
        },
        { ...base(2), action: "finish", state: "succeeded", effects: [...done(2, 200), { type: "resetFailures", webhookId: w.id }] },
        { ...base(3), action: "finish", state: "failed", error: "HTTP 400", effects: [...done(3, 400), { type: "addFailure", webhook: ref, disableAfter: 0, lastError: "HTTP 400" }] },
        { ...base(4), action: "finish", state: "succeeded", effects: [...done(4, 200), { type: "resetFailures", webhookId: w.id }] },
        { ...base(5), action: "snooze", delayMs: 60_000 },
        { ...base(6), action: "finish", state: "failed", error: "HTTP 400", effects: [...done(6, 400), { type: "addFailure", webhook: ref, disableAfter: 0, lastError: "HTTP 400" }] },
        {
          ...base(7),
          action: "finish",
          state: "succeeded",
          effects: [
            { type: "insertAttempt", attempt: { delivery_id: ids[7]!, webhook_id: w.id, attempt: 2, ...result(200) } },
            { type: "markDelivery", id: ids[7]!, status: "succeeded", attempted: true, statusCode: 200 },
          ],
        },
      ]);
      expect(r.held).toEqual([true, true, false, true, true, false, true, true]);
      expect(r.errors).toEqual([null, null, null, null, null, null, null, null]);
      const states = await Promise.all(jobs.map(async (j) => (await s.queue.get(j.id))!.state));
      expect(states).toEqual(["succeeded", "available", "running", "failed", "succeeded", "running", "failed", "succeeded"]);
      expect((await s.queue.get(jobs[5]!.id))!.attempt).toBe(1);
      expect((await s.queue.get(jobs[1]!.id))!.last_error).toBe("HTTP 500");
      const ds = await Promise.all(ids.map(async (id) => (await s.deliveries.getDelivery(id))!));
      expect(ds.map((d) => d.status)).toEqual(["succeeded", "pending", "pending", "failed", "succeeded", "pending", "failed", "succeeded"]);
      expect(ds.map((d) => d.last_status_code)).toEqual([200, 500, null, 400, 200, null, 400, 200]);
      expect(ds.map((d) => d.attempts)).toEqual([1, 1, 1, 1, 1, 1, 1, 2]);
      const outcomes = await Promise.all(ids.map(async (id) => (await s.deliveries.listAttempts(id)).map((a) => a.outcome)));
      expect(outcomes).toEqual([["succeeded"], ["failed"], ["started"], ["failed"], ["succeeded"], ["started"], ["failed"], ["started", "succeeded"]]);
      // the streak: reset, +1 (job 3), reset (job 4), +1 (job 6): in the outcomes' order
      expect((await s.webhooks.getWebhookById(w.id))!.consecutiveFailures).toBe(1);
      // the backlog: the three messages still pending
      expect((await s.deliveries.backlogOf(w.id)).count).toBe(3);
    });
  });
}

describe("PostgreSQL only", () => {
  test("two workers on two pools deliver 500 messages to a local receiver, each exactly once", async () => {
    const seen = new Map<string, number>();
    const receiver = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const id = req.headers.get("webhook-id")!;
        seen.set(id, (seen.get(id) ?? 0) + 1);
        await req.text();
        // a receiver that takes a little time: one worker cannot drain all 500 between two polls of
        // the other (with batched settles it could, and "both took part" then failed by timing)
        await Bun.sleep(10);
        return new Response("ok");
      },
    });
    const c = await sharedCluster();
    const url = await c.createDatabase(`effects_two_${process.pid}`);
    const pools = [openPg(url, { pool: 4 }).$client, openPg(url, { pool: 4 }).$client];
    const { migratePg } = await import("../../src/db/pg-migrate");
    await migratePg(pools[0]!);
    const stores = pools.map((p) => pgStore(p));
    const s = stores[0]!;
    const raw = pgRaw(pools[0]!);
    const { ids } = await seed(s, raw, 0, { url: `http://127.0.0.1:${receiver.port}/hook`, timeoutMs: 5000 });
    const t = await s.queue.now();
    const w = (await s.webhooks.getWebhookById("wh_1"))!;
    const items = Array.from({ length: 500 }, (_, i) => {
      const id = `msg_${String(i).padStart(4, "0")}`;
      return { w: outboundOf(compile(w)), m: { id, type: "x.y", body: `{"n":${i}}` }, at: t };
    });
    await s.deliveries.enqueueMessages(items, 60_000);
    void ids;
    const workers = stores.map((st) => {
      const d = new WebhookDispatcher(st, { allow: parseAllowList("127.0.0.0/8"), leaseMs: 30_000, autoDisableAfter: 0, clock: Date.now, log: silentLogger });
      // the lane's in-flight cap (cluster-wide) above one worker's slots: one worker alone cannot keep
      // the lane full, so the other's claims find room (with the cap at 16, one fast worker could)
      const wk = new Worker(st.queue, { queue: "webhooks", handlers: d.handlers(), startAttempt: DELIVER_KIND, concurrency: 16, laneMaxInflight: 32, leaseMs: 30_000, batchMs: 5, pollMs: 50, log: silentLogger });
      d.wake = () => wk.notify();
      return wk;
    });
    try {
      for (const wk of workers) wk.start();
      const until = Date.now() + 60_000;
      while (Date.now() < until) {
        const n = (await raw("SELECT count(*) AS n FROM deliveries WHERE status = 'succeeded'"))[0]!.n as number;
        if (n === 500) break;
        await Bun.sleep(50);
      }
      await Promise.all(workers.map((wk) => wk.stop(5000)));
      expect(seen.size).toBe(500);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      // both workers took part
      expect(workers.every((wk) => wk.stats.succeeded > 0)).toBe(true);
      expect(workers[0]!.stats.succeeded + workers[1]!.stats.succeeded).toBe(500);
      const rows = await raw("SELECT status, attempts, count(*) AS n FROM deliveries GROUP BY status, attempts");
      expect(rows).toEqual([{ status: "succeeded", attempts: 1, n: 500 }]);
      expect(await raw("SELECT outcome, count(*) AS n FROM delivery_attempts GROUP BY outcome")).toEqual([{ outcome: "succeeded", n: 500 }]);
      expect(await s.jobs.countJobsByState("webhooks")).toEqual({ available: 0, running: 0, succeeded: 500, failed: 0, dead: 0 });
    } finally {
      for (const wk of workers) await wk.stop(100);
      receiver.stop(true);
      await Promise.all(pools.map((p) => p.end({ timeout: 5 })));
    }
  }, 120_000);
});
