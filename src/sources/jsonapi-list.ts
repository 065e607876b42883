// jsonapi-list: batches of JSON:API resource objects, the shape some appliances push
// (POST /api/v1/webhooks/jsonapi-list): a JSON array of {id, type, attributes, relationships},
// one event per element; a JSON:API document {"data": [...]} (or {"data": {...}}) works too.
//
// A connector, not an alert source: the elements of one batch are whatever the appliance keeps
// (detections, but also status changes, inventory, audit records), so opening an alert for every
// element would bury the real ones. Each element is an event; match rules decide which become
// alerts (e.g. type prefix "alerts." and severity >= high).
//
// The event type is `<type>.<attributes.type>` ("alerts.malware_detected"), or `<type>` alone;
// (type, id) is the dedup key, as JSON:API makes it the resource's identity.
import { Type } from "@sinclair/typebox";
import { mapSeverityScore, type Severity } from "../core/severity";
import { Extracted, ExternalId, externalIdOf, firstString, MAX_NAME, MAX_TEXT, MAX_TITLE, Tags, typeName, uniqueTags, vendorSeverity, vendorTime } from "./common";
import { ptr, schemaValidator, type ItemIssue, type NormalizedFields, type SourcePlugin } from "./types";

const RelId = Type.Object({ type: Type.String({ maxLength: MAX_NAME }), id: ExternalId }, { additionalProperties: true });

const Resource = Type.Object(
  {
    id: ExternalId,
    type: Type.String({ minLength: 1, maxLength: MAX_NAME, description: "the resource type (alerts, events, ...)" }),
    attributes: Type.Optional(
      Type.Object(
        {
          type: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_NAME })),
          title: Type.Optional(Type.String({ maxLength: MAX_TITLE })),
          name: Type.Optional(Type.String({ maxLength: MAX_TITLE })),
          summary: Type.Optional(Type.String({ maxLength: MAX_TEXT })),
          description: Type.Optional(Type.String({ maxLength: MAX_TEXT })),
          message: Type.Optional(Type.String({ maxLength: MAX_TEXT })),
          severity: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Number()])),
          host: Type.Optional(Type.String({ maxLength: MAX_NAME })),
          hostname: Type.Optional(Type.String({ maxLength: MAX_NAME })),
          source: Type.Optional(Type.String({ maxLength: MAX_NAME })),
          tags: Type.Optional(Tags),
        },
        { additionalProperties: true },
      ),
    ),
    relationships: Type.Optional(
      Type.Record(Type.String(), Type.Object({ data: Type.Optional(Type.Union([Type.Null(), RelId, Type.Array(RelId, { maxItems: 1000 })])) }, { additionalProperties: true })),
    ),
    meta: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: true },
);

const checkResource = schemaValidator(Resource);

// A union's generic wording ("must be a string of 1 to 256 characters or an integer") is replaced
// by what the union means here.
const UNION_MESSAGES: [RegExp, string][] = [
  [/^\/id$/, "must be a string or an integer (the resource id)"],
  [/^\/attributes\/severity$/, "must be a severity word or a number (0-10, or 0-100)"],
  [/^\/relationships\/[^/]+\/data$/, "must be null, a resource identifier {type, id}, or an array of them"],
];

function checkOne(x: unknown, at: string): ItemIssue[] {
  if (!x || typeof x !== "object" || Array.isArray(x)) return [{ path: at, message: `must be a JSON:API resource object {id, type, attributes}, got ${typeName(x)}` }];
  return checkResource(x).map((i) => {
    const m = /union| or /i.test(i.message) ? UNION_MESSAGES.find(([re]) => re.test(i.path)) : undefined;
    return { path: at + i.path, message: m ? m[1] : i.message };
  });
}

/** A JSON:API document ({data}) rather than one resource. */
const isDocument = (x: Record<string, unknown>) => "data" in x && !("type" in x) && !("id" in x);

const TIME_KEYS = ["occurred_at", "occurredAt", "timestamp", "created_at", "createdAt", "time", "date"];
const SEVERITY_KEYS = ["severity", "level", "priority"];
const INDICATOR_KEYS: [string, "ip" | "domain" | "url" | "email" | "account" | "hash_md5" | "hash_sha1" | "hash_sha256"][] = [
  ["ip", "ip"], ["ip_address", "ip"], ["src_ip", "ip"], ["source_ip", "ip"], ["dst_ip", "ip"], ["dest_ip", "ip"], ["destination_ip", "ip"], ["remote_ip", "ip"],
  ["domain", "domain"], ["fqdn", "domain"], ["hostname", "domain"],
  ["url", "url"], ["email", "email"], ["user_email", "email"], ["username", "account"], ["user", "account"], ["account", "account"],
  ["md5", "hash_md5"], ["sha1", "hash_sha1"], ["sha256", "hash_sha256"],
];

