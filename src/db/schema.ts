// The database schema (drizzle). drizzle-kit generates migrations/ from this file:
// `make migrations` after a change, never edit an applied migration.
// Times are integer milliseconds since the epoch; JSON columns are text written by the store.
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const tenants = sqliteTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  createdAt: integer("created_at").notNull(),
  /**
   * The operator's caps on the whole tenant (all its keys and URL tokens together), set with
   * `keepwatch tenants limits`: JSON {"rate"?, "events"?, "bytes"?} per second (0 = no cap);
   * null or a missing figure = the server's --tenant-* setting. Not changeable through the API.
   */
  limits: text("limits"),
});

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    hash: text("hash").notNull(),
    /** JSON array of scopes: ingest, read, admin */
    scopes: text("scopes").notNull(),
    /** JSON array of source names, or null for every source */
    sources: text("sources"),
    /** requests/s for this key; null = the server default, 0 = unlimited */
    rateLimit: real("rate_limit"),
    /** bucket size; null = the server default */
    rateBurst: integer("rate_burst"),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
    lastUsedAt: integer("last_used_at"),
    /** the key this one replaced (rotation) */
    rotatedFrom: text("rotated_from"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("api_keys_prefix").on(t.prefix), index("api_keys_tenant").on(t.tenantId)],
);

export const events = sqliteTable(
  "events",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    receivedAt: integer("received_at").notNull(),
    occurredAt: integer("occurred_at").notNull(),
    /** the route's source plugin or connector */
    sourceName: text("source_name").notNull(),
    /** the sender's own stable name */
    source: text("source").notNull(),
    type: text("type").notNull(),
    module: text("module").notNull(),
    title: text("title").notNull(),
    summary: text("summary").notNull(),
    severity: text("severity").notNull(),
    severityRank: integer("severity_rank").notNull(),
    severityRaw: text("severity_raw"),
    host: text("host"),
    /** JSON array */
    tags: text("tags").notNull(),
    /** JSON */
    payload: text("payload").notNull(),
    /** JSON, the original item */
    rawPayload: text("raw_payload").notNull(),
    dedupKey: text("dedup_key"),
    /** the sender's own id for the item (idempotency) */
    externalId: text("external_id"),
    /** JSON array of strings, or null */
    warnings: text("warnings"),
  },
  (t) => [
    index("events_tenant_id").on(t.tenantId, t.id),
    index("events_tenant_source_name").on(t.tenantId, t.sourceName, t.id),
    index("events_tenant_source").on(t.tenantId, t.source, t.id),
    index("events_tenant_type").on(t.tenantId, t.type, t.id),
    uniqueIndex("events_external_id")
      .on(t.tenantId, t.sourceName, t.externalId)
      .where(sql`external_id IS NOT NULL`),
  ],
);

export const eventIndicators = sqliteTable(
  "event_indicators",
  {
    eventId: text("event_id")
      .notNull()
      .references(() => events.id, { onDelete: "cascade" }),
    tenantId: text("tenant_id").notNull(),
    type: text("type").notNull(),
    value: text("value").notNull(),
    /** which pass found it: explicit, system, custom */
    origin: text("origin").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.eventId, t.type, t.value] }),
    index("event_indicators_lookup").on(t.tenantId, t.type, t.value),
  ],
);

export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    tenantId: text("tenant_id").notNull(),
    key: text("key").notNull(),
    /** the route the key was used on; the same key on another route is another request */
    route: text("route").notNull(),
    /** JSON array of the event ids the first request stored */
    ids: text("ids").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.route, t.key] }), index("idempotency_created").on(t.createdAt)],
);

