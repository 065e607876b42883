// Applies the migrations embedded in the executable (see scripts/embed-migrations.ts).
// drizzle's own migrator reads a folder from disk; a compiled binary has no such folder, so we
// build drizzle's MigrationMeta list from the embedded text and hand it to the same dialect code.
import { createHash } from "node:crypto";
import type { MigrationMeta } from "drizzle-orm/migrator";
import type { Db } from "./client";
import { embeddedJournal, embeddedMigrations } from "./migrations.gen";

export function embeddedMigrationList(): MigrationMeta[] {
  return embeddedJournal.entries.map((e) => {
    const text = embeddedMigrations[e.tag];
    if (text === undefined) throw new Error(`migration ${e.tag} is in the journal but not embedded`);
    return {
      sql: text.split("--> statement-breakpoint"),
      bps: e.breakpoints,
      folderMillis: e.when,
      hash: createHash("sha256").update(text).digest("hex"),
    };
  });
}

/** Brings the schema up to date; a no-op when it already is. Returns how many migrations ran. */
export function migrate(db: Db): number {
  const before = applied(db);
  // dialect.migrate runs every pending migration in one transaction.
  (db as any).dialect.migrate(embeddedMigrationList(), (db as any).session, { migrationsFolder: "(embedded)" });
  return applied(db) - before;
}

function applied(db: Db): number {
  const row = db.$client
    .query("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'")
    .get() as { n: number };
  if (!row.n) return 0;
  return (db.$client.query("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n;
}
