// Inbound signature verification: pure functions over a request's headers and its raw body bytes
// (before any JSON parsing), comparing in constant time. The settings come from the tenant's
// source settings (src/store/source-settings.ts) or from the environment (src/config.ts).
//
// Schemes:
//   hmac-sha256-hex    hex HMAC-SHA256 of the raw body (keyed by the secret string) in a named
//                      header (default X-Signature), an optional "sha256=" prefix
//   grafana            Grafana's webhook contact point: hex HMAC-SHA256 of the body in
//                      X-Grafana-Alerting-Signature (or the configured header); when a timestamp
//                      header is configured, of "<unix seconds>:<body>", and the timestamp must be
//                      within the tolerance
//   standard-webhooks  webhook-id / webhook-timestamp / webhook-signature "v1,<base64>" over
//                      "<id>.<timestamp>.<body>", keyed by the base64 part of a whsec_ secret;
//                      several space-separated signatures (a sender rotating secrets) are accepted
//   shared-secret      a named header (default X-Webhook-Secret) must equal the secret
//   none               no verification (a tenant's way to turn an environment secret off)
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { Type, type Static } from "@sinclair/typebox";

export const SCHEMES = ["none", "hmac-sha256-hex", "grafana", "standard-webhooks", "shared-secret"] as const;
export type Scheme = (typeof SCHEMES)[number];

export const isScheme = (s: string): s is Scheme => (SCHEMES as readonly string[]).includes(s);

export const DEFAULT_TOLERANCE_S = 300;
export const MIN_SECRET_LENGTH = 16;

/** The header each scheme reads when none is configured. */
export const DEFAULT_HEADER: Record<Scheme, string | null> = {
  none: null,
  "hmac-sha256-hex": "X-Signature",
  grafana: "X-Grafana-Alerting-Signature",
  "standard-webhooks": "webhook-signature",
  "shared-secret": "X-Webhook-Secret",
};

/** A resolved setting, as verification uses it (after settingIssues found nothing). */
export type SignatureSetting = {
  scheme: Scheme;
  secret: string | null;
  /** null = DEFAULT_HEADER[scheme] */
  header: string | null;
  timestampHeader: string | null;
  toleranceS: number;
};

export const HeaderName = (description: string) =>
  Type.String({ minLength: 1, maxLength: 100, pattern: "^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$", description });

/** A setting as a user gives it (PUT /v1/sources/:name/settings, or the environment). */
export const SignatureSettingInput = Type.Object(
  {
    // a string checked by settingIssues (not a union of literals) so that a wrong one is answered
    // with the list of schemes rather than a generic union error
    scheme: Type.String({ maxLength: 40, description: SCHEMES.join(" | ") }),
    secret: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description: "the signing secret (standard-webhooks: whsec_<base64>); omitted on an update: the stored one is kept",
      }),
    ),
    header: Type.Optional(HeaderName("header carrying the signature or shared secret (default per scheme)")),
    timestamp_header: Type.Optional(HeaderName("grafana: header carrying the Unix timestamp that is signed with the body")),
    tolerance: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 86400, description: `seconds a signed timestamp may differ from now, either way (default ${DEFAULT_TOLERANCE_S})` }),
    ),
  },
  { additionalProperties: false },
);
export type SignatureSettingInput = Static<typeof SignatureSettingInput>;

export type Issue = { path: string; message: string };

const WHSEC = "whsec_";

/** The key bytes of a whsec_ secret, or null when it is not one (24 to 64 bytes, base64). */
export function standardWebhooksKey(secret: string): Buffer | null {
  if (!secret.startsWith(WHSEC)) return null;
  const b = secret.slice(WHSEC.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b)) return null;
  const key = Buffer.from(b, "base64");
  return key.length >= 24 && key.length <= 64 ? key : null;
}

/**
 * What the schema cannot say: which fields each scheme takes and the secret's form. `secret` is
 * the one that will be stored (the given one, or the kept one on an update).
 */
