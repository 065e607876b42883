// Test helpers: a real keepwatch on a fresh SQLite file in a temp directory, listening on a real
// port on 127.0.0.1, and the built binary for the tests that need a separate process.
import "../src/http/production"; // first: Elysia in production mode, as in the binary
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadConfig, type Config } from "../src/config";
import type { Scope } from "../src/core/keys";
import { silentLogger } from "../src/lib/log";
import { buildDepsFor, startServer, type Running } from "../src/server";
import { clonedDatabase } from "./pg/cluster";
import type { NewKey } from "../src/store/keys";
import type { Store } from "../src/store/contract";
import { pgStore, sqliteStore } from "../src/store/index";
import { dbFile, openDatabase } from "../src/db/client";
import { openPg } from "../src/db/pg-client";

/**
 * The store the tests run on: "sqlite" (default) or "postgres" (KEEPWATCH_TEST_STORE=postgres:
 * startTestServer and the binary tests use a throwaway PostgreSQL cluster; see scripts/test.sh).
 */
export const TEST_STORE: "sqlite" | "postgres" = process.env.KEEPWATCH_TEST_STORE === "postgres" ? "postgres" : "sqlite";

export function tempDir(prefix = "kw-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export type TestServer = Running & {
  dir: string;
  tenantId: string;
  keys: Record<"admin" | "ingest" | "read", string>;
  /** makes another key in this server's tenant (or another), through the server's store */
  key(scopes: Scope[], extra?: Partial<NewKey>): Promise<string>;
  post(path: string, body: unknown, opts?: { key?: string | null; headers?: Record<string, string> }): Promise<Response>;
  get(path: string, key?: string | null): Promise<Response>;
  /** a request with the admin key (JSON body when given) */
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  /** another connection to this server's database (another process's view), closed with the server */
  otherStore(): Promise<Store>;
  /**
   * Rows of a raw SQL read (or write) on whichever store the server runs on, for assertions on
   * tables no API shows. Placeholders `?1`, `?2`, ... (PostgreSQL: `$1`, ...); counts come back as numbers.
   */
  sql(text: string, ...args: unknown[]): Promise<Record<string, any>[]>;
  close(): Promise<void>;
};

/** The JSON body of a response (or of a pending one). */
export const json = async (r: Response | Promise<Response>) => (await (await r).json()) as any;

/** A running server on a fresh database with tenant "t1" and an admin, ingest and read key. */
export async function startTestServer(settings: Partial<Config> = {}, clock?: () => number): Promise<TestServer> {
  const dir = tempDir();
  const { config } = loadConfig([], {});
  // KEEPWATCH_TEST_STORE=postgres: a database cloned from a migrated template on the test process's cluster
  // (a test that needs SQLite whatever the pass, e.g. to fill a data directory, passes databaseUrl: "")
  const pgDb = TEST_STORE === "postgres" && settings.databaseUrl !== "" ? await clonedDatabase("srv") : null;
  const cfg: Config = { ...config, port: 0, host: "127.0.0.1", dataDir: dir, rateLimit: 0, ...(pgDb ? { databaseUrl: pgDb.url, dbPool: 4 } : {}), ...settings };
  const deps = await buildDepsFor(cfg, { log: silentLogger, clock });
  // through the store, so that the same helper serves either database
  const t = await deps.store.tenants.createTenant("t1");
  const key = async (scopes: Scope[], extra: Partial<NewKey> = {}) =>
    (await deps.store.keys.createKey({ tenantId: t.id, name: "test", scopes, ...extra })).key;
  const keys = { admin: await key(["admin"]), ingest: await key(["ingest"]), read: await key(["read"]) };
  const running = await startServer(deps);
  const post = (path: string, body: unknown, opts: { key?: string | null; headers?: Record<string, string> } = {}) =>
    fetch(running.url + path, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(opts.key === null ? {} : { "x-api-key": opts.key ?? keys.ingest }),
        ...opts.headers,
      },
      body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
    });
  const get = (path: string, k: string | null = keys.read) =>
    fetch(running.url + path, { headers: k === null ? {} : { authorization: `Bearer ${k}` } });
  const admin = (method: string, path: string, body?: unknown) =>
    fetch(running.url + path, {
      method,
      headers: { "x-api-key": keys.admin, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const others: (() => Promise<void> | void)[] = [];
  /** Another connection to this server's database: what another process (the CLI, another replica) sees and does. */
  const otherStore = async (): Promise<Store> => {
    if (cfg.databaseUrl) {
      const pg = openPg(cfg.databaseUrl, { pool: 2 });
      others.push(() => pg.$client.end({ timeout: 5 }));
      return pgStore(pg.$client);
    }
    const db = openDatabase(dbFile(dir), { busyTimeoutMs: 5000 });
    others.push(() => db.$client.close());
    return sqliteStore(db);
  };
  const sql = async (text: string, ...args: unknown[]): Promise<Record<string, any>[]> => {
    if (!deps.pg) return deps.sqlite!.db.$client.query(text).all(...(args as any[])) as Record<string, any>[];
    const rows = await deps.pg.unsafe(text.replace(/\?(\d+)/g, "$$$1"), args as any[]);
    return [...rows].map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v])));
  };
  const close = async () => {
    await running.stop();
    for (const o of others.splice(0)) await o();
    await pgDb?.drop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { ...running, dir, tenantId: t.id, keys, key, post, get, admin, otherStore, sql, close };
}

const spawned = new Set<import("bun").Subprocess>();

/** Kills every binary a test started and has not stopped (call from afterAll; failures included). */
export function killSpawned(): void {
  for (const p of spawned) if (p.exitCode === null && !p.killed) p.kill("SIGKILL");
  spawned.clear();
}
process.on("exit", killSpawned);

