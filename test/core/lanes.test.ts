// The lane arithmetic both stores share (src/core/lanes.ts): a seeded walk over lane states checks
// the invariants a claim relies on, whatever the inputs.
import { describe, expect, test } from "bun:test";
import { laneAfterClaim, laneNextAt, LANE_TICK_MS, planLane, type LanePolicyState } from "../../src/core/lanes";

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

describe("lane arithmetic", () => {
  test("a lane never hands out more than its share, cap, tokens; never while held", () => {
    const r = rng(11);
    for (let i = 0; i < 5000; i++) {
      const now = 1_000_000 + Math.floor(r() * 10_000);
      const rate = r() < 0.3 ? 0 : Math.round(r() * 100 * 10) / 10;
      const l: LanePolicyState = {
        rate,
        burst: Math.max(1, Math.ceil(rate)),
        tat: r() < 0.5 ? 0 : now + (r() - 0.5) * 4000,
        hold_until: r() < 0.2 ? now + Math.floor(r() * 5000) : 0,
        ordered: r() < 0.3 ? 1 : 0,
      };
      const running = Array.from({ length: Math.floor(r() * 5) }, (_, k) => ({ id: k + 1, lease_until: now + Math.floor((r() - 0.5) * 20_000) }));
      const room = 1 + Math.floor(r() * 50);
      const lanesLeft = 1 + Math.floor(r() * 10);
      const maxInflight = 1 + Math.floor(r() * 10);
      const p = planLane(l, now, room, lanesLeft, maxInflight, running);
      expect(p.slots).toBeGreaterThanOrEqual(0);
      expect(p.slots).toBeLessThanOrEqual(room);
      expect(p.slots).toBeLessThanOrEqual(Math.max(1, Math.ceil(room / lanesLeft)));
      expect(p.live + p.slots).toBeLessThanOrEqual(Math.max(p.cap, p.live));
      if (l.ordered) expect(p.cap).toBe(1);
      if (l.hold_until > now) expect(p.slots).toBe(0);
      expect(p.retake.length).toBeLessThanOrEqual(p.slots);
      for (const id of p.retake) expect(running.find((x) => x.id === id)!.lease_until).toBeLessThanOrEqual(now);
      const claimed = Math.floor(r() * (p.slots + 1));
      const a = laneAfterClaim(l, p, now, claimed, running, 30_000);
      // tokens: tat never moves back, and moves T per send
      if (p.T) expect(a.tat).toBeCloseTo(p.base + claimed * p.T, 6);
      else expect(a.tat).toBe(l.tat);
      expect(a.ready_at).toBeGreaterThanOrEqual(l.hold_until);
      if (p.T && a.tat > now) expect(a.ready_at).toBeGreaterThanOrEqual(now + Math.min(LANE_TICK_MS, l.burst * p.T) - 1e-9);
      expect(a.full).toBe(p.live + claimed >= p.cap ? 1 : 0);
      const oldest = r() < 0.3 ? null : now + Math.floor((r() - 0.5) * 10_000);
      const next = laneNextAt(a, now, oldest);
      if (next !== null) {
        expect(next).toBeLessThanOrEqual(a.leaseEnd);
        if (!a.full && oldest !== null) expect(next).toBeLessThanOrEqual(Math.max(oldest, a.ready_at, now));
      } else {
        expect(a.leaseEnd).toBe(Infinity);
        expect(a.full || oldest === null).toBeTruthy();
      }
    }
  });

  test("a 10/s lane left idle sends a burst of 10, then one per 100 ms", () => {
    const l = { rate: 10, burst: 10, tat: 0, hold_until: 0, ordered: 0 };
    const p = planLane(l, 50_000, 100, 1, 100, []);
    expect(p.slots).toBe(10);
    const a = laneAfterClaim(l, p, 50_000, 10, [], 30_000);
    expect(a.tat).toBe(50_100);
    expect(planLane({ ...l, tat: a.tat }, 50_050, 100, 1, 100, []).slots).toBe(0);
    expect(planLane({ ...l, tat: a.tat }, 50_100, 100, 1, 100, []).slots).toBe(1);
  });
});
