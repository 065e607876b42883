// The background full-text indexer (src/store/search.ts, migration 0011_events_fts_background): events are indexed after
// they are committed, by rowid cursor, the cursor moving in the same transaction as the index rows.
// - a seeded walk of inserts, deletes (single, newest-first so rowids are reused, retention, a
//   whole tenant), partial indexing batches and searches against a brute-force model: a search
//   never returns a deleted event, another tenant's or a wrong one, finds every indexed match, and
//   the index holds exactly one entry per indexed event at every step;
// - the built binary killed (SIGKILL) again and again while it catches up with 50,000 unindexed
//   events: after every kill the index covers exactly the rows up to the cursor, the cursor never
//   goes back, the next start resumes from it, and at the end every event is found exactly once;
// - deletes (retention, and the newest rows so their rowids are reused) on the main thread while
//   the server's indexer thread is indexing.
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { dbFile, openDatabase, type Db } from "../../src/db/client";
import { embeddedMigrationList, migrate } from "../../src/db/migrate";
import { listEvents } from "../../src/store/events";
import { createKey } from "../../src/store/keys";
import { pruneEventsBatch } from "../../src/store/retention";
import { indexPending, indexState } from "../../src/store/search";
import { createTenant } from "../../src/store/tenants";
import { BIN, json, killSpawned, startBinary, startTestServer, tempDir } from "../helpers";

