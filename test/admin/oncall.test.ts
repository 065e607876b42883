// The on-call pages in Chromium with a controlled clock: the heartbeat list's bars of the last 30
// periods and its relative times, bulk actions on alerts (and that a reload repeats nothing), payload
// search on the events page and on GET /v1/events, the overview's charts drawn by uPlot with no CSP
// violation, and the new form's CSRF and tenant checks. Screenshots of each page at desktop and
// phone width go to docs/screenshots/oncall-*.png.
//
// On both stores. SQLite: a fake clock drives everything. PostgreSQL takes heartbeat deadlines,
// flips and pings from the database clock: there the process clock is the real one and time passes
// by moving every stored time back (test/time-travel.ts); where the page must be drawn at an exact
// instant (the bars' period boundaries, a cron's next run from a whole hour, 56 events in one
// minute) the process clock is held at that instant, never ahead of real time.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { commitHooks } from "../../src/ingest/hooks";
import { receivePing } from "../../src/store/heartbeat-transitions";
import { decodeTime } from "ulid";
import { json, startTestServer, TEST_STORE, type TestServer } from "../helpers";
import { testClock } from "../time-travel";
import { horizontalOverflow, launch, logIn, newPage, saveShot } from "./browser";

const DOCS = join(import.meta.dir, "..", "..", "docs", "screenshots");
mkdirSync(DOCS, { recursive: true });

// The clock starts on a whole hour some hours back and never runs ahead of real time before the
// last test: ids are monotonic ULIDs of the clock, and an id minted ahead of real time would make
// every later id in this process carry that time.
const H = 3_600_000;
const T0 = Math.floor(Date.now() / H) * H - 6 * H;
const utc = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
let now = T0;
/** when the events test posted its events */
let eventsAt = 0;
const PG = TEST_STORE === "postgres";
const time = testClock(TEST_STORE);
/** PostgreSQL: the process clock held at an instant (null: the real clock) */
let held: number | null = null;
const clock = PG ? () => held ?? Date.now() : () => now;
/** time passes: SQLite the fake clock, PostgreSQL the stored times */
const advance = async (ms: number) => {
  if (PG) await time.advance(ms);
  else now += ms;
};

let s: TestServer;
let browser: Browser;
let page: Page;
let phone: Page;
const violations: string[] = [];
const consoleErrors: string[] = [];
const failedLoads: string[] = [];

async function shots(path: string, name: string) {
  for (const [p, width] of [[page, "desktop"], [phone, "phone"]] as const) {
    await p.goto(s.url + path);
    await saveShot(p, join(DOCS, `oncall-${name}-${width}.png`));
    expect({ path, width, overflow: await horizontalOverflow(p) }).toEqual({ path, width, overflow: 0 });
  }
}

const FORM = { "content-type": "application/x-www-form-urlencoded" };

beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" }, clock);
  time.attach(s);
  browser = await launch();
  page = await newPage(browser);
  phone = await newPage(browser, { width: 390, height: 844 });
  for (const p of [page, phone]) {
    await p.addInitScript(() => {
      (globalThis as any).document.addEventListener("securitypolicyviolation", (e: any) => {
        (globalThis as any).__csp = [...((globalThis as any).__csp ?? []), `${e.violatedDirective} ${e.blockedURI}`];
      });
    });
    // a failed load is recorded by its URL below (the favicon is another part of issue 13)
    p.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) consoleErrors.push(m.text());
    });
    p.on("response", (r) => {
      if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) failedLoads.push(`${r.status()} ${r.url()}`);
    });
    p.on("pageerror", (e) => consoleErrors.push(String(e)));
    await logIn(p, s.url, s.keys.admin);
  }
});

afterAll(async () => {
  await browser?.close();
  await time.close();
  await s?.close();
});

