// The alert lifecycle: statuses, transitions, classifications, fingerprints. Pure.
import { sha256Hex } from "../lib/crypto";

export const ALERT_STATUSES = ["open", "triaging", "escalated", "closed"] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

export const CLASSIFICATIONS = [
  "true_positive",
  "benign_positive",
  "false_positive",
  "undetermined",
  "duplicate",
  "not_applicable",
  "resolved",
] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

/** Where each status may go. A closed alert can be reopened. */
const NEXT: Record<AlertStatus, AlertStatus[]> = {
  open: ["triaging", "escalated", "closed"],
  triaging: ["escalated", "closed"],
  escalated: ["triaging", "closed"],
  closed: ["open"],
};

export function canTransition(from: AlertStatus, to: AlertStatus): boolean {
  return NEXT[from].includes(to);
}

export function allowedNext(from: AlertStatus): AlertStatus[] {
  return NEXT[from];
}

/** How long a repeat with the same fingerprint joins the open alert instead of opening a new one. */
export const DEFAULT_DEDUP_WINDOW_MS = 24 * 3_600_000;

/**
 * The fingerprint of an alert raised by a source: the source's own dedup key when it has one
 * (Alertmanager's fingerprint, a SIEM incident id), else a hash of what makes two alerts "the same".
 */
export function sourceFingerprint(sourceName: string, dedupKey: string | null, source: string, title: string): string {
  if (dedupKey) return `${sourceName}:${dedupKey}`;
  return `${sourceName}:h:${sha256Hex(`${source}\u0000${title}`).slice(0, 32)}`;
}
