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