describe("heartbeats list", () => {
  let upId = "";
  let downId = "";
  test("bars of the last 30 periods from the flip history, relative times with the absolute time on hover", async () => {
    const mk = async (name: string) => (await json(s.admin("POST", "/v1/heartbeats", { name, period: 3600, grace: 300 }))) as any;
    const up = await mk("nightly-backup");
    const down = await mk("billing-export");
    upId = up.id;
    downId = down.id;
    // pings at the controlled time through the store's receivePing (the HTTP ping route stamps them
    // with the real clock in the writer thread), as test/modules/heartbeat-lifecycle.test.ts does;
    // PostgreSQL: the store's ping unit, at the database clock
    const ping = async (h: any) =>
      PG ? await s.deps.store.heartbeatTransitions.ping(h.id, { kind: "success" }, 0) : receivePing(s.deps.sqlite!.db, h.id, { kind: "success" }, commitHooks, now);
    // PostgreSQL: T0 is the heartbeat's creation, moved back with the stored times; `at(x)` moves
    // them until the database's now is T0 + x (the real time the steps take is taken off)
    let t0 = Date.parse(up.created_at);
    const at = async (x: number) => {
      if (!PG) return void (now = T0 + x);
      const d = t0 + x - (await time.now());
      if (d > 0) await time.advance(d);
      t0 -= Math.max(0, d);
    };
    await ping(up);
    await ping(down);
    // 1 h 6 min later: both missed their beat (late at 1 h, down at 1 h 5 min)
    for (const t of [H + 60_000, H + 6 * 60_000]) {
      await at(t);
      await s.deps.heartbeats.sweep();
    }
    // back up at 2 h (PostgreSQL: 5 s before, so that the page's now, 3 h after the ping, is not
    // past T0 + 5 h by the time the steps took: the first period must start before the creation)
    await at(PG ? 2 * H - 5_000 : 2 * H);
    await ping(up);
    await at(PG ? 5 * H - 5_000 : 5 * H);
    await s.deps.heartbeats.sweep();
    const pingedAt = PG ? Date.parse((await json(s.get(`/v1/heartbeats/${upId}`))).last_beat_at) : T0 + 2 * H;
    // PostgreSQL: the page is drawn at 3 h after that ping, as on SQLite (T0 + 5 h)
    if (PG) held = pingedAt + 3 * H;
    const downAt = PG ? Date.parse((await json(s.get(`/v1/heartbeats/${downId}`))).down_at) : T0 + H + 5 * 60_000;
    if (PG) expect(downAt).toBe(Date.parse((await json(s.get(`/v1/heartbeats/${downId}`))).last_beat_at) + H + 5 * 60_000);

    await page.goto(s.url + "/admin/heartbeats");
    const cells = async (id: string) => page.locator(`#hb-${id} .hbar span`).evaluateAll((els) => els.map((e: any) => e.className.replace("p-", "")));
    // 30 periods of 1 h ending now (T0 + 5 h): 25 before the heartbeat existed, then up (first
    // ping), down (late at 1 h, down at 1 h 5 min), up (pinged at 2 h), down (missed 3 h, down at
    // 3 h 5 min, found by the sweep at 5 h) and down
    expect(await cells(upId)).toEqual([...Array(25).fill("none"), "up", "down", "up", "down", "down"]);
    // the other never came back: down from its second period on
    expect(await cells(downId)).toEqual([...Array(25).fill("none"), "up", "down", "down", "down", "down"]);

    const upRow = page.locator(`#hb-${upId}`);
    expect(await upRow.textContent()).toContain("last ping 3 h ago");
    expect(await upRow.textContent()).toContain("every hour");
    expect(await upRow.locator("time", { hasText: "3 h ago" }).getAttribute("title")).toBe(utc(pingedAt));
    const downRow = page.locator(`#hb-${downId}`);
    // down since the deadline (1 h + 5 min after the last ping), never a past "next deadline"
    expect(await downRow.locator("td.state").textContent()).toContain("down since 3 h ago");
    expect(await downRow.locator("td.state time").getAttribute("title")).toBe(utc(downAt));
    // no past deadline anywhere in a down heartbeat's row ("next 4 h ago")
    expect(await downRow.textContent()).not.toMatch(/next [^,]*ago/);
    expect(await upRow.textContent()).not.toMatch(/next [^,]*ago/);
    // the buttons are not broken inside a word: each is one line high
    for (const b of await page.locator("#heartbeats button").all()) expect((await b.boundingBox())!.height).toBeLessThan(40);
    expect(await downRow.locator("code[data-copy]").textContent()).toContain("/ping/");
    expect(await downRow.locator("button.copy").count()).toBe(1);
    await shots("/admin/heartbeats", "heartbeats");
    held = null;
  });

  test("a cron heartbeat shows its expression, time zone and next run in words", async () => {
    // PostgreSQL: the page drawn at the last whole hour (in the past, as on SQLite)
    if (PG) held = Math.floor(Date.now() / H) * H;
    const h = (await json(s.admin("POST", "/v1/heartbeats", { name: "every-five", cron: "*/5 * * * *", tz: "Europe/Berlin", grace: 60 }))) as any;
    await page.goto(s.url + "/admin/heartbeats");
    held = null;
    const row = page.locator(`#hb-${h.id}`);
    expect(await row.textContent()).toContain("*/5 * * * * (Europe/Berlin)");
    // the clock is on a whole hour: the next run is in 5 minutes
    expect(await row.locator("time", { hasText: /^in / }).textContent()).toBe("in 5 min");
    expect(await row.textContent()).toContain("waiting for the first ping");
    expect(await row.textContent()).toContain("never");
  });

  test("pause and resume from the list come back to the list, and a reload repeats nothing", async () => {
    await page.goto(s.url + "/admin/heartbeats");
    let asked = "";
    page.once("dialog", (d) => ((asked = d.message()), void d.accept())); // pausing asks first
    await page.locator(`#hb-${downId} button:has-text("Pause")`).click();
    await page.waitForURL((u) => u.pathname === "/admin/heartbeats" && u.search.includes("done=paused"));
    expect(await page.locator(`#hb-${downId} .badge`).textContent()).toBe("paused");
    expect(asked).toContain("Pause this heartbeat?");
    const flips = (await json(s.get(`/v1/heartbeats/${downId}/flips`, s.keys.admin))).items.length;
    await page.reload();
    expect((await json(s.get(`/v1/heartbeats/${downId}/flips`, s.keys.admin))).items.length).toBe(flips);
    await page.locator(`#hb-${downId} button:has-text("Resume")`).click();
    await page.waitForURL(/done=resumed/);
    expect(await page.locator(`#hb-${downId} .badge`).textContent()).not.toBe("paused");
  });
});

