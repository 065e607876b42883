// The commit hooks every group commit runs (see CommitHook in commit.ts), in this order, inside
// the ingest transaction on the writer thread. Later stages add theirs here: the outbox of
// outbound webhooks, match rules.
import { DEFAULT_DEDUP_WINDOW_MS } from "../core/alerts";
import { alertsFromEvents } from "../store/alerts";
import type { CommitHook } from "./commit";

/** Alert sources open (or join, or resolve) an alert for every item. */
const sourceAlerts: CommitHook = (db, tenantId, inserted, now) => {
  alertsFromEvents(db, tenantId, inserted, now, DEFAULT_DEDUP_WINDOW_MS);
};

export const commitHooks: CommitHook[] = [sourceAlerts];
