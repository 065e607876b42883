// Shapes of the source settings and URL token API (typebox via Elysia's `t`).
import { t, type Static } from "elysia";
import { DEFAULT_TOLERANCE_S, HeaderName, SignatureSettingInput } from "../../core/inbound-signatures";

export const SourceName = t.Object({ name: t.String({ minLength: 1, maxLength: 100 }) });
export const TokenParams = t.Object({ name: t.String({ minLength: 1, maxLength: 100 }), id: t.String({ minLength: 1, maxLength: 100 }) });

/**
 * PUT /v1/sources/:name/settings merges: a field left out keeps its stored value (while the scheme
 * stays the same; the secret is kept across a scheme change too), `null` puts it back to the
 * scheme's default.
 */
const input = SignatureSettingInput.properties;
const NAME_CHARS = "1-100 of letters, digits and !#$%&'*+-.^_`|~";
export const SettingsBody = t.Object(
  {
    scheme: input.scheme,
    secret: input.secret,
    header: t.Optional(
      t.Nullable(HeaderName("header carrying the signature or shared secret; null: the scheme's default"), { error: `header must be a header name (${NAME_CHARS}) or null` }),
    ),
    timestamp_header: t.Optional(
      t.Nullable(HeaderName("grafana: header carrying the Unix timestamp that is signed with the body; null: none"), {
        error: `timestamp_header must be a header name (${NAME_CHARS}) or null`,
      }),
    ),
    tolerance: t.Optional(
      t.Nullable(t.Integer({ minimum: 1, maximum: 86400, description: `seconds a signed timestamp may differ from now, either way; null: ${DEFAULT_TOLERANCE_S}` }), {
        error: "tolerance must be whole seconds from 1 to 86400, or null (the default)",
      }),
    ),
  },
  { additionalProperties: false },
);
export type SettingsBody = Static<typeof SettingsBody>;

export const SettingsView = t.Object({
  source: t.String(),
  scheme: t.String(),
  secret: t.Nullable(t.String({ description: "masked: its form and last four characters" })),
  header: t.Nullable(t.String({ description: "the header read (the scheme's default when not configured)" })),
  timestamp_header: t.Nullable(t.String()),
  tolerance: t.Integer({ description: "seconds" }),
  origin: t.UnionEnum(["tenant", "environment", "default"], {
    description: "tenant: this tenant's setting; environment: <SOURCE>_WEBHOOK_SECRET; default: no verification",
  }),
  updated_at: t.Nullable(t.String()),
});

export const TokenCreate = t.Object(
  { name: t.Optional(t.String({ minLength: 1, maxLength: 200, description: "what the token is for (e.g. splunk-prod)" })) },
  { additionalProperties: false },
);

export const TokenView = t.Object({
  id: t.String(),
  source: t.String(),
  name: t.String(),
  token: t.String({ description: "masked: the prefix only" }),
  created_at: t.String(),
  last_used_at: t.Nullable(t.String({ description: "written every 30 s, not on every request" })),
  revoked_at: t.Nullable(t.String()),
});

export const TokenCreated = t.Object({
  ...TokenView.properties,
  token: t.String({ description: "the whole token, shown this once" }),
  url: t.String({ description: "the ingest URL with the token: the public URL (--public-url, else the request's scheme and host), the route, ?token=" }),
});

export const TokenList = t.Object({ items: t.Array(TokenView) });
