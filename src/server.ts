// Builds a running keepwatch from a config: database, migrations, app,
// listener, and an orderly stop. main.ts calls it for `serve`; tests can call it in-process.
import type { Server } from "bun";
import { createApp, type AppState } from "./app";
import type { Config } from "./config";
import { dbFile, openDatabase } from "./db/client";
import { migrate } from "./db/migrate";
import { Checkpointer } from "./db/checkpointer";
import { lockDataDir } from "./db/lock";
import { startScheduler } from "./scheduler";
import { HeartbeatScheduler } from "./scheduler/heartbeats";
import { setEnrichmentWake, setOutbox } from "./ingest/hooks";
import { ENRICHMENT_QUEUE, EnrichmentRunner } from "./jobs/handlers/enrichment";
import { DELIVER_KIND, WEBHOOK_QUEUE, WebhookDispatcher } from "./jobs/handlers/webhooks";
import { pgEnrichmentStats } from "./store/pg/alerting";
import { Worker } from "./jobs/worker";
import { parseAllowList } from "./core/netrange";
import { Metrics } from "./metrics";
import type { Deps } from "./deps";
import { Authenticator } from "./http/auth";
import { GroupWriter } from "./ingest/writer";
import { createLogger, type Logger } from "./lib/log";
import { pgGroupCommit, pgStore, sqliteStore } from "./store/index";
import { openPg } from "./db/pg-client";
import { migratePg } from "./db/pg-migrate";
import type { PgConn, Store } from "./store/contract";
import { setPgOutbox } from "./store/pg/hooks";
import { startPgWake } from "./store/pg/wake";
import { ReplicaRegistry } from "./scheduler/replicas";
import pkg from "../package.json";

export type Running = { deps: Deps; server: Server<unknown>; stop: () => Promise<void>; url: string };

/**
 * Start-up: every webhook has its lane, and jobs whose lease cannot be held any more are available
 * again: on SQLite (the data-directory lock held) every running job, at once rather than after
 * its lease; on PostgreSQL those whose lease ran out by the database clock (see the queue contract).
 */
export async function reclaim(store: Store, now: number, log: Logger): Promise<void> {
  const lanes = await store.webhooks.ensureWebhookLanes(now);
  const jobs = (await store.queue.reclaim()).length;
  if (jobs || lanes) log.info("reclaimed at start", { jobs_released: jobs, lanes_created: lanes });
}

/**
 * PostgreSQL mode: the webhooks' outbox for the commits of this process (the twin of setOutbox
 * below): what a unit of work emits is written through the store bound to its transaction.
 */
export function registerPgOutbox(webhooks: WebhookDispatcher, pool?: PgConn): void {
  const bound = new WeakMap<PgConn, Store>();
  const storeOf = (tx: PgConn): Store => {
    let s = bound.get(tx);
    if (!s) bound.set(tx, (s = pgStore(tx)));
    return s;
  };
  setPgOutbox(webhooks.pgOutbox(storeOf, pool));
}

/** PostgreSQL: how long the delivery worker gathers outcomes and wake-ups before one commit/claim (SQLite: 20 ms) */
export const PG_DELIVERY_BATCH_MS = 5;
/**
 * PostgreSQL: how long a wake-up of the delivery worker waits before its claim. Shorter than the
 * outcomes' gathering: a wake-up is a commit of this process (its group commits come one at a
 * time, so there is little to coalesce), and every ms here is lag of a delivery.
 */
export const PG_DELIVERY_WAKE_MS = 1;

type BuildOptions = { log?: Logger; clock?: () => number };

/**
 * What differs between the two stores when Deps are assembled: the stores of the three roles, the
 * ingest writer, the SQLite group (absent on PostgreSQL: Deps.sqlite) and the pool (absent on SQLite).
 */
type StoreParts = Pick<Deps, "writer" | "store" | "bgStore" | "jobsStore" | "sqlite" | "pg">;

