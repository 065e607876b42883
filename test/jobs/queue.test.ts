// The persisted job queue on a real SQLite file: transactional enqueue, leases and fencing,
// idempotency keys, backoff spacing (fake clock), dead letters, bounded concurrency, restart.
import { afterEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { dbFile, openDatabase, type Db } from "../../src/db/client";
import { migrate } from "../../src/db/migrate";
import { enqueue } from "../../src/jobs/queue";
import { Worker, type Handler } from "../../src/jobs/worker";
import { silentLogger } from "../../src/lib/log";
import { sqliteQueue } from "../../src/store/queue-sqlite";
import { claimJobs, countJobsByState, finishJob, getJob, retryJob } from "../../src/store/jobs";
import { tempDir } from "../helpers";

const dirs: string[] = [];
const dbs: Db[] = [];
function freshDb(dir = tempDir()): Db {
  dirs.push(dir);
  const db = openDatabase(dbFile(dir), { durability: "normal" });
  migrate(db);
  dbs.push(db);
  return db;
}
afterEach(() => {
  for (const db of dbs.splice(0)) db.$client.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("enqueue", () => {
  test("inside the caller's transaction: a rollback takes the job with it", () => {
    const db = freshDb();
    expect(() =>
      db.$client.transaction(() => {
        enqueue(db, { queue: "q", kind: "k", payload: { a: 1 } }, 1000);
        throw new Error("the caller fails");
      })(),
    ).toThrow("the caller fails");
    expect(countJobsByState(db, "q").available).toBe(0);
    db.$client.transaction(() => enqueue(db, { queue: "q", kind: "k", payload: { a: 1 } }, 1000))();
    expect(countJobsByState(db, "q").available).toBe(1);
  });

  test("an idempotency key makes a repeat return the first job", () => {
    const db = freshDb();
    const a = enqueue(db, { queue: "q", kind: "k", payload: 1, idempotencyKey: "x" }, 1000);
    const b = enqueue(db, { queue: "q", kind: "k", payload: 2, idempotencyKey: "x" }, 1000);
    expect(a.created).toBe(true);
    expect(b).toEqual({ id: a.id, created: false });
    // another queue is another namespace
    expect(enqueue(db, { queue: "other", kind: "k", payload: 1, idempotencyKey: "x" }, 1000).created).toBe(true);
    expect(JSON.parse(getJob(db, a.id)!.payload)).toBe(1);
  });
});

describe("claim, lease, fencing", () => {
  test("claims due jobs only, in run_at order, up to the limit", () => {
    const db = freshDb();
    const late = enqueue(db, { queue: "q", kind: "k", payload: null, runAt: 5000 }, 1000).id;
    const b = enqueue(db, { queue: "q", kind: "k", payload: null, runAt: 1200 }, 1000).id;
    const a = enqueue(db, { queue: "q", kind: "k", payload: null, runAt: 1100 }, 1000).id;
    const got = claimJobs(db, "q", 2000, 10_000, "t1", 10);
    expect(got.map((j) => j.id)).toEqual([a, b]);
    expect(got.every((j) => j.state === "running" && j.attempt === 1 && j.lease_until === 12_000)).toBe(true);
    expect(claimJobs(db, "q", 2000, 10_000, "t2", 10)).toEqual([]);
    expect(claimJobs(db, "q", 5000, 10_000, "t3", 10).map((j) => j.id)).toEqual([late]);
  });

  test("a job whose lease ran out is claimed again, and the old holder's finish is refused", () => {
    const db = freshDb();
    const id = enqueue(db, { queue: "q", kind: "k", payload: null }, 1000).id;
    const [first] = claimJobs(db, "q", 1000, 500, "old", 1);
    expect(first.lease_token).toBe("old");
    expect(claimJobs(db, "q", 1400, 500, "x", 1)).toEqual([]); // lease still holds
    const [second] = claimJobs(db, "q", 1600, 500, "new", 1);
    expect(second.id).toBe(id);
    expect(second.attempt).toBe(2);
    // the crashed/slow first worker comes back: fenced out
    expect(finishJob(db, id, "old", "succeeded", 1700)).toBe(false);
    expect(retryJob(db, id, "old", 9999, "late")).toBe(false);
    expect(getJob(db, id)!.state).toBe("running");
    expect(finishJob(db, id, "new", "succeeded", 1700)).toBe(true);
    expect(getJob(db, id)!.state).toBe("succeeded");
    expect(getJob(db, id)!.finished_at).toBe(1700);
  });
});

/** A fake clock the test moves by hand; the worker's timers are real but short. */
function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

async function settle(w: Worker, db: Db, queue: string, pred: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out: " + JSON.stringify(countJobsByState(db, queue)));
    w.notify();
    await Bun.sleep(5);
  }
}

describe("worker", () => {
  test("failures back off exponentially (with jitter) and the job is dead after the last attempt", async () => {
    const db = freshDb();
    const clock = fakeClock();
    const attemptsAt: number[] = [];
    const handler: Handler = async (ctx) => {
      attemptsAt.push(ctx.now());
      return { result: "retry", error: `boom ${ctx.job.attempt}` };
    };
    const w = new Worker(sqliteQueue(db, clock.now), {
      queue: "q",
      handlers: { k: handler },
      concurrency: 1,
      leaseMs: 60_000,
      pollMs: 5,
      clock: clock.now,
      random: () => 1, // always the top of the jitter band: delay × 1.2
      policy: { maxAttempts: 4, initialMs: 1000, maxMs: 3000, jitter: 0.2 },
      log: silentLogger,
    });
    const id = enqueue(db, { queue: "q", kind: "k", payload: null, maxAttempts: 4 }, clock.now()).id;
    w.start();
    const expected = [1200, 2400, 3600]; // 1000, 2000, 4000→capped 3000; ×1.2
    for (let i = 0; i < 4; i++) {
      await settle(w, db, "q", () => attemptsAt.length === i + 1 && getJob(db, id)!.state !== "running");
      if (i < 3) {
        const j = getJob(db, id)!;
        expect(j.state).toBe("available");
        expect(j.run_at - clock.now()).toBe(expected[i]);
        // not a millisecond early
        clock.advance(expected[i] - 1);
        w.notify();
        await Bun.sleep(30);
        expect(attemptsAt.length).toBe(i + 1);
        clock.advance(1);
      }
    }
    await w.stop(1000);
    const j = getJob(db, id)!;
    expect(j.state).toBe("dead");
    expect(j.attempt).toBe(4);
    expect(j.last_error).toBe("boom 4");
    const gaps = attemptsAt.slice(1).map((t, i) => t - attemptsAt[i]);
    expect(gaps).toEqual(expected);
  });

  test("500 k times then success: exactly one success", async () => {
    const db = freshDb();
    const clock = fakeClock();
    let calls = 0;
    const w = new Worker(sqliteQueue(db, clock.now), {
      queue: "q",
      handlers: { k: async () => (++calls <= 3 ? { result: "retry", error: "HTTP 500" } : { result: "success" }) },
      concurrency: 4,
      leaseMs: 60_000,
      pollMs: 5,
      clock: clock.now,
      policy: { maxAttempts: 10, initialMs: 100, maxMs: 100, jitter: 0 },
      log: silentLogger,
    });
    const id = enqueue(db, { queue: "q", kind: "k", payload: null, maxAttempts: 10 }, clock.now()).id;
    w.start();
    for (let i = 0; i < 50 && getJob(db, id)!.state !== "succeeded"; i++) {
      clock.advance(100);
      w.notify();
      await Bun.sleep(10);
    }
    await w.stop(1000);
    expect(getJob(db, id)!.state).toBe("succeeded");
    expect(getJob(db, id)!.attempt).toBe(4);
    expect(calls).toBe(4);
    expect(w.stats.succeeded).toBe(1);
  });

  test("concurrency is bounded and every job runs once", async () => {
    const db = freshDb();
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    const w = new Worker(sqliteQueue(db), {
      queue: "q",
      handlers: {
        k: async (ctx) => {
          running++;
          peak = Math.max(peak, running);
          await Bun.sleep(5);
          seen.push(ctx.payload.n);
          running--;
          return { result: "success" };
        },
      },
      concurrency: 3,
      leaseMs: 60_000,
      pollMs: 5,
      log: silentLogger,
    });
    db.$client.transaction(() => {
      for (let n = 0; n < 40; n++) enqueue(db, { queue: "q", kind: "k", payload: { n } }, Date.now());
    })();
    w.start();
    await settle(w, db, "q", () => countJobsByState(db, "q").succeeded === 40);
    await w.stop(1000);
    expect(peak).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(40).keys()]);
  });

  test("a permanent failure is 'failed', an unknown kind too, and a snooze does not count an attempt", async () => {
    const db = freshDb();
    let snoozed = false;
    const w = new Worker(sqliteQueue(db), {
      queue: "q",
      handlers: {
        bad: async () => ({ result: "fail", error: "no" }),
        lazy: async () => {
          if (!snoozed) {
            snoozed = true;
            return { result: "snooze", delayMs: 1 };
          }
          return { result: "success" };
        },
      },
      concurrency: 2,
      leaseMs: 60_000,
      pollMs: 5,
      log: silentLogger,
    });
    const bad = enqueue(db, { queue: "q", kind: "bad", payload: null, maxAttempts: 5 }, Date.now()).id;
    const unknown = enqueue(db, { queue: "q", kind: "nope", payload: null }, Date.now()).id;
    const lazy = enqueue(db, { queue: "q", kind: "lazy", payload: null }, Date.now()).id;
    w.start();
    await settle(w, db, "q", () => countJobsByState(db, "q").available + countJobsByState(db, "q").running === 0);
    await w.stop(1000);
    expect(getJob(db, bad)!.state).toBe("failed");
    expect(getJob(db, bad)!.attempt).toBe(1);
    expect(getJob(db, unknown)!.state).toBe("failed");
    expect(getJob(db, unknown)!.last_error).toContain("no handler");
    expect(getJob(db, lazy)!.state).toBe("succeeded");
    expect(getJob(db, lazy)!.attempt).toBe(1);
  });

  test("a restart resumes: jobs left running by a dead worker are taken after their lease", async () => {
    const dir = tempDir();
    const db1 = freshDb(dir);
    const ids: number[] = [];
    db1.$client.transaction(() => {
      for (let n = 0; n < 5; n++) ids.push(enqueue(db1, { queue: "q", kind: "k", payload: { n } }, Date.now()).id);
    })();
    // a worker claims two and "dies" (never finishes them)
    expect(claimJobs(db1, "q", Date.now(), 200, "dead-worker", 2)).toHaveLength(2);
    db1.$client.close();
    dbs.splice(dbs.indexOf(db1), 1);
    const db2 = openDatabase(dbFile(dir), { durability: "normal" });
    dbs.push(db2);
    const done: number[] = [];
    const w = new Worker(sqliteQueue(db2), {
      queue: "q",
      handlers: { k: async (ctx) => (done.push(ctx.payload.n), { result: "success" }) },
      concurrency: 4,
      leaseMs: 60_000,
      pollMs: 20,
      log: silentLogger,
    });
    w.start();
    await settle(w, db2, "q", () => countJobsByState(db2, "q").succeeded === 5);
    await w.stop(1000);
    expect(done.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(countJobsByState(db2, "q").running).toBe(0);
  });

  test("stop lets running jobs finish (bounded)", async () => {
    const db = freshDb();
    const w = new Worker(sqliteQueue(db), {
      queue: "q",
      handlers: { k: async () => (await Bun.sleep(100), { result: "success" }) },
      concurrency: 2,
      leaseMs: 60_000,
      pollMs: 5,
      log: silentLogger,
    });
    const id = enqueue(db, { queue: "q", kind: "k", payload: null }, Date.now()).id;
    w.start();
    await settle(w, db, "q", () => getJob(db, id)!.state === "running");
    await w.stop(5000);
    expect(getJob(db, id)!.state).toBe("succeeded");
  });

  test("on a connection that does not wait for the lock (busy_timeout 0), a held lock delays claims and outcomes without losing them or blocking the event loop", async () => {
    const dir = tempDir();
    const db = freshDb(dir);
    // the server's job connection: never sleeps in SQLite's busy handler
    const jobsDb = openDatabase(dbFile(dir), { busyTimeoutMs: 0, durability: "normal" });
    dbs.push(jobsDb);
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (m: string) => void warnings.push(m), error: (m: string) => void warnings.push(m) };
    const ran: number[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const w = new Worker(sqliteQueue(jobsDb), {
      queue: "q",
      handlers: {
        k: async ({ job, payload }) => {
          ran.push(job.id);
          if (payload === 4) await gate;
          return { result: "success" };
        },
      },
      concurrency: 4,
      leaseMs: 60_000,
      pollMs: 5,
      batchMs: 1,
      log,
    });
    const ids = [1, 2, 3].map((i) => enqueue(db, { queue: "q", kind: "k", payload: i }, Date.now()).id);
    // another connection (the ingest writer, in the server) holds the write lock for 150 ms
    const holder = openDatabase(dbFile(dir), { busyTimeoutMs: 0 });
    dbs.push(holder);
    holder.$client.exec("BEGIN IMMEDIATE");
    w.start();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    await Bun.sleep(150);
    // nothing could be claimed, and the event loop kept running meanwhile
    expect(ran).toEqual([]);
    expect(ticks).toBeGreaterThanOrEqual(10);
    holder.$client.exec("COMMIT");
    await settle(w, db, "q", () => ids.every((id) => getJob(db, id)!.state === "succeeded"));
    clearInterval(ticker);
    expect(ran.sort((a, b) => a - b)).toEqual(ids);
    // outcomes finishing while the lock is held wait for it too, then commit
    const id4 = enqueue(db, { queue: "q", kind: "k", payload: 4 }, Date.now()).id;
    w.notify();
    await settle(w, db, "q", () => ran.includes(id4));
    holder.$client.exec("BEGIN IMMEDIATE");
    open(); // the job finishes while the lock is held
    await Bun.sleep(50);
    expect(getJob(db, id4)!.state).toBe("running");
    holder.$client.exec("COMMIT");
    await settle(w, db, "q", () => getJob(db, id4)!.state === "succeeded");
    await w.stop(1000);
    // a busy store is not worth a warning: nothing failed
    expect(warnings).toEqual([]);
  });
});
