// The throwaway cluster harness (test/pg/cluster.ts) itself: it starts a real PostgreSQL with
// fsync on, a database can be created and queried through the product's own client, and stop()
// takes the server down and removes every file.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openPg, pgOptions } from "../../src/db/pg-client";
import { findPgBin, startCluster, type Cluster } from "./cluster";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

test("the PostgreSQL binaries are found without a hard-coded version", () => {
  const bin = findPgBin();
  expect(bin).not.toBeNull();
  expect(existsSync(join(bin!, "initdb"))).toBe(true);
  expect(existsSync(join(bin!, "pg_ctl"))).toBe(true);
});

test("a started cluster: create a database, connect through the socket, write and read, fsync on", async () => {
  expect(cluster.url.startsWith("postgres://")).toBe(true);
  const url = await cluster.createDatabase("harness_check");
  const db = openPg(url, { pool: 2 });
  try {
    const sql = db.$client;
    const [s] = await sql`SELECT current_database() AS db, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc, current_setting('listen_addresses') AS listen`;
    expect(s).toEqual({ db: "harness_check", fsync: "on", sc: "on", listen: "" });
    await sql`CREATE TABLE t (id bigint PRIMARY KEY, body text NOT NULL)`;
    const body = '{"b": 2, "a":1 , "é": "\\u00e9"}';
    await sql`INSERT INTO t ${sql([{ id: 1, body }])}`;
    const rows = await sql`SELECT id, body FROM t`;
    expect(rows.map((r) => ({ id: Number(r.id), body: r.body }))).toEqual([{ id: 1, body }]);
  } finally {
    await db.$client.end();
  }
});

test("pgOptions turns ?host=/dir into the socket path and keeps everything else", () => {
  const { url, options } = pgOptions("postgres://u:p%40ss@localhost:5433/kw?host=/run/pg/&sslmode=disable", 7);
  expect(options.path).toBe("/run/pg/.s.PGSQL.5433");
  expect(options.max).toBe(7);
  expect(url).not.toContain("host=");
  expect(url).toContain("sslmode=disable");
  expect(url).toContain("p%40ss");
  expect(pgOptions("postgres://u@db.internal/kw", 3).options.path).toBeUndefined();
});

test("stop() takes the server down and removes its directory; a second cluster is independent", async () => {
  const other = await startCluster();
  const dir = other.socketDir;
  expect(existsSync(join(dir, ".s.PGSQL.5432"))).toBe(true);
  const db = openPg(other.url, { pool: 1 });
  const [r] = await db.$client`SELECT 1 AS one`;
  expect(r!.one).toBe(1);
  await db.$client.end();
  await other.stop();
  expect(existsSync(dir)).toBe(false);
  // the first cluster still answers
  const first = openPg(cluster.url, { pool: 1 });
  const [r2] = await first.$client`SELECT 2 AS two`;
  expect(r2!.two).toBe(2);
  await first.$client.end();
});
