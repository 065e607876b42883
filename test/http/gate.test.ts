// No request without a valid key costs real work (issue 10, section 1), walked over every route of
// /openapi.json and every admin form: a keyless deep, huge or slow body is answered 401 (or
// 413/408/404 where the route is public) at once, without reading the body, on a connection the
// server closes, while /healthz keeps answering. Then: bodies with a key are bounded in depth,
// size and time; a client that goes away is not an error; every JSON route refuses other content
// types (415) and locates a syntax error without recursion.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { createApp } from "../../src/app";
import { loadConfig, type Config } from "../../src/config";
import type { Logger } from "../../src/lib/log";
import { buildDepsFor, startServer, type Running } from "../../src/server";
import { alertSourceNames, connectorNames } from "../../src/sources/registry";
import { TEST_STORE, tempDir } from "../helpers";
import { clonedDatabase } from "../pg/cluster";
import { tableCounts } from "../rows";
import { rawRequest, type RawAnswer } from "./raw";
import net from "node:net";
import { LINGER_MS, lingeringNow } from "../../src/http/linger";

type Line = { level: string; msg: string; fields?: Record<string, unknown> };
const lines: Line[] = [];
const capture: Logger = {
  debug: (msg, fields) => void lines.push({ level: "debug", msg, fields }),
  info: (msg, fields) => void lines.push({ level: "info", msg, fields }),
  warn: (msg, fields) => void lines.push({ level: "warn", msg, fields }),
  error: (msg, fields) => void lines.push({ level: "error", msg, fields }),
  enabled: () => true,
};

const BODY_TIMEOUT = 1500;
const ANON_BODY_TIMEOUT = 1000;
/** "At once": the deep body of the issue took 9.7 s; a refusal that reads nothing takes a few ms. */
const QUICK_MS = 2000;

let run: Running;
let dir: string;
let pgDb: { url: string; drop(): Promise<void> } | null = null;
let port: number;
let keys: { admin: string; ingest: string };
let pingToken: string;
let doc: { paths: Record<string, Record<string, { security?: unknown[]; requestBody?: unknown }>> };

type Route = { method: string; path: string; secured: boolean; body: boolean; schema?: any };
let routes: Route[] = [];

const DUMMY = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
const fill = (p: string) =>
  p.replace(/\{(\w+)\}/g, (_, n: string) => (n === "source" ? "generic" : n === "connector" ? "syslog" : n === "name" ? "generic" : n === "token" ? "no-such-token" : n === "action" ? "start" : DUMMY));

beforeAll(async () => {
  dir = tempDir();
  const { config } = loadConfig([], {});
  // its own server (a logger that keeps its lines), on the store of the pass
  pgDb = TEST_STORE === "postgres" ? await clonedDatabase("gate") : null;
  const cfg: Config = {
    ...config,
    port: 0,
    host: "127.0.0.1",
    dataDir: dir,
    rateLimit: 0,
    bodyTimeout: BODY_TIMEOUT,
    anonBodyTimeout: ANON_BODY_TIMEOUT,
    ...(pgDb ? { databaseUrl: pgDb.url, dbPool: 4 } : {}),
  };
  const deps = await buildDepsFor(cfg, { log: capture });
  const t = await deps.store.tenants.createTenant("t1");
  keys = {
    admin: (await deps.store.keys.createKey({ tenantId: t.id, name: "a", scopes: ["admin"] })).key,
    ingest: (await deps.store.keys.createKey({ tenantId: t.id, name: "i", scopes: ["ingest"] })).key,
  };
  run = await startServer(deps);
  port = run.server.port!;
  doc = (await (await fetch(run.url + "/openapi.json")).json()) as typeof doc;
  for (const [p, ops] of Object.entries(doc.paths))
    for (const [m, op] of Object.entries(ops))
      routes.push({ method: m.toUpperCase(), path: fill(p), secured: !(Array.isArray(op.security) && op.security.length === 0), body: !!op.requestBody, schema: (op.requestBody as any)?.content?.["application/json"]?.schema });
  // the admin page's forms (hidden from the document): a session cookie is their credential
  for (const r of createApp(deps).routes)
    if (r.method === "POST" && r.path.startsWith("/admin/") && r.path !== "/admin/login")
      // logout without a session has nothing to end: a redirect to the login page, form unread
      routes.push({ method: "POST", path: r.path.replace(/:(\w+)/g, DUMMY), secured: r.path !== "/admin/logout", body: true });
  const hb = await fetch(run.url + "/v1/heartbeats", {
    method: "POST",
    headers: { "x-api-key": keys.admin, "content-type": "application/json" },
    body: JSON.stringify({ name: "nightly", period: 3600, grace: 60 }),
  });
  expect(hb.status).toBe(201);
  pingToken = /\/ping\/([^/]+)$/.exec(((await hb.json()) as { ping_url: string }).ping_url)![1];
});

