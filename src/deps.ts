// The one dependencies object built in main.ts (or by a test) and passed down.
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

export type Deps = {
  config: Config;
  db: Db;
  clock: () => number;
  log: Logger;
  auth: Authenticator;
  writer: GroupWriter;
  checkpointer: Checkpointer;
  dataDirLock: DataDirLock;
  heartbeats: HeartbeatScheduler;
  metrics: Metrics;
  /** outbound webhooks: outbox, delivery handlers, webhook cache */
  webhooks: WebhookDispatcher;
  /** the worker of the "webhooks" queue (started by startServer) */
  worker: Worker;
  /** alert enrichment and the worker of its "enrichment" queue (started by startServer) */
  enrichment: EnrichmentRunner;
  enrichmentWorker: Worker;
};
