// Lanes of the job queue (one per webhook) on a real SQLite file with a controlled clock: a claim
// cycle runs the same few statements and touches the same few rows whether 100 or 100,000 jobs
// wait in a rate-limited lane; every statement it runs is an index search (no scan); the lanes
// share the slots fairly; an ordered lane's head holds the lane while it backs off.
import { afterEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { dbFile, openDatabase, type Db } from "../../src/db/client";
import { migrate } from "../../src/db/migrate";
import { enqueue } from "../../src/jobs/queue";
import {
  claimJobs,
  claimLaneJobs,
  finishJob,
  getLane,
  nextDue,
  reclaimAtStart,
  retryJob,
  syncLane,
  type JobRow,
} from "../../src/store/jobs";
import { tempDir } from "../helpers";

const dirs: string[] = [];
const dbs: Db[] = [];
function freshDb(): Db {
  const dir = tempDir("kw-lanes-");
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

const Q = "webhooks";
const LEASE = 30_000;

type Exec = { sql: string; args: unknown[]; rows: number; changes: number };

/** Records every statement run through db.$client.query, with the rows it returned and changed. */
function instrument(db: Db) {
  const client = db.$client as any;
  const orig = client.query.bind(client);
  const log: Exec[] = [];
  client.query = (sql: string) => {
    const st = orig(sql);
    return new Proxy(st, {
      get(t, p) {
        const v = (t as any)[p];
        if (p === "all" || p === "get" || p === "run")
          return (...args: unknown[]) => {
            const r = v.apply(t, args);
            const rows = p === "all" ? r.length : p === "get" ? (r ? 1 : 0) : 0;
            log.push({ sql, args, rows, changes: p === "run" ? r.changes : 0 });
            return r;
          };
        return typeof v === "function" ? v.bind(t) : v;
      },
    });
  };
  const totalChanges = () => (orig("SELECT total_changes() AS n").get() as { n: number }).n;
  const plan = (e: Exec) => (orig("EXPLAIN QUERY PLAN " + e.sql).all(...(e.args as any[])) as { detail: string }[]).map((r) => r.detail);
  return { log, totalChanges, plan, restore: () => (client.query = orig) };
}

function fill(db: Db, lane: string, n: number, at: number): void {
  db.$client.transaction(() => {
    for (let i = 0; i < n; i++) enqueue(db, { queue: Q, kind: "deliver", payload: { i }, lane }, at);
  })();
}

/** One claim cycle as the worker runs it: a read of the earliest due time, then (if due) the claim in a transaction. */
function cycle(db: Db, now: number, room: number): JobRow[] {
  const due = nextDue(db, Q);
  if (due === null || due > now) return [];
  return db.$client.transaction(() => {
    const plain = claimJobs(db, Q, now, LEASE, "tok", room);
    return plain.concat(claimLaneJobs(db, Q, now, LEASE, "tok", room - plain.length, { maxInflight: 32 }));
  })();
}

/** Runs the worker's loop for `ms` of controlled time in 10 ms steps; every claimed job finishes at once. */
function simulate(db: Db, t0: number, ms: number) {
  const ins = instrument(db);
  const cycles: { statements: number; rows: number }[] = [];
  let delivered = 0;
  const changesBefore = ins.totalChanges();
  const seen = new Map<string, Exec>();
  try {
    for (let t = t0; t < t0 + ms; t += 10) {
      ins.log.length = 0;
      const jobs = cycle(db, t, 64);
      cycles.push({ statements: ins.log.length, rows: ins.log.reduce((a, e) => a + e.rows + e.changes, 0) });
      for (const e of ins.log) seen.set(e.sql, e);
      db.$client.transaction(() => {
        for (const j of jobs) expect(finishJob(db, j.id, j.lease_token!, "succeeded", t, null, j.lane)).toBe(true);
      })();
      delivered += jobs.length;
    }
    return { cycles, delivered, changes: ins.totalChanges() - changesBefore, statements: [...seen.values()], plan: ins.plan };
  } finally {
    ins.restore();
  }
}

describe("a rate-limited lane with a backlog", () => {
  test("a claim cycle costs the same with 100 or 100,000 jobs waiting: same statements, same rows, all index searches", () => {
    const t0 = 1_800_000_000_000;
    const run = (backlog: number) => {
      const db = freshDb();
      syncLane(db, "wh_a", { queue: Q, rate: 5, ordered: false }, t0 - 10_000);
      fill(db, "wh_a", backlog, t0 - 5_000);
      return simulate(db, t0, 4_000);
    };
    const small = run(100);
    const big = run(100_000);
    // the rate limit holds: a burst of 5, then 5/s (4 s of controlled time)
    expect(big.delivered).toBeGreaterThanOrEqual(5 + 5 * 3);
    expect(big.delivered).toBeLessThanOrEqual(5 + 5 * 4 + 1);
    expect(small.delivered).toBe(big.delivered);
    // cycle by cycle, the same number of statements and rows read or written
    expect(big.cycles).toEqual(small.cycles);
    const worst = big.cycles.reduce((m, c) => ({ statements: Math.max(m.statements, c.statements), rows: Math.max(m.rows, c.rows) }), { statements: 0, rows: 0 });
    expect(worst.statements).toBeLessThanOrEqual(10);
    expect(worst.rows).toBeLessThanOrEqual(4 * 5 + 4); // a burst of 5 claimed, plus the lane row and a few reads
    // most cycles fall between two tokens: one read, nothing written
    expect(big.cycles.filter((c) => c.statements === 1).length).toBeGreaterThan(big.cycles.length * 0.9);
    // rows written over the whole run follow the deliveries, not the backlog (no per-job snooze)
    expect(big.changes).toBeLessThanOrEqual(big.delivered * 4);
    // every statement of the cycle is an index search, never a scan of a table
    expect(big.statements.length).toBeGreaterThanOrEqual(6);
    for (const e of big.statements) {
      const plan = big.plan(e);
      expect(plan.some((l) => l.startsWith("SEARCH"))).toBe(true);
      expect({ sql: e.sql, scans: plan.filter((l) => /^SCAN (?!\(subquery)/.test(l)) }).toEqual({ sql: e.sql, scans: [] });
    }
  }, 60_000);

  test("nothing of a lane that cannot send is written: its jobs keep their row untouched until their turn", () => {
    const db = freshDb();
    const t0 = 1_800_000_000_000;
    syncLane(db, "wh_a", { queue: Q, rate: 1, ordered: false }, t0 - 1000);
    fill(db, "wh_a", 1000, t0 - 1000);
    const before = db.$client.query("SELECT count(*) AS n FROM jobs WHERE attempt = 0 AND state = 'available'").get() as { n: number };
    expect(before.n).toBe(1000);
    for (let t = t0; t < t0 + 3000; t += 10) {
      const jobs = cycle(db, t, 64);
      for (const j of jobs) finishJob(db, j.id, j.lease_token!, "succeeded", t, null, j.lane);
    }
    // 1/s with a burst of 1: 3 claimed in 3 s; every other job was never claimed or put back
    const after = db.$client.query("SELECT count(*) AS n FROM jobs WHERE attempt = 0 AND state = 'available'").get() as { n: number };
    expect(1000 - after.n).toBeGreaterThanOrEqual(3);
    expect(1000 - after.n).toBeLessThanOrEqual(4);
  });
});

describe("isolation and fairness", () => {
  test("an unlimited lane with 100,000 jobs and every slot free cannot take a second lane's turn", () => {
    const db = freshDb();
    const t0 = 1_800_000_000_000;
    syncLane(db, "wh_big", { queue: Q, rate: 0, ordered: false }, t0 - 1000);
    syncLane(db, "wh_small", { queue: Q, rate: 0, ordered: false }, t0 - 1000);
    fill(db, "wh_big", 100_000, t0 - 1000);
    fill(db, "wh_small", 1, t0 - 500);
    const jobs = cycle(db, t0, 8);
    expect(jobs.length).toBe(8);
    expect(jobs.filter((j) => j.lane === "wh_small")).toHaveLength(1);
  }, 30_000);

  test("a lane whose receiver hangs holds at most its in-flight cap; the other lanes keep being served", () => {
    const db = freshDb();
    const t0 = 1_800_000_000_000;
    syncLane(db, "wh_hang", { queue: Q, rate: 0, ordered: false }, t0 - 1000);
    syncLane(db, "wh_ok", { queue: Q, rate: 0, ordered: false }, t0 - 1000);
    fill(db, "wh_hang", 10_000, t0 - 1000);
    // 64 slots; the hanging lane's jobs never finish
    let hanging = 0;
    for (let k = 0; k < 20; k++) {
      const t = t0 + k * 100;
      fill(db, "wh_ok", 1, t);
      const jobs = cycle(db, t, 64 - hanging);
      hanging += jobs.filter((j) => j.lane === "wh_hang").length;
      const ok = jobs.filter((j) => j.lane === "wh_ok");
      expect(ok).toHaveLength(1); // delivered in the cycle it was enqueued
      for (const j of ok) finishJob(db, j.id, j.lease_token!, "succeeded", t, null, j.lane);
    }
    expect(hanging).toBe(32);
    expect(getLane(db, "wh_hang")!.full).toBe(1);
  }, 30_000);
});

describe("ordered lanes and restarts", () => {
  test("an ordered lane's failing head keeps its place and holds the lane for its backoff", () => {
    const db = freshDb();
    const t0 = 1_800_000_000_000;
    syncLane(db, "wh_o", { queue: Q, rate: 0, ordered: true }, t0 - 1000);
    fill(db, "wh_o", 3, t0 - 1000);
    const [head] = cycle(db, t0, 8);
    expect(cycle(db, t0 + 1, 8)).toHaveLength(0); // one at a time
    expect(retryJob(db, head.id, head.lease_token!, t0 + 5000, "HTTP 500", head.lane, t0 + 10)).toBe(true);
    expect(cycle(db, t0 + 20, 8)).toHaveLength(0); // the rest waits behind the head
    expect(nextDue(db, Q)).toBe(t0 + 5000);
    const [again] = cycle(db, t0 + 5000, 8);
    expect(again.id).toBe(head.id);
    expect(again.attempt).toBe(2);
  });

  test("at start-up, jobs left running are available at once and their lanes are looked at", () => {
    const db = freshDb();
    const t0 = 1_800_000_000_000;
    syncLane(db, "wh_r", { queue: Q, rate: 0, ordered: false }, t0 - 1000);
    fill(db, "wh_r", 3, t0 - 1000);
    const claimed = cycle(db, t0, 8);
    expect(claimed).toHaveLength(3);
    // the process dies; the next start holds the data-directory lock
    expect(cycle(db, t0 + 10, 8)).toHaveLength(0); // leases still run
    const released = reclaimAtStart(db, t0 + 20);
    expect(released.map((j) => j.id).sort()).toEqual(claimed.map((j) => j.id).sort());
    const again = cycle(db, t0 + 20, 8);
    expect(again).toHaveLength(3);
    expect(again.every((j) => j.attempt === 2)).toBe(true); // the interrupted attempt counts
  });
});
