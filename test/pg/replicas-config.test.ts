// Issue 12, "Caches": a change made through replica A is applied by replica B within 1 s (each
// replica checks the database's change counters at most every CHECK_MS; no LISTEN/NOTIFY needed).
// Revoke a key on A: B refuses it within 1 s, and from then on. Add a rule on A: events sent to B
// follow it within 1 s. Pause a heartbeat on A: no replica's scheduler takes it down. Deactivate a
// webhook on A: events sent to B 1 s later produce no delivery. Three replicas of the built binary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { clonedDatabase } from "./cluster";
import { seedKeys, spreader, startReplicas, stopAllReplicas, testSql, until, withKey, type ReplicaGroup } from "./replicas";

const BOUND_MS = 1000;

let db: { url: string; drop(): Promise<void> };
let group: ReplicaGroup;
let keys: { admin: string; ingest: string };
let A: string;
let B: string;
let C: string;
let server: import("bun").Server<unknown> | null = null;
beforeAll(async () => {
  db = await clonedDatabase("rep_cfg");
  keys = await seedKeys(db.url);
  group = await startReplicas(db.url, 3, { pool: 3 });
  [A, B, C] = group.replicas.map((r) => r.url) as [string, string, string];
});
afterAll(async () => {
  server?.stop(true);
  await stopAllReplicas();
  await db?.drop();
});

const req = (base: string, path: string, init: RequestInit) => fetch(base + path, { ...init, signal: AbortSignal.timeout(10_000) });
const ev = (type: string, n: number) => ({ type, module: "replicas", source: "cfg", summary: `${type} ${n}`, severity: "info", payload: { n } });

/** Sends `send(i)` every `everyMs` from `from` until `untilMs` later; each send's time and result. */
async function probe<T>(everyMs: number, forMs: number, send: (i: number) => Promise<T>): Promise<{ at: number; r: T }[]> {
  const out: { at: number; r: T }[] = [];
  const end = Date.now() + forMs;
  for (let i = 0; Date.now() < end; i++) {
    const at = Date.now();
    out.push({ at, r: await send(i) });
    await Bun.sleep(everyMs);
  }
  return out;
}

