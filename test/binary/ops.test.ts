// The operations commands of the built executable: backup while serving, restore, one server per
// data directory, systemd-unit, send, ping, and --help for every command.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BIN, event, killSpawned, runBinary, startBinary, TEST_STORE, tempDir } from "../helpers";

const dirs: string[] = [];
const fresh = () => {
  const d = tempDir("kw-ops-");
  dirs.push(d);
  return d;
};
afterAll(() => {
  killSpawned();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

test.skipIf(TEST_STORE === "postgres")("backup during a write load: opens, passes integrity_check, holds every event acknowledged before it began (SQLite: backup copies the SQLite file; on PostgreSQL keepwatch points to pg_dump)", async () => {
  const dir = fresh();
  const s = await startBinary(dir);
  const acked: string[] = [];
  let stop = false;
  const clients = Array.from({ length: 6 }, async (_, c) => {
    for (let i = 0; !stop; i++) {
      const r = await fetch(s.url + "/api/v1/events", {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": s.ingestKey },
        body: JSON.stringify([event(i, { id: `c${c}-${i}-a` }), event(i, { id: `c${c}-${i}-b` })]),
      });
      if (r.status === 202) acked.push(...((await r.json()) as any).ids);
    }
  });
  await Bun.sleep(400);
  const before = [...acked];
  const file = join(fresh(), "backup.db");
  const b = await runBinary(["backup", file, "--data-dir", dir]);
  stop = true;
  await Promise.all(clients);
  expect(b.code).toBe(0);
  expect(b.stdout).toMatch(/^backup: .* \(\d+ events/);
  expect(before.length).toBeGreaterThan(20);
  const db = new Database(file, { readonly: true });
  expect((db.query("PRAGMA integrity_check").get() as any).integrity_check).toBe("ok");
  const have = new Set((db.query("SELECT id FROM events").all() as { id: string }[]).map((r) => r.id));
  db.close();
  expect(before.filter((id) => !have.has(id))).toEqual([]);
  // a second backup to the same file is refused, nothing overwritten
  const again = await runBinary(["backup", file, "--data-dir", dir]);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/exists/);

  // restore is refused while the server runs
  const refused = await runBinary(["restore", file, "--data-dir", dir]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/another keepwatch is running/);
  // a second server on the same directory is refused too
  const second = await runBinary(["serve", "--port", "0", "--data-dir", dir]);
  expect(second.code).toBe(1);
  expect(second.stderr).toMatch(/another keepwatch is running/);

  s.proc.kill("SIGTERM");
  expect(await s.proc.exited).toBe(0);
  const restored = await runBinary(["restore", file, "--data-dir", dir]);
  expect(restored.code).toBe(0);
  expect(readdirSync(dir).some((f) => f.startsWith("keepwatch.db.before-restore-"))).toBe(true);
  const r2 = await startBinary(dir);
  const n = await fetch(`${r2.url}/v1/events?limit=500`, { headers: { "x-api-key": s.adminKey } });
  expect(n.status).toBe(200);
  r2.proc.kill("SIGTERM");
  expect(await r2.proc.exited).toBe(0);
  const after = new Database(join(dir, "keepwatch.db"), { readonly: true });
  expect((after.query("SELECT count(*) AS n FROM events").get() as any).n).toBe(have.size);
  after.close();
});

test("restore refuses a file that is not a keepwatch database", async () => {
  const dir = fresh();
  const bogus = join(dir, "x.db");
  const d = new Database(bogus);
  d.exec("CREATE TABLE t (x)");
  d.close();
  const r = await runBinary(["restore", bogus, "--data-dir", join(dir, "data")]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/not a keepwatch database/);
  expect(existsSync(join(dir, "data", "keepwatch.db"))).toBe(false);
});

test("systemd-unit prints a hardened unit for this executable", async () => {
  const r = await runBinary(["systemd-unit"]);
  expect(r.code).toBe(0);
  for (const line of ["Restart=on-failure", "RestartPreventExitStatus=2", "ProtectHome=yes", "PrivateTmp=yes", "DynamicUser=yes", "StateDirectory=keepwatch", "NoNewPrivileges=yes", "ProtectSystem=strict", "[Install]"])
    expect(r.stdout).toContain(line);
  expect(r.stdout).toContain(`ExecStart=${BIN} serve --data-dir /var/lib/keepwatch`);
  // systemd's own checker, where the machine has it (the lines above are checked everywhere)
  const analyze = Bun.which("systemd-analyze");
  if (analyze) {
    const dir = fresh();
    await Bun.write(join(dir, "keepwatch.service"), r.stdout);
    // async, so that a checker that hangs (it did once, for 5 s) is ended and reported, not waited on
    const v = Bun.spawn([analyze, "verify", join(dir, "keepwatch.service")], { stdout: "ignore", stderr: "pipe", timeout: 20_000 });
    const [stderr, code] = await Promise.all([new Response(v.stderr).text(), v.exited]);
    expect({ code, stderr, signal: v.signalCode }).toEqual({ code: 0, stderr: "", signal: null });
  }
});

test("every command has --help, exit 0", async () => {
  for (const c of ["serve", "keys", "tenants", "migrate", "backup", "restore", "systemd-unit", "send", "ping"]) {
    const r = await runBinary([c, "--help"]);
    expect({ c, code: r.code }).toEqual({ c, code: 0 });
    expect(r.stdout).toMatch(/usage:\s+keepwatch/);
  }
  const unknown = await runBinary(["frobnicate"]);
  expect(unknown.code).toBe(2);
});

describe("send and ping", () => {
  test("send posts an event with typed payload fields and prints its id", async () => {
    const dir = fresh();
    const s = await startBinary(dir);
    const r = await runBinary(["send", "--type", "backup.completed", "--severity", "info", "--source", "nightly-backup", "host=db-1", "bytes=123456", "ok=true", "note=5 files"], {
      KEEPWATCH_URL: s.url,
      KEEPWATCH_KEY: s.ingestKey,
    });
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    const e = (await (await fetch(`${s.url}/v1/events/${id}`, { headers: { "x-api-key": s.adminKey } })).json()) as any;
    expect(e.type).toBe("backup.completed");
    expect(e.payload).toEqual({ host: "db-1", bytes: 123456, ok: true, note: "5 files" });
    const bad = await runBinary(["send", "--type", "x.y", "--url", s.url, "--key", "kw_000000000000_" + "A".repeat(43)]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/401/);
    const usage = await runBinary(["send", "--url", s.url, "--key", s.ingestKey]);
    expect(usage.code).toBe(2);
    s.proc.kill("SIGTERM");
    await s.proc.exited;
    const down = await runBinary(["send", "--type", "x.y", "--url", s.url, "--key", s.ingestKey]);
    expect(down.code).toBe(3); // not stored for now: a script may retry later
    expect(down.stderr).toMatch(/cannot reach/);
  });

  test("ping retries on 5xx, succeeds on 2xx, gives up at once on 4xx", async () => {
    let calls = 0;
    let mode: "flaky" | "gone" = "flaky";
    const recv = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch() {
        calls++;
        if (mode === "gone") return new Response("no", { status: 404 });
        return new Response("", { status: calls <= 2 ? 503 : 200 });
      },
    });
    try {
      const ok = await runBinary(["ping", `http://127.0.0.1:${recv.port}/ping/abc`, "--retries", "3"]);
      expect(ok.code).toBe(0);
      expect(calls).toBe(3);
      // still failing after the retries: exit 3 (temporary), unlike a 4xx (1)
      calls = -100;
      const flaky = await runBinary(["ping", `http://127.0.0.1:${recv.port}/ping/abc`, "--retries", "1"]);
      expect(flaky.code).toBe(3);
      expect(flaky.stderr).toMatch(/HTTP 503/);
      mode = "gone";
      calls = 0;
      const gone = await runBinary(["ping", `http://127.0.0.1:${recv.port}/ping/abc`, "--retries", "3"]);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toMatch(/HTTP 404/);
      expect(calls).toBe(1);
    } finally {
      recv.stop(true);
    }
  });
});
