// Heartbeat timing with a fake clock: every transition, cron across a DST change, a beat exactly at
// the deadline, bursts, pause during grace, restart after downtime.
import { describe, expect, test } from "bun:test";
import * as hb from "../../src/core/heartbeats";

const S = 1000;
const period = (s: number): hb.Schedule => ({ kind: "period", periodS: s });
const fresh: hb.Timing = { state: "new", dueAt: null, downAt: null, nextDeadline: null };

describe("period schedules", () => {
  test("new → up on the first beat; up → late at due; late → down at due + grace (dated at the deadline)", () => {
    const t0 = 1_000_000;
    const b = hb.beat(fresh, period(60), 30, t0);
    expect(b.flip).toEqual({ from: "new", to: "up", at: t0 });
    expect(b.timing).toEqual({ state: "up", dueAt: t0 + 60 * S, downAt: t0 + 90 * S, nextDeadline: t0 + 60 * S });
    expect(hb.deadlinePassed(b.timing, t0 + 59 * S)).toBeNull();
    const late = hb.deadlinePassed(b.timing, t0 + 60 * S)!;
    expect(late.flip).toEqual({ from: "up", to: "late", at: t0 + 60 * S });
    expect(late.timing.nextDeadline).toBe(t0 + 90 * S);
    const down = hb.deadlinePassed(late.timing, t0 + 90 * S + 400)!;
    expect(down.flip).toEqual({ from: "late", to: "down", at: t0 + 90 * S });
    expect(down.timing.nextDeadline).toBeNull();
    // down stays down until a beat, which brings it back up
    expect(hb.deadlinePassed(down.timing, t0 + 10_000 * S)).toBeNull();
    const back = hb.beat(down.timing, period(60), 30, t0 + 200 * S);
    expect(back.flip).toEqual({ from: "down", to: "up", at: t0 + 200 * S });
  });

  test("grace 0: up → down directly at the due time", () => {
    const b = hb.beat(fresh, period(10), 0, 0);
    expect(b.timing.nextDeadline).toBe(10 * S);
    expect(hb.deadlinePassed(b.timing, 10 * S)!.flip).toEqual({ from: "up", to: "down", at: 10 * S });
  });

  test("a sweep that comes after both deadlines goes straight to down, dated at due + grace", () => {
    const b = hb.beat(fresh, period(10), 5, 0);
    expect(hb.deadlinePassed(b.timing, 60 * S)!.flip).toEqual({ from: "up", to: "down", at: 15 * S });
  });

  test("a beat exactly at the deadline keeps it up (the beat is applied first, then nothing is overdue)", () => {
    const b = hb.beat(fresh, period(10), 0, 0);
    const again = hb.beat(b.timing, period(10), 0, 10 * S);
    expect(again.flip).toBeNull();
    expect(hb.deadlinePassed(again.timing, 10 * S)).toBeNull();
    expect(again.timing.nextDeadline).toBe(20 * S);
  });

  test("a burst of beats only pushes the deadline, with one flip at most", () => {
    let t = hb.beat(fresh, period(60), 10, 0);
    let flips = t.flip ? 1 : 0;
    for (let i = 1; i <= 100; i++) {
      t = hb.beat(t.timing, period(60), 10, i);
      if (t.flip) flips++;
    }
    expect(flips).toBe(1);
    expect(t.timing.dueAt).toBe(100 + 60 * S);
  });

  test("a failure is down at once; a start with max runtime must finish in time", () => {
    const up = hb.beat(fresh, period(3600), 60, 0).timing;
    expect(hb.failed(up, 5 * S)).toEqual({ timing: { state: "down", dueAt: 3600 * S, downAt: 5 * S, nextDeadline: null }, flip: { from: "up", to: "down", at: 5 * S } });
    const running = hb.started(up, 120, 10 * S);
    expect(running.nextDeadline).toBe(130 * S);
    expect(hb.deadlinePassed(running, 130 * S)!.flip).toEqual({ from: "up", to: "down", at: 130 * S });
    expect(hb.started(up, null, 10 * S)).toEqual(up);
  });
});

describe("pause and restart", () => {
  test("pause during grace: no flip to down, beats are ignored until resume, resume waits for a beat (new)", () => {
    const up = hb.beat(fresh, period(60), 30, 0).timing;
    const late = hb.deadlinePassed(up, 61 * S)!.timing;
    const p = hb.pause(late, 70 * S);
    expect(p.flip).toEqual({ from: "late", to: "paused", at: 70 * S });
    expect(p.timing.nextDeadline).toBeNull();
    expect(hb.deadlinePassed(p.timing, 10_000 * S)).toBeNull();
    expect(hb.beat(p.timing, period(60), 30, 80 * S)).toEqual({ timing: p.timing, flip: null });
    const r = hb.resume(p.timing, 500 * S);
    expect(r.flip).toEqual({ from: "paused", to: "new", at: 500 * S });
    expect(r.timing).toEqual({ state: "new", dueAt: null, downAt: null, nextDeadline: null });
    expect(hb.deadlinePassed(r.timing, 10_000 * S)).toBeNull(); // no deadline until it beats
    expect(hb.beat(r.timing, period(60), 30, 600 * S).flip).toEqual({ from: "new", to: "up", at: 600 * S });
    expect(hb.resume(up, 500 * S)).toEqual({ timing: up, flip: null }); // only a paused one resumes
  });

  test("after keepwatch was down, an overdue heartbeat gets a fresh period; up stays up (no flip), late flips back to up", () => {
    const up = hb.beat(fresh, period(60), 30, 0).timing;
    const moved = hb.afterDowntime(up, period(60), 30, 10_000 * S)!;
    expect(moved).toEqual({ timing: { state: "up", dueAt: 10_060 * S, downAt: 10_090 * S, nextDeadline: 10_060 * S }, flip: null });
    const late = hb.deadlinePassed(up, 61 * S)!.timing;
    expect(hb.afterDowntime(late, period(60), 30, 10_000 * S)).toEqual({
      timing: { state: "up", dueAt: 10_060 * S, downAt: 10_090 * S, nextDeadline: 10_060 * S },
      flip: { from: "late", to: "up", at: 10_000 * S },
    });
    expect(hb.afterDowntime(up, period(60), 30, 10 * S)).toBeNull(); // not overdue: untouched
    expect(hb.afterDowntime(fresh, period(60), 30, 10_000 * S)).toBeNull();
  });
});

