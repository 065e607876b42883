// Shapes of the indicator mappings API and the indicator pivot (typebox via Elysia's `t`).
import { t, type Static } from "elysia";
import { INDICATOR_TYPES } from "../../core/indicators";

const Type_ = t.Union(
  INDICATOR_TYPES.map((x) => t.Literal(x)),
  { error: `type must be one of ${INDICATOR_TYPES.join(", ")}` },
);

const fields = {
  name: t.Optional(t.Nullable(t.String({ minLength: 1, maxLength: 200, error: "name must be 1-200 characters" }))),
  source: t.Optional(
    t.Nullable(t.String({ minLength: 1, maxLength: 100, description: "a source name; null or absent: every source", error: "source must be a source name or null" })),
  ),
  path: t.String({
    minLength: 1,
    maxLength: 500,
    description: "dot path into the raw payload; `key[]` or `*` for each array element",
    error: "path must be a dot path of 1-500 characters",
  }),
  type: Type_,
  active: t.Optional(t.Boolean({ error: "active must be true or false" })),
};

export const MappingBody = t.Object(fields, { additionalProperties: false });
export const MappingPatch = t.Partial(t.Object(fields), { additionalProperties: false });
export type MappingBody = Static<typeof MappingBody>;
export type MappingPatch = Static<typeof MappingPatch>;

export const MappingView = t.Object({
  id: t.String(),
  name: t.Nullable(t.String()),
  source: t.Nullable(t.String()),
  path: t.String(),
  type: t.String(),
  active: t.Boolean(),
  created_at: t.String(),
  updated_at: t.String(),
});

export const MappingTest = t.Object(
  {
    source: t.String({ minLength: 1, maxLength: 100, error: "source must be a source name" }),
    payload: t.Unknown({ description: "one item as the source would receive it" }),
    mapping: t.Optional(t.Object(fields, { additionalProperties: false, description: "an unsaved mapping to try as well" })),
  },
  { additionalProperties: false },
);
export type MappingTest = Static<typeof MappingTest>;

export const PivotQuery = t.Object({
  cursor: t.Optional(t.String({ description: "next_cursor of the previous page" })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, default: 50, error: "limit must be a whole number from 1 to 500" })),
});
export type PivotQuery = Static<typeof PivotQuery>;
