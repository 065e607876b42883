// GroupWriter in PostgreSQL mode (the inline writer, src/ingest/writer-inline.ts) on a throwaway
// cluster: concurrent requests are committed in groups and answered with their ids; a request that
// fails validation is answered 422 and stays out of its group; the Idempotency-Key answers the first
// request; custom indicator mappings made through the store apply to the next request; while the
// database is stopped every request is refused with 503 + Retry-After (never a 202), and the writer
// takes requests again once it is back, without a restart.
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { pgOptions } from "../../src/db/pg-client";
import { migratePg } from "../../src/db/pg-migrate";
import { ApiError } from "../../src/http/errors";
import { GroupWriter } from "../../src/ingest/writer";
import type { RawIngest } from "../../src/ingest/normalize";
import { silentLogger } from "../../src/lib/log";
import { newId } from "../../src/lib/ids";
import type { Store } from "../../src/store/contract";
import { pgGroupCommit, pgStore } from "../../src/store/index";
import { startCluster, type Cluster } from "../pg/cluster";
import { event } from "../helpers";

let c: Cluster;
let sql: postgres.Sql<{}>;
let store: Store;
let writer: GroupWriter;
let tenant = "";

beforeAll(async () => {
  c = await startCluster();
  const url = await c.createDatabase("kw_writer");
  const { url: clean, options } = pgOptions(url, 4);
  sql = postgres(clean, { ...options, connect_timeout: 2 });
  await migratePg(sql as any);
  store = pgStore(sql);
  tenant = newId();
  await sql`INSERT INTO tenants (id, name, created_at) VALUES (${tenant}, 'default', 1)`;
  writer = new GroupWriter(
    { kind: "inline", maxItems: 1000, mappings: (t, s) => store.indicators.mappingsForSource(t, s), commit: pgGroupCommit(sql) },
    silentLogger,
  );
  await writer.start();
}, 60_000);

afterAll(async () => {
  await writer?.close();
  await sql?.end({ timeout: 5 });
  await c?.stop();
});

const raw = (body: unknown, key: string | null = null, source = "events"): RawIngest => ({
  tenantId: tenant,
  route: source === "events" ? "/api/v1/events" : `/v1/ingest/${source}`,
  idempotencyKey: key,
  source,
  body: new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body)),
  now: Date.now(),
});

test("concurrent requests are committed in groups and answered with their ids", async () => {
  const flushes = writer.stats.flushes;
  const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => writer.submitRaw(raw(i % 3 ? event(i) : [event(i), event(i + 1)]), i % 3 ? 1 : 2)));
  expect(answers.map((a) => a.length)).toEqual(Array.from({ length: 60 }, (_, i) => (i % 3 ? 1 : 2)));
  // fewer commits than requests: they were grouped
  expect(writer.stats.flushes - flushes).toBeLessThan(60);
  const ids = answers.flat();
  expect(new Set(ids).size).toBe(ids.length);
  const row = await store.events.getEvent(tenant, ids[0]!);
  expect(row?.rawPayload).toBe(JSON.stringify(event(0)));
});

test("an invalid request is answered 422 and the rest of its group is stored", async () => {
  const before = await store.events.countEvents(tenant);
  const res = await Promise.allSettled([writer.submitRaw(raw(event(1))), writer.submitRaw(raw({ type: 5 })), writer.submitRaw(raw("{not json")), writer.submitRaw(raw(event(2)))]);
  expect(res.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
  expect(((res[1] as PromiseRejectedResult).reason as ApiError).status).toBe(422);
  expect(((res[2] as PromiseRejectedResult).reason as ApiError).status).toBe(400);
  expect(await store.events.countEvents(tenant)).toBe(before + 2);
});

test("a repeated Idempotency-Key answers the first request's ids, in one group or across groups", async () => {
  const key = newId();
  const [a, b] = await Promise.all([writer.submitRaw(raw(event(5), key)), writer.submitRaw(raw(event(6), key))]);
  expect(b).toEqual(a);
  expect(await writer.submitRaw(raw(event(7), key))).toEqual(a);
});

test("a mapping made through the store applies to the next request", async () => {
  await store.indicators.createMapping({ tenantId: tenant, name: null, source: "events", path: "payload.peer", type: "ip", active: true }, Date.now());
  const [id] = await writer.submitRaw(raw(event(8, { payload: { peer: "192.0.2.7" } })));
  expect(await store.events.eventIndicatorsOf(id!)).toContainEqual({ type: "ip", value: "192.0.2.7", origin: "custom" });
});

test("while PostgreSQL is stopped every request gets 503 + Retry-After; after it is back, 202s again", async () => {
  await c.pause();
  try {
    const res = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => writer.submitRaw(raw(event(i)))));
    for (const r of res) {
      expect(r.status).toBe("rejected");
      const e = (r as PromiseRejectedResult).reason as ApiError;
      expect(e.status).toBe(503);
      expect(e.headers["retry-after"]).toBe("1");
    }
  } finally {
    await c.resume();
  }
  let ids: string[] | null = null;
  for (let i = 0; i < 50 && !ids; i++) ids = await writer.submitRaw(raw(event(99))).catch(async () => (await Bun.sleep(100), null));
  expect(ids).toHaveLength(1);
  expect((await store.events.getEvent(tenant, ids![0]!))?.id).toBe(ids![0]!);
}, 120_000);

test("under load, PostgreSQL stopped for 2 s: only 202s and 503s, every acknowledged id is stored, no restart needed", async () => {
  const acked: string[] = [];
  const statuses = new Map<string, number>();
  let stop = false;
  const senders = Array.from({ length: 8 }, async (_, k) => {
    for (let i = 0; !stop; i++) {
      try {
        acked.push(...(await writer.submitRaw(raw([event(i), event(i + k)]), 2)));
        statuses.set("202", (statuses.get("202") ?? 0) + 1);
      } catch (e) {
        const s = e instanceof ApiError ? String(e.status) : `error ${String(e)}`;
        statuses.set(s, (statuses.get(s) ?? 0) + 1);
        await Bun.sleep(20);
      }
    }
  });
  await Bun.sleep(500);
  await c.pause();
  await Bun.sleep(2000);
  await c.resume();
  // served again, by the same writer
  const deadline = Date.now() + 20_000;
  const okBefore = statuses.get("202") ?? 0;
  while ((statuses.get("202") ?? 0) < okBefore + 20 && Date.now() < deadline) await Bun.sleep(50);
  stop = true;
  await Promise.all(senders);
  expect([...statuses.keys()].sort(), JSON.stringify([...statuses])).toEqual(["202", "503"]);
  expect(statuses.get("202")!).toBeGreaterThanOrEqual(okBefore + 20);
  const found = await sql`SELECT count(*)::int AS n FROM events WHERE id = ANY(${acked}::text[])`;
  expect(Number(found[0]!.n)).toBe(new Set(acked).size);
}, 120_000);
