// What a webhook (or enricher) may be configured with, and what reaches the receiver: header names
// and values as HTTP allows them (every class of character walked, on every route that takes
// headers, create and edit), a custom User-Agent used alone, triggers that can match a message
// type (once each), filter lists that name something, and custom header values masked everywhere
// but the admin reveal.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MESSAGE_TYPES } from "../../src/core/triggers";
import { event, json, startTestServer, type TestServer } from "../helpers";
import { startReceiver, until, type Receiver } from "./receiver";

let s: TestServer;
let rx: Receiver;
beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
  rx = startReceiver();
});
afterAll(async () => {
  rx.stop();
  await s.close();
});

const detailsOf = async (r: Response) => ((await r.json()) as any).error;

/** Every route that takes custom headers: how to create with them, and how to edit them. */
const HEADER_ROUTES = [
  {
    name: "webhooks",
    create: (headers: unknown) => s.admin("POST", "/v1/webhooks", { url: "http://127.0.0.1:9/h", headers }),
    path: (id: string) => `/v1/webhooks/${id}`,
    stored: async (id: string) => (await json(s.admin("GET", `/v1/webhooks/${id}/headers`))).headers,
  },
  {
    name: "enrichers",
    create: (headers: unknown) => s.admin("POST", "/v1/enrichers", { name: `e-${Math.random()}`, indicator_types: ["ip"], url_template: "http://127.0.0.1:9/{{value}}", headers }),
    path: (id: string) => `/v1/enrichers/${id}`,
    stored: async (id: string) => (await json(s.admin("GET", `/v1/enrichers/${id}`))).headers,
  },
];

// one value per class of character that HTTP (RFC 9110) or fetch cannot carry as given
const BAD_VALUES: [string, string][] = [
  ["beyond Latin-1", "café ✓"],
  ["emoji", "ok 🚀"],
  ["Latin-1 (obs-text)", "café"],
  ["C0 control", "a\u0001b"],
  ["DEL", "a\u007fb"],
  ["escape", "a\u001b[31m"],
  ["NUL", "a\u0000b"],
  ["CR", "a\rb"],
  ["LF", "a\nX-Injected: 1"],
  ["C1 control", "a\u0085b"],
  ["line separator", "a\u2028b"],
  ["zero-width space", "a\u200bb"],
];
const BAD_NAMES = ["Bad Name", "X-Émoji", "X:Colon", "(x)", "X-✓", "X/Y", "", "X\tTab"];
const ALL_PRINTABLE = Array.from({ length: 0x7e - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i)).join("").trim() + "\tend";

describe("header names and values", () => {
  for (const route of HEADER_ROUTES) {
    test(`${route.name}: every bad value class and name is 422 on create and on edit (map and lines), and nothing changes`, async () => {
      const good = await json(route.create({ "X-Good": "fine" }));
      expect(good.id).toBeDefined();
      const bodies: [string, unknown][] = [
        ...BAD_VALUES.flatMap(([what, v]) => [
          [`${what} (map)`, { "X-Bad": v }] as [string, unknown],
          ...(route.name === "webhooks" && !/[\r\n]/.test(v) ? [[`${what} (lines)`, `X-Bad: ${v}`] as [string, unknown]] : []),
        ]),
        ...BAD_NAMES.map((n) => [`name ${JSON.stringify(n)}`, { [n]: "v" }] as [string, unknown]),
        ["the same name twice (case differs)", { "X-Dup": "a", "x-dup": "b" }],
      ];
      for (const [what, headers] of bodies) {
        const r = await route.create(headers);
        const e = await detailsOf(r);
        // the field, or the header itself (a NUL is named where it is by the gate: /headers/X-Bad)
        const path = String(e?.details?.[0]?.path).replace(/^\/headers\/X-Bad$/, "/headers");
        expect({ what, status: r.status, path }).toEqual({ what, status: 422, path: "/headers" });
        expect(e.message.length).toBeGreaterThan(10);
        const p = await s.admin("PATCH", route.path(good.id), { headers });
        expect({ what, status: p.status }).toEqual({ what, status: 422 });
        expect(await route.stored(good.id)).toEqual({ "X-Good": "fine" });
      }
      // the message names the character and the rule
      const e = await detailsOf(await route.create({ "X-Emoji": "café ✓" }));
      expect(e.message).toContain("U+00E9");
      expect(e.message).toContain("printable ASCII");
      // every printable ASCII character, space and tab are fine
      const all = await route.create({ "X-All": ALL_PRINTABLE });
      expect(all.status).toBe(201);
    });
  }

  test("a value of every printable ASCII character reaches the receiver as given; a custom User-Agent is used alone", async () => {
    for (const [name, expected] of [
      ["User-Agent", "mine"],
      ["user-agent", "mine/2 (+https://example.com)"],
      [null, "keepwatch-webhooks/1"],
    ] as const) {
      rx.got.length = 0;
      const w = await json(
        s.admin("POST", "/v1/webhooks", { url: rx.url, triggers: ["event.received"], headers: { "X-All": ALL_PRINTABLE, ...(name ? { [name]: expected } : {}) } }),
      );
      expect((await s.post("/api/v1/events", event(1))).status).toBe(202);
      const got = await until(() => rx.got[0], 10_000, "delivery");
      expect(got.headers["user-agent"]).toBe(expected);
      expect(got.headers["x-all"]).toBe(ALL_PRINTABLE.trim());
      await s.admin("DELETE", `/v1/webhooks/${w.id}`);
    }
  });
});

