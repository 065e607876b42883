// Shapes of the watchlists API (typebox via Elysia's `t`).
import { t, type Static } from "elysia";
import { Enum } from "../../http/schema";
import { WATCHLIST_KINDS } from "../../core/enrich";

const RAISE = ["info", "low", "medium", "high", "critical"] as const;

export const Entry = t.Object(
  {
    kind: Enum([...WATCHLIST_KINDS], { error: `kind must be one of ${WATCHLIST_KINDS.join(", ")}` }),
    value: t.String({ minLength: 1, maxLength: 512, description: "cidr: 203.0.113.0/24; domain: example.com (subdomains match); hash: MD5/SHA-1/SHA-256 hex; account; email" }),
    comment: t.Optional(t.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

const fields = {
  name: t.String({ minLength: 1, maxLength: 200 }),
  label: t.String({ minLength: 1, maxLength: 100, description: "a hit tags the alert watchlist:<label> (letters, digits, . _ -); default: the name" }),
  severity: t.Nullable(Enum([...RAISE], { description: "a hit raises the alert to at least this severity (never lowers it)" })),
  active: t.Boolean(),
  entries: t.Array(Entry, { maxItems: 10_000 }),
};

export const WatchlistCreate = t.Object(
  {
    name: fields.name,
    label: t.Optional(fields.label),
    severity: t.Optional(fields.severity),
    active: t.Optional(fields.active),
    entries: fields.entries,
  },
  { additionalProperties: false },
);
export type WatchlistCreate = Static<typeof WatchlistCreate>;

export const WatchlistUpdate = t.Partial(WatchlistCreate, { additionalProperties: false });
export type WatchlistUpdate = Static<typeof WatchlistUpdate>;

const common = {
  id: t.String(),
  name: t.String(),
  label: t.String(),
  tag: t.String({ description: "the tag a hit adds" }),
  severity: t.Nullable(t.String()),
  active: t.Boolean(),
  entry_count: t.Integer(),
  created_at: t.String(),
  updated_at: t.String(),
};
export const WatchlistSummary = t.Object(common);
export const Watchlist = t.Object({ ...common, entries: t.Array(t.Object({ kind: t.String(), value: t.String(), comment: t.Optional(t.String()) })) });
export const WatchlistList = t.Object({ items: t.Array(WatchlistSummary) });
