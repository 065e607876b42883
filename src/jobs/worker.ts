// A queue worker: claims due jobs (and jobs whose lease expired) in batches with one UPDATE ...
// RETURNING, runs their handlers with bounded concurrency, and commits the outcomes in batches
// (one transaction for everything that finished since the last commit), each fenced by its lease
// token so a worker that lost its lease cannot overwrite a newer claim. Nothing lives only in
// memory: a restart resumes from the table.
import { isBusy } from "../db/client";
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from "../core/backoff";
import { randomHex } from "../lib/ids";
import type { Logger } from "../lib/log";
import type { JobRow } from "../store/jobs";
import type { ClaimedJob, ClaimRequest, Effect, Outcome as StoreOutcome, QueueStore } from "../store/queue-contract";

/** What became of a job after an outcome was committed. */
export type Fate = "succeeded" | "retry" | "failed" | "dead";

/**
 * Writes that belong with the outcome, as data (store/queue-contract.ts: Effect): applied by the
 * store in the settle's transaction, only if the lease still held. A function gets the fate first
 * (a failed attempt's writes differ when it was the last one); it must not touch a database.
 */
export type Effects = Effect[] | ((fate: Fate) => Effect[]);

/** After the commit, when the lease held: in-memory follow-ups (counters, caches, wake-ups). */
export type Settled = (fate: Fate, effectsError: string | null) => void;

export type Outcome =
  | { result: "success"; effects?: Effects; settled?: Settled }
  /** a failed attempt: retried after `delayMs` (default: the worker's backoff) unless it was the last */
  | { result: "retry"; error: string; delayMs?: number; effects?: Effects; settled?: Settled }
  /** a permanent failure: no more attempts */
  | { result: "fail"; error: string; effects?: Effects; settled?: Settled }
  /** not attempted (rate limit, ordering): back in the queue without counting the attempt */
  | { result: "snooze"; delayMs: number };

/** `started`: the delivery attempt the claim started for this job (WorkerOptions.startAttempt), if any. */
/** `delivery`: the delivery row as the claim left it, when the store read it in the claim (else the handler reads it). */
export type JobContext = { job: JobRow; payload: any; now: () => number; started?: ClaimedJob["started"]; delivery?: ClaimedJob["delivery"] };
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
  /** how long a wake-up waits before its claim, when not `batchMs` (ms; 0 = next turn) */
  wakeMs?: number;
  clock?: () => number;
  random?: () => number;
  policy?: RetryPolicy;
  /** jobs in flight per lane at most (lanes: see store/jobs.ts); default: concurrency */
  laneMaxInflight?: number;
  /**
   * Jobs of this kind get their delivery attempt started in the claim's transaction (so an attempt
   * cut off by a crash is still on record); the handler sees it as `started`.
   */
  startAttempt?: string;
  /** this replica's id, written on the jobs it claims (lease_owner: GET /v1/replicas shows who holds what) */
  owner?: string;
  log: Logger;
};

type Done = { job: ClaimedJob; token: string; outcome: Outcome };

/** PostgreSQL: how long a worker waits after a claim that came back empty although a job was due (see arm) */
export const CONTENDED_MS = 10;

export class Worker {
  private running = false;
  private notifyScheduled = false;
  private closed = false;
  private inflight = 0;
  /** slots a claim in progress may fill (so a pump and a commit claiming at once stay within concurrency) */
  private reserved = 0;
  private done: Done[] = [];
  private commitScheduled = false;
  private committing: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pumping = false;
  private pumpAgain = false;
  private idleWaiters: (() => void)[] = [];
  /**
   * What the pump that just ended saw (arm() uses it instead of looking again): ms until the next
   * job is due (null: none), or that a claim came back empty although something was due.
   */
  private lastLook: { dueIn: number | null } | { contended: true } | null = null;
  readonly stats = { claimed: 0, succeeded: 0, retried: 0, failed: 0, dead: 0, snoozed: 0, fenced: 0 };
  private clock: () => number;

