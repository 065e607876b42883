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
  expect(await overview.text()).toContain("<h1>Overview</h1>");
  s.proc.kill("SIGTERM");
  expect(await s.proc.exited).toBe(0);
}, 30_000);