/** SQLite mode: the data-directory lock, three connections, migrations, the writer and checkpointer threads. */
export function buildDeps(config: Config, opts: BuildOptions = {}): Deps {
  const log = opts.log ?? createLogger(config.logLevel);
  const dataDirLock = lockDataDir(config.dataDir); // one server per data directory
  const clock = opts.clock ?? Date.now;
  const db = openDatabase(dbFile(config.dataDir), {
    busyTimeoutMs: config.busyTimeout,
    durability: config.durability,
    autoCheckpoint: false, // the checkpointer thread does it
  });
  migrate(db);
  // background writes on this thread never wait for the lock (see SqliteParts.bgDb)
  const bgDb = openDatabase(dbFile(config.dataDir), { busyTimeoutMs: 0, durability: config.durability, autoCheckpoint: false });
  // job bookkeeping: does not wait for the lock, and is not fsynced on its own (see SqliteParts.jobsDb)
  const jobsDb = openDatabase(dbFile(config.dataDir), { busyTimeoutMs: 0, durability: "normal", autoCheckpoint: false });
  const writer = new GroupWriter(
    { file: dbFile(config.dataDir), busyTimeoutMs: config.busyTimeout, durability: config.durability, maxItems: config.maxItems },
    log,
  );
  const checkpointer = new Checkpointer(dbFile(config.dataDir), 200, config.busyTimeout);
  const store = sqliteStore(db, clock);
  const bgStore = sqliteStore(bgDb, clock);
  const jobsStore = sqliteStore(jobsDb, clock);
  const sqlite = { db, bgDb, jobsDb, writer, checkpointer, dataDirLock };
  return assemble(config, log, clock, { writer, store, bgStore, jobsStore, sqlite });
}

/**
 * PostgreSQL mode (--database-url): one pool of --db-pool connections shared by every role, the
 * schema brought up to date (several processes starting at once: one migrates, the others wait),
 * nothing on local disk: no data-directory lock, no SQLite file, no writer or checkpointer thread.
 */
export async function buildPgDeps(config: Config, opts: BuildOptions = {}): Promise<Deps> {
  const log = opts.log ?? createLogger(config.logLevel);
  const clock = opts.clock ?? Date.now;
  const pool = openPg(config.databaseUrl, { pool: config.dbPool }).$client as unknown as PgConn;
  try {
    // several replicas starting at once: one applies the migrations (and says so), the others wait
    const applied = await migratePg(pool);
    if (applied) log.info("database schema migrated", { migrations: applied });
  } catch (e) {
    await pool.end({ timeout: 5 });
    throw e;
  }
  const store = pgStore(pool, clock); // the caches' change counters are re-read on this clock (CHECK_MS)
  // outbound messages and enrichment jobs the group commits enqueued (counted once committed): the
  // workers are woken when these moved, not after every group (each wake-up costs them a query)
  let webhooksOf: (() => WebhookDispatcher) | null = null;
  const enqueued = () => (webhooksOf?.().stats.messages ?? 0) + pgEnrichmentStats.enqueued;
  const deps = assemble(config, log, clock, {
    // the ingest writer on this thread: a PostgreSQL commit is async I/O (src/ingest/writer-inline.ts)
    writer: new GroupWriter(
      { kind: "inline", maxItems: config.maxItems, mappings: (t, s) => store.indicators.mappingsForSource(t, s), commit: pgGroupCommit(pool), enqueued },
      log,
    ),
    store,
    bgStore: store,
    jobsStore: store,
    pg: pool,
  });
  webhooksOf = () => deps.webhooks;
  registerPgOutbox(deps.webhooks, pool);
  if (config.dbWake === "notify") wakeAcrossReplicas(deps, pool, log);
  return deps;
}

/**
 * --db-wake notify: after a commit of this process that enqueued jobs, the other replicas' workers
 * are woken through LISTEN/NOTIFY (src/store/pg/wake.ts) when this process's worker for them has
 * no free slot (or is stopping); a notification from another replica wakes this one's. A hint on
 * top of polling, never needed for correctness.
 */
