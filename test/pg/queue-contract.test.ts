// The queue's store contract (src/store/queue-contract.ts), written once and run against both
// implementations: SQLite (src/store/queue-sqlite.ts over src/store/jobs.ts, a real file in a temp
// dir) and PostgreSQL (src/store/queue-pg.ts, a throwaway cluster). Real time with short leases:
// the PostgreSQL store takes its deadlines from the database clock, so nothing can be faked there.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../src/db/client";
import { migrate } from "../../src/db/migrate";
import { openPg } from "../../src/db/pg-client";
import { migratePg } from "../../src/db/pg-migrate";
import type { ClaimRequest, QueueStore } from "../../src/store/queue-contract";
import { pgQueue } from "../../src/store/queue-pg";
import { sqliteQueue } from "../../src/store/queue-sqlite";
import { tempDir } from "../helpers";
import { startCluster, type Cluster } from "./cluster";

let cluster: Cluster;
let dbSeq = 0;
const opened: QueueStore[] = [];
beforeAll(async () => {
  cluster = await startCluster();
});
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await cluster?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const STORES: Record<string, () => Promise<QueueStore>> = {
  sqlite: async () => {
    const dir = tempDir("kw-queue-");
    dirs.push(dir);
    const db = openDatabase(join(dir, "k.db"));
    migrate(db);
    const s = sqliteQueue(db, Date.now);
    opened.push(s);
    return s;
  },
  postgres: async () => {
    const url = await cluster.createDatabase(`queue_${++dbSeq}`);
    const db = openPg(url, { pool: 8 });
    await migratePg(db.$client);
    const s = pgQueue(db.$client);
    opened.push(s);
    return s;
  },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const req = (token: string, o: Partial<ClaimRequest> = {}): ClaimRequest => ({ limit: 10, leaseMs: 60_000, token, laneMaxInflight: 32, ...o });

for (const [name, make] of Object.entries(STORES)) {
  describe(`queue contract on ${name}`, () => {
    test("enqueue: ids in input order; an idempotency key (also twice in one batch) gives the first job's id", async () => {
      const s = await make();
      const a = await s.enqueue([
        { queue: "q", kind: "k", payload: { n: 1 } },
        { queue: "q", kind: "k", payload: { n: 2 }, idempotencyKey: "once" },
        { queue: "q", kind: "k", payload: { n: 3 }, idempotencyKey: "once" },
        { queue: "other", kind: "k", payload: { n: 4 }, idempotencyKey: "once" },
        { queue: "q", kind: "k", payload: { n: 5 } },
      ]);
      expect(a.map((x) => x.created)).toEqual([true, true, false, true, true]);
      expect(a[2]!.id).toBe(a[1]!.id);
      expect(new Set([a[0]!.id, a[1]!.id, a[3]!.id, a[4]!.id]).size).toBe(4);
      for (const [i, n] of [[0, 1], [1, 2], [3, 4], [4, 5]] as const) expect(JSON.parse((await s.get(a[i]!.id))!.payload)).toEqual({ n });
      const again = await s.enqueue([{ queue: "q", kind: "k", payload: { n: 9 }, idempotencyKey: "once" }]);
      expect(again).toEqual([{ id: a[1]!.id, created: false }]);
      expect((await s.counts("q")).available).toBe(3);
    });

    test("claim: due jobs oldest first up to the limit, a lease and token on each; jobs not yet due stay", async () => {
      const s = await make();
      const ids = (await s.enqueue([0, 1, 2, 3, 4].map((n) => ({ queue: "q", kind: "k", payload: n })))).map((x) => x.id);
      await s.enqueue([{ queue: "q", kind: "k", payload: "later", delayMs: 60_000 }]);
      const before = await s.now();
      const got = await s.claim("q", req("tok-a", { limit: 3, leaseMs: 30_000 }));
      expect(got.map((j) => j.id)).toEqual(ids.slice(0, 3));
      for (const j of got) {
        expect(j).toMatchObject({ state: "running", attempt: 1, lease_token: "tok-a" });
        expect(j.lease_until! - before).toBeGreaterThanOrEqual(30_000 - 50);
        expect(j.lease_until! - before).toBeLessThan(30_000 + 5_000);
      }
      const rest = await s.claim("q", req("tok-b"));
      expect(rest.map((j) => j.id)).toEqual(ids.slice(3));
      expect(await s.claim("q", req("tok-c"))).toEqual([]);
      expect(await s.counts("q")).toEqual({ available: 1, running: 5, succeeded: 0, failed: 0, dead: 0 });
      const due = await s.nextDue("q");
      expect(due).not.toBeNull();
      expect(due! - before).toBeGreaterThan(25_000);
    });

    test("fencing: after the lease runs out another claim takes the job; the old token changes nothing", async () => {
      const s = await make();
      const [{ id }] = await s.enqueue([{ queue: "q", kind: "k", payload: null }]);
      const [first] = await s.claim("q", req("old", { leaseMs: 500 }));
      expect(first!.id).toBe(id);
      expect(await s.claim("q", req("early"))).toEqual([]); // lease still live
      await sleep(700);
      const [second] = await s.claim("q", req("new", { leaseMs: 60_000 }));
      expect(second).toMatchObject({ id, attempt: 2, lease_token: "new", state: "running" });
      const stale = await s.settle([{ id, token: "old", action: "finish", state: "succeeded" }]);
      expect(stale.held).toEqual([false]);
      expect(await s.get(id)).toMatchObject({ state: "running", lease_token: "new" });
      for (const o of [
        { id, token: "old", action: "retry" as const, delayMs: 0, error: "x" },
        { id, token: "old", action: "snooze" as const, delayMs: 0 },
      ]) expect((await s.settle([o])).held).toEqual([false]);
      const ok = await s.settle([{ id, token: "new", action: "finish", state: "succeeded" }]);
      expect(ok.held).toEqual([true]);
      const done = (await s.get(id))!;
      expect(done).toMatchObject({ state: "succeeded", lease_token: null, lease_until: null });
      expect(done.finished_at).toBeNumber();
      expect((await s.settle([{ id, token: "new", action: "finish", state: "failed" }])).held).toEqual([false]);
    });

    test("retry puts the job back after its delay with the error; snooze does not count the attempt; dead is final", async () => {
      const s = await make();
      const ids = (await s.enqueue([1, 2, 3].map((n) => ({ queue: "q", kind: "k", payload: n })))).map((x) => x.id);
      const got = await s.claim("q", req("t"));
      expect(got).toHaveLength(3);
      const t0 = await s.now();
      const r = await s.settle([
        { id: ids[0]!, token: "t", action: "retry", delayMs: 60_000, error: "receiver said 500" },
        { id: ids[1]!, token: "t", action: "snooze", delayMs: 60_000 },
        { id: ids[2]!, token: "t", action: "finish", state: "dead", error: "gave up" },
      ]);
      expect(r.held).toEqual([true, true, true]);
      const a = (await s.get(ids[0]!))!;
      expect(a).toMatchObject({ state: "available", attempt: 1, last_error: "receiver said 500", lease_token: null });
      expect(a.run_at - t0).toBeGreaterThanOrEqual(60_000 - 50);
      expect(await s.get(ids[1]!)).toMatchObject({ state: "available", attempt: 0 });
      expect(await s.get(ids[2]!)).toMatchObject({ state: "dead", last_error: "gave up" });
      expect(await s.claim("q", req("u"))).toEqual([]);
      expect(await s.counts("q")).toEqual({ available: 2, running: 0, succeeded: 0, failed: 0, dead: 1 });
    });

    test("settle claims the next jobs in the same unit", async () => {
      const s = await make();
      const ids = (await s.enqueue([1, 2, 3].map((n) => ({ queue: "q", kind: "k", payload: n })))).map((x) => x.id);
      await s.claim("q", req("t", { limit: 1 }));
      const r = await s.settle([{ id: ids[0]!, token: "t", action: "finish", state: "succeeded" }], { queue: "q", req: req("t2", { limit: 5 }) });
      expect(r.held).toEqual([true]);
      expect(r.claimed.map((j) => [j.id, j.lease_token])).toEqual([
        [ids[1]!, "t2"],
        [ids[2]!, "t2"],
      ]);
    });

    test("claimers at once take disjoint jobs: 120 jobs, 4 claimers, every job exactly once", async () => {
      const s = await make();
      const ids = (await s.enqueue(Array.from({ length: 120 }, (_, n) => ({ queue: "q", kind: "k", payload: n })))).map((x) => x.id);
      const seen: number[] = [];
      await Promise.all(
        [0, 1, 2, 3].map(async (w) => {
          for (let round = 0; round < 100; round++) {
            const got = await s.claim("q", req(`w${w}-${round}`, { limit: 7 }));
            if (got.length === 0) return;
            seen.push(...got.map((j) => j.id));
          }
        }),
      );
      expect(seen.length).toBe(120);
      expect([...seen].sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
      expect((await s.counts("q")).running).toBe(120);
    });

    test("lanes: a fair share per due lane, and a lane's in-flight cap holds until a finish frees a slot", async () => {
      const s = await make();
      for (const l of ["wh-a", "wh-b", "wh-c"]) await s.syncLane(l, { queue: "webhooks", rate: 0, ordered: false });
      for (const l of ["wh-a", "wh-b", "wh-c"]) await s.enqueue(Array.from({ length: 10 }, (_, n) => ({ queue: "webhooks", kind: "deliver", payload: n, lane: l })));
      const got = await s.claim("webhooks", req("t", { limit: 6 }));
      const per = (rows: { lane: string | null }[]) => rows.reduce<Record<string, number>>((m, j) => ((m[j.lane!] = (m[j.lane!] ?? 0) + 1), m), {});
      expect(per(got)).toEqual({ "wh-a": 2, "wh-b": 2, "wh-c": 2 });
      // in-flight cap 3: each lane may take one more, then none
      const more = await s.claim("webhooks", req("t2", { limit: 30, laneMaxInflight: 3 }));
      expect(per(more)).toEqual({ "wh-a": 1, "wh-b": 1, "wh-c": 1 });
      expect(await s.claim("webhooks", req("t3", { limit: 30, laneMaxInflight: 3 }))).toEqual([]);
      const one = more.find((j) => j.lane === "wh-b")!;
      expect((await s.settle([{ id: one.id, token: "t2", lane: "wh-b", action: "finish", state: "succeeded" }])).held).toEqual([true]);
      const after = await s.claim("webhooks", req("t4", { limit: 30, laneMaxInflight: 3 }));
      expect(per(after)).toEqual({ "wh-b": 1 });
    });

    test("lanes: the rate limit gives at most a burst at once; an ordered lane runs one at a time and holds on retry", async () => {
      const s = await make();
      await s.syncLane("slow", { queue: "webhooks", rate: 2, ordered: false });
      await s.enqueue(Array.from({ length: 20 }, (_, n) => ({ queue: "webhooks", kind: "deliver", payload: n, lane: "slow" })));
      const burst = await s.claim("webhooks", req("t", { limit: 20 }));
      expect(burst).toHaveLength(2); // 2/s: a burst of 2, the next token 500 ms later
      expect(await s.claim("webhooks", req("t2", { limit: 20 }))).toEqual([]);
      await sleep(1100);
      const refill = await s.claim("webhooks", req("t3", { limit: 20 }));
      expect(refill.length).toBeGreaterThanOrEqual(1);
      expect(refill.length).toBeLessThanOrEqual(2);

      await s.syncLane("fifo", { queue: "fifo", rate: 0, ordered: true });
      const ids = (await s.enqueue([1, 2, 3].map((n) => ({ queue: "fifo", kind: "deliver", payload: n, lane: "fifo" })))).map((x) => x.id);
      const [head] = await s.claim("fifo", req("o1", { limit: 10 }));
      expect(head!.id).toBe(ids[0]!);
      expect(await s.claim("fifo", req("o2", { limit: 10 }))).toEqual([]);
      expect((await s.settle([{ id: head!.id, token: "o1", lane: "fifo", action: "retry", delayMs: 1000, error: "503" }])).held).toEqual([true]);
      expect(await s.claim("fifo", req("o3", { limit: 10 }))).toEqual([]); // the lane holds
      await sleep(1300);
      const [again] = await s.claim("fifo", req("o4", { limit: 10 }));
      expect(again).toMatchObject({ id: ids[0]!, attempt: 2 }); // the head keeps its place
    });

    test("reclaim releases a job whose lease ran out; it is claimable again with its attempt counted", async () => {
      const s = await make();
      const [{ id }] = await s.enqueue([{ queue: "q", kind: "k", payload: null }]);
      await s.claim("q", req("gone", { leaseMs: 100 }));
      await sleep(250);
      const released = await s.reclaim();
      expect(released.map((j) => j.id)).toEqual([id]);
      expect(await s.get(id)).toMatchObject({ state: "available", attempt: 1, lease_token: null });
      const [again] = await s.claim("q", req("next"));
      expect(again).toMatchObject({ id, attempt: 2, lease_token: "next" });
    });
  });
}

describe("PostgreSQL only", () => {
  test("reclaim leaves a live lease alone (another replica holds it); deadlines come from the database clock", async () => {
    const s = await STORES.postgres!();
    const [{ id }] = await s.enqueue([{ queue: "q", kind: "k", payload: null }]);
    const [j] = await s.claim("q", req("replica-a", { leaseMs: 60_000 }));
    expect(await s.reclaim()).toEqual([]);
    expect(await s.get(id)).toMatchObject({ state: "running", lease_token: "replica-a" });
    // the lease end is the database's now + the lease, whatever this process's clock says
    const dbNow = await s.now();
    expect(j!.lease_until! - dbNow).toBeGreaterThan(59_000);
    expect(j!.lease_until! - dbNow).toBeLessThanOrEqual(60_000);
  });

  test("claimers on separate connections never take one job twice (FOR UPDATE SKIP LOCKED), lanes included", async () => {
    const url = await cluster.createDatabase(`queue_${++dbSeq}`);
    const first = openPg(url, { pool: 1 });
    await migratePg(first.$client);
    const stores = [pgQueue(first.$client), ...[1, 2, 3].map(() => pgQueue(openPg(url, { pool: 1 }).$client))];
    opened.push(...stores);
    const s = stores[0]!;
    for (const l of ["l1", "l2"]) await s.syncLane(l, { queue: "mix", rate: 0, ordered: false });
    await s.enqueue(Array.from({ length: 60 }, (_, n) => ({ queue: "mix", kind: "k", payload: n, lane: n % 3 === 0 ? null : n % 3 === 1 ? "l1" : "l2" })));
    const seen: number[] = [];
    await Promise.all(
      stores.map(async (st, w) => {
        for (let round = 0; round < 200; round++) {
          const got = await st.claim("mix", req(`w${w}-${round}`, { limit: 5, laneMaxInflight: 1000 }));
          seen.push(...got.map((j) => j.id));
          if (got.length === 0 && (await st.counts("mix")).available === 0) return;
        }
      }),
    );
    expect(seen.length).toBe(60);
    expect(new Set(seen).size).toBe(60);
  });
});
