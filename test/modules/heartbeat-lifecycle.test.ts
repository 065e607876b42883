// The heartbeat lifecycle with a fake clock: pause resolves a down heartbeat's alert (and says so
// with heartbeat.paused), resume waits for a beat (new), a restart while late records late -> up,
// and a seeded random walk over pings, failures, pauses, resumes, schedule edits, sweeps and
// restarts keeps two invariants: the flips are a chain (each starts where the one before ended,
// the last ends at the current state), and a heartbeat has an open alert exactly while it is down.
// Pings are applied with the store's receivePing at the fake time (the HTTP ping route stamps
// them with the real clock in the writer thread); everything else goes through the API.
// On both stores. Time: SQLite takes it from the fake clock; PostgreSQL from the database clock,
// so there time passes by moving every stored time back (test/time-travel.ts), pings go through
// the store's ping unit (stamped with the database clock), and the server's own heartbeat timer is
// stopped so that the sweeps are the test's (as on SQLite, where the fake clock only moves between
// the test's steps): a "restart" then is afterStart, as on SQLite, not a timer's sweep racing it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { json, startTestServer, TEST_STORE, type TestServer, seededRandom } from "../helpers";
import { testClock } from "../time-travel";
import { PG_NOW_MS } from "../../src/store/contract";
import { chainBreaks } from "../../src/core/heartbeats";
import { isBusy } from "../../src/db/client";
import { commitHooks } from "../../src/ingest/hooks";
import { silentLogger } from "../../src/lib/log";
import { HeartbeatScheduler } from "../../src/scheduler/heartbeats";
import { receivePing, type PingKind } from "../../src/store/heartbeat-transitions";
import * as service from "../../src/modules/heartbeats/service";

let s: TestServer;
const PG = TEST_STORE === "postgres";
const time = testClock(TEST_STORE);
/** SQLite: the fake clock's time (PostgreSQL: unused; see nowIs) */
let now = Date.now();
const clock = () => now;
/** time passes (SQLite: the fake clock; PostgreSQL: the stored times move back) */
const advance = async (ms: number) => {
  if (PG) await time.advance(ms);
  else now += ms;
};
/** keepwatch's now (SQLite: the fake clock; PostgreSQL: the database clock) */
const nowIs = async () => (PG ? await time.now() : now);
const S = 1000;
beforeAll(async () => {
  s = await startTestServer({}, PG ? undefined : clock);
  time.attach(s);
  if (PG) s.deps.heartbeats.stop(); // the test's sweeps only (see the top)
});
afterAll(async () => {
  await time.close();
  await s.close();
});

// as the ingest writer runs it: inside its immediate (write-locked) transaction, so another writer
// (the full-text indexer on the checkpointer thread) cannot commit between its read and its write
const ping = async (id: string, kind: PingKind = "success") =>
  PG ? await s.deps.store.heartbeatTransitions.ping(id, { kind }, 0) : s.deps.sqlite!.db.$client.transaction(() => receivePing(s.deps.sqlite!.db, id, { kind }, commitHooks, now)).immediate();
/**
 * A sweep as the scheduler's timer runs it: its connection (Deps.bgDb) never waits for the write
 * lock, and the ingest writer or the full-text indexer (checkpointer thread) may hold it for a few
 * ms after an ingest; a busy sweep is tried again, as HeartbeatScheduler.fire does.
 */
const sweep = async () => {
  for (let tries = 0; ; tries++) {
    try {
      return await s.deps.heartbeats.sweep();
    } catch (e) {
      if (!isBusy(e) || tries >= 2500) throw e;
      await Bun.sleep(2);
    }
  }
};
/**
 * Time passing with the scheduler running: a sweep at each tick, `steps` ms apart. PostgreSQL: the
 * ticks' time is applied (one move of the stored times) and a sweep run only when the earliest
 * deadline of an up or late heartbeat is reached: a sweep moves only those (core deadlinePassed;
 * a row of another state with a past deadline stays as it is), so skipping the others is the same
 * walk, and a quiet 10 s tick costs no round trip.
 */
