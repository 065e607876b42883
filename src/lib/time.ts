// Time parsing shared by every source: ISO 8601 / RFC 3339 (with or without offset),
// epoch seconds and epoch milliseconds (numbers or numeric strings).

const ISO_RE =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?(?:Z|z|[+-]\d{2}:?\d{2})?$/;

export type ParsedTime = { ms: number; format: "iso8601" | "epoch_s" | "epoch_ms" };

/** Parses a timestamp; null when it is not one we understand or lies outside 1970..9999. */
export function parseTime(v: unknown): ParsedTime | null {
  if (typeof v === "number") return fromEpoch(v);
  if (typeof v !== "string") return null;
  const s = v.trim();
  if (s === "") return null;
  if (/^-?\d+(?:\.\d+)?$/.test(s)) return fromEpoch(Number(s));
  if (!ISO_RE.test(s)) return null;
  // Date.parse handles "YYYY-MM-DD HH:MM:SS" inconsistently and commas not at all; normalize.
  let norm = s.replace(" ", "T").replace(",", ".");
  // Offsets without a colon (+0200) are RFC 3339-invalid but common; add the colon.
  norm = norm.replace(/([+-]\d{2})(\d{2})$/, "$1:$2");
  // A date-time without zone is taken as UTC (servers log in UTC far more often than not).
  if (/T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/.test(norm)) norm += "Z";
  // More than millisecond precision: JS dates keep milliseconds.
  norm = norm.replace(/(\.\d{3})\d+/, "$1");
  const ms = Date.parse(norm);
  if (!Number.isFinite(ms) || ms < 0 || ms > 253402300799999) return null;
  return { ms, format: "iso8601" };
}

function fromEpoch(n: number): ParsedTime | null {
  if (!Number.isFinite(n) || n < 0) return null;
  // Below 1e11 it can only be seconds (1e11 s is year 5138; 1e11 ms is 1973).
  if (n < 1e11) return { ms: Math.round(n * 1000), format: "epoch_s" };
  if (n <= 253402300799999) return { ms: Math.round(n), format: "epoch_ms" };
  return null;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Parses a duration like "90", "90s", "15m", "24h", "7d" into milliseconds. */
export function parseDuration(v: string | number): number | null {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v * 1000 : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(v);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  return n * mult;
}
