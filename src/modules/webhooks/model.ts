// Request and response shapes of the webhooks API (typebox via Elysia's `t`).
import { t, type Static } from "elysia";
import { Enum } from "../../http/schema";
import { SEVERITIES } from "../../core/severity";

const Trigger = t.String({ pattern: "^(\\*|[a-z0-9_]+(\\.([a-z0-9_]+|\\*))*)$", maxLength: 100, description: "message type, * wildcards: event.received, alert.*, heartbeat.down" });

export const Filters = t.Object(
  {
    min_severity: t.Optional(Enum([...SEVERITIES], { description: "at least this severity" })),
    sources: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 200 }), { maxItems: 100, description: "the sender's source is one of these" })),
    tags: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 200 }), { maxItems: 100, description: "the message carries at least one of these tags" })),
  },
  { additionalProperties: false },
);

export const Retry = t.Object(
  {
    max_attempts: t.Optional(t.Integer({ minimum: 0, maximum: 1000, description: "attempts in all; 0 = until 2xx" })),
    initial_interval: t.Optional(t.Number({ minimum: 0.01, maximum: 3600, description: "seconds before the first retry (doubles each time)" })),
    max_interval: t.Optional(t.Number({ minimum: 0.01, maximum: 86400, description: "seconds, cap on one delay" })),
  },
  { additionalProperties: false },
);

const Headers = t.Union([t.String({ maxLength: 16384, description: "`Name: value` lines" }), t.Record(t.String(), t.String({ maxLength: 8192 }))]);

const fields = {
  name: t.String({ minLength: 1, maxLength: 200 }),
  url: t.String({ minLength: 1, maxLength: 2048, description: "http(s) URL keepwatch POSTs to" }),
  state: Enum(["active", "inactive"]),
  headers: Headers,
  triggers: t.Array(Trigger, { minItems: 1, maxItems: 50 }),
  filters: Filters,
  mode: Enum(["immediate", "batched"]),
  interval: t.Integer({ minimum: 1, maximum: 86400, description: "batched: seconds between POSTs" }),
  max_batch: t.Integer({ minimum: 1, maximum: 1000, description: "batched: messages per POST at most" }),
  rate_limit: t.Number({ minimum: 0, maximum: 100000, description: "messages/s at most (0 = unlimited)" }),
  timeout: t.Number({ minimum: 0.1, maximum: 60, description: "seconds per request" }),
  retry: Retry,
  ordered: t.Boolean({ description: "attempt messages in the order they were enqueued" }),
  secret: t.String({ description: "whsec_<base64 of ≥ 24 bytes>; generated when left out" }),
  backlog_cap: t.Integer({ minimum: 0, maximum: 100_000_000, description: "messages that may wait at most (0 = no cap)" }),
  backlog_policy: Enum(["drop_oldest", "refuse_newest"], { description: "at the cap: drop the oldest waiting message, or refuse the new one" }),
};

export const WebhookCreate = t.Object(
  {
    url: fields.url,
    name: t.Optional(fields.name),
    state: t.Optional(fields.state),
    headers: t.Optional(fields.headers),
    triggers: t.Optional(fields.triggers),
    filters: t.Optional(fields.filters),
    mode: t.Optional(fields.mode),
    interval: t.Optional(fields.interval),
    max_batch: t.Optional(fields.max_batch),
    rate_limit: t.Optional(fields.rate_limit),
    timeout: t.Optional(fields.timeout),
    retry: t.Optional(fields.retry),
    ordered: t.Optional(fields.ordered),
    secret: t.Optional(fields.secret),
    backlog_cap: t.Optional(fields.backlog_cap),
    backlog_policy: t.Optional(fields.backlog_policy),
  },
  { additionalProperties: false },
);
export type WebhookCreate = Static<typeof WebhookCreate>;

/** PATCH merges `filters` like `retry`: a key it names is set (null removes that filter), the others stay. */
export const FiltersPatch = t.Object(
  {
    min_severity: t.Optional(t.Nullable(Filters.properties.min_severity)),
    sources: t.Optional(t.Nullable(Filters.properties.sources)),
    tags: t.Optional(t.Nullable(Filters.properties.tags)),
  },
  { additionalProperties: false },
);

export const WebhookUpdate = t.Composite([t.Partial(t.Omit(WebhookCreate, ["secret", "filters"])), t.Object({ filters: t.Optional(FiltersPatch) })], {
  additionalProperties: false,
});
export type WebhookUpdate = Static<typeof WebhookUpdate>;

export const Backlog = t.Object(
  {
    count: t.Integer({ description: "messages waiting (pending: queued, backing off or in flight)" }),
    oldest_at: t.Nullable(t.String({ description: "when the oldest waiting message was made" })),
    oldest_age_seconds: t.Number({ description: "its age now (0 when none waits)" }),
    dropped: t.Integer({ description: "messages dropped or refused by the backlog cap, in all" }),
  },
  { description: "what waits for this webhook" },
);

