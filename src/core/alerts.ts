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

/** A triage change: only the fields named change. */
export type AlertPatch = { status?: AlertStatus; classification?: string | null; assignee?: string | null };

/** The triage fields of an alert as stored. */
export type AlertTriage = { status: string; classification: string | null; closedAt: number | null; assignee: string | null };

/**
 * What a triage change writes (both stores): the alert's triage fields after it, and one timeline
 * entry per changed field (`status`, `reopened`, `assigned`). No entries: nothing changes.
 */
export function planAlertPatch(a: AlertTriage, p: AlertPatch, now: number): { after: AlertTriage; entries: { kind: string; data: unknown }[] } {
  const after: AlertTriage = { status: a.status, classification: a.classification, closedAt: a.closedAt, assignee: a.assignee };
  const entries: { kind: string; data: unknown }[] = [];
  if (p.status !== undefined && p.status !== a.status) {
    after.status = p.status;
    if (p.status === "closed") {
      after.closedAt = now;
      after.classification = p.classification ?? null;
    } else {
      after.closedAt = null;
      if (a.status === "closed") after.classification = null;
    }
    entries.push({
      kind: a.status === "closed" ? "reopened" : "status",
      data: { from: a.status, to: p.status, ...(p.status === "closed" ? { classification: p.classification } : {}) },
    });
  } else if (p.classification !== undefined && a.status === "closed" && p.classification !== a.classification) {
    after.classification = p.classification;
    entries.push({ kind: "status", data: { from: a.status, to: a.status, classification: p.classification } });
  }
  if (p.assignee !== undefined && p.assignee !== a.assignee) {
    after.assignee = p.assignee;
    entries.push({ kind: "assigned", data: { from: a.assignee, to: p.assignee } });
  }
  return { after, entries };
}
