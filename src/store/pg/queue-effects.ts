// The PostgreSQL side of the queue's claim hook and outcome effects (src/store/queue-contract.ts;
// the SQLite twin is src/store/queue-effects.ts): the same records, written with the domains'
// PostgreSQL functions inside the claim's or the settle's transaction.
import { enrichmentOutcome } from "../../core/enrich";
import type { Severity } from "../../core/severity";
import { disabledRecord, ownEvent, ownMessage, streakReason, type WebhookRef } from "../../core/webhook-records";
import { alertView } from "../alerts";
import { inSavepoint, type PgConn } from "../contract";
import type { JobRow } from "../jobs";
import type { ClaimedJob, Effect } from "../queue-contract";
import { deliveryOf } from "../queue-effects";
import { pgAlertById } from "./alerts";
import { isPgUnavailable } from "./errors";
import { pgDeliveriesFns as D, pgStartAttempt, pgStartAttemptsOf } from "./deliveries";
import { pgEnrichmentFns as E } from "./enrichment";
import { pgStoreBatch } from "./events";
import { pgOutbox } from "./hooks";
import { pgWebhooksFns as W } from "./webhooks";

/** The claim hook: claimed jobs of `kind` get their delivery attempt started (in the claim's transaction). */
export async function pgStartAttempts(tx: PgConn, jobs: JobRow[], kind: string | undefined, now: number): Promise<ClaimedJob[]> {
  if (!kind) return jobs;
  const ds = jobs.map((job) => (job.kind === kind ? deliveryOf(job) : null));
  const claimed = ds.filter((d): d is string => d !== null);
  // one delivery twice in a claim (a rare replay race): one at a time, each its own attempt
  if (new Set(claimed).size !== claimed.length) {
    const out: ClaimedJob[] = [];
    for (let i = 0; i < jobs.length; i++) out.push(ds[i] === null ? jobs[i]! : { ...jobs[i]!, started: await pgStartAttempt(tx, ds[i]!, now) });
    return out;
  }
  const started = claimed.length ? await pgStartAttemptsOf(tx, claimed, now) : new Map();
  return jobs.map((job, i) => (ds[i] === null ? job : { ...job, started: started.get(ds[i]!) ?? null }));
}

/** Applies one outcome's effects in a savepoint (an effect that throws undoes only them); the error, or null. */
export async function pgApplyEffects(tx: PgConn, effects: Effect[] | undefined, now: number): Promise<string | null> {
  if (!effects?.length) return null;
  try {
    await inSavepoint(tx, async (sp) => {
      for (const e of effects) await applyEffect(sp, e, now);
    });
    return null;
  } catch (e) {
    // a deadlock or a lost database fails the whole settle (inTx runs a deadlock victim again):
    // the outcome must not commit without its effects for a reason that is not the effects' own
    if (isPgUnavailable(e)) throw e;
    return String((e as Error)?.message ?? e);
  }
}

async function applyEffect(tx: PgConn, e: Effect, now: number): Promise<void> {
  switch (e.type) {
    case "discardAttempt":
      return D.discardAttempt(tx, e.attemptId, e.deliveryId);
    case "completeAttempt":
      return D.completeAttempt(tx, e.attemptId, e.result);
    case "insertAttempt":
      return D.insertAttempt(tx, e.attempt);
    case "markDelivery":
      return D.markDelivery(tx, e.id, e.status, now, { attempted: e.attempted, statusCode: e.statusCode, error: e.error });
    case "markBatchMembers":
      return D.markBatchMembers(tx, e.batchId, e.status, now, { statusCode: e.statusCode, error: e.error });
    case "releaseBatch":
      return D.releaseBatch(tx, e.batchId, e.status, now);
    case "makeBatch":
      await D.makeBatch(tx, e.webhook, e.id, e.memberIds, now);
      return;
    case "enqueueFlush":
      return D.enqueueFlush(tx, e.webhook, now, e.immediate ?? false);
    case "resetFailures":
      return W.resetFailures(tx, e.webhookId);
    case "addFailure": {
      const streak = await W.addFailure(tx, e.webhook.id);
      if (e.disableAfter > 0 && streak >= e.disableAfter) await disable(tx, e.webhook, streakReason(streak, e.lastError), now);
      else for (const o of e.otherwise ?? []) await applyEffect(tx, o, now);
      return;
    }
    case "disableWebhook":
      return disable(tx, e.webhook, e.reason, now);
    case "finishEnrichment": {
      const cur = await E.enrichTarget(tx, e.finish.alertId);
      if (!cur) return;
      const { changed } = await E.saveEnrichment(tx, e.finish.alertId, enrichmentOutcome(e.finish, cur), now);
      const after = changed ? await pgAlertById(tx, e.finish.alertId) : undefined;
      if (after)
        await pgOutbox()?.emit(tx, after.tenantId, { type: "alert.updated", data: alertView(after), severity: after.severity as Severity, source: after.source, tags: JSON.parse(after.tags) }, now);
      return;
    }
  }
}

/** Turns the webhook off; if it was on: the `webhook.disabled` event, and messages to the tenant's other webhooks. */
async function disable(tx: PgConn, w: WebhookRef, reason: string, now: number): Promise<void> {
  if (!(await W.disableWebhook(tx, w.id, reason, now))) return;
  const r = disabledRecord(w, reason, now);
  await pgStoreBatch(tx, { tenantId: w.tenantId, route: "internal", idempotencyKey: null, events: [ownEvent(w, r, now)] }, now);
  await pgOutbox()?.emit(tx, w.tenantId, ownMessage(r), now, w.id);
}
