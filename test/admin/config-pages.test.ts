// The admin's configuration pages in a real browser against a real server: a source's signature
// setting (the secret never shown again, only masked) and URL tokens (shown once, work, revoked);
// a watchlist created, edited and refused with a bad CIDR; an enricher created and deleted.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { json, startTestServer, type TestServer } from "../helpers";
import { horizontalOverflow, launch, logIn, newPage, shot } from "./browser";

setDefaultTimeout(20_000);

let s: TestServer;
let browser: Browser;
let page: Page;
const SECRET = "shared-secret-for-generic-0123456789";

beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
  browser = await launch();
  page = await newPage(browser);
  // revoke, remove and delete ask first (test/admin/daily.test.ts checks that dismissing sends nothing)
  page.on("dialog", (d) => void d.accept());
  await logIn(page, s.url, s.keys.admin);
});

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

const postWithToken = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ title: "Via URL token", severity: "high" }) });

describe("sources page", () => {
  test("the list shows every source with its route; a source's page shows its field mapping", async () => {
    await page.click('nav a[href="/admin/sources"]');
    expect(await page.textContent("h1")).toBe("Sources");
    const row = page.locator("#sources tbody tr", { hasText: "/v1/ingest/generic" });
    expect(await row.count()).toBe(1);
    // the full URL, with where this server is reached
    expect(await row.locator("code.url").textContent()).toBe(`${s.url}/v1/ingest/generic`);
    await row.locator("a").click();
    await page.waitForURL(/\/admin\/sources\/generic$/);
    expect(await page.textContent("#source-title")).toBe("generic");
    expect(await page.locator("#fields tbody tr").count()).toBeGreaterThan(0);
    expect(await page.textContent("#sig-origin")).toContain("default");
  });

  test("set the signature setting: the secret is shown masked afterwards, never whole; an empty secret keeps it", async () => {
    await page.selectOption('#signature-form select[name="scheme"]', "shared-secret");
    await page.fill('#signature-form input[name="secret"]', SECRET);
    await page.click('#signature-form button:has-text("Save")');
    await page.waitForURL(/done=updated/);
    expect(await page.textContent("#sig-scheme")).toBe("shared-secret");
    expect(await page.textContent("#sig-origin")).toContain("tenant");
    expect(await page.textContent("#sig-secret")).toBe("…" + SECRET.slice(-4));
    expect(await page.content()).not.toContain(SECRET);
    // change the header only: the stored secret is kept
    expect(await page.inputValue('#signature-form input[name="header"]')).toBe("X-Webhook-Secret");
    await page.fill('#signature-form input[name="header"]', "X-Shared-Secret");
    await page.click('#signature-form button:has-text("Save")');
    await page.waitForURL(/done=updated/);
    const st = await json(s.admin("GET", "/v1/sources/generic/settings"));
    expect([st.scheme, st.header, st.secret]).toEqual(["shared-secret", "X-Shared-Secret", "…" + SECRET.slice(-4)]);
    expect(await page.content()).not.toContain(SECRET);
    // a bad secret (too short) is refused with the reason, and nothing changes
    await page.fill('#signature-form input[name="secret"]', "short");
    await page.click('#signature-form button:has-text("Save")');
    expect(await page.textContent("p.error")).toContain("secret");
    expect((await json(s.admin("GET", "/v1/sources/generic/settings"))).secret).toBe("…" + SECRET.slice(-4));
    await page.goto(`${s.url}/admin/sources/generic`);
    await shot(page, "20-source-signature");
  });

  test("create a URL token: shown once with its URL, it ingests (202); revoked, it is refused (401)", async () => {
    await page.fill('input[name="name"]', "generic-prod");
    await page.click('button:has-text("Create URL token")');
    const token = (await page.textContent("#new-token"))!;
    const url = (await page.textContent("#new-token-url"))!;
    // created with a redirect: the address is the source's page, and the row it landed on has the token
    expect(new URL(page.url()).pathname).toBe("/admin/sources/generic");
    expect(token).toStartWith("kwt_");
    expect(url).toBe(`${s.url}/v1/ingest/generic?token=${token}`);
    await shot(page, "21-source-token-created");
    expect((await postWithToken(url, { "X-Shared-Secret": SECRET })).status).toBe(202);
    // a GET shows it masked only
    await page.goto(`${s.url}/admin/sources/generic`);
    expect(await page.content()).not.toContain(token);
    const row = page.locator("#tokens tbody tr", { hasText: "generic-prod" });
    expect(await row.locator(".badge").textContent()).toBe("active");
    expect(await row.locator("time").count()).toBe(2); // created and last used
    await row.locator('button:has-text("Revoke")').click();
    await page.waitForURL(/done=token_revoked/);
    expect(await page.textContent("p.flash")).toBe("URL token revoked.");
    expect(await page.locator("#tokens tbody tr", { hasText: "generic-prod" }).locator(".badge").textContent()).toBe("revoked");
    expect((await postWithToken(url, { "X-Shared-Secret": SECRET })).status).toBe(401);
  });

  test("remove the tenant's setting: no verification applies again", async () => {
    await page.click('button:has-text("Remove this tenant")');
    await page.waitForURL(/done=setting_removed/);
    expect(await page.textContent("#sig-origin")).toContain("default");
    expect((await json(s.admin("GET", "/v1/sources/generic/settings"))).scheme).toBe("none");
  });
});

