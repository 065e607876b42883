// The per-tenant settings cache on the ingest path: a change made elsewhere (another process, a
// later replica: straight into the table, no invalidate() here) is seen once the change counter is
// re-read, at most a second later; until then requests are served from the cache, not the table.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { CHECK_MS } from "../../src/store/pg/config-versions";
import { startTestServer, TEST_STORE, type TestServer } from "../helpers";

let now = Date.UTC(2026, 10, 23, 3, 0, 0);
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({}, () => now);
});
afterAll(() => s.close());

// Both stores check their counters on the server's clock (fake here): SQLite every second,
// PostgreSQL every CHECK_MS (one snapshot of the counters for every cache of the process; a
// snapshot younger than CHECK_MS / 2 serves without even a background read)
const every = TEST_STORE === "postgres" ? CHECK_MS : 1000;

test("a setting written by another process applies after the counter check on the server's clock, not per request", async () => {
  const body = JSON.stringify({ title: "cached" });
  expect((await s.post("/v1/ingest/generic", body)).status).toBe(202); // loads the (empty) settings of t1
  const secret = "written-elsewhere-secret";
  const other = await s.otherStore(); // another process: no invalidate() on this server's cache
  await other.sourceSettings.putSourceSetting({
    tenantId: s.tenantId,
    source: "generic",
    scheme: "hmac-sha256-hex",
    secret,
    header: null,
    timestampHeader: null,
    toleranceS: 300,
    updatedAt: now,
  });
  await Bun.sleep(every + 100); // real time passes: the check follows the server's clock, which stands still
  expect((await s.post("/v1/ingest/generic", body)).status).toBe(202);
  now += every * 0.4; // within the check interval: still the cached (no signature) setting
  expect((await s.post("/v1/ingest/generic", body)).status).toBe(202);
  now += every * 0.6 + 100; // past it: the counter moved, the new setting applies
  expect((await s.post("/v1/ingest/generic", body)).status).toBe(401);
  const sig = createHmac("sha256", secret).update(body).digest("hex");
  expect((await s.post("/v1/ingest/generic", body, { headers: { "X-Signature": sig } })).status).toBe(202);
});