export const Webhook = t.Object({
  id: t.String(),
  name: t.String(),
  url: t.String(),
  state: t.String(),
  disabled_reason: t.Nullable(t.String()),
  disabled_at: t.Nullable(t.String()),
  headers: t.Record(t.String(), t.String(), { description: "values masked (their last four characters); GET /v1/webhooks/:id/headers reveals them; a masked value sent back keeps the stored one" }),
  triggers: t.Array(t.String()),
  filters: t.Object({ min_severity: t.Optional(t.String()), sources: t.Optional(t.Array(t.String())), tags: t.Optional(t.Array(t.String())) }),
  mode: t.String(),
  interval: t.Integer(),
  max_batch: t.Integer(),
  rate_limit: t.Number(),
  timeout: t.Number(),
  retry: t.Object({ max_attempts: t.Integer(), initial_interval: t.Number(), max_interval: t.Number() }),
  ordered: t.Boolean(),
  secret: t.String({ description: "masked; GET /v1/webhooks/:id/secret reveals it" }),
  previous_secret_expires_at: t.Nullable(t.String({ description: "during a rotation: when the old secret stops signing" })),
  consecutive_failures: t.Integer(),
  backlog_cap: t.Integer(),
  backlog_policy: t.String(),
  backlog: Backlog,
  created_at: t.String(),
  updated_at: t.String(),
});

export const LastAttempt = t.Object({
  delivery_id: t.String(),
  attempt: t.Integer(),
  started_at: t.String(),
  outcome: t.String(),
  response_status: t.Nullable(t.Integer()),
  duration_ms: t.Integer(),
  error: t.Nullable(t.String()),
});

/** The detail view adds the latest attempt (GET /v1/deliveries/:id has its request and response). */
export const WebhookDetail = t.Composite([Webhook, t.Object({ last_attempt: t.Nullable(LastAttempt) })]);

export const WebhookCreated = t.Composite([Webhook, t.Object({ secret_value: t.String({ description: "the signing secret, shown once here" }) })]);
export const WebhookList = t.Object({ items: t.Array(Webhook) });
export const RevealedHeaders = t.Object({ headers: t.Record(t.String(), t.String()) });
export const Secret = t.Object({ secret: t.String(), previous_secret: t.Nullable(t.String()), previous_secret_expires_at: t.Nullable(t.String()) });

export const DeliveryStatus = Enum(["held", "pending", "succeeded", "failed", "dropped"]);

// A string with a pattern rather than an enum: Elysia fills an optional enum in a query with its first member.
const StatusParam = t.String({ pattern: "^(held|pending|succeeded|failed|dropped)$", description: "held | pending | succeeded | failed | dropped" });

export const DeliveryQuery = t.Object({
  status: t.Optional(StatusParam),
  cursor: t.Optional(t.String()),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, default: 100 })),
});
export type DeliveryQuery = Static<typeof DeliveryQuery>;

export const Delivery = t.Object({
  id: t.String({ description: "the webhook-id header of every attempt" }),
  webhook_id: t.String(),
  kind: t.String(),
  type: t.String(),
  status: t.String(),
  attempt_count: t.Integer(),
  batch_id: t.Nullable(t.String()),
  last_status_code: t.Nullable(t.Integer()),
  last_error: t.Nullable(t.String()),
  first_attempt_at: t.Nullable(t.String()),
  last_attempt_at: t.Nullable(t.String()),
  last_duration_ms: t.Nullable(t.Integer()),
  timings: t.Array(
    t.Object({ attempt: t.Integer(), started_at: t.String(), duration_ms: t.Integer(), status: t.Nullable(t.Integer()), outcome: t.String() }),
    { description: `the latest 10 attempts, oldest first (GET /v1/deliveries/:id has every one with its request and response)` },
  ),
  created_at: t.String(),
  updated_at: t.String(),
});

const Body = {
  body: t.String({ description: "the first 16 KiB" }),
  size: t.Nullable(t.Integer({ description: "bytes of the whole body (null: unknown)" })),
  truncated: t.Boolean({ description: "body holds only the start of it" }),
};

export const Attempt = t.Object({
  attempt: t.Integer(),
  started_at: t.String(),
  duration_ms: t.Integer(),
  url: t.String(),
  outcome: t.String(),
  request: t.Object({ headers: t.Record(t.String(), t.String(), { description: "custom header values masked" }), ...Body }),
  response: t.Nullable(t.Object({ status: t.Integer(), headers: t.Record(t.String(), t.String()), ...Body })),
  error: t.Nullable(t.String()),
});

export const DeliveryPage = t.Object({ items: t.Array(Delivery), next_cursor: t.Nullable(t.String()) });
export const DeliveryDetail = t.Composite([Delivery, t.Object({ body: t.Unknown(), members: t.Array(t.String()), attempts: t.Array(Attempt) })]);

export const ReplayQuery = t.Object({
  since: t.String({ description: "created at or after (ISO 8601 or epoch)" }),
  status: t.Optional(t.String({ pattern: "^(held|succeeded|failed|dropped)$", description: "failed (default) | succeeded | held | dropped" })),
});
export const ReplayResult = t.Object({ replayed: t.Integer() });
