// The PostgreSQL migrator (src/db/pg-migrate.ts) against a throwaway cluster: a fresh database
// gets every embedded migration, a second run is a no-op, and four migrators on four connections
// started at once against an empty database apply the migrations exactly once between them.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { openPg } from "../../src/db/pg-client";
import { embeddedPgMigrationList, migratePg } from "../../src/db/pg-migrate";
import * as pgSchema from "../../src/db/pg-schema";
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";
import { startCluster, type Cluster } from "./cluster";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

const pgTables: PgTable[] = (Object.values(pgSchema) as unknown[]).filter((t): t is PgTable => t instanceof PgTable);
const expectedTables = pgTables.map((t) => getTableConfig(t).name).sort();

test("a fresh database gets every migration, the schema's tables and indexes; a second run is a no-op", async () => {
  const db = openPg(await cluster.createDatabase("fresh"), { pool: 2 });
  const sql = db.$client;
  try {
    const list = embeddedPgMigrationList();
    expect(list.length).toBeGreaterThan(0);
    expect(await migratePg(sql)).toBe(list.length);
    const tables = await sql`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`;
    expect(tables.map((r) => r.tablename)).toEqual(expectedTables);
    // every index of the drizzle schema exists, partial ones with their predicate
    const idx = await sql`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'`;
    const byName = new Map(idx.map((r) => [r.indexname as string, r.indexdef as string]));
    for (const t of pgTables) {
      for (const i of getTableConfig(t).indexes) {
        const def = byName.get(i.config.name!);
        expect(def, `index ${i.config.name}`).toBeDefined();
        if (i.config.where) expect(def, `index ${i.config.name}`).toContain("WHERE");
      }
    }
    // the migrations are up to date with pg-schema.ts: every table has exactly the schema's columns
    // (a schema change without `make migrations-pg` fails here)
    const cols = await sql`SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'`;
    for (const t of pgTables) {
      const c = getTableConfig(t);
      const live = cols.filter((r) => r.table_name === c.name).map((r) => r.column_name as string).sort();
      expect(live, `columns of ${c.name}`).toEqual(c.columns.map((x) => x.name).sort());
    }
    const journal = await sql`SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id`;
    expect(journal.map((r) => r.hash)).toEqual(list.map((m) => m.hash));
    // second start: nothing to do, nothing changes
    expect(await migratePg(sql)).toBe(0);
    const [{ n }] = await sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`;
    expect(n).toBe(list.length);
  } finally {
    await sql.end();
  }
});

test("a migration added later is applied on the next start, in order, and only it", async () => {
  const db = openPg(await cluster.createDatabase("later"), { pool: 1 });
  const sql = db.$client;
  try {
    const list = embeddedPgMigrationList();
    expect(await migratePg(sql)).toBe(list.length);
    const extra = { tag: "9999_test", statements: ["CREATE TABLE later_t (id int)"], when: list.at(-1)!.when + 1, hash: "h" };
    expect(await migratePg(sql, [...list, extra])).toBe(1);
    expect(await migratePg(sql, [...list, extra])).toBe(0);
    const [{ n }] = await sql`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'later_t'`;
    expect(n).toBe(1);
  } finally {
    await sql.end();
  }
});

test("a failing migration changes nothing (one transaction) and the error names the statement", async () => {
  const db = openPg(await cluster.createDatabase("broken"), { pool: 1 });
  const sql = db.$client;
  try {
    const list = embeddedPgMigrationList();
    const bad = { tag: "9999_bad", statements: ["CREATE TABLE ok_t (id int)", "CREATE TABLE tenants (id int)"], when: list.at(-1)!.when + 1, hash: "b" };
    await expect(migratePg(sql, [...list, bad])).rejects.toThrow(/tenants/);
    const [{ n }] = await sql`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`;
    expect(n).toBe(0);
  } finally {
    await sql.end();
  }
});

test("4 migrators on 4 connections started at once against an empty database: one migrates, the others wait and find nothing to do", async () => {
  const url = await cluster.createDatabase("concurrent");
  const clients = Array.from({ length: 4 }, () => openPg(url, { pool: 1 }).$client);
  try {
    const list = embeddedPgMigrationList();
    const ran = await Promise.all(clients.map((c) => migratePg(c)));
    expect([...ran].sort()).toEqual([0, 0, 0, list.length]);
    const [{ n }] = await clients[0]!`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`;
    expect(n).toBe(list.length);
    const tables = await clients[0]!`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`;
    expect(tables.map((r) => r.tablename)).toEqual(expectedTables);
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
});
