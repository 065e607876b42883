// The command line of the built executable: --help for every command (listing every flag), one-line
// usage errors with exit code 2 that change nothing, and the documented exit codes.
import { afterAll, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SETTINGS } from "../../src/config";
import { killSpawned, runBinary, startBinary, TEST_STORE, tempDir } from "../helpers";

const dirs: string[] = [];
const fresh = () => {
  const d = tempDir("kw-cli-");
  dirs.push(d);
  return d;
};
afterAll(() => {
  killSpawned();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const FLAGS: Record<string, string[]> = {
  serve: Object.values(SETTINGS).map((s) => s.flag),
  keys: ["create", "list", "revoke", "rotate", "--tenant", "--name", "--scopes", "--sources", "--rate", "--burst", "--expires", "--data-dir"],
  tenants: ["create", "list", "limits", "--rate", "--events", "--bytes", "--data-dir"],
  migrate: ["--data-dir", "--database-url", "--db-pool"],
  "migrate-to-postgres": ["--data-dir", "--database-url", "--batch"],
  backup: ["FILE", "DIR", "--replace", "--data-dir"],
  restore: ["FILE", "--data-dir"],
  "systemd-unit": ["--data-dir", "--port", "--host"],
  send: ["--type", "--source", "--severity", "--summary", "--module", "--id", "--url", "--key", "key=value", "KEEPWATCH_URL", "KEEPWATCH_KEY"],
  ping: ["URL", "--timeout", "--retries", "--body"],
  version: [],
};

test("every command has --help listing its flags (exit 0, stdout); `help CMD` says the same", async () => {
  for (const [cmd, flags] of Object.entries(FLAGS)) {
    const r = await runBinary([cmd, "--help"]);
    expect({ cmd, code: r.code, stderr: r.stderr }).toEqual({ cmd, code: 0, stderr: "" });
    expect(r.stdout).toMatch(new RegExp(`^usage:\\s+keepwatch ${cmd}`));
    for (const f of flags) expect({ cmd, flag: f, listed: r.stdout.includes(f) }).toEqual({ cmd, flag: f, listed: true });
    const h = await runBinary(["help", cmd]);
    expect(h.stdout).toBe(r.stdout);
  }
  // sub-commands take --help too
  expect((await runBinary(["keys", "create", "--help"])).stdout).toContain("--scopes");
  const top = await runBinary(["--help"]);
  expect(top.code).toBe(0);
  for (const cmd of Object.keys(FLAGS)) expect(top.stdout).toContain(cmd);
  expect(top.stdout).toMatch(/exit codes: 0 done, 1 failed or refused, 2 usage error/);
  const v = await runBinary(["version"]);
  expect(v).toEqual({ code: 0, stdout: expect.stringMatching(/^keepwatch \d+\.\d+\.\d+\n$/), stderr: "" });
}, 60_000);

test("unknown commands and options, missing arguments: one line on stderr, exit 2, nothing created", async () => {
  const dir = join(fresh(), "data");
  const cases: string[][] = [
    ["frobnicate"],
    ["serve", "--bogus"],
    ["--bogus"],
    ["keys"],
    ["keys", "frob"],
    ["keys", "list", "--bogus"],
    ["keys", "create", "--scopes", "admin", "--bogus=1"],
    ["keys", "create", "--scopes", "admin,root"],
    ["keys", "create", "--scopes", "admin", "--expires", "soon"],
    ["keys", "create"],
    ["tenants"],
    ["tenants", "create", "--force"],
    ["tenants", "create", "Bad Name!"],
    ["tenants", "limits"],
    ["tenants", "limits", "default", "--rate", "-1"],
    ["tenants", "limits", "default", "--events", "lots"],
    ["tenants", "limits", "default", "--bytes", "5 parsecs"],
    ["tenants", "limits", "default", "--burst", "5"],
    ["migrate", "--bogus"],
    ["migrate", "extra"],
    ["backup"],
    ["backup", "--bogus"],
    ["backup", join(dir, "b.db"), "--bogus"],
    ["restore"],
    ["systemd-unit", "--bogus"],
    ["send", "--type", "a.b", "--key", "k", "--bogus"],
    ["send", "--key", "k"],
    ["send", "--type", "a.b"],
    ["send", "--type", "a.b", "--key", "k", "not-a-pair"],
    ["ping"],
    ["ping", "--bogus", "http://127.0.0.1:1/ping/x"],
    ["ping", "ftp://example/x"],
    ["ping", "http://127.0.0.1:1/ping/x", "--retries", "-1"],
    ["version", "--bogus"],
    ["help", "nope"],
    ["serve", "--port", "http"],
    ["serve", "--event-retention", "-5"],
  ];
  for (const args of cases) {
    const withDir = ["send", "ping", "version", "help", "frobnicate"].includes(args[0]) ? args : [...args, "--data-dir", dir];
    const r = await runBinary(withDir, { KEEPWATCH_KEY: "", KEEPWATCH_URL: "" });
    const lines = r.stderr.split("\n").filter(Boolean);
    expect({ args, code: r.code, stdout: r.stdout, lines: lines.length }).toEqual({ args, code: 2, stdout: "", lines: 1 });
    expect(lines[0]).toMatch(/^keepwatch: \S/);
  }
  expect(existsSync(join(dir, "keepwatch.db"))).toBe(false);
}, 60_000);

test("send from a shell script against the running binary: 0 and the id, 1 refused, 3 unreachable", async () => {
  const dir = fresh();
  const s = await startBinary(dir);
  const env = { KEEPWATCH_URL: s.url, KEEPWATCH_KEY: s.ingestKey };
  const ok = await runBinary(["send", "--type", "backup.completed", "--severity", "info", "--summary", "nightly backup done", "host=db-1", "files=12"], env);
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}\n$/);
  const e = (await (await fetch(`${s.url}/v1/events/${ok.stdout.trim()}`, { headers: { "x-api-key": s.adminKey } })).json()) as any;
  expect(e).toMatchObject({ type: "backup.completed", severity: "info", summary: "nightly backup done", payload: { host: "db-1", files: 12 } });
  // an empty --type is a usage error; a key the server does not know is a refusal (1) with its reason
  const bad = await runBinary(["send", "--type", "", "x=1"], env);
  expect(bad.code).toBe(2);
  const refused = await runBinary(["send", "--type", "backup.completed", "--key", s.adminKey.replace(/.$/, (c) => (c === "A" ? "B" : "A"))], { KEEPWATCH_URL: s.url });
  expect(refused.code).toBe(1);
  expect(refused.stderr.trim().split("\n")).toHaveLength(1);
  expect(refused.stderr).toMatch(/answered 401/);
  s.proc.kill("SIGTERM");
  expect(await s.proc.exited).toBe(0);
  const down = await runBinary(["send", "--type", "backup.completed"], env);
  expect(down.code).toBe(3);
}, 30_000);