export const alerts = sqliteTable(
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
    /** open | triaging | escalated | closed */
    status: text("status").notNull(),
    /** set when closed: true_positive, benign_positive, false_positive, undetermined, duplicate, not_applicable, resolved */
    classification: text("classification"),
    assignee: text("assignee"),
    /** pending | enriched | failed */
    enrichmentStatus: text("enrichment_status").notNull(),
    /** why enrichment failed (after its retries), null otherwise */
    enrichmentError: text("enrichment_error"),
    /** JSON array */
    tags: text("tags").notNull(),
    sourceName: text("source_name").notNull(),
    source: text("source").notNull(),
    /** the match rule that opened it (later), null for alert sources */
    ruleId: text("rule_id"),
    firstSeen: integer("first_seen").notNull(),
    lastSeen: integer("last_seen").notNull(),
    count: integer("count").notNull(),
    suppressUntil: integer("suppress_until"),
    /** the first event's id; its raw payload is the alert's raw payload */
    firstEventId: text("first_event_id").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    closedAt: integer("closed_at"),
  },
  (t) => [
    index("alerts_tenant_id").on(t.tenantId, t.id),
    index("alerts_tenant_status").on(t.tenantId, t.status, t.id),
    index("alerts_fingerprint").on(t.tenantId, t.fingerprint, t.lastSeen),
  ],
);

export const alertEvents = sqliteTable(
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

export const alertTimeline = sqliteTable(
  "alert_timeline",
  {
    id: text("id").primaryKey(),
    alertId: text("alert_id")
      .notNull()
      .references(() => alerts.id, { onDelete: "cascade" }),
    at: integer("at").notNull(),
    /** opened | status | assigned | comment | resolved | reopened */
    kind: text("kind").notNull(),
    /** "key:<id>" for API callers, "system" for keepwatch itself */
    actor: text("actor").notNull(),
    /** JSON */
    data: text("data").notNull(),
  },
  (t) => [index("alert_timeline_alert").on(t.alertId, t.id)],
);

export const heartbeats = sqliteTable(
  "heartbeats",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** secret part of the ping URL /ping/<token> */
    token: text("token").notNull(),
    /** period | cron */
    scheduleKind: text("schedule_kind").notNull(),
    periodS: integer("period_s"),
    cron: text("cron"),
    tz: text("tz"),
    graceS: integer("grace_s").notNull(),
    maxRuntimeS: integer("max_runtime_s"),
    severity: text("severity").notNull(),
    /** JSON filter: events that count as a beat, or null for pings only */
    filter: text("filter"),
    state: text("state").notNull(),
    dueAt: integer("due_at"),
    downAt: integer("down_at"),
    /** when the scheduler must next look at this heartbeat; null when nothing can happen by itself */
    nextDeadline: integer("next_deadline"),
    lastBeatAt: integer("last_beat_at"),
    lastStartAt: integer("last_start_at"),
    /** the alert opened by the current down, closed by the next beat */
    alertId: text("alert_id"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("heartbeats_token").on(t.token),
    index("heartbeats_tenant").on(t.tenantId, t.id),
    index("heartbeats_deadline").on(t.nextDeadline).where(sql`next_deadline IS NOT NULL`),
    index("heartbeats_filtered").on(t.tenantId).where(sql`filter IS NOT NULL`),
  ],
);

export const heartbeatPings = sqliteTable(
  "heartbeat_pings",
  {
    id: text("id").primaryKey(),
    heartbeatId: text("heartbeat_id")
      .notNull()
      .references(() => heartbeats.id, { onDelete: "cascade" }),
    at: integer("at").notNull(),
    /** success | start | fail | log | event */
    kind: text("kind").notNull(),
    exitCode: integer("exit_code"),
    method: text("method"),
    remote: text("remote"),
    /** up to 10 KB of the request body */
    body: text("body"),
    eventId: text("event_id"),
  },
  (t) => [index("heartbeat_pings_hb").on(t.heartbeatId, t.id)],
);

export const heartbeatFlips = sqliteTable(
  "heartbeat_flips",
  {
    id: text("id").primaryKey(),
    heartbeatId: text("heartbeat_id")
      .notNull()
      .references(() => heartbeats.id, { onDelete: "cascade" }),
    /** when it happened: for a down flip, the exact deadline */
    at: integer("at").notNull(),
    fromState: text("from_state").notNull(),
    toState: text("to_state").notNull(),
  },
  (t) => [index("heartbeat_flips_hb").on(t.heartbeatId, t.id)],
);

export const rules = sqliteTable(
  "rules",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull(),
    /** JSON filter */
    filter: text("filter").notNull(),
    /** JSON threshold {count, window, group_by} or null */
    threshold: text("threshold"),
    /** JSON action {kind: alert | suppress | tag, ...} */
    action: text("action").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /** stored events the rule matched (counted in the ingest transaction), and the last one's time */
    hits: integer("hits").notNull().default(0),
    lastHitAt: integer("last_hit_at"),
  },
  (t) => [index("rules_tenant").on(t.tenantId, t.id)],
);

