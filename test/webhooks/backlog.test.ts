// Backlogs end to end (real server, real SQLite file, real receivers on 127.0.0.1): a webhook with
// 100,000 waiting messages and a hanging receiver delays neither another webhook nor ingest; the
// backlog is visible in the API, /metrics and the admin page; the cap drops the oldest or refuses
// the newest (every policy × mode) with a webhook.backlog_dropped record; attempts are numbered
// 1..n across replays; batched mode drains ≥ 10× faster than the rate limit allows one by one.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { event, startTestServer, TEST_STORE, type TestServer } from "../helpers";
import { startReceiver, until, type Receiver } from "./receiver";

let s: TestServer;
const receivers: Receiver[] = [];
beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8", jobLease: 30, webhookMaxInflight: 4 });
});
afterAll(async () => {
  for (const r of receivers) r.stop();
  await s.close();
});

const adminJson = async (path: string, method = "GET", body?: unknown) => {
  const r = await s.admin(method, path, body);
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
};
const receiver = (answer?: Receiver["answer"]) => {
  const r = startReceiver(answer);
  receivers.push(r);
  return r;
};
const hook = (url: string, extra: Record<string, unknown> = {}) =>
  adminJson("/v1/webhooks", "POST", { url, retry: { max_attempts: 3, initial_interval: 0.1, max_interval: 0.2 }, ...extra });
