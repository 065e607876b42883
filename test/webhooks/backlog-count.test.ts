// The backlog counter (job_lanes.backlog) is kept by every store function that moves a message
// into or out of `pending`, in the same transaction. A seeded walk over all of them (insert,
// mark, replay, unbatch, batch and its members' outcomes, release, drop-oldest, prune, attempts)
// checks after every step that the counter equals the pending messages, for every webhook.
// The seed is printed so a failure can be replayed: BACKLOG_SEED=… bun test test/webhooks/backlog-count.test.ts
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { dbFile, openDatabase } from "../../src/db/client";
import { migrate } from "../../src/db/migrate";
import { enqueue } from "../../src/jobs/queue";
import {
  assignBatch,
  countReplay,
  discardAttempt,
  dropOldest,
  insertDelivery,
  markBatchMembers,
  markDelivery,
  pruneDeliveries,
  releaseBatch,
  startAttempt,
  unbatchForReplay,
  type DeliveryStatus,
} from "../../src/store/deliveries";
import { createTenant } from "../../src/store/tenants";
import { insertWebhook, type WebhookRow } from "../../src/store/webhooks";
import { tempDir } from "../helpers";

const dir = tempDir("kw-backlog-count-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function mulberry32(a: number) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("the backlog counter equals the pending messages after every step of a seeded walk over every status change", () => {
  const seed = Number(process.env.BACKLOG_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`backlog counter walk: BACKLOG_SEED=${seed}`);
  const rnd = mulberry32(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const db = openDatabase(dbFile(dir), { durability: "normal" });
  migrate(db);
  const now0 = Date.now();
  const t = createTenant(db, "walk", now0);
  const hooks: string[] = [];
  for (let i = 0; i < 3; i++) {
    const id = `wh_walk${i}`;
    const row: WebhookRow = {
      id,
      tenantId: t.id,
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
      createdAt: now0,
      updatedAt: now0,
    };
    insertWebhook(db, row);
    hooks.push(id);
  }
  const messages: { id: string; webhook: string }[] = [];
  const batches: string[] = [];
  let n = 0;
  const statuses: DeliveryStatus[] = ["held", "pending", "succeeded", "failed", "dropped"];
  const check = (step: string) => {
    for (const w of hooks) {
      const counter = (db.$client.query("SELECT backlog FROM job_lanes WHERE lane = ?1").get(w) as { backlog: number }).backlog;
      const real = (
        db.$client.query("SELECT count(*) AS n FROM deliveries WHERE webhook_id = ?1 AND kind = 'message' AND status = 'pending'").get(w) as { n: number }
      ).n;
      if (counter !== real) throw new Error(`seed ${seed}, after ${step}: counter ${counter}, pending ${real} (${w})`);
    }
  };
  const ops: [string, () => void][] = [
    [
      "insert",
      () => {
        const w = pick(hooks);
        const id = `msg_${String(++n).padStart(8, "0")}`;
        const status = pick<DeliveryStatus>(["pending", "pending", "held", "dropped"]);
        const job = status === "pending" && rnd() < 0.7 ? enqueue(db, { queue: "webhooks", kind: "deliver", payload: { d: id }, lane: w, idempotencyKey: id }, now0 + n).id : null;
        insertDelivery(db, { id, tenantId: t.id, webhookId: w, kind: "message", type: "event.received", body: "{}", status, jobId: job }, now0 + n);
        messages.push({ id, webhook: w });
      },
    ],
    ["mark", () => messages.length && markDelivery(db, pick(messages).id, pick(statuses), now0 + n, { attempted: rnd() < 0.5 })],
    ["replay", () => messages.length && countReplay(db, pick(messages).id, now0 + n)],
    ["unbatch", () => messages.length && unbatchForReplay(db, pick(messages).id, now0 + n)],
    [
      "batch",
      () => {
        const w = pick(hooks);
        const free = db.$client
          .query("SELECT id FROM deliveries WHERE webhook_id = ?1 AND kind = 'message' AND status = 'pending' AND batch_id IS NULL LIMIT ?2")
          .all(w, 1 + Math.floor(rnd() * 4)) as { id: string }[];
        const id = `msg_b${String(++n).padStart(7, "0")}`;
        insertDelivery(db, { id, tenantId: t.id, webhookId: w, kind: "batch", type: "batch", body: "", status: "pending" }, now0 + n);
        assignBatch(db, id, free.map((f) => f.id));
        batches.push(id);
      },
    ],
    ["batch outcome", () => batches.length && markBatchMembers(db, pick(batches), pick(statuses), now0 + n)],
    ["batch release", () => batches.length && releaseBatch(db, pick(batches), pick<DeliveryStatus>(["held", "pending"]), now0 + n)],
    ["drop oldest", () => dropOldest(db, pick(hooks), now0 + n, "walk")],
    [
      "attempt",
      () => {
        if (!messages.length) return;
        const m = pick(messages);
        const a = startAttempt(db, m.id, now0 + n);
        if (a && rnd() < 0.5) discardAttempt(db, a.id, m.id);
      },
    ],
    [
      "prune",
      () => {
        if (rnd() > 0.1) return;
        pruneDeliveries(db, now0 + n - 50);
        // what was pruned is gone from the walk too
        const alive = new Set((db.$client.query("SELECT id FROM deliveries").all() as { id: string }[]).map((r) => r.id));
        messages.splice(0, messages.length, ...messages.filter((m) => alive.has(m.id)));
        batches.splice(0, batches.length, ...batches.filter((b) => alive.has(b)));
      },
    ],
  ];
  // the statuses messages held at some point of the walk (pruning removes old ones from the table,
  // so the table at the end does not tell which the walk went through)
  const visited = new Set<string>();
  for (let step = 0; step < 3000; step++) {
    const [name, op] = pick(ops);
    db.$client.transaction(() => op())();
    check(`step ${step} (${name})`);
    for (const r of db.$client.query("SELECT DISTINCT status FROM deliveries WHERE kind = 'message'").all() as { status: string }[]) visited.add(r.status);
  }
  // the walk visited every state
  expect([...visited].sort()).toEqual(["dropped", "failed", "held", "pending", "succeeded"]);
  db.$client.close();
});
