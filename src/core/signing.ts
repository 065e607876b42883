// Outbound message signing: Standard Webhooks (webhook-id / webhook-timestamp / webhook-signature
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" keyed by the base64 part of a whsec_ secret) plus
// X-Keepwatch-Signature "sha256=<hex HMAC-SHA256 of the body>" and X-Keepwatch-Signature-256
// "t=<timestamp>,v1=<hex HMAC-SHA256 of timestamp.body>" keyed by the whole secret string, so that
// `openssl dgst -sha256 -hmac "$SECRET"` checks them (the second one against replays too).
import { createHmac, randomBytes } from "node:crypto";

export const SECRET_PREFIX = "whsec_";

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(24).toString("base64");
}

export function isSecret(s: string): boolean {
  if (!s.startsWith(SECRET_PREFIX)) return false;
  const b = s.slice(SECRET_PREFIX.length);
  return /^[A-Za-z0-9+/]+={0,2}$/.test(b) && Buffer.from(b, "base64").length >= 24;
}

function keyBytes(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, "base64");
}

/** One Standard Webhooks signature ("v1,<base64>"); `timestamp` in seconds. */
export function signStandard(secret: string, id: string, timestamp: number, body: string): string {
  return "v1," + createHmac("sha256", keyBytes(secret)).update(`${id}.${timestamp}.${body}`).digest("base64");
}

/** The openssl-friendly signature of the body alone ("sha256=<hex>"). */
export function signBody(secret: string, body: string): string {
  return "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
}

/**
 * The openssl-friendly signature that covers the time too: hex HMAC-SHA256 of "<timestamp>.<body>"
 * keyed by the whole secret string, so a receiver that checks it (and the age of `t`) refuses a
 * replayed delivery, which the body-only signature cannot.
 */
export function signTimestamped(secret: string, timestampSec: number, body: string): string {
  return createHmac("sha256", secret).update(`${timestampSec}.${body}`).digest("hex");
}

/** The signing headers for one attempt; every secret given signs (space-separated, or one v1= each). */
export function signatureHeaders(secrets: string[], id: string, timestampSec: number, body: string): Record<string, string> {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestampSec),
    "webhook-signature": secrets.map((s) => signStandard(s, id, timestampSec, body)).join(" "),
    "x-keepwatch-signature": secrets.map((s) => signBody(s, body)).join(" "),
    "x-keepwatch-signature-256": [`t=${timestampSec}`, ...secrets.map((s) => `v1=${signTimestamped(s, timestampSec, body)}`)].join(","),
  };
}

/** Names a user may not set on a webhook: they are keepwatch's to set. */
export const RESERVED_HEADERS = new Set([
  "host",
  "content-length",
  "content-type",
  "transfer-encoding",
  "connection",
  "webhook-id",
  "webhook-timestamp",
  "webhook-signature",
  "x-keepwatch-signature",
  "x-keepwatch-signature-256",
]);

export function maskSecret(s: string): string {
  return SECRET_PREFIX + "…" + s.slice(-4);
}