const dirs: string[] = [];
afterAll(() => {
  killSpawned();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function freshDb(): { db: Db; dir: string } {
  const dir = tempDir();
  dirs.push(dir);
  const db = openDatabase(dbFile(dir));
  migrate(db);
  return { db, dir };
}

/** Committed events as the ingest writer stores them (without indexing, as since 0011_events_fts_background). */
function addEvents(db: Db, rows: { id: string; tenantId: string; text: string; receivedAt?: number }[]): number[] {
  const ins = db.$client.query(
    `INSERT INTO events (id, tenant_id, received_at, occurred_at, source_name, source, type, module, title, summary,
       severity, severity_rank, tags, payload, raw_payload)
     VALUES (?1, ?2, ?3, ?3, 'generic', 'test', 'test.event', 'custom', 'event', 'stored', 'info', 1, '[]', ?4, ?4)`,
  );
  const rowid = db.$client.query("SELECT rowid AS r FROM events WHERE id = ?1");
  return db.$client
    .transaction(() =>
      rows.map((r) => {
        ins.run(r.id, r.tenantId, r.receivedAt ?? Date.now(), JSON.stringify({ note: r.text, nested: { k: "v" } }));
        return (rowid.get(r.id) as { r: number }).r;
      }),
    )
    .immediate();
}

const count = (db: Db, sql: string, ...args: any[]) => (db.$client.query(sql).get(...args) as { n: number }).n;

/** Every stored event up to the cursor is in the index exactly once, and nothing else is. */
function expectExactIndex(db: Db) {
  const { cursor } = indexState(db);
  expect({ fts: count(db, "SELECT count(*) AS n FROM events_fts"), upToCursor: count(db, "SELECT count(*) AS n FROM events WHERE rowid <= ?1", cursor) }).toEqual({
    fts: count(db, "SELECT count(*) AS n FROM events WHERE rowid <= ?1", cursor),
    upToCursor: count(db, "SELECT count(*) AS n FROM events WHERE rowid <= ?1", cursor),
  });
  return cursor;
}

test("upgrading from 0009 (trigger-indexed data): everything stays searchable, the cursor starts after it, new events are indexed once", () => {
  const dir = tempDir();
  dirs.push(dir);
  const db = openDatabase(dbFile(dir));
  // the schema as of 0009, whose triggers index every insert
  const upTo = embeddedMigrationList().findIndex((m) => m.sql.join("").includes("CREATE TABLE events_fts_cursor"));
  expect(upTo).toBeGreaterThan(0);
  (db as any).dialect.migrate(embeddedMigrationList().slice(0, upTo), (db as any).session, { migrationsFolder: "(embedded)" });
  const t = createTenant(db, "t1");
  addEvents(db, Array.from({ length: 300 }, (_, i) => ({ id: `ev${String(i).padStart(8, "0")}`, tenantId: t.id, text: `older${i}z` })));
  db.$client.query("DELETE FROM events WHERE rowid > 250").run();
  expect(count(db, "SELECT count(*) AS n FROM events_fts")).toBe(250);
  // the indexer's migration and every later one
  expect(migrate(db)).toBe(embeddedMigrationList().length - upTo);
  expect(indexState(db)).toEqual({ cursor: 250, last: 250 });
  // new events reuse the deleted rowids 251..
  addEvents(db, Array.from({ length: 100 }, (_, i) => ({ id: `ew${String(i).padStart(8, "0")}`, tenantId: t.id, text: `newer${i}z` })));
  expect(listEvents(db, t.id, { text: "newer5z", limit: 10 })).toEqual([]);
  expect(indexPending(db)).toEqual({ indexed: 100, cursor: 350, pending: false });
  expectExactIndex(db);
  for (let i = 0; i < 250; i += 13) expect(listEvents(db, t.id, { text: `older${i}z`, limit: 10 }).map((e) => e.id)).toEqual([`ev${String(i).padStart(8, "0")}`]);
  for (let i = 250; i < 300; i += 7) expect(listEvents(db, t.id, { text: `older${i}z`, limit: 10 })).toEqual([]);
  for (let i = 0; i < 100; i += 9) expect(listEvents(db, t.id, { text: `newer${i}z`, limit: 10 }).map((e) => e.id)).toEqual([`ew${String(i).padStart(8, "0")}`]);
  db.$client.close();
});

function rng(seed: number) {
  let a = seed >>> 0;
  return () => ((a = (a + 0x6d2b79f5) >>> 0), ((Math.imul(a ^ (a >>> 15), 1 | a) ^ (a >>> 7)) >>> 0) / 4294967296);
}

test("seeded walk of inserts, deletes, partial indexing and searches against a brute-force model", () => {
  const seed = Number(process.env.KW_SEED ?? Date.now() % 1_000_000);
  console.log(`indexer walk seed ${seed} (replay with KW_SEED=${seed})`);
  const rnd = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const { db } = freshDb();
  // no word is a prefix of another (the last search word also matches as a prefix)
  const VOCAB = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"];
  let tenants = [createTenant(db, "a").id, createTenant(db, "b").id];
  type M = { id: string; tenantId: string; words: string[]; rowid: number; t: number };
  let model: M[] = [];
  let n = 0;
  let clock = 1_000_000;
  let reused = 0;
  let maxRowid = 0;
  let searches = 0;
  for (let step = 0; step < 600; step++) {
    const op = rnd();
    if (op < 0.35) {
      const k = 1 + Math.floor(rnd() * 5);
      const rows = Array.from({ length: k }, () => {
        const words = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick(VOCAB));
        return { id: `ev${String(++n).padStart(8, "0")}`, tenantId: pick(tenants), text: words.join(" "), words, receivedAt: ++clock };
      });
      const rowids = addEvents(db, rows);
      rows.forEach((r, i) => {
        if (rowids[i] <= maxRowid) reused++;
        maxRowid = Math.max(maxRowid, rowids[i]);
        model.push({ id: r.id, tenantId: r.tenantId, words: r.words, rowid: rowids[i], t: r.receivedAt });
      });
    } else if (op < 0.45 && model.length) {
      const m = pick(model);
      db.$client.query("DELETE FROM events WHERE id = ?1").run(m.id);
      model = model.filter((x) => x !== m);
    } else if (op < 0.53 && model.length) {
      // the newest rows: their rowids are handed out again to the next inserts
      const k = 1 + Math.floor(rnd() * 4);
      const newest = [...model].sort((x, y) => y.rowid - x.rowid).slice(0, k);
      for (const m of newest) db.$client.query("DELETE FROM events WHERE id = ?1").run(m.id);
      model = model.filter((x) => !newest.includes(x));
      maxRowid = Math.max(0, ...model.map((x) => x.rowid));
    } else if (op < 0.57 && model.length) {
      // retention: everything received before a cut-off, in batches
      const before = pick(model).t;
      let after = "";
      for (;;) {
        const b = pruneEventsBatch(db, before, after, 3);
        if (!b.last) break;
        after = b.last;
      }
      model = model.filter((x) => x.t >= before);
    } else if (op < 0.59) {
      // a tenant's deletion cascades to its events
      const gone = pick(tenants);
      db.$client.query("DELETE FROM tenants WHERE id = ?1").run(gone);
      model = model.filter((x) => x.tenantId !== gone);
      tenants = tenants.map((t) => (t === gone ? createTenant(db, `t${step}`).id : t));
    } else if (op < 0.8) {
      indexPending(db, 1 + Math.floor(rnd() * 7));
    } else {
      const words = Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => pick(VOCAB));
      const tenantId = pick(tenants);
      const got = listEvents(db, tenantId, { text: words.join(" "), limit: 10_000 }).map((e) => e.id).sort();
      const { cursor } = indexState(db);
      const matches = model.filter((m) => m.tenantId === tenantId && words.every((w) => m.words.includes(w)));
      const allowed = new Set(matches.map((m) => m.id));
      const indexedMatches = matches.filter((m) => m.rowid <= cursor).map((m) => m.id);
      // never a deleted event, another tenant's or one without the words
      expect({ step, words, extra: got.filter((id) => !allowed.has(id)) }).toEqual({ step, words, extra: [] });
      // every indexed match is found
      expect({ step, words, missing: indexedMatches.filter((id) => !got.includes(id)) }).toEqual({ step, words, missing: [] });
      searches++;
    }
    expectExactIndex(db);
  }
  // caught up: every search answers exactly the model
  for (let i = 0; indexPending(db, 7).pending; i++) expect(i).toBeLessThan(10_000);
  expect(indexState(db).cursor).toBe(indexState(db).last);
  for (const tenantId of tenants)
    for (const w of VOCAB) {
      const got = listEvents(db, tenantId, { text: w, limit: 10_000 }).map((e) => e.id).sort();
      expect({ w, got }).toEqual({ w, got: model.filter((m) => m.tenantId === tenantId && m.words.includes(w)).map((m) => m.id).sort() });
    }
  expect(count(db, "SELECT count(*) AS n FROM events_fts")).toBe(model.length);
  // the walk did what it is meant to test
  expect({ reused: reused > 0, searches: searches > 20 }).toEqual({ reused: true, searches: true });
  db.$client.close();
});

