// The commit hooks every group commit runs (see CommitHook in commit.ts), in this order, inside
// the ingest transaction on the writer thread (and for keepwatch's own events, such as heartbeat
// flips, on the thread that makes them):
//   match rules → alerts of alert sources → heartbeat beats → outbound messages (the outbox).
import type { Db } from "../db/client";
import { DEFAULT_DEDUP_WINDOW_MS } from "../core/alerts";
import type { NormalizedEvent } from "../core/event";
import type { Severity } from "../core/severity";
import { alertById, alertsFromEvents, alertView, type AlertChange } from "../store/alerts";
import { alertHasIndicators, enqueueEnrichment, settleWithoutIndicators } from "../store/enrichment";
import { beatsFromEvents, HEARTBEAT_SOURCE } from "../store/heartbeat-transitions";
import { RuleCache, rulesAfterInsert, rulesBeforeInsert } from "../store/rules";
import type { CommitHook } from "./commit";

/** Where outbound messages go: the webhook outbox of the thread the hooks run on. */
export type Outbox = {
  /** whether any webhook of the tenant takes messages of this type (cheap: cached) */
  wants(db: Db, tenantId: string, type: string): boolean;
  onEventsInserted(db: Db, events: NormalizedEvent[]): void;
  /** `except`: a webhook that does not get it (the one a record is about) */
  emit(db: Db, tenantId: string, m: { type: string; data: unknown; severity?: Severity | null; source?: string | null; tags?: string[] }, now: number, except?: string): number;
};

let outbox: Outbox | null = null;

/** Each thread that commits events sets its outbox once (server.ts, writer-thread.ts). */
export function setOutbox(o: Outbox | null): void {
  outbox = o;
}

/** The outbox of this thread (store units that announce a change in their own transaction use it). */
export function currentOutbox(): Outbox | null {
  return outbox;
}

/** Enrichment jobs enqueued by the commits of this thread (the writer thread reports them; see writer-thread.ts). */
export const enrichmentStats = { enqueued: 0 };
let enrichmentWake: (() => void) | null = null;

/** The thread that runs the enrichment worker (server.ts) wakes it after commits that enqueued jobs. */
export function setEnrichmentWake(f: (() => void) | null): void {
  enrichmentWake = f;
}

/** Wakes this thread's enrichment worker, if any (PostgreSQL: after a commit that enqueued a job). */
export function wakeEnrichment(): void {
  enrichmentWake?.();
}

/**
 * Every alert a commit opened (alert sources, match rules, heartbeats all come through here) gets
 * its enrichment job in the same transaction; the alert was inserted `pending`. An alert without
 * indicators is settled `enriched` right there (no job).
 */
function enqueueEnrichments(db: Db, changes: AlertChange[], now: number): void {
  let n = 0;
  for (const c of changes)
    if (c.change === "opened") {
      if (!alertHasIndicators(db, c.alertId)) settleWithoutIndicators(db, c.alertId, now);
      else {
        enqueueEnrichment(db, c.alertId, now);
        n++;
      }
    }
  if (!n) return;
  enrichmentStats.enqueued += n;
  // after the commit (a microtask runs once the synchronous transaction is done)
  if (enrichmentWake) queueMicrotask(enrichmentWake);
}

/** alert.opened / alert.updated / alert.closed for every alert a commit changed (and enrichment of new ones). */
function announceAlerts(db: Db, tenantId: string, changes: AlertChange[], now: number): void {
  enqueueEnrichments(db, changes, now);
  if (!outbox || !changes.length) return;
  for (const c of changes) {
    if (!outbox.wants(db, tenantId, `alert.${c.change}`)) continue;
    const a = alertById(db, c.alertId);
    if (!a) continue;
    // suppress_until silences re-notification of repeats
    if (c.change === "updated" && a.suppressUntil !== null && a.suppressUntil > now) continue;
    outbox.emit(db, tenantId, { type: `alert.${c.change}`, data: alertView(a), severity: a.severity as Severity, source: a.source, tags: JSON.parse(a.tags) }, now);
  }
}

/** Match rules: tag, suppress, or open their own alerts (runs first: a suppress stops the source's alert). */
const ruleCache = new RuleCache();
const matchRules: CommitHook = Object.assign(
  (db: Db, tenantId: string, inserted: NormalizedEvent[], now: number) => announceAlerts(db, tenantId, rulesAfterInsert(db, tenantId, inserted, now), now),
  { before: (db: Db, tenantId: string, events: NormalizedEvent[]) => rulesBeforeInsert(db, ruleCache, tenantId, events) },
);

/** Alert sources open (or join, or resolve) an alert for every item. */
const sourceAlerts: CommitHook = (db, tenantId, inserted, now) => {
  announceAlerts(db, tenantId, alertsFromEvents(db, tenantId, inserted, now, DEFAULT_DEDUP_WINDOW_MS), now);
};

/** Events that match a heartbeat's filter are beats (and may resolve its alert). */
const heartbeatBeats: CommitHook = (db, tenantId, inserted, now) => {
  beatsFromEvents(db, tenantId, inserted, commitHooks, now);
};

/**
 * The transactional outbox: `event.received` for stored events, `heartbeat.down` / `heartbeat.up`
 * for keepwatch's own heartbeat events, to every matching webhook, in the same transaction.
 */
const outboundMessages: CommitHook = (db, tenantId, inserted, now) => {
  if (!outbox) return;
  const plain = inserted.filter((e) => e.sourceName !== HEARTBEAT_SOURCE);
  if (plain.length) outbox.onEventsInserted(db, plain);
  for (const e of inserted)
    if (e.sourceName === HEARTBEAT_SOURCE)
      outbox.emit(db, tenantId, { type: e.type, data: JSON.parse(e.payloadJson), severity: e.severity, source: e.source, tags: e.tags }, now);
};

export const commitHooks: CommitHook[] = [matchRules, sourceAlerts, heartbeatBeats, outboundMessages];
