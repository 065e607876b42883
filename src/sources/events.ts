// events: the event envelope of POST /api/v1/events
// {type, module, source, summary, severity, payload, occurred_at?, id?}.
import { Type } from "@sinclair/typebox";
import { parseTime } from "../lib/time";
import {
  checkExplicitIndicators,
  checkOwnTime,
  checkSeverityWord,
  explicitIndicators,
  ExplicitIndicators,
  ExternalId,
  externalIdOf,
  MAX_NAME,
  MAX_TEXT,
  severityOf,
  Tags,
  uniqueTags,
} from "./common";
import { schemaValidator, type SourcePlugin } from "./types";

const Envelope = Type.Object(
  {
    type: Type.String({ minLength: 1, maxLength: MAX_NAME, description: "<system>.<verb>, e.g. deploy.failed" }),
    module: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_NAME, description: "routing category (default custom)" })),
    source: Type.String({ minLength: 1, maxLength: MAX_NAME, description: "stable identifier of the sender" }),
    summary: Type.Optional(Type.String({ maxLength: MAX_TEXT, description: "one human-readable line" })),
    severity: Type.Optional(Type.String({ description: "info, warning, critical (or error, low, high, ...); default info" })),
    payload: Type.Optional(Type.Unknown({ description: "any JSON carried along" })),
    occurred_at: Type.Optional(Type.Union([Type.String(), Type.Number()], { description: "ISO 8601 or epoch; default now" })),
    id: Type.Optional(ExternalId),
    host: Type.Optional(Type.String({ maxLength: MAX_NAME })),
    tags: Type.Optional(Tags),
    indicators: Type.Optional(ExplicitIndicators),
  },
  { additionalProperties: true },
);

const check = schemaValidator(Envelope);
const SEVERITY_WORDS = "info, warning, critical, or low, medium, high, error";

export const eventsEnvelope: SourcePlugin = {
  name: "events",
  describe: "The event envelope of POST /api/v1/events: {type, module, source, summary, severity, payload}.",
  kind: "event",
  schema: Envelope,
  fields: [
    { path: "type", maps_to: "type" },
    { path: "module", maps_to: "module", note: "default custom" },
    { path: "source", maps_to: "source" },
    { path: "summary", maps_to: "title and summary", note: "title falls back to type" },
    { path: "severity", maps_to: "severity", note: "default info" },
    { path: "payload", maps_to: "payload" },
    { path: "payload.host | host", maps_to: "host" },
    { path: "occurred_at", maps_to: "occurred_at", note: "default now" },
    { path: "id", maps_to: "dedup key (a repeat is stored once)" },
  ],
  looksLike: (x) => typeof x.type === "string" && typeof x.source === "string",
  validate(item) {
    const issues = check(item);
    if (issues.length) return issues;
    const it = item as Record<string, unknown>;
    return [
      ...checkSeverityWord(it.severity, "/severity", SEVERITY_WORDS),
      ...checkOwnTime(it.occurred_at, "/occurred_at"),
      ...checkExplicitIndicators(it.indicators, "/indicators"),
    ];
  },
  normalize(it) {
    const sev = severityOf(it.severity, "info");
    const ext = externalIdOf(it.id);
    const payload = it.payload === undefined ? {} : it.payload;
    const payloadHost = payload && typeof payload === "object" && typeof (payload as any).host === "string" ? (payload as any).host : null;
    return {
      occurredAt: it.occurred_at !== undefined ? parseTime(it.occurred_at)!.ms : null,
      source: it.source,
      type: it.type,
      module: it.module ?? "custom",
      title: it.summary || it.type,
      summary: it.summary ?? "",
      severity: sev.severity,
      severityRaw: sev.raw,
      host: it.host ?? payloadHost,
      tags: uniqueTags(it.tags),
      payload,
      dedupKey: ext,
      externalId: ext,
      indicators: explicitIndicators(it.indicators),
      warnings: [],
      resolve: false,
    };
  },
};
