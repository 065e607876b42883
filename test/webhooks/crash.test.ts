// kill -9 of the built binary with deliveries in flight and queued: after a restart every message
// is delivered at least once with the same webhook-id, and nothing stays `running` past its lease.
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { binaryRows, startBinary, tempDir } from "../helpers";
import { startReceiver, until } from "./receiver";

const dir = tempDir("kw-crash-");
const receiver = startReceiver(async () => {
  await Bun.sleep(150); // slow enough that some requests are in flight when keepwatch dies
  return new Response("ok");
});
afterAll(() => {
  receiver.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ENV = { KEEPWATCH_OUTBOUND_ALLOW: "127.0.0.0/8", KEEPWATCH_JOB_LEASE: "2", KEEPWATCH_WEBHOOK_CONCURRENCY: "4" };

test("kill -9 with deliveries in flight and queued, restart: every message delivered, same webhook-id, none stuck", async () => {
  const N = 40;
  const first = await startBinary(dir, [], ENV);
  const admin = first.adminKey;
  const ingest = first.ingestKey;
  expect(admin).toMatch(/^kw_/);
  const hook = await fetch(first.url + "/v1/webhooks", {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ url: receiver.url, rate_limit: 0, retry: { max_attempts: 50, initial_interval: 0.2, max_interval: 0.5 } }),
  });
  expect(hook.status).toBe(201);
  const events = Array.from({ length: N }, (_, i) => ({ type: "crash.test", module: "t", source: "crash", summary: `e${i}`, severity: "info", payload: { i } }));
  const res = await fetch(first.url + "/api/v1/events", {
    method: "POST",
    headers: { "x-api-key": ingest, "content-type": "application/json" },
    body: JSON.stringify(events),
  });
  expect(res.status).toBe(202);
  const ids = ((await res.json()) as any).ids as string[];
  await receiver.waitFor(6, 10_000);
  first.proc.kill(9);
  await first.proc.exited;
  const seenBeforeRestart = receiver.got.length;
  expect(seenBeforeRestart).toBeLessThan(N); // some were still queued

  const second = await startBinary(dir, [], ENV);
  // every event arrives at least once
  await until(() => new Set(receiver.got.map((g) => g.json?.data?.id)).size === N, 20_000, "every event delivered");
  // all recorded as succeeded once the in-flight ones are sent again (after their lease ran out)
  await until(async () => {
    const r = (await (await fetch(second.url + "/v1/webhooks", { headers: { authorization: `Bearer ${admin}` } })).json()) as any;
    const d = (await (
      await fetch(second.url + `/v1/webhooks/${r.items[0].id}/deliveries?status=succeeded&limit=500`, { headers: { authorization: `Bearer ${admin}` } })
    ).json()) as any;
    return d.items.length === N;
  }, 20_000, "all deliveries succeeded");
  // one webhook-id per event, always the body's id
  const idsByEvent = new Map<string, Set<string>>();
  for (const g of receiver.got) {
    expect(g.headers["webhook-id"]).toBe(g.json.id);
    const set = idsByEvent.get(g.json.data.id) ?? new Set();
    set.add(g.headers["webhook-id"]);
    idsByEvent.set(g.json.data.id, set);
  }
  expect([...idsByEvent.keys()].sort()).toEqual([...ids].sort());
  for (const set of idsByEvent.values()) expect(set.size).toBe(1);
  // the requests in flight at the kill were sent again (at-least-once), with their webhook-id
  expect(receiver.got.length).toBeGreaterThan(N);

  second.proc.kill("SIGTERM");
  expect(await second.proc.exited).toBe(0);

  const states = (await binaryRows(dir, "SELECT state, count(*) AS n FROM jobs GROUP BY state")) as { state: string; n: number }[];
  expect(states.find((s) => s.state === "running")).toBeUndefined();
  expect(states.find((s) => s.state === "available")).toBeUndefined();
  const [pending] = await binaryRows(dir, "SELECT count(*) AS n FROM deliveries WHERE status <> 'succeeded'");
  expect(Number(pending!.n)).toBe(0);
}, 60_000);