describe("a change through replica A reaches replica B within 1 s", () => {
  test("revoke a key on A: B (and C) refuse it within 1 s, and from then on", async () => {
    const made = await req(A, "/v1/keys", withKey(keys.admin, { name: "doomed", scopes: ["ingest"] }));
    expect(made.status).toBe(201);
    const k = (await made.json()) as any;
    // B and C know the key (and cache it)
    for (const u of [B, C]) for (let i = 0; i < 3; i++) expect((await req(u, "/api/v1/events", withKey(k.key, ev("key.test", i)))).status).toBe(202);
    const revoked = await req(A, `/v1/keys/${k.id}/revoke`, withKey(keys.admin, {}));
    expect(revoked.status).toBe(200);
    const t0 = Date.now();
    const tries = await probe(20, 1500, async (i) => {
      const [b, c] = await Promise.all([B, C].map((u) => req(u, "/api/v1/events", withKey(k.key, ev("key.test", i)))));
      return [b!.status, c!.status];
    });
    const firstRefused = (j: number) => tries.find((t) => t.r[j] === 401);
    const lag = [0, 1].map((j) => (firstRefused(j)?.at ?? Infinity) - t0);
    console.log(`replicas-config: revoked key refused by B after ≤ ${lag[0]} ms, by C after ≤ ${lag[1]} ms`);
    for (const j of [0, 1]) {
      expect(lag[j]!).toBeLessThanOrEqual(BOUND_MS);
      // once refused, refused every time after (no replica flaps back)
      const after = tries.filter((t) => t.at >= firstRefused(j)!.at).map((t) => t.r[j]);
      expect(after.every((s) => s === 401)).toBe(true);
      // before: accepted (the probe saw the old cached state, or it was already refused)
      expect(tries.every((t) => t.r[j] === 202 || t.r[j] === 401)).toBe(true);
    }
  });

  test("add a rule on A: events sent to B follow it within 1 s", async () => {
    const rule = {
      name: "replica rule",
      filter: { field: "type", op: "eq", value: "rule.test" },
      action: { kind: "alert", title: "rule.test {{payload.n}}", severity: "high", fingerprint: ["payload.n"] },
    };
    // B has looked at its rules before (its cache holds "no rule")
    expect((await req(B, "/api/v1/events", withKey(keys.ingest, ev("rule.test", -1)))).status).toBe(202);
    const made = await req(A, "/v1/rules", withKey(keys.admin, rule));
    expect(made.status).toBe(201);
    const ruleId = ((await made.json()) as any).id;
    const t0 = Date.now();
    const sent = await probe(25, 1500, async (i) => {
      const r = await req(B, "/api/v1/events", withKey(keys.ingest, ev("rule.test", i)));
      expect(r.status).toBe(202);
      return ((await r.json()) as any).ids[0] as string;
    });
    const sql = testSql(db.url);
    try {
      const ruled = new Set(
        (await sql`SELECT ae.event_id FROM alert_events ae JOIN alerts a ON a.id = ae.alert_id WHERE a.rule_id = ${ruleId}`).map((r) => r.event_id as string),
      );
      const first = sent.find((s) => ruled.has(s.r));
      console.log(`replicas-config: rule followed by B after ≤ ${first ? first.at - t0 : "never"} ms (${ruled.size} of ${sent.length} probes)`);
      expect(first).toBeDefined();
      expect(first!.at - t0).toBeLessThanOrEqual(BOUND_MS);
      // from then on every event follows it
      expect(sent.filter((s) => s.at >= first!.at && !ruled.has(s.r)).length).toBe(0);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  test("pause a heartbeat on A: no replica takes it down (each sweeps), B and C read it paused", async () => {
    const made = await req(A, "/v1/heartbeats", withKey(keys.admin, { name: "pausable", period: 1, grace: 0 }));
    expect(made.status).toBe(201);
    const h = (await made.json()) as any;
    const token = h.ping_url.split("/ping/")[1];
    expect((await req(B, `/ping/${token}`, {})).status).toBeLessThan(300);
    const paused = await req(A, `/v1/heartbeats/${h.id}/pause`, withKey(keys.admin, {}));
    expect(paused.status).toBe(200);
    // three periods: every replica's scheduler has been due to look at it
    await Bun.sleep(3000);
    for (const u of [B, C]) expect(((await (await req(u, `/v1/heartbeats/${h.id}`, withKey(keys.admin))).json()) as any).state).toBe("paused");
    const sql = testSql(db.url);
    try {
      const flips = await sql`SELECT from_state || '>' || to_state AS f FROM heartbeat_flips WHERE heartbeat_id = ${h.id} ORDER BY id`;
      expect(flips.map((r) => r.f)).toEqual(["new>up", "up>paused"]);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  test("deactivate a webhook on A: events sent to B 1 s later are not delivered to it", async () => {
    const got: string[] = [];
    server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(r) {
        got.push(JSON.parse(await r.text()).data?.summary);
        return new Response("ok");
      },
    });
    const made = await req(A, "/v1/webhooks", withKey(keys.admin, { url: `http://127.0.0.1:${server.port}/x`, triggers: ["event.received"], filters: { sources: ["hook-cfg"] } }));
    expect(made.status).toBe(201);
    const hook = (await made.json()) as any;
    const hev = (n: number) => ({ ...ev("hook.test", n), source: "hook-cfg" });
    // B delivers to it once its cache has it (≤ 1 s)
    await Bun.sleep(BOUND_MS + 200);
    expect((await req(B, "/api/v1/events", withKey(keys.ingest, hev(-1)))).status).toBe(202);
    await until(() => got.includes("hook.test -1"), 10_000, "the first delivery");
    const off = await req(A, `/v1/webhooks/${hook.id}`, withKey(keys.admin, { state: "inactive" }, "PATCH"));
    expect(off.status).toBe(200);
    const t0 = Date.now();
    const sent = await probe(50, 2000, async (i) => (await req(B, "/api/v1/events", withKey(keys.ingest, hev(i)))).status);
    expect(sent.every((s) => s.r === 202)).toBe(true);
    await Bun.sleep(2000); // time for any delivery to arrive
    const late = sent.map((s, i) => ({ ...s, i })).filter((s) => s.at - t0 >= BOUND_MS && got.includes(`hook.test ${s.i}`));
    const delivered = sent.map((s, i) => ({ ...s, i })).filter((s) => got.includes(`hook.test ${s.i}`));
    console.log(`replicas-config: after deactivation on A, ${delivered.length} of ${sent.length} events sent to B were still delivered (the last sent ${delivered.length ? delivered[delivered.length - 1]!.at - t0 : "-"} ms after)`);
    expect(late.map((s) => `event ${s.i} sent ${s.at - t0} ms after`)).toEqual([]);
  });
});
