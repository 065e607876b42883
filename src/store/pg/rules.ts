// Match rules on PostgreSQL: the twin of src/store/rules.ts. threshold is jsonb here (the rule-hit
// pruning reads its window); rows come back with it as JSON text, the SQLite row shape.
import { inTx, type PgConn, type PgTwin } from "../contract";
import { applyRuleActions, RULES_VERSION, takePendingAlerts, takeRuleHits, toRule, type NewRule, type RuleRow, type rulesFns } from "../rules";
import type { AlertChange } from "../alerts";
import { matchableOf, type NormalizedEvent } from "../../core/event";
import { alertIntent, buildIndex, groupKey, type HitLog, type Rule, type RuleIndex } from "../../core/rules";
import { newId } from "../../lib/ids";
import { pgBumpVersion, PgVersionedCache } from "./config-versions";
import { jsonText, pgRaiseAlerts, type RaiseSignal } from "./alerts";

const RULE_COLS = `id, tenant_id AS "tenantId", name, enabled, filter, threshold, action, created_at AS "createdAt",
  updated_at AS "updatedAt", hits, last_hit_at AS "lastHitAt"`;

function toRuleRow(r: Record<string, unknown>): RuleRow {
  return { ...(r as RuleRow), threshold: r.threshold === null || r.threshold === undefined ? null : jsonText(r.threshold) };
}

async function createRule(pg: PgConn, r: NewRule, now: number): Promise<RuleRow> {
  const row: RuleRow = { ...r, id: newId(now), createdAt: now, updatedAt: now, hits: 0, lastHitAt: null };
  await inTx(pg, async (tx) => {
    await tx`INSERT INTO rules (id, tenant_id, name, enabled, filter, threshold, action, created_at, updated_at, hits, last_hit_at)
             VALUES (${row.id}, ${row.tenantId}, ${row.name}, ${row.enabled}, ${row.filter}, ${row.threshold}::text::jsonb, ${row.action},
                     ${now}, ${now}, 0, NULL)`;
    await pgBumpVersion(tx, RULES_VERSION);
  });
  return row;
}

