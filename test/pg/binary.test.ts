// The built executable with --database-url against a throwaway PostgreSQL cluster:
// `keepwatch migrate --database-url` applies the embedded PostgreSQL migrations (a second run is a
// no-op; four processes started at once: one migrates, the others find nothing to do), and every
// other command refuses PostgreSQL mode with one line and exit 2 — never a half-working server,
// never a quiet fallback to SQLite — creating nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { embeddedPgMigrationList } from "../../src/db/pg-migrate";
import { openPg } from "../../src/db/pg-client";
import { unportedDomains } from "../../src/store/index";
import { runBinary, tempDir } from "../helpers";
import { startCluster, type Cluster } from "./cluster";

let cluster: Cluster;
const dirs: string[] = [];
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.stop();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});
const fresh = () => {
  const d = tempDir("kw-pgbin-");
  dirs.push(d);
  return d;
};

async function journalCount(url: string): Promise<number> {
  const db = openPg(url, { pool: 1 });
  try {
    const [{ n }] = await db.$client`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`;
    return n;
  } finally {
    await db.$client.end();
  }
}

test("migrate --database-url applies the PostgreSQL migrations, a second run is a no-op; the data dir is untouched", async () => {
  const url = await cluster.createDatabase("bin_migrate");
  const dir = join(fresh(), "data");
  const n = embeddedPgMigrationList().length;
  const first = await runBinary(["migrate", "--database-url", url, "--data-dir", dir]);
  expect(first).toEqual({ code: 0, stdout: `applied ${n} PostgreSQL migration(s)\n`, stderr: "" });
  const second = await runBinary(["migrate", "--data-dir", dir], { KEEPWATCH_DATABASE_URL: url, KEEPWATCH_DB_POOL: "2" });
  expect(second).toEqual({ code: 0, stdout: "PostgreSQL schema is up to date\n", stderr: "" });
  expect(await journalCount(url)).toBe(n);
  expect(existsSync(dir)).toBe(false);
});

test("4 migrate processes started at once against an empty database: one applies, three find it up to date", async () => {
  const url = await cluster.createDatabase("bin_concurrent");
  const n = embeddedPgMigrationList().length;
  const runs = await Promise.all(Array.from({ length: 4 }, () => runBinary(["migrate", "--database-url", url])));
  expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
  expect(runs.map((r) => r.stderr)).toEqual(["", "", "", ""]);
  expect(runs.map((r) => r.stdout).sort()).toEqual([
    "PostgreSQL schema is up to date\n",
    "PostgreSQL schema is up to date\n",
    "PostgreSQL schema is up to date\n",
    `applied ${n} PostgreSQL migration(s)\n`,
  ]);
  expect(await journalCount(url)).toBe(n);
});

test("migrate against an unreachable database: exit 1, one line, the password masked", async () => {
  const url = `postgres://kw:s3cret-pw@localhost/none?host=${encodeURIComponent(join(fresh(), "nosocket"))}`;
  const r = await runBinary(["migrate", "--database-url", url]);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(/^keepwatch: PostgreSQL migration failed on postgres:\/\/kw:\*\*\*@localhost\/none.*\n$/);
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(r.stderr).not.toContain("s3cret-pw");
});

test("every command but migrate (and serve once every domain is ported) refuses a database URL: one line, exit 2 (backup, restore: exit 1, use pg_dump / pg_restore), nothing created, no server", async () => {
  const unported = unportedDomains();
  const url = await cluster.createDatabase("bin_refuse");
  const cases: string[][] = [
    ["serve"],
    [],
    ["serve", "--port", "0"],
    ["backup", "x.db"],
    ["restore", "x.db"],
    ["systemd-unit"],
  ];
  for (const args of cases) {
    const isServe = args.length === 0 || args[0] === "serve";
    if (isServe && !unported.length) continue; // serve runs on PostgreSQL: test/pg/serve.test.ts
    for (const how of ["flag", "env"] as const) {
      const dir = join(fresh(), "data");
      const cwd = fresh();
      const argv = how === "flag" ? [...args, "--data-dir", dir, "--database-url", url] : [...args, "--data-dir", dir];
      const env: Record<string, string> = how === "env" ? { KEEPWATCH_DATABASE_URL: url } : {};
      const started = Date.now();
      const r = await runBinary(argv, env, cwd);
      const ops = args[0] === "backup" || args[0] === "restore";
      expect({ args, how, code: r.code, stdout: r.stdout }).toEqual({ args, how, code: ops ? 1 : 2, stdout: "" });
      if (args[0] === "backup") expect(r.stderr).toMatch(/^keepwatch: keepwatch backup copies the SQLite database only; on PostgreSQL use pg_dump[^]*pg_dump --format=custom[^]*pg_restore/);
      else if (args[0] === "restore") expect(r.stderr).toMatch(/^keepwatch: keepwatch restore replaces a SQLite database; on PostgreSQL restore a pg_dump with pg_restore.*\n$/);
      else {
        expect(r.stderr).toMatch(isServe ? /^keepwatch: PostgreSQL mode is not complete yet: .*--database-url.*\n$/ : /^keepwatch: keepwatch systemd-unit does not take --database-url.*\n$/);
        expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      }
      // serve names the domains still missing
      if (isServe) for (const d of unported) expect(r.stderr).toContain(d);
      expect(existsSync(dir)).toBe(false);
      expect(readdirSync(cwd)).toEqual([]);
      expect(Date.now() - started).toBeLessThan(10_000);
    }
  }
  // and the database was left alone (no migration, no tables)
  const db = openPg(url, { pool: 1 });
  const [{ n }] = await db.$client`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname IN ('public', 'drizzle')`;
  await db.$client.end();
  expect(n).toBe(0);
}, 120_000);

