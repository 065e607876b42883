// Heartbeats over real HTTP with the real clock: the API, ping URLs, the scheduler going down
// within a second of the deadline, the alert it opens and the beat that resolves it, event beats.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { event, json, startTestServer, type TestServer } from "../helpers";
import { dbFile, openDatabase } from "../../src/db/client";
import { rawRequest } from "../http/raw";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());


async function waitFor<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await Bun.sleep(50);
  }
}

describe("API", () => {
  test("create with a period; the ping URL is part of the answer; bad settings are 422 naming the field", async () => {
    const r = await s.admin("POST", "/v1/heartbeats", { name: "every-minute", period: 60, grace: 30 });
    expect(r.status).toBe(201);
    const h = await r.json() as any;
    expect(h.state).toBe("new");
    expect(h.ping_url).toMatch(new RegExp(`^${s.url}/ping/[A-Za-z0-9_-]{24}$`));
    const cases: [unknown, string][] = [
      [{ name: "x" }, "/period"],
      [{ name: "x", period: 60, cron: "* * * * *" }, "/cron"],
      [{ name: "x", cron: "61 * * * *" }, "/cron"],
      [{ name: "x", cron: "0 2 * * *", tz: "Mars/Base" }, "/tz"],
      [{ name: "x", period: 0 }, "/period"],
      [{ name: "x", period: 60, filter: { field: "nope", op: "eq", value: 1 } }, "/filter/field"],
      [{ name: "x", period: 60, colour: "red" }, "/colour"],
    ];
    for (const [body, path] of cases) {
      const bad = await s.admin("POST", "/v1/heartbeats", body);
      expect({ body, status: bad.status }).toEqual({ body, status: 422 });
      expect(JSON.stringify((await bad.json() as any).error.details)).toContain(path);
    }
  });

  test("a cron schedule with a time zone", async () => {
    const h = await json(s.admin("POST", "/v1/heartbeats", { name: "nightly-backup", cron: "0 2 * * *", tz: "Europe/Berlin", grace: 1800 }));
    expect(h.cron).toBe("0 2 * * *");
    expect(h.tz).toBe("Europe/Berlin");
    await fetch(h.ping_url);
    const after = await json(s.get(`/v1/heartbeats/${h.id}`));
    expect(after.state).toBe("up");
    const due = new Date(after.due_at);
    // 02:00 in Berlin is 00:00 or 01:00 UTC
    expect([0, 1]).toContain(due.getUTCHours());
    expect(new Date(after.down_at).getTime() - due.getTime()).toBe(1800_000);
  });
});