describe("alerts list", () => {
  const ids: string[] = [];
  test("open alerts by default, relative times, bulk acknowledge, close with a classification, and assign", async () => {
    for (const title of ["Disk full on db-1", "Login storm on vpn-2", "Certificate expires on www"]) {
      expect((await s.post("/v1/ingest/generic", { title, severity: "high", source: "siem" })).status).toBe(202);
      await advance(60_000);
    }
    const listed = (await json(s.get("/v1/alerts?source=siem"))).items as any[];
    for (const a of listed) ids.push(a.id);
    // (the down heartbeats above opened alerts of their own: this test looks at source siem)
    await page.goto(s.url + "/admin/alerts?source=siem");
    expect(await page.locator("#alerts tbody tr").count()).toBe(3);
    // newest last seen 1 min ago (the clock moved 1 min after the last one)
    expect(await page.locator("#alerts tbody tr").first().locator("time").textContent()).toBe("1 min ago");

    const row = (title: string) => page.locator("#alerts tbody tr", { hasText: title });
    await row("Disk full on db-1").locator('input[name="id"]').check();
    await row("Login storm on vpn-2").locator('input[name="id"]').check();
    await page.click('button[value="acknowledge"]');
    await page.waitForURL(/done=updated/);
    const status = async () => Object.fromEntries(((await json(s.get("/v1/alerts?source=siem"))).items as any[]).map((a) => [a.title, [a.status, a.classification, a.assignee]]));
    expect(await status()).toEqual({
      "Disk full on db-1": ["triaging", null, null],
      "Login storm on vpn-2": ["triaging", null, null],
      "Certificate expires on www": ["open", null, null],
    });
    // post/redirect/get: reloading the page it landed on changes nothing
    const timeline = async (id: string) => (await json(s.get(`/v1/alerts/${id}`))).timeline.length;
    const before = await Promise.all(ids.map(timeline));
    await page.reload();
    expect(await Promise.all(ids.map(timeline))).toEqual(before);

    await row("Certificate expires on www").locator('input[name="id"]').check();
    await row("Login storm on vpn-2").locator('input[name="id"]').check();
    await page.fill('.bulk-actions input[name="assignee"]', "alice");
    await page.click('button[value="assign"]');
    await page.waitForURL(/done=updated/);
    await row("Login storm on vpn-2").locator('input[name="id"]').check();
    await page.selectOption('.bulk-actions select[name="classification"]', "false_positive");
    await page.click('button[value="close"]');
    await page.waitForURL(/done=updated/);
    expect(await status()).toEqual({
      "Disk full on db-1": ["triaging", null, null],
      "Login storm on vpn-2": ["closed", "false_positive", "alice"],
      "Certificate expires on www": ["open", null, "alice"],
    });
    // the closed one left the default list; "any" shows it again
    expect(await page.locator("#alerts tbody tr").count()).toBe(2);
    await page.goto(s.url + "/admin/alerts?source=siem&status=any&assignee=alice");
    expect(await page.locator("#alerts tbody tr").count()).toBe(2);
    await page.goto(s.url + "/admin/alerts?source=siem&assignee=-");
    expect(await page.locator("#alerts tbody tr", { hasText: "Disk full on db-1" }).count()).toBe(1);
    expect(await page.locator("#alerts tbody tr", { hasText: "Certificate" }).count()).toBe(0);
    await shots("/admin/alerts?status=any", "alerts");
    await shots(`/admin/alerts/${ids[0]}`, "alert");
  });

  test("the bulk form refuses a missing CSRF token, another tenant's alert and an empty selection, and changes nothing", async () => {
    const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    const html = await (await fetch(s.url + "/admin/alerts", { headers: { cookie } })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1];
    const t2 = await s.deps.store.tenants.createTenant("t2-alerts");
    const ing2 = await s.key(["ingest"], { tenantId: t2.id });
    const rd2 = await s.key(["read"], { tenantId: t2.id });
    expect((await s.post("/v1/ingest/generic", { title: "Other tenant alert", severity: "high" }, { key: ing2 })).status).toBe(202);
    const foreign = (await json(s.get("/v1/alerts", rd2))).items[0].id;
    const snapshot = async () => JSON.stringify([(await json(s.get("/v1/alerts?limit=500"))).items, (await json(s.get("/v1/alerts", rd2))).items]);
    const before = await snapshot();
    const post = (form: Record<string, string | string[]>) => {
      const p = new URLSearchParams();
      for (const [k, v] of Object.entries(form)) for (const x of [v].flat()) p.append(k, x);
      return fetch(s.url + "/admin/alerts/bulk", { method: "POST", redirect: "manual", headers: { ...FORM, cookie }, body: p.toString() });
    };
    expect((await post({ id: ids[2], action: "close" })).status).toBe(403);
    expect((await post({ csrf: "0".repeat(64), id: ids[2], action: "close" })).status).toBe(403);
    expect((await post({ csrf, id: [ids[2], foreign], action: "close" })).status).toBe(404);
    expect((await post({ csrf, action: "close" })).status).toBe(422);
    expect((await post({ csrf, id: ids[2], action: "explode" })).status).toBe(422);
    expect((await post({ csrf, id: ids[2], action: "close", classification: "bogus" })).status).toBe(422);
    expect(await snapshot()).toBe(before);
  });
});

