// The admin page for daily use (issue 13), in Chromium against a real server and real local
// receivers. The class tests walk every form the pages offer (found by crawling them, so a new
// form is walked without being listed here):
// - every state-changing form answers with a redirect, and reloading the page it lands on is a
//   GET that changes nothing; a one-time secret is shown there once and never in the URL;
//   every dangerous action asks first, and dismissing the question sends nothing;
// - every create/edit form refused for a bad value comes back with the error on the form, next
//   to the field, and everything typed kept; nothing changes.
// Then: webhook health for success, failure (HTTP 500 and an unresolvable host) and never sent;
// send test; keys edit and rotation; the rule builder, hit counts and the dry-run table; the
// sources page's URLs and counts; the layout (no word split, no 1,120 px cap, the phone width);
// screenshots of these pages at desktop and phone width into docs/screenshots/.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page, Response as PwResponse } from "playwright-core";
import { json, startTestServer, type TestServer } from "../helpers";
import { startReceiver, until, type Receiver } from "../webhooks/receiver";
import { horizontalOverflow, launch, logIn, newPage, saveShot } from "./browser";

setDefaultTimeout(120_000);

const DOCS = join(import.meta.dir, "..", "..", "docs", "screenshots");
mkdirSync(DOCS, { recursive: true });

let s: TestServer;
let browser: Browser;
let page: Page;
let ok: Receiver;
let down: Receiver;
/** what the dialog handler does: accept, or dismiss (and count) */
let dialogs = { accept: true, seen: [] as string[] };
const postsSent: string[] = [];

