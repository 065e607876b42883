// A queue worker: claims due jobs (and jobs whose lease expired) in batches with one UPDATE ...
// RETURNING, runs their handlers with bounded concurrency, and commits the outcomes in batches
// (one transaction for everything that finished since the last commit), each fenced by its lease
// token so a worker that lost its lease cannot overwrite a newer claim. Nothing lives only in
// memory: a restart resumes from the table.
import { isBusy, type Db } from "../db/client";
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from "../core/backoff";
import { randomHex } from "../lib/ids";
import type { Logger } from "../lib/log";
import { claimJobs, claimLaneJobs, finishJob, nextDue, retryJob, snoozeJob, type JobRow } from "../store/jobs";

/** What became of a job after an outcome was committed. */
export type Fate = "succeeded" | "retry" | "failed" | "dead";

/** Writes that belong with the outcome; run in the same transaction, only if the lease still held. */
export type Effects = (db: Db, fate: Fate, now: number) => void;

export type Outcome =
  | { result: "success"; effects?: Effects }
  /** a failed attempt: retried after `delayMs` (default: the worker's backoff) unless it was the last */
  | { result: "retry"; error: string; delayMs?: number; effects?: Effects }
  /** a permanent failure: no more attempts */
  | { result: "fail"; error: string; effects?: Effects }
  /** not attempted (rate limit, ordering): back in the queue without counting the attempt */
  | { result: "snooze"; delayMs: number };

/** What the claim hook returned for this job (written in the claim's transaction), if any. */
export type JobContext = { job: JobRow; payload: any; now: () => number; claim?: unknown };
export type Handler = (ctx: JobContext) => Promise<Outcome>;

export type WorkerOptions = {
  queue: string;
  handlers: Record<string, Handler>;
  concurrency: number;
  leaseMs: number;
  /** longest sleep between looks at the table when idle */
  pollMs?: number;
  /** how long outcomes and wake-ups are gathered before one commit/claim (ms; 0 = next turn) */
  batchMs?: number;
  clock?: () => number;
  random?: () => number;
  policy?: RetryPolicy;
  /** jobs in flight per lane at most (lanes: see store/jobs.ts); default: concurrency */
  laneMaxInflight?: number;
  /**
   * Runs in the claim's transaction for every claimed job (e.g. records that its attempt started,
   * so an attempt cut off by a crash is still on record); its result reaches the handler.
   */
  onClaim?: (db: Db, job: JobRow, now: number) => unknown;
  log: Logger;
};

type Done = { job: JobRow; token: string; outcome: Outcome };
type Claimed = { job: JobRow; claim: unknown };

export class Worker {
  private running = false;
  private notifyScheduled = false;
  private closed = false;
  private inflight = 0;
  private done: Done[] = [];
  private commitScheduled = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pumping = false;
  private pumpAgain = false;
  private idleWaiters: (() => void)[] = [];
  readonly stats = { claimed: 0, succeeded: 0, retried: 0, failed: 0, dead: 0, snoozed: 0, fenced: 0 };
  private clock: () => number;

  constructor(
    private db: Db,
    private opts: WorkerOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
  }

  get active(): number {
    return this.inflight;
  }

  start(): void {
    if (this.running) return;
    this.closed = false;
    this.running = true;
    this.notify();
  }

  /** Something was enqueued (or became due): look at the table soon. */
  notify(): void {
    if (!this.running) return;
    // Coalesce: many notifications in a short window make one claim (one write, one fsync).
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    setTimeout(() => {
      this.notifyScheduled = false;
      this.pump();
    }, this.opts.batchMs ?? 0);
  }

