// Helpers shared by source plugins (pure; no I/O).
import { Type } from "@sinclair/typebox";
import { INDICATOR_TYPES, isIndicatorType, normalizeIndicator, type Indicator } from "../core/indicators";
import { mapSeverityWord, type Severity } from "../core/severity";
import { parseTime } from "../lib/time";
import { ptr, type ItemIssue } from "./types";

export const MAX_TITLE = 1024;
export const MAX_TEXT = 65_536;
export const MAX_NAME = 256;

export const ExplicitIndicators = Type.Array(
  Type.Object({
    type: Type.Union(
      INDICATOR_TYPES.map((t) => Type.Literal(t)),
      { description: INDICATOR_TYPES.join(", ") },
    ),
    value: Type.String({ minLength: 1, maxLength: 2048 }),
  }),
  { maxItems: 1000 },
);

export const Tags = Type.Array(Type.String({ minLength: 1, maxLength: MAX_NAME }), { maxItems: 100 });

/** An id the sender gives its item: a string or an integer. */
export const ExternalId = Type.Union([Type.String({ minLength: 1, maxLength: MAX_NAME }), Type.Integer()]);

/** Checks explicit indicators beyond their shape (an `ip` must parse, hashes have the right length, ...). */
export function checkExplicitIndicators(list: unknown, at: string): ItemIssue[] {
  if (!Array.isArray(list)) return [];
  const out: ItemIssue[] = [];
  list.forEach((i, n) => {
    if (!i || typeof i.type !== "string" || typeof i.value !== "string" || !isIndicatorType(i.type)) return;
    const r = normalizeIndicator(i.type, i.value);
    if ("error" in r) out.push({ path: at + ptr(n, "value"), message: r.error });
  });
  return out;
}

export function explicitIndicators(list: unknown): (Indicator & { origin: "explicit" })[] {
  if (!Array.isArray(list)) return [];
  const out: (Indicator & { origin: "explicit" })[] = [];
  for (const i of list) {
    if (!isIndicatorType(i.type)) continue;
    const r = normalizeIndicator(i.type, i.value);
    if ("value" in r) out.push({ type: i.type, value: r.value, origin: "explicit" });
  }
  return out;
}

/** A timestamp field of one of our own contracts: unparseable is an error naming the field. */
export function checkOwnTime(v: unknown, path: string): ItemIssue[] {
  if (v === undefined || v === null) return [];
  return parseTime(v)
    ? []
    : [{ path, message: "is not a timestamp (ISO 8601 / RFC 3339, or epoch seconds or milliseconds)" }];
}

/** A severity word of one of our own contracts: unknown is an error listing what is accepted. */
export function checkSeverityWord(v: unknown, path: string, accepted: string): ItemIssue[] {
  if (v === undefined || v === null) return [];
  if (typeof v === "string" && mapSeverityWord(v)) return [];
  return [{ path, message: `is not a severity we know (use ${accepted})` }];
}

export function severityOf(v: unknown, dflt: Severity): { severity: Severity; raw: string | null } {
  if (typeof v !== "string") return { severity: dflt, raw: null };
  return { severity: mapSeverityWord(v) ?? dflt, raw: v };
}

export function externalIdOf(...vals: unknown[]): string | null {
  for (const v of vals) {
    if (typeof v === "string" && v !== "") return v;
    if (typeof v === "number" && Number.isFinite(v)) return String(v);
  }
  return null;
}

export function uniqueTags(tags: unknown): string[] {
  if (!Array.isArray(tags)) return [];
  return [...new Set(tags.filter((t): t is string => typeof t === "string" && t !== ""))];
}

/**
 * A timestamp inside a vendor's payload: when it does not parse, the event keeps the received time
 * and says so in a warning (never silently).
 */
export function vendorTime(v: unknown, field: string, warnings: string[]): number | null {
  if (v === undefined || v === null || v === "") return null;
  const t = parseTime(v);
  if (t) return t.ms;
  warnings.push(`${field} ${JSON.stringify(v).slice(0, 80)} is not a timestamp; occurred_at is the received time`);
  return null;
}

/** Labels as tags ("key=value"), the most telling first, at most `max`. */
export function labelTags(labels: Record<string, string> | undefined, first: string[] = [], max = 20): string[] {
  if (!labels) return [];
  const keys = [...first.filter((k) => k in labels), ...Object.keys(labels).filter((k) => !first.includes(k)).sort()];
  return keys.slice(0, max).map((k) => `${k}=${labels[k]}`);
}

// ---- extracted ("system") indicators and vendor fields, shared by the vendor sources ----

/**
 * Collects indicators a plugin pulls out of a vendor payload. Every value is validated and
 * canonicalized; an invalid one is dropped (only explicit indicators are ever an error).
 * De-duplicated by (type, value).
 */