/** Custom indicator mappings (tenant data): a dot path into the raw payload and the type it yields. */
export const indicatorMappings = sqliteTable(
  "indicator_mappings",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name"),
    /** a source name, or null for every source */
    source: text("source"),
    path: text("path").notNull(),
    type: text("type").notNull(),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("indicator_mappings_tenant").on(t.tenantId, t.id)],
);

/** Events that matched a threshold rule, for counting within its window across batches. */
export const ruleHits = sqliteTable(
  "rule_hits",
  {
    ruleId: text("rule_id")
      .notNull()
      .references(() => rules.id, { onDelete: "cascade" }),
    groupKey: text("group_key").notNull(),
    at: integer("at").notNull(),
    eventId: text("event_id").notNull(),
  },
  (t) => [index("rule_hits_window").on(t.ruleId, t.groupKey, t.at)],
);

/** Change counters of settings that other threads cache (bumped on every change). */
export const configVersions = sqliteTable("config_versions", {
  name: text("name").primaryKey(),
  version: integer("version").notNull(),
});

/**
 * The persisted job queue (src/jobs). A job is claimed with a lease and a fencing token; finish and
 * fail are fenced by that token so a worker whose lease ran out cannot overwrite a newer claim.
 */
export const jobs = sqliteTable(
  "jobs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    queue: text("queue").notNull(),
    kind: text("kind").notNull(),
    /** JSON */
    payload: text("payload").notNull(),
    /** available | running | succeeded | failed | dead */
    state: text("state").notNull(),
    /** attempts started so far (a claim increments it) */
    attempt: integer("attempt").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull(),
    runAt: integer("run_at").notNull(),
    leaseUntil: integer("lease_until"),
    leaseToken: text("lease_token"),
    /**
     * the replica holding the lease (its id in the replica registry, src/store/replicas.ts): set by
     * the claim with the token, cleared with it by the settle ("what each replica is doing")
     */
    leaseOwner: text("lease_owner"),
    lastError: text("last_error"),
    idempotencyKey: text("idempotency_key"),
    createdAt: integer("created_at").notNull(),
    finishedAt: integer("finished_at"),
    /**
     * The lane of a job that is claimed through job_lanes (webhook deliveries: the webhook id), or
     * null for a job claimed straight from the queue (enrichment, batch flushes).
     */
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
  ],
);

/** Outbound webhooks. */
export const webhooks = sqliteTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    url: text("url").notNull(),
    /** active | inactive */
    state: text("state").notNull(),
    /** why it went inactive when keepwatch did it (410, too many failures) */
    disabledReason: text("disabled_reason"),
    disabledAt: integer("disabled_at"),
    /** JSON object name → value */
    headers: text("headers").notNull(),
    /** JSON array of type patterns */
    triggers: text("triggers").notNull(),
    /** JSON {min_severity?, sources?, tags?} */
    filters: text("filters").notNull(),
    /** immediate | batched */
    mode: text("mode").notNull(),
    intervalS: integer("interval_s").notNull(),
    maxBatch: integer("max_batch").notNull(),
    /** messages/s, 0 = unlimited */
    rateLimit: real("rate_limit").notNull(),
    timeoutMs: integer("timeout_ms").notNull(),
    /** JSON {max_attempts, initial_interval_s, max_interval_s}; max_attempts 0 = until 2xx */
    retry: text("retry").notNull(),
    ordered: integer("ordered").notNull(),
    secret: text("secret").notNull(),
    previousSecret: text("previous_secret"),
    previousSecretUntil: integer("previous_secret_until"),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    /** messages waiting at most (0 = no cap) */
    backlogCap: integer("backlog_cap").notNull().default(0),
    /** at the cap: drop_oldest | refuse_newest */
    backlogPolicy: text("backlog_policy").notNull().default("drop_oldest"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("webhooks_tenant").on(t.tenantId, t.id)],
);

