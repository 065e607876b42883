// sentinel: Microsoft Sentinel incidents (POST /v1/ingest/sentinel). Three shapes are accepted:
//  1. the Logic App "Microsoft Sentinel incident" trigger body, posted whole by an HTTP action:
//     {eventUniqueId, objectSchemaType, objectEventType, workspaceInfo, object: {id, name, etag,
//     properties: {title, severity, status, labels, firstActivityTimeUtc, createdTimeUtc,
//     relatedAnalyticRuleIds, relatedEntities, alerts, additionalData, ...}}};
//  2. the bare REST incident (GET .../Microsoft.SecurityInsights/incidents/{id}): {id, name, etag,
//     properties: {...}} — properties at the top;
//  3. a user's own flat JSON (a Logic App Compose step, a SecurityIncident / SecurityAlert row):
//     {title | AlertDisplayName, severity, status, entities, ...}, keys in any case.
// The incident's name (its GUID) is the dedup key, so every update of one incident joins one alert;
// status Closed is a resolve signal. relatedEntities (IP, account, host, URL, file hash, DNS,
// mailbox, mail message, in the REST camelCase or the SecurityAlert PascalCase spelling) become
// extracted indicators.
import { Type } from "@sinclair/typebox";
import {
  Extracted,
  externalIdOf,
  firstString,
  lowerKeys,
  MAX_NAME,
  MAX_TEXT,
  MAX_TITLE,
  typeName,
  uniqueTags,
  vendorSeverity,
  vendorTime,
} from "./common";
import { ptr, schemaValidator, type ItemIssue, type NormalizedFields, type SourcePlugin } from "./types";

const Str = (max: number) => Type.Optional(Type.Union([Type.String({ maxLength: max }), Type.Null()]));

const Entity = Type.Object(
  {
    kind: Type.Optional(Type.String({ maxLength: 64 })),
    properties: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: true },
);

const IncidentProperties = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: MAX_TITLE }),
    severity: Type.String({ minLength: 1, maxLength: 64, description: "High, Medium, Low, Informational" }),
    status: Str(64),
    description: Str(MAX_TEXT),
    classification: Str(64),
    labels: Type.Optional(Type.Array(Type.Object({ labelName: Type.String({ minLength: 1, maxLength: MAX_NAME }) }, { additionalProperties: true }), { maxItems: 1000 })),
    firstActivityTimeUtc: Str(64),
    lastActivityTimeUtc: Str(64),
    createdTimeUtc: Str(64),
    incidentNumber: Type.Optional(Type.Integer()),
    incidentUrl: Str(4096),
    providerIncidentId: Str(MAX_NAME),
    relatedAnalyticRuleIds: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 1000 })),
    relatedEntities: Type.Optional(Type.Array(Entity, { maxItems: 1000 })),
    alerts: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 1000 })),
    additionalData: Type.Optional(
      Type.Object({ tactics: Type.Optional(Type.Array(Type.String({ maxLength: MAX_NAME }), { maxItems: 100 })) }, { additionalProperties: true }),
    ),
  },
  { additionalProperties: true },
);

const IncidentResource = {
  id: Str(4096),
  name: Str(MAX_NAME),
  etag: Str(MAX_NAME),
  properties: IncidentProperties,
};

/** The bare REST incident: properties at the top. */
const RestIncident = Type.Object({ ...IncidentResource, entities: Type.Optional(Type.Array(Entity, { maxItems: 1000 })) }, { additionalProperties: true });

/** The Logic App incident trigger body. */
const LogicAppTrigger = Type.Object(
  {
    eventUniqueId: Str(MAX_NAME),
    objectSchemaType: Str(64),
    objectEventType: Str(64),
    workspaceId: Str(MAX_NAME),
    workspaceInfo: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    object: Type.Object(IncidentResource, { additionalProperties: true }),
  },
  { additionalProperties: true },
);

// Documentation schema (GET /v1/sources and OpenAPI): one of the three shapes.
const SentinelItem = Type.Union([
  LogicAppTrigger,
  RestIncident,
  Type.Object(
    {
      title: Type.String({ description: "or AlertDisplayName / DisplayName; any key case" }),
      severity: Type.Optional(Type.String()),
      status: Type.Optional(Type.String()),
      entities: Type.Optional(Type.Union([Type.Array(Entity), Type.String({ description: "a JSON array, as in the SecurityAlert table" })])),
    },
    { additionalProperties: true },
  ),
]);

