// Deleting from the admin page in a real browser: a heartbeat (its open alert closes as resolved
// and its ping URL stops working), a webhook (its deliveries go with it) and a rule. Each Delete
// asks first: dismissing the question keeps the thing, accepting it deletes it.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { event, json } from "../helpers";
import { adminInBrowser, shot } from "./browser";

setDefaultTimeout(20_000);

const t = adminInBrowser({ outboundAllow: "127.0.0.0/8" });

/** Clicks the page's Delete button, answering its question; returns the question asked. */
async function clickDelete(accept: boolean): Promise<string> {
  const asked = new Promise<string>((resolve) =>
    t.page.once("dialog", async (d) => {
      resolve(d.message());
      await (accept ? d.accept() : d.dismiss());
    }),
  );
  await t.page.click('button.danger:has-text("Delete")');
  return asked;
}

describe("delete from the admin page", () => {
  test("a heartbeat that is down: dismissed, nothing happens; accepted, it is gone, its alert resolved, its ping URL 404", async () => {
    const h = await json(t.s.admin("POST", "/v1/heartbeats", { name: "old-backup-job", period: 3600 }));
    expect((await fetch(h.ping_url + "/fail")).status).toBe(200); // down at once, with an open alert
    const alert = (await json(t.s.get("/v1/alerts?source_name=heartbeat&source=old-backup-job"))).items[0];
    expect(alert.status).toBe("open");
    await t.page.goto(`${t.s.url}/admin/heartbeats/${h.id}`);
    expect(await clickDelete(false)).toContain("Delete this heartbeat?");
    await Bun.sleep(200);
    expect(t.page.url()).toBe(`${t.s.url}/admin/heartbeats/${h.id}`);
    expect((await t.s.admin("GET", `/v1/heartbeats/${h.id}`)).status).toBe(200);

    await clickDelete(true);
    await t.page.waitForURL(/\/admin\/heartbeats\?done=deleted$/);
    expect(await t.page.textContent(".flash")).toContain("Deleted.");
    expect(await t.page.locator("#heartbeats", { hasText: "old-backup-job" }).count()).toBe(0);
    await shot(t.page, "heartbeat-deleted");
    expect((await t.s.admin("GET", `/v1/heartbeats/${h.id}`)).status).toBe(404);
    expect((await fetch(h.ping_url)).status).toBe(404);
    const closed = await json(t.s.get(`/v1/alerts/${alert.id}`));
    expect([closed.status, closed.classification]).toEqual(["closed", "resolved"]);
  });

  test("a webhook with its deliveries", async () => {
    const receiver = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });
    try {
      const w = await json(t.s.admin("POST", "/v1/webhooks", { url: `http://127.0.0.1:${receiver.port}/hook`, name: "to-delete", filters: { sources: ["deletes"] } }));
      expect((await t.s.post("/api/v1/events", event(1, { source: "deletes" }))).status).toBe(202);
      for (let i = 0; i < 100 && (await json(t.s.admin("GET", `/v1/webhooks/${w.id}/deliveries`))).items.length === 0; i++) await Bun.sleep(20);
      const delivery = (await json(t.s.admin("GET", `/v1/webhooks/${w.id}/deliveries`))).items[0];
      expect(delivery).toBeDefined();
      await t.page.goto(`${t.s.url}/admin/webhooks/${w.id}`);
      expect(await clickDelete(false)).toContain("Delete this webhook?");
      await Bun.sleep(200);
      expect((await t.s.admin("GET", `/v1/webhooks/${w.id}`)).status).toBe(200);
      await clickDelete(true);
      await t.page.waitForURL(/\/admin\/webhooks\?done=deleted$/);
      expect(await t.page.content()).not.toContain("to-delete");
      expect((await t.s.admin("GET", `/v1/webhooks/${w.id}`)).status).toBe(404);
      expect((await t.s.admin("GET", `/v1/deliveries/${delivery.id}`)).status).toBe(404);
    } finally {
      receiver.stop(true);
    }
  });

  test("a rule: once deleted it no longer applies to new events", async () => {
    const r = await json(t.s.admin("POST", "/v1/rules", { name: "tag-deletes", filter: { field: "source", op: "eq", value: "rule-deletes" }, action: { kind: "tag", tags: ["deleted-rule"] } }));
    const tagged = async (n: number) => {
      const id = (await json(t.s.post("/api/v1/events", event(n, { source: "rule-deletes" })))).ids[0];
      return (await json(t.s.get(`/v1/events/${id}`))).tags.includes("deleted-rule");
    };
    expect(await tagged(1)).toBe(true);
    await t.page.goto(`${t.s.url}/admin/rules/${r.id}`);
    expect(await clickDelete(false)).toContain("Delete this rule?");
    await Bun.sleep(200);
    expect((await t.s.admin("GET", `/v1/rules/${r.id}`)).status).toBe(200);
    await clickDelete(true);
    await t.page.waitForURL(/\/admin\/rules\?done=deleted$/);
    expect(await t.page.textContent("body")).toContain("No rules yet.");
    expect((await t.s.admin("GET", `/v1/rules/${r.id}`)).status).toBe(404);
    expect(await tagged(2)).toBe(false);
  });
});
