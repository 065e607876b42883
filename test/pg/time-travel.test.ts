// The tests' time travel on PostgreSQL (test/time-travel.ts): it moves every epoch-ms time column,
// and only those, so a time column added with a name the pattern does not know fails here rather
// than silently standing still in the tests that move time; a move is what time passing is to
// keepwatch (a deadline passes, NULL and 0 stay), in one transaction. Runs in the first pass (its
// own database on the test process's cluster, whatever KEEPWATCH_TEST_STORE says).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { is } from "drizzle-orm";
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";
import * as pg from "../../src/db/pg-schema";
import { json, startTestServer, type TestServer } from "../helpers";
import { testClock } from "../time-travel";
import { clonedDatabase } from "./cluster";

/** bigint columns that are not times (counters, ids, sizes), table.column */
const NOT_TIMES = new Set([
  "alerts.count",
  "rules.hits",
  "config_versions.version",
  "jobs.id",
  "webhooks.backlog_cap",
  "job_lanes.backlog",
  "job_lanes.dropped",
  "job_lanes.drop_noted_count",
  "deliveries.job_id",
  "delivery_attempts.id",
  "delivery_attempts.request_body_size",
  "delivery_attempts.response_body_size",
]);

let s: TestServer;
let db: { url: string; drop(): Promise<void> };
const time = testClock("postgres");
beforeAll(async () => {
  db = await clonedDatabase("tt");
  s = await startTestServer({ databaseUrl: db.url, dbPool: 4 });
  time.attach(s);
});
afterAll(async () => {
  await time.close();
  await s?.close();
  await db?.drop();
});

test("the moved columns are exactly the schema's epoch-ms times: every bigint column is a time the pattern matches or a known non-time", async () => {
  const bigints: string[] = [];
  for (const t of (Object.values(pg) as unknown[]).filter((x): x is PgTable => is(x, PgTable))) {
    const c = getTableConfig(t);
    for (const col of c.columns) if (col.columnType === "PgBigInt53" || col.columnType === "PgBigInt64") bigints.push(`${c.name}.${col.name}`);
  }
  const moved = (await time.columns()).map((x) => `${x.table}.${x.column}`).sort();
  expect(bigints.length).toBeGreaterThan(50);
  // every bigint column is either moved or named as not a time, never both
  expect(bigints.filter((c) => !NOT_TIMES.has(c) && !moved.includes(c))).toEqual([]);
  expect(moved.filter((c) => NOT_TIMES.has(c))).toEqual([]);
  // and nothing outside the schema's tables moves
  expect(moved.filter((c) => !bigints.includes(c))).toEqual([]);
});

test("a move is time passing: every stored time goes back by the same amount, NULL and 0 stay, and a deadline that is passed now is swept", async () => {
  const h = await json(s.admin("POST", "/v1/heartbeats", { name: "tt", period: 60, grace: 0 }));
  await s.deps.store.heartbeatTransitions.ping(h.id, { kind: "success" }, 0);
  const read = async () => (await s.sql("SELECT created_at, due_at, last_beat_at, last_start_at, down_at FROM heartbeats WHERE id = ?1", h.id))[0]!;
  // a 0 ("never", "ready at once": job_lanes.ready_at's default) on another heartbeat stays 0
  const other = await json(s.admin("POST", "/v1/heartbeats", { name: "tt-zero", period: 60 }));
  await s.sql("UPDATE heartbeats SET last_start_at = 0 WHERE id = ?1", other.id);
  const zero = async () => (await s.sql("SELECT last_start_at AS z FROM heartbeats WHERE id = ?1", other.id))[0]!.z;
  const before = await read();
  expect(before.last_start_at).toBeNull();
  expect((await json(s.get(`/v1/heartbeats/${h.id}`))).state).toBe("up");
  await time.advance(61_000);
  const after = await read();
  for (const c of ["created_at", "due_at", "down_at", "last_beat_at"]) expect({ c, by: before[c] - after[c] }).toEqual({ c, by: 61_000 });
  expect(after.last_start_at).toBeNull();
  expect(await zero()).toBe(0);
  // the deadline is 1 s past by the database clock: the next sweep flips it
  await s.deps.heartbeats.sweep();
  expect((await json(s.get(`/v1/heartbeats/${h.id}`))).state).toBe("down");
  // deferred moves add up and apply in one
  time.defer(1_000);
  time.defer(2_000);
  expect(time.pending()).toBe(3_000);
  const d0 = (await read()).down_at as number;
  await time.flush();
  expect(time.pending()).toBe(0);
  expect(d0 - ((await read()).down_at as number)).toBe(3_000);
});
