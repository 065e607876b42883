// Custom outbound headers (webhooks, enrichers): what HTTP allows in a name and a value, and how a
// value is shown when it may be a credential. Pure.

/** RFC 9110 token: the characters a field name may hold. */
export const HEADER_NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Why a header cannot be sent, or null. Values are limited to visible ASCII, space and tab (RFC
 * 9110 field-vchar without the obsolete obs-text): anything else either cannot be sent at all
 * (fetch refuses characters above U+00FF, so every delivery would fail) or reaches the receiver
 * as bytes it decodes its own way.
 */
export function headerProblem(name: string, value: string): string | null {
  if (!HEADER_NAME_RE.test(name)) return `"${name}" is not a valid header name (letters, digits and !#$%&'*+-.^_\`|~)`;
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (c === 0x09 || (c >= 0x20 && c <= 0x7e)) continue;
    if (c === 0x0a || c === 0x0d || c === 0) return `the value of "${name}" holds a line break or NUL`;
    const code = "U+" + c.toString(16).toUpperCase().padStart(4, "0");
    return `the value of "${name}" holds ${c < 0x20 || c === 0x7f ? "a control character" : `"${ch}"`} (${code}); header values may hold printable ASCII, space and tab only`;
  }
  return null;
}

/** A header value as lists and history show it: its last four characters when it is long enough to hide. */
export function maskHeaderValue(v: string): string {
  return v.length >= 16 ? `…${v.slice(-4)}` : "…";
}

/** Every value masked (names kept). */
export function maskHeaders(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, maskHeaderValue(v)]));
}

/**
 * `defaults` overridden by `custom`, names compared without case: a custom `User-Agent: mine`
 * replaces keepwatch's (fetch would otherwise send both, joined: "mine, keepwatch-webhooks/1").
 */
export function withDefaults(defaults: Record<string, string>, custom: Record<string, string>): Record<string, string> {
  const given = new Set(Object.keys(custom).map((k) => k.toLowerCase()));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(defaults)) if (!given.has(k.toLowerCase())) out[k] = v;
  return { ...out, ...custom };
}

/** Headers keepwatch itself sets on a delivery: shown as sent in the history. */
const OWN = new Set(["content-type", "webhook-id", "webhook-timestamp", "webhook-signature", "x-keepwatch-signature", "x-keepwatch-signature-256"]);

/**
 * A delivery's request headers as the history keeps and shows them: keepwatch's own as sent, the
 * webhook's custom ones (which may carry credentials) masked. Masking twice changes nothing.
 */
export function maskSentHeaders(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(h).map(([k, v]) => {
      const name = k.toLowerCase();
      const own = OWN.has(name) || (name === "user-agent" && v.startsWith("keepwatch-"));
      return [k, own || v.startsWith("…") ? v : maskHeaderValue(v)];
    }),
  );
}
