// The PostgreSQL schema (drizzle pg-core): the twin of src/db/schema.ts (SQLite), table for table,
// column for column, index for index; test/pg/schema-parity.test.ts fails when the two drift.
// drizzle-kit generates migrations-pg/ from this file (`make migrations-pg NAME=...`); never edit an
// applied migration.
//
// Choices (see docs/operations.md "Running on PostgreSQL"):
// - Times are `bigint` epoch milliseconds (read as JS numbers), not timestamptz: the store code
//   computes with millisecond numbers everywhere, SQLite holds the same integers, so both stores
//   hold identical values, `migrate-to-postgres` copies rows without conversion, and comparisons
//   like `lease_until < now` are plain integer compares on an index. The database clock is read as
//   `(extract(epoch from clock_timestamp()) * 1000)::bigint` (see src/store/pg-jobs.ts).
// - Counters that could outgrow 2^31 (alert count, backlog, dropped, config versions, job ids) are
//   bigint; small settings (seconds, attempts, sizes under the 256 MiB body cap) are integer.
// - `jsonb` where SQL looks inside: rules.threshold (the window is read by the rule-hit pruning),
//   and the tags arrays of events and alerts (arrays keep their order in jsonb; a tag filter can use
//   a GIN index later). Every other JSON column stays `text`, written by the store: jsonb reorders
//   object keys, and the API returns those objects as they were written.
// - `raw_payload` (and every other payload) is `text`: stored and returned byte for byte.
// - Booleans are `boolean`; the partial indexes are the same as SQLite's, plus `jobs_lease`
//   (running jobs by lease expiry: the reclaim scan of a busy queue).
import { sql } from "drizzle-orm";
import {
  bigint,
  customType,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from "drizzle-orm/pg-core";

/** epoch milliseconds (or another integer that can pass 2^31), read as a JS number */
const ms = (name: string) => bigint(name, { mode: "number" });

export const tenants = pgTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  createdAt: ms("created_at").notNull(),
  limits: text("limits"),
});

export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    hash: text("hash").notNull(),
    scopes: text("scopes").notNull(),
    sources: text("sources"),
    rateLimit: doublePrecision("rate_limit"),
    rateBurst: integer("rate_burst"),
    expiresAt: ms("expires_at"),
    revokedAt: ms("revoked_at"),
    lastUsedAt: ms("last_used_at"),
    rotatedFrom: text("rotated_from"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [uniqueIndex("api_keys_prefix").on(t.prefix), index("api_keys_tenant").on(t.tenantId)],
);

/**
 * The full-text index of an event on PostgreSQL (the twin of SQLite's FTS5 table events_fts over
 * title, summary and payload): a tsvector column written by the ingest insert, its words made by
 * keepwatch itself (src/store/pg/fts.ts: unicode61's words, case and accents folded), so PostgreSQL
 * only stores it and adds it to the GIN index. A row inserted without it (a copy by
 * migrate-to-postgres) gets it from a trigger (migrations-pg/0002_events_fts.sql) that
 * approximates the same words in SQL. PostgreSQL only: test/pg/schema-parity.test.ts lists it.
 */
const tsvector = customType<{ data: string; driverData: string }>({ dataType: () => "tsvector" });

export const events = pgTable(
  "events",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    receivedAt: ms("received_at").notNull(),
    occurredAt: ms("occurred_at").notNull(),
    sourceName: text("source_name").notNull(),
    source: text("source").notNull(),
    type: text("type").notNull(),
    module: text("module").notNull(),
    title: text("title").notNull(),
    summary: text("summary").notNull(),
    severity: text("severity").notNull(),
    severityRank: integer("severity_rank").notNull(),
    severityRaw: text("severity_raw"),
    host: text("host"),
    tags: jsonb("tags").$type<string[]>().notNull(),
    payload: text("payload").notNull(),
    /** the original item, byte for byte */
    rawPayload: text("raw_payload").notNull(),
    dedupKey: text("dedup_key"),
    externalId: text("external_id"),
    warnings: text("warnings"),
    fts: tsvector("fts"),
  },
  (t) => [
    index("events_tenant_id").on(t.tenantId, t.id),
    index("events_tenant_source_name").on(t.tenantId, t.sourceName, t.id),
    index("events_tenant_source").on(t.tenantId, t.source, t.id),
    index("events_tenant_type").on(t.tenantId, t.type, t.id),
    uniqueIndex("events_external_id")
      .on(t.tenantId, t.sourceName, t.externalId)
      .where(sql`external_id IS NOT NULL`),
    // full-text search (SQLite's events_fts virtual table): see the fts column
    index("events_fts").using("gin", t.fts),
  ],
);

