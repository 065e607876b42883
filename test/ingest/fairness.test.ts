// The group-commit writer shares its capacity between tenants (deficit round robin, src/ingest/fair.ts),
// so one tenant's backlog of big batches never queues ahead of another tenant's single event.
// Asserted by ordering and counts, not time.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { takeGroup, TENANT_QUANTUM } from "../../src/ingest/fair";
import type { WriterItem } from "../../src/ingest/writer-thread";
import { startTestServer, type TestServer } from "../helpers";

const batch = (n: number, tag = "a") => Array.from({ length: n }, (_, i) => ({ type: "load.test", source: tag, summary: `${tag} ${i}` }));
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

describe("takeGroup (pure)", () => {
  const item = (tenant: string, seq: number, items: number): WriterItem => ({
    seq,
    items,
    raw: { tenantId: tenant, route: "/api/v1/events", idempotencyKey: null, source: "events", body: new Uint8Array(0), now: 0 },
  });
  const tenantOf = (w: WriterItem) => w.raw!.tenantId;

  test("a flood of big batches and one single event: the event goes first, then A's batches one a group", () => {
    const q = new Map<string, WriterItem[]>();
    const credit = new Map<string, number>();
    q.set("A", Array.from({ length: 30 }, (_, i) => item("A", i + 1, 1000)));
    q.set("B", [item("B", 31, 1)]);
    expect(takeGroup(q, credit).map((w) => `${tenantOf(w)}${w.seq}`)).toEqual(["B31"]);
    expect(takeGroup(q, credit).map((w) => w.seq)).toEqual([1]);
    expect(takeGroup(q, credit).map((w) => w.seq)).toEqual([2]);
  });

  test("one tenant alone is never held back: small requests go together, a big one as soon as it is the oldest", () => {
    const q = new Map<string, WriterItem[]>([["A", Array.from({ length: 64 }, (_, i) => item("A", i + 1, 1))]]);
    expect(takeGroup(q).length).toBe(64);
    q.set("A", [item("A", 100, 5000), item("A", 101, 1)]);
    expect(takeGroup(q).map((w) => w.seq)).toEqual([100]);
  });

  test("seeded walk: work-conserving, in order, each request once, and a waiting tenant's next request is committed within size/quantum groups", () => {
    const seed = Number(process.env.KEEPWATCH_FUZZ_SEED ?? Date.now() % 1_000_000);
    console.log(`takeGroup walk seed: ${seed}`);
    let x = seed || 1;
    const rnd = (n: number) => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return x % n;
    };
    const q = new Map<string, WriterItem[]>();
    const credit = new Map<string, number>();
    const served: number[] = [];
    const lastSeq = new Map<string, number>();
    /** tenant → [seq of its oldest waiting request, the group in which it became the oldest] */
    const head = new Map<string, [number, number]>();
    let seq = 0;
    let sent = 0;
    for (let group = 0; group < 600 || q.size; group++) {
      // new requests arrive between groups (for the first 600)
      if (group < 600)
        for (let k = rnd(6); k > 0; k--) {
          const t = `T${rnd(5)}`;
          const n = rnd(4) === 0 ? 1 + rnd(3000) : 1 + rnd(50);
          if (!q.has(t)) q.set(t, []);
          q.get(t)!.push(item(t, ++seq, n));
          sent++;
        }
      for (const [t, l] of q) if (head.get(t)?.[0] !== l[0].seq) head.set(t, [l[0].seq, group]);
      const waiting = new Map([...q].map(([t, l]) => [t, l[0]]));
      const g = takeGroup(q, credit);
      expect(g.length > 0 || waiting.size === 0).toBe(true);
      for (const w of g) {
        const t = tenantOf(w);
        expect({ seed, t, inOrder: w.seq > (lastSeq.get(t) ?? 0) }).toEqual({ seed, t, inOrder: true });
        lastSeq.set(t, w.seq);
      }
      const taken = new Set(g.map((w) => w.seq));
      for (const [t, w] of waiting)
        if (!taken.has(w.seq)) {
          const since = head.get(t)![1];
          // still waiting: only while its credit cannot cover it yet
          expect({ seed, t, group, ok: group - since + 1 < Math.ceil((w.items ?? 1) / TENANT_QUANTUM) }).toEqual({ seed, t, group, ok: true });
        }
      served.push(...g.map((w) => w.seq));
    }
    expect(served.length).toBe(sent);
    expect(new Set(served).size).toBe(sent);
  });
});

describe("the writer", () => {
  let s: TestServer;
  let a: { id: string; key: string };
  let b: { id: string; key: string };
  beforeAll(async () => {
    s = await startTestServer();
    const mk = async (name: string) => {
      const t = await s.deps.store.tenants.createTenant(name);
      return { id: t.id, key: (await s.deps.store.keys.createKey({ tenantId: t.id, name, scopes: ["ingest", "read"] })).key };
    };
    a = await mk("flooder");
    b = await mk("quiet");
  });
  afterAll(() => s.close());

  test("30 batches of 1,000 from tenant A handed over before tenant B's single event: B is committed before all of them", async () => {
    const order: string[] = [];
    const raw = (tenantId: string, body: unknown) => ({ tenantId, route: "/api/v1/events", idempotencyKey: null, source: "events", body: enc(body), now: Date.now() });
    const as = Array.from({ length: 30 }, (_, i) => s.deps.writer.submitRaw(raw(a.id, batch(1000, `a${i}`)), 1000).then(() => order.push(`A${i}`)));
    const bp = s.deps.writer.submitRaw(raw(b.id, batch(1, "b")), 1).then(() => order.push("B"));
    await Promise.all([...as, bp]);
    // B's group comes first (without sharing it would come with all 30 of A's)
    expect(order.indexOf("B")).toBe(0);
    // A's batches stay in their order
    expect(order.filter((o) => o !== "B")).toEqual(Array.from({ length: 30 }, (_, i) => `A${i}`));
  }, 60_000);

  test("over HTTP, with tenant A flooding with 1,000-item batches on 12 connections, each of B's events waits for at most a few of A's batches", async () => {
    let stop = false;
    let aDone = 0;
    let aAccepted = 0;
    const flood = async () => {
      while (!stop) {
        const r = await s.post("/api/v1/events", batch(1000), { key: a.key });
        await r.arrayBuffer();
        aDone++;
        if (r.status === 202) aAccepted++;
      }
    };
    const floods = Array.from({ length: 12 }, flood);
    // let A's backlog build up
    while (aDone < 12) await Bun.sleep(5);
    const waits: number[] = [];
    for (let i = 0; i < 25; i++) {
      const before = aDone;
      const r = await s.post("/api/v1/events", batch(1, "b"), { key: b.key });
      expect(r.status).toBe(202);
      waits.push(aDone - before);
    }
    stop = true;
    await Promise.all(floods);
    waits.sort((x, y) => x - y);
    console.log(`A batches answered while each B event waited: ${JSON.stringify(waits)}; A accepted ${aAccepted}`);
    expect(aAccepted).toBeGreaterThan(20);
    // Without sharing, B's event joins the group holding all of A's waiting batches (about 11 of
    // them) and waits for all; with it, B waits at most for the group being committed when it
    // arrives (one of A's batches), its own group holding none of them.
    expect(waits[Math.floor(waits.length / 2)]).toBeLessThanOrEqual(2);
    expect(waits[Math.floor(waits.length * 0.9)]).toBeLessThanOrEqual(3);
  }, 120_000);
});