/**
 * Lanes of the job queue (one per webhook: lane = webhook id). A lane carries what decides when its
 * jobs may run: the rate limit (GCRA: `tat` is the theoretical arrival time of the next send),
 * a hold (the backoff of an ordered lane's head), `ordered` (one at a time, oldest first) and
 * `next_at`, the earliest time a claim needs to look at the lane at all (null: nothing to do).
 * A claim reads only lanes whose next_at has come, then a bounded number of their oldest due jobs,
 * so a lane with a million waiting jobs costs what a lane with ten does. `backlog` counts the
 * webhook's pending messages (kept by the store functions that change a delivery's status).
 */
export const jobLanes = sqliteTable(
  "job_lanes",
  {
    lane: text("lane").primaryKey(),
    queue: text("queue").notNull(),
    nextAt: integer("next_at"),
    /** the lane may send from this time on (rate limit and hold); enqueue wakes it no earlier */
    readyAt: integer("ready_at").notNull().default(0),
    tat: real("tat").notNull().default(0),
    holdUntil: integer("hold_until").notNull().default(0),
    /** sends/s, 0 = unlimited */
    rate: real("rate").notNull().default(0),
    burst: integer("burst").notNull().default(1),
    ordered: integer("ordered").notNull().default(0),
    /** 1 while every in-flight slot of the lane is taken (a finish clears it) */
    full: integer("full").notNull().default(0),
    backlog: integer("backlog").notNull().default(0),
    dropped: integer("dropped").notNull().default(0),
    /** the last webhook.backlog_dropped record: when, and the dropped count it reported */
    dropNotedAt: integer("drop_noted_at"),
    dropNotedCount: integer("drop_noted_count").notNull().default(0),
  },
  (t) => [index("job_lanes_next").on(t.queue, t.nextAt).where(sql`next_at IS NOT NULL`)],
);

/**
 * One message to one webhook (its id is the webhook-id header, stable across retries), or, in
 * batched mode, one batch (kind = batch) whose members point at it with batch_id.
 */
export const deliveries = sqliteTable(
  "deliveries",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    webhookId: text("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    /** message | batch */
    kind: text("kind").notNull(),
    /** the message type (event.received, ...); "batch" for a batch */
    type: text("type").notNull(),
    /** the message body (JSON text); for a batch, empty (built from its members) */
    body: text("body").notNull(),
    /** held | pending | delivering | succeeded | failed */
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    batchId: text("batch_id"),
    jobId: integer("job_id"),
    /** how many times it was replayed (new job idempotency keys) */
    replays: integer("replays").notNull().default(0),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("deliveries_webhook").on(t.webhookId, t.id),
    index("deliveries_webhook_status").on(t.webhookId, t.status, t.id),
    index("deliveries_batch").on(t.batchId),
    index("deliveries_created").on(t.createdAt),
  ],
);

/** Every attempt of a delivery with its request and response (bodies truncated). */
export const deliveryAttempts = sqliteTable(
  "delivery_attempts",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    deliveryId: text("delivery_id")
      .notNull()
      .references(() => deliveries.id, { onDelete: "cascade" }),
    webhookId: text("webhook_id").notNull(),
    attempt: integer("attempt").notNull(),
    startedAt: integer("started_at").notNull(),
    durationMs: integer("duration_ms").notNull(),
    url: text("url").notNull(),
    /** JSON object */
    requestHeaders: text("request_headers").notNull(),
    /** the first 16 KiB of the body sent */
    requestBody: text("request_body").notNull(),
    /** bytes of the whole body sent (null: recorded before sizes were kept) */
    requestBodySize: integer("request_body_size"),
    responseStatus: integer("response_status"),
    /** JSON object */
    responseHeaders: text("response_headers"),
    /** the first 16 KiB of the response body */
    responseBody: text("response_body"),
    /** bytes of the whole response body when known (Content-Length, or read to the end) */
    responseBodySize: integer("response_body_size"),
    /** 1 when the response body was longer than what is kept */
    responseTruncated: integer("response_truncated"),
    error: text("error"),
    /** succeeded | failed */
    outcome: text("outcome").notNull(),
  },
  (t) => [index("delivery_attempts_delivery").on(t.deliveryId, t.id), index("delivery_attempts_started").on(t.startedAt)],
);