export const eventIndicators = pgTable(
  "event_indicators",
  {
    eventId: text("event_id")
      .notNull()
      .references(() => events.id, { onDelete: "cascade" }),
    tenantId: text("tenant_id").notNull(),
    type: text("type").notNull(),
    value: text("value").notNull(),
    origin: text("origin").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.eventId, t.type, t.value] }),
    index("event_indicators_lookup").on(t.tenantId, t.type, t.value),
  ],
);

export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    tenantId: text("tenant_id").notNull(),
    key: text("key").notNull(),
    route: text("route").notNull(),
    ids: text("ids").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.route, t.key] }), index("idempotency_created").on(t.createdAt)],
);

export const alerts = pgTable(
  "alerts",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    fingerprint: text("fingerprint").notNull(),
    title: text("title").notNull(),
    severity: text("severity").notNull(),
    severityRank: integer("severity_rank").notNull(),
    status: text("status").notNull(),
    classification: text("classification"),
    assignee: text("assignee"),
    enrichmentStatus: text("enrichment_status").notNull(),
    enrichmentError: text("enrichment_error"),
    tags: jsonb("tags").$type<string[]>().notNull(),
    sourceName: text("source_name").notNull(),
    source: text("source").notNull(),
    ruleId: text("rule_id"),
    firstSeen: ms("first_seen").notNull(),
    lastSeen: ms("last_seen").notNull(),
    count: ms("count").notNull(),
    suppressUntil: ms("suppress_until"),
    firstEventId: text("first_event_id").notNull(),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
    closedAt: ms("closed_at"),
  },
  (t) => [
    index("alerts_tenant_id").on(t.tenantId, t.id),
    index("alerts_tenant_status").on(t.tenantId, t.status, t.id),
    index("alerts_fingerprint").on(t.tenantId, t.fingerprint, t.lastSeen),
  ],
);

export const alertEvents = pgTable(
  "alert_events",
  {
    alertId: text("alert_id")
      .notNull()
      .references(() => alerts.id, { onDelete: "cascade" }),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.alertId, t.eventId] }), index("alert_events_event").on(t.eventId)],
);

export const alertTimeline = pgTable(
  "alert_timeline",
  {
    id: text("id").primaryKey(),
    alertId: text("alert_id")
      .notNull()
      .references(() => alerts.id, { onDelete: "cascade" }),
    at: ms("at").notNull(),
    kind: text("kind").notNull(),
    actor: text("actor").notNull(),
    data: text("data").notNull(),
  },
  (t) => [index("alert_timeline_alert").on(t.alertId, t.id)],
);

export const heartbeats = pgTable(
  "heartbeats",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    token: text("token").notNull(),
    scheduleKind: text("schedule_kind").notNull(),
    periodS: integer("period_s"),
    cron: text("cron"),
    tz: text("tz"),
    graceS: integer("grace_s").notNull(),
    maxRuntimeS: integer("max_runtime_s"),
    severity: text("severity").notNull(),
    filter: text("filter"),
    state: text("state").notNull(),
    dueAt: ms("due_at"),
    downAt: ms("down_at"),
    nextDeadline: ms("next_deadline"),
    lastBeatAt: ms("last_beat_at"),
    lastStartAt: ms("last_start_at"),
    alertId: text("alert_id"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("heartbeats_token").on(t.token),
    index("heartbeats_tenant").on(t.tenantId, t.id),
    index("heartbeats_deadline").on(t.nextDeadline).where(sql`next_deadline IS NOT NULL`),
    index("heartbeats_filtered").on(t.tenantId).where(sql`filter IS NOT NULL`),
  ],
);

