// The SQLite side of the queue's claim hook and outcome effects (src/store/queue-contract.ts):
// plain records applied with the statements of the domain modules, inside the caller's immediate
// transaction (the worker's claim or settle); no await. The PostgreSQL twin is pg/queue-effects.ts.
import type { Db } from "../db/client";
import { enrichmentOutcome } from "../core/enrich";
import type { Severity } from "../core/severity";
import { disabledRecord, ownEvent, ownMessage, streakReason, type WebhookRef } from "../core/webhook-records";
import { currentOutbox } from "../ingest/hooks";
import { alertById, alertView } from "./alerts";
import {
  completeAttempt,
  discardAttempt,
  enqueueFlush,
  insertAttempt,
  makeBatch,
  markBatchMembers,
  markDelivery,
  releaseBatch,
  startAttempt,
} from "./deliveries";
import { enrichTarget, saveEnrichment } from "./enrichment";
import { storeBatch } from "./events";
import type { JobRow } from "./jobs";
import type { ClaimedJob, Effect } from "./queue-contract";
import { addFailure, disableWebhook, resetFailures } from "./webhooks";

/** The delivery id of a `deliver` job's payload, or null. */
export function deliveryOf(job: JobRow): string | null {
  try {
    const d = JSON.parse(job.payload)?.d;
    return typeof d === "string" ? d : null;
  } catch {
    return null;
  }
}

/** The claim hook: claimed jobs of `kind` get their delivery attempt started. */
export function startAttempts(db: Db, jobs: JobRow[], kind: string | undefined, now: number): ClaimedJob[] {
  if (!kind) return jobs;
  return jobs.map((job) => {
    if (job.kind !== kind) return job;
    const d = deliveryOf(job);
    return d === null ? job : { ...job, started: startAttempt(db, d, now) };
  });
}

/**
 * Applies one outcome's effects in a savepoint: an effect that throws undoes its outcome's effects
 * only (the job's own outcome stays); returns the error, or null.
 */
export function applyEffects(db: Db, effects: Effect[] | undefined, now: number): string | null {
  if (!effects?.length) return null;
  try {
    db.$client.transaction(() => {
      for (const e of effects) applyEffect(db, e, now);
    })();
    return null;
  } catch (e) {
    return String((e as Error)?.message ?? e);
  }
}

function applyEffect(db: Db, e: Effect, now: number): void {
  switch (e.type) {
    case "discardAttempt":
      return discardAttempt(db, e.attemptId, e.deliveryId);
    case "completeAttempt":
      return completeAttempt(db, e.attemptId, e.result);
    case "insertAttempt":
      return insertAttempt(db, e.attempt);
    case "markDelivery":
      return markDelivery(db, e.id, e.status, now, { attempted: e.attempted, statusCode: e.statusCode, error: e.error });
    case "markBatchMembers":
      return markBatchMembers(db, e.batchId, e.status, now, { statusCode: e.statusCode, error: e.error });
    case "releaseBatch":
      return releaseBatch(db, e.batchId, e.status, now);
    case "makeBatch":
      makeBatch(db, e.webhook, e.id, e.memberIds, now);
      return;
    case "enqueueFlush":
      return enqueueFlush(db, e.webhook, now, e.immediate ?? false);
    case "resetFailures":
      return resetFailures(db, e.webhookId);
    case "addFailure": {
      const streak = addFailure(db, e.webhook.id);
      if (e.disableAfter > 0 && streak >= e.disableAfter) disable(db, e.webhook, streakReason(streak, e.lastError), now);
      else for (const o of e.otherwise ?? []) applyEffect(db, o, now);
      return;
    }
    case "disableWebhook":
      return disable(db, e.webhook, e.reason, now);
    case "finishEnrichment": {
      const cur = enrichTarget(db, e.finish.alertId);
      if (!cur) return;
      const { changed } = saveEnrichment(db, e.finish.alertId, enrichmentOutcome(e.finish, cur), now);
      const after = changed ? alertById(db, e.finish.alertId) : undefined;
      if (after)
        currentOutbox()?.emit(db, after.tenantId, { type: "alert.updated", data: alertView(after), severity: after.severity as Severity, source: after.source, tags: JSON.parse(after.tags) }, now);
      return;
    }
  }
}

/** Turns the webhook off; if it was on: the `webhook.disabled` event, and messages to the tenant's other webhooks. */
function disable(db: Db, w: WebhookRef, reason: string, now: number): void {
  if (!disableWebhook(db, w.id, reason, now)) return;
  const r = disabledRecord(w, reason, now);
  storeBatch(db, { tenantId: w.tenantId, route: "internal", idempotencyKey: null, events: [ownEvent(w, r, now)] }, now);
  currentOutbox()?.emit(db, w.tenantId, ownMessage(r), now, w.id);
}
