// Shapes of the source settings and URL token API (typebox via Elysia's `t`).
import { t } from "elysia";
import { SignatureSettingInput } from "../../core/inbound-signatures";

export const SourceName = t.Object({ name: t.String({ minLength: 1, maxLength: 100 }) });
export const TokenParams = t.Object({ name: t.String({ minLength: 1, maxLength: 100 }), id: t.String({ minLength: 1, maxLength: 100 }) });

/** PUT /v1/sources/:name/settings */
export const SettingsBody = SignatureSettingInput;

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
