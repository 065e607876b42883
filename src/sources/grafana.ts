// grafana: Grafana Alerting's webhook contact point. The payload is Alertmanager's (v4 envelope,
// alerts[]) plus orgId, title, state, message, and per alert values, valueString, silenceURL,
// dashboardURL, panelURL, imageURL. One event per alert; the fingerprint is the dedup key;
// "resolved" closes the alert. Labels carry no severity unless the rule sets one.
//
//   Contact point → Webhook → URL https://keepwatch.example/v1/ingest/grafana,
//   Authorization header: "Bearer kw_…" (an ingest key)
import { Type } from "@sinclair/typebox";
import { Alert, Labels, normalizeAlert, type Unit } from "./alertmanager";
import { schemaValidator, type SourcePlugin } from "./types";

const GrafanaAlert = Type.Composite([
  Alert,
  Type.Object({
    values: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Number()), Type.Null()])),
    valueString: Type.Optional(Type.String({ maxLength: 65_536 })),
    silenceURL: Type.Optional(Type.String({ maxLength: 4096 })),
    dashboardURL: Type.Optional(Type.String({ maxLength: 4096 })),
    panelURL: Type.Optional(Type.String({ maxLength: 4096 })),
    imageURL: Type.Optional(Type.String({ maxLength: 4096 })),
  }),
], { additionalProperties: true });

const Notification = Type.Object(
  {
    receiver: Type.Optional(Type.String({ maxLength: 256 })),
    status: Type.Union([Type.Literal("firing"), Type.Literal("resolved")]),
    orgId: Type.Integer(),
    alerts: Type.Array(GrafanaAlert, { minItems: 1, maxItems: 1000 }),
    groupLabels: Type.Optional(Labels),
    commonLabels: Type.Optional(Labels),
    commonAnnotations: Type.Optional(Labels),
    externalURL: Type.Optional(Type.String({ maxLength: 4096 })),
    version: Type.Optional(Type.String()),
    groupKey: Type.Optional(Type.String({ maxLength: 4096 })),
    truncatedAlerts: Type.Optional(Type.Integer({ minimum: 0 })),
    title: Type.Optional(Type.String({ maxLength: 4096 })),
    state: Type.Optional(Type.String({ maxLength: 64 })),
    message: Type.Optional(Type.String({ maxLength: 65_536 })),
  },
  { additionalProperties: true },
);

export const grafana: SourcePlugin = {
  name: "grafana",
  describe: "Grafana Alerting webhook contact point: one event per alert, resolved alerts close theirs.",
  kind: "alert",
  schema: Notification,
  fields: [
    { path: "alerts[]", maps_to: "one event each" },
    { path: "alerts[].annotations.summary | labels.alertname", maps_to: "title" },
    { path: "alerts[].annotations.description", maps_to: "summary" },
    { path: "alerts[].labels.severity", maps_to: "severity", note: "unknown when the rule sets no severity label" },
    { path: "alerts[].startsAt", maps_to: "occurred_at" },
    { path: "alerts[].labels", maps_to: "tags (key=value)" },
    { path: "alerts[].fingerprint", maps_to: "dedup key (repeats join one alert)" },
    { path: "alerts[].status = resolved", maps_to: "resolve signal: closes the alert as resolved" },
    { path: "alerts[].values, valueString, dashboardURL, panelURL, silenceURL", maps_to: "payload" },
    { path: "receiver", maps_to: "source" },
  ],
  looksLike: (x) => Array.isArray(x.alerts) && "orgId" in x,
  validate: schemaValidator(Notification),
  expand(n) {
    const ctx = { receiver: n.receiver, groupKey: n.groupKey, externalURL: n.externalURL, truncatedAlerts: n.truncatedAlerts, commonLabels: n.commonLabels, orgId: n.orgId };
    return (n.alerts as Unit["alert"][]).map((alert) => ({ ...ctx, alert }));
  },
  normalize: (u: Unit) => normalizeAlert(u, "grafana"),
};
