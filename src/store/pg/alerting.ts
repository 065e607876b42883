// The alerting commit hooks on PostgreSQL: the async twin of src/ingest/hooks.ts, in the same order
// with the same results: match rules (before: tag, suppress, which alert rules apply; after: their
// alerts) → alerts of alert sources → heartbeat beats → outbound messages (the outbox), and the
// enrichment of every alert a commit opened. Every hook runs inside the unit's transaction.
//
// src/store/pg/hooks.ts builds pgCommitHooks from pgAlertingHooks(); this module reads the outbox
// and the whole hook list only when a hook runs (hooks.ts imports this module: no eager use of it).
import { afterCommit, type PgConn } from "../contract";
import { wakeEnrichment } from "../../ingest/hooks";
import type { AlertChange } from "../alerts";
import { alertView } from "../alerts";
import { HEARTBEAT_SOURCE } from "../heartbeat-transitions";
import { DEFAULT_DEDUP_WINDOW_MS } from "../../core/alerts";
import type { NormalizedEvent } from "../../core/event";
import type { Severity } from "../../core/severity";
import type { PgCommitHook, PgMessage, PgOutbox } from "./hooks";
import { pgAlertsById, pgAlertsFns } from "./alerts";
import { pgAlertsWithIndicators, pgEnqueueEnrichments, pgSettleWithoutIndicators } from "./enrichment";
import { pgBeatsFromEvents } from "./heartbeat-transitions";
import { PgRuleCache, pgRulesAfterInsert, pgRulesBeforeInsert } from "./rules";

/**
 * Enrichment jobs enqueued by this process's PostgreSQL commits (monotonic), counted once they are
 * committed (afterCommit: a unit that rolls back, or that inTx runs again, does not count twice).
 * The unit's owner (the group commit) compares the count before and after its commit and wakes the
 * enrichment worker when it moved, as the SQLite writer reports its `enqueued`
 * (src/ingest/hooks.ts enrichmentStats).
 */
export const pgEnrichmentStats = { enqueued: 0 };

/**
 * Every alert a commit opened gets its enrichment job in the same transaction; one without
 * indicators is settled `enriched` right there (no job). A fixed number of statements for all of
 * them: which have indicators (one), their jobs (one), the others settled (two).
 */
async function enqueueEnrichments(tx: PgConn, changes: AlertChange[], now: number): Promise<void> {
  const opened = changes.filter((c) => c.change === "opened").map((c) => c.alertId);
  if (!opened.length) return;
  const withInd = await pgAlertsWithIndicators(tx, opened);
  const jobs = opened.filter((id) => withInd.has(id));
  const settle = opened.filter((id) => !withInd.has(id));
  if (settle.length) await pgSettleWithoutIndicators(tx, settle, now);
  if (jobs.length) {
    await pgEnqueueEnrichments(tx, jobs);
    // counted and the worker woken once the jobs are committed (whoever made the unit: ingest, an
    // API change, a heartbeat flip); a unit that inTx runs again counts once
    afterCommit(tx, () => {
      pgEnrichmentStats.enqueued += jobs.length;
      wakeEnrichment();
    });
  }
}

/** alert.opened / alert.updated / alert.closed for every alert a commit changed (and enrichment of new ones). */
async function announceAlerts(tx: PgConn, outbox: PgOutbox | null, tenantId: string, changes: AlertChange[], now: number): Promise<void> {
  await enqueueEnrichments(tx, changes, now);
  if (!outbox || !changes.length) return;
  const wanted: AlertChange[] = [];
  const wants = new Map<string, boolean>();
  for (const c of changes) {
    const type = `alert.${c.change}`;
    if (!wants.has(type)) wants.set(type, await outbox.wants(tx, tenantId, type));
    if (wants.get(type)) wanted.push(c);
  }
  if (!wanted.length) return;
  // every changed alert read once, as the commit leaves it (the messages carry that state)
  const rows = await pgAlertsById(tx, [...new Set(wanted.map((c) => c.alertId))]);
  const messages: PgMessage[] = [];
  for (const c of wanted) {
    const a = rows.get(c.alertId);
    if (!a) continue;
    // suppress_until silences re-notification of repeats
    if (c.change === "updated" && a.suppressUntil !== null && a.suppressUntil > now) continue;
    messages.push({ type: `alert.${c.change}`, data: alertView(a), severity: a.severity as Severity, source: a.source, tags: JSON.parse(a.tags) });
  }
  if (messages.length) await outbox.emitMany(tx, tenantId, messages, now);
}

/**
 * The four alerting hooks, in order. `outbox` and `all` (the whole hook list, which a beat's flip
 * runs again for its system event) are read when a hook runs.
 */
export function pgAlertingHooks(outbox: () => PgOutbox | null, all: () => PgCommitHook[]): PgCommitHook[] {
  // made on first use: this runs while the modules load (see hooks.ts), perhaps before rules.ts
  let ruleCache: PgRuleCache | null = null;

  /** Match rules: tag, suppress, or open their own alerts (first: a suppress stops the source's alert). */
  const matchRules: PgCommitHook = Object.assign(
    async (tx: PgConn, tenantId: string, inserted: NormalizedEvent[], now: number) =>
      announceAlerts(tx, outbox(), tenantId, await pgRulesAfterInsert(tx, tenantId, inserted, now), now),
    { before: (tx: PgConn, tenantId: string, events: NormalizedEvent[]) => pgRulesBeforeInsert(tx, (ruleCache ??= new PgRuleCache()), tenantId, events) },
  );

  /** Alert sources open (or join, or resolve) an alert for every item. */
  const sourceAlerts: PgCommitHook = async (tx, tenantId, inserted, now) =>
    announceAlerts(tx, outbox(), tenantId, await pgAlertsFns.alertsFromEvents(tx, tenantId, inserted, now, DEFAULT_DEDUP_WINDOW_MS), now);

  /** Events that match a heartbeat's filter are beats (and may resolve its alert). */
  const heartbeatBeats: PgCommitHook = (tx, tenantId, inserted, now) => pgBeatsFromEvents(tx, tenantId, inserted, all(), now);

  /** The transactional outbox: event.received for stored events, heartbeat.* for keepwatch's own heartbeat events. */
  const outboundMessages: PgCommitHook = async (tx, tenantId, inserted, now) => {
    const o = outbox();
    if (!o) return;
    const plain = inserted.filter((e) => e.sourceName !== HEARTBEAT_SOURCE);
    if (plain.length) await o.onEventsInserted(tx, plain);
    for (const e of inserted)
      if (e.sourceName === HEARTBEAT_SOURCE)
        await o.emit(tx, tenantId, { type: e.type, data: JSON.parse(e.payloadJson), severity: e.severity, source: e.source, tags: e.tags }, now);
  };

  return [matchRules, sourceAlerts, heartbeatBeats, outboundMessages];
}
