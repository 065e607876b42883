// Match rules: a filter, an optional threshold (count within a window, grouped by fields), and an
// action (open an alert, suppress, tag). Rules are indexed by the event type and source their
// filter requires, so that an event is only checked against the rules that can match it.
import { Type, type Static } from "@sinclair/typebox";
import { fieldValue, FIELDS, matches, type Filter, type Matchable } from "./filter";
import { SEVERITIES, type Severity } from "./severity";
import { sha256Hex } from "../lib/crypto";
import { DEFAULT_DEDUP_WINDOW_MS } from "./alerts";
import { sliceText, storableText } from "./text";

const FieldRef = Type.String({ pattern: `^(${FIELDS.join("|")}|payload(\\.[^.\\s]+)+)$`, description: "a normalized field or payload.<path>" });

export const Threshold = Type.Object(
  {
    count: Type.Integer({ minimum: 2, maximum: 1_000_000, description: "events needed" }),
    window: Type.Integer({ minimum: 1, maximum: 30 * 86400, description: "seconds" }),
    group_by: Type.Optional(Type.Array(FieldRef, { maxItems: 10, description: "count separately per value of these fields" })),
  },
  { additionalProperties: false },
);

export const Action = Type.Union([
  Type.Object(
    {
      kind: Type.Literal("alert"),
      title: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: "template: {{payload.service}} deploy failed" })),
      severity: Type.Optional(Type.Union(SEVERITIES.map((s) => Type.Literal(s)))),
      fingerprint: Type.Optional(Type.Array(FieldRef, { maxItems: 10, description: "fields that make two alerts the same (default: the group)" })),
      dedup_window: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 * 86400, description: "seconds (default 86400)" })),
    },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal("suppress") }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal("tag"), tags: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { minItems: 1, maxItems: 20 }) }, { additionalProperties: false }),
]);

export type Threshold = Static<typeof Threshold>;
export type Action = Static<typeof Action>;

export type Rule = {
  id: string;
  name: string;
  filter: Filter;
  threshold: Threshold | null;
  action: Action;
};

export type RuleIndex = {
  byType: Map<string, Rule[]>;
  bySource: Map<string, Rule[]>;
  rest: Rule[];
  size: number;
};

/** Values a filter requires a field to have (from `eq` / `in` at the top or in a top-level `all`). */
export function requiredValues(f: Filter, field: "type" | "source"): string[] | null {
  const conds = "all" in f ? f.all : [f];
  for (const c of conds) {
    if ("field" in c && c.field === field) {
      if (c.op === "eq" && typeof c.value === "string") return [c.value];
      if (c.op === "in" && Array.isArray(c.value) && c.value.every((v) => typeof v === "string")) return c.value as string[];
    }
  }
  return null;
}

export function buildIndex(rules: Rule[]): RuleIndex {
  const idx: RuleIndex = { byType: new Map(), bySource: new Map(), rest: [], size: rules.length };
  const put = (m: Map<string, Rule[]>, k: string, r: Rule) => {
    const l = m.get(k);
    if (l) l.push(r);
    else m.set(k, [r]);
  };
  for (const r of rules) {
    const types = requiredValues(r.filter, "type");
    if (types) {
      for (const t of types) put(idx.byType, t, r);
      continue;
    }
    const sources = requiredValues(r.filter, "source");
    if (sources) {
      for (const s of sources) put(idx.bySource, s, r);
      continue;
    }
    idx.rest.push(r);
  }
  return idx;
}

/** The rules whose filter matches the event (only the candidates from the index are checked). */
export function matchingRules(idx: RuleIndex, e: Matchable): Rule[] {
  const out: Rule[] = [];
  const seen = new Set<string>();
  const check = (l: Rule[] | undefined) => {
    if (!l) return;
    for (const r of l)
      if (!seen.has(r.id)) {
        seen.add(r.id);
        if (matches(r.filter, e)) out.push(r);
      }
  };
  check(idx.byType.get(e.type));
  check(idx.bySource.get(e.source));
  check(idx.rest);
  return out;
}

const show = (v: unknown) => (v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));

