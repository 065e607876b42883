import type { Static } from "elysia";
import type { Deps } from "../../deps";
import { matches, type Matchable } from "../../core/filter";
import { alertIntent, alertSeverity, alertTitle, joinsOpenAlert, MemoryHitLog, ruleFingerprint, type Rule } from "../../core/rules";
import { ApiError, notFound } from "../../http/errors";
import { iso } from "../../lib/time";
import { toRule, type RuleRow } from "../../store/rules";
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
    hits: r.hits,
    last_hit_at: r.lastHitAt === null ? null : iso(r.lastHitAt),
  };
}

function checkFilter(filter: unknown) {
  const problems = validateFilter(filter, "/filter");
  if (problems.length) throw new ApiError(422, "invalid_body", `invalid filter at ${problems[0].path}: ${problems[0].message}`, problems);
}

export async function create(deps: Deps, tenantId: string, b: Static<typeof RuleBody>) {
  checkFilter(b.filter);
  return view(
    await deps.store.rules.createRule(
      { tenantId, name: b.name, enabled: b.enabled ?? true, filter: JSON.stringify(b.filter), threshold: b.threshold ? JSON.stringify(b.threshold) : null, action: JSON.stringify(b.action) },
      deps.clock(),
    ),
  );
}

async function mustGet(deps: Deps, tenantId: string, id: string): Promise<RuleRow> {
  const r = await deps.store.rules.getRule(tenantId, id);
  if (!r) throw notFound(`no rule ${id}`);
  return r;
}

export async function get(deps: Deps, tenantId: string, id: string) {
  return view(await mustGet(deps, tenantId, id));
}

export async function list(deps: Deps, tenantId: string) {
  return { items: (await deps.store.rules.listRules(tenantId)).map(view) };
}

export async function update(deps: Deps, tenantId: string, id: string, b: Static<typeof RulePatch>) {
  const r = await mustGet(deps, tenantId, id);
  if (b.filter !== undefined) checkFilter(b.filter);
  await deps.store.rules.updateRule(
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
  return view(await mustGet(deps, tenantId, id));
}

export async function remove(deps: Deps, tenantId: string, id: string) {
  if (!(await deps.store.rules.deleteRule(tenantId, id))) throw notFound(`no rule ${id}`);
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
export async function test(deps: Deps, tenantId: string, b: Static<typeof RuleTest>) {
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
  const rows = (await deps.store.events.listEvents(tenantId, { limit: b.last! })).reverse();
  // the same decision as the ingest path (core/rules.ts alertIntent), with the hits counted in
  // memory and the alerts it would open or join kept here the way store/alerts.ts keeps them
  const hits = new MemoryHitLog();
  const open = new Map<string, { title: string; severity: string; fingerprint: string; last_seen: number; event_ids: string[] }>();
  const alerts: { title: string; severity: string; fingerprint: string; last_seen: number; event_ids: string[] }[] = [];
  let matched = 0;
  /** the matching events (the first MAX_SHOWN), with the alert each would open or join */
  const events: { id: string; received_at: string; type: string; source: string; title: string; severity: string; alert: string | null }[] = [];
  const MAX_SHOWN = 200;
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
    const shown = events.length < MAX_SHOWN ? { id: r.id, received_at: iso(r.receivedAt), type: r.type, source: r.source, title: r.title, severity: r.severity, alert: null as string | null } : null;
    if (shown) events.push(shown);
    const a = alertIntent(rule, m, { id: r.id, at: r.receivedAt }, hits);
    if (!a) continue;
    if (shown) shown.alert = a.title;
    const current = open.get(a.fingerprint);
    if (current && joinsOpenAlert(current.last_seen, r.receivedAt, a.windowMs)) {
      current.event_ids.push(r.id);
      current.last_seen = Math.max(current.last_seen, r.receivedAt);
      continue;
    }
    const opened = { title: a.title, severity: a.severity, fingerprint: a.fingerprint, last_seen: r.receivedAt, event_ids: [...a.earlier, r.id] };
    open.set(a.fingerprint, opened);
    alerts.push(opened);
  }
  return {
    evaluated: rows.length,
    matched,
    action: rule.action.kind,
    alerts: alerts.map(({ last_seen: _, ...a }) => a),
    events,
  };
}
