// Indicator types and validation. Every value is checked before it is stored: an explicit
// indicator that fails is a 422, an extracted one that fails is dropped.
import { isIP } from "node:net";

export const INDICATOR_TYPES = [
  "ip",
  "domain",
  "url",
  "email",
  "account",
  "hash_md5",
  "hash_sha1",
  "hash_sha256",
] as const;
export type IndicatorType = (typeof INDICATOR_TYPES)[number];
export type Indicator = { type: IndicatorType; value: string };

export function isIndicatorType(s: string): s is IndicatorType {
  return (INDICATOR_TYPES as readonly string[]).includes(s);
}

const DOMAIN_RE = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const EMAIL_RE = /^[^\s@"<>()\[\],;:]{1,64}@([^\s@]+)$/;
const HEX_RE = /^[0-9a-f]+$/;

/**
 * Validates and canonicalizes one indicator value. Returns the canonical value
 * (lower-cased where case carries no meaning) or an error message.
 */
export function normalizeIndicator(type: IndicatorType, raw: string): { value: string } | { error: string } {
  const v = raw.trim();
  if (v === "") return { error: "empty value" };
  if (v.length > 2048) return { error: "value longer than 2048 characters" };
  switch (type) {
    case "ip": {
      const unbracketed = v.startsWith("[") && v.endsWith("]") ? v.slice(1, -1) : v;
      if (isIP(unbracketed) === 0) return { error: `"${clip(v)}" is not an IPv4 or IPv6 address` };
      return { value: unbracketed.toLowerCase() };
    }
    case "domain": {
      const d = v.toLowerCase().replace(/\.$/, "");
      if (!DOMAIN_RE.test(d) || isIP(d) !== 0) return { error: `"${clip(v)}" is not a domain name` };
      return { value: d };
    }
    case "url": {
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        return { error: `"${clip(v)}" is not an absolute URL` };
      }
      if (!/^[a-z][a-z0-9+.-]*:$/.test(u.protocol) || (["http:", "https:"].includes(u.protocol) && !u.hostname))
        return { error: `"${clip(v)}" is not an absolute URL` };
      return { value: v };
    }
    case "email": {
      const m = EMAIL_RE.exec(v);
      if (!m || !DOMAIN_RE.test(m[1].toLowerCase())) return { error: `"${clip(v)}" is not an email address` };
      return { value: v.toLowerCase() };
    }
    case "account":
      return { value: v };
    case "hash_md5":
    case "hash_sha1":
    case "hash_sha256": {
      const want = type === "hash_md5" ? 32 : type === "hash_sha1" ? 40 : 64;
      const h = v.toLowerCase();
      if (h.length !== want || !HEX_RE.test(h))
        return { error: `"${clip(v)}" is not a ${type.slice(5).toUpperCase()} hash (${want} hex characters)` };
      return { value: h };
    }
  }
}

/** Merges indicator lists, de-duplicating by (type, value) and keeping first-seen order. */
export function mergeIndicators(...lists: Indicator[][]): Indicator[] {
  const seen = new Set<string>();
  const out: Indicator[] = [];
  for (const list of lists)
    for (const i of list) {
      const k = i.type + "\u0000" + i.value;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(i);
    }
  return out;
}

function clip(s: string): string {
  return s.length > 80 ? s.slice(0, 77) + "..." : s;
}