describe("pings and the scheduler", () => {
  test("period 1 s, grace 1 s: down within a second of the deadline, alert opened; a ping brings it back up and resolves the alert", async () => {
    const h = await json(s.admin("POST", "/v1/heartbeats", { name: "fast", period: 1, grace: 1, severity: "critical" }));
    const ping = await fetch(h.ping_url, { method: "POST", body: "backup done: 3 files" });
    expect(ping.status).toBe(200);
    const up = await json(s.get(`/v1/heartbeats/${h.id}`));
    expect(up.state).toBe("up");
    const deadline = new Date(up.down_at).getTime();
    const down = await waitFor(() => json(s.get(`/v1/heartbeats/${h.id}`)), (v) => v.state === "down", 6000);
    expect(down.state).toBe("down");
    const noticed = Date.now();
    expect(noticed - deadline).toBeLessThan(1500);
    const flips = (await json(s.get(`/v1/heartbeats/${h.id}/flips`))).items;
    const downFlip = flips.find((f: any) => f.to === "down");
    expect(new Date(downFlip.at).getTime()).toBe(deadline); // dated at the exact deadline
    expect(flips.map((f: any) => `${f.from}>${f.to}`).reverse()).toEqual(["new>up", "up>late", "late>down"]);
    const alerts = (await json(s.get("/v1/alerts?source_name=heartbeat&source=fast"))).items;
    expect(alerts.length).toBe(1);
    expect(alerts[0]).toMatchObject({ status: "open", severity: "critical", title: "fast is down" });
    const evs = (await json(s.get("/v1/events?source_name=heartbeat&source=fast"))).items;
    expect(evs.map((e: any) => e.type)).toEqual(["heartbeat.down"]);

    await fetch(h.ping_url);
    const back = await json(s.get(`/v1/heartbeats/${h.id}`));
    expect(back.state).toBe("up");
    const closed = (await json(s.get(`/v1/alerts/${alerts[0].id}`)));
    expect(closed.status).toBe("closed");
    expect(closed.classification).toBe("resolved");
    expect((await json(s.get("/v1/events?source_name=heartbeat&source=fast"))).items.map((e: any) => e.type)).toEqual(["heartbeat.up", "heartbeat.down"]);
    const pings = (await json(s.get(`/v1/heartbeats/${h.id}/pings`))).items;
    expect(pings.at(-1)).toMatchObject({ kind: "success", method: "POST", body: "backup done: 3 files" });
    await s.admin("POST", `/v1/heartbeats/${h.id}/pause`);
  });

  test("a ping is never refused for its shape: GET, HEAD and POST, with or without a body, each one counts (a GET's or HEAD's small body is ignored; a chunked or huge one is refused: test/http/gate)", async () => {
    const h = await json(s.admin("POST", "/v1/heartbeats", { name: "any-shape", period: 60, grace: 60 }));
    const path = new URL(h.ping_url).pathname + "/log";
    const port = Number(new URL(s.url).port);
    // fetch refuses a body on GET/HEAD; some HTTP clients send one: a raw request
    const shapes: [string, string | null][] = [
      ["GET", null],
      ["GET", "sent with a GET"],
      ["HEAD", null],
      ["HEAD", "sent with a HEAD"],
      ["POST", null],
      ["POST", "sent with a POST"],
    ];
    for (const [method, body] of shapes) {
      const r = await rawRequest({
        port,
        method,
        path,
        headers: { connection: "close", ...(body === null ? {} : { "content-length": String(Buffer.byteLength(body)) }) },
        ...(body === null ? {} : { body }),
        waitMs: 5000,
      });
      expect({ method, body, status: r.status }).toEqual({ method, body, status: 200 });
    }
    const pings = (await json(s.get(`/v1/heartbeats/${h.id}/pings`))).items.reverse();
    expect(pings.map((p: any) => [p.method, p.body])).toEqual(shapes.map(([m, b]) => [m, m === "POST" ? b : null]));
    await s.admin("POST", `/v1/heartbeats/${h.id}/pause`);
  });

  test("a write lock held by another connection across the deadline delays the flip, never loses it, and reads are answered meanwhile", async () => {
    const h = await json(s.admin("POST", "/v1/heartbeats", { name: "locked-out", period: 1, grace: 1 }));
    await fetch(h.ping_url);
    const deadline = new Date((await json(s.get(`/v1/heartbeats/${h.id}`))).down_at).getTime();
    // another process (a backup, the CLI) holds the write lock from before the deadline to 400 ms
    // after it: on SQLite the database's write lock, on PostgreSQL the heartbeat's row lock
    const held = async () => {
      await Bun.sleep(Math.max(0, deadline + 200 - Date.now()));
      // the HTTP thread is not stuck waiting for the lock: reads are answered at once
      const t = performance.now();
      expect((await s.get(`/v1/heartbeats/${h.id}`)).status).toBe(200);
      expect(performance.now() - t).toBeLessThan(150);
      await Bun.sleep(Math.max(0, deadline + 400 - Date.now()));
    };
    await Bun.sleep(Math.max(0, deadline - 200 - Date.now()));
    if (s.deps.pg) {
      await s.deps.pg.begin(async (tx) => {
        await tx`SELECT id FROM heartbeats WHERE id = ${h.id} FOR UPDATE`;
        await held();
      });
    } else {
      const other = openDatabase(dbFile(s.dir), { busyTimeoutMs: 0 });
      other.$client.exec("BEGIN IMMEDIATE");
      try {
        await held();
      } finally {
        other.$client.exec("COMMIT");
        other.$client.close();
      }
    }
    const down = await waitFor(() => json(s.get(`/v1/heartbeats/${h.id}`)), (v) => v.state === "down", 3000);
    expect(down.state).toBe("down");
    expect(Date.now() - deadline).toBeLessThan(1500);
    const flips = (await json(s.get(`/v1/heartbeats/${h.id}/flips`))).items;
    expect(new Date(flips.find((f: any) => f.to === "down").at).getTime()).toBe(deadline);
    await s.admin("POST", `/v1/heartbeats/${h.id}/pause`);
  });

  test("/fail and non-zero exit codes are down at once; /start and /log are recorded; /0 is success", async () => {
    const h = await json(s.admin("POST", "/v1/heartbeats", { name: "job", period: 3600 }));
    expect((await fetch(h.ping_url + "/start")).status).toBe(200);
    expect((await fetch(h.ping_url + "/log", { method: "POST", body: "x".repeat(20_000) })).status).toBe(200);
    expect((await json(s.get(`/v1/heartbeats/${h.id}`))).state).toBe("new");
    expect((await fetch(h.ping_url + "/0")).status).toBe(200);
    expect((await json(s.get(`/v1/heartbeats/${h.id}`))).state).toBe("up");
    expect((await fetch(h.ping_url + "/3")).status).toBe(200);
    expect((await json(s.get(`/v1/heartbeats/${h.id}`))).state).toBe("down");
    expect((await fetch(h.ping_url + "/256")).status).toBe(404);
    expect((await fetch(h.ping_url + "/nope")).status).toBe(404);
    expect((await fetch(`${s.url}/ping/not-a-token`)).status).toBe(404);
    const head = await fetch(h.ping_url, { method: "HEAD" });
    expect(head.status).toBe(200);
    const pings = (await json(s.get(`/v1/heartbeats/${h.id}/pings`))).items;
    expect(pings.map((p: any) => p.kind)).toEqual(["success", "fail", "success", "log", "start"]);
    expect(pings.find((p: any) => p.kind === "log").body.length).toBe(10 * 1024);
    expect(pings.find((p: any) => p.kind === "fail").exit_code).toBe(3);
  });

  test("only the last 100 pings are kept", async () => {
    const h = await json(s.admin("POST", "/v1/heartbeats", { name: "chatty", period: 3600 }));
    for (let i = 0; i < 105; i++) await fetch(h.ping_url + "/log", { method: "POST", body: `line ${i}` });
    const pings = (await json(s.get(`/v1/heartbeats/${h.id}/pings`))).items;
    expect(pings.length).toBe(100);
    expect(pings[0].body).toBe("line 104");
    expect(pings.at(-1).body).toBe("line 5");
  });

  test("pause: no alert while paused; resume waits for a beat (new), the next beat makes it up", async () => {
    const h = await json(s.admin("POST", "/v1/heartbeats", { name: "maintenance", period: 1, grace: 0 }));
    await fetch(h.ping_url);
    const p = await json(s.admin("POST", `/v1/heartbeats/${h.id}/pause`));
    expect(p.state).toBe("paused");
    await Bun.sleep(1500);
    expect((await json(s.get(`/v1/heartbeats/${h.id}`))).state).toBe("paused");
    expect((await json(s.get("/v1/alerts?source=maintenance"))).items.length).toBe(0);
    const r = await json(s.admin("POST", `/v1/heartbeats/${h.id}/resume`));
    expect(r).toMatchObject({ state: "new", due_at: null, down_at: null });
    await fetch(h.ping_url);
    const up = await json(s.get(`/v1/heartbeats/${h.id}`));
    expect(up.state).toBe("up");
    expect(new Date(up.due_at).getTime()).toBeGreaterThan(Date.now() - 200);
    await s.admin("POST", `/v1/heartbeats/${h.id}/pause`);
  });

  test("events matching a heartbeat's filter are beats", async () => {
    const h = await json(
      s.admin("POST", "/v1/heartbeats", {
        name: "nightly-backup-events",
        period: 3600,
        filter: { all: [{ field: "type", op: "eq", value: "heartbeat" }, { field: "source", op: "eq", value: "nightly-backup" }] },
      }),
    );
    await s.post("/api/v1/events", event(1, { type: "heartbeat", source: "someone-else" }));
    expect((await json(s.get(`/v1/heartbeats/${h.id}`))).state).toBe("new");
    const r = await json(s.post("/api/v1/events", event(1, { type: "heartbeat", source: "nightly-backup" })));
    const hb = await json(s.get(`/v1/heartbeats/${h.id}`));
    expect(hb.state).toBe("up");
    const pings = (await json(s.get(`/v1/heartbeats/${h.id}/pings`))).items;
    expect(pings[0]).toMatchObject({ kind: "event", event_id: r.ids[0] });
  });

  test("another tenant cannot see or change these heartbeats; reads need read, changes need admin", async () => {
    const list = (await json(s.get("/v1/heartbeats"))).items;
    expect(list.length).toBeGreaterThan(3);
    const pingUrl = (await json(s.get(`/v1/heartbeats/${list[0].id}`))).ping_url;
    expect((await fetch(pingUrl)).status).toBe(200); // the ping route now caches this URL
    expect((await s.admin("DELETE", `/v1/heartbeats/${list[0].id}`)).status).toBe(204);
    expect((await s.get(`/v1/heartbeats/${list[0].id}`)).status).toBe(404);
    expect((await fetch(pingUrl)).status).toBe(404); // and forgets it with the deletion
    const r = await fetch(`${s.url}/v1/heartbeats`, { method: "POST", headers: { "x-api-key": s.keys.read, "content-type": "application/json" }, body: JSON.stringify({ name: "x", period: 5 }) });
    expect(r.status).toBe(403);
  });
});
