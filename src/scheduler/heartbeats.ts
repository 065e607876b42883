// The heartbeat scheduler: one timer, set for the earliest deadline of all heartbeats (an indexed
// lookup), re-armed whenever a change may have moved it. It never polls every rule: it wakes at a
// deadline (or after at most MAX_SLEEP_MS, to notice deadlines set by the writer thread), moves
// the overdue heartbeats with compare-and-set updates, and sleeps again.
import { isBusy, type Db } from "../db/client";
import * as hb from "../core/heartbeats";
import type { CommitHook } from "../ingest/commit";
import type { Logger } from "../lib/log";
import { earliestDeadline, overdueHeartbeats, type HeartbeatRow } from "../store/heartbeats";
import { applyTransition, passDeadline, scheduleOf, timingOf } from "../store/heartbeat-transitions";

export const MAX_SLEEP_MS = 1000;
const BATCH = 500;

export class HeartbeatScheduler {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private armedFor: number | null = null;
  private stopped = false;

  constructor(
    private db: Db,
    private hooks: CommitHook[],
    private clock: () => number,
    private log: Logger,
  ) {}

  /**
   * At start-up: time keepwatch was not running does not count. Every heartbeat whose deadline
   * passed meanwhile gets a fresh period from now and no alert (a late one flips back to up).
   */
  afterStart(): number {
    const step = (h: HeartbeatRow, now: number) => {
      const r = hb.afterDowntime(timingOf(h), scheduleOf(h), h.graceS, now);
      return !!r && applyTransition(this.db, h, r.timing, r.flip, {}, this.hooks, now);
    };
    let moved = 0;
    // before the listener takes traffic; a connection that does not wait for the lock retries here
    for (let tries = 0; ; tries++) {
      try {
        moved += this.eachOverdue(step);
        break;
      } catch (e) {
        if (!isBusy(e) || tries >= 2500) throw e;
        Bun.sleepSync(2);
      }
    }
    if (moved) this.log.info("heartbeats given a fresh period after downtime", { count: moved });
    return moved;
  }

  /**
   * Runs `step` on every overdue heartbeat, a batch per transaction (one fsync per batch);
   * returns how many it moved. Stops when a batch makes no progress (rows changed underneath).
   */
  private eachOverdue(step: (h: HeartbeatRow, now: number) => boolean): number {
    const now = this.clock();
    let moved = 0;
    for (;;) {
      const rows = overdueHeartbeats(this.db, now, BATCH);
      const progress = this.db.$client.transaction(() => rows.filter((h) => step(h, now)).length)();
      moved += progress;
      if (rows.length < BATCH || progress === 0) return moved;
    }
  }

  start(): void {
    this.arm();
  }

  /** Re-reads the earliest deadline and sets the timer for it (call after any change). */
  arm(): void {
    if (this.stopped) return;
    const now = this.clock();
    const d = earliestDeadline(this.db);
    const at = d === null ? now + MAX_SLEEP_MS : Math.min(d, now + MAX_SLEEP_MS);
    if (this.timer && this.armedFor !== null && this.armedFor <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - now));
  }

  private fire(): void {
    this.timer = null;
    this.armedFor = null;
    try {
      this.sweep();
    } catch (e) {
      if (isBusy(e)) {
        // The server's connection for this does not wait for the lock (Deps.bgDb): the writer
        // thread is committing. Batches already moved are committed; look again in 2 ms.
        this.armedFor = this.clock() + 2;
        this.timer = setTimeout(() => this.fire(), 2);
        return;
      }
      this.log.error("heartbeat sweep failed", { error: String(e) });
    }
    this.arm();
  }

  /** Moves every overdue heartbeat one step (up → late → down). Returns how many moved. */
  sweep(): number {
    return this.eachOverdue((h, now) => passDeadline(this.db, h, this.hooks, now));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
