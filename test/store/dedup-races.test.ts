// What must hold across replicas (issue 12) at the store level: two pools on one database stand for
// two replicas. Leases of periodic housekeeping, and the scheduler's jobs under them, are written
// once for both stores (forEachStore). The races are PostgreSQL-only, and say so: on SQLite one
// process holds the data directory and every unit is one BEGIN IMMEDIATE transaction, so two units
// never interleave; on PostgreSQL two pools commit concurrently under READ COMMITTED, which is where
// check-then-insert goes wrong. Each race runs ROUNDS times: one Idempotency-Key, one item id, one
// alert fingerprint or one threshold group committed by both pools at the same moment must be
// stored once and answered alike. Last, the LISTEN/NOTIFY wake-up channel (PostgreSQL only).
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import type postgres from "postgres";
import type { NormalizedEvent } from "../../src/core/event";
import { openPg } from "../../src/db/pg-client";
import { migratePg } from "../../src/db/pg-migrate";
import { newId } from "../../src/lib/ids";
import type { IngestBatch } from "../../src/store/events";
import { pgCommitGroup } from "../../src/store/pg/events";
import { forEachStore, sharedCluster } from "./both";

const ROUNDS = 200;

forEachStore((kind, make) => {
  describe(`${kind}: housekeeping leases`, () => {
    test("one holder at a time; none again within the gap after a finished run; a lapsed lease goes to another holder", async () => {
      const s = await make();
      const now = () => Date.now();
      expect(await s.leases.tryLease("job", "a", 60_000, 0, now())).toBe(true);
      expect(await s.leases.tryLease("job", "b", 60_000, 0, now())).toBe(false);
      // the holder itself does not take it twice either
      expect(await s.leases.tryLease("job", "a", 60_000, 0, now())).toBe(false);
      // finished: within the gap nobody runs it again, past it anybody may
      await s.leases.endLease("job", "a", true, now());
      expect(await s.leases.tryLease("job", "b", 60_000, 60_000, now())).toBe(false);
      expect(await s.leases.tryLease("job", "b", 60_000, 0, now())).toBe(true);
      // given up unfinished: at once to another holder, whatever the gap
      await s.leases.endLease("job", "b", false, now());
      await Bun.sleep(5);
      expect(await s.leases.tryLease("job", "c", 50, 0, now())).toBe(true);
      // c "dies" holding it: after the lease lapses, another holder takes over
      expect(await s.leases.tryLease("job", "d", 60_000, 0, now())).toBe(false);
      await Bun.sleep(120);
      expect(await s.leases.tryLease("job", "d", 60_000, 0, now())).toBe(true);
      // c's late release does not end d's lease
      await s.leases.endLease("job", "c", true, now());
      expect(await s.leases.tryLease("job", "e", 60_000, 0, now())).toBe(false);
      // jobs are independent
      expect(await s.leases.tryLease("other", "e", 60_000, 0, now())).toBe(true);
    });
  });
});

forEachStore((kind, make) => {
  describe(`${kind}: housekeeping jobs under a lease (src/scheduler/exclusive.ts)`, () => {
    test("two schedulers firing one job together: one runs it; a finished run is not repeated within the gap; a failed one is taken over at once", async () => {
      const { exclusively } = await import("../../src/scheduler/exclusive");
      const s = await make();
      const terms = { leaseMs: 60_000, minGapMs: 60_000 };
      let runs = 0;
      const body = async () => {
        runs++;
        await Bun.sleep(100);
        return { count: 1, complete: true };
      };
      const [x, y] = await Promise.all([exclusively(s, "prune", "a", terms, Date.now, body), exclusively(s, "prune", "b", terms, Date.now, body)]);
      expect(runs).toBe(1);
      expect([x, y].filter((r) => r !== null)).toEqual([{ count: 1, complete: true }]);
      expect(await exclusively(s, "prune", "b", terms, Date.now, body)).toBeNull();
      expect(runs).toBe(1);
      // a run that throws, or stops unfinished (complete: false), leaves the job to the next tick of anybody
      await expect(exclusively(s, "other", "a", terms, Date.now, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
      expect(await exclusively(s, "other", "b", terms, Date.now, async () => ({ complete: false }))).toEqual({ complete: false });
      expect(await exclusively(s, "other", "c", terms, Date.now, body)).toEqual({ count: 1, complete: true });
      expect(runs).toBe(2);
    });
  });
});

// ---- PostgreSQL: two pools on one database

const closers: (() => Promise<void>)[] = [];
// each test's pools closed after it: the shared cluster's connections are for every test file of this process
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});
afterAll(async () => {
  for (const c of closers.splice(0)) await c();
});

