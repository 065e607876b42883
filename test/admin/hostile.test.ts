// Everything a sender controls is shown escaped: titles, tags, sources, payload keys and values,
// webhook receivers' answers (status text, headers, bodies) and heartbeat ping bodies. The browser
// must run none of it (window.__pwned stays unset), the markup must stay intact (no injected
// elements, tables keep their rows and columns), and very long unbroken strings must wrap instead
// of widening the page, on a desktop and on a phone-sized viewport. The CSP would block inline
// script anyway, so the structural checks are what prove the escaping.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { json, startTestServer, type TestServer } from "../helpers";
import { startReceiver, until, type Receiver } from "../webhooks/receiver";
import { horizontalOverflow, launch, logIn, newPage, shot } from "./browser";

const SCRIPT = "<script>window.__pwned=1</script>";
const IMG = `"><img src=x onerror="window.__pwned=1">`;
const JS_URL = "javascript:window.__pwned=1";
const LONG = "A".repeat(3000);
const LONG_NAME = "B".repeat(250);
const ALERT_TITLE = `${SCRIPT}${IMG} alert ${"C".repeat(900)}`; // titles are at most 1024 characters

// bounded, with room for a loaded 2-core CI machine
setDefaultTimeout(20_000);

let s: TestServer;
let browser: Browser;
let receiver: Receiver;
let webhookId = "";
let heartbeatId = "";

beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
  receiver = startReceiver(
    () => new Response(`${SCRIPT}${IMG}${LONG}`, { status: 500, headers: { "x-evil": IMG, "content-type": "text/html" } }),
  );
  const w = await json(s.admin("POST", "/v1/webhooks", { url: receiver.url, name: `hook ${IMG}`, triggers: ["event.received"], retry: { max_attempts: 1, initial_interval: 0.1, max_interval: 0.1 } }));
  webhookId = w.id;
  const events = [
    { type: "evil.script", module: "x", source: `${SCRIPT}src`, summary: `${SCRIPT} title`, severity: "high", tags: [SCRIPT, IMG, JS_URL], payload: { [SCRIPT]: IMG, link: JS_URL, [IMG]: LONG } },
    { type: "evil.img", module: "x", source: `${IMG}`, summary: `${IMG} second`, severity: "critical", tags: [LONG_NAME], payload: { url: JS_URL, nested: { [JS_URL]: [SCRIPT, IMG] } } },
    { type: LONG_NAME, module: "x", source: LONG_NAME, summary: LONG, severity: "low", host: LONG_NAME, payload: { long: LONG } },
    { type: "evil.url", module: "x", source: "javascript:alert(1)", summary: JS_URL, severity: "info", payload: {} },
  ];
  expect((await s.post("/api/v1/events", events)).status).toBe(202);
  expect((await s.post("/v1/ingest/generic", { title: ALERT_TITLE, source: IMG, tags: [SCRIPT] })).status).toBe(202);
  const hb = await json(s.admin("POST", "/v1/heartbeats", { name: `hb ${IMG}`, period: 3600 }));
  heartbeatId = hb.id;
  await fetch(hb.ping_url, { method: "POST", body: `${SCRIPT}${IMG}${LONG}` });
  // four events and the alert's event: five messages, each failing once
  await receiver.waitFor(5, 5_000);
  await until(async () => (await json(s.admin("GET", `/v1/webhooks/${w.id}/deliveries?status=failed`))).items.length === 5, 5_000, "failed deliveries");
  browser = await launch();
}, 15_000);

afterAll(async () => {
  await browser?.close();
  receiver?.stop();
  await s?.close();
});

