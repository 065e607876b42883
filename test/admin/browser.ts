// Browser-test helpers: Debian's chromium driven by playwright-core, screenshots to
// test-artifacts/admin/ (gitignored), and a login through the real form.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll } from "bun:test";
import { chromium, type Browser, type Page } from "playwright-core";
import type { Config } from "../../src/config";
import { startTestServer, type TestServer } from "../helpers";

export const SHOTS = join(import.meta.dir, "..", "..", "test-artifacts", "admin");
mkdirSync(SHOTS, { recursive: true });

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
}

/** A page whose every step is bounded: a CI machine has 2 cores shared with the server. */
export async function newPage(b: Browser, viewport = { width: 1200, height: 900 }): Promise<Page> {
  const ctx = await b.newContext({ viewport });
  const page = await ctx.newPage();
  page.setDefaultTimeout(5_000);
  return page;
}

export async function shot(page: Page, name: string): Promise<void> {
  await saveShot(page, join(SHOTS, `${name}.png`));
}

/**
 * A full-page screenshot to `path` (the docs' pictures). On a loaded 2-core machine Chromium
 * sometimes answers "Unable to capture screenshot", or takes longer than the default 5 s for a
 * long page; the picture is documentation, not an assertion, so either gets a second try, of the
 * viewport only (a full long page can take Chromium longer than the test has left).
 */
export async function saveShot(page: Page, path: string): Promise<void> {
  try {
    await page.screenshot({ path, fullPage: true });
  } catch (e) {
    if (!/Unable to capture screenshot|Timeout \d+ms exceeded/.test(String(e))) throw e;
    await page.waitForTimeout(250);
    await page.screenshot({ path, fullPage: false, timeout: 10_000 });
  }
}

export async function logIn(page: Page, base: string, key: string): Promise<void> {
  await page.goto(base + "/admin");
  await page.waitForURL(/\/admin\/login/);
  await page.fill('input[name="key"]', key);
  await page.click('button[type="submit"]');
  await page.waitForURL((u) => u.pathname === "/admin");
}

/** The page does not scroll sideways: nothing is wider than the viewport. */
export async function horizontalOverflow(page: Page): Promise<number> {
  // runs in the browser; the test typecheck has no DOM lib, so reach the document through globalThis
  return page.evaluate(() => {
    const el = (globalThis as any).document.documentElement;
    return el.scrollWidth - el.clientWidth;
  });
}

/**
 * For the tests of one file: a server (with these settings), a browser and a page logged in with
 * the server's admin key, set up before the first test and closed after the last. Read them as
 * properties of the returned object (they exist once the tests run).
 */
export function adminInBrowser(settings: Partial<Config> = {}): { s: TestServer; browser: Browser; page: Page } {
  const ctx = {} as { s: TestServer; browser: Browser; page: Page };
  beforeAll(async () => {
    ctx.s = await startTestServer(settings);
    ctx.browser = await launch();
    ctx.page = await newPage(ctx.browser);
    await logIn(ctx.page, ctx.s.url, ctx.s.keys.admin);
  });
  afterAll(async () => {
    await ctx.browser?.close();
    await ctx.s?.close();
  });
  return ctx;
}
