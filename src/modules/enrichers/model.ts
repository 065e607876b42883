// Shapes of the HTTP lookup enrichers API (typebox via Elysia's `t`).
import { t, type Static } from "elysia";
import { Enum } from "../../http/schema";
import { INDICATOR_TYPES } from "../../core/indicators";

const fields = {
  name: t.String({ minLength: 1, maxLength: 200 }),
  indicator_types: t.Array(Enum([...INDICATOR_TYPES], { error: `indicator types are ${INDICATOR_TYPES.join(", ")}` }), {
    minItems: 1,
    maxItems: INDICATOR_TYPES.length,
    uniqueItems: true,
  }),
  url_template: t.String({ minLength: 1, maxLength: 2048, description: "GET URL with {{value}} (URL-encoded) and optionally {{type}}, e.g. https://intel.example/ip/{{value}}" }),
  headers: t.Record(t.String(), t.String({ maxLength: 8192 }), { description: "sent with every lookup (API keys...)" }),
  timeout: t.Number({ minimum: 0.1, maximum: 30, description: "seconds per lookup (default 5)" }),
  active: t.Boolean(),
};

export const EnricherCreate = t.Object(
  {
    name: fields.name,
    indicator_types: fields.indicator_types,
    url_template: fields.url_template,
    headers: t.Optional(fields.headers),
    timeout: t.Optional(fields.timeout),
    active: t.Optional(fields.active),
  },
  { additionalProperties: false },
);
export type EnricherCreate = Static<typeof EnricherCreate>;

export const EnricherUpdate = t.Partial(EnricherCreate, { additionalProperties: false });
export type EnricherUpdate = Static<typeof EnricherUpdate>;

export const Enricher = t.Object({
  id: t.String(),
  name: t.String(),
  indicator_types: t.Array(t.String()),
  url_template: t.String(),
  headers: t.Record(t.String(), t.String()),
  timeout: t.Number(),
  active: t.Boolean(),
  created_at: t.String(),
  updated_at: t.String(),
});
export const EnricherList = t.Object({ items: t.Array(Enricher) });

export const EnrichRequested = t.Object({ id: t.String(), enrichment_status: t.Literal("pending") });
