// Replicas of the built binary on one throwaway PostgreSQL cluster (issue 12): the registry (each
// replica in /v1/replicas and /metrics, a clean stop marks it stopped, a kill -9 leaves it dead
// after 5 s), heartbeats across restarts (a replica that starts while another is alive resets
// nothing: a deadline that passed while the other ran, frozen, goes down; after the whole cluster
// was down, a deadline that fell in the downtime gets a fresh period and no alert), and per-key
// rate limits that hold for the cluster: a client spreading requests over 3 replicas is admitted
// about the key's limit, not 3 times it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { rmSync } from "node:fs";
import { pgOptions } from "../../src/db/pg-client";
import { killSpawned, startBinary, tempDir, type BinServer } from "../helpers";
import { startCluster, type Cluster } from "./cluster";

let cluster: Cluster;
const dirs: string[] = [];
const procs: BinServer[] = [];
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  for (const p of procs) if (p.proc.exitCode === null) p.proc.kill("SIGKILL");
  killSpawned();
  await cluster?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const sqlFor = (url: string) => {
  const o = pgOptions(url, 2);
  return postgres(o.url, o.options);
};

/** A replica of the database `url` (each with its own empty data directory: nothing of it is used). */
async function replica(url: string, env: Record<string, string> = {}): Promise<BinServer> {
  const dir = tempDir("kw-pg-rep-");
  dirs.push(dir);
  const s = await startBinary(dir, ["--database-url", url], env);
  procs.push(s);
  return s;
}

async function stop(s: BinServer, signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
  s.proc.kill(signal);
  await s.proc.exited;
}

