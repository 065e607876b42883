// elastic: Kibana alerts (POST /v1/ingest/elastic), sent by a Kibana Webhook connector.
// Accepted:
//  - one Kibana alert document, with flat dotted keys ({"kibana.alert.rule.name": ..., "@timestamp":
//    ...}) as the alerts index stores them, or the same as nested objects ({kibana: {alert: {rule:
//    {name}}}}), or any mix;
//  - a connector body carrying several: {"rule": {...}, "date": ..., "context": {"alerts": [doc, ...]}}
//    (the template in docs/sources.md; `alerts` at the top works too), one event per alert (expand).
// kibana.alert.uuid is the dedup key (a rule's alert keeps its uuid while active); status
// "recovered" or workflow_status "closed" is a resolve signal. ECS fields become indicators.
import { Type } from "@sinclair/typebox";
import { mapSeverityScore } from "../core/severity";
import type { Indicator } from "../core/indicators";
import { checkString, dget, dotted, Extracted, firstString, MAX_NAME, MAX_TEXT, MAX_TITLE, typeName, uniqueTags, vendorSeverity, vendorTime } from "./common";
import { ptr, type ItemIssue, type NormalizedFields, type SourcePlugin } from "./types";

const RULE_NAME = "kibana.alert.rule.name";

// Documentation schema (GET /v1/sources, OpenAPI); validation is hand-written below because every
// field may be spelled flat or nested.
const AlertDoc = Type.Object(
  {
    "@timestamp": Type.Optional(Type.Union([Type.String(), Type.Number()])),
    [RULE_NAME]: Type.String({ maxLength: MAX_TITLE, description: "required (or rule.name of the connector body)" }),
    "kibana.alert.uuid": Type.Optional(Type.String({ maxLength: MAX_NAME })),
    "kibana.alert.severity": Type.Optional(Type.String()),
    "kibana.alert.risk_score": Type.Optional(Type.Number()),
    "kibana.alert.reason": Type.Optional(Type.String({ maxLength: MAX_TEXT })),
    "kibana.alert.status": Type.Optional(Type.String({ description: "active | recovered | untracked" })),
    "kibana.alert.workflow_status": Type.Optional(Type.String({ description: "open | acknowledged | closed" })),
  },
  { additionalProperties: true, description: "flat dotted keys or the same as nested objects" },
);
const Envelope = Type.Object(
  {
    rule: Type.Optional(Type.Object({ id: Type.Optional(Type.String()), name: Type.Optional(Type.String()), url: Type.Optional(Type.String()) }, { additionalProperties: true })),
    date: Type.Optional(Type.String()),
    context: Type.Object({ alerts: Type.Array(AlertDoc, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: true }),
  },
  { additionalProperties: true },
);

/** The alerts array of a connector body (`context.alerts`, or `alerts`), with its pointer. */
function alertsOf(x: Record<string, unknown>): { value: unknown; at: string } | undefined {
  return dotted(x, "context.alerts") ?? (Array.isArray(x.alerts) ? { value: x.alerts, at: "/alerts" } : undefined);
}

/**
 * Type checks of the fields we read, wherever they are spelled (flat or nested). Values are read
 * with the fast `dget`; the JSON pointer is looked up only for a field that is wrong.
 */
function checkDoc(doc: unknown, base: string, ruleFromEnvelope: boolean): ItemIssue[] {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return [{ path: base, message: `must be a Kibana alert document (an object), got ${typeName(doc)}` }];
  const out: ItemIssue[] = [];
  const at = (f: string) => dotted(doc, f, base)?.at ?? base + ptr(f);
  const str = (f: string, max: number, required = false) => {
    const v = dget(doc, f);
    if (v === undefined) {
      if (required) out.push({ path: base + ptr(f), message: "is required (the Kibana rule's name)" });
      return;
    }
    if (v === null && !required) return;
    if (typeof v === "string" && v.length <= max && (v !== "" || !required)) return;
    out.push(...checkString(v, at(f), { max, required, nullable: true }));
  };
  str(RULE_NAME, MAX_TITLE, !ruleFromEnvelope);
  str("kibana.alert.uuid", MAX_NAME);
  str("kibana.alert.severity", 64);
  str("kibana.alert.rule.severity", 64);
  str("kibana.alert.reason", MAX_TEXT);
  str("kibana.alert.rule.description", MAX_TEXT);
  str("kibana.alert.status", 64);
  str("kibana.alert.workflow_status", 64);
  const risk = dget(doc, "kibana.alert.risk_score");
  if (risk !== undefined && risk !== null && typeof risk !== "number") out.push({ path: at("kibana.alert.risk_score"), message: `must be a number, got ${typeName(risk)}` });
  const ts = dget(doc, "@timestamp");
  if (ts !== undefined && typeof ts !== "string" && typeof ts !== "number") out.push({ path: at("@timestamp"), message: `must be a timestamp string or epoch number, got ${typeName(ts)}` });
  const tags = dget(doc, "kibana.alert.rule.tags");
  if (tags !== undefined && tags !== null && !(Array.isArray(tags) && tags.every((t) => typeof t === "string")))
    out.push({ path: at("kibana.alert.rule.tags"), message: "must be an array of strings" });
  return out;
}

// Events made from a connector body's alerts: {rule, date, alert}. Marked so that normalize can
// tell them from a bare alert document (which is normalized as sent).
const fromEnvelope = new WeakSet<object>();
type Unit = { rule?: Record<string, unknown>; date?: unknown; kibanaBaseUrl?: unknown; alert: Record<string, unknown> };

export const elastic: SourcePlugin = {
  name: "elastic",
  describe: "Kibana alerts through a Webhook connector: one alert document (flat dotted keys or nested), or context.alerts[] (one event each). ECS fields become indicators.",
  kind: "alert",
  schema: Type.Union([AlertDoc, Envelope]),
  fields: [
    { path: "context.alerts[] | alerts[]", maps_to: "one event each (else the body is one alert document)" },
    { path: "kibana.alert.rule.name (else rule.name of the body)", maps_to: "title" },
    { path: "kibana.alert.reason | kibana.alert.rule.description | message", maps_to: "summary" },
    { path: "kibana.alert.severity | kibana.alert.rule.severity", maps_to: "severity", note: "low, medium, high, critical; else kibana.alert.risk_score 0-100 in bands" },
    { path: "@timestamp | kibana.alert.start | date", maps_to: "occurred_at", note: "unparseable: received time plus a warning" },
    { path: "host.name | host.hostname", maps_to: "host" },
    { path: "kibana.alert.rule.tags, rule.tags", maps_to: "tags" },
    { path: "kibana.alert.uuid | kibana.alert.rule.uuid:kibana.alert.instance.id", maps_to: "dedup key" },
    { path: "kibana.alert.status = recovered | kibana.alert.action_group = recovered | kibana.alert.workflow_status = closed", maps_to: "resolve signal" },
    {
      path: "source.ip, destination.ip, client.ip, server.ip, host.ip, host.name, dns.question.name, url.full, url.domain, user.name, user.email, file.hash.*, process.hash.*",
      maps_to: "indicators (extracted)",
      note: "every key flat or nested",
    },
  ],
  looksLike: (x) => dget(x, RULE_NAME) !== undefined || Array.isArray(dget(x, "context.alerts")),
  validate(item) {
    const x = item as Record<string, unknown>;
    const list = alertsOf(x);
    if (!list) return checkDoc(x, "", false);
    const out: ItemIssue[] = [];
    const ruleName = dotted(x, "rule.name");
    if (ruleName) out.push(...checkString(ruleName.value, ruleName.at, { max: MAX_TITLE, nullable: true }));
    const hasRule = typeof ruleName?.value === "string" && ruleName.value !== "";
    if (!Array.isArray(list.value)) return [...out, { path: list.at, message: `must be an array of Kibana alert documents, got ${typeName(list.value)}` }];
    if (list.value.length === 0) return [...out, { path: list.at, message: "must hold at least one alert" }];
    if (list.value.length > 1000) return [...out, { path: list.at, message: "has more than 1000 items" }];
    list.value.forEach((d, i) => {
      if (out.length < 20) out.push(...checkDoc(d, list.at + ptr(i), hasRule));
    });
    return out;
  },
  expand(x: Record<string, unknown>) {
    const list = alertsOf(x);
    if (!list) return [x];
    const rule = x.rule && typeof x.rule === "object" ? (x.rule as Record<string, unknown>) : undefined;
    return (list.value as Record<string, unknown>[]).map((alert) => {
      const u: Unit = { ...(rule ? { rule } : {}), ...(x.date !== undefined ? { date: x.date } : {}), alert };
      fromEnvelope.add(u);
      return u;
    });
  },
  normalize(u: Record<string, unknown>): NormalizedFields {
    const wrapped = fromEnvelope.has(u);
    const doc = wrapped ? (u as Unit).alert : u;
    const rule = wrapped ? (u as Unit).rule : undefined;
    const f = (path: string) => dget(doc, path);
    const warnings: string[] = [];

    let sev = vendorSeverity(f("kibana.alert.severity") ?? f("kibana.alert.rule.severity"), "kibana.alert.severity", warnings);
    const risk = f("kibana.alert.risk_score");
    if (sev.raw === null && typeof risk === "number") sev = { severity: mapSeverityScore(risk, 100), raw: String(risk) };

    const tsField = f("@timestamp") !== undefined ? "@timestamp" : f("kibana.alert.start") !== undefined ? "kibana.alert.start" : null;
    const occurredAt = tsField
      ? vendorTime(f(tsField), tsField, warnings)
      : wrapped
        ? vendorTime((u as Unit).date, "date", warnings)
        : null;

    const status = firstString(f("kibana.alert.status")) ?? (f("kibana.alert.action_group") === "recovered" ? "recovered" : "active");
    const workflow = firstString(f("kibana.alert.workflow_status"));
    const producer = firstString(f("kibana.alert.rule.producer"), f("kibana.alert.rule.consumer"));
    const hostName = f("host.name") ?? f("host.hostname");
    const ruleUuid = firstString(f("kibana.alert.rule.uuid"), rule?.id);
    const instance = firstString(f("kibana.alert.instance.id"));

    const tags: unknown[] = [];
    for (const t of [f("kibana.alert.rule.tags"), rule?.tags]) if (Array.isArray(t)) tags.push(...t);

    const x = new Extracted();
    for (const [path, type] of ECS) x.addAll(type, f(path));

    return {
      occurredAt,
      source: "kibana",
      type: `elastic.${status.toLowerCase()}`,
      module: producer === "siem" || producer === "securitySolution" ? "security" : producer ? "monitoring" : "alert",
      title: firstString(f(RULE_NAME), rule?.name) ?? "Kibana alert",
      summary: firstString(f("kibana.alert.reason"), f("kibana.alert.rule.description"), f("message")) ?? "",
      severity: sev.severity,
      severityRaw: sev.raw,
      host: firstString(Array.isArray(hostName) ? hostName[0] : hostName),
      tags: uniqueTags(tags).slice(0, 50),
      payload: doc,
      dedupKey: firstString(f("kibana.alert.uuid")) ?? (ruleUuid && instance ? `${ruleUuid}:${instance}` : null) ?? firstString(doc._id),
      externalId: null,
      indicators: x.list,
      warnings,
      // recovered: the alerts-as-data status, or the action group of a per-alert recovery action
      resolve: status.toLowerCase() === "recovered" || f("kibana.alert.action_group") === "recovered" || workflow?.toLowerCase() === "closed",
    };
  },
};

/** ECS fields that carry indicators (each may be flat or nested, one value or an array). */
const ECS: [string, Indicator["type"]][] = [
  ["source.ip", "ip"],
  ["destination.ip", "ip"],
  ["client.ip", "ip"],
  ["server.ip", "ip"],
  ["host.ip", "ip"],
  ["host.name", "domain"], // kept only when it is a fully qualified name
  ["dns.question.name", "domain"],
  ["url.domain", "domain"],
  ["destination.domain", "domain"],
  ["url.full", "url"],
  ["url.original", "url"],
  ["user.name", "account"],
  ["user.email", "email"],
  ["file.hash.md5", "hash_md5"],
  ["file.hash.sha1", "hash_sha1"],
  ["file.hash.sha256", "hash_sha256"],
  ["process.hash.md5", "hash_md5"],
  ["process.hash.sha1", "hash_sha1"],
  ["process.hash.sha256", "hash_sha256"],
];