describe("triggers and filters", () => {
  test("unknown, misspelt and duplicate triggers, and empty or repeated filter lists are 422 on create and edit; nothing changes", async () => {
    const w = await json(s.admin("POST", "/v1/webhooks", { url: "http://127.0.0.1:9/t", triggers: ["alert.*"], filters: { sources: ["a"] } }));
    const bad: [string, unknown][] = [
      ["unknown", { triggers: ["bogus.*"] }],
      ["misspelt", { triggers: ["alert.opend"] }],
      ["wrong family", { triggers: ["heartbeats.*"] }],
      ["too deep", { triggers: ["alert.opened.x"] }],
      ["twice", { triggers: ["alert.*", "alert.*"] }],
      ["empty sources", { filters: { sources: [] } }],
      ["empty tags", { filters: { tags: [] } }],
      ["repeated source", { filters: { sources: ["a", "a"] } }],
      ["repeated tag", { filters: { tags: ["x", "y", "x"] } }],
    ];
    for (const [what, body] of bad) {
      const c = await s.admin("POST", "/v1/webhooks", { url: "http://127.0.0.1:9/t", ...(body as object) });
      const e = await detailsOf(c);
      expect({ what, status: c.status, path: e.details[0].path.split("/").slice(0, 2).join("/") }).toEqual({
        what,
        status: 422,
        path: "triggers" in (body as object) ? "/triggers" : "/filters",
      });
      const p = await s.admin("PATCH", `/v1/webhooks/${w.id}`, body);
      expect({ what, status: p.status }).toEqual({ what, status: 422 });
    }
    const after = await json(s.admin("GET", `/v1/webhooks/${w.id}`));
    expect([after.triggers, after.filters]).toEqual([["alert.*"], { sources: ["a"] }]);
    // every message type alone, the families and * are accepted
    for (const t of [...MESSAGE_TYPES, "alert.*", "heartbeat.*", "event.*", "*"]) {
      const r = await s.admin("PATCH", `/v1/webhooks/${w.id}`, { triggers: [t] });
      expect({ t, status: r.status }).toEqual({ t, status: 200 });
    }
  });
});

describe("custom header values are masked", () => {
  test("GET, list and delivery history mask them; the receiver gets them whole; GET .../headers reveals them; a masked value sent back keeps the stored one", async () => {
    rx.got.length = 0;
    const secret = "Bearer s3cr3t-token-abcdefgh-9876";
    const created = await json(s.admin("POST", "/v1/webhooks", { url: rx.url, triggers: ["event.received"], headers: { Authorization: secret, "X-Short": "abc" } }));
    expect(created.headers).toEqual({ Authorization: "…9876", "X-Short": "…" });
    expect((await s.post("/api/v1/events", event(2))).status).toBe(202);
    const got = await until(() => rx.got[0], 10_000, "delivery");
    expect(got.headers.authorization).toBe(secret);
    const deliveries = (await json(s.admin("GET", `/v1/webhooks/${created.id}/deliveries`))).items;
    const d = await until(async () => {
      const x = await json(s.admin("GET", `/v1/deliveries/${deliveries[0].id}`));
      // an attempt is on record from its start (outcome "started"): wait until it is done
      return x.attempts.length && x.attempts.every((a: { outcome: string }) => a.outcome !== "started") ? x : null;
    });
    const sent = d.attempts[0].request.headers;
    expect(sent.Authorization).toBe("…9876");
    expect(sent["X-Short"]).toBe("…");
    expect(sent["webhook-id"]).toBe(d.id); // keepwatch's own headers are shown as sent
    expect(sent["user-agent"]).toBe("keepwatch-webhooks/1");
    // nowhere but the reveal (and the receiver) holds the value
    const everywhere = JSON.stringify([await json(s.admin("GET", `/v1/webhooks/${created.id}`)), await json(s.admin("GET", "/v1/webhooks")), d]);
    expect(everywhere).not.toContain("s3cr3t");
    // the stored history holds it masked too
    const raw = (await s.sql("SELECT request_headers FROM delivery_attempts WHERE delivery_id = ?1", d.id)) as { request_headers: string }[];
    expect(raw.map((r) => r.request_headers).join()).not.toContain("s3cr3t");
    expect((await json(s.admin("GET", `/v1/webhooks/${created.id}/headers`))).headers).toEqual({ Authorization: secret, "X-Short": "abc" });
    // a GET-edit-PATCH round trip keeps the values
    await s.admin("PATCH", `/v1/webhooks/${created.id}`, { headers: { ...created.headers, "X-New": "new" } });
    expect((await json(s.admin("GET", `/v1/webhooks/${created.id}/headers`))).headers).toEqual({ Authorization: secret, "X-Short": "abc", "X-New": "new" });
    // the reveal is admin only
    expect((await s.get(`/v1/webhooks/${created.id}/headers`, s.keys.read)).status).toBe(403);
  });
});
