// What each replica is doing (issue 12), on one server: SQLite in the first pass (the one process
// is the one replica), PostgreSQL in the second (test/pg/suite.txt). A receiver holds its requests
// open so the deliveries stay leased: GET /v1/replicas shows them under this replica (by kind, with
// the first lease end), /metrics agrees (keepwatch_replica_jobs_leased), the admin overview's
// Replicas table says so; once the receiver answers the replica is idle again, and the counters it
// publishes with its refresh count the events and the attempts. test/pg/replicas-activity.test.ts
// is the same across replicas of the built binary (a kill -9, leases moving to another).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { event, json, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
let receiver: ReturnType<typeof Bun.serve>;
let hold = true;
const held: (() => void)[] = [];
let arrived = 0;
beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
  receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      await req.arrayBuffer();
      arrived++;
      if (hold) await new Promise<void>((r) => held.push(r));
      return new Response(null, { status: 204 });
    },
  });
});
afterAll(async () => {
  hold = false;
  for (const r of held.splice(0)) r();
  await s?.close();
  receiver?.stop(true);
});

async function until<T>(what: string, f: () => Promise<T | false | null | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

const replicas = async () => json(s.admin("GET", "/v1/replicas"));
const series = (text: string, name: string) => text.split("\n").filter((l) => l.startsWith(name + "{"));

test("the replica shows the deliveries it holds (API, /metrics, admin page), then idle once they finish; its counters count the events and attempts", async () => {
  expect((await s.admin("POST", "/v1/webhooks", { url: `http://127.0.0.1:${receiver.port}/hook`, triggers: ["event.received"], timeout: 60 })).status).toBe(201);
  expect((await s.post("/api/v1/events", [event(1), event(2), event(3)])).status).toBe(202);
  await until("3 deliveries held open by the receiver", async () => arrived >= 3);

  const l = await until("the 3 leases in /v1/replicas", async () => {
    const r = await replicas();
    return r.items[0]?.jobs?.[0]?.leased === 3 && r;
  });
  expect(l.items).toHaveLength(1);
  const me = l.items[0];
  expect(me.id).toBe(l.self);
  expect(me.jobs).toEqual([{ queue: "webhooks", kind: "deliver", leased: 3, expired: 0, first_lease_end: expect.any(String) }]);
  expect(Date.parse(me.jobs[0].first_lease_end)).toBeGreaterThan(Date.parse(l.now) + 60_000); // the default lease: 120 s
  expect(l.unattributed).toEqual([]);

  const text = await (await fetch(s.url + "/metrics")).text();
  expect(series(text, "keepwatch_replica_jobs_leased")).toEqual([`keepwatch_replica_jobs_leased{id="${l.self}",queue="webhooks",kind="deliver"} 3`]);
  expect(series(text, "keepwatch_replica_jobs_lease_expired")).toEqual([`keepwatch_replica_jobs_lease_expired{id="${l.self}",queue="webhooks",kind="deliver"} 0`]);

  const login = await fetch(s.url + "/admin/login", {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ key: s.keys.admin }).toString(),
  });
  const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
  const row = async () => {
    const page = await (await fetch(s.url + "/admin", { headers: { cookie } })).text();
    return new RegExp(`<tr data-replica="${l.self}">[\\s\\S]*?</tr>`).exec(page)?.[0] ?? "";
  };
  const busy = await row();
  expect(busy).toContain('<span class="leased" data-kind="deliver">3 deliveries</span>');
  expect(busy).toContain("first lease ends");

  // the receiver answers: the leases end with the settle, and the counters (published every second) catch up
  hold = false;
  for (const r of held.splice(0)) r();
  const idle = await until("the replica idle, its counters published", async () => {
    const r = await replicas();
    const x = r.items[0];
    return x.jobs.length === 0 && x.counters?.delivery_attempts === 3 && r;
  });
  expect(idle.items[0].counters).toEqual({ ingest_requests: 1, events_stored: 3, delivery_attempts: 3 });
  expect(series(await (await fetch(s.url + "/metrics")).text(), "keepwatch_replica_jobs_leased")).toEqual([]);
  const quiet = await row();
  expect(quiet).toContain("idle");
  expect(quiet).toContain("requests 1, events 3, deliveries 3");
}, 60_000);
