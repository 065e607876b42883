// The delivery history says what it kept: a request or response body longer than 16 KiB is cut and
// flagged `truncated` with the whole size (response sizes from Content-Length or from reading to
// the end when it fits), on the API and on the admin page; and the delivery list carries each row's timings
// (first and last attempt, last duration, the latest attempts) so no GET per row is needed.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { event, json, startTestServer, type TestServer } from "../helpers";
import { startReceiver, until, type Receiver } from "./receiver";

let s: TestServer;
const receivers: Receiver[] = [];
beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" });
});
afterAll(async () => {
  for (const r of receivers) r.stop();
  await s.close();
});

const KIB16 = 16 * 1024;
const FAST = { max_attempts: 3, initial_interval: 0.1, max_interval: 0.2 };

/** A webhook on a receiver answering `answer`; one event sent; returns the delivery's detail once attempted `n` times. */
async function deliverOnce(answer: Receiver["answer"], payload: Record<string, unknown> = {}, n = 1) {
  const rx = startReceiver(answer);
  receivers.push(rx);
  const source = `hist-${receivers.length}`;
  const w = await json(s.admin("POST", "/v1/webhooks", { url: rx.url, triggers: ["event.received"], filters: { sources: [source] }, retry: FAST, rate_limit: 0 }));
  expect((await s.post("/api/v1/events", event(1, { source, payload }))).status).toBe(202);
  await rx.waitFor(n);
  // an attempt is on record from the moment it starts (outcome "started"): wait until n are done,
  // then read the list row, which changes in the same transaction as the attempt's outcome
  const d = await until(async () => {
    const items = (await json(s.admin("GET", `/v1/webhooks/${w.id}/deliveries`))).items;
    if (!items.length) return null;
    const detail = await json(s.admin("GET", `/v1/deliveries/${items[0].id}`));
    if (detail.attempts.length < n || detail.attempts.some((a: { outcome: string }) => a.outcome === "started")) return null;
    const row = (await json(s.admin("GET", `/v1/webhooks/${w.id}/deliveries`))).items.find((i: { id: string }) => i.id === items[0].id);
    return { detail, row };
  });
  return { w, rx, ...d };
}

const sizes = [0, 100, KIB16 - 1, KIB16, KIB16 + 1, 40_000];

test("response bodies of every size around the bound: truncated exactly when longer than 16 KiB, with the whole size (Content-Length or streamed)", async () => {
  for (const size of sizes)
    for (const framing of ["content-length", "chunked"] as const) {
      const text = "r".repeat(size);
      const answer = () =>
        framing === "content-length"
          ? new Response(text)
          : new Response(
              new ReadableStream({
                start(c) {
                  for (let i = 0; i < text.length; i += 5000) c.enqueue(new TextEncoder().encode(text.slice(i, i + 5000)));
                  c.close();
                },
              }),
            );
      const { detail } = await deliverOnce(answer);
      const res = detail.attempts[0].response;
      expect({ size, framing, truncated: res.truncated, kept: res.body.length, whole: res.size }).toEqual({
        size,
        framing,
        truncated: size > KIB16,
        kept: Math.min(size, KIB16),
        // a streamed body is not read past the bound, so its whole size is known only when it fits
        whole: framing === "chunked" && size > KIB16 ? null : size,
      });
    }
});

test("a request body over 16 KiB is stored cut and flagged, with the size the receiver got; a small one is whole", async () => {
  const big = await deliverOnce(() => new Response("ok"), { blob: "p".repeat(30_000) });
  const req = big.detail.attempts[0].request;
  expect(req.truncated).toBe(true);
  expect(req.size).toBe(Buffer.byteLength(big.rx.got[0].body));
  expect(req.body.length).toBe(KIB16);
  expect(big.rx.got[0].body.startsWith(req.body)).toBe(true);
  const small = await deliverOnce(() => new Response("ok"), { small: true });
  expect(small.detail.attempts[0].request).toMatchObject({ truncated: false, size: Buffer.byteLength(small.rx.got[0].body), body: small.rx.got[0].body });

  // the admin page says so next to the last request
  const login = await fetch(s.url + "/admin/login", {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ key: s.keys.admin }).toString(),
  });
  const cookie = login.headers.get("set-cookie")!.split(";")[0];
  const page = await (await fetch(`${s.url}/admin/webhooks/${big.w.id}`, { headers: { cookie } })).text();
  expect(page).toMatch(new RegExp(`id="request-cut">truncated: the first 16 KiB of ${req.size} bytes`));
  const smallPage = await (await fetch(`${s.url}/admin/webhooks/${small.w.id}`, { headers: { cookie } })).text();
  expect(smallPage).not.toContain('id="request-cut"');
});

test("the delivery list carries each row's timings: first and last attempt, last duration, the latest attempts with their status", async () => {
  const started = Date.now();
  const { row, detail } = await deliverOnce((n) => (n === 0 ? new Response("busy", { status: 500 }) : new Response("ok")), {}, 2);
  expect(row.status).toBe("succeeded");
  expect(row.timings.map((a: any) => [a.attempt, a.status, a.outcome])).toEqual([
    [1, 500, "failed"],
    [2, 200, "succeeded"],
  ]);
  expect(row.first_attempt_at).toBe(detail.attempts[0].started_at);
  expect(row.last_attempt_at).toBe(detail.attempts[1].started_at);
  expect(row.last_duration_ms).toBe(detail.attempts[1].duration_ms);
  expect(new Date(row.first_attempt_at).getTime()).toBeGreaterThanOrEqual(started - 1000);
  expect(new Date(row.last_attempt_at).getTime()).toBeGreaterThan(new Date(row.first_attempt_at).getTime());
  for (const a of row.timings) expect(a.duration_ms).toBeGreaterThanOrEqual(0);
  // a row not attempted yet has none
  const w = await json(s.admin("POST", "/v1/webhooks", { url: "http://127.0.0.1:9/never", triggers: ["event.received"], filters: { sources: ["held-one"] }, state: "inactive" }));
  await s.post("/api/v1/events", event(2, { source: "held-one" }));
  const held = await until(async () => (await json(s.admin("GET", `/v1/webhooks/${w.id}/deliveries`))).items[0]);
  expect(held).toMatchObject({ status: "held", first_attempt_at: null, last_attempt_at: null, last_duration_ms: null, timings: [] });
});