export const heartbeatPings = pgTable(
  "heartbeat_pings",
  {
    id: text("id").primaryKey(),
    heartbeatId: text("heartbeat_id")
      .notNull()
      .references(() => heartbeats.id, { onDelete: "cascade" }),
    at: ms("at").notNull(),
    kind: text("kind").notNull(),
    exitCode: integer("exit_code"),
    method: text("method"),
    remote: text("remote"),
    body: text("body"),
    eventId: text("event_id"),
  },
  (t) => [index("heartbeat_pings_hb").on(t.heartbeatId, t.id)],
);

export const heartbeatFlips = pgTable(
  "heartbeat_flips",
  {
    id: text("id").primaryKey(),
    heartbeatId: text("heartbeat_id")
      .notNull()
      .references(() => heartbeats.id, { onDelete: "cascade" }),
    at: ms("at").notNull(),
    fromState: text("from_state").notNull(),
    toState: text("to_state").notNull(),
  },
  (t) => [index("heartbeat_flips_hb").on(t.heartbeatId, t.id)],
);

export const rules = pgTable(
  "rules",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    enabled: boolean("enabled").notNull(),
    filter: text("filter").notNull(),
    /** {count, window, group_by} or null; jsonb: rule-hit pruning reads threshold->'window' */
    threshold: jsonb("threshold"),
    action: text("action").notNull(),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
    /** stored events the rule matched (counted in the ingest transaction), and the last one's time */
    hits: bigint("hits", { mode: "number" }).notNull().default(0),
    lastHitAt: ms("last_hit_at"),
  },
  (t) => [index("rules_tenant").on(t.tenantId, t.id)],
);

export const indicatorMappings = pgTable(
  "indicator_mappings",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name"),
    source: text("source"),
    path: text("path").notNull(),
    type: text("type").notNull(),
    active: boolean("active").notNull().default(true),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [index("indicator_mappings_tenant").on(t.tenantId, t.id)],
);

export const ruleHits = pgTable(
  "rule_hits",
  {
    ruleId: text("rule_id")
      .notNull()
      .references(() => rules.id, { onDelete: "cascade" }),
    groupKey: text("group_key").notNull(),
    at: ms("at").notNull(),
    eventId: text("event_id").notNull(),
  },
  (t) => [index("rule_hits_window").on(t.ruleId, t.groupKey, t.at)],
);

export const configVersions = pgTable("config_versions", {
  name: text("name").primaryKey(),
  version: ms("version").notNull(),
});

/**
 * The persisted job queue. `id` is an identity generated by default (not always), so that
 * migrate-to-postgres can copy SQLite's ids and then move the sequence past them.
 */
export const jobs = pgTable(
  "jobs",
  {
    id: ms("id").primaryKey().generatedByDefaultAsIdentity(),
    queue: text("queue").notNull(),
    kind: text("kind").notNull(),
    payload: text("payload").notNull(),
    state: text("state").notNull(),
    attempt: integer("attempt").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull(),
    runAt: ms("run_at").notNull(),
    leaseUntil: ms("lease_until"),
    leaseToken: text("lease_token"),
    /** the replica holding the lease (replicas.id): set by the claim, cleared by the settle */
    leaseOwner: text("lease_owner"),
    lastError: text("last_error"),
    idempotencyKey: text("idempotency_key"),
    createdAt: ms("created_at").notNull(),
    finishedAt: ms("finished_at"),
    lane: text("lane"),
  },
  (t) => [
    index("jobs_claim")
      .on(t.queue, t.state, t.runAt, t.id)
      .where(sql`lane IS NULL`),
    index("jobs_lane")
      .on(t.lane, t.state, t.runAt, t.id)
      .where(sql`lane IS NOT NULL`),
    uniqueIndex("jobs_idempotency")
      .on(t.queue, t.idempotencyKey)
      .where(sql`idempotency_key IS NOT NULL`),
    index("jobs_finished").on(t.finishedAt),
    // PostgreSQL only: running jobs by lease expiry (reclaim of expired leases)
    index("jobs_lease").on(t.queue, t.leaseUntil).where(sql`state = 'running'`),
  ],
);

