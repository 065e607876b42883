// API key format and scopes. Keys look like kw_<prefix>_<secret>; only the prefix and a SHA-256
// of the whole key are stored.
import { randomB64url, randomHex } from "../lib/ids";
import { sha256Hex } from "../lib/crypto";

export const SCOPES = ["ingest", "read", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

/** `admin` implies `read` and `ingest`; `read` implies nothing else. */
export function hasScope(granted: readonly string[], needed: Scope): boolean {
  if (granted.includes(needed)) return true;
  return granted.includes("admin");
}

const KEY_RE = /^kw_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export type ParsedKey = { prefix: string; hash: string };

export function generateKey(): { key: string; prefix: string; hash: string } {
  const prefix = randomHex(6);
  const key = `kw_${prefix}_${randomB64url(32)}`;
  return { key, prefix, hash: sha256Hex(key) };
}

/** Splits a presented key; null when it does not have our shape (no database work needed). */
export function parseKey(key: string): ParsedKey | null {
  const m = KEY_RE.exec(key);
  if (!m) return null;
  return { prefix: m[1], hash: sha256Hex(key) };
}
