// The lingering close's bounds (src/http/linger.ts), against a real server on 127.0.0.1: more
// refusals of huge bodies at once than MAX_LINGERING. Those past the cap close at once; every
// client still gets its whole answer or a close (never half an answer, never a hang), the count of
// lingering connections never passes the cap, /metrics reports it and the lingers the cap refused,
// and the server answers a normal request promptly afterwards. Then the 408 of a body with a
// Content-Length that did not arrive in time: it lingers too.
import { afterAll, beforeAll, expect, test } from "bun:test";
import net from "node:net";
import { LINGER_MS, MAX_LINGERING, lingerRefusedTotal, lingeringNow } from "../../src/http/linger";
import { event, startTestServer, type TestServer } from "../helpers";
import { rawRequest, type RawAnswer } from "./raw";

const BODY_TIMEOUT = 800;
/** "At once" on the loaded 2-core test machine. */
const QUICK_MS = 2000;

let s: TestServer;
let port: number;
beforeAll(async () => {
  s = await startTestServer({ bodyTimeout: BODY_TIMEOUT });
  port = s.server.port!;
});
afterAll(async () => {
  await s.close();
});

const value = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};
const scrape = async () => (await fetch(s.url + "/metrics", { signal: AbortSignal.timeout(5000) })).text();

/** Waits (bounded) until no connection of this process lingers. */
async function noneLingering(ms = LINGER_MS + 3000) {
  const end = performance.now() + ms;
  while (lingeringNow() > 0 && performance.now() < end) await Bun.sleep(20);
  expect(lingeringNow()).toBe(0);
}

/** The JSON error code of an answer's body, or what it was instead. */
function codeOf(a: RawAnswer): unknown {
  try {
    return JSON.parse(a.body).error.code;
  } catch {
    return `not JSON: ${JSON.stringify(a.body.slice(0, 80))}`;
  }
}

test(`${MAX_LINGERING + 44} keyless huge bodies at once: at most ${MAX_LINGERING} linger, the rest close at once, each client gets its whole answer or a close, and the server answers promptly afterwards`, async () => {
  const N = MAX_LINGERING + 44;
  // lingers of an earlier file of the same process end first (the count is the process's)
  await noneLingering();
  const refusedBefore = lingerRefusedTotal();
  const scrapedBefore = value(await scrape(), "keepwatch_http_linger_refused_total")!;
  expect(scrapedBefore).toBe(refusedBefore);

  // the count, sampled in the process every 2 ms and through /metrics, while the clients run
  let maxSeen = 0;
  const sampler = setInterval(() => (maxSeen = Math.max(maxSeen, lingeringNow())), 2);
  const scraped: number[] = [];
  let storm = true;
  const scraper = (async () => {
    while (storm) {
      scraped.push(value(await scrape(), "keepwatch_http_lingering_connections")!);
      await Bun.sleep(50);
    }
  })();
  let answers: RawAnswer[];
  const t0 = performance.now();
  try {
    // each states 100 MiB, sends 16 KiB of it and then nothing: a lingering connection waits out
    // LINGER_MS for the rest, so all of them are refused within one linger
    answers = await Promise.all(
      Array.from({ length: N }, () =>
        rawRequest({ port, method: "POST", path: "/api/v1/events", headers: { "content-type": "application/json", "content-length": String(100 * 1024 * 1024) }, body: "[" + " ".repeat(16 * 1024), waitMs: LINGER_MS + 8000 }),
      ),
    );
  } finally {
    clearInterval(sampler);
    storm = false;
    await scraper;
  }
  const tookMs = performance.now() - t0;

  const refused = lingerRefusedTotal() - refusedBefore;
  // a lingering answer is streamed (chunked, its end with the close); one closed at once has its length
  const lingered = answers.filter((a) => a.headers["transfer-encoding"] === "chunked");
  answers.forEach((a, i) => {
    const at = `client ${i}`;
    // never a hang: the server closed every connection, within the linger's bound
    expect({ at, closed: a.closedMs >= 0 && a.closedMs < LINGER_MS + 6000 }).toEqual({ at, closed: true });
    // never half an answer: none (the close past the cap reset it) or the whole 401 with its JSON body
    if (a.status === 0) expect({ at, body: a.body, headers: a.headers }).toEqual({ at, body: "", headers: {} });
    else {
      expect({ at, status: a.status, code: codeOf(a), connection: a.headers["connection"] }).toEqual({ at, status: 401, code: "unauthorized", connection: "close" });
      expect({ at, quick: a.answeredMs >= 0 && a.answeredMs < QUICK_MS }).toEqual({ at, quick: true });
    }
  });
  // every lingering client got its whole answer, then the close after the linger (its body never ended)
  for (const a of lingered) {
    expect(a.status).toBe(401);
    expect(a.closedMs - a.answeredMs).toBeGreaterThanOrEqual(LINGER_MS - 100);
  }
  // the cap was reached and held: each request lingered or was refused by the cap, none both
  expect(refused).toBeGreaterThan(0);
  expect(lingered.length + refused).toBe(N);
  expect(lingered.length).toBeLessThanOrEqual(MAX_LINGERING);
  expect(answers.filter((a) => a.status !== 0 && a.headers["transfer-encoding"] !== "chunked").every((a) => a.headers["content-length"] !== undefined)).toBe(true);
  expect(maxSeen).toBeLessThanOrEqual(MAX_LINGERING);
  expect(maxSeen).toBeGreaterThan(0);
  expect(scraped.length).toBeGreaterThan(0);
  expect(Math.max(...scraped)).toBeLessThanOrEqual(MAX_LINGERING);
  expect(tookMs).toBeLessThan(LINGER_MS + 8000);

  // afterwards: nothing lingers, /metrics says so with the refusals counted, and a normal request is answered at once
  await noneLingering();
  const text = await scrape();
  expect(value(text, "keepwatch_http_lingering_connections")).toBe(0);
  expect(value(text, "keepwatch_http_linger_refused_total")).toBe(scrapedBefore + refused);
  const t1 = performance.now();
  const ok = await s.post("/api/v1/events", event(1));
  expect(ok.status).toBe(202);
  await ok.arrayBuffer();
  const hz = await fetch(s.url + "/healthz");
  expect(hz.status).toBe(200);
  await hz.arrayBuffer();
  expect(performance.now() - t1).toBeLessThan(QUICK_MS);
}, 30_000);

