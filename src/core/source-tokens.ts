// URL tokens for senders that cannot set headers (`?token=` on an ingest route). A token looks
// like kwt_<prefix>_<secret>; as with API keys only the prefix and a SHA-256 of the whole token
// are stored. A token grants ingest to one source of one tenant and nothing else.
import { randomB64url, randomHex } from "../lib/ids";
import { sha256Hex } from "../lib/crypto";

const TOKEN_RE = /^kwt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export function generateSourceToken(): { token: string; prefix: string; hash: string } {
  const prefix = randomHex(6);
  const token = `kwt_${prefix}_${randomB64url(32)}`;
  return { token, prefix, hash: sha256Hex(token) };
}

/** Splits a presented token; null when it does not have our shape (no database work needed). */
export function parseSourceToken(token: string): { prefix: string; hash: string } | null {
  const m = TOKEN_RE.exec(token);
  return m ? { prefix: m[1], hash: sha256Hex(token) } : null;
}

/** A token as lists show it. */
export const maskToken = (prefix: string) => `kwt_${prefix}_…`;

/** The URL without its token parameter's value, for logs. */
export function redactToken(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, "$1[redacted]");
}
