// The database schema (drizzle). drizzle-kit generates migrations/ from this file:
// `make migrations` after a change, never edit an applied migration.
// Times are integer milliseconds since the epoch; JSON columns are text written by the store.
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const tenants = sqliteTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  createdAt: integer("created_at").notNull(),
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
    lastError: text("last_error"),
    idempotencyKey: text("idempotency_key"),
    createdAt: integer("created_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (t) => [
    index("jobs_claim").on(t.queue, t.state, t.runAt, t.id),
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
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("webhooks_tenant").on(t.tenantId, t.id)],
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
    requestBody: text("request_body").notNull(),
    responseStatus: integer("response_status"),
    /** JSON object */
    responseHeaders: text("response_headers"),
    responseBody: text("response_body"),
    error: text("error"),
    /** succeeded | failed */
    outcome: text("outcome").notNull(),
  },
  (t) => [index("delivery_attempts_delivery").on(t.deliveryId, t.id), index("delivery_attempts_started").on(t.startedAt)],
);
