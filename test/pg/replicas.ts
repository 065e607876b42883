// Several replicas of the BUILT binary (dist/keepwatch or $KEEPWATCH_BIN) on one PostgreSQL database
// (issue 12): each on its own free loopback port with a small pool, a client that spreads requests
// over them, kill -9 and restart of one, and a teardown that stops every process it started (also
// when a test fails: stopAllReplicas() from afterAll, and a process-exit hook).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN } from "../helpers";
import { openPg } from "../../src/db/pg-client";
import { pgStore } from "../../src/store/index";
import type { PgConn } from "../../src/store/contract";

export type Replica = {
  /** index in its group (stable across restarts) */
  index: number;
  proc: import("bun").Subprocess<"ignore", "pipe", "pipe">;
  /** http://127.0.0.1:<port> (a restart listens on a new port: read it again) */
  url: string;
  /** everything the process printed on stdout and stderr so far */
  output: () => string;
};

export type ReplicaOptions = {
  /** connections per replica (--db-pool); small: the machine has 2 cores */
  pool?: number;
  /** extra environment (KEEPWATCH_*) */
  env?: Record<string, string>;
  /** how long a start may take before it counts as failed */
  startTimeoutMs?: number;
};

const live = new Set<import("bun").Subprocess>();
const dirs = new Set<string>();
process.on("exit", () => {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The environment every replica gets: no per-key rate limit, deliveries to 127.0.0.1 allowed, short job leases. */
export const REPLICA_ENV: Record<string, string> = {
  KEEPWATCH_RATE_LIMIT: "0",
  KEEPWATCH_OUTBOUND_ALLOW: "127.0.0.0/8",
  KEEPWATCH_JOB_LEASE: "2",
};

/** Starts one replica of the built binary on `databaseUrl` and waits until it listens. */
export async function startReplica(databaseUrl: string, index = 0, opts: ReplicaOptions = {}): Promise<Replica> {
  const dir = mkdtempSync(join(tmpdir(), "kw-replica-"));
  dirs.add(dir);
  const proc = Bun.spawn(
    [BIN, "serve", "--port", "0", "--host", "127.0.0.1", "--data-dir", dir, "--database-url", databaseUrl, "--db-pool", String(opts.pool ?? 3)],
    {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", ...REPLICA_ENV, ...opts.env },
    },
  );
  live.add(proc);
  let exited = false; // (a process killed by a signal has no exitCode)
  void proc.exited.then(() => (exited = true));
  let out = "";
  const dec = new TextDecoder();
  const drain = async (s: ReadableStream<Uint8Array>) => {
    const reader = s.getReader();
    for (;;) {
      const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
      if (r.done) break;
      out += dec.decode(r.value);
    }
  };
  // both pipes drained for the life of the process, so that it never blocks on a full pipe
  void drain(proc.stdout);
  void drain(proc.stderr);
  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  let url = "";
  while (!url) {
    const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
    if (m) url = m[1]!;
    else if (exited) throw new Error(`replica ${index} exited (${proc.exitCode ?? proc.signalCode}) before listening: ${out}`);
    else if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`replica ${index} did not start within ${opts.startTimeoutMs ?? 30_000} ms: ${out}`);
    }
    else await Bun.sleep(20);
  }
  return { index, proc, url, output: () => out };
}