test("tenants limits: the operator caps a running server's tenant at once (PostgreSQL: within the caches' 1 s bound); a key made with rate_limit 0 through the API stays under it", async () => {
  const dir = fresh();
  const s = await startBinary(dir);
  const post = (path: string, key: string, body: unknown) =>
    fetch(s.url + path, { method: "POST", headers: { "x-api-key": key, "content-type": "application/json" }, body: JSON.stringify(body) });
  const created = (await (await post("/v1/keys", s.adminKey, { name: "no limit", scopes: ["ingest"], rate_limit: 0 })).json()) as any;
  expect(created.rate_limit).toBe(0);
  const batch = Array.from({ length: 1000 }, (_, i) => ({ type: "load.test", source: "cli", summary: `n${i}` }));
  // the server runs with --rate-limit 0: no cap yet
  for (let i = 0; i < 3; i++) expect((await post("/api/v1/events", created.key, batch)).status).toBe(202);
  // the CLI shows the server defaults as its own settings compute them: give it the server's
  const env = { KEEPWATCH_RATE_LIMIT: "0" };
  // a change another process made reaches the running server's caches: on SQLite at once (the
  // shared change counters), on PostgreSQL within its bound (the counters are re-read every
  // 250 ms; documented: 1 s), so there the test waits out that bound
  const applied = () => (TEST_STORE === "postgres" ? Bun.sleep(1000) : Promise.resolve());
  const set = await runBinary(["tenants", "limits", "default", "--events", "100", "--bytes", "2MiB", "--data-dir", dir], env);
  expect(set.code).toBe(0);
  await applied();
  expect(set.stdout).toContain("events=100/s (own)");
  expect(set.stdout).toContain("bytes=2097152/s (own)");
  expect(set.stdout).toContain("rate=none (server default)");
  const list = await runBinary(["tenants", "list", "--data-dir", dir], env);
  expect(list.stdout).toMatch(/\tdefault\t.*events=100\/s \(own\)/);
  // a fresh bucket holds one full batch (burst = max(--max-items, 5 s of rate)), then 429
  expect((await post("/api/v1/events", created.key, batch)).status).toBe(202);
  const r = await post("/api/v1/events", created.key, batch);
  expect(r.status).toBe(429);
  expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(5);
  expect(((await r.json()) as any).error.message).toContain("this tenant's cap: 100 events/s");
  // back to the server's setting (none here)
  expect((await runBinary(["tenants", "limits", "default", "--events", "default", "--bytes", "default", "--data-dir", dir], env)).code).toBe(0);
  await applied();
  expect((await post("/api/v1/events", created.key, batch)).status).toBe(202);
  const show = await runBinary(["tenants", "limits", "default", "--data-dir", dir], env);
  expect(show.stdout).toBe("tenant: default\nrate=none (server default)\nevents=none (server default)\nbytes=none (server default)\n");
  s.proc.kill("SIGTERM");
  expect(await s.proc.exited).toBe(0);
}, 30_000);

