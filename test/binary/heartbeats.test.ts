// Heartbeats on the built binary with the real clock: down within a second of the deadline, and
// no false alert for time keepwatch itself was not running.
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { killSpawned, startBinary, tempDir, type BinServer } from "../helpers";
import { startReceiver, until } from "../webhooks/receiver";
import { chainBreaks } from "../../src/core/heartbeats";

const dirs: string[] = [];
afterAll(() => {
  killSpawned();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const call = async (s: BinServer, method: string, path: string, body?: unknown) => {
  const r = await fetch(s.url + path, {
    method,
    headers: { "x-api-key": s.adminKey, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return (await r.json()) as any;
};

test("period 2 s, grace 1 s: down within 1 s after its deadline and a receiver gets heartbeat.down, then heartbeat.up after a ping", async () => {
  const dir = tempDir("kw-hb-");
  dirs.push(dir);
  const rx = startReceiver();
  const s = await startBinary(dir, [], { KEEPWATCH_OUTBOUND_ALLOW: "127.0.0.0/8" });
  await call(s, "POST", "/v1/webhooks", { url: rx.url, triggers: ["heartbeat.*"] });
  const h = await call(s, "POST", "/v1/heartbeats", { name: "edge-cron", period: 2, grace: 1 });
  await fetch(h.ping_url);
  const up = await call(s, "GET", `/v1/heartbeats/${h.id}`);
  const deadline = new Date(up.down_at).getTime();
  let state = up.state;
  while (state !== "down" && Date.now() < deadline + 3000) {
    await Bun.sleep(25);
    state = (await call(s, "GET", `/v1/heartbeats/${h.id}`)).state;
  }
  const noticed = Date.now();
  expect(state).toBe("down");
  expect(noticed - deadline).toBeLessThan(1000);
  const flips = (await call(s, "GET", `/v1/heartbeats/${h.id}/flips`)).items;
  expect(new Date(flips[0].at).getTime()).toBe(deadline);
  const down = await until(() => rx.got.find((g) => g.json?.type === "heartbeat.down"), 5000, "heartbeat.down");
  expect(down.at - deadline).toBeLessThan(1500);
  expect(down.json.data).toMatchObject({ heartbeat_id: h.id, name: "edge-cron" });
  await fetch(h.ping_url);
  expect((await call(s, "GET", `/v1/heartbeats/${h.id}`)).state).toBe("up");
  const back = await until(() => rx.got.find((g) => g.json?.type === "heartbeat.up"), 5000, "heartbeat.up");
  expect(back.json.data.heartbeat_id).toBe(h.id);
  s.proc.kill("SIGTERM");
  expect(await s.proc.exited).toBe(0);
  rx.stop();
});

test("time keepwatch was stopped is not counted: no down flip, no alert, a fresh period from start-up", async () => {
  const dir = tempDir("kw-hb-");
  dirs.push(dir);
  const s = await startBinary(dir);
  const h = await call(s, "POST", "/v1/heartbeats", { name: "while-away", period: 1, grace: 0 });
  await fetch(h.ping_url);
  s.proc.kill("SIGTERM");
  expect(await s.proc.exited).toBe(0);
  await Bun.sleep(2500); // the deadline passes while keepwatch is down
  const again = await startBinary(dir);
  const after = await call({ ...again, adminKey: s.adminKey }, "GET", `/v1/heartbeats/${h.id}`);
  expect(after.state).toBe("up");
  expect(new Date(after.due_at).getTime()).toBeGreaterThan(Date.now() - 1000);
  const flips = (await call({ ...again, adminKey: s.adminKey }, "GET", `/v1/heartbeats/${h.id}/flips`)).items;
  expect(flips.map((f: any) => f.to)).toEqual(["up"]);
  expect((await call({ ...again, adminKey: s.adminKey }, "GET", "/v1/alerts?source_name=heartbeat")).items).toEqual([]);
  // and it still goes down normally afterwards
  await call({ ...again, adminKey: s.adminKey }, "POST", `/v1/heartbeats/${h.id}/pause`);
  again.proc.kill("SIGTERM");
  expect(await again.proc.exited).toBe(0);
});

test("kill -9 while a heartbeat is late: start-up records late -> up, so the flips stay a chain", async () => {
  const dir = tempDir("kw-hb-");
  dirs.push(dir);
  const s = await startBinary(dir);
  const h = await call(s, "POST", "/v1/heartbeats", { name: "late-at-crash", period: 1, grace: 2 });
  await fetch(h.ping_url);
  let state = "";
  const end = Date.now() + 5000;
  while (state !== "late" && Date.now() < end) {
    await Bun.sleep(50);
    state = (await call(s, "GET", `/v1/heartbeats/${h.id}`)).state;
  }
  expect(state).toBe("late");
  const downAt = new Date((await call(s, "GET", `/v1/heartbeats/${h.id}`)).down_at).getTime();
  s.proc.kill("SIGKILL");
  await s.proc.exited;
  await Bun.sleep(Math.max(0, downAt - Date.now() + 200)); // its down deadline passes while keepwatch is not running
  const again = await startBinary(dir);
  const as = { ...again, adminKey: s.adminKey };
  const after = await call(as, "GET", `/v1/heartbeats/${h.id}`);
  expect(after.state).toBe("up");
  const flips = ((await call(as, "GET", `/v1/heartbeats/${h.id}/flips`)).items as any[]).reverse();
  expect(flips.map((f) => `${f.from}>${f.to}`)).toEqual(["new>up", "up>late", "late>up"]);
  expect(chainBreaks(flips, after.state)).toEqual([]);
  expect((await call(as, "GET", "/v1/alerts?source_name=heartbeat")).items).toEqual([]);
  again.proc.kill("SIGTERM");
  expect(await again.proc.exited).toBe(0);
});