describe("alert detail", () => {
  test("timeline in words with the key's name under who, links to the event, and the heartbeat that opened it", async () => {
    const disk = ((await json(s.get("/v1/alerts?source=siem"))).items as any[]).find((a) => a.title === "Disk full on db-1");
    await page.goto(`${s.url}/admin/alerts/${disk.id}`);
    const status = page.locator("#timeline tr", { hasText: "open → triaging" });
    expect(await status.count()).toBe(1);
    // the session's key is named "test" (test/helpers.ts); its id is not shown
    expect(await status.locator("td").nth(2).textContent()).toBe("test");
    expect(await page.locator("#timeline").textContent()).not.toContain("key:");
    expect(await page.locator("#timeline").textContent()).not.toContain("{");
    const opened = page.locator("#timeline tr", { hasText: "opened" });
    expect(await opened.locator("td").nth(2).textContent()).toBe("keepwatch");
    await opened.locator('a[href^="/admin/events/"]').click();
    expect(await page.textContent("#event-alerts")).toContain("Disk full on db-1");

    const hbAlert = ((await json(s.get("/v1/alerts?status=open&source_name=heartbeat"))).items as any[])[0];
    await page.goto(`${s.url}/admin/alerts/${hbAlert.id}`);
    await page.click("#opened-by a");
    expect(new URL(page.url()).pathname).toMatch(/^\/admin\/heartbeats\/[0-9A-Z]{26}$/);
  });
});

