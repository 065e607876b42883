// Row counts of a running server's database, on either store: for tests that check that a refused
// request changed nothing, or that a row was (not) made, where no contract function counts it.
// Test-only SQL: the tables and columns are the same on both stores (src/db/pg-schema.ts).
import type { Deps } from "../src/deps";

/** The tables of the server's database (the migrations' own bookkeeping left out). */
async function tables(deps: Deps): Promise<string[]> {
  if (deps.pg) {
    const rows = await deps.pg`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`;
    return rows.map((r) => r.name as string).sort();
  }
  const rows = deps.sqlite!.db.$client.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%'").all() as { name: string }[];
  return rows.map((r) => r.name).sort();
}

/** count(*) of one table. */
export async function countRows(deps: Deps, table: string): Promise<number> {
  if (deps.pg) return Number((await deps.pg.unsafe(`SELECT count(*) AS n FROM "${table}"`))[0].n);
  return (deps.sqlite!.db.$client.query(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
}

/** Every table's row count: equal before and after means nothing was written. */
export async function tableCounts(deps: Deps): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of await tables(deps)) out[t] = await countRows(deps, t);
  return out;
}