/**
 * A {{field}} placeholder. Every part is unambiguous (a path segment never holds a dot), so a
 * template is scanned in linear time: the earlier `(?:\.[^{}\s]+)*` let a run of dots split
 * in exponentially many ways, and a 1 KB title template of dots took ~1 s to render per event.
 */
const PLACEHOLDER = /\{\{\s*([a-z_]+(?:\.[^{}\s.]+)*)\s*\}\}/g;

/** Renders {{field}} placeholders: {{payload.service}} deploy failed. */
export function renderTemplate(tpl: string, e: Matchable): string {
  // a payload value may hold a NUL or an unpaired surrogate, and the cut may split a pair: storable text
  return storableText(sliceText(tpl.replace(PLACEHOLDER, (_, f: string) => show(fieldValue(e, f))), 1024));
}

export function groupKey(fields: string[] | undefined, e: Matchable): string {
  if (!fields?.length) return "";
  return JSON.stringify(fields.map((f) => show(fieldValue(e, f))));
}

export function ruleFingerprint(rule: Rule, e: Matchable): string {
  const a = rule.action.kind === "alert" ? rule.action : null;
  const fields = a?.fingerprint ?? rule.threshold?.group_by;
  return `rule:${rule.id}:${sha256Hex(groupKey(fields, e)).slice(0, 24)}`;
}

export function alertTitle(rule: Rule, e: Matchable): string {
  const a = rule.action.kind === "alert" ? rule.action : null;
  return a?.title ? renderTemplate(a.title, e) || rule.name : rule.name;
}

export function alertSeverity(rule: Rule, e: Matchable): Severity {
  const a = rule.action.kind === "alert" ? rule.action : null;
  return (a?.severity ?? e.severity) as Severity;
}

/**
 * Where a threshold rule's hits are counted: the database on the ingest path (store/rules.ts), a
 * MemoryHitLog in the dry run. `record` keeps the hit and returns the ids of the rule's hits in
 * that group after `since`, oldest first, this one included.
 */
export interface HitLog {
  record(ruleId: string, group: string, at: number, eventId: string, since: number): string[];
}

export class MemoryHitLog implements HitLog {
  private hits = new Map<string, { at: number; id: string }[]>();
  record(ruleId: string, group: string, at: number, eventId: string, since: number): string[] {
    const key = JSON.stringify([ruleId, group]);
    const list = this.hits.get(key) ?? [];
    list.push({ at, id: eventId });
    const kept = list.filter((h) => h.at > since).sort((a, b) => a.at - b.at);
    this.hits.set(key, kept);
    return kept.map((h) => h.id);
  }
}

/** What an alert rule does with one event it matched: the alert it opens or joins. */
export type AlertIntent = {
  fingerprint: string;
  title: string;
  severity: Severity;
  /** an open alert with the fingerprint seen within this many ms is joined */
  windowMs: number;
  /** the earlier events that made the threshold (an alert it opens carries them too) */
  earlier: string[];
};

/**
 * The one decision the ingest path and the dry run (POST /v1/rules/test) share: for an event an
 * alert rule matched, null while the rule's threshold is not reached (the hit is counted either
 * way), else the alert it raises.
 */
export function alertIntent(rule: Rule, m: Matchable, ev: { id: string; at: number }, hits: HitLog): AlertIntent | null {
  if (rule.action.kind !== "alert") return null;
  let earlier: string[] = [];
  if (rule.threshold) {
    const inWindow = hits.record(rule.id, groupKey(rule.threshold.group_by, m), ev.at, ev.id, ev.at - rule.threshold.window * 1000);
    if (inWindow.length < rule.threshold.count) return null;
    earlier = inWindow.filter((id) => id !== ev.id);
  }
  return {
    fingerprint: ruleFingerprint(rule, m),
    title: alertTitle(rule, m),
    severity: alertSeverity(rule, m),
    windowMs: (rule.action.dedup_window ?? DEFAULT_DEDUP_WINDOW_MS / 1000) * 1000,
    earlier,
  };
}

/** An open alert last seen at `lastSeen` is joined by a signal at `now` (store/alerts.ts findOpen asks the same). */
export const joinsOpenAlert = (lastSeen: number, now: number, windowMs: number): boolean => lastSeen >= now - windowMs;
