// The heartbeat scheduler: one timer, set for the earliest deadline of all heartbeats (an indexed
// lookup), re-armed whenever a change may have moved it. It never polls every rule: it wakes at a
// deadline (or after at most MAX_SLEEP_MS, to notice deadlines set by the writer thread or, on
// PostgreSQL, by other replicas), moves the overdue heartbeats through the store's sweep unit
// (compare-and-set; on PostgreSQL the due rows are taken FOR UPDATE SKIP LOCKED, so of several
// replicas one flips each), and sleeps again.
import { isBusy } from "../db/client";
import type { Logger } from "../lib/log";
import type { Store } from "../store/contract";
import type { SweepMode } from "../store/heartbeat-transitions";
import type { Downtime } from "../store/replicas";

export const MAX_SLEEP_MS = 1000;
const BATCH = 500;

export class HeartbeatScheduler {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private armedFor: number | null = null;
  private stopped = false;

  /**
   * `store`: on SQLite the background connection's (Deps.bgStore: it never waits for the lock).
   * `downtimes`: the cluster's recent downtimes (the replica registry, src/scheduler/replicas.ts),
   * read on every sweep; without it every overdue heartbeat at start counts as after downtime.
   */
  constructor(
    private store: Store,
    private clock: () => number,
    private log: Logger,
    private downtimes?: () => Promise<Downtime[]>,
  ) {}

  /**
   * At start-up: time keepwatch was not running does not count. Every heartbeat whose deadline
   * passed meanwhile gets a fresh period from now and no alert (a late one flips back to up).
   * With the replica registry "meanwhile" is the cluster's downtime this replica's registration
   * recorded (none when another replica was alive: then this is an ordinary sweep); a deadline that
   * passed while a replica was still running passes as usual.
   */
  async afterStart(): Promise<number> {
    let moved = 0;
    // before the listener takes traffic; a connection that does not wait for the lock retries here
    for (let tries = 0; ; tries++) {
      try {
        moved += await this.eachOverdue(this.downtimes ? "deadline" : "afterStart");
        break;
      } catch (e) {
        if (!isBusy(e) || tries >= 2500) throw e;
        await Bun.sleep(2);
      }
    }
    if (moved) this.log.info("heartbeats given a fresh period after downtime", { count: moved });
    return moved;
  }

  /**
   * Moves every overdue heartbeat one step, a batch per transaction (one fsync per batch);
   * returns how many it moved. Stops when a batch makes no progress (rows changed underneath).
   */
  private async eachOverdue(mode: SweepMode): Promise<number> {
    const now = this.clock();
    const downtimes = mode === "deadline" && this.downtimes ? await this.downtimes() : [];
    let moved = 0;
    for (;;) {
      const r = await this.store.heartbeatTransitions.sweepOverdue(mode, now, BATCH, downtimes);
      moved += r.moved;
      if (r.seen < BATCH || r.moved === 0) return moved;
    }
  }

  start(): void {
    this.arm();
  }

  /** Re-reads the earliest deadline and sets the timer for it (call after any change). */
  arm(): void {
    if (this.stopped) return;
    this.store.heartbeats.earliestDeadline().then(
      (d) => this.armAt(d),
      (e) => {
        this.log.warn("heartbeat deadline lookup failed", { error: String(e) });
        this.armAt(null);
      },
    );
  }

  private armAt(d: number | null): void {
    if (this.stopped) return;
    const now = this.clock();
    const at = d === null ? now + MAX_SLEEP_MS : Math.min(d, now + MAX_SLEEP_MS);
    if (this.timer && this.armedFor !== null && this.armedFor <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = setTimeout(() => void this.fire(), Math.max(0, at - now));
  }

  private async fire(): Promise<void> {
    this.timer = null;
    this.armedFor = null;
    try {
      await this.sweep();
    } catch (e) {
      if (isBusy(e)) {
        // The server's connection for this does not wait for the lock (SqliteParts.bgDb): the writer
        // thread is committing. Batches already moved are committed; look again in 2 ms.
        if (this.stopped) return;
        this.armedFor = this.clock() + 2;
        this.timer = setTimeout(() => void this.fire(), 2);
        return;
      }
      this.log.error("heartbeat sweep failed", { error: String(e) });
    }
    this.arm();
  }

  /** Moves every overdue heartbeat one step (up → late → down). Returns how many moved. */
  sweep(): Promise<number> {
    return this.eachOverdue("deadline");
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
