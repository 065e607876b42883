// keepwatch booted in PostgreSQL mode in-process (buildPgDeps + startServer) on a fresh database of
// the test process's cluster: nothing on local disk, the schema applied by the boot, /healthz,
// /readyz (the database checked through the store, 503 when it refuses writes), /metrics (the
// database's size, no SQLite file figures), and stop() closing the pool.
import { afterAll, expect, test } from "bun:test";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config";
import { openPg } from "../../src/db/pg-client";
import { isStoreUnavailable as pgUnavailable } from "../../src/store/errors";
import { silentLogger } from "../../src/lib/log";
import { buildDepsFor, startServer } from "../../src/server";
import { tempDir } from "../helpers";
import { createApp } from "../../src/app";
import { unportedDomains } from "../../src/store/index";
import { clonedDatabase, sharedCluster } from "./cluster";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

// Every domain has its PostgreSQL twin: the whole server starts (workers, heartbeat scheduler, cron).
// Until then (the port under way) the HTTP app alone is served on the PostgreSQL deps, which is what
// /healthz, /readyz and /metrics need; stop() then closes what startServer's stop closes on PostgreSQL.
const whole = unportedDomains().length === 0;

async function boot(url: string) {
  const dir = tempDir("kw-pgserve-");
  dirs.push(dir);
  const dataDir = join(dir, "data");
  const { config } = loadConfig([], {});
  const deps = await buildDepsFor({ ...config, port: 0, host: "127.0.0.1", dataDir, databaseUrl: url, dbPool: 3 }, { log: silentLogger });
  if (whole) return { deps, dataDir, running: await startServer(deps) };
  const app = createApp(deps, { draining: false });
  app.listen({ port: 0, hostname: "127.0.0.1" });
  const server = app.server!;
  const running = {
    url: `http://127.0.0.1:${server.port}`,
    stop: async () => {
      await server.stop(true);
      await deps.pg!.end({ timeout: 5 });
    },
  };
  return { deps, dataDir, running };
}

test(`boots on an empty database${whole ? "" : " (HTTP app only: some domains are not ported yet)"}: migrates it, keeps nothing on disk; /healthz, /readyz and /metrics answer; stop closes the pool`, async () => {
  const c = await sharedCluster();
  const url = await c.createDatabase(`serve_${process.pid}`);
  const { deps, dataDir, running } = await boot(url);
  try {
    expect(deps.store.kind).toBe("postgres");
    expect(deps.bgStore).toBe(deps.store);
    expect(deps.jobsStore).toBe(deps.store);
    expect(deps.sqlite).toBeUndefined();
    expect(deps.pg).toBeDefined();
    // no SQLite connection, checkpointer or lock anywhere in Deps (they live in deps.sqlite only)
    for (const f of ["db", "bgDb", "jobsDb", "checkpointer", "dataDirLock"]) expect(f in deps).toBe(false);
    // no data directory, no lock, no SQLite file
    expect(existsSync(dataDir)).toBe(false);
    // the boot applied the schema
    const [{ n }] = await deps.pg!`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`;
    expect(n).toBeGreaterThan(0);
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${running.url}/readyz`);
    expect({ status: ready.status, body: await ready.json() }).toEqual({ status: 200, body: { status: "ready" } });
    const m = await fetch(`${running.url}/metrics`);
    expect(m.status).toBe(200);
    const text = await m.text();
    const size = /^keepwatch_database_size_bytes\{file="db"\} (\d+)$/m.exec(text);
    expect(Number(size?.[1])).toBeGreaterThan(1_000_000); // pg_database_size of a migrated database: some MB
    expect(text).not.toMatch(/keepwatch_database_size_bytes\{file="wal"\}/);
    expect(text).toContain("keepwatch_ingest_requests_total");
  } finally {
    await running.stop();
  }
  // the pool is closed: a query on it fails at once
  await expect(deps.pg!`SELECT 1`).rejects.toThrow();
  expect(existsSync(dataDir)).toBe(false);
}, 60_000);

test("/readyz answers 503 while the database refuses writes, and ready again once it takes them", async () => {
  const db = await clonedDatabase("ready");
  const name = new URL(db.url.replace(/^postgres:/, "http:")).pathname.slice(1);
  const { running, deps } = await boot(db.url);
  const admin = openPg((await sharedCluster()).url, { pool: 1 });
  try {
    expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
    // read-only for new sessions, and the pool's sessions ended so that it reconnects into it
    await admin.$client.unsafe(`ALTER DATABASE ${name} SET default_transaction_read_only = on`);
    await admin.$client.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`);
    let r: Response | null = null;
    for (let i = 0; i < 20; i++) {
      r = await fetch(`${running.url}/readyz`);
      if (r.status === 503 && ((await r.clone().json()) as { error?: string }).error?.includes("read-only")) break;
      await Bun.sleep(100);
    }
    expect(r!.status).toBe(503);
    expect(await r!.json()).toEqual({ status: "unavailable", error: "the database is read-only (default_transaction_read_only)" });
    // a write on it is recognised as "unavailable" (the ingest path answers 503 + Retry-After for these)
    const w = await deps.pg!`INSERT INTO config_versions (name, version) VALUES ('readyz-probe', 1)`.catch((e) => e);
    expect(w).toBeInstanceOf(Error);
    expect(pgUnavailable(w)).toBe(true);
    await admin.$client.unsafe(`ALTER DATABASE ${name} RESET default_transaction_read_only`);
    await admin.$client.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`);
    let ok = 0;
    for (let i = 0; i < 20 && ok !== 200; i++) {
      ok = (await fetch(`${running.url}/readyz`)).status;
      if (ok !== 200) await Bun.sleep(100);
    }
    expect(ok).toBe(200);
  } finally {
    await running.stop();
    await admin.$client.end({ timeout: 5 });
    await db.drop();
  }
}, 60_000);

test("pgUnavailable: refused connections and shutdowns are 'unavailable', a bad statement is not", async () => {
  const c = await sharedCluster();
  // a socket directory with no server: connection refused / no such socket
  const dir = tempDir("kw-nopg-");
  dirs.push(dir);
  const gone = openPg(`postgres://keepwatch@localhost/none?host=${encodeURIComponent(dir)}`, { pool: 1 });
  const e1 = await gone.$client`SELECT 1`.catch((e) => e);
  await gone.$client.end({ timeout: 1 });
  expect(pgUnavailable(e1)).toBe(true);
  const ok = openPg(c.url, { pool: 1 });
  const e2 = await ok.$client`SELECT * FROM no_such_table`.catch((e) => e);
  await ok.$client.end({ timeout: 5 });
  expect(e2).toBeInstanceOf(Error);
  expect(pgUnavailable(e2)).toBe(false);
  expect(readdirSync(dir)).toEqual([]);
}, 30_000);
