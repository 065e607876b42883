// The built executable (dist/keepwatch): first start, restart, other directories, SIGTERM,
// bad settings, and bad input that must never take it down.
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { BIN, binaryRows, event, killSpawned, runBinary, startBinary, tempDir, type BinServer } from "../helpers";

const dirs: string[] = [];
const fresh = () => {
  const d = tempDir("kw-bin-");
  dirs.push(d);
  return d;
};
afterAll(() => {
  killSpawned();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const post = (s: BinServer, body: string | Uint8Array, headers: Record<string, string> = {}) =>
  fetch(s.url + "/api/v1/events", {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": s.ingestKey, ...headers },
    body,
  });

describe("first start", () => {
  test("prints an admin and an ingest key once, stores only hashes, and serves them", async () => {
    const dir = fresh();
    const s = await startBinary(dir);
    expect(s.adminKey).toMatch(/^kw_[0-9a-f]{12}_/);
    expect(s.ingestKey).toMatch(/^kw_[0-9a-f]{12}_/);
    const r = await post(s, JSON.stringify(event(1)));
    expect(r.status).toBe(202);
    const id = ((await r.json()) as any).ids[0];
    const got = await fetch(`${s.url}/v1/events?source=nightly-cron`, { headers: { authorization: `Bearer ${s.adminKey}` } });
    expect(((await got.json()) as any).items[0].id).toBe(id);
    s.proc.kill("SIGTERM");
    expect(await s.proc.exited).toBe(0);

    // the store of the pass: the SQLite file, or the binary's PostgreSQL database
    const rows = (await binaryRows(dir, "SELECT hash, prefix FROM api_keys")) as { hash: string; prefix: string }[];
    expect(rows.length).toBe(2);
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(s.adminKey.slice(16));
    expect(dump).not.toContain(s.ingestKey.slice(16));

    // second start: same data, no new keys printed, the old keys still work
    const again = await startBinary(dir);
    expect(again.adminKey).toBe("");
    expect(again.stdout()).not.toContain("key: kw_");
    const r2 = await fetch(`${again.url}/v1/events/${id}`, { headers: { "x-api-key": s.adminKey } });
    expect(r2.status).toBe(200);
    again.proc.kill("SIGTERM");
    expect(await again.proc.exited).toBe(0);
  });

  test("runs from any directory, with no node_modules beside it", async () => {
    const cwd = fresh();
    const r = await runBinary(["version"], {}, cwd);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^keepwatch \d+\.\d+\.\d+/);
    const s = await startBinary(join(cwd, "data"), [], {}, cwd);
    expect((await fetch(s.url + "/readyz")).status).toBe(200);
    s.proc.kill("SIGTERM");
    expect(await s.proc.exited).toBe(0);
  });
});

test("a bad setting stops start-up with one line naming it, exit 2", async () => {
  const r = await runBinary(["serve", "--data-dir", fresh()], { KEEPWATCH_PORT: "not-a-port" });
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toContain("KEEPWATCH_PORT");
  const r2 = await runBinary(["serve", "--durability", "maybe", "--data-dir", fresh()]);
  expect(r2.code).toBe(2);
  expect(r2.stderr).toContain("--durability");
});

test("SIGTERM while clients post: every 202 is on disk and the exit code is 0", async () => {
  const dir = fresh();
  const s = await startBinary(dir);
  const acked: string[] = [];
  let stop = false;
  const clients = Array.from({ length: 8 }, async (_, c) => {
    for (let i = 0; !stop; i++) {
      try {
        const r = await post(s, JSON.stringify(event(i, { id: `c${c}-${i}` })));
        if (r.status === 202) acked.push(...((await r.json()) as any).ids);
      } catch {
        return; // connection refused once the server stopped listening
      }
    }
  });
  // at least 300 ms of posting and more than 10 answers before the signal (at most 10 s: a
  // busy machine, or PostgreSQL's first connections, can take longer than 300 ms for 10)
  await Bun.sleep(300);
  for (const until = Date.now() + 10_000; acked.length <= 10 && Date.now() < until; ) await Bun.sleep(20);
  s.proc.kill("SIGTERM");
  const code = await s.proc.exited;
  stop = true;
  await Promise.all(clients);
  expect(code).toBe(0);
  expect(acked.length).toBeGreaterThan(10);
  const have = new Set(((await binaryRows(dir, "SELECT id FROM events")) as { id: string }[]).map((r) => r.id));
  expect(acked.filter((id) => !have.has(id))).toEqual([]);
});

test("bad input never takes the server down", async () => {
  const s = await startBinary(fresh());
  const cases: { name: string; body: string | Uint8Array; headers?: Record<string, string>; status: number }[] = [
    { name: "truncated JSON", body: '{"type":"x","source":"y","payl', status: 400 },
    { name: "10,000 levels", body: "[".repeat(10_000) + "]".repeat(10_000), status: 400 },
    { name: "invalid UTF-8", body: new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), status: 400 },
    { name: "0-byte body", body: "", status: 400 },
    { name: "a number", body: "12345", status: 422 },
    { name: "a huge string under the limit", body: JSON.stringify({ ...event(), summary: "y".repeat(1_000_000) }), status: 422 },
    { name: "text/plain", body: JSON.stringify(event()), headers: { "content-type": "text/plain" }, status: 415 },
    { name: "no content type", body: JSON.stringify(event()), headers: { "content-type": "" }, status: 415 },
    { name: "over the limit", body: "x".repeat(2 * 1024 * 1024), status: 413 },
    { name: "NUL bytes", body: new Uint8Array([0, 0, 0, 0]), status: 400 },
  ];
  for (const c of cases) {
    const r = await post(s, c.body, c.headers);
    expect({ name: c.name, status: r.status }).toEqual({ name: c.name, status: c.status });
    const body = (await r.json()) as any;
    expect(typeof body.error.message).toBe("string");
    // the next good request still gets its 202
    expect((await post(s, JSON.stringify(event()))).status).toBe(202);
  }
  s.proc.kill("SIGTERM");
  expect(await s.proc.exited).toBe(0);
});

