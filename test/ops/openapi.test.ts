// /openapi.json covers every route the app serves, from the typebox schemas; /openapi is a viewer
// that loads nothing from outside this server.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createApp } from "../../src/app";
import { startTestServer, type TestServer } from "../helpers";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const toOpenApiPath = (p: string) => p.replace(/:(\w+)/g, "{$1}");

test("the document parses and lists every route of the app, with its schemas", async () => {
  const r = await fetch(s.url + "/openapi.json");
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toContain("application/json");
  const doc = (await r.json()) as { openapi: string; info: { title: string; version: string }; paths: Record<string, Record<string, any>>; components: any; security: unknown };
  expect(doc.openapi).toMatch(/^3\.1\./);
  expect(doc.info.title).toBe("keepwatch");
  expect(doc.components.securitySchemes.bearer.scheme).toBe("bearer");

  const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)));
  const routes = createApp(s.deps).routes.filter((rt) => rt.method !== "OPTIONS");
  const hidden = routes.filter((rt) => (rt.hooks as any)?.detail?.hide).map((rt) => rt.path);
  // only the document, its viewer (and the HTML admin pages and the favicon) stay out of the document
  for (const p of hidden) expect(p).toMatch(/^\/(openapi|admin|favicon\.ico$)/);
  const served = routes.filter((rt) => !(rt.hooks as any)?.detail?.hide).map((rt) => `${rt.method} ${toOpenApiPath(rt.path)}`);
  expect(served.length).toBeGreaterThan(40);
  expect(served.filter((x) => !documented.has(x))).toEqual([]);
  expect([...documented].filter((x) => !served.includes(x))).toEqual([]);

  // the typebox schemas made it in: a request body, query parameters, path parameters, responses
  const created = doc.paths["/v1/heartbeats"].post;
  expect(created.requestBody.content["application/json"].schema).toBeDefined();
  const listAlerts = doc.paths["/v1/alerts"].get;
  expect(listAlerts.parameters.some((p: any) => p.in === "query")).toBe(true);
  expect(Object.keys(listAlerts.responses)).toContain("200");
  expect(doc.paths["/v1/events/{id}"].get.parameters).toContainEqual(expect.objectContaining({ name: "id", in: "path", required: true }));
  for (const [p, ops] of Object.entries(doc.paths)) for (const [m, op] of Object.entries(ops)) expect({ at: `${m} ${p}`, summary: typeof op.summary }).toEqual({ at: `${m} ${p}`, summary: "string" });

  // who needs what: an API key everywhere (the document's default), except health, metrics and
  // pings (no key), and the ingest routes, which also take a source's URL token
  expect(doc.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
  expect(doc.components.securitySchemes.urlToken).toMatchObject({ type: "apiKey", in: "query", name: "token" });
  for (const [p, m] of [["/healthz", "get"], ["/readyz", "get"], ["/metrics", "get"], ["/ping/{token}", "get"], ["/ping/{token}", "post"], ["/ping/{token}/{action}", "get"]])
    expect({ at: `${m} ${p}`, security: doc.paths[p][m].security }).toEqual({ at: `${m} ${p}`, security: [] });
  for (const [p, m] of [["/api/v1/events", "post"], ["/v1/ingest/{source}", "post"], ["/api/v1/webhooks/{connector}", "post"]])
    expect({ at: `${m} ${p}`, security: doc.paths[p][m].security }).toEqual({ at: `${m} ${p}`, security: [{ bearer: [] }, { apiKey: [] }, { urlToken: [] }] });
  expect(doc.paths["/v1/events"].get.security).toBeUndefined();
  // and the document tells the truth: those routes answer without a key
  expect((await fetch(s.url + "/healthz")).status).toBe(200);
  expect((await fetch(s.url + "/metrics")).status).toBe(200);
  expect((await fetch(s.url + "/v1/events")).status).toBe(401);
});

test("/openapi is an HTML viewer whose script and stylesheet come from this server; nothing inline, nothing from a CDN", async () => {
  const r = await fetch(s.url + "/openapi");
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toContain("text/html");
  const html = await r.text();
  expect(html).toContain("<!doctype html>");
  expect(html).toContain('<script src="/openapi/viewer.js" defer></script>');
  expect(html).not.toMatch(/https?:\/\//);
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // every script has a src
  const js = await fetch(s.url + "/openapi/viewer.js");
  expect(js.status).toBe(200);
  expect(js.headers.get("content-type")).toContain("javascript");
  const code = await js.text();
  expect(code).toContain('fetch("/openapi.json")');
  expect(code).not.toMatch(/https?:\/\//);
  expect(code).not.toContain("innerHTML"); // text from the document never becomes markup
  const css = await fetch(s.url + "/openapi/viewer.css");
  expect(css.headers.get("content-type")).toContain("text/css");
  // the viewer's script is valid JavaScript
  expect(() => new Function(code)).not.toThrow();
});