describe("watchlists page", () => {
  test("create a watchlist with a CIDR and a domain entry", async () => {
    await page.click('nav a[href="/admin/watchlists"]');
    await page.fill('form.stack input[name="name"]', "scanners");
    await page.selectOption('form.stack select[name="severity"]', "high");
    await page.fill('form.stack textarea[name="entries"]', "cidr 203.0.113.0/24 # scanner range\ndomain evil.example");
    await page.click('form.stack button:has-text("Create")');
    await page.waitForURL(/\/admin\/watchlists\/wl_[0-9A-Z]+\?done=created$/);
    expect(await page.textContent("#watchlist-title")).toBe("scanners");
    expect(await page.textContent("#entry-count")).toBe("2");
    const w = (await json(s.admin("GET", "/v1/watchlists"))).items[0];
    const full = await json(s.admin("GET", `/v1/watchlists/${w.id}`));
    expect(full.entries).toEqual([{ kind: "cidr", value: "203.0.113.0/24", comment: "scanner range" }, { kind: "domain", value: "evil.example" }]);
    expect([full.severity, full.active, full.tag]).toEqual(["high", true, "watchlist:scanners"]);
  });

  test("a bad CIDR is refused with its line and the reason, and nothing changes", async () => {
    await page.fill('form.stack textarea[name="entries"]', "cidr 203.0.113.0/24\ndomain evil.example\ncidr 10.0.0.300/8");
    await page.click('form.stack button:has-text("Save")');
    const err = (await page.textContent("p.error"))!;
    expect(err).toContain("line 3");
    // the form is back with what was typed and the error next to the entries
    expect(await page.inputValue('form.stack textarea[name="entries"]')).toBe("cidr 203.0.113.0/24\ndomain evil.example\ncidr 10.0.0.300/8");
    expect(await page.textContent("#field-error")).toContain("line 3");
    const w = (await json(s.admin("GET", "/v1/watchlists"))).items[0];
    expect(w.entry_count).toBe(2);
    await shot(page, "22-watchlist-error");
  });

  test("edit it: add an entry, deactivate, activate, and delete it", async () => {
    await page.fill('form.stack textarea[name="entries"]', "cidr 203.0.113.0/24\ndomain evil.example\ndomain bad.example");
    await page.click('form.stack button:has-text("Save")');
    await page.waitForURL(/done=updated/);
    expect(await page.textContent("#entry-count")).toBe("3");
    expect(await page.inputValue('form.stack textarea[name="entries"]')).toBe("cidr 203.0.113.0/24\ndomain evil.example\ndomain bad.example");
    await page.click('button:has-text("Deactivate")');
    await page.waitForURL(/done=updated/);
    expect(await page.textContent("h1 .badge")).toBe("inactive");
    await page.click('button:has-text("Activate")');
    await page.waitForURL(/done=updated/);
    expect(await page.textContent("h1 .badge")).toBe("active");
    await shot(page, "23-watchlist");
    await page.click('button:has-text("Delete")');
    await page.waitForURL(/\/admin\/watchlists\?done=deleted$/);
    expect((await json(s.admin("GET", "/v1/watchlists"))).items).toEqual([]);
  });
});

