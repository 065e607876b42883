// Store-level tests written once, run on both stores: `forEachStore((name, make) => describe(...))`.
// SQLite: a real file in a temp dir, migrated. PostgreSQL: a fresh database on one throwaway
// cluster shared by the whole test process (started on first use, stopped at exit), migrated.
import { afterAll } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { openDatabase, type Db } from "../../src/db/client";
import { migrate } from "../../src/db/migrate";
import { openPg } from "../../src/db/pg-client";
import { migratePg } from "../../src/db/pg-migrate";
import type { Store } from "../../src/store/contract";
import { pgStore, sqliteStore } from "../../src/store/index";
import { tempDir } from "../helpers";
import { sharedCluster } from "../pg/cluster";

export { sharedCluster };

let seq = 0;
const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of closers.splice(0)) await c();
});

/** A migrated SQLite store in a fresh temp dir; `db` is there for assertions on raw rows. */
export function makeSqliteStore(clock: () => number = Date.now): { store: Store; db: Db } {
  const dir = tempDir("kw-store-");
  const db = openDatabase(join(dir, "keepwatch.db"));
  migrate(db);
  closers.push(() => {
    db.$client.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store: sqliteStore(db, clock), db };
}

/** A migrated PostgreSQL store on a fresh database of the shared cluster; `sql` for raw assertions. */
export async function makePgStore(): Promise<{ store: Store; sql: import("postgres").Sql<{}> }> {
  const c = await sharedCluster();
  const url = await c.createDatabase(`store_${process.pid}_${++seq}`);
  const pg = openPg(url, { pool: 8 });
  await migratePg(pg.$client);
  closers.push(() => pg.$client.end({ timeout: 5 }));
  return { store: pgStore(pg.$client), sql: pg.$client };
}

export type StoreMaker = () => Promise<Store>;

/** Calls `body` once per store kind with a maker of fresh, empty, migrated stores. */
export function forEachStore(body: (kind: "sqlite" | "postgres", make: StoreMaker) => void): void {
  body("sqlite", async () => makeSqliteStore().store);
  body("postgres", async () => (await makePgStore()).store);
}
