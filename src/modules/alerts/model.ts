// Shapes of the alerts API (typebox via Elysia's `t`).
import { t } from "elysia";
import { ALERT_STATUSES, CLASSIFICATIONS } from "../../core/alerts";
import { SEVERITIES } from "../../core/severity";

const oneOf = <T extends string>(values: readonly T[], what: string, extra: Record<string, unknown> = {}) =>
  t.Union(
    values.map((v) => t.Literal(v)),
    { error: `${what} must be one of ${values.join(", ")}`, ...extra },
  );

export const AlertQuery = t.Object({
  status: t.Optional(oneOf(ALERT_STATUSES, "status")),
  severity: t.Optional(oneOf(SEVERITIES, "severity", { description: "at least this severity" })),
  source_name: t.Optional(t.String({ description: "the source plugin that raised it" })),
  source: t.Optional(t.String({ description: "the sender's own name" })),
  rule: t.Optional(t.String({ description: "id of the match rule that opened it" })),
  since: t.Optional(t.String({ description: "last seen at or after (ISO 8601 or epoch)" })),
  q: t.Optional(t.String({ maxLength: 256, description: "text in the title, or an exact fingerprint" })),
  cursor: t.Optional(t.String()),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, default: 50, error: "limit must be a whole number from 1 to 500" })),
});

export const AlertPatchBody = t.Object(
  {
    status: t.Optional(oneOf(ALERT_STATUSES, "status")),
    classification: t.Optional(oneOf(CLASSIFICATIONS, "classification")),
    assignee: t.Optional(t.Nullable(t.String({ minLength: 1, maxLength: 256 }))),
  },
  { additionalProperties: false, error: "send any of status, classification, assignee" },
);

export const CommentBody = t.Object({ body: t.String({ minLength: 1, maxLength: 10_000, error: "body must be 1-10000 characters" }) });

export const AlertSummary = t.Object({
  id: t.String(),
  fingerprint: t.String(),
  title: t.String(),
  severity: t.String(),
  status: t.String(),
  classification: t.Nullable(t.String()),
  assignee: t.Nullable(t.String()),
  enrichment_status: t.String({ description: "pending | enriched | failed" }),
  enrichment_error: t.Nullable(t.String({ description: "why enrichment failed, after its retries" })),
  tags: t.Array(t.String()),
  source_name: t.String(),
  source: t.String(),
  rule_id: t.Nullable(t.String()),
  first_seen: t.String(),
  last_seen: t.String(),
  count: t.Number(),
  suppress_until: t.Nullable(t.String()),
  created_at: t.String(),
  updated_at: t.String(),
  closed_at: t.Nullable(t.String()),
});

export const TimelineEntry = t.Object({ id: t.String(), at: t.String(), kind: t.String(), actor: t.String(), data: t.Unknown() });

export const AlertDetail = t.Composite([
  AlertSummary,
  t.Object({
    raw_payload: t.Unknown(),
    events: t.Array(
      t.Object({ id: t.String(), title: t.String(), severity: t.String(), received_at: t.String(), source: t.String(), source_name: t.String(), type: t.String() }),
    ),
    timeline: t.Array(TimelineEntry),
    enrichment: t.Array(
      t.Object({
        type: t.String(),
        value: t.String(),
        results: t.Unknown({ description: "ip_class, watchlists (hits), lookups (HTTP enrichers: status, body, error)" }),
        updated_at: t.String(),
      }),
      { description: "per indicator enrichment results (empty while pending)" },
    ),
  }),
]);

export const AlertPage = t.Object({ items: t.Array(AlertSummary), next_cursor: t.Nullable(t.String()) });