test("`keepwatch help` aligns its columns: every command's and every setting's description starts at one column", async () => {
  const r = await runBinary(["help"]);
  expect(r.code).toBe(0);
  const section = (title: string, until: RegExp) => {
    const lines = r.stdout.split("\n");
    const from = lines.indexOf(title) + 1;
    const to = lines.findIndex((l, i) => i >= from && until.test(l));
    return lines.slice(from, to);
  };
  const commands = section("commands:", /^$/);
  expect(commands.length).toBeGreaterThanOrEqual(10);
  // "  <command words>   <description>": the description starts after a run of 2+ spaces, at one column
  const starts = commands.map((l) => /^ {2}\S.*? {2,}(?=\S)/.exec(l)![0].length);
  expect(new Set(starts).size).toBe(1);
  for (const cmd of Object.keys(FLAGS)) expect(commands.some((l) => l.startsWith(`  ${cmd}`))).toBe(true);
  const settings = section("settings (flag, environment variable):", /^$/);
  expect(settings.length).toBe(Object.keys(SETTINGS).length);
  // three columns: flag, variable, description, each at one column on every line
  const cols = settings.map((l) => {
    const m = /^ {2}(--\S+ VALUE) +(KEEPWATCH_\S+) +(\S)/.exec(l)!;
    return [l.indexOf(m[2]), l.indexOf(m[3], l.indexOf(m[2]) + m[2].length)];
  });
  expect(new Set(cols.map((c) => c[0])).size).toBe(1);
  expect(new Set(cols.map((c) => c[1])).size).toBe(1);
});

