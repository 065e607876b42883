// Shapes of the rules API (typebox via Elysia's `t`).
import { t } from "elysia";
import { Action, Threshold } from "../../core/rules";

export const RuleBody = t.Object(
  {
    name: t.String({ minLength: 1, maxLength: 200, error: "name must be 1-200 characters" }),
    enabled: t.Optional(t.Boolean()),
    filter: t.Unknown({ description: "which events the rule looks at (the filter language)" }),
    threshold: t.Optional(t.Nullable(Threshold)),
    action: Action,
  },
  { additionalProperties: false },
);

export const RulePatch = t.Partial(RuleBody, { additionalProperties: false });

export const RuleView = t.Object({
  id: t.String(),
  name: t.String(),
  enabled: t.Boolean(),
  filter: t.Unknown(),
  threshold: t.Unknown(),
  action: t.Unknown(),
  created_at: t.String(),
  updated_at: t.String(),
  hits: t.Integer({ description: "stored events the rule matched" }),
  last_hit_at: t.Nullable(t.String({ description: "when the last of them arrived" })),
});

export const SampleEvent = t.Object(
  {
    type: t.String(),
    source: t.String(),
    source_name: t.Optional(t.String()),
    module: t.Optional(t.String()),
    title: t.Optional(t.String()),
    summary: t.Optional(t.String()),
    severity: t.Optional(t.String()),
    host: t.Optional(t.Nullable(t.String())),
    tags: t.Optional(t.Array(t.String())),
    payload: t.Optional(t.Unknown()),
  },
  { additionalProperties: false },
);

export const RuleTest = t.Object(
  {
    rule: RuleBody,
    event: t.Optional(SampleEvent),
    last: t.Optional(t.Integer({ minimum: 1, maximum: 1000, description: "run over the last N stored events" })),
  },
  { additionalProperties: false },
);
