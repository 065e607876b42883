// /v1/watchlists and /v1/enrichers: CRUD, scopes, and validation (every bad input a clear 4xx in
// the error contract, and nothing stored).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
});
afterAll(() => s.close());

const body = async (r: Response | Promise<Response>) => (await (await r).json()) as any;
const req = (method: string, path: string, key: string, b?: unknown) =>
  fetch(s.url + path, { method, headers: { "x-api-key": key, ...(b === undefined ? {} : { "content-type": "application/json" }) }, body: b === undefined ? undefined : JSON.stringify(b) });

describe("/v1/watchlists", () => {
  test("create, read (read scope), update, delete (admin)", async () => {
    const c = await s.admin("POST", "/v1/watchlists", {
      name: "Tor exits",
      label: "tor",
      severity: "high",
      entries: [
        { kind: "cidr", value: "185.220.101.0/24" },
        { kind: "cidr", value: "185.220.101.0/24" }, // a repeat is kept once
        { kind: "cidr", value: "2A0B:F4C2::/32" },
        { kind: "domain", value: "Onion.Example." },
        { kind: "email", value: "Spam@Example.com", comment: "known sender" },
      ],
    });
    expect(c.status).toBe(201);
    const w = (await c.json()) as any;
    expect(w).toMatchObject({ name: "Tor exits", label: "tor", tag: "watchlist:tor", severity: "high", active: true, entry_count: 4 });
    expect(w.entries).toEqual([
      { kind: "cidr", value: "185.220.101.0/24" },
      { kind: "cidr", value: "2a0b:f4c2::/32" },
      { kind: "domain", value: "onion.example" },
      { kind: "email", value: "spam@example.com", comment: "known sender" },
    ]);
    const list = await body(s.get("/v1/watchlists", s.keys.read));
    expect(list.items.map((x: any) => x.id)).toContain(w.id);
    expect(list.items[0].entries).toBeUndefined(); // the list has counts, the detail has entries
    expect((await body(s.get(`/v1/watchlists/${w.id}`, s.keys.read))).entries.length).toBe(4);

    const p = await s.admin("PATCH", `/v1/watchlists/${w.id}`, { severity: null, active: false, entries: [{ kind: "hash", value: "A".repeat(64) }] });
    expect(p.status).toBe(200);
    expect((await p.json()) as any).toMatchObject({ severity: null, active: false, entry_count: 1, entries: [{ kind: "hash", value: "a".repeat(64) }] });

    expect((await s.admin("DELETE", `/v1/watchlists/${w.id}`)).status).toBe(204);
    expect((await s.get(`/v1/watchlists/${w.id}`)).status).toBe(404);
    expect((await s.admin("DELETE", `/v1/watchlists/${w.id}`)).status).toBe(404);
  });

  test("label defaults to the name; a name is unique per tenant (409)", async () => {
    const a = await body(s.admin("POST", "/v1/watchlists", { name: "vip-accounts", entries: [{ kind: "account", value: "ceo" }] }));
    expect(a.label).toBe("vip-accounts");
    const dup = await s.admin("POST", "/v1/watchlists", { name: "vip-accounts", entries: [] });
    expect(dup.status).toBe(409);
    expect(((await dup.json()) as any).error).toMatchObject({ code: "conflict", details: [{ path: "/name" }] });
    // a name that is not a tag needs a label
    const r = await s.admin("POST", "/v1/watchlists", { name: "Bad nets of 2026", entries: [] });
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).error.details[0].path).toBe("/label");
  });

  test("every bad entry is named by its index and nothing is stored", async () => {
    const before = (await body(s.get("/v1/watchlists"))).items.length;
    const r = await s.admin("POST", "/v1/watchlists", {
      name: "broken",
      entries: [
        { kind: "cidr", value: "10.0.0.0/8" },
        { kind: "cidr", value: "10.0.0.0/33" },
        { kind: "hash", value: "abc123" },
        { kind: "domain", value: "not a domain" },
        { kind: "email", value: "nobody" },
      ],
    });
    expect(r.status).toBe(422);
    const e = ((await r.json()) as any).error;
    expect(e.code).toBe("invalid_body");
    expect(e.message).toContain("4 invalid entries");
    expect(e.details.map((d: any) => [d.index, d.path])).toEqual([
      [1, "/entries/1/value"],
      [2, "/entries/2/value"],
      [3, "/entries/3/value"],
      [4, "/entries/4/value"],
    ]);
    expect(e.details[0].message).toContain("not a CIDR");
    expect(e.details[1].message).toContain("32, 40 or 64 hex");
    expect((await body(s.get("/v1/watchlists"))).items.length).toBe(before);
  });

  test("schema errors: unknown kind, bad severity, unknown field, missing entries", async () => {
    for (const [b, path] of [
      [{ name: "x", entries: [{ kind: "ip", value: "1.2.3.4" }] }, "/entries/0/kind"],
      [{ name: "x", severity: "urgent", entries: [] }, "/severity"],
      [{ name: "x", entries: [], colour: "red" }, "/colour"],
      [{ name: "x" }, "/entries"],
    ] as const) {
      const r = await s.admin("POST", "/v1/watchlists", b);
      expect(r.status).toBe(422);
      const e = ((await r.json()) as any).error;
      expect(e.details.map((d: any) => d.path)).toContain(path);
    }
  });

  test("a bad PATCH changes nothing", async () => {
    const w = await body(s.admin("POST", "/v1/watchlists", { name: "patchme", entries: [{ kind: "domain", value: "a.example" }] }));
    const r = await s.admin("PATCH", `/v1/watchlists/${w.id}`, { entries: [{ kind: "cidr", value: "1.2.3.4/40" }] });
    expect(r.status).toBe(422);
    expect((await body(s.get(`/v1/watchlists/${w.id}`))).entries).toEqual([{ kind: "domain", value: "a.example" }]);
    expect((await s.admin("PATCH", "/v1/watchlists/wl_nope", { active: false })).status).toBe(404);
  });

  test("scopes: read lists, admin changes, ingest neither; no key is 401", async () => {
    expect((await req("POST", "/v1/watchlists", s.keys.read, { name: "r", entries: [] })).status).toBe(403);
    expect((await s.get("/v1/watchlists", s.keys.ingest)).status).toBe(403);
    const noKey = await fetch(s.url + "/v1/watchlists");
    expect(noKey.status).toBe(401);
    expect(noKey.headers.get("www-authenticate")).toContain("Bearer");
  });

  test("another tenant sees none of them", async () => {
    const t2 = await s.deps.store.tenants.createTenant("t2-watch");
    const k2 = (await s.deps.store.keys.createKey({ tenantId: t2.id, name: "k", scopes: ["admin"] })).key;
    expect((await body(s.get("/v1/watchlists", k2))).items).toEqual([]);
    const mine = (await body(s.get("/v1/watchlists"))).items[0];
    expect((await s.get(`/v1/watchlists/${mine.id}`, k2)).status).toBe(404);
  });
});

