// Every transaction on a read-write connection takes the write lock at BEGIN (src/db/client.ts):
// a deferred transaction that read first failed with SQLITE_BUSY_SNAPSHOT when another connection
// (writer thread, search indexer, CLI) committed before it wrote, and the request answered 500
// (seen: DELETE /v1/heartbeats/:id while the indexer ran). Checked for every way the code opens a
// transaction, then under load through HTTP: admin writes on every kind of resource while ingest
// and the background indexer write all the time, and not one 5xx.
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { sql } from "drizzle-orm";
import { dbFile, isBusy, openDatabase } from "../../src/db/client";
import { migrate } from "../../src/db/migrate";
import { event, json, startTestServer, TEST_STORE, tempDir } from "../helpers";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test.skipIf(TEST_STORE === "postgres")("every transaction form holds the write lock from its start, even one that only read so far; nested ones are savepoints (SQLite: its connections and locks)", () => {
  const dir = tempDir();
  dirs.push(dir);
  const a = openDatabase(dbFile(dir), { durability: "normal" });
  migrate(a);
  const b = openDatabase(dbFile(dir), { durability: "normal", busyTimeoutMs: 0 });
  /** true when connection b cannot take the write lock now */
  const locked = () => {
    try {
      b.$client.exec("BEGIN IMMEDIATE");
      b.$client.exec("ROLLBACK");
      return false;
    } catch (e) {
      if (isBusy(e)) return true;
      throw e;
    }
  };
  const forms: [string, (f: () => boolean) => boolean][] = [
    ["bun:sqlite transaction()()", (f) => a.$client.transaction(f)()],
    ["bun:sqlite .deferred()", (f) => a.$client.transaction(f).deferred()],
    ["bun:sqlite .immediate()", (f) => a.$client.transaction(f).immediate()],
    ["drizzle db.transaction()", (f) => a.transaction(() => f())],
    ["drizzle behavior deferred", (f) => a.transaction(() => f(), { behavior: "deferred" })],
  ];
  for (const [name, run] of forms) {
    expect({ name, before: locked() }).toEqual({ name, before: false });
    // inside: only a read so far, and the lock is already held
    const held = run(() => (a.get(sql`SELECT count(*) FROM tenants`), locked()));
    expect({ name, held }).toEqual({ name, held: true });
    expect({ name, after: locked() }).toEqual({ name, after: false });
  }
  // nested: the inner one is a savepoint that rolls back alone
  a.$client.transaction(() => {
    a.$client.exec("CREATE TABLE IF NOT EXISTS t_nested (x)");
    try {
      a.$client.transaction(() => {
        a.$client.exec("INSERT INTO t_nested VALUES (1)");
        throw new Error("inner");
      })();
    } catch {}
    a.$client.exec("INSERT INTO t_nested VALUES (2)");
  })();
  expect(a.$client.query("SELECT x FROM t_nested").all()).toEqual([{ x: 2 }]);
  a.$client.close();
  b.$client.close();
});

test("admin writes of every kind while ingest and the search indexer write all the time: no 5xx", async () => {
  const s = await startTestServer();
  try {
    let stop = false;
    let ingested = 0;
    const load = (async () => {
      // many small groups: the writer thread and the indexer commit as often as they can
      while (!stop) {
        const r = await s.post("/api/v1/events", Array.from({ length: 20 }, (_, i) => event(i, { payload: { text: `searchable words ${i}` } })));
        expect(r.status).toBe(202);
        ingested++;
      }
    })();
    const statuses: string[] = [];
    const call = async (what: string, r: Promise<Response>) => {
      const res = await r;
      statuses.push(`${what} ${res.status}`);
      return res.status < 300 ? ((await res.json().catch(() => null)) as any) : null;
    };
    const until = Date.now() + 6_000;
    for (let i = 0; Date.now() < until; i++) {
      const hb = await call("heartbeat create", s.admin("POST", "/v1/heartbeats", { name: `hb-${i}`, period: 60 }));
      if (hb) {
        await call("heartbeat patch", s.admin("PATCH", `/v1/heartbeats/${hb.id}`, { grace: 30 }));
        await call("heartbeat pause", s.admin("POST", `/v1/heartbeats/${hb.id}/pause`));
        await call("heartbeat delete", s.admin("DELETE", `/v1/heartbeats/${hb.id}`));
      }
      const rule = await call("rule create", s.admin("POST", "/v1/rules", { name: `r-${i}`, filter: { field: "type", op: "eq", value: "x.y" }, action: { kind: "tag", tags: ["t"] } }));
      if (rule) await call("rule delete", s.admin("DELETE", `/v1/rules/${rule.id}`));
      const wl = await call("watchlist create", s.admin("POST", "/v1/watchlists", { name: `w-${i}`, label: "l", entries: [{ kind: "domain", value: "evil.example" }] }));
      if (wl) await call("watchlist delete", s.admin("DELETE", `/v1/watchlists/${wl.id}`));
      const k = await call("key create", s.admin("POST", "/v1/keys", { name: `k-${i}`, scopes: ["read"] }));
      if (k) await call("key revoke", s.admin("POST", `/v1/keys/${k.id}/revoke`));
      await call("search", s.get("/v1/events?q=searchable&limit=5", s.keys.admin));
    }
    stop = true;
    await load;
    expect(ingested).toBeGreaterThan(10);
    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.filter((x) => / 5\d\d$/.test(x))).toEqual([]);
    expect((await json(s.get("/v1/events?limit=1", s.keys.admin))).items.length).toBe(1);
  } finally {
    await s.close();
  }
});
