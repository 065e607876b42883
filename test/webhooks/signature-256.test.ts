// X-Keepwatch-Signature-256 ("t=<ts>,v1=<hex HMAC of ts.body>") covers the time: the documented
// openssl check (docs/notifications.md), run as written against real deliveries, accepts them, and refuses a changed
// timestamp, a changed body and a replay signed long ago. During a rotation both secrets check.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { signTimestamped } from "../../src/core/signing";
import { event, json, startTestServer, type TestServer } from "../helpers";
import { startReceiver, until, type Receiver } from "./receiver";

let s: TestServer;
let rx: Receiver;
beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
  rx = startReceiver();
});
afterAll(async () => {
  rx.stop();
  await s.close();
});

/** The shell block of docs/notifications.md's "With openssl, against replays" paragraph, as written. */
function readmeCheck(): string {
  const readme = readFileSync(join(import.meta.dir, "..", "..", "docs", "notifications.md"), "utf8");
  const at = readme.indexOf("**With openssl, against replays**");
  expect(at).toBeGreaterThan(0);
  const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(m).not.toBeNull();
  return m![1];
}

async function runCheck(secret: string, body: string, header: string) {
  const p = Bun.spawn(["bash", "-c", readmeCheck()], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", SECRET: secret, BODY: body, X_KEEPWATCH_SIGNATURE_256: header },
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = (await new Response(p.stdout).text()).trim();
  return { code: await p.exited, out };
}

test("the documented openssl check accepts real deliveries and refuses replays, changed timestamps and bodies", async () => {
  const w = await json(s.admin("POST", "/v1/webhooks", { url: rx.url, triggers: ["event.received"], rate_limit: 0 }));
  expect((await s.post("/api/v1/events", event(7, { summary: "50% done, 'quoted' \"text\" $HOME `x` \\ back" }))).status).toBe(202);
  const got = await until(() => rx.got[0], 10_000, "delivery");
  const header = got.headers["x-keepwatch-signature-256"];
  expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  const ts = Number(/^t=(\d+)/.exec(header)![1]);
  expect(String(ts)).toBe(got.headers["webhook-timestamp"]);
  expect(await runCheck(w.secret_value, got.body, header)).toEqual({ code: 0, out: "ok" });
  // the same signature with another timestamp (a replay that rewrites t) is refused
  expect(await runCheck(w.secret_value, got.body, header.replace(`t=${ts}`, `t=${ts + 1}`))).toEqual({ code: 1, out: "reject" });
  // another body is refused
  expect(await runCheck(w.secret_value, got.body.replace("50%", "51%"), header)).toEqual({ code: 1, out: "reject" });
  // the wrong secret is refused
  expect(await runCheck("whsec_" + Buffer.alloc(24, 7).toString("base64"), got.body, header)).toEqual({ code: 1, out: "reject" });
  // a delivery signed 10 minutes ago and replayed now is stale, although its signature is right
  const old = ts - 600;
  expect(await runCheck(w.secret_value, got.body, `t=${old},v1=${signTimestamped(w.secret_value, old, got.body)}`)).toEqual({ code: 1, out: "stale" });

  // during a rotation the header carries one v1= per secret, and either secret checks
  const rotated = await json(s.admin("POST", `/v1/webhooks/${w.id}/rotate-secret`));
  rx.got.length = 0;
  expect((await s.post("/api/v1/events", event(8))).status).toBe(202);
  const again = await until(() => rx.got[0], 10_000, "delivery after rotation");
  const h2 = again.headers["x-keepwatch-signature-256"];
  expect(h2).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
  expect(await runCheck(rotated.secret, again.body, h2)).toEqual({ code: 0, out: "ok" });
  expect(await runCheck(rotated.previous_secret, again.body, h2)).toEqual({ code: 0, out: "ok" });
  // the old body-only header is still sent, for receivers that check it
  expect(again.headers["x-keepwatch-signature"]).toMatch(/^sha256=[0-9a-f]{64} sha256=[0-9a-f]{64}$/);
});

test("X-Keepwatch-Signature-256 is keepwatch's: a webhook cannot set it", async () => {
  const r = await s.admin("POST", "/v1/webhooks", { url: rx.url, headers: { "X-Keepwatch-Signature-256": "t=1,v1=00" } });
  expect(r.status).toBe(422);
});
