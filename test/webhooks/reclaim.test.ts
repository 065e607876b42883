// kill -9 of the built binary during a delivery attempt. SQLite, with the default 120 s lease: at
// the next start the data-directory lock proves the old process is gone, so the delivery is sent
// again at once (not after the lease). PostgreSQL has no such proof (the dead process may have been
// a replica on another host that is still running), so the restarted one waits for the lease to run
// out by the database clock, by design: tested with a 5 s lease. On both the cut-off attempt is on
// record as interrupted (attempt 1), the next one is attempt 2, with the same webhook-id.
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { killSpawned, startBinary, tempDir, TEST_STORE } from "../helpers";
import { startReceiver, until } from "./receiver";

const dir = tempDir("kw-reclaim-");
// the first request never gets an answer; the later ones do
const receiver = startReceiver((n) => (n === 0 ? new Promise<Response>(() => {}) : new Response("ok")));
afterAll(() => {
  killSpawned();
  receiver.stop();
  rmSync(dir, { recursive: true, force: true });
});

const PG = TEST_STORE === "postgres";
// SQLite: the lease stays at its default, 120 s; PostgreSQL: a 5 s lease the restart waits out
const LEASE_S = PG ? 5 : 120;
const ENV = { KEEPWATCH_OUTBOUND_ALLOW: "127.0.0.0/8", ...(PG ? { KEEPWATCH_JOB_LEASE: String(LEASE_S) } : {}) };

const name = PG
  ? "a delivery leased by a process killed with -9 is sent again once its lease ran out (PostgreSQL: no data-directory lock proves the holder dead), not before; its attempts read interrupted 1, succeeded 2"
  : "a delivery leased by a process killed with -9 is sent again right after the restart (SQLite: the data-directory lock proves the holder dead); its attempts read interrupted 1, succeeded 2";

test(name, async () => {
  const first = await startBinary(dir, [], ENV);
  const admin = { authorization: `Bearer ${first.adminKey}`, "content-type": "application/json" };
  const hook = (await (
    await fetch(first.url + "/v1/webhooks", { method: "POST", headers: admin, body: JSON.stringify({ url: receiver.url, rate_limit: 0, timeout: 60 }) })
  ).json()) as any;
  const res = await fetch(first.url + "/api/v1/events", {
    method: "POST",
    headers: { "x-api-key": first.ingestKey, "content-type": "application/json" },
    body: JSON.stringify({ type: "reclaim.test", module: "t", source: "reclaim", summary: "one", severity: "info" }),
  });
  expect(res.status).toBe(202);
  await receiver.waitFor(1, 10_000); // attempt 1 is in flight
  const sentAt = Date.now(); // (the claim was before this: the lease runs out at most LEASE_S from here)
  first.proc.kill(9);
  await first.proc.exited;

  const t0 = Date.now();
  const second = await startBinary(dir, [], ENV);
  await receiver.waitFor(2, 15_000 + LEASE_S * 1000);
  const waited = Date.now() - t0;
  if (PG) {
    // not before the lease ran out (the first attempt was claimed before it reached the receiver)
    expect(receiver.got[1].at - receiver.got[0].at).toBeGreaterThanOrEqual(LEASE_S * 1000 - 500);
    expect(Date.now() - sentAt).toBeLessThan(LEASE_S * 1000 + 10_000);
  } else expect(waited).toBeLessThan(10_000); // not the 120 s lease
  expect(receiver.got[1].headers["webhook-id"]).toBe(receiver.got[0].headers["webhook-id"]);
  const get = async (path: string) => (await (await fetch(second.url + path, { headers: admin })).json()) as any;
  const d = await until(async () => {
    const items = (await get(`/v1/webhooks/${hook.id}/deliveries?status=succeeded`)).items;
    return items[0];
  }, 10_000, "delivery succeeded");
  const detail = await get(`/v1/deliveries/${d.id}`);
  expect(detail.attempts.map((a: any) => [a.attempt, a.outcome])).toEqual([
    [1, "interrupted"],
    [2, "succeeded"],
  ]);
  expect(detail.attempts[0].error).toContain("stopped");
  expect(detail.attempt_count).toBe(2);
  second.proc.kill("SIGTERM");
  expect(await second.proc.exited).toBe(0);
}, 60_000);