// resolved now: the binary runs with its data directory as the working directory
export const BIN = process.env.KEEPWATCH_BIN ? resolve(process.env.KEEPWATCH_BIN) : join(import.meta.dir, "..", "dist", "keepwatch");

export type BinServer = {
  proc: import("bun").Subprocess<"ignore", "pipe", "pipe">;
  url: string;
  dir: string;
  adminKey: string;
  ingestKey: string;
  stdout: () => string;
};

/** KEEPWATCH_TEST_STORE=postgres: the database of each data directory a binary was started on (a restart finds its data). */
const binaryDatabases = new Map<string, Promise<{ url: string; drop(): Promise<void> }>>();

/** The environment that puts a binary on `dir` on PostgreSQL (empty on SQLite); `create`: a fresh database for a new dir. */
async function binaryDatabaseEnv(dir: string | undefined, create: boolean): Promise<Record<string, string>> {
  if (TEST_STORE !== "postgres" || !dir) return {};
  const key = resolve(dir);
  if (!binaryDatabases.has(key)) {
    if (!create) return {};
    binaryDatabases.set(key, clonedDatabase("bin"));
  }
  return { KEEPWATCH_DATABASE_URL: (await binaryDatabases.get(key)!).url };
}

/**
 * Rows of a raw SQL read of the data a binary on `dir` wrote (stopped or running): its SQLite file,
 * or on PostgreSQL its database. Placeholders `?1`, ...; counts and bigints come back as numbers.
 */
export async function binaryRows(dir: string, text: string, ...args: unknown[]): Promise<Record<string, any>[]> {
  const env = await binaryDatabaseEnv(dir, false);
  if (!env.KEEPWATCH_DATABASE_URL) {
    const { Database } = await import("bun:sqlite");
    const db = new Database(join(dir, "keepwatch.db"), { readonly: true });
    try {
      return db.query(text).all(...(args as any[])) as Record<string, any>[];
    } finally {
      db.close();
    }
  }
  const { openPg } = await import("../src/db/pg-client");
  const sql = openPg(env.KEEPWATCH_DATABASE_URL, { pool: 1 }).$client;
  try {
    const rows = await sql.unsafe(text.replace(/\?(\d+)/g, "$$$1"), args as any[]);
    return [...rows].map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v])));
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Starts the built binary on `dir` and waits until it listens (on PostgreSQL: with a database of its own, see binaryDatabaseEnv). */
export async function startBinary(dir: string, extraArgs: string[] = [], env: Record<string, string> = {}, cwd?: string): Promise<BinServer> {
  const pgEnv = await binaryDatabaseEnv(dir, true);
  const proc = Bun.spawn([BIN, "serve", "--port", "0", "--host", "127.0.0.1", "--data-dir", dir, ...extraArgs], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    cwd: cwd ?? dir,
    env: { PATH: process.env.PATH ?? "", KEEPWATCH_RATE_LIMIT: "0", ...pgEnv, ...env },
  });
  spawned.add(proc);
  let out = "";
  const reader = proc.stdout.getReader();
  const dec = new TextDecoder();
  const deadline = Date.now() + 15_000;
  let url = "";
  while (!url) {
    if (Date.now() > deadline) throw new Error("binary did not start: " + out);
    const r = await Promise.race([reader.read(), Bun.sleep(15_000).then(() => ({ done: true, value: undefined }))]);
    if (r.done) throw new Error("binary exited before listening: " + out + (await new Response(proc.stderr).text()));
    out += dec.decode(r.value);
    const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
    if (m) url = m[1];
  }
  // keep draining stdout so the child never blocks on a full pipe
  (async () => {
    for (;;) {
      const r = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (r.done) break;
      out += dec.decode(r.value);
    }
  })();
  const adminKey = /^admin key: (kw_\S+)$/m.exec(out)?.[1] ?? "";
  const ingestKey = /^ingest key: (kw_\S+)$/m.exec(out)?.[1] ?? "";
  return { proc, url, dir, adminKey, ingestKey, stdout: () => out };
}

/** Runs the built binary to completion. */
export async function runBinary(args: string[], env: Record<string, string> = {}, cwd?: string) {
  // on PostgreSQL, a command on a data directory a started binary serves goes to that server's
  // database; one given by KEEPWATCH_DATA_DIR gets its database at once (created on first use), so
  // that CLI commands run before the first start and the server started on it share one
  const d = args.indexOf("--data-dir");
  const byEnv = d < 0 && env.KEEPWATCH_DATA_DIR !== undefined;
  const pgEnv = await binaryDatabaseEnv(d >= 0 ? args[d + 1] : byEnv ? env.KEEPWATCH_DATA_DIR : cwd, byEnv);
  const proc = Bun.spawn([BIN, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    cwd,
    env: { PATH: process.env.PATH ?? "", ...pgEnv, ...env },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

export const event = (n = 0, extra: Record<string, unknown> = {}) => ({
  type: "check.failed",
  module: "custom",
  source: "nightly-cron",
  summary: `disk ${90 + (n % 10)}%`,
  severity: "warning",
  payload: { host: `backup-${n}`, pct: 90 + (n % 10) },
  ...extra,
});

/** mulberry32: a small seeded generator (numbers in [0, 1)), so a failing walk or fuzz replays from its printed seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The vendor fixtures in test/fixtures/<source>/ and the ingest route each is posted to. */
export const FIXTURE_ROUTES: Record<string, string> = {
  alertmanager: "/v1/ingest/alertmanager",
  grafana: "/v1/ingest/grafana",
  sentinel: "/v1/ingest/sentinel",
  elastic: "/v1/ingest/elastic",
  splunk: "/v1/ingest/splunk",
  "jsonapi-list": "/api/v1/webhooks/jsonapi-list",
};