const ticks = async (steps: number[]) => {
  if (!PG) {
    for (const d of steps) {
      now += d;
      await sweep();
    }
    return;
  }
  const dueIn = async () => {
    const [r] = await s.sql(`SELECT min(next_deadline) - ${PG_NOW_MS} AS d FROM heartbeats WHERE state IN ('up', 'late')`);
    return r!.d === null ? null : Number(r!.d);
  };
  let gap = await dueIn();
  for (const d of steps) {
    time.defer(d);
    if (gap !== null && time.pending() >= gap) {
      await time.flush();
      await sweep();
      gap = await dueIn();
    }
  }
  await time.flush();
};
/** What start-up does on the same database (the process before it was killed left no trace but the rows). */
const restart = () => new HeartbeatScheduler(s.deps.store, clock, silentLogger).afterStart();
const flips = async (id: string) => ((await json(s.get(`/v1/heartbeats/${id}/flips`))).items as { from: string; to: string; at: string }[]).reverse();
const alertsOf = async (name: string) =>
  (await s.sql("SELECT id, status, count, classification FROM alerts WHERE source_name = 'heartbeat' AND source = ?1 ORDER BY id", name)) as {
    id: string;
    status: string;
    count: number;
    classification: string | null;
  }[];
const eventTypes = async (name: string) =>
  ((await s.sql("SELECT type FROM events WHERE source_name = 'heartbeat' AND source = ?1 ORDER BY id", name)) as { type: string }[]).map((e) => e.type);

test("pausing a down heartbeat resolves its alert (heartbeat.paused); resume is new until a beat; the next down opens a new alert", async () => {
  const h = await json(s.admin("POST", "/v1/heartbeats", { name: "lc-pause", period: 60, grace: 0 }));
  await ping(h.id);
  await advance(61 * S);
  await sweep();
  expect((await json(s.get(`/v1/heartbeats/${h.id}`))).state).toBe("down");
  expect((await alertsOf("lc-pause")).map((a) => a.status)).toEqual(["open"]);

  await advance(5 * S);
  const p = await json(s.admin("POST", `/v1/heartbeats/${h.id}/pause`));
  expect(p.state).toBe("paused");
  expect(await alertsOf("lc-pause")).toEqual([expect.objectContaining({ status: "closed", classification: "resolved", count: 1 })]);
  expect(await eventTypes("lc-pause")).toEqual(["heartbeat.down", "heartbeat.paused"]);

  await advance(600 * S);
  const r = await json(s.admin("POST", `/v1/heartbeats/${h.id}/resume`));
  expect(r).toMatchObject({ state: "new", due_at: null, down_at: null });
  await advance(3600 * S);
  await sweep(); // no deadline while new: nothing happens
  expect((await json(s.get(`/v1/heartbeats/${h.id}`))).state).toBe("new");
  expect(await eventTypes("lc-pause")).toEqual(["heartbeat.down", "heartbeat.paused"]); // no heartbeat.up: it was not down

  await ping(h.id);
  expect((await json(s.get(`/v1/heartbeats/${h.id}`))).state).toBe("up");
  await advance(61 * S);
  await sweep();
  const alerts = await alertsOf("lc-pause");
  expect(alerts.map((a) => [a.status, a.count])).toEqual([
    ["closed", 1],
    ["open", 1],
  ]);
  const f = await flips(h.id);
  expect(f.map((x) => `${x.from}>${x.to}`)).toEqual(["new>up", "up>down", "down>paused", "paused>new", "new>up", "up>down"]);
  expect(chainBreaks(f, "down")).toEqual([]);
});

test("pausing an up or late heartbeat touches no alert; resuming and beating again sends no heartbeat.up", async () => {
  const h = await json(s.admin("POST", "/v1/heartbeats", { name: "lc-late", period: 60, grace: 60 }));
  await ping(h.id);
  await advance(61 * S);
  await sweep();
  expect((await json(s.get(`/v1/heartbeats/${h.id}`))).state).toBe("late");
  await s.admin("POST", `/v1/heartbeats/${h.id}/pause`);
  await s.admin("POST", `/v1/heartbeats/${h.id}/resume`);
  await ping(h.id);
  expect(await alertsOf("lc-late")).toEqual([]);
  expect(await eventTypes("lc-late")).toEqual([]);
  expect(chainBreaks(await flips(h.id), "up")).toEqual([]);
});

