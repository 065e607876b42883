// Source settings (inbound signature scheme and secret per tenant and source) and URL tokens.
import type { Bound } from "./contract";
import type { Statement } from "bun:sqlite";
import type { Db } from "../db/client";
import type { Scheme, SignatureSetting } from "../core/inbound-signatures";
import { generateSourceToken } from "../core/source-tokens";
import { newId } from "../lib/ids";
import { bumpVersion, readVersion } from "./config-versions";

export const SOURCE_SETTINGS_VERSION = "source_settings";

export type SourceSettingRow = SignatureSetting & { tenantId: string; source: string; updatedAt: number };

const SETTING_COLUMNS = `tenant_id AS tenantId, source, scheme, secret, header, timestamp_header AS timestampHeader,
  tolerance_s AS toleranceS, updated_at AS updatedAt`;

export function getSourceSetting(db: Db, tenantId: string, source: string): SourceSettingRow | undefined {
  const r = db.$client.query(`SELECT ${SETTING_COLUMNS} FROM source_settings WHERE tenant_id = ?1 AND source = ?2`).get(tenantId, source);
  return (r as SourceSettingRow | null) ?? undefined;
}

export function listSourceSettings(db: Db, tenantId: string): SourceSettingRow[] {
  return db.$client.query(`SELECT ${SETTING_COLUMNS} FROM source_settings WHERE tenant_id = ?1 ORDER BY source`).all(tenantId) as SourceSettingRow[];
}

/** Inserts or replaces the tenant's setting for a source; bumps the change counter in the same transaction. */
export function putSourceSetting(db: Db, row: SourceSettingRow): void {
  db.$client.transaction(() => {
    db.$client
      .query(
        `INSERT INTO source_settings (tenant_id, source, scheme, secret, header, timestamp_header, tolerance_s, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (tenant_id, source) DO UPDATE SET scheme = excluded.scheme, secret = excluded.secret, header = excluded.header,
           timestamp_header = excluded.timestamp_header, tolerance_s = excluded.tolerance_s, updated_at = excluded.updated_at`,
      )
      .run(row.tenantId, row.source, row.scheme, row.secret, row.header, row.timestampHeader, row.toleranceS, row.updatedAt);
    bumpVersion(db, SOURCE_SETTINGS_VERSION);
  })();
}

export function deleteSourceSetting(db: Db, tenantId: string, source: string): boolean {
  return db.$client.transaction(() => {
    const n = db.$client.query("DELETE FROM source_settings WHERE tenant_id = ?1 AND source = ?2").run(tenantId, source).changes;
    if (n) bumpVersion(db, SOURCE_SETTINGS_VERSION);
    return n > 0;
  })();
}

/**
 * The settings of each tenant, by source, for the ingest path. Changes made through this process
 * call invalidate() and are seen by the next request; the change counter is re-read at most once
 * per `checkMs` so that a change made by another process (a later replica, the CLI) is seen within
 * that time, without a query per request.
 */
export class SourceSettingsCache {
  private version = -1;
  private checkedAt = -Infinity;
  private byTenant = new Map<string, Map<string, SignatureSetting>>();

  constructor(
    private db: Db,
    private clock: () => number = Date.now,
    private checkMs = 1000,
  ) {}

  invalidate(): void {
    this.version = -1;
    this.checkedAt = -Infinity;
    this.byTenant.clear();
  }

  /** The tenant's own setting for a source, or undefined when it has none. */
  get(tenantId: string, source: string): SignatureSetting | undefined {
    const now = this.clock();
    if (now - this.checkedAt >= this.checkMs || now < this.checkedAt) {
      this.checkedAt = now;
      const v = readVersion(this.db, SOURCE_SETTINGS_VERSION);
      if (v !== this.version) {
        this.byTenant.clear();
        this.version = v;
      }
    }
    let m = this.byTenant.get(tenantId);
    if (!m) {
      m = new Map(
        listSourceSettings(this.db, tenantId).map((r) => [
          r.source,
          { scheme: r.scheme as Scheme, secret: r.secret, header: r.header, timestampHeader: r.timestampHeader, toleranceS: r.toleranceS },
        ]),
      );
      this.byTenant.set(tenantId, m);
    }
    return m.get(source);
  }
}

// ---- URL tokens ----

export type SourceTokenRow = {
  id: string;
  tenantId: string;
  source: string;
  name: string;
  prefix: string;
  hash: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
};

const TOKEN_COLUMNS = `id, tenant_id AS tenantId, source, name, prefix, hash, created_at AS createdAt,
  last_used_at AS lastUsedAt, revoked_at AS revokedAt`;

/** Creates a token; the plain token is returned once and never stored. */
export function createSourceToken(db: Db, tenantId: string, source: string, name: string, now = Date.now()): { token: string; row: SourceTokenRow } {
  const g = generateSourceToken();
  const row: SourceTokenRow = { id: newId(now), tenantId, source, name, prefix: g.prefix, hash: g.hash, createdAt: now, lastUsedAt: null, revokedAt: null };
  db.$client
    .query("INSERT INTO source_tokens (id, tenant_id, source, name, prefix, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
    .run(row.id, tenantId, source, name, row.prefix, row.hash, now);
  return { token: g.token, row };
}

const tokenByPrefix = new WeakMap<Db, Statement>();

/** Hot path (every request carrying ?token=): one indexed lookup, as for API keys. */
export function findSourceTokenByPrefix(db: Db, prefix: string): SourceTokenRow | undefined {
  let st = tokenByPrefix.get(db);
  if (!st) {
    st = db.$client.query(`SELECT ${TOKEN_COLUMNS} FROM source_tokens WHERE prefix = ?1`);
    tokenByPrefix.set(db, st);
  }
  return (st.get(prefix) as SourceTokenRow | null) ?? undefined;
}

/** The tokens of a tenant's source, newest first (revoked ones included, marked). */
export function listSourceTokens(db: Db, tenantId: string, source: string): SourceTokenRow[] {
  return db.$client
    .query(`SELECT ${TOKEN_COLUMNS} FROM source_tokens WHERE tenant_id = ?1 AND source = ?2 ORDER BY id DESC`)
    .all(tenantId, source) as SourceTokenRow[];
}

export function getSourceToken(db: Db, tenantId: string, source: string, id: string): SourceTokenRow | undefined {
  const r = db.$client.query(`SELECT ${TOKEN_COLUMNS} FROM source_tokens WHERE tenant_id = ?1 AND source = ?2 AND id = ?3`).get(tenantId, source, id);
  return (r as SourceTokenRow | null) ?? undefined;
}

/** Revokes a token; false when it was already revoked. */
export function revokeSourceToken(db: Db, id: string, now = Date.now()): boolean {
  return db.$client.query("UPDATE source_tokens SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL").run(now, id).changes > 0;
}

/** Writes the batched last-used times of tokens. */
export function touchSourceTokens(db: Db, lastUsed: Map<string, number>): void {
  if (lastUsed.size === 0) return;
  const stmt = db.$client.query("UPDATE source_tokens SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)");
  db.$client.transaction(() => {
    for (const [id, at] of lastUsed) stmt.run(at, id);
  })();
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/source-settings.ts. */
export const sourceSettingsFns = { getSourceSetting, putSourceSetting, deleteSourceSetting, createSourceToken, findSourceTokenByPrefix, listSourceTokens, getSourceToken, revokeSourceToken, touchSourceTokens };
export type SourceSettingsStore = Bound<typeof sourceSettingsFns>;
