// The built binary with 128 file descriptors (the set-up): 140 connections sending their
// bodies one byte at a time (keyless API and ingest posts, admin login forms) do not make /healthz
// unreachable. Keyless ones are answered 401 at once and closed after a lingering close (≤ 1 s, at
// most 256 at once: src/http/linger.ts, test/http/linger.test.ts); login forms are cut at
// --anon-body-timeout, and past 32 reading at once turned away (503), so they never hold every
// descriptor the process has.
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { BIN, killSpawned, tempDir } from "../helpers";
import { rawRequest } from "../http/raw";

const dir = tempDir("kw-slow-");
let proc: import("bun").Subprocess<"ignore", "pipe", "pipe"> | null = null;

afterAll(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill("SIGTERM");
    await Promise.race([proc.exited, Bun.sleep(5000)]);
  }
  killSpawned();
  rmSync(dir, { recursive: true, force: true });
});

test("140 slow bodies against the binary limited to 128 descriptors: /healthz keeps answering", async () => {
  // ulimit applies to the exec'd binary only
  proc = Bun.spawn(["sh", "-c", 'ulimit -n 128 && exec "$0" "$@"', BIN, "serve", "--port", "0", "--host", "127.0.0.1", "--data-dir", dir, "--anon-body-timeout", "2000"], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    cwd: dir,
    env: { PATH: process.env.PATH ?? "", KEEPWATCH_RATE_LIMIT: "0" },
  });
  const reader = proc.stdout.getReader();
  let out = "";
  const deadline = Date.now() + 15_000;
  let url = "";
  while (!url && Date.now() < deadline) {
    const r = await Promise.race([reader.read(), Bun.sleep(15_000).then(() => ({ done: true as const, value: undefined }))]);
    if (r.done) break;
    out += new TextDecoder().decode(r.value);
    url = /"url":"(http:\/\/[^"]+)"/.exec(out)?.[1] ?? "";
  }
  expect(url).not.toBe("");
  void (async () => {
    for (;;) {
      const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
      if (r.done) break;
      out += new TextDecoder().decode(r.value);
    }
  })();
  const port = Number(new URL(url).port);
  const limits = await Bun.file(`/proc/${proc.pid}/limits`).text();
  expect(limits).toMatch(/Max open files\s+128\s+128/);

  const slow = (path: string, ct: string) =>
    rawRequest({ port, method: "POST", path, headers: { "content-type": ct, "content-length": "2000" }, body: "k", dribble: 1999, dribbleMs: 300, waitMs: 8000 });
  let stop = false;
  let failures = 0;
  let slowest = 0;
  let polls = 0;
  const poll = (async () => {
    while (!stop) {
      const t0 = performance.now();
      try {
        const r = await fetch(url + "/healthz", { signal: AbortSignal.timeout(3000) });
        if (r.status !== 200) failures++;
        await r.arrayBuffer();
      } catch {
        failures++;
      }
      slowest = Math.max(slowest, performance.now() - t0);
      polls++;
      await Bun.sleep(100);
    }
  })();
  const answers = await Promise.all([
    ...Array.from({ length: 60 }, () => slow("/admin/login", "application/x-www-form-urlencoded")),
    ...Array.from({ length: 40 }, () => slow("/v1/webhooks", "application/json")),
    ...Array.from({ length: 40 }, () => slow("/api/v1/events", "application/json")),
  ]);
  stop = true;
  await poll;

  expect(polls).toBeGreaterThan(10);
  expect(failures).toBe(0);
  expect(slowest).toBeLessThan(2000);
  const login = answers.slice(0, 60);
  const keyless = answers.slice(60);
  for (const a of keyless) {
    expect(a.status).toBe(401);
    expect(a.answeredMs).toBeLessThan(2000);
    expect(a.closedMs).toBeGreaterThan(0);
  }
  for (const a of login) {
    expect([408, 503]).toContain(a.status);
    expect(a.closedMs).toBeGreaterThan(0);
    expect(a.closedMs).toBeLessThan(6000);
  }
  expect(login.filter((a) => a.status === 408).length).toBeGreaterThan(0);
  expect(login.filter((a) => a.status === 408).length).toBeLessThanOrEqual(32);
  // the timeouts are logged with their reason, and nothing at error level
  await Bun.sleep(300);
  expect(out).toContain('"msg":"request body timed out: connection closed"');
  expect(out).toContain('"path":"/admin/login"');
  expect(out).not.toContain('"level":"error"');
});