test("a restart while late records late -> up (the flips stay a chain), with no alert", async () => {
  const h = await json(s.admin("POST", "/v1/heartbeats", { name: "lc-restart", period: 60, grace: 600 }));
  await ping(h.id);
  await advance(90 * S);
  await sweep();
  expect((await json(s.get(`/v1/heartbeats/${h.id}`))).state).toBe("late");
  await advance(3600 * S); // keepwatch was not running past the down deadline
  const t0 = await nowIs();
  expect(await restart()).toBeGreaterThanOrEqual(1);
  const t1 = await nowIs(); // (SQLite: the fake clock, t0 = t1; PostgreSQL: the database clock around the restart)
  const after = await json(s.get(`/v1/heartbeats/${h.id}`));
  expect(after.state).toBe("up");
  const restartedAt = new Date((await flips(h.id))[2]!.at).getTime();
  expect(restartedAt).toBeGreaterThanOrEqual(t0);
  expect(restartedAt).toBeLessThanOrEqual(t1);
  expect(new Date(after.due_at).getTime()).toBe(restartedAt + 60 * S);
  const f = await flips(h.id);
  expect(f.map((x) => `${x.from}>${x.to}`)).toEqual(["new>up", "up>late", "late>up"]);
  // the next miss is an ordinary chain again
  await advance(61 * S);
  await sweep();
  expect((await flips(h.id)).map((x) => `${x.from}>${x.to}`).slice(-1)).toEqual(["up>late"]);
  expect(await alertsOf("lc-restart")).toEqual([]);
});

const rng = seededRandom;

test("seeded random walk: flips are a chain and an alert is open exactly while down, across restarts", async () => {
  const seed = Number(process.env.KW_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`heartbeat walk seed: ${seed} (replay with KW_SEED=${seed})`);
  const rand = rng(seed);
  const pick = <T,>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const hbs: { id: string; name: string }[] = [];
  for (let i = 0; i < 6; i++) {
    const name = `walk-${seed}-${i}`;
    const h = await json(s.admin("POST", "/v1/heartbeats", { name, period: 30 + Math.floor(rand() * 120), grace: i % 3 === 0 ? 0 : pick([30, 60, 120]), max_runtime: pick([null, 20]) }));
    hbs.push({ id: h.id, name });
  }
  const ops: Record<string, (h: { id: string }) => void | Promise<unknown>> = {
    beat: (h) => ping(h.id),
    start: (h) => ping(h.id, "start"),
    fail: (h) => ping(h.id, "fail"),
    pause: (h) => service.pauseOrResume(s.deps, s.tenantId, h.id, "pause", s.url),
    resume: (h) => service.pauseOrResume(s.deps, s.tenantId, h.id, "resume", s.url),
    edit: (h) => service.update(s.deps, s.tenantId, h.id, { period: 20 + Math.floor(rand() * 200) }, s.url),
    wait: async () => {
      // time passes with the scheduler running: a sweep every 10 s of it
      const steps: number[] = [];
      for (let left = Math.floor(rand() * 90 * S); left > 0; left -= 10 * S) steps.push(Math.min(left, 10 * S));
      await ticks(steps);
    },
    miss: async () => {
      // long enough for any of them to miss a beat and go down, swept every 10 s
      await ticks(Array.from({ length: 40 }, () => 10 * S));
    },
    sweep: () => sweep(),
    restart: async () => {
      await advance(Math.floor(rand() * 1000 * S)); // time keepwatch was not running
      return restart();
    },
  };
  const names = Object.keys(ops);
  const used = new Set<string>();
  for (let step = 0; step < 800; step++) {
    const op = pick(names);
    used.add(op);
    await ops[op](pick(hbs));
  }
  expect(used.size).toBe(names.length);
  const seen = new Set<string>();
  for (const h of hbs) {
    const state = (await json(s.get(`/v1/heartbeats/${h.id}`))).state as string;
    const f = await flips(h.id);
    f.forEach((x) => seen.add(`${x.from}>${x.to}`));
    expect({ seed, h: h.name, breaks: chainBreaks(f, state) }).toEqual({ seed, h: h.name, breaks: [] });
    const open = (await alertsOf(h.name)).filter((a) => a.status !== "closed");
    expect({ seed, h: h.name, state, open: open.length }).toEqual({ seed, h: h.name, state, open: state === "down" ? 1 : 0 });
  }
  // the walk went through the transitions that matter here
  for (const t of ["up>late", "late>down", "down>paused", "paused>new", "new>up", "down>up"]) expect({ seed, t, seen: seen.has(t) }).toEqual({ seed, t, seen: true });
  // 800 steps: about 4 s on SQLite; on PostgreSQL each step is round trips (and each passed
  // deadline a move of the stored times): 12 s at a load of 13-15 on the shared 2-core machine
}, 60_000);
