// The events, search, indicators and source-activity domains of the store contract, written once
// and run on both stores (SQLite, and PostgreSQL on a throwaway cluster): storeBatch and the group
// commit against a model of their answers (seeded fuzz: idempotency keys, repeats of item ids in a
// request, in a group and across groups), every listEvents filter and both paging directions, raw
// payloads byte for byte, full-text search on a seeded corpus (and the same results on both
// stores), mappings and the mapping cache, the indicator pivot, source activity. Then what only
// PostgreSQL has: a group commit is one transaction with a number of statements that does not grow
// with its events, and a commit while the database is stopped is refused as unavailable, the next
// one after it is back succeeds.
import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import type { NormalizedEvent } from "../../src/core/event";
import { SEVERITIES, SEVERITY_RANK, type Severity } from "../../src/core/severity";
import { pgOptions } from "../../src/db/pg-client";
import { migratePg } from "../../src/db/pg-migrate";
import { commitGroup } from "../../src/ingest/commit";
import type { Store } from "../../src/store/contract";
import type { IngestBatch } from "../../src/store/events";
import { pgCommitGroup } from "../../src/store/pg/events";
import { isPgUnavailable } from "../../src/store/pg/errors";
import { pgStore } from "../../src/store/index";
import { newId } from "../../src/lib/ids";
import { startCluster } from "../pg/cluster";
import { makePgStore, makeSqliteStore, sharedCluster } from "./both";

const SEED = Number(process.env.SEED ?? Date.now() % 100_000);
console.log(`test/store/events.test.ts SEED=${SEED}`);

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** A store with what a store-level test needs besides the contract: tenants, raw rows, the group commit. */
type Env = {
  kind: "sqlite" | "postgres";
  store: Store;
  tenant(name: string): Promise<string>;
  /** a raw statement with $1.. parameters, for fixtures of other domains (alerts) */
  exec(sql: string, params: unknown[]): Promise<void>;
  commit(batches: IngestBatch[], now: number): Promise<{ ok: boolean; ids?: string[]; unavailable?: boolean }[]>;
};

async function sqliteEnv(): Promise<Env> {
  const { store, db } = makeSqliteStore();
  return {
    kind: "sqlite",
    store,
    async tenant(name) {
      const id = newId();
      db.$client.query("INSERT INTO tenants (id, name, created_at) VALUES (?1, ?2, ?3)").run(id, name, Date.now());
      return id;
    },
    async exec(sql, params) {
      db.$client.query(sql.replace(/\$(\d+)/g, "?$1")).run(...(params as any[]));
    },
    async commit(batches, now) {
      return commitGroup(db, batches, [], now) as any;
    },
  };
}

async function pgEnv(): Promise<Env> {
  const { store, sql } = await makePgStore();
  return {
    kind: "postgres",
    store,
    async tenant(name) {
      const id = newId();
      await sql`INSERT INTO tenants (id, name, created_at) VALUES (${id}, ${name}, ${Date.now()})`;
      return id;
    },
    async exec(q, params) {
      await sql.unsafe(q, params as any[]);
    },
    async commit(batches, now) {
      return pgCommitGroup(sql, batches, now, []) as any;
    },
  };
}

const ENVS: [string, () => Promise<Env>][] = [
  ["sqlite", sqliteEnv],
  ["postgres", pgEnv],
];

let evSeq = 0;
/** A normalized event as the writer hands it over (indicators, tags, warnings included). */
function ev(tenantId: string, o: Partial<NormalizedEvent> & { at?: number } = {}): NormalizedEvent {
  const at = o.at ?? 1_800_000_000_000 + ++evSeq;
  const payload = o.payloadJson ?? JSON.stringify({ n: evSeq, host: "db-01" });
  return {
    id: newId(at),
    tenantId,
    receivedAt: at,
    occurredAt: at - 5,
    sourceName: "events",
    source: "app",
    type: "app.thing",
    module: "m",
    title: `title ${evSeq}`,
    summary: `summary ${evSeq}`,
    severity: "info",
    severityRaw: null,
    host: null,
    tags: [],
    payloadJson: payload,
    rawJson: o.rawJson ?? payload,
    dedupKey: null,
    externalId: null,
    indicators: [],
    warnings: [],
    resolve: false,
    opensAlert: false,
    ...o,
  };
}

