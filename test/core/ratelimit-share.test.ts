// A replica's share of a cluster's limits (shareOf, src/core/ratelimit.ts): n replicas each
// enforcing 1/n of every rate and burst admit about the limit together when the requests are
// spread over them, 1/n of it when they all reach one, and an unlimited figure stays unlimited.
import { expect, test } from "bun:test";
import { keyLimits, newBucket, shareOf, takeAll, type Limits } from "../../src/core/ratelimit";

const settings = { rateLimit: 10, rateBurst: 50, maxItems: 100, bodyLimit: 1 << 20 };

/** `replicas` buckets of a key's request limit, requests every `everyMs` for `seconds`, spread by `pick`. */
function admitted(l: Limits, replicas: number, seconds: number, everyMs: number, pick: (i: number) => number): number {
  const share = shareOf(l, replicas);
  const buckets = Array.from({ length: replicas }, () => newBucket(share.requests.burst, 0));
  let ok = 0;
  for (let i = 0, t = 0; t < seconds * 1000; i++, t += everyMs) {
    const r = takeAll([{ bucket: buckets[pick(i)], rate: share.requests.rate, burst: share.requests.burst, cost: 1 }], t);
    if (r.ok) ok++;
  }
  return ok;
}

test("3 replicas at 1/3 each admit the key's limit when spread evenly, 1/3 of it when one takes everything", () => {
  const l = keyLimits(settings, null, null)!;
  const limit = 50 + 10 * 20; // burst + rate × 20 s
  for (const n of [1, 2, 3, 5]) {
    const spread = admitted(l, n, 20, 5, (i) => i % n);
    expect({ n, spread: Math.abs(spread - limit) <= n + 1 }).toEqual({ n, spread: true });
  }
  const one = admitted(l, 3, 20, 5, () => 0);
  expect(Math.abs(one - limit / 3)).toBeLessThanOrEqual(2);
});

test("shares: every rate and burst divided; n <= 1 and unlimited (0) unchanged", () => {
  const l = keyLimits(settings, null, null)!;
  expect(shareOf(l, 1)).toBe(l);
  expect(shareOf(l, 0)).toBe(l);
  const s = shareOf(l, 4);
  for (const k of ["requests", "events", "bytes"] as const) expect(s[k]).toEqual({ rate: l[k].rate / 4, burst: l[k].burst / 4 });
  const unlimited: Limits = { requests: { rate: 0, burst: 0 }, events: { rate: 0, burst: 0 }, bytes: { rate: 0, burst: 0 } };
  expect(shareOf(unlimited, 3).requests.rate).toBe(0);
});
