// Dead-man's-switch heartbeats: schedules, deadlines and state transitions. Pure: every function
// takes the time it runs at, so tests drive it with a fake clock.
import { Cron } from "croner";

export const HEARTBEAT_STATES = ["new", "up", "late", "down", "paused"] as const;
export type HeartbeatState = (typeof HEARTBEAT_STATES)[number];

export type Schedule = { kind: "period"; periodS: number } | { kind: "cron"; cron: string; tz: string };

export function validateCron(expr: string, tz: string): string | null {
  try {
    // a valid expression that names no date ("0 2 30 2 *": 30 February) has no next run: it
    // would never be due, so it is refused like a malformed one
    if (new Cron(expr, { timezone: tz, paused: true }).nextRun() === null) return "never fires: no date matches it (e.g. 30 February)";
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * When the next beat is due after a beat (or a fresh start) at `after`; null when the schedule
 * has none: a cron that never fires again, or one stored before it was refused (no longer parses,
 * an unknown time zone). Such a heartbeat still records its beats; it just never goes late.
 */
export function nextDue(s: Schedule, after: number): number | null {
  if (s.kind === "period") return after + s.periodS * 1000;
  try {
    return new Cron(s.cron, { timezone: s.tz, paused: true }).nextRun(new Date(after))?.getTime() ?? null;
  } catch {
    return null;
  }
}

/** The timing part of a heartbeat's row. */
export type Timing = {
  state: HeartbeatState;
  /** when the next beat is expected; up → late then */
  dueAt: number | null;
  /** due + grace; late → down then */
  downAt: number | null;
  /** the next time the scheduler must look at this heartbeat (indexed) */
  nextDeadline: number | null;
};

export type Transition = { from: HeartbeatState; to: HeartbeatState; at: number };

/**
 * A successful beat (a ping, a matching event) at `now`. A beat never ends a pause: a paused
 * heartbeat only records it.
 */
export function beat(t: Timing, s: Schedule, graceS: number, now: number): { timing: Timing; flip: Transition | null } {
  if (t.state === "paused") return { timing: t, flip: null };
  const dueAt = nextDue(s, now);
  if (dueAt === null) return { timing: { state: "up", dueAt: null, downAt: null, nextDeadline: null }, flip: t.state === "up" ? null : { from: t.state, to: "up", at: now } };
  const downAt = dueAt + graceS * 1000;
  const timing: Timing = { state: "up", dueAt, downAt, nextDeadline: graceS > 0 ? dueAt : downAt };
  return { timing, flip: t.state === "up" ? null : { from: t.state, to: "up", at: now } };
}

/** A start ping with a max runtime: the job must finish (beat) by then. */
export function started(t: Timing, maxRuntimeS: number | null, now: number): Timing {
  if (t.state === "paused" || !maxRuntimeS) return t;
  const limit = now + maxRuntimeS * 1000;
  const downAt = t.downAt === null ? limit : Math.min(t.downAt, limit);
  return { ...t, downAt, nextDeadline: t.nextDeadline === null ? downAt : Math.min(t.nextDeadline, downAt) };
}

/** An explicit failure (a /fail ping or a non-zero exit code): down at once. */
export function failed(t: Timing, now: number): { timing: Timing; flip: Transition | null } {
  if (t.state === "paused" || t.state === "down") return { timing: t, flip: null };
  return { timing: { state: "down", dueAt: t.dueAt, downAt: now, nextDeadline: null }, flip: { from: t.state, to: "down", at: now } };
}

/**
 * The scheduler found `nextDeadline <= now`: up → late (at due), late → down (at due + grace).
 * A down flip is dated at the exact deadline, not at the moment the sweep noticed it.
 */
export function deadlinePassed(t: Timing, now: number): { timing: Timing; flip: Transition } | null {
  if (t.nextDeadline === null || t.nextDeadline > now) return null;
  if (t.state === "up" && t.dueAt !== null && t.downAt !== null && now < t.downAt)
    return { timing: { ...t, state: "late", nextDeadline: t.downAt }, flip: { from: "up", to: "late", at: t.dueAt } };
  if (t.state === "up" || t.state === "late")
    return { timing: { ...t, state: "down", nextDeadline: null }, flip: { from: t.state, to: "down", at: t.downAt ?? t.nextDeadline } };
  return null;
}

/**
 * Pause: no deadlines until resumed. A down heartbeat's open alert is resolved by the caller
 * (the flip from down records it), so that a later down opens a new alert.
 */
export function pause(t: Timing, now: number): { timing: Timing; flip: Transition | null } {
  if (t.state === "paused") return { timing: t, flip: null };
  return { timing: { state: "paused", dueAt: null, downAt: null, nextDeadline: null }, flip: { from: t.state, to: "paused", at: now } };
}

/**
 * Resume: back to `new`, waiting for a beat (nothing is known about the job after a pause, so no
 * deadline runs until it beats again; the first beat makes it `up`).
 */
export function resume(t: Timing, now: number): { timing: Timing; flip: Transition | null } {
  if (t.state !== "paused") return { timing: t, flip: null };
  return { timing: { state: "new", dueAt: null, downAt: null, nextDeadline: null }, flip: { from: "paused", to: "new", at: now } };
}

/**
 * After keepwatch itself was not running: time it was down does not count against anyone. A
 * heartbeat whose deadline passed meanwhile gets a fresh period from `now`; one that was `late`
 * flips back to `up` (recorded like every state change, so the flips stay a chain).
 */
export function afterDowntime(t: Timing, s: Schedule, graceS: number, now: number): { timing: Timing; flip: Transition | null } | null {
  if ((t.state !== "up" && t.state !== "late") || t.nextDeadline === null || t.nextDeadline > now) return null;
  const timing = beat({ ...t, state: "up" }, s, graceS, now).timing;
  return { timing, flip: t.state === "late" ? { from: "late", to: "up", at: now } : null };
}

/** Flips are a chain: each one starts where the one before ended, the first from `new`. */
export function chainBreaks(flips: { from: string; to: string }[], current: string): string[] {
  const out: string[] = [];
  let at = "new";
  flips.forEach((f, i) => {
    if (f.from !== at) out.push(`flip ${i} goes ${f.from} -> ${f.to} but the state was ${at}`);
    at = f.to;
  });
  if (at !== current) out.push(`the flips end at ${at} but the state is ${current}`);
  return out;
}