const batch = (tenantId: string, events: NormalizedEvent[], idempotencyKey: string | null = null, route = "/api/v1/events"): IngestBatch => ({
  tenantId,
  route,
  idempotencyKey,
  events,
});

for (const [kind, make] of ENVS) {
  describe(`events store (${kind})`, () => {
    test("storeBatch: ids, repeats of an item id answer the stored event, Idempotency-Key answers the first request", async () => {
      const e = await make();
      const t = await e.tenant("t");
      const now = 1_800_000_000_000;
      const a = ev(t, { externalId: "x1", indicators: [{ type: "ip", value: "10.0.0.5", origin: "explicit" }] as any });
      const b = ev(t, { externalId: "x1" }); // same item id in the same request
      const c = ev(t);
      const r1 = await e.store.events.storeBatch(batch(t, [a, b, c]), now);
      expect(r1.ids).toEqual([a.id, a.id, c.id]);
      expect(r1.inserted.map((x) => x.id)).toEqual([a.id, c.id]);
      // the same item id in a later request, from another source: a new event; from the same: the stored one
      const d = ev(t, { externalId: "x1", sourceName: "generic" });
      const f = ev(t, { externalId: "x1" });
      const r2 = await e.store.events.storeBatch(batch(t, [d, f]), now);
      expect(r2.ids).toEqual([d.id, a.id]);
      // idempotency: the first request's ids, nothing stored
      const k1 = await e.store.events.storeBatch(batch(t, [ev(t)], "K"), now);
      const k2 = await e.store.events.storeBatch(batch(t, [ev(t), ev(t)], "K"), now + 1000);
      expect(k2).toEqual({ ids: k1.ids, inserted: [] });
      // another route, same key: its own request
      const k3 = await e.store.events.storeBatch(batch(t, [ev(t)], "K", "/v1/ingest/generic"), now);
      expect(k3.ids).not.toEqual(k1.ids);
      // past the 24 h window the key is taken over
      const k4 = await e.store.events.storeBatch(batch(t, [ev(t)], "K"), now + 25 * 3_600_000);
      expect(k4.ids).not.toEqual(k1.ids);
      expect(k4.inserted.length).toBe(1);
      expect(await e.store.events.countEvents(t)).toBe(6);
      expect(await e.store.events.countEvents()).toBe(6);
      expect(await e.store.events.eventIndicatorsOf(a.id)).toEqual([{ type: "ip", value: "10.0.0.5", origin: "explicit" }]);
      // pruning: keys older than the cut go (k2's key was replaced by k4 at now + 25 h; k3's remains old)
      expect(await e.store.events.pruneIdempotencyKeys(now + 1)).toBe(1);
      expect(await e.store.events.pruneIdempotencyKeys(now + 26 * 3_600_000)).toBe(1);
      expect(await e.store.events.pruneIdempotencyKeys(now + 26 * 3_600_000)).toBe(0);
    });

    test(`group commit against a model of the answers (seeded fuzz, SEED=${SEED})`, async () => {
      const e = await make();
      const tenants = [await e.tenant("a"), await e.tenant("b")];
      const rand = rng(SEED + (kind === "sqlite" ? 0 : 0));
      const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
      // the model: what the answers must be when the requests are stored one after the other
      const byExt = new Map<string, string>();
      const byKey = new Map<string, { ids: string[]; at: number }>();
      let stored = 0;
      let now = 1_800_000_000_000;
      for (let g = 0; g < 25; g++) {
        now += Math.floor(rand() * 4 * 3_600_000); // sometimes past the idempotency window
        const group: IngestBatch[] = [];
        const want: string[][] = [];
        for (let r = 0, n = 1 + Math.floor(rand() * 6); r < n; r++) {
          const t = pick(tenants);
          const key = rand() < 0.4 ? pick(["k1", "k2", "k3"]) : null;
          const route = pick(["/api/v1/events", "/v1/ingest/generic"]);
          const events = Array.from({ length: 1 + Math.floor(rand() * 5) }, () =>
            ev(t, { at: now, externalId: rand() < 0.5 ? pick(["e1", "e2", "e3", "e4", "e5", "e6"]) : null, sourceName: pick(["events", "generic"]) }),
          );
          group.push(batch(t, events, key, route));
          const kname = `${t}|${route}|${key}`;
          const prev = key ? byKey.get(kname) : undefined;
          if (prev && prev.at >= now - 24 * 3_600_000) {
            want.push(prev.ids);
            continue;
          }
          const ids = events.map((x) => {
            if (x.externalId === null) return stored++, x.id;
            const name = `${t}|${x.sourceName}|${x.externalId}`;
            const old = byExt.get(name);
            if (old) return old;
            byExt.set(name, x.id);
            stored++;
            return x.id;
          });
          if (key) byKey.set(kname, { ids, at: now });
          want.push(ids);
        }
        const got = await e.commit(group, now);
        expect(got.map((x) => x.ok)).toEqual(group.map(() => true));
        expect(got.map((x) => x.ids)).toEqual(want);
      }
      expect(await e.store.events.countEvents()).toBe(stored);
    });

    test("a group with one bad request: only that one fails, the others are stored", async () => {
      const e = await make();
      const t = await e.tenant("t");
      const good = ev(t);
      const bad = ev(t, { tenantId: "no-such-tenant" }); // the foreign key refuses it
      const also = ev(t);
      const r = await e.commit([batch(t, [good]), batch(t, [bad]), batch(t, [also])], Date.now());
      expect(r.map((x) => x.ok)).toEqual([true, false, true]);
      expect(r[1]!.unavailable).toBe(false);
      expect(await e.store.events.countEvents(t)).toBe(2);
    });

    test("listEvents: every filter, alone and combined, and paging both ways, against a model", async () => {
      const e = await make();
      const t = await e.tenant("t");
      const other = await e.tenant("o");
      const rand = rng(SEED + 7);
      const base = 1_800_000_000_000;
      const all: NormalizedEvent[] = [];
      for (let i = 0; i < 90; i++) {
        const x = ev(i % 10 === 9 ? other : t, {
          at: base + i * 1000,
          sourceName: ["events", "generic", "sentinel"][Math.floor(rand() * 3)]!,
          source: ["app", "cron", "db"][Math.floor(rand() * 3)]!,
          type: ["a.b", "c.d"][Math.floor(rand() * 2)]!,
          severity: SEVERITIES[Math.floor(rand() * SEVERITIES.length)] as Severity,
        });
        all.push(x);
      }
      await e.store.events.storeBatch(batch(t, all), base);
      const mine = all.filter((x) => x.tenantId === t);
      const filters = [
        {},
        { sourceName: "generic" },
        { source: "cron" },
        { type: "c.d" },
        { minSeverityRank: SEVERITY_RANK.medium },
        { since: base + 30_000 },
        { until: base + 60_000 },
        { since: base + 10_000, until: base + 70_000, type: "a.b" },
        { sourceName: "events", source: "app", minSeverityRank: SEVERITY_RANK.low },
        { sourceName: "nope" },
      ];
      for (const f of filters) {
        const want = mine
          .filter(
            (x) =>
              (!("sourceName" in f) || x.sourceName === f.sourceName) &&
              (!("source" in f) || x.source === f.source) &&
              (!("type" in f) || x.type === f.type) &&
              (!("minSeverityRank" in f) || SEVERITY_RANK[x.severity] >= f.minSeverityRank!) &&
              (!("since" in f) || x.receivedAt >= f.since!) &&
              (!("until" in f) || x.receivedAt < f.until!),
          )
          .map((x) => x.id)
          .reverse();
        expect((await e.store.events.listEvents(t, { ...f, limit: 1000 })).map((r) => r.id)).toEqual(want);
        // pages of 7, older with `before`
        const pages: string[] = [];
        let before: string | undefined;
        for (;;) {
          const p = await e.store.events.listEvents(t, { ...f, before, limit: 7 });
          pages.push(...p.map((r) => r.id));
          if (p.length < 7) break;
          before = p[p.length - 1]!.id;
        }
        expect(pages).toEqual(want);
        // newer with `after`: each page is newest first, next to the cursor
        if (want.length > 3) {
          const cursor = want[want.length - 1]!;
          const up = await e.store.events.listEvents(t, { ...f, after: cursor, limit: 3 });
          expect(up.map((r) => r.id)).toEqual(want.slice(-4, -1));
        }
      }
      // a row is the whole event
      const x = mine[0]!;
      const row = (await e.store.events.getEvent(t, x.id))!;
      expect({ ...row, tags: JSON.parse(row.tags) }).toEqual({
        id: x.id,
        tenantId: t,
        receivedAt: x.receivedAt,
        occurredAt: x.occurredAt,
        sourceName: x.sourceName,
        source: x.source,
        type: x.type,
        module: x.module,
        title: x.title,
        summary: x.summary,
        severity: x.severity,
        severityRank: SEVERITY_RANK[x.severity],
        severityRaw: null,
        host: null,
        tags: [],
        payload: x.payloadJson,
        rawPayload: x.rawJson,
        dedupKey: null,
        externalId: null,
        warnings: null,
      });
      expect(await e.store.events.getEvent(other, x.id)).toBeUndefined();
    });

    test("raw payloads come back byte for byte (non-ASCII, odd white space, big numbers, escapes)", async () => {
      const e = await make();
      const t = await e.tenant("t");
      const raws = [
        '{"a":1}',
        '{ "msg" : "Grüße, 世界 — ñ 🚨" ,\t"n":\r\n 12345678901234567890123 }',
        '{"big":1e400,"neg":-0.0000000000000000001,"int":9007199254740993}',
        '{"esc":"\\u0000\\u00e9\\ud83d\\udea8\\"\\\\","k":"\\/"}',
        '{"dup":1,"dup":2,   "nested":{"z":[ 1 , 2 ,{"y":null}]}}',
        '{"ws":"\u2028\u2029\u00a0"}',
      ];
      const evs = raws.map((r) => ev(t, { rawJson: r, payloadJson: r, tags: ["a", "ü"] }));
      await e.store.events.storeBatch(batch(t, evs), Date.now());
      for (const x of evs) {
        const row = (await e.store.events.getEvent(t, x.id))!;
        expect(row.rawPayload).toBe(x.rawJson);
        expect(row.payload).toBe(x.payloadJson);
        expect(JSON.parse(row.tags)).toEqual(["a", "ü"]);
      }
    });

    test("search: words of title, summary and payload, AND of terms, phrases, prefix of the last word, tenants apart", async () => {
      const e = await make();
      const t = await e.tenant("t");
      const other = await e.tenant("o");
      const mk = (tenant: string, title: string, payload: unknown) => ev(tenant, { title, summary: "s", payloadJson: JSON.stringify(payload) });
      const a = mk(t, "Disk full on db-01", { ip: "10.0.0.5", user: "alice@example.com" });
      const b = mk(t, "nightly backup failed", { host: "db-02", code: 137 });
      const c = mk(t, "Grüße from the café", { note: "naïve 世界" });
      const d = mk(other, "Disk full on db-01", {});
      await e.store.events.storeBatch(batch(t, [a, b, c]), Date.now());
      await e.store.events.storeBatch(batch(other, [d]), Date.now());
      while ((await e.store.search.indexPending(100_000)).pending);
      const q = async (text: string) => (await e.store.events.listEvents(t, { text, limit: 100 })).map((r) => r.id).sort();
      expect(await q("disk")).toEqual([a.id]);
      expect(await q("DISK FULL")).toEqual([a.id]);
      expect(await q("db-01")).toEqual([a.id]);
      expect(await q("db")).toEqual([a.id, b.id].sort());
      expect(await q("10.0.0.5")).toEqual([a.id]);
      expect(await q("10.0.0.6")).toEqual([]);
      expect(await q("alice@example.com")).toEqual([a.id]);
      expect(await q("nightl")).toEqual([b.id]);
      expect(await q("nightl backup")).toEqual([]); // only the last term is a prefix
      expect(await q("backup nightl")).toEqual([b.id]);
      expect(await q("137")).toEqual([b.id]);
      expect(await q("grüße")).toEqual([c.id]);
      expect(await q("世界")).toEqual([c.id]);
      // case and accents folded, as unicode61 does
      expect(await q("cafe")).toEqual([c.id]);
      expect(await q("CAFÉ NAIVE")).toEqual([c.id]);
      expect(await q("GRÜßE")).toEqual([c.id]);
      expect(await q("full backup")).toEqual([]);
      expect(await q("!!! ---")).toEqual([]);
      // operators and quotes of either search syntax are plain text, never an error
      for (const s of ['"', "a OR b", "NOT x", "a & b | !c", "x:*", "(((", "'", "a <-> b", "NEAR(a b)", "\\", "\u0000x"]) await q(s);
    });

    test("mappings: CRUD, the cache normalize reads follows every change at once", async () => {
      const e = await make();
      const t = await e.tenant("t");
      const now = Date.now();
      expect(await e.store.indicators.mappingsForSource(t, "generic")).toEqual([]);
      const m1 = await e.store.indicators.createMapping({ tenantId: t, name: "n1", source: null, path: "a.b", type: "ip", active: true }, now);
      const m2 = await e.store.indicators.createMapping({ tenantId: t, name: null, source: "generic", path: "c", type: "domain", active: true }, now);
      expect(await e.store.indicators.getMapping(t, m1.id)).toEqual(m1);
      expect(await e.store.indicators.listMappings(t)).toEqual([m1, m2]);
      const names = async (src: string) => (await e.store.indicators.mappingsForSource(t, src)).map((m) => m.path);
      expect(await names("generic")).toEqual(["a.b", "c"]);
      expect(await names("events")).toEqual(["a.b"]);
      await e.store.indicators.updateMapping(t, m2.id, { active: false }, now + 1);
      expect(await names("generic")).toEqual(["a.b"]);
      expect((await e.store.indicators.getMapping(t, m2.id))!).toEqual({ ...m2, active: false, updatedAt: now + 1 });
      await e.store.indicators.updateMapping(t, m2.id, { active: true, path: "d.e", name: "x" }, now + 2);
      expect(await names("generic")).toEqual(["a.b", "d.e"]);
      expect(await e.store.indicators.deleteMapping(t, m1.id)).toBe(true);
      expect(await e.store.indicators.deleteMapping(t, m1.id)).toBe(false);
      expect(await names("generic")).toEqual(["d.e"]);
      expect(await e.store.indicators.getMapping("other", m2.id)).toBeUndefined();
    });

    test("indicator pivot: events carrying an indicator (paged), their alerts; an event's alerts", async () => {
      const e = await make();
      const t = await e.tenant("t");
      const ip = { type: "ip", value: "10.1.1.1", origin: "system" } as any;
      const evs = Array.from({ length: 5 }, (_, i) => ev(t, { indicators: i % 2 ? [] : [ip] }));
      await e.store.events.storeBatch(batch(t, evs), Date.now());
      const carrying = evs.filter((_, i) => i % 2 === 0).map((x) => x.id).reverse();
      const p1 = await e.store.indicators.eventsWithIndicator(t, "ip", "10.1.1.1", undefined, 2);
      expect(p1.map((r) => r.id)).toEqual(carrying.slice(0, 2));
      expect(p1[0]).toMatchObject({ sourceName: "events", source: "app", type: "app.thing", origin: "system", receivedAt: evs[4]!.receivedAt });
      const p2 = await e.store.indicators.eventsWithIndicator(t, "ip", "10.1.1.1", p1[1]!.id, 2);
      expect(p2.map((r) => r.id)).toEqual(carrying.slice(2));
      // an alert over the first event
      const alertId = newId();
      await e.exec(
        `INSERT INTO alerts (id, tenant_id, fingerprint, title, severity, severity_rank, status, enrichment_status, tags, source_name, source,
                             first_seen, last_seen, count, first_event_id, created_at, updated_at)
         VALUES ($1, $2, 'fp', 'An alert', 'high', 4, 'open', 'pending', $3, 'events', 'app', 1, 2, 1, $4, 1, 2)`,
        [alertId, t, '["x"]', evs[0]!.id],
      );
      await e.exec("INSERT INTO alert_events (alert_id, event_id) VALUES ($1, $2)", [alertId, evs[0]!.id]);
      const al = await e.store.indicators.alertsWithIndicator(t, "ip", "10.1.1.1", 10);
      expect(al.length).toBe(1);
      expect({ ...al[0]!, tags: JSON.parse(al[0]!.tags) }).toMatchObject({ id: alertId, tenantId: t, title: "An alert", count: 1, firstSeen: 1, lastSeen: 2, tags: ["x"], suppressUntil: null });
      expect(await e.store.indicators.alertsWithIndicator(t, "ip", "10.9.9.9", 10)).toEqual([]);
      expect(await e.store.events.alertsOfEvent(t, evs[0]!.id)).toEqual([{ id: alertId, title: "An alert", status: "open", severity: "high" }]);
      expect(await e.store.events.alertsOfEvent(t, evs[1]!.id)).toEqual([]);
    });

    test("source activity: events per source since a time, and the newest one's time", async () => {
      const e = await make();
      const t = await e.tenant("t");
      // later than every other id of this process (ids are monotonic: an earlier time would not show in the id)
      const base = 1_900_000_000_000 + (kind === "postgres" ? 1_000_000 : 0);
      const evs = [ev(t, { at: base, sourceName: "generic" }), ev(t, { at: base + 5000, sourceName: "events" }), ev(t, { at: base + 10_000, sourceName: "generic" })];
      await e.store.events.storeBatch(batch(t, evs), base);
      const m = await e.store.sourceActivity.sourceActivity(t, ["generic", "events", "sentinel"], base + 1000);
      expect([...m]).toEqual([
        ["generic", { count: 1, lastAt: base + 10_000 }],
        ["events", { count: 1, lastAt: base + 5000 }],
        ["sentinel", { count: 0, lastAt: null }],
      ]);
    });
  });
}

