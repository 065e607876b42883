// The admin page in a real browser against a real server: log in, see an event, open it, close an
// alert, watch a heartbeat go down, reveal and rotate a webhook secret, replay a failed delivery,
// log out. Each step asserts what a person would see and saves a screenshot.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { json, startTestServer, type TestServer } from "../helpers";
import { startReceiver, until, type Receiver } from "../webhooks/receiver";
import { launch, logIn, newPage, shot } from "./browser";

// bounded, with room for a loaded 2-core CI machine
setDefaultTimeout(20_000);

let s: TestServer;
let browser: Browser;
let page: Page;
let receiver: Receiver;
let failing = true;

beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
  receiver = startReceiver(() => (failing ? new Response("receiver is down", { status: 500 }) : new Response("ok")));
  browser = await launch();
  page = await newPage(browser);
});

afterAll(async () => {
  await browser?.close();
  receiver?.stop();
  await s?.close();
});

describe("admin page journey", () => {
  test("log in with an admin key and see the overview", async () => {
    await logIn(page, s.url, s.keys.admin);
    expect(await page.textContent("h1")).toBe("Overview");
    expect(await page.textContent("#events-hour")).toBe("0");
    await shot(page, "01-overview-empty");
  });

  test("an event posted a moment ago is listed, and its detail shows fields, indicators and payload", async () => {
    const r = await s.post("/api/v1/events", {
      type: "backup.failed",
      module: "custom",
      source: "nightly-backup",
      summary: "Backup of db-1 failed",
      severity: "error",
      payload: { host: "db-1", exit_code: 2, client_ip: "203.0.113.7" },
      indicators: [{ type: "ip", value: "203.0.113.7" }],
    });
    expect(r.status).toBe(202);
    await page.click('nav a[href="/admin/events"]');
    const row = page.locator("#events tbody tr", { hasText: "Backup of db-1 failed" });
    await expect(row.count()).resolves.toBe(1);
    expect(await row.locator(".badge").textContent()).toBe("high");
    expect(await row.textContent()).toContain("nightly-backup");
    await shot(page, "02-events");
    await row.locator("a").click();
    await page.waitForURL(/\/admin\/events\/[0-9A-Z]{26}$/);
    expect(await page.textContent("#event-title")).toBe("Backup of db-1 failed");
    const dl = (await page.textContent("dl.fields"))!;
    expect(dl).toContain("backup.failed");
    expect(dl).toContain("error"); // the raw severity word next to the normalized one
    expect(await page.locator("#indicators tbody tr", { hasText: "203.0.113.7" }).count()).toBe(1);
    // the payload is pretty-printed (two-space indented JSON)
    expect(await page.locator("pre").first().textContent()).toContain('"exit_code": 2');
    await shot(page, "03-event-detail");
  });

  test("close an alert with a classification", async () => {
    expect((await s.post("/v1/ingest/generic", { title: "Brute force on vpn-1", severity: "High", source: "siem" })).status).toBe(202);
    await page.click('nav a[href="/admin/alerts"]');
    await page.locator("#alerts a", { hasText: "Brute force on vpn-1" }).click();
    expect(await page.textContent("#alert-title")).toBe("Brute force on vpn-1");
    expect(await page.locator("main .badge.st-open").count()).toBe(1);
    // closing without a classification is refused with a readable error, and changes nothing
    await page.selectOption('select[name="status"]', "closed");
    await page.click('button:has-text("Change status")');
    expect(await page.textContent("p.error")).toContain("classification");
    const id = (await json(s.get("/v1/alerts"))).items[0].id;
    expect((await json(s.get(`/v1/alerts/${id}`))).status).toBe("open");
    await page.goBack();
    await page.reload();
    await page.selectOption('select[name="status"]', "closed");
    await page.selectOption('select[name="classification"]', "false_positive");
    await page.click('button:has-text("Change status")');
    await page.waitForURL(/done=updated/);
    expect(await page.textContent("p.flash")).toBe("Saved.");
    expect(await page.locator("main .badge.st-closed").count()).toBe(1);
    expect(await page.textContent("#classification")).toBe("false_positive");
    expect(await page.textContent("#timeline")).toContain("closed");
    const a = await json(s.get(`/v1/alerts/${id}`));
    expect([a.status, a.classification]).toEqual(["closed", "false_positive"]);
    await shot(page, "04-alert-closed");
  });

  test("create a heartbeat (period 1 s, grace 1 s), ping it, and see it go down", async () => {
    await page.click('nav a[href="/admin/heartbeats"]');
    await page.fill('form.stack input[name="name"]', "nightly-cron");
    await page.fill('form.stack input[name="period"]', "1");
    await page.fill('form.stack input[name="grace"]', "1");
    await page.click('form.stack button:has-text("Create")');
    await page.waitForURL(/\/admin\/heartbeats\/[0-9A-Z]{26}\?done=created$/);
    expect(await page.textContent("#hb-state")).toBe("new");
    const pingUrl = (await page.textContent("#ping-url"))!;
    expect(pingUrl).toStartWith(s.url + "/ping/");
    expect(await page.textContent("#cron-line")).toBe(`curl -fsS -m 10 --retry 5 ${pingUrl}`);
    // what cron would do: ping the URL the page shows
    expect((await fetch(pingUrl)).status).toBeLessThan(300);
    await page.reload();
    expect(await page.textContent("#hb-state")).toBe("up");
    // no more pings: after period + grace (2 s) the page shows it down
    await until(async () => (await page.reload(), (await page.textContent("#hb-state")) === "down"), 6_000, "heartbeat down");
    expect(await page.textContent("#flips")).toContain("down");
    await shot(page, "05-heartbeat-down");
    await page.click('nav a[href="/admin/heartbeats"]');
    expect(await page.locator("#heartbeats tr", { hasText: "nightly-cron" }).locator(".badge").textContent()).toBe("down");
    await shot(page, "06-heartbeats");
  });

  test("a webhook's secret is masked, revealed by a button, and rotated", async () => {
    const w = await json(
      s.admin("POST", "/v1/webhooks", { url: receiver.url, name: "ops-receiver", triggers: ["event.received"], retry: { max_attempts: 1, initial_interval: 0.1, max_interval: 0.1 } }),
    );
    await page.click('nav a[href="/admin/webhooks"]');
    await page.locator("#webhooks a", { hasText: "ops-receiver" }).click();
    const masked = (await page.textContent("#secret"))!;
    expect(masked).toStartWith("whsec_…");
    expect(masked).not.toBe(w.secret_value);
    await page.click('button:has-text("Reveal secret")');
    expect(await page.textContent("#secret")).toBe(w.secret_value);
    await shot(page, "07-webhook-revealed");
    // Rotate asks first, redirects, and shows the new secret once on the page it lands on
    page.once("dialog", (d) => void d.accept());
    await page.click('button:has-text("Rotate secret")');
    const rotated = (await page.textContent("#secret-once"))!;
    expect(new URL(page.url()).pathname).toBe(`/admin/webhooks/${w.id}`);
    expect(rotated).toStartWith("whsec_");
    expect(rotated).not.toBe(w.secret_value);
    expect((await json(s.admin("GET", `/v1/webhooks/${w.id}/secret`))).secret).toBe(rotated);
    // a reload (a GET) shows it masked again
    await page.goto(`${s.url}/admin/webhooks/${w.id}`);
    expect(await page.textContent("#secret")).toStartWith("whsec_…");
  });

  test("a failed delivery is shown with the receiver's answer, and replayed", async () => {
    const w = (await json(s.admin("GET", "/v1/webhooks"))).items[0];
    expect((await s.post("/api/v1/events", { type: "deploy.done", module: "ci", source: "ci", summary: "Deploy 42", severity: "info" })).status).toBe(202);
    await receiver.waitFor(1, 5_000);
    await until(async () => (await json(s.admin("GET", `/v1/webhooks/${w.id}/deliveries?status=failed`))).items.length === 1, 5_000, "failed delivery");
    await page.goto(`${s.url}/admin/webhooks/${w.id}`);
    const row = page.locator("#deliveries tbody tr").first();
    expect(await row.locator(".badge").textContent()).toBe("failed");
    expect(await row.textContent()).toContain("500");
    expect(await page.textContent("#last-status")).toBe("HTTP 500");
    expect(await page.textContent("#last-request")).toContain("Deploy 42");
    expect(await page.textContent("#health")).toMatch(/^failing 1 attempt failed in a row, 1 message given up; last: HTTP 500 /);
    await shot(page, "08-webhook-failed");
    failing = false;
    await row.locator('button:has-text("Replay")').click();
    await page.waitForURL(/done=replayed/);
    expect(await page.textContent("p.flash")).toBe("Queued for replay.");
    await receiver.waitFor(2, 5_000);
    expect(receiver.got[1].headers["webhook-id"]).toBe(receiver.got[0].headers["webhook-id"]);
    await until(async () => (await page.reload(), (await page.locator("#deliveries tbody tr .badge").first().textContent()) === "succeeded"), 5_000, "replayed delivery");
    expect(await page.textContent("#last-status")).toBe("HTTP 200");
    await shot(page, "09-webhook-replayed");
  });

  test("the overview counts what happened", async () => {
    await page.click('nav a[href="/admin"]');
    expect(Number(await page.textContent("#events-hour"))).toBeGreaterThanOrEqual(3);
    expect(await page.textContent("#heartbeats-bad")).toBe("1 / 0");
    await shot(page, "10-overview");
  });

  test("assign an alert and comment on it", async () => {
    // the list shows alerts that are not closed by default; this one was closed above
    await page.click('nav a[href="/admin/alerts"]');
    expect(await page.locator("#alerts a", { hasText: "Brute force on vpn-1" }).count()).toBe(0);
    await page.selectOption('form.filters select[name="status"]', "any");
    await page.click('form.filters button[type="submit"]');
    await page.locator("#alerts a", { hasText: "Brute force on vpn-1" }).click();
    await page.fill('input[name="assignee"]', "alice");
    await page.click('button:has-text("Assign")');
    await page.waitForURL(/done=updated/);
    expect(await page.textContent("dl.fields")).toContain("alice");
    await page.fill('textarea[name="body"]', "Checked with the VPN team: a misconfigured client.");
    await page.click('button:has-text("Add comment")');
    await page.waitForURL(/done=commented/);
    expect(await page.locator("#timeline tr", { hasText: "comment" }).textContent()).toContain("Checked with the VPN team");
  });

  test("pause and resume a heartbeat", async () => {
    await page.click('nav a[href="/admin/heartbeats"]');
    await page.locator("#heartbeats a", { hasText: "nightly-cron" }).click();
    page.once("dialog", (d) => void d.accept()); // pausing asks first
    await page.click('button:has-text("Pause")');
    await page.waitForURL(/done=paused/);
    expect(await page.textContent("#hb-state")).toBe("paused");
    await page.click('button:has-text("Resume")');
    await page.waitForURL(/done=resumed/);
    expect(await page.textContent("#hb-state")).not.toBe("paused");
    expect(await page.textContent("#flips")).toContain("paused");
  });

  test("deactivate and activate a webhook, and edit its triggers and headers", async () => {
    const w = (await json(s.admin("GET", "/v1/webhooks"))).items[0];
    await page.goto(`${s.url}/admin/webhooks/${w.id}`);
    page.once("dialog", (d) => void d.accept()); // deactivating asks first
    await page.click('button:has-text("Deactivate")');
    await page.waitForURL(/done=updated/);
    expect(await page.textContent("h1 .badge")).toBe("inactive");
    await page.click('button:has-text("Activate")');
    await page.waitForURL(/done=updated/);
    expect(await page.textContent("h1 .badge")).toBe("active");
    // a reserved header is refused with the reason, and nothing changes
    await page.fill('textarea[name="headers"]', "Content-Type: text/plain");
    await page.click('form.stack button:has-text("Save")');
    // the form comes back with the error next to the field and what was typed kept
    expect(await page.textContent("#form-error")).toContain("cannot be overridden");
    expect(await page.textContent("#field-error")).toContain("cannot be overridden");
    expect(await page.inputValue('textarea[name="headers"]')).toBe("Content-Type: text/plain");
    expect((await json(s.admin("GET", `/v1/webhooks/${w.id}`))).headers).toEqual({});
    await page.fill('input[name="triggers"]', "event.received, alert.*");
    await page.fill('textarea[name="headers"]', "X-Team: ops\nAuthorization: Bearer abcdefghijkl1234");
    await page.click('form.stack button:has-text("Save")');
    await page.waitForURL(/done=updated/);
    const after = await json(s.admin("GET", `/v1/webhooks/${w.id}`));
    // values are masked in the API and on the page; Reveal shows them
    expect([after.triggers, after.headers]).toEqual([["event.received", "alert.*"], { "X-Team": "…", Authorization: "…1234" }]);
    expect(await page.inputValue('input[name="triggers"]')).toBe("event.received alert.*");
    expect(await page.textContent("#headers")).not.toContain("abcdefghijkl");
    expect(await page.inputValue('textarea[name="headers"]')).not.toContain("abcdefghijkl");
    // saving the form with the masked values keeps the stored ones
    await page.fill('input[name="triggers"]', "event.received alert.* heartbeat.*");
    await page.click('form.stack button:has-text("Save")');
    await page.waitForURL(/done=updated/);
    const full = { "X-Team": "ops", Authorization: "Bearer abcdefghijkl1234" };
    expect((await json(s.admin("GET", `/v1/webhooks/${w.id}/headers`))).headers).toEqual(full);
    await page.click('button:has-text("Reveal secret and headers")');
    expect(await page.textContent("#headers")).toContain("Authorization: Bearer abcdefghijkl1234");
  });

  test("log out: the login page comes back and the old cookie opens nothing", async () => {
    const cookies = await page.context().cookies();
    const old = cookies.find((c) => c.name === "kw_admin")!;
    expect(old.httpOnly).toBe(true);
    expect(old.sameSite).toBe("Strict");
    await page.click('header button:has-text("Log out")');
    await page.waitForURL(/\/admin\/login/);
    expect(await page.textContent("h1")).toBe("Log in");
    expect(await page.textContent("p.flash")).toBe("Logged out.");
    expect((await page.context().cookies()).find((c) => c.name === "kw_admin")).toBeUndefined();
    await page.goto(s.url + "/admin/events");
    await page.waitForURL(/\/admin\/login\?next=/);
    const r = await fetch(s.url + "/admin/events", { headers: { cookie: `kw_admin=${old.value}` }, redirect: "manual" });
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toStartWith("/admin/login");
  });
});