/** The rowids that match one word, straight from the index. */
const matchRowids = (db: Db, word: string) => (db.$client.query("SELECT rowid AS r FROM events_fts WHERE events_fts MATCH ?1").all(word) as { r: number }[]).map((x) => x.r);

test("the built binary killed while indexing: the cursor moves with the index rows, a restart resumes, every event is found exactly once", async () => {
  const N = 50_000;
  const { db, dir } = freshDb();
  const tenant = createTenant(db, "t1");
  const read = createKey(db, { tenantId: tenant.id, name: "r", scopes: ["read"] }).key;
  // committed, not yet indexed (as the ingest writer leaves them)
  for (let i = 0; i < N; i += 2000)
    addEvents(db, Array.from({ length: 2000 }, (_, j) => ({ id: `ev${String(i + j).padStart(8, "0")}`, tenantId: tenant.id, text: `tok${i + j} common` })));
  expect(indexState(db)).toEqual({ cursor: 0, last: N });
  db.$client.close();

  const probe = openDatabase(dbFile(dir), { readonly: true });
  let cursor = 0;
  let midway = 0;
  let starts = 0;
  for (; starts < 10; starts++) {
    if (cursor >= N) break;
    // the binary starts indexing before it listens: spawn it bare and watch the database
    const proc = Bun.spawn([BIN, "serve", "--port", "0", "--host", "127.0.0.1", "--data-dir", dir], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
      cwd: dir,
      env: { PATH: process.env.PATH ?? "" },
    });
    try {
      // kill it as soon as the indexer has moved on from where the previous run stopped
      const deadline = Date.now() + 20_000;
      let st = indexState(probe);
      while (st.cursor === cursor && proc.exitCode === null && Date.now() < deadline) {
        await Bun.sleep(1);
        st = indexState(probe);
      }
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
    }
    const after = openDatabase(dbFile(dir), { readonly: true });
    const c = expectExactIndex(after);
    expect(c).toBeGreaterThanOrEqual(cursor); // never goes back
    if (c > 0 && c < N) midway++;
    // the rows around the cursor: the last indexed one is found, the next one is not yet
    if (c > 0) expect(matchRowids(after, `tok${c - 1}`)).toEqual([c]);
    if (c < N) expect(matchRowids(after, `tok${c}`)).toEqual([]);
    after.$client.close();
    cursor = c;
  }
  probe.$client.close();
  // the last start catches up; its API finds the newest event
  const bin = await startBinary(dir);
  const deadline = Date.now() + 30_000;
  const watch = openDatabase(dbFile(dir), { readonly: true });
  for (let st = indexState(watch); st.cursor < st.last; st = indexState(watch)) {
    expect(Date.now()).toBeLessThan(deadline);
    await Bun.sleep(5);
  }
  watch.$client.close();
  const r = await fetch(`${bin.url}/v1/events?limit=5&q=tok${N - 1}`, { headers: { authorization: `Bearer ${read}` } });
  expect(r.status).toBe(200);
  expect(((await r.json()) as any).items.map((e: any) => e.id)).toEqual([`ev${String(N - 1).padStart(8, "0")}`]);
  bin.proc.kill("SIGTERM");
  expect(await bin.proc.exited).toBe(0);
  expect(Date.now()).toBeLessThan(deadline);
  // at least one kill landed while the indexer was part-way through
  expect(midway).toBeGreaterThan(0);
  console.log(`indexer kill test: ${starts + 1} starts, ${midway} kills mid-indexing`);
  const fin = openDatabase(dbFile(dir), { readonly: true });
  expect(indexState(fin)).toEqual({ cursor: N, last: N });
  expect(count(fin, "SELECT count(*) AS n FROM events_fts")).toBe(N);
  expect(matchRowids(fin, "common").length).toBe(N);
  const bad: number[] = [];
  for (let i = 0; i < N; i++) {
    const r = matchRowids(fin, `tok${i}`);
    if (r.length !== 1 || r[0] !== i + 1) bad.push(i);
  }
  expect(bad).toEqual([]);
  fin.$client.close();
}, 120_000);

