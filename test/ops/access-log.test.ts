// Request ids and the JSON access log, on a real server with a logger that keeps its lines.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/lib/log";
import { buildDepsFor, startServer, type Running } from "../../src/server";
import { event, TEST_STORE, tempDir } from "../helpers";
import { clonedDatabase } from "../pg/cluster";

const lines: string[] = [];
let running: Running;
let dir: string;
let tenantId: string;
let ingestKey: string;
let adminKey: string;
let pgDb: { url: string; drop(): Promise<void> } | null = null;

beforeAll(async () => {
  dir = tempDir();
  const { config } = loadConfig([], {});
  // its own server (startTestServer's logger is silent), on the store of the pass
  pgDb = TEST_STORE === "postgres" ? await clonedDatabase("log") : null;
  const deps = await buildDepsFor(
    { ...config, port: 0, host: "127.0.0.1", dataDir: dir, rateLimit: 0, ...(pgDb ? { databaseUrl: pgDb.url, dbPool: 4 } : {}) },
    { log: createLogger("info", (l) => lines.push(l)) },
  );
  tenantId = (await deps.store.tenants.createTenant("t1")).id;
  ingestKey = (await deps.store.keys.createKey({ tenantId, name: "i", scopes: ["ingest"] })).key;
  adminKey = (await deps.store.keys.createKey({ tenantId, name: "a", scopes: ["admin"] })).key;
  running = await startServer(deps);
});
afterAll(async () => {
  await running.stop();
  await pgDb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** The access-log line of the request with this id (lines are written after the answer has gone out). */
async function logOf(id: string): Promise<Record<string, any>> {
  for (let i = 0; i < 100; i++) {
    const hit = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "request" && l.request_id === id);
    if (hit) return hit;
    await Bun.sleep(10);
  }
  throw new Error(`no access-log line for ${id}`);
}

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(running.url + path, { method: "POST", headers: { "content-type": "application/json", "x-api-key": ingestKey, ...headers }, body: JSON.stringify(body) });

test("an incoming X-Request-Id is kept: answered in the header, logged with method, route, status, duration and tenant, never the key", async () => {
  const r = await post("/api/v1/events", event(1), { "x-request-id": "deploy-42.abc" });
  expect(r.status).toBe(202);
  expect(r.headers.get("x-request-id")).toBe("deploy-42.abc");
  const l = await logOf("deploy-42.abc");
  expect(l).toMatchObject({ level: "info", msg: "request", method: "POST", route: "/api/v1/events", status: 202, tenant: tenantId });
  expect(typeof l.duration_ms).toBe("number");
  expect(l.duration_ms).toBeGreaterThanOrEqual(0);
  expect(typeof l.time).toBe("string");
  expect(lines.join("\n")).not.toContain(ingestKey);
});

test("without one (or with a strange one) a new id is made, different for every request", async () => {
  const a = await fetch(running.url + "/v1/events", { headers: { "x-api-key": adminKey } });
  const b = await fetch(running.url + "/v1/events", { headers: { "x-api-key": adminKey, "x-request-id": "has spaces\tand\"quotes" } });
  const c = await fetch(running.url + "/v1/events", { headers: { "x-api-key": adminKey, "x-request-id": "x".repeat(200) } });
  const ids = [a, b, c].map((r) => r.headers.get("x-request-id")!);
  for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
  expect(new Set(ids).size).toBe(3);
  expect(await logOf(ids[0])).toMatchObject({ method: "GET", route: "/v1/events", status: 200, tenant: tenantId });
  expect(lines.join("\n")).not.toContain("has spaces");
  expect(lines.join("\n")).not.toContain(adminKey);
});

test("error answers carry the id and are logged with their status; token values in the query are redacted", async () => {
  const bad = await post("/api/v1/events", { type: 5 }, { "x-request-id": "req-422" });
  expect(bad.status).toBe(422);
  expect(bad.headers.get("x-request-id")).toBe("req-422");
  expect(await logOf("req-422")).toMatchObject({ route: "/api/v1/events", status: 422, tenant: tenantId });

  const noKey = await fetch(running.url + "/v1/ingest/generic?token=s3cr3t-T0KEN&x=1", { method: "POST", headers: { "content-type": "application/json", "x-request-id": "req-401" }, body: "{}" });
  expect(noKey.status).toBe(401);
  const l401 = await logOf("req-401");
  expect(l401).toMatchObject({ route: "/v1/ingest/:source", status: 401, query: "?token=REDACTED&x=1" });
  expect(l401.tenant).toBeUndefined();

  const missing = await fetch(running.url + "/no/such/route?token=abc", { headers: { "x-request-id": "req-404" } });
  expect(missing.status).toBe(404);
  expect(missing.headers.get("x-request-id")).toBe("req-404");
  expect(await logOf("req-404")).toMatchObject({ route: null, path: "/no/such/route", status: 404, query: "?token=REDACTED" });

  // ping URLs carry their token in the path: only the route pattern is logged
  const ping = await fetch(running.url + "/ping/pingt0ken-secret/fail", { headers: { "x-request-id": "req-ping" } });
  expect(ping.status).toBe(404);
  expect(await logOf("req-ping")).toMatchObject({ route: "/ping/:token/:action", status: 404 });
  const all = lines.join("\n");
  for (const secret of ["s3cr3t-T0KEN", "pingt0ken-secret", "token=abc"]) expect(all).not.toContain(secret);
});

test("health checks are logged at debug only", async () => {
  const r = await fetch(running.url + "/healthz", { headers: { "x-request-id": "req-health" } });
  expect(r.headers.get("x-request-id")).toBe("req-health");
  await post("/api/v1/events", event(2), { "x-request-id": "req-after" });
  await logOf("req-after");
  expect(lines.some((l) => l.includes("req-health"))).toBe(false);
});
