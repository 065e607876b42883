// Moving time in a server-level test, on either store.
//
// SQLite mode takes every time from the injected process clock, so a test moves a fake clock.
// PostgreSQL mode takes the deadlines replicas must agree on (heartbeat deadlines, flips, pings,
// leases, run_at) from the database clock (PG_NOW_MS), which nothing in the binary lets a test move
// (and nothing should). There the test moves the data instead: every stored time goes back by the
// same amount, in one transaction on a connection of the test's own (another process rewriting the
// rows), and for everything keepwatch computes from stored times (deadlines passed, leases run out,
// ages, retention) that is the same amount of time passing. The server's process clock stays the
// real one, which is "now" in the moved frame as well, so new rows fit the old ones.
//
// What moves: every bigint column of the public schema whose name says it is a time (`at`,
// `*_at`, `*_until`, `*_since`, `*_seen`, `*_deadline`: epoch milliseconds, src/db/pg-schema.ts);
// NULL stays NULL and 0 (a "never" or "ready at once" default) stays 0. What does not: ids (ULIDs
// carry the real creation time: what is read from an id's time, such as the overview's per-minute
// counts, still sees the real time), counters, and memory of the running process (a timer armed
// for a deadline notices the moved one within MAX_SLEEP_MS; caches hold no times the tests here
// depend on).
import { openPg } from "../src/db/pg-client";
import { PG_NOW_MS } from "../src/store/contract";
import type { TestServer } from "./helpers";

/** `at` and the suffixes of the epoch-ms time columns (test/pg/time-travel.test.ts checks them against the schema) */
const TIME_NAME = "^at$|_at$|_until$|_since$|_seen$|_deadline$";

export type TestClock = {
  /** SQLite: the fake clock to pass to startTestServer; PostgreSQL: undefined (the process clock) */
  readonly clock: (() => number) | undefined;
  /** this clock's server (PostgreSQL: opens the test's own connection to its database) */
  attach(s: TestServer): void;
  /** time passes: `ms` forward (SQLite: the fake clock; PostgreSQL: every stored time `ms` back) */
  advance(ms: number): Promise<void>;
  /**
   * time passes, applied later (PostgreSQL: at the next advance or flush, in one move; SQLite: at
   * once): many small steps between which nothing looks at the database cost one move
   */
  defer(ms: number): void;
  /** PostgreSQL: the deferred time not yet applied (SQLite: 0) */
  pending(): number;
  /** applies what was deferred */
  flush(): Promise<void>;
  /** keepwatch's now: the fake clock, or the database clock */
  now(): Promise<number>;
  /** the tables and columns a move rewrites (PostgreSQL; empty on SQLite) */
  columns(): Promise<{ table: string; column: string }[]>;
  close(): Promise<void>;
};

/** A clock for a test on the store the test runs on (startTestServer's, see test/helpers.ts). */
export function testClock(store: "sqlite" | "postgres", start = Date.now()): TestClock {
  if (store === "sqlite") {
    let now = start;
    return {
      clock: () => now,
      attach() {},
      async advance(ms) {
        now += ms;
      },
      defer(ms) {
        now += ms;
      },
      pending: () => 0,
      async flush() {},
      async now() {
        return now;
      },
      async columns() {
        return [];
      },
      async close() {},
    };
  }
  let sql: ReturnType<typeof openPg>["$client"] | null = null;
  let cols: Promise<{ table: string; column: string }[]> | null = null;
  const conn = () => {
    if (!sql) throw new Error("testClock: attach(server) first");
    return sql;
  };
  const columns = () =>
    (cols ??= conn()
      .unsafe(
        `SELECT c.table_name AS t, c.column_name AS c FROM information_schema.columns c
           JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
          WHERE c.table_schema = 'public' AND c.data_type = 'bigint' AND c.column_name ~ $1
          ORDER BY c.table_name, c.column_name`,
        [TIME_NAME],
      )
      .then((rows) => rows.map((r) => ({ table: r.t as string, column: r.c as string }))));
  let pending = 0;
  let fn: Promise<void> | null = null;
  /**
   * pg_temp.kw_time_travel(ms): one UPDATE per table with time columns, in the caller's statement
   * (one round trip per move, however many tables), created once on the test's own session
   */
  const travelFn = () =>
    (fn ??= columns().then(async (cs) => {
      const byTable = new Map<string, string[]>();
      for (const { table, column } of cs) byTable.set(table, [...(byTable.get(table) ?? []), column]);
      const updates = [...byTable]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([table, columns]) => {
          const set = columns.map((c) => `"${c}" = CASE WHEN "${c}" > 0 THEN "${c}" - ms ELSE "${c}" END`).join(", ");
          return `UPDATE "${table}" SET ${set} WHERE ${columns.map((c) => `"${c}" > 0`).join(" OR ")};`;
        })
        .join("\n");
      await conn().unsafe(`CREATE FUNCTION pg_temp.kw_time_travel(ms bigint) RETURNS void LANGUAGE plpgsql AS $fn$ BEGIN\n${updates}\nEND $fn$`);
    }));
  /** every stored time `ms` (and what was deferred) back, in one transaction */
  const move = async (ms: number) => {
    if (!Number.isInteger(ms) || ms < 0) throw new Error(`advance(${ms}): whole milliseconds, forward`);
    const by = ms + pending;
    if (by === 0) return;
    await travelFn();
    // one statement, one transaction: no unit of keepwatch sees half the rows moved. A unit that
    // holds a row this needs is waited for; a deadlock with one (locks in another order) is retried.
    for (let attempt = 1; ; attempt++) {
      try {
        await conn().unsafe("SELECT pg_temp.kw_time_travel($1)", [by]);
        pending = 0;
        return;
      } catch (e) {
        if (attempt < 5 && (e as { code?: string })?.code === "40P01") continue;
        throw e;
      }
    }
  };
  return {
    clock: undefined,
    attach(s) {
      const url = s.deps.config.databaseUrl;
      if (!url) throw new Error("testClock(postgres): the server does not run on PostgreSQL");
      sql = openPg(url, { pool: 1 }).$client;
    },
    async advance(ms) {
      await move(ms);
    },
    defer(ms) {
      if (!Number.isInteger(ms) || ms < 0) throw new Error(`defer(${ms}): whole milliseconds, forward`);
      pending += ms;
    },
    pending: () => pending,
    async flush() {
      await move(0);
    },
    async now() {
      const [r] = await conn().unsafe(`SELECT ${PG_NOW_MS} AS t`);
      return Number(r!.t);
    },
    columns,
    async close() {
      await sql?.end({ timeout: 5 });
      sql = null;
    },
  };
}