test("deletes while the server's indexer thread is indexing: no deleted or stale match, every survivor found once", async () => {
  const s = await startTestServer();
  try {
    const db = s.deps.sqlite!.db;
    const N = 6000;
    const old = Date.now() - 86_400_000;
    // the first half old (retention takes it), the second half new
    addEvents(db, Array.from({ length: N }, (_, i) => ({ id: `ev${String(i).padStart(8, "0")}`, tenantId: s.tenantId, text: `item${i}z`, receivedAt: i < N / 2 ? old : Date.now() })));
    // the indexer (every 200 ms) has started on them but not finished: retention begins now
    const deadline = Date.now() + 10_000;
    let st = indexState(db);
    while (st.cursor === 0 && Date.now() < deadline) {
      await Bun.sleep(1);
      st = indexState(db);
    }
    expect(st.cursor).toBeGreaterThan(0);
    const midway = st.cursor < st.last;
    // retention in small batches, interleaved with the indexer's transactions
    let after = "";
    for (;;) {
      const b = pruneEventsBatch(db, old + 1, after, 100);
      if (!b.last) break;
      after = b.last;
      await Bun.sleep(0);
    }
    // once all of it is indexed, the newest 500 go too, and new events take their rowids with other text
    expect(await s.deps.sqlite!.checkpointer.searchReady(10_000)).toBe(true);
    expect(indexState(db).cursor).toBe(N);
    db.$client.query("DELETE FROM events WHERE rowid > ?1").run(N - 500);
    addEvents(db, Array.from({ length: 500 }, (_, i) => ({ id: `ew${String(i).padStart(8, "0")}`, tenantId: s.tenantId, text: `fresh${i}z` })));
    expect(indexState(db).last).toBe(N); // the rowids were reused
    expect(await s.deps.sqlite!.checkpointer.searchReady(10_000)).toBe(true);
    expectExactIndex(db);
    expect(count(db, "SELECT count(*) AS n FROM events_fts")).toBe(N / 2);
    const search = async (q: string) => (await json(s.get(`/v1/events?limit=5&q=${q}`))).items.map((e: any) => e.id);
    for (let i = 0; i < N; i += 97) {
      const want = i < N / 2 || i >= N - 500 ? [] : [`ev${String(i).padStart(8, "0")}`];
      expect({ i, got: await search(`item${i}z`) }).toEqual({ i, got: want });
    }
    for (let i = 0; i < 500; i += 37) expect(await search(`fresh${i}z`)).toEqual([`ew${String(i).padStart(8, "0")}`]);
    // retention began while the indexer was part-way through
    expect(midway).toBe(true);
  } finally {
    await s.close();
  }
}, 60_000);
