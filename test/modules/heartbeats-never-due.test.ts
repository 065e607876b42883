// A cron schedule that never fires ("0 2 30 2 *": 30 February) is refused on create and PATCH;
// a heartbeat stored with one before (or with a schedule that no longer parses) answers its pings
// and never makes an event batch fail: its beats are recorded, it just has no deadline.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { event, json, startTestServer, type TestServer } from "../helpers";
import { dbFile, openDatabase } from "../../src/db/client";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const NEVER = ["0 2 30 2 *", "0 0 31 4 *", "0 0 31 11 *", "0 0 30-31 2 *", "0 0 0 30 2 *"];

describe("a cron that never fires", () => {
  test("is a 422 naming /cron on create, and on PATCH (cron alone, or a tz change on such a cron)", async () => {
    for (const cron of NEVER) {
      const r = await s.admin("POST", "/v1/heartbeats", { name: "never", cron });
      expect({ cron, status: r.status }).toEqual({ cron, status: 422 });
      const err = ((await r.json()) as any).error;
      expect(err.details[0].path).toBe("/cron");
      expect(err.message).toContain("never fires");
    }
    const h = await json(s.admin("POST", "/v1/heartbeats", { name: "nightly", cron: "0 2 * * *" }));
    for (const cron of NEVER) {
      const r = await s.admin("PATCH", `/v1/heartbeats/${h.id}`, { cron, tz: "Europe/Berlin" });
      expect({ cron, status: r.status }).toEqual({ cron, status: 422 });
    }
    const r = await s.admin("PATCH", `/v1/heartbeats/${h.id}`, { period: 60 });
    expect(r.status).toBe(200);
    expect((await json(s.admin("PATCH", `/v1/heartbeats/${h.id}`, { cron: "0 0 29 2 *" }))).cron).toBe("0 0 29 2 *");
    // nothing of the refused edits stuck
    expect((await json(s.get(`/v1/heartbeats/${h.id}`))).tz).toBe("UTC");
  });

  test("one already stored (from before the check, or whose zone or syntax went away): pings answer, matching batches are stored", async () => {
    const stored = ["0 2 30 2 *", "not a cron at all", "0 2 * * *|Mars/Olympus"];
    const filter = { all: [{ field: "type", op: "eq", value: "heartbeat" }, { field: "source", op: "eq", value: "legacy-job" }] };
    const ids: { id: string; url: string }[] = [];
    // what an older keepwatch (or a hand edit) may have left in the table: written past the API,
    // on another connection to the same database
    const other = s.deps.pg ? null : openDatabase(dbFile(s.dir));
    try {
      for (const [i, spec] of stored.entries()) {
        const h = await json(s.admin("POST", "/v1/heartbeats", { name: `legacy-${i}`, cron: "0 2 * * *", grace: 60, filter }));
        const [cron, tz] = spec.split("|");
        if (s.deps.pg) await s.deps.pg`UPDATE heartbeats SET cron = ${cron}, tz = ${tz ?? "UTC"} WHERE id = ${h.id}`;
        else other!.$client.query("UPDATE heartbeats SET cron = ?, tz = ? WHERE id = ?").run(cron, tz ?? "UTC", h.id);
        ids.push({ id: h.id, url: h.ping_url });
      }
    } finally {
      other?.$client.close();
    }
    for (const { id, url } of ids) {
      for (const suffix of ["", "/start", "/log", "/0", "/fail", ""]) {
        const r = await fetch(url + suffix, { method: "POST", body: "done" });
        expect({ suffix, status: r.status }).toEqual({ suffix, status: 200 });
      }
      const h = await json(s.get(`/v1/heartbeats/${id}`));
      expect(h.state).toBe("up");
      expect(h.due_at).toBeNull();
      expect(h.next_deadline ?? null).toBeNull();
      // pause and resume work on it too
      expect((await s.admin("POST", `/v1/heartbeats/${id}/pause`)).status).toBe(200);
      expect((await s.admin("POST", `/v1/heartbeats/${id}/resume`)).status).toBe(200);
    }
    // an event batch whose items match their filter is stored whole (it was a 500, the batch lost)
    const before = (await json(s.get("/v1/events?source=legacy-job&limit=100"))).items.length;
    const r = await s.post("/api/v1/events", [event(1, { type: "heartbeat", source: "legacy-job" }), event(2), event(3, { type: "heartbeat", source: "legacy-job" })]);
    expect(r.status).toBe(202);
    expect((await r.json() as any).ids).toHaveLength(3);
    expect((await json(s.get("/v1/events?source=legacy-job&limit=100"))).items.length).toBe(before + 2);
    for (const { id } of ids) expect((await json(s.get(`/v1/heartbeats/${id}/pings`))).items[0].kind).toBe("event");
    // the admin page shows them (no next deadline), and its form refuses a never-firing cron
    const login = await fetch(s.url + "/admin/login", {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: s.url },
      body: new URLSearchParams({ key: s.keys.admin }).toString(),
    });
    const cookie = login.headers.get("set-cookie")!.split(";")[0];
    for (const { id } of ids) expect((await fetch(`${s.url}/admin/heartbeats/${id}`, { headers: { cookie } })).status).toBe(200);
    const list = await fetch(`${s.url}/admin/heartbeats`, { headers: { cookie } });
    expect(list.status).toBe(200);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await list.text())![1];
    const made = await fetch(`${s.url}/admin/heartbeats`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded", origin: s.url, referer: `${s.url}/admin/heartbeats` },
      body: new URLSearchParams({ csrf, name: "never-admin", schedule: "cron", cron: "0 2 30 2 *", tz: "UTC" }).toString(),
    });
    expect(made.status).toBe(422);
    expect(await made.text()).toContain("never fires");
    // and the server is still well
    expect((await fetch(s.url + "/healthz")).status).toBe(200);
  });
});
