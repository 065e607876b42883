// Shapes of the heartbeats API (typebox via Elysia's `t`).
import { t } from "elysia";
import { HEARTBEAT_STATES } from "../../core/heartbeats";
import { SEVERITIES } from "../../core/severity";

const Severity = t.Union(
  SEVERITIES.map((s) => t.Literal(s)),
  { error: `severity must be one of ${SEVERITIES.join(", ")}` },
);

const settings = {
  name: t.String({ minLength: 1, maxLength: 200, error: "name must be 1-200 characters" }),
  period: t.Integer({ minimum: 1, maximum: 366 * 86400, description: "seconds between beats", error: "period must be whole seconds, 1 or more" }),
  cron: t.String({ minLength: 1, maxLength: 200, description: "cron expression (5 or 6 fields)" }),
  tz: t.String({ minLength: 1, maxLength: 64, description: "IANA time zone of the cron expression (default UTC)" }),
  grace: t.Integer({ minimum: 0, maximum: 30 * 86400, description: "seconds after the due time before it is down", error: "grace must be whole seconds, 0 or more" }),
  max_runtime: t.Nullable(t.Integer({ minimum: 1, maximum: 30 * 86400, description: "seconds a job may run after /start", error: "max_runtime must be whole seconds, 1 or more" })),
  severity: Severity,
};

export const HeartbeatCreate = t.Object(
  {
    name: settings.name,
    period: t.Optional(settings.period),
    cron: t.Optional(settings.cron),
    tz: t.Optional(settings.tz),
    grace: t.Optional(settings.grace),
    max_runtime: t.Optional(settings.max_runtime),
    severity: t.Optional(settings.severity),
    filter: t.Optional(t.Unknown({ description: "events that count as beats: a filter (see docs/rules.md, The filter language)" })),
  },
  { additionalProperties: false },
);

export const HeartbeatPatch = t.Partial(HeartbeatCreate, { additionalProperties: false });

export const Heartbeat = t.Object({
  id: t.String(),
  name: t.String(),
  state: t.String({ description: HEARTBEAT_STATES.join(" | ") }),
  period: t.Nullable(t.Number()),
  cron: t.Nullable(t.String()),
  tz: t.Nullable(t.String()),
  grace: t.Number(),
  max_runtime: t.Nullable(t.Number()),
  severity: t.String(),
  filter: t.Unknown(),
  ping_url: t.String(),
  last_beat_at: t.Nullable(t.String()),
  last_start_at: t.Nullable(t.String()),
  due_at: t.Nullable(t.String()),
  down_at: t.Nullable(t.String()),
  created_at: t.String(),
  updated_at: t.String(),
});

export const Ping = t.Object({
  id: t.String(),
  at: t.String(),
  kind: t.String(),
  exit_code: t.Nullable(t.Number()),
  method: t.Nullable(t.String()),
  remote: t.Nullable(t.String()),
  body: t.Nullable(t.String()),
  event_id: t.Nullable(t.String()),
});

export const Flip = t.Object({ id: t.String(), at: t.String(), from: t.String(), to: t.String() });
