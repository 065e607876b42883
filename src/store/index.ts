// Builds a Store (src/store/contract.ts) on either database. Each domain appears in both
// builders under the same name; the compiler holds the PostgreSQL twins to the SQLite signatures.
import type postgres from "postgres";
import type { Db } from "../db/client";
import { CounterGuardedMap } from "./config-versions";
import { SourceSettingsCache } from "./source-settings";
import { pgKeysFns } from "./pg/keys";
import { pgTenantsFns } from "./pg/tenants";
import { pgSessionsFns } from "./pg/sessions";
import { pgSourceSettingsFns, PgSourceSettingsCache } from "./pg/source-settings";
import { pgConfigVersionsFns, PgCounterGuardedMap, setVersionClock } from "./pg/config-versions";
import { pgWatchlistsFns } from "./pg/watchlists";
import { pgEnrichmentLookupsFns } from "./pg/enrichment-lookups";
import { bindPg, bindSqlite, NOT_PORTED, notPorted, type GuardedMap, type Store } from "./contract";
import { keysFns, type KeysStore } from "./keys";
import { tenantsFns, type TenantsStore } from "./tenants";
import { sessionsFns, type SessionsStore } from "./sessions";
import { sourceSettingsFns, type SourceSettingsStore } from "./source-settings";
import { configVersionsFns, type ConfigVersionsStore } from "./config-versions";
import { watchlistsFns, type WatchlistsStore } from "./watchlists";
import { enrichmentLookupsFns, type EnrichmentLookupsStore } from "./enrichment-lookups";
import { eventsFns, type IngestBatch } from "./events";
import type { CommitResult } from "../ingest/commit";
import { searchFns } from "./search";
import { indicatorsFns } from "./indicators";
import { sourceActivityFns } from "./source-activity";
import { pgCommitGroup, pgEventsFns } from "./pg/events";
import { pgSearchFns } from "./pg/search";
import { pgIndicatorsFns } from "./pg/indicators";
import { pgSourceActivityFns } from "./pg/source-activity";
import { jobsFns, type JobsStore } from "./jobs";
import { webhooksFns, type WebhooksStore } from "./webhooks";
import { deliveriesFns, type DeliveriesStore } from "./deliveries";
import { alertsFns } from "./alerts";
import { rulesFns } from "./rules";
import { heartbeatsFns } from "./heartbeats";
import { heartbeatTransitionsFns } from "./heartbeat-transitions";
import { enrichmentFns } from "./enrichment";
import { overviewFns, type OverviewStore } from "./overview";
import { retentionFns, type RetentionStore } from "./retention";
import { healthFns, type HealthStore } from "./health";
import { backupFns, type BackupStore } from "./backup";
import { pgQueue } from "./queue-pg";
import { pgAlertsFns } from "./pg/alerts";
import { pgRulesFns } from "./pg/rules";
import { pgHeartbeatsFns } from "./pg/heartbeats";
import { pgHeartbeatTransitionsFns } from "./pg/heartbeat-transitions";
import { pgEnrichmentFns } from "./pg/enrichment";
import { sqliteQueue } from "./queue-sqlite";
import { pgOverviewFns } from "./pg/overview";
import { pgRetentionFns } from "./pg/retention";
import { pgHealthFns } from "./pg/health";
import { pgBackupFns } from "./pg/backup";
import { pgJobsFns } from "./pg/jobs";
import { pgWebhooksFns } from "./pg/webhooks";
import { pgDeliveriesFns } from "./pg/deliveries";
import { leasesFns } from "./leases";
import { pgLeasesFns } from "./pg/leases";
import { replicasFns } from "./replicas";
import { pgReplicasFns } from "./pg/replicas";

