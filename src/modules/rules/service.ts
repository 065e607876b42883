import type { Static } from "elysia";
import type { Deps } from "../../deps";
import { matches, type Matchable } from "../../core/filter";
import { alertSeverity, alertTitle, groupKey, ruleFingerprint, type Rule } from "../../core/rules";
import { ApiError, notFound } from "../../http/errors";
import { iso } from "../../lib/time";
import { listEvents } from "../../store/events";
import { createRule, deleteRule, getRule, listRules, toRule, updateRule, type RuleRow } from "../../store/rules";
import { validateFilter } from "../../core/filter";
import type { RuleBody, RulePatch, RuleTest } from "./model";

export function view(r: RuleRow) {
  return {
    id: r.id,
    name: r.name,
    enabled: r.enabled,
    filter: JSON.parse(r.filter),
    threshold: r.threshold ? JSON.parse(r.threshold) : null,
    action: JSON.parse(r.action),
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
  };
}

function checkFilter(filter: unknown) {
  const problems = validateFilter(filter, "/filter");
  if (problems.length) throw new ApiError(422, "invalid_body", `invalid filter at ${problems[0].path}: ${problems[0].message}`, problems);
}

export function create(deps: Deps, tenantId: string, b: Static<typeof RuleBody>) {
  checkFilter(b.filter);
  return view(
    createRule(
      deps.db,
      { tenantId, name: b.name, enabled: b.enabled ?? true, filter: JSON.stringify(b.filter), threshold: b.threshold ? JSON.stringify(b.threshold) : null, action: JSON.stringify(b.action) },
      deps.clock(),
    ),
  );
}

function mustGet(deps: Deps, tenantId: string, id: string): RuleRow {
  const r = getRule(deps.db, tenantId, id);
  if (!r) throw notFound(`no rule ${id}`);
  return r;
}

export function get(deps: Deps, tenantId: string, id: string) {
  return view(mustGet(deps, tenantId, id));
}

export function list(deps: Deps, tenantId: string) {
  return { items: listRules(deps.db, tenantId).map(view) };
}

export function update(deps: Deps, tenantId: string, id: string, b: Static<typeof RulePatch>) {
  const r = mustGet(deps, tenantId, id);
  if (b.filter !== undefined) checkFilter(b.filter);
  updateRule(
    deps.db,
    r.id,
    {
      ...(b.name !== undefined && { name: b.name }),
      ...(b.enabled !== undefined && { enabled: b.enabled }),
      ...(b.filter !== undefined && { filter: JSON.stringify(b.filter) }),
      ...(b.threshold !== undefined && { threshold: b.threshold ? JSON.stringify(b.threshold) : null }),
      ...(b.action !== undefined && { action: JSON.stringify(b.action) }),
    },
    deps.clock(),
  );
  return view(mustGet(deps, tenantId, id));
}

export function remove(deps: Deps, tenantId: string, id: string) {
  if (!deleteRule(deps.db, tenantId, id)) throw notFound(`no rule ${id}`);
}

function outcome(rule: Rule, m: Matchable) {
  if (rule.action.kind === "alert")
    return { action: "alert", title: alertTitle(rule, m), severity: alertSeverity(rule, m), fingerprint: ruleFingerprint(rule, m) };
  if (rule.action.kind === "tag") return { action: "tag", tags: rule.action.tags };
  return { action: "suppress" };
}

/**
 * Says what a rule would do, without storing anything: on a sample event, or replayed over the
 * last N stored events in the order they arrived (threshold windows included).
 */
export function test(deps: Deps, tenantId: string, b: Static<typeof RuleTest>) {
  checkFilter(b.rule.filter);
  if (!b.event && !b.last) throw new ApiError(422, "invalid_body", "give an event to test on, or last: N", [{ path: "/event", message: "event or last is required" }]);
  const rule: Rule = { id: "test", name: b.rule.name, filter: b.rule.filter as Rule["filter"], threshold: b.rule.threshold ?? null, action: b.rule.action };
  if (b.event) {
    const e = b.event;
    const m: Matchable = {
      type: e.type,
      source: e.source,
      sourceName: e.source_name ?? "events",
      module: e.module ?? "custom",
      title: e.title ?? e.summary ?? e.type,
      summary: e.summary ?? "",
      severity: e.severity ?? "info",
      host: e.host ?? null,
      tags: e.tags ?? [],
      payload: e.payload ?? {},
    };
    const matched = matches(rule.filter, m);
    return {
      matched,
      ...(matched ? outcome(rule, m) : {}),
      ...(matched && rule.threshold ? { note: `an alert opens once ${rule.threshold.count} such events arrive within ${rule.threshold.window} s` } : {}),
    };
  }
  const rows = listEvents(deps.db, tenantId, { limit: b.last! }).reverse();
  const hits = new Map<string, number[]>(); // keyed by event data: never a plain object
  const alerts = new Map<string, { title: string; severity: string; fingerprint: string; event_ids: string[] }>();
  let matched = 0;
  for (const r of rows) {
    const m: Matchable = {
      type: r.type,
      source: r.source,
      sourceName: r.sourceName,
      module: r.module,
      title: r.title,
      summary: r.summary,
      severity: r.severity,
      host: r.host,
      tags: JSON.parse(r.tags),
      payload: JSON.parse(r.payload),
    };
    if (!matches(rule.filter, m)) continue;
    matched++;
    if (rule.action.kind !== "alert") continue;
    if (rule.threshold) {
      const g = groupKey(rule.threshold.group_by, m);
      let list = hits.get(g);
      if (!list) hits.set(g, (list = []));
      list.push(r.receivedAt);
      while (list.length && list[0] <= r.receivedAt - rule.threshold.window * 1000) list.shift();
      if (list.length < rule.threshold.count) continue;
    }
    const o = outcome(rule, m) as { title: string; severity: string; fingerprint: string };
    const a = alerts.get(o.fingerprint) ?? { ...o, event_ids: [] };
    a.event_ids.push(r.id);
    alerts.set(o.fingerprint, a);
  }
  return { evaluated: rows.length, matched, action: rule.action.kind, alerts: [...alerts.values()] };
}
