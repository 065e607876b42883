// keepwatch systemd-unit for the default and custom data directories (checked by systemd-analyze
// verify where the machine has it), and keepwatch backup's messages: a missing or unwritable target
// directory is named as such, and the summary counts in words ("1 event, 1 tenant").
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BIN, killSpawned, runBinary, startBinary, TEST_STORE, tempDir } from "../helpers";

const dirs: string[] = [];
const fresh = () => {
  const d = tempDir("kw-units-");
  dirs.push(d);
  return d;
};
afterAll(() => {
  killSpawned();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

async function verify(unit: string) {
  const analyze = Bun.which("systemd-analyze");
  if (!analyze) return;
  const dir = fresh();
  await Bun.write(join(dir, "keepwatch.service"), unit);
  const v = Bun.spawn([analyze, "verify", join(dir, "keepwatch.service")], { stdout: "ignore", stderr: "pipe", timeout: 20_000 });
  const [stderr, code] = await Promise.all([new Response(v.stderr).text(), v.exited]);
  expect({ code, stderr, signal: v.signalCode }).toEqual({ code: 0, stderr: "", signal: null });
}

const lines = (unit: string) => unit.split("\n").filter((l) => l && !l.startsWith("#"));

describe("systemd-unit", () => {
  test("no fake Documentation URL", async () => {
    const r = await runBinary(["systemd-unit"]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("example.invalid");
    expect(r.stdout).not.toMatch(/^Documentation=/m);
  });

  test("/var/lib/<name>: a dynamic user and the state directory of that name, the same directory everywhere", async () => {
    for (const [args, dir, name] of [[[], "/var/lib/keepwatch", "keepwatch"], [["--data-dir", "/var/lib/kw-2"], "/var/lib/kw-2", "kw-2"]] as const) {
      const r = await runBinary(["systemd-unit", ...args]);
      const l = lines(r.stdout);
      expect(l).toContain("DynamicUser=yes");
      expect(l).toContain(`StateDirectory=${name}`);
      expect(l).toContain(`WorkingDirectory=${dir}`);
      expect(l).toContain(`ReadWritePaths=${dir}`);
      expect(l).toContain(`ExecStart=${BIN} serve --data-dir ${dir} --port 8080 --host 0.0.0.0`);
      expect(l.some((x) => x.startsWith("ExecStartPre="))).toBe(false);
      await verify(r.stdout);
    }
  });

  test("a custom directory (/srv/keepwatch): a dedicated user that the directory is handed to, no StateDirectory or DynamicUser", async () => {
    const r = await runBinary(["systemd-unit", "--data-dir", "/srv/keepwatch"]);
    expect(r.code).toBe(0);
    const l = lines(r.stdout);
    expect(l.filter((x) => /^(DynamicUser|StateDirectory)/.test(x))).toEqual([]);
    expect(l).toContain("User=keepwatch");
    expect(l).toContain("ExecStartPre=+/usr/bin/install -d -o keepwatch -g keepwatch -m 0750 /srv/keepwatch");
    expect(l).toContain("ReadWritePaths=-/srv/keepwatch");
    expect(l).toContain("WorkingDirectory=-/srv/keepwatch");
    expect(l).toContain(`ExecStart=${BIN} serve --data-dir /srv/keepwatch --port 8080 --host 0.0.0.0`);
    expect(l).toContain("ProtectHome=yes");
    expect(r.stdout).toContain("useradd --system");
    await verify(r.stdout);
  });

  test("a directory under /home stays writable (homes read-only); odd characters are quoted and escaped", async () => {
    const home = await runBinary(["systemd-unit", "--data-dir", "/home/ops/keepwatch"]);
    expect(lines(home.stdout)).toContain("ProtectHome=read-only");
    expect(lines(home.stdout)).toContain("ReadWritePaths=-/home/ops/keepwatch");
    await verify(home.stdout);
    const odd = await runBinary(["systemd-unit", "--data-dir", "/srv/keep watch%1$x"]);
    const l = lines(odd.stdout);
    expect(l).toContain(`ExecStart=${BIN} serve --data-dir "/srv/keep watch%%1$$x" --port 8080 --host 0.0.0.0`);
    expect(l).toContain('ReadWritePaths="-/srv/keep watch%%1$x"');
    await verify(odd.stdout);
  });
});

describe.skipIf(TEST_STORE === "postgres")("backup messages (SQLite: backup copies the SQLite file; on PostgreSQL keepwatch points to pg_dump)", () => {
  test("a missing target directory is named, not \"unable to open database\"; nothing is written", async () => {
    const dir = fresh();
    const s = await startBinary(dir);
    try {
      const missing = join(fresh(), "no", "such", "dir");
      const r = await runBinary(["backup", join(missing, "kw.db"), "--data-dir", dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`the directory ${missing} does not exist`);
      expect(r.stderr).not.toContain("unable to open database");
      const file = join(fresh(), "file");
      await Bun.write(file, "x");
      const notDir = await runBinary(["backup", join(file, "kw.db"), "--data-dir", dir]);
      expect(notDir.code).toBe(1);
      expect(notDir.stderr).toContain("is not a directory");
      if (process.getuid?.() !== 0) {
        const ro = join(fresh(), "ro");
        mkdirSync(ro);
        chmodSync(ro, 0o500);
        const r2 = await runBinary(["backup", join(ro, "kw.db"), "--data-dir", dir]);
        expect(r2.code).toBe(1);
        expect(r2.stderr).toContain("not writable");
      }
    } finally {
      s.proc.kill("SIGTERM");
      await s.proc.exited;
    }
  });

  test("the summary counts in words: 1 tenant, 0 events; 1 event", async () => {
    const dir = fresh();
    const s = await startBinary(dir);
    try {
      const r = await runBinary(["backup", join(fresh(), "a.db"), "--data-dir", dir]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/\(0 events, 1 tenant, \d+ ms\)/);
      const e = await fetch(s.url + "/api/v1/events", { method: "POST", headers: { "content-type": "application/json", "x-api-key": s.ingestKey }, body: JSON.stringify({ type: "t.x", source: "s" }) });
      expect(e.status).toBe(202);
      const r2 = await runBinary(["backup", join(fresh(), "b.db"), "--data-dir", dir]);
      expect(r2.stdout).toMatch(/\(1 event, 1 tenant, \d+ ms\)/);
    } finally {
      s.proc.kill("SIGTERM");
      await s.proc.exited;
    }
  });
});
