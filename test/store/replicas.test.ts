// The replica registry on both stores (src/store/replicas.ts, src/store/pg/replicas.ts): register,
// refresh, clean stop, dead after REPLICA_DEAD_MS, pruning that keeps the newest row; the cluster's
// downtime recorded by the start that ends it (PostgreSQL: only when no other replica is alive, and
// of replicas starting together exactly one records it; SQLite: the one process, the time before
// its start unknown, as always); and the heartbeat sweep that gives a deadline inside a downtime a
// fresh period while one that passed while a replica ran goes late and down as usual.
import { describe, expect, test } from "bun:test";
import type { Store } from "../../src/store/contract";
import { REPLICA_DEAD_MS, REPLICA_PRUNE_MS, type ReplicaInfo } from "../../src/store/replicas";
import { makePgStore, makeSqliteStore } from "./both";

type Raw = (q: string, args?: unknown[]) => Promise<Record<string, any>[]>;
type H = { kind: "sqlite" | "postgres"; store: Store; raw: Raw };

const makers: [string, () => Promise<H>][] = [
  [
    "sqlite",
    async () => {
      const { store, db } = makeSqliteStore();
      return { kind: "sqlite", store, raw: async (q, a = []) => db.$client.query(q.replace(/\$(\d+)/g, "?$1")).all(...(a as any[])) as Record<string, any>[] };
    },
  ],
  [
    "postgres",
    async () => {
      const { store, sql } = await makePgStore();
      return { kind: "postgres", store, raw: async (q, a = []) => (await sql.unsafe(q, a as any[])) as unknown as Record<string, any>[] };
    },
  ],
];

let seq = 0;
const info = (): ReplicaInfo => ({ id: `r-${process.pid}-${++seq}`, host: "h", pid: 1000 + seq, version: "9.9.9", listen: `127.0.0.1:${8000 + seq}` });
const S = 1000;