const api = (s: BinServer, key: string, method: string, path: string, body?: unknown) =>
  fetch(s.url + path, { method, headers: { "x-api-key": key, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });

/** Waits (bounded) until `f` holds. */
async function until(what: string, f: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

const metric = async (s: BinServer, line: RegExp) => {
  const text = await (await fetch(s.url + "/metrics")).text();
  return line.exec(text);
};

test("the registry: replicas in /v1/replicas and /metrics; a clean stop is stopped at once, a kill -9 is dead within 5 s", async () => {
  const url = await cluster.createDatabase("registry");
  const a = await replica(url);
  const b = await replica(url);
  const key = a.adminKey;
  const list = async (s: BinServer) => (await (await api(s, key, "GET", "/v1/replicas")).json()) as any;
  const la = await list(a);
  expect(la.alive).toBe(2);
  expect(la.items.map((r: any) => r.state)).toEqual(["alive", "alive"]);
  expect(la.items.map((r: any) => r.listen).sort()).toEqual([a.url, b.url].map((u) => u.replace("http://", "")).sort());
  expect(la.items.find((r: any) => r.id === la.self).listen).toBe(a.url.replace("http://", ""));
  expect((await list(b)).self).not.toBe(la.self);
  // the first start found no replica on record; the second found the first alive
  expect(la.items.map((r: any) => r.down_since === null).sort()).toEqual([false, true]);
  expect((await api(a, "kw_nope_nope", "GET", "/v1/replicas")).status).toBe(401);
  expect((await api(a, a.ingestKey, "GET", "/v1/replicas")).status).toBe(403);
  expect(await metric(a, /^keepwatch_replicas\{state="alive"\} 2$/m)).not.toBeNull();
  expect((await (await fetch(a.url + "/metrics")).text()).match(/^keepwatch_replica_info\{.*\} 1$/gm)).toHaveLength(2);
  expect(await metric(b, /^keepwatch_replica_info\{.*self="true".*\} 1$/m)).not.toBeNull();

  await stop(b);
  expect((await list(a)).items.map((r: any) => r.state).sort()).toEqual(["alive", "stopped"]);
  const c = await replica(url);
  await stop(c, "SIGKILL");
  const killedAt = Date.now();
  expect((await list(a)).items.filter((r: any) => r.state === "alive")).toHaveLength(2); // c still counts for a few seconds
  await until("the killed replica to be dead", async () => (await list(a)).items.filter((r: any) => r.state === "dead").length === 1, 10_000);
  const after = Date.now() - killedAt;
  expect(after).toBeGreaterThan(3_000);
  expect(after).toBeLessThan(8_000);
  expect(await metric(a, /^keepwatch_replicas\{state="dead"\} 1$/m)).not.toBeNull();
  await stop(a);
}, 60_000);

test("heartbeats across restarts: B starting while A is alive resets nothing; after the whole cluster was down, a deadline in the downtime gets a fresh period", async () => {
  const url = await cluster.createDatabase("hb_restarts");
  const a = await replica(url);
  const key = a.adminKey;
  const make = async (name: string, period: number) => (await (await api(a, key, "POST", "/v1/heartbeats", { name, period, grace: 0 })).json()) as any;
  const state = async (s: BinServer, id: string) => ((await (await api(s, key, "GET", `/v1/heartbeats/${id}`)).json()) as any).state as string;
  const flips = async (s: BinServer, id: string) => ((await (await api(s, key, "GET", `/v1/heartbeats/${id}/flips`)).json()) as any).items.map((f: any) => `${f.from}>${f.to}`).reverse();
  const sql = sqlFor(url);
  try {
    // 1. A is alive but frozen (SIGSTOP: its row stays fresh for 5 s, it sweeps nothing); the
    // heartbeat's deadline passes; B starts: A was watching, so B does not reset it: it goes down.
    const h1 = await make("watched", 3);
    expect((await fetch(h1.ping_url.replace(/^http:\/\/[^/]+/, a.url))).status).toBe(200);
    await Bun.sleep(2_500); // A refreshes its row meanwhile
    a.proc.kill("SIGSTOP");
    await Bun.sleep(800); // past the deadline (3 s after the ping), which frozen A does not sweep
    const b = await replica(url);
    const bl = (await (await api(b, key, "GET", "/v1/replicas")).json()) as any;
    expect(bl.items.find((r: any) => r.id === bl.self).down_since).toBeNull(); // B found A alive
    await until("B's sweep to flip it down", async () => (await state(b, h1.id)) === "down", 5_000);
    expect(await flips(b, h1.id)).toEqual(["new>up", "up>down"]);
    a.proc.kill("SIGCONT");
    const downs = await sql`SELECT count(*)::int AS n FROM events WHERE type = 'heartbeat.down'`;
    expect(downs[0]!.n).toBe(1);

    // 2. The whole cluster goes down (clean stops) with a heartbeat due 3 s later; it comes back
    // 2 s after that deadline: the deadline fell in the downtime, so a fresh period, no alert.
    const h2 = await make("unwatched", 3);
    expect((await fetch(h2.ping_url.replace(/^http:\/\/[^/]+/, b.url))).status).toBe(200);
    await stop(a);
    await stop(b);
    await Bun.sleep(5_000);
    const c = await replica(url);
    const log = (await (await api(c, key, "GET", "/v1/replicas")).json()) as any;
    const self = log.items.find((r: any) => r.id === log.self);
    expect(self.down_since).not.toBeNull(); // this start ended a downtime
    await Bun.sleep(1_500); // a few sweeps
    expect(await state(c, h2.id)).toBe("up");
    expect(await flips(c, h2.id)).toEqual(["new>up"]);
    const [hb] = await sql`SELECT due_at FROM heartbeats WHERE id = ${h2.id}`;
    expect(Number(hb!.due_at)).toBeGreaterThan(Date.parse(self.started_at) + 2_000); // a fresh period from the start
    expect((await sql`SELECT count(*)::int AS n FROM events WHERE type = 'heartbeat.down'`)[0]!.n).toBe(1);
    await stop(c);
  } finally {
    await sql.end({ timeout: 5 });
  }
}, 60_000);

test("a key's rate limit holds for a cluster of 3 replicas: a client spreading requests over them is admitted about the limit, not 3x", async () => {
  const url = await cluster.createDatabase("limits");
  const rs = [await replica(url), await replica(url), await replica(url)];
  const admin = rs[0].adminKey;
  const k = (await (await api(rs[0], admin, "POST", "/v1/keys", { name: "limited", scopes: ["ingest"], rate_limit: 20, rate_burst: 20 })).json()) as any;
  expect(typeof k.key).toBe("string");
  // every replica knows there are 3 (refreshed every second)
  for (const r of rs) await until("3 live replicas", async () => !!(await metric(r, /^keepwatch_replicas\{state="alive"\} 3$/m)), 10_000);
  const seconds = 4;
  const statuses = new Map<number, number>();
  let n = 0;
  const end = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (Date.now() < end) {
        const r = rs[n++ % rs.length];
        const res = await fetch(r.url + "/api/v1/events", {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": k.key },
          body: JSON.stringify({ type: "test.limit", source: "t", summary: "x", severity: "info" }),
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  const admitted = statuses.get(202) ?? 0;
  const limit = 20 + 20 * elapsed; // the burst, then the rate
  console.log(`cluster of 3, key at 20/s burst 20, ${elapsed.toFixed(1)} s: ${admitted} admitted of ${n} (the limit: ${limit.toFixed(0)}; 3 replicas each at the full limit: ${(3 * limit).toFixed(0)})`);
  expect([...statuses.keys()].sort()).toEqual([202, 429]);
  expect(admitted).toBeGreaterThan(limit * 0.75);
  expect(admitted).toBeLessThan(limit * 1.25);
  for (const r of rs) await stop(r);
}, 60_000);

test("a refresh that fails (the database stopped for 3 s) crashes nothing: the replica is alive again once the database is back", async () => {
  const url = await cluster.createDatabase("refresh_outage");
  const a = await replica(url);
  await cluster.pause();
  await Bun.sleep(3_000);
  await cluster.resume();
  if (a.proc.exitCode !== null) console.log(a.stdout(), await new Response(a.proc.stderr).text());
  expect(a.proc.exitCode).toBeNull();
  await until("the replica to be seen again", async () => {
    const r = await api(a, a.adminKey, "GET", "/v1/replicas").catch(() => null);
    if (!r || r.status !== 200) return false;
    const l = (await r.json()) as any;
    return l.items.length === 1 && l.items[0].state === "alive" && Date.now() - Date.parse(l.items[0].seen_at) < 3_000;
  });
  expect(a.stdout()).toContain("replica heartbeat failed (will retry)");
  await until("the restored log line", async () => a.stdout().includes("replica heartbeat restored"), 5_000);
  await stop(a);
  expect(a.proc.exitCode).toBe(0);
}, 60_000);
