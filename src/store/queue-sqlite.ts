// The SQLite implementation of the queue contract (src/store/queue-contract.ts): each unit is one
// synchronous immediate transaction over the functions of src/store/jobs.ts, unchanged; no await
// inside a transaction. Times come from the injected clock (the app's; a fake one in tests).
import type { Db } from "../db/client";
import {
  claimJobs,
  claimLaneJobs,
  countJobsByState,
  finishJob,
  getJob,
  insertJob,
  nextDue,
  reclaimAtStart,
  retryJob,
  snoozeJob,
  syncLane,
  type JobRow,
} from "./jobs";
import type { ClaimedJob, ClaimRequest, EnqueueJob, Outcome, QueueStore } from "./queue-contract";
import { applyEffects, startAttempts } from "./queue-effects";

export function sqliteQueue(db: Db, clock: () => number = Date.now): QueueStore {
  const tx = <T>(f: () => T): T => db.$client.transaction(f).immediate();
  const claimIn = (queue: string, r: ClaimRequest, now: number): ClaimedJob[] => {
    const jobs: JobRow[] = claimJobs(db, queue, now, r.leaseMs, r.token, r.limit, r.owner ?? null);
    if (jobs.length < r.limit)
      jobs.push(...claimLaneJobs(db, queue, now, r.leaseMs, r.token, r.limit - jobs.length, { maxInflight: r.laneMaxInflight, owner: r.owner ?? null }));
    return startAttempts(db, jobs, r.startAttempt, now);
  };
  return {
    kind: "sqlite",
    async now() {
      return clock();
    },
    async enqueue(jobs: EnqueueJob[]) {
      const now = clock();
      return tx(() =>
        jobs.map((j) =>
          insertJob(db, { queue: j.queue, kind: j.kind, payload: j.payload, maxAttempts: j.maxAttempts, runAt: now + (j.delayMs ?? 0), idempotencyKey: j.idempotencyKey, lane: j.lane }, now),
        ),
      );
    },
    async claim(queue, req) {
      const now = clock();
      return tx(() => claimIn(queue, req, now));
    },
    async settle(outcomes: Outcome[], next) {
      const now = clock();
      return tx(() => {
        const errors: (string | null)[] = [];
        const held = outcomes.map((o) => {
          const h =
            o.action === "finish"
              ? finishJob(db, o.id, o.token, o.state, now, o.error ?? null, o.lane)
              : o.action === "retry"
                ? retryJob(db, o.id, o.token, now + o.delayMs, o.error, o.lane, now)
                : snoozeJob(db, o.id, o.token, now + o.delayMs, o.lane, now);
          // a settle whose lease was lost changes nothing: its effects are not applied either
          errors.push(h ? applyEffects(db, o.effects, now) : null);
          return h;
        });
        return { held, errors, claimed: next ? claimIn(next.queue, next.req, now) : [] };
      });
    },
    async reclaim() {
      const now = clock();
      return tx(() => reclaimAtStart(db, now));
    },
    async syncLane(lane, p) {
      const now = clock();
      tx(() => syncLane(db, lane, p, now));
    },
    async counts(queue) {
      return countJobsByState(db, queue);
    },
    async nextDue(queue) {
      return nextDue(db, queue);
    },
    async get(id) {
      return getJob(db, id);
    },
    async close() {},
  };
}