export const jsonapiList: SourcePlugin = {
  name: "jsonapi-list",
  describe: "Batches of JSON:API resource objects ([{id, type, attributes, relationships}] or {data: [...]}), one event per element; rules decide what becomes an alert.",
  kind: "connector",
  schema: Type.Union([Resource, Type.Object({ data: Type.Union([Type.Array(Resource, { minItems: 1, maxItems: 1000 }), Resource]) }, { additionalProperties: true })]),
  fields: [
    { path: "[] | data[]", maps_to: "one event each" },
    { path: "type + attributes.type", maps_to: "type (<type>.<attributes.type>)" },
    { path: "attributes.title | name | summary | message", maps_to: "title (first line)", note: "else \"<type> <id>\"" },
    { path: "attributes.description | summary | message", maps_to: "summary" },
    { path: "attributes.severity | level | priority", maps_to: "severity", note: "a word (info … critical), or a number 0-10 (0-100 when above 10) in bands" },
    { path: "attributes.occurred_at | timestamp | created_at | time (camelCase too) | meta.timestamp", maps_to: "occurred_at", note: "unparseable: received time plus a warning" },
    { path: "attributes.host | hostname", maps_to: "host" },
    { path: "attributes.source", maps_to: "source (default jsonapi-list)" },
    { path: "attributes.tags, relationships.<name>.data", maps_to: "tags (relationships as name=type/id)" },
    { path: "type:id", maps_to: "dedup key" },
    { path: "attributes.ip, src_ip, dst_ip, domain, hostname, url, email, username, md5, sha1, sha256, hash", maps_to: "indicators (extracted)" },
  ],
  looksLike: (x) =>
    (typeof x.type === "string" && "id" in x && !!x.attributes && typeof x.attributes === "object") ||
    (isDocument(x) && Array.isArray(x.data) && !!x.data[0] && typeof x.data[0] === "object" && "type" in x.data[0]),
  validate(item) {
    const x = item as Record<string, unknown>;
    if (!isDocument(x)) return checkOne(x, "");
    const d = x.data;
    if (Array.isArray(d)) {
      if (d.length === 0) return [{ path: "/data", message: "must hold at least one resource" }];
      if (d.length > 1000) return [{ path: "/data", message: "has more than 1000 items" }];
      const out: ItemIssue[] = [];
      for (let i = 0; i < d.length && out.length < 20; i++) out.push(...checkOne(d[i], ptr("data", i)));
      return out;
    }
    return checkOne(d, "/data");
  },
  expand(x: Record<string, unknown>) {
    if (!isDocument(x)) return [x];
    return Array.isArray(x.data) ? x.data : [x.data];
  },
  normalize(x: any): NormalizedFields {
    const at: Record<string, unknown> = x.attributes ?? {};
    const warnings: string[] = [];
    const id = externalIdOf(x.id)!;
    const firstLine = (v: string | null) => (v === null ? null : v.split("\n", 1)[0].slice(0, MAX_TITLE));

    let sev: { severity: Severity; raw: string | null } = { severity: "unknown", raw: null };
    const sevKey = SEVERITY_KEYS.find((k) => at[k] !== undefined && at[k] !== null);
    if (sevKey) {
      const v = at[sevKey];
      if (typeof v === "number" && Number.isFinite(v)) sev = { severity: mapSeverityScore(v, v > 10 ? 100 : 10), raw: String(v) };
      else sev = vendorSeverity(v, `attributes.${sevKey}`, warnings);
    }

    const timeKey = TIME_KEYS.find((k) => at[k] !== undefined && at[k] !== null);
    const occurredAt = timeKey
      ? vendorTime(at[timeKey], `attributes.${timeKey}`, warnings)
      : x.meta?.timestamp !== undefined
        ? vendorTime(x.meta.timestamp, "meta.timestamp", warnings)
        : null;

    const tags: unknown[] = Array.isArray(at.tags) ? [...at.tags] : [];
    if (x.relationships && typeof x.relationships === "object")
      for (const [name, rel] of Object.entries(x.relationships as Record<string, any>)) {
        const data = rel?.data;
        for (const r of (Array.isArray(data) ? data : data ? [data] : []).slice(0, 10)) tags.push(`${name}=${r.type}/${r.id}`);
      }

    const ex = new Extracted();
    for (const [k, type] of INDICATOR_KEYS) ex.addAll(type, at[k]);
    ex.addHash(at.hash ?? at.file_hash);

    const sub = typeof at.type === "string" && at.type !== "" ? `${x.type}.${at.type}` : x.type;
    return {
      occurredAt,
      source: firstString(at.source) ?? "jsonapi-list",
      type: sub,
      module: x.type,
      title: firstLine(firstString(at.title, at.name, at.summary, at.message)) ?? `${x.type} ${id}`,
      summary: firstString(at.description, at.summary, at.message) ?? "",
      severity: sev.severity,
      severityRaw: sev.raw,
      host: firstString(at.host, at.hostname),
      tags: uniqueTags(tags).slice(0, 50),
      payload: x,
      dedupKey: `${x.type}:${id}`,
      externalId: null,
      indicators: ex.list,
      warnings,
      resolve: false,
    };
  },
};