for (const [kind, make] of makers) {
  describe(`replicas on ${kind}`, () => {
    test("register, refresh, list, clean stop: alive then stopped; the first start records (0, start] as downtime", async () => {
      const h = await make();
      const a = info();
      const t0 = Date.now();
      const r = await h.store.replicas.register(a, t0);
      expect(r.alive).toBe(1);
      expect(r.downtime).toEqual({ from: 0, to: r.startedAt });
      expect(Math.abs(r.startedAt - t0)).toBeLessThan(5 * S); // the database clock on PostgreSQL
      expect(await h.store.replicas.refresh(a, Date.now())).toBe(1);
      const l = await h.store.replicas.listReplicas(Date.now());
      expect(l.replicas).toHaveLength(1);
      expect(l.replicas[0]).toMatchObject({ ...a, state: "alive", stoppedAt: null, downSince: 0 });
      expect(await h.store.replicas.downtimes()).toEqual([{ from: 0, to: r.startedAt }]);
      await h.store.replicas.deregister(a.id, Date.now());
      const after = (await h.store.replicas.listReplicas(Date.now())).replicas[0];
      expect(after.state).toBe("stopped");
      expect(after.stoppedAt).not.toBeNull();
    });

    if (kind === "sqlite")
      test("SQLite: a second start in the same process stops the first row (the data-directory lock: one process) and knows nothing of the time before it", async () => {
        const h = await make();
        const a = info();
        const b = info();
        await h.store.replicas.register(a, Date.now());
        const r = await h.store.replicas.register(b, Date.now() + 10 * S);
        expect(r).toMatchObject({ alive: 1, downtime: { from: 0 } });
        const states = (await h.store.replicas.listReplicas(Date.now() + 10 * S)).replicas.map((x) => [x.id, x.state]);
        expect(states).toEqual([
          [b.id, "alive"],
          [a.id, "stopped"],
        ]);
      });

    if (kind === "postgres") {
      test("PostgreSQL: a start while another is alive records no downtime; after all are dead, the next start records (last seen, start]", async () => {
        const h = await make();
        const a = info();
        const b = info();
        const c = info();
        await h.store.replicas.register(a, 0);
        const rb = await h.store.replicas.register(b, 0);
        expect(rb.downtime).toBeNull();
        expect(rb.alive).toBe(2);
        expect(await h.store.replicas.refresh(a, 0)).toBe(2);
        // both die (kill -9: no clean stop): their rows age past the dead bound
        await h.raw("UPDATE replicas SET seen_at = seen_at - $1", [REPLICA_DEAD_MS + 3 * S]);
        const lastSeen = Number((await h.raw("SELECT max(seen_at) AS m FROM replicas"))[0].m);
        expect((await h.store.replicas.listReplicas(0)).replicas.map((x) => x.state)).toEqual(["dead", "dead"]);
        const rc = await h.store.replicas.register(c, 0);
        expect(rc.downtime).toEqual({ from: lastSeen, to: rc.startedAt });
        expect(rc.alive).toBe(1);
        expect((await h.store.replicas.downtimes())[0]).toEqual({ from: lastSeen, to: rc.startedAt });
        // a dead replica that comes back (its database was unreachable) is alive again, and records nothing
        expect(await h.store.replicas.refresh(a, 0)).toBe(2);
        expect((await h.store.replicas.downtimes()).length).toBe(2);
      });

      test("PostgreSQL: of 6 replicas starting together after the cluster was down, exactly one records the downtime", async () => {
        const h = await make();
        const old = info();
        await h.store.replicas.register(old, 0);
        await h.store.replicas.deregister(old.id, 0); // a clean stop of the last replica
        await h.raw("UPDATE replicas SET seen_at = seen_at - 60000, stopped_at = stopped_at - 60000");
        const rs = await Promise.all(Array.from({ length: 6 }, () => h.store.replicas.register(info(), 0)));
        expect(rs.filter((r) => r.downtime !== null)).toHaveLength(1);
        expect(Math.max(...rs.map((r) => r.alive))).toBe(6);
      });

      test("PostgreSQL: pruning deletes rows dead or stopped for a day, never an alive one nor the newest", async () => {
        const h = await make();
        const [a, b, c] = [info(), info(), info()];
        for (const r of [a, b, c]) await h.store.replicas.register(r, 0);
        await h.raw("UPDATE replicas SET seen_at = seen_at - $1 WHERE id IN ($2, $3)", [REPLICA_PRUNE_MS + 10 * S, a.id, b.id]);
        await h.raw("UPDATE replicas SET seen_at = seen_at - $1 WHERE id = $2", [REPLICA_PRUNE_MS + 5 * S, b.id]);
        expect(await h.store.replicas.pruneReplicas(0)).toBe(2);
        expect((await h.store.replicas.listReplicas(0)).replicas.map((x) => x.id)).toEqual([c.id]);
        // the last replica stopped a day ago: its row stays (the cluster's last-seen time)
        await h.raw("UPDATE replicas SET seen_at = seen_at - $1, stopped_at = 1", [REPLICA_PRUNE_MS + 10 * S]);
        expect(await h.store.replicas.pruneReplicas(0)).toBe(0);
        expect((await h.store.replicas.listReplicas(0)).replicas).toHaveLength(1);
      });
    }

    test("what each replica is doing: leased jobs by owner, queue and kind (set by the claim, cleared by the settle, moved by a takeover), housekeeping leases held now, counters published with the refresh", async () => {
      const h = await make();
      const s = h.store;
      const [a, b] = [info(), info()];
      await s.replicas.register(a, Date.now());
      expect((await s.replicas.listReplicas(Date.now())).replicas[0]!.stats).toBeNull();
      await s.replicas.refresh(a, Date.now(), { ingestRequests: 7, eventsStored: 12, deliveryAttempts: 3 });
      await s.replicas.refresh(a, Date.now()); // a refresh without counters keeps the last ones
      expect((await s.replicas.listReplicas(Date.now())).replicas[0]!.stats).toEqual({ ingestRequests: 7, eventsStored: 12, deliveryAttempts: 3 });

      const lane = `w${seq}`;
      await s.queue.syncLane(lane, { queue: "webhooks", rate: 100, ordered: false });
      await s.queue.enqueue([1, 2, 3].map((n) => ({ queue: "webhooks", kind: "deliver", payload: { n }, lane })));
      await s.queue.enqueue([1, 2].map((n) => ({ queue: "enrichment", kind: "enrich", payload: { n } })));
      await s.queue.enqueue([{ queue: "other", kind: "x", payload: null }]); // a queue not asked about
      const claim = (owner: string | null, limit: number, leaseMs: number) => ({ limit, leaseMs, token: `t-${owner}-${Math.random()}`, laneMaxInflight: 32, owner });
      const held = await s.queue.claim("webhooks", claim(a.id, 2, 60_000));
      expect(held).toHaveLength(2);
      expect(held.map((j) => j.lease_owner)).toEqual([a.id, a.id]);
      await s.queue.claim("enrichment", claim(b.id, 2, 1)); // B's leases run out at once (B died)
      await s.queue.claim("webhooks", claim(null, 1, 60_000)); // a claim naming no replica (an older keepwatch)
      await s.queue.claim("other", claim(a.id, 1, 60_000));
      await Bun.sleep(20);
      const groups = async () =>
        (await s.replicas.replicaWork(["webhooks", "enrichment"], Date.now())).jobs
          .map((j) => `${j.owner === a.id ? "A" : j.owner === b.id ? "B" : j.owner}:${j.queue}/${j.kind}:${j.count}:${j.expired}`)
          .sort();
      expect(await groups()).toEqual(["A:webhooks/deliver:2:0", "B:enrichment/enrich:2:2", "null:webhooks/deliver:1:0"]);
      const w = await s.replicas.replicaWork(["webhooks"], Date.now());
      const mine = w.jobs.find((j) => j.owner === a.id)!;
      expect(mine.firstLeaseEnd - w.now).toBeGreaterThan(50_000);
      expect(mine.firstLeaseEnd - w.now).toBeLessThanOrEqual(60_000);

      // a settle clears the owner with the token; a takeover of B's lapsed leases moves them to A
      const [done] = held;
      expect((await s.queue.settle([{ id: done!.id, token: done!.lease_token!, lane, action: "finish", state: "succeeded" }])).held).toEqual([true]);
      expect((await s.queue.get(done!.id))!.lease_owner).toBeNull();
      expect((await s.queue.claim("enrichment", claim(a.id, 5, 60_000))).map((j) => j.lease_owner)).toEqual([a.id, a.id]);
      expect(await groups()).toEqual(["A:enrichment/enrich:2:0", "A:webhooks/deliver:1:0", "null:webhooks/deliver:1:0"]);
      const [retried] = await h.raw("SELECT id, lease_token FROM jobs WHERE queue = 'enrichment' ORDER BY id LIMIT 1");
      await s.queue.settle([{ id: Number(retried!.id), token: retried!.lease_token, action: "retry", delayMs: 60_000, error: "x" }]);
      expect((await s.queue.get(Number(retried!.id)))!).toMatchObject({ state: "available", lease_owner: null });
      // an ordered lane's retry (settled alone on PostgreSQL, not in a batch) and a snooze clear it too
      const ordered = `o${seq}`;
      await s.queue.syncLane(ordered, { queue: "webhooks", rate: 100, ordered: true });
      const [o1] = await s.queue.enqueue([{ queue: "webhooks", kind: "deliver", payload: {}, lane: ordered }]);
      let [oj] = (await s.queue.claim("webhooks", claim(a.id, 10, 60_000))).filter((j) => j.id === o1!.id);
      expect(oj!.lease_owner).toBe(a.id);
      await s.queue.settle([{ id: oj!.id, token: oj!.lease_token!, lane: ordered, action: "retry", delayMs: 0, error: "x" }]);
      expect((await s.queue.get(oj!.id))!).toMatchObject({ state: "available", lease_owner: null });
      await Bun.sleep(5);
      [oj] = (await s.queue.claim("webhooks", claim(b.id, 10, 60_000))).filter((j) => j.id === o1!.id);
      expect(oj!.lease_owner).toBe(b.id);
      await s.queue.settle([{ id: oj!.id, token: oj!.lease_token!, lane: ordered, action: "snooze", delayMs: 60_000 }]);
      expect((await s.queue.get(oj!.id))!).toMatchObject({ state: "available", lease_owner: null });

      // housekeeping: the lease held now, under its holder; gone once given up
      expect(await s.leases.tryLease("retention.prune", a.id, 60_000, 0, Date.now())).toBe(true);
      expect((await s.replicas.replicaWork([], Date.now())).housekeeping.map((x) => [x.name, x.holder])).toEqual([["retention.prune", a.id]]);
      await s.leases.endLease("retention.prune", a.id, true, Date.now());
      expect((await s.replicas.replicaWork([], Date.now())).housekeeping).toEqual([]);
    });

    test("a deadline inside a downtime gets a fresh period (no flip, no alert); one that passed before it (a replica ran) goes down, dated at its deadline", async () => {
      const h = await make();
      const s = h.store;
      const t = `t${process.pid}x${++seq}`;
      await h.raw("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)", [t, t, 1]);
      const base = { tenantId: t, scheduleKind: "period", cron: null, tz: null, maxRuntimeS: null, severity: "high", filter: null };
      const inGap = await s.heartbeats.createHeartbeat({ ...base, name: "in-gap", periodS: 60, graceS: 0 }, Date.now());
      const before = await s.heartbeats.createHeartbeat({ ...base, name: "before", periodS: 60, graceS: 0 }, Date.now());
      for (const x of [inGap, before]) await s.heartbeatTransitions.ping(x.id, { kind: "success" }, Date.now());
      // both deadlines passed: `before` 30 s ago (a replica ran then), `in-gap` 10 s ago (nobody ran)
      const now = h.kind === "postgres" ? Number((await h.raw("SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS n"))[0].n) : Date.now();
      await h.raw("UPDATE heartbeats SET due_at = $1, down_at = $1, next_deadline = $1 WHERE id = $2", [now - 30 * S, before.id]);
      await h.raw("UPDATE heartbeats SET due_at = $1, down_at = $1, next_deadline = $1 WHERE id = $2", [now - 10 * S, inGap.id]);
      const gaps = [{ from: now - 20 * S, to: now - 1 * S }];
      expect((await s.heartbeatTransitions.sweepOverdue("deadline", Date.now(), 10, gaps)).moved).toBe(2);
      const a = (await s.heartbeats.getHeartbeat(t, inGap.id))!;
      expect(a.state).toBe("up");
      expect(a.dueAt!).toBeGreaterThan(now + 50 * S); // a fresh period from the sweep
      expect((await s.heartbeats.getHeartbeat(t, before.id))!.state).toBe("down");
      expect((await s.heartbeats.listFlips(before.id)).map((f) => `${f.fromState}>${f.toState}`)).toEqual(["up>down", "new>up"]);
      expect((await s.heartbeats.listFlips(before.id))[0].at).toBe(now - 30 * S); // dated at its deadline
      expect((await s.heartbeats.listFlips(inGap.id)).map((f) => `${f.fromState}>${f.toState}`)).toEqual(["new>up"]);
      const alerts = await s.alerts.listAlerts(t, { limit: 10 });
      expect(alerts.map((x) => x.source)).toEqual(["before"]);
    });
  });
}