test("send refuses a type that is not <system>.<verb> (exit 2, nothing sent) and says which source it used by default", async () => {
  const dir = fresh();
  const s = await startBinary(dir);
  const env = { KEEPWATCH_URL: s.url, KEEPWATCH_KEY: s.ingestKey };
  const count = async () => ((await (await fetch(`${s.url}/v1/events?limit=100`, { headers: { "x-api-key": s.adminKey } })).json()) as any).items.length;
  for (const bad of ["deploy", "Deploy.Failed", "deploy..failed", ".deploy", "deploy.", "deploy failed", "deploy.fail-ed", "deploy.*", "déploi.échec", "deploy.failed\n"]) {
    const r = await runBinary(["send", "--type", bad], env);
    expect({ bad, code: r.code }).toEqual({ bad, code: 2 });
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("<system>.<verb>");
  }
  expect(await count()).toBe(0);
  const dflt = await runBinary(["send", "--type", "backup.completed"], env);
  expect(dflt.code).toBe(0);
  expect(dflt.stdout).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}\n$/); // stdout stays the id alone, for scripts
  expect(dflt.stderr).toBe('keepwatch send: source "keepwatch-cli" (the default; --source NAME names the sender)\n');
  const e = (await (await fetch(`${s.url}/v1/events/${dflt.stdout.trim()}`, { headers: { "x-api-key": s.adminKey } })).json()) as any;
  expect(e.source).toBe("keepwatch-cli");
  const named = await runBinary(["send", "--type", "backup.completed", "--source", "nightly", "n=1"], env);
  expect([named.code, named.stderr]).toEqual([0, ""]);
  for (const good of ["a.b", "backup_job.completed", "k8s.pod.restarted"]) expect({ good, code: (await runBinary(["send", "--type", good, "--source", "x"], env)).code }).toEqual({ good, code: 0 });
  s.proc.kill("SIGTERM");
  expect(await s.proc.exited).toBe(0);
}, 30_000);

test.skipIf(TEST_STORE === "postgres")("backup into a directory writes a date-named file, and a second run the same day a second file; --replace swaps a FILE only once checked (SQLite: backup copies the SQLite file; on PostgreSQL keepwatch points to pg_dump)", async () => {
  const dir = fresh();
  const s = await startBinary(dir);
  expect((await fetch(`${s.url}/api/v1/events`, { method: "POST", headers: { "content-type": "application/json", "x-api-key": s.ingestKey }, body: JSON.stringify({ type: "a.b", source: "x" }) })).status).toBe(202);
  const out = join(fresh(), "backups");
  require("node:fs").mkdirSync(out);
  const day = new Date().toISOString().slice(0, 10);
  const first = await runBinary(["backup", out + "/", "--data-dir", dir]);
  const second = await runBinary(["backup", out, "--data-dir", dir]);
  expect([first.code, first.stderr, second.code, second.stderr]).toEqual([0, "", 0, ""]);
  const files = require("node:fs").readdirSync(out).sort();
  expect(files).toHaveLength(2);
  expect(files[0]).toBe(`keepwatch-${day}.db`);
  expect(files[1]).toMatch(new RegExp(`^keepwatch-${day}T\\d{6}Z\\.db$`));
  expect(first.stdout).toContain(join(out, files[0]));
  // a FILE that exists: refused without --replace (exit 1, untouched), replaced with it
  const file = join(out, files[0]);
  const before = require("node:fs").statSync(file).mtimeMs;
  const refused = await runBinary(["backup", file, "--data-dir", dir]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain("--replace");
  expect(require("node:fs").statSync(file).mtimeMs).toBe(before);
  const replaced = await runBinary(["backup", file, "--replace", "--data-dir", dir]);
  expect([replaced.code, replaced.stderr]).toEqual([0, ""]);
  expect(replaced.stdout).toContain("1 event");
  expect(require("node:fs").readdirSync(out).sort()).toEqual(files); // no temporary file left
  s.proc.kill("SIGTERM");
  expect(await s.proc.exited).toBe(0);
}, 30_000);