let dbSeq = 0;
/** Two pools on one fresh, migrated database (two replicas), and a tenant. */
async function twoPools(): Promise<{ a: postgres.Sql<{}>; b: postgres.Sql<{}>; tenant: string }> {
  const c = await sharedCluster();
  const url = await c.createDatabase(`replicas_${process.pid}_${++dbSeq}`);
  const a = openPg(url, { pool: 4 }).$client as unknown as postgres.Sql<{}>;
  const b = openPg(url, { pool: 4 }).$client as unknown as postgres.Sql<{}>;
  closers.push(async () => {
    await a.end({ timeout: 5 });
    await b.end({ timeout: 5 });
  });
  await migratePg(a as any);
  const tenant = newId();
  await a`INSERT INTO tenants (id, name, created_at) VALUES (${tenant}, 't', 1)`;
  return { a, b, tenant };
}

let seq = 0;
function ev(tenantId: string, o: Partial<NormalizedEvent> = {}): NormalizedEvent {
  const at = Date.now();
  const payload = JSON.stringify({ n: ++seq });
  return {
    id: newId(at),
    tenantId,
    receivedAt: at,
    occurredAt: at,
    sourceName: "events",
    source: "app",
    type: "app.thing",
    module: "m",
    title: `title ${seq}`,
    summary: "",
    severity: "high",
    severityRaw: null,
    host: null,
    tags: [],
    payloadJson: payload,
    rawJson: payload,
    dedupKey: null,
    externalId: null,
    indicators: [],
    warnings: [],
    resolve: false,
    opensAlert: false,
    ...o,
  };
}

const batch = (tenantId: string, events: NormalizedEvent[], idempotencyKey: string | null = null): IngestBatch => ({ tenantId, route: "/api/v1/events", idempotencyKey, events });

describe("PostgreSQL only (SQLite units never interleave): two pools racing", () => {
  test(`the same new Idempotency-Key committed by both at once, ${ROUNDS} times: stored once, both answer its ids`, async () => {
    const { a, b, tenant } = await twoPools();
    for (let i = 0; i < ROUNDS; i++) {
      const key = `k-${i}`;
      // each side a group of its own: a request of another key beside the raced one
      const [ra, rb] = await Promise.all([
        pgCommitGroup(a, [batch(tenant, [ev(tenant)], `a-${i}`), batch(tenant, [ev(tenant), ev(tenant)], key)], Date.now(), []),
        pgCommitGroup(b, [batch(tenant, [ev(tenant), ev(tenant)], key), batch(tenant, [ev(tenant)], `b-${i}`)], Date.now(), []),
      ]);
      expect(ra.every((r) => r.ok) && rb.every((r) => r.ok)).toBe(true);
      expect(ra[1]!.ok && ra[1]!.ids).toEqual(rb[0]!.ok && rb[0]!.ids);
    }
    const [n] = await a`SELECT count(*)::int AS n FROM events`;
    // per round: the raced key's two events once, plus each side's own request
    expect(n!.n).toBe(ROUNDS * 4);
    const [k] = await a`SELECT count(*)::int AS n FROM idempotency_keys WHERE ids = ''`;
    expect(k!.n).toBe(0);
  }, 60_000);

  test(`the same item id committed by both at once, ${ROUNDS} times: stored once, both answer its id`, async () => {
    const { a, b, tenant } = await twoPools();
    for (let i = 0; i < ROUNDS; i++) {
      const x = `item-${i}`;
      const [ra, rb] = await Promise.all([
        pgCommitGroup(a, [batch(tenant, [ev(tenant, { externalId: x })])], Date.now(), []),
        pgCommitGroup(b, [batch(tenant, [ev(tenant, { externalId: x })])], Date.now(), []),
      ]);
      expect(ra[0]!.ok && rb[0]!.ok).toBe(true);
      expect(ra[0]!.ok && ra[0]!.ids).toEqual(rb[0]!.ok && rb[0]!.ids);
    }
    const [n] = await a`SELECT count(*)::int AS n, count(DISTINCT external_id)::int AS d FROM events`;
    expect(n).toEqual({ n: ROUNDS, d: ROUNDS });
  }, 60_000);

  test(`events of one alert fingerprint committed by both at once, ${ROUNDS} times: one alert per fingerprint`, async () => {
    const { a, b, tenant } = await twoPools();
    for (let i = 0; i < ROUNDS; i++) {
      // an alert source's item (opens an alert); two fingerprints per round, in opposite orders
      const e = (fp: string) => ev(tenant, { opensAlert: true, dedupKey: fp, title: fp });
      const [ra, rb] = await Promise.all([
        pgCommitGroup(a, [batch(tenant, [e(`fp-${i}`), e(`fq-${i}`)])], Date.now()),
        pgCommitGroup(b, [batch(tenant, [e(`fq-${i}`), e(`fp-${i}`)])], Date.now()),
      ]);
      expect([ra[0], rb[0]]).toEqual([expect.objectContaining({ ok: true }), expect.objectContaining({ ok: true })]);
    }
    const rows = await a`SELECT fingerprint, count(*)::int AS n, sum(count)::int AS events FROM alerts GROUP BY fingerprint`;
    expect(rows.length).toBe(ROUNDS * 2);
    // one alert per fingerprint, which both pools' events joined
    expect(rows.filter((r) => r.n !== 1 || r.events !== 2)).toEqual([]);
    const [l] = await a`SELECT count(*)::int AS n FROM alert_events`;
    expect(l!.n).toBe(ROUNDS * 4);
  }, 60_000);

  test(`a threshold rule (2 in 60 s per host) reached by one event on each pool at once, ${ROUNDS} times: one alert per host`, async () => {
    const { a, b, tenant } = await twoPools();
    const { pgStore } = await import("../../src/store/index");
    await pgStore(a).rules.createRule(
      {
        tenantId: tenant,
        name: "thr",
        enabled: true,
        filter: JSON.stringify({ field: "type", op: "eq", value: "login.failed" }),
        threshold: JSON.stringify({ count: 2, window: 60, group_by: ["host"] }),
        action: JSON.stringify({ kind: "alert", title: "brute force", severity: "critical" }),
      },
      Date.now(),
    );
    await Bun.sleep(300); // both pools' rule caches see it (change counter)
    // (the rule row's hit-count update serializes the two units: see src/store/pg/dedup-locks.ts)
    for (let i = 0; i < ROUNDS; i++) {
      const e = () => ev(tenant, { type: "login.failed", host: `h-${i}` });
      const [ra, rb] = await Promise.all([pgCommitGroup(a, [batch(tenant, [e()])], Date.now()), pgCommitGroup(b, [batch(tenant, [e()])], Date.now())]);
      expect([ra[0], rb[0]]).toEqual([expect.objectContaining({ ok: true }), expect.objectContaining({ ok: true })]);
    }
    const rows = await a`SELECT count(*)::int AS n, count(DISTINCT fingerprint)::int AS d, min(count)::int AS lo, max(count)::int AS hi FROM alerts`;
    // every host's two events reached the threshold: one alert each, carrying both
    expect(rows[0]).toEqual({ n: ROUNDS, d: ROUNDS, lo: 2, hi: 2 });
  }, 60_000);

  test("a lapsed housekeeping lease raced by 20 holders on two pools goes to exactly one", async () => {
    const { a, b } = await twoPools();
    const { pgStore } = await import("../../src/store/index");
    const sa = pgStore(a);
    const sb = pgStore(b);
    for (let round = 0; round < 20; round++) {
      const got = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? sa : sb).leases.tryLease(`job-${round}`, `h${i}`, 60_000, 0, 0)));
      expect(got.filter(Boolean).length).toBe(1);
    }
  }, 60_000);
});

