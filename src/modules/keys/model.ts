// Shapes of the keys API (typebox via Elysia's `t`).
import { t, type Static } from "elysia";
import { SCOPES } from "../../core/keys";

export const KeyCreate = t.Object(
  {
    name: t.String({ minLength: 1, maxLength: 200, error: "name must be 1-200 characters" }),
    scopes: t.Array(t.UnionEnum([...SCOPES]), { minItems: 1, maxItems: 3, uniqueItems: true, error: `scopes must be a list of ${SCOPES.join(", ")}` }),
    sources: t.Optional(t.Nullable(t.Array(t.String({ minLength: 1, maxLength: 256 }), { maxItems: 100, description: "limit the key to these sources (null: every source)" }))),
    expires_in: t.Optional(t.Integer({ minimum: 60, maximum: 10 * 366 * 86400, description: "seconds until the key expires (default: never)", error: "expires_in must be whole seconds, 60 or more" })),
    rate_limit: t.Optional(t.Nullable(t.Number({ minimum: 0, maximum: 100000, description: "requests/s (null: the server default, 0: unlimited; events and bytes scale with it, and the tenant's caps still hold)" }))),
    rate_burst: t.Optional(t.Nullable(t.Integer({ minimum: 1, maximum: 100000 }))),
  },
  { additionalProperties: false },
);
export type KeyCreate = Static<typeof KeyCreate>;

export const KeyUpdate = t.Object(
  {
    name: t.Optional(t.String({ minLength: 1, maxLength: 200, error: "name must be 1-200 characters" })),
    sources: t.Optional(t.Nullable(t.Array(t.String({ minLength: 1, maxLength: 256 }), { maxItems: 100, description: "limit the key to these sources (null or []: every source)" }))),
    rate_limit: t.Optional(t.Nullable(t.Number({ minimum: 0, maximum: 100000, description: "requests/s (null: the server default, 0: unlimited)", error: "rate_limit must be a number from 0 to 100000" }))),
    rate_burst: t.Optional(t.Nullable(t.Integer({ minimum: 1, maximum: 100000, error: "rate_burst must be a whole number from 1 to 100000" }))),
  },
  { additionalProperties: false, description: "changes only the fields it names" },
);
export type KeyUpdate = Static<typeof KeyUpdate>;

export const Key = t.Object({
  id: t.String(),
  name: t.String(),
  prefix: t.String({ description: "kw_<prefix>_…: enough to recognize a key, never enough to use it" }),
  scopes: t.Array(t.String()),
  sources: t.Nullable(t.Array(t.String())),
  state: t.String({ description: "active | rotated (replaced, still valid until expires_at) | expired | revoked" }),
  rate_limit: t.Nullable(t.Number()),
  rate_burst: t.Nullable(t.Number()),
  expires_at: t.Nullable(t.String()),
  revoked_at: t.Nullable(t.String()),
  last_used_at: t.Nullable(t.String()),
  rotated_from: t.Nullable(t.String()),
  created_at: t.String(),
});

export const KeyCreated = t.Composite([Key, t.Object({ key: t.String({ description: "the key itself, shown once here" }) })]);
export const KeyList = t.Object({ items: t.Array(Key) });
export const KeyRotated = t.Composite([KeyCreated, t.Object({ previous: Key })]);
