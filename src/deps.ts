// The one dependencies object built in main.ts (or by a test) and passed down.
import type { PgWake } from "./store/pg/wake";
import type { Config } from "./config";
import type { Checkpointer } from "./db/checkpointer";
import type { Db } from "./db/client";
import type { DataDirLock } from "./db/lock";
import type { Authenticator } from "./http/auth";
import type { GroupWriter } from "./ingest/writer";
import type { EnrichmentRunner } from "./jobs/handlers/enrichment";
import type { WebhookDispatcher } from "./jobs/handlers/webhooks";
import type { Worker } from "./jobs/worker";
import type { Logger } from "./lib/log";
import type { Metrics } from "./metrics";
import type { HeartbeatScheduler } from "./scheduler/heartbeats";
import type { ReplicaRegistry } from "./scheduler/replicas";
import type { PgConn, Store } from "./store/contract";

/**
 * The SQLite-only parts of a running keepwatch: present in SQLite mode, absent (undefined) in
 * PostgreSQL mode. Code that must do something only SQLite has (a checkpoint, a file size) tests
 * `deps.sqlite`; everything else goes through the stores, so no code outside src/store and src/db
 * needs to know which database it talks to.
 */
export type SqliteParts = {
  /** the HTTP thread's connection: reads, and API changes (which wait for the lock up to busy_timeout) */
  db: Db;
  /**
   * The HTTP thread's connection for background writes (job claims and outcomes, heartbeat flips):
   * busy_timeout 0, so that it never sleeps in SQLite's busy handler (which would stop the event
   * loop while the writer thread commits); a busy write is retried from a timer instead.
   */
  bgDb: Db;
  /**
   * The job workers' connection (claims, outcomes and their effects): busy_timeout 0 like bgDb, and
   * synchronous=NORMAL, so that an outcome commit does not stop the event loop for an fsync. The
   * next fsynced commit (any ingest) carries it to disk; a power cut can forget the last outcomes,
   * and those jobs then run again when their lease ends (at-least-once, as always).
   */
  jobsDb: Db;
  /** the group-commit writer thread (the same object as Deps.writer) */
  writer: GroupWriter;
  checkpointer: Checkpointer;
  dataDirLock: DataDirLock;
};

export type Deps = {
  config: Config;
  /**
   * The store contract (src/store/contract.ts): what every caller outside src/store uses. On
   * SQLite `store` is bound to `sqlite.db`, `bgStore` to `sqlite.bgDb` and `jobsStore` to
   * `sqlite.jobsDb` (the roles in SqliteParts); on PostgreSQL all three are the one pool.
   */
  store: Store;
  bgStore: Store;
  jobsStore: Store;
  /** SQLite mode only (see SqliteParts); undefined on PostgreSQL */
  sqlite?: SqliteParts;
  /** PostgreSQL mode only: the pool every role shares (closed by stop); undefined on SQLite */
  pg?: PgConn;
  /** PostgreSQL mode with --db-wake notify: the wake-up channel across replicas (src/store/pg/wake.ts; stopped by stop) */
  pgWake?: PgWake;
  clock: () => number;
  log: Logger;
  auth: Authenticator;
  /** the ingest group-commit writer: a thread on SQLite, inline on PostgreSQL (src/ingest/writer.ts) */
  writer: GroupWriter;
  heartbeats: HeartbeatScheduler;
  /** this process as a replica of the cluster (registered by startServer) */
  replicas: ReplicaRegistry;
  metrics: Metrics;
  /** outbound webhooks: outbox, delivery handlers, webhook cache */
  webhooks: WebhookDispatcher;
  /** the worker of the "webhooks" queue (started by startServer) */
  worker: Worker;
  /** alert enrichment and the worker of its "enrichment" queue (started by startServer) */
  enrichment: EnrichmentRunner;
  enrichmentWorker: Worker;
};