/** Nothing ran, nothing was injected, nothing sticks out sideways. */
async function intact(page: Page, what: string) {
  expect(await page.evaluate(() => (globalThis as any).__pwned)).toBeUndefined();
  // runs in the browser (no DOM lib in the test typecheck: the document comes through globalThis)
  const shape = await page.evaluate(() => {
    const d = (globalThis as any).document;
    const all = (sel: string): any[] => [...d.querySelectorAll(sel)];
    return {
      scripts: all("script").map((e) => e.getAttribute("src")),
      imgs: all("img").length,
      handlers: all("[onerror], [onload], [onclick]").length,
      jsLinks: all("a").filter((a) => (a.getAttribute("href") ?? "").trim().toLowerCase().startsWith("javascript:")).length,
      h1: all("h1").length,
    };
  });
  // only our own scripts: the overview adds its chart library and the script that draws the charts
  const scripts = what === "overview" ? ["/admin/assets/admin.js", "/admin/assets/uplot.js", "/admin/assets/overview.js"] : ["/admin/assets/admin.js"];
  expect({ what, ...shape }).toEqual({ what, scripts, imgs: 0, handlers: 0, jsLinks: 0, h1: 1 });
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
}

for (const viewport of [{ width: 1200, height: 900, name: "desktop" }, { width: 390, height: 844, name: "phone" }]) {
  test(`hostile content is shown as text on every page (${viewport.name})`, async () => {
    const page = await newPage(browser, viewport);
    const dialogs: string[] = [];
    page.on("dialog", (d) => (dialogs.push(d.message()), d.dismiss()));
    await logIn(page, s.url, s.keys.admin);
    await intact(page, "overview");

    await page.goto(s.url + "/admin/events");
    await intact(page, "events");
    // one row per event, seven cells each: the markup was not broken open
    const cells = await page.$$eval("#events tbody tr", (rows) => rows.map((r) => r.children.length));
    expect(cells).toEqual([7, 7, 7, 7, 7]); // four events and the alert's
    // the hostile strings appear literally, as text
    expect(await page.locator("#events").textContent()).toContain(SCRIPT);
    expect(await page.locator("#events").textContent()).toContain(IMG);
    await shot(page, `hostile-events-${viewport.name}`);

    for (const title of [`${SCRIPT} title`, `${IMG} second`, LONG]) {
      await page.goto(s.url + "/admin/events");
      // the link whose text is this title (titles are cut at 1024 characters)
      const href = await page.$$eval("#events tbody a", (as, t) => as.find((a) => t.startsWith(a.textContent!))?.getAttribute("href"), title);
      expect(href).toMatch(/^\/admin\/events\/[0-9A-Z]{26}$/);
      await page.goto(s.url + href);
      expect(title).toStartWith((await page.textContent("#event-title"))!);
      await intact(page, `event ${title.slice(0, 20)}`);
    }
    // the last one opened holds the 3000-character summary; the first one the hostile payload keys
    await page.goto(s.url + "/admin/events");
    await page.locator("#events tbody a", { hasText: `${SCRIPT} title` }).click();
    expect(await page.locator("pre").first().textContent()).toContain(JSON.stringify(SCRIPT));
    await shot(page, `hostile-event-${viewport.name}`);

    await page.goto(s.url + "/admin/alerts");
    await intact(page, "alerts");
    await page.locator("#alerts tbody a").first().click();
    await intact(page, "alert");
    expect(await page.textContent("#alert-title")).toBe(ALERT_TITLE);

    await page.goto(`${s.url}/admin/heartbeats/${heartbeatId}`);
    await intact(page, "heartbeat");
    expect(await page.locator("#pings pre").first().textContent()).toBe(`${SCRIPT}${IMG}${LONG}`);

    await page.goto(s.url + "/admin/webhooks");
    await intact(page, "webhooks");
    await page.goto(`${s.url}/admin/webhooks/${webhookId}`);
    await intact(page, "webhook");
    expect(await page.locator("#deliveries tbody tr").count()).toBe(5);
    expect(await page.textContent("main")).toContain(`"x-evil": ${JSON.stringify(IMG)}`);
    await shot(page, `hostile-webhook-${viewport.name}`);

    // filters echo what was typed, escaped, in the input's value
    await page.goto(`${s.url}/admin/events?q=${encodeURIComponent(IMG)}`);
    await intact(page, "filtered events");
    expect(await page.inputValue('input[name="q"]')).toBe(IMG);
    // full-text search: the second event and the alert's by their text, the first by its payload
    expect(await page.locator("#events tbody tr").count()).toBe(3);

    expect(dialogs).toEqual([]);
    await page.context().close();
  });
}
