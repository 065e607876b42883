// generic: alerts from any system that can POST JSON (POST /v1/ingest/generic).
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
  MAX_TITLE,
  severityOf,
  Tags,
  uniqueTags,
} from "./common";
import { schemaValidator, type SourcePlugin } from "./types";

const GenericAlert = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: MAX_TITLE, description: "alert title" }),
    severity: Type.Optional(Type.String({ description: "Informational, Low, Medium, High, Critical (default Pending)" })),
    occurred_at: Type.Optional(Type.Union([Type.String(), Type.Number()], { description: "ISO 8601 (default: now)" })),
    description: Type.Optional(Type.String({ maxLength: MAX_TEXT })),
    tags: Type.Optional(Tags),
    source_rule_id: Type.Optional(Type.String({ maxLength: MAX_NAME })),
    source: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_NAME, description: "the sender's stable name" })),
    host: Type.Optional(Type.String({ maxLength: MAX_NAME })),
    indicators: Type.Optional(ExplicitIndicators),
    id: Type.Optional(ExternalId),
    event_id: Type.Optional(ExternalId),
  },
  { additionalProperties: true },
);

const check = schemaValidator(GenericAlert);
const SEVERITY_WORDS = "Informational, Low, Medium, High, Critical or Pending";

export const generic: SourcePlugin = {
  name: "generic",
  describe: "Alerts from any system that can POST JSON: title required, everything else optional.",
  kind: "alert",
  schema: GenericAlert,
  fields: [
    { path: "title", maps_to: "title" },
    { path: "severity", maps_to: "severity", note: SEVERITY_WORDS },
    { path: "occurred_at", maps_to: "occurred_at", note: "ISO 8601, default now" },
    { path: "description", maps_to: "summary" },
    { path: "tags", maps_to: "tags" },
    { path: "source_rule_id", maps_to: "payload.source_rule_id" },
    { path: "source", maps_to: "source", note: "default generic" },
    { path: "host", maps_to: "host" },
    { path: "indicators[]", maps_to: "indicators (explicit)" },
    { path: "id | event_id", maps_to: "dedup key (a repeat is stored once)" },
  ],
  looksLike: (x) => typeof x.title === "string" && !("alerts" in x) && !("orgId" in x),
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
    const sev = severityOf(it.severity, "unknown");
    const ext = externalIdOf(it.event_id, it.id);
    return {
      occurredAt: it.occurred_at !== undefined ? parseTime(it.occurred_at)!.ms : null,
      source: it.source ?? "generic",
      type: "alert.generic",
      module: "alert",
      title: it.title,
      summary: it.description ?? "",
      severity: sev.severity,
      severityRaw: sev.raw,
      host: it.host ?? null,
      tags: uniqueTags(it.tags),
      payload: it,
      dedupKey: ext,
      externalId: ext,
      indicators: explicitIndicators(it.indicators),
      warnings: [],
      resolve: false,
    };
  },
};
