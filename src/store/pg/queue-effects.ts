// The PostgreSQL side of the queue's claim hook and outcome effects (src/store/queue-contract.ts;
// the SQLite twin is src/store/queue-effects.ts): the same records, written with the domains'
// PostgreSQL functions inside the claim's or the settle's transaction.
import { enrichmentOutcome } from "../../core/enrich";
import type { Severity } from "../../core/severity";
import { disabledRecord, ownEvent, ownMessage, streakReason, type WebhookRef } from "../../core/webhook-records";
import { alertView } from "../alerts";
import { inSavepoint, type PgConn } from "../contract";
import type { DeliveryRow } from "../deliveries";
import type { JobRow } from "../jobs";
import type { ClaimedJob, Effect } from "../queue-contract";
import { deliveryOf } from "../queue-effects";
import { pgAlertById } from "./alerts";
import { isPgUnavailable } from "./errors";
import { pgDeliveriesFns as D, pgStartAttempt } from "./deliveries";
import { pgEnrichmentFns as E } from "./enrichment";
import { pgStoreBatch } from "./events";
import { pgOutbox } from "./hooks";
import { pgWebhooksFns as W } from "./webhooks";

/** The claim hook: claimed jobs of `kind` get their delivery attempt started (in the claim's transaction). */
export async function pgStartAttempts(tx: PgConn, jobs: JobRow[], kind: string | undefined, now: number): Promise<ClaimedJob[]> {
  if (!kind) return jobs;
  const ds = jobs.map((job) => (job.kind === kind ? deliveryOf(job) : null));
  const wanted = ds.filter((d): d is string => d !== null);
  // a claim's attempts in three statements, not three per job (a delivery twice in one claim: one by one)
  if (wanted.length > 1 && new Set(wanted).size === wanted.length) {
    const started = await startMany(tx, wanted, now);
    return jobs.map((job, i) => {
      if (ds[i] === null) return job;
      const s = started.get(ds[i]!);
      return s ? { ...job, started: { id: s.id, attempt: s.attempt }, delivery: s.delivery } : { ...job, started: null };
    });
  }
  const out: ClaimedJob[] = [];
  for (const job of jobs) {
    const d = job.kind === kind ? deliveryOf(job) : null;
    out.push(d === null ? job : { ...job, started: await pgStartAttempt(tx, d, now) });
  }
  return out;
}

/**
 * pgStartAttempt (deliveries.ts) for distinct deliveries at once: their cut-off attempts marked
 * interrupted, the pending ones' attempts counted (rows locked in id order), their `started` rows
 * inserted in the claim's order. Deliveries no longer pending get none (null).
 */
async function startMany(tx: PgConn, ids: string[], now: number): Promise<Map<string, { id: number; attempt: number; delivery: DeliveryRow }>> {
  await tx`UPDATE delivery_attempts SET outcome = 'interrupted', error = 'keepwatch stopped or lost the lease during this attempt'
           WHERE delivery_id = ANY(${ids}::text[]) AND outcome = 'started'`;
  const counted = await tx`UPDATE deliveries SET attempts = attempts + 1
                            WHERE id IN (SELECT id FROM deliveries WHERE id = ANY(${ids}::text[]) AND status = 'pending' ORDER BY id FOR UPDATE)
                              AND status = 'pending'
                            RETURNING *`;
  const by = new Map(counted.map((r) => [r.id as string, { attempt: Number(r.attempts), webhook: r.webhook_id as string, row: r as unknown as DeliveryRow }]));
  const go = ids.filter((d) => by.has(d));
  const out = new Map<string, { id: number; attempt: number; delivery: DeliveryRow }>();
  if (go.length === 0) return out;
  const rows = await tx.unsafe(
    `INSERT INTO delivery_attempts (delivery_id, webhook_id, attempt, started_at, duration_ms, url, request_headers, request_body, outcome)
     SELECT u.d, u.w, u.a, $4::bigint, 0, coalesce(wh.url, ''), '{}', '', 'started'
       FROM unnest($1::text[], $2::text[], $3::int[]) WITH ORDINALITY AS u(d, w, a, ord) LEFT JOIN webhooks wh ON wh.id = u.w
      ORDER BY u.ord
     RETURNING id, delivery_id`,
    [go, go.map((d) => by.get(d)!.webhook), go.map((d) => by.get(d)!.attempt), now] as any[],
  );
  for (const r of rows) {
    const b = by.get(r.delivery_id as string)!;
    out.set(r.delivery_id as string, { id: Number(r.id), attempt: b.attempt, delivery: b.row });
  }
  return out;
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
