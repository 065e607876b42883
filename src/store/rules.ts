// Match rules: CRUD, the cached index the ingest path evaluates, threshold hits, and the actions
// applied inside the ingest transaction.
import type { Bound } from "./contract";
import { and, asc, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { rules } from "../db/schema";
import { bumpVersion, VersionedCache } from "./config-versions";
import { matchableOf, type NormalizedEvent } from "../core/event";
import { alertIntent, buildIndex, matchingRules, type HitLog, type Rule, type RuleIndex } from "../core/rules";
import { newId } from "../lib/ids";
import { raiseAlert, type AlertChange } from "./alerts";

export type RuleRow = typeof rules.$inferSelect;

export const RULES_VERSION = "rules";

const bump = (db: Db) => bumpVersion(db, RULES_VERSION);

export type NewRule = Pick<RuleRow, "tenantId" | "name" | "enabled" | "filter" | "threshold" | "action">;

export function createRule(db: Db, r: NewRule, now: number): RuleRow {
  const row: RuleRow = { ...r, id: newId(now), createdAt: now, updatedAt: now, hits: 0, lastHitAt: null };
  db.transaction(() => {
    db.insert(rules).values(row).run();
    bump(db);
  });
  return row;
}

export function getRule(db: Db, tenantId: string, id: string): RuleRow | undefined {
  return db.select().from(rules).where(and(eq(rules.tenantId, tenantId), eq(rules.id, id))).get();
}

export function listRules(db: Db, tenantId: string): RuleRow[] {
  return db.select().from(rules).where(eq(rules.tenantId, tenantId)).orderBy(asc(rules.id)).all();
}

export function updateRule(db: Db, id: string, set: Partial<NewRule>, now: number): void {
  db.transaction(() => {
    db.update(rules).set({ ...set, updatedAt: now }).where(eq(rules.id, id)).run();
    bump(db);
  });
}

export function deleteRule(db: Db, tenantId: string, id: string): boolean {
  return db.transaction(() => {
    const n = db.$client.query("DELETE FROM rules WHERE tenant_id = ?1 AND id = ?2").run(tenantId, id).changes;
    if (n) bump(db);
    return n > 0;
  });
}

export function toRule(r: RuleRow): Rule {
  return { id: r.id, name: r.name, filter: JSON.parse(r.filter), threshold: r.threshold ? JSON.parse(r.threshold) : null, action: JSON.parse(r.action) };
}

/** The enabled rules of each tenant as an index, rebuilt when any rule changes. */
export class RuleCache extends VersionedCache<RuleIndex> {
  constructor() {
    super(RULES_VERSION, (db, tenantId) =>
      buildIndex(db.select().from(rules).where(and(eq(rules.tenantId, tenantId), eq(rules.enabled, true))).all().map(toRule)),
    );
  }
}

/** Every rule an event matched in the first phase, counted as hits in the second (only if it was inserted); shared by both stores (src/store/pg/rules.ts). */
const matchedRules = new WeakMap<NormalizedEvent, string[]>();

/** Alert rules an event matched in the first phase, for the second (only if it was inserted). */
const pendingAlerts = new WeakMap<NormalizedEvent, Rule[]>();

/**
 * First phase, before the events are inserted: tag actions add tags (stored with the event),
 * suppress actions stop the event from opening any alert (its source's too), and the alert rules
 * it matched are kept for the second phase.
 */
export function rulesBeforeInsert(db: Db, cache: RuleCache, tenantId: string, evs: NormalizedEvent[]): void {
  const idx = cache.get(db, tenantId);
  if (idx.size === 0) return;
  applyRuleActions(idx, evs);
}

/**
 * The first phase's decisions for a batch of events, without the database (both stores' twins):
 * tags added, suppression, and the rules each event matched remembered for the second phase
 * (takeRuleHits, takePendingAlerts).
 */
export function applyRuleActions(idx: RuleIndex, evs: NormalizedEvent[]): void {
  for (const e of evs) {
    const hits = matchingRules(idx, matchableOf(e));
    if (!hits.length) continue;
    matchedRules.set(e, hits.map((r) => r.id));
    const addTags = hits.flatMap((r) => (r.action.kind === "tag" ? r.action.tags : [])).filter((t) => !e.tags.includes(t));
    if (addTags.length) e.tags = [...e.tags, ...new Set(addTags)];
    if (hits.some((r) => r.action.kind === "suppress")) {
      e.opensAlert = false;
      continue;
    }
    const alerting = hits.filter((r) => r.action.kind === "alert");
    if (alerting.length) pendingAlerts.set(e, alerting);
  }
}

/** Hits per rule of inserted events (count and latest receivedAt), added to `counted`; each event's hits are counted once. */
export function takeRuleHits(inserted: NormalizedEvent[], counted = new Map<string, { n: number; at: number }>()): Map<string, { n: number; at: number }> {
  for (const e of inserted) {
    const ids = matchedRules.get(e);
    if (!ids) continue;
    matchedRules.delete(e);
    for (const id of ids) {
      const c = counted.get(id);
      if (c) (c.n++, (c.at = Math.max(c.at, e.receivedAt)));
      else counted.set(id, { n: 1, at: e.receivedAt });
    }
  }
  return counted;
}

/** The alert rules an inserted event matched in the first phase (once: they are forgotten). */
export function takePendingAlerts(e: NormalizedEvent): Rule[] | undefined {
  const rs = pendingAlerts.get(e);
  if (rs) pendingAlerts.delete(e);
  return rs;
}

/**
 * Second phase, for the events that were inserted (inside the ingest transaction): alert rules
 * open or join their alert, after the threshold is reached when there is one.
 */
export function rulesAfterInsert(db: Db, tenantId: string, inserted: NormalizedEvent[], now: number): AlertChange[] {
  const changes: AlertChange[] = [];
  // hit counts: one UPDATE per rule per batch
  const counted = takeRuleHits(inserted);
  if (counted.size) {
    const bump = db.$client.query("UPDATE rules SET hits = hits + ?1, last_hit_at = max(coalesce(last_hit_at, 0), ?2) WHERE id = ?3");
    for (const [id, c] of counted) bump.run(c.n, c.at, id);
  }
  const hits = sqlHitLog(db);
  for (const e of inserted) {
    const rs = takePendingAlerts(e);
    if (!rs) continue;
    const m = matchableOf(e);
    for (const r of rs) {
      // the decision is shared with the dry run (modules/rules/service.ts test)
      const a = alertIntent(r, m, { id: e.id, at: e.receivedAt }, hits);
      if (!a) continue;
      const change = raiseAlert(
        db,
        tenantId,
        { fingerprint: a.fingerprint, title: a.title, severity: a.severity, sourceName: e.sourceName, source: e.source, ruleId: r.id, tags: e.tags, event: e, resolve: false },
        now,
        a.windowMs,
      );
      if (change) changes.push(change);
      // a threshold alert carries every event that made it
      if (change?.change === "opened" && a.earlier.length) {
        const link = db.$client.query("INSERT OR IGNORE INTO alert_events (alert_id, event_id) VALUES (?1, ?2)");
        for (const id of a.earlier) link.run(change.alertId, id);
        db.$client
          .prepare("UPDATE alerts SET count = count + ?2, first_seen = min(first_seen, (SELECT min(received_at) FROM events WHERE id IN (SELECT event_id FROM alert_events WHERE alert_id = ?1))) WHERE id = ?1")
          .run(change.alertId, a.earlier.length);
      }
    }
  }
  return changes;
}

/** Threshold hits in rule_hits (inside the ingest transaction). */
function sqlHitLog(db: Db): HitLog {
  return {
    record(ruleId, group, at, eventId, since) {
      db.$client.query("INSERT INTO rule_hits (rule_id, group_key, at, event_id) VALUES (?1, ?2, ?3, ?4)").run(ruleId, group, at, eventId);
      return (
        db.$client.prepare("SELECT event_id AS id FROM rule_hits WHERE rule_id = ?1 AND group_key = ?2 AND at > ?3 ORDER BY at").all(ruleId, group, since) as { id: string }[]
      ).map((x) => x.id);
    },
  };
}

/** Drops threshold hits older than their rule's window. */
export function pruneRuleHits(db: Db, now: number): number {
  return db.$client
    .prepare(
      `DELETE FROM rule_hits WHERE rowid IN (
         SELECT h.rowid FROM rule_hits h JOIN rules r ON r.id = h.rule_id
          WHERE h.at < ?1 - coalesce(json_extract(r.threshold, '$.window'), 0) * 1000)`,
    )
    .run(now).changes;
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/rules.ts. */
// (rulesBeforeInsert / rulesAfterInsert run inside a commit, through the commit hooks, not the contract)
export const rulesFns = { createRule, getRule, listRules, updateRule, deleteRule, pruneRuleHits };
export type RulesStore = Bound<typeof rulesFns>;