test("the CLI manages tenants and keys against the same database", async () => {
  const dir = fresh();
  const env = { KEEPWATCH_DATA_DIR: dir };
  const t = await runBinary(["tenants", "create", "acme"], env);
  expect(t.code).toBe(0);
  const adminKey = /admin key: (kw_\S+)/.exec(t.stdout)![1];
  const created = await runBinary(["keys", "create", "--tenant", "acme", "--scopes", "ingest", "--name", "ci", "--sources", "events,generic"], env);
  expect(created.code).toBe(0);
  const key = /key: (kw_\S+)/.exec(created.stdout)![1];
  const id = /id: (\S+)/.exec(created.stdout)![1];
  const list = await runBinary(["keys", "list", "--tenant", "acme"], env);
  expect(list.stdout).toContain(id);
  expect(list.stdout).not.toContain(key); // only the prefix is shown
  expect((await runBinary(["tenants", "list"], env)).stdout).toContain("acme");

  const s = await startBinary(dir);
  expect((await post({ ...s, ingestKey: key }, JSON.stringify(event()))).status).toBe(202);
  const rot = await runBinary(["keys", "rotate", id], env);
  expect(rot.code).toBe(0);
  expect(rot.stderr).toMatch(/keeps working for 24 h/);
  const newKey = /key: (kw_\S+)/.exec(rot.stdout)![1];
  expect((await post({ ...s, ingestKey: key }, JSON.stringify(event()))).status).toBe(202); // overlap
  expect((await post({ ...s, ingestKey: newKey }, JSON.stringify(event()))).status).toBe(202);
  expect((await runBinary(["keys", "revoke", id], env)).code).toBe(0);
  // a revoke by another process applies within the documented bound (the change counters are
  // re-read at most every 250 ms; 1 s promised), not necessarily on the very next request
  const revokedBy = Date.now() + 1000;
  let status = 0;
  do status = (await post({ ...s, ingestKey: key }, JSON.stringify(event()))).status;
  while (status !== 401 && Date.now() < revokedBy && (await Bun.sleep(50), true));
  expect(status).toBe(401);
  expect((await runBinary(["keys", "revoke", id], env)).code).toBe(1);
  const bad = await runBinary(["keys", "create", "--tenant", "acme", "--scopes", "root"], env);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('unknown scope "root"');
  // the tenant's admin key reads only its own tenant
  const r = await fetch(s.url + "/v1/events", { headers: { "x-api-key": adminKey } });
  expect(((await r.json()) as any).items.length).toBe(3); // the three 202s above
  s.proc.kill("SIGTERM");
  expect(await s.proc.exited).toBe(0);
});

test("BIN is the built executable", () => {
  expect(BIN.endsWith("keepwatch")).toBe(true);
});
