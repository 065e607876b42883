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