async function getRule(pg: PgConn, tenantId: string, id: string): Promise<RuleRow | undefined> {
  const [r] = await pg.unsafe(`SELECT ${RULE_COLS} FROM rules WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
  return r ? toRuleRow(r) : undefined;
}

async function listRules(pg: PgConn, tenantId: string): Promise<RuleRow[]> {
  const rows = await pg.unsafe(`SELECT ${RULE_COLS} FROM rules WHERE tenant_id = $1 ORDER BY id`, [tenantId]);
  return rows.map(toRuleRow);
}

const SETTABLE: Record<keyof NewRule, string> = {
  tenantId: "tenant_id",
  name: "name",
  enabled: "enabled",
  filter: "filter",
  threshold: "threshold",
  action: "action",
};

async function updateRule(pg: PgConn, id: string, set: Partial<NewRule>, now: number): Promise<void> {
  const cols: string[] = [];
  const args: unknown[] = [id, now];
  for (const [k, col] of Object.entries(SETTABLE) as [keyof NewRule, string][]) {
    if (set[k] === undefined) continue;
    args.push(set[k]);
    cols.push(k === "threshold" ? `${col} = $${args.length}::text::jsonb` : `${col} = $${args.length}`);
  }
  await inTx(pg, async (tx) => {
    await tx.unsafe(`UPDATE rules SET ${[...cols, "updated_at = $2"].join(", ")} WHERE id = $1`, args as any[]);
    await pgBumpVersion(tx, RULES_VERSION);
  });
}

async function deleteRule(pg: PgConn, tenantId: string, id: string): Promise<boolean> {
  return await inTx(pg, async (tx) => {
    const r = await tx`DELETE FROM rules WHERE tenant_id = ${tenantId} AND id = ${id}`;
    if (r.count) await pgBumpVersion(tx, RULES_VERSION);
    return r.count > 0;
  });
}

/** The enabled rules of each tenant as an index, rebuilt when any rule changes (the twin of RuleCache). */
export class PgRuleCache extends PgVersionedCache<RuleIndex> {
  constructor() {
    super(RULES_VERSION, async (conn, tenantId) => {
      const rows = await conn.unsafe(`SELECT ${RULE_COLS} FROM rules WHERE tenant_id = $1 AND enabled ORDER BY id`, [tenantId]);
      return buildIndex(rows.map((r) => toRule(toRuleRow(r))));
    });
  }
}

/** The twin of rulesBeforeInsert: tags, suppress, and the alert rules kept for the second phase (applyRuleActions). */
export async function pgRulesBeforeInsert(tx: PgConn, cache: PgRuleCache, tenantId: string, evs: NormalizedEvent[]): Promise<void> {
  const idx = await cache.get(tx, tenantId);
  if (idx.size === 0) return;
  applyRuleActions(idx, evs);
}

/** A request's inserted events (one segment of a group commit). */
export type PgSegment = { tenantId: string; inserted: NormalizedEvent[] };

/** The twin of rulesAfterInsert for one request: its rules' signals raised, threshold alerts completed. */
export async function pgRulesAfterInsert(tx: PgConn, tenantId: string, inserted: NormalizedEvent[], now: number): Promise<AlertChange[]> {
  const [signals] = await pgRuleSignals(tx, [{ tenantId, inserted }]);
  const raised = await pgRaiseAlerts(tx, signals!, now);
  await pgCompleteThresholdAlerts(tx, signals!, raised.map((r) => r.change));
  return raised.flatMap((r) => (r.change ? [r.change] : []));
}

/** A rule's alert signal; `earlier`: the other events of a threshold alert (linked when it opens). */
export type RuleSignal = RaiseSignal & { earlier: string[] };

/**
 * The first half of rulesAfterInsert for the requests of a group, with a fixed number of
 * statements: hit counts (one), threshold hits (two: the ones recorded before, then this group's),
 * and per request the alert signals of its alert rules, in order (pgRaiseAlerts raises them). Each
 * event's threshold window is what the one-at-a-time record (insert, then read the window) answers:
 * the earlier hits of its rule and group, this group's up to and including its own.
 */
export async function pgRuleSignals(tx: PgConn, segs: PgSegment[]): Promise<RuleSignal[][]> {
  const counted = new Map<string, { n: number; at: number }>();
  for (const { inserted } of segs) takeRuleHits(inserted, counted);
  if (counted.size) {
    const ids = [...counted.keys()];
    await tx.unsafe(
      `UPDATE rules SET hits = rules.hits + u.n, last_hit_at = greatest(coalesce(rules.last_hit_at, 0), u.at)
         FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(id, n, at) WHERE rules.id = u.id`,
      [ids, ids.map((id) => counted.get(id)!.n), ids.map((id) => counted.get(id)!.at)] as any[],
    );
  }
  // the alert rules each inserted event matched, in order
  type Pair = { seg: number; e: NormalizedEvent; m: ReturnType<typeof matchableOf>; r: Rule; group: string | null };
  const pairs: Pair[] = [];
  segs.forEach(({ inserted }, seg) => {
    for (const e of inserted) {
      const rs = takePendingAlerts(e);
      if (!rs) continue;
      const m = matchableOf(e);
      for (const r of rs) pairs.push({ seg, e, m, r, group: r.action.kind === "alert" && r.threshold ? groupKey(r.threshold.group_by, m) : null });
    }
  });
  const out: RuleSignal[][] = segs.map(() => []);
  if (!pairs.length) return out;
  const thr = pairs.filter((p) => p.group !== null);
  const windowOf = new Map<Pair, string[]>();
  if (thr.length) {
    const hk = (rule: string, group: string) => JSON.stringify([rule, group]);
    const since = new Map<string, { rule: string; group: string; since: number }>();
    for (const p of thr) {
      const k = hk(p.r.id, p.group!);
      const s = p.e.receivedAt - p.r.threshold!.window * 1000;
      const cur = since.get(k);
      if (!cur) since.set(k, { rule: p.r.id, group: p.group!, since: s });
      else cur.since = Math.min(cur.since, s);
    }
    const ks = [...since.values()];
    const prior = await tx.unsafe(
      `SELECT h.rule_id, h.group_key, h.at, h.event_id FROM rule_hits h
         JOIN unnest($1::text[], $2::text[], $3::bigint[]) AS u(rule_id, group_key, since)
           ON h.rule_id = u.rule_id AND h.group_key = u.group_key AND h.at > u.since
        ORDER BY h.at`,
      [ks.map((k) => k.rule), ks.map((k) => k.group), ks.map((k) => k.since)] as any[],
    );
    const log = new Map<string, { at: number; id: string }[]>();
    const logOf = (k: string) => {
      let l = log.get(k);
      if (!l) log.set(k, (l = []));
      return l;
    };
    for (const h of prior) logOf(hk(h.rule_id, h.group_key)).push({ at: Number(h.at), id: h.event_id });
    for (const p of thr) {
      const l = logOf(hk(p.r.id, p.group!));
      l.push({ at: p.e.receivedAt, id: p.e.id });
      const from = p.e.receivedAt - p.r.threshold!.window * 1000;
      // ORDER BY at (a stable sort: the order they were recorded in among equal times)
      windowOf.set(p, l.filter((h) => h.at > from).sort((a, b) => a.at - b.at).map((h) => h.id));
    }
    await tx.unsafe(
      `INSERT INTO rule_hits (rule_id, group_key, at, event_id) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])`,
      [thr.map((p) => p.r.id), thr.map((p) => p.group), thr.map((p) => p.e.receivedAt), thr.map((p) => p.e.id)] as any[],
    );
  }
  // the shared decision (modules/rules/service.ts dry run) per pair
  for (const p of pairs) {
    const inWindow = windowOf.get(p) ?? [];
    const recorded: HitLog = { record: () => inWindow };
    const a = alertIntent(p.r, p.m, { id: p.e.id, at: p.e.receivedAt }, recorded);
    if (!a) continue;
    const e = p.e;
    out[p.seg]!.push({
      tenantId: segs[p.seg]!.tenantId,
      fingerprint: a.fingerprint,
      title: a.title,
      severity: a.severity,
      sourceName: e.sourceName,
      source: e.source,
      ruleId: p.r.id,
      tags: e.tags,
      event: e,
      resolve: false,
      windowMs: a.windowMs,
      // a threshold alert counts every event that made it
      carry: a.earlier.length,
      earlier: a.earlier,
    });
  }
  return out;
}

/**
 * The second half: a threshold alert carries every event that made it (linked, and first seen at
 * the earliest of them; pgRaiseAlerts counted them). `changes[i]` is what signals[i] did.
 */
export async function pgCompleteThresholdAlerts(tx: PgConn, signals: RuleSignal[], changes: (AlertChange | null)[]): Promise<void> {
  const carry: { alertId: string; earlier: string[]; opener: string }[] = [];
  changes.forEach((c, i) => {
    const s = signals[i]!;
    if (c?.change === "opened" && s.earlier.length) carry.push({ alertId: c.alertId, earlier: s.earlier, opener: s.event.id });
  });
  if (!carry.length) return;
  const links = carry.flatMap((c) => c.earlier.map((id) => [c.alertId, id] as const));
  await tx.unsafe(
    `INSERT INTO alert_events (alert_id, event_id) SELECT u.a, u.e FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(a, e, ord) ORDER BY u.ord
     ON CONFLICT DO NOTHING`,
    [links.map((l) => l[0]), links.map((l) => l[1])] as any[],
  );
  // the events the alert had then: its opener and the earlier ones (ids hold no comma)
  await tx.unsafe(
    `UPDATE alerts a SET first_seen = least(a.first_seen, (SELECT min(e.received_at) FROM events e WHERE e.id = ANY(string_to_array(u.ids, ','))))
       FROM unnest($1::text[], $2::text[]) AS u(id, ids) WHERE a.id = u.id`,
    [carry.map((c) => c.alertId), carry.map((c) => [c.opener, ...c.earlier].join(","))] as any[],
  );
}

async function pruneRuleHits(pg: PgConn, now: number): Promise<number> {
  const r = await pg`DELETE FROM rule_hits h USING rules r
     WHERE r.id = h.rule_id AND h.at < ${now}::bigint - coalesce((r.threshold->>'window')::numeric, 0) * 1000`;
  return r.count;
}

export const pgRulesFns: PgTwin<typeof rulesFns> = { createRule, getRule, listRules, updateRule, deleteRule, pruneRuleHits };
