// Settings: flags and KEEPWATCH_* environment variables, validated once with typebox.
// A bad value stops start-up with one line naming the setting.
import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parseAllowList } from "./core/netrange";

export const ConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: "TCP port to listen on" }),
  host: Type.String({ minLength: 1, default: "0.0.0.0", description: "address to bind" }),
  dataDir: Type.String({ minLength: 1, default: "./data", description: "directory holding keepwatch.db" }),
  rateLimit: Type.Number({ minimum: 0, default: 10, description: "default requests/s per key (0 = unlimited)" }),
  rateBurst: Type.Integer({ minimum: 1, default: 50, description: "default token-bucket size per key" }),
  bodyLimit: Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024, default: 1024 * 1024, description: "largest request body in bytes" }),
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
  webhookConcurrency: Type.Integer({ minimum: 1, maximum: 1024, default: 64, description: "deliveries in flight at once" }),
  webhookMaxInflight: Type.Integer({ minimum: 1, maximum: 1024, default: 32, description: "deliveries in flight to one webhook at once (keeps a slow receiver from taking every slot)" }),
  jobLease: Type.Number({ minimum: 1, maximum: 3600, default: 120, description: "seconds a claimed job is leased before another worker may take it" }),
  secretOverlap: Type.Number({ minimum: 0, default: 24, description: "hours a rotated webhook secret keeps signing" }),
  deliveryRetention: Type.Number({ minimum: 0.001, default: 30, description: "days of webhook delivery history kept" }),
  webhookAutoDisable: Type.Integer({ minimum: 0, default: 100, description: "consecutive failed messages that disable a webhook (0 = never)" }),
  // retention (see src/store/retention.ts): pruned hourly in small batches, 0 = keep forever
  eventRetention: Type.Number({ minimum: 0, maximum: 36_500, default: 30, description: "days of events kept (events of alerts not closed are kept; 0 = forever)" }),
  pingRetention: Type.Number({ minimum: 0, maximum: 36_500, default: 30, description: "days of heartbeat pings kept (0 = forever)" }),
});
export type Config = Static<typeof ConfigSchema>;

/** setting name → [flag, env var] */
export const SETTINGS: Record<keyof Config, { flag: string; env: string }> = {
  port: { flag: "--port", env: "KEEPWATCH_PORT" },
  host: { flag: "--host", env: "KEEPWATCH_HOST" },
  dataDir: { flag: "--data-dir", env: "KEEPWATCH_DATA_DIR" },
  rateLimit: { flag: "--rate-limit", env: "KEEPWATCH_RATE_LIMIT" },
  rateBurst: { flag: "--rate-burst", env: "KEEPWATCH_RATE_BURST" },
  bodyLimit: { flag: "--body-limit", env: "KEEPWATCH_BODY_LIMIT" },
  maxItems: { flag: "--max-items", env: "KEEPWATCH_MAX_ITEMS" },
  logLevel: { flag: "--log-level", env: "KEEPWATCH_LOG_LEVEL" },
  durability: { flag: "--durability", env: "KEEPWATCH_DURABILITY" },
  busyTimeout: { flag: "--busy-timeout", env: "KEEPWATCH_BUSY_TIMEOUT" },
  keyOverlap: { flag: "--key-overlap", env: "KEEPWATCH_KEY_OVERLAP" },
  shutdownTimeout: { flag: "--shutdown-timeout", env: "KEEPWATCH_SHUTDOWN_TIMEOUT" },
  outboundAllow: { flag: "--outbound-allow", env: "KEEPWATCH_OUTBOUND_ALLOW" },
  webhookConcurrency: { flag: "--webhook-concurrency", env: "KEEPWATCH_WEBHOOK_CONCURRENCY" },
  webhookMaxInflight: { flag: "--webhook-max-inflight", env: "KEEPWATCH_WEBHOOK_MAX_INFLIGHT" },
  jobLease: { flag: "--job-lease", env: "KEEPWATCH_JOB_LEASE" },
  secretOverlap: { flag: "--secret-overlap", env: "KEEPWATCH_SECRET_OVERLAP" },
  deliveryRetention: { flag: "--delivery-retention", env: "KEEPWATCH_DELIVERY_RETENTION" },
  webhookAutoDisable: { flag: "--webhook-auto-disable", env: "KEEPWATCH_WEBHOOK_AUTO_DISABLE" },
  eventRetention: { flag: "--event-retention", env: "KEEPWATCH_EVENT_RETENTION" },
  pingRetention: { flag: "--ping-retention", env: "KEEPWATCH_PING_RETENTION" },
};

export class ConfigError extends Error {}

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;

function coerce(name: keyof Config, raw: string): unknown {
  const schema = (ConfigSchema.properties as Record<string, any>)[name];
  if (name === "bodyLimit") {
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
): { config: Config; rest: string[]; explicit: Set<keyof Config> } {
  const raw: Partial<Record<keyof Config, unknown>> = {};
  const from: Partial<Record<keyof Config, string>> = {};
  for (const [name, s] of Object.entries(SETTINGS) as [keyof Config, { flag: string; env: string }][]) {
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
    const entry = (Object.entries(SETTINGS) as [keyof Config, { flag: string }][]).find(([, s]) => s.flag === flag);
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
    const name = first.path.replace(/^\//, "") as keyof Config;
    const s = SETTINGS[name];
    const where = from[name] ?? (s ? `${s.flag} / ${s.env}` : name);
    const sch = (ConfigSchema.properties as Record<string, any>)[name];
    const why = sch?.anyOf
      ? `must be one of ${sch.anyOf.map((a: any) => a.const).join(", ")}`
      : first.message.toLowerCase();
    throw new ConfigError(
      `invalid setting ${where}=${JSON.stringify(raw[name])}: ${why}${sch?.description ? ` (${sch.description})` : ""}`,
    );
  }
  try {
    parseAllowList((withDefaults as Config).outboundAllow);
  } catch (e) {
    throw new ConfigError(`invalid setting ${from.outboundAllow ?? "KEEPWATCH_OUTBOUND_ALLOW"}: ${(e as Error).message} (expected CIDRs such as 127.0.0.0/8, fd00::/8)`);
  }
  return { config: withDefaults as Config, rest, explicit: new Set(Object.keys(from) as (keyof Config)[]) };
}

export function settingsHelp(): string {
  return (Object.entries(SETTINGS) as [keyof Config, { flag: string; env: string }][])
    .map(([name, s]) => {
      const sch = (ConfigSchema.properties as Record<string, any>)[name];
      return `  ${(s.flag + " VALUE").padEnd(26)} ${s.env.padEnd(28)} ${sch.description} (default ${JSON.stringify(sch.default)})`;
    })
    .join("\n");
}
