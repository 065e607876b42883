// `keepwatch migrate-to-postgres`: copies every table of a SQLite data directory into an empty,
// migrated PostgreSQL database, rows unchanged (ids, key and token hashes, webhook secrets, session
// ids), so that keys, ping URLs, URL tokens, webhook signatures and admin sessions keep working.
//
// Consistency. The SQLite side is read on a read-only connection of its own in ONE read
// transaction: a snapshot, so the copy is consistent also while a server keeps writing (WAL
// readers never block the writer; the snapshot only holds back the checkpoint until the copy ends).
// This is the one place where awaits happen inside a SQLite transaction, on purpose: it is a read
// transaction on a private connection, and the awaits are the PostgreSQL inserts.
//
// The PostgreSQL side is ONE transaction: every table in foreign-key order, multi-row inserts of
// `batch` rows (unnest of one text array per column, cast to the column's type: integers, doubles,
// booleans from SQLite's 0/1, jsonb from JSON text), identity sequences set past the largest id,
// then every count checked inside the transaction. A failure or a mismatch rolls the whole copy
// back: the target stays empty and the command can simply run again.
import { Database } from "bun:sqlite";
import { inTx, type PgConn } from "./contract";

/** SQLite-only tables that are not copied, and why (printed by the command). */
export const SKIPPED_TABLES: { pattern: RegExp; why: string }[] = [
  { pattern: /^events_fts(_.*)?$/, why: "SQLite full-text index (FTS5), rebuilt from events on PostgreSQL" },
  { pattern: /^sqlite_/, why: "SQLite internal" },
  { pattern: /^__drizzle_migrations$/, why: "SQLite migration bookkeeping (PostgreSQL has its own)" },
];

export type TablePlan = { table: string; columns: { name: string; type: string }[] };
export type TableCount = { table: string; source: number; target: number };
export type CopyResult = { tables: TableCount[]; skipped: { table: string; why: string }[]; sequences: string[] };

/** Why the target cannot take the copy (null: it can). */
export class MigrateRefused extends Error {}

const qi = (name: string) => `"${name.replace(/"/g, '""')}"`;

function skipReason(table: string): string | null {
  return SKIPPED_TABLES.find((s) => s.pattern.test(table))?.why ?? null;
}

/** The user tables of the SQLite database, and the skipped ones with why. */
export function sqliteTables(src: Database): { copy: string[]; skipped: { table: string; why: string }[] } {
  const names = (src.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  const copy: string[] = [];
  const skipped: { table: string; why: string }[] = [];
  for (const n of names) {
    const why = skipReason(n);
    if (why) skipped.push({ table: n, why });
    else copy.push(n);
  }
  return { copy, skipped };
}

/** keepwatch's PostgreSQL tables (schema public) with their columns and types. */
async function pgTables(pg: PgConn): Promise<Map<string, { name: string; type: string }[]>> {
  const rows = await pg`
    SELECT c.table_name AS t, c.column_name AS c, c.udt_name AS type
      FROM information_schema.columns c JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
     ORDER BY c.table_name, c.ordinal_position`;
  const out = new Map<string, { name: string; type: string }[]>();
  for (const r of rows) {
    const t = r.t as string;
    if (!out.has(t)) out.set(t, []);
    out.get(t)!.push({ name: r.c as string, type: r.type as string });
  }
  return out;
}

/** The tables in an order that inserts every referenced row before the rows referencing it. */
async function foreignKeyOrder(pg: PgConn, tables: string[]): Promise<string[]> {
  const deps = await pg`
    SELECT src.relname AS child, dst.relname AS parent
      FROM pg_constraint k JOIN pg_class src ON src.oid = k.conrelid JOIN pg_class dst ON dst.oid = k.confrelid
      JOIN pg_namespace n ON n.oid = src.relnamespace
     WHERE k.contype = 'f' AND n.nspname = 'public'`;
  const parents = new Map<string, Set<string>>(tables.map((t) => [t, new Set<string>()]));
  for (const d of deps) if (d.child !== d.parent && parents.has(d.child) && parents.has(d.parent)) parents.get(d.child)!.add(d.parent);
  const out: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (t: string) => {
    if (state.get(t) === "done") return;
    if (state.get(t) === "visiting") throw new Error(`foreign-key cycle through ${t}`);
    state.set(t, "visiting");
    for (const p of [...parents.get(t)!].sort()) visit(p);
    state.set(t, "done");
    out.push(t);
  };
  for (const t of [...tables].sort()) visit(t);
  return out;
}

/** The keepwatch tables of the target that hold rows (empty list: the target can take the copy). */
export async function nonEmptyTables(pg: PgConn): Promise<string[]> {
  // the replica registry only says which processes ran on the database (a replica started against
  // the empty database before the copy leaves its row): it holds no data
  const tables = [...(await pgTables(pg)).keys()].filter((t) => t !== "replicas");
  const out: string[] = [];
  for (const t of tables) {
    const [r] = await pg.unsafe(`SELECT EXISTS (SELECT 1 FROM ${qi(t)}) AS x`);
    if (r!.x) out.push(t);
  }
  return out;
}

/** One SQLite value as the text PostgreSQL parses into the column's type (null stays null). */
function asText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (typeof v === "boolean") return v ? "1" : "0";
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return String(v);
}

