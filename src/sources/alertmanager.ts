// alertmanager: Prometheus Alertmanager's webhook receiver payload (version 4). One event per
// alert; the alert's fingerprint is the dedup key (so repeats join one alert); status "resolved"
// is a resolve signal; labels.severity (none/info/warning/error/critical/page) maps onto the scale.
//
//   receivers:
//   - name: keepwatch
//     webhook_configs:
//     - url: https://keepwatch.example/v1/ingest/alertmanager
//       http_config: { authorization: { type: Bearer, credentials: kw_… } }
import { Type } from "@sinclair/typebox";
import { mapSeverityWord } from "../core/severity";
import { sha256Hex } from "../lib/crypto";
import { labelTags, vendorTime } from "./common";
import { schemaValidator, type NormalizedFields, type SourcePlugin } from "./types";

export const Labels = Type.Record(Type.String(), Type.String({ maxLength: 4096 }));

export const Alert = Type.Object(
  {
    status: Type.Union([Type.Literal("firing"), Type.Literal("resolved")]),
    labels: Labels,
    annotations: Type.Optional(Labels),
    startsAt: Type.Optional(Type.String()),
    endsAt: Type.Optional(Type.String()),
    generatorURL: Type.Optional(Type.String({ maxLength: 4096 })),
    fingerprint: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  },
  { additionalProperties: true },
);

const Webhook = Type.Object(
  {
    version: Type.Optional(Type.String()),
    status: Type.Union([Type.Literal("firing"), Type.Literal("resolved")]),
    receiver: Type.Optional(Type.String({ maxLength: 256 })),
    groupKey: Type.Optional(Type.String({ maxLength: 4096 })),
    truncatedAlerts: Type.Optional(Type.Integer({ minimum: 0 })),
    groupLabels: Type.Optional(Labels),
    commonLabels: Type.Optional(Labels),
    commonAnnotations: Type.Optional(Labels),
    externalURL: Type.Optional(Type.String({ maxLength: 4096 })),
    alerts: Type.Array(Alert, { minItems: 1, maxItems: 1000 }),
  },
  { additionalProperties: true },
);

const check = schemaValidator(Webhook);

/** One expanded alert: the alert with the notification's context. */
export type Unit = {
  receiver?: string;
  groupKey?: string;
  externalURL?: string;
  truncatedAlerts?: number;
  commonLabels?: Record<string, string>;
  alert: {
    status: "firing" | "resolved";
    labels: Record<string, string>;
    annotations?: Record<string, string>;
    startsAt?: string;
    endsAt?: string;
    generatorURL?: string;
    fingerprint?: string;
  };
};

export const alertmanager: SourcePlugin = {
  name: "alertmanager",
  describe: "Prometheus Alertmanager webhook_configs (payload version 4): one event per alert, resolved alerts close theirs.",
  kind: "alert",
  schema: Webhook,
  fields: [
    { path: "alerts[]", maps_to: "one event each" },
    { path: "alerts[].annotations.summary | labels.alertname", maps_to: "title" },
    { path: "alerts[].annotations.description", maps_to: "summary" },
    { path: "alerts[].labels.severity", maps_to: "severity", note: "none/info → info, warning → medium, error → high, critical/page → critical" },
    { path: "alerts[].startsAt", maps_to: "occurred_at" },
    { path: "alerts[].labels.instance", maps_to: "host" },
    { path: "alerts[].labels", maps_to: "tags (key=value)" },
    { path: "alerts[].fingerprint", maps_to: "dedup key (repeats join one alert)" },
    { path: "alerts[].status = resolved", maps_to: "resolve signal: closes the alert as resolved" },
    { path: "receiver", maps_to: "source" },
  ],
  looksLike: (x) => Array.isArray(x.alerts) && typeof x.status === "string" && !("orgId" in x),
  validate: check,
  expand(w) {
    const ctx = { receiver: w.receiver, groupKey: w.groupKey, externalURL: w.externalURL, truncatedAlerts: w.truncatedAlerts, commonLabels: w.commonLabels };
    return (w.alerts as Unit["alert"][]).map((alert) => ({ ...ctx, alert }));
  },
  normalize: (u: Unit) => normalizeAlert(u, "alertmanager"),
};

/** An Alertmanager-shaped alert (Alertmanager itself, Grafana) as keepwatch's normalized fields. */
export function normalizeAlert(u: Unit, sourceName: string): NormalizedFields {
  const a = u.alert;
  const warnings: string[] = [];
  const sevRaw = a.labels.severity ?? null;
  const severity = sevRaw === null ? "unknown" : (mapSeverityWord(sevRaw) ?? "unknown");
  if (sevRaw !== null && !mapSeverityWord(sevRaw)) warnings.push(`labels.severity "${sevRaw}" is not a severity we know; stored as unknown`);
  const name = a.labels.alertname ?? "alert";
  const fingerprint = a.fingerprint ?? sha256Hex(JSON.stringify(Object.entries(a.labels).sort())).slice(0, 16);
  return {
    occurredAt: vendorTime(a.startsAt, "alerts[].startsAt", warnings),
    source: u.receiver || sourceName,
    type: `${sourceName}.${a.status}`,
    module: "monitoring",
    title: a.annotations?.summary || name,
    summary: a.annotations?.description ?? a.annotations?.summary ?? "",
    severity,
    severityRaw: sevRaw,
    host: a.labels.instance ?? null,
    tags: labelTags(a.labels, ["alertname", "severity", "job", "instance"]),
    payload: a,
    dedupKey: fingerprint,
    externalId: null,
    indicators: [],
    warnings,
    resolve: a.status === "resolved",
  };
}