test(`search: both stores answer the same events for a seeded corpus (SEED=${SEED})`, async () => {
  const rand = rng(SEED + 11);
  const words = ["alpha", "beta", "gamma", "delta", "db-01", "db-02", "10.0.0.5", "10.0.0.50", "nightly", "night", "backup", "error", "ok", "über", "日本", "x_y", "a/b"];
  const sentence = (n: number) => Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(" ");
  const envs = [await sqliteEnv(), await pgEnv()];
  const tenants = await Promise.all(envs.map((e) => e.tenant("t")));
  const corpus: NormalizedEvent[] = [];
  for (let i = 0; i < 150; i++) corpus.push(ev("", { title: sentence(3), summary: sentence(2), payloadJson: JSON.stringify({ msg: sentence(6), n: i }) }));
  // the same events (same ids) in both stores
  for (let k = 0; k < envs.length; k++) await envs[k]!.store.events.storeBatch(batch(tenants[k]!, corpus.map((x) => ({ ...x, tenantId: tenants[k]! }))), Date.now());
  while ((await envs[0]!.store.search.indexPending(100_000)).pending);
  const queries = [...words, "nigh", "db", "10.0", "alpha beta", "beta alph", "db-0", "über 日本", "x", "n", "msg", "0 5", "gamma delta backup"];
  for (let i = 0; i < 30; i++) queries.push(sentence(1 + Math.floor(rand() * 2)));
  for (const q of queries) {
    const [a, b] = await Promise.all(envs.map(async (e, k) => (await e.store.events.listEvents(tenants[k]!, { text: q, limit: 1000 })).map((r) => r.id)));
    expect(b, `search "${q}"`).toEqual(a!);
  }
});