const ULID = /[0-9A-HJKMNP-TV-Z]{26}/g;
/** A form's action with the ids taken out: one entry per kind of form. */
const pattern = (action: string) => action.replace(/\b[a-z]+_[0-9A-HJKMNP-TV-Z]{26}\b/g, ":id").replace(/(msg|batch)_[0-9A-Za-z]+/g, ":id").replace(ULID, ":id");
/** POSTs that only show something (reveal, dry runs): they change nothing, so they need no redirect. */
const READ_ONLY = [/\/reveal$/, /^\/admin\/rules(\/:id)?#do=test/, /^\/admin\/indicators\/test$/];
const DANGEROUS = /\/(delete|revoke|rotate|deactivate|pause)(#|$)|\/state#.*(state=inactive|active=off)/;

async function shot(name: string) {
  for (const [w, h, kind] of [[1440, 900, "desktop"], [390, 844, "phone"]] as const) {
    await page.setViewportSize({ width: w, height: h });
    await saveShot(page, join(DOCS, `${name}-${kind}.png`));
  }
  await page.setViewportSize({ width: 1440, height: 900 });
}

/** Waits until no delivery is in flight (the queue works after the redirect; its effects are part of the step). */
async function settle() {
  await until(async () => (await json(s.admin("GET", "/v1/webhooks"))).items.every((w: any) => w.state !== "active" || w.backlog.count === 0), 10_000, "deliveries settled");
  await Bun.sleep(50);
}

/** Everything the forms can change, read through the API (fields that move on their own left out); the reads sent together. */
async function snapshot() {
  const get = async (p: string) => json(s.admin("GET", p));
  const webhooks = (await get("/v1/webhooks")).items;
  const [keys, deliveries, secrets, rules, heartbeats, open, closed, watchlists, enrichers, mappings, tokens, generic, sentinel] = await Promise.all([
    get("/v1/keys"),
    Promise.all(webhooks.map(async (w: any) => (await get(`/v1/webhooks/${w.id}/deliveries?limit=100`)).items.map((d: any) => [d.id, d.replays ?? null]))),
    Promise.all(webhooks.map(async (w: any) => (await get(`/v1/webhooks/${w.id}/secret`)).secret)),
    get("/v1/rules"),
    get("/v1/heartbeats"),
    get("/v1/alerts?limit=500"),
    get("/v1/alerts?status=closed&limit=500"),
    get("/v1/watchlists"),
    get("/v1/enrichers"),
    get("/v1/indicator-mappings"),
    get("/v1/sources/generic/tokens"),
    get("/v1/sources/generic/settings"),
    get("/v1/sources/sentinel/settings"),
  ]);
  const out: Record<string, unknown> = {
    keys: keys.items.map(({ last_used_at: _, ...k }: any) => k),
    webhooks: webhooks.map(({ backlog: _, ...w }: any) => w),
    deliveries,
    secrets,
    rules: rules.items,
    heartbeats: heartbeats.items.map((h: any) => [h.id, h.name, h.paused ?? h.state === "paused", h.period, h.grace]),
    alerts: [...open.items, ...closed.items].map((a: any) => [a.id, a.status, a.assignee, a.updated_at]),
    watchlists: watchlists.items,
    enrichers: enrichers.items,
    mappings: mappings.items,
    tokens: tokens.items.map(({ last_used_at: _, ...t }: any) => t),
    settings: [generic, sentinel],
  };
  return out;
}

type FormEntry = { page: string; action: string; nth: number; button: number; key: string; confirm: string | null; editable: boolean };

/** The POST forms of the current page, one entry per submit button. */
async function formsHere(at: string): Promise<FormEntry[]> {
  const raw = (await page.evaluate(() => {
    const d = (globalThis as any).document;
    const seen = new Map<string, number>();
    return [...d.querySelectorAll("form")]
      .filter((f: any) => (f.getAttribute("method") ?? "get").toLowerCase() === "post" && f.getAttribute("action") !== "/admin/logout")
      .flatMap((f: any) => {
        const action = f.getAttribute("action");
        const nth = seen.get(action) ?? 0;
        seen.set(action, nth + 1);
        const hidden = [...f.querySelectorAll('input[type="hidden"]')].filter((i: any) => i.name !== "csrf").map((i: any) => `${i.name}=${i.value}`);
        const editable = [...f.querySelectorAll("input, textarea, select")].some((i: any) => !["hidden", "checkbox", "radio", "submit"].includes((i.type ?? "").toLowerCase()));
        return [...f.querySelectorAll('button[type="submit"], button:not([type])')].map((b: any, button: number) => ({
          action,
          nth,
          button,
          extra: [...hidden, ...(b.name ? [`${b.name}=${b.value}`] : [])].sort().join("&"),
          confirm: f.getAttribute("data-confirm"),
          editable,
        }));
      });
  })) as { action: string; nth: number; button: number; extra: string; confirm: string | null; editable: boolean }[];
  return raw.map((r) => ({ page: at, action: r.action, nth: r.nth, button: r.button, key: pattern(r.action) + (r.extra ? `#${r.extra}` : ""), confirm: r.confirm, editable: r.editable }));
}

const LISTS = ["/admin", "/admin/events", "/admin/alerts", "/admin/heartbeats", "/admin/webhooks", "/admin/keys", "/admin/sources", "/admin/indicators", "/admin/rules", "/admin/watchlists", "/admin/enrichers"];

/** Every page (lists and one detail page of each kind) and the forms on it. */
async function crawl(): Promise<FormEntry[]> {
  const pages = new Map<string, string>();
  for (const l of LISTS) pages.set(l, l);
  const found: FormEntry[] = [];
  const visit = async (p: string) => {
    await page.goto(s.url + p);
    found.push(...(await formsHere(p)));
    return (await page.evaluate(() => [...(globalThis as any).document.querySelectorAll("main a[href^='/admin/']")].map((a: any) => a.getAttribute("href")))) as string[];
  };
  const queue = [...LISTS];
  while (queue.length) {
    const p = queue.shift()!;
    for (const href of await visit(p)) {
      const path = href.split(/[?#]/)[0];
      if (!/^\/admin\/(alerts|heartbeats|webhooks|keys|rules|watchlists|enrichers|sources|deliveries|events)\/[^/]+$/.test(path)) continue;
      if (path.startsWith("/admin/sources/") && !/\/(generic|sentinel)$/.test(path)) continue;
      const k = pattern(path);
      if (!pages.has(k)) {
        pages.set(k, path);
        queue.push(path);
      }
    }
  }
  return found;
}

/** Fills the empty fields a form needs to be accepted. */
async function fillForSuccess(f: FormEntry, n: number) {
  const form = page.locator(`form[action="${f.action}"]`).nth(f.nth);
  const values: Record<string, string> = {
    name: `walk ${n}`,
    label: `walk-${n}`,
    url: ok.url,
    url_template: "https://intel.example/{{value}}",
    path: `details.walk${n}`,
    entries: "domain walk.example",
    assignee: "alice",
    body: "walk comment",
    payload: '{"title": "walk", "severity": "high", "details": {"addr": "203.0.113.9"}}',
    period: "3600",
    indicator_types: "ip",
  };
  for (const [name, v] of Object.entries(values)) {
    const el = form.locator(`input[name="${name}"]:not([type="hidden"]), textarea[name="${name}"]`).first();
    if ((await el.count()) && (await el.isVisible()) && (await el.inputValue()) === "") await el.fill(v);
  }
  // a choice the form needs (closing an alert takes a classification)
  const cls = form.locator('select[name="classification"]');
  if ((await cls.count()) && (await cls.inputValue()) === "") await cls.selectOption({ index: 1 });
  // a group of checkboxes of which one must be ticked (the alerts picked for a bulk action: "id")
  for (const name of ["indicator_types", "scopes", "id"]) {
    const boxes = form.locator(`input[type="checkbox"][name="${name}"]`);
    if ((await boxes.count()) && !(await boxes.evaluateAll((b: any[]) => b.some((x) => x.checked)))) await boxes.first().check();
  }
}

/** Clicks the entry's button; the response the navigation ends with. */
async function submit(f: FormEntry): Promise<PwResponse | null> {
  const form = page.locator(`form[action="${f.action}"]`).nth(f.nth);
  const [resp] = await Promise.all([page.waitForNavigation(), form.locator('button[type="submit"], button:not([type])').nth(f.button).click()]);
  return resp;
}

beforeAll(async () => {
  ok = startReceiver(() => new Response("thanks"));
  down = startReceiver(() => new Response("receiver is down", { status: 500 }));
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
  browser = await launch();
  page = await newPage(browser, { width: 1440, height: 900 });
  page.on("dialog", (d) => {
    dialogs.seen.push(d.message());
    void (dialogs.accept ? d.accept() : d.dismiss());
  });
  page.on("request", (r) => {
    if (r.method() === "POST") postsSent.push(new URL(r.url()).pathname);
  });
  await logIn(page, s.url, s.keys.admin);
  // one of everything, so that every form is on some page
  const retry = { max_attempts: 1, initial_interval: 0.1, max_interval: 0.1 };
  await s.admin("POST", "/v1/webhooks", { url: ok.url, name: "ops-ok", triggers: ["event.received"], retry });
  await s.admin("POST", "/v1/webhooks", { url: down.url, name: "ops-down", triggers: ["event.received"], retry });
  await s.admin("POST", "/v1/webhooks", { url: "http://no-such-host.invalid/hook", name: "ops-nxdomain", triggers: ["event.received"], retry });
  await s.admin("POST", "/v1/webhooks", { url: ok.url + "/quiet", name: "ops-quiet", triggers: ["heartbeat.down"] });
  expect((await s.post("/v1/ingest/generic", { title: "Brute force on vpn-1", severity: "high", source: "siem" })).status).toBe(202);
  await until(async () => (await json(s.admin("GET", "/v1/webhooks"))).items.every((w: any) => w.name === "ops-quiet" || w.backlog.count === 0), 10_000, "first deliveries settled");
  await s.admin("POST", "/v1/heartbeats", { name: "nightly-backup", period: 86400 });
  await s.admin("POST", "/v1/rules", { name: "deploys", filter: { field: "type", op: "eq", value: "deploy.failed" }, action: { kind: "tag", tags: ["deploy"] } });
  await s.admin("POST", "/v1/watchlists", { name: "scanners", entries: [{ kind: "domain", value: "evil.example" }] });
  await s.admin("POST", "/v1/enrichers", { name: "intel", indicator_types: ["ip"], url_template: "https://intel.example/{{value}}" });
  await s.admin("POST", "/v1/indicator-mappings", { source: "generic", path: "details.addr", type: "ip" });
  await s.admin("PUT", "/v1/sources/generic/settings", { scheme: "shared-secret", secret: "generic-secret-0123456789abcdef" });
  await s.admin("POST", "/v1/sources/generic/tokens", { name: "generic-prod" });
  await s.admin("POST", "/v1/keys", { name: "ci deploy key", scopes: ["ingest"] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.close();
  ok?.stop();
  down?.stop();
});

describe("webhooks tell the truth", () => {
  test("health for success, failure (HTTP 500, unresolvable host), never sent and inactive, in the list and on each page", async () => {
    await page.goto(`${s.url}/admin/webhooks`);
    const health = async (name: string) => (await page.locator("#webhooks tr", { hasText: name }).locator("td.health").innerText()).trim();
    expect(await health("ops-ok")).toMatch(/^succeeded last HTTP 200, /);
    expect(await health("ops-down")).toMatch(/^failing 1 attempt failed in a row, 1 message given up; last: HTTP 500 /);
    expect(await health("ops-nxdomain")).toMatch(/^failing 1 attempt failed in a row, 1 message given up; last: \S/);
    expect(await health("ops-nxdomain")).not.toContain("HTTP");
    expect(await health("ops-quiet")).toBe("never sent");
    for (const [name, cls] of [["ops-ok", "st-succeeded"], ["ops-down", "st-failing"], ["ops-nxdomain", "st-failing"], ["ops-quiet", "st-never"]])
      expect({ name, cls: await page.locator("#webhooks tr", { hasText: name }).locator("td.health .badge").getAttribute("class") }).toEqual({ name, cls: `badge ${cls}` });
    await shot("webhooks");
    const quiet = (await json(s.admin("GET", "/v1/webhooks"))).items.find((w: any) => w.name === "ops-quiet");
    await s.admin("PATCH", `/v1/webhooks/${quiet.id}`, { state: "inactive" });
    await page.reload();
    expect(await health("ops-quiet")).toMatch(/^inactive /);
    await s.admin("PATCH", `/v1/webhooks/${quiet.id}`, { state: "active" });
  });

  test("send test: a real webhook.test message through the queue, listed with its status code and duration, opening its request and response", async () => {
    const w = (await json(s.admin("GET", "/v1/webhooks"))).items.find((x: any) => x.name === "ops-quiet");
    const got = ok.got.length;
    await page.goto(`${s.url}/admin/webhooks/${w.id}`);
    expect(await page.textContent("#health")).toContain("never sent");
    await page.click('button:has-text("Send test")');
    await page.waitForURL(/done=test_sent/);
    await ok.waitFor(got + 1, 5_000);
    const body = JSON.parse(ok.got[got].body);
    expect(body.type).toBe("webhook.test");
    expect(body.data.webhook_id).toBe(w.id);
    await until(async () => (await page.reload(), (await page.textContent("#health"))!.startsWith("succeeded")), 5_000, "test delivered");
    const row = page.locator("#deliveries tbody tr").first();
    expect(await row.locator("code.token").textContent()).toBe("webhook.test");
    expect((await row.locator("td.status-code").innerText()).trim()).toBe("200");
    expect(await row.locator("td.duration").innerText()).toMatch(/^\d+ ms$/);
    await row.locator("a").first().click();
    await page.waitForURL(/\/admin\/deliveries\//);
    expect(await page.locator(".request-body").first().textContent()).toContain('"type":"webhook.test"');
    expect(await page.locator(".response-body").first().textContent()).toBe("thanks");
    await shot("webhook-delivery");
    await page.goBack();
    await shot("webhook-detail");
  });

  test("the edit form changes every setting the API has", async () => {
    const w = (await json(s.admin("GET", "/v1/webhooks"))).items.find((x: any) => x.name === "ops-quiet");
    await page.goto(`${s.url}/admin/webhooks/${w.id}`);
    const f = page.locator("form#edit");
    await f.locator('input[name="name"]').fill("ops-quiet-2");
    await f.locator('input[name="url"]').fill(ok.url + "/v2");
    await f.locator('input[name="triggers"]').fill("alert.* heartbeat.down");
    await f.locator('select[name="filters_min_severity"]').selectOption("high");
    await f.locator('input[name="filters_sources"]').fill("siem, vpn");
    await f.locator('input[name="filters_tags"]').fill("prod");
    await f.locator('select[name="mode"]').selectOption("batched");
    await f.locator('input[name="interval"]').fill("30");
    await f.locator('input[name="max_batch"]').fill("25");
    await f.locator('input[name="rate_limit"]').fill("5");
    await f.locator('input[name="timeout"]').fill("3");
    await f.locator('input[name="ordered"]').check();
    await f.locator('input[name="retry_max_attempts"]').fill("4");
    await f.locator('input[name="retry_initial_interval"]').fill("2");
    await f.locator('input[name="retry_max_interval"]').fill("60");
    await f.locator('input[name="backlog_cap"]').fill("500");
    await f.locator('select[name="backlog_policy"]').selectOption("refuse_newest");
    await f.locator('textarea[name="headers"]').fill("X-Team: ops");
    await f.locator('button:has-text("Save")').click();
    await page.waitForURL(/done=updated/);
    const after = await json(s.admin("GET", `/v1/webhooks/${w.id}`));
    expect(after).toMatchObject({
      name: "ops-quiet-2",
      url: ok.url + "/v2",
      triggers: ["alert.*", "heartbeat.down"],
      filters: { min_severity: "high", sources: ["siem", "vpn"], tags: ["prod"] },
      mode: "batched",
      interval: 30,
      max_batch: 25,
      rate_limit: 5,
      timeout: 3,
      ordered: true,
      retry: { max_attempts: 4, initial_interval: 2, max_interval: 60 },
      backlog_cap: 500,
      backlog_policy: "refuse_newest",
    });
    expect((await json(s.admin("GET", `/v1/webhooks/${w.id}/headers`))).headers).toEqual({ "X-Team": "ops" });
    // the form shows what is stored: saved again unchanged, nothing moves
    const before = await json(s.admin("GET", `/v1/webhooks/${w.id}`));
    await page.locator('form#edit button:has-text("Save")').click();
    await page.waitForURL(/done=updated/);
    const { updated_at: _a, backlog: _b, ...same } = await json(s.admin("GET", `/v1/webhooks/${w.id}`));
    const { updated_at: _c, backlog: _d, ...was } = before;
    expect(same).toEqual(was);
  });
});

describe("keys", () => {
  test("edit name, sources and rate; a rotated key says so (no 'late', no second Rotate); long names wrap", async () => {
    const k = await json(s.admin("POST", "/v1/keys", { name: "edge box", scopes: ["ingest"] }));
    await page.goto(`${s.url}/admin/keys/${k.id}`);
    const long = "a key for the very long named nightly reporting pipeline of the finance department eu-west";
    await page.fill('input[name="name"]', long);
    await page.fill('input[name="sources"]', "generic, events");
    await page.fill('input[name="rate_limit"]', "2.5");
    await page.fill('input[name="rate_burst"]', "20");
    await page.click('button:has-text("Save")');
    await page.waitForURL(/done=updated/);
    expect(await json(s.admin("GET", `/v1/keys/${k.id}`))).toMatchObject({ name: long, sources: ["generic", "events"], rate_limit: 2.5, rate_burst: 20, scopes: ["ingest"] });
    // empty fields go back to the defaults
    await page.fill('input[name="sources"]', "");
    await page.fill('input[name="rate_limit"]', "");
    await page.fill('input[name="rate_burst"]', "");
    await page.click('button:has-text("Save")');
    await page.waitForURL(/done=updated/);
    expect(await json(s.admin("GET", `/v1/keys/${k.id}`))).toMatchObject({ name: long, sources: null, rate_limit: null, rate_burst: null });
    await page.goto(`${s.url}/admin/keys`);
    await page.locator("#keys tr", { hasText: long }).locator('button:has-text("Rotate")').click();
    const rows = page.locator("#keys tbody tr", { hasText: long });
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).locator("td.state").innerText()).toMatch(/^rotated works until \d{4}-/);
    expect(await rows.nth(0).locator('button:has-text("Rotate")').count()).toBe(0);
    expect(await rows.nth(1).locator("td.state").innerText()).toBe("active");
    expect(await page.locator("#keys .badge", { hasText: "late" }).count()).toBe(0);
    // every state badge says its state once ("active", not "active active")
    for (const t of await page.locator("#keys td.state").allInnerTexts()) expect(t).toMatch(/^(active|revoked|expired|rotated works until .+)$/);
    // the API refuses a second rotation of the replaced key
    expect((await s.admin("POST", `/v1/keys/${k.id}/rotate`)).status).toBe(409);
    // the long name wraps inside its cell, between words
    const box = await rows.nth(0).locator("td.name").boundingBox();
    expect(box!.width).toBeLessThan(500);
    expect(await horizontalOverflow(page)).toBe(0);
    await shot("keys");
  });
});

describe("rules", () => {
  test("the builder makes a filter without JSON, the list reads it as text, hits are counted, the dry run is a table", async () => {
    await page.goto(`${s.url}/admin/rules`);
    const f = page.locator('form[action="/admin/rules"]');
    await f.locator('input[name="name"]').fill("paging deploys");
    await f.locator('select[name="match"]').selectOption("any");
    const fields = f.locator('input[name="cond_field"]');
    const ops = f.locator('select[name="cond_op"]');
    const vals = f.locator('input[name="cond_value"]');
    await fields.nth(0).fill("type");
    await ops.nth(0).selectOption("eq");
    await vals.nth(0).fill("deploy.failed");
    await fields.nth(1).fill("severity");
    await ops.nth(1).selectOption("gte");
    await vals.nth(1).fill("high");
    await fields.nth(2).fill("payload.env");
    await ops.nth(2).selectOption("in");
    await vals.nth(2).fill("prod, prod-eu");
    await f.locator('textarea[name="action"]').fill('{"kind": "tag", "tags": ["paging"]}');
    // the dry run first: a table of the matching events
    for (const e of [
      { type: "deploy.failed", module: "ci", source: "gha", summary: "api deploy", severity: "low", payload: {} },
      { type: "disk.full", module: "ops", source: "node", summary: "disk", severity: "critical", payload: {} },
      { type: "cert.expiring", module: "ops", source: "acme", summary: "cert", severity: "info", payload: { env: "prod-eu" } },
      { type: "login.ok", module: "iam", source: "sso", summary: "login", severity: "info", payload: { env: "dev" } },
    ])
      expect((await s.post("/api/v1/events", e)).status).toBe(202);
    await f.locator('button:has-text("Test (stores nothing)")').click();
    // the generic alert from the setup is high: it matches too
    expect(await page.textContent("#test-summary")).toMatch(/^4 of \d+ events matched/);
    expect(await page.locator("#test-events tbody tr").count()).toBe(4);
    expect(await page.locator("#test-events tbody").innerText()).not.toContain("login.ok");
    expect(await page.textContent("#test-filter")).toBe('type = "deploy.failed" or severity ≥ "high" or payload.env in ["prod","prod-eu"]');
    await shot("rule-test");
    await page.locator('form[action="/admin/rules"] button:has-text("Create")').click();
    await page.waitForURL(/\/admin\/rules\/[0-9A-Z]{26}\?done=created$/);
    const rule = (await json(s.admin("GET", "/v1/rules"))).items.find((r: any) => r.name === "paging deploys");
    expect(rule.filter).toEqual({ any: [{ field: "type", op: "eq", value: "deploy.failed" }, { field: "severity", op: "gte", value: "high" }, { field: "payload.env", op: "in", value: ["prod", "prod-eu"] }] });
    // reopened, the builder shows the rows again
    expect(await page.inputValue('input[name="cond_field"] >> nth=2')).toBe("payload.env");
    expect(await page.inputValue('input[name="cond_value"] >> nth=2')).toBe("prod, prod-eu");
    expect(await page.isChecked('input[name="filter_mode"][value="builder"]')).toBe(true);
    // hits: counted as events arrive
    expect(await page.textContent("#hits .hits")).toBe("0");
    expect((await s.post("/api/v1/events", [{ type: "deploy.failed", module: "ci", source: "gha", summary: "again", severity: "low" }, { type: "x.y", module: "m", source: "s", summary: "no", severity: "info" }])).status).toBe(202);
    await page.reload();
    expect(await page.textContent("#hits .hits")).toBe("1");
    await page.goto(`${s.url}/admin/rules`);
    const row = page.locator("#rules tr", { hasText: "paging deploys" });
    expect(await row.locator("code.filter-text").textContent()).toBe('type = "deploy.failed" or severity ≥ "high" or payload.env in ["prod","prod-eu"]');
    expect(await row.locator(".hits").textContent()).toBe("1");
    await shot("rules");
    // a nested filter is not for the builder: the page opens it as JSON
    const nested = await json(s.admin("POST", "/v1/rules", { name: "nested", filter: { all: [{ any: [{ field: "host", op: "prefix", value: "db-" }] }, { not: { field: "tags", op: "contains", value: "noise" } }] }, action: { kind: "suppress" } }));
    await page.goto(`${s.url}/admin/rules/${nested.id}`);
    expect(await page.isChecked('input[name="filter_mode"][value="json"]')).toBe(true);
    expect(await page.textContent("code.filter-text")).toBe('host starts with "db-" and not (tags contains "noise")');
  });
});

describe("sources", () => {
  test("per source: the full copyable URL (public URL), events in the last 24 h, when it last received", async () => {
    await page.goto(`${s.url}/admin/sources`);
    const generic = page.locator('#sources tr[data-source="generic"]');
    expect(await generic.locator("code.url").textContent()).toBe(`${s.url}/v1/ingest/generic`);
    const n = Number(await generic.locator(".count-24h").textContent());
    expect(n).toBe((await json(s.admin("GET", "/v1/events?source_name=generic&limit=500"))).items.filter((e: any) => e.source_name === "generic").length);
    expect(n).toBeGreaterThanOrEqual(1);
    expect(await generic.locator(".last-received").innerText()).toMatch(/^\d+ (s|min) ago$/);
    expect(await page.locator('#sources tr[data-source="splunk"] .last-received').innerText()).toBe("never");
    expect(await page.locator('#sources tr[data-source="splunk"] .count-24h').innerText()).toBe("0");
    await shot("sources");
    await page.goto(`${s.url}/admin/sources/generic`);
    expect(await page.textContent("#source-url")).toBe(`${s.url}/v1/ingest/generic`);
    await shot("source-detail");
  });

  test("with --public-url the URLs start with it", async () => {
    const other = await startTestServer({ publicUrl: "https://keepwatch.example.com/kw" });
    try {
      const p = await newPage(browser);
      await logIn(p, other.url, other.keys.admin);
      await p.goto(`${other.url}/admin/sources`);
      expect(await p.locator('#sources tr[data-source="grafana"] code.url').textContent()).toBe("https://keepwatch.example.com/kw/v1/ingest/grafana");
      await p.context().close();
    } finally {
      await other.close();
    }
  });
});

describe("layout", () => {
  test("no token splits inside a word, pages use a wide screen, the phone width has no sideways scroll, the favicon loads", async () => {
    await page.setViewportSize({ width: 1600, height: 900 });
    for (const p of ["/admin/webhooks", "/admin/keys", "/admin/rules", "/admin/sources"]) {
      await page.goto(s.url + p);
      // a header cell, a badge, a type token: one line each (a split word is a second line)
      const split = await page.evaluate(() => {
        const d = (globalThis as any).document;
        // the lines a text occupies: the distinct tops of its text's boxes
        const lines = (e: any) => {
          const r = d.createRange();
          r.selectNodeContents(e);
          return new Set([...r.getClientRects()].map((b: any) => Math.round(b.top))).size;
        };
        return [...d.querySelectorAll("th, .badge, code.token")].filter((e: any) => e.textContent.trim() && lines(e) > 1).map((e: any) => e.textContent);
      });
      expect({ p, split }).toEqual({ p, split: [] });
      const width = await page.evaluate(() => (globalThis as any).document.querySelector("main").getBoundingClientRect().width);
      expect({ p, wide: width > 1400 }).toEqual({ p, wide: true });
    }
    await page.setViewportSize({ width: 390, height: 844 });
    for (const p of ["/admin/webhooks", "/admin/keys", "/admin/rules", "/admin/sources", "/admin/sources/generic"]) {
      await page.goto(s.url + p);
      expect({ p, overflow: await horizontalOverflow(page) }).toEqual({ p, overflow: 0 });
    }
    await page.setViewportSize({ width: 1440, height: 900 });
    const icon = await page.evaluate(() => (globalThis as any).document.querySelector('link[rel="icon"]').href);
    const r = await fetch(icon);
    expect([r.status, r.headers.get("content-type")]).toEqual([200, "image/svg+xml"]);
  });
});

// The walks last: they change and delete what the tests above look at.
describe("every form, walked", () => {
  const walked = new Map<string, string>();
  /** where the walk is: forms stepped so far, the crawl round, what that round has left, and whether it is over */
  const at = { n: 0, round: 0, todo: [] as FormEntry[], over: false };

  /**
   * Walks the next `max` forms (every form, found by crawling: each round crawls every page and
   * walks the forms not walked yet, until a round finds none or after 6 rounds). The walk is split
   * over several tests, each well inside its time bound on both stores; together they walk every
   * form, as one walk did (it took 98 s on SQLite and 113 s on PostgreSQL alone, against 120 s).
   */
  async function walkSome(max: number): Promise<void> {
    let stepped = 0;
    while (!at.over) {
      if (at.todo.length === 0) {
        if (at.round >= 6) {
          at.over = true;
          break;
        }
        at.round++;
        const all = await crawl();
        const todo = [...new Map(all.filter((f) => !walked.has(f.key)).map((f) => [f.key, f])).values()];
        if (todo.length === 0) {
          at.over = true;
          break;
        }
        // the destructive ones last, so that the rest still have their resource
        todo.sort((a, b) => Number(/\/(delete|revoke)$/.test(pattern(a.action))) - Number(/\/(delete|revoke)$/.test(pattern(b.action))));
        at.todo = todo;
      }
      if (stepped >= max) break;
      const f = at.todo.shift()!;
      if (walked.has(f.key)) continue;
      stepped++;
      await walkOne(f, ++at.n);
    }
  }

  /** One form: asks first when dangerous (and a dismissed question sends nothing), redirects, and a reload changes nothing. */
  async function walkOne(f: FormEntry, n: number): Promise<void> {
    await page.goto(s.url + f.page);
    const here = (await formsHere(f.page)).find((x) => x.key === f.key);
    if (!here) return; // gone with an earlier step: found again next round if it still exists
    // a dangerous action says what it will do before it does it
    if (DANGEROUS.test(f.key)) expect({ form: f.key, confirm: here.confirm }).toEqual({ form: f.key, confirm: expect.stringMatching(/\?/) });
    await fillForSuccess(here, n);
    if (here.confirm) {
      const before = await snapshot();
      const posts = postsSent.length;
      dialogs = { accept: false, seen: [] };
      await page.locator(`form[action="${here.action}"]`).nth(here.nth).locator('button[type="submit"], button:not([type])').nth(here.button).click();
      await Bun.sleep(150);
      expect({ form: f.key, asked: dialogs.seen.length, posted: postsSent.length - posts }).toEqual({ form: f.key, asked: 1, posted: 0 });
      expect(await snapshot()).toEqual(before);
      dialogs = { accept: true, seen: [] };
    }
    const before = await snapshot();
    const resp = await submit(here);
    const readOnly = READ_ONLY.some((r) => r.test(f.key));
    if (readOnly) {
      expect({ form: f.key, status: resp?.status() }).toEqual({ form: f.key, status: 200 });
      expect({ form: f.key, state: await snapshot() }).toEqual({ form: f.key, state: before });
      walked.set(f.key, "read-only");
      return;
    }
    // post/redirect/get: the POST answered 303 and the page shown came from a GET
    const req = resp!.request();
    const refused = resp!.status() === 200 ? null : await page.locator("p.error").first().textContent();
    expect({ form: f.key, method: req.method(), from: req.redirectedFrom()?.method(), status: resp!.status(), refused }).toEqual({ form: f.key, method: "GET", from: "POST", status: 200, refused: null });
    await settle();
    const changed = await snapshot();
    // a one-time secret is on the page it landed on, never in its address
    const once = await page.locator("#one-time code").allTextContents();
    for (const secret of once) expect(page.url()).not.toContain(secret);
    const again = await page.reload();
    expect({ form: f.key, reload: again!.request().method() }).toEqual({ form: f.key, reload: "GET" });
    expect({ form: f.key, state: await snapshot() }).toEqual({ form: f.key, state: changed });
    if (once.length) expect({ form: f.key, shownAgain: await page.locator("#one-time").count() }).toEqual({ form: f.key, shownAgain: 0 });
    walked.set(f.key, once.length ? "redirect + one-time" : "redirect");
  }

  const WHAT = "every state-changing form redirects; reloading where it lands is a GET that changes nothing; dangerous ones ask first, and a dismissed question sends nothing";
  /** forms per part: each part well inside its bound (about 2 s a form on PostgreSQL on this shared machine) */
  const PART = 12;
  for (let part = 1; part <= 4; part++) test(`${WHAT} (part ${part}: the next ${PART} forms)`, () => walkSome(PART));

  test(`${WHAT} (the rest of the walk); it reached the forms of every area`, async () => {
    await walkSome(Infinity);
    expect(at.over).toBe(true);
    console.log(`the walk: ${at.n} forms stepped in ${at.round} crawl rounds, ${walked.size} kinds walked`);
    // the walk reached the forms of every area (keys named here are a floor, not the list)
    const keys = [...walked.keys()];
    for (const k of [
      "/admin/keys",
      "/admin/keys/:id",
      "/admin/keys/:id/rotate",
      "/admin/keys/:id/revoke",
      "/admin/webhooks",
      "/admin/webhooks/:id",
      "/admin/webhooks/:id/test",
      "/admin/webhooks/:id/rotate",
      "/admin/webhooks/:id/delete",
      "/admin/deliveries/:id/replay",
      "/admin/rules#do=save",
      "/admin/rules/:id#do=save",
      "/admin/rules/:id/delete",
      "/admin/sources/generic/settings",
      "/admin/sources/generic/tokens",
      "/admin/watchlists",
      "/admin/enrichers",
      "/admin/indicators/mappings",
      "/admin/heartbeats",
      "/admin/alerts/:id/comment",
    ])
      expect({ k, walked: keys.includes(k) }).toEqual({ k, walked: true });
    expect(keys.length).toBeGreaterThanOrEqual(35);
  });

  test("without JavaScript the dangerous actions still work (no question, the form posts)", async () => {
    const ctx = await browser.newContext({ javaScriptEnabled: false });
    const p = await ctx.newPage();
    p.setDefaultTimeout(5_000);
    await logIn(p, s.url, s.keys.admin);
    const k = await json(s.admin("POST", "/v1/keys", { name: "no-js key", scopes: ["read"] }));
    await p.goto(`${s.url}/admin/keys/${k.id}`);
    await p.click('button:has-text("Revoke")');
    await p.waitForURL(/done=revoked/);
    expect((await json(s.admin("GET", `/v1/keys/${k.id}`))).state).toBe("revoked");
    await ctx.close();
  });
});

describe("a refused form keeps everything typed", () => {
  /** For each editable form: a bad value for one field. Forms whose every value is accepted (a
   *  free-text optional name capped by maxlength) are named in NO_BAD_VALUE with the reason. */
  const BAD: Record<string, [string, string]> = {
    "/admin/keys": ["expires_days", "soon"],
    "/admin/keys/:id": ["rate_limit", "fast"],
    "/admin/webhooks": ["triggers", "Not A Trigger"],
    "/admin/webhooks/:id": ["timeout", "slow"],
    "/admin/rules#do=save": ["cond_field", "no such field"],
    "/admin/rules#do=test": ["cond_field", "no such field"],
    "/admin/rules/:id#do=save": ["cond_field", "no such field"],
    "/admin/rules/:id#do=test": ["cond_field", "no such field"],
    "/admin/heartbeats": ["period", "soon"],
    "/admin/heartbeats/:id": ["period", "soon"],
    "/admin/watchlists": ["entries", "cidr 10.0.0.300/8"],
    "/admin/watchlists/:id": ["entries", "cidr 10.0.0.300/8"],
    "/admin/enrichers": ["timeout", "slow"],
    "/admin/enrichers/:id": ["timeout", "slow"],
    "/admin/indicators/mappings": ["path", "details..addr"],
    "/admin/indicators/test": ["payload", "{not json"],
    "/admin/sources/generic/settings": ["tolerance", "soon"],
    "/admin/sources/sentinel/settings": ["tolerance", "soon"],
    "/admin/alerts/:id/comment": ["body", "   "],
  };
  const NO_BAD_VALUE: Record<string, string> = {
    "/admin/sources/generic/tokens": "one optional name, any text up to maxlength",
    "/admin/sources/sentinel/tokens": "one optional name, any text up to maxlength",
    "/admin/alerts/:id/assign": "any assignee is accepted (empty unassigns)",
    "/admin/alerts/:id/status": "two selects with only valid choices",
    // the bulk form's only refusal is an empty selection (test/admin/oncall.test.ts walks it)
    "/admin/alerts/bulk#action=acknowledge&back=": "a button and the picked alerts; nothing typed",
    "/admin/alerts/bulk#action=close&back=": "a select with only valid choices and the picked alerts",
    "/admin/alerts/bulk#action=assign&back=": "any assignee is accepted (empty unassigns)",
  };

  test("every create/edit form, refused: the error on the form and next to its field, every value as typed, nothing changed", async () => {
    const all = await crawl();
    const forms = [...new Map(all.filter((f) => f.editable).map((f) => [f.key, f])).values()];
    expect(forms.length).toBeGreaterThanOrEqual(15);
    const done: string[] = [];
    for (const f of forms) {
      if (f.key in NO_BAD_VALUE) continue;
      const bad = BAD[f.key];
      expect({ form: f.key, hasBadValue: !!bad }).toEqual({ form: f.key, hasBadValue: true });
      await page.goto(s.url + f.page);
      const form = () => page.locator(`form[action="${f.action}"]`).nth(f.nth);
      // every free-text field gets a distinctive value (with characters that need escaping), the bad one its bad value
      const texts = form().locator('input:not([type]), input[type="text"], input[type="url"], input:not([type="hidden"]):not([type="checkbox"]):not([type="radio"]):not([type="password"]):not([type="number"]), textarea');
      const count = await texts.count();
      for (let i = 0; i < count; i++) {
        const el = texts.nth(i);
        if (!(await el.isVisible())) continue;
        const name = (await el.getAttribute("name"))!;
        if (name === bad[0]) continue;
        if (["name", "title", "assignee", "summary"].includes(name)) await el.fill(`kept ${name} <&"'> ✓`);
        else if (name === "label") await el.fill("kept-label");
        else if (name === "url" && (await el.inputValue()) === "") await el.fill(`${ok.url}/kept?a=1&b=%22x%22`);
        else if (name === "url_template" && (await el.inputValue()) === "") await el.fill("https://intel.example/{{value}}?kept=1&x=<y>");
      }
      const target = form().locator(`[name="${bad[0]}"]`).first();
      if (bad[0] === "tolerance") await form().locator('select[name="scheme"]').selectOption("grafana");
      await target.fill(bad[1]);
      if (bad[0] === "cond_field") await form().locator('input[name="filter_mode"][value="builder"]').check();
      const typed = await readValues(f);
      const before = await snapshot();
      // (a browser-side check that stops the post, such as an empty required field, fails here with the form's name)
      const resp = await submit(f).catch((e) => {
        throw new Error(`${f.key}: the form was not sent (${(e as Error).message.split("\n")[0]})`);
      });
      expect({ form: f.key, status: resp!.status() }).toEqual({ form: f.key, status: 422 });
      expect({ form: f.key, error: await page.locator("#form-error").count() }).toEqual({ form: f.key, error: 1 });
      // the message sits next to the field it is about
      const next = await page.evaluate(() => {
        const e = (globalThis as any).document.getElementById("field-error");
        return e?.previousElementSibling?.getAttribute("name") ?? null;
      });
      expect({ form: f.key, fieldWithError: next }).toEqual({ form: f.key, fieldWithError: bad[0] });
      expect({ form: f.key, values: await readValues(f) }).toEqual({ form: f.key, values: typed });
      expect({ form: f.key, state: await snapshot() }).toEqual({ form: f.key, state: before });
      done.push(f.key);
    }
    expect(done.length).toBeGreaterThanOrEqual(12);
    await page.goto(`${s.url}/admin/keys`);
    await page.fill('form[action="/admin/keys"] input[name="name"]', "kept name");
    await page.fill('form[action="/admin/keys"] input[name="expires_days"]', "soon");
    await page.click('button:has-text("Create key")');
    await shot("form-error");
  });

  /** The values of a form's fields, in order (not hidden, not passwords). */
  async function readValues(f: FormEntry) {
    return page.evaluate(
      ([action, nth]) => {
        const form = [...(globalThis as any).document.querySelectorAll("form")].filter((x: any) => x.getAttribute("action") === action)[nth as number];
        return [...form.querySelectorAll("input, textarea, select")]
          .filter((i: any) => !["hidden", "password", "submit"].includes((i.type ?? "").toLowerCase()))
          .map((i: any) => [i.name, i.type === "checkbox" || i.type === "radio" ? i.checked : i.value]);
      },
      [f.action, f.nth] as const,
    );
  }
});