const checkLogicApp = schemaValidator(LogicAppTrigger);
const checkRest = schemaValidator(RestIncident);

type Shape = "logicapp" | "rest" | "flat";
const shapeOf = (x: Record<string, unknown>): Shape => ("object" in x ? "logicapp" : "properties" in x ? "rest" : "flat");

// Flat JSON: the fields we read, by lower-cased key, in order of preference.
const FLAT = {
  title: ["title", "alertdisplayname", "displayname"],
  severity: ["severity", "alertseverity"],
  status: ["status"],
  description: ["description"],
  id: ["incidentname", "name", "incidentid", "id", "systemalertid", "incidentnumber"],
  time: ["firstactivitytimeutc", "firstactivitytime", "starttimeutc", "starttime", "createdtimeutc", "createdtime", "timegenerated"],
  entities: ["relatedentities", "entities"],
  labels: ["labels", "tags"],
  tactics: ["tactics"],
};

/** The original key (and value) of the first flat field present, whatever its case. */
function flatField(x: Record<string, unknown>, names: string[]): { key: string; value: unknown } | undefined {
  let byLower: Map<string, string> | undefined;
  for (const n of names) {
    if (Object.hasOwn(x, n)) return { key: n, value: x[n] };
    byLower ??= new Map(Object.keys(x).map((k) => [k.toLowerCase(), k]));
    const k = byLower.get(n);
    if (k !== undefined) return { key: k, value: x[k] };
  }
  return undefined;
}

function checkFlat(x: Record<string, unknown>): ItemIssue[] {
  const out: ItemIssue[] = [];
  const str = (names: string[], max: number, required = false) => {
    const f = flatField(x, names);
    if (!f || f.value === null) {
      if (required) out.push({ path: "/title", message: "is required (the incident's title; or AlertDisplayName)" });
      return;
    }
    if (typeof f.value !== "string") out.push({ path: ptr(f.key), message: `must be a string, got ${typeName(f.value)}` });
    else if (required && f.value === "") out.push({ path: ptr(f.key), message: "must not be empty" });
    else if (f.value.length > max) out.push({ path: ptr(f.key), message: `is longer than ${max} characters` });
  };
  str(FLAT.title, MAX_TITLE, true);
  str(FLAT.severity, 64);
  str(FLAT.status, 64);
  str(FLAT.description, MAX_TEXT);
  const ents = flatField(x, FLAT.entities);
  if (ents && ents.value !== null && !Array.isArray(ents.value) && typeof ents.value !== "string")
    out.push({ path: ptr(ents.key), message: `must be an array of entities (or the JSON text of one), got ${typeName(ents.value)}` });
  else if (Array.isArray(ents?.value) && ents.value.length > 1000) out.push({ path: ptr(ents!.key), message: "has more than 1000 items" });
  else if (Array.isArray(ents?.value))
    ents.value.forEach((e, i) => {
      if (!e || typeof e !== "object" || Array.isArray(e)) out.push({ path: ptr(ents.key, i), message: `must be an object, got ${typeName(e)}` });
    });
  const labels = flatField(x, FLAT.labels);
  if (labels && labels.value !== null && !Array.isArray(labels.value)) out.push({ path: ptr(labels.key), message: `must be an array, got ${typeName(labels.value)}` });
  return out;
}

