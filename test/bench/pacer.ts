// A paced (open-loop) load generator, run in its own process by soak.ts: POSTs `body` to `url` at a
// fixed RATE per second for SECONDS, each request on its schedule whether or not the earlier ones
// were answered (wrk has no fixed-rate mode here). Latency is measured from the scheduled send time,
// so a stalled server shows its full delay (no coordinated omission). Prints one JSON line per
// WINDOW seconds: {window, sent, ok, errors, late, p50, p99} (ms). Loopback only; bounded.
// URL may be several, comma-separated (replicas): the requests go round-robin over them.
//   bun test/bench/pacer.ts URL[,URL…] KEY RATE SECONDS WINDOW BODY_FILE
export {};
const [urlList, key, rateS, secondsS, windowS, bodyFile] = process.argv.slice(2);
const urls = urlList!.split(",");
const RATE = Number(rateS);
const SECONDS = Number(secondsS);
const WINDOW = Number(windowS);
const MAX_INFLIGHT = 2000; // beyond this a request is counted late and not sent (bounded memory)
const body = await Bun.file(bodyFile).text();
const headers = { "x-api-key": key, "content-type": "application/json" };

type Win = { sent: number; ok: number; errors: number; late: number; lat: number[] };
const wins: Win[] = [];
const win = (i: number) => (wins[i] ??= { sent: 0, ok: 0, errors: 0, late: 0, lat: [] });
let inflight = 0;
const t0 = performance.now();
const total = Math.floor(RATE * SECONDS);
let next = 0;
let printed = 0;

const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
function flush(upTo: number) {
  while (printed < upTo) {
    const w = win(printed);
    console.log(JSON.stringify({ window: printed, sent: w.sent, ok: w.ok, errors: w.errors, late: w.late, p50: pct(w.lat, 50), p99: pct(w.lat, 99) }));
    printed++;
  }
}

function fire(i: number) {
  const at = t0 + (i * 1000) / RATE; // the scheduled time
  const w = win(Math.floor((at - t0) / 1000 / WINDOW));
  if (inflight >= MAX_INFLIGHT) {
    w.late++;
    return;
  }
  inflight++;
  w.sent++;
  fetch(urls[i % urls.length]!, { method: "POST", headers, body })
    .then(async (r) => {
      await r.arrayBuffer();
      if (r.status === 202) w.ok++;
      else w.errors++;
    })
    .catch(() => w.errors++)
    .finally(() => {
      inflight--;
      w.lat.push(performance.now() - at);
    });
}

// a 2 ms tick sends everything whose time has come
await new Promise<void>((done) => {
  const tick = setInterval(() => {
    const now = performance.now();
    while (next < total && t0 + (next * 1000) / RATE <= now) fire(next++);
    // a window is printed once its requests are answered (or 10 s after it ended)
    const ended = Math.floor((now - t0) / 1000 / WINDOW);
    const settle = Math.floor((now - t0 - 10_000) / 1000 / WINDOW);
    let upTo = printed;
    while (upTo < ended && (inflight === 0 || upTo < settle || (win(upTo).sent === win(upTo).ok + win(upTo).errors))) upTo++;
    flush(Math.min(upTo, Math.ceil(SECONDS / WINDOW)));
    if (next >= total && (inflight === 0 || now - t0 > (SECONDS + 15) * 1000)) {
      clearInterval(tick);
      flush(Math.ceil(SECONDS / WINDOW));
      done();
    }
  }, 2);
});
process.exit(0);
