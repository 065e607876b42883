// The one dependencies object built in main.ts (or by a test) and passed down.
import type { Config } from "./config";
import type { Db } from "./db/client";
import type { Authenticator } from "./http/auth";
import type { GroupWriter } from "./ingest/writer";
import type { WebhookDispatcher } from "./jobs/handlers/webhooks";
import type { Worker } from "./jobs/worker";
import type { Logger } from "./lib/log";

export type Deps = {
  config: Config;
  db: Db;
  clock: () => number;
  log: Logger;
  auth: Authenticator;
  writer: GroupWriter;
  /** outbound webhooks: outbox, delivery handlers, webhook cache */
  webhooks: WebhookDispatcher;
  /** the worker of the "webhooks" queue (started by startServer) */
  worker: Worker;
};