export const sentinel: SourcePlugin = {
  name: "sentinel",
  describe: "Microsoft Sentinel incidents: the Logic App incident trigger body, the REST incident, or your own flat JSON. Entities become indicators; Closed resolves.",
  kind: "alert",
  schema: SentinelItem,
  fields: [
    { path: "object.properties (Logic App) | properties (REST) | the top level (flat)", maps_to: "the incident read below" },
    { path: "title (flat: or AlertDisplayName)", maps_to: "title" },
    { path: "description", maps_to: "summary" },
    { path: "severity", maps_to: "severity", note: "Informational → info, Low, Medium, High; unknown words → unknown with a warning" },
    { path: "status", maps_to: "type sentinel.<status>; Closed is a resolve signal (closes the alert)" },
    { path: "firstActivityTimeUtc | createdTimeUtc", maps_to: "occurred_at", note: "unparseable: received time plus a warning" },
    { path: "object.name | name (the incident GUID), else id / incidentNumber", maps_to: "dedup key (every update of an incident joins one alert)" },
    { path: "eventUniqueId (Logic App) | name@etag (REST)", maps_to: "external id (a re-delivery is stored once)" },
    { path: "labels[].labelName, additionalData.tactics", maps_to: "tags (tactic=...)" },
    { path: "relatedEntities[] (flat: entities, also as JSON text)", maps_to: "indicators: Ip.address, Account (name@upnSuffix), Host (fqdn → domain; hostName → host), Url, FileHash, DnsResolution, Mailbox, MailMessage" },
    { path: "workspaceInfo.WorkspaceName", maps_to: "source (default sentinel)" },
  ],
  looksLike: (x) => {
    const o = x.object as Record<string, unknown> | undefined;
    if (o && typeof o === "object" && o.properties && typeof o.properties === "object") return true;
    const p = x.properties as Record<string, unknown> | undefined;
    return !!p && typeof p === "object" && typeof p.title === "string" && ("severity" in p || "incidentNumber" in p);
  },
  validate(item) {
    const x = item as Record<string, unknown>;
    const shape = shapeOf(x);
    return shape === "logicapp" ? checkLogicApp(item) : shape === "rest" ? checkRest(item) : checkFlat(x);
  },
  normalize(x: Record<string, unknown>): NormalizedFields {
    const shape = shapeOf(x);
    return shape === "flat" ? normalizeFlat(x) : normalizeIncident(x, shape);
  },
};

function normalizeIncident(x: any, shape: "logicapp" | "rest"): NormalizedFields {
  const inc = shape === "logicapp" ? x.object : x;
  const p = inc.properties;
  const warnings: string[] = [];
  const sev = vendorSeverity(p.severity, "properties.severity", warnings);
  const occurredAt =
    p.firstActivityTimeUtc != null
      ? vendorTime(p.firstActivityTimeUtc, "properties.firstActivityTimeUtc", warnings)
      : vendorTime(p.createdTimeUtc, "properties.createdTimeUtc", warnings);
  const status = typeof p.status === "string" && p.status !== "" ? p.status : "New";
  const x_ = new Extracted();
  const host = entityIndicators(p.relatedEntities ?? inc.entities, x_);
  const tags: string[] = [];
  if (Array.isArray(p.labels)) for (const l of p.labels) tags.push(l.labelName);
  if (Array.isArray(p.additionalData?.tactics)) for (const t of p.additionalData.tactics) tags.push(`tactic=${t}`);
  const key = externalIdOf(inc.name, inc.id, p.providerIncidentId, p.incidentNumber);
  const externalId =
    shape === "logicapp" ? externalIdOf(x.eventUniqueId) : typeof inc.etag === "string" && key ? `${key}@${inc.etag}` : null;
  return {
    occurredAt,
    source: firstString(x.workspaceInfo?.WorkspaceName) ?? "sentinel",
    type: `sentinel.${status.toLowerCase()}`,
    module: "security",
    title: p.title,
    summary: p.description ?? "",
    severity: sev.severity,
    severityRaw: sev.raw,
    host,
    tags: uniqueTags(tags).slice(0, 50),
    payload: p,
    dedupKey: key,
    externalId,
    indicators: x_.list,
    warnings,
    resolve: status.toLowerCase() === "closed",
  };
}

