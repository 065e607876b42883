// The commit hooks every group commit runs (see CommitHook in commit.ts), in this order, inside
// the ingest transaction on the writer thread (and for keepwatch's own events, such as heartbeat
// flips, on the thread that makes them). Later stages add theirs here: the outbox of outbound webhooks.
import { DEFAULT_DEDUP_WINDOW_MS } from "../core/alerts";
import { alertsFromEvents } from "../store/alerts";
import { beatsFromEvents } from "../store/heartbeat-transitions";
import { RuleCache, rulesAfterInsert, rulesBeforeInsert } from "../store/rules";
import type { CommitHook } from "./commit";

/** Match rules: tag, suppress, or open their own alerts (runs first: a suppress stops the source's alert). */
const ruleCache = new RuleCache();
const matchRules: CommitHook = Object.assign(
  (db: Parameters<CommitHook>[0], tenantId: string, inserted: Parameters<CommitHook>[2], now: number) => rulesAfterInsert(db, tenantId, inserted, now),
  { before: (db: Parameters<CommitHook>[0], tenantId: string, events: Parameters<CommitHook>[2]) => rulesBeforeInsert(db, ruleCache, tenantId, events) },
);

/** Alert sources open (or join, or resolve) an alert for every item. */
const sourceAlerts: CommitHook = (db, tenantId, inserted, now) => {
  alertsFromEvents(db, tenantId, inserted, now, DEFAULT_DEDUP_WINDOW_MS);
};

/** Events that match a heartbeat's filter are beats (and may resolve its alert). */
const heartbeatBeats: CommitHook = (db, tenantId, inserted, now) => {
  beatsFromEvents(db, tenantId, inserted, commitHooks, now);
};

export const commitHooks: CommitHook[] = [matchRules, sourceAlerts, heartbeatBeats];
