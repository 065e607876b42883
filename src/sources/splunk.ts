// splunk: Splunk's webhook alert action (POST /v1/ingest/splunk?token=...). The documented body:
//   {"result": {"sourcetype": "mongod", "count": "8", ...}, "sid": "scheduler_admin_search_W2_at_...",
//    "results_link": "http://splunk:8000/app/search/@go?sid=...", "search_name": "...", "owner": "admin",
//    "app": "search"}
// `result` is the first result row of the search, every value a string (a multivalue field an
// array of strings); search_name is null for an ad-hoc search. Splunk's action cannot set
// headers, so the sender authenticates with a URL token (see docs/sources.md).
// The saved search (and the result's host, when there is one) is the dedup key, so each run of
// a search that keeps firing joins one alert; Splunk sends no resolve signal.
import { Type } from "@sinclair/typebox";
import type { Severity } from "../core/severity";
import { sha256Hex } from "../lib/crypto";
import { Extracted, firstString, MAX_NAME, MAX_TEXT, MAX_TITLE, typeName, vendorSeverity, vendorTime } from "./common";
import { ptr, schemaValidator, type ItemIssue, type NormalizedFields, type SourcePlugin } from "./types";

const OptStr = (max: number, minLength = 0) => Type.Optional(Type.Union([Type.String({ maxLength: max, minLength }), Type.Null()]));

const Webhook = Type.Object(
  {
    result: Type.Record(Type.String(), Type.Unknown(), { description: "the first result row: field → string (or array of strings)" }),
    sid: Type.String({ minLength: 1, maxLength: MAX_NAME, description: "the search id" }),
    search_name: OptStr(MAX_TITLE),
    results_link: OptStr(4096),
    owner: OptStr(MAX_NAME),
    app: OptStr(MAX_NAME),
  },
  { additionalProperties: true },
);
const check = schemaValidator(Webhook);

// Splunk's alert severities (alert.severity of a saved search: 1 debug … 6 fatal) and the
// Enterprise Security urgency words; words go through the shared table.
const LEVELS = new Map<string, Severity>([["1", "info"], ["2", "info"], ["3", "medium"], ["4", "high"], ["5", "high"], ["6", "critical"]]);

/** CIM field names that carry indicators. */
const IP_FIELDS = ["src_ip", "dest_ip", "dvc_ip", "clientip", "ip"];
const HOST_FIELDS = ["src", "dest", "dvc", "src_host", "dest_host"]; // an IP or a host name
const ACCOUNT_FIELDS = ["user", "src_user", "dest_user"];
const EMAIL_FIELDS = ["sender", "recipient", "user_email", "src_user_email"];
const DOMAIN_FIELDS = ["query", "domain", "url_domain", "dest_domain"];
const URL_FIELDS = ["url", "uri"];

