// syslog: the connector for custom telemetry, POST /api/v1/webhooks/syslog
// {source, timestamp, severity, message, host, details} (one object or an array).
import { Type } from "@sinclair/typebox";
import { parseTime } from "../lib/time";
import type { Severity } from "../core/severity";
import { checkOwnTime, ExternalId, externalIdOf, MAX_NAME, MAX_TEXT, Tags, uniqueTags } from "./common";
import { schemaValidator, type SourcePlugin } from "./types";

// RFC 5424 severities by name and number, onto the scale.
// A Map, so that user text never reaches Object.prototype ("constructor" is not a level).
const SYSLOG = new Map<string, Severity>(Object.entries({
  emerg: "critical", emergency: "critical", "0": "critical",
  alert: "critical", "1": "critical",
  crit: "critical", critical: "critical", "2": "critical",
  err: "high", error: "high", "3": "high",
  warning: "medium", warn: "medium", "4": "medium",
  notice: "low", "5": "low",
  info: "info", informational: "info", "6": "info",
  debug: "info", "7": "info",
} satisfies Record<string, Severity>));
const SEVERITY_WORDS = "emerg, alert, crit, err, warning, notice, info, debug, or 0-7";

const Record_ = Type.Object(
  {
    source: Type.String({ minLength: 1, maxLength: MAX_NAME, description: "the sender's stable name (app or service)" }),
    message: Type.String({ minLength: 1, maxLength: MAX_TEXT }),
    timestamp: Type.Optional(Type.Union([Type.String(), Type.Number()], { description: "ISO 8601 / RFC 3339 or epoch; default now" })),
    severity: Type.Optional(Type.Union([Type.String(), Type.Integer({ minimum: 0, maximum: 7 })], { description: SEVERITY_WORDS })),
    host: Type.Optional(Type.String({ maxLength: MAX_NAME })),
    facility: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Integer({ minimum: 0, maximum: 23 })])),
    app: Type.Optional(Type.String({ maxLength: MAX_NAME })),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "anything else, kept as the payload" })),
    tags: Type.Optional(Tags),
    id: Type.Optional(ExternalId),
  },
  { additionalProperties: true },
);

const check = schemaValidator(Record_);

export const syslog: SourcePlugin = {
  name: "syslog",
  describe: "Custom telemetry, syslog-style: {source, timestamp, severity, message, host, details}.",
  kind: "connector",
  schema: Record_,
  fields: [
    { path: "source", maps_to: "source" },
    { path: "message", maps_to: "title (first line) and summary" },
    { path: "severity", maps_to: "severity", note: SEVERITY_WORDS },
    { path: "timestamp", maps_to: "occurred_at", note: "default now" },
    { path: "host", maps_to: "host" },
    { path: "details", maps_to: "payload" },
    { path: "id", maps_to: "dedup key (a repeat is stored once)" },
  ],
  looksLike: (x) => typeof x.message === "string" && typeof x.source === "string" && !("type" in x),
  validate(item) {
    const issues = check(item);
    if (issues.length) return issues;
    const it = item as Record<string, unknown>;
    const sev = it.severity;
    if (sev !== undefined && !SYSLOG.has(String(sev).toLowerCase()))
      issues.push({ path: "/severity", message: `is not a syslog severity (use ${SEVERITY_WORDS})` });
    return [...issues, ...checkOwnTime(it.timestamp, "/timestamp")];
  },
  normalize(it) {
    const raw = it.severity === undefined ? null : String(it.severity);
    const ext = externalIdOf(it.id);
    const firstLine = String(it.message).split("\n", 1)[0].slice(0, 1024);
    return {
      occurredAt: it.timestamp !== undefined ? parseTime(it.timestamp)!.ms : null,
      source: it.source,
      type: "syslog.message",
      module: "telemetry",
      title: firstLine,
      summary: it.message,
      severity: raw === null ? "info" : SYSLOG.get(raw.toLowerCase())!,
      severityRaw: raw,
      host: it.host ?? null,
      tags: uniqueTags(it.tags),
      payload: it.details ?? {},
      dedupKey: ext,
      externalId: ext,
      indicators: [],
      warnings: [],
      resolve: false,
    };
  },
};
