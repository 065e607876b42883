// This process as a replica of the cluster (src/store/replicas.ts): it registers at start, moves
// its seen_at every REPLICA_REFRESH_MS, prunes old rows now and then, and marks itself stopped on a
// clean stop. A refresh that fails (the database is down) is logged once and tried again on the next
// tick: nothing else depends on it succeeding. What it learns on each refresh, the number of live
// replicas, is what the per-key and per-tenant limits divide by (src/http/auth.ts). Each refresh also
// publishes this replica's counters (`stats`, set by the assembly: requests, events, deliveries
// since its start) in the same statement, so the others can show them.
import { hostname } from "node:os";
import type { Logger } from "../lib/log";
import type { Store } from "../store/contract";
import { REPLICA_REFRESH_MS, type Downtime, type Registration, type ReplicaInfo, type ReplicaStats } from "../store/replicas";

/** Refreshes between two prunes of old rows (about a minute). */
const PRUNE_EVERY = 60;
/** How long a clean stop waits to mark this replica stopped. */
const STOP_MS = 2000;

export class ReplicaRegistry {
  readonly info: ReplicaInfo;
  /** live replicas, this one included, as of the last refresh (1 until the first) */
  alive = 1;
  registration: Registration | null = null;
  /** this replica's counters, published with every refresh (none when unset) */
  stats: (() => Promise<ReplicaStats>) | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private ticks = 0;
  private failing = false;
  private inflight: Promise<void> | null = null;

  constructor(
    private store: Store,
    private clock: () => number,
    private log: Logger,
    version: string,
  ) {
    this.info = { id: crypto.randomUUID(), host: hostname(), pid: process.pid, version, listen: "" };
  }

  /** Registers (the listener's address known); the downtime it ended is recorded in the store for every replica's sweeps. */
  async start(listen: string): Promise<Registration> {
    this.info.listen = listen;
    await this.forgetDeadNeighbours();
    const r = await this.store.replicas.register(this.info, this.clock());
    this.registration = r;
    this.alive = r.alive;
    if (r.downtime)
      this.log.info("replica registered; no other was alive: heartbeat deadlines since the cluster was last seen do not count", {
        replica: this.info.id,
        last_seen: r.downtime.from ? new Date(r.downtime.from).toISOString() : "never (no replica on record)",
      });
    else this.log.info("replica registered; others are alive", { replica: this.info.id, alive: r.alive });
    this.timer = setInterval(() => void this.tick(), REPLICA_REFRESH_MS);
    return r;
  }

  /**
   * A replica of this host that still looks alive but whose process is gone (killed with -9 and
   * restarted here, within REPLICA_DEAD_MS) is marked stopped as of its last refresh, so that a
   * restart of the only replica still records the downtime it ends. Only this host's processes can
   * be checked; one with this process's own pid is a predecessor (a container restarted as pid 1).
   */
  private async forgetDeadNeighbours(): Promise<void> {
    const { replicas } = await this.store.replicas.listReplicas(this.clock());
    for (const r of replicas)
      if (r.state === "alive" && r.id !== this.info.id && r.host === this.info.host && (r.pid === this.info.pid || !processRuns(r.pid))) {
        await this.store.replicas.markDead(r.id);
        this.log.info("a replica of this host that did not stop cleanly is gone: marked stopped at its last refresh", { replica: r.id, pid: r.pid });
      }
  }

  /** The cluster's recent downtimes (heartbeat deadlines in them do not count). */
  downtimes(): Promise<Downtime[]> {
    return this.store.replicas.downtimes();
  }

  /** One refresh (and, every PRUNE_EVERY, a prune); never throws. */
  tick(): Promise<void> {
    return (this.inflight ??= (async () => {
      try {
        const stats = this.stats ? await this.stats().catch(() => null) : null;
        this.alive = Math.max(1, await this.store.replicas.refresh(this.info, this.clock(), stats));
        if (++this.ticks % PRUNE_EVERY === 0) await this.store.replicas.pruneReplicas(this.clock());
        if (this.failing) this.log.info("replica heartbeat restored", { replica: this.info.id });
        this.failing = false;
      } catch (e) {
        if (!this.failing) this.log.warn("replica heartbeat failed (will retry)", { replica: this.info.id, error: String((e as Error)?.message ?? e) });
        this.failing = true;
      } finally {
        this.inflight = null;
      }
    })());
  }

  /**
   * A clean stop: no more refreshes, and the row is marked stopped (best effort, within STOP_MS:
   * a database that does not answer must not hold the stop; the row then turns dead after 5 s).
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.registration) return;
    const done = (async () => {
      await this.inflight;
      await this.store.replicas.deregister(this.info.id, this.clock());
    })();
    try {
      const finished = await Promise.race([done.then(() => true), Bun.sleep(STOP_MS).then(() => false)]);
      if (!finished) this.log.warn("replica deregistration timed out", { replica: this.info.id });
    } catch (e) {
      this.log.warn("replica deregistration failed", { replica: this.info.id, error: String((e as Error)?.message ?? e) });
    }
    done.catch(() => {});
  }
}

/** Whether a process of this host runs with this pid (signal 0: ESRCH when none; EPERM: it runs as another user). */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}