export function settingIssues(s: SignatureSettingInput): Issue[] {
  const out: Issue[] = [];
  if (!isScheme(s.scheme)) return [{ path: "/scheme", message: `must be one of ${SCHEMES.join(", ")}` }];
  const sch = s.scheme;
  if (sch === "none") {
    for (const f of ["secret", "header", "timestamp_header", "tolerance"] as const)
      if (s[f] !== undefined) out.push({ path: `/${f}`, message: `scheme "none" takes no ${f}` });
    return out;
  }
  if (s.secret === undefined) out.push({ path: "/secret", message: `is required for scheme "${sch}"` });
  else if (sch === "standard-webhooks") {
    if (!standardWebhooksKey(s.secret)) out.push({ path: "/secret", message: "must be whsec_ followed by the base64 of 24 to 64 bytes" });
  } else if (s.secret.length < MIN_SECRET_LENGTH) out.push({ path: "/secret", message: `must be at least ${MIN_SECRET_LENGTH} characters` });
  else if (/[\r\n\0]/.test(s.secret)) out.push({ path: "/secret", message: "must not hold line breaks or NUL" });
  if (sch === "standard-webhooks" && s.header !== undefined)
    out.push({ path: "/header", message: 'scheme "standard-webhooks" always reads webhook-id, webhook-timestamp and webhook-signature' });
  if (s.timestamp_header !== undefined && sch !== "grafana")
    out.push({ path: "/timestamp_header", message: `only scheme "grafana" takes a timestamp header` });
  if (s.tolerance !== undefined && sch !== "grafana" && sch !== "standard-webhooks")
    out.push({ path: "/tolerance", message: `only the timestamped schemes (grafana with a timestamp header, standard-webhooks) take a tolerance` });
  if (s.timestamp_header !== undefined && s.header !== undefined && s.timestamp_header.toLowerCase() === s.header.toLowerCase())
    out.push({ path: "/timestamp_header", message: "must differ from the signature header" });
  return out;
}

export function toSetting(s: SignatureSettingInput): SignatureSetting {
  if (!isScheme(s.scheme)) throw new Error(`unknown signature scheme ${s.scheme}`);
  return {
    scheme: s.scheme,
    secret: s.secret ?? null,
    header: s.header ?? null,
    timestampHeader: s.timestamp_header ?? null,
    toleranceS: s.tolerance ?? DEFAULT_TOLERANCE_S,
  };
}

/** A secret as answers show it: its form and last four characters, never the whole. */
export function maskSecret(secret: string | null): string | null {
  if (secret === null) return null;
  return (secret.startsWith(WHSEC) ? WHSEC : "") + "…" + secret.slice(-4);
}

export type VerifyResult =
  | { ok: true }
  | { ok: false; reason: "missing" | "invalid" | "stale"; message: string; header: string };

type GetHeader = (name: string) => string | null;

const HEX64 = /^[0-9a-fA-F]{64}$/;
const TIMESTAMP = /^\d{1,12}$/;

/** Constant-time equality of two byte strings of possibly different lengths. */
function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    timingSafeEqual(b, b);
    return false;
  }
  return timingSafeEqual(a, b);
}

