// Settings: flags and KEEPWATCH_* environment variables, validated once with typebox.
// A bad value stops start-up with one line naming the setting.
import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parseAllowList } from "./core/netrange";
import { SignatureSettingInput, settingIssues, toSetting, type SignatureSetting } from "./core/inbound-signatures";
import { listSources } from "./sources/registry";
import { databaseUrlIssue, redactDatabaseUrl } from "./lib/database-url";

export const ConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: "TCP port to listen on" }),
  host: Type.String({ minLength: 1, default: "0.0.0.0", description: "address to bind" }),
  publicUrl: Type.String({
    default: "",
    description: "the URL clients reach keepwatch at (https://keepwatch.example.com); ping and URL-token URLs start with it (empty: the request's scheme and host)",
  }),
  dataDir: Type.String({ minLength: 1, default: "./data", description: "directory holding keepwatch.db" }),
  databaseUrl: Type.String({
    default: "",
    description: "postgres://user:password@host:5432/db (or ?host=/socket/dir): PostgreSQL instead of SQLite, nothing on local disk (empty: SQLite in --data-dir)",
  }),
  dbPool: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: "PostgreSQL connections per process (with --database-url)" }),
  dbWake: Type.Union([Type.Literal("notify"), Type.Literal("poll")], {
    default: "notify",
    description: "how replicas hear of each other's new jobs: notify (LISTEN/NOTIFY, a hint on top of polling) | poll (polling only: behind PgBouncer in transaction mode)",
  }),
  rateLimit: Type.Number({ minimum: 0, default: 10, description: "default requests/s per key (0 = unlimited)" }),
  rateBurst: Type.Integer({ minimum: 1, default: 50, description: "default token-bucket size per key" }),
  // events and bytes, per key and per tenant (src/core/ratelimit.ts); unset = derived from the above
  eventRate: Type.Optional(Type.Number({ minimum: 0, description: "events/s of a key at --rate-limit (0 = unlimited; default 10 per request: 100)" })),
  byteRate: Type.Optional(Type.Integer({ minimum: 0, description: "bytes/s of a key at --rate-limit (0 = unlimited; default a tenth of --body-limit per request: 1MiB)" })),
  tenantRateLimit: Type.Optional(Type.Number({ minimum: 0, description: "requests/s of a whole tenant, all its keys together (0 = no cap; default 10 keys' worth: 100)" })),
  tenantEventRate: Type.Optional(Type.Number({ minimum: 0, description: "events/s of a whole tenant (0 = no cap; default 10 keys' worth: 1000)" })),
  tenantByteRate: Type.Optional(Type.Integer({ minimum: 0, description: "bytes/s of a whole tenant (0 = no cap; default 10 keys' worth: 10MiB)" })),
  bodyLimit: Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024, default: 1024 * 1024, description: "largest request body in bytes" }),
  bodyTimeout: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000, description: "ms a request body may take to arrive once its key is checked (then 408, connection closed)" }),
  anonBodyTimeout: Type.Integer({ minimum: 100, maximum: 600_000, default: 5000, description: "ms a body sent without a key (the admin login form) may take to arrive" }),
  maxItems: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000, description: "most items in one ingest request" }),
  logLevel: Type.Union([Type.Literal("debug"), Type.Literal("info"), Type.Literal("warn"), Type.Literal("error")], {
    default: "info",
    description: "debug | info | warn | error",
  }),
  durability: Type.Union([Type.Literal("full"), Type.Literal("normal")], {
    default: "full",
    description: "SQLite synchronous mode: full (fsync every commit) | normal",
  }),
  busyTimeout: Type.Integer({ minimum: 0, maximum: 600_000, default: 5000, description: "ms a write waits for a lock before answering 503" }),
  keyOverlap: Type.Number({ minimum: 0, default: 24, description: "hours a rotated key keeps working" }),
  shutdownTimeout: Type.Integer({ minimum: 0, default: 10_000, description: "ms SIGTERM waits for in-flight work" }),
  outboundAllow: Type.String({
    default: "",
    description: "CIDRs outbound webhooks may reach although private/loopback/link-local (comma-separated)",
  }),
  trustedProxies: Type.String({
    default: "",
    description: "CIDRs of reverse proxies whose X-Forwarded-For names the client (comma-separated; none: the header is ignored)",
  }),
  webhookConcurrency: Type.Integer({ minimum: 1, maximum: 1024, default: 128, description: "deliveries in flight at once" }),
  webhookMaxInflight: Type.Integer({ minimum: 1, maximum: 1024, default: 64, description: "deliveries in flight to one webhook at once (keeps a slow receiver from taking every slot)" }),
  jobLease: Type.Number({ minimum: 1, maximum: 3600, default: 120, description: "seconds a claimed job is leased before another worker may take it" }),
  secretOverlap: Type.Number({ minimum: 0, default: 24, description: "hours a rotated webhook secret keeps signing" }),
  deliveryRetention: Type.Number({ minimum: 0.001, default: 30, description: "days of webhook delivery history kept" }),
  webhookAutoDisable: Type.Integer({ minimum: 0, default: 100, description: "consecutive failed messages that disable a webhook (0 = never)" }),
  enrichAttempts: Type.Integer({ minimum: 1, maximum: 100, default: 6, description: "attempts an alert's enrichment gets before it is marked failed" }),
  enrichBackoff: Type.Number({ minimum: 0.01, maximum: 3600, default: 10, description: "seconds before the first enrichment retry (doubles each time, at most 10 min)" }),
  // retention (see src/store/retention.ts): pruned hourly in small batches, 0 = keep forever
  eventRetention: Type.Number({ minimum: 0, maximum: 36_500, default: 30, description: "days of events kept (events of alerts not closed are kept; 0 = forever)" }),
  pingRetention: Type.Number({ minimum: 0, maximum: 36_500, default: 30, description: "days of heartbeat pings kept (0 = forever)" }),
});
/** The settings that are flags and KEEPWATCH_* variables. */
export type Settings = Static<typeof ConfigSchema>;
export type Config = Settings & {
  /**
   * Inbound signature defaults by source name, from `<SOURCE>_WEBHOOK_SECRET` and friends; applied
   * to every tenant that has no setting of its own for the source.
   */
  sourceSecrets: Record<string, SignatureSetting>;
};

