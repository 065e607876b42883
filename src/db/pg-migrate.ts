// Applies the PostgreSQL migrations embedded in the executable (migrations-pg/, see
// scripts/embed-migrations.ts). Several processes may start at once against an empty database:
// every migrator takes one transaction-scoped advisory lock first, so one migrates and the others
// wait for its commit, then find nothing to do. A second start is a no-op. The bookkeeping is
// drizzle's own (drizzle.__drizzle_migrations: hash, created_at = the journal's `when`), so
// drizzle-kit and this migrator agree on what has run.
import { createHash } from "node:crypto";
import type postgres from "postgres";
import { embeddedJournal, embeddedMigrations } from "./pg-migrations.gen";

/** pg_advisory_xact_lock key of the migrator ("kw" "mg"); per database, so databases do not contend */
export const MIGRATE_LOCK = 0x6b77_6d67;

export type PgMigration = { tag: string; statements: string[]; when: number; hash: string };

export function embeddedPgMigrationList(): PgMigration[] {
  return embeddedJournal.entries.map((e) => {
    const text = embeddedMigrations[e.tag];
    if (text === undefined) throw new Error(`migration ${e.tag} is in the journal but not embedded`);
    return {
      tag: e.tag,
      statements: text.split("--> statement-breakpoint").filter((s) => s.trim() !== ""),
      when: e.when,
      hash: createHash("sha256").update(text).digest("hex"),
    };
  });
}

/** Brings the schema up to date in one transaction; returns how many migrations ran (0: up to date). */
export async function migratePg(sql: postgres.Sql, list: PgMigration[] = embeddedPgMigrationList()): Promise<number> {
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATE_LOCK})`;
    await tx`CREATE SCHEMA IF NOT EXISTS drizzle`;
    await tx`CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`;
    const [last] = await tx`SELECT created_at FROM drizzle.__drizzle_migrations ORDER BY created_at DESC LIMIT 1`;
    const lastAt = last ? Number(last.created_at) : -Infinity;
    let n = 0;
    for (const m of list) {
      if (m.when <= lastAt) continue;
      for (const s of m.statements) await tx.unsafe(s);
      await tx`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${m.hash}, ${m.when})`;
      n++;
    }
    return n;
  });
}