function wakeAcrossReplicas(deps: Deps, pool: PgConn, log: Logger): void {
  let warned = false;
  const wake = startPgWake(
    pool,
    deps.replicas.info.id,
    () => {
      deps.worker.notify();
      deps.enrichmentWorker.notify();
    },
    (e) => {
      // once per process: while the database is away every send fails, and polling goes on
      if (!warned) log.warn("wake-up notification failed (workers keep polling)", { error: String(e) });
      warned = true;
    },
  );
  const local = deps.webhooks.wake;
  deps.webhooks.wake = () => {
    local();
    if (deps.worker.saturated) wake.announce();
  };
  setEnrichmentWake(() => {
    deps.enrichmentWorker.notify();
    if (deps.enrichmentWorker.saturated) wake.announce();
  });
  const onCommit = deps.writer.onCommit;
  deps.writer.onCommit = (requests, events, enqueued) => {
    onCommit?.(requests, events, enqueued);
    if (enqueued > 0 && (deps.worker.saturated || deps.enrichmentWorker.saturated)) wake.announce();
  };
  deps.pgWake = wake;
}

/** Deps for the config: PostgreSQL with --database-url, else SQLite in --data-dir. */
export async function buildDepsFor(config: Config, opts: BuildOptions = {}): Promise<Deps> {
  return config.databaseUrl ? await buildPgDeps(config, opts) : buildDeps(config, opts);
}

/** The components every keepwatch has, on whichever store `parts` brings. */
function assemble(config: Config, log: Logger, clock: () => number, parts: StoreParts): Deps {
  const { writer, store, bgStore, jobsStore } = parts;
  const replicas = new ReplicaRegistry(store, clock, log, pkg.version);
  const auth = new Authenticator(store, {
    // the cluster's limits: each replica takes its share (see docs/operations.md)
    share: () => replicas.alive,
    defaultRate: config.rateLimit,
    defaultBurst: config.rateBurst,
    limits: config,
    clock,
    sourceSecrets: config.sourceSecrets,
  });
  const heartbeats = new HeartbeatScheduler(bgStore, clock, log, () => replicas.downtimes());
  const metrics = new Metrics(store, [WEBHOOK_QUEUE, ENRICHMENT_QUEUE], replicas.info.id, clock);
  // each refresh of this replica's row publishes its counters (GET /v1/replicas, the admin overview)
  replicas.stats = () => metrics.totals();
  const leaseMs = config.jobLease * 1000;
  const webhooks = new WebhookDispatcher(store, {
    allow: parseAllowList(config.outboundAllow),
    leaseMs,
    autoDisableAfter: config.webhookAutoDisable,
    clock,
    log,
    onAttempt: (outcome, seconds) => {
      metrics.deliveryAttempts.inc({ outcome });
      metrics.deliveryDuration.observe({ outcome }, seconds);
    },
  });
  // The transactional outbox: messages are enqueued by the commit hooks, in the transaction of
  // what caused them; on this thread (API changes, heartbeat flips) through `webhooks`, on the
  // writer thread through its own outbox (writer-thread.ts).
  setOutbox(webhooks);
  const worker = new Worker(jobsStore.queue, {
    queue: WEBHOOK_QUEUE,
    handlers: webhooks.handlers(),
    // a delivery's attempt is counted and on record from its claim on
    startAttempt: DELIVER_KIND,
    concurrency: config.webhookConcurrency,
    // a webhook's lane holds at most this many of the slots (a slow receiver cannot take them all)
    laneMaxInflight: config.webhookMaxInflight,
    leaseMs,
    // outcomes finishing within 20 ms share a commit (and the next claim): fewer commits competing
    // with the ingest writer for the lock and the WAL. PostgreSQL: 5 ms — commits of several
    // connections do not queue behind one writer lock there, and every ms a finished delivery
    // waits for its settle keeps its slot of the webhook's cluster-wide in-flight cap (and the
    // wake-up of a claim waits as long): the lag at 500 events/s with 3 replicas (issue 12)
    batchMs: jobsStore.queue.kind === "postgres" ? PG_DELIVERY_BATCH_MS : 20,
    wakeMs: jobsStore.queue.kind === "postgres" ? PG_DELIVERY_WAKE_MS : undefined,
    clock,
    // the claims name this replica (jobs.lease_owner): what each replica is doing, in /v1/replicas
    owner: replicas.info.id,
    log,
  });
  webhooks.wake = () => worker.notify();
  // Alert enrichment: its own queue and worker, so lookups never take delivery slots (or the reverse).
  const enrichment = new EnrichmentRunner(store, {
    allow: parseAllowList(config.outboundAllow),
    policy: { maxAttempts: config.enrichAttempts, initialMs: config.enrichBackoff * 1000, maxMs: 600_000, jitter: 0.2 },
    leaseMs,
    log,
  });
  const enrichmentWorker = new Worker(jobsStore.queue, { queue: ENRICHMENT_QUEUE, handlers: enrichment.handlers(), concurrency: 8, leaseMs, batchMs: 4, clock, owner: replicas.info.id, log });
  setEnrichmentWake(() => enrichmentWorker.notify());
  writer.onCommit = (requests, events, enqueued) => {
    metrics.groupCommitRequests.observe(requests);
    metrics.eventsStored.inc(events);
    // the group commit enqueued deliveries or enrichments: the workers look at the table
    if (enqueued > 0) {
      worker.notify();
      enrichmentWorker.notify();
    }
  };
  return { ...parts, config, clock, log, auth, heartbeats, replicas, metrics, webhooks, worker, enrichment, enrichmentWorker };
}

