// Prometheus metrics (prom-client). One registry per running server; /metrics serves it.
// Counters and histograms are updated where things happen; gauges that describe stored state
// (heartbeat states, open alerts, database size) are read from the database when scraped.
import { statSync } from "node:fs";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Db } from "./db/client";
import type { Store } from "./store/contract";
import { sqliteStore } from "./store/index";

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

  /** `store`: where the queue and webhook gauges read (the server passes deps.store; by default `db`'s). */
  constructor(db: Db, dbPath: string, queues: string[] = ["webhooks"], store: Store = sqliteStore(db)) {
    const q = (sql: string) => db.$client.query(sql);
    new Gauge({
      name: "keepwatch_heartbeats",
      help: "Heartbeats by state",
      labelNames: ["state"] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of ["new", "up", "late", "down", "paused"]) this.set({ state: s }, 0);
        for (const r of q("SELECT state, count(*) AS n FROM heartbeats GROUP BY state").all() as { state: string; n: number }[])
          this.set({ state: r.state }, r.n);
      },
    });
    new Gauge({
      name: "keepwatch_alerts",
      help: "Alerts that are not closed, by status and severity",
      labelNames: ["status", "severity"] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of q("SELECT status, severity, count(*) AS n FROM alerts WHERE status != 'closed' GROUP BY status, severity").all() as {
          status: string;
          severity: string;
          n: number;
        }[])
          this.set({ status: r.status, severity: r.severity }, r.n);
      },
    });
    new Gauge({
      name: "keepwatch_alert_enrichment",
      help: "Alerts that are not closed, by enrichment status: pending (its job is queued or running), enriched, failed (after its retries)",
      labelNames: ["status"] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const st of ["pending", "enriched", "failed"]) this.set({ status: st }, 0);
        for (const r of q("SELECT enrichment_status AS s, count(*) AS n FROM alerts WHERE status != 'closed' GROUP BY enrichment_status").all() as { s: string; n: number }[])
          this.set({ status: r.s }, r.n);
      },
    });
    new Gauge({
      name: "keepwatch_jobs",
      help: "Jobs of the persisted queue that are not done: available (waiting or due; for webhook deliveries, the messages waiting less those in flight), running (leased), dead (gave up), by queue",
      labelNames: ["queue", "state"] as const,
      registers: [this.registry],
      async collect() {
        // index range counts per queue and state (plain jobs on jobs_claim, lane jobs on jobs_lane);
        // the succeeded jobs, the bulk of the table until they are pruned, are not counted
        for (const queue of queues)
          for (const state of ["available", "running", "dead"] as const) this.set({ queue, state }, await store.jobs.countQueueState(queue, state));
      },
    });
    // The backlog of every webhook, read from its lane (a counter) and one keyed read for the oldest.
    const backlogs = async () => Promise.all((await store.jobs.listLanes("webhooks")).map(async (l) => ({ l, b: await store.deliveries.backlogOf(l.lane) })));
    new Gauge({
      name: "keepwatch_webhook_backlog",
      help: "Messages waiting for a webhook (pending: queued, backing off or in flight)",
      labelNames: ["webhook"] as const,
      registers: [this.registry],
      async collect() {
        const all = await backlogs();
        this.reset();
        for (const { l, b } of all) this.set({ webhook: l.lane }, b.count);
      },
    });
    new Gauge({
      name: "keepwatch_webhook_backlog_oldest_age_seconds",
      help: "Age of the oldest message waiting for a webhook (0 when none waits)",
      labelNames: ["webhook"] as const,
      registers: [this.registry],
      async collect() {
        const all = await backlogs();
        this.reset();
        const now = Date.now();
        for (const { l, b } of all) this.set({ webhook: l.lane }, b.oldest === null ? 0 : Math.max(0, (now - b.oldest) / 1000));
      },
    });
    new Gauge({
      name: "keepwatch_webhook_backlog_dropped_total",
      help: "Messages dropped or refused by a webhook's backlog cap, in all",
      labelNames: ["webhook"] as const,
      registers: [this.registry],
      async collect() {
        const lanes = await store.jobs.listLanes("webhooks");
        this.reset();
        for (const l of lanes) this.set({ webhook: l.lane }, l.dropped);
      },
    });
    new Gauge({
      name: "keepwatch_database_size_bytes",
      help: "Size of the database file and its write-ahead log",
      labelNames: ["file"] as const,
      registers: [this.registry],
      collect() {
        for (const [file, path] of [["db", dbPath], ["wal", `${dbPath}-wal`]] as const) {
          let size = 0;
          try {
            size = statSync(path).size;
          } catch {}
          this.set({ file }, size);
        }
      },
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
