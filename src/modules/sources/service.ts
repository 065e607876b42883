// Source settings (inbound signatures) and URL tokens: validation beyond the schema, masking.
import type { Static } from "elysia";
import type { Deps } from "../../deps";
import { DEFAULT_HEADER, maskSecret, settingIssues, toSetting, type SignatureSetting, type SignatureSettingInput } from "../../core/inbound-signatures";
import { maskToken } from "../../core/source-tokens";
import { ApiError, notFound } from "../../http/errors";
import { iso } from "../../lib/time";
import { getSource, listSources, routeOf } from "../../sources/registry";
import type { SourcePlugin } from "../../sources/types";
import {
  createSourceToken,
  deleteSourceSetting,
  getSourceSetting,
  getSourceToken,
  listSourceTokens,
  putSourceSetting,
  revokeSourceToken,
  type SourceTokenRow,
} from "../../store/source-settings";
import type { SettingsBody, SettingsView, TokenView } from "./model";

/** The source plugin of that name, or 404 naming the known ones. */
export function sourceOr404(name: string): SourcePlugin {
  const s = getSource(name);
  if (!s) throw notFound(`unknown source "${name}"; known sources: ${listSources().map((x) => x.name).join(", ")}`);
  return s;
}

function view(source: string, s: SignatureSetting | undefined, origin: "tenant" | "environment" | "default", updatedAt: number | null): Static<typeof SettingsView> {
  const scheme = s?.scheme ?? "none";
  return {
    source,
    scheme,
    secret: maskSecret(s?.secret ?? null),
    header: scheme === "none" ? null : (s?.header ?? DEFAULT_HEADER[scheme]),
    timestamp_header: s?.timestampHeader ?? null,
    tolerance: s?.toleranceS ?? 300,
    origin,
    updated_at: updatedAt === null ? null : iso(updatedAt),
  };
}

/** The setting in force for the tenant's source, and where it comes from. */
export function getSettings(deps: Deps, tenantId: string, name: string) {
  const src = sourceOr404(name);
  const own = getSourceSetting(deps.db, tenantId, src.name);
  if (own) return view(src.name, own, "tenant", own.updatedAt);
  const env = deps.config.sourceSecrets[src.name];
  return env ? view(src.name, env, "environment", null) : view(src.name, undefined, "default", null);
}

/**
 * Sets the tenant's setting for a source, merging: a field the body leaves out keeps its stored
 * value while the scheme stays the same (the secret is kept across a scheme change too, so a
 * header or tolerance can change without sending the secret again); `null` puts a field back to
 * the scheme's default. The result is checked against the scheme either way.
 */
export function putSettings(deps: Deps, tenantId: string, name: string, body: SettingsBody) {
  const src = sourceOr404(name);
  const old = getSourceSetting(deps.db, tenantId, src.name);
  const same = old?.scheme === body.scheme;
  const timestamped = body.scheme === "grafana" || body.scheme === "standard-webhooks";
  const merged = <T>(given: T | null | undefined, kept: T | null | undefined): T | undefined =>
    given === null ? undefined : given !== undefined ? given : (kept ?? undefined);
  const input: SignatureSettingInput = { scheme: body.scheme };
  const secret = merged(body.secret, body.scheme !== "none" ? old?.secret : null);
  if (secret !== undefined) input.secret = secret;
  const header = merged(body.header, same ? old?.header : null);
  if (header !== undefined) input.header = header;
  const ts = merged(body.timestamp_header, same ? old?.timestampHeader : null);
  if (ts !== undefined) input.timestamp_header = ts;
  const tolerance = merged(body.tolerance, same && timestamped ? old?.toleranceS : null);
  if (tolerance !== undefined) input.tolerance = tolerance;
  const issues = settingIssues(input);
  if (issues.length)
    throw new ApiError(422, "invalid_request", `the body is invalid: ${issues[0].path} ${issues[0].message}; nothing was changed`, issues);
  const now = deps.clock();
  putSourceSetting(deps.db, { ...toSetting(input), tenantId, source: src.name, updatedAt: now });
  deps.auth.sourceSettings.invalidate();
  return getSettings(deps, tenantId, src.name);
}

/** Removes the tenant's own setting: the environment's (or none) applies again. */
export function deleteSettings(deps: Deps, tenantId: string, name: string) {
  const src = sourceOr404(name);
  if (!deleteSourceSetting(deps.db, tenantId, src.name)) throw notFound(`this tenant has no setting of its own for source "${src.name}"`);
  deps.auth.sourceSettings.invalidate();
}

function tokenView(r: SourceTokenRow): Static<typeof TokenView> {
  return {
    id: r.id,
    source: r.source,
    name: r.name,
    token: maskToken(r.prefix),
    created_at: iso(r.createdAt),
    last_used_at: r.lastUsedAt === null ? null : iso(r.lastUsedAt),
    revoked_at: r.revokedAt === null ? null : iso(r.revokedAt),
  };
}

/** `origin`: where clients reach keepwatch (src/http/public-url.ts); the URL shown starts with it. */
export function createToken(deps: Deps, tenantId: string, name: string, body: { name?: string }, origin: string) {
  const src = sourceOr404(name);
  const { token, row } = createSourceToken(deps.db, tenantId, src.name, body.name ?? `${src.name} URL token`, deps.clock());
  return { ...tokenView(row), token, url: `${origin}${routeOf(src)}?token=${token}` };
}

export function listTokens(deps: Deps, tenantId: string, name: string) {
  const src = sourceOr404(name);
  // last-used times are kept in memory and written in batches: write them now so the list is current
  deps.auth.flushLastUsed();
  return { items: listSourceTokens(deps.db, tenantId, src.name).map(tokenView) };
}

export function revokeToken(deps: Deps, tenantId: string, name: string, id: string): void {
  const src = sourceOr404(name);
  const row = getSourceToken(deps.db, tenantId, src.name, id);
  if (!row) throw notFound(`no URL token "${id}" for source "${src.name}"`);
  revokeSourceToken(deps.db, row.id, deps.clock());
}

/** Per source: events in the last 24 h and when the newest arrived. */
export async function activity(deps: Deps, tenantId: string, names: string[]) {
  const now = deps.clock();
  const m = await deps.store.sourceActivity.sourceActivity(tenantId, names, now - 86_400_000);
  return new Map([...m].map(([k, v]) => [k, { last_24h: v.count, last_received_at: v.lastAt === null ? null : iso(v.lastAt) }]));
}