/** Inserts rows (column name → SQLite value) with one multi-row statement: one text array per column, each cast to its column's type. */
export async function insertRows(pg: PgConn, plan: TablePlan, rows: Record<string, unknown>[]): Promise<number> {
  if (rows.length === 0) return 0;
  const cols = plan.columns;
  const arrays = cols.map((c) => rows.map((r) => asText(r[c.name])));
  // the target type of each column: unnest gives text, the cast parses it (int8, float8, bool, jsonb, ...)
  const select = cols.map((c, i) => `u.c${i}::${c.type === "bool" ? "int::bool" : qi(c.type)}`).join(", ");
  const res = await pg.unsafe(
    `INSERT INTO ${qi(plan.table)} (${cols.map((c) => qi(c.name)).join(", ")})
     SELECT ${select} FROM unnest(${cols.map((_, i) => `$${i + 1}::text[]`).join(", ")}) AS u(${cols.map((_, i) => `c${i}`).join(", ")})`,
    arrays as any[],
  );
  return res.count;
}

/**
 * Copies the SQLite database `src` (opened by the caller, read-only) into `pg`, which must be a
 * migrated keepwatch database whose tables are all empty. Throws MigrateRefused when it is not
 * (nothing written), or on a count mismatch (everything rolled back).
 */
export async function copySqliteToPg(
  src: Database,
  pg: PgConn,
  opts: { batch?: number; onTable?: (c: TableCount) => void } = {},
): Promise<CopyResult> {
  const batch = opts.batch ?? 1000;
  const target = await pgTables(pg);
  if (!target.has("events") || !target.has("tenants")) throw new MigrateRefused("the target database has no keepwatch schema");
  const { copy, skipped } = sqliteTables(src);
  // the plan: every SQLite table must exist on PostgreSQL with every one of its columns
  const plans = new Map<string, TablePlan>();
  for (const t of copy) {
    const pgCols = target.get(t);
    if (!pgCols) throw new MigrateRefused(`table ${t} of the SQLite database has no PostgreSQL twin (is this keepwatch version older than the data directory's?)`);
    const byName = new Map(pgCols.map((c) => [c.name, c]));
    const srcCols = (src.query(`SELECT name FROM pragma_table_info(?1)`).all(t) as { name: string }[]).map((r) => r.name);
    const missing = srcCols.filter((c) => !byName.has(c));
    if (missing.length) throw new MigrateRefused(`columns ${missing.join(", ")} of ${t} have no PostgreSQL twin`);
    plans.set(t, { table: t, columns: srcCols.map((c) => byName.get(c)!) });
  }
  const order = await foreignKeyOrder(pg, copy);
  src.exec("BEGIN"); // the snapshot every table is read from (see the top of this file)
  try {
    return await inTx(pg, async (tx) => {
      // in the transaction: a second copy started meanwhile waits here, then finds rows and refuses
      await tx`LOCK TABLE tenants IN EXCLUSIVE MODE`;
      const full = await nonEmptyTables(tx);
      if (full.length) throw new MigrateRefused(`the target database is not empty (rows in ${full.join(", ")}); migrate-to-postgres only fills an empty database`);
      const counts: TableCount[] = [];
      for (const t of order) {
        const plan = plans.get(t)!;
        const sourceCount = (src.query(`SELECT count(*) AS n FROM ${qi(t)}`).get() as { n: number }).n;
        let rows: Record<string, unknown>[] = [];
        for (const r of src.query(`SELECT ${plan.columns.map((c) => qi(c.name)).join(", ")} FROM ${qi(t)}`).iterate() as Iterable<Record<string, unknown>>) {
          rows.push(r);
          if (rows.length >= batch) {
            await insertRows(tx, plan, rows);
            rows = [];
          }
        }
        await insertRows(tx, plan, rows);
        const [c] = await tx.unsafe(`SELECT count(*) AS n FROM ${qi(t)}`);
        const one = { table: t, source: sourceCount, target: Number(c!.n) };
        counts.push(one);
        opts.onTable?.(one);
      }
      const bad = counts.filter((c) => c.source !== c.target);
      if (bad.length) throw new CountMismatch(counts);
      // identity columns (jobs.id, delivery_attempts.id): the next id drawn is past every copied one
      const seqs = await tx`
        SELECT table_name AS t, column_name AS c FROM information_schema.columns
         WHERE table_schema = 'public' AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')`;
      const sequences: string[] = [];
      for (const s of seqs) {
        if (!plans.has(s.t)) continue;
        await tx.unsafe(
          `SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max(${qi(s.c)}) FROM ${qi(s.t)}), 0) + 1, false)`,
          [qi(s.t), s.c],
        );
        sequences.push(`${s.t}.${s.c}`);
      }
      return { tables: counts.sort((a, b) => a.table.localeCompare(b.table)), skipped, sequences };
    });
  } finally {
    src.exec("ROLLBACK");
  }
}

/** Some table's count on PostgreSQL differs from SQLite's: the copy was rolled back. */
export class CountMismatch extends Error {
  constructor(readonly counts: TableCount[]) {
    super(
      "row counts differ, nothing was kept: " +
        counts
          .filter((c) => c.source !== c.target)
          .map((c) => `${c.table} ${c.source} in SQLite, ${c.target} in PostgreSQL`)
          .join("; "),
    );
  }
}

/** Opens a data directory's database for the copy: read-only, never created, waits for a writer's lock. */
export function openSqliteSource(file: string): Database {
  const d = new Database(file, { readonly: true, create: false });
  d.exec("PRAGMA busy_timeout = 5000");
  return d;
}
