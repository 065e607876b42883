// Which webhooks a message goes to: type patterns with wildcards and filters on severity, source
// and tags. Pure.
import { SEVERITY_RANK, type Severity } from "./severity";

export const MESSAGE_TYPES = [
  "event.received",
  "alert.opened",
  "alert.updated",
  "alert.closed",
  "heartbeat.down",
  "heartbeat.up",
  "heartbeat.paused",
  "heartbeat.deleted",
  "webhook.disabled",
  "webhook.backlog_dropped",
] as const;

/** A pattern is a dotted type where `*` stands for one or more segments' worth of text ("alert.*", "*"). */
export const TRIGGER_RE = /^(\*|[a-z0-9_]+(\.([a-z0-9_]+|\*))*)$/;

export function typeMatches(pattern: string, type: string): boolean {
  if (pattern === "*" || pattern === type) return true;
  if (!pattern.includes("*")) return false;
  return globMatches(pattern.split("*"), type);
}

/**
 * Whether `s` is parts[0] + (1 or more chars) + parts[1] + ... + parts[last], in one pass and no
 * regular expression (time linear in the text whatever the pattern): each literal part is taken at
 * its leftmost place after the previous one, which is the best choice for `*`-only patterns.
 */
function globMatches(parts: string[], s: string): boolean {
  const first = parts[0];
  const last = parts[parts.length - 1];
  if (!s.startsWith(first)) return false;
  let at = first.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const j = s.indexOf(parts[i], at + 1);
    if (j < 0) return false;
    at = j + parts[i].length;
  }
  // the last part is anchored at the end, after at least one character of wildcard
  return s.length - last.length >= at + 1 && s.endsWith(last);
}

export type Filters = { min_severity?: Severity; sources?: string[]; tags?: string[] };

/** What a message says about itself for filtering. */
export type MessageAttrs = { type: string; severity?: Severity | null; source?: string | null; tags?: string[] };

export function messageMatches(triggers: string[], filters: Filters, m: MessageAttrs): boolean {
  if (!triggers.some((p) => typeMatches(p, m.type))) return false;
  if (filters.min_severity && (m.severity == null || SEVERITY_RANK[m.severity] < SEVERITY_RANK[filters.min_severity])) return false;
  if (filters.sources && filters.sources.length && (m.source == null || !filters.sources.includes(m.source))) return false;
  // tags: the message must carry at least one of them
  if (filters.tags && filters.tags.length && !(m.tags ?? []).some((t) => filters.tags!.includes(t))) return false;
  return true;
}
