// Source settings (inbound signatures) and URL tokens on PostgreSQL: the twin of
// src/store/source-settings.ts, with the ingest path's settings cache (PgSourceSettingsCache).
import type { SignatureSetting } from "../../core/inbound-signatures";
import { generateSourceToken } from "../../core/source-tokens";
import { newId } from "../../lib/ids";
import type { PgConn, PgTwin } from "../contract";
import { SOURCE_SETTINGS_VERSION, type SourceSettingRow, type sourceSettingsFns, type SourceTokenRow } from "../source-settings";
import { PgVersionedCache, withBumps } from "./config-versions";
import { touchRows } from "./keys";

const SETTING_COLUMNS = `tenant_id AS "tenantId", source, scheme, secret, header, timestamp_header AS "timestampHeader",
  tolerance_s AS "toleranceS", updated_at AS "updatedAt"`;
const TOKEN_COLUMNS = `id, tenant_id AS "tenantId", source, name, prefix, hash, created_at AS "createdAt",
  last_used_at AS "lastUsedAt", revoked_at AS "revokedAt"`;

const plain = <T>(r: Record<string, unknown> | undefined): T | undefined => (r ? ({ ...r } as T) : undefined);

async function getSourceSetting(pg: PgConn, tenantId: string, source: string): Promise<SourceSettingRow | undefined> {
  return plain((await pg.unsafe(`SELECT ${SETTING_COLUMNS} FROM source_settings WHERE tenant_id = $1 AND source = $2`, [tenantId, source]))[0]);
}

export async function listSourceSettings(pg: PgConn, tenantId: string): Promise<SourceSettingRow[]> {
  return (await pg.unsafe(`SELECT ${SETTING_COLUMNS} FROM source_settings WHERE tenant_id = $1 ORDER BY source COLLATE "C"`, [tenantId])).map((r) => plain<SourceSettingRow>(r)!);
}

async function putSourceSetting(pg: PgConn, row: SourceSettingRow): Promise<void> {
  await withBumps(pg, [SOURCE_SETTINGS_VERSION], async (tx) => {
    await tx`INSERT INTO source_settings (tenant_id, source, scheme, secret, header, timestamp_header, tolerance_s, updated_at)
             VALUES (${row.tenantId}, ${row.source}, ${row.scheme}, ${row.secret}, ${row.header}, ${row.timestampHeader}, ${row.toleranceS}, ${row.updatedAt})
             ON CONFLICT (tenant_id, source) DO UPDATE SET scheme = excluded.scheme, secret = excluded.secret, header = excluded.header,
               timestamp_header = excluded.timestamp_header, tolerance_s = excluded.tolerance_s, updated_at = excluded.updated_at`;
  });
}

async function deleteSourceSetting(pg: PgConn, tenantId: string, source: string): Promise<boolean> {
  return withBumps(pg, [SOURCE_SETTINGS_VERSION], async (tx) => (await tx`DELETE FROM source_settings WHERE tenant_id = ${tenantId} AND source = ${source}`).count > 0, (deleted) => deleted);
}

async function createSourceToken(pg: PgConn, tenantId: string, source: string, name: string, now = Date.now()): Promise<{ token: string; row: SourceTokenRow }> {
  const g = generateSourceToken();
  const row: SourceTokenRow = { id: newId(now), tenantId, source, name, prefix: g.prefix, hash: g.hash, createdAt: now, lastUsedAt: null, revokedAt: null };
  await pg`INSERT INTO source_tokens (id, tenant_id, source, name, prefix, hash, created_at)
           VALUES (${row.id}, ${tenantId}, ${source}, ${name}, ${row.prefix}, ${row.hash}, ${now})`;
  return { token: g.token, row };
}

async function findSourceTokenByPrefix(pg: PgConn, prefix: string): Promise<SourceTokenRow | undefined> {
  return plain((await pg.unsafe(`SELECT ${TOKEN_COLUMNS} FROM source_tokens WHERE prefix = $1`, [prefix]))[0]);
}

async function listSourceTokens(pg: PgConn, tenantId: string, source: string): Promise<SourceTokenRow[]> {
  return (await pg.unsafe(`SELECT ${TOKEN_COLUMNS} FROM source_tokens WHERE tenant_id = $1 AND source = $2 ORDER BY id DESC`, [tenantId, source])).map(
    (r) => plain<SourceTokenRow>(r)!,
  );
}

async function getSourceToken(pg: PgConn, tenantId: string, source: string, id: string): Promise<SourceTokenRow | undefined> {
  return plain((await pg.unsafe(`SELECT ${TOKEN_COLUMNS} FROM source_tokens WHERE tenant_id = $1 AND source = $2 AND id = $3`, [tenantId, source, id]))[0]);
}

async function revokeSourceToken(pg: PgConn, id: string, now = Date.now()): Promise<boolean> {
  return (await pg`UPDATE source_tokens SET revoked_at = ${now} WHERE id = ${id} AND revoked_at IS NULL`).count > 0;
}

async function touchSourceTokens(pg: PgConn, lastUsed: Map<string, number>): Promise<void> {
  await touchRows(pg, "source_tokens", lastUsed);
}

export const pgSourceSettingsFns: PgTwin<typeof sourceSettingsFns> = {
  getSourceSetting,
  putSourceSetting,
  deleteSourceSetting,
  createSourceToken,
  findSourceTokenByPrefix,
  listSourceTokens,
  getSourceToken,
  revokeSourceToken,
  touchSourceTokens,
};

/**
 * The settings of each tenant, by source, for the ingest path (the twin of SourceSettingsCache):
 * a change through this process is seen by the next request, one by another process within CHECK_MS.
 */
export class PgSourceSettingsCache {
  private cache: PgVersionedCache<Map<string, SignatureSetting>>;

  constructor(private pg: PgConn) {
    this.cache = new PgVersionedCache(SOURCE_SETTINGS_VERSION, async (conn, tenantId) => {
      const rows = await listSourceSettings(conn, tenantId);
      return new Map(rows.map((r) => [r.source, { scheme: r.scheme, secret: r.secret, header: r.header, timestampHeader: r.timestampHeader, toleranceS: r.toleranceS }]));
    });
  }

  invalidate(): void {
    this.cache.invalidate();
  }

  async get(tenantId: string, source: string): Promise<SignatureSetting | undefined> {
    return (await this.cache.get(this.pg, tenantId)).get(source);
  }
}
