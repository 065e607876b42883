// Enrichment survives a crash: kill -9 of the built binary while an alert's lookup is in flight;
// after a restart the persisted job is taken again once its lease runs out, and the alert ends
// `enriched` with the answer of the second attempt.
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { binaryRows, killSpawned, startBinary, tempDir } from "../helpers";
import { startReceiver, until } from "../webhooks/receiver";

const dir = tempDir("kw-enrich-crash-");
const intel = startReceiver(async (n) => {
  if (n === 0) await Bun.sleep(30_000); // the first lookup hangs until keepwatch is killed
  return Response.json({ answer: n });
});
afterAll(() => {
  killSpawned();
  intel.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ENV = { KEEPWATCH_OUTBOUND_ALLOW: "127.0.0.0/8", KEEPWATCH_JOB_LEASE: "2", KEEPWATCH_ENRICH_ATTEMPTS: "5", KEEPWATCH_ENRICH_BACKOFF: "0.2" };

test("kill -9 with an enrichment lookup in flight, restart: the job runs again and the alert is enriched", async () => {
  const first = await startBinary(dir, [], ENV);
  const admin = { authorization: `Bearer ${first.adminKey}`, "content-type": "application/json" };
  const e = await fetch(first.url + "/v1/enrichers", {
    method: "POST",
    headers: admin,
    body: JSON.stringify({ name: "intel", indicator_types: ["ip"], url_template: intel.url + "/{{value}}", timeout: 30 }),
  });
  expect(e.status).toBe(201);
  const r = await fetch(first.url + "/v1/ingest/generic", {
    method: "POST",
    headers: { "x-api-key": first.ingestKey, "content-type": "application/json" },
    body: JSON.stringify({ title: "crash me", source: "crash", indicators: [{ type: "ip", value: "8.8.8.8" }] }),
  });
  expect(r.status).toBe(202);
  await intel.waitFor(1, 10_000);
  first.proc.kill(9);
  await first.proc.exited;

  expect(await binaryRows(dir, "SELECT enrichment_status AS s FROM alerts")).toEqual([{ s: "pending" }]);
  expect(await binaryRows(dir, "SELECT state, attempt FROM jobs WHERE queue = 'enrichment'")).toEqual([{ state: "running", attempt: 1 }]);

  const second = await startBinary(dir, [], ENV);
  const get = async (path: string) => (await (await fetch(second.url + path, { headers: admin })).json()) as any;
  const id = (await get("/v1/alerts")).items[0].id;
  const d = await until(async () => {
    const x = await get(`/v1/alerts/${id}`);
    return x.enrichment_status === "enriched" ? x : null;
  }, 20_000, "enriched after the restart");
  expect(d.enrichment[0]).toMatchObject({ type: "ip", value: "8.8.8.8" });
  expect(d.enrichment[0].results.ip_class.class).toBe("public");
  expect(d.enrichment[0].results.lookups[0]).toMatchObject({ status: 200, body: { answer: 1 } });
  expect(intel.got.length).toBe(2);
  expect(d.timeline.filter((t: any) => t.kind === "enriched").length).toBe(1);

  second.proc.kill("SIGTERM");
  expect(await second.proc.exited).toBe(0);
  expect(await binaryRows(dir, "SELECT state, attempt FROM jobs WHERE queue = 'enrichment'")).toEqual([{ state: "succeeded", attempt: 2 }]);
}, 60_000);