export async function startServer(deps: Deps): Promise<Running> {
  // Before any worker claims: on SQLite the data-directory lock (taken by buildDeps) proves no other
  // process holds a lease, so what the previous one left running is taken back at once.
  await reclaim(deps.store, deps.clock(), deps.log);
  // the SQLite threads (PostgreSQL mode has none)
  await Promise.all([deps.writer.start(), deps.sqlite?.checkpointer.start()]);
  const state: AppState = { draining: false };
  const app = createApp(deps, state);
  // Elysia's listen compiles the static routes into Bun.serve's router.
  app.listen({
    port: deps.config.port,
    hostname: deps.config.host,
    // No cap of Bun's own: its 413 has an empty body. Every route that reads a body reads it
    // through readBody (src/ingest/body.ts: the limit by Content-Length, or counted as it streams,
    // and a deadline), and an answer that leaves a body unread closes the connection
    // (src/http/headers.ts), so no body is ever buffered past --body-limit.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
  });
  const server = app.server!;
  // Registered before anything sweeps or claims: the downtime this start ends (if no other replica
  // was alive) is on record for every replica's heartbeat sweeps.
  await deps.replicas.start(`${deps.config.host}:${server.port}`);
  deps.worker.start();
  deps.enrichmentWorker.start();
  const scheduler = startScheduler(deps);
  await deps.heartbeats.afterStart();
  deps.heartbeats.start();
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      state.draining = true;
      scheduler.stop();
      deps.heartbeats.stop();
      // Stop accepting; let in-flight requests finish and running deliveries end (both bounded;
      // deliveries not started stay queued for the next start), then commit what requests queued.
      const inflight = server.stop(false);
      await Promise.all([Promise.race([inflight, Bun.sleep(deps.config.shutdownTimeout)]), deps.worker.stop(deps.config.shutdownTimeout), deps.enrichmentWorker.stop(deps.config.shutdownTimeout)]);
      // the writer commits what requests queued (on PostgreSQL through the pool, closed last)
      await deps.writer.close();
      await deps.auth.flushLastUsed();
      await deps.replicas.stop();
      const sqlite = deps.sqlite;
      if (sqlite) {
        await sqlite.checkpointer.close();
        sqlite.dataDirLock.release();
        sqlite.bgDb.$client.close();
        sqlite.jobsDb.$client.close();
        sqlite.db.$client.close();
      }
      // PostgreSQL: the pool last, once every write above has had its answer
      await deps.pgWake?.stop();
      if (deps.pg) await deps.pg.end({ timeout: 5 });
    })());
  return { deps, server, stop, url: `http://${deps.config.host === "0.0.0.0" ? "127.0.0.1" : deps.config.host}:${server.port}` };
}