export const webhooks = pgTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    url: text("url").notNull(),
    state: text("state").notNull(),
    disabledReason: text("disabled_reason"),
    disabledAt: ms("disabled_at"),
    headers: text("headers").notNull(),
    triggers: text("triggers").notNull(),
    filters: text("filters").notNull(),
    mode: text("mode").notNull(),
    intervalS: integer("interval_s").notNull(),
    maxBatch: integer("max_batch").notNull(),
    rateLimit: doublePrecision("rate_limit").notNull(),
    timeoutMs: integer("timeout_ms").notNull(),
    retry: text("retry").notNull(),
    ordered: integer("ordered").notNull(),
    secret: text("secret").notNull(),
    previousSecret: text("previous_secret"),
    previousSecretUntil: ms("previous_secret_until"),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    backlogCap: ms("backlog_cap").notNull().default(0),
    backlogPolicy: text("backlog_policy").notNull().default("drop_oldest"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [index("webhooks_tenant").on(t.tenantId, t.id)],
);

export const jobLanes = pgTable(
  "job_lanes",
  {
    lane: text("lane").primaryKey(),
    queue: text("queue").notNull(),
    nextAt: ms("next_at"),
    readyAt: ms("ready_at").notNull().default(0),
    tat: doublePrecision("tat").notNull().default(0),
    holdUntil: ms("hold_until").notNull().default(0),
    rate: doublePrecision("rate").notNull().default(0),
    burst: integer("burst").notNull().default(1),
    ordered: integer("ordered").notNull().default(0),
    full: integer("full").notNull().default(0),
    backlog: ms("backlog").notNull().default(0),
    dropped: ms("dropped").notNull().default(0),
    dropNotedAt: ms("drop_noted_at"),
    dropNotedCount: ms("drop_noted_count").notNull().default(0),
  },
  (t) => [index("job_lanes_next").on(t.queue, t.nextAt).where(sql`next_at IS NOT NULL`)],
);

export const deliveries = pgTable(
  "deliveries",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    webhookId: text("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    kind: text("kind").notNull(),
    type: text("type").notNull(),
    body: text("body").notNull(),
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    batchId: text("batch_id"),
    jobId: ms("job_id"),
    replays: integer("replays").notNull().default(0),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [
    index("deliveries_webhook").on(t.webhookId, t.id),
    index("deliveries_webhook_status").on(t.webhookId, t.status, t.id),
    index("deliveries_batch").on(t.batchId),
    index("deliveries_created").on(t.createdAt),
  ],
);

export const deliveryAttempts = pgTable(
  "delivery_attempts",
  {
    id: ms("id").primaryKey().generatedByDefaultAsIdentity(),
    deliveryId: text("delivery_id")
      .notNull()
      .references(() => deliveries.id, { onDelete: "cascade" }),
    webhookId: text("webhook_id").notNull(),
    attempt: integer("attempt").notNull(),
    startedAt: ms("started_at").notNull(),
    durationMs: integer("duration_ms").notNull(),
    url: text("url").notNull(),
    requestHeaders: text("request_headers").notNull(),
    requestBody: text("request_body").notNull(),
    requestBodySize: ms("request_body_size"),
    responseStatus: integer("response_status"),
    responseHeaders: text("response_headers"),
    responseBody: text("response_body"),
    responseBodySize: ms("response_body_size"),
    responseTruncated: integer("response_truncated"),
    error: text("error"),
    outcome: text("outcome").notNull(),
  },
  (t) => [index("delivery_attempts_delivery").on(t.deliveryId, t.id), index("delivery_attempts_started").on(t.startedAt)],
);

export const alertEnrichments = pgTable(
  "alert_enrichments",
  {
    alertId: text("alert_id")
      .notNull()
      .references(() => alerts.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    value: text("value").notNull(),
    results: text("results").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.alertId, t.type, t.value] })],
);

