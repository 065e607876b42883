// What each replica is doing (issue 12), across replicas of the built binary on one throwaway
// PostgreSQL database. A receiver holds every request open, so the deliveries stay leased:
//  1. replica A alone takes 5 messages; B starts: B's /v1/replicas shows them under A (B idle), its
//     /metrics agrees (keepwatch_replica_jobs_leased{id=A}), its admin overview says so in A's row;
//  2. A is killed with -9: it turns dead and its 5 leases still show as its own until they run out
//     (--job-lease 25 s), then B takes them over (the same webhook-ids arrive again) and they show
//     under B, none under A;
//  3. the receiver answers: B settles them and is idle; its published counters count the attempts.
// (test/ops/replica-activity.test.ts is the one-server form, on both stores.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { clonedDatabase } from "./cluster";
import { seedKeys, startReplica, stopAllReplicas, stopReplica, until, withKey, type Replica } from "./replicas";

const LEASE_S = 25; // long enough for B to start and A to be seen dead (5 s after the kill) before A's leases run out
const N = 5;

let db: { url: string; drop(): Promise<void> };
let receiver: ReturnType<typeof Bun.serve> | null = null;
let hold = true;
const held: (() => void)[] = [];
beforeAll(async () => {
  db = await clonedDatabase("rep_activity");
});
afterAll(async () => {
  hold = false;
  for (const r of held.splice(0)) r();
  receiver?.stop(true);
  await stopAllReplicas();
  await db?.drop();
});

type Leases = { queue: string; kind: string; leased: number; expired: number; first_lease_end: string }[];
type Item = { id: string; state: string; jobs: Leases; housekeeping: unknown[]; counters: Record<string, number> | null };
type List = { now: string; self: string; items: Item[]; unattributed: Leases };

test(`${N} deliveries held open: shown under the replica that holds them (API, /metrics, admin page); after a kill -9 under the dead one until its leases run out, then under the replica that took them over`, async () => {
  const arrivals: string[] = [];
  receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      await req.arrayBuffer().catch(() => null);
      arrivals.push(req.headers.get("webhook-id") ?? "");
      if (hold) await new Promise<void>((r) => held.push(r));
      return new Response(null, { status: 204 });
    },
  });
  const keys = await seedKeys(db.url);
  const opts = { pool: 3, env: { KEEPWATCH_JOB_LEASE: String(LEASE_S) } };
  const a: Replica = await startReplica(db.url, 0, opts);
  const list = async (r: Replica) => (await (await fetch(r.url + "/v1/replicas", { ...withKey(keys.admin), signal: AbortSignal.timeout(10_000) })).json()) as List;
  const mine = (l: List, id: string) => l.items.find((x) => x.id === id)!;

  // 1. A alone takes the 5 messages
  const w = await fetch(a.url + "/v1/webhooks", withKey(keys.admin, { url: `http://127.0.0.1:${receiver.port}/hook`, triggers: ["event.received"], timeout: 60 }));
  expect(w.status).toBe(201);
  const events = Array.from({ length: N }, (_, i) => ({ type: "hook.test", module: "replicas", source: "activity", summary: `m${i}`, severity: "info" }));
  expect((await fetch(a.url + "/api/v1/events", withKey(keys.ingest, events))).status).toBe(202);
  await until(() => arrivals.length >= N, 15_000, `${N} deliveries from A held by the receiver`);
  const claimedAt = Date.now();
  const first = [...arrivals].sort();
  const aId = (await list(a)).self;

  const b = await startReplica(db.url, 1, opts);
  const lb = await list(b);
  const bId = lb.self;
  expect(lb.items.map((x) => x.state)).toEqual(["alive", "alive"]);
  expect(mine(lb, aId).jobs).toEqual([{ queue: "webhooks", kind: "deliver", leased: N, expired: 0, first_lease_end: expect.any(String) }]);
  expect(mine(lb, bId).jobs).toEqual([]);
  expect(lb.unattributed).toEqual([]);
  const metrics = await (await fetch(b.url + "/metrics")).text();
  expect(metrics).toContain(`keepwatch_replica_jobs_leased{id="${aId}",queue="webhooks",kind="deliver"} ${N}\n`);
  expect(metrics).not.toContain(`keepwatch_replica_jobs_leased{id="${bId}"`);
  // the admin overview served by B: A's row says what A is doing
  const login = await fetch(b.url + "/admin/login", {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ key: keys.admin }).toString(),
  });
  const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
  const row = async (id: string) => {
    const page = await (await fetch(b.url + "/admin", { headers: { cookie } })).text();
    return new RegExp(`<tr data-replica="${id}">[\\s\\S]*?</tr>`).exec(page)?.[0] ?? "";
  };
  expect(await row(aId)).toContain(`<span class="leased" data-kind="deliver">${N} deliveries</span>`);
  expect(await row(bId)).toContain("idle");

  // 2. A killed: dead, its leases still its own until they run out; then B's. (The time left on
  // A's leases must cover the 5 s until A counts as dead: B's start took the rest.)
  expect(Date.now() - claimedAt, "B's start left too little of A's lease to see A dead first").toBeLessThan((LEASE_S - 8) * 1000);
  a.proc.kill("SIGKILL");
  await a.proc.exited;
  const dead = await until(async () => {
    const l = await list(b);
    return mine(l, aId).state === "dead" ? l : null;
  }, 10_000, "A seen dead");
  expect(mine(dead, aId).jobs.reduce((n, j) => n + j.leased, 0)).toBe(N);
  expect(mine(dead, bId).jobs).toEqual([]);
  expect(await row(aId)).toContain(`${N} deliveries`);
  const taken = await until(async () => {
    const l = await list(b);
    return mine(l, bId).jobs[0]?.leased === N ? l : null;
  }, LEASE_S * 1000 + 10_000, "B to take A's deliveries over once their leases ran out");
  expect(mine(taken, aId).jobs).toEqual([]);
  expect(mine(taken, bId).jobs).toEqual([{ queue: "webhooks", kind: "deliver", leased: N, expired: 0, first_lease_end: expect.any(String) }]);
  await until(() => arrivals.length >= 2 * N, 10_000, "the second attempts at the receiver");
  expect(arrivals.slice(N).sort()).toEqual(first); // the same messages (webhook-ids) again, each once
  expect((await (await fetch(b.url + "/metrics")).text())).toContain(`keepwatch_replica_jobs_leased{id="${bId}",queue="webhooks",kind="deliver"} ${N}\n`);

  // 3. the receiver answers: B settles them, idle again; its counters count the attempts
  hold = false;
  for (const r of held.splice(0)) r();
  const idle = await until(async () => {
    const l = await list(b);
    const me = mine(l, bId);
    return me.jobs.length === 0 && (me.counters?.delivery_attempts ?? 0) >= N ? l : null;
  }, 15_000, "B idle with its attempts counted");
  expect(idle.unattributed).toEqual([]);
  expect(mine(idle, bId).counters).toMatchObject({ ingest_requests: 0, events_stored: 0, delivery_attempts: N });
  expect(await stopReplica(b)).toBe(0);
}, 60_000);
