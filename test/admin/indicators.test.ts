// The admin's indicators page in a real browser: a custom mapping made through the form applies to
// the next event, the event page links its indicators to the pivot page, which lists the event and
// its alert; the test tool shows what each pass found; a bad path is refused and changes nothing.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { json, startTestServer, type TestServer } from "../helpers";
import { launch, logIn, newPage, shot } from "./browser";

setDefaultTimeout(20_000);

let s: TestServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  s = await startTestServer();
  browser = await launch();
  page = await newPage(browser);
  await logIn(page, s.url, s.keys.admin);
});

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

test("a mapping made in the form applies to the next event; its indicator links to the pivot page", async () => {
  await page.click('nav a[href="/admin/indicators"]');
  expect(await page.textContent("h1")).toBe("Indicators");
  await page.selectOption('#mapping-form select[name="source"]', "generic");
  await page.fill('#mapping-form input[name="path"]', "details.client.addr");
  await page.selectOption('#mapping-form select[name="type"]', "ip");
  await page.click('#mapping-form button:has-text("Add mapping")');
  await page.waitForURL(/done=created/);
  expect(await page.locator("#mappings tbody tr", { hasText: "details.client.addr" }).count()).toBe(1);

  const r = await json(s.post("/v1/ingest/generic", { title: "Login from a new country", severity: "High", details: { client: { addr: "203.0.113.77" } } }));
  await page.goto(`${s.url}/admin/events/${r.ids[0]}`);
  const link = page.locator("#indicators a", { hasText: "203.0.113.77" });
  expect(await link.count()).toBe(1);
  expect(await page.locator("#indicators tr", { hasText: "203.0.113.77" }).textContent()).toContain("custom");
  await link.click();
  await page.waitForURL(/\/admin\/indicators\/ip\/203\.0\.113\.77$/);
  expect(await page.textContent("#pivot-title")).toContain("203.0.113.77");
  expect(await page.locator("#pivot-events tbody tr", { hasText: "Login from a new country" }).count()).toBe(1);
  expect(await page.locator("#pivot-alerts tbody tr", { hasText: "Login from a new country" }).count()).toBe(1);
  await shot(page, "30-indicator-pivot");
  // the alert's page lists its indicators with their enrichment (203.0.113.0/24 is a documentation range)
  const alertId = (await json(s.get(`/v1/indicators/ip/203.0.113.77`))).alerts[0].id;
  for (let i = 0; i < 100 && (await json(s.get(`/v1/alerts/${alertId}`))).enrichment_status === "pending"; i++) await Bun.sleep(50);
  await page.locator("#pivot-alerts a", { hasText: "Login from a new country" }).click();
  await page.waitForSelector("#enrichment");
  const row = page.locator("#enrichment tr", { hasText: "203.0.113.77" });
  expect(await row.textContent()).toContain("documentation");
  expect(await row.locator(`a[href="/admin/indicators/ip/203.0.113.77"]`).count()).toBe(1);
});

test("the find form opens the pivot of a URL value (slashes and all)", async () => {
  const url = "https://evil.example/path/x?q=1";
  await json(s.post("/v1/ingest/generic", { title: "Beacon", indicators: [{ type: "url", value: url }] }));
  await page.goto(`${s.url}/admin/indicators`);
  await page.selectOption('form[action="/admin/indicators/find"] select[name="type"]', "url");
  await page.fill('form[action="/admin/indicators/find"] input[name="value"]', url);
  await page.click('form[action="/admin/indicators/find"] button');
  await page.waitForSelector("#pivot-title");
  expect(await page.textContent("#pivot-title")).toContain(url);
  expect(await page.locator("#pivot-events tbody tr", { hasText: "Beacon" }).count()).toBe(1);
});

test("the test tool shows each pass; a bad path and a non-JSON payload are refused and change nothing", async () => {
  await page.goto(`${s.url}/admin/indicators`);
  await page.selectOption('#test-form select[name="source"]', "generic");
  await page.fill('#test-form textarea[name="payload"]', JSON.stringify({ title: "t", src_ip: "198.51.100.9", details: { client: { addr: "203.0.113.8" } }, user: "not an ip" }));
  await page.click('#test-form button:has-text("Test")');
  const result = page.locator("#test-result");
  expect(await result.locator("tr", { hasText: "198.51.100.9" }).textContent()).toContain("system");
  expect(await result.locator("tr", { hasText: "203.0.113.8" }).textContent()).toContain("custom");
  await shot(page, "31-indicator-test");

  await page.fill('#test-form textarea[name="payload"]', "{not json");
  await page.click('#test-form button:has-text("Test")');
  expect(await page.textContent("#field-error")).toContain("not JSON");
  expect(await page.inputValue('#test-form textarea[name="payload"]')).toBe("{not json");

  const before = (await json(s.get("/v1/indicator-mappings"))).items.length;
  await page.fill('#mapping-form input[name="path"]', "a..b");
  await page.click('#mapping-form button:has-text("Add mapping")');
  expect(await page.content()).toContain("path");
  expect((await json(s.get("/v1/indicator-mappings"))).items.length).toBe(before);
});
