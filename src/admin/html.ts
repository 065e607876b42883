// A tiny HTML template helper: `html` tagged templates escape every interpolation unless it is
// an Html value (the result of another `html` template, or of `raw()` for markup we wrote).
// Hand-written (~50 lines) because the whole contract is "escape by default"; the libraries that
// do this also bring a component model we do not need.
//
// Rules of use: always quote attributes (`href="${x}"`); never put an untrusted value in an href
// or src without `safeHref()`; never pass untrusted text to `raw()`.

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

/** Markup we wrote ourselves; never call it with user or sender data. */
export const raw = (s: string) => new Html(s);

function render(v: unknown): string {
  if (v instanceof Html) return v.value;
  if (v === null || v === undefined || v === false) return "";
  if (Array.isArray(v)) return v.map(render).join("");
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** A link target from data: only http(s) URLs and same-site paths; anything else (javascript:, data:) becomes "#". */
export function safeHref(u: string): string {
  if (u.startsWith("/") && !u.startsWith("//")) return u;
  try {
    const p = new URL(u);
    return p.protocol === "http:" || p.protocol === "https:" ? p.toString() : "#";
  } catch {
    return "#";
  }
}

/** A query string from the non-empty values of `params` ("" when none). */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}
