// GET /v1/events and /v1/events/:id: filters, keyset pagination, tenant isolation.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { event, startTestServer, type TestServer } from "../helpers";

let s: TestServer;
let otherRead: string;
let otherIngest: string;
const ids: string[] = [];

beforeAll(async () => {
  s = await startTestServer();
  const t2 = await s.deps.store.tenants.createTenant("t2");
  otherRead = (await s.deps.store.keys.createKey({ tenantId: t2.id, name: "r", scopes: ["read"] })).key;
  otherIngest = (await s.deps.store.keys.createKey({ tenantId: t2.id, name: "i", scopes: ["ingest"] })).key;
  const items = [
    event(0, { source: "nightly-cron", type: "backup.completed", severity: "info", summary: "backup ok" }),
    event(1, { source: "nightly-cron", type: "check.failed", severity: "warning", summary: "disk 93% on backup-1" }),
    event(2, { source: "github-actions", type: "deploy.failed", severity: "critical", summary: "prod deploy failed" }),
    event(3, { source: "github-actions", type: "deploy.started", severity: "info", summary: "deploy 100% started" }),
  ];
  for (const it of items) {
    const r = (await (await s.post("/api/v1/events", it)).json()) as any;
    ids.push(r.ids[0]);
    await Bun.sleep(2); // distinct received times
  }
  await s.post("/v1/ingest/generic", { title: "generic alert", severity: "High" });
  // the other tenant's data must never show up here
  await s.post("/api/v1/events", event(9, { source: "nightly-cron", summary: "other tenant" }), { key: otherIngest });
});
afterAll(() => s.close());

const list = async (q: string, key?: string) => (await (await s.get(`/v1/events${q}`, key)).json()) as any;

test("newest first, tenant-scoped", async () => {
  const r = await list("");
  expect(r.items.length).toBe(5);
  expect(r.items[0].title).toBe("generic alert");
  expect(r.items.map((e: any) => e.id).slice(1)).toEqual([...ids].reverse());
  expect(r.items.some((e: any) => e.summary === "other tenant")).toBe(false);
});

describe("filters", () => {
  test("source, source_name, type", async () => {
    expect((await list("?source=nightly-cron")).items.map((e: any) => e.id)).toEqual([ids[1], ids[0]]);
    expect((await list("?source_name=generic")).items.length).toBe(1);
    expect((await list("?type=deploy.failed")).items.map((e: any) => e.id)).toEqual([ids[2]]);
  });

  test("severity is 'at least'", async () => {
    const r = await list("?severity=medium");
    expect(r.items.map((e: any) => e.severity).sort()).toEqual(["critical", "high", "medium"]);
  });

  test("text search (full-text, title, summary and payload): LIKE wildcards are plain text", async () => {
    expect((await list("?q=deploy")).items.length).toBe(2);
    expect((await list("?q=100%25")).items.map((e: any) => e.id)).toEqual([ids[3]]);
    expect((await list("?q=_")).items.length).toBe(0);
  });

  test("since/until on received time", async () => {
    const all = (await list("")).items;
    const mid = all[2].received_at;
    const since = (await list(`?since=${encodeURIComponent(mid)}`)).items;
    expect(since.every((e: any) => e.received_at >= mid)).toBe(true);
    const until = (await list(`?until=${encodeURIComponent(mid)}`)).items;
    expect(until.every((e: any) => e.received_at < mid)).toBe(true);
    expect(since.length + until.length).toBe(5);
  });

  test("bad query values are 422 naming the parameter", async () => {
    for (const q of ["?severity=bogus", "?limit=0", "?since=yesterday", "?cursor=nope"]) {
      const r = await s.get(`/v1/events${q}`);
      expect(r.status).toBe(422);
      const e = ((await r.json()) as any).error;
      expect(JSON.stringify(e)).toMatch(new RegExp(q.slice(1).split("=")[0]));
    }
  });
});

test("cursor pagination walks every event exactly once", async () => {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const r: any = await list(`?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
    seen.push(...r.items.map((e: any) => e.id));
    cursor = r.next_cursor;
    pages++;
  } while (cursor && pages < 10);
  expect(pages).toBe(3);
  expect(seen.length).toBe(5);
  expect(new Set(seen).size).toBe(5);
});

test("detail has the payload and the raw payload; another tenant gets 404", async () => {
  const r = await s.get(`/v1/events/${ids[1]}`);
  expect(r.status).toBe(200);
  const e = (await r.json()) as any;
  expect(e.payload).toEqual({ host: "backup-1", pct: 91 });
  expect(e.raw_payload.type).toBe("check.failed");
  const other = await s.get(`/v1/events/${ids[1]}`, otherRead);
  expect(other.status).toBe(404);
  expect((await list("", otherRead)).items.map((e: any) => e.summary)).toEqual(["other tenant"]);
});

test("reading needs a key with the read scope", async () => {
  expect((await s.get("/v1/events", null)).status).toBe(401);
  expect((await s.get("/v1/events", s.keys.admin)).status).toBe(200);
});

test("paging both ways: cursor walks older pages, after walks back to the same pages, newest first", async () => {
  for (const limit of [1, 2, 3]) {
    const pages: string[][] = [];
    let cursor = "";
    for (;;) {
      const r = await list(`?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
      pages.push(r.items.map((e: any) => e.id));
      if (!r.next_cursor) break;
      cursor = r.next_cursor;
    }
    expect(pages.flat().length).toBe(5);
    // from the oldest page back up: each `after` page is the one before it in the walk
    for (let i = pages.length - 1; i > 0; i--) {
      const r = await list(`?limit=${limit}&after=${pages[i][0]}`);
      expect({ limit, i, ids: r.items.map((e: any) => e.id) }).toEqual({ limit, i, ids: pages[i - 1] });
    }
    expect((await list(`?limit=${limit}&after=${pages[0][0]}`)).items).toEqual([]);
  }
  expect((await s.get("/v1/events?after=nope")).status).toBe(422);
});
