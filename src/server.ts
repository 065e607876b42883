// Builds a running keepwatch from a config: database, migrations, first-start bootstrap, app,
// listener, and an orderly stop. main.ts calls it for `serve`; tests can call it in-process.
import type { Server } from "bun";
import { createApp, type AppState } from "./app";
import type { Config } from "./config";
import { dbFile, openDatabase, type Db } from "./db/client";
import { migrate } from "./db/migrate";
import type { Deps } from "./deps";
import { Authenticator } from "./http/auth";
import { GroupWriter } from "./ingest/writer";
import { WEBHOOK_QUEUE, WebhookDispatcher } from "./jobs/handlers/webhooks";
import { Worker } from "./jobs/worker";
import { parseAllowList } from "./core/netrange";
import { startScheduler } from "./scheduler";
import { createLogger, type Logger } from "./lib/log";
import { createKey } from "./store/keys";
import { countTenants, createTenant } from "./store/tenants";

export type Running = { deps: Deps; server: Server<unknown>; stop: () => Promise<void>; url: string };

/** On an empty database: tenant `default` with an admin key and an ingest key, returned once. */
export function bootstrap(db: Db, now = Date.now()): { admin: string; ingest: string } | null {
  return db.transaction(() => {
    if (countTenants(db) > 0) return null;
    const t = createTenant(db, "default", now);
    const admin = createKey(db, { tenantId: t.id, name: "admin (first start)", scopes: ["admin"] }, now).key;
    const ingest = createKey(db, { tenantId: t.id, name: "ingest (first start)", scopes: ["ingest"] }, now).key;
    return { admin, ingest };
  });
}

export function buildDeps(config: Config, opts: { log?: Logger; clock?: () => number } = {}): Deps {
  const log = opts.log ?? createLogger(config.logLevel);
  const clock = opts.clock ?? Date.now;
  const db = openDatabase(dbFile(config.dataDir), { busyTimeoutMs: config.busyTimeout, durability: config.durability });
  migrate(db);
  const auth = new Authenticator(db, { defaultRate: config.rateLimit, defaultBurst: config.rateBurst, clock });
  const writer = new GroupWriter(db, clock, log);
  const leaseMs = config.jobLease * 1000;
  const webhooks = new WebhookDispatcher(db, {
    allow: parseAllowList(config.outboundAllow),
    leaseMs,
    autoDisableAfter: config.webhookAutoDisable,
    maxInflightPerWebhook: config.webhookMaxInflight,
    clock,
    log,
  });
  // The transactional outbox: deliveries are enqueued in the ingest transaction.
  writer.onInsert = webhooks.onEventsInserted;
  const worker = new Worker(db, {
    queue: WEBHOOK_QUEUE,
    handlers: webhooks.handlers(),
    concurrency: config.webhookConcurrency,
    leaseMs,
    // outcomes finishing within 4 ms share a commit: fewer fsyncs competing with ingest
    batchMs: 4,
    clock,
    log,
  });
  webhooks.wake = () => worker.notify();
  return { config, db, clock, log, auth, writer, webhooks, worker };
}

export function startServer(deps: Deps): Running {
  const state: AppState = { draining: false };
  const app = createApp(deps, state);
  // Elysia's listen compiles the static routes into Bun.serve's router.
  app.listen({
    port: deps.config.port,
    hostname: deps.config.host,
    // Bun's own cap sits above ours so that our 413 (with its JSON body) is what clients see.
    maxRequestBodySize: Math.max(deps.config.bodyLimit * 2, 8 * 1024 * 1024),
  });
  const server = app.server!;
  const touch = setInterval(() => deps.auth.flushLastUsed(), 30_000);
  deps.worker.start();
  const scheduler = startScheduler(deps);
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      state.draining = true;
      clearInterval(touch);
      // Stop accepting; let in-flight requests finish (bounded), then flush what they queued.
      const inflight = server.stop(false);
      await Promise.race([inflight, Bun.sleep(deps.config.shutdownTimeout)]);
      await deps.writer.drain();
      scheduler.stop();
      // Let running deliveries finish (bounded); the rest stay queued for the next start.
      await deps.worker.stop(deps.config.shutdownTimeout);
      deps.auth.flushLastUsed();
      deps.db.$client.close();
    })());
  return { deps, server, stop, url: `http://${deps.config.host === "0.0.0.0" ? "127.0.0.1" : deps.config.host}:${server.port}` };
}
