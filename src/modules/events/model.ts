// Request and response shapes of the events read API (typebox via Elysia's `t`).
import { t, type Static } from "elysia";
import { SEVERITIES } from "../../core/severity";

export const EventQuery = t.Object({
  source_name: t.Optional(t.String({ description: "the route's source plugin (generic, events, ...)" })),
  source: t.Optional(t.String({ description: "the sender's own name" })),
  type: t.Optional(t.String()),
  severity: t.Optional(
    t.Union(
      SEVERITIES.map((s) => t.Literal(s)),
      { description: "at least this severity", error: `severity must be one of ${SEVERITIES.join(", ")}` },
    ),
  ),
  since: t.Optional(t.String({ description: "received at or after (ISO 8601 or epoch)" })),
  until: t.Optional(t.String({ description: "received before (ISO 8601 or epoch)" })),
  q: t.Optional(t.String({ maxLength: 256, description: "full-text search in title, summary and payload: every word must appear (the last one as a prefix)" })),
  cursor: t.Optional(t.String({ description: "next_cursor of the previous page" })),
  after: t.Optional(t.String({ description: "the id of the newest event seen: the page of events just newer than it (still newest first)" })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, default: 50, error: "limit must be a whole number from 1 to 500" })),
});
export type EventQuery = Static<typeof EventQuery>;

export const Indicator = t.Object({ type: t.String(), value: t.String(), origin: t.String() });

export const EventSummary = t.Object({
  id: t.String(),
  received_at: t.String(),
  occurred_at: t.String(),
  source_name: t.String(),
  source: t.String(),
  type: t.String(),
  module: t.String(),
  title: t.String(),
  summary: t.String(),
  severity: t.String(),
  severity_raw: t.Nullable(t.String()),
  host: t.Nullable(t.String()),
  tags: t.Array(t.String()),
  dedup_key: t.Nullable(t.String()),
  warnings: t.Array(t.String()),
});

export const EventDetail = t.Composite([
  EventSummary,
  t.Object({ payload: t.Unknown(), raw_payload: t.Unknown(), indicators: t.Array(Indicator) }),
]);

export const EventPage = t.Object({ items: t.Array(EventSummary), next_cursor: t.Nullable(t.String()) });