test("PostgreSQL: a row inserted without its search words (a copy) gets them from the trigger", async () => {
  const { store, sql } = await makePgStore();
  const t = newId();
  await sql`INSERT INTO tenants (id, name, created_at) VALUES (${t}, 't', 1)`;
  const id = newId();
  await sql`INSERT INTO events (id, tenant_id, received_at, occurred_at, source_name, source, type, module, title, summary, severity, severity_rank, tags, payload, raw_payload)
            VALUES (${id}, ${t}, 1, 1, 'events', 'app', 'a.b', 'm', 'Copied over', 's', 'info', 1, '[]'::jsonb, '{"host":"db-07.example.com"}', '{}')`;
  for (const text of ["copied", "db-07", "example.com", "db-07.example"]) expect((await store.events.listEvents(t, { text, limit: 10 })).map((r) => r.id)).toEqual([id]);
});

describe("PostgreSQL group commit", () => {
  test("one transaction per group; the statements per group do not grow with its events or requests", async () => {
    const c = await sharedCluster();
    const url = await c.createDatabase(`events_stmts_${process.pid}`);
    let statements = 0;
    let sent: string[] = [];
    const { url: clean, options } = pgOptions(url, 4);
    const sql = postgres(clean, {
      ...options,
      debug: (_c: number, q: string) => {
        statements++;
        sent.push(q);
      },
    });
    try {
      await migratePg(sql as any);
      const t = newId();
      await sql`INSERT INTO tenants (id, name, created_at) VALUES (${t}, 't', 1)`;
      let runs = 0;
      const run = async (requests: number, perRequest: number, keyed: boolean, repeat = false) => {
        runs++;
        // a third of the items carry an item id: fresh ones, or (repeat) ones stored by the first run
        const ext = (r: number, i: number) => (i % 3 ? null : repeat ? `x1.0.0` : `x${runs}.${r}.${i}`);
        const group = Array.from({ length: requests }, (_, r) =>
          batch(t, Array.from({ length: perRequest }, (_, i) => ev(t, { externalId: ext(r, i), indicators: [{ type: "ip", value: `10.0.${r}.${i % 250}`, origin: "explicit" }] as any })), keyed ? newId() : null),
        );
        statements = 0;
        sent = [];
        const res = await pgCommitGroup(sql as any, group, Date.now(), []);
        const n = statements;
        expect(res.every((r) => r.ok)).toBe(true);
        // one transaction: one BEGIN and one COMMIT, no savepoint (counted on this client's own
        // statements: transaction ids are cluster-wide, and other databases of the shared cluster
        // take them meanwhile)
        const kinds = sent.map((q) => q.trim().split(/\s+/)[0]!.toLowerCase());
        expect({ begin: kinds.filter((k) => k === "begin").length, commit: kinds.filter((k) => k === "commit").length, savepoint: kinds.filter((k) => k === "savepoint").length }).toEqual({ begin: 1, commit: 1, savepoint: 0 });
        return n;
      };
      const small = await run(1, 1, true);
      expect(await run(1, 500, true)).toBe(small);
      expect(await run(20, 50, true)).toBe(small);
      // BEGIN, idempotency lookup, events, conflicts (none), indicators, idempotency keys, COMMIT
      expect(small).toBeLessThanOrEqual(7);
      // repeats of item ids: one more statement (the lookup of the stored ones), whatever their number
      // (a request whose only item is a repeat inserts no indicators: one statement less)
      expect(await run(1, 1, true, true)).toBe(small);
      expect(await run(10, 100, true, true)).toBe(small + 1);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }, 60_000);

  test("a commit while PostgreSQL is stopped is refused as unavailable; the next one after it is back succeeds", async () => {
    const c = await startCluster();
    try {
      const url = await c.createDatabase("kw_down");
      const { url: clean, options } = pgOptions(url, 4);
      const sql = postgres(clean, { ...options, connect_timeout: 2 });
      await migratePg(sql as any);
      const store = pgStore(sql as any);
      const t = newId();
      await sql`INSERT INTO tenants (id, name, created_at) VALUES (${t}, 't', 1)`;
      const ok = await pgCommitGroup(sql as any, [batch(t, [ev(t)])], Date.now(), []);
      expect(ok[0]!.ok).toBe(true);
      await c.pause();
      const down = await pgCommitGroup(sql as any, [batch(t, [ev(t)]), batch(t, [ev(t)])], Date.now(), []);
      expect(down.map((r) => [r.ok, r.ok ? true : r.unavailable])).toEqual([
        [false, true],
        [false, true],
      ]);
      // a read fails the same recognisable way
      const err = await store.events.countEvents().catch((e) => e);
      expect(isPgUnavailable(err)).toBe(true);
      await c.resume();
      const back = await pgCommitGroup(sql as any, [batch(t, [ev(t)])], Date.now(), []);
      expect(back[0]!.ok).toBe(true);
      expect(await store.events.countEvents(t)).toBe(2);
      await sql.end({ timeout: 5 });
    } finally {
      await c.stop();
    }
  }, 120_000);
});
