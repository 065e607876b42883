import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderEmbeddedMigrations } from "../../scripts/embed-migrations";
import { openDatabase } from "../../src/db/client";
import { migrate } from "../../src/db/migrate";
import { tempDir } from "../helpers";

const root = join(import.meta.dir, "..", "..");

test("the embedded migrations match migrations/ (run `make migrations` after a schema change)", () => {
  expect(readFileSync(join(root, "src/db/migrations.gen.ts"), "utf8")).toBe(renderEmbeddedMigrations(root));
});

test("the embedded PostgreSQL migrations match migrations-pg/ (run `make migrations-pg` after a pg-schema change)", () => {
  expect(readFileSync(join(root, "src/db/pg-migrations.gen.ts"), "utf8")).toBe(renderEmbeddedMigrations(root, "migrations-pg"));
});

test("migrate applies everything once; a second run is a no-op", () => {
  const db = openDatabase(join(tempDir(), "k.db"));
  expect(migrate(db)).toBeGreaterThan(0);
  expect(migrate(db)).toBe(0);
  const tables = db.$client.query("SELECT name FROM sqlite_master WHERE type='table'").all().map((r: any) => r.name);
  expect(tables).toEqual(expect.arrayContaining(["tenants", "api_keys", "events", "event_indicators"]));
});

test("pragmas: WAL, synchronous FULL by default, foreign keys on", () => {
  const db = openDatabase(join(tempDir(), "k.db"));
  expect((db.$client.query("PRAGMA journal_mode").get() as any).journal_mode).toBe("wal");
  expect((db.$client.query("PRAGMA synchronous").get() as any).synchronous).toBe(2);
  expect((db.$client.query("PRAGMA foreign_keys").get() as any).foreign_keys).toBe(1);
  const n = openDatabase(join(tempDir(), "k.db"), { durability: "normal", busyTimeoutMs: 1234 });
  expect((n.$client.query("PRAGMA synchronous").get() as any).synchronous).toBe(1);
  expect((n.$client.query("PRAGMA busy_timeout").get() as any).timeout).toBe(1234);
});

test("the checkpointer thread copies the WAL into the database file while the server runs", async () => {
  const { startTestServer, event } = await import("../helpers");
  const { statSync } = await import("node:fs");
  const { dbFile } = await import("../../src/db/client");
  const s = await startTestServer();
  try {
    const before = statSync(dbFile(s.dir)).size;
    for (let i = 0; i < 10; i++) {
      const r = await s.post("/api/v1/events", Array.from({ length: 500 }, (_, j) => event(i * 500 + j)));
      expect(r.status).toBe(202);
    }
    // the server's own connections never checkpoint; only the checkpointer thread can grow the file
    expect((s.deps.sqlite!.db.$client.query("PRAGMA wal_autocheckpoint").get() as any).wal_autocheckpoint).toBe(0);
    const deadline = Date.now() + 5000;
    while (statSync(dbFile(s.dir)).size < before + 2_000_000 && Date.now() < deadline) await Bun.sleep(50);
    expect(statSync(dbFile(s.dir)).size).toBeGreaterThan(before + 2_000_000);
  } finally {
    await s.close();
  }
});