  /**
   * Stops claiming, lets running jobs finish for up to `timeoutMs`, commits their outcomes. Jobs
   * still running after that keep their lease and are taken again after a restart.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.inflight > 0) {
      await Promise.race([new Promise<void>((r) => this.idleWaiters.push(r)), Bun.sleep(timeoutMs)]);
    }
    this.commit();
    // this connection may not wait for the lock: retry a busy commit for a while
    const until = Date.now() + Math.max(timeoutMs, 1000);
    while (this.done.length && Date.now() < until) {
      Bun.sleepSync(2);
      this.commit();
    }
    // Outcomes of jobs still running now are dropped: their leases run out and they run again.
    this.closed = true;
  }

  private pump(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        while (this.running && this.inflight < this.opts.concurrency) {
          const now = this.clock();
          let jobs: Claimed[];
          try {
            // A read first: claiming is a write, and a write on this thread waits (blocking the
            // event loop) while the ingest writer holds the lock. Only claim when something is due.
            const due = nextDue(this.db, this.opts.queue);
            if (due === null || due > now) break;
            jobs = this.db.$client.transaction(() => this.claim(now, this.opts.concurrency - this.inflight)).immediate();
          } catch (e) {
            // busy (the writer thread is committing; this connection does not wait): arm() looks again in 1 ms
            if (!isBusy(e)) this.opts.log.warn("job claim failed", { queue: this.opts.queue, error: String(e) });
            break;
          }
          if (jobs.length === 0) break;
          this.stats.claimed += jobs.length;
          for (const c of jobs) this.run(c);
        }
      } while (this.pumpAgain && this.running);
    } finally {
      this.pumping = false;
    }
    this.arm();
  }

  /** Sleeps until the next job is due (at most pollMs). */
  private arm(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.inflight >= this.opts.concurrency) return; // a finishing job pumps again
    let wait = this.opts.pollMs ?? 1000;
    try {
      const due = nextDue(this.db, this.opts.queue);
      if (due !== null) wait = Math.min(wait, Math.max(1, due - this.clock()));
    } catch {
      // the table is busy: look again after the poll interval
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, wait);
  }

  /** Claims up to `room` jobs: plain ones first (few: flushes, enrichment), then the lanes'. Call in a transaction. */
  private claim(now: number, room: number): Claimed[] {
    const token = randomHex(12);
    const jobs = claimJobs(this.db, this.opts.queue, now, this.opts.leaseMs, token, room);
    if (jobs.length < room) {
      const cap = this.opts.laneMaxInflight ?? this.opts.concurrency;
      jobs.push(...claimLaneJobs(this.db, this.opts.queue, now, this.opts.leaseMs, token, room - jobs.length, { maxInflight: cap }));
    }
    const hook = this.opts.onClaim;
    return jobs.map((job) => ({ job, claim: hook ? hook(this.db, job, now) : undefined }));
  }

  private run({ job, claim }: Claimed): void {
    this.inflight++;
    const token = job.lease_token!;
    const handler = this.opts.handlers[job.kind];
    const go = async (): Promise<Outcome> => {
      if (!handler) return { result: "fail", error: `no handler for job kind "${job.kind}"` };
      let payload: unknown;
      try {
        payload = JSON.parse(job.payload);
      } catch {
        return { result: "fail", error: "payload is not JSON" };
      }
      return handler({ job, payload, now: this.clock, claim });
    };
    go()
      .catch((e): Outcome => ({ result: "retry", error: `handler threw: ${String((e as Error)?.message ?? e)}` }))
      .then((outcome) => {
        this.inflight--;
        this.done.push({ job, token, outcome });
        if (!this.commitScheduled) {
          this.commitScheduled = true;
          // Outcomes that finish within batchMs share one transaction (one fsync).
          setTimeout(() => this.commit(), this.opts.batchMs ?? 0);
        }
      });
  }

  /** Commits every finished outcome in one transaction. */
  private commit(): void {
    this.commitScheduled = false;
    if (this.closed) return;
    const batch = this.done;
    if (batch.length === 0) return this.afterCommit();
    this.done = [];
    const now = this.clock();
    let claimed: Claimed[] = [];
    try {
      this.db.$client.transaction(() => {
        for (const d of batch) this.apply(d, now);
        // Claim the next jobs in the same transaction: one fsync for both.
        const room = this.opts.concurrency - this.inflight;
        if (this.running && room > 0) claimed = this.claim(now, room);
      }).immediate();
    } catch (e) {
      // Keep the outcomes and try again (the leases still hold): after 2 ms when another connection
      // held the lock (a connection with busy_timeout 0 does not wait for it), else after 100 ms.
      const busy = isBusy(e);
      if (!busy) this.opts.log.warn("job outcome commit failed; retrying", { count: batch.length, error: String(e) });
      this.done = batch.concat(this.done);
      this.commitScheduled = true;
      setTimeout(() => this.commit(), busy ? 2 : 100);
      return;
    }
    this.stats.claimed += claimed.length;
    for (const c of claimed) this.run(c);
    this.afterCommit();
  }

  private afterCommit(): void {
    if (this.inflight === 0 && this.done.length === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
    if (this.running) this.pump();
  }

  private apply({ job, token, outcome }: Done, now: number): void {
    const db = this.db;
    let fate: Fate;
    let held: boolean;
    const o = outcome;
    switch (o.result) {
      case "success":
        fate = "succeeded";
        held = finishJob(db, job.id, token, "succeeded", now, null, job.lane);
        break;
      case "fail":
        fate = "failed";
        held = finishJob(db, job.id, token, "failed", now, o.error, job.lane);
        break;
      case "snooze":
        this.stats.snoozed++;
        if (!snoozeJob(db, job.id, token, now + o.delayMs, job.lane, now)) this.stats.fenced++;
        return;
      case "retry": {
        const last = job.max_attempts > 0 && job.attempt >= job.max_attempts;
        if (last) {
          fate = "dead";
          held = finishJob(db, job.id, token, "dead", now, o.error, job.lane);
        } else {
          fate = "retry";
          const delay = o.delayMs ?? backoffDelay(this.opts.policy ?? DEFAULT_RETRY, job.attempt, this.opts.random);
          held = retryJob(db, job.id, token, now + delay, o.error, job.lane, now);
        }
        break;
      }
    }
    if (!held) {
      // Our lease ran out and someone else holds the job now: their outcome wins.
      this.stats.fenced++;
      this.opts.log.warn("job outcome dropped: lease lost", { job: job.id, kind: job.kind });
      return;
    }
    this.stats[fate === "retry" ? "retried" : fate]++;
    if (o.effects) {
      try {
        db.$client.transaction(() => o.effects!(db, fate, now))();
      } catch (e) {
        this.opts.log.error("job effects failed", { job: job.id, kind: job.kind, error: String(e) });
      }
    }
  }
}