const deliveriesOf = async (id: string, q = "") => (await adminJson(`/v1/webhooks/${id}/deliveries${q}&limit=500`)).items as any[];
const metric = (text: string, name: string, webhook: string) => {
  const m = new RegExp(`^${name}\\{webhook="${webhook}"\\} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : null;
};

async function adminPage(path: string): Promise<string> {
  const r = await fetch(s.url + "/admin/login", {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ key: s.keys.admin }).toString(),
  });
  const cookie = r.headers.get("set-cookie")!.split(";")[0];
  return (await fetch(s.url + path, { headers: { cookie } })).text();
}

describe("isolation", () => {
  test("with 100,000 messages waiting for a hanging receiver, another webhook's message, ingest and enrichment are prompt", async () => {
    let hanging = 0;
    let peak = 0;
    const hang = receiver(() => {
      hanging++;
      peak = Math.max(peak, hanging);
      return new Promise<Response>(() => {});
    });
    const fine = receiver();
    const slow = await hook(hang.url, { timeout: 10, filters: { sources: ["flood"] } }); // default rate limit 50/s
    const other = await hook(fine.url, { rate_limit: 0, filters: { sources: ["other"] } });
    // 100,000 messages for the first webhook, through the outbox as the ingest path writes them
    const now = Date.now();
    if (TEST_STORE === "postgres") {
      // the PostgreSQL outbox writes a commit's messages with one multi-row unit (enqueueMessages)
      const { compile, messageBody, outboundOf } = await import("../../src/jobs/handlers/webhooks");
      const { newId } = await import("../../src/lib/ids");
      const ob = outboundOf(compile((await s.deps.store.webhooks.getWebhookById(slow.id))!));
      const items = Array.from({ length: 100_000 }, (_, i) => {
        const id = "msg_" + newId(now);
        return { w: ob, m: { id, type: "event.received", body: messageBody(id, "event.received", JSON.stringify({ i }), now) }, at: now };
      });
      await s.deps.store.deliveries.enqueueMessages(items, 60_000);
    } else
      s.deps.sqlite!.db.$client.transaction(() => {
        for (let i = 0; i < 100_000; i++) s.deps.webhooks.emit(s.deps.sqlite!.db, s.tenantId, { type: "event.received", data: { i }, source: "flood" }, now);
      })();
    s.deps.worker.notify();
    await hang.waitFor(4, 5000);
    await Bun.sleep(300);
    const w = await adminJson(`/v1/webhooks/${slow.id}`);
    expect(w.backlog.count).toBe(100_000);
    expect(w.backlog.oldest_age_seconds).toBeGreaterThan(0);
    // the other webhook and ingest are not slowed by the backlog
    for (let k = 0; k < 5; k++) {
      const t0 = Date.now();
      const r = await s.post("/api/v1/events", event(k, { source: "other" }));
      expect(r.status).toBe(202);
      const ingestMs = Date.now() - t0;
      expect(ingestMs).toBeLessThan(500);
      await fine.waitFor(k + 1, 3000);
      expect(Date.now() - t0).toBeLessThan(1000);
    }
    // enrichment shares the jobs table but not the lanes: a new alert is enriched promptly
    const t1 = Date.now();
    const ar = await s.post("/v1/ingest/generic", { title: "Beacon during a backlog", severity: "high", source: "edr", indicators: [{ type: "ip", value: "203.0.113.9" }] });
    expect(ar.status).toBe(202);
    const eventId = ((await ar.json()) as any).ids[0];
    const alerts = (await (await s.get("/v1/alerts?limit=50")).json()) as any;
    const alertId = (
      await Promise.all(alerts.items.map(async (a: any) => (await (await s.get(`/v1/alerts/${a.id}`)).json()) as any))
    ).find((a: any) => a.events.some((e: any) => e.id === eventId)).id;
    await until(async () => ((await (await s.get(`/v1/alerts/${alertId}`)).json()) as any).enrichment_status === "enriched", 3000, "alert enriched");
    expect(Date.now() - t1).toBeLessThan(3000);
    // the hanging receiver holds its in-flight cap (4), never more, and nothing was claimed beyond it
    expect(peak).toBe(4);
    const jobs = (await s.sql("SELECT state, count(*) AS n, max(attempt) AS a FROM jobs WHERE lane = ?1 GROUP BY state", slow.id)) as { state: string; n: number; a: number }[];
    expect(jobs.find((j) => j.state === "running")?.n).toBe(4);
    expect(jobs.find((j) => j.state === "available")?.n).toBe(100_000 - 4);
    expect(jobs.find((j) => j.state === "available")?.a).toBe(0); // waiting messages were never touched
    // visible in /metrics
    const text = await (await fetch(s.url + "/metrics")).text();
    expect(metric(text, "keepwatch_webhook_backlog", slow.id)).toBe(100_000);
    expect(metric(text, "keepwatch_webhook_backlog_oldest_age_seconds", slow.id)!).toBeGreaterThan(0);
    expect(metric(text, "keepwatch_webhook_backlog", other.id)).not.toBeNull();
    await until(async () => (await adminJson(`/v1/webhooks/${other.id}`)).backlog.count === 0, 3000, "the other webhook's backlog empty");
    // stop it: the waiting messages go to held when the webhook is switched off
    await adminJson(`/v1/webhooks/${slow.id}`, "DELETE");
  }, 120_000);
});

describe("visible", () => {
  test("backlog count and oldest age in GET, list, /metrics and the admin pages; they fall as messages are sent", async () => {
    const r = receiver();
    const w = await hook(r.url, { rate_limit: 2, filters: { sources: ["vis"] } }); // a burst of 2, then 2/s
    expect(w.backlog).toEqual({ count: 0, oldest_at: null, oldest_age_seconds: 0, dropped: 0 });
    expect((await s.post("/api/v1/events", Array.from({ length: 8 }, (_, i) => event(i, { source: "vis" })))).status).toBe(202);
    await r.waitFor(2);
    await Bun.sleep(150);
    const one = await adminJson(`/v1/webhooks/${w.id}`);
    expect(one.backlog.count).toBeGreaterThanOrEqual(5);
    expect(one.backlog.count).toBeLessThanOrEqual(6);
    expect(Date.parse(one.backlog.oldest_at)).toBeLessThanOrEqual(Date.now());
    const listed = (await adminJson("/v1/webhooks")).items.find((x: any) => x.id === w.id);
    expect(listed.backlog.count).toBe(one.backlog.count);
    const text = await (await fetch(s.url + "/metrics")).text();
    expect(metric(text, "keepwatch_webhook_backlog", w.id)).toBe(one.backlog.count);
    const detail = await adminPage(`/admin/webhooks/${w.id}`);
    expect(detail).toMatch(new RegExp(`id="backlog"><span class="backlog">${one.backlog.count}</span> <span class="muted">oldest \\d+ s`));
    expect(await adminPage("/admin/webhooks")).toContain(`<span class="backlog">`);
    // drained at the rate limit: 8 messages at 2/s after a burst of 2 take about 3 s
    await r.waitFor(8, 8000);
    const done = await until(async () => {
      const x = await adminJson(`/v1/webhooks/${w.id}`);
      return x.backlog.count === 0 ? x : null;
    }, 3000, "backlog 0");
    expect(done.backlog.oldest_at).toBeNull();
    expect(r.got[7].at - r.got[0].at).toBeGreaterThanOrEqual(2500);
  }, 30_000);
});

describe("the backlog cap", () => {
  for (const mode of ["immediate", "batched"] as const)
    for (const policy of ["drop_oldest", "refuse_newest"] as const)
      test(`${mode}, ${policy}: at most the cap waits, the ${policy === "drop_oldest" ? "oldest are" : "newest are"} dropped, and webhook.backlog_dropped is recorded`, async () => {
        const src = `cap-${mode}-${policy}`;
        const r = receiver(() => new Promise<Response>(() => {})); // nothing ever completes
        const w = await hook(r.url, {
          mode,
          interval: 3600,
          rate_limit: mode === "immediate" ? 0.01 : 0, // immediate: one message goes out, then nothing for 100 s
          timeout: 60,
          backlog_cap: 3,
          backlog_policy: policy,
          filters: { sources: [src] },
        });
        expect(w.backlog_cap).toBe(3);
        expect(w.backlog_policy).toBe(policy);
        // one message at a time through the ingest route (the writer thread's outbox)
        const hosts: string[] = [];
        for (let i = 0; i < 7; i++) {
          expect((await s.post("/api/v1/events", event(900 + i, { source: src }))).status).toBe(202);
          hosts.push(`backup-${900 + i}`);
          if (i === 0 && mode === "immediate") await r.waitFor(1); // the first is in flight: it is never dropped
        }
        const all = await deliveriesOf(w.id, "?status=dropped");
        const dropped = all.map((d: any) => d.id);
        const pending = await deliveriesOf(w.id, "?status=pending");
        const hostOf = async (id: string) => (await adminJson(`/v1/deliveries/${id}`)).body.data.host as string;
        const droppedHosts = (await Promise.all(dropped.map(hostOf))).sort();
        const pendingHosts = (await Promise.all(pending.map((d: any) => hostOf(d.id)))).sort();
        expect(pending.length).toBe(3);
        expect(dropped.length).toBe(4);
        if (policy === "refuse_newest") {
          expect(pendingHosts).toEqual(hosts.slice(0, 3));
          expect(droppedHosts).toEqual(hosts.slice(3));
        } else if (mode === "immediate") {
          // the first is in flight and stays; the next oldest make room for the newest
          expect(pendingHosts).toEqual([hosts[0], hosts[5], hosts[6]]);
          expect(droppedHosts).toEqual(hosts.slice(1, 5));
        } else {
          expect(pendingHosts).toEqual(hosts.slice(4));
          expect(droppedHosts).toEqual(hosts.slice(0, 4));
        }
        expect(all.every((d: any) => d.last_error?.includes(`backlog cap 3 reached (${policy})`))).toBe(true);
        const view = await adminJson(`/v1/webhooks/${w.id}`);
        expect(view.backlog.count).toBe(3);
        expect(view.backlog.dropped).toBe(4);
        // one record per minute at most: the first drop is reported
        const evs = (await (await s.get("/v1/events?type=webhook.backlog_dropped&limit=100")).json()) as any;
        const mine = evs.items.filter((e: any) => e.summary.includes(`(${w.url})`));
        expect(mine.length).toBe(1);
        const full = await (await s.get(`/v1/events/${mine[0].id}`)).json() as any;
        expect(full.payload).toMatchObject({ webhook_id: w.id, policy, backlog_cap: 3, dropped: 1 });
        const text = await (await fetch(s.url + "/metrics")).text();
        expect(metric(text, "keepwatch_webhook_backlog_dropped_total", w.id)).toBe(4);
        // a dropped message can be replayed like a failed one
        await adminJson(`/v1/webhooks/${w.id}`, "PATCH", { backlog_cap: 0 });
        const rep = await adminJson(`/v1/webhooks/${w.id}/replay?since=1970-01-01T00:00:00Z&status=dropped`, "POST");
        expect(rep.replayed).toBe(4);
        expect((await adminJson(`/v1/webhooks/${w.id}`)).backlog.count).toBe(7);
        await adminJson(`/v1/webhooks/${w.id}`, "DELETE");
      }, 30_000);

  test("cap and policy are checked: bad values are a 422 naming the field, and nothing changes", async () => {
    const r = receiver();
    const w = await hook(r.url, { filters: { sources: ["nothing"] } });
    for (const bad of [{ backlog_cap: -1 }, { backlog_cap: 1.5 }, { backlog_cap: 100_000_001 }, { backlog_policy: "drop_all" }, { backlog_policy: null }]) {
      const res = await s.admin("PATCH", `/v1/webhooks/${w.id}`, bad);
      expect(res.status).toBe(422);
      const body = (await res.json()) as any;
      expect(JSON.stringify(body.error)).toContain(Object.keys(bad)[0]);
    }
    const after = await adminJson(`/v1/webhooks/${w.id}`);
    expect(after.backlog_cap).toBe(0);
    expect(after.backlog_policy).toBe("drop_oldest");
    expect((await s.admin("POST", "/v1/webhooks", { url: r.url, backlog_policy: "newest" })).status).toBe(422);
  });
});

describe("attempt numbers", () => {
  test("attempts of one message are numbered 1..n across retries and replays", async () => {
    const r = receiver((n) => new Response(null, { status: n < 3 ? 500 : 200 }));
    const w = await hook(r.url, { rate_limit: 0, retry: { max_attempts: 2, initial_interval: 0.1, max_interval: 0.1 }, filters: { sources: ["numbers"] } });
    expect((await s.post("/api/v1/events", event(1, { source: "numbers" }))).status).toBe(202);
    const d = await until(async () => (await deliveriesOf(w.id, "?status=failed"))[0], 5000, "failed after 2 attempts");
    // replay: attempt 3 fails (500), attempt 4 succeeds
    await adminJson(`/v1/deliveries/${d.id}/replay`, "POST");
    const done = await until(async () => {
      const x = await adminJson(`/v1/deliveries/${d.id}`);
      return x.status === "succeeded" ? x : null;
    }, 5000, "replayed and delivered");
    expect(done.attempts.map((a: any) => a.attempt)).toEqual([1, 2, 3, 4]);
    expect(done.attempts.map((a: any) => a.outcome)).toEqual(["failed", "failed", "failed", "succeeded"]);
    expect(done.attempt_count).toBe(4);
    // and once more: 5
    await adminJson(`/v1/deliveries/${d.id}/replay`, "POST");
    const again = await until(async () => {
      const x = await adminJson(`/v1/deliveries/${d.id}`);
      return x.attempts.length === 5 && x.status === "succeeded" ? x : null;
    }, 5000, "second replay");
    expect(again.attempts.map((a: any) => a.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(r.got.map((g) => g.headers["webhook-id"]))).toEqual(new Set([d.id]));
  }, 20_000);
});

describe("batched mode for mirrors", () => {
  test("batched drains at least 10x faster than its rate limit allows one by one", async () => {
    const r = receiver();
    const RATE = 5;
    const N = 600;
    const w = await hook(r.url, { mode: "batched", interval: 1, max_batch: 200, rate_limit: RATE, filters: { sources: ["mirror"] } });
    const t0 = Date.now();
    for (let k = 0; k < N / 200; k++)
      expect((await s.post("/api/v1/events", Array.from({ length: 200 }, (_, i) => event(k * 200 + i, { source: "mirror" })))).status).toBe(202);
    await until(async () => (await adminJson(`/v1/webhooks/${w.id}`)).backlog.count === 0, 20_000, "batched backlog drained");
    const elapsed = (Date.now() - t0) / 1000;
    const oneByOne = N / RATE; // 120 s
    const got = r.got.reduce((a, g) => a + (Array.isArray(g.json) ? g.json.length : 0), 0);
    expect(got).toBe(N);
    console.log(`batched: ${N} messages in ${elapsed.toFixed(1)} s; one by one at ${RATE}/s: ${oneByOne} s (${(oneByOne / elapsed).toFixed(0)}x)`);
    expect(oneByOne / elapsed).toBeGreaterThanOrEqual(10);
  }, 30_000);
});