/** setting name → [flag, env var] */
export const SETTINGS: Record<keyof Settings, { flag: string; env: string }> = {
  port: { flag: "--port", env: "KEEPWATCH_PORT" },
  host: { flag: "--host", env: "KEEPWATCH_HOST" },
  publicUrl: { flag: "--public-url", env: "KEEPWATCH_PUBLIC_URL" },
  dataDir: { flag: "--data-dir", env: "KEEPWATCH_DATA_DIR" },
  databaseUrl: { flag: "--database-url", env: "KEEPWATCH_DATABASE_URL" },
  dbPool: { flag: "--db-pool", env: "KEEPWATCH_DB_POOL" },
  dbWake: { flag: "--db-wake", env: "KEEPWATCH_DB_WAKE" },
  rateLimit: { flag: "--rate-limit", env: "KEEPWATCH_RATE_LIMIT" },
  rateBurst: { flag: "--rate-burst", env: "KEEPWATCH_RATE_BURST" },
  eventRate: { flag: "--event-rate", env: "KEEPWATCH_EVENT_RATE" },
  byteRate: { flag: "--byte-rate", env: "KEEPWATCH_BYTE_RATE" },
  tenantRateLimit: { flag: "--tenant-rate-limit", env: "KEEPWATCH_TENANT_RATE_LIMIT" },
  tenantEventRate: { flag: "--tenant-event-rate", env: "KEEPWATCH_TENANT_EVENT_RATE" },
  tenantByteRate: { flag: "--tenant-byte-rate", env: "KEEPWATCH_TENANT_BYTE_RATE" },
  bodyLimit: { flag: "--body-limit", env: "KEEPWATCH_BODY_LIMIT" },
  bodyTimeout: { flag: "--body-timeout", env: "KEEPWATCH_BODY_TIMEOUT" },
  anonBodyTimeout: { flag: "--anon-body-timeout", env: "KEEPWATCH_ANON_BODY_TIMEOUT" },
  maxItems: { flag: "--max-items", env: "KEEPWATCH_MAX_ITEMS" },
  logLevel: { flag: "--log-level", env: "KEEPWATCH_LOG_LEVEL" },
  durability: { flag: "--durability", env: "KEEPWATCH_DURABILITY" },
  busyTimeout: { flag: "--busy-timeout", env: "KEEPWATCH_BUSY_TIMEOUT" },
  keyOverlap: { flag: "--key-overlap", env: "KEEPWATCH_KEY_OVERLAP" },
  shutdownTimeout: { flag: "--shutdown-timeout", env: "KEEPWATCH_SHUTDOWN_TIMEOUT" },
  outboundAllow: { flag: "--outbound-allow", env: "KEEPWATCH_OUTBOUND_ALLOW" },
  trustedProxies: { flag: "--trusted-proxies", env: "KEEPWATCH_TRUSTED_PROXIES" },
  webhookConcurrency: { flag: "--webhook-concurrency", env: "KEEPWATCH_WEBHOOK_CONCURRENCY" },
  webhookMaxInflight: { flag: "--webhook-max-inflight", env: "KEEPWATCH_WEBHOOK_MAX_INFLIGHT" },
  jobLease: { flag: "--job-lease", env: "KEEPWATCH_JOB_LEASE" },
  secretOverlap: { flag: "--secret-overlap", env: "KEEPWATCH_SECRET_OVERLAP" },
  deliveryRetention: { flag: "--delivery-retention", env: "KEEPWATCH_DELIVERY_RETENTION" },
  webhookAutoDisable: { flag: "--webhook-auto-disable", env: "KEEPWATCH_WEBHOOK_AUTO_DISABLE" },
  enrichAttempts: { flag: "--enrich-attempts", env: "KEEPWATCH_ENRICH_ATTEMPTS" },
  enrichBackoff: { flag: "--enrich-backoff", env: "KEEPWATCH_ENRICH_BACKOFF" },
  eventRetention: { flag: "--event-retention", env: "KEEPWATCH_EVENT_RETENTION" },
  pingRetention: { flag: "--ping-retention", env: "KEEPWATCH_PING_RETENTION" },
};