describe("events", () => {
  test("payload search on the page and on GET /v1/events, host and tags columns, quick ranges and paging links", async () => {
    // PostgreSQL: the 56 events at one instant, the process clock held there (real time, not ahead)
    const E = PG ? (held = Date.now()) : (now = Math.max(now, Date.now()) + 1000);
    eventsAt = E;
    const post = (summary: string, payload: unknown, extra: Record<string, unknown> = {}) =>
      s.post("/api/v1/events", { type: "check.failed", module: "custom", source: "nightly-cron", summary, severity: "warning", payload, ...extra });
    const first = await post("disk check", { mount: "/var/lib/kestrel-store", region: "eu-west" }, { host: "db-7", tags: ["storage", "prod"] });
    expect(first.status).toBe(202);
    // PostgreSQL: the chart counts by the time the ids carry. Ids come from one monotonic factory per
    // process, and `make test` runs many files in one process: a fake clock ahead of real time in an
    // earlier file leaves the factory ahead, and every id minted after carries that time
    if (PG) eventsAt = decodeTime(((await first.json()) as { ids: string[] }).ids[0]!);
    for (let i = 0; i < 55; i++) expect((await post(`filler ${i}`, { n: i })).status).toBe(202);
    held = null;
    // the word is only in the payload
    const api = (await json(s.get("/v1/events?q=kestrel"))).items as any[];
    expect(api.map((e) => e.summary)).toEqual(["disk check"]);
    await page.goto(s.url + "/admin/events?q=kestrel");
    const rows = page.locator("#events tbody tr");
    expect(await rows.count()).toBe(1);
    expect(await rows.first().locator("td.host").textContent()).toBe("db-7");
    expect(await rows.first().locator("td.tags").textContent()).toContain("storage");
    await shots("/admin/events?q=kestrel", "events-search");
    await rows.first().locator("a").click();
    expect(await page.textContent("#event-alerts")).toContain("Not part of an alert");
    // the payload equals the raw payload's "payload" member only for the envelope; shown once per kind
    await shots(page.url().replace(s.url, ""), "event");

    // quick ranges: the last hour holds the 56 just posted (and maybe the alerts' events)
    const inHour = (await json(s.get(`/v1/events?limit=500&since=${new Date((PG ? Date.now() : now) - H).toISOString()}`))).items.length;
    expect(inHour).toBeGreaterThanOrEqual(56);
    await page.goto(s.url + "/admin/events");
    await page.click('p.quick a:has-text("last 1 h")');
    expect(page.url()).toContain("since=1h");
    expect(await rows.count()).toBe(50);
    // paging: older, then newer and first page
    await page.click("#older");
    expect(await rows.count()).toBe(inHour - 50);
    expect(await page.locator("#first-page").count()).toBe(1);
    await page.click("#newer");
    expect(await rows.count()).toBe(50);
    expect(await rows.first().textContent()).toContain("filler 54");
    await page.click("#first-page");
    expect(new URL(page.url()).searchParams.get("cursor")).toBeNull();
    // two hours later the last hour is empty
    if (PG) await advance(2 * H);
    else now = E + 2 * H;
    await page.goto(s.url + "/admin/events?since=1h");
    expect(await page.locator("#events").count()).toBe(0);
    expect((await fetch(s.url + "/admin/events?since=yesterday", { headers: { cookie: (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ") } })).status).toBe(422);
  });

  test("an event's detail links to its alert, hides empty fields and shows the payload once when it equals the raw payload", async () => {
    const r = await json(s.post("/v1/ingest/generic", { title: "Generic with alert", severity: "high" }));
    await page.goto(`${s.url}/admin/events/${r.ids[0]}`);
    expect(await page.locator("#event-alerts a").textContent()).toBe("Generic with alert");
    const labels = await page.locator("dl.fields dt").allTextContents();
    expect(labels).not.toContain("dedup key");
    expect(labels).not.toContain("warnings");
    expect(labels).not.toContain("host");
    // the generic source keeps the item as the payload: one payload section
    expect(await page.locator("h2", { hasText: "Payload" }).count()).toBe(1);
    expect(await page.locator("h2", { hasText: "Raw payload" }).count()).toBe(0);
    await page.click("#event-alerts a");
    expect(await page.textContent("#alert-title")).toBe("Generic with alert");
  });
});

describe("overview", () => {
  afterEach(() => {
    held = null;
  });
  test("charts drawn by uPlot, heartbeats down by name, newest open alerts, no CSP violation or script error", async () => {
    // PostgreSQL: drawn at an instant whose last 24 h hold the ids' time (see the events test). In
    // the full PostgreSQL pass an earlier file's fake clock left the id factory ~24 h ahead of real
    // time: past a session's 12 h, so the pages log in again at that instant
    if (PG) {
      held = Math.max(Date.now(), eventsAt + 1000);
      if (held - Date.now() > 60_000) for (const p of [page, phone]) await logIn(p, s.url, s.keys.admin);
    }
    await page.goto(s.url + "/admin");
    await page.waitForSelector("#chart-events canvas");
    await page.waitForSelector("#chart-alerts canvas");
    const series = JSON.parse((await page.getAttribute("#chart-events", "data-series"))!) as number[];
    expect(series.length).toBe(1440);
    // 56 envelope events were posted at E, 2 h before the clock's now: in E's minute bucket (the
    // chart counts by the ids' time; PostgreSQL: moving the stored times does not move ids, so
    // there E's bucket is at the real time they were posted)
    const start = Number(await page.getAttribute("#chart-events", "data-start"));
    expect(series.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(57);
    expect(series[Math.floor((eventsAt - start) / 60_000)]).toBeGreaterThanOrEqual(56);
    // billing-export was paused and resumed above; nightly-backup is down
    expect(await page.textContent("#heartbeats-bad-names")).toContain("nightly-backup");
    expect(await page.locator('#bad-heartbeats a[href^="/admin/heartbeats/"]').count()).toBeGreaterThan(0);
    expect(await page.locator("#newest-alerts tbody tr").count()).toBeGreaterThanOrEqual(2);
    expect(await page.getAttribute('meta[http-equiv="refresh"]', "content")).toBe("60");
    await shots("/admin", "overview");
    await page.waitForSelector("#chart-events canvas");
    for (const p of [page, phone]) expect(await p.evaluate(() => (globalThis as any).__csp ?? [])).toEqual([]);
    expect(violations).toEqual([]);
    expect(consoleErrors.filter((e) => /Content Security Policy|Refused/i.test(e))).toEqual([]);
    expect(consoleErrors).toEqual([]);
    // every asset the pages asked for was there (a 422 on purpose above is the only non-page answer)
    expect(failedLoads.filter((u) => !u.includes("since=yesterday"))).toEqual([]);
  });

  test("the replicas of the cluster: this server's row, alive, marked as the one serving the page, with its host, address and version", async () => {
    // the tests before moved the clock (SQLite: the fake one) by minutes at once; this replica's
    // row is refreshed once a second of real time, so it can be seconds of the moved clock old
    // (and look dead) until the next tick: refresh now, as the timer would (twice: one may have
    // been in flight with the old time)
    await s.deps.replicas.tick();
    await s.deps.replicas.tick();
    await page.goto(s.url + "/admin");
    const rows = page.locator("#replicas tbody tr");
    expect(await rows.count()).toBe(1);
    const id = s.deps.replicas.info.id;
    expect(await rows.first().getAttribute("data-replica")).toBe(id);
    const text = (await rows.first().textContent())!;
    expect(text).toContain("(this page)");
    expect(text).toContain(s.url.replace("http://", ""));
    expect(text).toContain(s.deps.replicas.info.host);
    expect(await rows.first().locator(".badge").textContent()).toBe("alive");
    expect(await page.textContent("#replicas-summary")).toContain("1 alive of 1");
  });
});
