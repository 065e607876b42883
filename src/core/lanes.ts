// The arithmetic of a lane claim (no database): how many jobs one lane may hand out now, and the
// lane's state after the claim. Both stores run it step for step (claimLanePass in
// src/store/jobs.ts on SQLite, in src/store/queue-pg.ts on PostgreSQL); only the reads and writes
// around it differ. See src/store/jobs.ts for the lane model.
//
// Rate limit: GCRA on `tat` (the theoretical arrival time), one send per T = 1000 / rate ms, up
// to `burst` sends at once after the lane was idle. In-flight cap: `cap` jobs running at once (an
// ordered lane: 1). Fair share: the free slots of a claim are split between the due lanes.

/** the shortest time between two claims of a lane that is out of tokens */
export const LANE_TICK_MS = 200;

/** The lane columns the arithmetic reads. */
export type LanePolicyState = { tat: number; hold_until: number; rate: number; burst: number; ordered: number };

/** A running job of the lane (at most its cap, plus leases that ran out). */
export type LaneRunning = { id: number; lease_until: number };

export type LanePlan = {
  /** jobs the lane may hand out now (0: none) */
  slots: number;
  /** running jobs whose lease ran out, to be taken again first (at most `slots`) */
  retake: number[];
  /** running jobs whose lease still holds */
  live: number;
  /** the lane's in-flight cap */
  cap: number;
  /** ms per send (0: no rate limit) */
  T: number;
  /** the GCRA base the claimed sends are counted from */
  base: number;
};

/**
 * How many jobs the lane may take now: its fair share of `room` (split between it and the
 * `lanesLeft - 1` due lanes after it), its in-flight cap, its tokens, its hold.
 */
export function planLane(l: LanePolicyState, now: number, room: number, lanesLeft: number, maxInflight: number, running: LaneRunning[]): LanePlan {
  const share = Math.max(1, Math.ceil(room / lanesLeft));
  const cap = l.ordered ? 1 : Math.max(1, maxInflight);
  const expired = running.filter((r) => r.lease_until <= now).map((r) => r.id);
  const live = running.length - expired.length;
  let slots = Math.min(room, share, cap - live);
  const T = l.rate > 0 ? 1000 / l.rate : 0;
  const base = T ? Math.max(l.tat, now - (l.burst - 1) * T) : now;
  if (T) slots = Math.min(slots, Math.floor((now - base) / T) + 1);
  if (l.hold_until > now) slots = 0;
  slots = Math.max(0, slots);
  return { slots, retake: expired.slice(0, slots), live, cap, T, base };
}

export type LaneAfter = {
  tat: number;
  ready_at: number;
  /** 1 when the lane is at its in-flight cap */
  full: number;
  /** the earliest lease end of the lane (Infinity: none) */
  leaseEnd: number;
};

/** The lane's state after `claimed` jobs were handed out under `plan`. */
export function laneAfterClaim(l: LanePolicyState, plan: LanePlan, now: number, claimed: number, running: LaneRunning[], leaseMs: number): LaneAfter {
  const { T, base } = plan;
  const tat = T ? base + claimed * T : l.tat;
  // GCRA: the next send is allowed from tat on (a lane left idle gathers up to `burst` sends).
  // A lane that used up its tokens is looked at again no sooner than LANE_TICK_MS later, when
  // several have come: a 50/s webhook makes 5 claims a second of 10 jobs, not 50 of one (every
  // claim is a commit on the database the ingest writer shares).
  const spent = T > 0 && tat > now;
  const ready_at = Math.max(l.hold_until, T ? Math.ceil(tat) : 0, spent ? now + Math.min(LANE_TICK_MS, l.burst * T) : 0);
  const full = plan.live + claimed >= plan.cap ? 1 : 0;
  // the earliest lease end of the lane: a lease that runs out is taken again
  let leaseEnd = Infinity;
  for (const r of running) if (r.lease_until > now) leaseEnd = Math.min(leaseEnd, r.lease_until);
  if (claimed) leaseEnd = Math.min(leaseEnd, now + leaseMs);
  return { tat, ready_at, full, leaseEnd };
}

/**
 * When the lane is to be looked at again: the earliest lease end, or (when it is not full) its
 * oldest waiting job's run_at but not before its next token; null when nothing will come due.
 * `oldestRunAt` is the min run_at of its available jobs (only read when the lane is not full).
 */
export function laneNextAt(a: LaneAfter, now: number, oldestRunAt: number | null): number | null {
  let next = a.leaseEnd;
  if (!a.full && oldestRunAt !== null) next = Math.min(next, Math.max(oldestRunAt, a.ready_at, now));
  return next === Infinity ? null : next;
}
