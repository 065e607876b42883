// Every 422 names what is allowed. Walks the typebox schemas of every route in /openapi.json
// (request bodies, nested objects, arrays and nullable members, and query parameters), sends an
// out-of-range value for every bounded number, string and array and an unknown value for every
// enum, and an unknown field to every closed object; the detail at that field's pointer must name
// the bound (or every allowed value, or the known fields).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers";
import { probesOf, type Probe } from "../schema-probes";

let s: TestServer;
let doc: any;
beforeAll(async () => {
  s = await startTestServer();
  doc = await (await fetch(s.url + "/openapi.json")).json();
});
afterAll(() => s.close());

/** A body with `value` at `pointer` (objects and one-element arrays made along the way). */
function bodyWith(pointer: string, value: unknown, also: [string, unknown][] = []): unknown {
  let root: any;
  for (const [ptr, v] of [...also, [pointer, value] as [string, unknown]]) {
    const segs = ptr.split("/").slice(1);
    if (!segs.length) return v;
    root ??= segs[0] === "0" ? [] : {};
    let x = root;
    segs.forEach((k, i) => {
      if (i === segs.length - 1) x[k] = v;
      else x = x[k] ??= segs[i + 1] === "0" ? [] : {};
    });
  }
  return root;
}

const PARAMS: Record<string, string> = { id: "01JNOTANID", name: "generic", source: "generic", connector: "syslog", type: "ip", value: "192.0.2.1", token: "nope" };
const fill = (path: string) => path.replace(/\{(\w+)\}/g, (_m, k) => PARAMS[k] ?? "x");

/** The JSON API routes with bodies or query parameters (ingest and pings have their own contract). */
function routes(): { method: string; path: string; body?: any; query: any[] }[] {
  const out: { method: string; path: string; body?: any; query: any[] }[] = [];
  for (const [path, ops] of Object.entries<any>(doc.paths))
    for (const [method, op] of Object.entries<any>(ops)) {
      const body = op.requestBody?.content?.["application/json"]?.schema;
      const query = (op.parameters ?? []).filter((p: any) => p.in === "query");
      if (body || query.length) out.push({ method: method.toUpperCase(), path, body, query });
    }
  return out;
}

describe("every 422 names the allowed range or values", () => {
  test("the walk covers the API (bodies of every create/PATCH/PUT, query parameters)", () => {
    const rs = routes();
    const withBody = rs.filter((r) => r.body).map((r) => `${r.method} ${r.path}`);
    for (const must of ["POST /v1/webhooks", "PATCH /v1/webhooks/{id}", "POST /v1/heartbeats", "PATCH /v1/heartbeats/{id}", "POST /v1/keys", "PUT /v1/sources/{name}/settings", "POST /v1/watchlists", "POST /v1/enrichers", "POST /v1/rules", "POST /v1/indicator-mappings"])
      expect(withBody).toContain(must);
    let n = 0;
    for (const r of rs) {
      const probes: Probe[] = [];
      if (r.body) probesOf(r.body, "", probes);
      n += probes.length;
    }
    expect(n).toBeGreaterThan(100);
  });

  test("bodies: each bad field alone is a 422 whose detail at its pointer names the bound", async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const r of routes().filter((r) => r.body)) {
      const probes: Probe[] = [];
      probesOf(r.body, "", probes);
      for (const p of probes) {
        const res = await s.admin(r.method, fill(r.path), bodyWith(p.pointer, p.value, p.also));
        const label = `${r.method} ${r.path} ${p.pointer} = ${JSON.stringify(p.value).slice(0, 40)}`;
        if (res.status !== 422) {
          failures.push(`${label}: status ${res.status}`);
          continue;
        }
        const err = ((await res.json()) as any).error;
        const d = err.details.find((x: any) => x.path === p.pointer);
        if (!d) {
          failures.push(`${label}: no detail at the pointer (${JSON.stringify(err.details).slice(0, 200)})`);
          continue;
        }
        const missing = p.mustName.filter((w) => !d.message.includes(w));
        if (missing.length) failures.push(`${label}: "${d.message}" does not name ${missing.join(", ")}`);
        if (/should be one of|Expected kind|'integer'|'undefined'/.test(d.message)) failures.push(`${label}: "${d.message}" is the validator's sentence`);
        checked++;
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });

  test("query parameters: out of range or not allowed is a 422 naming the parameter and its bound", async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const r of routes()) {
      if (r.method !== "GET") continue;
      for (const q of r.query) {
        const probes: Probe[] = [];
        probesOf(q.schema, "", probes);
        for (const p of probes.filter((x) => x.pointer === "" && typeof x.value !== "object")) {
          const url = `${fill(r.path)}?${new URLSearchParams({ [q.name]: String(p.value) })}`;
          const res = await s.get(url, s.keys.admin);
          const label = `GET ${url.slice(0, 80)}`;
          if (res.status !== 422) {
            failures.push(`${label}: status ${res.status}`);
            continue;
          }
          const err = ((await res.json()) as any).error;
          const d = err.details.find((x: any) => x.path === `/${q.name}`);
          if (!d) failures.push(`${label}: no detail for /${q.name} (${JSON.stringify(err.details)})`);
          else {
            const missing = p.mustName.filter((w) => !d.message.includes(w));
            if (missing.length) failures.push(`${label}: "${d.message}" does not name ${missing.join(", ")}`);
          }
          expect(err.message).toContain(q.name);
          checked++;
        }
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(5);
  });

  test("every page size takes whole numbers only: limit=1.5 is a 422 naming it (it reached SQLite and was a 500)", async () => {
    const withLimit = routes().filter((r) => r.method === "GET" && r.query.some((q: any) => q.name === "limit"));
    expect(withLimit.length).toBeGreaterThanOrEqual(4);
    for (const r of withLimit) {
      for (const v of ["1.5", "0.5", "-0", "2.0000001", "499.9"]) {
        const res = await s.get(`${fill(r.path)}?limit=${v}`, s.keys.admin);
        const err = res.status === 422 ? ((await res.json()) as any).error : null;
        expect({ path: r.path, v, status: res.status, names: err?.details?.[0]?.path }).toEqual({ path: r.path, v, status: 422, names: "/limit" });
      }
      const ok = await s.get(`${fill(r.path)}?limit=2`, s.keys.admin);
      expect(ok.status).toBeLessThan(500);
    }
  });

  test("the three messages of the report", async () => {
    const wh = ((await (await s.admin("POST", "/v1/webhooks", { url: "http://127.0.0.1:9/x", retry: { max_attempts: -1 } })).json()) as any).error;
    expect(wh.message).toContain("/retry/max_attempts must be an integer from 0 to 1000, got -1");
    const rt = ((await (await s.admin("POST", "/v1/heartbeats", { name: "x", period: 60, max_runtime: "abc" })).json()) as any).error;
    expect(rt.details[0]).toEqual({ path: "/max_runtime", message: 'must be an integer from 1 to 2592000 or null, got "abc"' });
    const pe = ((await (await s.admin("POST", "/v1/heartbeats", { name: "x", period: 366 * 86400 + 1 })).json()) as any).error;
    expect(pe.details[0].message).toBe("must be an integer from 1 to 31622400, got 31622401");
  });
});