/** Stops a replica: SIGTERM, and SIGKILL when it has not exited within `graceMs`. Returns its exit code. */
export async function stopReplica(r: Replica, graceMs = 10_000): Promise<number | null> {
  if (r.proc.exitCode === null && r.proc.signalCode === null) {
    r.proc.kill("SIGTERM");
    const done = await Promise.race([r.proc.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
    if (!done) {
      r.proc.kill("SIGKILL");
      await r.proc.exited;
    }
  }
  live.delete(r.proc);
  return r.proc.exitCode;
}

/** Kills every replica started by this test process and not stopped yet (afterAll, failures included). */
export async function stopAllReplicas(): Promise<void> {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  await Promise.all([...live].map((p) => p.exited));
  live.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

export type ReplicaGroup = {
  replicas: Replica[];
  /** the URLs of the replicas that are meant to be up now (a killed one is left out until restarted) */
  urls(): string[];
  /** kill -9 of replica i; its URL leaves the rotation */
  kill(i: number): Promise<void>;
  /** starts replica i again (a new process on a new port) and puts it back in the rotation */
  restart(i: number): Promise<Replica>;
  /** SIGTERM to every replica; the exit codes */
  stop(): Promise<(number | null)[]>;
};

/** Starts `n` replicas on one database, all at once. */
export async function startReplicas(databaseUrl: string, n: number, opts: ReplicaOptions = {}): Promise<ReplicaGroup> {
  const replicas = await Promise.all(Array.from({ length: n }, (_, i) => startReplica(databaseUrl, i, opts)));
  const down = new Set<number>();
  return {
    replicas,
    urls: () => replicas.filter((r) => !down.has(r.index)).map((r) => r.url),
    async kill(i) {
      down.add(i);
      replicas[i]!.proc.kill("SIGKILL");
      await replicas[i]!.proc.exited;
      live.delete(replicas[i]!.proc);
    },
    async restart(i) {
      const r = await startReplica(databaseUrl, i, opts);
      replicas[i] = r;
      down.delete(i);
      return r;
    },
    stop: () => Promise.all(replicas.map((r) => stopReplica(r))),
  };
}

/** postgres.js on `url` for the test's own reads (counts come back as numbers through ::int). */
export function testSql(url: string, pool = 2): PgConn {
  return openPg(url, { pool }).$client as unknown as PgConn;
}

/**
 * The first-start bootstrap done by the test (tenant "default", an admin and an ingest key), so that
 * the replicas can all be started at once and the test knows the keys.
 */
export async function seedKeys(url: string): Promise<{ admin: string; ingest: string; tenantId: string }> {
  const sql = testSql(url, 1);
  try {
    const keys = await pgStore(sql).tenants.bootstrap();
    if (!keys) throw new Error("database already has a tenant");
    const [t] = await sql`SELECT id FROM tenants WHERE name = 'default'`;
    return { ...keys, tenantId: t!.id as string };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * A client that spreads requests over the group round-robin: `send(path, init)` goes to the next
 * replica meant to be up. Each request is bounded by `timeoutMs`; a connection error comes back as
 * status 0 (the caller decides whether to retry, e.g. on another replica with the same Idempotency-Key).
 */
export function spreader(group: ReplicaGroup, timeoutMs = 10_000) {
  let next = 0;
  return {
    /** which replica URL the next request goes to */
    pick(): string {
      const urls = group.urls();
      if (!urls.length) throw new Error("no replica is up");
      return urls[next++ % urls.length]!;
    },
    async send(path: string, init: RequestInit = {}, base?: string): Promise<{ status: number; res: Response | null; url: string; error?: string }> {
      const url = base ?? this.pick();
      try {
        const res = await fetch(url + path, { ...init, signal: AbortSignal.timeout(timeoutMs) });
        return { status: res.status, res, url };
      } catch (e) {
        return { status: 0, res: null, url, error: String(e) };
      }
    },
  };
}

/** JSON request helpers with a key. */
export const withKey = (key: string, body?: unknown, method = body === undefined ? "GET" : "POST"): RequestInit => ({
  method,
  headers: { "x-api-key": key, ...(body === undefined ? {} : { "content-type": "application/json" }) },
  body: body === undefined ? undefined : JSON.stringify(body),
});

/** Polls `f` every `everyMs` until it returns a truthy value, or throws after `timeoutMs`. */
export async function until<T>(f: () => T | Promise<T>, timeoutMs: number, what: string, everyMs = 50): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(everyMs);
  }
}
