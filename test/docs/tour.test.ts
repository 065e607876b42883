// The README's quick start and five-minute tour, run as written: every curl command of its shell
// blocks (up to "Configuration essentials") goes to a real server on a random port, with $KEY and
// $ADMIN set to real keys, and must get a 2xx; what it stored is then read back over the API.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { json, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

/** The curl commands of the README's shell blocks before "## Configuration essentials". */
function tourCommands(): string[] {
  const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");
  const end = readme.indexOf("## Configuration essentials");
  expect(end).toBeGreaterThan(0);
  const cmds: string[] = [];
  for (const m of readme.slice(0, end).matchAll(/^ *```sh\n([\s\S]*?)^ *```/gm)) {
    const joined = m[1].replace(/\\\n\s*/g, " ");
    for (const line of joined.split("\n")) {
      const t = line.trim();
      if (t.startsWith("curl ")) cmds.push(t.replace(/\s+#[^'"]*$/, ""));
    }
  }
  return cmds;
}

test("every curl command of the README's tour succeeds as written", async () => {
  const cmds = tourCommands();
  // the envelope event, the generic alert, the search, a heartbeat, its ping, a webhook
  expect(cmds.length).toBeGreaterThanOrEqual(6);
  const hostPort = new URL(s.url).host;
  let pingToken: string | undefined;
  for (const raw of cmds) {
    let cmd = raw.replaceAll("localhost:8080", hostPort).replace(/ -o \/dev\/null/, "");
    if (cmd.includes("/ping/Xq3…")) {
      expect(pingToken).toBeDefined();
      cmd = cmd.replace("/ping/Xq3…", `/ping/${pingToken}`);
    }
    const p = Bun.spawn(["bash", "-c", `${cmd} -s -w '\\n%{http_code}'`], {
      env: { PATH: process.env.PATH ?? "", KEY: s.keys.ingest, ADMIN: s.keys.admin },
      stdout: "pipe",
      stderr: "pipe",
    });
    const out = await new Response(p.stdout).text();
    await p.exited;
    const status = Number(out.slice(out.lastIndexOf("\n") + 1));
    const body = out.slice(0, out.lastIndexOf("\n"));
    expect({ cmd: raw, status: status >= 200 && status < 300 ? "2xx" : status, body: status >= 300 ? body : "" }).toEqual({ cmd: raw, status: "2xx", body: "" });
    if (raw.includes("/v1/heartbeats")) pingToken = new URL(JSON.parse(body).ping_url).pathname.split("/").pop();
  }
  // what the tour stored is there
  const events = await json(s.admin("GET", "/v1/events?source=nightly-cron"));
  expect(events.items.length).toBe(1);
  const alerts = await json(s.admin("GET", "/v1/alerts"));
  expect(alerts.items.some((a: any) => a.title === "disk full on backup-1")).toBe(true);
  const hb = await json(s.admin("GET", "/v1/heartbeats"));
  const worker = hb.items.find((h: any) => h.name === "queue-worker");
  expect(worker).toMatchObject({ state: "up" });
  expect(worker.last_beat_at).not.toBeNull();
  const wh = await json(s.admin("GET", "/v1/webhooks"));
  expect(wh.items.map((w: any) => w.url)).toEqual(["https://hooks.example.com/keepwatch"]);
});