describe("/v1/enrichers", () => {
  const ok = { name: "intel", indicator_types: ["ip", "domain"], url_template: "https://intel.example/lookup/{{type}}/{{value}}" };

  test("create, list, update, delete (admin only: headers hold API keys)", async () => {
    const c = await s.admin("POST", "/v1/enrichers", { ...ok, headers: { Authorization: "Bearer s3cret" }, timeout: 2.5 });
    expect(c.status).toBe(201);
    const e = (await c.json()) as any;
    expect(e).toMatchObject({ name: "intel", indicator_types: ["ip", "domain"], timeout: 2.5, active: true, headers: { Authorization: "Bearer s3cret" } });
    expect((await body(s.get("/v1/enrichers", s.keys.admin))).items.map((x: any) => x.id)).toEqual([e.id]);
    expect((await s.get("/v1/enrichers", s.keys.read)).status).toBe(403);
    const p = await s.admin("PATCH", `/v1/enrichers/${e.id}`, { active: false, timeout: 1 });
    expect((await p.json()) as any).toMatchObject({ active: false, timeout: 1 });
    expect((await s.admin("POST", "/v1/enrichers", ok)).status).toBe(409);
    expect((await s.admin("DELETE", `/v1/enrichers/${e.id}`)).status).toBe(204);
    expect((await s.get(`/v1/enrichers/${e.id}`, s.keys.admin)).status).toBe(404);
  });

  test("bad templates, types, headers and timeouts are 422 naming the field; nothing stored", async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ url_template: "https://intel.example/ip/" }, "/url_template", "{{value}}"],
      [{ url_template: "https://{{value}}.intel.example/" }, "/url_template", "host"],
      [{ url_template: "ftp://intel.example/{{value}}" }, "/url_template", "http"],
      [{ url_template: "https://intel.example/{{token}}/{{value}}" }, "/url_template", "placeholder"],
      [{ url_template: "https://user:pw@intel.example/{{value}}" }, "/url_template", "credentials"],
      [{ indicator_types: ["ipv4"] }, "/indicator_types/0", ""],
      [{ indicator_types: [] }, "/indicator_types", ""],
      [{ headers: { "Bad Header": "x" } }, "/headers", "not a valid header name"],
      [{ timeout: 120 }, "/timeout", ""],
    ];
    for (const [patch, path, words] of cases) {
      const r = await s.admin("POST", "/v1/enrichers", { ...ok, name: "bad", ...patch });
      expect(r.status).toBe(422);
      const e = ((await r.json()) as any).error;
      expect(e.details[0].path).toBe(path);
      if (words) expect(e.message).toContain(words);
    }
    expect((await body(s.get("/v1/enrichers", s.keys.admin))).items).toEqual([]);
  });
});