describe("enrichers page", () => {
  const KEY = "intel-api-key-0123456789abcdef";

  test("create an enricher: its header value is shown masked", async () => {
    await page.click('nav a[href="/admin/enrichers"]');
    await page.fill('form.stack input[name="name"]', "intel");
    await page.check('form.stack input[name="indicator_types"][value="ip"]');
    await page.check('form.stack input[name="indicator_types"][value="domain"]');
    await page.fill('form.stack input[name="url_template"]', "https://intel.example/lookup/{{type}}/{{value}}");
    await page.fill('form.stack textarea[name="headers"]', `X-Api-Key: ${KEY}`);
    await page.click('form.stack button:has-text("Create")');
    await page.waitForURL(/\/admin\/enrichers\/enr_[0-9A-Z]+\?done=created$/);
    expect(await page.textContent("#enricher-title")).toBe("intel");
    expect(await page.textContent("#headers")).toBe("X-Api-Key: …" + KEY.slice(-4));
    expect(await page.content()).not.toContain(KEY);
    await page.click('nav a[href="/admin/enrichers"]');
    expect(await page.content()).not.toContain(KEY);
    expect(await page.locator("#enrichers tbody tr", { hasText: "intel" }).textContent()).toContain("X-Api-Key: …");
    await shot(page, "24-enrichers");
    const e = (await json(s.admin("GET", "/v1/enrichers"))).items[0];
    expect([e.indicator_types, e.headers, e.timeout]).toEqual([["ip", "domain"], { "X-Api-Key": KEY }, 5]);
  });

  test("edit without typing headers keeps them; then delete it", async () => {
    await page.locator("#enrichers a", { hasText: "intel" }).click();
    await page.fill('form.stack input[name="timeout"]', "2.5");
    await page.click('form.stack button:has-text("Save")');
    await page.waitForURL(/done=updated/);
    const e = (await json(s.admin("GET", "/v1/enrichers"))).items[0];
    expect([e.timeout, e.headers]).toEqual([2.5, { "X-Api-Key": KEY }]);
    await page.click('button:has-text("Delete")');
    await page.waitForURL(/\/admin\/enrichers\?done=deleted$/);
    expect((await json(s.admin("GET", "/v1/enrichers"))).items).toEqual([]);
  });

  test("the new pages are readable on a phone", async () => {
    const phone = await newPage(browser, { width: 375, height: 800 });
    await logIn(phone, s.url, s.keys.admin);
    for (const p of ["/admin/sources", "/admin/sources/generic", "/admin/watchlists", "/admin/enrichers"]) {
      await phone.goto(s.url + p);
      expect({ p, overflow: await horizontalOverflow(phone) }).toEqual({ p, overflow: 0 });
    }
    await shot(phone, "25-source-phone");
    await phone.context().close();
  });
});

describe("hostile names on the new pages", () => {
  test("names, comments, header values and token names are shown escaped", async () => {
    const IMG = `"><img src=x onerror="window.__pwned=1">`;
    const SCRIPT = "<script>window.__pwned=1</script>";
    const wl = await json(s.admin("POST", "/v1/watchlists", { name: `wl ${IMG}${SCRIPT}`, label: "evil", entries: [{ kind: "domain", value: "evil.example", comment: `${SCRIPT}${IMG}` }] }));
    const en = await json(
      s.admin("POST", "/v1/enrichers", { name: `en ${IMG}${SCRIPT}`, indicator_types: ["ip"], url_template: `https://intel.example/{{value}}?q=${encodeURIComponent(IMG)}`, headers: { "X-Evil": `${SCRIPT}${IMG}` } }),
    );
    expect((await s.admin("POST", "/v1/sources/generic/tokens", { name: `tok ${IMG}${SCRIPT}` })).status).toBe(201);
    for (const p of ["/admin/watchlists", `/admin/watchlists/${wl.id}`, "/admin/enrichers", `/admin/enrichers/${en.id}`, "/admin/sources/generic"]) {
      await page.goto(s.url + p);
      expect({ p, pwned: await page.evaluate(() => (globalThis as any).__pwned ?? null) }).toEqual({ p, pwned: null });
      expect({ p, injected: await page.locator("main img, main script").count() }).toEqual({ p, injected: 0 });
      expect(await page.textContent("main")).toContain(IMG);
    }
    await page.goto(`${s.url}/admin/watchlists/${wl.id}`);
    expect(await page.inputValue('textarea[name="entries"]')).toBe(`domain evil.example # ${SCRIPT}${IMG}`);
  });
});