/** Per-indicator enrichment results of an alert (written by the enrichment job). */
export const alertEnrichments = sqliteTable(
  "alert_enrichments",
  {
    alertId: text("alert_id")
      .notNull()
      .references(() => alerts.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    value: text("value").notNull(),
    /** JSON {ip_class?, watchlists?, lookups?} */
    results: text("results").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.alertId, t.type, t.value] })],
);

/** Tenant watchlists: a hit tags the alert `watchlist:<label>` and may raise its severity. */
export const watchlists = sqliteTable(
  "watchlists",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    label: text("label").notNull(),
    /** the severity a hit raises the alert to (never lowers), or null */
    severity: text("severity"),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    /** JSON array of {kind, value, comment?}, values canonical */
    entries: text("entries").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("watchlists_tenant_name").on(t.tenantId, t.name)],
);

/** Tenant HTTP lookup enrichers: GET a URL template per indicator, store the answer. */
export const enrichers = sqliteTable(
  "enrichers",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** JSON array of indicator types */
    indicatorTypes: text("indicator_types").notNull(),
    /** https://intel.example/ip/{{value}}; the value is URL-encoded */
    urlTemplate: text("url_template").notNull(),
    /** JSON object name → value */
    headers: text("headers").notNull(),
    timeoutMs: integer("timeout_ms").notNull(),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("enrichers_tenant_name").on(t.tenantId, t.name)],
);

/**
 * Inbound signature settings per tenant and source (src/core/inbound-signatures.ts). A row
 * overrides the `<SOURCE>_WEBHOOK_SECRET` environment default for its tenant; scheme `none` turns
 * verification off for that tenant even when the environment sets a secret.
 */
export const sourceSettings = sqliteTable(
  "source_settings",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    /** the source plugin's name (the route's :source / :connector) */
    source: text("source").notNull(),
    /** none | hmac-sha256-hex | grafana | standard-webhooks | shared-secret */
    scheme: text("scheme").notNull(),
    /** the signing secret, kept whole: verification needs it (masked in every answer) */
    secret: text("secret"),
    /** header carrying the signature (or the shared secret); null = the scheme's default */
    header: text("header"),
    /** grafana: header carrying the Unix timestamp signed with the body; null = body only */
    timestampHeader: text("timestamp_header"),
    /** seconds a signed timestamp may be away from now, either way */
    toleranceS: integer("tolerance_s").notNull().default(300),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.source] })],
);

/**
 * URL tokens (`?token=`) for senders that cannot set headers: each grants ingest to one source of
 * one tenant and nothing else. Like API keys, only the prefix and a SHA-256 of the token are kept.
 */
export const sourceTokens = sqliteTable(
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
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("source_tokens_prefix").on(t.prefix), index("source_tokens_tenant_source").on(t.tenantId, t.source)],
);

/**
 * Admin page sessions. `id` is the SHA-256 of the random cookie value (a stolen database does
 * not hold usable cookies). A session belongs to one tenant and the admin key that logged in:
 * revoking or expiring that key ends the session.
 */
export const adminSessions = sqliteTable(
  "admin_sessions",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    keyId: text("key_id")
      .notNull()
      .references(() => apiKeys.id, { onDelete: "cascade" }),
    /** the token every form of this session carries */
    csrfToken: text("csrf_token").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    /** a one-time message for the next page of this session (a new key or secret after a
     *  post/redirect/get), encrypted with a key derived from the cookie value; cleared when shown */
    flash: text("flash"),
  },
  (t) => [index("admin_sessions_expires").on(t.expiresAt)],
);

/**
 * Leases of periodic housekeeping (retention, idempotency-key expiry, rule-hit pruning): one
 * process runs a job at a time, and a run done recently is not repeated by another (issue 12; on
 * SQLite one process holds the data directory anyway). `lease_until` is when the holder's claim
 * lapses (a holder that died is replaced after it); `done_at` when the last run finished.
 */
export const housekeepingLeases = sqliteTable("housekeeping_leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  leaseUntil: integer("lease_until").notNull(),
  doneAt: integer("done_at"),
});