export class ConfigError extends Error {}

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;

/** "512KiB", "2MiB", "1.5g" or plain bytes → bytes; null when it is not a size. */
export function parseSize(raw: string): number | null {
  const m = SIZE_RE.exec(raw.trim());
  if (!m) return null;
  const unit = (m[2] ?? "b").toLowerCase()[0];
  const mult = unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * mult);
}

function coerce(name: keyof Settings, raw: string): unknown {
  const schema = (ConfigSchema.properties as Record<string, any>)[name];
  if (name === "bodyLimit" || name === "byteRate" || name === "tenantByteRate") {
    const m = SIZE_RE.exec(raw.trim());
    if (!m) return raw;
    const unit = (m[2] ?? "b").toLowerCase()[0];
    const mult = unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1;
    return Math.round(Number(m[1]) * mult);
  }
  if (schema.type === "integer" || schema.type === "number") {
    return raw.trim() !== "" && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return raw;
}

/**
 * Builds the config from flags (winning) and the environment. Flags this function does not know
 * are returned in `rest` for the command to interpret.
 */
export function loadConfig(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): { config: Config; rest: string[]; explicit: Set<keyof Settings> } {
  const raw: Partial<Record<keyof Settings, unknown>> = {};
  const from: Partial<Record<keyof Settings, string>> = {};
  for (const [name, s] of Object.entries(SETTINGS) as [keyof Settings, { flag: string; env: string }][]) {
    const v = env[s.env];
    if (v !== undefined && v !== "") {
      raw[name] = coerce(name, v);
      from[name] = s.env;
    }
  }
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf("=");
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const entry = (Object.entries(SETTINGS) as [keyof Settings, { flag: string }][]).find(([, s]) => s.flag === flag);
    if (!entry) {
      rest.push(a);
      continue;
    }
    let v: string | undefined;
    if (eq > 0) v = a.slice(eq + 1);
    else {
      v = argv[++i];
      if (v === undefined) throw new ConfigError(`${flag}: a value is required`);
    }
    raw[entry[0]] = coerce(entry[0], v);
    from[entry[0]] = flag;
  }
  const withDefaults = Value.Default(ConfigSchema, { ...raw });
  const first = Value.Errors(ConfigSchema, withDefaults).First();
  if (first) {
    const name = first.path.replace(/^\//, "") as keyof Settings;
    const s = SETTINGS[name];
    const where = from[name] ?? (s ? `${s.flag} / ${s.env}` : name);
    const sch = (ConfigSchema.properties as Record<string, any>)[name];
    const why = sch?.anyOf
      ? `must be one of ${sch.anyOf.map((a: any) => a.const).join(", ")}`
      : first.message.toLowerCase();
    const shown = name === "databaseUrl" ? redactDatabaseUrl(String(raw[name])) : raw[name];
    throw new ConfigError(
      `invalid setting ${where}=${JSON.stringify(shown)}: ${why}${sch?.description ? ` (${sch.description})` : ""}`,
    );
  }
  try {
    parseAllowList((withDefaults as Config).outboundAllow);
  } catch (e) {
    throw new ConfigError(`invalid setting ${from.outboundAllow ?? "KEEPWATCH_OUTBOUND_ALLOW"}: ${(e as Error).message} (expected CIDRs such as 127.0.0.0/8, fd00::/8)`);
  }
  try {
    parseAllowList((withDefaults as Config).trustedProxies);
  } catch (e) {
    throw new ConfigError(`invalid setting ${from.trustedProxies ?? "KEEPWATCH_TRUSTED_PROXIES"}: ${(e as Error).message} (expected CIDRs such as 10.0.0.5/32, 10.1.0.0/16)`);
  }
  const databaseUrl = (withDefaults as Settings).databaseUrl.trim();
  if (databaseUrl !== "") {
    const issue = databaseUrlIssue(databaseUrl);
    if (issue) throw new ConfigError(`invalid setting ${from.databaseUrl ?? "KEEPWATCH_DATABASE_URL"}=${JSON.stringify(redactDatabaseUrl(databaseUrl))}: ${issue}`);
  } else if (from.dbPool) {
    throw new ConfigError(`${from.dbPool} is set but there is no --database-url / KEEPWATCH_DATABASE_URL: the pool is PostgreSQL's`);
  }
  const publicUrl = checkPublicUrl((withDefaults as Settings).publicUrl, from.publicUrl ?? "KEEPWATCH_PUBLIC_URL");
  const sourceSecrets = loadSourceSecrets(env);
  return { config: { ...(withDefaults as Settings), databaseUrl, publicUrl, sourceSecrets }, rest, explicit: new Set(Object.keys(from) as (keyof Settings)[]) };
}

/** The public URL without a trailing slash ("" when unset); anything but an absolute http(s) URL stops start-up. */
function checkPublicUrl(raw: string, where: string): string {
  const v = raw.trim();
  if (v === "") return "";
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(`invalid setting ${where}=${JSON.stringify(raw)}: must be an absolute URL such as https://keepwatch.example.com`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new ConfigError(`invalid setting ${where}=${JSON.stringify(raw)}: must start with https:// or http://`);
  if (u.search || u.hash || u.username || u.password)
    throw new ConfigError(`invalid setting ${where}=${JSON.stringify(raw)}: must have no query, fragment or credentials (scheme, host, port and an optional path only)`);
  return `${u.origin}${u.pathname}`.replace(/\/+$/, "");
}

/** `jsonapi-list` → `JSONAPI_LIST`: the prefix of a source's environment variables. */
export const envPrefix = (source: string) => source.toUpperCase().replace(/[^A-Z0-9]/g, "_");

const SOURCE_ENV = {
  secret: "WEBHOOK_SECRET",
  scheme: "WEBHOOK_SCHEME",
  header: "WEBHOOK_SIGNATURE_HEADER",
  timestamp_header: "WEBHOOK_TIMESTAMP_HEADER",
  tolerance: "WEBHOOK_TOLERANCE",
} as const;

/**
 * Signature defaults from the environment, for every registered source (so a source plugin added
 * later is covered without a change here): `<SOURCE>_WEBHOOK_SECRET` turns verification on, with
 * scheme `grafana` for the grafana source and `hmac-sha256-hex` (header X-Signature) for the others,
 * unless `<SOURCE>_WEBHOOK_SCHEME`, `_SIGNATURE_HEADER`, `_TIMESTAMP_HEADER` or `_TOLERANCE` (seconds)
 * say otherwise. Validated like a PUT /v1/sources/:name/settings body; a bad one stops start-up.
 * Variables of names that are no source (GITHUB_WEBHOOK_SECRET of another program) are ignored.
 */
export function loadSourceSecrets(env: Record<string, string | undefined>): Record<string, SignatureSetting> {
  const out: Record<string, SignatureSetting> = {};
  for (const src of listSources()) {
    const p = envPrefix(src.name);
    const v = (k: keyof typeof SOURCE_ENV) => {
      const x = env[`${p}_${SOURCE_ENV[k]}`];
      return x === undefined || x === "" ? undefined : x;
    };
    const secret = v("secret");
    if (secret === undefined) {
      const stray = (Object.keys(SOURCE_ENV) as (keyof typeof SOURCE_ENV)[]).find((k) => v(k) !== undefined);
      if (stray) throw new ConfigError(`${p}_${SOURCE_ENV[stray]} is set but ${p}_WEBHOOK_SECRET is not: set the secret too, or unset it`);
      continue;
    }
    const tol = v("tolerance");
    const input: Record<string, unknown> = {
      scheme: v("scheme") ?? (src.name === "grafana" ? "grafana" : "hmac-sha256-hex"),
      secret,
      ...(v("header") !== undefined ? { header: v("header") } : {}),
      ...(v("timestamp_header") !== undefined ? { timestamp_header: v("timestamp_header") } : {}),
      ...(tol !== undefined ? { tolerance: /^\d+$/.test(tol) ? Number(tol) : tol } : {}),
    };
    const first = Value.Errors(SignatureSettingInput, input).First();
    const issue = first
      ? { path: first.path, message: first.message.toLowerCase() }
      : settingIssues(input as SignatureSettingInput)[0];
    if (issue) {
      const field = issue.path.replace(/^\//, "") as keyof typeof SOURCE_ENV;
      const name = SOURCE_ENV[field] ? `${p}_${SOURCE_ENV[field]}` : `${p}_WEBHOOK_*`;
      // never echo a secret's value
      const shown = field === "secret" ? "" : `=${JSON.stringify(input[field])}`;
      throw new ConfigError(`invalid setting ${name}${shown}: ${issue.message}`);
    }
    out[src.name] = toSetting(input as SignatureSettingInput);
  }
  return out;
}

export function settingsHelp(): string {
  const rows = Object.entries(SETTINGS) as [keyof Settings, { flag: string; env: string }][];
  // columns as wide as their longest entry, so every description starts at the same place
  const flagW = Math.max(...rows.map(([, s]) => s.flag.length + " VALUE".length));
  const envW = Math.max(...rows.map(([, s]) => s.env.length));
  return rows
    .map(([name, s]) => {
      const sch = (ConfigSchema.properties as Record<string, any>)[name];
      return `  ${(s.flag + " VALUE").padEnd(flagW)}  ${s.env.padEnd(envW)}  ${sch.description}${sch.default === undefined ? "" : ` (default ${JSON.stringify(sch.default)})`}`;
    })
    .concat([
      "",
      "inbound signature defaults per source (environment only; a tenant's PUT /v1/sources/<name>/settings wins):",
      "  <SOURCE>_WEBHOOK_SECRET            turns verification on (e.g. GRAFANA_WEBHOOK_SECRET, SPLUNK_WEBHOOK_SECRET)",
      "  <SOURCE>_WEBHOOK_SCHEME            hmac-sha256-hex (default; grafana for GRAFANA_), grafana, standard-webhooks, shared-secret",
      "  <SOURCE>_WEBHOOK_SIGNATURE_HEADER  header carrying the signature (default X-Signature; grafana: X-Grafana-Alerting-Signature)",
      "  <SOURCE>_WEBHOOK_TIMESTAMP_HEADER  grafana: header carrying the signed Unix timestamp",
      "  <SOURCE>_WEBHOOK_TOLERANCE         seconds a signed timestamp may be off (default 300)",
    ])
    .join("\n");
}