/** nextDue of a schedule that has a next run */
const nd = (s: hb.Schedule, after: number) => hb.nextDue(s, after)!;

describe("cron schedules", () => {
  const daily2am: hb.Schedule = { kind: "cron", cron: "0 2 * * *", tz: "Europe/Berlin" };
  test("next due is the next occurrence in the zone", () => {
    // 2026-01-10 12:00 UTC → next 02:00 Berlin (UTC+1) is 2026-01-11 01:00 UTC
    expect(new Date(nd(daily2am, Date.UTC(2026, 0, 10, 12))).toISOString()).toBe("2026-01-11T01:00:00.000Z");
  });
  test("across the spring DST change (2026-03-29 in Berlin): a time in the skipped hour falls due when the hour ends", () => {
    const skipped: hb.Schedule = { kind: "cron", cron: "30 2 * * *", tz: "Europe/Berlin" };
    const onChange = nd(skipped, Date.UTC(2026, 2, 28, 12));
    expect(new Date(onChange).toISOString()).toBe("2026-03-29T01:00:00.000Z"); // 03:00 CEST, as cron daemons run it
    expect(new Date(nd(skipped, onChange + 1000)).toISOString()).toBe("2026-03-30T00:30:00.000Z"); // 02:30 CEST
    const before = nd({ kind: "cron", cron: "30 3 * * *", tz: "Europe/Berlin" }, Date.UTC(2026, 2, 28, 12));
    expect(new Date(before).toISOString()).toBe("2026-03-29T01:30:00.000Z"); // 03:30 CEST = 01:30 UTC
    const winter = nd({ kind: "cron", cron: "30 3 * * *", tz: "Europe/Berlin" }, Date.UTC(2026, 2, 27, 12));
    expect(new Date(winter).toISOString()).toBe("2026-03-28T02:30:00.000Z"); // 03:30 CET = 02:30 UTC
  });
  test("across the autumn DST change the due time moves by the hour in UTC", () => {
    const a = nd(daily2am, Date.UTC(2026, 9, 24, 12)); // Oct 25 is the change
    const b = nd(daily2am, a + 1000);
    expect(new Date(a).toISOString()).toBe("2026-10-25T00:00:00.000Z"); // 02:00 CEST
    expect(new Date(b).toISOString()).toBe("2026-10-26T01:00:00.000Z"); // 02:00 CET
  });
  test("grace after a cron due time: alert at 02:30 Berlin for a 02:00 job", () => {
    const b = hb.beat(fresh, daily2am, 1800, Date.UTC(2026, 0, 10, 1, 5));
    expect(new Date(b.timing.downAt!).toISOString()).toBe("2026-01-11T01:30:00.000Z");
  });
  test("validation of expressions and zones", () => {
    expect(hb.validateCron("0 2 * * *", "Europe/Berlin")).toBeNull();
    expect(hb.validateCron("61 2 * * *", "UTC")).not.toBeNull();
    expect(hb.isTimeZone("Europe/Berlin")).toBe(true);
    expect(hb.isTimeZone("Mars/Olympus")).toBe(false);
  });
  test("a cron that never fires is refused; a leap-day cron is not", () => {
    for (const e of ["0 2 30 2 *", "0 0 31 4 *", "0 0 31 6 *", "0 0 31 9 *", "0 0 31 11 *", "0 0 30-31 2 *"])
      expect({ e, err: hb.validateCron(e, "UTC") }).toEqual({ e, err: expect.stringContaining("never fires") });
    expect(hb.validateCron("0 0 29 2 *", "UTC")).toBeNull();
  });
  test("a stored schedule with no next run: beats are recorded (up) with no deadline, never a throw", () => {
    const never: hb.Schedule[] = [
      { kind: "cron", cron: "0 2 30 2 *", tz: "UTC" },
      { kind: "cron", cron: "not a cron", tz: "UTC" },
      { kind: "cron", cron: "0 2 * * *", tz: "Mars/Olympus" },
    ];
    const now = Date.UTC(2026, 0, 10);
    for (const s of never) {
      expect(hb.nextDue(s, now)).toBeNull();
      const b = hb.beat(fresh, s, 60, now);
      expect(b.timing).toEqual({ state: "up", dueAt: null, downAt: null, nextDeadline: null });
      expect(b.flip).toEqual({ from: "new", to: "up", at: now });
      expect(hb.deadlinePassed(b.timing, now + 1e12)).toBeNull();
      const paused = hb.pause(b.timing, now).timing;
      const resumed = hb.resume(paused, now + 1).timing;
      expect(resumed.state).toBe("new"); // resume waits for the next beat
      expect(hb.beat(resumed, s, 60, now + 2).timing).toEqual({ state: "up", dueAt: null, downAt: null, nextDeadline: null });
    }
  });
});
