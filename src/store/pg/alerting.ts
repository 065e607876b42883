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
import type { PgCommitHook, PgCommitHooks, PgMessage, PgOutbox, PgOutboxBatch } from "./hooks";
import { pgAlertsById, pgAlertsFns, pgRaiseAlerts, sourceSignals, type AlertSnap } from "./alerts";
import { pgAlertsWithIndicators, pgEnqueueEnrichments, pgSettleWithoutIndicators } from "./enrichment";
import { pgBeatsFromEvents, pgMayBeat } from "./heartbeat-transitions";
import { pgCompleteThresholdAlerts, PgRuleCache, pgRulesAfterInsert, pgRulesBeforeInsert, pgRuleSignals, type PgSegment } from "./rules";

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
export function pgAlertingHooks(outbox: () => PgOutbox | null, all: () => PgCommitHook[]): PgCommitHooks {
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

  /**
   * The four hooks for the requests of a group commit at once (pgStoreMany), with the same results
   * and outbound messages in the same order as running them request after request, but a fixed
   * number of statements per group instead of per request: the rules' and alert sources' signals
   * of every request raised in one pgRaiseAlerts (in request order: a request's rule signals, then
   * its source signals), the new alerts' enrichment at once, every changed alert read once (each
   * message carries its alert as its own request left it: AlertSnap), and the messages of the whole
   * group written in one outbox unit (flushed before a request whose events may be beats, whose
   * flips write their own messages in between).
   */
  const group = async (tx: PgConn, segs: PgSegment[], now: number): Promise<void> => {
    const o = outbox();
    const ruleSigs = await pgRuleSignals(tx, segs);
    const slices = segs.map((sg, i) => ({ rule: ruleSigs[i]!, source: sourceSignals(sg.tenantId, sg.inserted, DEFAULT_DEDUP_WINDOW_MS) }));
    const raised = await pgRaiseAlerts(tx, slices.flatMap((x) => [...x.rule, ...x.source]), now);
    // raised, cut back into each request's rule and source results
    let at = 0;
    const results = slices.map((x) => {
      const rule = raised.slice(at, (at += x.rule.length));
      const source = raised.slice(at, (at += x.source.length));
      return { rule, source };
    });
    const ruleFlat = slices.flatMap((x) => x.rule);
    await pgCompleteThresholdAlerts(tx, ruleFlat, results.flatMap((r) => r.rule.map((x) => x.change)));
    const changes = results.flatMap((r) => [...r.rule, ...r.source]).flatMap((x) => (x.change ? [x.change] : []));
    await enqueueEnrichments(tx, changes, now);
    if (!o) {
      for (const sg of segs) await pgBeatsFromEvents(tx, sg.tenantId, sg.inserted, all(), now);
      return;
    }
    // alert.* messages: which types each tenant's webhooks want, every changed alert read once
    const wants = new Map<string, boolean>();
    const wanted = async (tenantId: string, type: string) => {
      const k = `${tenantId}\u0000${type}`;
      if (!wants.has(k)) wants.set(k, await o.wants(tx, tenantId, type));
      return wants.get(k)!;
    };
    const ids = new Set<string>();
    for (let i = 0; i < segs.length; i++)
      for (const x of [...results[i]!.rule, ...results[i]!.source]) if (x.change && (await wanted(segs[i]!.tenantId, `alert.${x.change.change}`))) ids.add(x.change.alertId);
    const rows = await pgAlertsById(tx, [...ids]);
    const b = o.batch?.(tx) ?? immediate(o, tx);
    for (let i = 0; i < segs.length; i++) {
      const { tenantId, inserted } = segs[i]!;
      for (const part of [results[i]!.rule, results[i]!.source]) {
        // an alert as this request's rule (or source) signals left it, as the per-request read sees it
        const snaps = new Map<string, AlertSnap>();
        for (const x of part) if (x.change && x.snap) snaps.set(x.change.alertId, x.snap);
        const messages: PgMessage[] = [];
        for (const x of part) {
          const c = x.change;
          if (!c || !(await wanted(tenantId, `alert.${c.change}`))) continue;
          const row = rows.get(c.alertId);
          if (!row) continue;
          const a = { ...row, ...snaps.get(c.alertId) };
          // suppress_until silences re-notification of repeats
          if (c.change === "updated" && a.suppressUntil !== null && a.suppressUntil > now) continue;
          messages.push({ type: `alert.${c.change}`, data: alertView(a), severity: a.severity as Severity, source: a.source, tags: JSON.parse(a.tags) });
        }
        if (messages.length) await b.emitMany(tenantId, messages, now);
      }
      if (await pgMayBeat(tx, tenantId, inserted)) {
        await b.flush(); // a flip writes its messages itself: the ones before it go first
        await pgBeatsFromEvents(tx, tenantId, inserted, all(), now);
      }
      const plain = inserted.filter((e) => e.sourceName !== HEARTBEAT_SOURCE);
      if (plain.length) await b.events(plain);
      for (const e of inserted)
        if (e.sourceName === HEARTBEAT_SOURCE)
          await b.emitMany(tenantId, [{ type: e.type, data: JSON.parse(e.payloadJson), severity: e.severity, source: e.source, tags: e.tags }], now);
    }
    await b.flush();
  };

  return Object.assign([matchRules, sourceAlerts, heartbeatBeats, outboundMessages], { group });
}

/** An outbox without batch(): every call written at once. */
function immediate(o: PgOutbox, tx: PgConn): PgOutboxBatch {
  return {
    emitMany: async (tenantId, ms, now) => void (await o.emitMany(tx, tenantId, ms, now)),
    events: async (evs) => o.onEventsInserted(tx, evs),
    flush: async () => {},
  };
}