afterAll(async () => {
  await run?.stop();
  await pgDb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Polls /healthz every 50 ms while `work` runs; returns the slowest answer (ms) and any failure. */
async function whileHealthz<T>(work: () => Promise<T>): Promise<{ result: T; slowest: number; failures: number }> {
  let stop = false;
  let slowest = 0;
  let failures = 0;
  const poll = (async () => {
    while (!stop) {
      const t0 = performance.now();
      try {
        const r = await fetch(run.url + "/healthz", { signal: AbortSignal.timeout(5000) });
        if (r.status !== 200) failures++;
        await r.arrayBuffer();
      } catch {
        failures++;
      }
      slowest = Math.max(slowest, performance.now() - t0);
      await Bun.sleep(50);
    }
  })();
  try {
    const result = await work();
    return { result, slowest, failures };
  } finally {
    stop = true;
    await poll;
  }
}

const JSON_HEADERS = { "content-type": "application/json" };

function expectRefusedQuickly(r: Route, a: RawAnswer, what: string) {
  const at = { route: `${r.method} ${r.path}`, what };
  expect({ ...at, answered: a.answeredMs >= 0 && a.answeredMs < QUICK_MS }).toEqual({ ...at, answered: true });
  if (r.secured) expect({ ...at, status: a.status }).toEqual({ ...at, status: 401 });
  else expect({ ...at, status: a.status < 500 && a.status >= 200 }).toEqual({ ...at, status: true });
  // the body was not read: the server closes the connection with its answer
  expect({ ...at, connection: a.headers["connection"] }).toEqual({ ...at, connection: "close" });
  expect({ ...at, closed: a.closedMs >= 0 }).toEqual({ ...at, closed: true });
}

describe("keyless bodies on every route", () => {
  test("the walk covers the whole document and the admin forms", () => {
    expect(routes.length).toBeGreaterThan(60);
    expect(routes.filter((r) => r.body).length).toBeGreaterThan(15);
    expect(routes.some((r) => r.path.startsWith("/admin/"))).toBe(true);
  });

  test("a keyless 50,000-deep body: 401 at once, /healthz unaffected", async () => {
    const deep = '{"url":"http://x/","filters":' + '{"a":'.repeat(50_000) + "1" + "}".repeat(50_001);
    const { result, slowest, failures } = await whileHealthz(() =>
      Promise.all(routes.map((r) => rawRequest({ port, method: r.method, path: r.path, headers: { ...JSON_HEADERS, "content-length": String(deep.length) }, body: deep, waitMs: 4000 }))),
    );
    result.forEach((a, i) => expectRefusedQuickly(routes[i], a, "deep"));
    const keys401 = result[routes.findIndex((r) => r.method === "POST" && r.path === "/v1/keys")];
    expect(JSON.parse(keys401.body).error.code).toBe("unauthorized");
    expect(keys401.headers["www-authenticate"]).toContain("Bearer");
    expect(failures).toBe(0);
    expect(slowest).toBeLessThan(QUICK_MS);
  });

  test("a keyless 100 MiB body (Content-Length) and a chunked one: answered before they arrive", async () => {
    const { result, slowest, failures } = await whileHealthz(async () => {
      const sized = await Promise.all(
        routes.map((r) =>
          rawRequest({ port, method: r.method, path: r.path, headers: { ...JSON_HEADERS, "content-length": String(100 * 1024 * 1024) }, body: "{" + " ".repeat(64 * 1024), waitMs: 4000 }),
        ),
      );
      const chunked = await Promise.all(
        routes.map((r) =>
          rawRequest({ port, method: r.method, path: r.path, headers: { ...JSON_HEADERS, "transfer-encoding": "chunked" }, chunkedTotal: 64 * 1024 * 1024, waitMs: 4000 }),
        ),
      );
      return { sized, chunked };
    });
    result.sized.forEach((a, i) => expectRefusedQuickly(routes[i], a, "huge, Content-Length"));
    result.chunked.forEach((a, i) => {
      expectRefusedQuickly(routes[i], a, "huge, chunked");
      // far less than the whole body went out before the answer
      expect(a.sent).toBeLessThan(16 * 1024 * 1024);
    });
    expect(failures).toBe(0);
    expect(slowest).toBeLessThan(QUICK_MS);
  });

  test("a keyless slow body (1 byte every 200 ms): answered at once, not after the body", async () => {
    const { result, slowest, failures } = await whileHealthz(() =>
      Promise.all(routes.map((r) => rawRequest({ port, method: r.method, path: r.path, headers: { ...JSON_HEADERS, "content-length": "1000" }, body: "{", dribble: 999, dribbleMs: 200, waitMs: 4000 }))),
    );
    result.forEach((a, i) => expectRefusedQuickly(routes[i], a, "slow"));
    expect(failures).toBe(0);
    expect(slowest).toBeLessThan(QUICK_MS);
  });

  test("POST /v1/keys {\"zz\":1} without a key is a 401, not a 422 describing the schema", async () => {
    const r = await fetch(run.url + "/v1/keys", { method: "POST", headers: JSON_HEADERS, body: '{"zz":1}' });
    expect(r.status).toBe(401);
    expect(((await r.json()) as any).error.details).toEqual([]);
    // a URL token is not a key here either
    const t = await fetch(run.url + "/v1/keys?token=kwt_x", { method: "POST", headers: JSON_HEADERS, body: '{"zz":1}' });
    expect(t.status).toBe(401);
    expect(((await t.json()) as any).error.message).toContain("URL tokens");
  });
});

// The class: every refusal of a request whose body we will not read gets its answer, however big
// the body and however long the answer takes (a key or token looked up in PostgreSQL while the body
// streams in). The server answers, drains what is still coming for a bounded while and then closes
// (src/http/linger.ts); it used to close at once, the unread body made the kernel reset the
// connection, and a client still sending lost its answer.
describe("every refusal of a body we will not read is answered, never reset", () => {
  type Refusal = { what: string; method: string; path: string; headers: Record<string, string>; status: number; code?: string };
  const refusals = (): Refusal[] => {
    const wrongSecret = keys.admin.slice(0, -1) + (keys.admin.endsWith("A") ? "B" : "A");
    const unknownKey = "kw_" + "z".repeat(keys.admin.length - 3);
    return [
      { what: "no key", method: "POST", path: "/v1/webhooks", headers: {}, status: 401, code: "unauthorized" },
      { what: "no key, ingest", method: "POST", path: "/api/v1/events", headers: {}, status: 401, code: "unauthorized" },
      { what: "a key with a wrong secret", method: "POST", path: "/v1/webhooks", headers: { "x-api-key": wrongSecret }, status: 401, code: "unauthorized" },
      { what: "an unknown key", method: "POST", path: "/v1/rules", headers: { authorization: `Bearer ${unknownKey}` }, status: 401, code: "unauthorized" },
      { what: "an unknown key, ingest", method: "POST", path: "/v1/ingest/generic", headers: { "x-api-key": unknownKey }, status: 401, code: "unauthorized" },
      { what: "no such route", method: "POST", path: "/no/such/route", headers: {}, status: 404, code: "not_found" },
      { what: "no such route, with a key", method: "POST", path: "/v2/events", headers: { "x-api-key": keys.ingest }, status: 404, code: "not_found" },
      { what: "an unknown ping token", method: "POST", path: "/ping/no-such-token", headers: {}, status: 404, code: "not_found" },
      { what: "an unknown ping token, an action", method: "POST", path: "/ping/no-such-token/fail", headers: {}, status: 404, code: "not_found" },
      { what: "too large, API", method: "POST", path: "/v1/webhooks", headers: { "x-api-key": keys.admin }, status: 413, code: "body_too_large" },
      { what: "too large, ingest", method: "POST", path: "/api/v1/events", headers: { "x-api-key": keys.ingest }, status: 413, code: "body_too_large" },
      { what: "too large, a ping", method: "POST", path: `/ping/${pingToken}`, headers: {}, status: 413, code: "body_too_large" },
      { what: "a GET with a body", method: "GET", path: "/healthz", headers: {}, status: 400, code: "bad_request" },
      { what: "a GET with a body, /readyz (awaits the store)", method: "GET", path: "/readyz", headers: {}, status: 400, code: "bad_request" },
      { what: "a GET with a body, with a key", method: "GET", path: "/v1/events", headers: { "x-api-key": keys.admin }, status: 400, code: "bad_request" },
      { what: "a GET with a body, a ping", method: "GET", path: `/ping/${pingToken}`, headers: {}, status: 400, code: "bad_request" },
    ];
  };
  const SIZED = { "content-length": String(100 * 1024 * 1024) };
  const CHUNKED = { "transfer-encoding": "chunked" };
  /** Each refusal `copies` times at once, with a huge body of a stated length and a chunked one. */
  async function walk(copies: number) {
    const cases = refusals().flatMap((r) => Array.from({ length: copies }, () => [{ ...r, framing: "Content-Length" }, { ...r, framing: "chunked" }]).flat());
    const logged = lines.length;
    const { result, failures } = await whileHealthz(() =>
      Promise.all(
        cases.map((c) =>
          c.framing === "chunked"
            ? rawRequest({ port, method: c.method, path: c.path, headers: { ...JSON_HEADERS, ...c.headers, ...CHUNKED }, chunkedTotal: 64 * 1024 * 1024, waitMs: 6000 })
            : rawRequest({ port, method: c.method, path: c.path, headers: { ...JSON_HEADERS, ...c.headers, ...SIZED }, body: "{" + " ".repeat(64 * 1024), waitMs: 6000 }),
        ),
      ),
    );
    result.forEach((a, i) => {
      const c = cases[i];
      const at = `${c.what}: ${c.method} ${c.path}, ${c.framing}`;
      // the answer, whole (its JSON error body), at once
      expect({ at, status: a.status }).toEqual({ at, status: c.status });
      expect({ at, quick: a.answeredMs >= 0 && a.answeredMs < QUICK_MS }).toEqual({ at, quick: true });
      let code: unknown = null;
      try {
        code = JSON.parse(a.body).error.code;
      } catch {
        code = `not JSON: ${JSON.stringify(a.body.slice(0, 80))}`;
      }
      expect({ at, code }).toEqual({ at, code: c.code });
      expect({ at, requestId: !!a.headers["x-request-id"] }).toEqual({ at, requestId: true });
      // then the connection closes, within the linger's bound after the answer
      expect({ at, connection: a.headers["connection"] }).toEqual({ at, connection: "close" });
      expect({ at, closed: a.closedMs >= 0 && a.closedMs - a.answeredMs < LINGER_MS + QUICK_MS }).toEqual({ at, closed: true });
      if (c.framing === "chunked") expect({ at, sentMiB: a.sent < 16 * 1024 * 1024 }).toEqual({ at, sentMiB: true });
    });
    expect(failures).toBe(0);
    // each in the access log with its status, as before the lingering close
    const logStatus = new Map(lines.slice(logged).filter((l) => l.msg === "request").map((l) => [l.fields?.request_id, l.fields?.status]));
    result.forEach((a, i) => {
      const at = `${cases[i].what}: ${cases[i].method} ${cases[i].path}, ${cases[i].framing}`;
      expect({ at, logged: logStatus.get(a.headers["x-request-id"]) }).toEqual({ at, logged: cases[i].status });
    });
  }

  test("every refusal × a huge body (Content-Length, chunked), once each: answered whole, then closed", async () => {
    await walk(1);
  });

  test("every refusal × a huge body (Content-Length, chunked) × 4 at once: all answered whole, then closed", async () => {
    await walk(4);
    // nothing is left lingering once the clients are gone
    for (let i = 0; i < 40 && lingeringNow() > 0; i++) await Bun.sleep(50);
    expect(lingeringNow()).toBe(0);
  });

  test("a client that goes on sending after its answer is held back (read slowly): it blocks, and the connection closes after the linger", async () => {
    // a client that never looks at what it is sent (a naive uploader): pumps 256 MiB regardless
    const t0 = performance.now();
    const out = await new Promise<{ sent: number; closedMs: number; got: string }>((resolve) => {
      const sock = net.connect(port, "127.0.0.1");
      let sent = 0;
      let got = "";
      sock.on("data", (d) => void (got += d.toString("latin1")));
      sock.on("error", () => {});
      sock.on("close", () => resolve({ sent, closedMs: performance.now() - t0, got }));
      sock.write(`POST /v1/webhooks HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`);
      const frame = Buffer.concat([Buffer.from("10000\r\n"), Buffer.alloc(64 * 1024, 0x20), Buffer.from("\r\n")]);
      const pump = () => {
        while (!sock.destroyed && sent < 256 * 1024 * 1024) {
          sent += 64 * 1024;
          if (!sock.write(frame)) return void sock.once("drain", pump);
        }
      };
      pump();
      setTimeout(() => sock.destroy(), 8000);
    });
    expect(out.got).toContain("HTTP/1.1 401");
    expect(out.got).toContain('"unauthorized"');
    // the server read LINGER_BYTES of it, then a read every LINGER_PACE_MS: TCP held the client back
    expect(out.sent).toBeLessThan(64 * 1024 * 1024);
    expect(out.closedMs).toBeGreaterThanOrEqual(LINGER_MS - 100);
    expect(out.closedMs).toBeLessThan(LINGER_MS + 4000);
  });
});

describe("the admin login form (no credential yet)", () => {
  const form = { "content-type": "application/x-www-form-urlencoded" };

  test("a 7 MiB chunked form is refused by its 64 KiB limit before it has arrived", async () => {
    const a = await rawRequest({ port, method: "POST", path: "/admin/login", headers: { ...form, "transfer-encoding": "chunked" }, chunkedTotal: 7 * 1024 * 1024, waitMs: 5000 });
    expect(a.status).toBe(413);
    expect(a.answeredMs).toBeLessThan(QUICK_MS);
    expect(a.sent).toBeLessThan(4 * 1024 * 1024);
    expect(a.headers["connection"]).toBe("close");
    expect(a.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
  });

  test("a slow login form: 408 after --anon-body-timeout, connection closed, reason logged", async () => {
    const a = await rawRequest({ port, method: "POST", path: "/admin/login", headers: { ...form, "content-length": "1000" }, body: "k", dribble: 999, dribbleMs: 200, waitMs: 5000 });
    expect(a.status).toBe(408);
    expect(a.answeredMs).toBeGreaterThanOrEqual(ANON_BODY_TIMEOUT - 50);
    expect(a.answeredMs).toBeLessThan(ANON_BODY_TIMEOUT + 1500);
    expect(a.closedMs).toBeGreaterThan(0);
    expect(lines.some((l) => l.level === "warn" && l.msg.includes("timed out") && l.fields?.path === "/admin/login")).toBe(true);
  });

  test("140 slow login forms at once: /healthz keeps answering (logins past 32 reading are turned away)", async () => {
    const { result, slowest, failures } = await whileHealthz(() =>
      Promise.all(
        Array.from({ length: 140 }, () =>
          rawRequest({ port, method: "POST", path: "/admin/login", headers: { ...form, "content-length": "1000" }, body: "k", dribble: 999, dribbleMs: 200, waitMs: 5000 }),
        ),
      ),
    );
    expect(failures).toBe(0);
    expect(slowest).toBeLessThan(QUICK_MS);
    const by = (s: number) => result.filter((a) => a.status === s).length;
    expect(by(408) + by(503)).toBe(140);
    expect(by(408)).toBeLessThanOrEqual(32);
    for (const a of result) expect(a.closedMs).toBeGreaterThan(0);
    for (const a of result.filter((x) => x.status === 503)) expect(a.answeredMs).toBeLessThan(QUICK_MS);
  });
});

describe("bodies with a key: bounded in depth, size and time", () => {
  const auth = () => ({ "x-api-key": keys.admin });

  test("a 20,000-deep body with an admin key is a 400 in milliseconds, on every JSON route", async () => {
    const deep = '{"a":'.repeat(20_000) + "1" + "}".repeat(20_000);
    for (const r of routes.filter((x) => x.body && x.secured && !x.path.startsWith("/admin/"))) {
      const t0 = performance.now();
      const res = await fetch(run.url + r.path, { method: r.method, headers: { ...JSON_HEADERS, ...auth() }, body: deep });
      const at = `${r.method} ${r.path}`;
      expect({ at, status: res.status }).toEqual({ at, status: 400 });
      const e = ((await res.json()) as any).error;
      expect({ at, code: e.code }).toEqual({ at, code: "invalid_json" });
      expect(e.message).toMatch(/deeper than 100 levels at line 1 column \d+/);
      expect(performance.now() - t0).toBeLessThan(QUICK_MS);
    }
  });

  test("malformed JSON ('[},' × 14,000) is a 400 invalid_json with its position on every JSON route (it was a 500 on the ingest routes)", async () => {
    const bad = "[},".repeat(14_000);
    const ingest = ["/api/v1/events", ...alertSourceNames().map((n) => `/v1/ingest/${n}`), ...connectorNames().map((n) => `/api/v1/webhooks/${n}`)];
    expect(ingest.length).toBe(9);
    const api = routes.filter((x) => x.body && x.secured && !x.path.startsWith("/admin/") && !ingest.includes(x.path) && !x.path.startsWith("/v1/ingest/"));
    const targets = [...ingest.map((p) => ({ method: "POST", path: p, key: keys.ingest })), ...api.map((r) => ({ ...r, key: keys.admin }))];
    for (const t of targets) {
      const res = await fetch(run.url + t.path, { method: t.method, headers: { ...JSON_HEADERS, "x-api-key": t.key }, body: bad });
      const at = `${t.method} ${t.path}`;
      expect({ at, status: res.status }).toEqual({ at, status: 400 });
      const e = ((await res.json()) as any).error;
      expect({ at, code: e.code, message: e.message }).toEqual({ at, code: "invalid_json", message: "request body is not valid JSON: value expected at line 1 column 2 (offset 1)" });
    }
  });

  test("an object with keys named toString / valueOf where a field takes anything else is a 4xx on every JSON API route (Elysia's error summary interpolated it: a 500)", async () => {
    const api = routes.filter((x) => x.body && x.secured && !x.path.startsWith("/admin/") && !x.path.startsWith("/v1/ingest/") && !x.path.startsWith("/api/"));
    expect(api.length).toBeGreaterThan(15);
    let walked = 0;
    for (const r of api) {
      const props = Object.keys(r.schema?.properties ?? {});
      // every field alone as an object whose toString and valueOf are not functions (no string
      // form: interpolating it throws), beside an unknown field; then all of them at once
      const hostile = { x: "looked at it", toString: 728, valueOf: { y: 1 } };
      const bodies = [...props.map((k) => ({ [k]: hostile, zz: hostile })), Object.fromEntries(props.map((k) => [k, hostile])), { toString: 1, valueOf: 2 }];
      for (const b of bodies) {
        const res = await fetch(run.url + r.path, { method: r.method, headers: { ...JSON_HEADERS, "x-api-key": keys.admin }, body: JSON.stringify(b) });
        const at = `${r.method} ${r.path} ${JSON.stringify(b).slice(0, 80)}`;
        expect({ at, server_error: res.status >= 500 }).toEqual({ at, server_error: false });
        expect({ at, json: (res.headers.get("content-type") ?? "").includes("json") || res.status < 300 }).toEqual({ at, json: true });
        await res.arrayBuffer();
        walked++;
      }
    }
    expect(walked).toBeGreaterThan(100);
  });

  test("over the body limit: 413 with the JSON error body, decided from Content-Length before reading", async () => {
    for (const path of ["/v1/webhooks", "/api/v1/events"]) {
      const a = await rawRequest({ port, method: "POST", path, headers: { ...JSON_HEADERS, "x-api-key": path.startsWith("/api") ? keys.ingest : keys.admin, "content-length": String(9 * 1024 * 1024) }, body: "[", waitMs: 4000 });
      expect(a.status).toBe(413);
      expect(JSON.parse(a.body).error.code).toBe("body_too_large");
      expect(a.answeredMs).toBeLessThan(QUICK_MS);
      expect(a.headers["connection"]).toBe("close");
    }
  });

  test("a slow body with a key: 408 after --body-timeout on the API, ingest and ping routes, connection closed, reason logged", async () => {
    const cases = [
      { path: "/v1/webhooks", key: keys.admin },
      { path: "/api/v1/events", key: keys.ingest },
      { path: "/v1/ingest/generic", key: keys.ingest },
      { path: `/ping/${pingToken}/log`, key: null },
    ];
    const answers = await Promise.all(
      cases.map((c) =>
        rawRequest({ port, method: "POST", path: c.path, headers: { ...JSON_HEADERS, ...(c.key ? { "x-api-key": c.key } : {}), "content-length": "1000" }, body: "[", dribble: 999, dribbleMs: 200, waitMs: 6000 }),
      ),
    );
    answers.forEach((a, i) => {
      const at = cases[i].path;
      expect({ at, status: a.status }).toEqual({ at, status: 408 });
      expect({ at, code: JSON.parse(a.body).error.code }).toEqual({ at, code: "body_timeout" });
      expect(a.answeredMs).toBeGreaterThanOrEqual(BODY_TIMEOUT - 50);
      expect(a.answeredMs).toBeLessThan(BODY_TIMEOUT + 2000);
      expect(a.headers["connection"]).toBe("close");
      expect(a.closedMs).toBeGreaterThan(0);
      expect(lines.some((l) => l.level === "warn" && l.msg.includes("timed out") && l.fields?.path === at)).toBe(true);
    });
  });

  test("a client that goes away mid-body is not logged as an error", async () => {
    const before = lines.length;
    for (const path of ["/v1/webhooks", "/api/v1/events", `/ping/${pingToken}`]) {
      const a = await rawRequest({ port, method: "POST", path, headers: { ...JSON_HEADERS, "x-api-key": path.startsWith("/api") ? keys.ingest : keys.admin, "content-length": "1000" }, body: '{"a":', waitMs: 300, untilClosed: false });
      expect(a.status).toBe(0); // we hung up first
    }
    await Bun.sleep(300);
    const after = lines.slice(before);
    expect(after.filter((l) => l.level === "error")).toEqual([]);
    expect(after.filter((l) => l.msg === "request").length).toBeGreaterThanOrEqual(1);
    // the server is fine
    expect((await fetch(run.url + "/healthz")).status).toBe(200);
  });
});

describe("415: every route that takes a JSON body refuses another content type, and changes nothing", () => {
  const rows = () => tableCounts(run.deps);

  test("text/plain, a form, none: 415 with the error contract on every route of the document with a request body", async () => {
    const withBody = routes.filter((r) => r.body && !r.path.startsWith("/admin/"));
    expect(withBody.length).toBeGreaterThan(15);
    const before = await rows();
    for (const r of withBody)
      for (const ct of ["text/plain", "application/x-www-form-urlencoded", null]) {
        const key = r.path.startsWith("/api/") || r.path.startsWith("/v1/ingest/") ? keys.ingest : keys.admin;
        const res = await fetch(run.url + r.path, { method: r.method, headers: { "x-api-key": key, ...(ct ? { "content-type": ct } : {}) }, body: new TextEncoder().encode('{"name":"x","url":"http://x/"}') });
        const at = `${r.method} ${r.path} ${ct}`;
        expect({ at, status: res.status }).toEqual({ at, status: 415 });
        expect({ at, code: ((await res.json()) as any).error.code }).toEqual({ at, code: "unsupported_media_type" });
      }
    expect(await rows()).toEqual(before);
  });

  test("POST /v1/webhooks with text/plain: one 415, not 422 with 49 details", async () => {
    const r = await fetch(run.url + "/v1/webhooks", { method: "POST", headers: { "x-api-key": keys.admin, "content-type": "text/plain" }, body: "hello" });
    expect(r.status).toBe(415);
    expect(((await r.json()) as any).error.details.length).toBe(1);
  });

  test("bodiless actions still work without a content type (and with an empty JSON one)", async () => {
    const list = (await (await fetch(run.url + "/v1/heartbeats", { headers: { "x-api-key": keys.admin } })).json()) as any;
    const id = list.items[0].id;
    const a = await fetch(run.url + `/v1/heartbeats/${id}/pause`, { method: "POST", headers: { "x-api-key": keys.admin } });
    expect(a.status).toBe(200);
    const b = await fetch(run.url + `/v1/heartbeats/${id}/resume`, { method: "POST", headers: { "x-api-key": keys.admin, "content-type": "application/json" } });
    expect(b.status).toBe(200);
  });
});

describe("500s are counted", () => {
  test("an ingest request that fails inside is counted in keepwatch_ingest_requests_total with status 500", async () => {
    const writer = run.deps.writer as unknown as { submitRaw: (...a: unknown[]) => Promise<unknown> };
    const real = writer.submitRaw;
    writer.submitRaw = async () => {
      throw new Error("injected failure");
    };
    try {
      const r = await fetch(run.url + "/api/v1/events", { method: "POST", headers: { ...JSON_HEADERS, "x-api-key": keys.ingest }, body: '{"type":"a.b","source":"s"}' });
      expect(r.status).toBe(500);
      expect(((await r.json()) as any).error.code).toBe("internal");
    } finally {
      writer.submitRaw = real;
    }
    const m = await (await fetch(run.url + "/metrics")).text();
    expect(m).toContain('keepwatch_ingest_requests_total{route="/api/v1/events",status="500"} 1');
  });
});
