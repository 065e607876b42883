// The throwaway cluster harness (test/pg/cluster.ts) itself: it starts a real PostgreSQL with
// fsync on, a database can be created and queried through the product's own client, and stop()
// takes the server down and removes every file.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
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
    // bigint comes back as a JS number (epoch ms, ids, counts), the text byte for byte
    expect([...rows]).toEqual([{ id: 1, body }]);
    const [big] = await sql`SELECT ${1_764_000_000_123}::bigint AS ms, count(*) AS n FROM t`;
    expect(big).toEqual({ ms: 1_764_000_000_123, n: 1 });
  } finally {
    await db.$client.end();
  }
});

test("a test process that dies without calling stop() still takes its cluster down and removes it", async () => {
  const scriptDir = mkdtempSync(join(tmpdir(), "kw-crash-"));
  const script = join(scriptDir, "crash.ts");
  await Bun.write(
    script,
    `import { startCluster } from ${JSON.stringify(join(import.meta.dir, "cluster.ts"))};\n` +
      "const c = await startCluster();\nconsole.log(c.socketDir);\nthrow new Error('test failed');\n",
  );
  try {
    const p = Bun.spawnSync([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
    expect(p.exitCode).not.toBe(0);
    const dir = p.stdout.toString().trim();
    expect(dir).toContain("kw-pg-");
    expect(existsSync(dir)).toBe(false);
    // no server of that cluster is left running
    const ps = Bun.spawnSync(["ps", "-eo", "args"]).stdout.toString();
    expect(ps.includes(dir)).toBe(false);
  } finally {
    rmSync(scriptDir, { recursive: true, force: true });
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
