// A compressed or otherwise encoded body is refused with 415 on every route that takes a body:
// keepwatch does not decode Content-Encoding, so a gzip body used to reach the JSON parser as
// bytes (a misleading 400 "not valid UTF-8") and `Content-Encoding: br` on plain JSON was stored
// as if it were plain. Walks every POST/PUT/PATCH route of /openapi.json (ingest routes, connectors,
// pings and the /v1 API) and the admin login form, with encodings a client may send; nothing is
// stored, and `identity` (no encoding) still works.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { json, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
let doc: any;
beforeAll(async () => {
  s = await startTestServer();
  doc = await json(fetch(s.url + "/openapi.json"));
});
afterAll(() => s.close());

const ev = { type: "deploy.done", module: "ci", source: "ce-walk", summary: "compressed", severity: "info" };
const ENCODINGS = ["gzip", "br", "deflate", "zstd", "x-gzip", "compress", "gzip, identity", "GZIP"];

function routes(pingToken: string): { method: string; path: string; key: string }[] {
  const out: { method: string; path: string; key: string }[] = [];
  for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>))
    for (const m of Object.keys(ops)) {
      if (!["post", "put", "patch"].includes(m)) continue;
      const path = p
        .replace("{source}", "generic")
        .replace("{connector}", "syslog")
        .replace("{name}", "grafana")
        .replace("{action}", "log")
        .replace("{token}", pingToken)
        .replace(/\{\w+\}/g, "01J00000000000000000000000");
      const ingest = path.startsWith("/v1/ingest/") || path.startsWith("/api/");
      out.push({ method: m.toUpperCase(), path, key: ingest ? s.keys.ingest : s.keys.admin });
    }
  return out;
}

test("every body route answers 415 to an encoded body, and stores nothing", async () => {
  const before = (await json(s.get("/v1/events?source=ce-walk"))).items.length;
  // a real heartbeat, so the ping routes get past their token (an unknown one is a 404 first)
  const hb = await json(s.admin("POST", "/v1/heartbeats", { name: "ce-walk", period: 3600 }));
  const token = new URL(hb.ping_url).pathname.split("/")[2];
  const rs = routes(token);
  expect(rs.length).toBeGreaterThan(20);
  const seen: string[] = [];
  for (const r of rs)
    for (const enc of ENCODINGS) {
      const plain = JSON.stringify(ev);
      for (const [what, body] of [["gzip bytes", gzipSync(plain)], ["plain bytes", plain]] as const) {
        const res = await fetch(s.url + r.path, {
          method: r.method,
          headers: { "x-api-key": r.key, "content-type": "application/json", "content-encoding": enc },
          body,
        });
        const b = (await res.json().catch(() => null)) as any;
        seen.push(`${r.method} ${r.path} ${enc} ${what}: ${res.status} ${b?.error?.code}`);
        expect({ route: `${r.method} ${r.path}`, enc, what, status: res.status, code: b?.error?.code }).toEqual({
          route: `${r.method} ${r.path}`,
          enc,
          what,
          status: 415,
          code: "unsupported_media_type",
        });
      }
    }
  // pings take any body: their routes are in the walk too
  expect(seen.some((x) => x.startsWith("POST /ping/"))).toBe(true);
  expect((await json(s.get("/v1/events?source=ce-walk"))).items.length).toBe(before);
  expect((await json(s.get(`/v1/heartbeats/${hb.id}/pings`))).items).toEqual([]);
});

test("the admin login form refuses an encoded body with 415", async () => {
  const res = await fetch(s.url + "/admin/login", {
    method: "POST",
    headers: { origin: s.url, "content-type": "application/x-www-form-urlencoded", "content-encoding": "gzip" },
    body: gzipSync(`key=${s.keys.admin}`),
  });
  expect(res.status).toBe(415);
  expect(res.headers.get("set-cookie")).toBeNull();
});

test("identity (no encoding) is accepted", async () => {
  const res = await fetch(s.url + "/api/v1/events", {
    method: "POST",
    headers: { "x-api-key": s.keys.ingest, "content-type": "application/json", "content-encoding": "identity" },
    body: JSON.stringify(ev),
  });
  expect(res.status).toBe(202);
});

test("a JSON Content-Type naming a charset other than UTF-8 is 415 on every JSON route, and stores nothing; utf-8 in any spelling is accepted", async () => {
  const before = (await json(s.get("/v1/events?source=ce-walk"))).items.length;
  // pings take any body; every other body route takes JSON only
  const rs = routes("none").filter((r) => !r.path.startsWith("/ping/"));
  expect(rs.length).toBeGreaterThan(20);
  for (const r of rs)
    for (const cs of ["iso-8859-1", "latin1", "utf-16", '"windows-1252"', "us-ascii", ""]) {
      const res = await fetch(s.url + r.path, {
        method: r.method,
        headers: { "x-api-key": r.key, "content-type": `application/json; charset=${cs}` },
        body: JSON.stringify(ev),
      });
      const b = (await res.json().catch(() => null)) as any;
      expect({ route: `${r.method} ${r.path}`, cs, status: res.status, code: b?.error?.code }).toEqual({
        route: `${r.method} ${r.path}`,
        cs,
        status: 415,
        code: "unsupported_media_type",
      });
    }
  expect((await json(s.get("/v1/events?source=ce-walk"))).items.length).toBe(before);
  for (const cs of ["utf-8", "UTF-8", "utf8", '"utf-8"'])
    for (const path of ["/api/v1/events", "/v1/ingest/generic"]) {
      const body = path === "/api/v1/events" ? ev : { title: "charset ok", severity: "low", source: "ce-walk" };
      const res = await fetch(s.url + path, { method: "POST", headers: { "x-api-key": s.keys.ingest, "content-type": `application/json; charset=${cs}` }, body: JSON.stringify(body) });
      expect({ cs, path, status: res.status }).toEqual({ cs, path, status: 202 });
    }
  const w = await fetch(s.url + "/v1/heartbeats", { method: "POST", headers: { "x-api-key": s.keys.admin, "content-type": "application/json; charset=UTF-8" }, body: JSON.stringify({ name: "cs", period: 3600 }) });
  expect(w.status).toBe(201);
});
