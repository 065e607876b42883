// The one severity scale every source maps onto. Stored as text plus a rank for comparisons.

export const SEVERITIES = ["unknown", "info", "low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

// Null-prototype: indexing it with any other text (a rule's value, "constructor") gives undefined,
// never an inherited property.
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = Object.freeze(
  Object.assign(Object.create(null) as Record<Severity, number>, { unknown: 0, info: 1, low: 2, medium: 3, high: 4, critical: 5 }),
);

/** The rank of a severity word of the scale; undefined for any other text. */
export function severityRank(s: unknown): number | undefined {
  return typeof s === "string" && Object.hasOwn(SEVERITY_RANK, s) ? SEVERITY_RANK[s as Severity] : undefined;
}

export function isSeverity(s: unknown): s is Severity {
  return typeof s === "string" && (SEVERITIES as readonly string[]).includes(s);
}

// Words senders use, lower-cased, onto the scale. Sources with their own vocabulary
// (Sentinel, Splunk urgency, Alertmanager labels) use this table too, so one word means
// one thing everywhere. A Map: a sender's word is never a key into a plain object (where
// "constructor" or "__proto__" would find Object.prototype's members).
const WORDS = new Map<string, Severity>(Object.entries({
  pending: "unknown",
  unknown: "unknown",
  none: "info",
  informational: "info",
  information: "info",
  info: "info",
  notice: "info",
  debug: "info",
  ok: "info",
  low: "low",
  minor: "low",
  medium: "medium",
  moderate: "medium",
  warning: "medium",
  warn: "medium",
  high: "high",
  major: "high",
  error: "high",
  err: "high",
  severe: "high",
  critical: "critical",
  crit: "critical",
  fatal: "critical",
  emergency: "critical",
  emerg: "critical",
  alert: "critical",
  page: "critical",
  disaster: "critical",
} satisfies Record<string, Severity>));

/** Maps a sender's severity word onto the scale; null when the word is not known. */
export function mapSeverityWord(raw: unknown): Severity | null {
  if (typeof raw !== "string") return null;
  return WORDS.get(raw.trim().toLowerCase()) ?? null;
}

/** Maps a 0-10 danger score (or 0-100 when `max` is 100) onto the scale in bands. */
export function mapSeverityScore(n: number, max = 10): Severity {
  const x = (n / max) * 10;
  if (!Number.isFinite(x) || x <= 0) return "info";
  if (x < 4) return "low";
  if (x < 7) return "medium";
  if (x < 9) return "high";
  return "critical";
}