function normalizeFlat(x: Record<string, unknown>): NormalizedFields {
  const get = (names: string[]) => flatField(x, names);
  const warnings: string[] = [];
  const sevF = get(FLAT.severity);
  const sev = vendorSeverity(sevF?.value, sevF?.key ?? "severity", warnings);
  const timeF = get(FLAT.time);
  const status = firstString(get(FLAT.status)?.value) ?? "New";
  let entities = get(FLAT.entities)?.value;
  if (typeof entities === "string") {
    // The SecurityAlert table keeps Entities as JSON text.
    try {
      entities = JSON.parse(entities);
    } catch {
      warnings.push("entities is not JSON; no indicators were taken from it");
      entities = undefined;
    }
  }
  const ex = new Extracted();
  const host = entityIndicators(entities, ex);
  const tags: string[] = [];
  const labels = get(FLAT.labels)?.value;
  if (Array.isArray(labels))
    for (const l of labels) {
      if (typeof l === "string") tags.push(l);
      else if (l && typeof (l as any).labelName === "string") tags.push((l as any).labelName);
    }
  const tactics = get(FLAT.tactics)?.value;
  if (Array.isArray(tactics)) for (const t of tactics) if (typeof t === "string") tags.push(`tactic=${t}`);
  return {
    occurredAt: timeF ? vendorTime(timeF.value, timeF.key, warnings) : null,
    source: firstString(x.source, x.workspaceName, x.WorkspaceName) ?? "sentinel",
    type: `sentinel.${status.toLowerCase()}`,
    module: "security",
    title: get(FLAT.title)!.value as string,
    summary: firstString(get(FLAT.description)?.value) ?? "",
    severity: sev.severity,
    severityRaw: sev.raw,
    host,
    tags: uniqueTags(tags).slice(0, 50),
    payload: x,
    dedupKey: externalIdOf(get(FLAT.id)?.value),
    externalId: null,
    indicators: ex.list,
    warnings,
    resolve: status.toLowerCase() === "closed",
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/**
 * Indicators from Sentinel entities (REST / Logic App: {kind, properties: {camelCase}};
 * SecurityAlert: {Type, PascalCase...}). Returns the first host's name for the event's host.
 */
function entityIndicators(list: unknown, x: Extracted): string | null {
  if (!Array.isArray(list)) return null;
  let host: string | null = null;
  for (const e of list.slice(0, 1000)) {
    if (!isObj(e)) continue;
    const kind = String(e.kind ?? e.Type ?? e.type ?? "").toLowerCase();
    // REST / Logic App entities spell properties in camelCase under `properties`; SecurityAlert
    // rows put them at the top in PascalCase (with oddities like UPNSuffix): look those up
    // case-insensitively, the camelCase ones directly (the common, fast case).
    const direct = isObj(e.properties);
    const props = direct ? (e.properties as Record<string, unknown>) : e;
    const lower = direct ? null : lowerKeys(e);
    const p = { get: (k: string) => (lower ? lower.get(k.toLowerCase()) : props[k]) };
    const s = (k: string) => {
      const v = p.get(k);
      return typeof v === "string" && v !== "" ? v : null;
    };
    switch (kind) {
      case "ip":
        x.add("ip", s("address"));
        break;
      case "account": {
        const name = s("accountName") ?? s("name");
        const upn = s("userPrincipalName") ?? s("upn");
        if (upn) x.add("account", upn);
        else if (name && s("upnSuffix")) x.add("account", `${name}@${s("upnSuffix")}`);
        else if (name && s("ntDomain")) x.add("account", `${s("ntDomain")}\\${name}`);
        else x.add("account", name);
        break;
      }
      case "host": {
        const name = s("hostName");
        const fqdn = s("fqdn") ?? (name && s("dnsDomain") ? `${name}.${s("dnsDomain")}` : null);
        x.add("domain", fqdn);
        host ??= name ?? fqdn ?? s("netBiosName");
        break;
      }
      case "url":
        x.add("url", s("url"));
        break;
      case "filehash":
        x.addHash(s("hashValue") ?? s("value"), s("algorithm") ?? undefined);
        break;
      case "file": {
        const hashes = p.get("fileHashes");
        if (Array.isArray(hashes))
          for (const h of hashes) if (isObj(h)) {
            const hp = lowerKeys(h);
            x.addHash(hp.get("hashvalue") ?? hp.get("value"), hp.get("algorithm"));
          }
        break;
      }
      case "dns":
      case "dnsresolution": {
        x.add("domain", s("domainName"));
        const ips = p.get("ipAddresses");
        if (Array.isArray(ips)) for (const i of ips) x.add("ip", typeof i === "string" ? i : isObj(i) ? lowerKeys(i).get("address") : null);
        break;
      }
      case "mailbox":
        x.add("email", s("mailboxPrimaryAddress"));
        if (s("upn")) x.add("account", s("upn"));
        break;
      case "mailmessage":
        for (const k of ["sender", "recipient", "p1Sender", "p2Sender"]) x.add("email", s(k));
        x.addAll("url", p.get("urls"));
        break;
    }
  }
  return host;
}