const slow = (extra: { dribble?: number } = {}) =>
  rawRequest({ port, method: "POST", path: "/api/v1/events", headers: { "content-type": "application/json", "x-api-key": s.keys.ingest, "content-length": "1000" }, body: "[", dribble: 999, dribbleMs: 200, waitMs: BODY_TIMEOUT + LINGER_MS + 6000, ...extra });

test("a 408 for a body with a Content-Length that did not arrive in time lingers: answered whole, then closed after the linger", async () => {
  await noneLingering();
  const a = await slow();
  expect(a.status).toBe(408);
  expect(codeOf(a)).toBe("body_timeout");
  expect(a.answeredMs).toBeGreaterThanOrEqual(BODY_TIMEOUT - 50);
  expect(a.answeredMs).toBeLessThan(BODY_TIMEOUT + QUICK_MS);
  expect(a.headers["connection"]).toBe("close");
  // streamed by the lingering close (it used to close at once, with its Content-Length)
  expect(a.headers["transfer-encoding"]).toBe("chunked");
  // the client stopped sending with its answer: the connection closes once the linger is over
  expect(a.closedMs - a.answeredMs).toBeGreaterThanOrEqual(LINGER_MS - 100);
  expect(a.closedMs - a.answeredMs).toBeLessThan(LINGER_MS + QUICK_MS);
  await noneLingering();
});

test("a 408 whose client sends the rest of its body after the answer: the linger ends when the body does", async () => {
  await noneLingering();
  const t0 = performance.now();
  const out = await new Promise<{ got: string; answeredMs: number; closedMs: number }>((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    let got = "";
    let answeredMs = -1;
    sock.on("data", (d) => {
      got += d.toString("latin1");
      if (answeredMs < 0 && got.includes("\r\n\r\n")) {
        answeredMs = performance.now() - t0;
        // the rest of the stated 1000 bytes
        sock.write("1".repeat(999));
      }
    });
    sock.on("error", () => {});
    sock.on("close", () => resolve({ got, answeredMs, closedMs: performance.now() - t0 }));
    sock.write(`POST /api/v1/events HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\nx-api-key: ${s.keys.ingest}\r\ncontent-length: 1000\r\n\r\n[`);
    setTimeout(() => sock.destroy(), BODY_TIMEOUT + LINGER_MS + 6000);
  });
  expect(out.got).toStartWith("HTTP/1.1 408");
  expect(out.got).toContain('"body_timeout"');
  // the whole answer: its last chunk came
  expect(out.got).toEndWith("0\r\n\r\n");
  // closed when the body had all arrived, before the linger's bound
  expect(out.closedMs - out.answeredMs).toBeLessThan(LINGER_MS - 200);
  await noneLingering();
});