/** The SQLite store on one connection (the server opens one per role: API, background, jobs). */
export function sqliteStore(db: Db, clock: () => number = Date.now): Store {
  return {
    kind: "sqlite",
    queue: sqliteQueue(db, clock),
    async ping() {
      db.$client.query("SELECT 1").get();
    },
    guardedMap<V>(counter: string, max?: number): GuardedMap<V> {
      const m = new CounterGuardedMap<V>(counter, 2, max);
      return { get: async (k) => m.get(db, k), set: (k, v) => m.set(k, v), delete: (k) => m.delete(k) };
    },
    sourceSettingsCache(c = clock) {
      const cache = new SourceSettingsCache(db, c);
      return { get: async (t, s) => cache.get(t, s), invalidate: () => cache.invalidate() };
    },
    // -- identity and configuration
    keys: bindSqlite(db, keysFns),
    tenants: bindSqlite(db, tenantsFns),
    sessions: bindSqlite(db, sessionsFns),
    sourceSettings: bindSqlite(db, sourceSettingsFns),
    configVersions: bindSqlite(db, configVersionsFns),
    watchlists: bindSqlite(db, watchlistsFns),
    enrichmentLookups: bindSqlite(db, enrichmentLookupsFns),
    // -- ingest and events
    events: bindSqlite(db, eventsFns),
    search: bindSqlite(db, searchFns),
    indicators: bindSqlite(db, indicatorsFns),
    sourceActivity: bindSqlite(db, sourceActivityFns),
    // -- outbound
    jobs: bindSqlite(db, jobsFns),
    webhooks: bindSqlite(db, webhooksFns),
    deliveries: bindSqlite(db, deliveriesFns),
    // -- alerting
    alerts: bindSqlite(db, alertsFns),
    rules: bindSqlite(db, rulesFns),
    heartbeats: bindSqlite(db, heartbeatsFns),
    heartbeatTransitions: bindSqlite(db, heartbeatTransitionsFns),
    enrichment: bindSqlite(db, enrichmentFns),
    // -- operations
    overview: bindSqlite(db, overviewFns),
    retention: bindSqlite(db, retentionFns),
    health: bindSqlite(db, healthFns),
    backup: bindSqlite(db, backupFns),
    leases: bindSqlite(db, leasesFns),
    replicas: bindSqlite(db, replicasFns),
  };
}

/**
 * The PostgreSQL store on a pool (every role shares it). `clock`: the process's clock, which the
 * change-counter snapshot of this database ages on (CHECK_MS, src/store/pg/config-versions.ts);
 * without it the database keeps the clock it has (Date.now unless set), so a store bound to a
 * transaction does not change it.
 */
export function pgStore(sql: postgres.Sql<{}>, clock?: () => number): Store {
  if (clock) setVersionClock(sql, clock);
  return {
    kind: "postgres",
    queue: pgQueue(sql),
    async ping() {
      await sql`SELECT 1`;
    },
    guardedMap<V>(counter: string, max?: number): GuardedMap<V> {
      return new PgCounterGuardedMap<V>(sql, counter, max);
    },
    sourceSettingsCache() {
      return new PgSourceSettingsCache(sql);
    },
    // -- identity and configuration
    keys: bindPg(sql, pgKeysFns),
    tenants: bindPg(sql, pgTenantsFns),
    sessions: bindPg(sql, pgSessionsFns),
    sourceSettings: bindPg(sql, pgSourceSettingsFns),
    configVersions: bindPg(sql, pgConfigVersionsFns),
    watchlists: bindPg(sql, pgWatchlistsFns),
    enrichmentLookups: bindPg(sql, pgEnrichmentLookupsFns),
    // -- ingest and events
    events: bindPg(sql, pgEventsFns),
    search: bindPg(sql, pgSearchFns),
    indicators: bindPg(sql, pgIndicatorsFns),
    sourceActivity: bindPg(sql, pgSourceActivityFns),
    // -- outbound
    jobs: bindPg(sql, pgJobsFns),
    webhooks: bindPg(sql, pgWebhooksFns),
    deliveries: bindPg(sql, pgDeliveriesFns),
    // -- alerting
    alerts: bindPg(sql, pgAlertsFns),
    rules: bindPg(sql, pgRulesFns),
    heartbeats: bindPg(sql, pgHeartbeatsFns),
    heartbeatTransitions: bindPg<typeof heartbeatTransitionsFns>(sql, pgHeartbeatTransitionsFns),
    enrichment: bindPg(sql, pgEnrichmentFns),
    // -- operations
    overview: bindPg(sql, pgOverviewFns),
    retention: bindPg(sql, pgRetentionFns),
    health: bindPg(sql, pgHealthFns),
    backup: bindPg(sql, pgBackupFns),
    leases: bindPg(sql, pgLeasesFns),
    replicas: bindPg(sql, pgReplicasFns),
  };
}

/**
 * The PostgreSQL group commit on a pool, for the ingest writer (GroupWriter's inline mode,
 * src/ingest/writer-inline.ts): one transaction per group, the commit hooks of src/store/pg/hooks.ts.
 */
export function pgGroupCommit(sql: postgres.Sql<{}>): (batches: IngestBatch[], now: number) => Promise<CommitResult[]> {
  return (batches, now) => pgCommitGroup(sql, batches, now);
}

/**
 * The domains of the PostgreSQL store whose twin is not written yet (notPorted): `serve
 * --database-url` refuses to start while this is not empty (src/main.ts), naming them.
 */
export function unportedDomains(): string[] {
  // building a store opens nothing: postgres.js connects on the first query, and none is made here
  const store = pgStore(null as unknown as postgres.Sql<{}>) as unknown as Record<string, unknown>;
  return Object.entries(store)
    .filter(([, v]) => typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[NOT_PORTED] !== undefined)
    .map(([k]) => k);
}
