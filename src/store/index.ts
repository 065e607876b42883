// Builds a Store (src/store/contract.ts) on either database. Each domain appears in both
// builders under the same name; the compiler holds the PostgreSQL twins to the SQLite signatures.
import type postgres from "postgres";
import type { Db } from "../db/client";
import { bindPg, bindSqlite, notPorted, type Store } from "./contract";
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
import { pgJobsFns } from "./pg/jobs";
import { pgWebhooksFns } from "./pg/webhooks";
import { pgDeliveriesFns } from "./pg/deliveries";

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
    jobs: bindPg(sql, pgJobsFns),
    webhooks: bindPg(sql, pgWebhooksFns),
    deliveries: bindPg(sql, pgDeliveriesFns),
    // -- alerting
    alerts: notPorted<AlertsStore>("alerts"),
    rules: notPorted<RulesStore>("rules"),
    heartbeats: notPorted<HeartbeatsStore>("heartbeats"),
    heartbeatTransitions: notPorted<HeartbeatTransitionsStore>("heartbeatTransitions"),
    enrichment: notPorted<EnrichmentStore>("enrichment"),
    // -- operations
    overview: notPorted<OverviewStore>("overview"),
    retention: notPorted<RetentionStore>("retention"),
    health: notPorted<HealthStore>("health"),
    backup: notPorted<BackupStore>("backup"),
  };
}
