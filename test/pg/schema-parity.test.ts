// The two schemas cannot drift: every SQLite table (src/db/schema.ts) has its PostgreSQL twin
// (src/db/pg-schema.ts) with the same columns (nullability, defaults, primary keys, uniqueness, a
// matching type), the same indexes (columns, uniqueness, partial predicate) and the same foreign
// keys. PostgreSQL-only indexes are listed here by name, with the reason.
import { expect, test } from "bun:test";
import { is } from "drizzle-orm";
import { getTableConfig as pgConfig, PgTable } from "drizzle-orm/pg-core";
import { getTableConfig as liteConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { SQL } from "drizzle-orm";
import * as lite from "../../src/db/schema";
import * as pg from "../../src/db/pg-schema";

/** indexes only PostgreSQL has, and why */
const PG_ONLY_INDEXES: Record<string, string> = {
  jobs_lease: "reclaim of expired leases scans running jobs by lease_until (FOR UPDATE SKIP LOCKED claims)",
  events_fts: "full-text search: a GIN index on events.fts stands for SQLite's FTS5 table events_fts (a virtual table, not in schema.ts)",
};

/** columns only PostgreSQL has (table.column), and why */
const PG_ONLY_COLUMNS: Record<string, string> = {
  "events.fts": "full-text search: the event's words as a tsvector (SQLite keeps them in its FTS5 table events_fts)",
};

/** SQLite column type → the PostgreSQL types that may stand for it */
const TYPE_TWINS: Record<string, string[]> = {
  SQLiteText: ["PgText", "PgJsonb"],
  SQLiteInteger: ["PgBigInt53", "PgInteger"],
  SQLiteBoolean: ["PgBoolean"],
  SQLiteReal: ["PgDoublePrecision"],
};

const liteTables = (Object.values(lite) as unknown[]).filter((t): t is SQLiteTable => is(t, SQLiteTable));
const pgTables = new Map(
  (Object.values(pg) as unknown[])
    .filter((t): t is PgTable => is(t, PgTable))
    .map((t) => [pgConfig(t).name, pgConfig(t)] as const),
);

/** the text of a partial index predicate (sql`...` with no parameters) */
const whereText = (w: SQL | undefined) =>
  w ? w.queryChunks.map((c: any) => (Array.isArray(c?.value) ? c.value.join("") : String(c))).join("").trim() : null;

/** tables only PostgreSQL has, and why */
const PG_ONLY_TABLES: Record<string, string> = {
  replicas: "the replica registry: on SQLite the one process is the only replica, kept in memory (src/store/replicas.ts)",
};

test("the same tables on both stores (but the PostgreSQL-only ones listed above)", () => {
  expect([...pgTables.keys()].filter((t) => !(t in PG_ONLY_TABLES)).sort()).toEqual(liteTables.map((t) => liteConfig(t).name).sort());
  for (const t of Object.keys(PG_ONLY_TABLES)) expect({ t, exists: pgTables.has(t) }).toEqual({ t, exists: true });
});

for (const table of liteTables) {
  const l = liteConfig(table);
  test(`${l.name}: every column, key, index and foreign key has its PostgreSQL twin`, () => {
    const p = pgTables.get(l.name);
    expect(p, `table ${l.name} in pg-schema.ts`).toBeDefined();
    // columns
    expect(p!.columns.map((c) => c.name).filter((c) => !PG_ONLY_COLUMNS[`${l.name}.${c}`]).sort()).toEqual(l.columns.map((c) => c.name).sort());
    for (const lc of l.columns) {
      const pc = p!.columns.find((c) => c.name === lc.name)!;
      const where = `${l.name}.${lc.name}`;
      expect(TYPE_TWINS[lc.columnType], `${where}: unknown SQLite type ${lc.columnType}`).toBeDefined();
      expect(TYPE_TWINS[lc.columnType], `${where}: ${lc.columnType} as ${pc.columnType}`).toContain(pc.columnType);
      expect(pc.notNull, `${where} NOT NULL`).toBe(lc.notNull);
      expect(pc.primary, `${where} PRIMARY KEY`).toBe(lc.primary);
      expect(pc.isUnique, `${where} UNIQUE`).toBe(lc.isUnique);
      // a default: the same value (an autoincrement id is an identity on PostgreSQL)
      const lAuto = (lc as any).autoIncrement === true;
      if (lAuto) expect((pc as any).generatedIdentity, `${where} identity`).toBeDefined();
      else {
        expect(pc.hasDefault, `${where} DEFAULT`).toBe(lc.hasDefault);
        if (lc.hasDefault) expect(pc.default, `${where} DEFAULT value`).toEqual(lc.default);
      }
      // times are epoch milliseconds in a bigint on PostgreSQL (an int4 would overflow in 2038-style ways)
      if (/(^at$|_at$|_seen$|_until$|_deadline$)/.test(lc.name) && lc.columnType === "SQLiteInteger") {
        expect(pc.columnType, `${where} is a time: bigint`).toBe("PgBigInt53");
      }
    }
    // composite primary keys
    const keyCols = (cols: { name: string }[]) => cols.map((c) => c.name).join(",");
    expect(p!.primaryKeys.map((k) => keyCols(k.columns)).sort()).toEqual(l.primaryKeys.map((k) => keyCols(k.columns)).sort());
    // indexes
    const pIdx = new Map(p!.indexes.map((i) => [i.config.name!, i.config]));
    for (const li of l.indexes) {
      const pi = pIdx.get(li.config.name);
      expect(pi, `index ${li.config.name} on PostgreSQL`).toBeDefined();
      expect(pi!.columns.map((c: any) => c.name), `index ${li.config.name} columns`).toEqual(li.config.columns.map((c: any) => c.name));
      expect(pi!.unique, `index ${li.config.name} UNIQUE`).toBe(li.config.unique);
      expect(whereText(pi!.where), `index ${li.config.name} WHERE`).toBe(whereText(li.config.where));
    }
    for (const name of pIdx.keys()) {
      if (!l.indexes.some((i) => i.config.name === name)) expect(PG_ONLY_INDEXES[name], `PostgreSQL-only index ${name} must be listed with its reason`).toBeString();
    }
    // foreign keys
    const fk = (f: any) => {
      const r = f.reference();
      return `${r.columns.map((c: any) => c.name).join(",")}->${pgOrLiteName(r.foreignTable)}(${r.foreignColumns.map((c: any) => c.name).join(",")}) ${f.onDelete ?? ""}`;
    };
    expect(p!.foreignKeys.map(fk).sort()).toEqual(l.foreignKeys.map(fk).sort());
  });
}

function pgOrLiteName(t: any): string {
  return is(t, PgTable) ? pgConfig(t).name : liteConfig(t).name;
}

test("every PostgreSQL-only index still exists (the list above is not stale)", () => {
  const all = [...pgTables.values()].flatMap((c) => c.indexes.map((i) => i.config.name));
  for (const name of Object.keys(PG_ONLY_INDEXES)) expect(all).toContain(name);
});
