// Prometheus metrics (prom-client). One registry per running server; /metrics serves it.
// Counters and histograms are updated where things happen; gauges that describe stored state
// (heartbeat states, open alerts, database size) are read from the database when scraped.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { LINGER_MS, MAX_LINGERING, lingerRefusedTotal, lingeringNow } from "./http/linger";
import type { Store } from "./store/contract";
import type { LaneRow } from "./store/jobs";
import type { StateCounts } from "./store/overview";
import type { ReplicaRow, ReplicaStats, ReplicaWork } from "./store/replicas";

export class Metrics {
  readonly registry = new Registry();
  readonly ingestRequests = new Counter({
    name: "keepwatch_ingest_requests_total",
    help: "Ingest requests by route and HTTP status",
    labelNames: ["route", "status"] as const,
    registers: [this.registry],
  });
  readonly ingestDuration = new Histogram({
    name: "keepwatch_ingest_request_duration_seconds",
    help: "Time from the start of an ingest request to its answer",
    labelNames: ["route"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly groupCommitRequests = new Histogram({
    name: "keepwatch_group_commit_requests",
    help: "Requests committed together in one transaction by the writer",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    registers: [this.registry],
  });
  readonly eventsStored = new Counter({
    name: "keepwatch_events_stored_total",
    help: "Events committed to the database (repeats of known ids not counted)",
    registers: [this.registry],
  });

  readonly deliveryAttempts = new Counter({
    name: "keepwatch_delivery_attempts_total",
    help: "Outbound webhook delivery attempts by outcome: succeeded (2xx), failed (another status), error (no answer)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly deliveryDuration = new Histogram({
    name: "keepwatch_delivery_attempt_duration_seconds",
    help: "Time of one outbound webhook request, from connecting to the end of the answer",
    labelNames: ["outcome"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  // The lingering close of answers that leave a body unread (src/http/linger.ts): its count and
  // cap are the process's, read when scraped.
  readonly lingeringConnections = new Gauge({
    name: "keepwatch_http_lingering_connections",
    help: `Connections lingering now: answered, closing once the unread request body has ended or ${LINGER_MS / 1000} s have passed (at most ${MAX_LINGERING} at once)`,
    registers: [this.registry],
    collect() {
      this.set(lingeringNow());
    },
  });
  readonly lingerRefused = new Counter({
    name: "keepwatch_http_linger_refused_total",
    help: `Answers that left a body unread and closed their connection at once, without lingering, because ${MAX_LINGERING} connections were lingering (since the process started)`,
    registers: [this.registry],
    collect() {
      this.reset();
      this.inc(lingerRefusedTotal());
    },
  });

  /**
   * `store`: the gauges read stored state through it when scraped (either database). A read that
   * fails (the database is down) leaves its gauge empty for that scrape instead of failing the
   * whole scrape: the counters (503s among them) are what an operator needs to see then.
   * `clock`: the instant the replica reads are made at (the deps' clock, as the admin overview's).
   */
  constructor(store: Store, queues: string[] = ["webhooks"], self?: string, clock: () => number = Date.now) {
    const tolerant = (f: (this: Gauge<string>) => Promise<void>) =>
      async function (this: Gauge<string>) {
        try {
          await f.call(this);
        } catch {
          this.reset();
        }
      };
    // one read of the stored counts per scrape, shared by the three gauges that report them
    let counts: Promise<StateCounts> | null = null;
    const stateCounts = () => (counts ??= store.overview.stateCounts().finally(() => setTimeout(() => (counts = null), 0)));
    new Gauge({
      name: "keepwatch_heartbeats",
      help: "Heartbeats by state",
      labelNames: ["state"] as const,
      registers: [this.registry],
      collect: tolerant(async function () {
        const rows = (await stateCounts()).heartbeats;
        this.reset();
        for (const s of ["new", "up", "late", "down", "paused"]) this.set({ state: s }, 0);
        for (const r of rows) this.set({ state: r.state }, r.n);
      }),
    });
    new Gauge({
      name: "keepwatch_alerts",
      help: "Alerts that are not closed, by status and severity",
      labelNames: ["status", "severity"] as const,
      registers: [this.registry],
      collect: tolerant(async function () {
        const rows = (await stateCounts()).alerts;
        this.reset();
        for (const r of rows) this.set({ status: r.status, severity: r.severity }, r.n);
      }),
    });
    new Gauge({
      name: "keepwatch_alert_enrichment",
      help: "Alerts that are not closed, by enrichment status: pending (its job is queued or running), enriched, failed (after its retries)",
      labelNames: ["status"] as const,
      registers: [this.registry],
      collect: tolerant(async function () {
        const rows = (await stateCounts()).enrichment;
        this.reset();
        for (const st of ["pending", "enriched", "failed"]) this.set({ status: st }, 0);
        for (const r of rows) this.set({ status: r.status }, r.n);
      }),
    });
    new Gauge({
      name: "keepwatch_jobs",
      help: "Jobs of the persisted queue that are not done: available (waiting or due; for webhook deliveries, the messages waiting less those in flight), running (leased), dead (gave up), by queue",
      labelNames: ["queue", "state"] as const,
      registers: [this.registry],
      collect: tolerant(async function () {
        // index range counts per queue and state (plain jobs on jobs_claim, lane jobs on jobs_lane);
        // the succeeded jobs, the bulk of the table until they are pruned, are not counted
        for (const queue of queues)
          for (const state of ["available", "running", "dead"] as const) this.set({ queue, state }, await store.jobs.countQueueState(queue, state));
      }),
    });
    // The backlog of every webhook, read from its lane (a counter) and one keyed read for the oldest.
    let lanes: Promise<{ l: LaneRow; b: { count: number; oldest: number | null } }[]> | null = null;
    const backlogs = () =>
      (lanes ??= (async () => {
        const ls = await store.jobs.listLanes("webhooks");
        return Promise.all(ls.map(async (l) => ({ l, b: await store.deliveries.backlogOf(l.lane) })));
      })().finally(() => setTimeout(() => (lanes = null), 0)));
    new Gauge({
      name: "keepwatch_webhook_backlog",
      help: "Messages waiting for a webhook (pending: queued, backing off or in flight)",
      labelNames: ["webhook"] as const,
      registers: [this.registry],
      collect: tolerant(async function () {
        const bs = await backlogs();
        this.reset();
        for (const { l, b } of bs) this.set({ webhook: l.lane }, b.count);
      }),
    });
    new Gauge({
      name: "keepwatch_webhook_backlog_oldest_age_seconds",
      help: "Age of the oldest message waiting for a webhook (0 when none waits)",
      labelNames: ["webhook"] as const,
      registers: [this.registry],
      collect: tolerant(async function () {
        const bs = await backlogs();
        this.reset();
        const now = clock();
        for (const { l, b } of bs) this.set({ webhook: l.lane }, b.oldest === null ? 0 : Math.max(0, (now - b.oldest) / 1000));
      }),
    });
    new Gauge({
      name: "keepwatch_webhook_backlog_dropped_total",
      help: "Messages dropped or refused by a webhook's backlog cap, in all",
      labelNames: ["webhook"] as const,
      registers: [this.registry],
      collect: tolerant(async function () {
        const bs = await backlogs();
        this.reset();
        for (const { l } of bs) this.set({ webhook: l.lane }, l.dropped);
      }),
    });
    // The replicas on record (src/store/replicas.ts), one read per scrape shared by the three gauges below.
    let reps: Promise<{ now: number; replicas: ReplicaRow[] }> | null = null;
    const replicaList = () => (reps ??= store.replicas.listReplicas(clock()).finally(() => setTimeout(() => (reps = null), 0)));
    new Gauge({
      name: "keepwatch_replicas",
      help: "Replicas of the cluster by state: alive (seen within 5 s), dead (not seen since; pruned after 24 h), stopped (a clean stop)",
      labelNames: ["state"] as const,
      registers: [this.registry],
      collect: tolerant(async function () {
        const { replicas } = await replicaList();
        this.reset();
        for (const st of ["alive", "dead", "stopped"] as const) this.set({ state: st }, replicas.filter((r) => r.state === st).length);
      }),
    });
    new Gauge({
      name: "keepwatch_replica_info",
      help: "One series per live replica (value 1): its id, host, listen address, version, start time (ISO 8601), and self=\"true\" for the replica answering this scrape",
      labelNames: ["id", "host", "listen", "version", "started", "self"] as const,
      registers: [this.registry],
      collect: tolerant(async function () {
        const { replicas } = await replicaList();
        this.reset();
        for (const r of replicas)
          if (r.state === "alive")
            this.set({ id: r.id, host: r.host, listen: r.listen, version: r.version, started: new Date(r.startedAt).toISOString(), self: String(r.id === self) }, 1);
      }),
    });
    new Gauge({
      name: "keepwatch_replica_last_seen_age_seconds",
      help: "Seconds since each replica on record last refreshed its row (database clock); above 5 it is dead",
      labelNames: ["id"] as const,
      registers: [this.registry],
      collect: tolerant(async function () {
        const { now, replicas } = await replicaList();
        this.reset();
        for (const r of replicas) if (r.state !== "stopped") this.set({ id: r.id }, Math.max(0, (now - r.seenAt) / 1000));
      }),
    });
    // What each replica is doing (src/store/replicas.ts: replicaWork), one read per scrape shared by the three gauges below.
    let work: Promise<ReplicaWork> | null = null;
    const replicaWork = () => (work ??= store.replicas.replicaWork(queues, clock()).finally(() => setTimeout(() => (work = null), 0)));
    // the two gauges of leased jobs differ only in the value summed per replica, queue and kind
    const leasedJobs = (name: string, help: string, value: (j: ReplicaWork["jobs"][number]) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["id", "queue", "kind"] as const,
        registers: [this.registry],
        collect: tolerant(async function () {
          const { jobs } = await replicaWork();
          this.reset();
          for (const j of jobs) this.inc({ id: j.owner ?? "none", queue: j.queue, kind: j.kind }, value(j));
        }),
      });
    leasedJobs(
      "keepwatch_replica_jobs_leased",
      "Jobs each replica holds a lease on (running), by queue and kind (deliver, flush, enrich); a dead replica's stay until their leases run out and another replica claims them; id=\"none\": claimed by a keepwatch that did not record its replica",
      (j) => j.count,
    );
    leasedJobs(
      "keepwatch_replica_jobs_lease_expired",
      "Of the jobs a replica holds a lease on, those past their lease end (a dead or hung holder): another replica may take them over",
      (j) => j.expired,
    );
    new Gauge({
      name: "keepwatch_replica_housekeeping",
      help: "Housekeeping jobs running now (value 1), by the replica holding their lease (one replica at a time per job)",
      labelNames: ["id", "name"] as const,
      registers: [this.registry],
      collect: tolerant(async function () {
        const { housekeeping } = await replicaWork();
        this.reset();
        for (const h of housekeeping) this.set({ id: h.holder, name: h.name }, 1);
      }),
    });
    new Gauge({
      name: "keepwatch_database_size_bytes",
      help: "Size of the database: on SQLite the file (db) and its write-ahead log (wal); on PostgreSQL the database (db: pg_database_size)",
      labelNames: ["file"] as const,
      registers: [this.registry],
      collect: tolerant(async function () {
        for (const p of await store.health.databaseSize()) this.set({ file: p.part }, p.bytes);
      }),
    });
  }

  /** What this process counted since its start, published with its replica refresh (src/scheduler/replicas.ts). */
  async totals(): Promise<ReplicaStats> {
    const sum = async (c: Counter<string>) => (await c.get()).values.reduce((a, v) => a + v.value, 0);
    return { ingestRequests: await sum(this.ingestRequests), eventsStored: await sum(this.eventsStored), deliveryAttempts: await sum(this.deliveryAttempts) };
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
