// Builds a Store (src/store/contract.ts) on either database. Each domain appears in both
// builders under the same name; the compiler holds the PostgreSQL twins to the SQLite signatures.
import type postgres from "postgres";
import type { Db } from "../db/client";
import { bindPg, bindSqlite, NOT_PORTED, notPorted, type Store } from "./contract";
import { keysFns, type KeysStore } from "./keys";
import { tenantsFns, type TenantsStore } from "./tenants";
import { sessionsFns, type SessionsStore } from "./sessions";
import { sourceSettingsFns, type SourceSettingsStore } from "./source-settings";
import { configVersionsFns, type ConfigVersionsStore } from "./config-versions";
import { watchlistsFns, type WatchlistsStore } from "./watchlists";
import { enrichmentLookupsFns, type EnrichmentLookupsStore } from "./enrichment-lookups";
import { eventsFns, type EventsStore } from "./events";
import { searchFns, type SearchStore } from "./search";
import { indicatorsFns, type IndicatorsStore } from "./indicators";
import { sourceActivityFns, type SourceActivityStore } from "./source-activity";
import { jobsFns, type JobsStore } from "./jobs";
import { webhooksFns, type WebhooksStore } from "./webhooks";
import { deliveriesFns, type DeliveriesStore } from "./deliveries";
import { alertsFns, type AlertsStore } from "./alerts";
import { rulesFns, type RulesStore } from "./rules";
import { heartbeatsFns, type HeartbeatsStore } from "./heartbeats";
import { heartbeatTransitionsFns, type HeartbeatTransitionsStore } from "./heartbeat-transitions";
import { enrichmentFns, type EnrichmentStore } from "./enrichment";
import { overviewFns, type OverviewStore } from "./overview";
import { retentionFns, type RetentionStore } from "./retention";
import { healthFns, type HealthStore } from "./health";
import { backupFns, type BackupStore } from "./backup";
import { pgQueue } from "./queue-pg";
import { sqliteQueue } from "./queue-sqlite";
import { pgOverviewFns } from "./pg/overview";
import { pgRetentionFns } from "./pg/retention";
import { pgHealthFns } from "./pg/health";
import { pgBackupFns } from "./pg/backup";

/** The SQLite store on one connection (the server opens one per role: API, background, jobs). */
export function sqliteStore(db: Db, clock: () => number = Date.now): Store {
  return {
    kind: "sqlite",
    queue: sqliteQueue(db, clock),
    async ping() {
      db.$client.query("SELECT 1").get();
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
  };
}

/** The PostgreSQL store on a pool (every role shares it). */
export function pgStore(sql: postgres.Sql<{}>): Store {
  return {
    kind: "postgres",
    queue: pgQueue(sql),
    async ping() {
      await sql`SELECT 1`;
    },
    // -- identity and configuration
    keys: notPorted<KeysStore>("keys"),
    tenants: notPorted<TenantsStore>("tenants"),
    sessions: notPorted<SessionsStore>("sessions"),
    sourceSettings: notPorted<SourceSettingsStore>("sourceSettings"),
    configVersions: notPorted<ConfigVersionsStore>("configVersions"),
    watchlists: notPorted<WatchlistsStore>("watchlists"),
    enrichmentLookups: notPorted<EnrichmentLookupsStore>("enrichmentLookups"),
    // -- ingest and events
    events: notPorted<EventsStore>("events"),
    search: notPorted<SearchStore>("search"),
    indicators: notPorted<IndicatorsStore>("indicators"),
    sourceActivity: notPorted<SourceActivityStore>("sourceActivity"),
    // -- outbound
    jobs: notPorted<JobsStore>("jobs"),
    webhooks: notPorted<WebhooksStore>("webhooks"),
    deliveries: notPorted<DeliveriesStore>("deliveries"),
    // -- alerting
    alerts: notPorted<AlertsStore>("alerts"),
    rules: notPorted<RulesStore>("rules"),
    heartbeats: notPorted<HeartbeatsStore>("heartbeats"),
    heartbeatTransitions: notPorted<HeartbeatTransitionsStore>("heartbeatTransitions"),
    enrichment: notPorted<EnrichmentStore>("enrichment"),
    // -- operations
    overview: bindPg(sql, pgOverviewFns),
    retention: bindPg(sql, pgRetentionFns),
    health: bindPg(sql, pgHealthFns),
    backup: bindPg(sql, pgBackupFns),
  };
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
