// /v1/keys (admin API) and the Keys page: create shows the key once (and it works), revoke stops
// it at once, rotate keeps the old key working for the overlap; tenants never see each other's keys.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { event, json, startTestServer, type TestServer } from "../helpers";
import { launch, logIn, newPage, shot } from "./browser";

setDefaultTimeout(20_000);

let s: TestServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  s = await startTestServer();
});

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

const ingest = (key: string) => s.post("/api/v1/events", event(), { key });

describe("/v1/keys", () => {
  test("create returns the key once; list shows prefixes and states, never hashes or keys", async () => {
    const r = await s.admin("POST", "/v1/keys", { name: "ci sender", scopes: ["ingest"], sources: ["events"], expires_in: 86400 });
    expect(r.status).toBe(201);
    const k = (await r.json()) as any;
    expect(k.key).toMatch(/^kw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(k.key.slice(3, 15)).toBe(k.prefix);
    expect([k.name, k.scopes, k.sources, k.state]).toEqual(["ci sender", ["ingest"], ["events"], "active"]);
    expect(Date.parse(k.expires_at) - Date.now()).toBeGreaterThan(86_000_000);
    expect((await ingest(k.key)).status).toBe(202);
    const listed = await (await s.admin("GET", "/v1/keys")).text();
    expect(listed).not.toContain(k.key);
    expect(listed).not.toContain('"hash"');
    const items = JSON.parse(listed).items;
    expect(items.find((x: any) => x.id === k.id)).toMatchObject({ prefix: k.prefix, state: "active" });
    expect(items.find((x: any) => x.id === k.id).key).toBeUndefined();
  });

  test("bad input is a 422 naming the field, and creates nothing", async () => {
    const before = (await json(s.admin("GET", "/v1/keys"))).items.length;
    for (const body of [{ name: "x", scopes: ["root"] }, { name: "", scopes: ["read"] }, { name: "x", scopes: [] }, { name: "x", scopes: ["read"], expires_in: 5 }, { name: "x", scopes: ["read"], tenant_id: "t2" }]) {
      const r = await s.admin("POST", "/v1/keys", body);
      expect(r.status).toBe(422);
      expect(((await r.json()) as any).error.details.length).toBeGreaterThan(0);
    }
    expect((await json(s.admin("GET", "/v1/keys"))).items.length).toBe(before);
  });

  test("revoke stops a key at once; the calling key cannot revoke itself", async () => {
    const k = await json(s.admin("POST", "/v1/keys", { name: "short-lived", scopes: ["ingest"] }));
    const r = await s.admin("POST", `/v1/keys/${k.id}/revoke`);
    expect(r.status).toBe(200);
    expect(((await r.json()) as any).state).toBe("revoked");
    expect((await ingest(k.key)).status).toBe(401);
    expect((await s.admin("POST", `/v1/keys/${k.id}/revoke`)).status).toBe(409);
    const self = (await s.deps.auth.verify(s.keys.admin)).row.id;
    const own = await s.admin("POST", `/v1/keys/${self}/revoke`);
    expect(own.status).toBe(409);
    expect(((await own.json()) as any).error.message).toContain("the key you are using");
    expect((await s.admin("GET", "/v1/keys")).status).toBe(200);
  });

  test("rotate: a new key with the same settings; the old one keeps working for the overlap", async () => {
    const k = await json(s.admin("POST", "/v1/keys", { name: "rotating", scopes: ["ingest", "read"] }));
    const r = await s.admin("POST", `/v1/keys/${k.id}/rotate`);
    expect(r.status).toBe(201);
    const n = (await r.json()) as any;
    expect(n.key).not.toBe(k.key);
    expect([n.scopes, n.rotated_from, n.previous.state]).toEqual([["ingest", "read"], k.id, "rotated"]);
    expect(Date.parse(n.previous.expires_at) - Date.now()).toBeGreaterThan(23 * 3_600_000);
    expect((await ingest(n.key)).status).toBe(202);
    expect((await ingest(k.key)).status).toBe(202);
  });

  test("only admin keys, only their own tenant", async () => {
    expect((await s.get("/v1/keys", s.keys.read)).status).toBe(403);
    expect((await s.get("/v1/keys", null)).status).toBe(401);
    const t2 = await s.deps.store.tenants.createTenant("t2-keys");
    const admin2 = await s.key(["admin"], { tenantId: t2.id });
    const mine = await json(s.admin("POST", "/v1/keys", { name: "tenant one's", scopes: ["read"] }));
    const as2 = (method: string, path: string) => fetch(s.url + path, { method, headers: { "x-api-key": admin2 } });
    const list2 = (await json(as2("GET", "/v1/keys"))).items;
    expect(list2.map((x: any) => x.name)).toEqual(["test"]);
    expect((await as2("POST", `/v1/keys/${mine.id}/revoke`)).status).toBe(404);
    expect((await as2("POST", `/v1/keys/${mine.id}/rotate`)).status).toBe(404);
    expect((await s.get("/v1/alerts", mine.key)).status).toBe(200);
  });
});

describe("Keys page", () => {
  test("create a key (shown once, and it works), rotate it, revoke it", async () => {
    browser = await launch();
    page = await newPage(browser);
    await logIn(page, s.url, s.keys.admin);
    await page.click('nav a[href="/admin/keys"]');
    expect(await page.textContent("h1")).toBe("Keys");
    expect(await page.locator("#keys tr", { hasText: "(this session)" }).locator("button", { hasText: "Revoke" }).count()).toBe(0);
    await page.fill('form.stack input[name="name"]', "backup job");
    await page.click('form.stack button:has-text("Create key")');
    const key = (await page.textContent("#new-key"))!;
    expect(key).toMatch(/^kw_[0-9a-f]{12}_/);
    expect(await page.textContent("p.flash, div.flash")).toContain("shown only once");
    expect((await ingest(key)).status).toBe(202);
    await shot(page, "11-keys-created");
    // a reload shows only the prefix
    await page.goto(s.url + "/admin/keys");
    expect(await page.locator("#new-key").count()).toBe(0);
    const row = page.locator("#keys tbody tr", { hasText: "backup job" });
    expect(await row.textContent()).toContain(`kw_${key.slice(3, 15)}_…`);
    // rotate and revoke ask first (the dialog is accepted here; a dismissed one sends nothing)
    const asked: string[] = [];
    page.on("dialog", (d) => {
      asked.push(d.message());
      void d.accept();
    });
    await row.locator('button:has-text("Rotate")').click();
    const rotated = (await page.textContent("#new-key"))!;
    expect(asked[0]).toContain("Rotate");
    expect(new URL(page.url()).pathname).toBe("/admin/keys");
    // the replaced key says it was rotated (no "late", no second Rotate)
    const old = page.locator("#keys tbody tr", { hasText: "backup job" }).first();
    expect(await old.locator("td.state").innerText()).toMatch(/^rotated works until /);
    expect(await old.locator('button:has-text("Rotate")').count()).toBe(0);
    expect(rotated).not.toBe(key);
    expect((await ingest(rotated)).status).toBe(202);
    expect((await ingest(key)).status).toBe(202); // the overlap
    await page.goto(s.url + "/admin/keys");
    const newest = page.locator("#keys tbody tr", { hasText: "backup job" }).last();
    await newest.locator('button:has-text("Revoke")').click();
    await page.waitForURL(/done=revoked/);
    expect(asked[1]).toContain("Revoke");
    expect(await page.textContent("p.flash")).toBe("Key revoked.");
    expect((await ingest(rotated)).status).toBe(401);
    await shot(page, "12-keys");
  });
});