  constructor(
    private queue: QueueStore,
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

  /**
   * No slot free (or not running): jobs committed now would wait for this worker. A replica wakes
   * the other replicas' workers only then (server.ts, wakeAcrossReplicas).
   */
  get saturated(): boolean {
    return !this.running || this.inflight >= this.opts.concurrency;
  }

  /**
   * Something was enqueued (or became due): look at the table soon. (The look comes first even
   * right after this process committed new jobs: a claim without it was tried, and with a
   * rate-limited webhook's backlog every ingest commit then cost an empty claim transaction,
   * 2.4× the commits of the soak, for no measurable gain in lag.)
   */
  notify(): void {
    if (!this.running) return;
    // Coalesce: many notifications in a short window make one claim (one write, one fsync).
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    setTimeout(() => {
      this.notifyScheduled = false;
      this.pump();
    }, this.opts.wakeMs ?? this.opts.batchMs ?? 0);
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
    // the store may be busy (SQLite: this connection does not wait for the lock): retry for a while
    const until = Date.now() + Math.max(timeoutMs, 1000);
    do {
      if (this.committing) await this.committing;
      await this.commit();
      if (this.done.length) await Bun.sleep(2);
    } while (this.done.length && Date.now() < until);
    // Outcomes of jobs still running now are dropped: their leases run out and they run again.
    this.closed = true;
  }

  /** The claim of up to `room` jobs: plain ones first (few: flushes, enrichment), then the lanes'. */
  private request(room: number): ClaimRequest {
    return {
      limit: room,
      leaseMs: this.opts.leaseMs,
      token: randomHex(12),
      laneMaxInflight: this.opts.laneMaxInflight ?? this.opts.concurrency,
      startAttempt: this.opts.startAttempt,
      owner: this.opts.owner,
    };
  }

  private pump(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void this.pumpLoop().finally(() => {
      this.pumping = false;
      this.arm();
    });
  }

  private async pumpLoop(): Promise<void> {
    this.lastLook = null;
    do {
      this.pumpAgain = false;
      while (this.running) {
        this.lastLook = null;
        const room = this.opts.concurrency - this.inflight - this.reserved;
        if (room <= 0) break;
        let jobs: ClaimedJob[];
        this.reserved += room;
        try {
          // A read first: claiming is a write, and on SQLite a write on this thread waits (blocking
          // the event loop) while the ingest writer holds the lock. Only claim when something is due.
          const dueIn = await this.dueIn();
          if (dueIn === null || dueIn > 0) {
            this.lastLook = { dueIn };
            break;
          }
          jobs = await this.queue.claim(this.opts.queue, this.request(room));
          if (jobs.length === 0) this.lastLook = { contended: true };
        } catch (e) {
          // busy (the writer thread is committing; this connection does not wait): arm() looks again soon
          if (!isBusy(e)) this.opts.log.warn("job claim failed", { queue: this.opts.queue, error: String(e) });
          break;
        } finally {
          this.reserved -= room;
        }
        if (jobs.length === 0) break;
        this.stats.claimed += jobs.length;
        for (const c of jobs) this.run(c);
      }
    } while (this.pumpAgain && this.running);
  }

  /** The store's clock (PostgreSQL: the database's, as the due times are); SQLite: the injected one. */
  private now(): Promise<number> {
    return this.queue.kind === "sqlite" ? Promise.resolve(this.clock()) : this.queue.now();
  }

  /** ms until the next job is due (≤ 0: now; null: none): one look on PostgreSQL, nextDue and the clock on SQLite. */
  private async dueIn(): Promise<number | null> {
    if (this.queue.kind === "postgres" && this.queue.dueIn) return this.queue.dueIn(this.opts.queue);
    const due = await this.queue.nextDue(this.opts.queue);
    return due === null ? null : due - (await this.now());
  }

  /** Sleeps until the next job is due (at most pollMs). */
  private arm(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.inflight >= this.opts.concurrency) return; // a finishing job pumps again
    const poll = this.opts.pollMs ?? 1000;
    const set = (wait: number) => {
      if (!this.running || this.pumping) return; // a pump in progress arms again when it ends
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, wait);
    };
    // a fallback first: if the look below fails (busy, store down), look again after the poll interval
    set(poll);
    const seen = this.lastLook;
    this.lastLook = null;
    if (seen && this.queue.kind === "postgres") {
      // PostgreSQL: what the pump just saw, without a second look. A claim that came back empty
      // although something was due met a lane another replica (or an enqueue) holds locked: it
      // commits within a few ms and claims for itself; look again after CONTENDED_MS, not at
      // once (a 1 ms loop of looks and empty claims costs the database more than it gains).
      if ("contended" in seen) set(CONTENDED_MS);
      else if (seen.dueIn !== null) set(Math.min(poll, Math.max(1, seen.dueIn)));
      return;
    }
    void this.dueIn()
      .then((dueIn) => {
        if (dueIn !== null && this.timer) set(Math.min(poll, Math.max(1, dueIn)));
      })
      .catch(() => {});
  }

  private run({ started, delivery, ...job }: ClaimedJob): void {
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
      return handler({ job, payload, now: this.clock, started, delivery });
    };
    go()
      .catch((e): Outcome => ({ result: "retry", error: `handler threw: ${String((e as Error)?.message ?? e)}` }))
      .then((outcome) => {
        this.inflight--;
        this.done.push({ job, token, outcome });
        if (!this.commitScheduled) {
          this.commitScheduled = true;
          // Outcomes that finish within batchMs share one transaction (one fsync).
          setTimeout(() => void this.commit(), this.opts.batchMs ?? 0);
        }
      });
  }

  /** Commits every finished outcome in one transaction (one at a time: a commit in progress is waited for). */
  private commit(): Promise<void> {
    if (this.committing) {
      // the outcomes that arrived meanwhile go in the next commit, right after this one
      return this.committing.then(() => this.commit());
    }
    this.commitScheduled = false;
    if (this.closed) return Promise.resolve();
    const p = this.commitNow().finally(() => {
      this.committing = null;
    });
    this.committing = p;
    return p;
  }

  private async commitNow(): Promise<void> {
    const batch = this.done;
    if (batch.length === 0) return this.afterCommit();
    this.done = [];
    const outcomes = batch.map((d) => this.toStore(d));
    // Claim the next jobs in the same transaction: one commit (one fsync) for both.
    const room = this.running ? this.opts.concurrency - this.inflight - this.reserved : 0;
    if (room > 0) this.reserved += room;
    let r: Awaited<ReturnType<QueueStore["settle"]>>;
    try {
      r = await this.queue.settle(
        outcomes.map((o) => o.out),
        room > 0 ? { queue: this.opts.queue, req: this.request(room) } : undefined,
      );
    } catch (e) {
      // Keep the outcomes and try again (the leases still hold): after 2 ms when another connection
      // held the lock (a connection with busy_timeout 0 does not wait for it), else after 100 ms.
      const busy = isBusy(e);
      if (!busy) this.opts.log.warn("job outcome commit failed; retrying", { count: batch.length, error: String(e) });
      this.done = batch.concat(this.done);
      if (!this.commitScheduled) {
        this.commitScheduled = true;
        setTimeout(() => void this.commit(), busy ? 2 : 100);
      }
      return;
    } finally {
      if (room > 0) this.reserved -= room;
    }
    for (let i = 0; i < batch.length; i++) this.settled(batch[i]!, outcomes[i]!.fate, r.held[i]!, r.errors[i] ?? null);
    this.stats.claimed += r.claimed.length;
    for (const c of r.claimed) this.run(c);
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

  /** The store's outcome of a finished job, with its fate (null: snoozed) and its effects as data. */
  private toStore({ job, token, outcome: o }: Done): { out: StoreOutcome; fate: Fate | null } {
    const base = { id: job.id, token, lane: job.lane };
    const fx = (fate: Fate, e?: Effects) => (typeof e === "function" ? e(fate) : e);
    switch (o.result) {
      case "success":
        return { out: { ...base, action: "finish", state: "succeeded", effects: fx("succeeded", o.effects) }, fate: "succeeded" };
      case "fail":
        return { out: { ...base, action: "finish", state: "failed", error: o.error, effects: fx("failed", o.effects) }, fate: "failed" };
      case "snooze":
        return { out: { ...base, action: "snooze", delayMs: o.delayMs }, fate: null };
      case "retry": {
        if (job.max_attempts > 0 && job.attempt >= job.max_attempts)
          return { out: { ...base, action: "finish", state: "dead", error: o.error, effects: fx("dead", o.effects) }, fate: "dead" };
        const delayMs = o.delayMs ?? backoffDelay(this.opts.policy ?? DEFAULT_RETRY, job.attempt, this.opts.random);
        return { out: { ...base, action: "retry", delayMs, error: o.error, effects: fx("retry", o.effects) }, fate: "retry" };
      }
    }
  }

  /** Counts a committed outcome and runs its follow-up (only when the lease held). */
  private settled({ job, outcome: o }: Done, fate: Fate | null, held: boolean, effectsError: string | null): void {
    if (fate === null) {
      this.stats.snoozed++;
      if (!held) this.stats.fenced++;
      return;
    }
    if (!held) {
      // Our lease ran out and someone else holds the job now: their outcome wins.
      this.stats.fenced++;
      this.opts.log.warn("job outcome dropped: lease lost", { job: job.id, kind: job.kind });
      return;
    }
    this.stats[fate === "retry" ? "retried" : fate]++;
    if (effectsError) this.opts.log.error("job effects failed", { job: job.id, kind: job.kind, error: effectsError });
    if (o.result !== "snooze" && o.settled) {
      try {
        o.settled(fate, effectsError);
      } catch (e) {
        this.opts.log.error("job follow-up failed", { job: job.id, kind: job.kind, error: String(e) });
      }
    }
  }
}
