// The Rules page: dry-run a rule over stored events, create it, see it open alerts, edit it
// (disable), and get a readable error for bad JSON without anything changing.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser } from "playwright-core";
import { json, startTestServer, type TestServer } from "../helpers";
import { launch, logIn, newPage, shot } from "./browser";

setDefaultTimeout(20_000);

let s: TestServer;
let browser: Browser;

beforeAll(async () => {
  s = await startTestServer();
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

const deploy = (service: string, env: string) => ({ type: "deploy.failed", module: "ci", source: "github-actions", summary: `deploy of ${service}`, severity: "warning", payload: { service, env } });

test("test a rule on stored events, create it, watch it open an alert, disable it", async () => {
  expect((await s.post("/api/v1/events", [deploy("api", "prod"), deploy("web", "staging"), deploy("db", "prod")])).status).toBe(202);
  const page = await newPage(browser);
  await logIn(page, s.url, s.keys.admin);
  await page.click('nav a[href="/admin/rules"]');
  expect(await page.textContent("main")).toContain("No rules yet.");
  await page.fill('form.rule-form input[name="name"]', "prod deploys");
  // the form comes with an example: deploy.failed in prod, alert "<service> deploy failed"
  await page.click('button:has-text("Test (stores nothing)")');
  expect(await page.textContent("#test-summary")).toBe("2 of 3 events matched; 2 alert(s) would open.");
  // the dry run is a table of the matching events with the alert each would open
  expect(await page.locator("#test-events tbody tr").count()).toBe(2);
  expect(await page.locator("#test-events tbody").innerText()).toContain("api deploy failed");
  expect((await json(s.admin("GET", "/v1/rules"))).items).toEqual([]);
  await shot(page, "13-rule-test");
  // a broken filter (the advanced JSON option): a clear error on the form, the name and the filter kept, nothing stored
  await page.check('input[name="filter_mode"][value="json"]');
  await page.fill('textarea[name="filter"]', "{not json");
  await page.click('button:has-text("Create")');
  expect(await page.textContent("#form-error")).toContain("filter is not valid JSON");
  expect(await page.textContent("#field-error")).toContain("filter is not valid JSON");
  expect(await page.inputValue('form.rule-form input[name="name"]')).toBe("prod deploys");
  expect(await page.inputValue('textarea[name="filter"]')).toBe("{not json");
  expect(await page.isChecked('input[name="filter_mode"][value="json"]')).toBe(true);
  expect((await json(s.admin("GET", "/v1/rules"))).items).toEqual([]);
  await page.fill('textarea[name="filter"]', JSON.stringify({ field: "payload.env", op: "eq", value: "prod" }));
  await page.click('button:has-text("Create")');
  await page.waitForURL(/\/admin\/rules\/[0-9A-Z]{26}\?done=created$/);
  expect(await page.textContent("h1")).toContain("prod deploys");
  expect((await s.post("/api/v1/events", deploy("cache", "prod"))).status).toBe(202);
  expect((await json(s.get("/v1/alerts"))).items.map((a: any) => a.title)).toEqual(["cache deploy failed"]);
  await page.uncheck('input[name="enabled"]');
  await page.click('button:has-text("Save")');
  await page.waitForURL(/done=updated/);
  expect(await page.textContent("h1 .badge")).toBe("disabled");
  expect((await json(s.admin("GET", "/v1/rules"))).items[0].enabled).toBe(false);
  await page.click('nav a[href="/admin/rules"]');
  expect(await page.locator("#rules tbody tr").count()).toBe(1);
  await page.context().close();
});