export const watchlists = pgTable(
  "watchlists",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    label: text("label").notNull(),
    severity: text("severity"),
    active: boolean("active").notNull().default(true),
    entries: text("entries").notNull(),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [uniqueIndex("watchlists_tenant_name").on(t.tenantId, t.name)],
);

export const enrichers = pgTable(
  "enrichers",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    indicatorTypes: text("indicator_types").notNull(),
    urlTemplate: text("url_template").notNull(),
    headers: text("headers").notNull(),
    timeoutMs: integer("timeout_ms").notNull(),
    active: boolean("active").notNull().default(true),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [uniqueIndex("enrichers_tenant_name").on(t.tenantId, t.name)],
);

export const sourceSettings = pgTable(
  "source_settings",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    source: text("source").notNull(),
    scheme: text("scheme").notNull(),
    secret: text("secret"),
    header: text("header"),
    timestampHeader: text("timestamp_header"),
    toleranceS: integer("tolerance_s").notNull().default(300),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.source] })],
);

export const sourceTokens = pgTable(
  "source_tokens",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    source: text("source").notNull(),
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    hash: text("hash").notNull(),
    createdAt: ms("created_at").notNull(),
    lastUsedAt: ms("last_used_at"),
    revokedAt: ms("revoked_at"),
  },
  (t) => [uniqueIndex("source_tokens_prefix").on(t.prefix), index("source_tokens_tenant_source").on(t.tenantId, t.source)],
);

export const adminSessions = pgTable(
  "admin_sessions",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    keyId: text("key_id")
      .notNull()
      .references(() => apiKeys.id, { onDelete: "cascade" }),
    csrfToken: text("csrf_token").notNull(),
    createdAt: ms("created_at").notNull(),
    expiresAt: ms("expires_at").notNull(),
    /** a one-time message for the next page of this session, encrypted; cleared when shown */
    flash: text("flash"),
  },
  (t) => [index("admin_sessions_expires").on(t.expiresAt)],
);

/**
 * Leases of periodic housekeeping (retention, idempotency-key expiry, rule-hit pruning): one
 * replica runs a job at a time, and a run done recently is not repeated by another (issue 12).
 * Times are the database clock. A lease row rather than an advisory lock: a run is many short
 * transactions (bounded batches), which a transaction-scoped lock cannot span, and a
 * session-scoped lock does not survive PgBouncer in transaction mode.
 */
export const housekeepingLeases = pgTable("housekeeping_leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  leaseUntil: ms("lease_until").notNull(),
  doneAt: ms("done_at"),
});

/**
 * The replicas of the cluster (PostgreSQL only: on SQLite the one process is the only replica, kept
 * in memory; see src/store/replicas.ts). Each replica inserts its row at start, moves `seen_at`
 * every second (database clock) and marks `stopped_at` on a clean stop; a row not seen for
 * REPLICA_DEAD_MS is dead. `down_since`: the start of the cluster's downtime that this replica's
 * start ended (the newest `seen_at` of any replica then, 0 when none was on record), null when
 * another replica was alive: heartbeat deadlines inside (down_since, started_at] do not count.
 */
export const replicas = pgTable(
  "replicas",
  {
    id: text("id").primaryKey(),
    host: text("host").notNull(),
    pid: integer("pid").notNull(),
    version: text("version").notNull(),
    listen: text("listen").notNull(),
    startedAt: ms("started_at").notNull(),
    seenAt: ms("seen_at").notNull(),
    stoppedAt: ms("stopped_at"),
    downSince: ms("down_since"),
    /**
     * what the replica counted since its start, as JSON (ReplicaStats: requests, events, deliveries),
     * written with each refresh of seen_at (no round trip of its own); null until the first refresh
     */
    stats: text("stats"),
  },
  (t) => [index("replicas_seen").on(t.seenAt)],
);