export const splunk: SourcePlugin = {
  name: "splunk",
  describe: "Splunk webhook alert action ({result, sid, results_link, search_name, owner, app}); authenticate with ?token= since Splunk cannot set headers.",
  kind: "alert",
  schema: Webhook,
  fields: [
    { path: "search_name (else result.search_name)", maps_to: "title", note: "an ad-hoc search (search_name null): \"Splunk search <sid>\"" },
    { path: "result.description | result.message | result._raw", maps_to: "summary" },
    { path: "result.urgency | result.severity | result.priority", maps_to: "severity", note: "informational, low, medium, high, critical; 1-6 (debug … fatal)" },
    { path: "result._time", maps_to: "occurred_at", note: "epoch seconds (string) or ISO 8601; unparseable: received time plus a warning" },
    { path: "result.host | result.dest", maps_to: "host" },
    { path: "app, owner, result.sourcetype, result.index", maps_to: "tags (key=value)" },
    { path: "search_name + result.host", maps_to: "dedup key (each run of a firing search joins one alert)" },
    { path: "sid + the result", maps_to: "external id (a re-delivered notification is stored once)" },
    {
      path: "result.src_ip, dest_ip, src, dest, user, src_user, sender, recipient, url, query, domain, file_hash, md5, sha1, sha256",
      maps_to: "indicators (extracted, CIM field names; multivalue arrays too)",
    },
  ],
  looksLike: (x) => typeof x.sid === "string" && !!x.result && typeof x.result === "object",
  validate(item) {
    const issues = check(item);
    if (issues.length) return issues;
    // result values: Splunk sends strings (arrays of strings for multivalue fields); other JSON
    // is kept as is, but no value may exceed the text limit.
    const out: ItemIssue[] = [];
    const result = (item as { result: Record<string, unknown> }).result;
    const keys = Object.keys(result);
    if (keys.length > 1000) return [{ path: "/result", message: "has more than 1000 fields" }];
    for (const k of keys) {
      const v = result[k];
      if (typeof v === "string" && v.length > MAX_TEXT) out.push({ path: ptr("result", k), message: `is longer than ${MAX_TEXT} characters` });
      else if (Array.isArray(v) && v.length > 1000) out.push({ path: ptr("result", k), message: "has more than 1000 values" });
      else if (v !== null && typeof v === "object" && !Array.isArray(v))
        out.push({ path: ptr("result", k), message: `must be a string or an array of strings (a result field), got ${typeName(v)}` });
    }
    return out;
  },
  normalize(x: any): NormalizedFields {
    const r = x.result as Record<string, unknown>;
    const s = (k: string) => {
      const v = r[k];
      return typeof v === "string" && v !== "" ? v : Array.isArray(v) && typeof v[0] === "string" ? (v[0] as string) : null;
    };
    const warnings: string[] = [];
    const sevKey = ["urgency", "severity", "priority"].find((k) => s(k) !== null);
    let sev = { severity: "unknown" as Severity, raw: null as string | null };
    if (sevKey) {
      const raw = s(sevKey)!;
      const level = LEVELS.get(raw.trim());
      sev = level ? { severity: level, raw } : vendorSeverity(raw, `result.${sevKey}`, warnings);
    }
    const searchName = firstString(x.search_name, s("search_name"));
    const host = s("host") ?? s("dest");

    const ex = new Extracted();
    for (const k of IP_FIELDS) ex.addAll("ip", r[k]);
    for (const k of HOST_FIELDS) ex.addHost(r[k]);
    for (const k of ACCOUNT_FIELDS) ex.addAll("account", r[k]);
    for (const k of EMAIL_FIELDS) ex.addAll("email", r[k]);
    for (const k of DOMAIN_FIELDS) ex.addAll("domain", r[k]);
    for (const k of URL_FIELDS) ex.addAll("url", r[k]);
    ex.addHash(r.file_hash);
    ex.addAll("hash_md5", r.md5);
    ex.addAll("hash_sha1", r.sha1);
    ex.addAll("hash_sha256", r.sha256);

    const tags: string[] = [];
    if (typeof x.app === "string" && x.app) tags.push(`app=${x.app}`);
    if (typeof x.owner === "string" && x.owner) tags.push(`owner=${x.owner}`);
    for (const k of ["sourcetype", "index"]) if (s(k)) tags.push(`${k}=${s(k)}`);

    const summary = firstString(s("description"), s("message"), s("_raw")) ?? "";
    return {
      occurredAt: r._time !== undefined ? vendorTime(Array.isArray(r._time) ? r._time[0] : r._time, "result._time", warnings) : null,
      source: "splunk",
      type: "splunk.alert",
      module: "siem",
      title: (searchName ?? `Splunk search ${x.sid}`).slice(0, MAX_TITLE),
      summary: summary.slice(0, MAX_TEXT),
      severity: sev.severity,
      severityRaw: sev.raw,
      host,
      tags,
      payload: x,
      dedupKey: searchName ? (host ? `${searchName}@${host}` : searchName) : x.sid,
      // Splunk triggers once per result for "for each result" alerts, all with one sid: the
      // result's digest tells them apart, while the very same notification sent twice is one event.
      externalId: `${x.sid}:${sha256Hex(JSON.stringify(r)).slice(0, 16)}`,
      indicators: ex.list,
      warnings,
      resolve: false,
    };
  },
};