export class Extracted {
  readonly list: (Indicator & { origin: "system" })[] = [];
  private seen = new Set<string>();
  add(type: Indicator["type"], v: unknown): void {
    if (typeof v !== "string" || v === "" || v.length > 2048) return;
    const r = normalizeIndicator(type, v);
    if (!("value" in r)) return;
    const k = type + "\u0000" + r.value;
    if (this.seen.has(k)) return;
    this.seen.add(k);
    this.list.push({ type, value: r.value, origin: "system" });
  }
  /** every string of a value that may be one string or an array of them (ECS, Splunk multivalue) */
  addAll(type: Indicator["type"], v: unknown): void {
    if (Array.isArray(v)) for (const x of v.slice(0, 100)) this.add(type, x);
    else this.add(type, v);
  }
  /** an address that may be an IP or a host name (Splunk's src/dest, ...) */
  addHost(v: unknown): void {
    for (const x of Array.isArray(v) ? v.slice(0, 100) : [v]) {
      if (typeof x !== "string") continue;
      if ("value" in normalizeIndicator("ip", x)) this.add("ip", x);
      else this.add("domain", x);
    }
  }
  /** a hash whose algorithm is known only from its length (32, 40 or 64 hex characters) */
  addHash(v: unknown, algorithm?: unknown): void {
    for (const x of Array.isArray(v) ? v.slice(0, 100) : [v]) {
      if (typeof x !== "string") continue;
      const a = typeof algorithm === "string" ? algorithm.toLowerCase().replace(/[^a-z0-9]/g, "") : "";
      const t = a === "md5" ? "hash_md5" : a === "sha1" ? "hash_sha1" : a === "sha256" ? "hash_sha256" : a ? null : HASH_BY_LENGTH.get(x.trim().length);
      if (t) this.add(t, x);
    }
  }
}

const HASH_BY_LENGTH = new Map<number, Indicator["type"]>([[32, "hash_md5"], [40, "hash_sha1"], [64, "hash_sha256"]]);

/**
 * Reads a field of an Elastic-style document that may be written with flat dotted keys
 * (`{"kibana.alert.rule.name": ...}`), as nested objects (`{kibana: {alert: {rule: {name}}}}`),
 * or any mix of the two (`{kibana: {"alert.rule.name": ...}}`). Undefined when absent.
 * This is on the ingest path (dozens of lookups per alert), so the splits of each path are
 * computed once and no pointer is built; `dottedAt` finds the pointer when an error needs it.
 */
export function dget(doc: unknown, path: string): unknown {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return undefined;
  const o = doc as Record<string, unknown>;
  const v = o[path];
  if (v !== undefined && Object.hasOwn(o, path)) return v;
  for (const [head, rest] of splitsOf(path)) {
    const sub = o[head];
    if (sub !== null && typeof sub === "object" && Object.hasOwn(o, head)) {
      const r = dget(sub, rest);
      if (r !== undefined) return r;
    }
  }
  return undefined;
}

const splitCache = new Map<string, [string, string][]>();
function splitsOf(path: string): [string, string][] {
  let s = splitCache.get(path);
  if (!s) {
    s = [];
    for (let i = path.indexOf("."); i > 0; i = path.indexOf(".", i + 1)) s.push([path.slice(0, i), path.slice(i + 1)]);
    if (splitCache.size < 10_000) splitCache.set(path, s);
  }
  return s;
}

/** Where `dget` finds a field: its value and JSON pointer (prefixed with `at`), or undefined. */
export function dotted(doc: unknown, path: string, at = ""): { value: unknown; at: string } | undefined {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return undefined;
  const o = doc as Record<string, unknown>;
  if (Object.hasOwn(o, path)) return { value: o[path], at: at + ptr(path) };
  for (const [head, rest] of splitsOf(path)) {
    if (Object.hasOwn(o, head)) {
      const r = dotted(o[head], rest, at + ptr(head));
      if (r) return r;
    }
  }
  return undefined;
}

/** Case-insensitive field access for payloads whose senders spell keys in camelCase or PascalCase. */
export function lowerKeys(o: Record<string, unknown>): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const k in o) {
    const l = k.toLowerCase();
    if (!m.has(l)) m.set(l, o[k]);
  }
  return m;
}

/** A vendor severity word: unknown words keep `unknown` (or the fallback) and say so in a warning. */
export function vendorSeverity(v: unknown, field: string, warnings: string[], fallback: Severity = "unknown"): { severity: Severity; raw: string | null } {
  if (v === undefined || v === null || v === "") return { severity: fallback, raw: null };
  const raw = String(v);
  const s = mapSeverityWord(raw);
  if (!s) warnings.push(`${field} ${JSON.stringify(raw).slice(0, 80)} is not a severity we know; stored as ${fallback}`);
  return { severity: s ?? fallback, raw };
}

/** A string field that must not exceed a length (the checks typebox cannot do on dynamic paths). */
export function checkString(v: unknown, path: string, opts: { required?: boolean; max: number; nullable?: boolean }): ItemIssue[] {
  if (v === undefined) return opts.required ? [{ path, message: "is required" }] : [];
  if (v === null && opts.nullable && !opts.required) return [];
  if (typeof v !== "string") return [{ path, message: `must be a string, got ${v === null ? "null" : Array.isArray(v) ? "an array" : typeof v}` }];
  if (opts.required && v === "") return [{ path, message: "must not be empty" }];
  if (v.length > opts.max) return [{ path, message: `is longer than ${opts.max} characters` }];
  return [];
}

/** JSON type name for messages. */
export const typeName = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v);

export const firstString = (...vals: unknown[]): string | null => {
  for (const v of vals) if (typeof v === "string" && v !== "") return v;
  return null;
};