describe("PostgreSQL only (LISTEN/NOTIFY has no SQLite twin): the wake-up channel across replicas", () => {
  test("an announce wakes every other listener within 1 s (not the sender itself), coalesced; a stopped listener hears nothing", async () => {
    const { startPgWake } = await import("../../src/store/pg/wake");
    const { a, b } = await twoPools();
    const heard = { a: 0, b: 0, c: 0 };
    const errors: unknown[] = [];
    // three replicas: A and C on one pool, B on the other
    const wa = startPgWake(a, "A", () => void heard.a++, (e) => errors.push(e));
    const wb = startPgWake(b, "B", () => void heard.b++, (e) => errors.push(e));
    const wc = startPgWake(a, "C", () => void heard.c++, (e) => errors.push(e));
    try {
      await Bun.sleep(300); // the LISTENs are in place
      const t0 = performance.now();
      wa.announce();
      while ((heard.b === 0 || heard.c === 0) && performance.now() - t0 < 1000) await Bun.sleep(5);
      await Bun.sleep(100); // (A's own notification, were it heard, would have arrived too)
      expect(heard).toEqual({ a: 0, b: 1, c: 1 });
      // 100 announces at once: one in flight and one behind it, not 100 notifications
      for (let i = 0; i < 100; i++) wb.announce();
      await Bun.sleep(500);
      expect(heard.a).toBeGreaterThanOrEqual(1);
      expect(heard.a).toBeLessThanOrEqual(2);
      expect(heard.c).toBe(1 + heard.a);
      expect(heard.b).toBe(1);
      await wb.stop();
      const before = { ...heard };
      wa.announce();
      await Bun.sleep(500);
      expect(heard).toEqual({ a: before.a, b: before.b, c: before.c + 1 });
      expect(errors).toEqual([]);
    } finally {
      await wa.stop();
      await wb.stop();
      await wc.stop();
    }
  }, 30_000);
});