function hmac(key: string | Buffer, ...parts: (string | Uint8Array)[]): Buffer {
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** A signed timestamp (Unix seconds) against the tolerance; null when fresh. */
function staleness(ts: number, nowMs: number, toleranceS: number): string | null {
  const skew = Math.round(nowMs / 1000 - ts);
  if (Math.abs(skew) <= toleranceS) return null;
  return skew > 0
    ? `the signed timestamp is ${skew} s old (tolerance ${toleranceS} s): refused as a possible replay`
    : `the signed timestamp is ${-skew} s in the future (tolerance ${toleranceS} s): refused`;
}

/**
 * Verifies one request. `get` reads a header (case-insensitive, as Headers.get does); `body` is the
 * raw bytes as received. Only the outcome and a reason that helps a sender are returned, never the
 * expected signature.
 */
export function verifySignature(s: SignatureSetting, get: GetHeader, body: Uint8Array, nowMs: number): VerifyResult {
  const header = s.header ?? DEFAULT_HEADER[s.scheme] ?? "";
  const fail = (reason: "missing" | "invalid" | "stale", message: string, h = header): VerifyResult => ({ ok: false, reason, message, header: h });
  if (s.scheme === "none") return { ok: true };
  const secret = s.secret ?? "";
  switch (s.scheme) {
    case "shared-secret": {
      const v = get(header);
      if (v === null || v === "") return fail("missing", `the ${header} header is required`);
      // hash both sides so the comparison takes the same time whatever the lengths
      const a = createHash("sha256").update(v).digest();
      const b = createHash("sha256").update(secret).digest();
      return bytesEqual(a, b) ? { ok: true } : fail("invalid", `the ${header} header does not match the shared secret`);
    }
    case "hmac-sha256-hex":
    case "grafana": {
      const raw = get(header);
      if (raw === null || raw.trim() === "") return fail("missing", `the ${header} header is required (hex HMAC-SHA256 of the body)`);
      let sig = raw.trim();
      if (sig.slice(0, 7).toLowerCase() === "sha256=") sig = sig.slice(7);
      if (!HEX64.test(sig)) return fail("invalid", `the ${header} header is not a hex HMAC-SHA256 (64 hex digits, optionally after "sha256=")`);
      let ts: string | null = null;
      if (s.scheme === "grafana" && s.timestampHeader) {
        ts = get(s.timestampHeader)?.trim() ?? null;
        if (!ts) return fail("missing", `the ${s.timestampHeader} header is required (the Unix timestamp signed with the body)`, s.timestampHeader);
        if (!TIMESTAMP.test(ts)) return fail("invalid", `the ${s.timestampHeader} header is not a Unix timestamp in seconds`, s.timestampHeader);
      }
      const expected = ts === null ? hmac(secret, body) : hmac(secret, ts + ":", body);
      if (!bytesEqual(Buffer.from(sig, "hex"), expected))
        return fail("invalid", `the ${header} signature does not match the body${ts === null ? "" : ` and the ${s.timestampHeader} timestamp`}`);
      if (ts !== null) {
        const stale = staleness(Number(ts), nowMs, s.toleranceS);
        if (stale) return fail("stale", stale, s.timestampHeader!);
      }
      return { ok: true };
    }
    case "standard-webhooks": {
      const id = get("webhook-id");
      const ts = get("webhook-timestamp");
      const sigs = get("webhook-signature");
      if (!id) return fail("missing", "the webhook-id header is required (Standard Webhooks)", "webhook-id");
      if (!ts) return fail("missing", "the webhook-timestamp header is required (Standard Webhooks)", "webhook-timestamp");
      if (!sigs) return fail("missing", "the webhook-signature header is required (Standard Webhooks)", "webhook-signature");
      if (!TIMESTAMP.test(ts.trim())) return fail("invalid", "the webhook-timestamp header is not a Unix timestamp in seconds", "webhook-timestamp");
      const key = standardWebhooksKey(secret);
      if (!key) return fail("invalid", "no usable whsec_ secret is configured for this source");
      const expected = hmac(key, `${id}.${ts.trim()}.`, body);
      let match = false;
      for (const part of sigs.trim().split(/\s+/)) {
        const comma = part.indexOf(",");
        if (comma < 0 || part.slice(0, comma) !== "v1") continue;
        // every candidate is compared in full (no early exit on the first match)
        if (bytesEqual(Buffer.from(part.slice(comma + 1), "base64"), expected)) match = true;
      }
      if (!match) return fail("invalid", "no v1 signature in webhook-signature matches the body", "webhook-signature");
      const stale = staleness(Number(ts.trim()), nowMs, s.toleranceS);
      if (stale) return fail("stale", stale, "webhook-timestamp");
      return { ok: true };
    }
  }
}
