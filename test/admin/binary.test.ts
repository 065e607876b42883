// The admin page from the built executable (dist/keepwatch, built by `make test`), started from an
// unrelated working directory: the CSS and script are embedded in the binary, not read from disk.
import { afterAll, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { killSpawned, startBinary, tempDir } from "../helpers";

const dirs: string[] = [];
afterAll(() => {
  killSpawned();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

test("the binary serves the admin page and its assets from any directory", async () => {
  const data = tempDir("kw-admin-bin-");
  const elsewhere = tempDir("kw-admin-cwd-");
  dirs.push(data, elsewhere);
  const s = await startBinary(data, [], {}, elsewhere);
  const css = await fetch(s.url + "/admin/assets/admin.css");
  expect(css.status).toBe(200);
  expect(css.headers.get("content-type")).toStartWith("text/css");
  expect(await css.text()).toBe(readFileSync(join(import.meta.dir, "..", "..", "src", "admin", "admin.css"), "utf8"));
  const js = await fetch(s.url + "/admin/assets/admin.js");
  expect(await js.text()).toContain("data-copy");
  // the favicon comes from the binary too (the page links it; browsers also ask for /favicon.ico)
  for (const path of ["/admin/assets/favicon.svg", "/favicon.ico"]) {
    const icon = await fetch(s.url + path);
    expect({ path, status: icon.status, type: icon.headers.get("content-type") }).toEqual({ path, status: 200, type: "image/svg+xml" });
    expect(await icon.text()).toBe(readFileSync(join(import.meta.dir, "..", "..", "src", "admin", "favicon.svg"), "utf8"));
  }
  const login = await fetch(s.url + "/admin/login", {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ key: s.adminKey }).toString(),
  });
  expect(login.status).toBe(303);
  const cookie = login.headers.get("set-cookie")!.split(";")[0];
  const overview = await fetch(s.url + "/admin", { headers: { cookie } });
  expect(overview.status).toBe(200);
  const html = await overview.text();
  expect(html).toContain("<h1>Overview</h1>");
  expect(html).toContain('<link rel="icon" href="/admin/assets/favicon.svg"');
  s.proc.kill("SIGTERM");
  expect(await s.proc.exited).toBe(0);
}, 30_000);
